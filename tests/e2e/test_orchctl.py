"""orchctl end to end against orch-server (real kuard pods): the seed's tour driven by orchctl,
every CLI error path, and `get` output equal to kubectl 1.32's for the same objects.

Environment (set by meson): ORCH_SERVER, ORCH_KUARD_PATH, ORCHCTL (the built binaries).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import urllib.request

import pytest

from test_orch_server import pod_processes
from test_orch_server import wait as server_wait

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
ORCHCTL = os.environ.get("ORCHCTL", "")
IMAGE_BLUE = "kuard:blue"
IMAGE_GREEN = "kuard:green"

pytestmark = pytest.mark.skipif(not ORCHCTL or not os.environ.get("ORCH_SERVER"),
                                reason="ORCHCTL and ORCH_SERVER must be set")


def wait(predicate, timeout=90, interval=0.25, what="condition"):
    """test_orch_server's wait, with this file's longer default timeout and interval."""
    return server_wait(predicate, timeout, interval, what)


class Server:
    def __init__(self, data_dir):
        self.data_dir = data_dir
        self.log_path = os.path.join(data_dir, "server.log")
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [os.environ["ORCH_SERVER"], "--data-dir", data_dir, "--listen", "127.0.0.1:0",
             "--node-name", "e2e-node", "--kill-pods-on-exit"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.url = wait(self._url, 60, what="orch-server to serve")
        self.kubeconfig = os.path.join(data_dir, "kubeconfig")

    def _url(self):
        if self.proc.poll() is not None:
            raise RuntimeError("orch-server exited: " + open(self.log_path).read())
        m = re.search(r"serving (http\S+)", open(self.log_path).read())
        return m.group(1) if m else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def server():
    home = tempfile.mkdtemp(prefix="orchctl-e2e-home-")
    data = tempfile.mkdtemp(prefix="orchctl-e2e-server-")
    s = Server(data)
    s.home = home
    try:
        yield s
    finally:
        s.stop()
        for pid in pod_processes(data):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def run(binary, server, *args, check=True, timeout=120, env=None, stdin=None):
    e = dict(os.environ, KUBECONFIG=server.kubeconfig, HOME=server.home)
    e.update(env or {})
    r = subprocess.run([binary, *args], capture_output=True, text=True, env=e, timeout=timeout,
                       input=stdin)
    if check and r.returncode != 0:
        raise AssertionError(f"{binary} {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r


def orchctl(server, *args, **kw):
    return run(ORCHCTL, server, *args, **kw)


def kubectl(server, *args, **kw):
    return run(KUBECTL, server, *args, **kw)


def http_get(host, port, path="/version", timeout=3):
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=timeout) as r:
            return r.read().decode().strip()
    except Exception:
        return None


def without_age(text):
    """Table text with each table's AGE cells dropped (they differ by a second between calls)."""
    out, age_at = [], None
    for line in text.splitlines():
        if not line.strip():
            age_at = None
            out.append(("",))
            continue
        if age_at is None:
            m = re.search(r"\bAGE\b", line)
            age_at = m.start() if m else -1
        if age_at < 0:
            out.append((line,))
            continue
        rest = line[age_at:].split(None, 1)
        out.append((line[:age_at], rest[1] if len(rest) > 1 else ""))
    return out


def get_json(server, *args):
    return json.loads(orchctl(server, "get", *args, "-o", "json").stdout)


def test_run_pod_and_dry_run(server):
    assert "Ready" in orchctl(server, "get", "nodes").stdout
    r = orchctl(server, "run", "kuard", f"--image={IMAGE_BLUE}", "--port=8080")
    assert r.stdout == "pod/kuard created\n"
    wait(lambda: "Running" in orchctl(server, "get", "pods", "kuard").stdout, what="kuard Running")
    assert get_json(server, "pod", "kuard")["status"]["phase"] == "Running"
    mine = orchctl(server, "run", "kuard", f"--image={IMAGE_BLUE}", "--dry-run=client", "-o", "yaml")
    theirs = kubectl(server, "run", "kuard", f"--image={IMAGE_BLUE}", "--dry-run=client", "-o", "yaml")
    assert mine.stdout == theirs.stdout
    # The old forms of the seed.
    r = orchctl(server, "run", "--generator=run-pod/v1", "old", f"--image={IMAGE_BLUE}")
    assert r.stdout == "pod/old created\n"
    r = orchctl(server, "run", "olddep", f"--image={IMAGE_BLUE}", "--replicas=2")
    assert r.stdout == "deployment.apps/olddep created\n"
    assert "no longer" in r.stderr
    assert get_json(server, "deploy", "olddep")["spec"]["replicas"] == 2
    # Logs through the API server.
    logs = orchctl(server, "logs", "kuard", "--tail", "5", check=False)
    assert logs.returncode == 0, logs.stderr
    r = orchctl(server, "delete", "pod", "kuard", "old")
    assert r.stdout == 'pod "kuard" deleted\npod "old" deleted\n'
    assert orchctl(server, "get", "pod", "kuard", check=False).returncode == 1  # waited until gone
    orchctl(server, "delete", "deploy", "olddep")


