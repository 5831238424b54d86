// NodeAffinity: spec.nodeSelector and required node affinity filter; preferred node affinity
// scores. Thread-safety: stateless.
#include "orch/scheduler/plugins.hpp"

namespace orch::scheduler {

PluginStatus NodeAffinity::filter(const CycleState&, const PodInfo& pod,
                                  const NodeInfo& node) const {
  for (const auto& [k, v] : pod.node_selector) {
    auto it = node.labels.find(k);
    if (it == node.labels.end() || it->second != v) {
      return PluginStatus::unresolvable({std::string(kReason)});
    }
  }
  if (pod.required_affinity && !matches(*pod.required_affinity, node.labels, node.name)) {
    return PluginStatus::unresolvable({std::string(kReason)});
  }
  return PluginStatus::success();
}

std::int64_t NodeAffinity::score(const CycleState&, const PodInfo& pod,
                                 const NodeInfo& node) const {
  std::int64_t total = 0;
  for (const auto& p : pod.preferred_affinity) {
    if (p.weight != 0 && matches(p.term, node.labels, node.name)) total += p.weight;
  }
  return total;
}

void NodeAffinity::normalize_scores(const CycleState&, const PodInfo&,
                                    std::vector<std::int64_t>& scores) const {
  default_normalize_score(kMaxNodeScore, false, scores);
}

}  // namespace orch::scheduler
