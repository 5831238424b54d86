"""The `orch` Python package (bindings/python) against in-process clusters.

Run by meson (suite `python`) with PYTHONPATH=<build>/bindings/python, -p orch.pytest_plugin and
ORCH_KUARD_PATH set; by hand:
    PYTHONPATH=build/bindings/python ORCH_KUARD_PATH=build/apps/kuard/kuard \
        python3 -m pytest -p orch.pytest_plugin tests/python
Every wait is on a condition with a deadline; every cluster is stopped and its processes checked
gone.
"""

import http.client
import os
import threading
import time

import pytest

import orch

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kuard
spec:
  replicas: 3
  selector:
    matchLabels: {app: kuard}
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: kuard}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: kuard
        image: kuard:blue
        ports:
        - {name: http, containerPort: 8080}
        readinessProbe:
          httpGet: {path: /ready, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: kuard
spec:
  selector: {app: kuard}
  ports:
  - {port: 80, targetPort: 8080}
"""


def processes_under(path):
    """PIDs whose working directory is inside `path`."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % pid)
        except OSError:
            continue
        if cwd.startswith(path):
            pids.append(int(pid))
    return pids


def wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail("timed out after %gs waiting for %s" % (timeout, what))
        time.sleep(0.1)


def version_at(ip, port=80):
    """kuard's /version body at ip:port, or None."""
    try:
        conn = http.client.HTTPConnection(ip, port, timeout=3)
        conn.request("GET", "/version")
        r = conn.getresponse()
        body = r.read().decode().strip()
        conn.close()
        return body if r.status == 200 else None
    except OSError:
        return None


def rolled_out(replicas):
    def pred(d):
        s = d.get("status", {})
        return (d["metadata"].get("generation") == s.get("observedGeneration")
                and s.get("updatedReplicas") == replicas
                and s.get("availableReplicas") == replicas
                and s.get("replicas") == replicas)
    return pred


@pytest.mark.orch_cluster(nodes=2)
def test_tour_deploy_expose_scale_set_image(cluster):
    data_dir = cluster.data_dir
    applied = cluster.apply(DEPLOYMENT)
    assert [o["kind"] for o in applied] == ["Deployment", "Service"]
    cluster.wait_for("Deployment", "kuard", rolled_out(3), timeout=120)
    pods = cluster.client.list("pods", "default", label_selector="app=kuard")["items"]
    assert len(pods) == 3
    assert all(p["status"]["phase"] == "Running" for p in pods)

    ip = cluster.client.get("services", "kuard")["spec"]["clusterIP"]
    assert wait_until(lambda: version_at(ip) == "blue", 60, "blue behind the ClusterIP")

    # apply again: an update, not an error.
    again = cluster.apply(DEPLOYMENT)
    assert again[0]["metadata"]["uid"] == applied[0]["metadata"]["uid"]

    # Scale through the scale subresource.
    scale = cluster.client.get("deployments", "kuard", subresource="scale")
    assert scale["spec"]["replicas"] == 3
    cluster.client.patch("deployments", "kuard", {"spec": {"replicas": 5}}, type="merge",
                         subresource="scale")
    cluster.wait_for("deployments", "kuard", rolled_out(5), timeout=120)
    assert len(cluster.client.list("pods", label_selector="app=kuard")["items"]) >= 5

    # Set the image (kubectl set image: a strategic merge patch of the container).
    cluster.client.patch("deployments.apps", "kuard", {"spec": {"template": {"spec": {
        "containers": [{"name": "kuard", "image": "kuard:green"}]}}}})
    d = cluster.wait_for("Deployment", "kuard", rolled_out(5), timeout=180)
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "kuard:green"
    assert wait_until(lambda: version_at(ip) == "green", 60, "green behind the ClusterIP")

    # The scheduler and the agents record Events (asynchronously).
    pod = pods[0]["metadata"]["name"]
    reasons = wait_until(lambda: {e["reason"] for e in cluster.events("default", pod)} >=
                         {"Scheduled", "Started"} and
                         {e["reason"] for e in cluster.events("default", pod)},
                         30, "Scheduled and Started events of " + pod)
    assert "Scheduled" in reasons
    cluster.stop()
    assert not cluster.running
    assert processes_under(data_dir) == []
    with pytest.raises(orch.ServiceUnavailable):
        cluster.client.get("pods", "x")


@pytest.mark.orch_cluster(nodes=0, runtime="simulated")
def test_errors_are_exceptions_with_the_kubernetes_reason(cluster):
    c = cluster.client
    with pytest.raises(orch.NotFound) as e:
        c.get("Pod", "nope")
    assert (e.value.code, e.value.reason) == (404, "NotFound")
    assert 'pods "nope" not found' in e.value.message
    assert isinstance(e.value, orch.ApiError)
    assert e.value.status["reason"] == "NotFound" and e.value.status["code"] == 404

    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
          "data": {"a": "1"}}
    created = c.create("configmaps", cm)
    assert created["metadata"]["namespace"] == "default"
    with pytest.raises(orch.AlreadyExists) as e:
        c.create("ConfigMap", cm)
    assert (e.value.code, e.value.reason) == (409, "AlreadyExists")

    stale = dict(created)
    fresh = c.update("configmaps", dict(created, data={"a": "2"}))
    assert fresh["data"] == {"a": "2"}
    with pytest.raises(orch.Conflict) as e:
        c.update("configmaps", dict(stale, data={"a": "3"}))
    assert (e.value.code, e.value.reason) == (409, "Conflict")

    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad"},
           "spec": {"template": {"metadata": {"labels": {"app": "x"}},
                                 "spec": {"containers": [{"name": "c", "image": "kuard"}]}}}}
    with pytest.raises(orch.Invalid) as e:
        c.create("deployments", bad)
    assert (e.value.code, e.value.reason) == (422, "Invalid")
    assert 'Deployment.apps "bad" is invalid' in e.value.message
    assert "spec.selector" in e.value.message
    assert any(cause["field"] == "spec.selector" for cause in e.value.causes)

    with pytest.raises(orch.BadRequest):
        c.create("configmaps", '{"not json')
    with pytest.raises(orch.BadRequest):
        cluster.apply("a: b: c:\n  - ]")
    with pytest.raises(orch.NotFound) as e:
        c.list("flurbs")
    assert "flurbs" in e.value.message

    c.delete("configmaps", "cm")
    with pytest.raises(orch.NotFound):
        c.delete("configmaps", "cm")


