// NodePorts: the pod's host ports must be free on the node. Thread-safety: stateless.
#include "orch/scheduler/plugins.hpp"

namespace orch::scheduler {

PluginStatus NodePorts::filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) const {
  for (const auto& hp : pod.host_ports) {
    if (node.port_in_use(hp)) return PluginStatus::unschedulable({std::string(kReason)});
  }
  return PluginStatus::success();
}

}  // namespace orch::scheduler
