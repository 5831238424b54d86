// SchedulerCache: node aggregates kept up to date from informer events, assumed pods.
// Thread-safety: see cache.hpp (one mutex, mu_).
#include "orch/scheduler/cache.hpp"

namespace orch::scheduler {

namespace {
bool terminal(const PodInfo& p) { return p.phase == "Succeeded" || p.phase == "Failed"; }
}  // namespace

SchedulerCache::SchedulerCache(util::Clock& clock, std::chrono::milliseconds assumed_ttl)
    : clock_(clock), ttl_(assumed_ttl) {}

NodeInfo& SchedulerCache::node_locked(const std::string& name) {
  auto& slot = nodes_[name];
  if (!slot) {
    slot = std::make_unique<NodeInfo>();
    slot->name = name;
  }
  return *slot;
}

void SchedulerCache::add_to_order_locked(NodeInfo& n) {
  n.order_index = order_.size();
  order_.push_back(&n);
}

void SchedulerCache::remove_from_order_locked(NodeInfo& n) {
  std::size_t i = n.order_index;
  if (i >= order_.size() || order_[i] != &n) return;
  order_[i] = order_.back();
  order_[i]->order_index = i;
  order_.pop_back();
}

void SchedulerCache::maybe_drop_placeholder_locked(const std::string& name) {
  auto it = nodes_.find(name);
  if (it != nodes_.end() && !it->second->has_node && it->second->pod_count == 0) nodes_.erase(it);
}

bool SchedulerCache::add_or_update_node(const boost::json::value& node) {
  NodeInfo parsed;
  if (!parse_node(node, parsed).ok()) return false;
  std::lock_guard lock(mu_);
  NodeInfo& n = node_locked(parsed.name);
  const bool was_node = n.has_node;
  const std::size_t old_hash = n.spec_hash;
  n.labels = std::move(parsed.labels);
  n.unschedulable = parsed.unschedulable;
  n.taints = std::move(parsed.taints);
  n.allocatable = parsed.allocatable;
  n.spec_hash = parsed.spec_hash;
  n.has_node = true;
  if (!was_node) add_to_order_locked(n);
  return !was_node || old_hash != n.spec_hash;
}

void SchedulerCache::remove_node(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return;
  NodeInfo& n = *it->second;
  if (n.has_node) remove_from_order_locked(n);
  n.has_node = false;
  // Pods still on it keep a placeholder until they go (as kube-scheduler's cache does).
  maybe_drop_placeholder_locked(name);
}

void SchedulerCache::add_or_update_pod(const PodInfoPtr& pod) {
  if (pod->node_name.empty()) return;
  std::lock_guard lock(mu_);
  auto it = pods_.find(pod->key);
  if (terminal(*pod)) {
    if (it != pods_.end()) remove_pod_locked(pod->key);
    return;
  }
  if (it != pods_.end()) {
    PodState& st = it->second;
    NodeInfo& old_node = node_locked(st.node);
    old_node.remove_pod(*st.pod);
    if (st.node != pod->node_name) maybe_drop_placeholder_locked(st.node);
    if (st.assumed) {
      st.assumed = false;
      --assumed_count_;
    }
    st.pod = pod;
    st.node = pod->node_name;
    node_locked(st.node).add_pod(*pod);
    return;
  }
  PodState st;
  st.pod = pod;
  st.node = pod->node_name;
  node_locked(st.node).add_pod(*pod);
  pods_.emplace(pod->key, std::move(st));
}

void SchedulerCache::remove_pod_locked(const std::string& key) {
  auto it = pods_.find(key);
  if (it == pods_.end()) return;
  std::string node = it->second.node;
  node_locked(node).remove_pod(*it->second.pod);
  if (it->second.assumed) --assumed_count_;
  pods_.erase(it);
  maybe_drop_placeholder_locked(node);
}

void SchedulerCache::remove_pod(const std::string& key) {
  std::lock_guard lock(mu_);
  remove_pod_locked(key);
}

Status SchedulerCache::assume_locked(const PodInfoPtr& pod, const std::string& node) {
  if (pods_.contains(pod->key)) {
    return Status(Code::kInvalidArgument, "pod " + pod->key + " is already in the cache");
  }
  PodState st;
  st.pod = pod;
  st.node = node;
  st.assumed = true;
  node_locked(node).add_pod(*pod);
  pods_.emplace(pod->key, std::move(st));
  ++assumed_count_;
  return Status();
}

Status SchedulerCache::assume(const PodInfoPtr& pod, const std::string& node) {
  std::lock_guard lock(mu_);
  return assume_locked(pod, node);
}

void SchedulerCache::finish_binding(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = pods_.find(key);
  if (it == pods_.end() || !it->second.assumed) return;
  it->second.binding_finished = true;
  it->second.deadline = clock_.now() + ttl_;
}

void SchedulerCache::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = pods_.find(key);
  if (it == pods_.end() || !it->second.assumed) return;
  remove_pod_locked(key);
}

std::size_t SchedulerCache::cleanup_expired() {
  std::lock_guard lock(mu_);
  if (assumed_count_ == 0) return 0;
  const auto now = clock_.now();
  std::vector<std::string> expired;
  for (const auto& [key, st] : pods_) {
    if (st.assumed && st.binding_finished && st.deadline <= now) expired.push_back(key);
  }
  for (const auto& key : expired) remove_pod_locked(key);
  return expired.size();
}

bool SchedulerCache::contains(const std::string& key) const {
  std::lock_guard lock(mu_);
  return pods_.contains(key);
}

bool SchedulerCache::is_assumed(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = pods_.find(key);
  return it != pods_.end() && it->second.assumed;
}

std::size_t SchedulerCache::node_count() const {
  std::lock_guard lock(mu_);
  return order_.size();
}

std::size_t SchedulerCache::pod_count() const {
  std::lock_guard lock(mu_);
  return pods_.size();
}

bool SchedulerCache::node_for_test(const std::string& name, NodeInfo& out) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return false;
  out = *it->second;
  return true;
}

void SchedulerCache::with_lock(const CycleFn& fn) {
  std::lock_guard lock(mu_);
  fn(order_);
}

}  // namespace orch::scheduler
