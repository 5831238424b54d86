"""liborch from Python: a whole Kubernetes-compatible cluster in the calling process.

    import orch

    with orch.Cluster(nodes=3) as c:
        c.apply(open("kuard.yaml").read())
        c.wait_for("Deployment", "kuard",
                   lambda d: d.get("status", {}).get("readyReplicas") == 3, timeout=60)
        pods = c.client.list("pods", label_selector="app=kuard")["items"]

Objects are plain dicts in Kubernetes JSON. Resources are named as kubectl names them: a kind
("Pod", "Deployment"), a plural ("pods", "deployments"), a short name ("deploy") or a qualified
plural ("deployments.apps"). Failures raise ApiError subclasses carrying the Kubernetes reason
(NotFound, AlreadyExists, Conflict, Invalid, ...). Every blocking call releases the GIL, so
clusters and clients may be used from many threads.

From a meson build tree: PYTHONPATH=<build>/bindings/python (the extension and a copy of this
package live there). The pytest fixtures: `-p orch.pytest_plugin` (or the pytest11 entry point
once installed).
"""

import json as _json
import os as _os
import threading as _threading
import time as _time
import weakref as _weakref

from . import _orch

__all__ = [
    "Cluster", "Client", "Watch", "FakeClock", "Snapshot",
    "ApiError", "BadRequest", "Invalid", "NotFound", "AlreadyExists", "Conflict", "Expired",
    "Unauthorized", "Forbidden", "RequestEntityTooLarge", "TooManyRequests", "Timeout",
    "ServiceUnavailable", "InternalError",
    "parse_yaml", "to_yaml", "resource_info",
]


# ---------------------------------------------------------------------------------------------
# Errors


class ApiError(Exception):
    """A liborch / Kubernetes API failure.

    code: the HTTP status (404, 409, 422, ...); reason: the Kubernetes reason ("NotFound",
    "AlreadyExists", "Conflict", "Invalid", ...); message: the server's message; causes: a list of
    {"reason", "message", "field"} (validation failures); status: the Kubernetes Status object
    as a dict; orch_code: liborch's code name ("NotFound", "InvalidArgument", "Aborted", ...).
    """

    def __init__(self, message, code=500, reason="InternalError", causes=None,
                 orch_code="Internal"):
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.orch_code = orch_code
        self.causes = list(causes or [])
        self.status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
        if self.causes:
            self.status["details"] = {"causes": self.causes}

    def __str__(self):
        return "%s (%d): %s" % (self.reason, self.code, self.message)


class BadRequest(ApiError):
    """400: the request is malformed (bad JSON/YAML, wrong types, unknown resource type)."""


class Unauthorized(ApiError):
    """401."""


class Forbidden(ApiError):
    """403."""


class NotFound(ApiError):
    """404: the object (or resource type) does not exist."""


class AlreadyExists(ApiError):
    """409 AlreadyExists: create of a name that exists."""


class Conflict(ApiError):
    """409 Conflict: stale resourceVersion; re-read and retry."""


class Expired(ApiError):
    """410: the resourceVersion is too old (compacted); relist."""


class RequestEntityTooLarge(ApiError):
    """413."""


class Invalid(ApiError):
    """422: the object breaks a validation rule; .causes names each field."""


class TooManyRequests(ApiError):
    """429."""


class InternalError(ApiError):
    """500."""


class ServiceUnavailable(ApiError):
    """503 (also: the cluster was stopped)."""


class Timeout(ApiError, TimeoutError):
    """504 / a wait that did not finish in time."""


# orch::Code (include/orch/status.hpp, by its code_name()) -> exception class. The C++ side
# passes code_name, http_status and k8s_reason from status.hpp's one table.
_ERRORS_BY_CODE = {
    "InvalidArgument": Invalid,
    "BadRequest": BadRequest,
    "NotFound": NotFound,
    "AlreadyExists": AlreadyExists,
    "Aborted": Conflict,
    "OutOfRange": Expired,
    "Unauthenticated": Unauthorized,
    "PermissionDenied": Forbidden,
    "TooLarge": RequestEntityTooLarge,
    "ResourceExhausted": TooManyRequests,
    "DeadlineExceeded": Timeout,
    "Unavailable": ServiceUnavailable,
    "Internal": InternalError,
}