def test_tour(server):
    r = orchctl(server, "create", "deployment", "kuard", f"--image={IMAGE_BLUE}", "--replicas=5",
                "--port=8080")
    assert r.stdout == "deployment.apps/kuard created\n"
    status = orchctl(server, "rollout", "status", "deployment/kuard", timeout=300)
    assert status.stdout.splitlines()[-1] == 'deployment "kuard" successfully rolled out'
    names = orchctl(server, "get", "pods", "-l", "app=kuard", "-o", "name").stdout.split()
    assert len(names) == 5 and all(re.fullmatch(r"pod/kuard-[a-z0-9]+-[a-z0-9]{5}", n) for n in names)

    r = orchctl(server, "expose", "deployment", "kuard", "--type=LoadBalancer", "--port=80",
                "--target-port=8080")
    assert r.stdout == "service/kuard exposed\n"
    ip = wait(lambda: orchctl(server, "get", "svc", "kuard", "-o",
                              "jsonpath={.status.loadBalancer.ingress[0].ip}").stdout,
              what="an external IP")
    assert wait(lambda: http_get(ip, 80), what="kuard through the load balancer") == "blue"

    # get output equals kubectl's (ignoring AGE).
    for args in (["get", "pods"], ["get", "deploy"], ["get", "deploy,svc"], ["get", "svc", "-o", "wide"],
                 ["get", "pods", "-A"], ["get", "nodes"]):
        mine, theirs = orchctl(server, *args), kubectl(server, *args)
        assert without_age(mine.stdout) == without_age(theirs.stdout), args

    assert orchctl(server, "scale", "deployment", "kuard", "--replicas=10").stdout == \
        "deployment.apps/kuard scaled\n"
    orchctl(server, "rollout", "status", "deploy/kuard", timeout=300)
    assert get_json(server, "deploy", "kuard")["status"]["readyReplicas"] == 10

    r = orchctl(server, "set", "image", "deployment/kuard", f"kuard={IMAGE_GREEN}")
    assert r.stdout == "deployment.apps/kuard image updated\n"
    status = orchctl(server, "rollout", "status", "deployment/kuard", timeout=300).stdout.splitlines()
    assert status[-1] == 'deployment "kuard" successfully rolled out'
    for line in status[:-1]:
        assert line.startswith('Waiting for deployment "kuard" rollout to finish: ') or \
            line == "Waiting for deployment spec update to be observed...", line
    d = get_json(server, "deploy", "kuard")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE_GREEN
    assert wait(lambda: http_get(ip, 80) == "green", what="green through the load balancer")
    hist = orchctl(server, "rollout", "history", "deployment/kuard").stdout
    assert hist == kubectl(server, "rollout", "history", "deployment/kuard").stdout

    describe = orchctl(server, "describe", "deployment", "kuard").stdout
    assert "Name:" in describe and "kuard" in describe and "Events:" in describe
    assert "Events:" in orchctl(server, "describe", "svc", "kuard").stdout
    assert "Events:" in orchctl(server, "describe", "node", "e2e-node").stdout

    r = orchctl(server, "delete", "service", "kuard")
    assert r.stdout == 'service "kuard" deleted\n'
    r = orchctl(server, "delete", "deployment", "kuard")
    assert r.stdout == 'deployment.apps "kuard" deleted\n'
    wait(lambda: orchctl(server, "get", "pods", "-l", "app=kuard", "-o", "name").stdout == "",
         what="the pods to go")


