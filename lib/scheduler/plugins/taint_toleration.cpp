// TaintToleration: NoSchedule/NoExecute taints filter, PreferNoSchedule taints score.
// Thread-safety: stateless.
#include "orch/scheduler/plugins.hpp"

namespace orch::scheduler {

PluginStatus TaintToleration::filter(const CycleState&, const PodInfo& pod,
                                     const NodeInfo& node) const {
  for (const auto& taint : node.taints) {
    if (taint.effect != "NoSchedule" && taint.effect != "NoExecute") continue;
    if (tolerates_any(pod.tolerations, taint)) continue;
    return PluginStatus::unresolvable(
        {"node(s) had untolerated taint {" + taint.key + ": " + taint.value + "}"});
  }
  return PluginStatus::success();
}

std::int64_t TaintToleration::score(const CycleState&, const PodInfo& pod,
                                    const NodeInfo& node) const {
  std::int64_t n = 0;
  for (const auto& taint : node.taints) {
    if (taint.effect != "PreferNoSchedule") continue;
    bool tolerated = false;
    for (const auto& t : pod.tolerations) {
      // Only tolerations for PreferNoSchedule (or every effect) count, as in Kubernetes.
      if ((t.effect.empty() || t.effect == "PreferNoSchedule") && tolerates(t, taint)) {
        tolerated = true;
        break;
      }
    }
    if (!tolerated) ++n;
  }
  return n;
}

void TaintToleration::normalize_scores(const CycleState&, const PodInfo&,
                                       std::vector<std::int64_t>& scores) const {
  default_normalize_score(kMaxNodeScore, true, scores);
}

}  // namespace orch::scheduler
