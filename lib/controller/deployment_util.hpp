// Pure functions of the Deployment controller (Kubernetes' pkg/controller/deployment/util and
// the arithmetic of sync.go / rolling.go / progress.go): the pod-template-hash, maxSurge and
// maxUnavailable, revision annotations, finding the new ReplicaSet, how many replicas the new
// ReplicaSet may have, proportional scaling, conditions and progress.
//
// Everything here works on typed values (api::Deployment, api::ReplicaSet, api::Pod) and reads no
// clock of its own: callers pass `now`. A ReplicaSet's `status` as these functions read it is
// whatever the caller put there (the controller fills it from the pods it sees, see
// deployment_controller.cpp).
//
// Thread-safety: stateless functions.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orch/api/int_or_string.hpp"
#include "orch/api/types/apps.hpp"
#include "orch/api/types/core.hpp"
#include "orch/status.hpp"

namespace orch::controller::deployment {

inline constexpr std::string_view kPodTemplateHashLabel = "pod-template-hash";
inline constexpr std::string_view kRevisionAnnotation = "deployment.kubernetes.io/revision";
inline constexpr std::string_view kRevisionHistoryAnnotation =
    "deployment.kubernetes.io/revision-history";
inline constexpr std::string_view kDesiredReplicasAnnotation =
    "deployment.kubernetes.io/desired-replicas";
inline constexpr std::string_view kMaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";
inline constexpr std::string_view kLastAppliedAnnotation =
    "kubectl.kubernetes.io/last-applied-configuration";
inline constexpr std::string_view kRollbackToAnnotation = "deprecated.deployment.rollback.to";
// Kubernetes' limit on the revision-history annotation (maxRevHistoryLengthInChars).
inline constexpr std::size_t kMaxRevisionHistoryChars = 2000;

// Condition types and reasons, as Kubernetes spells them.
inline constexpr std::string_view kConditionAvailable = "Available";
inline constexpr std::string_view kConditionProgressing = "Progressing";
inline constexpr std::string_view kConditionReplicaFailure = "ReplicaFailure";
inline constexpr std::string_view kReasonReplicaSetUpdated = "ReplicaSetUpdated";
inline constexpr std::string_view kReasonFailedRSCreate = "ReplicaSetCreateError";
inline constexpr std::string_view kReasonNewReplicaSet = "NewReplicaSetCreated";
inline constexpr std::string_view kReasonFoundNewRS = "FoundNewReplicaSet";
inline constexpr std::string_view kReasonNewRSAvailable = "NewReplicaSetAvailable";
inline constexpr std::string_view kReasonTimedOut = "ProgressDeadlineExceeded";
inline constexpr std::string_view kReasonPaused = "DeploymentPaused";
inline constexpr std::string_view kReasonResumed = "DeploymentResumed";
inline constexpr std::string_view kReasonMinimumReplicasAvailable = "MinimumReplicasAvailable";
inline constexpr std::string_view kReasonMinimumReplicasUnavailable = "MinimumReplicasUnavailable";

// ----------------------------------------------------------------------------- hashing

// FNV-1a, 32 bits, continuing from `hash` (start with kFnv32Offset).
inline constexpr std::uint32_t kFnv32Offset = 2166136261u;
std::uint32_t fnv32a(std::string_view bytes, std::uint32_t hash = kFnv32Offset);
// Kubernetes' rand.SafeEncodeString: each byte mapped into "bcdfghjklmnpqrstvwxz2456789" (no
// vowels, no 0/1/3, so a hash never spells a word).
std::string safe_encode_string(std::string_view s);
// `value` as compact JSON with every object's keys sorted (recursively): one byte string per
// JSON value, whatever order its members were built in.
std::string canonical_json(const boost::json::value& value);
// Kubernetes' controller.ComputeHash: FNV-32a of the template, then of collisionCount as 8
// little-endian bytes (upper 4 zero) when set, the decimal of the sum rendered with
// safe_encode_string. Kubernetes feeds the hasher Go's DeepHashObject (a %#v dump of the Go
// struct), which cannot be reproduced outside Go; we hash canonical_json(encode(template)), which
// is stable across restarts and processes, so a restarted controller finds its ReplicaSets again.
std::string compute_hash(const api::PodTemplateSpec& tmpl, std::optional<std::int32_t> collision);

// EqualIgnoreHash: the templates are equal once the pod-template-hash label is dropped from both.
bool equal_ignore_hash(const api::PodTemplateSpec& a, const api::PodTemplateSpec& b);

// ----------------------------------------------------------------------------- surge/unavailable

struct Fenceposts {
  std::int32_t max_surge = 0;
  std::int32_t max_unavailable = 0;
  bool operator==(const Fenceposts&) const = default;
};
// ResolveFenceposts: surge rounds percentages up, unavailable rounds down (unset = 0); when both
// come out 0, unavailable is 1. BadRequest for a malformed percentage.
Result<Fenceposts> resolve_fenceposts(const std::optional<api::IntOrString>& max_surge,
                                      const std::optional<api::IntOrString>& max_unavailable,
                                      std::int32_t desired);
bool is_rolling_update(const api::Deployment& d);
std::int32_t replicas_of(const api::Deployment& d);  // spec.replicas, 1 when unset
std::int32_t replicas_of(const api::ReplicaSet& rs);  // spec.replicas, 1 when unset
// 0 unless RollingUpdate; never more than spec.replicas (MaxUnavailable).
std::int32_t max_unavailable(const api::Deployment& d);
// 0 unless RollingUpdate (MaxSurge).
std::int32_t max_surge(const api::Deployment& d);

// ----------------------------------------------------------------------------- revisions

// The revision annotation as a number; 0 when absent or malformed.
std::int64_t revision_of(const api::ObjectMeta& meta);
std::int64_t max_revision(const std::vector<const api::ReplicaSet*>& rss);
// SetNewReplicaSetAnnotations: copies the deployment's annotations (but the skipped ones), raises
// the revision to `new_revision` when lower (moving the old one into revision-history, bounded by
// `history_limit_chars`), and on a not-yet-existing RS sets desired/max replicas. True when an
// annotation changed.
bool set_new_replica_set_annotations(const api::Deployment& d, api::ReplicaSet& rs,
                                     std::int64_t new_revision, bool exists,
                                     std::size_t history_limit_chars = kMaxRevisionHistoryChars);
// desired-replicas and max-replicas; true when changed.
bool set_replicas_annotations(api::ReplicaSet& rs, std::int32_t desired, std::int32_t max);
// Annotations Kubernetes never copies between a Deployment and its ReplicaSets.
bool skip_copy_annotation(std::string_view key);

// ----------------------------------------------------------------------------- selection

// Orderings of Kubernetes' controller package.
// Oldest first (creationTimestamp, then name).
bool older(const api::ReplicaSet& a, const api::ReplicaSet& b);
// By revision, then as older().
bool lower_revision(const api::ReplicaSet& a, const api::ReplicaSet& b);

// FindNewReplicaSet: the oldest RS whose template equals the deployment's (ignoring the hash).
// Null when none.
const api::ReplicaSet* find_new_replica_set(const api::Deployment& d,
                                            const std::vector<const api::ReplicaSet*>& rss);
// Every RS but `new_rs` (which may be null).
std::vector<const api::ReplicaSet*> find_old_replica_sets(
    const std::vector<const api::ReplicaSet*>& rss, const api::ReplicaSet* new_rs);
// Those with spec.replicas > 0.
std::vector<const api::ReplicaSet*> filter_active(const std::vector<const api::ReplicaSet*>& rss);
// FindActiveOrLatest: the only active RS, or the newest (new RS first) when none is active; null
// when several are active.
const api::ReplicaSet* find_active_or_latest(const api::ReplicaSet* new_rs,
                                             std::vector<const api::ReplicaSet*> old_rss);

// Sums over ReplicaSets (null entries are skipped): spec.replicas, status.replicas,
// status.readyReplicas, status.availableReplicas.
std::int32_t sum_spec_replicas(const std::vector<const api::ReplicaSet*>& rss);
std::int32_t sum_status_replicas(const std::vector<const api::ReplicaSet*>& rss);
std::int32_t sum_ready_replicas(const std::vector<const api::ReplicaSet*>& rss);
std::int32_t sum_available_replicas(const std::vector<const api::ReplicaSet*>& rss);

// ----------------------------------------------------------------------------- scaling

// NewRSNewReplicas: how many replicas the new RS may have now. RollingUpdate: up to
// spec.replicas + maxSurge pods in all, never more than spec.replicas in the new RS. Each RS
// counts max(spec.replicas, status.replicas): pods an RS still has beyond its spec (a scale-down
// the ReplicaSet controller has not finished) count against the surge, so the bound holds on
// real pods and not only on specs (Kubernetes counts specs only). Recreate: spec.replicas.
std::int32_t new_rs_new_replicas(const api::Deployment& d,
                                 const std::vector<const api::ReplicaSet*>& all_rss,
                                 const api::ReplicaSet& new_rs);
// IsSaturated: the new RS has all desired replicas, annotated so, and all available.
bool is_saturated(const api::Deployment& d, const api::ReplicaSet* rs);
// GetProportion (with getReplicaSetFraction): the share of `to_add` for `rs`, from its
// max-replicas annotation (or `fallback_total` when absent).
std::int32_t get_proportion(const api::ReplicaSet& rs, const api::Deployment& d,
                            std::int32_t to_add, std::int32_t added, std::int32_t fallback_total);
// The sizes Kubernetes' scale() gives every active RS of a rolling deployment when spec.replicas
// changed mid-rollout: the difference to spec.replicas + maxSurge spread in proportion to each
// RS's size, leftovers on the first (largest, newest when scaling up / oldest when scaling down).
// `active` are the RSs with spec.replicas > 0 (new and old). Returns name -> new size.
std::map<std::string, std::int32_t> proportional_sizes(
    const api::Deployment& d, std::vector<const api::ReplicaSet*> active);

// ----------------------------------------------------------------------------- pods

// A pod is ready when its Ready condition is True; available when ready for at least
// `min_ready_seconds` by `now` (Kubernetes' podutil.IsPodAvailable).
bool pod_ready(const api::Pod& pod);
bool pod_available(const api::Pod& pod, std::int32_t min_ready_seconds,
                   std::chrono::system_clock::time_point now);
// When a ready-but-not-yet-available pod becomes available (nullopt when not ready or already).
std::optional<std::chrono::system_clock::time_point> pod_available_at(
    const api::Pod& pod, std::int32_t min_ready_seconds, std::chrono::system_clock::time_point now);

// ----------------------------------------------------------------------------- conditions

const api::WorkloadCondition* get_condition(const api::DeploymentStatus& s, std::string_view type);
// SetDeploymentCondition: no change when status and reason are the same; keeps
// lastTransitionTime when only the reason changes.
void set_condition(api::DeploymentStatus& s, api::WorkloadCondition c);
void remove_condition(api::DeploymentStatus& s, std::string_view type);
api::WorkloadCondition new_condition(std::string_view type, std::string_view status,
                                     std::string_view reason, std::string message,
                                     std::chrono::system_clock::time_point now);

bool has_progress_deadline(const api::Deployment& d);
bool has_revision_history_limit(const api::Deployment& d);
// DeploymentComplete: every desired replica updated and available, none old, generation seen.
bool deployment_complete(const api::Deployment& d, const api::DeploymentStatus& s);
// DeploymentProgressing: more updated/ready/available pods, or fewer old ones, than d.status.
bool deployment_progressing(const api::Deployment& d, const api::DeploymentStatus& s);
// DeploymentTimedOut: the Progressing condition of `s` was last updated more than
// progressDeadlineSeconds before `now` (or already says ProgressDeadlineExceeded).
bool deployment_timed_out(const api::Deployment& d, const api::DeploymentStatus& s,
                          std::chrono::system_clock::time_point now);

// Rollout status fields (calculateStatus) from the ReplicaSets' status, with the Available
// condition set. Conditions of d.status are carried over.
api::DeploymentStatus calculate_status(const api::Deployment& d,
                                       const std::vector<const api::ReplicaSet*>& all_rss,
                                       const api::ReplicaSet* new_rs,
                                       std::chrono::system_clock::time_point now);
// syncRolloutStatus's condition logic on top of calculate_status: Progressing as
// NewReplicaSetAvailable / ReplicaSetUpdated / ProgressDeadlineExceeded.
api::DeploymentStatus rollout_status(const api::Deployment& d,
                                     const std::vector<const api::ReplicaSet*>& all_rss,
                                     const api::ReplicaSet* new_rs,
                                     std::chrono::system_clock::time_point now);
// requeueStuckDeployment: when to look again for a deadline (nullopt: no need).
std::optional<std::chrono::nanoseconds> stuck_requeue_after(
    const api::Deployment& d, const api::DeploymentStatus& new_status,
    std::chrono::system_clock::time_point now);

}  // namespace orch::controller::deployment
