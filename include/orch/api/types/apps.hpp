// apps/v1 kinds: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision, with their
// lists. Conventions are in types/meta.hpp. Thread-safety: plain values.
#pragma once

#include <boost/describe/class.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orch/api/int_or_string.hpp"
#include "orch/api/selector.hpp"
#include "orch/api/time.hpp"
#include "orch/api/types/core.hpp"
#include "orch/api/types/meta.hpp"

namespace orch::api {

// DeploymentCondition, ReplicaSetCondition, StatefulSetCondition and DaemonSetCondition share
// this shape (only Deployment's uses lastUpdateTime; the others leave it unset and unwritten).
struct WorkloadCondition {
  std::string type;    // "Available", "Progressing", "ReplicaFailure"
  std::string status;  // "True", "False", "Unknown"
  std::optional<Time> last_update_time;
  std::optional<Time> last_transition_time;
  std::string reason;
  std::string message;
  static constexpr std::string_view kAlwaysEmit[] = {"type", "status"};
  bool operator==(const WorkloadCondition&) const = default;
};
BOOST_DESCRIBE_STRUCT(WorkloadCondition, (),
                      (type, status, last_update_time, last_transition_time, reason, message))

// ----------------------------------------------------------------------------- Deployment

struct RollingUpdateDeployment {
  std::optional<IntOrString> max_unavailable;
  std::optional<IntOrString> max_surge;
  bool operator==(const RollingUpdateDeployment&) const = default;
};
BOOST_DESCRIBE_STRUCT(RollingUpdateDeployment, (), (max_unavailable, max_surge))

struct DeploymentStrategy {
  std::string type;  // "RollingUpdate", "Recreate"
  std::optional<RollingUpdateDeployment> rolling_update;
  bool operator==(const DeploymentStrategy&) const = default;
};
BOOST_DESCRIBE_STRUCT(DeploymentStrategy, (), (type, rolling_update))

struct DeploymentSpec {
  std::optional<std::int32_t> replicas;
  std::optional<LabelSelector> selector;
  PodTemplateSpec template_;
  DeploymentStrategy strategy;
  std::int32_t min_ready_seconds = 0;
  std::optional<std::int32_t> revision_history_limit;
  bool paused = false;
  std::optional<std::int32_t> progress_deadline_seconds;
  bool operator==(const DeploymentSpec&) const = default;
};
BOOST_DESCRIBE_STRUCT(DeploymentSpec, (),
                      (replicas, selector, template_, strategy, min_ready_seconds,
                       revision_history_limit, paused, progress_deadline_seconds))

struct DeploymentStatus {
  std::int64_t observed_generation = 0;
  std::int32_t replicas = 0;
  std::int32_t updated_replicas = 0;
  std::int32_t ready_replicas = 0;
  std::int32_t available_replicas = 0;
  std::int32_t unavailable_replicas = 0;
  std::optional<std::int32_t> terminating_replicas;
  std::vector<WorkloadCondition> conditions;
  std::optional<std::int32_t> collision_count;
  bool operator==(const DeploymentStatus&) const = default;
};
BOOST_DESCRIBE_STRUCT(DeploymentStatus, (),
                      (observed_generation, replicas, updated_replicas, ready_replicas,
                       available_replicas, unavailable_replicas, terminating_replicas,
                       conditions, collision_count))

struct Deployment {
  static constexpr std::string_view kApiVersion = "apps/v1";
  static constexpr std::string_view kKind = "Deployment";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  DeploymentSpec spec;
  DeploymentStatus status;
  bool operator==(const Deployment&) const = default;
};
BOOST_DESCRIBE_STRUCT(Deployment, (), (api_version, kind, metadata, spec, status))
ORCH_API_DECLARE_LIST(Deployment);

// ----------------------------------------------------------------------------- ReplicaSet

struct ReplicaSetSpec {
  std::optional<std::int32_t> replicas;
  std::int32_t min_ready_seconds = 0;
  std::optional<LabelSelector> selector;
  PodTemplateSpec template_;
  bool operator==(const ReplicaSetSpec&) const = default;
};
BOOST_DESCRIBE_STRUCT(ReplicaSetSpec, (), (replicas, min_ready_seconds, selector, template_))

struct ReplicaSetStatus {
  std::int32_t replicas = 0;
  std::int32_t fully_labeled_replicas = 0;
  std::int32_t ready_replicas = 0;
  std::int32_t available_replicas = 0;
  std::optional<std::int32_t> terminating_replicas;
  std::int64_t observed_generation = 0;
  std::vector<WorkloadCondition> conditions;
  static constexpr std::string_view kAlwaysEmit[] = {"replicas"};
  bool operator==(const ReplicaSetStatus&) const = default;
};
BOOST_DESCRIBE_STRUCT(ReplicaSetStatus, (),
                      (replicas, fully_labeled_replicas, ready_replicas, available_replicas,
                       terminating_replicas, observed_generation, conditions))

struct ReplicaSet {
  static constexpr std::string_view kApiVersion = "apps/v1";
  static constexpr std::string_view kKind = "ReplicaSet";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  ReplicaSetSpec spec;
  ReplicaSetStatus status;
  bool operator==(const ReplicaSet&) const = default;
};
BOOST_DESCRIBE_STRUCT(ReplicaSet, (), (api_version, kind, metadata, spec, status))
ORCH_API_DECLARE_LIST(ReplicaSet);

// ----------------------------------------------------------------------------- StatefulSet

struct RollingUpdateStatefulSetStrategy {
  std::optional<std::int32_t> partition;
  std::optional<IntOrString> max_unavailable;
  bool operator==(const RollingUpdateStatefulSetStrategy&) const = default;
};
BOOST_DESCRIBE_STRUCT(RollingUpdateStatefulSetStrategy, (), (partition, max_unavailable))

struct StatefulSetUpdateStrategy {
  std::string type;  // "RollingUpdate", "OnDelete"
  std::optional<RollingUpdateStatefulSetStrategy> rolling_update;
  bool operator==(const StatefulSetUpdateStrategy&) const = default;
};
BOOST_DESCRIBE_STRUCT(StatefulSetUpdateStrategy, (), (type, rolling_update))

struct StatefulSetPersistentVolumeClaimRetentionPolicy {
  std::string when_deleted;  // "Retain", "Delete"
  std::string when_scaled;
  bool operator==(const StatefulSetPersistentVolumeClaimRetentionPolicy&) const = default;
};
BOOST_DESCRIBE_STRUCT(StatefulSetPersistentVolumeClaimRetentionPolicy, (),
                      (when_deleted, when_scaled))

struct StatefulSetOrdinals {
  std::int32_t start = 0;
  static constexpr std::string_view kAlwaysEmit[] = {"start"};
  bool operator==(const StatefulSetOrdinals&) const = default;
};
BOOST_DESCRIBE_STRUCT(StatefulSetOrdinals, (), (start))

struct StatefulSetSpec {
  std::optional<std::int32_t> replicas;
  std::optional<LabelSelector> selector;
  PodTemplateSpec template_;
  std::vector<PersistentVolumeClaim> volume_claim_templates;
  std::string service_name;
  std::string pod_management_policy;  // "OrderedReady", "Parallel"
  StatefulSetUpdateStrategy update_strategy;
  std::optional<std::int32_t> revision_history_limit;
  std::int32_t min_ready_seconds = 0;
  std::optional<StatefulSetPersistentVolumeClaimRetentionPolicy>
      persistent_volume_claim_retention_policy;
  std::optional<StatefulSetOrdinals> ordinals;
  bool operator==(const StatefulSetSpec&) const = default;
};
BOOST_DESCRIBE_STRUCT(StatefulSetSpec, (),
                      (replicas, selector, template_, volume_claim_templates, service_name,
                       pod_management_policy, update_strategy, revision_history_limit,
                       min_ready_seconds, persistent_volume_claim_retention_policy, ordinals))

struct StatefulSetStatus {
  std::int64_t observed_generation = 0;
  std::int32_t replicas = 0;
  std::int32_t ready_replicas = 0;
  std::int32_t current_replicas = 0;
  std::int32_t updated_replicas = 0;
  std::string current_revision;
  std::string update_revision;
  std::optional<std::int32_t> collision_count;
  std::vector<WorkloadCondition> conditions;
  std::int32_t available_replicas = 0;
  static constexpr std::string_view kAlwaysEmit[] = {"replicas", "available_replicas"};
  bool operator==(const StatefulSetStatus&) const = default;
};
BOOST_DESCRIBE_STRUCT(StatefulSetStatus, (),
                      (observed_generation, replicas, ready_replicas, current_replicas,
                       updated_replicas, current_revision, update_revision, collision_count,
                       conditions, available_replicas))

struct StatefulSet {
  static constexpr std::string_view kApiVersion = "apps/v1";
  static constexpr std::string_view kKind = "StatefulSet";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  StatefulSetSpec spec;
  StatefulSetStatus status;
  bool operator==(const StatefulSet&) const = default;
};
BOOST_DESCRIBE_STRUCT(StatefulSet, (), (api_version, kind, metadata, spec, status))
ORCH_API_DECLARE_LIST(StatefulSet);

// ----------------------------------------------------------------------------- DaemonSet

struct RollingUpdateDaemonSet {
  std::optional<IntOrString> max_unavailable;
  std::optional<IntOrString> max_surge;
  bool operator==(const RollingUpdateDaemonSet&) const = default;
};
BOOST_DESCRIBE_STRUCT(RollingUpdateDaemonSet, (), (max_unavailable, max_surge))

struct DaemonSetUpdateStrategy {
  std::string type;  // "RollingUpdate", "OnDelete"
  std::optional<RollingUpdateDaemonSet> rolling_update;
  bool operator==(const DaemonSetUpdateStrategy&) const = default;
};
BOOST_DESCRIBE_STRUCT(DaemonSetUpdateStrategy, (), (type, rolling_update))

struct DaemonSetSpec {
  std::optional<LabelSelector> selector;
  PodTemplateSpec template_;
  DaemonSetUpdateStrategy update_strategy;
  std::int32_t min_ready_seconds = 0;
  std::optional<std::int32_t> revision_history_limit;
  bool operator==(const DaemonSetSpec&) const = default;
};
BOOST_DESCRIBE_STRUCT(DaemonSetSpec, (),
                      (selector, template_, update_strategy, min_ready_seconds,
                       revision_history_limit))

struct DaemonSetStatus {
  std::int32_t current_number_scheduled = 0;
  std::int32_t number_misscheduled = 0;
  std::int32_t desired_number_scheduled = 0;
  std::int32_t number_ready = 0;
  std::int64_t observed_generation = 0;
  std::int32_t updated_number_scheduled = 0;
  std::int32_t number_available = 0;
  std::int32_t number_unavailable = 0;
  std::optional<std::int32_t> collision_count;
  std::vector<WorkloadCondition> conditions;
  static constexpr std::string_view kAlwaysEmit[] = {
      "current_number_scheduled", "number_misscheduled", "desired_number_scheduled",
      "number_ready"};
  bool operator==(const DaemonSetStatus&) const = default;
};
BOOST_DESCRIBE_STRUCT(DaemonSetStatus, (),
                      (current_number_scheduled, number_misscheduled, desired_number_scheduled,
                       number_ready, observed_generation, updated_number_scheduled,
                       number_available, number_unavailable, collision_count, conditions))

struct DaemonSet {
  static constexpr std::string_view kApiVersion = "apps/v1";
  static constexpr std::string_view kKind = "DaemonSet";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  DaemonSetSpec spec;
  DaemonSetStatus status;
  bool operator==(const DaemonSet&) const = default;
};
BOOST_DESCRIBE_STRUCT(DaemonSet, (), (api_version, kind, metadata, spec, status))
ORCH_API_DECLARE_LIST(DaemonSet);

// ----------------------------------------------------------------------------- ControllerRevision

// A snapshot of a workload's template for rollout history. `data` is raw (a RawExtension).
struct ControllerRevision {
  static constexpr std::string_view kApiVersion = "apps/v1";
  static constexpr std::string_view kKind = "ControllerRevision";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  boost::json::value data;
  std::int64_t revision = 0;
  static constexpr std::string_view kAlwaysEmit[] = {"revision"};
  bool operator==(const ControllerRevision&) const = default;
};
BOOST_DESCRIBE_STRUCT(ControllerRevision, (), (api_version, kind, metadata, data, revision))
ORCH_API_DECLARE_LIST(ControllerRevision);

ORCH_API_EXTERN_CODEC(Deployment);
ORCH_API_EXTERN_CODEC(DeploymentList);
ORCH_API_EXTERN_CODEC(ReplicaSet);
ORCH_API_EXTERN_CODEC(ReplicaSetList);
ORCH_API_EXTERN_CODEC(StatefulSet);
ORCH_API_EXTERN_CODEC(StatefulSetList);
ORCH_API_EXTERN_CODEC(DaemonSet);
ORCH_API_EXTERN_CODEC(DaemonSetList);
ORCH_API_EXTERN_CODEC(ControllerRevision);
ORCH_API_EXTERN_CODEC(ControllerRevisionList);

}  // namespace orch::api