def test_apply_label_annotate_cordon_edit(server, tmp_path):
    manifest = tmp_path / "cm.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\n  labels:\n"
                        "    a: '1'\ndata:\n  k: v\n---\napiVersion: v1\nkind: ConfigMap\n"
                        "metadata:\n  name: conf2\ndata:\n  x: z\n")
    assert orchctl(server, "apply", "-f", str(manifest)).stdout == \
        "configmap/conf created\nconfigmap/conf2 created\n"
    assert orchctl(server, "apply", "-f", str(manifest)).stdout == \
        "configmap/conf unchanged\nconfigmap/conf2 unchanged\n"
    # kubectl sees orchctl's last-applied configuration as its own.
    assert "unchanged" in kubectl(server, "apply", "-f", str(manifest)).stdout
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\ndata:\n  k: w\n")
    assert orchctl(server, "apply", "-f", "-", stdin=manifest.read_text()).stdout == \
        "configmap/conf configured\n"
    cm = get_json(server, "cm", "conf")
    assert cm["data"] == {"k": "w"} and "a" not in cm["metadata"].get("labels", {})

    assert orchctl(server, "label", "cm", "conf", "team=x").stdout == "configmap/conf labeled\n"
    bad = orchctl(server, "label", "cm", "conf", "team=y", check=False)
    assert bad.returncode == 1 and "--overwrite is false" in bad.stderr
    orchctl(server, "label", "cm", "conf", "team=y", "--overwrite")
    assert orchctl(server, "annotate", "cm/conf", "note=hi").stdout == "configmap/conf annotated\n"
    cm = get_json(server, "cm", "conf")
    assert cm["metadata"]["labels"]["team"] == "y" and cm["metadata"]["annotations"]["note"] == "hi"

    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/k: w/k: edited/' \"$1\"\n")
    editor.chmod(0o755)
    r = orchctl(server, "edit", "cm", "conf", env={"KUBE_EDITOR": str(editor)})
    assert r.stdout == "configmap/conf edited\n"
    assert get_json(server, "cm", "conf")["data"]["k"] == "edited"

    assert orchctl(server, "cordon", "e2e-node").stdout == "node/e2e-node cordoned\n"
    assert get_json(server, "node", "e2e-node")["spec"]["unschedulable"] is True
    assert orchctl(server, "uncordon", "e2e-node").stdout == "node/e2e-node uncordoned\n"

    r = orchctl(server, "delete", "-f", str(tmp_path / "cm.yaml"))
    assert r.stdout == 'configmap "conf" deleted\n'
    orchctl(server, "delete", "cm", "conf2")


def test_errors(server, tmp_path):
    cases = [
        (["get", "foo"], 'error: the server doesn\'t have a resource type "foo"'),
        (["get", "pods", "nope"], 'Error from server (NotFound): pods "nope" not found'),
        (["delete", "pod", "nope"], 'Error from server (NotFound): pods "nope" not found'),
        (["--kubeconfig", str(tmp_path / "missing"), "get", "pods"],
         f"error: stat {tmp_path / 'missing'}: no such file or directory"),
    ]
    for args, message in cases:
        r = orchctl(server, *args, check=False)
        assert r.returncode == 1, args
        assert r.stderr.strip().splitlines() == [message], (args, r.stderr)
        k = kubectl(server, *args, check=False)
        assert k.returncode != 0
    # An unreachable server: the address is named.
    dead = tmp_path / "dead"
    dead.write_text(open(server.kubeconfig).read().replace(server.url, "http://127.0.0.1:1"))
    r = orchctl(server, "--kubeconfig", str(dead), "get", "pods", check=False)
    assert r.returncode == 1
    assert "127.0.0.1:1" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_kubeconfig_merge_and_namespaces(server, tmp_path):
    extra = tmp_path / "extra"
    extra.write_text("apiVersion: v1\nkind: Config\ncontexts:\n- name: other\n  context:\n"
                     "    cluster: nowhere\n    user: nobody\n    namespace: elsewhere\n")
    env = {"KUBECONFIG": f"{server.kubeconfig}:{extra}"}
    ctxs = orchctl(server, "config", "get-contexts", env=env).stdout
    assert "other" in ctxs
    orchctl(server, "create", "namespace", "team")
    orchctl(server, "create", "-n", "team", "deployment", "w", f"--image={IMAGE_BLUE}", "--replicas=1")
    orchctl(server, "rollout", "status", "-n", "team", "deploy/w", timeout=300)
    assert "w" in orchctl(server, "get", "deploy", "-n", "team").stdout
    allns = orchctl(server, "get", "deploy", "-A").stdout
    assert allns.splitlines()[0].startswith("NAMESPACE") and "team" in allns
    assert without_age(allns) == without_age(kubectl(server, "get", "deploy", "-A").stdout)
    orchctl(server, "delete", "-n", "team", "deployment", "w")


