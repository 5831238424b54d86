"""The seed's tour end to end, once with orchctl and once with kubectl 1.32, against orch-server
with two orch-agent nodes on one machine (all on loopback, with the generated kubeconfig as it
is): run a pod and see it Running, the dry-run document, port-forward and curl, a Deployment of 5
(`kuard-<hash>-<suffix>`), expose it as a LoadBalancer and curl the external address, scale to
10, edit, restart the server mid-tour (nothing lost, agents come back), set image and rollout
status, the components as mirror pods in kube-system with their logs, delete.

Environment (set by meson): ORCH_SERVER, ORCH_AGENT, ORCH_KUARD_PATH, ORCHCTL.
"""
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile

import pytest

from test_agents import OrchAgent
from test_orch_server import OrchServer, http_get, pod_processes, wait

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tour:
    """One client binary against a server + 2 agents."""

    def __init__(self, binary):
        self.binary = binary
        self.home = tempfile.mkdtemp(prefix="orch-tour-home-")
        self.data = tempfile.mkdtemp(prefix="orch-tour-server-")
        self.listen = f"127.0.0.1:{free_port()}"
        self.server = None
        self.agents = []

    def start_server(self):
        self.server = OrchServer(self.data, ["--kuard-path", os.environ["ORCH_KUARD_PATH"]],
                                 listen=self.listen)
        self.server.home = self.home
        self.kubeconfig = self.server.kubeconfig

    def run(self, *args, check=True, timeout=120, env=None):
        e = dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.home)
        e.update(env or {})
        r = subprocess.run([self.binary, *args], capture_output=True, text=True, env=e,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError(f"{os.path.basename(self.binary)} {' '.join(args)} failed "
                                 f"({r.returncode}): {r.stdout}\n{r.stderr}")
        return r

    def json(self, *args):
        return json.loads(self.run("get", *args, "-o", "json").stdout)

    def stop(self):
        for a in self.agents:
            a.stop()
        if self.server is not None:
            self.server.stop()
        for pid in pod_processes(self.data):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self.data, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)


def clients():
    return [pytest.param(os.environ.get("ORCHCTL", ""), id="orchctl"),
            pytest.param(KUBECTL, id="kubectl-1.32")]


@pytest.fixture(params=clients())
def tour(request):
    t = Tour(request.param)
    try:
        t.start_server()
        token_file = os.path.join(t.data, "node-token")
        for name, slot in [("tour-a", 31), ("tour-b", 32)]:
            t.agents.append(OrchAgent(t.server, name, slot, ["--token-file", token_file]))
        yield t
    finally:
        t.stop()


def ready_node_names(t):
    names = set()
    for n in t.json("nodes")["items"]:
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", [])):
            names.add(n["metadata"]["name"])
    return names


def deployment_ready(t, name, replicas):
    d = t.json("deployment", name)
    s = d.get("status", {})
    return (s.get("readyReplicas") == replicas and s.get("updatedReplicas") == replicas and
            s.get("replicas") == replicas and s.get("observedGeneration", 0) >= d["metadata"]["generation"])


