// Scheduler: binds pending pods to nodes (ARCHITECTURE.md, "Controllers and scheduler").
//
//   auto s = scheduler::Scheduler::create(client, {});    // or create(informer_factory, {})
//   s.value()->start();
//   ...
//   s.value()->stop();
//
// - Watches nodes, pods, PersistentVolumes and PersistentVolumeClaims through informers (shared
//   ones when built from an InformerFactory) and keeps an incremental SchedulerCache of node
//   usage; it never lists the world per pod.
// - Takes pods with spec.nodeName empty and spec.schedulerName equal to options.scheduler_name
//   (or empty), not terminating, not Succeeded/Failed, into a SchedulingQueue (priority, then
//   FIFO; backoff 1 s..10 s; unschedulable pods retried on cluster changes).
// - One scheduling thread: PreFilter, Filter over a sample of nodes (Kubernetes' adaptive
//   percentageOfNodesToScore, starting where the last cycle stopped), Score with weights,
//   ties broken at random; assumes the pod on the chosen node, then hands binding to binder
//   threads (POST pods/<name>/binding). A failed binding forgets the assumption and requeues.
// - Events: Normal Scheduled "Successfully assigned default/kuard to node-1"; Warning
//   FailedScheduling "0/3 nodes are available: 3 Insufficient cpu."; and the pod's PodScheduled
//   condition False with reason Unschedulable (a status patch), as Kubernetes does.
// - Leader election: SchedulerOptions::leader_election = lease_leader_hook(client, identity) runs
//   the scheduling loop only while holding the Lease kube-system/orch-scheduler; informers and
//   the cache stay warm on a standby so it takes over at once.
//
// Thread-safety: start() and stop() from one owning thread; stats() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "orch/client/client.hpp"
#include "orch/client/event_recorder.hpp"
#include "orch/client/informer.hpp"
#include "orch/client/informer_factory.hpp"
#include "orch/scheduler/cache.hpp"
#include "orch/scheduler/framework.hpp"
#include "orch/scheduler/plugins.hpp"
#include "orch/scheduler/queue.hpp"
#include "orch/status.hpp"
#include "orch/util/clock.hpp"

namespace orch::scheduler {

struct HandlerGuard;

// Leader election hook: run the scheduler only while leading. `run_while_leading` is called on
// start(); it must call `on_started_leading` when leadership is acquired and
// `on_stopped_leading` when it is lost, and stop when `stop` is called. lease_leader_hook()
// below builds one on controller::LeaderElector.
struct LeaderHook {
  std::function<Status(std::function<void()> on_started_leading,
                       std::function<void()> on_stopped_leading)>
      start;
  std::function<void()> stop;
};

// A LeaderHook on the Lease "orch-scheduler" in kube-system (controller::LeaderElector, lease
// 15 s, renew deadline 10 s, retries every `retry_period`, released on stop). `identity` must be
// unique among the candidates. Leadership lost stops scheduling for good (kube-scheduler exits).
LeaderHook lease_leader_hook(std::shared_ptr<client::Client> client, std::string identity,
                             util::Clock* clock = nullptr,
                             std::chrono::nanoseconds retry_period = std::chrono::seconds(2));

struct SchedulerOptions {
  // Pods with this spec.schedulerName (or none) are ours. Default: "default-scheduler".
  std::string scheduler_name = "default-scheduler";
  // Time source (queue backoff, assumed-pod expiry, event timestamps). Default: real_clock().
  util::Clock* clock = nullptr;
  // Percentage of nodes to find feasible before scoring; 0 uses Kubernetes' adaptive formula
  // (50% - nodes/125, at least 5%, at least 100 nodes). 100 scores every node. Default: 0.
  int percentage_of_nodes_to_score = 0;
  // Threads that POST bindings (and status patches). Default: 4.
  int binder_threads = 4;
  // Queue backoff. Default: 1 s and 10 s.
  std::chrono::milliseconds pod_initial_backoff{1000};
  std::chrono::milliseconds pod_max_backoff{10000};
  // An assumed pod whose binding does not show up in the informer within this long after it
  // was sent is forgotten. Default: 30 s.
  std::chrono::milliseconds assumed_pod_ttl{30000};
  // Seed of the tie-breaking random generator; 0 seeds from std::random_device. Default: 0.
  std::uint64_t random_seed = 0;
  // Write Scheduled/FailedScheduling events. Default: true.
  bool record_events = true;
  // Patch PodScheduled=False (reason Unschedulable) on pods that do not fit. Default: true.
  bool set_unschedulable_condition = true;
  // Run only while holding leadership (see LeaderHook). Empty: always run. Default: none.
  std::optional<LeaderHook> leader_election{};
  // Adjusts the default profile (add or replace plugins) before start. Default: none.
  std::function<void(Framework&)> configure_framework{};
};

struct SchedulerStats {
  std::uint64_t attempts = 0;            // scheduling cycles run
  std::uint64_t scheduled = 0;           // bindings that succeeded
  std::uint64_t unschedulable = 0;       // cycles that found no node
  std::uint64_t bind_failures = 0;       // bindings that failed
  std::uint64_t errors = 0;              // cycles that failed with an error
  double cycle_seconds = 0;              // time spent in scheduling cycles (filter, score, assume)
  double bind_seconds = 0;               // time binder threads spent binding (summed over threads)
};

// The adaptive number of nodes to find feasible among `all_nodes` (kube-scheduler's
// numFeasibleNodesToFind): every node below 100 nodes, else `percentage` (0: adaptive) of them,
// at least 100.
std::size_t num_feasible_nodes_to_find(std::size_t all_nodes, int percentage);

// The FailedScheduling message for a histogram of reasons over `all_nodes` nodes:
// "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."
std::string fit_error_message(std::size_t all_nodes, const std::map<std::string, int>& reasons);

class Scheduler {
 public:
  // A scheduler with its own informers over `client` (not null).
  static Result<std::unique_ptr<Scheduler>> create(std::shared_ptr<client::Client> client,
                                                   SchedulerOptions options = {});
  // A scheduler on shared informers; `informers` must outlive it. Its handlers are added at
  // create(), so the informers of nodes, pods, persistentvolumes and persistentvolumeclaims
  // must not be started yet (InvalidArgument otherwise). start() starts the factory.
  static Result<std::unique_ptr<Scheduler>> create(client::InformerFactory& informers,
                                                   SchedulerOptions options = {});
  // stop()s.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts the informers, waits for their sync (up to 30 s; Unavailable when they do not),
  // then the scheduling and binder threads (or the leader hook, which starts them once
  // leading). InvalidArgument when called twice.
  Status start();
  // Stops scheduling and binding (in-flight bindings finish), the informers it owns, and the
  // leader hook. Idempotent.
  void stop();

