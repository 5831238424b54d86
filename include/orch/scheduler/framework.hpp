// The scheduling framework: small plugin interfaces, one per extension point, in the shape of
// kube-scheduler's framework/interface.go.
//
//   PreFilter  once per pod: compute per-pod state, or reject the pod outright
//   Filter     per node: can the pod run here? Success / Unschedulable(reasons) / Error
//   Score      per feasible node: 0..100 (kMaxNodeScore) after NormalizeScore, times the
//              plugin's weight, summed over plugins
//   Reserve    after a node is chosen and the pod assumed in the cache; Unreserve undoes it
//   Bind       writes the decision (the default binder POSTs pods/<name>/binding)
//
// A plugin is one class implementing one or more of the interfaces. A Framework holds the
// plugins of one profile in order and runs them. Reasons are the human strings Kubernetes uses
// ("Insufficient cpu", "node(s) were unschedulable"); the scheduler counts them over all nodes
// into the FailedScheduling message ("0/3 nodes are available: 3 Insufficient cpu.").
//
// Thread-safety: plugins are called from the scheduling thread only (Bind from binder threads);
// a CycleState belongs to one scheduling cycle.
#pragma once

#include <any>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "orch/scheduler/types.hpp"
#include "orch/status.hpp"

namespace orch::scheduler {

inline constexpr std::int64_t kMaxNodeScore = 100;

// What a plugin answers.
class PluginStatus {
 public:
  enum class Code : std::uint8_t {
    Success,
    Unschedulable,                 // may fit after the cluster changes
    UnschedulableAndUnresolvable,  // no change on this node helps (preemption would not)
    Error,                         // the plugin failed; the pod is retried with backoff
    Skip,                          // PreFilter/PreScore: nothing to do for this pod
  };

  PluginStatus() = default;
  static PluginStatus success() { return {}; }
  static PluginStatus skip() { return PluginStatus(Code::Skip, {}); }
  static PluginStatus unschedulable(std::vector<std::string> reasons) {
    return PluginStatus(Code::Unschedulable, std::move(reasons));
  }
  static PluginStatus unresolvable(std::vector<std::string> reasons) {
    return PluginStatus(Code::UnschedulableAndUnresolvable, std::move(reasons));
  }
  static PluginStatus error(std::string reason) { return PluginStatus(Code::Error, {std::move(reason)}); }

  Code code() const { return code_; }
  bool ok() const { return code_ == Code::Success; }
  bool is_skip() const { return code_ == Code::Skip; }
  bool is_unschedulable() const {
    return code_ == Code::Unschedulable || code_ == Code::UnschedulableAndUnresolvable;
  }
  const std::vector<std::string>& reasons() const { return reasons_; }
  // The reasons joined with ", ".
  std::string message() const;
  // The plugin that answered (set by the Framework).
  const std::string& plugin() const { return plugin_; }
  void set_plugin(std::string p) { plugin_ = std::move(p); }

 private:
  PluginStatus(Code c, std::vector<std::string> r) : code_(c), reasons_(std::move(r)) {}
  Code code_ = Code::Success;
  std::vector<std::string> reasons_;
  std::string plugin_;
};

// Per-cycle state plugins share between their extension points (PreFilter -> Filter/Score).
class Plugin;

class CycleState {
 public:
  void write(const std::string& key, std::any value) { data_[key] = std::move(value); }
  // Null when absent or of another type.
  template <typename T>
  const T* read(const std::string& key) const {
    auto it = data_.find(key);
    return it == data_.end() ? nullptr : std::any_cast<T>(&it->second);
  }
  // Feasible nodes of this cycle, for NormalizeScore-like plugins that want them.
  std::size_t num_all_nodes = 0;
  // Plugins whose PreFilter answered Skip: their Filter is not run this cycle.
  std::vector<const Plugin*> skipped_filters;

 private:
  std::map<std::string, std::any> data_;
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  // "NodeResourcesFit", as Kubernetes names it.
  virtual std::string_view name() const = 0;
};

class PreFilterPlugin : public virtual Plugin {
 public:
  // Success, Skip (the plugin's Filter is not run for this pod), Unschedulable (no node can
  // fit: the pod fails at once), Error.
  virtual PluginStatus pre_filter(CycleState& state, const PodInfo& pod) = 0;
};

class FilterPlugin : public virtual Plugin {
 public:
  virtual PluginStatus filter(const CycleState& state, const PodInfo& pod,
                              const NodeInfo& node) const = 0;
};

// Score plus NormalizeScore.
class ScorePlugin : public virtual Plugin {
 public:
  // Raw score of `node` (any scale when normalize_scores rescales it).
  virtual std::int64_t score(const CycleState& state, const PodInfo& pod,
                             const NodeInfo& node) const = 0;
  // Rescales `scores` (one per feasible node, same order) to 0..kMaxNodeScore. Default: none.
  virtual void normalize_scores(const CycleState& state, const PodInfo& pod,
                                std::vector<std::int64_t>& scores) const {
    (void)state;
    (void)pod;
    (void)scores;
  }
};

class ReservePlugin : public virtual Plugin {
 public:
  virtual PluginStatus reserve(CycleState& state, const PodInfo& pod, const std::string& node) = 0;
  virtual void unreserve(CycleState& state, const PodInfo& pod, const std::string& node) = 0;
};

class BindPlugin : public virtual Plugin {
 public:
  // Called from a binder thread. Success, Skip (let the next binder bind), Error.
  virtual PluginStatus bind(const PodInfo& pod, const std::string& node) = 0;
};

// Kubernetes' DefaultNormalizeScore: scales to 0..max_priority by the highest score; `reverse`
// turns high raw scores into low results.
void default_normalize_score(std::int64_t max_priority, bool reverse,
                             std::vector<std::int64_t>& scores);

// The plugins of one profile, in run order per extension point.
class Framework {
 public:
  // Adds a plugin; it joins every extension point it implements. `weight` applies to Score.
  void add(std::shared_ptr<Plugin> plugin, std::int64_t weight = 1);

  // Runs every PreFilter. The first non-Success/Skip status is returned (plugin set). Plugins
  // that Skip are remembered in `state` and their Filter is not run.
  PluginStatus run_pre_filter(CycleState& state, const PodInfo& pod);
  // Runs Filters in order and stops at the first failure, as Kubernetes does.
  PluginStatus run_filter(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const;
  // Weighted, normalized scores summed per node.
  void run_score(const CycleState& state, const PodInfo& pod,
                 const std::vector<const NodeInfo*>& nodes,
                 std::vector<std::int64_t>& totals) const;
  PluginStatus run_reserve(CycleState& state, const PodInfo& pod, const std::string& node);
  void run_unreserve(CycleState& state, const PodInfo& pod, const std::string& node);
  // Binders in order until one does not Skip. Error when none binds.
  PluginStatus run_bind(const PodInfo& pod, const std::string& node);

  bool has_bind_plugin() const { return !bind_.empty(); }
  // The plugin named `name`, or null.
  Plugin* find(std::string_view name) const;

 private:
  struct Scored {
    ScorePlugin* plugin;
    std::int64_t weight;
  };
  std::vector<std::shared_ptr<Plugin>> all_;
  std::vector<PreFilterPlugin*> pre_filter_;
  std::vector<FilterPlugin*> filter_;
  std::vector<Scored> score_;
  std::vector<ReservePlugin*> reserve_;
  std::vector<BindPlugin*> bind_;
};

}  // namespace orch::scheduler
