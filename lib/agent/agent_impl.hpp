// Agent::Impl: the agent's state, shared by agent.cpp (wiring, node, status writer) and
// pod_worker.cpp (the per-pod state machine).
//
// Locks (in order): PodState::sync_mu (held for one pod's sync), Impl::mu (pods_by_uid,
// uid_by_name, probe_results, hook_threads, PodState::pod / in_api / ip_shadow), Impl::status_mu
// (statuses). No lock is held across a call into the API.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent_internal.hpp"
#include "local_volumes.hpp"
#include "orch/agent/agent.hpp"
#include "orch/agent/node_server.hpp"
#include "orch/agent/prober.hpp"
#include "orch/client/event_recorder.hpp"
#include "orch/client/informer.hpp"
#include "orch/client/work_queue.hpp"

namespace orch::agent {

namespace json = boost::json;

// One container name of a pod (init or app) across its restarts.
struct ContainerRecord {
  std::string name;
  bool init = false;
  std::string id;                     // current container; "" before the first start
  std::optional<ContainerInfo> info;  // last known state of `id`
  std::optional<ContainerInfo> last;  // the previous, terminated container (lastState)
  std::uint32_t restart_count = 0;
  std::string image_id;
  // Why it waits (ContainerCreating, ErrImagePull, ImagePullBackOff, CrashLoopBackOff, ...).
  std::string waiting_reason;
  std::string waiting_message;
  // Crash-loop backoff (the kubelet's flowcontrol.Backoff per container).
  std::chrono::nanoseconds backoff{0};
  util::Clock::TimePoint backoff_updated{};
  // Image pull backoff.
  std::chrono::nanoseconds pull_backoff{0};
  util::Clock::TimePoint pull_retry_at{};
  util::Clock::TimePoint pull_failed_at{};
  bool pull_failing = false;
  bool pull_backoff_reported = false;
  // Killing (liveness failure or deletion).
  bool killing = false;
  bool force_sent = false;
  util::Clock::TimePoint kill_deadline{};
  bool has_readiness = false;
  bool has_startup = false;
};

struct PodState {
  // Const after creation.
  std::string uid, ns, name;
  // Guarded by Impl::mu.
  client::SharedObject pod;
  bool in_api = true;
  std::string ip_shadow;  // copy of `ip` for the node server
  // Guarded by sync_mu.
  std::mutex sync_mu;
  bool initialized = false;
  bool removed = false;
  std::string ip;
  bool sandbox_ready = false;
  // persistentVolumeClaim volume name -> host directory (local_volumes.hpp), once resolved.
  std::map<std::string, std::string> claim_volumes;
  std::string start_time;
  std::vector<ContainerRecord> init_containers;
  std::vector<ContainerRecord> containers;
  bool terminal = false;  // Succeeded / Failed: nothing restarts any more
  std::string terminal_phase;
  bool terminating = false;
  // Fenced (agent.cpp): containers killed, nothing starts until the agent confirms the pod.
  bool fenced = false;
  util::Clock::TimePoint kill_deadline{};
  json::object last_status;
};

struct ProbeResults {
  std::string container_id;
  ProbeResult liveness = ProbeResult::kSuccess;
  ProbeResult readiness = ProbeResult::kFailure;
  ProbeResult startup = ProbeResult::kFailure;
  std::string message[3];
};

struct StatusEntry {
  std::string ns, name;
  json::object desired;
  bool has_desired = false;
  std::uint64_t version = 0;
  std::uint64_t written_version = 0;
  json::value base;  // the pod as last written (newest resourceVersion we know)
};

struct Agent::Impl {
  Impl(AgentOptions options, std::shared_ptr<client::Client> client, Runtime& runtime);
  ~Impl();

  Status prepare();
  Status start(std::chrono::milliseconds sync_timeout);
  void stop();
  void kill_all(std::chrono::milliseconds grace);

  std::string now_time() const;
  Result<PodLocation> locate_pod(std::string_view ns, std::string_view name);
  void on_pod(const client::SharedObject& obj, bool present);
  void on_probe(const ProbeUpdate& update);
  void pod_loop();
  void node_loop();
  // Fencing (agent.cpp, node thread).
  void renew_node_lease();
  void fence_due_pods();
  void fence_pod(PodState& st);
  // How long without a Lease renewal before `pod` is fenced: node_monitor_grace_period + its
  // unreachable toleration - fence_margin; nullopt when never (fencing off, or the pod tolerates
  // the taint forever). Also the ContainerConfig::fence_after its containers get.
  std::optional<std::chrono::nanoseconds> fence_deadline(const json::value& pod) const;
  // Lets fenced pods that are still ours run again; true when none is left to check.
  bool unfence_pods();
  void status_loop();

  // pod_worker.cpp
  Status sync_pod(const std::string& uid, std::optional<std::chrono::nanoseconds>& requeue);
  void adopt();
  void adopt_pod(PodState& st, const std::vector<ContainerInfo>& containers);
  void init_records(PodState& st, const json::value& pod);

  void set_status(const std::string& uid, const std::string& ns, const std::string& name,
                  json::object status);
  void forget_status(const std::string& uid);
  Status write_status(const std::string& uid);
  void event(const PodState& st, const client::SharedObject& pod, std::string_view container,
             std::string_view type, std::string_view reason, std::string_view message);

  // Const after construction.
  const AgentOptions options;
  const std::shared_ptr<client::Client> client;
  Runtime& runtime;
  util::Clock* const clock;
  const std::string log_name;  // log component: "agent/<node name>"

  // Set in start(), then read-only.
  detail::NodeDescription node;
  std::unique_ptr<client::EventRecorder> own_recorder;
  client::EventRecorder* recorder = nullptr;
  std::unique_ptr<NodeServer> node_server;
  std::unique_ptr<MirrorPods> mirror_pods;
  std::unique_ptr<LocalVolumeCleaner> volume_cleaner;  // local_volumes.hpp
  std::uint16_t advertised_port = 0;
  std::unique_ptr<client::Informer> pods;
  std::unique_ptr<client::Informer> services;

  // Node thread only (and start() before it runs).
  json::value node_object_cache;
  json::value lease_cache;
  std::string node_uid;
  // Fencing (agent.cpp): when the last successful Lease renewal started, and whether one failed
  // since.
  util::Clock::TimePoint last_lease_renewal{};
  bool lease_lost = false;

  client::WorkQueue pod_queue;
  client::WorkQueue node_queue;
  client::WorkQueue status_queue;
  Prober prober;

  std::mutex lifecycle_mu;  // lock order: first
  bool started = false;
  bool stopped = false;
  std::vector<std::thread> threads;
  std::thread status_thread;

  mutable std::mutex mu;  // lock order: after PodState::sync_mu
  std::map<std::string, std::shared_ptr<PodState>> pods_by_uid;
  std::map<std::string, std::string> uid_by_name;  // "ns/name" -> uid
  std::map<std::string, std::map<std::string, ProbeResults>> probe_results;
  std::vector<std::thread> hook_threads;
  detail::IpAllocator ips;  // guarded by mu

  std::mutex status_mu;  // lock order: last
  std::map<std::string, StatusEntry> statuses;
};

}  // namespace orch::agent
