// NodeResourcesFit: requests against allocatable minus what bound and assumed pods request.
// Thread-safety: stateless.
#include "orch/scheduler/plugins.hpp"

namespace orch::scheduler {

PluginStatus NodeResourcesFit::filter(const CycleState&, const PodInfo& pod,
                                      const NodeInfo& node) const {
  std::vector<std::string> reasons;
  if (node.pod_count + 1 > node.allocatable.pods) reasons.emplace_back("Too many pods");
  const Resources& r = pod.requests;
  const Resources& a = node.allocatable;
  const Resources& u = node.requested;
  if (r.milli_cpu > 0 && r.milli_cpu > a.milli_cpu - u.milli_cpu) {
    reasons.emplace_back("Insufficient cpu");
  }
  if (r.memory > 0 && r.memory > a.memory - u.memory) reasons.emplace_back("Insufficient memory");
  if (r.ephemeral_storage > 0 && r.ephemeral_storage > a.ephemeral_storage - u.ephemeral_storage) {
    reasons.emplace_back("Insufficient ephemeral-storage");
  }
  if (reasons.empty()) return PluginStatus::success();
  return PluginStatus::unschedulable(std::move(reasons));
}

}  // namespace orch::scheduler
