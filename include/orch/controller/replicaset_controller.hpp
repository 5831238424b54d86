// The ReplicaSet controller (Kubernetes' pkg/controller/replicaset): keeps spec.replicas pods
// matching a ReplicaSet's selector.
//
// - Pods are created from spec.template with generateName "<replicaset>-" (the API server adds 5
//   characters of "bcdfghjklmnpqrstvwxz2456789"), the template's labels, annotations and spec, in
//   the ReplicaSet's namespace, with an ownerReference to it (controller and blockOwnerDeletion
//   true). Creates go in slow-start batches (1, 2, 4, ..., each batch sent concurrently; a
//   failing batch stops the rest), at most burst_replicas per sync.
// - Expectations (Kubernetes' ControllerExpectations): after asking for N creates or deleting
//   some pods, the controller does not create or delete again for that ReplicaSet until the pod
//   informer has seen every one of them (or 5 minutes passed), so a slow cache never makes it
//   double-create.
// - Adoption and release: an orphan pod (no controller ownerReference) that matches the selector
//   is adopted (its ownerReferences patched, after re-reading the ReplicaSet from the API to make
//   sure it is not being deleted); an owned pod that no longer matches is released (its
//   ownerReference removed). Pods owned by another controller are left alone.
// - Scale down deletes, in order: unassigned before assigned, Pending before Unknown before
//   Running, not Ready before Ready, lower controller.kubernetes.io/pod-deletion-cost first, pods
//   sharing a node with more of the same ReplicaSet's pods first, more recently Ready first, more
//   container restarts first, newer first (Kubernetes' ActivePodsWithRanks).
// - Pods that are terminating (deletionTimestamp) or finished (Succeeded/Failed) count for
//   nothing.
// - Status: replicas, fullyLabeledReplicas (pods carrying every template label), readyReplicas,
//   availableReplicas (Ready for minReadySeconds, from the Ready condition's
//   lastTransitionTime; the ReplicaSet is looked at again when the next pod becomes available),
//   observedGeneration, and the ReplicaFailure condition (FailedCreate / FailedDelete) while
//   creates or deletes fail.
// - Events on the ReplicaSet: SuccessfulCreate "Created pod: <name>", SuccessfulDelete "Deleted
//   pod: <name>", FailedCreate and FailedDelete (Warning).
//
// Thread-safety: as Controller. Reads the "replicasets" and "pods" informers of ctx.informers,
// which must outlive the controller; their handlers become no-ops once the controller is
// destroyed.
#pragma once

#include <memory>

#include "orch/controller/controller.hpp"
#include "orch/controller/manager.hpp"
#include "orch/status.hpp"

namespace orch::controller {

struct ReplicaSetControllerOptions {
  // Worker threads. Default: 5 (kube-controller-manager's --concurrent-replicaset-syncs).
  int workers = 5;
  // Most pods created or deleted by one sync. Default: 500 (Kubernetes' BurstReplicas).
  int burst_replicas = 500;
};

// The name the controller is registered under ("replicaset"), also its ControllerOptions name,
// and the component of its events.
inline constexpr const char* kReplicaSetControllerName = "replicaset";
inline constexpr const char* kReplicaSetControllerComponent = "replicaset-controller";

// Builds the controller on `ctx` and registers its informer handlers (replicasets, pods), so it
// must be called before ctx.informers starts. InvalidArgument when ctx has no client or no
// informers (ctx.events null: no events; ctx.clock null: the real clock).
Result<std::unique_ptr<Controller>> new_replicaset_controller(
    const ControllerContext& ctx, ReplicaSetControllerOptions options = {});

// {"replicaset", "replicaset-controller", new_replicaset_controller(ctx, options)}, for
// ControllerManager::add and register_default_controller.
ControllerRegistration replicaset_controller_registration(ReplicaSetControllerOptions options = {});

}  // namespace orch::controller
