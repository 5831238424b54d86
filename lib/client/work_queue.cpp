// WorkQueue. Thread-safety: all state under mu_; the clock listener takes mu_ only to notify, so
// a waiter that checked the clock under mu_ cannot miss a fake-clock jump.
#include "orch/client/work_queue.hpp"

#include <algorithm>

namespace orch::client {

using std::chrono::steady_clock;

WorkQueue::WorkQueue(WorkQueueOptions options)
    : clock_(options.clock ? options.clock : &util::real_clock()),
      base_delay_(options.base_delay),
      max_delay_(options.max_delay) {
  listener_id_ = clock_->add_listener([this] {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  });
}

WorkQueue::~WorkQueue() {
  clock_->remove_listener(listener_id_);
  shut_down();
}

void WorkQueue::add_locked(const std::string& key) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;  // already queued (or queued again after done())
  if (processing_.contains(key)) return;   // done() queues it
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::promote_locked() {
  if (delayed_.empty()) return;
  auto now = clock_->now();
  while (!delayed_.empty() && delayed_.top().ready <= now) {
    Delayed d = delayed_.top();
    delayed_.pop();
    auto it = delayed_ready_.find(d.key);
    if (it == delayed_ready_.end() || it->second != d.ready) continue;  // stale entry
    delayed_ready_.erase(it);
    add_locked(d.key);
  }
}

void WorkQueue::add(std::string_view key) {
  std::lock_guard lock(mu_);
  add_locked(std::string(key));
}

void WorkQueue::add_after(std::string_view key_view, std::chrono::nanoseconds delay) {
  std::lock_guard lock(mu_);
  if (shutting_down_) return;
  std::string key(key_view);
  if (delay.count() <= 0) {
    add_locked(key);
    return;
  }
  auto ready = clock_->now() + std::chrono::duration_cast<util::Clock::TimePoint::duration>(delay);
  auto it = delayed_ready_.find(key);
  if (it != delayed_ready_.end() && it->second <= ready) return;  // keep the earlier time
  delayed_ready_[key] = ready;
  delayed_.push(Delayed{ready, next_seq_++, std::move(key)});
  cv_.notify_all();  // a waiting get() may need to wake sooner
}

void WorkQueue::add_rate_limited(std::string_view key) {
  std::chrono::nanoseconds delay;
  {
    std::lock_guard lock(mu_);
    int n = failures_[std::string(key)]++;
    // base * 2^n, without overflow: stop doubling once past the cap.
    delay = base_delay_;
    for (int i = 0; i < n && delay < max_delay_; ++i) delay *= 2;
    delay = std::min(delay, max_delay_);
  }
  add_after(key, delay);
}

void WorkQueue::forget(std::string_view key) {
  std::lock_guard lock(mu_);
  failures_.erase(std::string(key));
}

int WorkQueue::num_requeues(std::string_view key) const {
  std::lock_guard lock(mu_);
  auto it = failures_.find(std::string(key));
  return it == failures_.end() ? 0 : it->second;
}

std::optional<std::string> WorkQueue::get(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  auto deadline = steady_clock::now() + timeout;
  while (true) {
    promote_locked();
    if (!queue_.empty()) {
      std::string key = std::move(queue_.front());
      queue_.pop_front();
      dirty_.erase(key);
      processing_.insert(key);
      return key;
    }
    if (shutting_down_) return std::nullopt;
    auto real_now = steady_clock::now();
    if (real_now >= deadline) return std::nullopt;
    auto wake = deadline;
    if (!delayed_.empty()) {
      // On a real clock this is exact; on a fake one the listener wakes us when time jumps.
      auto left = delayed_.top().ready - clock_->now();
      if (left.count() < 0) left = left.zero();
      wake = std::min(wake, real_now + std::chrono::duration_cast<steady_clock::duration>(left));
    }
    cv_.wait_until(lock, wake);
  }
}

void WorkQueue::done(std::string_view key_view) {
  std::lock_guard lock(mu_);
  std::string key(key_view);
  processing_.erase(key);
  if (dirty_.contains(key)) queue_.push_back(std::move(key));
  cv_.notify_all();  // a get() for the re-queued key, or a drain waiting for the last done()
}

void WorkQueue::shut_down() {
  std::lock_guard lock(mu_);
  shutting_down_ = true;
  delayed_ = {};
  delayed_ready_.clear();
  cv_.notify_all();
}

bool WorkQueue::shut_down_with_drain(std::chrono::milliseconds timeout) {
  shut_down();
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return queue_.empty() && processing_.empty(); });
}

bool WorkQueue::shutting_down() const {
  std::lock_guard lock(mu_);
  return shutting_down_;
}

std::size_t WorkQueue::len() {
  std::lock_guard lock(mu_);
  promote_locked();
  return queue_.size();
}

std::size_t WorkQueue::num_delayed() {
  std::lock_guard lock(mu_);
  promote_locked();
  return delayed_ready_.size();
}

}  // namespace orch::client