def test_outputs_watch_and_bulk_delete(server):
    orchctl(server, "create", "deployment", "out", f"--image={IMAGE_BLUE}", "--replicas=2")
    orchctl(server, "rollout", "status", "deploy/out", timeout=300)
    for fmt in ("yaml", "json", "name", "jsonpath={.spec.replicas}"):
        assert orchctl(server, "get", "deploy", "out", "-o", fmt).stdout == \
            kubectl(server, "get", "deploy", "out", "-o", fmt).stdout, fmt
    assert orchctl(server, "get", "pods", "-l", "app=out", "-o", "name").stdout == \
        kubectl(server, "get", "pods", "-l", "app=out", "-o", "name").stdout
    mine, theirs = orchctl(server, "get", "all"), kubectl(server, "get", "all")
    assert without_age(mine.stdout) == without_age(theirs.stdout)

    # get -w: the table, then a row per change, until the stream ends or we stop it.
    env = dict(os.environ, KUBECONFIG=server.kubeconfig, HOME=server.home)
    with tempfile.TemporaryFile("w+") as out:
        watcher = subprocess.Popen([ORCHCTL, "get", "deploy", "-w"], stdout=out, stderr=subprocess.STDOUT,
                                   env=env)
        try:
            wait(lambda: (out.seek(0), "out" in out.read())[1], 30, what="the first table")
            orchctl(server, "scale", "deploy", "out", "--replicas=3")
            wait(lambda: (out.seek(0), len(out.read().splitlines()) >= 3)[1], 30, what="a watch row")
        finally:
            watcher.terminate()
            watcher.wait(10)
        out.seek(0)
        lines = out.read().splitlines()
        assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
        assert all(line.split()[0] == "out" for line in lines[1:])

    r = orchctl(server, "delete", "pods", "-l", "app=out", "--wait=false")
    assert r.returncode == 0 and r.stdout.count("deleted") >= 2
    orchctl(server, "delete", "deploy", "--all")
    assert orchctl(server, "get", "deploy").stderr == "No resources found in default namespace.\n"


# --------------------------------------------------------------------------------------------
# port-forward, wait, explain, drain, rollout status of daemon sets and stateful sets


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PortForward:
    """`orchctl port-forward ARGS` in the background, its output in temp files."""

    def __init__(self, server, *args):
        self.out = tempfile.TemporaryFile("w+")
        self.err = tempfile.TemporaryFile("w+")
        env = dict(os.environ, KUBECONFIG=server.kubeconfig, HOME=server.home)
        self.proc = subprocess.Popen([ORCHCTL, "port-forward", *args], stdout=self.out,
                                     stderr=self.err, env=env, stdin=subprocess.DEVNULL)

    def text(self, f):
        f.seek(0)
        return f.read()

    def forwarding(self):
        """[(local, remote)] from the `Forwarding from 127.0.0.1:L -> R` lines."""
        def lines():
            if self.proc.poll() is not None:
                raise AssertionError(f"port-forward exited: {self.text(self.err)}")
            return re.findall(r"^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)$", self.text(self.out), re.M)
        return [(int(a), int(b)) for a, b in wait(lines, 60, what="port-forward to listen")]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        self.err.close()


