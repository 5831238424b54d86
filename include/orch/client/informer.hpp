// Informer: a local, indexed, always-catching-up copy of one resource (client-go's shared
// informer, simplified). Controllers read from it instead of the API server.
//
// - Lists (paged), replaces its cache, then watches from the list's resourceVersion with
//   bookmarks on. When the server ends the watch, it re-watches from the last resourceVersion it
//   saw (events and bookmarks both advance it). When the server says that version is too old
//   (410 -> OutOfRange), it relists and emits add/update/delete calls for the difference between
//   the old cache and the new list. Other errors back off (doubling, capped) and retry.
// - The cache is keyed by "namespace/name" ("name" for cluster-scoped objects) and holds
//   immutable shared objects: copy one before changing it.
// - Named indexers map an object to index values; by_index(name, value) answers from them.
//   Built-in index functions: by namespace, spec.nodeName, controller owner uid, a label's value.
// - Handlers are called on the informer's own thread, in registration order, after the cache
//   already reflects the change. A handler must not block for long (hand work to a WorkQueue).
//   A handler that throws is ignored (the exception never leaves the informer's thread).
// - resync_period > 0: every period, on_update(obj, obj) for every cached object.
//
// Thread-safety: every method may be called from any thread. add_event_handler and start are
// meant to be called before start (handlers added after start are refused). stop() joins the
// informer's thread; called from a handler it only asks the thread to end (a later stop() or the
// destructor, from another thread, joins it). Lock order: lifecycle_mu_, then mu_; handlers run
// without either.
#pragma once

#include <boost/json/value.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "orch/client/client.hpp"
#include "orch/client/resource.hpp"
#include "orch/status.hpp"

namespace orch::client {

using SharedObject = std::shared_ptr<const boost::json::value>;
// Index values of an object (none: not indexed).
using IndexFunc = std::function<std::vector<std::string>(const boost::json::value&)>;

struct EventHandlers {
  std::function<void(const SharedObject& object)> on_add;
  std::function<void(const SharedObject& old_object, const SharedObject& new_object)> on_update;
  // The object's last known state.
  std::function<void(const SharedObject& object)> on_delete;
};

struct InformerOptions {
  // Only this namespace; "" for all. Default: "".
  std::string namespace_{};
  // Default: "".
  std::string label_selector{};
  std::string field_selector{};
  // Period of on_update(obj, obj) for every cached object; zero disables. Default: 0.
  std::chrono::milliseconds resync_period{0};
  // List page size. Default: 500.
  std::int64_t page_size = 500;
  // Each watch asks the server to end it after a random time in [min, 2*min), spreading
  // re-watches as client-go does. Default: 300 s.
  std::chrono::seconds watch_timeout{300};
  // Backoff after an error: starts here, doubles, capped at backoff_max, reset on success.
  // Default: 800 ms, 30 s.
  std::chrono::milliseconds backoff_initial{800};
  std::chrono::milliseconds backoff_max{30'000};
};

// Built-in index functions.
// The object's namespace (kIndexNamespace).
IndexFunc index_by_namespace();
// spec.nodeName, when set (pods on a node).
IndexFunc index_by_node_name();
// The uid of the ownerReference with controller: true.
IndexFunc index_by_controller_uid();
// The value of label `key`, when present.
IndexFunc index_by_label(std::string key);
inline constexpr std::string_view kIndexNamespace = "namespace";
inline constexpr std::string_view kIndexNodeName = "spec.nodeName";
inline constexpr std::string_view kIndexControllerUid = "controller-uid";

class Informer {
 public:
  Informer(std::shared_ptr<Client> client, Resource resource, InformerOptions options = {});
  // stop()s.
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Adds handlers. InvalidArgument after start().
  Status add_event_handler(EventHandlers handlers);
  // Adds (or replaces) an index; the current cache is indexed at once, so it may be called at
  // any time.
  void add_indexer(std::string name, IndexFunc fn);

  // Starts the informer's thread. InvalidArgument when already started (even if stopped since);
  // Internal when the thread cannot be started.
  Status start();
  // Stops and joins the thread (promptly: every wait inside is bounded). Idempotent. No handler
  // runs after it returns.
  void stop();
  // Asks the thread to end without waiting for it (stop() later joins). Lets a caller stopping
  // many informers overlap their endings.
  void request_stop();

  // True once the first list was in the cache and its add calls were made.
  bool has_synced() const;
  // Waits until has_synced() or `timeout` passes or the informer stops. Returns has_synced().
  bool wait_for_sync(std::chrono::milliseconds timeout) const;

  // The cached object, or null.
  SharedObject get(std::string_view ns, std::string_view name) const;
  SharedObject get_by_key(std::string_view key) const;
  // Every cached object (no particular order).
  std::vector<SharedObject> list() const;
  std::vector<std::string> list_keys() const;
  // Objects whose index `name` has `value`. NotFound when there is no such index.
  Result<std::vector<SharedObject>> by_index(std::string_view name, std::string_view value) const;
  // The resourceVersion the cache is current at (last list, event or bookmark); "" before sync.
  std::string last_sync_resource_version() const;
  // The last error the loop met (OK when the last list/watch succeeded). For diagnostics.
  Status last_error() const;

 private:
  struct Change {
    enum Kind { kAdd, kUpdate, kDelete } kind;
    SharedObject old_object;
    SharedObject new_object;
  };

  struct LoopState;
  void run();
  // One list-if-needed + watch round of the loop.
  void loop_once(LoopState& state);
  // Records `s`, sleeps the backoff (unless stopped), doubles it.
  void fail(LoopState& state, Status s);
  // Lists and replaces the cache, emitting the difference. Returns the list's resourceVersion.
  Result<std::string> relist();
  // Watches from `rv` until the stream ends (OK), an error, or stop.
  Status watch_once(std::string& rv);
  void apply_event(const WatchEvent& event, std::vector<Change>& changes);
  void index_locked(const std::string& key, const boost::json::value* old_object,
                    const boost::json::value* new_object);
  void emit(const std::vector<Change>& changes);
  void resync_if_due();
  // Sleeps up to `d` unless stopped. False when stopped.
  bool sleep_for(std::chrono::milliseconds d);
  bool stopping() const { return stop_.load(); }

  // Const after construction.
  const std::shared_ptr<Client> client_;
  const Resource resource_;
  const InformerOptions options_;

  std::atomic<bool> stop_{false};
  // Set by the informer thread as it starts; stop() from that thread must not join itself.
  std::atomic<std::thread::id> informer_thread_id_{};

  std::mutex lifecycle_mu_;  // lock order: before mu_; serializes start() and stop()
  // Guarded by lifecycle_mu_.
  std::thread thread_;
  bool started_ = false;

  mutable std::mutex mu_;  // lock order: leaf; never held while a handler runs
  mutable std::condition_variable cv_;
  // Guarded by mu_. handlers_ is frozen (and read by the informer thread without mu_) once
  // handlers_frozen_ is set, before the thread starts.
  std::vector<EventHandlers> handlers_;
  bool handlers_frozen_ = false;
  bool synced_ = false;
  std::string rv_;
  Status last_error_;
  std::unordered_map<std::string, SharedObject> items_;
  std::map<std::string, IndexFunc, std::less<>> indexers_;
  // index name -> value -> keys
  std::map<std::string, std::unordered_map<std::string, std::set<std::string>>, std::less<>>
      indices_;
  // Informer thread only.
  std::chrono::steady_clock::time_point next_resync_;
  bool last_watch_had_events_ = false;
};

}  // namespace orch::client