@pytest.mark.orch_cluster(nodes=1, runtime="simulated")
def test_watch_and_wait_for(cluster):
    c = cluster.client
    initial = c.list("configmaps", "default")
    rv = initial["metadata"]["resourceVersion"]
    with c.watch("configmaps", "default", resource_version=rv, timeout=30) as w:
        c.create("configmaps", {"metadata": {"name": "w"}, "data": {"k": "v"}})
        c.patch("configmaps", "w", {"data": {"k": "v2"}}, type="merge")
        c.delete("configmaps", "w")
        seen = []
        for e in w:
            seen.append((e["type"], e["object"]["metadata"]["name"]))
            if e["type"] == "DELETED":
                break
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]

    # wait_for sees a change made later from another thread.
    c.create("configmaps", {"metadata": {"name": "later"}, "data": {"ready": "no"}})
    t = threading.Timer(0.5, lambda: c.patch("configmaps", "later", {"data": {"ready": "yes"}},
                                             type="merge"))
    t.start()
    try:
        obj = cluster.wait_for("configmaps", "later", lambda o: o["data"]["ready"] == "yes",
                               timeout=30)
    finally:
        t.join()
    assert obj["data"]["ready"] == "yes"
    with pytest.raises(orch.Timeout):
        cluster.wait_for("configmaps", "never", timeout=1)

    # Nodes are cluster-scoped: the namespace argument is ignored.
    assert [n["metadata"]["name"] for n in c.list("nodes")["items"]] == cluster.node_names
    assert orch.parse_yaml("a: 1\n---\nb: [x]\n") == [{"a": 1}, {"b": ["x"]}]


@pytest.mark.orch_cluster(nodes=2)
def test_stop_node_and_start_node(cluster):
    node = cluster.node_names[0]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pinned"},
           "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "kuard", "image": "kuard"}]}}
    cluster.client.create("pods", pod)
    running = cluster.wait_for("Pod", "pinned", lambda p: p.get("status", {}).get("phase") ==
                               "Running", timeout=60)

    with pytest.raises(orch.NotFound):
        cluster.stop_node("no-such-node")
    cluster.stop_node(node)
    # With its agent stopped, nothing finishes the pod's graceful deletion.
    cluster.client.delete("pods", "pinned")
    p = cluster.client.get("pods", "pinned")
    assert p["metadata"].get("deletionTimestamp")
    assert p["metadata"]["uid"] == running["metadata"]["uid"]

    cluster.start_node(node)
    cluster.wait_ready(60)
    # The restarted agent adopts the pod and completes its deletion.
    deadline = time.monotonic() + 60
    while True:
        try:
            cluster.client.get("pods", "pinned")
        except orch.NotFound:
            break
        assert time.monotonic() < deadline, "the restarted node never deleted its pod"
        time.sleep(0.2)


