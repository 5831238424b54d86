// The built-in local provisioner (like k3s's local-path-provisioner): directory volumes on the
// node a claim's pod was scheduled to.
//
// - ensure_local_path_class() creates the StorageClass "local-path" (provisioner
//   "orch.io/local-path", volumeBindingMode WaitForFirstConsumer, reclaimPolicy Delete) marked as
//   the cluster's default (storageclass.kubernetes.io/is-default-class "true") unless a class of
//   that name exists. The cluster calls it at start.
// - For an unbound claim of a class whose provisioner is orch.io/local-path, once it names a node
//   (annotation volume.kubernetes.io/selected-node, set by the scheduler), the provisioner creates
//   the PersistentVolume "pvc-<claim uid>": spec.local.path "<dir>/pvc-<claim uid>" where <dir> is
//   the node's annotation orch.io/local-path-dir (its agent's "<data dir>/volumes"), required
//   nodeAffinity kubernetes.io/hostname In [node], the claim's accessModes and requested
//   capacity, the class's reclaim policy, a claimRef to the claim (pre-bound: the binder finishes
//   the binding), annotation pv.kubernetes.io/provisioned-by, label orch.io/local-path-node=<node>
//   and finalizer orch.io/local-path-cleanup. For a class with volumeBindingMode Immediate the
//   node is the first (by name) that has the annotation.
// - The directory itself belongs to the node: its agent creates it when a pod first mounts the
//   volume, and deletes it when the volume object is deleted (it watches the volumes labelled
//   with its node name, removes the directory, then the finalizer).
// - A Released volume it provisioned with reclaim policy Delete is deleted (its directory then goes
//   with the agent's cleanup); Retain keeps it, and its directory, until an administrator deletes
//   the volume. A volume whose node no longer exists loses the finalizer at once (no agent is left
//   to clean up).
// - Events on the claim: ProvisioningSucceeded, ProvisioningFailed (node without the directory
//   annotation).
//
// Thread-safety: as Controller. Reads the persistentvolumeclaims, persistentvolumes,
// storageclasses and nodes informers of ctx.informers.
#pragma once

#include <memory>

#include "orch/client/client.hpp"
#include "orch/controller/controller.hpp"
#include "orch/controller/manager.hpp"
#include "orch/status.hpp"

namespace orch::controller {

struct LocalPathProvisionerOptions {
  // Worker threads. Default: 2.
  int workers = 2;
};

inline constexpr const char* kLocalPathProvisionerName = "local-path-provisioner";
inline constexpr const char* kLocalPathProvisionerComponent = "local-path-provisioner";

// Creates the default "local-path" StorageClass unless one of that name exists. Errors of the
// API other than AlreadyExists pass through.
Status ensure_local_path_class(client::Client& client);

// Builds the provisioner on `ctx` and registers its informer handlers; call before ctx.informers
// starts. InvalidArgument when ctx has no client or no informers.
Result<std::unique_ptr<Controller>> new_local_path_provisioner(
    const ControllerContext& ctx, LocalPathProvisionerOptions options = {});

ControllerRegistration local_path_provisioner_registration(
    LocalPathProvisionerOptions options = {});

}  // namespace orch::controller
