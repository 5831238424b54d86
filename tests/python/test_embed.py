"""Embedding features from Python: a manual clock, snapshot and restore, the GIL released while
waiting, and fault injection on simulated nodes. Run as tests/python/test_orch_bindings.py is (see
its docstring). Every wait has a deadline; every cluster is stopped.
"""

import datetime
import os
import threading
import time

import pytest

import orch


def deployment(name, replicas, annotations=None):
    tmeta = {"labels": {"app": name}}
    if annotations:
        tmeta["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "progressDeadlineSeconds": 300,
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": tmeta,
                                  "spec": {"containers": [{"name": "c", "image": "kuard"}]}}}}


def available(n):
    return lambda d: d.get("status", {}).get("availableReplicas") == n


def test_fake_clock_drives_leases():
    # (The progress deadline on a manual clock is covered in C++, tests/integration/cluster/
    # clock_test.cpp.)
    clock = orch.FakeClock()
    t0 = clock.time()
    with orch.Cluster(nodes=3, runtime="simulated", clock=clock) as c:
        victim = c.node_names[0]
        c.stop_node(victim)
        clock.advance(41)
        live = c.node_names[1]
        c.wait_for("leases", live, lambda l: l["spec"]["renewTime"] >= iso(t0 + 41),
                   namespace="kube-node-lease", timeout=10)
        assert c.client.get("leases", victim, namespace="kube-node-lease")["spec"]["renewTime"] \
            < iso(t0 + 1)
        c.start_node(victim)
        clock.advance(301)
        c.wait_for("leases", victim, lambda l: l["spec"]["renewTime"] >= iso(t0 + 342),
                   namespace="kube-node-lease", timeout=10)


def iso(seconds):
    """RFC 3339 with microseconds, as a Lease's renewTime is written (sortable as text)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(seconds))) + \
        ".%06dZ" % int(round((seconds % 1) * 1e6))


def test_snapshot_and_restore(tmp_path):
    with orch.Cluster(nodes=2, runtime="simulated") as c:
        c.client.create("deployments", deployment("web", 3))
        c.client.create("configmaps", {"metadata": {"name": "settings"}, "data": {"k": "v"}})
        c.wait_for("deployments", "web", available(3), timeout=30)
        snap = c.snapshot()
        uid = c.client.get("configmaps", "settings")["metadata"]["uid"]
    assert snap.nodes == 2 and snap.runtime == "simulated" and snap.size > 0
    path = str(tmp_path / "cluster.snapshot")
    snap.save(path)
    loaded = orch.Snapshot.load(path)
    assert loaded.node_names == snap.node_names

    # Two clusters from the same image at once, each going its own way.
    with orch.Cluster(restore_from=snap) as a, orch.Cluster(restore_from=loaded) as b:
        for x in (a, b):
            assert x.node_names == snap.node_names
            assert x.client.get("configmaps", "settings")["metadata"]["uid"] == uid
            x.wait_for("deployments", "web", available(3), timeout=30)
        a.client.patch("deployments", "web", {"spec": {"replicas": 5}}, type="merge")
        b.client.delete("configmaps", "settings")
        a.wait_for("deployments", "web", available(5), timeout=30)
        assert a.client.get("configmaps", "settings")
        assert b.client.get("deployments", "web")["spec"]["replicas"] == 3

    with pytest.raises(orch.NotFound):
        orch.Snapshot.load(str(tmp_path / "missing"))


def test_gil_is_released_while_waiting():
    with orch.Cluster(nodes=1, runtime="simulated") as c:
        waiter_done = threading.Event()

        def waiter():
            with pytest.raises(orch.Timeout):
                c.wait_for("configmaps", "never", timeout=3)
            waiter_done.set()

        t = threading.Thread(target=waiter)
        t.start()
        # While the other thread blocks in C++, this one runs Python and liborch calls.
        for i in range(20):
            c.client.create("configmaps", {"metadata": {"name": "cm-%d" % i}})
        assert not waiter_done.is_set()
        t.join(30)
        assert waiter_done.is_set()
        assert len(c.client.list("configmaps", "default")["items"]) >= 20


@pytest.mark.orch_cluster(nodes=2, runtime="simulated")
def test_stop_node_on_simulated_nodes_stops_its_pods_handling(cluster):
    node = cluster.node_names[0]
    cluster.stop_node(node)
    cluster.client.create("pods", {"metadata": {"name": "pinned"},
                                   "spec": {"nodeName": node,
                                            "containers": [{"name": "c", "image": "kuard"}]}})
    cluster.start_node(node)
    cluster.wait_for("pods", "pinned", lambda p: p.get("status", {}).get("phase") == "Running",
                     timeout=30)


def test_cluster_fixture_is_per_test(cluster):
    # A fresh cluster: nothing from the other tests.
    names = [c["metadata"]["name"] for c in cluster.client.list("configmaps", "default")["items"]]
    assert "shared" not in names and not [n for n in names if n.startswith("cm-")]
    assert os.path.isdir(cluster.data_dir)


def renew_time(cluster, node):
    t = cluster.client.get("leases", node, namespace="kube-node-lease")["spec"]["renewTime"]
    return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.orch_cluster(nodes=2, lease_renew_interval=0.2)
def test_partition_node_and_heal_node(cluster):
    victim, other = cluster.node_names
    cluster.client.create("pods", {"metadata": {"name": "pinned"},
                                   "spec": {"nodeName": victim, "terminationGracePeriodSeconds": 1,
                                            "containers": [{"name": "kuard", "image": "kuard"}]}})
    pod = cluster.wait_for("pods", "pinned",
                           lambda p: p.get("status", {}).get("phase") == "Running", timeout=60)
    with pytest.raises(orch.NotFound):
        cluster.partition_node("no-such-node")

    cluster.partition_node(victim)
    cut = renew_time(cluster, victim)
    # The other node renews on and on; the partitioned one no more.
    deadline = time.monotonic() + 30
    while renew_time(cluster, other) < cut + datetime.timedelta(seconds=2):
        assert time.monotonic() < deadline, "the healthy node stopped renewing its lease"
        time.sleep(0.1)
    assert renew_time(cluster, victim) <= cut + datetime.timedelta(seconds=0.5)
    # Its pod's process still runs (only its link to the API server is cut).
    assert cluster.client.get("pods", "pinned")["metadata"]["uid"] == pod["metadata"]["uid"]

    cluster.heal_node(victim)
    deadline = time.monotonic() + 30
    while renew_time(cluster, victim) < renew_time(cluster, other) - datetime.timedelta(seconds=1):
        assert time.monotonic() < deadline, "the healed node never renewed its lease"
        time.sleep(0.1)
    cluster.wait_ready(30)


def test_partition_needs_process_nodes():
    with orch.Cluster(nodes=1, runtime="simulated") as c:
        with pytest.raises(orch.Invalid):
            c.partition_node(c.node_names[0])
