// ServiceProxy: the per-node service proxy (kube-proxy's job, in user space on Boost.Asio).
//
// Watches Services and Endpoints through the API and keeps a Forwarder programmed:
// - every TCP port of a Service with a ClusterIP listens on ClusterIP:port (SO_REUSEPORT, so the
//   proxies of several nodes on one machine may all listen there) and, for NodePort and
//   LoadBalancer Services, on nodeIP:nodePort;
// - each such listener forwards to the ready addresses of the Service's Endpoints for that port
//   (round robin, or ClientIP affinity when spec.sessionAffinity is ClientIP);
// - a change to one Service or its Endpoints reprograms only that Service, and of it only what
//   differs (listeners opened and closed one by one, a pool replaced only when its backends or
//   affinity changed); connections already established keep going (draining). The counters in
//   ServiceProxyMetrics show it: listeners_opened grows only by the listeners a change adds.
// - metrics() snapshots per-service-port counters (connections, bytes, errors, backend connect
//   latency); render_prometheus() prints them in the Prometheus text format, and with
//   metrics_address set the proxy serves them at http://metrics_address:metrics_port/metrics,
//   as kube-proxy does on 127.0.0.1:10249.
// An address that cannot be bound (e.g. the ClusterIP range is not local) is retried with backoff
// and logged once.
//
// Thread-safety: every method may be called from any thread. The proxy acts on its own threads
// (informers, one sync worker, the forwarder's network threads, the metrics server's thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "orch/client/client.hpp"
#include "orch/proxy/forwarder.hpp"
#include "orch/status.hpp"

namespace orch::proxy {

struct ServiceProxyOptions {
  // This node's name: the proxy logs as "proxy/<node_name>" (orch/util/log.hpp), which is what
  // routes its lines to its mirror pod's log. Default: "" (logs as "proxy").
  std::string node_name{};
  // This node's address: NodePorts listen here. Empty: no NodePort listeners. Default: "".
  std::string node_ip{};
  // Listen on ClusterIPs. Default: true.
  bool cluster_ips = true;
  // See ForwarderOptions. Default: 1 s.
  std::chrono::milliseconds connect_timeout{1000};
  // Network threads, see ForwarderOptions::threads. Default: 0 (one per core).
  unsigned threads = 0;
  // Serve GET /metrics (Prometheus text) over HTTP on this address. Empty: no metrics server.
  // A port that cannot be bound is logged once and the proxy runs without it. Default: "".
  std::string metrics_address{};
  // 0 picks a free port (see metrics_port()). Default: 10249 (kube-proxy's).
  std::uint16_t metrics_port = 10249;
};

// One service port ("namespace/name:portName") as the proxy programmed it, and its counters.
struct ServicePortMetrics {
  std::string ns;
  std::string service;
  std::string port_name;  // may be empty
  std::size_t endpoints = 0;  // ready backends it forwards to
  std::size_t listeners = 0;  // addresses it listens on (ClusterIP:port, nodeIP:nodePort)
  PoolStats stats{};
};

struct ServiceProxyMetrics {
  std::vector<ServicePortMetrics> service_ports{};  // sorted by namespace, service, port name
  std::size_t listeners = 0;           // open now
  std::uint64_t listeners_opened = 0;  // since start
  std::uint64_t listeners_closed = 0;
  std::uint64_t pool_updates = 0;      // backend sets (re)programmed
  std::uint64_t syncs = 0;             // Services looked at (one per change to it or its Endpoints)
  std::uint64_t sync_errors = 0;       // of which failed (e.g. an address not bindable), retried
};

// The Prometheus text exposition (version 0.0.4) of `m`: orch_proxy_connections_total,
// orch_proxy_active_connections, orch_proxy_bytes_total{direction="to_backend"|"to_client"},
// orch_proxy_rejected_connections_total{reason="no_endpoint"|"endpoints_failed"},
// orch_proxy_backend_connect_failures_total, the histogram
// orch_proxy_backend_connect_duration_seconds, orch_proxy_endpoints (each labelled namespace,
// service, port) and the proxy-wide orch_proxy_listeners, orch_proxy_listeners_opened_total,
// orch_proxy_listeners_closed_total, orch_proxy_pool_updates_total, orch_proxy_syncs_total,
// orch_proxy_sync_errors_total.
std::string render_prometheus(const ServiceProxyMetrics& m);

class ServiceProxy {
 public:
  // Starts watching and forwarding. Returns once the informers are started (not synced).
  static Result<std::unique_ptr<ServiceProxy>> start(std::shared_ptr<client::Client> client,
                                                     ServiceProxyOptions options = {});
  virtual ~ServiceProxy() = default;

  // True once the first full view of Services and Endpoints has been programmed.
  virtual bool wait_for_sync(std::chrono::milliseconds timeout) = 0;
  // Stats of one service port ("namespace/name:portName"; portName may be empty).
  virtual PoolStats stats(const std::string& service_port) const = 0;
  // Listeners now open.
  virtual std::size_t listener_count() const = 0;
  // A consistent-enough snapshot (each counter read atomically, not all at one instant).
  virtual ServiceProxyMetrics metrics() const = 0;
  // The metrics server's bound port; 0 when it does not run.
  virtual std::uint16_t metrics_port() const = 0;
  // Stops informers, the worker and the forwarder. Idempotent.
  virtual void stop() = 0;
};

}  // namespace orch::proxy
