// Validation of every kind with Kubernetes' rules and messages (pkg/apis/core/validation,
// pkg/apis/apps/validation, ...). Each function returns every violated field with its path,
// empty when the object is valid:
//   spec.containers[0].name: Required value
//   spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: `selector` does
//     not match template `labels`
// The registry (registry.hpp) turns a non-empty list into the 422 Status with invalid_status().
//
// Preconditions, as in the API server: the object is defaulted (defaults.hpp) and has its final
// metadata.name (generateName already expanded) and, for namespaced kinds, metadata.namespace.
// validate_update(updated, old) checks the update rules (immutable fields; the Pod spec may only
// change images, activeDeadlineSeconds, tolerations (additions) and terminationGracePeriodSeconds
// (negative -> 1)) and then validates `updated` as validate() does.
//
// Thread-safety: stateless; call from any thread.
#pragma once

#include <string>

#include "orch/api/field_error.hpp"
#include "orch/api/types.hpp"

namespace orch::api {

// How a kind's metadata.name is checked.
enum class NameRule : std::uint8_t {
  kDns1123Subdomain,  // most kinds
  kDns1123Label,      // Namespace
  kDns1035Label,      // Service
};

// ObjectMeta rules at `path` ("metadata"): name per `rule` (Required when empty), generateName
// (a prefix: a trailing '-' allowed), namespace Required for namespaced kinds / Forbidden for
// cluster-scoped ones, labels, annotations, ownerReferences fields, finalizer names.
FieldErrors validate_object_meta(const ObjectMeta& meta, bool namespaced, NameRule rule,
                                 const std::string& path);
// Update rules of ObjectMeta: name, namespace, uid and creationTimestamp are immutable.
FieldErrors validate_object_meta_update(const ObjectMeta& updated, const ObjectMeta& old,
                                        const std::string& path);
// PodSpec rules at `path` ("spec", "spec.template.spec"): volumes, containers, init containers,
// restartPolicy, dnsPolicy, nodeSelector, affinity, tolerations, topology spread, ...
FieldErrors validate_pod_spec(const PodSpec& spec, const std::string& path);

FieldErrors validate(const Namespace& ns);
FieldErrors validate(const Node& node);
FieldErrors validate(const Pod& pod);
FieldErrors validate(const Service& svc);
FieldErrors validate(const Endpoints& ep);
FieldErrors validate(const Event& event);
FieldErrors validate(const ConfigMap& cm);
FieldErrors validate(const Secret& secret);
FieldErrors validate(const PersistentVolume& pv);
FieldErrors validate(const PersistentVolumeClaim& pvc);
FieldErrors validate(const Deployment& d);
FieldErrors validate(const ReplicaSet& rs);
FieldErrors validate(const StatefulSet& sts);
FieldErrors validate(const DaemonSet& ds);
FieldErrors validate(const ControllerRevision& cr);
FieldErrors validate(const Lease& lease);
FieldErrors validate(const StorageClass& sc);
FieldErrors validate(const EndpointSlice& slice);

// Node: podCIDR/podCIDRs may only be set once.
FieldErrors validate_update(const Namespace& updated, const Namespace& old);
FieldErrors validate_update(const Node& updated, const Node& old);
// "pod updates may not change fields other than ..." (Forbidden at spec), activeDeadlineSeconds
// only added or lowered, tolerations only added.
FieldErrors validate_update(const Pod& updated, const Pod& old);
// spec.clusterIP immutable once set (except to or from ExternalName).
FieldErrors validate_update(const Service& updated, const Service& old);
FieldErrors validate_update(const Endpoints& updated, const Endpoints& old);
FieldErrors validate_update(const Event& updated, const Event& old);
// With immutable: true on the old object: data, binaryData and immutable itself are Forbidden
// to change.
FieldErrors validate_update(const ConfigMap& updated, const ConfigMap& old);
// As ConfigMap, and type is immutable.
FieldErrors validate_update(const Secret& updated, const Secret& old);
// volumeMode, the volume source and nodeAffinity are immutable.
FieldErrors validate_update(const PersistentVolume& updated, const PersistentVolume& old);
// spec immutable except resources.requests for bound claims (and volumeName set once); storage
// may not shrink.
FieldErrors validate_update(const PersistentVolumeClaim& updated,
                            const PersistentVolumeClaim& old);
// spec.selector immutable.
FieldErrors validate_update(const Deployment& updated, const Deployment& old);
FieldErrors validate_update(const ReplicaSet& updated, const ReplicaSet& old);
FieldErrors validate_update(const DaemonSet& updated, const DaemonSet& old);
// Only replicas, ordinals, template, updateStrategy, persistentVolumeClaimRetentionPolicy and
// minReadySeconds may change.
FieldErrors validate_update(const StatefulSet& updated, const StatefulSet& old);
// data and revision are immutable.
FieldErrors validate_update(const ControllerRevision& updated, const ControllerRevision& old);
FieldErrors validate_update(const Lease& updated, const Lease& old);
// provisioner, parameters, reclaimPolicy and volumeBindingMode are immutable.
FieldErrors validate_update(const StorageClass& updated, const StorageClass& old);
// addressType is immutable.
FieldErrors validate_update(const EndpointSlice& updated, const EndpointSlice& old);

// Go's %#v of a map[string]string, as Kubernetes prints label maps in messages:
// map[string]string{"app":"x", "tier":"web"}; map[string]string(nil) when empty.
std::string go_string_map(const StringMap& m);
// Go's %#v of a metav1.LabelSelector: v1.LabelSelector{MatchLabels:..., MatchExpressions:...}.
std::string go_label_selector(const LabelSelector& s);

}  // namespace orch::api
