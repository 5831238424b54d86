// Private to lib/controller: Kubernetes' (UIDTracking)ControllerExpectations, shared by the
// controllers that create and delete pods in batches (ReplicaSet, DaemonSet).
//
// Per owner key: how many creations and which deletions (pod keys) the controller asked for and
// the pod informer has not shown yet. A sync that acts on a pod list older than its own writes
// would act twice; the controller syncs only when its expectations are satisfied (or expired,
// after 5 minutes, in case an event was lost).
//
// Thread-safety: every method may be called from any thread (one mutex, a leaf lock).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "orch/util/clock.hpp"

namespace orch::controller {

class Expectations {
 public:
  // `clock` must outlive this.
  explicit Expectations(util::Clock* clock) : clock_(clock) {}

  // Nothing is expected for `key` (or what was has expired).
  bool satisfied(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return true;
    const Entry& e = it->second;
    if (e.add <= 0 && e.del.empty()) return true;
    return clock_->now() - e.at > kTtl;
  }
  // Replaces what is expected for `key`: `adds` creations and the deletion of `dels`.
  void expect(const std::string& key, int adds, std::set<std::string> dels) {
    std::lock_guard lock(mu_);
    entries_[key] = Entry{adds, std::move(dels), clock_->now()};
  }
  void expect_creations(const std::string& key, int n) { expect(key, n, {}); }
  void expect_deletions(const std::string& key, std::set<std::string> pods) {
    expect(key, 0, std::move(pods));
  }
  // The informer showed (or a failed write will never produce) `n` creations.
  void creation_observed(const std::string& key, int n = 1) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) it->second.add -= n;
  }
  void deletion_observed(const std::string& key, const std::string& pod) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) it->second.del.erase(pod);
  }
  // The owner is gone.
  void remove(const std::string& key) {
    std::lock_guard lock(mu_);
    entries_.erase(key);
  }

 private:
  static constexpr std::chrono::minutes kTtl{5};
  struct Entry {
    int add = 0;
    std::set<std::string> del;
    util::Clock::TimePoint at;
  };
  util::Clock* const clock_;
  std::mutex mu_;  // lock order: leaf
  std::map<std::string, Entry> entries_;
};

}  // namespace orch::controller
