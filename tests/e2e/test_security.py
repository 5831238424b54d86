"""orch-server is secure by default: HTTPS with a generated cluster CA, an admin bearer token in
the generated kubeconfig, a k3s-style node join token pinning the CA, secret files mode 0600, and
401 Unauthorized (a Kubernetes Status) for a request without valid credentials, through kubectl
1.32, the Python client and raw HTTPS alike.

Environment (set by meson): ORCH_SERVER, ORCH_KUARD_PATH.
"""
import base64
import hashlib
import json
import os
import shutil
import ssl
import stat
import subprocess
import tempfile
import urllib.error
import urllib.request

import pytest
import yaml

from test_orch_server import KUBECTL, OrchServer, kubectl, pod_processes, wait


@pytest.fixture(scope="module")
def server():
    home = tempfile.mkdtemp(prefix="orch-sec-home-")
    data = tempfile.mkdtemp(prefix="orch-sec-server-")
    s = OrchServer(data, ["--kill-pods-on-exit"])
    s.home = home
    try:
        yield s
    finally:
        s.stop()
        for pid in pod_processes(data):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def kubeconfig_doc(server):
    with open(server.kubeconfig) as f:
        return yaml.safe_load(f)


def ca_pem(server):
    with open(os.path.join(server.data_dir, "tls", "ca.crt")) as f:
        return f.read()


def raw(server, path, token=None):
    """GET over HTTPS trusting the cluster CA: (status, body text)."""
    ctx = ssl.create_default_context(cadata=ca_pem(server))
    req = urllib.request.Request(server.url + path)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def with_token(server, token, tmp_path):
    """A copy of the admin kubeconfig whose user has `token` (None: no credentials at all)."""
    doc = kubeconfig_doc(server)
    doc["users"][0]["user"] = {"token": token} if token is not None else {}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_generated_files_and_modes(server):
    assert server.url.startswith("https://127.0.0.1:")
    doc = kubeconfig_doc(server)
    cluster = doc["clusters"][0]["cluster"]
    assert cluster["server"] == server.url
    assert base64.b64decode(cluster["certificate-authority-data"]).decode() == ca_pem(server)
    assert len(doc["users"][0]["user"]["token"]) >= 32
    for secret in ["kubeconfig", "node-token", "tls/ca.key", "tls/apiserver.key",
                   "tls/admin.token"]:
        assert mode(os.path.join(server.data_dir, secret)) == 0o600, secret
    token = open(os.path.join(server.data_dir, "node-token")).read().strip()
    digest = hashlib.sha256(ca_pem(server).encode()).hexdigest()
    assert token.startswith("K10" + digest + "::server:")
    log = open(server.log_path).read()
    assert "export KUBECONFIG=" in log and "orch-agent --server" in log
    assert doc["users"][0]["user"]["token"] not in log  # no secret in the logs


def test_kubectl_with_the_generated_kubeconfig(server):
    nodes = wait(lambda: "Ready" in kubectl(server, "get", "nodes").stdout and
                 kubectl(server, "get", "nodes").stdout, 60, what="node Ready")
    assert "e2e-node" in nodes
    kubectl(server, "create", "configmap", "sec-check", "--from-literal=a=b")
    assert "sec-check" in kubectl(server, "get", "configmaps").stdout


@pytest.mark.skipif(not os.path.exists(os.environ.get("KUBECTL_120", "")),
                    reason="kubectl 1.20 not unpacked")