def test_several_clusters_in_parallel_threads():
    results, errors, dirs = {}, [], []
    lock = threading.Lock()

    def run(i):
        try:
            with orch.Cluster(nodes=2, runtime="simulated") as c:
                with lock:
                    dirs.append(c.data_dir)
                c.client.create("deployments", {
                    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                    "spec": {"replicas": 2 + i, "selector": {"matchLabels": {"app": "web"}},
                             "template": {"metadata": {"labels": {"app": "web"}},
                                          "spec": {"containers": [{"name": "c",
                                                                   "image": "kuard"}]}}}})
                d = c.wait_for("deployments", "web",
                               lambda d: d.get("status", {}).get("readyReplicas") == 2 + i,
                               timeout=120)
                names = sorted(n["metadata"]["name"] for n in c.client.list("nodes")["items"])
                with lock:
                    results[i] = (d["status"]["readyReplicas"], names)
        except Exception as e:  # reported below
            with lock:
                errors.append(repr(e))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
        assert not t.is_alive()
    assert errors == []
    assert sorted(results) == [0, 1, 2]
    for i, (ready, names) in results.items():
        assert ready == 2 + i
        assert len(names) == 2
    assert len(set(dirs)) == 3
    for d in dirs:
        assert processes_under(d) == []


def test_official_kubernetes_client_reads_the_kubeconfig():
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes import client as k8s_client, config as k8s_config

    with orch.Cluster(nodes=2, runtime="simulated", serve_http=True) as c:
        assert c.url.startswith("https://127.")  # secure by default: CA + token in the kubeconfig
        assert os.path.exists(c.kubeconfig)
        api_client = k8s_config.new_client_from_config(config_file=c.kubeconfig)
        try:
            core = k8s_client.CoreV1Api(api_client)
            nodes = sorted(n.metadata.name for n in core.list_node().items)
            assert nodes == sorted(c.node_names)

            c.client.create("pods", {"metadata": {"name": "p1", "labels": {"app": "x"}},
                                     "spec": {"containers": [{"name": "c", "image": "kuard"}]}})
            c.wait_for("pods", "p1", lambda p: p.get("status", {}).get("phase") == "Running",
                       timeout=60)
            pods = core.list_namespaced_pod("default", label_selector="app=x").items
            assert [p.metadata.name for p in pods] == ["p1"]
            assert pods[0].spec.node_name in c.node_names

            # And the other way round: what the official client creates, orch reads.
            core.create_namespaced_config_map("default", k8s_client.V1ConfigMap(
                metadata=k8s_client.V1ObjectMeta(name="from-k8s"), data={"x": "y"}))
            assert c.client.get("configmaps", "from-k8s")["data"] == {"x": "y"}
            with pytest.raises(kubernetes.client.exceptions.ApiException) as e:
                core.read_namespaced_pod("missing", "default")
            assert e.value.status == 404
        finally:
            api_client.close()
    assert not c.running


def test_module_cluster_fixture_is_shared(module_cluster):
    module_cluster.client.create("configmaps", {"metadata": {"name": "shared"}})


def test_module_cluster_fixture_is_shared_2(module_cluster):
    assert module_cluster.client.get("configmaps", "shared")["metadata"]["name"] == "shared"


def test_stop_ends_watches_and_calls_in_other_threads():
    c = orch.Cluster(nodes=1, runtime="simulated")
    node = c.node_names[0]
    w = c.client.watch("pods", "default")
    outcome = []

    def reader():
        try:
            for _ in w:
                pass
            outcome.append("ended")
        except orch.ServiceUnavailable:
            outcome.append("unavailable")

    t = threading.Thread(target=reader)
    t.start()
    c.stop()
    t.join(60)
    assert not t.is_alive()
    assert outcome in (["ended"], ["unavailable"])
    c.stop()  # idempotent
    with pytest.raises(orch.ServiceUnavailable):
        c.client.list("pods")
    with pytest.raises(orch.ServiceUnavailable):
        c.stop_node(node)
