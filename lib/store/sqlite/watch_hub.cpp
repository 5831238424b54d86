// Watch hub and SqliteWatch (see watch_hub.hpp for the catch-up -> synced handoff).
// Thread-safety: WatchHub::mu_ before WatcherState::mu; SqliteWatch's catch-up state belongs to
// the consumer thread.
#include "sqlite/watch_hub.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include <fmt/format.h>

#include "key_range.hpp"

namespace orch::store::sqlite {
namespace {

// Log rows read per catch-up step at most, whatever the buffer size.
constexpr std::int64_t kMaxCatchUpChunk = 4096;

}  // namespace

Status WatchHub::add(const std::shared_ptr<WatcherState>& watcher) {
  std::lock_guard lock(mu_);
  if (closed_) return unavailable("store closed");
  all_.emplace(watcher.get(), watcher);
  return ok_status();
}

Revision WatchHub::published() const {
  std::lock_guard lock(mu_);
  return published_;
}

bool WatchHub::try_sync(const std::shared_ptr<WatcherState>& watcher, Revision caught_up) {
  std::lock_guard lock(mu_);
  if (published_ > caught_up) return false;
  std::lock_guard wlock(watcher->mu);
  watcher->synced = true;  // an ended watcher stays ended; publish() skips it (it is not in all_)
  return true;
}

void WatchHub::publish(const std::vector<EventPtr>& events, Revision last) {
  std::lock_guard lock(mu_);
  published_ = std::max(published_, last);
  if (events.empty()) return;
  for (auto it = all_.begin(); it != all_.end();) {
    WatcherState& w = *it->second;
    bool ended = false;
    {
      std::lock_guard wlock(w.mu);
      if (!w.synced || w.end.has_value()) {
        ++it;
        continue;
      }
      bool pushed = false;
      for (const EventPtr& ev : events) {
        if (ev->revision() <= w.start_after || !has_prefix(ev->kv.key, w.prefix)) continue;
        if (w.buffer.size() >= w.capacity) {
          end_locked(w, Status(Code::kResourceExhausted,
                               fmt::format("watch fell behind: its buffer of {} events was full "
                                           "at revision {}; watch again from resume_revision()",
                                           w.capacity, ev->revision())));
          ended = true;
          break;
        }
        w.buffer.push_back(ev);
        pushed = true;
      }
      if (pushed && !ended) w.cv.notify_all();
    }
    it = ended ? all_.erase(it) : std::next(it);
  }
}

void WatchHub::end(const std::shared_ptr<WatcherState>& watcher, Status why) {
  std::lock_guard lock(mu_);
  {
    std::lock_guard wlock(watcher->mu);
    end_locked(*watcher, std::move(why));
  }
  all_.erase(watcher.get());
}

void WatchHub::shutdown() {
  std::lock_guard lock(mu_);
  closed_ = true;
  for (auto& [ptr, w] : all_) {
    std::lock_guard wlock(w->mu);
    end_locked(*w, unavailable("store closed"));
  }
  all_.clear();
}

std::size_t WatchHub::size_for_test() const {
  std::lock_guard lock(mu_);
  return all_.size();
}

void WatchHub::end_locked(WatcherState& watcher, Status why) {
  if (watcher.end.has_value()) return;
  watcher.end = std::move(why);
  watcher.cv.notify_all();
}

SqliteWatch::SqliteWatch(std::shared_ptr<WatchHub> hub, std::shared_ptr<ReadPool> pool,
                         std::shared_ptr<WatcherState> state)
    : hub_(std::move(hub)),
      pool_(std::move(pool)),
      state_(std::move(state)),
      caught_up_(state_->start_after),
      resume_(state_->start_after) {}

SqliteWatch::~SqliteWatch() { close(); }

void SqliteWatch::close() { hub_->end(state_, unavailable("watch closed")); }

Revision SqliteWatch::resume_revision() const {
  std::lock_guard lock(state_->mu);
  return resume_;
}

std::optional<Result<std::vector<Event>>> SqliteWatch::take(std::unique_lock<std::mutex>& lock) {
  if (!state_->buffer.empty()) {
    // Take the shared events under the lock, copy them out after: the writer pushes under this
    // lock and must not wait for the copies.
    std::deque<EventPtr> taken;
    taken.swap(state_->buffer);
    resume_ = taken.back()->revision();
    lock.unlock();
    std::vector<Event> out;
    out.reserve(taken.size());
    for (const EventPtr& ev : taken) out.push_back(*ev);
    return Result<std::vector<Event>>(std::move(out));
  }
  if (state_->end.has_value()) return Result<std::vector<Event>>(*state_->end);
  return std::nullopt;
}

Result<std::vector<Event>> SqliteWatch::catch_up() {
  const Revision target = hub_->published();
  if (caught_up_ >= target) {
    (void)hub_->try_sync(state_, caught_up_);  // false: more was published; read it next step
    return std::vector<Event>();
  }
  const auto limit = static_cast<std::int64_t>(
      std::clamp<std::size_t>(state_->capacity, 1, static_cast<std::size_t>(kMaxCatchUpChunk)));
  ORCH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  ORCH_ASSIGN_OR_RETURN(auto events,
                        read_events(*lease, state_->prefix, caught_up_, target, limit));
  caught_up_ = static_cast<std::int64_t>(events.size()) < limit ? target : events.back().revision();
  return events;
}

Result<std::vector<Event>> SqliteWatch::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool synced = false;
    {
      std::unique_lock lock(state_->mu);
      if (auto taken = take(lock)) return std::move(*taken);
      synced = state_->synced;
    }
    if (!synced) {
      auto events = catch_up();
      if (!events.ok()) {
        hub_->end(state_, events.status());
        continue;  // the next turn returns the end status
      }
      if (!events->empty()) {
        std::lock_guard lock(state_->mu);
        if (state_->end.has_value()) return *state_->end;  // closed meanwhile
        resume_ = events->back().revision();
        return events;
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::vector<Event>();
      continue;
    }
    std::unique_lock lock(state_->mu);
    if (!state_->cv.wait_until(
            lock, deadline, [&] { return !state_->buffer.empty() || state_->end.has_value(); })) {
      return std::vector<Event>();
    }
  }
}

}  // namespace orch::store::sqlite
