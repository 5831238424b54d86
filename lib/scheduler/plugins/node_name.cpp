// NodeName: a pod naming a node in spec.nodeName fits only there. Thread-safety: stateless.
#include "orch/scheduler/plugins.hpp"

namespace orch::scheduler {

PluginStatus NodeName::filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) const {
  if (pod.node_name.empty() || pod.node_name == node.name) return PluginStatus::success();
  return PluginStatus::unresolvable({std::string(kReason)});
}

}  // namespace orch::scheduler
