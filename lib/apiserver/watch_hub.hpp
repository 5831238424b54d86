// WatchHub: the API server's one watch on the store, fanned out to every client watch.
//
// One thread reads the store's event stream for "/registry/", decodes each object once (JSON,
// with metadata.resourceVersion set to the event's revision), and appends it to the queue of
// every subscription whose key prefix and filter it matches. Queues are bounded: a subscriber
// that falls behind is ended (its client re-watches from the last revision it saw) and never
// slows the store's writer or another subscriber.
//
// A subscription from an older revision first catches up from the store's history, then joins
// the live stream at the exact revision the hub had reached, so nothing is missed or repeated.
//
// Thread-safety: every method may be called from any thread. Lock order: mu_ only; notify
// callbacks run outside it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/json/value.hpp>

#include "orch/status.hpp"
#include "orch/store/store.hpp"

namespace orch::apiserver {

using JsonPtr = std::shared_ptr<const boost::json::value>;

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted };
  Type type = Type::kAdded;
  store::Revision revision = 0;
  JsonPtr object;  // the object as the client sees it (resourceVersion = revision)
  // `object` serialized once for every watcher that wants plain JSON (null when not computed).
  std::shared_ptr<const std::string> text;
};

std::string_view watch_event_type_name(WatchEvent::Type type);  // "ADDED", ...

// Decodes a stored value and sets metadata.resourceVersion. Null on a value that is not a JSON
// object (never written by the API server).
JsonPtr decode_stored(const std::string& value, store::Revision revision);

class WatchHub;

class Subscription {
 public:
  // Events available now, waiting up to `timeout` for the first. nullopt once ended and drained;
  // end_status() then says why (OutOfRange: history gone; ResourceExhausted: fell behind;
  // Unavailable: closed).
  std::optional<std::vector<WatchEvent>> poll(std::chrono::milliseconds timeout);
  Status end_status() const;
  // The revision this subscriber has seen everything up to (for bookmarks): only meaningful when
  // poll() just returned nothing.
  store::Revision progress() const;
  void set_notify(std::function<void()> notify);
  void close();
  ~Subscription();

 private:
  friend class WatchHub;
  explicit Subscription(std::shared_ptr<WatchHub> hub) : hub_(std::move(hub)) {}

  std::shared_ptr<WatchHub> hub_;
  // Guarded by hub_->mu_:
  std::string prefix_;
  // The subscriber wants events after this revision only. The hub may lag the store, so a
  // subscription made at a revision the hub has not reached yet must skip the events up to it.
  store::Revision after_ = 0;
  std::function<bool(const boost::json::value&)> filter_;
  std::deque<WatchEvent> queue_;
  std::size_t limit_ = 0;
  bool catching_up_ = false;
  std::vector<WatchEvent> live_during_catch_up_;
  bool ended_ = false;
  Status end_status_;
  std::function<void()> notify_;
};

class WatchHub : public std::enable_shared_from_this<WatchHub> {
 public:
  // Starts the hub at the store's current revision. `buffer`: events queued per subscriber before
  // it is ended as fallen behind.
  static Result<std::shared_ptr<WatchHub>> start(store::Store& store, std::size_t buffer = 10000);
  ~WatchHub();
  // Ends every subscription (Unavailable) and the hub thread. Idempotent.
  void stop();

  // Events for keys under `prefix` with revision > after, for which `filter` holds on the new or
  // the old object (a change that moves an object out of the filter is a DELETED event, into it an
  // ADDED one). OutOfRange when `after` is older than the store's history.
  Result<std::shared_ptr<Subscription>> subscribe(
      const std::string& prefix, store::Revision after,
      std::function<bool(const boost::json::value&)> filter);

  // The last revision the hub has dispatched.
  store::Revision revision() const;

 private:
  friend class Subscription;
  explicit WatchHub(store::Store& store, std::size_t buffer) : store_(store), buffer_(buffer) {}
  void run(store::Revision from);
  // An object of an event, decoded and serialized once for all subscribers.
  struct Decoded {
    JsonPtr object;
    std::shared_ptr<const std::string> text;
  };
  static std::pair<Decoded, Decoded> decode_event(const store::Event& e);
  // Appends `e` (store form) to `s` if it matches; returns whether it was queued. mu_ held.
  static bool offer(Subscription& s, const store::Event& e, const Decoded& now,
                    const Decoded& before, std::vector<std::function<void()>>& to_notify,
                    std::size_t limit);
  void end_locked(Subscription& s, Status why, std::vector<std::function<void()>>& to_notify);

  store::Store& store_;
  const std::size_t buffer_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // signalled when any subscriber queue gets events
  std::vector<Subscription*> subs_;  // guarded by mu_
  store::Revision revision_ = 0;     // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  std::unique_ptr<store::Watch> watch_;  // the store watch; closed by stop()
};

}  // namespace orch::apiserver
