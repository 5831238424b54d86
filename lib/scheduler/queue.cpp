// SchedulingQueue: activeQ, backoffQ, unschedulable set. Thread-safety: see queue.hpp.
#include "orch/scheduler/queue.hpp"

#include <algorithm>

namespace orch::scheduler {

namespace {
// How often pop() re-checks the backoff queue when nothing else wakes it.
constexpr std::chrono::milliseconds kMaxWait{1000};
// How often long-waiting unschedulable pods are checked (kube-scheduler: 30 s).
constexpr std::chrono::seconds kUnschedulableFlushInterval{30};
}  // namespace

SchedulingQueue::SchedulingQueue(util::Clock& clock, QueueOptions options)
    : clock_(clock), options_(options) {
  last_unschedulable_flush_ = clock_.now();
  listener_id_ = clock_.add_listener([this] {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  });
}

SchedulingQueue::~SchedulingQueue() {
  clock_.remove_listener(listener_id_);
  close();
}

std::chrono::milliseconds SchedulingQueue::backoff_duration(int attempts) const {
  auto d = options_.initial_backoff;
  for (int i = 1; i < attempts; ++i) {
    d *= 2;
    if (d > options_.max_backoff) return options_.max_backoff;
  }
  return std::min(d, options_.max_backoff);
}

util::Clock::TimePoint SchedulingQueue::backoff_expiry(const QueuedPod& qp) const {
  return qp.timestamp + backoff_duration(qp.attempts);
}

void SchedulingQueue::erase_locked(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  switch (it->second.where) {
    case Entry::Where::kActive:
      active_.erase(it->second.active_key);
      break;
    case Entry::Where::kBackoff:
      backoff_.erase(it->second.backoff_key);
      break;
    case Entry::Where::kUnschedulable:
      break;
  }
  entries_.erase(it);
}

void SchedulingQueue::push_active_locked(QueuedPod qp) {
  const std::string key = qp.pod->key;
  erase_locked(key);
  Entry e{std::move(qp), Entry::Where::kActive};
  e.active_key = {-static_cast<std::int64_t>(e.qp.pod->priority), e.qp.timestamp, ++seq_};
  active_.emplace(e.active_key, key);
  entries_.emplace(key, std::move(e));
  cv_.notify_one();
}

void SchedulingQueue::push_backoff_locked(QueuedPod qp) {
  const std::string key = qp.pod->key;
  erase_locked(key);
  Entry e{std::move(qp), Entry::Where::kBackoff};
  e.backoff_key = {backoff_expiry(e.qp), ++seq_};
  backoff_.emplace(e.backoff_key, key);
  entries_.emplace(key, std::move(e));
  cv_.notify_one();
}

void SchedulingQueue::push_unschedulable_locked(QueuedPod qp) {
  const std::string key = qp.pod->key;
  erase_locked(key);
  entries_.emplace(key, Entry{std::move(qp), Entry::Where::kUnschedulable});
}

void SchedulingQueue::add(const PodInfoPtr& pod) {
  std::lock_guard lock(mu_);
  QueuedPod qp;
  auto it = entries_.find(pod->key);
  if (it != entries_.end()) {
    qp = it->second.qp;
  } else {
    qp.initial_attempt = clock_.now();
  }
  qp.pod = pod;
  qp.timestamp = clock_.now();
  push_active_locked(std::move(qp));
}

void SchedulingQueue::update(const PodInfoPtr& pod, bool relevant) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(pod->key);
  if (it == entries_.end()) {
    if (in_flight_.contains(pod->key) && !relevant) return;
    if (in_flight_.contains(pod->key)) {
      // Changed while being scheduled: try it again after this cycle.
      QueuedPod qp;
      qp.pod = pod;
      qp.timestamp = qp.initial_attempt = clock_.now();
      push_active_locked(std::move(qp));
      return;
    }
    QueuedPod qp;
    qp.pod = pod;
    qp.timestamp = qp.initial_attempt = clock_.now();
    push_active_locked(std::move(qp));
    return;
  }
  Entry& e = it->second;
  if (!relevant || e.where == Entry::Where::kActive) {
    e.qp.pod = pod;
    return;
  }
  QueuedPod qp = e.qp;
  qp.pod = pod;
  if (e.where == Entry::Where::kBackoff || clock_.now() >= backoff_expiry(qp)) {
    push_active_locked(std::move(qp));
  } else {
    push_backoff_locked(std::move(qp));
  }
}

