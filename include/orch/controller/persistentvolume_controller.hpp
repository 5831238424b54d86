// The PersistentVolume binder (Kubernetes' pkg/controller/volume/persistentvolume, the binding
// half): binds PersistentVolumeClaims to PersistentVolumes and moves volumes through their phases.
//
// - Claims (keys "pvc/<namespace>/<name>"):
//   - a claim without a class (spec.storageClassName unset) gets the default StorageClass's name
//     (annotation storageclass.kubernetes.io/is-default-class "true"), as Kubernetes' retroactive
//     default class assignment does;
//   - an unbound claim of a class with volumeBindingMode WaitForFirstConsumer waits (Pending)
//     until the scheduler names a node (annotation volume.kubernetes.io/selected-node); then only
//     volumes whose nodeAffinity admits that node are considered;
//   - an unbound claim is bound to the best fitting volume (volume_binding.hpp: a volume pre-bound
//     to it, else the smallest that fits by capacity, accessModes, class, volumeMode and selector):
//     the volume first (spec.claimRef with the claim's uid, annotation
//     pv.kubernetes.io/bound-by-controller, phase Bound), then the claim (spec.volumeName,
//     annotations pv.kubernetes.io/bind-completed and bound-by-controller, phase Bound with the
//     volume's accessModes and capacity);
//   - when nothing fits and the class names a provisioner, the claim gets the annotation
//     volume.kubernetes.io/storage-provisioner for that provisioner (local_path_provisioner.hpp)
//     and stays Pending; without a provisioner it stays Pending until a volume appears;
//   - a claim whose volume disappears turns Lost.
// - Volumes (keys "pv/<name>"): without a claimRef, Available; bound to an existing claim, Bound;
//   a volume whose claim is gone (checked against the API, not only the cache) turns Released.
//   Reclaim policy Retain keeps a Released volume (and its data) until an administrator deletes
//   it or clears its claimRef (it is then Available again). Delete: a volume its provisioner
//   made (annotation pv.kubernetes.io/provisioned-by) is deleted by that provisioner; any other
//   turns Failed ("no volume plugin can delete it"), as Kubernetes does for static volumes.
// - Not done: Recycle, volume expansion, dataSource, the pvc-protection finalizer.
//
// Thread-safety: as Controller. Reads the persistentvolumes, persistentvolumeclaims,
// storageclasses and nodes informers of ctx.informers, which must outlive the controller.
#pragma once

#include <memory>

#include "orch/client/resource.hpp"
#include "orch/controller/controller.hpp"
#include "orch/controller/manager.hpp"
#include "orch/controller/volume_binding.hpp"
#include "orch/status.hpp"

namespace orch::controller {

struct PersistentVolumeControllerOptions {
  // Worker threads. Default: 2.
  int workers = 2;
};

inline constexpr const char* kPersistentVolumeControllerName = "persistentvolume-binder";
inline constexpr const char* kPersistentVolumeControllerComponent = "persistentvolume-controller";

// Builds the binder on `ctx` and registers its informer handlers; call before ctx.informers
// starts. InvalidArgument when ctx has no client or no informers.
Result<std::unique_ptr<Controller>> new_persistentvolume_controller(
    const ControllerContext& ctx, PersistentVolumeControllerOptions options = {});

ControllerRegistration persistentvolume_controller_registration(
    PersistentVolumeControllerOptions options = {});

}  // namespace orch::controller
