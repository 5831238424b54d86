// The built-in plugins (one implementation file each under lib/scheduler/plugins/), named as
// kube-scheduler names them, with Kubernetes' reason strings:
//
//   NodeUnschedulable   filter  spec.unschedulable, unless the pod tolerates
//                               node.kubernetes.io/unschedulable:NoSchedule
//                               "node(s) were unschedulable"
//   NodeName            filter  spec.nodeName, when set, names the node
//                               "node(s) didn't match the requested node name"
//   TaintToleration     filter  NoSchedule and NoExecute taints must be tolerated
//                               "node(s) had untolerated taint {key: value}"
//                       score   fewer untolerated PreferNoSchedule taints score higher
//   NodeAffinity        filter  spec.nodeSelector and required node affinity (In, NotIn, Exists,
//                               DoesNotExist, Gt, Lt; matchFields metadata.name)
//                               "node(s) didn't match Pod's node affinity/selector"
//                       score   preferred node affinity, sum of matching weights, normalized
//   NodePorts           filter  host ports free on the node
//                               "node(s) didn't have free ports for the requested pod ports"
//   NodeResourcesFit    filter  cpu, memory, ephemeral-storage requests and the pod count
//                               against allocatable minus bound and assumed pods
//                               "Insufficient cpu", "Insufficient memory", "Too many pods"
//   VolumeNodeAffinity  filter  a bound claim's PersistentVolume spec.nodeAffinity.required;
//                               unbound claims pass (left to volume binding)
//                               "node(s) had volume node affinity conflict"
//   VolumeBinding       filter  an unbound claim of a WaitForFirstConsumer class needs, on the node,
//                               a fitting Available volume (its nodeAffinity admits the node) or
//                               a provisioner that can provision there (orch.io/local-path: the
//                               node has the orch.io/local-path-dir annotation); an unbound claim
//                               of an Immediate class is not schedulable yet
//                               "node(s) didn't find available persistent volumes to bind",
//                               "pod has unbound immediate PersistentVolumeClaims"
//                       bind    (before DefaultBinder, then Skip) writes the chosen node into
//                               each such claim's volume.kubernetes.io/selected-node annotation
//   PodTopologySpread   score   fewer pods of the same workload (controller owner, else the same
//                               labels) on the node score higher
//   NodeResourcesLeastAllocated
//                       score   ((allocatable - requested) / allocatable) of cpu and memory,
//                               with the pod's non-zero requests
//   DefaultBinder       bind    POST pods/<name>/binding
//
// default_framework() builds the default profile with Kubernetes' weights (TaintToleration 3,
// NodeAffinity 2, PodTopologySpread 2, NodeResourcesLeastAllocated 1).
//
// Thread-safety: see framework.hpp.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "orch/client/client.hpp"
#include "orch/client/informer.hpp"
#include "orch/scheduler/framework.hpp"

namespace orch::scheduler {

class NodeUnschedulable final : public FilterPlugin {
 public:
  static constexpr std::string_view kName = "NodeUnschedulable";
  static constexpr std::string_view kReason = "node(s) were unschedulable";
  std::string_view name() const override { return kName; }
  PluginStatus filter(const CycleState& state, const PodInfo& pod,
                      const NodeInfo& node) const override;
};

class NodeName final : public FilterPlugin {
 public:
  static constexpr std::string_view kName = "NodeName";
  static constexpr std::string_view kReason = "node(s) didn't match the requested node name";
  std::string_view name() const override { return kName; }
  PluginStatus filter(const CycleState& state, const PodInfo& pod,
                      const NodeInfo& node) const override;
};

class TaintToleration final : public FilterPlugin, public ScorePlugin {
 public:
  static constexpr std::string_view kName = "TaintToleration";
  std::string_view name() const override { return kName; }
  PluginStatus filter(const CycleState& state, const PodInfo& pod,
                      const NodeInfo& node) const override;
  // The number of PreferNoSchedule taints the pod does not tolerate (normalized in reverse).
  std::int64_t score(const CycleState& state, const PodInfo& pod,
                     const NodeInfo& node) const override;
  void normalize_scores(const CycleState& state, const PodInfo& pod,
                        std::vector<std::int64_t>& scores) const override;
};

class NodeAffinity final : public FilterPlugin, public ScorePlugin {
 public:
  static constexpr std::string_view kName = "NodeAffinity";
  static constexpr std::string_view kReason = "node(s) didn't match Pod's node affinity/selector";
  std::string_view name() const override { return kName; }
  PluginStatus filter(const CycleState& state, const PodInfo& pod,
                      const NodeInfo& node) const override;
  std::int64_t score(const CycleState& state, const PodInfo& pod,
                     const NodeInfo& node) const override;
  void normalize_scores(const CycleState& state, const PodInfo& pod,
                        std::vector<std::int64_t>& scores) const override;
};

class NodePorts final : public FilterPlugin {
 public:
  static constexpr std::string_view kName = "NodePorts";
  static constexpr std::string_view kReason =
      "node(s) didn't have free ports for the requested pod ports";
  std::string_view name() const override { return kName; }
  PluginStatus filter(const CycleState& state, const PodInfo& pod,
                      const NodeInfo& node) const override;
};

class NodeResourcesFit final : public FilterPlugin {
 public:
  static constexpr std::string_view kName = "NodeResourcesFit";
  std::string_view name() const override { return kName; }
  // Every insufficient resource is a reason ("Too many pods", "Insufficient cpu",
  // "Insufficient memory", "Insufficient ephemeral-storage").
  PluginStatus filter(const CycleState& state, const PodInfo& pod,
                      const NodeInfo& node) const override;
};

// What the volume plugin needs to know about claims and volumes (the scheduler answers from
// its PV/PVC informers; tests from a table).
struct ClaimLookup {
  enum class State : std::uint8_t { kMissingClaim, kUnbound, kBound, kMissingVolume };
  State state = State::kMissingClaim;
  std::string volume_name;
  // The PersistentVolume's spec.nodeAffinity.required, when it has one.
  std::optional<NodeSelector> node_affinity;
};
using ClaimLookupFunc = std::function<ClaimLookup(const std::string& ns, const std::string& claim)>;

class VolumeNodeAffinity final : public PreFilterPlugin, public FilterPlugin {
 public:
  static constexpr std::string_view kName = "VolumeNodeAffinity";
  static constexpr std::string_view kReason = "node(s) had volume node affinity conflict";
  explicit VolumeNodeAffinity(ClaimLookupFunc lookup) : lookup_(std::move(lookup)) {}
  std::string_view name() const override { return kName; }
  // Skip for pods without claims; UnschedulableAndUnresolvable for a missing claim
  // ('persistentvolumeclaim "data" not found') or volume.
  PluginStatus pre_filter(CycleState& state, const PodInfo& pod) override;
  PluginStatus filter(const CycleState& state, const PodInfo& pod,
                      const NodeInfo& node) const override;

