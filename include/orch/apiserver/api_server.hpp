// ApiServer: the Kubernetes API over a Store (ARCHITECTURE.md, "API server").
//
// The only component that touches the store. It serves Kubernetes' REST paths for every kind of
// orch/api's registry: discovery (/api, /apis, /api/v1, /apis/<group>/<version>, /version),
// /openapi/v2 (an empty protobuf document, which keeps kubectl's validation and apply working),
// /healthz, /livez, /readyz; get, list, create, update, patch (strategic merge, JSON merge, JSON
// patch), delete (grace periods, propagation policies, finalizers), deletecollection and watch;
// the status, scale and binding subresources; label and field selectors, limit/continue,
// resourceVersion semantics, bookmarks, timeoutSeconds; server-side Table printing for kubectl.
// Admission: defaults, validation, generateName, uid, creationTimestamp, generation, namespace
// existence. Errors are always a Kubernetes Status body with the right code and reason.
//
// It answers through a Handler (handler()) that the in-process client transport calls directly,
// and, unless told otherwise, over HTTP on a loopback port.
//
// Thread-safety: handler() may be used from any number of threads; stop() is idempotent and
// blocks until every request and stream has ended.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "orch/apiserver/handler.hpp"
#include "orch/apiserver/http_server.hpp"
#include "orch/status.hpp"
#include "orch/store/store.hpp"

namespace orch::apiserver {

struct ApiServerOptions {
  // Serve HTTP (see `http`). When false, only handler() answers (in-process). Default: true.
  bool serve_http = true;
  HttpServerOptions http;
  // Events queued for one watcher before it is ended as fallen behind. Default: 10000.
  std::size_t watch_buffer = 10000;
  // Default and maximum watch duration when the client gives no timeoutSeconds. Default: 30 min.
  std::chrono::seconds max_watch{std::chrono::minutes(30)};
  // Interval of BOOKMARK events to clients that allow them. Default: 60 s.
  std::chrono::seconds bookmark_interval{60};
  // Create namespaces default, kube-system, kube-public and kube-node-lease when missing.
  // Default: true.
  bool seed_namespaces = true;
  // Services' ClusterIPs come from this IPv4 CIDR (loopback addresses, so they route on one
  // machine without root; see ARCHITECTURE.md). Default: "127.96.0.0/16".
  std::string service_cluster_ip_range = "127.96.0.0/16";
  // NodePorts come from this inclusive range. Default: 30000-32767.
  int service_node_port_min = 30000;
  int service_node_port_max = 32767;
  // Bearer token the API server presents to each agent's node server (orch/agent/
  // node_server.hpp) when it proxies pods/log and pods/portforward; it must equal the agents'
  // NodeServerOptions::token. The node is reached at its Node's status.addresses (InternalIP
  // first) and status.daemonEndpoints.kubeletEndpoint.Port. Default: "" (agents then answer 401,
  // and logs/port-forward fail with InternalError naming node_token).
  std::string node_token;
  // PEM of the CA that signs the node servers' certificates. When set, node servers are reached
  // over HTTPS and verified against it and the node's address. Default: "" (plain HTTP).
  std::string node_ca_pem;
  // Admission (Kubernetes' DefaultTolerationSeconds plugin): a created pod that does not
  // tolerate node.kubernetes.io/not-ready:NoExecute (unreachable:NoExecute) gets a toleration of
  // it (operator Exists) for this many seconds, so the node lifecycle controller evicts it that
  // long after its node went not ready (unreachable). Negative: add none. Default: 300, 300.
  std::int64_t default_not_ready_toleration_seconds = 300;
  std::int64_t default_unreachable_toleration_seconds = 300;
};

class ApiServer {
 public:
  // Starts serving `store`, which must outlive the server. Unavailable when the HTTP address
  // cannot be bound; the store's error when it cannot be read.
  static Result<std::unique_ptr<ApiServer>> start(store::Store& store,
                                                  const ApiServerOptions& options = {});
  virtual ~ApiServer() = default;

  // The request handler behind every transport.
  virtual Handler& handler() = 0;
  // "http://127.0.0.1:PORT", or "" when not serving HTTP.
  virtual std::string url() const = 0;
  virtual std::uint16_t port() const = 0;
  // Stops HTTP (in-flight requests finish within `grace`), ends every watch.
  virtual void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000)) = 0;
};

}  // namespace orch::apiserver
