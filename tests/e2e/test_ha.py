"""A highly available control plane end to end: a 3-member etcd cluster on loopback (members
started, killed and restarted by the test), two `orch-server --store=etcd --disable-agent`
processes sharing it, and one `orch-agent --server A,B` node running real kuard pods. Clients use
each server's kubeconfig (kubectl 1.32 and python3-kubernetes), so TLS and tokens work as a user
sees them; server B starts from a copy of A's tls/ and node-token, so both present the same
certificate and accept the same tokens.

The cases run in order on one cluster (module fixture): both servers serve one cluster; a rollout
survives the etcd leader's death with every acknowledged write present; concurrent CAS increments
through both servers while a member is killed count every acknowledged one exactly once; the
server holding the controller-manager and scheduler Leases dies and the other takes over; with two
of three members down writes fail with 503 and nothing is lost when quorum returns.

Environment (set by meson): ORCH_SERVER, ORCH_AGENT, ORCH_KUARD_PATH; ORCH_ETCD (default
/usr/bin/etcd). Skipped when etcd is not installed.
"""
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest

from test_orch_server import OrchServer, kubectl, pod_processes, wait

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k8s, config as k8s_config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

ETCD = os.environ.get("ORCH_ETCD", "/usr/bin/etcd")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
pytestmark = pytest.mark.skipif(not os.access(ETCD, os.X_OK),
                                reason=f"etcd is not installed ({ETCD}; Debian: etcd-server)")