def test_port_forward(server):
    orchctl(server, "run", "pf", f"--image={IMAGE_BLUE}", "--port=8080")
    orchctl(server, "create", "deployment", "pfd", f"--image={IMAGE_GREEN}", "--replicas=2", "--port=8080")
    orchctl(server, "expose", "deployment", "pfd", "--port=80", "--target-port=8080")
    orchctl(server, "wait", "--for=condition=Ready", "pod/pf", "--timeout=120s")
    orchctl(server, "rollout", "status", "deploy/pfd", timeout=300)
    forwards = []
    try:
        # A pod, the local port chosen by the kernel (`:REMOTE`).
        pf = PortForward(server, "pod/pf", ":8080")
        forwards.append(pf)
        [(local, remote)] = pf.forwarding()
        assert remote == 8080 and local > 0
        assert http_get("127.0.0.1", local) == "blue"
        assert http_get("127.0.0.1", local) == "blue"  # a second connection
        assert wait(lambda: pf.text(pf.out).count(f"Handling connection for {local}\n") == 2,
                    10, what="two 'Handling connection' lines")
        # A deployment and a service (its port 80 becomes the pods' targetPort 8080), LOCAL:REMOTE.
        dport, sport = free_port(), free_port()
        pfd = PortForward(server, "deployment/pfd", f"{dport}:8080")
        forwards.append(pfd)
        assert pfd.forwarding() == [(dport, 8080)]
        assert http_get("127.0.0.1", dport) == "green"
        pfs = PortForward(server, "service/pfd", f"{sport}:80")
        forwards.append(pfs)
        assert pfs.forwarding() == [(sport, 8080)]
        assert http_get("127.0.0.1", sport) == "green"
        # A port nothing listens on in the pod: that connection fails, the forward goes on.
        bad = PortForward(server, "pf", ":9")
        forwards.append(bad)
        [(blocal, _)] = bad.forwarding()
        assert http_get("127.0.0.1", blocal) is None
        assert wait(lambda: "an error occurred forwarding" in bad.text(bad.err), 10,
                    what="the forwarding error")
        assert re.search(rf"an error occurred forwarding {blocal} -> 9: .*refused", bad.text(bad.err))
        assert http_get("127.0.0.1", local) == "blue" and bad.proc.poll() is None
        # kubectl through the same server agrees.
        kport = free_port()
        env = dict(os.environ, KUBECONFIG=server.kubeconfig, HOME=server.home)
        with tempfile.TemporaryFile("w+") as kout:
            k = subprocess.Popen([KUBECTL, "port-forward", "svc/pfd", f"{kport}:80"], stdout=kout,
                                 stderr=subprocess.STDOUT, env=env)
            try:
                first = wait(lambda: (kout.seek(0), kout.readline())[1], 30, what="kubectl to listen")
                assert first == f"Forwarding from 127.0.0.1:{kport} -> 8080\n"
            finally:
                k.terminate()
                k.wait(10)
    finally:
        for f in forwards:
            f.stop()
    # Error paths, each one line as kubectl words it.
    for args in (["pod/nope", "8080"], ["pf", "8080:http"], ["svc/pfd", "8080:81"], ["pf", "1:2:3"],
                 ["pf", "8080:0"], ["pf", "99999:80"], ["pf"]):
        r = orchctl(server, "port-forward", *args, check=False, timeout=30)
        assert r.returncode == 1, args
        assert len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    for args in (["pod/nope", "8080"], ["pf", "8080:http"], ["pf", "8080:0"], ["pf", "99999:80"]):
        r = orchctl(server, "port-forward", *args, check=False, timeout=30)
        k = kubectl(server, "port-forward", *args, check=False, timeout=30)
        assert r.stderr == k.stderr, args
    orchctl(server, "delete", "pod", "pf")
    orchctl(server, "delete", "svc", "pfd")
    orchctl(server, "delete", "deploy", "pfd")


