// SchedulingQueue: kube-scheduler's PriorityQueue, simplified.
//
// - activeQ: pods ready to be tried, highest spec.priority first, then first in first out.
// - backoffQ: pods that failed, waiting out their backoff (initial * 2^(attempts-1), capped:
//   1 s .. 10 s by default) before going back to activeQ.
// - unschedulable: pods that failed and wait for a cluster change (move_all_to_active_or_backoff,
//   called on node add/update, pod deletion, volume changes); pods waiting longer than
//   max_unschedulable_duration are retried anyway.
// A pod that failed while a move request happened during its cycle goes to backoffQ instead of
// unschedulable, so a change that raced with its cycle is not missed.
//
// Thread-safety: every method may be called from any thread. pop() blocks until a pod is ready
// or close() is called.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>

#include "orch/scheduler/types.hpp"
#include "orch/util/clock.hpp"

namespace orch::scheduler {

struct QueueOptions {
  // Default: 1 s.
  std::chrono::milliseconds initial_backoff{1000};
  // Default: 10 s.
  std::chrono::milliseconds max_backoff{10000};
  // Default: 5 min.
  std::chrono::milliseconds max_unschedulable_duration{std::chrono::minutes(5)};
};

// A pod as the queue holds it.
struct QueuedPod {
  PodInfoPtr pod;
  int attempts = 0;
  util::Clock::TimePoint timestamp{};          // last enqueue / failure
  util::Clock::TimePoint initial_attempt{};    // first enqueue
  std::uint64_t cycle = 0;                     // scheduling cycle it was popped in
};

class SchedulingQueue {
 public:
  // `clock` must outlive the queue.
  SchedulingQueue(util::Clock& clock, QueueOptions options = {});
  ~SchedulingQueue();
  SchedulingQueue(const SchedulingQueue&) = delete;
  SchedulingQueue& operator=(const SchedulingQueue&) = delete;

  // A new pending pod: into activeQ (replaces a queued copy).
  void add(const PodInfoPtr& pod);
  // An update of a pending pod. When `relevant` (spec or labels changed) and the pod waits in
  // backoffQ/unschedulable it moves to activeQ; otherwise only its stored object is refreshed.
  // A pod in no queue (and not being scheduled) is added.
  void update(const PodInfoPtr& pod, bool relevant);
  // The pod is gone or bound: forget it everywhere.
  void remove(const std::string& key);

  // Blocks until a pod is in activeQ (moving due backoffQ pods first) or close(). nullopt when
  // closed.
  std::optional<QueuedPod> pop();
  // pop() without blocking: nullopt when activeQ is empty after moving due backoff pods.
  std::optional<QueuedPod> try_pop();
  // A popped pod failed: into backoffQ when a move request happened since it was popped,
  // else unschedulable. Skipped when the pod was re-added meanwhile or removed.
  void add_unschedulable(QueuedPod pod);
  // A popped pod hit an error (or its binding failed): into backoffQ.
  void add_backoff(QueuedPod pod);
  // The popped pod is done (scheduled); stops tracking it as in flight.
  void done(const std::string& key);
  // Cluster changed: every unschedulable pod moves to backoffQ (still backing off) or activeQ.
  void move_all_to_active_or_backoff();
  // Moves due backoffQ pods and long-waiting unschedulable pods. pop() does it itself.
  void flush();
  // Wakes pop() for good.
  void close();

  std::chrono::milliseconds backoff_duration(int attempts) const;
  // Sizes (tests, metrics).
  std::size_t active_size() const;
  std::size_t backoff_size() const;
  std::size_t unschedulable_size() const;

 private:
  using ActiveKey = std::tuple<std::int64_t, util::Clock::TimePoint, std::uint64_t>;
  using BackoffKey = std::tuple<util::Clock::TimePoint, std::uint64_t>;
  struct Entry {
    QueuedPod qp;
    enum class Where : std::uint8_t { kActive, kBackoff, kUnschedulable } where;
    ActiveKey active_key{};
    BackoffKey backoff_key{};
  };
  void push_active_locked(QueuedPod qp);
  void push_backoff_locked(QueuedPod qp);
  void push_unschedulable_locked(QueuedPod qp);
  void erase_locked(const std::string& key);
  void flush_locked();
  std::optional<QueuedPod> pop_locked();
  util::Clock::TimePoint backoff_expiry(const QueuedPod& qp) const;

  // Const after construction.
  util::Clock& clock_;
  const QueueOptions options_;
  std::uint64_t listener_id_ = 0;

  mutable std::mutex mu_;  // lock order: leaf
  std::condition_variable cv_;
  // Guarded by mu_.
  std::unordered_map<std::string, Entry> entries_;
  std::map<ActiveKey, std::string> active_;
  std::map<BackoffKey, std::string> backoff_;
  std::unordered_map<std::string, std::uint64_t> in_flight_;  // key -> cycle popped in
  std::uint64_t seq_ = 0;
  std::uint64_t cycle_ = 0;
  std::uint64_t move_request_cycle_ = 0;
  util::Clock::TimePoint last_unschedulable_flush_{};
  bool closed_ = false;
};

}  // namespace orch::scheduler
