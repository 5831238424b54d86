// Watch delivery for the SQLite store: the hub the writer publishes committed events to, and the
// Watch handed to consumers.
//
// A watch starts "catching up": its consumer reads the log (on a pooled read connection, inside
// next()) from after_revision up to the hub's published revision P, read under the hub mutex. When
// a catch-up read reaches P and, under the hub mutex, P has not moved, the watch becomes "synced":
// from then on the writer, which publishes each group's events under the same mutex right after
// COMMIT, pushes every matching event into the watch's bounded buffer. Every event is therefore
// read from the log (revision <= P) or pushed live (revision > P), never both, never neither.
// A synced watch whose buffer is full when an event arrives is ended with ResourceExhausted; it
// keeps what it buffered, so the consumer loses nothing before the end and resumes from
// resume_revision(). The writer never blocks on a consumer.
//
// Thread-safety: WatchHub is safe from any thread. Lock order: WatchHub::mu_, then
// WatcherState::mu. SqliteWatch follows the Watch contract (one consumer thread; close() from any
// thread).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "orch/status.hpp"
#include "orch/store/store.hpp"
#include "sqlite/read_pool.hpp"

namespace orch::store::sqlite {

using EventPtr = std::shared_ptr<const Event>;

// What the hub and one watch share.
struct WatcherState {
  WatcherState(std::string prefix_in, Revision after, std::size_t capacity_in)
      : prefix(std::move(prefix_in)), start_after(after), capacity(capacity_in) {}

  // Const after construction.
  const std::string prefix;
  const Revision start_after;  // never deliver an event at or below this revision
  const std::size_t capacity;  // buffered events before the watch counts as fallen behind

  // Guarded by mu (lock order: after WatchHub::mu_).
  std::mutex mu;
  std::condition_variable cv;
  std::deque<EventPtr> buffer;
  std::optional<Status> end;  // why the watch ended, once it has
  bool synced = false;        // written under both WatchHub::mu_ and mu; read under either
};

class WatchHub {
 public:
  explicit WatchHub(Revision published) : published_(published) {}

  // Registers a catching-up watcher. Unavailable after shutdown.
  Status add(const std::shared_ptr<WatcherState>& watcher);
  // The revision up to which events have been published (every event <= it is committed).
  Revision published() const;
  // If nothing was published after `caught_up`, marks the watcher synced and returns true;
  // otherwise returns false and the watcher must catch up to published() again.
  bool try_sync(const std::shared_ptr<WatcherState>& watcher, Revision caught_up);
  // Writer thread, after COMMIT: hands `events` (revision order; the group's last revision is
  // `last`) to synced watchers and advances published() to `last`.
  void publish(const std::vector<EventPtr>& events, Revision last);
  // Ends `watcher` with `why` unless it has already ended, and forgets it.
  void end(const std::shared_ptr<WatcherState>& watcher, Status why);
  // Ends every watcher with Unavailable; later add() calls fail.
  void shutdown();
  std::size_t size_for_test() const;

 private:
  // Ends a watcher; requires mu_ held. Does not erase from all_.
  static void end_locked(WatcherState& watcher, Status why);

  mutable std::mutex mu_;  // lock order: before every WatcherState::mu
  // Guarded by mu_.
  Revision published_;
  bool closed_ = false;
  std::unordered_map<WatcherState*, std::shared_ptr<WatcherState>> all_;
};

// The Watch returned by SqliteStore::watch.
class SqliteWatch final : public Watch {
 public:
  SqliteWatch(std::shared_ptr<WatchHub> hub, std::shared_ptr<ReadPool> pool,
              std::shared_ptr<WatcherState> state);
  ~SqliteWatch() override;

  Result<std::vector<Event>> next(std::chrono::milliseconds timeout) override;
  Revision resume_revision() const override;
  void close() override;

 private:
  // One catch-up step: reads the log after caught_up_ (up to the published revision) or, when
  // there is nothing left to read, tries to become synced. Returns the events read, possibly none.
  Result<std::vector<Event>> catch_up();
  // With state_->mu held by `lock`: takes what the buffer holds (releasing the lock before copying
  // the events), or returns the end Status once the buffer is empty and the watch has ended.
  std::optional<Result<std::vector<Event>>> take(std::unique_lock<std::mutex>& lock);

  // Const after construction.
  const std::shared_ptr<WatchHub> hub_;
  const std::shared_ptr<ReadPool> pool_;
  const std::shared_ptr<WatcherState> state_;

  // Owned by the consumer thread (next()).
  Revision caught_up_;  // every matching event <= this has been returned (catch-up phase)

  // Guarded by state_->mu.
  Revision resume_;  // last revision returned by next()
};

}  // namespace orch::store::sqlite
