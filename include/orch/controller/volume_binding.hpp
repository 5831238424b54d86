// Kubernetes' PersistentVolume binding rules as pure functions over objects held as JSON, shared
// by the PersistentVolume controller (persistentvolume_controller.hpp), the local-path
// provisioner (local_path_provisioner.hpp) and the scheduler's VolumeBinding plugin, so the three
// agree on which volume fits which claim.
//
// A claim fits a volume (volume_fits) when:
//   - the volume is not being deleted and is not bound to another claim (its claimRef, when set,
//     names this claim's namespace and name, and its uid when the claimRef has one);
//   - the storage classes are equal (the claim's resolved class, see claim_class; "" matches only
//     volumes without a class);
//   - the volume offers every access mode the claim asks for;
//   - the volume modes are equal (unset reads as Filesystem);
//   - the claim's spec.selector, when set, matches the volume's labels;
//   - the volume's capacity is at least the claim's resources.requests.storage;
//   - `node_ok` (when given) accepts the volume's spec.nodeAffinity.required (nullptr when none).
// best_volume() picks, as pkg/controller/volume/persistentvolume/index.go does, a volume
// pre-bound to the claim (its claimRef names it) when one fits, else the smallest fitting one
// that is Available (or Pending) and not pre-bound elsewhere.
//
// Thread-safety: every function is pure.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "orch/client/resource.hpp"

namespace orch::controller {

// storage.k8s.io/v1 storageclasses (cluster-scoped).
inline const client::Resource kStorageClassesResource{"storage.k8s.io", "v1", "storageclasses",
                                                      false};

}  // namespace orch::controller

namespace orch::controller::volume {

// Annotations and names Kubernetes (and our local-path provisioner) use.
inline constexpr const char* kBindCompletedAnnotation = "pv.kubernetes.io/bind-completed";
inline constexpr const char* kBoundByControllerAnnotation = "pv.kubernetes.io/bound-by-controller";
inline constexpr const char* kProvisionedByAnnotation = "pv.kubernetes.io/provisioned-by";
inline constexpr const char* kSelectedNodeAnnotation = "volume.kubernetes.io/selected-node";
inline constexpr const char* kStorageProvisionerAnnotation =
    "volume.kubernetes.io/storage-provisioner";
inline constexpr const char* kBetaStorageProvisionerAnnotation =
    "volume.beta.kubernetes.io/storage-provisioner";
inline constexpr const char* kBetaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class";
inline constexpr const char* kDefaultClassAnnotation = "storageclass.kubernetes.io/is-default-class";
inline constexpr const char* kBetaDefaultClassAnnotation =
    "storageclass.beta.kubernetes.io/is-default-class";

// The built-in local provisioner (like k3s's local-path): its StorageClass and provisioner name.
inline constexpr const char* kLocalPathClass = "local-path";
inline constexpr const char* kLocalPathProvisioner = "orch.io/local-path";
// On a Node: the directory under which that node's agent keeps local-path volumes (the agent
// sets it to "<data dir>/volumes"). A node without it cannot host provisioned volumes.
inline constexpr const char* kNodeVolumeDirAnnotation = "orch.io/local-path-dir";
// On a provisioned PersistentVolume: the node that holds its directory (a label, so that node's
// agent can watch just its own volumes) and the finalizer that agent removes once the directory
// is gone.
inline constexpr const char* kVolumeNodeLabel = "orch.io/local-path-node";
inline constexpr const char* kCleanupFinalizer = "orch.io/local-path-cleanup";

// The claim's storage class: spec.storageClassName, else the beta annotation; nullopt when
// neither is set (the default class applies), "" for "no class".
std::optional<std::string> claim_class(const boost::json::value& claim);
// The volume's class: spec.storageClassName, else the beta annotation, else "".
std::string volume_class(const boost::json::value& pv);
// The default StorageClass among `classes` (annotation is-default-class "true"; the newest by
// creationTimestamp, then name, when several are), or nullptr.
const boost::json::value* default_class(const std::vector<const boost::json::value*>& classes);

// resources.requests.storage of a claim / capacity.storage of a volume, in bytes (0 when unset
// or malformed).
std::int64_t requested_bytes(const boost::json::value& claim);
std::int64_t capacity_bytes(const boost::json::value& pv);

// The volume's claimRef names this claim (namespace, name, and uid when the ref has one).
bool claim_ref_names(const boost::json::value& pv, const boost::json::value& claim);
// The volume's claimRef is set.
bool has_claim_ref(const boost::json::value& pv);

// Accepts or rejects a volume's spec.nodeAffinity.required (nullptr: the volume has none).
using NodeCheck = std::function<bool(const boost::json::value* required)>;

// See the file comment. `klass` is the claim's resolved class.
bool volume_fits(const boost::json::value& claim, std::string_view klass,
                 const boost::json::value& pv, const NodeCheck& node_ok = {});
// See the file comment; nullptr when nothing fits.
const boost::json::value* best_volume(const boost::json::value& claim, std::string_view klass,
                                      const std::vector<const boost::json::value*>& pvs,
                                      const NodeCheck& node_ok = {});

}  // namespace orch::controller::volume