def test_wait_and_delete_progress(server, tmp_path):
    orchctl(server, "run", "w1", f"--image={IMAGE_BLUE}")
    for tool in (orchctl, kubectl):
        r = tool(server, "wait", "--for=condition=Ready", "pod/w1", "--timeout=120s")
        assert r.stdout == "pod/w1 condition met\n"
        r = tool(server, "wait", "--for=jsonpath={.status.phase}=Running", "pod/w1", "--timeout=60s")
        assert r.stdout == "pod/w1 condition met\n"
    mine = orchctl(server, "wait", "--for=condition=Nope", "pod/w1", "--timeout=1s", check=False)
    theirs = kubectl(server, "wait", "--for=condition=Nope", "pod/w1", "--timeout=1s", check=False)
    assert mine.returncode == theirs.returncode == 1
    assert mine.stderr.splitlines()[-1] == theirs.stderr.strip() == \
        "error: timed out waiting for the condition on pods/w1"
    for args in (["--for=condition=Ready", "pod/nope"], ["--for=condition=Ready", "pods", "-l", "app=none"],
                 ["--for=bogus", "pod/w1"]):
        mine, theirs = orchctl(server, "wait", *args, check=False), kubectl(server, "wait", *args, check=False)
        assert mine.returncode == theirs.returncode == 1, args
        assert mine.stderr == theirs.stderr, args
    # Already gone: nothing to wait for.
    assert orchctl(server, "wait", "--for=delete", "pod/nope").stdout == ""
    orchctl(server, "delete", "pod", "w1", "--wait=false")
    assert orchctl(server, "wait", "--for=delete", "pod/w1", "--timeout=60s").stdout in \
        ("pod/w1 condition met\n", "")

    # A pod that ignores SIGTERM: delete waits out its grace period and says what it waits for.
    manifest = tmp_path / "stubborn.yaml"
    manifest.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: stubborn\nspec:\n"
                        "  terminationGracePeriodSeconds: 3\n  containers:\n  - name: c\n"
                        "    image: busybox\n    command: [sh, -c, \"trap '' TERM; sleep 1000\"]\n")
    orchctl(server, "apply", "-f", str(manifest))
    orchctl(server, "wait", "--for=jsonpath={.status.phase}=Running", "pod/stubborn", "--timeout=60s")
    r = orchctl(server, "delete", "pod", "stubborn")
    assert r.stdout == 'pod "stubborn" deleted\n'
    assert r.stderr == 'waiting for pods "stubborn" to be deleted (graceful termination)...\n'
    assert orchctl(server, "get", "pod", "stubborn", check=False).returncode == 1


def test_explain(server):
    r = orchctl(server, "explain", "pod")
    assert r.stdout.startswith("KIND:       Pod\nVERSION:    v1\n\nDESCRIPTION:\n")
    for field in ("apiVersion\t<string>", "metadata\t<ObjectMeta>", "spec\t<PodSpec>", "status\t<PodStatus>"):
        assert f"\n  {field}\n" in r.stdout
    r = orchctl(server, "explain", "pod.spec.containers")
    assert "FIELD: containers <[]Container>" in r.stdout and "\n  image\t<string>\n" in r.stdout
    r = orchctl(server, "explain", "deploy.spec", "--recursive")
    assert r.stdout.startswith("GROUP:      apps\nKIND:       Deployment\n")
    assert "\n  template\t<PodTemplateSpec> -required-\n    metadata\t<ObjectMeta>\n" in r.stdout
    for args, message in ((["explain", "pod.spec.nope"], 'error: field "nope" does not exist'),
                          (["explain", "widgets"], 'error: the server doesn\'t have a resource type "widgets"')):
        r = orchctl(server, *args, check=False)
        assert r.returncode == 1 and r.stderr.strip() == message


def test_rollout_status_daemonset_statefulset(server, tmp_path):
    manifest = tmp_path / "workloads.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agentd\nspec:\n"
        "  selector:\n    matchLabels: {app: agentd}\n  template:\n    metadata:\n"
        "      labels: {app: agentd}\n    spec:\n      containers:\n      - name: k\n"
        f"        image: {IMAGE_BLUE}\n---\n"
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  replicas: 2\n"
        "  serviceName: db\n  selector:\n    matchLabels: {app: db}\n  template:\n    metadata:\n"
        "      labels: {app: db}\n    spec:\n      containers:\n      - name: k\n"
        f"        image: {IMAGE_BLUE}\n")
    orchctl(server, "apply", "-f", str(manifest))
    for ref, done in (("daemonset/agentd", 'daemon set "agentd" successfully rolled out'),
                      ("statefulset/db", None)):
        mine = orchctl(server, "rollout", "status", ref, "--timeout=240s", timeout=300).stdout.splitlines()
        theirs = kubectl(server, "rollout", "status", ref, "--timeout=240s", timeout=300).stdout.splitlines()
        assert mine[-1] == theirs[-1], ref
        if done:
            assert mine[-1] == done
    orchctl(server, "delete", "statefulset", "db")


