"""orch-server end to end with the real kubectl 1.32: the seed's tour against the single-machine
cluster that `make up` runs (real kuard processes, Services through the proxy and the load
balancer), a restart that keeps every object and the running pods, and a clean stop that leaves
no pod process behind.

Environment (set by meson): ORCH_SERVER (the orch-server binary), ORCH_KUARD_PATH (kuard).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import pytest

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def wait(predicate, timeout=60, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def pod_processes(data_dir):
    """Processes whose working directory lies inside `data_dir` (the pods of that server)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{pid}/cwd").startswith(data_dir):
                found.append(int(pid))
        except OSError:
            pass
    return found


class OrchServer:
    def __init__(self, data_dir, extra=(), listen="127.0.0.1:0"):
        self.data_dir = data_dir
        self.log_path = os.path.join(data_dir, "server.log")
        os.makedirs(data_dir, exist_ok=True)
        self.log = open(self.log_path, "a")
        self.log_start = self.log.tell()  # a restart appends: read only this run's lines
        self.proc = subprocess.Popen(
            [os.environ["ORCH_SERVER"], "--data-dir", data_dir, "--listen", listen,
             "--node-name", "e2e-node", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.url = wait(self._url, 30, what="orch-server to serve")
        self.kubeconfig = os.path.join(data_dir, "kubeconfig")

    def _url(self):
        if self.proc.poll() is not None:
            raise RuntimeError("orch-server exited: " + open(self.log_path).read())
        with open(self.log_path) as f:
            f.seek(self.log_start)
            m = re.search(r"serving (http\S+)", f.read())
        return m.group(1) if m else None

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def run_server(extra):
    home = tempfile.mkdtemp(prefix="orch-e2e-home-")
    data = tempfile.mkdtemp(prefix="orch-e2e-server-")
    s = OrchServer(data, extra)
    s.home = home
    try:
        yield s
    finally:
        s.stop()
        for pid in pod_processes(data):  # never leave a pod behind, even when a test failed
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def server():
    """orch-server that stops its pods on exit."""
    yield from run_server(["--kill-pods-on-exit"])


@pytest.fixture
def keeping_server():
    """orch-server as `make up` runs it: pods outlive it (the fixture still cleans them up)."""
    yield from run_server([])


def kubectl(server, *args, check=True, timeout=60):
    env = dict(os.environ, KUBECONFIG=server.kubeconfig, HOME=server.home)
    r = subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {r.stderr}")
    return r


def http_get(host, port, path="/version", timeout=3):
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=timeout) as r:
            return r.read().decode().strip()
    except Exception:
        return None


def get_json(server, *args):
    return json.loads(kubectl(server, "get", *args, "-o", "json").stdout)


def test_tour_with_kubectl(server):
    assert "Ready" in kubectl(server, "get", "nodes").stdout

    # A pod: a real kuard process on its own address.
    kubectl(server, "run", "kuard", "--image=kuard:blue", "--port=8080")
    pod = wait(lambda: (lambda p: p if p["status"].get("phase") == "Running" and
                        p["status"].get("podIP") else None)(get_json(server, "pod", "kuard")),
               what="pod kuard Running")
    assert wait(lambda: http_get(pod["status"]["podIP"], 8080), 30) == "blue"
    doc = kubectl(server, "run", "kuard2", "--image=kuard", "--dry-run=client", "-o", "yaml").stdout
    assert "kind: Pod" in doc and "image: kuard" in doc
    assert "kuard blue listening" in wait(lambda: kubectl(server, "logs", "kuard").stdout, 20)

    # A Deployment of 5 behind a LoadBalancer Service.
    kubectl(server, "create", "deployment", "web", "--image=kuard:blue", "--replicas=5", "--port=8080")
    kubectl(server, "rollout", "status", "deployment/web", "--timeout=120s", timeout=130)
    names = [p["metadata"]["name"] for p in get_json(server, "pods", "-l", "app=web")["items"]]
    assert len(names) == 5 and all(re.fullmatch(r"web-[a-z0-9]+-[a-z0-9]{5}", n) for n in names)
    kubectl(server, "expose", "deployment", "web", "--type=LoadBalancer", "--port=80",
            "--target-port=8080")
    svc = wait(lambda: (lambda s: s if s["status"].get("loadBalancer", {}).get("ingress") else None)(
        get_json(server, "svc", "web")), what="an external address")
    external = svc["status"]["loadBalancer"]["ingress"][0]["ip"]
    node_port = svc["spec"]["ports"][0]["nodePort"]
    assert re.search(r"80:\d+/TCP", kubectl(server, "get", "svc", "web").stdout)
    assert wait(lambda: http_get(external, 80), 30) == "blue"
    assert wait(lambda: http_get(svc["spec"]["clusterIP"], 80), 30) == "blue"
    assert wait(lambda: http_get("127.0.0.1", node_port), 30) == "blue"

    # Scale, roll a new image, and the external address serves it.
    kubectl(server, "scale", "deployment", "web", "--replicas=10")
    kubectl(server, "rollout", "status", "deployment/web", "--timeout=120s", timeout=130)
    kubectl(server, "set", "image", "deployment/web", "kuard=kuard:green")
    kubectl(server, "rollout", "status", "deployment/web", "--timeout=180s", timeout=190)
    assert wait(lambda: http_get(external, 80) == "green", 30)
    events = kubectl(server, "get", "events").stdout
    assert "ScalingReplicaSet" in events and "Scheduled" in events and "Started" in events

    # Deleting the Deployment takes its ReplicaSets and pods with it.
    kubectl(server, "delete", "deployment", "web")
    wait(lambda: not get_json(server, "pods", "-l", "app=web")["items"], 60, what="web pods gone")
    assert not get_json(server, "rs", "-l", "app=web")["items"]


def test_restart_keeps_objects_and_running_pods(keeping_server):
    server = keeping_server
    kubectl(server, "run", "keep", "--image=kuard", "--port=8080")
    pod = wait(lambda: (lambda p: p if p["status"].get("podIP") and p["status"].get("phase") == "Running"
                        else None)(get_json(server, "pod", "keep")), what="pod Running")
    ip = pod["status"]["podIP"]
    assert wait(lambda: http_get(ip, 8080), 30)
    # Stop without killing pods, start again on the same data directory.
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(30)
    server.log.close()
    assert http_get(ip, 8080) == "blue"  # the pod kept running while the server was down
    restarted = OrchServer(server.data_dir, [])
    restarted.home = server.home
    server.proc, server.log, server.kubeconfig = restarted.proc, restarted.log, restarted.kubeconfig
    again = wait(lambda: (lambda p: p if p["status"].get("phase") == "Running" else None)(
        get_json(server, "pod", "keep")), what="pod still Running")
    assert again["metadata"]["uid"] == pod["metadata"]["uid"]
    restarts = again["status"]["containerStatuses"][0]["restartCount"]
    assert restarts == 0  # adopted, not restarted
    assert http_get(ip, 8080) == "blue"


def test_stop_leaves_no_pod_process(server):
    kubectl(server, "create", "deployment", "gone", "--image=kuard", "--replicas=3")
    kubectl(server, "rollout", "status", "deployment/gone", "--timeout=120s", timeout=130)
    assert len(pod_processes(server.data_dir)) >= 3
    assert server.stop() == 0
    wait(lambda: not pod_processes(server.data_dir), 20, what="pod processes gone")
