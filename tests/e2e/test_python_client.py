"""The official Python client (python3-kubernetes) against the API server: create, list, read,
patch, delete and watch, as a Python user writes them."""
import json
import threading

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402


@pytest.fixture
def api(server):
    cfg = client.Configuration()
    config.load_kube_config(config_file=server.kubeconfig, client_configuration=cfg)
    with client.ApiClient(cfg) as c:
        yield c


def pod(name, labels=None):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {"app": "py"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="kuard")]))


def test_create_list_read_delete_pods(api):
    v1 = client.CoreV1Api(api)
    created = v1.create_namespaced_pod("default", pod("pyp"))
    assert created.metadata.name == "pyp" and created.metadata.uid
    assert created.spec.restart_policy == "Always"
    for i in range(4):
        v1.create_namespaced_pod("default", pod(f"more-{i}", {"app": "more"}))

    listed = v1.list_namespaced_pod("default", label_selector="app=more")
    assert sorted(p.metadata.name for p in listed.items) == [f"more-{i}" for i in range(4)]

    # Paging with limit/continue returns every item exactly once.
    names, token = [], None
    while True:
        page = v1.list_namespaced_pod("default", limit=2, _continue=token)
        names += [p.metadata.name for p in page.items]
        assert len(page.items) <= 2
        token = page.metadata._continue
        if not token:
            break
    assert sorted(names) == sorted(["pyp"] + [f"more-{i}" for i in range(4)])

    read = v1.read_namespaced_pod("pyp", "default")
    assert read.metadata.resource_version == created.metadata.resource_version

    v1.delete_namespaced_pod("pyp", "default")
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_pod("pyp", "default")
    assert e.value.status == 404
    assert json.loads(e.value.body)["reason"] == "NotFound"


def test_duplicate_create_is_409_already_exists(api):
    v1 = client.CoreV1Api(api)
    v1.create_namespaced_pod("default", pod("dup"))
    with pytest.raises(ApiException) as e:
        v1.create_namespaced_pod("default", pod("dup"))
    assert e.value.status == 409
    body = json.loads(e.value.body)
    assert body["reason"] == "AlreadyExists" and body["message"] == 'pods "dup" already exists'


def test_deployment_patches_and_scale(api):
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment("default", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "pyd"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "pyd"}},
                 "template": {"metadata": {"labels": {"app": "pyd"}},
                              "spec": {"containers": [{"name": "c", "image": "kuard"}]}}}})
    d = apps.read_namespaced_deployment("pyd", "default")
    assert d.spec.strategy.type == "RollingUpdate" and d.metadata.generation == 1

    apps.patch_namespaced_deployment("pyd", "default", {"spec": {"replicas": 4}})  # strategic
    apps.patch_namespaced_deployment("pyd", "default",  # JSON patch
                                     [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
                                       "value": "kuard:green"}])
    d = apps.read_namespaced_deployment("pyd", "default")
    assert d.spec.replicas == 4
    assert d.spec.template.spec.containers[0].image == "kuard:green"
    assert d.metadata.generation == 3

    scale = apps.patch_namespaced_deployment_scale("pyd", "default", {"spec": {"replicas": 1}})
    assert scale.spec.replicas == 1 and scale.status.replicas == 0
    assert scale.status.selector == "app=pyd"
    assert apps.read_namespaced_deployment_scale("pyd", "default").spec.replicas == 1


def test_watch_stream_sees_added_modified_deleted(api):
    v1 = client.CoreV1Api(api)
    events = []
    ready = threading.Event()

    def consume():
        w = watch.Watch()
        ready.set()
        for e in w.stream(v1.list_namespaced_pod, "default", label_selector="app=w",
                          timeout_seconds=4):
            events.append((e["type"], e["object"].metadata.name))

    t = threading.Thread(target=consume)
    t.start()
    ready.wait(5)
    import time
    time.sleep(0.5)
    v1.create_namespaced_pod("default", pod("w1", {"app": "w"}))
    v1.patch_namespaced_pod("w1", "default", {"metadata": {"annotations": {"x": "y"}}})
    v1.create_namespaced_pod("default", pod("other", {"app": "not-w"}))
    v1.delete_namespaced_pod("w1", "default")
    t.join(15)
    assert not t.is_alive(), "the watch did not end after timeout_seconds"
    assert ("ADDED", "w1") in events
    assert ("MODIFIED", "w1") in events
    assert ("DELETED", "w1") in events
    assert all(name == "w1" for _, name in events)
