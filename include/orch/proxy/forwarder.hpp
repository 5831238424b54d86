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
// - Bytes move with splice(2) through a pipe (no copy into user space; pipes are reused); idle
//   connections cost an epoll registration and nothing else (no timer, no wakeup).
// - Several network threads, each with its own io_context: every listener has one acceptor per
//   thread, all bound with SO_REUSEPORT, so the kernel spreads new connections over the threads
//   and a connection lives on the thread that accepted it (no lock on the data path).
// - Stats per pool: connections accepted, active, bytes each way, errors (no endpoint, every
//   endpoint failed), connect failures and the backend connect latency (sum and histogram).
//
// Thread-safety: every method may be called from any thread. Connections run on the forwarder's
// own threads.
#pragma once

#include <array>
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
  bool operator==(const PoolConfig&) const = default;
};

// Upper bounds, in seconds, of the backend connect latency histogram's buckets (Prometheus `le`);
// one more, unbounded bucket follows.
inline constexpr std::array<double, 12> kConnectLatencyBounds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0};

struct PoolStats {
  std::uint64_t connections = 0;       // accepted
  std::uint64_t active = 0;            // open now
  std::uint64_t bytes_to_backend = 0;  // received from clients
  std::uint64_t bytes_to_client = 0;   // received from backends
  std::uint64_t errors = 0;            // accepted connections that reached no backend (reset)
  std::uint64_t no_endpoint = 0;       // ... of which because the pool had no backend at all
  std::uint64_t connect_failures = 0;  // backend connects that failed (then retried elsewhere)
  std::uint64_t connects = 0;          // successful backend connects
  std::uint64_t connect_micros = 0;    // summed latency of successful backend connects
  // Successful connects per latency bucket (not cumulative): [i] counts latencies in
  // (kConnectLatencyBounds[i-1], kConnectLatencyBounds[i]]; the last one those above every bound.
  std::array<std::uint64_t, kConnectLatencyBounds.size() + 1> connect_latency_buckets{};
};

struct ForwarderOptions {
  // A backend that has not accepted within this is skipped. Default: 1 s.
  std::chrono::milliseconds connect_timeout{1000};
  // Bind listeners with SO_REUSEPORT, so several proxies on one machine may all listen on one
  // ClusterIP:port (the kernel spreads connections). Default: true.
  bool reuse_port = true;
  // Network threads (each its own io_context and acceptor per listener). 0: one per core. With
  // reuse_port false there is one acceptor per listener, on one of the threads. Default: 0.
  unsigned threads = 0;
  // Component of its log lines (orch/util/log.hpp; per-connection failures at -v 3).
  // Default: "proxy".
  std::string log_component = "proxy";
};

class Forwarder {
 public:
  // Starts the network threads. Internal when it cannot.
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
  // Closes every listener and connection and joins the threads. Idempotent.
  virtual void stop() = 0;
};

}  // namespace orch::proxy
