"""`kubectl drain` / `kubectl uncordon` (kubectl 1.32) against orch-server with real kuard pods.

kubectl drain finds pods/eviction in discovery (policy/v1), cordons the node, then POSTs a
policy/v1 Eviction for every pod it may remove and waits for each to be gone; with
--disable-eviction it DELETEs them instead, with a protobuf DeleteOptions body. liborch has
no PodDisruptionBudgets, so every eviction is allowed. The single node stays cordoned, so the
Deployment's replacement pods wait Pending until `kubectl uncordon`.

Environment (set by meson): ORCH_SERVER (the orch-server binary), ORCH_KUARD_PATH (kuard).
"""
import json
import os

import pytest

from test_orch_server import get_json, kubectl, run_server, wait

NODE = "e2e-node"  # the node name test_orch_server's OrchServer gives orch-server

pytestmark = pytest.mark.skipif(not os.environ.get("ORCH_SERVER"), reason="ORCH_SERVER must be set")

DAEMONSET = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "agent"},
    "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {
            "metadata": {"labels": {"app": "agent"}},
            "spec": {"containers": [{"name": "kuard", "image": "kuard"}]},
        },
    },
}


@pytest.fixture
def server():
    yield from run_server(["--kill-pods-on-exit"])


def pods(server, selector):
    return get_json(server, "pods", "-l", selector)["items"]


def running(server, selector, count):
    items = pods(server, selector)
    ok = len(items) == count and all(p["status"].get("phase") == "Running" for p in items)
    return items if ok else None


def test_drain_evicts_and_uncordon_restores(server):
    kubectl(server, "create", "deployment", "web", "--image=kuard", "--replicas=2")
    manifest = os.path.join(server.home, "ds.json")
    with open(manifest, "w") as f:
        json.dump(DAEMONSET, f)
    kubectl(server, "apply", "-f", manifest)
    kubectl(server, "run", "loner", "--image=kuard")
    web = wait(lambda: running(server, "app=web", 2), 120, what="web pods Running")
    agent = wait(lambda: running(server, "app=agent", 1), 120, what="daemon pod Running")[0]
    wait(lambda: get_json(server, "pod", "loner")["status"].get("phase") == "Running", 120,
         what="loner Running")

    r = kubectl(server, "drain", NODE, "--ignore-daemonsets", "--force", "--timeout=120s",
                check=False, timeout=150)
    assert r.returncode == 0, f"drain failed:\n{r.stdout}\n{r.stderr}"
    assert f"node/{NODE} drained" in r.stdout
    assert "evicting pod default/loner" in r.stderr + r.stdout

    assert get_json(server, "node", NODE)["spec"].get("unschedulable") is True
    assert "SchedulingDisabled" in kubectl(server, "get", "node", NODE).stdout
    # The unmanaged pod is gone for good.
    assert "NotFound" in kubectl(server, "get", "pod", "loner", check=False).stderr
    # The Deployment's pods were evicted; their replacements cannot land on the cordoned node.
    old = {p["metadata"]["uid"] for p in web}
    replaced = wait(lambda: (lambda items: items if len(items) == 2 and
                             not old & {p["metadata"]["uid"] for p in items} else None)(
        pods(server, "app=web")), 60, what="2 replacement web pods")
    for p in replaced:
        assert p["status"].get("phase") == "Pending"
        assert not p["spec"].get("nodeName")
    # The DaemonSet pod stays where it was.
    kept = pods(server, "app=agent")
    assert [p["metadata"]["uid"] for p in kept] == [agent["metadata"]["uid"]]
    assert kept[0]["status"].get("phase") == "Running"

    r = kubectl(server, "uncordon", NODE)
    assert f"node/{NODE} uncordoned" in r.stdout
    assert not get_json(server, "node", NODE)["spec"].get("unschedulable")
    wait(lambda: running(server, "app=web", 2), 120, what="web pods Running after uncordon")


def test_eviction_api(server):
    """The subresource itself: discovery, the 201 Success answer, dry run, preconditions, 404."""
    resources = json.loads(kubectl(server, "get", "--raw", "/api/v1").stdout)["resources"]
    eviction = next(r for r in resources if r["name"] == "pods/eviction")
    assert (eviction["kind"], eviction["group"], eviction["version"], eviction["verbs"]) == (
        "Eviction", "policy", "v1", ["create"])

    kubectl(server, "run", "victim", "--image=kuard")
    uid = get_json(server, "pod", "victim")["metadata"]["uid"]
    path = os.path.join(server.home, "eviction.json")

    def evict(name, delete_options=None, query=""):
        body = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": name, "namespace": "default"}}
        if delete_options is not None:
            body["deleteOptions"] = delete_options
        with open(path, "w") as f:
            json.dump(body, f)
        return kubectl(server, "create", "--raw",
                       f"/api/v1/namespaces/default/pods/{name}/eviction{query}", "-f", path,
                       check=False)

    r = evict("victim", {"dryRun": ["All"]})
    assert r.returncode == 0, r.stderr
    assert get_json(server, "pod", "victim")["metadata"]["uid"] == uid
    r = evict("victim", {"preconditions": {"uid": "not-the-uid"}})
    assert r.returncode != 0 and ("(Conflict): Operation cannot be fulfilled on pods \"victim\": "
                                  "Precondition failed: UID in precondition: not-the-uid") in r.stderr
    r = evict("missing")
    assert r.returncode != 0 and 'pods "missing" not found' in r.stderr

    r = evict("victim", {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                    "status": "Success", "code": 201}
    wait(lambda: "NotFound" in kubectl(server, "get", "pod", "victim", check=False).stderr, 60,
         what="victim deleted")


def test_drain_without_eviction_deletes_with_protobuf_options(server):
    kubectl(server, "run", "plain", "--image=kuard")
    wait(lambda: get_json(server, "pod", "plain")["status"].get("phase") == "Running", 120,
         what="plain Running")
    r = kubectl(server, "drain", NODE, "--force", "--disable-eviction", "--grace-period=1",
                "--timeout=60s", check=False, timeout=90)
    assert r.returncode == 0, f"drain failed:\n{r.stdout}\n{r.stderr}"
    assert "pod/plain deleted" in r.stdout and f"node/{NODE} drained" in r.stdout
    assert "NotFound" in kubectl(server, "get", "pod", "plain", check=False).stderr
    kubectl(server, "uncordon", NODE)
