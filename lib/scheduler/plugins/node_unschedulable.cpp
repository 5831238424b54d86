// NodeUnschedulable: a cordoned node (spec.unschedulable) takes only pods that tolerate
// node.kubernetes.io/unschedulable:NoSchedule. Thread-safety: stateless.
#include "orch/scheduler/plugins.hpp"

namespace orch::scheduler {

PluginStatus NodeUnschedulable::filter(const CycleState&, const PodInfo& pod,
                                       const NodeInfo& node) const {
  if (!node.unschedulable) return PluginStatus::success();
  static const Taint kTaint{"node.kubernetes.io/unschedulable", "", "NoSchedule"};
  if (tolerates_any(pod.tolerations, kTaint)) return PluginStatus::success();
  return PluginStatus::unresolvable({std::string(kReason)});
}

}  // namespace orch::scheduler