def _error_from_status(code_name, http_status, reason, message, causes):
    """Called by the extension for every failed liborch call: the exception to raise."""
    cls = _ERRORS_BY_CODE.get(code_name, ApiError)
    return cls(message, code=http_status, reason=reason, orch_code=code_name,
               causes=[{"reason": t, "message": m, "field": f} for (t, m, f) in causes])


# ---------------------------------------------------------------------------------------------
# Helpers


def parse_yaml(text):
    """Every non-empty document of a YAML (or JSON) stream, as kubectl reads it. BadRequest."""
    return _json.loads(_orch.parse_yaml(text))


def to_yaml(obj):
    """One object as `kubectl get -o yaml` prints it."""
    return _orch.to_yaml(_json.dumps(obj))


def resource_info(name, api_version=""):
    """What the registry knows of a resource: group, version, plural, kind, namespaced, ...
    NotFound for an unknown name."""
    return _orch.resource_info(name, api_version)


def _dumps(obj):
    if isinstance(obj, (str, bytes)):
        return obj if isinstance(obj, str) else obj.decode()
    return _json.dumps(obj)


# ---------------------------------------------------------------------------------------------
# Client


class Watch:
    """A watch stream. Iterate for events ({"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK",
    "object": {...}}) until `timeout` seconds pass with no event or the server ends the stream;
    or call next_events(timeout). A context manager; close() ends it."""

    def __init__(self, impl, timeout=None):
        self._impl = impl
        self._timeout = timeout

    def next_events(self, timeout):
        """The events that arrived within `timeout` seconds ([] on timeout or when ended)."""
        return [{"type": t, "object": _json.loads(o)} for (t, o) in self._impl.next(timeout)]

    def __iter__(self):
        deadline = None if self._timeout is None else _time.monotonic() + self._timeout
        while not self._impl.ended:
            wait = 1.0 if deadline is None else min(1.0, deadline - _time.monotonic())
            if wait <= 0:
                return
            for e in self.next_events(wait):
                yield e

    @property
    def ended(self):
        return self._impl.ended

    @property
    def resource_version(self):
        """metadata.resourceVersion of the last event returned."""
        return self._impl.resource_version

    def close(self):
        self._impl.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Client:
    """The Kubernetes API at the JSON level, on a cluster's in-process transport.

    `namespace` is ignored for cluster-scoped resources (nodes, namespaces); for namespaced ones
    it defaults to "default" (list/watch: None or "" means every namespace).
    """

    def __init__(self, impl):
        self._impl = impl

    def get(self, resource, name, namespace="default", subresource=""):
        return _json.loads(self._impl.get(resource, namespace or "", name, subresource))

    def list(self, resource, namespace=None, label_selector="", field_selector="", limit=0,
             continue_token=""):
        """The List object ({"items": [...], "metadata": {"resourceVersion": ...}}): every page
        unless `limit` (then one page; follow metadata.continue)."""
        return _json.loads(self._impl.list(resource, namespace or "", label_selector,
                                           field_selector, limit, continue_token))

    def create(self, resource, body, namespace="", dry_run=False, field_manager=""):
        """POST; `namespace` "" takes the object's metadata.namespace (or "default")."""
        return _json.loads(self._impl.create(resource, self._ns(resource, body, namespace),
                                             _dumps(body), dry_run, field_manager))

    def update(self, resource, body, namespace="", subresource="", dry_run=False, field_manager=""):
        """PUT of the whole object (name from metadata.name). Conflict when its
        metadata.resourceVersion is stale. subresource: "status" or "scale"."""
        return _json.loads(self._impl.update(resource, self._ns(resource, body, namespace),
                                             _dumps(body), subresource, dry_run, field_manager))

    def patch(self, resource, name, patch, namespace="default", type="strategic", subresource="",
              field_manager="", force=False, dry_run=False):
        """PATCH. type: "strategic" (default), "merge", "json" (a list of ops) or "apply"
        (server-side apply; needs field_manager). `patch` is a dict/list or JSON/YAML text."""
        return _json.loads(self._impl.patch(resource, namespace or "", name, type, _dumps(patch),
                                            subresource, field_manager, force, dry_run))

    def delete(self, resource, name, namespace="default", grace_period_seconds=None,
               propagation_policy="", dry_run=False):
        """DELETE: what the server answered (the object while finalizers run, or a Status)."""
        return _json.loads(self._impl.remove(resource, namespace or "", name,
                                             grace_period_seconds, propagation_policy, dry_run))

    remove = delete

    def watch(self, resource, namespace=None, resource_version="", label_selector="",
              field_selector="", timeout=None, timeout_seconds=0, allow_bookmarks=False):
        """A Watch. resource_version "" first sends ADDED for every existing object. `timeout`:
        iteration ends after that many seconds without an event (None: only when the stream
        ends); `timeout_seconds`: the server ends the stream."""
        impl = self._impl.watch(resource, namespace or "", resource_version, label_selector,
                                field_selector, timeout_seconds, allow_bookmarks)
        return Watch(impl, timeout)

    @staticmethod
    def _ns(resource, body, namespace):
        if namespace:
            return namespace
        if isinstance(body, dict):
            ns = body.get("metadata", {}).get("namespace")
            if ns:
                return ns
        return "default"


