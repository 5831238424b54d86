"""The real kubectl (1.32 and 1.20) against the API server: the verbs of the user journey, their
output and their error messages. Each test runs once per kubectl version with its own server."""
import json
import os
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import wait_until

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: kuard:blue
        env:
        - {name: A, value: "1"}
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
"""


def test_run_then_get_in_every_output_format(kubectl):
    out = kubectl.run("run", "kuard", "--image=kuard").stdout
    assert "pod/kuard created" in out

    table = kubectl.run("get", "pods").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    row = table[1].split()
    assert row[:4] == ["kuard", "0/1", "Pending", "0"]

    wide = kubectl.run("get", "pods", "-o", "wide").stdout.splitlines()[0].split()
    assert wide[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]

    pod = json.loads(kubectl.run("get", "pod", "kuard", "-o", "json").stdout)
    assert pod["kind"] == "Pod" and pod["apiVersion"] == "v1"
    meta = pod["metadata"]
    assert meta["namespace"] == "default" and meta["labels"] == {"run": "kuard"}
    assert len(meta["uid"]) == 36 and int(meta["resourceVersion"]) > 0
    assert meta["creationTimestamp"].endswith("Z")
    # Server-side defaults, as Kubernetes applies them.
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 30
    assert pod["spec"]["schedulerName"] == "default-scheduler"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    assert pod["status"]["phase"] == "Pending"

    yaml_out = kubectl.run("get", "pod", "kuard", "-o", "yaml").stdout
    assert "kind: Pod" in yaml_out and "name: kuard" in yaml_out

    assert "kuard" in kubectl.run("get", "pods", "-l", "run=kuard").stdout
    none = kubectl.run("get", "pods", "-l", "run=other")
    assert "kuard" not in none.stdout
    assert "No resources found" in none.stdout + none.stderr

    everywhere = kubectl.run("get", "pods", "-A").stdout.splitlines()
    assert everywhere[0].split()[0] == "NAMESPACE"
    assert everywhere[1].split()[:2] == ["default", "kuard"]

    names = kubectl.run("get", "pods", "-o", "name").stdout.split()
    assert names == ["pod/kuard"]


def test_dry_run_client_prints_the_document_without_creating(kubectl):
    out = kubectl.run("run", "kuard", "--image=kuard", "--dry-run=client", "-o", "yaml").stdout
    assert "kind: Pod" in out and "image: kuard" in out
    missing = kubectl.run("get", "pod", "kuard", check=False)
    assert missing.returncode == 1


def test_error_messages_match_kubernetes(kubectl):
    kubectl.run("run", "kuard", "--image=kuard")
    dup = kubectl.run("run", "kuard", "--image=kuard", check=False)
    assert dup.returncode == 1
    assert 'Error from server (AlreadyExists): pods "kuard" already exists' in dup.stderr

    missing = kubectl.run("get", "pod", "nope", check=False)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): pods "nope" not found' in missing.stderr

    bad = kubectl.run("apply", "-f", "-", check=False, stdin="""apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  containers:
  - name: c
