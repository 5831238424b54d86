// The Deployment controller (Kubernetes' pkg/controller/deployment): rolls a Deployment's pod
// template out through ReplicaSets.
//
// - One ReplicaSet per pod template, named "<deployment>-<pod-template-hash>"; the hash is also
//   the `pod-template-hash` label of the ReplicaSet, its selector and its pod template. An
//   existing ReplicaSet whose template equals the Deployment's (ignoring that label) is re-used,
//   which is what makes `kubectl rollout undo` (it copies an old ReplicaSet's template back into
//   the Deployment) scale the old ReplicaSet up again instead of creating another.
// - RollingUpdate by maxSurge / maxUnavailable (numbers or percentages: surge rounds up,
//   unavailable down, both 0 -> unavailable 1), counting a pod available once Ready for
//   minReadySeconds; Recreate (every old pod gone before the new ReplicaSet gets any).
// - Revisions: `deployment.kubernetes.io/revision` (and `revision-history` when a ReplicaSet is
//   rolled back to) on ReplicaSets and the Deployment; `desired-replicas` and `max-replicas` on
//   ReplicaSets; old ReplicaSets at 0 replicas beyond revisionHistoryLimit are deleted.
// - spec.paused: no rollout, but scaling still applies. A change of spec.replicas mid-rollout
//   scales every active ReplicaSet in proportion.
// - Status: observedGeneration, replicas, updatedReplicas, readyReplicas, availableReplicas,
//   unavailableReplicas, collisionCount, conditions Available (MinimumReplicasAvailable /
//   MinimumReplicasUnavailable) and Progressing (NewReplicaSetCreated, FoundNewReplicaSet,
//   ReplicaSetUpdated, NewReplicaSetAvailable, DeploymentPaused / DeploymentResumed, and False
//   with ProgressDeadlineExceeded after progressDeadlineSeconds without progress).
// - Adopts orphan ReplicaSets its selector matches and releases owned ones it no longer
//   matches (ownerReferences with controller and blockOwnerDeletion true).
// - Events on the Deployment: ScalingReplicaSet ("Scaled up replica set kuard-6d8f7b9c5 to 5",
//   "Scaled down replica set kuard-6d8f7b9c5 to 0 from 1"), ReplicaSetCreateError, SelectingAll.
//
// Pod counts (status.replicas, ready, available of each ReplicaSet) come from the pods the
// controller sees in the pod informer, not from the ReplicaSets' status: the counts are then never
// older than the pods, so a rollout cannot take down more pods than maxUnavailable allows on a
// ReplicaSet status that has not caught up yet.
//
// Usage: manager.add(deployment_controller_registration()); or by hand (what the manager does):
//   auto c = orch::controller::new_deployment_controller(ctx);   // before informers start
//   ctx.informers->start(); ctx.informers->wait_for_sync(...);
//   (*c)->start();  ...  (*c)->stop();
//
// Thread-safety: as Controller. The controller reads the "deployments", "replicasets" and "pods"
// informers of ctx.informers, which must outlive it.
#pragma once

#include <memory>

#include "orch/controller/controller.hpp"
#include "orch/controller/manager.hpp"
#include "orch/status.hpp"

namespace orch::controller {

struct DeploymentControllerOptions {
  // Worker threads. Default: 2.
  int workers = 2;
};

// The name the controller is registered under ("deployment"), also its ControllerOptions name,
// and the component of its events.
inline constexpr const char* kDeploymentControllerName = "deployment";
inline constexpr const char* kDeploymentControllerComponent = "deployment-controller";

// Builds the Deployment controller on `ctx` and registers its informer handlers (deployments,
// replicasets and pods), so it must be called before ctx.informers starts. InvalidArgument when
// ctx has no client or no informers (ctx.events may be null: no events are recorded; ctx.clock
// null means the real clock).
Result<std::unique_ptr<Controller>> new_deployment_controller(
    const ControllerContext& ctx, DeploymentControllerOptions options = {});

// {"deployment", "deployment-controller", new_deployment_controller(ctx, options)}, for
// ControllerManager::add and register_default_controller.
ControllerRegistration deployment_controller_registration(DeploymentControllerOptions options = {});

}  // namespace orch::controller