# ---------------------------------------------------------------------------------------------
# Cluster

FakeClock = _orch.FakeClock
FakeClock.__doc__ = """A manual clock for Cluster(clock=...): time moves only by advance(seconds).
Every time-driven part of a cluster of simulated nodes (leases, backoff, probes, rollout
deadlines, work-queue delays) reads it, so a 5-minute timeout takes milliseconds:

    clock = orch.FakeClock()
    with orch.Cluster(nodes=3, runtime="simulated", clock=clock) as c:
        clock.advance(301)

time(): the clock's wall time (seconds since the epoch; starts at 2024-01-01T00:00:00Z)."""

Snapshot = _orch.Snapshot
Snapshot.__doc__ = """An image of a cluster's whole state, from Cluster.snapshot(): start new clusters
from it with Cluster(restore_from=snap). save(path) / Snapshot.load(path) keep it in a file;
nodes, node_names, runtime and size (bytes) describe it."""


class Cluster:
    """A whole liborch cluster in this process: store, API server, controllers, scheduler and
    `nodes` nodes. Started by the constructor, stopped by stop() / the with block / at exit.

    runtime: "process" (pods are real processes: kuard, busybox) or "simulated" (pods go Running
    at once, no processes). data_dir: None for a temp dir removed at stop. serve_http: serve the
    API over HTTPS (a generated CA, bearer tokens) and write a kubeconfig (c.kubeconfig), for
    kubectl and the `kubernetes` package. kuard_path: the kuard binary (default: $ORCH_KUARD_PATH).
    restore_from: a Snapshot to start from (its node count, names, runtime and addresses win over
    the arguments; process-runtime pods are started again from their specs). clock: a FakeClock
    the cluster runs on (meant for runtime="simulated").
    """

    def __init__(self, nodes=1, runtime="process", data_dir=None, serve_http=False,
                 http_address="127.0.0.1", http_port=0, node_names=None, node_name_prefix="node-",
                 kuard_path=None, node_capacity=None, lease_renew_interval=None,
                 keep_pods_on_stop=False, address_block=None, wait_ready=True,
                 ready_timeout=120.0, restore_from=None, clock=None):
        if kuard_path is None:
            kuard_path = _os.environ.get("ORCH_KUARD_PATH", "")
        self._impl = _orch.Cluster.start(
            int(nodes), runtime, data_dir or "", bool(serve_http), http_address, int(http_port),
            list(node_names or []), node_name_prefix, kuard_path, dict(node_capacity or {}),
            float(lease_renew_interval or 0), bool(keep_pods_on_stop), address_block,
            restore_from=restore_from, clock=clock)
        # Stop at interpreter exit (or when collected) even if the caller forgets.
        self._finalizer = _weakref.finalize(self, self._impl.stop)
        self.client = Client(self._impl.client())
        if wait_ready and self._impl.node_names:
            try:
                self.wait_ready(ready_timeout)
            except BaseException:
                self.stop()
                raise

    # -- properties

    @property
    def url(self):
        """"https://127.0.0.1:PORT" (the kubeconfig holds the CA and an admin token), or "" without
        serve_http."""
        return self._impl.url

    @property
    def kubeconfig(self):
        """The kubeconfig file's path (serve_http=True), or ""."""
        return self._impl.kubeconfig_path

    @property
    def data_dir(self):
        return self._impl.data_dir

    @property
    def node_names(self):
        return list(self._impl.node_names)

    @property
    def running(self):
        return self._impl.alive

    # -- lifecycle

    def wait_ready(self, timeout=60.0):
        """Waits until every node is Ready. Timeout."""
        self._impl.wait_ready(float(timeout))

    def snapshot(self):
        """A Snapshot of the whole store now (writes may go on meanwhile)."""
        return self._impl.snapshot()

    def stop_node(self, name):
        """Fault injection: the node's agent stops (its lease stops; its pods keep running)."""
        self._impl.stop_node(name)

    def start_node(self, name):
        """Starts a stopped node's agent again (it adopts its pods)."""
        self._impl.start_node(name)

    def partition_node(self, name):
        """Fault injection: cuts the node off from the API server (its lease stops, its agent and
        pods keep running; the agent stops its pods before the control plane replaces them)."""
        self._impl.partition_node(name)

    def heal_node(self, name):
        """Restores a partitioned node's traffic to the API server."""
        self._impl.heal_node(name)

    def stop(self):
        """Stops everything and kills every pod process. Idempotent."""
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- helpers

    def apply(self, yaml_text, namespace=None):
        """Creates each document of a YAML/JSON stream, or updates it when it exists (kubectl
        apply without the three-way merge: the document replaces the spec, keeping the live
        resourceVersion). Returns the objects as stored."""
        out = []
        for doc in parse_yaml(yaml_text):
            info = resource_info(doc.get("kind", ""), doc.get("apiVersion", ""))
            meta = doc.setdefault("metadata", {})
            ns = ""
            if info["namespaced"]:
                ns = namespace or meta.get("namespace") or "default"
                meta["namespace"] = ns
            res = info["plural"] + ("." + info["group"] if info["group"] else "")
            try:
                out.append(self.client.create(res, doc, namespace=ns))
                continue
            except AlreadyExists:
                pass
            for _ in range(10):
                live = self.client.get(res, meta["name"], namespace=ns)
                doc["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
                if "status" not in doc and "status" in live:
                    doc["status"] = live["status"]
                try:
                    out.append(self.client.update(res, doc, namespace=ns))
                    break
                except Conflict:
                    continue
            else:
                raise Conflict("apply: %s %s kept changing" % (res, meta["name"]), code=409,
                               reason="Conflict", orch_code="Aborted")
        return out

    def wait_for(self, kind, name, predicate=None, timeout=60.0, namespace="default"):
        """Waits, on a watch, until object `name` exists and predicate(obj) is true; returns it.
        predicate None: existence. Timeout when `timeout` seconds pass first."""
        if predicate is None:
            predicate = lambda obj: True  # noqa: E731
        deadline = _time.monotonic() + timeout
        field = "metadata.name=" + name
        last = None
        while True:
            lst = self.client.list(kind, namespace, field_selector=field)
            for obj in lst.get("items", []):
                last = obj
                if predicate(obj):
                    return obj
            rv = lst.get("metadata", {}).get("resourceVersion", "")
            try:
                with self.client.watch(kind, namespace, resource_version=rv,
                                       field_selector=field) as w:
                    while True:
                        left = deadline - _time.monotonic()
                        if left <= 0:
                            raise Timeout(
                                "timed out after %gs waiting for %s %s/%s; last seen: %s"
                                % (timeout, kind, namespace, name,
                                   "none" if last is None else _json.dumps(last.get("status"))),
                                code=504, reason="Timeout", orch_code="DeadlineExceeded")
                        for e in w.next_events(min(left, 5.0)):
                            if e["type"] in ("ADDED", "MODIFIED"):
                                last = e["object"]
                                if predicate(last):
                                    return last
                            elif e["type"] == "DELETED":
                                last = None
                        if w.ended:
                            break  # relist and watch again
            except Expired:
                pass
            if _time.monotonic() >= deadline:
                raise Timeout("timed out after %gs waiting for %s %s/%s" % (timeout, kind,
                                                                           namespace, name),
                              code=504, reason="Timeout", orch_code="DeadlineExceeded")

    def events(self, namespace="default", involved_name=None):
        """The core/v1 Events of `namespace` (None: all), oldest first; optionally only those
        about the object named `involved_name`."""
        items = self.client.list("events", namespace)["items"]
        if involved_name is not None:
            items = [e for e in items if e.get("involvedObject", {}).get("name") == involved_name]

        def key(e):
            return (e.get("lastTimestamp") or e.get("eventTime") or
                    e.get("metadata", {}).get("creationTimestamp") or "")
        return sorted(items, key=key)
