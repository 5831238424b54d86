// Forwarder: TCP listeners that hand each accepted connection to one backend of a named pool and
// splice the two sockets together. The engine under the service proxy and the load balancer.
//
// - Pools ("default/kuard:http") hold backends (host, port) and a policy: round robin, or
//   ClientIP affinity (a client address sticks to its backend for `affinity_timeout`). A backend
//   that refuses or does not answer within `connect_timeout` is skipped and the next one tried, so
//   a client never sees a dead backend while a live one exists. A pool with no live backend
//   resets the client's connection at once (no hang).
// - Changing a pool affects only new connections; established ones keep their backend until
//   either side closes (draining). Listeners come and go one at a time (no rebuild).
// - Bytes move with splice(2) through a pipe (no copy into user space); idle connections cost an
//   epoll registration and nothing else.
// - Stats per pool: connections accepted, active, bytes each way, errors, connect failures and
//   the summed backend connect latency.
//
// Thread-safety: every method may be called from any thread. Connections run on the forwarder's
// own thread(s).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "orch/status.hpp"

namespace orch::proxy {

struct Backend {
  std::string host;  // an IPv4/IPv6 literal
  std::uint16_t port = 0;
  bool operator==(const Backend&) const = default;
};

struct PoolConfig {
  std::vector<Backend> backends{};
  // sessionAffinity: ClientIP. Default: false (round robin).
  bool client_ip_affinity = false;
  // Default: 10800 s (Kubernetes' default timeoutSeconds).
  std::chrono::seconds affinity_timeout{10800};
};

struct PoolStats {
  std::uint64_t connections = 0;       // accepted
  std::uint64_t active = 0;            // open now
  std::uint64_t bytes_to_backend = 0;
  std::uint64_t bytes_to_client = 0;
  std::uint64_t errors = 0;            // accepted connections that reached no backend
  std::uint64_t connect_failures = 0;  // backend connects that failed (then retried elsewhere)
  std::uint64_t connect_micros = 0;    // summed latency of successful backend connects
};

struct ForwarderOptions {
  // A backend that has not accepted within this is skipped. Default: 1 s.
  std::chrono::milliseconds connect_timeout{1000};
  // Bind listeners with SO_REUSEPORT, so several proxies on one machine may all listen on one
  // ClusterIP:port (the kernel spreads connections). Default: true.
  bool reuse_port = true;
};

class Forwarder {
 public:
  // Starts the network thread. Internal when it cannot.
  static Result<std::unique_ptr<Forwarder>> start(ForwarderOptions options = {});
  // stop()s.
  virtual ~Forwarder() = default;

  // Creates or replaces pool `name`.
  virtual void set_pool(const std::string& name, PoolConfig config) = 0;
  // Removes a pool; its listeners then reset new connections.
  virtual void remove_pool(const std::string& name) = 0;
  // Listens on host:port for pool `pool` (which may be set later). Unavailable when the address
  // cannot be bound (in use, not local); AlreadyExists when this forwarder already listens there
  // (use retarget()). Returns the bound port (port 0 picks one).
  virtual Result<std::uint16_t> listen(const std::string& host, std::uint16_t port,
                                       const std::string& pool) = 0;
  // Points an existing listener at another pool.
  virtual Status retarget(const std::string& host, std::uint16_t port, const std::string& pool) = 0;
  // Closes a listener (established connections continue).
  virtual void unlisten(const std::string& host, std::uint16_t port) = 0;
  // Number of listeners.
  virtual std::size_t listener_count() const = 0;

  virtual PoolStats stats(const std::string& pool) const = 0;
  // Closes every listener and connection and joins the thread. Idempotent.
  virtual void stop() = 0;
};

}  // namespace orch::proxy