void SchedulingQueue::remove(const std::string& key) {
  std::lock_guard lock(mu_);
  erase_locked(key);
  in_flight_.erase(key);
}

void SchedulingQueue::flush_locked() {
  const auto now = clock_.now();
  while (!backoff_.empty() && std::get<0>(backoff_.begin()->first) <= now) {
    std::string key = backoff_.begin()->second;
    QueuedPod qp = entries_.at(key).qp;
    push_active_locked(std::move(qp));
  }
  if (now - last_unschedulable_flush_ >= kUnschedulableFlushInterval) {
    last_unschedulable_flush_ = now;
    std::vector<std::string> due;
    for (const auto& [key, e] : entries_) {
      if (e.where == Entry::Where::kUnschedulable &&
          now - e.qp.timestamp >= options_.max_unschedulable_duration) {
        due.push_back(key);
      }
    }
    for (const auto& key : due) {
      QueuedPod qp = entries_.at(key).qp;
      if (now >= backoff_expiry(qp)) {
        push_active_locked(std::move(qp));
      } else {
        push_backoff_locked(std::move(qp));
      }
    }
  }
}

void SchedulingQueue::flush() {
  std::lock_guard lock(mu_);
  flush_locked();
}

std::optional<QueuedPod> SchedulingQueue::pop_locked() {
  if (active_.empty()) return std::nullopt;
  auto it = active_.begin();
  std::string key = it->second;
  active_.erase(it);
  auto e = entries_.find(key);
  QueuedPod qp = std::move(e->second.qp);
  entries_.erase(e);
  ++qp.attempts;
  qp.cycle = ++cycle_;
  in_flight_[key] = qp.cycle;
  return qp;
}

std::optional<QueuedPod> SchedulingQueue::try_pop() {
  std::lock_guard lock(mu_);
  flush_locked();
  return pop_locked();
}

std::optional<QueuedPod> SchedulingQueue::pop() {
  std::unique_lock lock(mu_);
  while (!closed_) {
    flush_locked();
    if (auto qp = pop_locked()) return qp;
    auto wait = kMaxWait;
    if (!backoff_.empty()) {
      auto until = std::get<0>(backoff_.begin()->first) - clock_.now();
      wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(until) +
                            std::chrono::milliseconds(1),
                        std::chrono::milliseconds(1), kMaxWait);
    }
    cv_.wait_for(lock, wait);
  }
  return std::nullopt;
}

void SchedulingQueue::add_unschedulable(QueuedPod qp) {
  std::lock_guard lock(mu_);
  const std::string key = qp.pod->key;
  auto f = in_flight_.find(key);
  const bool was_in_flight = f != in_flight_.end();
  if (was_in_flight) in_flight_.erase(f);
  if (entries_.contains(key) || !was_in_flight) return;  // re-added meanwhile, or removed
  qp.timestamp = clock_.now();
  if (move_request_cycle_ >= qp.cycle) {
    push_backoff_locked(std::move(qp));
  } else {
    push_unschedulable_locked(std::move(qp));
  }
}

void SchedulingQueue::add_backoff(QueuedPod qp) {
  std::lock_guard lock(mu_);
  const std::string key = qp.pod->key;
  const bool was_in_flight = in_flight_.erase(key) > 0;
  if (entries_.contains(key) || !was_in_flight) return;  // re-added meanwhile, or removed
  qp.timestamp = clock_.now();
  push_backoff_locked(std::move(qp));
}

void SchedulingQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  in_flight_.erase(key);
}

void SchedulingQueue::move_all_to_active_or_backoff() {
  std::lock_guard lock(mu_);
  move_request_cycle_ = cycle_;
  std::vector<std::string> keys;
  for (const auto& [key, e] : entries_) {
    if (e.where == Entry::Where::kUnschedulable) keys.push_back(key);
  }
  const auto now = clock_.now();
  for (const auto& key : keys) {
    QueuedPod qp = entries_.at(key).qp;
    if (now >= backoff_expiry(qp)) {
      push_active_locked(std::move(qp));
    } else {
      push_backoff_locked(std::move(qp));
    }
  }
}

void SchedulingQueue::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

std::size_t SchedulingQueue::active_size() const {
  std::lock_guard lock(mu_);
  return active_.size();
}
std::size_t SchedulingQueue::backoff_size() const {
  std::lock_guard lock(mu_);
  return backoff_.size();
}
std::size_t SchedulingQueue::unschedulable_size() const {
  std::lock_guard lock(mu_);
  return entries_.size() - active_.size() - backoff_.size();
}

}  // namespace orch::scheduler
