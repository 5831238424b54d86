// VolumeNodeAffinity: a pod whose bound claims' PersistentVolumes carry spec.nodeAffinity goes
// to a node those select. Unbound claims pass (volume binding decides, with WaitForFirstConsumer,
// where they go). Thread-safety: called from the scheduling thread only.
#include "orch/scheduler/plugins.hpp"

namespace orch::scheduler {

namespace {
constexpr const char* kStateKey = "VolumeNodeAffinity";
using Selectors = std::vector<NodeSelector>;
}  // namespace

PluginStatus VolumeNodeAffinity::pre_filter(CycleState& state, const PodInfo& pod) {
  if (pod.claims.empty() || !lookup_) return PluginStatus::skip();
  Selectors selectors;
  for (const auto& claim : pod.claims) {
    ClaimLookup l = lookup_(pod.ns, claim);
    switch (l.state) {
      case ClaimLookup::State::kMissingClaim:
        return PluginStatus::unresolvable(
            {"persistentvolumeclaim \"" + claim + "\" not found"});
      case ClaimLookup::State::kMissingVolume:
        return PluginStatus::unresolvable(
            {"persistentvolume \"" + l.volume_name + "\" not found"});
      case ClaimLookup::State::kUnbound:
        break;
      case ClaimLookup::State::kBound:
        if (l.node_affinity) selectors.push_back(std::move(*l.node_affinity));
        break;
    }
  }
  if (selectors.empty()) return PluginStatus::skip();
  state.write(kStateKey, std::move(selectors));
  return PluginStatus::success();
}

PluginStatus VolumeNodeAffinity::filter(const CycleState& state, const PodInfo&,
                                        const NodeInfo& node) const {
  const auto* selectors = state.read<Selectors>(kStateKey);
  if (!selectors) return PluginStatus::success();
  for (const auto& s : *selectors) {
    if (!matches(s, node.labels, node.name)) {
      return PluginStatus::unresolvable({std::string(kReason)});
    }
  }
  return PluginStatus::success();
}

}  // namespace orch::scheduler