def test_edit_reopens_on_invalid(server, tmp_path):
    orchctl(server, "create", "deployment", "ed", f"--image={IMAGE_BLUE}", "--replicas=1")
    # First save: an invalid replica count; second: the file shows the error, then a valid edit.
    editor = tmp_path / "editor.sh"
    seen = tmp_path / "seen"
    editor.write_text("#!/bin/sh\n"
                      f"if [ ! -e {seen} ]; then touch {seen}; sed -i 's/replicas: 1$/replicas: -1/' \"$1\";\n"
                      f"else cp \"$1\" {seen}; sed -i 's/replicas: -1$/replicas: 2/' \"$1\"; fi\n")
    editor.chmod(0o755)
    r = orchctl(server, "edit", "deployment/ed", env={"KUBE_EDITOR": str(editor)})
    assert r.stdout == "deployment.apps/ed edited\n"
    reopened = seen.read_text()
    assert '# deployments.apps "ed" was not valid:' in reopened
    assert "spec.replicas" in reopened
    assert get_json(server, "deploy", "ed")["spec"]["replicas"] == 2
    orchctl(server, "delete", "deploy", "ed")


def test_drain(server):
    """Last of the module: it cordons the node and evicts what runs there."""
    node = "e2e-node"
    orchctl(server, "run", "bare", f"--image={IMAGE_BLUE}")
    orchctl(server, "create", "deployment", "dr", f"--image={IMAGE_BLUE}", "--replicas=2")
    orchctl(server, "rollout", "status", "deploy/dr", timeout=300)
    orchctl(server, "wait", "--for=condition=Ready", "pod/bare", "--timeout=120s")
    # A mirror pod (what a node shows for its static pods): drain leaves it alone.
    orchctl(server, "apply", "-f", "-", stdin=(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: mirror\n  annotations:\n"
        "    kubernetes.io/config.mirror: static\nspec:\n  nodeName: e2e-node\n  containers:\n"
        f"  - name: k\n    image: {IMAGE_BLUE}\n"))
    has_ds = orchctl(server, "get", "ds", "agentd", check=False).returncode == 0
    print("drain: with a DaemonSet pod" if has_ds else "drain: without a DaemonSet")
    try:
        r = orchctl(server, "drain", node, check=False)
        assert r.returncode == 1
        assert r.stdout == f"node/{node} cordoned\n"
        err = r.stderr.splitlines()
        assert err[0].startswith(f'error: unable to drain node "{node}" due to error: ')
        assert err[0].endswith(", continuing command...")
        assert err[1:3] == ["There are pending nodes to be drained:", f" {node}"]
        assert "cannot delete cannot delete Pods that declare no controller (use --force to override): " \
               "default/bare" in err
        if has_ds:
            assert any(e.startswith("cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to "
                                    "ignore): default/agentd-") for e in err)
        assert "default/mirror" not in r.stderr
        # Nothing was deleted.
        assert orchctl(server, "get", "pod", "bare", check=False).returncode == 0

        r = orchctl(server, "drain", node, "--ignore-daemonsets", "--force", "--delete-emptydir-data",
                    "--timeout=120s", timeout=180)
        assert r.returncode == 0, r.stderr
        out = r.stdout.splitlines()
        assert out[0] == f"node/{node} already cordoned" and out[-1] == f"node/{node} drained"
        assert "pod/bare deleted" in out or "pod/bare evicted" in out
        assert sum(1 for line in out if re.fullmatch(r"pod/dr-[a-z0-9]+-[a-z0-9]{5} (deleted|evicted)", line)) == 2
        assert r.stderr.startswith("Warning: ")
        assert "deleting Pods that declare no controller: default/bare" in r.stderr
        if has_ds:
            assert "ignoring DaemonSet-managed Pods: default/agentd-" in r.stderr
            assert orchctl(server, "get", "pods", "-l", "app=agentd", "-o", "name").stdout != ""
        assert orchctl(server, "get", "pod", "bare", check=False).returncode == 1
        assert "mirror" not in r.stdout + r.stderr
        assert orchctl(server, "get", "pod", "mirror", check=False).returncode == 0
        # The deployment's replacements wait for a schedulable node.
        pods = get_json(server, "pods", "-l", "app=dr")["items"]
        assert all(not p["spec"].get("nodeName") for p in pods)
        assert get_json(server, "node", node)["spec"]["unschedulable"] is True
        r = orchctl(server, "drain", "nope", check=False)
        assert r.returncode == 1 and r.stderr == 'Error from server (NotFound): nodes "nope" not found\n'
    finally:
        orchctl(server, "uncordon", node)
    orchctl(server, "rollout", "status", "deploy/dr", timeout=300)
    orchctl(server, "delete", "deploy", "dr")
    orchctl(server, "delete", "pod", "mirror", "--grace-period=0", "--force")
    if has_ds:
        orchctl(server, "delete", "ds", "agentd")