def test_tour(tour):
    t = tour
    assert wait(lambda: len(ready_node_names(t)) == 3, 90, what="3 Ready nodes")

    # Run a pod and see it Running.
    t.run("run", "kuard", "--image=kuard:blue", "--port=8080")
    pod = wait(lambda: (lambda p: p if p["status"].get("phase") == "Running" and p["status"].get("podIP")
                        else None)(t.json("pod", "kuard")), 90, what="pod kuard Running")
    assert "Running" in t.run("get", "pods").stdout

    # The document, without sending it.
    doc = t.run("run", "kuard2", "--image=kuard", "--dry-run=client", "-o", "yaml").stdout
    assert "apiVersion: v1" in doc and "kind: Pod" in doc and "image: kuard" in doc
    assert t.run("get", "pod", "kuard2", check=False).returncode != 0

    # Port-forward to it and curl.
    out = tempfile.TemporaryFile("w+")
    e = dict(os.environ, KUBECONFIG=t.kubeconfig, HOME=t.home)
    pf = subprocess.Popen([t.binary, "port-forward", "pod/kuard", ":8080"], stdout=out,
                          stderr=subprocess.STDOUT, env=e, stdin=subprocess.DEVNULL)
    try:
        def forwarded():
            out.seek(0)
            m = re.search(r"Forwarding from 127\.0\.0\.1:(\d+) -> 8080", out.read())
            return int(m.group(1)) if m else None
        local = wait(forwarded, 60, what="port-forward to listen")
        assert wait(lambda: http_get("127.0.0.1", local), 30) == "blue"
    finally:
        pf.terminate()
        pf.wait(10)
        out.close()

    # A Deployment of 5, spread over the nodes, with Kubernetes' names.
    t.run("create", "deployment", "kuard", "--image=kuard:blue", "--replicas=5", "--port=8080")
    t.run("rollout", "status", "deployment/kuard", "--timeout=180s", timeout=190)
    pods = t.json("pods", "-l", "app=kuard")["items"]
    assert len(pods) == 5
    assert all(re.fullmatch(r"kuard-[a-z0-9]+-[a-z0-9]{5}", p["metadata"]["name"]) for p in pods)

    # Expose it as a LoadBalancer and curl the external address.
    t.run("expose", "deployment", "kuard", "--type=LoadBalancer", "--port=80", "--target-port=8080")
    svc = wait(lambda: (lambda s: s if s["status"].get("loadBalancer", {}).get("ingress") else None)(
        t.json("svc", "kuard")), 60, what="an external address")
    external = svc["status"]["loadBalancer"]["ingress"][0]["ip"]
    table = t.run("get", "svc", "kuard").stdout
    assert external in table and re.search(r"80:\d+/TCP", table)
    assert wait(lambda: http_get(external, 80), 30) == "blue"

    # Scale to 10; every node runs some.
    t.run("scale", "deployment", "kuard", "--replicas=10")
    t.run("rollout", "status", "deployment/kuard", "--timeout=180s", timeout=190)
    assert {p["spec"]["nodeName"] for p in t.json("pods", "-l", "app=kuard")["items"]} == ready_node_names(t)

    # Edit: an editor that sets the replicas to 8.
    editor = os.path.join(t.home, "editor.sh")
    with open(editor, "w") as f:
        f.write("#!/bin/sh\nsed -i 's/^  replicas: 10$/  replicas: 8/' \"$1\"\n")
    os.chmod(editor, stat.S_IRWXU)
    t.run("edit", "deployment/kuard", env={"KUBE_EDITOR": editor, "EDITOR": editor})
    assert wait(lambda: deployment_ready(t, "kuard", 8), 120, what="8 replicas after the edit")

    # Restart the server mid-tour: every object survives, the agents come back.
    uids = sorted(p["metadata"]["uid"] for p in t.json("pods", "-l", "app=kuard")["items"])
    assert t.server.stop() == 0
    t.start_server()
    assert wait(lambda: len(ready_node_names(t)) == 3, 90, what="3 Ready nodes after the restart")
    assert sorted(p["metadata"]["uid"] for p in t.json("pods", "-l", "app=kuard")["items"]) == uids
    assert t.json("svc", "kuard")["status"]["loadBalancer"]["ingress"][0]["ip"] == external
    assert wait(lambda: http_get(external, 80), 60) == "blue"

    # Roll a new image.
    t.run("set", "image", "deployment/kuard", "kuard=kuard:green")
    t.run("rollout", "status", "deployment/kuard", "--timeout=240s", timeout=250)
    assert wait(lambda: http_get(external, 80) == "green", 60, what="green through the LB")

    # The control plane lives in the cluster: mirror pods with the components' logs.
    system = t.run("get", "pods", "-n", "kube-system").stdout
    for component in ["kube-apiserver-e2e-node", "kube-controller-manager-e2e-node",
                      "kube-scheduler-e2e-node", "orch-load-balancer-e2e-node",
                      "orch-agent-e2e-node", "kube-proxy-e2e-node"]:
        assert re.search(rf"^{component}\s+1/1\s+Running", system, re.M), system
    assert wait(lambda: " I agent/e2e-node: " in t.run("logs", "-n", "kube-system", "orch-agent-e2e-node",
                                                       check=False).stdout or None, 30,
                what="the agent's log through kubectl logs")

    # Delete: the Deployment takes its pods with it.
    t.run("delete", "deployment", "kuard", timeout=180)
    wait(lambda: not t.json("pods", "-l", "app=kuard")["items"], 90, what="kuard pods gone")
    t.run("delete", "pod", "kuard", timeout=120)
