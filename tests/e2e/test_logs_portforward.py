"""kubectl logs and kubectl port-forward through the API server to an agent's node server.

The server is orch-test-logs-harness (tests/support/logs_portforward_harness.cpp): an API server,
one NodeServer and a fake pod (an HTTP port and an echo port on a loopback address), with Pods
"web" and "multi" Running on node-1 and "pending" unscheduled. The test writes the CRI log files.
kubectl 1.32 port-forwards over WebSocket (SPDY tunnelled), kubectl 1.20 over SPDY/3.1.
"""
import datetime
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import KUBECTL_132, Kubectl, Server, kubectl_versions, wait_until


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("ORCH_TEST_APISERVER", os.environ["ORCH_TEST_LOGS_HARNESS"])
    s = Server()
    s.info = json.load(open(os.path.join(s.dir, "harness.json")))
    yield s
    s.stop()


T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def cri(second, text, stream="stdout", partial=False):
    t = (T0 + datetime.timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
    return f"{t} {stream} {'P' if partial else 'F'} {text}\n"


def log_file(server, pod, container, restart):
    d = os.path.join(server.info["log_root"], f"default_{pod}", container)
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, f"{restart}.log")


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


def test_logs(server, kubectl):
    append(log_file(server, "web", "web", 0), cri(1, "old life"))
    append(log_file(server, "web", "web", 1),
           cri(2, "one") + cri(3, "two-", partial=True) + cri(3, "joined") + cri(4, "three", "stderr"))
    assert kubectl.run("logs", "web").stdout == "one\ntwo-joined\nthree\n"
    assert kubectl.run("logs", "web", "--tail=1").stdout == "three\n"
    assert kubectl.run("logs", "web", "--previous").stdout == "old life\n"
    assert kubectl.run("logs", "pod/web", "--timestamps", "--tail=1").stdout == \
        "2024-01-01T00:00:04.000000000Z three\n"
    append(log_file(server, "multi", "b", 0), cri(1, "from b"))
    assert kubectl.run("logs", "multi", "-c", "b").stdout == "from b\n"
    p = kubectl.run("logs", "multi", "-c", "nope", check=False)
    assert p.returncode != 0 and "container nope is not valid for pod multi" in p.stderr


def test_log_errors_over_rest(server):
    status, body, _ = server.request("GET", "/api/v1/namespaces/default/pods/multi/log")
    assert status == 400
    assert body["message"] == "a container name must be specified for pod multi, choose one of: [a b]"
    status, body, _ = server.request("GET", "/api/v1/namespaces/default/pods/pending/log")
    assert status == 400 and body["reason"] == "BadRequest"
    assert body["message"] == "pod pending does not have a host assigned"
    status, body, _ = server.request("GET", "/api/v1/namespaces/default/pods/nope/log")
    assert status == 404 and body["reason"] == "NotFound"
    # No log yet, and no previous restart: the node's answers pass through as Status bodies.
    status, body, _ = server.request("GET", "/api/v1/namespaces/default/pods/web/log")
    assert status == 404 and body["kind"] == "Status"
    append(log_file(server, "web", "web", 0), cri(1, "x"))
    status, body, _ = server.request("GET", "/api/v1/namespaces/default/pods/web/log?previous=true")
    assert status == 400
    assert body["message"] == 'previous terminated container "web" in pod "web" not found'
    status, text, hdrs = server.request("GET", "/api/v1/namespaces/default/pods/web/log?limitBytes=1")
    assert status == 200 and text == "x"


def read_line(stream, timeout):
    """One line from a pipe, or None after `timeout` seconds (the reader thread is a daemon)."""
    out = []
    t = threading.Thread(target=lambda: out.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    return out[0] if out else None


def test_logs_follow(server, kubectl):
    live = log_file(server, "web", "web", 0)
    append(live, cri(1, "first"))
    p = kubectl.popen("logs", "-f", "web")
    try:
        assert read_line(p.stdout, 30) == "first\n"
        append(live, cri(2, "second"))
        assert read_line(p.stdout, 30) == "second\n"
        # The container restarts: its followed log ends, and so does kubectl.
        append(log_file(server, "web", "web", 1), cri(3, "next life"))
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)
        p.stdout.close()
        p.stderr.close()


