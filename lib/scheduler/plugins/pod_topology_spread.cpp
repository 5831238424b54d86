// PodTopologySpread (default spreading): replicas of one workload (same controller owner, else
// the same labels) prefer nodes with fewer of them. Thread-safety: stateless.
#include "orch/scheduler/plugins.hpp"

namespace orch::scheduler {

std::int64_t PodTopologySpread::score(const CycleState&, const PodInfo& pod,
                                      const NodeInfo& node) const {
  if (pod.spread_key.empty()) return 0;
  auto it = node.spread_counts.find(pod.spread_key);
  return it == node.spread_counts.end() ? 0 : it->second;
}

void PodTopologySpread::normalize_scores(const CycleState&, const PodInfo&,
                                         std::vector<std::int64_t>& scores) const {
  default_normalize_score(kMaxNodeScore, true, scores);
}

}  // namespace orch::scheduler