PR_SET_PDEATHSIG = 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class EtcdCluster:
    """N members of a new etcd cluster on free loopback ports, data under `root`."""

    def __init__(self, root, members=3):
        self.root = root
        self.procs = [None] * members
        self.client_ports = [free_port() for _ in range(members)]
        self.peer_ports = [free_port() for _ in range(members)]
        self.initial = ",".join(f"m{i}=http://127.0.0.1:{p}" for i, p in enumerate(self.peer_ports))
        for i in range(members):
            self.start(i)
        self.wait_ready()

    def endpoint(self, i):
        return f"http://127.0.0.1:{self.client_ports[i]}"

    def endpoints(self):
        return ",".join(self.endpoint(i) for i in range(len(self.procs)))

    def start(self, i):
        peer = f"http://127.0.0.1:{self.peer_ports[i]}"
        log = open(os.path.join(self.root, f"etcd-m{i}.log"), "a")
        self.procs[i] = subprocess.Popen(
            [ETCD, "--name", f"m{i}", "--data-dir", os.path.join(self.root, f"m{i}.etcd"),
             "--listen-client-urls", self.endpoint(i), "--advertise-client-urls", self.endpoint(i),
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", self.initial, "--initial-cluster-state", "new",
             "--initial-cluster-token", f"orch-ha-{os.getpid()}",
             "--heartbeat-interval", "50", "--election-timeout", "500"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent)
        log.close()

    def kill(self, i):
        if self.procs[i] is not None:
            self.procs[i].kill()
            self.procs[i].wait()
            self.procs[i] = None

    def stop(self):
        for i in range(len(self.procs)):
            self.kill(i)

    def post(self, i, path, body):
        req = urllib.request.Request(self.endpoint(i) + path, data=json.dumps(body).encode(),
                                     method="POST")
        with urllib.request.urlopen(req, timeout=2) as r:
            return json.loads(r.read())

    def wait_ready(self, timeout=30):
        def ready():
            try:
                return all(self.post(i, "/v3/kv/range", {"key": "AA=="}) is not None
                           for i, p in enumerate(self.procs) if p is not None)
            except OSError:
                return False
        wait(ready, timeout, 0.05, "etcd members ready")

    def leader(self):
        """The index of the leader, as a live member reports it."""
        def find():
            ids = {}
            for i, p in enumerate(self.procs):
                if p is None:
                    continue
                try:
                    st = self.post(i, "/v3/maintenance/status", {})
                except OSError:
                    continue
                ids[st["header"]["member_id"]] = i
                if st.get("leader") in ids:
                    return str(ids[st["leader"]])
            for i in list(ids.values()):
                st = self.post(i, "/v3/maintenance/status", {})
                if st.get("leader") in ids:
                    return str(ids[st["leader"]])
            return None
        return int(wait(find, 20, 0.05, "an etcd leader"))


class Ha:
    pass


class LoadBalancer:
    """haproxy in TCP mode in front of the API servers, for clients with one address (kubectl):
    TLS passes through, so both servers must present the same certificate (they do)."""

    def __init__(self, root, servers, home):
        self.port = free_port()
        self.home = home
        backends = "".join(
            f"  server s{i} {s.url.split('://')[1]} check inter 300ms fall 2 rise 2\n"
            for i, s in enumerate(servers))
        cfg = os.path.join(root, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(f"""global
  maxconn 256
defaults
  mode tcp
  timeout connect 1s
  timeout client 300s
  timeout server 300s
  retries 3
  option redispatch
frontend api
  bind 127.0.0.1:{self.port}
  default_backend servers
backend servers
  balance roundrobin
{backends}""")
        self.log = open(os.path.join(root, "haproxy.log"), "w")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     preexec_fn=die_with_parent)
        # The first server's kubeconfig, pointed at the load balancer.
        scheme, address = servers[0].url.split("://")
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.kubeconfig = os.path.join(root, "kubeconfig-lb")
        with open(servers[0].kubeconfig) as f:
            text = f.read().replace(f"{scheme}://{address}", self.url)
        with open(self.kubeconfig, "w") as f:
            f.write(text)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


def api_client(server):
    return k8s_config.new_client_from_config(config_file=server.kubeconfig)


def lease_holder(api, name):
    try:
        return k8s.CoordinationV1Api(api).read_namespaced_lease(name, "kube-system").spec.holder_identity
    except ApiException:
        return None


LEASES = ("orch-controller-manager", "orch-scheduler")


@pytest.fixture(scope="module")
def ha():
    root = tempfile.mkdtemp(prefix="orch-e2e-ha-")
    h = Ha()
    h.root, h.servers, h.agent, h.etcd, h.lb = root, [], None, None, None
    try:
        h.etcd = EtcdCluster(root)
        store = ["--store=etcd", "--etcd-endpoints", h.etcd.endpoints(), "--disable-agent"]
        a = OrchServer(os.path.join(root, "server-a"), store)
        a.home = os.path.join(root, "home")
        os.makedirs(a.home)
        h.servers.append(a)
        # A first takes both Leases, so the active server is known.
        api_a = api_client(a)
        for name in LEASES:
            wait(lambda: lease_holder(api_a, name), 30, what=f"lease {name} held")
        # B shares A's identity material: one certificate, one admin token, one node token.
        b_dir = os.path.join(root, "server-b")
        os.makedirs(b_dir)
        if os.path.isdir(os.path.join(a.data_dir, "tls")):
            shutil.copytree(os.path.join(a.data_dir, "tls"), os.path.join(b_dir, "tls"))
        if os.path.exists(os.path.join(a.data_dir, "node-token")):
            shutil.copy(os.path.join(a.data_dir, "node-token"), b_dir)
        b = OrchServer(b_dir, store)
        b.home = a.home
        h.servers.append(b)
        h.api = [api_a, api_client(b)]
        if os.access(HAPROXY, os.X_OK):
            h.lb = LoadBalancer(root, h.servers, a.home)
        token = os.path.join(a.data_dir, "node-token")
        agent_dir = os.path.join(root, "agent")
        os.makedirs(agent_dir)
        h.agent_dir = agent_dir
        h.agent_log = open(os.path.join(root, "agent.log"), "w")
        h.agent = subprocess.Popen(
            [os.environ["ORCH_AGENT"], "--server", f"{a.url},{b.url}", "--token-file", token,
             "--node-name", "ha-node", "--data-dir", agent_dir, "--kill-pods-on-exit",
             "--kuard-path", os.environ["ORCH_KUARD_PATH"]],
            stdout=h.agent_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait(lambda: "Ready" in kubectl(b, "get", "nodes", check=False).stdout, 60,
             what="node ha-node Ready")
        yield h
    finally:
        if h.agent is not None:
            h.agent.send_signal(signal.SIGTERM)
            try:
                h.agent.wait(30)
            except subprocess.TimeoutExpired:
                h.agent.kill()
                h.agent.wait()
            h.agent_log.close()
        if h.lb is not None:
            h.lb.stop()
        for s in h.servers:
            s.stop()
        if h.etcd is not None:
            h.etcd.stop()
        for pid in pod_processes(root):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(root, ignore_errors=True)


def configmap(name, data):
    return k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name), data=data)


