// The node lifecycle controller (Kubernetes' pkg/controller/nodelifecycle with its NoExecute
// taint manager, plus the orphan half of pkg/controller/podgc): what happens to a node that stops
// talking, and to its pods.
//
// - Health: a node is healthy while its agent renews the Lease kube-node-lease/<node> (or
//   rewrites its Ready condition's lastHeartbeatTime). The controller notes, on its own clock,
//   when it last saw either change (never the timestamps' values, so clock skew does not matter);
//   a node silent for `grace_period` gets every condition set to Unknown (Ready: reason
//   NodeStatusUnknown, message "Kubelet stopped posting node status.") and a NodeNotReady event.
//   Before that it reads the Lease once more from the API, so a lagging cache never condemns a
//   live node.
// - Taints (from the Ready condition, as Kubernetes' TaintNodesByCondition/taint manager):
//   Unknown -> node.kubernetes.io/unreachable NoSchedule + NoExecute; False (the agent says
//   not ready) -> node.kubernetes.io/not-ready NoSchedule + NoExecute; True -> neither. NoExecute
//   taints carry timeAdded. When the Lease is renewed again the taints go at once; the agent's
//   next status write restores its own conditions. A cordoned node (spec.unschedulable) carries
//   node.kubernetes.io/unschedulable:NoSchedule, as in Kubernetes.
// - Pods of a node that is not Ready get their Ready condition set to False at once, so they
//   leave Service endpoints.
// - Taint-based eviction: a pod on a node with NoExecute taints it does not tolerate is deleted
//   at once; one that tolerates them with tolerationSeconds is deleted at the earliest taint's
//   timeAdded + the smallest tolerationSeconds of the tolerations used; one that tolerates them
//   without tolerationSeconds stays. Deletion is graceful (a deletionTimestamp; the pod stays
//   Terminating until its agent confirms the containers stopped), after a DisruptionTarget
//   condition (reason DeletionByTaintManager) and a TaintManagerEviction event. ReplicaSets then
//   replace the pod elsewhere (terminating pods do not count); a StatefulSet does not, while the
//   old pod object exists, so one identity never runs twice.
// - Pod GC: pods bound to a node that does not exist are force-deleted (grace 0): at once when
//   the controller saw the Node deleted (kubectl delete node), else after `pod_gc_quarantine`
//   (the node may be about to register) and a GET confirming the Node is gone.
//
// The decisions are pure functions below (node_lifecycle::...), so they are tested without a
// cluster.
//
// Thread-safety: as Controller. Reads the "nodes", "pods" and kube-node-lease "leases" informers
// of ctx.informers, which must outlive the controller; their handlers become no-ops once the
// controller is destroyed.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "orch/controller/controller.hpp"
#include "orch/controller/manager.hpp"
#include "orch/status.hpp"

namespace orch::controller {

struct NodeLifecycleControllerOptions {
  // How long a node may be silent (no Lease renewal, no heartbeat) before it is Unknown
  // (kube-controller-manager's --node-monitor-grace-period). Default: 40 s.
  std::chrono::milliseconds grace_period{40'000};
  // Pods bound to a node that never existed (or whose deletion the controller did not see) are
  // deleted after this long. Default: 40 s (Kubernetes' podgc quarantine).
  std::chrono::milliseconds pod_gc_quarantine{40'000};
  // Worker threads. Default: 2.
  int workers = 2;
};

inline constexpr const char* kNodeLifecycleControllerName = "nodelifecycle";
inline constexpr const char* kNodeLifecycleControllerComponent = "node-controller";

// Builds the controller on `ctx` and registers its informer handlers (nodes, pods, leases), so it
// must be called before ctx.informers starts. InvalidArgument when ctx has no client or no
// informers, or for a non-positive grace period.
Result<std::unique_ptr<Controller>> new_node_lifecycle_controller(
    const ControllerContext& ctx, NodeLifecycleControllerOptions options = {});

// {"nodelifecycle", "node-controller", new_node_lifecycle_controller(ctx, options)}.
ControllerRegistration node_lifecycle_controller_registration(
    NodeLifecycleControllerOptions options = {});

// The controller's decisions, as pure functions of objects (Kubernetes JSON) and times.
namespace node_lifecycle {

inline constexpr std::string_view kTaintUnreachable = "node.kubernetes.io/unreachable";
inline constexpr std::string_view kTaintNotReady = "node.kubernetes.io/not-ready";
inline constexpr std::string_view kTaintUnschedulable = "node.kubernetes.io/unschedulable";

// The Ready condition's status: "True", "False", "Unknown", or "" when the node has none.
std::string ready_status(const boost::json::value& node);

// The node's status with every condition Unknown (Ready: reason NodeStatusUnknown, message
// "Kubelet stopped posting node status."; others: reason NodeStatusUnknown too), transitions
// stamped `now`, heartbeats kept. A node without a Ready condition gets one. nullopt when every
// condition already is Unknown.
std::optional<boost::json::value> unknown_status(const boost::json::value& node,
                                                 std::chrono::system_clock::time_point now);

// spec.taints as they should be for a node whose Ready condition is `ready` ("True", "False",
// "Unknown", ""): other taints kept in order, the not-ready/unreachable pair added or removed,
// existing NoExecute taints keep their timeAdded, new ones get the Ready condition's
// lastTransitionTime when the node's Ready status is `ready` (else `now`); and
// node.kubernetes.io/unschedulable:NoSchedule exactly while spec.unschedulable (cordon).
boost::json::array desired_taints(const boost::json::value& node, std::string_view ready,
                                  std::chrono::system_clock::time_point now);

// Whether `toleration` (a pod's spec.tolerations entry) tolerates `taint` (key, operator
// Equal/Exists, value, effect; an empty key with Exists tolerates everything, an empty effect
// every effect).
bool tolerates(const boost::json::value& toleration, const boost::json::value& taint);

// When the pod must be evicted because of the NoExecute taints in `taints` (a node's
// spec.taints): nullopt for never (no NoExecute taint, or every one tolerated without
// tolerationSeconds); the earliest taint's timeAdded (or `now` when missing) + the smallest
// tolerationSeconds used (negative counts as 0); `now` when a NoExecute taint is not tolerated.
std::optional<std::chrono::system_clock::time_point> eviction_time(
    const boost::json::value& pod, const boost::json::value& taints,
    std::chrono::system_clock::time_point now);

// The pod with its Ready condition False (transition stamped `now`, reason NodeNotReady), or
// nullopt when it is not Ready=True (or finished), so nothing needs writing.
std::optional<boost::json::value> not_ready_pod(const boost::json::value& pod,
                                                std::chrono::system_clock::time_point now);

}  // namespace node_lifecycle

}  // namespace orch::controller
