"""The API's semantics over raw HTTP, where the clients hide them: bad input gets the right Status
and changes nothing; generation, status, preconditions, selectors, paging, graceful deletion,
finalizers, watch resumption and expiry."""
import json
import os
import signal
import socket
import time
import urllib.request

import pytest

from conftest import wait_until

PODS = "/api/v1/namespaces/default/pods"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def pod(name, labels=None, **spec):
    s = {"containers": [{"name": "c", "image": "kuard"}]}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {"app": "t"}}, "spec": s}


def deployment(name, replicas=1):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "kuard"}]}}}}


def current_rv(server):
    status, body, _ = server.request("GET", "/api/v1/namespaces")
    assert status == 200
    return int(body["metadata"]["resourceVersion"])


BAD_INPUTS = [
    ("malformed JSON", "POST", PODS, b'{"metadata": {', "application/json", 400, "BadRequest"),
    ("malformed YAML", "POST", PODS, b"metadata:\n  name: [x\n", "application/yaml", 400, "BadRequest"),
    ("wrong type", "POST", DEPLOYS,
     json.dumps({**deployment("d"), "spec": {**deployment("d")["spec"], "replicas": "five"}}).encode(),
     "application/json", 400, "BadRequest"),
    ("invalid name", "POST", PODS, json.dumps(pod("Bad_Name")).encode(), "application/json", 422,
     "Invalid"),
    ("namespace mismatch", "POST", PODS,
     json.dumps({**pod("p"), "metadata": {"name": "p", "namespace": "kube-system"}}).encode(),
     "application/json", 400, "BadRequest"),
    ("kind mismatch", "POST", PODS, json.dumps({**pod("p"), "kind": "Service"}).encode(),
     "application/json", 400, "BadRequest"),
    ("unknown resource", "GET", "/api/v1/namespaces/default/widgets", None, None, 404, "NotFound"),
    ("missing namespace", "POST", "/api/v1/namespaces/nope/pods", json.dumps(pod("p")).encode(),
     "application/json", 404, "NotFound"),
    ("oversize body", "POST", PODS, b'{"metadata":{"name":"big"},"x":"' + b"a" * (4 << 20) + b'"}',
     "application/json", 413, "RequestEntityTooLarge"),
    ("bad label selector", "GET", PODS + "?labelSelector=a%20in%20(", None, None, 400, "BadRequest"),
    ("unsupported field selector", "GET", PODS + "?fieldSelector=spec.bogus%3Dx", None, None, 400,
     "BadRequest"),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gets_a_status_and_changes_nothing(server, case):
    _, method, path, body, ctype, code, reason = case
    before = current_rv(server)
    status, answer, headers = server.request(method, path, body, content_type=ctype)
    assert status == code, answer
    assert headers.get("Content-Type", "").startswith("application/json")
    assert answer["kind"] == "Status" and answer["status"] == "Failure"
    assert answer["reason"] == reason and answer["code"] == code and answer["message"]
    assert current_rv(server) == before, "a rejected request must not write"


def test_invalid_lists_every_cause_with_its_field(server):
    bad = pod("ok", spec=None)
    bad["spec"] = {"containers": [{"name": "Bad_C"}, {"name": "Bad_C", "image": "x",
                                                      "ports": [{"containerPort": 70000}]}],
                   "restartPolicy": "Sometimes"}
    status, answer, _ = server.request("POST", PODS, bad)
    assert status == 422 and answer["reason"] == "Invalid"
    fields = {c["field"] for c in answer["details"]["causes"]}
    assert {"spec.containers[0].image", "spec.containers[1].name",
            "spec.containers[1].ports[0].containerPort", "spec.restartPolicy"} <= fields
    assert answer["message"].startswith('Pod "ok" is invalid: [')


def test_unknown_fields_warn_or_fail_when_strict(server):
    body = pod("w")
    body["spec"]["bogus"] = 1
    status, answer, headers = server.request("POST", PODS + "?fieldValidation=Strict", body)
    assert status == 400 and 'unknown field "spec.bogus"' in answer["message"]
    status, answer, headers = server.request("POST", PODS, body)
    assert status == 201
    assert 'unknown field \\"spec.bogus\\"' in headers.get("Warning", "")
    assert "bogus" not in answer["spec"]


def test_generation_moves_only_with_spec_and_status_is_its_own_subresource(server):
    status, d, _ = server.request("POST", DEPLOYS, deployment("g"))
    assert status == 201 and d["metadata"]["generation"] == 1
    # A main-resource write that carries status: spec changes, status is ignored.
    d["spec"]["replicas"] = 3
    d["status"] = {"replicas": 99}
    status, d2, _ = server.request("PUT", DEPLOYS + "/g", d)
    assert status == 200 and d2["metadata"]["generation"] == 2
    assert d2.get("status", {}).get("replicas") in (None, 0)
    # A metadata-only write does not move generation.
    d2["metadata"]["labels"] = {"x": "y"}
    status, d3, _ = server.request("PUT", DEPLOYS + "/g", d2)
    assert status == 200 and d3["metadata"]["generation"] == 2
    # Status writes go through /status and never touch spec or generation.
    d3["status"] = {"replicas": 3, "observedGeneration": 2}
    d3["spec"]["replicas"] = 7
    status, d4, _ = server.request("PUT", DEPLOYS + "/g/status", d3)
    assert status == 200
    assert d4["status"]["replicas"] == 3 and d4["spec"]["replicas"] == 3
    assert d4["metadata"]["generation"] == 2
    # A stale resourceVersion is a 409 Conflict.
    status, answer, _ = server.request("PUT", DEPLOYS + "/g", d)
    assert status == 409 and answer["reason"] == "Conflict"


def test_selectors_and_paging(server):
    for i in range(7):
        server.request("POST", PODS, pod(f"p{i}", {"app": "a" if i % 2 else "b", "i": str(i)}))
    status, lst, _ = server.request("GET", PODS + "?labelSelector=app%3Da")
    assert sorted(p["metadata"]["name"] for p in lst["items"]) == ["p1", "p3", "p5"]
    status, lst, _ = server.request("GET", PODS + "?labelSelector=i+in+(1,2),app!%3Da")
    assert [p["metadata"]["name"] for p in lst["items"]] == ["p2"]
    status, lst, _ = server.request("GET", PODS + "?fieldSelector=metadata.name%3Dp4")
    assert [p["metadata"]["name"] for p in lst["items"]] == ["p4"]
    status, lst, _ = server.request("GET", PODS + "?fieldSelector=spec.nodeName%3D")
    assert len(lst["items"]) == 7  # none is bound
    # Pages pinned to the first page's revision: a write between pages does not show.
    status, first, _ = server.request("GET", PODS + "?limit=3")
    assert len(first["items"]) == 3 and first["metadata"]["continue"]
    server.request("POST", PODS, pod("late"))
    names = [p["metadata"]["name"] for p in first["items"]]
    token = first["metadata"]["continue"]
    while token:
        status, page, _ = server.request("GET", PODS + "?limit=3&continue=" + token)
        assert status == 200
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        names += [p["metadata"]["name"] for p in page["items"]]
        token = page["metadata"].get("continue")
    assert names == [f"p{i}" for i in range(7)]
    status, answer, _ = server.request("GET", PODS + "?limit=3&continue=garbage")
    assert status == 400


def test_delete_collection_by_label(server):
    for i in range(4):
        server.request("POST", PODS, pod(f"dc{i}", {"group": "x" if i < 3 else "y"}))
    status, answer, _ = server.request("DELETE", PODS + "?labelSelector=group%3Dx")
    assert status == 200 and len(answer["items"]) == 3
    status, lst, _ = server.request("GET", PODS)
    assert [p["metadata"]["name"] for p in lst["items"]] == ["dc3"]


def test_binding_then_graceful_delete(server):
    server.request("POST", PODS, pod("gp"))
    status, answer, _ = server.request("POST", PODS + "/gp/binding",
                                       {"apiVersion": "v1", "kind": "Binding",
                                        "metadata": {"name": "gp"},
                                        "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}})
    assert status == 201
    status, p, _ = server.request("GET", PODS + "/gp")
    assert p["spec"]["nodeName"] == "n1"
    assert any(c["type"] == "PodScheduled" and c["status"] == "True" for c in p["status"]["conditions"])
    status, answer, _ = server.request("POST", PODS + "/gp/binding",
                                       {"target": {"kind": "Node", "name": "n2"}})
    assert status == 409
    # A bound pod is marked, not removed: its node stops it, then deletes with grace 0.
    status, p, _ = server.request("DELETE", PODS + "/gp", {"gracePeriodSeconds": 30})
    assert status == 200 and p["metadata"]["deletionTimestamp"]
    assert p["metadata"]["deletionGracePeriodSeconds"] == 30
    assert server.request("GET", PODS + "/gp")[0] == 200
    status, p, _ = server.request("DELETE", PODS + "/gp?gracePeriodSeconds=0")
    assert status == 200
    assert server.request("GET", PODS + "/gp")[0] == 404


def test_finalizers_hold_deletion_until_removed(server):
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "f", "finalizers": ["example.com/hold"]}, "data": {"a": "b"}}
    server.request("POST", "/api/v1/namespaces/default/configmaps", cm)
    status, obj, _ = server.request("DELETE", "/api/v1/namespaces/default/configmaps/f")
    assert status == 200 and obj["metadata"]["deletionTimestamp"]
    assert server.request("GET", "/api/v1/namespaces/default/configmaps/f")[0] == 200
    # No new finalizer while deleting.
    obj["metadata"]["finalizers"].append("example.com/other")
    status, answer, _ = server.request("PUT", "/api/v1/namespaces/default/configmaps/f", obj)
    assert status == 422
    status, _, _ = server.request("PATCH", "/api/v1/namespaces/default/configmaps/f",
                                  {"metadata": {"finalizers": None}},
                                  content_type="application/merge-patch+json")
    assert status == 200
    assert server.request("GET", "/api/v1/namespaces/default/configmaps/f")[0] == 404


def read_watch(server, path, until, timeout=10):
    """Reads newline-delimited watch events until `until(events)` holds."""
    req = urllib.request.Request(server.url + path)
    events = []
    with urllib.request.urlopen(req, timeout=timeout) as r:
        assert r.headers["Content-Type"].startswith("application/json")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until(events):
            line = r.readline()
            if not line:
                break
            events.append(json.loads(line))
    return events


def test_watch_resumes_from_a_resource_version_without_gaps(server):
    _, first, _ = server.request("POST", PODS, pod("r1"))
    rv = first["metadata"]["resourceVersion"]
    server.request("POST", PODS, pod("r2"))
    server.request("PATCH", PODS + "/r1", {"metadata": {"labels": {"x": "1"}}},
                   content_type="application/merge-patch+json")
    server.request("DELETE", PODS + "/r2")
    events = read_watch(server, PODS + f"?watch=true&resourceVersion={rv}",
                        lambda ev: len(ev) >= 3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "r2"), ("MODIFIED", "r1"), ("DELETED", "r2")]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)