def test_both_servers_serve_one_cluster(ha):
    a, b = ha.servers
    core_a, core_b = k8s.CoreV1Api(ha.api[0]), k8s.CoreV1Api(ha.api[1])
    core_a.create_namespaced_config_map("default", configmap("shared", {"from": "a"}))
    assert core_b.read_namespaced_config_map("shared", "default").data == {"from": "a"}
    # A watch served by B sees a write made through A.
    rv = core_b.list_namespaced_config_map("default").metadata.resource_version
    seen = []

    def watch_b():
        from kubernetes import watch
        for ev in watch.Watch().stream(core_b.list_namespaced_config_map, "default",
                                       resource_version=rv, timeout_seconds=20):
            seen.append((ev["type"], ev["object"].metadata.name))
            if ev["object"].metadata.name == "through-a":
                return
    t = threading.Thread(target=watch_b)
    t.start()
    time.sleep(0.3)
    core_a.create_namespaced_config_map("default", configmap("through-a", {}))
    t.join(30)
    assert ("ADDED", "through-a") in seen
    assert "ha-node" in kubectl(a, "get", "nodes").stdout
    if ha.lb is not None:  # one address in front of both, as kubectl users have it
        for _ in range(4):
            assert "through-a" in kubectl(ha.lb, "get", "configmaps").stdout


