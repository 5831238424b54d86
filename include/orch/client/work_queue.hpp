// WorkQueue: the queue between informers and a reconciler's workers, with client-go's
// util/workqueue semantics.
//
// - Fair FIFO of string keys ("namespace/name").
// - De-duplicating: a key added while it waits is queued once.
// - Never hands one key to two workers: a key added while a worker processes it is queued again
//   only when that worker calls done(key).
// - Delays: add_after(key, d) queues the key once d has passed on the queue's Clock;
//   add_rate_limited(key) delays by the key's exponential backoff (base * 2^requeues, capped),
//   which forget(key) resets after a success.
// - Shutdown: shut_down() drops later adds and pending delays; get() still hands out what is
//   queued, then returns nullopt. shut_down_with_drain() also waits for workers to finish.
//
//   while (auto key = queue.get(std::chrono::seconds(1))) {  // or loop until shut down
//     Status s = reconcile(*key);
//     if (s.ok()) queue.forget(*key); else queue.add_rate_limited(*key);
//     queue.done(*key);
//   }
//
// Thread-safety: every method may be called from any thread. Lock order: the clock's listener
// mutex, then mu_ (the clock's listener takes mu_ to wake waiters).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "orch/util/clock.hpp"

namespace orch::client {

struct WorkQueueOptions {
  // The clock delays are measured on (not owned; must outlive the queue). Default: real_clock().
  util::Clock* clock = nullptr;
  // First rate-limited delay of a key. Default: 5 ms.
  std::chrono::nanoseconds base_delay = std::chrono::milliseconds(5);
  // Cap on a key's rate-limited delay. Default: 1000 s.
  std::chrono::nanoseconds max_delay = std::chrono::seconds(1000);
};

class WorkQueue {
 public:
  explicit WorkQueue(WorkQueueOptions options = {});
  // Shuts down; returns at once (never waits for workers).
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `key` unless it is already queued; if a worker holds it, it is queued again after
  // done(). Ignored after shutdown.
  void add(std::string_view key);
  // Queues `key` once `delay` has passed on the clock (at once when delay <= 0). A key already
  // waiting keeps the earlier of the two times. Ignored after shutdown.
  void add_after(std::string_view key, std::chrono::nanoseconds delay);
  // add_after(key, backoff) where backoff = base_delay * 2^num_requeues(key), capped at
  // max_delay; then counts one more requeue.
  void add_rate_limited(std::string_view key);
  // Resets the key's backoff (call after it was processed successfully).
  void forget(std::string_view key);
  // How many times add_rate_limited was called for the key since the last forget().
  int num_requeues(std::string_view key) const;

  // The next key, which the caller now holds until done(key). Blocks up to `timeout` (real time,
  // not the queue's clock, so tests on a FakeClock cannot hang). nullopt on timeout, or when the
  // queue is shut down and empty.
  std::optional<std::string> get(std::chrono::milliseconds timeout);
  // Releases a key returned by get(); if it was added meanwhile, queues it again.
  void done(std::string_view key);

  // Stops accepting keys and wakes every get(); already queued keys are still handed out.
  void shut_down();
  // shut_down(), then waits (at most `timeout`) until every queued key was handed out and done().
  // False on timeout.
  bool shut_down_with_drain(std::chrono::milliseconds timeout);
  bool shutting_down() const;

  // Keys queued (not delayed, not being processed). Non-const: first moves keys whose delay has
  // passed into the queue.
  std::size_t len();
  // Keys waiting for a delay to pass.
  std::size_t num_delayed();

 private:
  struct Delayed {
    util::Clock::TimePoint ready;
    std::uint64_t seq;  // FIFO among equal times
    std::string key;
    bool operator>(const Delayed& o) const {
      return ready != o.ready ? ready > o.ready : seq > o.seq;
    }
  };

  void add_locked(const std::string& key);
  // Moves delayed keys whose time has come into the queue.
  void promote_locked();

  // Const after construction.
  util::Clock* const clock_;
  const std::chrono::nanoseconds base_delay_;
  const std::chrono::nanoseconds max_delay_;
  std::uint64_t listener_id_ = 0;

  mutable std::mutex mu_;  // lock order: after the clock's listener mutex
  std::condition_variable cv_;
  // Guarded by mu_.
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;  // queued, or to be queued again after done()
  std::unordered_set<std::string> processing_;
  std::priority_queue<Delayed, std::vector<Delayed>, std::greater<>> delayed_;
  // Ready time of each delayed key (its entry in delayed_ with this time is the live one; others
  // are stale and skipped).
  std::unordered_map<std::string, util::Clock::TimePoint> delayed_ready_;
  std::uint64_t next_seq_ = 0;
  std::unordered_map<std::string, int> failures_;
  bool shutting_down_ = false;
};

}  // namespace orch::client
