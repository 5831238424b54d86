// NodeResourcesLeastAllocated: nodes with more cpu and memory left after the pod score higher
// (Kubernetes' leastRequestedScore, cpu and memory weighted 1 each, non-zero requests).
// Thread-safety: stateless.
#include "orch/scheduler/plugins.hpp"

namespace orch::scheduler {

namespace {
std::int64_t least_requested(std::int64_t requested, std::int64_t capacity) {
  if (capacity <= 0 || requested > capacity) return 0;
  return (capacity - requested) * kMaxNodeScore / capacity;
}
}  // namespace

std::int64_t NodeResourcesLeastAllocated::score(const CycleState&, const PodInfo& pod,
                                                const NodeInfo& node) const {
  std::int64_t cpu = least_requested(node.non_zero_requested.milli_cpu + pod.non_zero_requests.milli_cpu,
                                     node.allocatable.milli_cpu);
  std::int64_t mem = least_requested(node.non_zero_requested.memory + pod.non_zero_requests.memory,
                                     node.allocatable.memory);
  return (cpu + mem) / 2;
}

}  // namespace orch::scheduler