class PortForward:
    """`kubectl port-forward pod/web :REMOTE...`; the local ports come from its output."""

    def __init__(self, kubectl, *remote_ports):
        self.proc = kubectl.popen("port-forward", "pod/web", *[f":{p}" for p in remote_ports])
        self.local = {}
        try:
            deadline = time.monotonic() + 30
            while len(self.local) < len(remote_ports):
                line = read_line(self.proc.stdout, max(0.1, deadline - time.monotonic()))
                if line is None or line == "":
                    raise AssertionError("port-forward did not start: " + self.proc.stderr.read()
                                         if self.proc.poll() is not None else "port-forward timed out")
                m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line)
                if m:
                    self.local[int(m.group(2))] = int(m.group(1))
        except BaseException:
            self.close()
            raise

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.stderr_text = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()


def echo_roundtrip(port, payload):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk


@pytest.mark.parametrize("binary", kubectl_versions())
def test_port_forward_many_connections(server, binary):
    kubectl = Kubectl(binary, server)
    http_port, echo_port = server.info["http_port"], server.info["echo_port"]
    pf = PortForward(kubectl, http_port, echo_port)
    try:
        local_http, local_echo = pf.local[http_port], pf.local[echo_port]
        # HTTP through the tunnel, like `curl localhost:8080`.
        with urllib.request.urlopen(f"http://127.0.0.1:{local_http}/", timeout=30) as r:
            assert r.read().startswith(b"hello from pod ")

        results, errors = {}, []

        def worker(i):
            try:
                payload = (f"connection {i} ".encode() * 20000)[: 100000 + i]
                results[i] = echo_roundtrip(local_echo, payload) == payload
                with urllib.request.urlopen(f"http://127.0.0.1:{local_http}/", timeout=30) as r:
                    results[-1 - i] = r.read().startswith(b"hello from pod ")
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        assert len(results) == 20 and all(results.values())
    finally:
        pf.close()
        kubectl.cleanup()


@pytest.mark.parametrize("binary", kubectl_versions())
def test_port_forward_refused_port_reports_the_nodes_error(server, binary):
    # A port nothing listens on inside the pod: the local connection closes without data and
    # kubectl prints the node's dial error. kubectl 1.20 keeps serving other connections; 1.32
    # then ends the session ("lost connection to pod"), as it does against Kubernetes.
    kubectl = Kubectl(binary, server)
    with socket.socket() as s:
        s.bind((server.info["pod_ip"], 0))
        closed = s.getsockname()[1]
    pf = PortForward(kubectl, closed, server.info["echo_port"])
    try:
        with socket.create_connection(("127.0.0.1", pf.local[closed]), timeout=30) as c:
            c.settimeout(30)
            assert c.recv(100) == b""
        if binary == KUBECTL_132:
            assert pf.proc.wait(timeout=30) != 0
        else:
            assert echo_roundtrip(pf.local[server.info["echo_port"]], b"still here") == b"still here"
    finally:
        pf.close()
        kubectl.cleanup()
    assert f"failed to connect to {server.info['pod_ip']}:{closed} inside pod default/web" in \
        pf.stderr_text


def test_port_forward_needs_an_upgrade(server):
    status, body, _ = server.request("POST", "/api/v1/namespaces/default/pods/web/portforward")
    assert status == 400 and body["message"] == "Upgrade request required"
    status, body, _ = server.request("POST", "/api/v1/namespaces/default/pods/pending/portforward",
                                     headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1"})
    assert status == 400 and body["message"] == "pod pending does not have a host assigned"
