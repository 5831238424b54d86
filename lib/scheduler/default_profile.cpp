// The default profile: the built-in plugins in Kubernetes' filter order, with its score weights.
// Thread-safety: builds a Framework; no shared state.
#include "orch/scheduler/plugins.hpp"

namespace orch::scheduler {

Framework default_framework(ClaimLookupFunc lookup, std::shared_ptr<client::Client> client,
                            std::optional<VolumeBindingSource> volumes) {
  Framework f;
  // Filters in Kubernetes' order; scores with its default weights.
  f.add(std::make_shared<NodeUnschedulable>());
  f.add(std::make_shared<NodeName>());
  f.add(std::make_shared<TaintToleration>(), 3);
  f.add(std::make_shared<NodeAffinity>(), 2);
  f.add(std::make_shared<NodePorts>());
  f.add(std::make_shared<NodeResourcesFit>());
  f.add(std::make_shared<VolumeNodeAffinity>(std::move(lookup)));
  if (volumes) f.add(std::make_shared<VolumeBinding>(std::move(*volumes), client));
  f.add(std::make_shared<PodTopologySpread>(), 2);
  f.add(std::make_shared<NodeResourcesLeastAllocated>(), 1);
  if (client) f.add(std::make_shared<DefaultBinder>(std::move(client)));
  return f;
}

}  // namespace orch::scheduler
