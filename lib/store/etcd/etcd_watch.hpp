// Watches of the etcd backend: one streaming POST /v3/watch per Watch, all of a store's streams
// driven by one thread (WatchPump, a curl multi handle).
//
// Why one stream per watch and not one multiplexed stream: through the JSON gateway a watch
// stream's requests are the HTTP request body, which is sent before the response starts (Go's
// HTTP/1.1 server of etcd 3.4 does not read a body while streaming the response), so watches
// cannot be added to or cancelled on a running stream. One stream each also isolates them: a
// watch that falls behind, is cancelled or fails over never disturbs another, and its events need
// no watch_id demultiplexing (the first id, 0, is omitted on the wire). The API server holds few
// store watches (it fans out to its clients itself), so the cost is a few TCP connections.
//
// A stream that ends or fails (member killed, "no leader" with the require-leader metadata, any
// error line) is started again on the next endpoint from the watch's progress + 1, after a short
// backoff; events therefore arrive in order with none missed or repeated. A cancel carrying
// compact_revision ends the watch with OutOfRange.
//
// Progress and "synced" (why compaction needs care): etcd 3.4 registers a watcher whose
// start_revision is at or below its current revision as "unsynced" and catches it up only in a
// background loop (every 100 ms). Until then a compaction past its start cancels it with
// compact_revision, even when it had nothing to miss; and a catch-up that finds no event sends
// nothing, so the client cannot see that it ended. (The stream-wide progress_request of 3.4.23 is
// no help: it answers with the current revision before the catch-up events.) So the pump tracks,
// per watch, a progress revision (every matching event up to it was received: the last event, or a
// per-watch progress notification, which etcd sends only to synced watchers) and whether the
// watcher is synced: created with a start above the creation revision, a batch of fewer than 1000
// revisions (etcd's catch-up batch limit), or a progress notification. A watcher that stayed
// quiet for kAssumeSyncedAfter after "created" is taken as synced (etcd's loop has run 3 times).
// EtcdStore::compact waits (bounded) until every live watch of the store is synced or past the
// compaction point before it compacts, so its own watches never see a spurious 410; and streams
// restart from the progress revision, so a reconnect after a quiet period does not start below a
// compaction that happened meanwhile.
//
// Thread-safety: WatchState is shared by its Watch (the consumer), the pump thread and the store;
// its fields are guarded by WatchState::mu (a leaf). The pump's command queue is guarded by
// WatchPump::mu_ (taken before no other lock; it never calls out while holding it).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "etcd/etcd_client.hpp"
#include "orch/store/store.hpp"

namespace orch::store::etcd {

class WatchPump;

struct WatchState {
  // Const after construction.
  std::string wire_key;         // range start on the wire (prefix + watched prefix)
  std::string wire_end;         // range end on the wire ("\0" = no end)
  std::string strip;            // the store's key prefix, removed from returned keys
  std::size_t capacity = 1024;  // buffered events before the watch is ended (ResourceExhausted)
  Revision after = 0;           // the caller's after_revision

  std::mutex mu;  // leaf
  // Guarded by mu.
  std::condition_variable cv;
  std::deque<Event> events;
  Status end;              // set once the stream is over for good
  bool closed = false;     // by the caller
  bool started = false;    // handed to the pump
  Revision received = 0;   // progress: every matching event up to it was received (or after)
  Revision delivered = 0;  // the last revision next() returned (or after)
  // Whether etcd has caught the current stream's watcher up (see above), or when to assume so.
  bool synced = false;
  std::chrono::steady_clock::time_point assume_synced_at =
      std::chrono::steady_clock::time_point::max();

  // Appends decoded events (pump thread). Returns false when the watch has ended (buffer full).
  bool push(std::vector<Event> batch);
  // Every matching event up to `revision` has been received, and the watcher is synced.
  void progress(Revision revision);
  // The watcher is synced (its progress is still its last event).
  void mark_synced();
  // Whether a compaction at `revision` cannot cancel this watch's stream: ended, synced, or its
  // progress is at or past revision - 1.
  bool compaction_safe(Revision revision);
  void finish(Status status);  // ends the watch unless it already ended
  bool done();                 // ended or closed
};

class WatchPump {
 public:
  explicit WatchPump(std::shared_ptr<EtcdClient> client);
  ~WatchPump();  // calls shutdown()
  WatchPump(const WatchPump&) = delete;
  WatchPump& operator=(const WatchPump&) = delete;

  // Starts streaming `state` (events after state->received). Unavailable after shutdown.
  Status add(std::shared_ptr<WatchState> state);
  // Wakes the pump so that it drops closed watches.
  void wake();
  // Ends every watch with Unavailable and stops the thread. Idempotent.
  void shutdown();
  // Waits until every started watch is compaction_safe(revision), or `deadline`. Returns whether
  // they all were. Any thread.
  bool wait_compaction_safe(Revision revision, std::chrono::steady_clock::time_point deadline);

  EtcdClient& client() { return *client_; }

 private:
  struct Stream;
  void run();
  void start_transfer(Stream& s);
  void end_transfer(Stream& s);
  static size_t on_write(char* data, size_t size, size_t n, void* user);
  // Handles one line of the stream. Returns false to abort the transfer.
  static bool on_line(Stream& s, std::string_view line);

  const std::shared_ptr<EtcdClient> client_;
  void* multi_ = nullptr;  // CURLM*, pump thread only (and wake(): curl_multi_wakeup)

  std::mutex mu_;
  // Guarded by mu_.
  std::vector<std::shared_ptr<WatchState>> incoming_;
  std::vector<std::weak_ptr<WatchState>> started_;  // every watch handed to add()
  bool stopping_ = false;

  // Pump thread only.
  std::vector<std::unique_ptr<Stream>> streams_;

  std::thread thread_;
};

// The Watch handed to the caller.
class EtcdWatch final : public Watch {
 public:
  EtcdWatch(std::shared_ptr<WatchState> state, std::weak_ptr<WatchPump> pump);
  ~EtcdWatch() override;
  Result<std::vector<Event>> next(std::chrono::milliseconds timeout) override;
  Revision resume_revision() const override;
  void close() override;

 private:
  const std::shared_ptr<WatchState> state_;
  const std::weak_ptr<WatchPump> pump_;
};

// Converts an etcd mvccpb.KeyValue (JSON) to ours: key without `strip`, revisions mapped.
KeyValue decode_kv(const json::object& kv, const std::string& strip);

// Whether etcd still has revision `etcd_revision` (a count-only range at it is not "compacted").
// OutOfRange when compacted; OK for readable or future revisions; other errors as they come.
Status probe_revision(EtcdClient& client, std::int64_t etcd_revision,
                      std::chrono::steady_clock::time_point deadline);

}  // namespace orch::store::etcd