 private:
  const ClaimLookupFunc lookup_;
};

// What VolumeBinding reads (the scheduler answers from its informers; tests from tables). Every
// function must be set and safe to call from any thread.
struct VolumeBindingSource {
  // The claim, or null.
  std::function<client::SharedObject(const std::string& ns, const std::string& name)> claim;
  // Every PersistentVolume / StorageClass.
  std::function<std::vector<client::SharedObject>()> volumes;
  std::function<std::vector<client::SharedObject>()> classes;
  // The Node object, or null.
  std::function<client::SharedObject(const std::string& name)> node;
};

class VolumeBinding final : public PreFilterPlugin, public FilterPlugin, public BindPlugin {
 public:
  static constexpr std::string_view kName = "VolumeBinding";
  static constexpr std::string_view kReason =
      "node(s) didn't find available persistent volumes to bind";
  static constexpr std::string_view kImmediateReason =
      "pod has unbound immediate PersistentVolumeClaims";
  // `client` (may be null: selected-node is not written) updates the claims.
  VolumeBinding(VolumeBindingSource source, std::shared_ptr<client::Client> client)
      : source_(std::move(source)), client_(std::move(client)) {}
  std::string_view name() const override { return kName; }
  // Skip for pods without unbound claims.
  PluginStatus pre_filter(CycleState& state, const PodInfo& pod) override;
  PluginStatus filter(const CycleState& state, const PodInfo& pod,
                      const NodeInfo& node) const override;
  // Annotates the pod's unbound WaitForFirstConsumer claims with `node`, then Skip (the next
  // binder binds the pod); Error when a claim cannot be written.
  PluginStatus bind(const PodInfo& pod, const std::string& node) override;

 private:
  const VolumeBindingSource source_;
  const std::shared_ptr<client::Client> client_;
};

class PodTopologySpread final : public ScorePlugin {
 public:
  static constexpr std::string_view kName = "PodTopologySpread";
  std::string_view name() const override { return kName; }
  // The number of pods with the pod's spread key on the node (normalized in reverse).
  std::int64_t score(const CycleState& state, const PodInfo& pod,
                     const NodeInfo& node) const override;
  void normalize_scores(const CycleState& state, const PodInfo& pod,
                        std::vector<std::int64_t>& scores) const override;
};

class NodeResourcesLeastAllocated final : public ScorePlugin {
 public:
  static constexpr std::string_view kName = "NodeResourcesLeastAllocated";
  std::string_view name() const override { return kName; }
  std::int64_t score(const CycleState& state, const PodInfo& pod,
                     const NodeInfo& node) const override;
};

class DefaultBinder final : public BindPlugin {
 public:
  static constexpr std::string_view kName = "DefaultBinder";
  explicit DefaultBinder(std::shared_ptr<client::Client> client) : client_(std::move(client)) {}
  std::string_view name() const override { return kName; }
  // Error with the API's message; the Status code is kept in last_code-like form in the reason.
  PluginStatus bind(const PodInfo& pod, const std::string& node) override;

 private:
  const std::shared_ptr<client::Client> client_;
};

// The default profile. `lookup` answers claims for VolumeNodeAffinity; `client` (may be null:
// no binder) is what DefaultBinder binds through; `volumes` (when given) adds VolumeBinding.
Framework default_framework(ClaimLookupFunc lookup, std::shared_ptr<client::Client> client,
                            std::optional<VolumeBindingSource> volumes = std::nullopt);

}  // namespace orch::scheduler
