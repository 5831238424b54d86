// Pure parts of the StatefulSet controller (see statefulset_controller.hpp): identities, the
// revision hash, the pod and claim objects built for one ordinal, and the plan of one sync (which
// pods to create and delete, in Kubernetes' order). No I/O; unit-tested on their own.
//
// Thread-safety: every function is pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

namespace orch::controller::statefulset {

// Label keys Kubernetes puts on StatefulSet pods.
inline constexpr const char* kPodNameLabel = "statefulset.kubernetes.io/pod-name";
inline constexpr const char* kPodIndexLabel = "apps.kubernetes.io/pod-index";
inline constexpr const char* kRevisionLabel = "controller-revision-hash";

// "<set>-<ordinal>".
std::string pod_name(std::string_view set, int ordinal);
// The ordinal of `pod` when it is named "<set>-<non-negative decimal>", else nullopt.
std::optional<int> parse_ordinal(std::string_view set, std::string_view pod);
// "<template>-<set>-<ordinal>": the claim of volumeClaimTemplate `tmpl` for one ordinal.
std::string claim_name(std::string_view tmpl, std::string_view set, int ordinal);
// The revision of a pod template: "<set>-<hash>", the hash being FNV-32a of the serialized
// template spelled in "bcdfghjklmnpqrstvwxz2456789" (as ControllerRevision names are). Equal
// templates give equal revisions.
std::string revision_of(std::string_view set, const boost::json::value& pod_template);

// The pod of `ordinal` built from `pod_template` (the StatefulSet's spec.template or an earlier
// one), with the identity labels, hostname/subdomain, the ownerReference to `set`, and volumes
// referring to the set's claims (a volume named like a claim template is replaced).
boost::json::value build_pod(const boost::json::value& set, const boost::json::value& pod_template,
                             std::string_view revision, int ordinal);
// The PersistentVolumeClaims of `ordinal`, one per spec.volumeClaimTemplates entry, labelled with
// the set's selector matchLabels (plus the template's labels). No ownerReference (Retain).
std::vector<boost::json::value> build_claims(const boost::json::value& set, int ordinal);

// What a sync looks at: one pod per ordinal as the cache has it.
struct PodState {
  int ordinal = 0;
  bool terminating = false;  // metadata.deletionTimestamp
  bool finished = false;     // phase Succeeded or Failed
  bool healthy = false;      // Running and Ready (and not terminating)
  std::string revision;      // controller-revision-hash label
};

struct SetSpec {
  int replicas = 1;
  bool parallel = false;   // podManagementPolicy Parallel (else OrderedReady)
  bool on_delete = false;  // updateStrategy OnDelete (else RollingUpdate)
  int partition = 0;       // RollingUpdate partition
  std::string current_revision;
  std::string update_revision;
};

struct Action {
  enum class Kind : std::uint8_t { kCreate, kDelete };
  Kind kind = Kind::kCreate;
  int ordinal = 0;
  std::string revision;  // kCreate: the revision the new pod gets
  bool operator==(const Action&) const = default;
};

// Kubernetes' defaultStatefulSetControl.updateStatefulSet, one sync's worth, in order:
//  1. every ordinal in [0, replicas): a missing pod is created (ordinals below the partition at
//     the current revision, the rest at the update revision); a finished pod is deleted (to be
//     recreated next sync). OrderedReady stops at the first pod it created or deleted, or that is
//     terminating or not yet healthy.
//  2. pods with ordinals >= replicas, highest first: deleted; OrderedReady deletes one at a time,
//     waits for a terminating one to go, and never deletes while a lower ordinal is unhealthy.
//  3. RollingUpdate: from the highest ordinal down to the partition, the first pod not at the
//     update revision is deleted (recreated next sync at the update revision); stops at the first
//     unhealthy pod. One at a time in both policies. OnDelete: nothing.
// A terminating pod is never replaced while it exists (one identity, one pod).
std::vector<Action> plan(const SetSpec& spec, const std::vector<PodState>& pods);

}  // namespace orch::controller::statefulset
