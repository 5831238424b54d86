"""orch-server plus two orch-agent nodes on one machine: each agent joins with the server's
node-token alone (it pins the CA), registers a Ready node on its own loopback address, and a
Deployment's pods spread over the three nodes and run there (logs through the API server from an
agent node too). A wrong token is refused. Everything started here is stopped and removed.

Environment (set by meson): ORCH_SERVER, ORCH_AGENT, ORCH_KUARD_PATH.
"""
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from test_orch_server import OrchServer, get_json, http_get, kubectl, pod_processes, wait


class OrchAgent:
    def __init__(self, server, name, slot, token_args):
        self.data_dir = tempfile.mkdtemp(prefix=f"orch-e2e-{name}-")
        self.log_path = os.path.join(self.data_dir, "agent.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [os.environ["ORCH_AGENT"], "--server", server.url, *token_args, "--node-name", name,
             "--data-dir", self.data_dir, "--address-slot", str(slot), "--kill-pods-on-exit",
             "--kuard-path", os.environ["ORCH_KUARD_PATH"]],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def output(self):
        return open(self.log_path).read()

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        for pid in pod_processes(self.data_dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self.data_dir, ignore_errors=True)
        return self.proc.returncode


@pytest.fixture
def cluster():
    home = tempfile.mkdtemp(prefix="orch-e2e-home-")
    data = tempfile.mkdtemp(prefix="orch-e2e-server-")
    server = OrchServer(data, ["--kill-pods-on-exit", "--kuard-path", os.environ["ORCH_KUARD_PATH"]])
    server.home = home
    agents = []
    try:
        token_file = os.path.join(data, "node-token")
        for name, slot in [("agent-a", 11), ("agent-b", 12)]:
            agents.append(OrchAgent(server, name, slot, ["--token-file", token_file]))
        yield server, agents
    finally:
        codes = [a.stop() for a in agents]
        server.stop()
        for pid in pod_processes(data):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    assert codes == [0, 0]  # SIGTERM stops an agent cleanly


def ready_nodes(server):
    out = {}
    for n in get_json(server, "nodes")["items"]:
        conds = {c["type"]: c["status"] for c in n["status"].get("conditions", [])}
        if conds.get("Ready") == "True":
            ips = [a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP"]
            out[n["metadata"]["name"]] = ips[0] if ips else None
    return out


def test_two_agents_join_and_run_pods(cluster):
    server, agents = cluster
    nodes = wait(lambda: (lambda r: r if len(r) == 3 else None)(ready_nodes(server)), 90,
                 what="3 Ready nodes")
    assert nodes == {"e2e-node": "127.0.0.1", "agent-a": "127.0.0.12", "agent-b": "127.0.0.13"}
    assert "joined" in agents[0].output()

    kubectl(server, "create", "deployment", "spread", "--image=kuard:blue", "--replicas=6",
            "--port=8080")
    kubectl(server, "rollout", "status", "deployment/spread", "--timeout=120s", timeout=130)
    pods = get_json(server, "pods", "-l", "app=spread")["items"]
    assert len(pods) == 6
    assert {p["status"]["phase"] for p in pods} == {"Running"}
    assert {p["spec"]["nodeName"] for p in pods} == set(nodes)
    for p in pods:
        assert p["status"]["hostIP"] == nodes[p["spec"]["nodeName"]]
        assert wait(lambda: http_get(p["status"]["podIP"], 8080), 30) == "blue"
    on_agent = next(p for p in pods if p["spec"]["nodeName"] == "agent-a")
    logs = wait(lambda: kubectl(server, "logs", on_agent["metadata"]["name"], check=False).stdout,
                30, what="logs from an agent node")
    assert "listening" in logs


def test_wrong_token_is_refused(cluster):
    server, agents = cluster
    token = open(os.path.join(server.data_dir, "node-token")).read().strip()
    wrong_secret = OrchAgent(server, "intruder", 20, ["--token", token + "x"])
    wrong_ca = OrchAgent(server, "intruder2", 21, ["--token", "K10" + "0" * 64 + "::server:x"])
    try:
        assert wrong_secret.proc.wait(60) == 1
        assert "Unauthorized" in wrong_secret.output()
        assert wrong_ca.proc.wait(60) == 1
        assert "does not match the token" in wrong_ca.output()
    finally:
        wrong_secret.stop()
        wrong_ca.stop()
    assert "intruder" not in kubectl(server, "get", "nodes").stdout
