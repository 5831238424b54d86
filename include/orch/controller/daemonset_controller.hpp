// The DaemonSet controller (Kubernetes' pkg/controller/daemon): one pod per eligible node.
//
// - A node is eligible when it matches spec.template.spec.nodeSelector and the template's
//   required node affinity, and the pod tolerates every NoSchedule/NoExecute taint of the node.
//   DaemonSet pods get Kubernetes' automatic tolerations (node.kubernetes.io/not-ready and
//   unreachable: NoExecute; disk-pressure, memory-pressure, pid-pressure, unschedulable:
//   NoSchedule). A node whose only misfit is an untolerated NoSchedule taint keeps a pod it
//   already runs; any other misfit (labels, affinity, NoExecute) removes it.
// - Pods are created with generateName "<ds>-" (5 random characters follow), the template's
//   labels plus controller-revision-hash (the template hash) and pod-template-generation, an
//   ownerReference to the DaemonSet, the automatic tolerations, and their required node affinity
//   replaced by matchFields metadata.name In [<node>] — as Kubernetes does, so the default
//   scheduler (which honours matchFields) places them on their node.
// - Nodes that appear get a pod; pods on nodes that stop matching are deleted; pods on nodes that
//   no longer exist are deleted at once (grace 0, nobody is left to stop them). A node gets its
//   new pod only once the old one has gone. Failed pods are deleted and recreated; surplus pods on
//   a node (more than one) are deleted, the oldest kept.
// - Expectations (as the ReplicaSet controller's): after creating or deleting pods the controller
//   does not act again for that DaemonSet until the pod informer saw every one of them (or 5
//   minutes passed).
// - updateStrategy RollingUpdate (default; maxSurge 0): old pods that are unavailable are
//   deleted at once, available ones while fewer than rollingUpdate.maxUnavailable (int or
//   percentage of desiredNumberScheduled, rounded up; default 1) eligible nodes are unavailable;
//   each node then gets a pod of the new template. OnDelete: new pods only replace deleted ones.
// - Status: desiredNumberScheduled, currentNumberScheduled, numberMisscheduled, numberReady,
//   updatedNumberScheduled, numberAvailable (Ready for minReadySeconds), numberUnavailable,
//   observedGeneration — what `kubectl rollout status daemonset` reads.
// - Events on the DaemonSet: SuccessfulCreate "Created pod: <name>", SuccessfulDelete "Deleted
//   pod: <name>", FailedCreate / FailedDelete (Warning).
// - Not done: maxSurge, adoption of orphan pods, ControllerRevision objects (not in our API).
//
// Thread-safety: as Controller. Reads the "daemonsets", "pods" and "nodes" informers of
// ctx.informers, which must outlive the controller.
#pragma once

#include <memory>

#include "orch/controller/controller.hpp"
#include "orch/controller/manager.hpp"
#include "orch/status.hpp"

namespace orch::controller {

struct DaemonSetControllerOptions {
  // Worker threads. Default: 2 (kube-controller-manager's --concurrent-daemonset-syncs).
  int workers = 2;
};

inline constexpr const char* kDaemonSetControllerName = "daemonset";
inline constexpr const char* kDaemonSetControllerComponent = "daemonset-controller";

// Builds the controller on `ctx` and registers its informer handlers (daemonsets, pods, nodes);
// call before ctx.informers starts. InvalidArgument when ctx has no client or no informers.
Result<std::unique_ptr<Controller>> new_daemonset_controller(
    const ControllerContext& ctx, DaemonSetControllerOptions options = {});

// {"daemonset", "daemonset-controller", new_daemonset_controller(ctx, options)}.
ControllerRegistration daemonset_controller_registration(DaemonSetControllerOptions options = {});

}  // namespace orch::controller
