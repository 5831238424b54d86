// Prober: runs a container's liveness, readiness and startup probes the way the kubelet does, on
// its own worker threads (a slow probe never blocks a pod worker).
//
// - Kinds: httpGet (host defaults to the pod IP; port by number or by the name of a container
//   port; path; scheme HTTP; httpHeaders; success is a status in [200, 400)), tcpSocket (a
//   connect), exec (Runtime::exec; success is exit code 0). gRPC and HTTPS fail with a message
//   saying they are not supported.
// - Timing (Kubernetes' defaults for zero fields): the first run is initialDelaySeconds after the
//   container started, then every periodSeconds (10); each run is cut off after timeoutSeconds
//   (1). A result flips after successThreshold (1) successes or failureThreshold (3) failures in
//   a row. Initial results: liveness Success, readiness Failure, startup Failure (not started).
// - A startup probe gates the others: until it succeeds, liveness and readiness do not run (and
//   readiness stays Failure); once it succeeded it no longer runs.
// - Liveness and startup stop running for a container once they reported Failure (the agent
//   kills it; the new container is added again under its new id).
// - The callback is called for every failed run (`attempt_failed`, for Unhealthy events) and for
//   every change of a probe's result (`changed`). It runs on a probe worker and must not block.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "orch/agent/runtime.hpp"
#include "orch/api/types/core.hpp"
#include "orch/status.hpp"
#include "orch/util/clock.hpp"

namespace orch::agent {

enum class ProbeKind : std::uint8_t { kLiveness, kReadiness, kStartup };
enum class ProbeResult : std::uint8_t { kUnknown, kSuccess, kFailure };

// "Liveness", "Readiness", "Startup" (as the kubelet's event messages spell them).
std::string_view probe_kind_name(ProbeKind kind);

// Where one container's probes go.
struct ProbeTarget {
  std::string pod_uid;
  std::string container_name;
  std::string container_id;  // for exec probes
  std::string pod_ip;        // default host of httpGet / tcpSocket
  std::vector<api::ContainerPort> ports;  // to resolve named ports
  // When the container started (initialDelaySeconds counts from here), on the prober's clock.
  util::Clock::TimePoint started_at{};
};

struct ProbeUpdate {
  ProbeTarget target;
  ProbeKind kind = ProbeKind::kLiveness;
  // The probe's result after this run.
  ProbeResult result = ProbeResult::kUnknown;
  // This run failed (the message says why).
  bool attempt_failed = false;
  // `result` differs from the previous one.
  bool changed = false;
  std::string message;
};

// One run of one probe.
struct ProbeOutcome {
  bool success = false;
  std::string message;  // why it failed, in the kubelet's words
};

// Runs `probe` once against `target` (blocking up to its timeout). `runtime` is needed for exec
// probes (null: exec fails).
ProbeOutcome run_probe(const api::Probe& probe, const ProbeTarget& target, Runtime* runtime);

struct ProberOptions {
  // Not owned. Default: real_clock().
  util::Clock* clock = nullptr;
  // Not owned; for exec probes. Default: nullptr.
  Runtime* runtime = nullptr;
  // Default: 4.
  int workers = 4;
};

class Prober {
 public:
  Prober(ProberOptions options, std::function<void(const ProbeUpdate&)> on_update);
  // stop()s.
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Starts the workers. Idempotent.
  void start();
  // Stops and joins the workers. No callback runs after it returns. Idempotent.
  void stop();

  // Starts the probes `container` declares for one start of it (replacing any probes of the same
  // pod uid and container name). A container without probes is ignored.
  void add_container(const ProbeTarget& target, const api::Container& container);
  // Stops the probes of one container / of every container of a pod.
  void remove_container(std::string_view pod_uid, std::string_view container_name);
  void remove_pod(std::string_view pod_uid);

  // Number of containers with probes (tests).
  std::size_t size() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace orch::agent