  SchedulerStats stats() const;
  // True while the scheduling loop runs (leading, when leader election is on).
  bool active() const { return active_.load(); }
  SchedulingQueue& queue_for_test() { return *queue_; }
  SchedulerCache& cache_for_test() { return *cache_; }

 private:
  Scheduler(std::shared_ptr<client::Client> client, SchedulerOptions options);
  Status init(client::InformerFactory* factory);
  bool ours(const PodInfo& pod) const;
  void on_pod_add(const client::SharedObject& obj);
  void on_pod_update(const client::SharedObject& old_obj, const client::SharedObject& new_obj);
  void on_pod_delete(const client::SharedObject& obj);
  void on_node_add(const client::SharedObject& obj);
  void on_node_update(const client::SharedObject& old_obj, const client::SharedObject& new_obj);
  void on_node_delete(const client::SharedObject& obj);
  void on_volume_change();
  ClaimLookup lookup_claim(const std::string& ns, const std::string& claim) const;

  void start_loops();
  void stop_loops();
  void run_loop();
  void schedule_one(QueuedPod qp);
  void fail(QueuedPod qp, const std::string& message, bool error);
  void bind_async(QueuedPod qp, std::string node, std::shared_ptr<CycleState> state);
  void post(std::function<void()> task);
  void binder_loop();

  // Const after construction.
  const std::shared_ptr<client::Client> client_;
  const SchedulerOptions options_;
  util::Clock& clock_;
  std::unique_ptr<client::EventRecorder> recorder_;
  std::unique_ptr<SchedulerCache> cache_;
  std::unique_ptr<SchedulingQueue> queue_;
  Framework framework_;
  // Informers: owned (built from a client) or borrowed from a factory.
  std::vector<std::unique_ptr<client::Informer>> owned_informers_;
  client::InformerFactory* factory_ = nullptr;
  client::Informer* pods_ = nullptr;
  client::Informer* nodes_ = nullptr;
  client::Informer* pvs_ = nullptr;
  client::Informer* pvcs_ = nullptr;

  // Shared with the informer handlers, which check it (see scheduler.cpp).
  std::shared_ptr<HandlerGuard> guard_;

  std::mutex lifecycle_mu_;  // lock order: first; start() and stop() (not held while calling out)
  // Guarded by lifecycle_mu_.
  bool started_ = false;
  bool stopped_ = false;

  std::mutex loops_mu_;  // lock order: after lifecycle_mu_, before bind_mu_; the threads below
  // Guarded by loops_mu_. The loops run once: after stop_loops (stop, or leadership lost) they
  // do not start again.
  bool loops_started_ = false;
  bool loops_stopped_ = false;
  std::thread loop_thread_;
  std::vector<std::thread> binders_;
  std::atomic<bool> active_{false};

  std::mutex bind_mu_;  // lock order: leaf; the binder task queue
  std::condition_variable bind_cv_;
  // Guarded by bind_mu_.
  std::deque<std::function<void()>> bind_tasks_;
  bool binders_stop_ = false;

  // Scheduling thread only.
  std::mt19937_64 rng_;
  std::size_t next_start_node_ = 0;

  std::atomic<std::uint64_t> attempts_{0}, scheduled_{0}, unschedulable_{0}, bind_failures_{0},
      errors_{0};
  std::atomic<std::uint64_t> cycle_ns_{0}, bind_ns_{0};
};

}  // namespace orch::scheduler
