"""Fixtures for the end-to-end suites: a real API server process on a free loopback port with its
own data directory, and real clients (kubectl 1.32, kubectl 1.20, the Python client) pointed at it
with a fresh HOME, so kubectl's discovery cache never leaks between tests.

Environment (set by meson): ORCH_TEST_APISERVER (the server binary), KUBECTL_120 (optional path of
kubectl 1.20; its tests are skipped when absent).
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

KUBECTL_132 = shutil.which("kubectl") or "/usr/bin/kubectl"
KUBECTL_120 = os.environ.get("KUBECTL_120", "")
START_TIMEOUT = 20


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="orch-e2e-")
        self.proc = None
        self.log = None
        try:
            self._start()
        except BaseException:
            self.stop()  # a server that failed to start leaves no process or directory
            raise

    def _start(self):
        self.url_file = os.path.join(self.dir, "url")
        binary = os.environ["ORCH_TEST_APISERVER"]
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--data-dir", self.dir, "--url-file", self.url_file],
            stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(self.url_file):
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + open(self.log.name).read())
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start in time")
            time.sleep(0.02)
        self.url = open(self.url_file).read().strip()
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        with open(self.kubeconfig, "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: orch
  cluster:
    server: {self.url}
users:
- name: orch
  user: {{}}
contexts:
- name: orch
  context:
    cluster: orch
    user: orch
    namespace: default
current-context: orch
""")

    def request(self, method, path, body=None, content_type="application/json", headers=None):
        """Raw HTTP: returns (status, parsed JSON or text, headers)."""
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else (
                body.encode() if isinstance(body, str) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if content_type:
            req.add_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                raw, status, hdrs = r.read(), r.status, r.headers
        except urllib.error.HTTPError as e:
            raw, status, hdrs = e.read(), e.code, e.headers
        try:
            return status, json.loads(raw), hdrs
        except ValueError:
            return status, raw.decode(errors="replace"), hdrs

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.log is not None:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


class Kubectl:
    def __init__(self, binary, server):
        self.binary = binary
        self.server = server
        self.home = tempfile.mkdtemp(prefix="orch-kubectl-home-")

    def env(self, extra=None):
        env = {"HOME": self.home, "KUBECONFIG": self.server.kubeconfig,
               "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        env.update(extra or {})
        return env

    def run(self, *args, stdin=None, env=None, timeout=60, check=True):
        p = subprocess.run([self.binary, *args], input=stdin, capture_output=True, text=True,
                           env=self.env(env), timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}):\n"
                                 f"{p.stdout}\n{p.stderr}")
        return p

    def popen(self, *args):
        return subprocess.Popen([self.binary, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env())

    def cleanup(self):
        shutil.rmtree(self.home, ignore_errors=True)


def kubectl_versions():
    versions = [pytest.param(KUBECTL_132, id="kubectl-1.32")]
    if KUBECTL_120 and os.path.exists(KUBECTL_120):
        versions.append(pytest.param(KUBECTL_120, id="kubectl-1.20"))
    else:
        versions.append(pytest.param(KUBECTL_120, id="kubectl-1.20",
                                     marks=pytest.mark.skip(reason="kubectl 1.20 not unpacked")))
    return versions


@pytest.fixture(params=kubectl_versions())
def kubectl(request, server):
    k = Kubectl(request.param, server)
    yield k
    k.cleanup()


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