""")
    assert bad.returncode == 1
    assert 'The Pod "noimage" is invalid: spec.containers[0].image: Required value' in bad.stderr


def test_conflict_on_a_stale_resource_version(kubectl, server):
    kubectl.run("create", "configmap", "c", "--from-literal=k=v1")
    stale = json.loads(kubectl.run("get", "configmap", "c", "-o", "json").stdout)
    kubectl.run("patch", "configmap", "c", "-p", '{"data":{"k":"v2"}}')
    stale["data"]["k"] = "v3"
    p = kubectl.run("replace", "-f", "-", stdin=json.dumps(stale), check=False)
    assert p.returncode == 1
    assert "Conflict" in p.stderr
    assert ('Operation cannot be fulfilled on configmaps "c": the object has been modified; '
            "please apply your changes to the latest version and try again") in p.stderr
    now = json.loads(kubectl.run("get", "configmap", "c", "-o", "json").stdout)
    assert now["data"]["k"] == "v2"


def test_create_deployment_gets_server_defaults_and_scales(kubectl):
    out = kubectl.run("create", "deployment", "kuard", "--image=kuard", "--replicas=5").stdout
    assert "deployment.apps/kuard created" in out
    d = json.loads(kubectl.run("get", "deployment", "kuard", "-o", "json").stdout)
    assert d["spec"]["replicas"] == 5
    assert d["spec"]["strategy"] == {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert d["spec"]["revisionHistoryLimit"] == 10
    assert d["spec"]["progressDeadlineSeconds"] == 600
    assert d["metadata"]["generation"] == 1

    assert "deployment.apps/kuard scaled" in kubectl.run(
        "scale", "deployment", "kuard", "--replicas=10").stdout
    d2 = json.loads(kubectl.run("get", "deploy", "kuard", "-o", "json").stdout)
    assert d2["spec"]["replicas"] == 10
    assert d2["metadata"]["generation"] == 2

    table = kubectl.run("get", "deployments").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:2] == ["kuard", "0/10"]


def test_apply_twice_then_unchanged(kubectl):
    first = kubectl.run("apply", "-f", "-", stdin=DEPLOYMENT).stdout
    assert "deployment.apps/web created" in first
    assert "configmap/settings created" in first

    changed = DEPLOYMENT.replace("replicas: 2", "replicas: 3").replace("color: blue", "color: green")
    changed = changed.replace('- {name: A, value: "1"}', '- {name: B, value: "2"}')
    second = kubectl.run("apply", "-f", "-", stdin=changed).stdout
    assert "deployment.apps/web configured" in second
    assert "configmap/settings configured" in second
    d = json.loads(kubectl.run("get", "deployment", "web", "-o", "json").stdout)
    assert d["spec"]["replicas"] == 3
    assert d["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "B", "value": "2"}]
    assert d["metadata"]["generation"] == 2
    cm = json.loads(kubectl.run("get", "configmap", "settings", "-o", "json").stdout)
    assert cm["data"] == {"color": "green"}
    # No `$`-directive of the strategic merge patch may be stored.
    assert "$setElementOrder" not in json.dumps(d) and "$patch" not in json.dumps(d)

    third = kubectl.run("apply", "-f", "-", stdin=changed).stdout
    assert "deployment.apps/web unchanged" in third


def test_patch_in_each_patch_type(kubectl):
    kubectl.run("create", "deployment", "kuard", "--image=kuard:blue")
    kubectl.run("patch", "deployment", "kuard", "-p",
                '{"spec":{"template":{"spec":{"containers":[{"name":"kuard","image":"kuard:green"}]}}}}')
    kubectl.run("patch", "deployment", "kuard", "--type=merge", "-p",
                '{"metadata":{"labels":{"tier":"front"}}}')
    kubectl.run("patch", "deployment", "kuard", "--type=json", "-p",
                '[{"op":"replace","path":"/spec/replicas","value":3}]')
    d = json.loads(kubectl.run("get", "deployment", "kuard", "-o", "json").stdout)
    c = d["spec"]["template"]["spec"]["containers"]
    assert len(c) == 1 and c[0]["name"] == "kuard" and c[0]["image"] == "kuard:green"
    assert d["metadata"]["labels"]["tier"] == "front"
    assert d["spec"]["replicas"] == 3

    bad = kubectl.run("patch", "deployment", "kuard", "--type=json", "-p",
                      '[{"op":"test","path":"/spec/replicas","value":7}]', check=False)
    assert bad.returncode == 1


def test_edit_with_a_scripted_editor(kubectl, tmp_path):
    kubectl.run("create", "deployment", "kuard", "--image=kuard:blue")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/image: kuard:blue/image: kuard:green/' \"$1\"\n")
    editor.chmod(0o755)
    out = kubectl.run("edit", "deployment", "kuard", env={"EDITOR": str(editor),
                                                          "KUBE_EDITOR": str(editor)}).stdout
    assert "deployment.apps/kuard edited" in out
    d = json.loads(kubectl.run("get", "deployment", "kuard", "-o", "json").stdout)
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "kuard:green"


def test_delete_waits_and_the_object_is_gone(kubectl):
    kubectl.run("run", "kuard", "--image=kuard")
    out = kubectl.run("delete", "pod", "kuard", timeout=30).stdout
    assert 'pod "kuard" deleted' in out
    gone = kubectl.run("get", "pod", "kuard", check=False)
    assert gone.returncode == 1 and "NotFound" in gone.stderr
    again = kubectl.run("delete", "pod", "kuard", check=False)
    assert again.returncode == 1 and 'pods "kuard" not found' in again.stderr
    assert kubectl.run("delete", "pod", "kuard", "--ignore-not-found").returncode == 0


def test_dry_run_server_defaults_but_stores_nothing(kubectl):
    if "1.20" in kubectl.binary:
        # kubectl 1.20 asks the OpenAPI document whether a kind supports server dry-run, and our
        # /openapi/v2 is deliberately empty (reference 2.1); the server side is covered below and
        # in test_api_semantics.
        pytest.skip("kubectl 1.20 checks server dry-run support in OpenAPI")
    out = kubectl.run("create", "deployment", "x", "--image=kuard", "--dry-run=server",
                      "-o", "json").stdout
    d = json.loads(out)
    assert d["spec"]["revisionHistoryLimit"] == 10
    assert kubectl.run("get", "deployment", "x", check=False).returncode == 1


def test_get_watch_prints_new_rows(kubectl, server):
    w = kubectl.popen("get", "pods", "-w")
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(w.stdout.readline, "")))
    reader.start()
    try:
        time.sleep(1.0)  # let the list and the watch start
        status, _, _ = server.request("POST", "/api/v1/namespaces/default/pods", {
            "metadata": {"name": "watched"},
            "spec": {"containers": [{"name": "c", "image": "kuard"}]}})
        assert status == 201
        wait_until(lambda: any("watched" in line for line in lines), timeout=15,
                   what="kubectl get -w to print the new pod")
        row = next(line for line in lines if "watched" in line).split()
        assert row[:3] == ["watched", "0/1", "Pending"]
    finally:
        w.terminate()
        w.wait(timeout=10)
        reader.join(timeout=10)


def test_several_kinds_and_cluster_scoped_resources(kubectl):
    kubectl.run("create", "namespace", "team-a")
    ns = kubectl.run("get", "namespaces").stdout
    for name in ("default", "kube-system", "kube-public", "team-a"):
        assert name in ns
    kubectl.run("create", "deployment", "kuard", "--image=kuard", "-n", "team-a")
    assert "kuard" in kubectl.run("get", "deploy", "-n", "team-a").stdout
    assert "No resources found" in "".join(
        (lambda p: [p.stdout, p.stderr])(kubectl.run("get", "deploy")))
    missing_ns = kubectl.run("create", "deployment", "x", "--image=kuard", "-n", "nope",
                             check=False)
    assert missing_ns.returncode == 1 and 'namespaces "nope" not found' in missing_ns.stderr
    resources = kubectl.run("api-resources").stdout
    for r in ("pods", "deployments", "services", "statefulsets", "daemonsets", "leases"):
        assert r in resources
