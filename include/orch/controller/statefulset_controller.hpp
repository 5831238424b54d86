// The StatefulSet controller (Kubernetes' pkg/controller/statefulset): pods with stable,
// ordered identities and stable storage.
//
// - Pods are named "<set>-<ordinal>" for ordinals 0..spec.replicas-1, built from spec.template
//   plus the labels statefulset.kubernetes.io/pod-name, apps.kubernetes.io/pod-index and
//   controller-revision-hash, spec.hostname = the pod's name, spec.subdomain = spec.serviceName,
//   and an ownerReference to the set (controller, blockOwnerDeletion).
// - Stable storage: for each spec.volumeClaimTemplates entry, the PersistentVolumeClaim
//   "<template>-<set>-<ordinal>" (labelled with the set's selector matchLabels) is created before
//   the pod, and the pod's volume of that name refers to it. Claims are never deleted by the
//   controller (Kubernetes' default persistentVolumeClaimRetentionPolicy, Retain).
// - podManagementPolicy OrderedReady (default): one pod created at a time, each Running and Ready
//   before the next ordinal; scale down from the highest ordinal, one at a time, each gone before
//   the next. Parallel: every missing pod created and every surplus pod deleted at once.
// - A pod is never replaced while it still exists (a terminating pod blocks its replacement), so
//   two pods never share one identity. Finished (Succeeded/Failed) pods are deleted and recreated.
// - Revisions: the revision of a template is "<set>-<FNV-32a hash>" (the controller-revision-hash
//   label). ControllerRevision objects are not part of our API: status.currentRevision and
//   status.updateRevision hold the hashes, and the template of the current revision is kept in
//   memory from the set's earlier spec (after a restart, pods recreated below the partition get the
//   update revision when the current template is unknown).
// - updateStrategy RollingUpdate (default): from the highest ordinal down to
//   rollingUpdate.partition, one pod at a time, each Running and Ready before the next; ordinals
//   below the partition keep (and are recreated at) the current revision. Once every replica is at
//   the update revision and Ready, currentRevision becomes updateRevision. OnDelete: pods are only
//   recreated, at the update revision, when the user deletes them.
// - Status: observedGeneration, replicas, readyReplicas, currentReplicas, updatedReplicas,
//   availableReplicas (Ready for minReadySeconds), currentRevision, updateRevision,
//   collisionCount (0) — what `kubectl rollout status statefulset` reads.
// - Events on the set: SuccessfulCreate "create Pod web-0 in StatefulSet web successful" (and
//   "create Claim data-web-0 Pod web-0 in StatefulSet web success"), SuccessfulDelete "delete Pod
//   web-2 in StatefulSet web successful", FailedCreate / FailedDelete (Warning).
// - Not done: adoption of orphan pods, persistentVolumeClaimRetentionPolicy Delete,
//   rollingUpdate.maxUnavailable, spec.ordinals.start.
//
// Thread-safety: as Controller. Reads the "statefulsets" and "pods" informers of ctx.informers,
// which must outlive the controller; their handlers become no-ops once the controller is
// destroyed.
#pragma once

#include <memory>

#include "orch/controller/controller.hpp"
#include "orch/controller/manager.hpp"
#include "orch/status.hpp"

namespace orch::controller {

struct StatefulSetControllerOptions {
  // Worker threads. Default: 5 (kube-controller-manager's --concurrent-statefulset-syncs).
  int workers = 5;
};

inline constexpr const char* kStatefulSetControllerName = "statefulset";
inline constexpr const char* kStatefulSetControllerComponent = "statefulset-controller";

// Builds the controller on `ctx` and registers its informer handlers (statefulsets, pods); call
// before ctx.informers starts. InvalidArgument when ctx has no client or no informers (ctx.events
// null: no events; ctx.clock null: the real clock).
Result<std::unique_ptr<Controller>> new_statefulset_controller(
    const ControllerContext& ctx, StatefulSetControllerOptions options = {});

// {"statefulset", "statefulset-controller", new_statefulset_controller(ctx, options)}.
ControllerRegistration statefulset_controller_registration(
    StatefulSetControllerOptions options = {});

}  // namespace orch::controller
