// EventRecorder: writes core/v1 Events about objects, the way client-go's record package does, so
// `kubectl describe` and `kubectl get events` show what happened (SuccessfulCreate, Scheduled,
// Pulled, Unhealthy, ...).
//
// - Asynchronous: event() queues and returns at once; a background thread writes. A caller (a
//   reconciler, the scheduler loop) never waits on the API for an event.
// - Aggregated: a repeat of the same (involved object, type, reason, message, source) within
//   10 minutes of the last one increments the existing Event's count and lastTimestamp (a PATCH)
//   instead of creating another object. Event names are "<object name>.<unique hex suffix>", in
//   the involved object's namespace ("default" for cluster-scoped objects, as Kubernetes does).
// - Bounded: at most `max_queued` events wait; beyond that the oldest are dropped (events are
//   best-effort in Kubernetes too). Failed writes are retried a few times, then dropped.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "orch/api/types/meta.hpp"
#include "orch/client/client.hpp"
#include "orch/util/clock.hpp"

namespace orch::client {

struct EventRecorderOptions {
  // source.component and reportingComponent ("replicaset-controller", "default-scheduler",
  // "kubelet"). Default: "".
  std::string component{};
  // source.host and reportingInstance (the node name for agents). Default: "".
  std::string host{};
  // Timestamps come from here. Default: real_clock().
  util::Clock* clock = nullptr;
  // Default: 1000.
  std::size_t max_queued = 1000;
};

class EventRecorder {
 public:
  EventRecorder(std::shared_ptr<Client> client, EventRecorderOptions options);
  // flush()es for up to 2 s, then stops the writer thread.
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Records an event about `object` (a whole object: apiVersion, kind and metadata are read from
  // it). `type` is "Normal" or "Warning".
  void event(const boost::json::value& object, std::string_view type, std::string_view reason,
             std::string_view message);
  // Records an event about the object `ref` names.
  void event(const api::ObjectReference& ref, std::string_view type, std::string_view reason,
             std::string_view message);

  // Waits until every event recorded so far was written or dropped. False on timeout.
  bool flush(std::chrono::milliseconds timeout);

 private:
  struct Pending {
    api::ObjectReference ref;
    std::string type, reason, message;
    util::Clock::SystemTimePoint at;
  };
  struct Seen {
    std::string ns, name;  // the Event object
    std::int32_t count = 0;
    util::Clock::SystemTimePoint last;
  };
  void run();
  void write(const Pending& p);

  // Const after construction.
  const std::shared_ptr<Client> client_;
  const EventRecorderOptions options_;
  util::Clock* const clock_;

  std::mutex mu_;  // lock order: leaf
  std::condition_variable cv_;
  // Guarded by mu_.
  std::deque<Pending> queue_;
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
  // Writer thread only: aggregation key -> the Event written for it; a sequence for names.
  std::unordered_map<std::string, Seen> seen_;
  std::uint32_t next_seq_ = 0;
  std::thread thread_;
};

}  // namespace orch::client