class Writer:
    """Creates ConfigMaps through both servers in turn until stopped; records which were
    acknowledged and which failed (their outcome is unknown)."""

    def __init__(self, ha, prefix):
        self.cores = [k8s.CoreV1Api(api) for api in ha.api]
        self.prefix, self.acked, self.failed = prefix, [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        i = 0
        while not self.stop.is_set():
            name = f"{self.prefix}-{i}"
            try:
                self.cores[i % 2].create_namespaced_config_map(
                    "default", configmap(name, {"i": str(i)}), _request_timeout=30)
                self.acked.append(name)
            except Exception as e:  # 503, timeout, connection error: outcome unknown
                self.failed.append((name, str(e)[:200]))
            i += 1
            time.sleep(0.02)

    def finish(self):
        self.stop.set()
        self.thread.join(60)
        stored = {c.metadata.name for c in
                  self.cores[0].list_namespaced_config_map("default").items
                  if c.metadata.name.startswith(self.prefix + "-")}
        return stored


def test_rollout_survives_the_etcd_leader_dying(ha):
    a, b = ha.servers
    kubectl(a, "create", "deployment", "web", "--image=kuard:blue", "--replicas=2", "--port=8080")
    kubectl(b, "rollout", "status", "deployment/web", "--timeout=90s", timeout=100)
    kubectl(b, "scale", "deployment", "web", "--replicas=4")
    kubectl(a, "rollout", "status", "deployment/web", "--timeout=90s", timeout=100)

    writer = Writer(ha, "during-rollout")
    kubectl(b, "set", "image", "deployment/web", "kuard=kuard:green")
    time.sleep(0.5)
    victim = ha.etcd.leader()
    ha.etcd.kill(victim)
    try:
        kubectl(a, "rollout", "status", "deployment/web", "--timeout=120s", timeout=130)
        time.sleep(1)
        stored = writer.finish()
    finally:
        ha.etcd.start(victim)
    assert len(writer.acked) > 10
    missing = set(writer.acked) - stored
    assert not missing, f"acknowledged but lost: {sorted(missing)}"
    dep = json.loads(kubectl(b, "get", "deployment", "web", "-o", "json").stdout)
    assert dep["status"].get("updatedReplicas") == 4
    assert dep["status"].get("availableReplicas") == 4
    pods = json.loads(kubectl(a, "get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    assert len(pods) == 4
    assert all(p["spec"]["containers"][0]["image"] == "kuard:green" for p in pods)
    ha.etcd.wait_ready()


def test_cas_increments_through_both_servers_count_exactly_once(ha):
    """Each increment is a read-modify-write with resourceVersion (409: read again). Every value
    carries the ids of the increments applied so far, so even an increment whose answer was lost
    is resolved exactly: it happened iff its id is in the final log."""
    cores = [k8s.CoreV1Api(api) for api in ha.api]
    names = ["counter-0", "counter-1"]
    for n in names:
        cores[0].create_namespaced_config_map("default", configmap(n, {"count": "0", "log": ""}))
    acked, unknown = [], []
    lock = threading.Lock()
    per_client, clients = 15, 4

    def client(c):
        core = cores[c % 2]
        for i in range(per_client):
            name = names[i % 2]
            rid = f"c{c}.{i}"
            while True:
                try:
                    cm = core.read_namespaced_config_map(name, "default", _request_timeout=30)
                except Exception:
                    time.sleep(0.1)
                    continue
                log = cm.data["log"].split()
                cm.data = {"count": str(int(cm.data["count"]) + 1), "log": " ".join(log + [rid])}
                try:
                    core.replace_namespaced_config_map(name, "default", cm, _request_timeout=30)
                    with lock:
                        acked.append((name, rid))
                    break
                except ApiException as e:
                    if e.status == 409:
                        continue
                    with lock:
                        unknown.append((name, rid))
                    break
                except Exception:
                    with lock:
                        unknown.append((name, rid))
                    break

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    victim = ha.etcd.leader()
    ha.etcd.kill(victim)
    time.sleep(2.0)
    ha.etcd.start(victim)
    for t in threads:
        t.join(120)
    ha.etcd.wait_ready()
    print(f"increments: {len(acked)} acknowledged, {len(unknown)} unknown")
    for n in names:
        cm = cores[1].read_namespaced_config_map(n, "default")
        log = cm.data["log"].split()
        assert len(log) == len(set(log)), f"{n}: an increment applied twice: {log}"
        assert int(cm.data["count"]) == len(log)
        mine = {rid for name, rid in acked if name == n}
        assert mine <= set(log), f"{n}: acknowledged increments lost: {mine - set(log)}"
        # Everything applied was acknowledged, or is an unknown one now resolved as applied.
        assert set(log) - mine <= {rid for name, rid in unknown if name == n}
    assert len(acked) + len(unknown) == clients * per_client


def lease(api, name):
    return k8s.CoordinationV1Api(api).read_namespaced_lease(name, "kube-system").spec


def test_the_standby_server_takes_over_when_the_active_one_dies(ha):
    a, b = ha.servers
    api_b = ha.api[1]
    before = {name: lease(api_b, name).holder_identity for name in LEASES}
    assert all(before.values())
    a.proc.kill()  # SIGKILL: no lease release; B must wait for the lease to expire
    a.proc.wait()
    killed_at = time.time()
    # Only a live holder renews: once both Leases were renewed well after A died, B holds them.
    for name in LEASES:
        wait(lambda: lease(api_b, name).renew_time.timestamp() > killed_at + 1, 60, 0.5,
             f"lease {name} renewed by server B")
    after = {name: lease(api_b, name).holder_identity for name in LEASES}
    print(f"lease holders before {before}, after {after}")
    # A held them from the start (B started after A had both), unless A lost them earlier.
    assert after != before or "lost the lease" in open(a.log_path).read()
    # Controllers and the scheduler now run in B; the agent moved to B too; a client of the load
    # balancer does not notice.
    front = ha.lb if ha.lb is not None else b
    kubectl(front, "create", "deployment", "after", "--image=kuard:blue", "--replicas=2")
    kubectl(front, "rollout", "status", "deployment/after", "--timeout=90s", timeout=100)
    kubectl(b, "scale", "deployment", "web", "--replicas=2")
    kubectl(b, "rollout", "status", "deployment/web", "--timeout=90s", timeout=100)


def test_without_quorum_writes_fail_with_503_and_nothing_is_lost(ha):
    b = ha.servers[1]
    core = k8s.CoreV1Api(ha.api[1])
    core.create_namespaced_config_map("default", configmap("before-outage", {"k": "v"}))
    leader = ha.etcd.leader()
    down = [i for i in range(3) if i != leader][:1] + [leader]
    for i in down:
        ha.etcd.kill(i)
    try:
        r = kubectl(b, "create", "configmap", "during-outage", "--from-literal=k=v",
                    check=False, timeout=60)
        assert r.returncode != 0
        assert "etcd" in r.stderr, r.stderr  # the server's Status message, as kubectl prints it
        with pytest.raises(ApiException) as err:
            core.create_namespaced_config_map("default", configmap("during-outage-2", {}),
                                              _request_timeout=60)
        assert err.value.status == 503
        status = json.loads(err.value.body)
        assert status["kind"] == "Status" and status["code"] == 503
        assert "committed" in status["message"] or "etcd" in status["message"]
    finally:
        for i in down:
            ha.etcd.start(i)
    ha.etcd.wait_ready()
    wait(lambda: kubectl(b, "get", "configmap", "before-outage", check=False).returncode == 0, 30,
         what="reads again")
    names = {c.metadata.name for c in core.list_namespaced_config_map("default").items}
    assert {"shared", "through-a", "before-outage", "counter-0", "counter-1"} <= names
    core.create_namespaced_config_map("default", configmap("after-outage", {}))
