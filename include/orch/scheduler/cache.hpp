// SchedulerCache: the scheduler's incremental view of nodes and of the pods on them, fed by the
// node and pod informers' events (never by listing). Per node it keeps aggregates (requested
// resources, pod count, host ports, pods per workload), so a scheduling cycle reads O(1) per
// node.
//
// Assumed pods (kube-scheduler's cache.go): the scheduling loop assume()s a pod on its chosen
// node before binding, so the next pod already sees the resources taken. finish_binding() starts
// the assumption's expiry (ttl); when the informer delivers the pod bound (add_pod/update_pod
// with spec.nodeName) the assumption is confirmed; forget() undoes it when binding failed;
// cleanup_expired() drops assumptions whose binding never showed up.
//
// Pods in phase Succeeded or Failed take no resources and are removed.
//
// Thread-safety: every method takes the cache's mutex; informer threads and the scheduling
// thread call it concurrently. with_lock() runs a scheduling cycle under the mutex, so the
// nodes it reads stay consistent and no copy of the node list is made per pod.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "orch/scheduler/types.hpp"
#include "orch/util/clock.hpp"

namespace orch::scheduler {

class SchedulerCache {
 public:
  // `clock` must outlive the cache.
  SchedulerCache(util::Clock& clock, std::chrono::milliseconds assumed_ttl);

  // Node events. Returns true when the change can make pods schedulable (a new node, or one whose
  // labels, taints, unschedulable flag or allocatable changed).
  bool add_or_update_node(const boost::json::value& node);
  void remove_node(const std::string& name);

  // Pod events for pods with spec.nodeName set (others are ignored). A pod that was assumed is
  // confirmed. Terminal pods are removed.
  void add_or_update_pod(const PodInfoPtr& pod);
  void remove_pod(const std::string& key);

  // Counts `pod` on `node` until confirmed, forgotten or expired. InvalidArgument when the pod is
  // already in the cache.
  Status assume(const PodInfoPtr& pod, const std::string& node);
  // The binding was sent: the assumption now expires ttl from now unless confirmed.
  void finish_binding(const std::string& key);
  // Undoes an assumption (binding failed). No-op when not assumed.
  void forget(const std::string& key);
  // Drops assumptions whose binding finished longer than ttl ago. Returns how many.
  std::size_t cleanup_expired();

  // True when the pod is assumed or bound in the cache.
  bool contains(const std::string& key) const;
  bool is_assumed(const std::string& key) const;
  std::size_t node_count() const;
  std::size_t pod_count() const;
  // A copy of one node's info (tests, diagnostics); false when unknown.
  bool node_for_test(const std::string& name, NodeInfo& out) const;

  // Runs `fn` with the schedulable nodes (those with a Node object), in a stable order, under
  // the cache's mutex. `fn` must not call back into the cache except through `assume_locked`.
  using CycleFn = std::function<void(const std::vector<NodeInfo*>& nodes)>;
  void with_lock(const CycleFn& fn);
  // assume() for use inside with_lock().
  Status assume_locked(const PodInfoPtr& pod, const std::string& node);

 private:
  struct PodState {
    PodInfoPtr pod;
    std::string node;
    bool assumed = false;
    bool binding_finished = false;
    util::Clock::TimePoint deadline{};
  };
  NodeInfo& node_locked(const std::string& name);
  void add_to_order_locked(NodeInfo& n);
  void remove_from_order_locked(NodeInfo& n);
  void remove_pod_locked(const std::string& key);
  void maybe_drop_placeholder_locked(const std::string& name);

  // Const after construction.
  util::Clock& clock_;
  const std::chrono::milliseconds ttl_;

  mutable std::mutex mu_;  // lock order: leaf (the cycle under with_lock takes no other lock)
  // Guarded by mu_.
  std::unordered_map<std::string, std::unique_ptr<NodeInfo>> nodes_;
  std::vector<NodeInfo*> order_;  // nodes with has_node, order_index is the position
  std::unordered_map<std::string, PodState> pods_;
  std::size_t assumed_count_ = 0;
};

}  // namespace orch::scheduler