def test_kubectl_120_with_the_generated_kubeconfig(server, tmp_path):
    env = dict(os.environ, KUBECONFIG=server.kubeconfig, HOME=str(tmp_path))

    def k120(*args):
        return subprocess.run([os.environ["KUBECTL_120"], *args], capture_output=True, text=True,
                              env=env, stdin=subprocess.DEVNULL, timeout=60)
    nodes = wait(lambda: "Ready" in k120("get", "nodes").stdout, 60, what="node Ready (1.20)")
    assert nodes
    # The components as mirror pods, and one's log through the node server's TLS.
    system = wait(lambda: (lambda out: out if "orch-agent-e2e-node" in out else None)(
        k120("get", "pods", "-n", "kube-system").stdout), 30, what="mirror pods")
    assert "kube-apiserver-e2e-node" in system
    assert k120("logs", "-n", "kube-system", "orch-agent-e2e-node").returncode == 0
    # A wrong token: 401, as from kube-apiserver.
    env["KUBECONFIG"] = with_token(server, "wrong-token", tmp_path)
    r = k120("get", "pods")
    assert r.returncode != 0 and "logged in" in r.stderr


@pytest.mark.parametrize("token", ["wrong-token", None], ids=["wrong", "missing"])
def test_kubectl_without_valid_credentials_is_unauthorized(server, token, tmp_path):
    env = dict(os.environ, KUBECONFIG=with_token(server, token, tmp_path), HOME=str(tmp_path))
    r = subprocess.run([KUBECTL, "get", "pods"], capture_output=True, text=True, env=env,
                       stdin=subprocess.DEVNULL, timeout=60)
    assert r.returncode != 0
    if token is not None:
        # kubectl 1.32's wording for a 401 during discovery, as against kube-apiserver.
        assert "You must be logged in to the server" in r.stderr
    else:
        # Without any credentials kubectl asks for a username on 401 (stdin is empty here).
        assert "Username" in r.stdout or "logged in" in r.stderr


def test_raw_https_gets_a_kubernetes_status_401(server):
    status, body = raw(server, "/api/v1/namespaces")
    assert status == 401
    doc = json.loads(body)
    assert doc["kind"] == "Status" and doc["reason"] == "Unauthorized" and doc["code"] == 401
    assert raw(server, "/api/v1/namespaces", token="nope")[0] == 401
    admin = kubeconfig_doc(server)["users"][0]["user"]["token"]
    assert raw(server, "/api/v1/namespaces", token=admin)[0] == 200
    # Open like Kubernetes' public-info-viewer: health, version; and the CA for joining agents.
    for path in ["/healthz", "/livez", "/readyz", "/version"]:
        assert raw(server, path)[0] == 200, path
    assert raw(server, "/cacerts") == (200, ca_pem(server))


def test_plain_http_is_refused(server):
    plain = server.url.replace("https://", "http://")
    with pytest.raises(Exception):
        urllib.request.urlopen(plain + "/api", timeout=5).read()


def test_python_client(server, tmp_path):
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    api = client.CoreV1Api(config.new_client_from_config(config_file=server.kubeconfig))
    names = [n.metadata.name for n in api.list_node().items]
    assert "e2e-node" in names

    bad = client.CoreV1Api(config.new_client_from_config(
        config_file=with_token(server, "wrong-token", tmp_path)))
    with pytest.raises(ApiException) as e:
        bad.list_node()
    assert e.value.status == 401


def test_restart_keeps_ca_and_tokens(tmp_path):
    home = tempfile.mkdtemp(prefix="orch-sec-home-")
    data = tempfile.mkdtemp(prefix="orch-sec-restart-")
    try:
        first = OrchServer(data, ["--disable-agent"])
        first.home = home
        before = {f: open(os.path.join(data, f)).read()
                  for f in ["tls/ca.crt", "tls/apiserver.crt", "node-token", "tls/admin.token"]}
        old_kubeconfig = kubeconfig_doc(first)
        assert first.stop() == 0
        second = OrchServer(data, ["--disable-agent"])
        second.home = home
        try:
            after = {f: open(os.path.join(data, f)).read() for f in before}
            assert after == before
            doc = kubeconfig_doc(second)
            assert doc["users"] == old_kubeconfig["users"]
            assert (doc["clusters"][0]["cluster"]["certificate-authority-data"] ==
                    old_kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"])
            assert kubectl(second, "get", "namespaces").returncode == 0
        finally:
            second.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
