// ServiceProxy: the per-node service proxy (kube-proxy's job, in user space on Boost.Asio).
//
// Watches Services and Endpoints through the API and keeps a Forwarder programmed:
// - every TCP port of a Service with a ClusterIP listens on ClusterIP:port (SO_REUSEPORT, so the
//   proxies of several nodes on one machine may all listen there) and, for NodePort and
//   LoadBalancer Services, on nodeIP:nodePort;
// - each such listener forwards to the ready addresses of the Service's Endpoints for that port
//   (round robin, or ClientIP affinity when spec.sessionAffinity is ClientIP);
// - a change to one Service or its Endpoints reprograms only that Service (listeners opened and
//   closed one by one, pools replaced); connections already established keep going (draining).
// An address that cannot be bound (e.g. the ClusterIP range is not local) is retried with backoff
// and logged once.
//
// Thread-safety: every method may be called from any thread. The proxy acts on its own threads
// (informers, one sync worker, the forwarder's network thread).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "orch/client/client.hpp"
#include "orch/proxy/forwarder.hpp"
#include "orch/status.hpp"

namespace orch::proxy {

struct ServiceProxyOptions {
  // This node's address: NodePorts listen here. Empty: no NodePort listeners. Default: "".
  std::string node_ip{};
  // Listen on ClusterIPs. Default: true.
  bool cluster_ips = true;
  // See ForwarderOptions. Default: 1 s.
  std::chrono::milliseconds connect_timeout{1000};
};

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
  // Stops informers, the worker and the forwarder. Idempotent.
  virtual void stop() = 0;
};

}  // namespace orch::proxy
