// Framework: runs a profile's plugins per extension point. Thread-safety: see framework.hpp.
#include "orch/scheduler/framework.hpp"

#include <algorithm>

namespace orch::scheduler {

std::string PluginStatus::message() const {
  std::string out;
  for (const auto& r : reasons_) {
    if (!out.empty()) out += ", ";
    out += r;
  }
  return out;
}

void default_normalize_score(std::int64_t max_priority, bool reverse,
                             std::vector<std::int64_t>& scores) {
  std::int64_t max = 0;
  for (auto s : scores) max = std::max(max, s);
  if (max == 0) {
    if (reverse) {
      for (auto& s : scores) s = max_priority;
    }
    return;
  }
  for (auto& s : scores) {
    s = max_priority * s / max;
    if (reverse) s = max_priority - s;
  }
}

void Framework::add(std::shared_ptr<Plugin> plugin, std::int64_t weight) {
  Plugin* p = plugin.get();
  if (auto* x = dynamic_cast<PreFilterPlugin*>(p)) pre_filter_.push_back(x);
  if (auto* x = dynamic_cast<FilterPlugin*>(p)) filter_.push_back(x);
  if (auto* x = dynamic_cast<ScorePlugin*>(p)) score_.push_back({x, weight});
  if (auto* x = dynamic_cast<ReservePlugin*>(p)) reserve_.push_back(x);
  if (auto* x = dynamic_cast<BindPlugin*>(p)) bind_.push_back(x);
  all_.push_back(std::move(plugin));
}

Plugin* Framework::find(std::string_view name) const {
  for (const auto& p : all_) {
    if (p->name() == name) return p.get();
  }
  return nullptr;
}

PluginStatus Framework::run_pre_filter(CycleState& state, const PodInfo& pod) {
  for (auto* p : pre_filter_) {
    PluginStatus s = p->pre_filter(state, pod);
    if (s.is_skip()) {
      state.skipped_filters.push_back(p);
      continue;
    }
    if (!s.ok()) {
      s.set_plugin(std::string(p->name()));
      return s;
    }
  }
  return PluginStatus::success();
}

PluginStatus Framework::run_filter(const CycleState& state, const PodInfo& pod,
                                   const NodeInfo& node) const {
  for (auto* p : filter_) {
    if (!state.skipped_filters.empty() &&
        std::find(state.skipped_filters.begin(), state.skipped_filters.end(),
                  static_cast<const Plugin*>(p)) != state.skipped_filters.end()) {
      continue;
    }
    PluginStatus s = p->filter(state, pod, node);
    if (!s.ok()) {
      s.set_plugin(std::string(p->name()));
      return s;
    }
  }
  return PluginStatus::success();
}

void Framework::run_score(const CycleState& state, const PodInfo& pod,
                          const std::vector<const NodeInfo*>& nodes,
                          std::vector<std::int64_t>& totals) const {
  totals.assign(nodes.size(), 0);
  std::vector<std::int64_t> scores(nodes.size());
  for (const auto& [plugin, weight] : score_) {
    for (std::size_t i = 0; i < nodes.size(); ++i) scores[i] = plugin->score(state, pod, *nodes[i]);
    plugin->normalize_scores(state, pod, scores);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      totals[i] += std::clamp<std::int64_t>(scores[i], 0, kMaxNodeScore) * weight;
    }
  }
}

PluginStatus Framework::run_reserve(CycleState& state, const PodInfo& pod,
                                    const std::string& node) {
  for (auto* p : reserve_) {
    PluginStatus s = p->reserve(state, pod, node);
    if (!s.ok()) {
      s.set_plugin(std::string(p->name()));
      return s;
    }
  }
  return PluginStatus::success();
}

void Framework::run_unreserve(CycleState& state, const PodInfo& pod, const std::string& node) {
  for (auto it = reserve_.rbegin(); it != reserve_.rend(); ++it) (*it)->unreserve(state, pod, node);
}

PluginStatus Framework::run_bind(const PodInfo& pod, const std::string& node) {
  for (auto* p : bind_) {
    PluginStatus s = p->bind(pod, node);
    if (s.is_skip()) continue;
    if (!s.ok()) s.set_plugin(std::string(p->name()));
    return s;
  }
  return PluginStatus::error("no bind plugin bound the pod");
}

}  // namespace orch::scheduler