def test_watch_without_resource_version_starts_with_the_current_state(server):
    server.request("POST", PODS, pod("s1"))
    events = read_watch(server, PODS + "?watch=1&timeoutSeconds=2", lambda ev: False, timeout=10)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "s1")]


def test_watch_from_a_compacted_revision_is_410_expired(server):
    _, first, _ = server.request("POST", PODS, pod("c1"))
    old = int(first["metadata"]["resourceVersion"])
    for i in range(3):
        server.request("POST", PODS, pod(f"c{i + 2}"))
    server.proc.send_signal(signal.SIGUSR1)  # the test server compacts to its current revision
    def expired():
        ev = read_watch(server, PODS + f"?watch=true&resourceVersion={old}", lambda e: len(e) >= 1)
        return ev and ev[0]["type"] == "ERROR" and ev
    events = wait_until(expired, timeout=10, what="compaction")
    status = events[0]["object"]
    assert status["code"] == 410 and status["reason"] == "Expired"
    assert status["message"].startswith(f"too old resource version: {old}")


def test_discovery_and_openapi(server):
    status, api, _ = server.request("GET", "/api")
    assert status == 200 and api["versions"] == ["v1"]
    status, groups, _ = server.request("GET", "/apis")
    names = {g["name"] for g in groups["groups"]}
    assert {"apps", "coordination.k8s.io", "storage.k8s.io", "discovery.k8s.io"} <= names
    status, core, _ = server.request("GET", "/api/v1")
    by_name = {r["name"]: r for r in core["resources"]}
    assert by_name["pods"]["namespaced"] and "po" in by_name["pods"]["shortNames"]
    assert not by_name["nodes"]["namespaced"]
    assert "pods/status" in by_name and "pods/binding" in by_name
    status, apps, _ = server.request("GET", "/apis/apps/v1")
    scale = {r["name"]: r for r in apps["resources"]}["deployments/scale"]
    assert scale["group"] == "autoscaling" and scale["kind"] == "Scale"
    req = urllib.request.Request(server.url + "/openapi/v2")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "application/octet-stream"
    assert server.request("GET", "/healthz")[0] == 200


def test_client_disconnect_frees_the_watch_and_shutdown_is_clean(server):
    host, port = server.url.split("//")[1].split(":")
    socks = []
    for _ in range(20):
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(f"GET {PODS}?watch=true HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        socks.append(s)
    for s in socks:
        assert b"200 OK" in s.recv(4096)
        s.close()
    # The server still answers, and stops promptly on SIGTERM with watches open.
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(f"GET {PODS}?watch=true HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert server.request("GET", PODS)[0] == 200
    t0 = time.monotonic()
    server.proc.terminate()
    server.proc.wait(timeout=10)
    assert server.proc.returncode == 0
    assert time.monotonic() - t0 < 8
    s.close()


def test_dry_run_all_validates_and_defaults_but_stores_nothing(server):
    before = current_rv(server)
    status, d, _ = server.request("POST", DEPLOYS + "?dryRun=All", deployment("dry"))
    assert status == 201 and d["spec"]["revisionHistoryLimit"] == 10
    status, answer, _ = server.request("POST", DEPLOYS + "?dryRun=All", pod("Bad_Name"))
    assert status == 400  # a Pod sent to deployments: kind mismatch
    assert server.request("GET", DEPLOYS + "/dry")[0] == 404
    assert current_rv(server) == before
