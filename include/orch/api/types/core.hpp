// core/v1 kinds: Namespace, Node, Pod (and PodTemplateSpec), Service, Endpoints, Event,
// ConfigMap, Secret, PersistentVolume, PersistentVolumeClaim, with their lists.
// Conventions are in types/meta.hpp. Thread-safety: plain values.
#pragma once

#include <boost/describe/class.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orch/api/bytes.hpp"
#include "orch/api/int_or_string.hpp"
#include "orch/api/quantity.hpp"
#include "orch/api/selector.hpp"
#include "orch/api/time.hpp"
#include "orch/api/types/meta.hpp"

namespace orch::api {

// Resource name ("cpu", "memory", "storage", "nvidia.com/gpu") to amount.
using ResourceList = std::map<std::string, Quantity>;

// ----------------------------------------------------------------------------- Namespace

struct NamespaceSpec {
  std::vector<std::string> finalizers;
  bool operator==(const NamespaceSpec&) const = default;
};
BOOST_DESCRIBE_STRUCT(NamespaceSpec, (), (finalizers))

struct NamespaceStatus {
  std::string phase;  // "Active", "Terminating"
  boost::json::value conditions;
  bool operator==(const NamespaceStatus&) const = default;
};
BOOST_DESCRIBE_STRUCT(NamespaceStatus, (), (phase, conditions))

struct Namespace {
  static constexpr std::string_view kApiVersion = "v1";
  static constexpr std::string_view kKind = "Namespace";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  NamespaceSpec spec;
  NamespaceStatus status;
  bool operator==(const Namespace&) const = default;
};
BOOST_DESCRIBE_STRUCT(Namespace, (), (api_version, kind, metadata, spec, status))
ORCH_API_DECLARE_LIST(Namespace);

// ----------------------------------------------------------------------------- Node

struct Taint {
  std::string key;
  std::string value;
  std::string effect;  // "NoSchedule", "PreferNoSchedule", "NoExecute"
  std::optional<Time> time_added;
  static constexpr std::string_view kAlwaysEmit[] = {"key", "effect"};
  bool operator==(const Taint&) const = default;
};
BOOST_DESCRIBE_STRUCT(Taint, (), (key, value, effect, time_added))

struct NodeSpec {
  std::string pod_cidr;
  std::vector<std::string> pod_cidrs;
  std::string provider_id;
  bool unschedulable = false;
  std::vector<Taint> taints;
  boost::json::value config_source;
  std::string external_id;
  bool operator==(const NodeSpec&) const = default;
};
BOOST_DESCRIBE_STRUCT(NodeSpec, (),
                      (pod_cidr, pod_cidrs, provider_id, unschedulable, taints, config_source,
                       external_id))

struct NodeCondition {
  std::string type;    // "Ready", "MemoryPressure", ...
  std::string status;  // "True", "False", "Unknown"
  std::optional<Time> last_heartbeat_time;
  std::optional<Time> last_transition_time;
  std::string reason;
  std::string message;
  static constexpr std::string_view kAlwaysEmit[] = {"type", "status", "last_heartbeat_time",
                                                     "last_transition_time"};
  bool operator==(const NodeCondition&) const = default;
};
BOOST_DESCRIBE_STRUCT(NodeCondition, (),
                      (type, status, last_heartbeat_time, last_transition_time, reason, message))

struct NodeAddress {
  std::string type;  // "InternalIP", "ExternalIP", "Hostname"
  std::string address;
  static constexpr std::string_view kAlwaysEmit[] = {"type", "address"};
  bool operator==(const NodeAddress&) const = default;
};
BOOST_DESCRIBE_STRUCT(NodeAddress, (), (type, address))

// JSON spells this one field "Port" (capital P): an override of the name rule.
struct DaemonEndpoint {
  std::int32_t port = 0;
  static constexpr JsonNameOverride kJsonNames[] = {{"port", "Port"}};
  static constexpr std::string_view kAlwaysEmit[] = {"port"};
  bool operator==(const DaemonEndpoint&) const = default;
};
BOOST_DESCRIBE_STRUCT(DaemonEndpoint, (), (port))

struct NodeDaemonEndpoints {
  DaemonEndpoint kubelet_endpoint;
  bool operator==(const NodeDaemonEndpoints&) const = default;
};
BOOST_DESCRIBE_STRUCT(NodeDaemonEndpoints, (), (kubelet_endpoint))

struct NodeSystemInfo {
  std::string machine_id;
  std::string system_uuid;
  std::string boot_id;
  std::string kernel_version;
  std::string os_image;
  std::string container_runtime_version;
  std::string kubelet_version;
  std::string kube_proxy_version;
  std::string operating_system;
  std::string architecture;
  boost::json::value swap;
  static constexpr std::string_view kAlwaysEmit[] = {
      "machine_id",      "system_uuid",      "boot_id",          "kernel_version",
      "os_image",        "container_runtime_version", "kubelet_version", "kube_proxy_version",
      "operating_system", "architecture"};
  bool operator==(const NodeSystemInfo&) const = default;
};
BOOST_DESCRIBE_STRUCT(NodeSystemInfo, (),
                      (machine_id, system_uuid, boot_id, kernel_version, os_image,
                       container_runtime_version, kubelet_version, kube_proxy_version,
                       operating_system, architecture, swap))

struct ContainerImage {
  std::vector<std::string> names;
  std::int64_t size_bytes = 0;
  bool operator==(const ContainerImage&) const = default;
};
BOOST_DESCRIBE_STRUCT(ContainerImage, (), (names, size_bytes))

struct NodeStatus {
  ResourceList capacity;
  ResourceList allocatable;
  std::string phase;
  std::vector<NodeCondition> conditions;
  std::vector<NodeAddress> addresses;
  NodeDaemonEndpoints daemon_endpoints;
  NodeSystemInfo node_info;
  std::vector<ContainerImage> images;
  std::vector<std::string> volumes_in_use;
  boost::json::value volumes_attached;
  boost::json::value config;
  boost::json::value runtime_handlers;
  boost::json::value features;
  bool operator==(const NodeStatus&) const = default;
};
BOOST_DESCRIBE_STRUCT(NodeStatus, (),
                      (capacity, allocatable, phase, conditions, addresses, daemon_endpoints,
                       node_info, images, volumes_in_use, volumes_attached, config,
                       runtime_handlers, features))

struct Node {
  static constexpr std::string_view kApiVersion = "v1";
  static constexpr std::string_view kKind = "Node";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  NodeSpec spec;
  NodeStatus status;
  bool operator==(const Node&) const = default;
};
BOOST_DESCRIBE_STRUCT(Node, (), (api_version, kind, metadata, spec, status))
ORCH_API_DECLARE_LIST(Node);

// ----------------------------------------------------------------------------- Pod: volumes

struct KeyToPath {
  std::string key;
  std::string path;
  std::optional<std::int32_t> mode;
  static constexpr std::string_view kAlwaysEmit[] = {"key", "path"};
  bool operator==(const KeyToPath&) const = default;
};
BOOST_DESCRIBE_STRUCT(KeyToPath, (), (key, path, mode))

struct HostPathVolumeSource {
  std::string path;
  std::optional<std::string> type;  // "", "Directory", "DirectoryOrCreate", "File", ...
  static constexpr std::string_view kAlwaysEmit[] = {"path"};
  bool operator==(const HostPathVolumeSource&) const = default;
};
BOOST_DESCRIBE_STRUCT(HostPathVolumeSource, (), (path, type))

struct EmptyDirVolumeSource {
  std::string medium;  // "" or "Memory"
  std::optional<Quantity> size_limit;
  bool operator==(const EmptyDirVolumeSource&) const = default;
};
BOOST_DESCRIBE_STRUCT(EmptyDirVolumeSource, (), (medium, size_limit))

struct SecretVolumeSource {
  std::string secret_name;
  std::vector<KeyToPath> items;
  std::optional<std::int32_t> default_mode;
  std::optional<bool> optional;
  bool operator==(const SecretVolumeSource&) const = default;
};
BOOST_DESCRIBE_STRUCT(SecretVolumeSource, (), (secret_name, items, default_mode, optional))

struct ConfigMapVolumeSource {
  std::string name;
  std::vector<KeyToPath> items;
  std::optional<std::int32_t> default_mode;
  std::optional<bool> optional;
  bool operator==(const ConfigMapVolumeSource&) const = default;
};
BOOST_DESCRIBE_STRUCT(ConfigMapVolumeSource, (), (name, items, default_mode, optional))

struct PersistentVolumeClaimVolumeSource {
  std::string claim_name;
  bool read_only = false;
  static constexpr std::string_view kAlwaysEmit[] = {"claim_name"};
  bool operator==(const PersistentVolumeClaimVolumeSource&) const = default;
};
BOOST_DESCRIBE_STRUCT(PersistentVolumeClaimVolumeSource, (), (claim_name, read_only))

// A pod volume: its name and exactly one source. The sources we use are typed; the others are
// kept raw so they round-trip.
struct Volume {
  std::string name;
  std::optional<HostPathVolumeSource> host_path;
  std::optional<EmptyDirVolumeSource> empty_dir;
  boost::json::value gce_persistent_disk;
  boost::json::value aws_elastic_block_store;
  boost::json::value git_repo;
  std::optional<SecretVolumeSource> secret;
  boost::json::value nfs;
  boost::json::value iscsi;
  boost::json::value glusterfs;
  std::optional<PersistentVolumeClaimVolumeSource> persistent_volume_claim;
  boost::json::value rbd;
  boost::json::value flex_volume;
  boost::json::value cinder;
  boost::json::value cephfs;
  boost::json::value flocker;
  boost::json::value downward_api;
  boost::json::value fc;
  boost::json::value azure_file;
  std::optional<ConfigMapVolumeSource> config_map;
  boost::json::value vsphere_volume;
  boost::json::value quobyte;
  boost::json::value azure_disk;
  boost::json::value photon_persistent_disk;
  boost::json::value projected;
  boost::json::value portworx_volume;
  boost::json::value scale_io;
  boost::json::value storageos;
  boost::json::value csi;
  boost::json::value ephemeral;
  boost::json::value image;
  static constexpr JsonNameOverride kJsonNames[] = {{"downward_api", "downwardAPI"},
                                                    {"scale_io", "scaleIO"}};
  static constexpr std::string_view kAlwaysEmit[] = {"name"};
  // The number of sources set (typed or raw); Kubernetes requires exactly one.
  int source_count() const;
  bool operator==(const Volume&) const = default;
};
BOOST_DESCRIBE_STRUCT(Volume, (),
                      (name, host_path, empty_dir, gce_persistent_disk, aws_elastic_block_store,
                       git_repo, secret, nfs, iscsi, glusterfs, persistent_volume_claim, rbd,
                       flex_volume, cinder, cephfs, flocker, downward_api, fc, azure_file,
                       config_map, vsphere_volume, quobyte, azure_disk, photon_persistent_disk,
                       projected, portworx_volume, scale_io, storageos, csi, ephemeral, image))

// ----------------------------------------------------------------------------- Pod: containers

struct ContainerPort {
  std::string name;
  std::int32_t host_port = 0;
  std::int32_t container_port = 0;
  std::string protocol;  // "TCP", "UDP", "SCTP"
  std::string host_ip;
  static constexpr std::string_view kAlwaysEmit[] = {"container_port"};
  bool operator==(const ContainerPort&) const = default;
};
BOOST_DESCRIBE_STRUCT(ContainerPort, (), (name, host_port, container_port, protocol, host_ip))

struct ObjectFieldSelector {
  std::string api_version;
  std::string field_path;
  static constexpr std::string_view kAlwaysEmit[] = {"field_path"};
  bool operator==(const ObjectFieldSelector&) const = default;
};
BOOST_DESCRIBE_STRUCT(ObjectFieldSelector, (), (api_version, field_path))

struct ResourceFieldSelector {
  std::string container_name;
  std::string resource;
  Quantity divisor;  // a Go value type: always written ("0" when unset)
  static constexpr std::string_view kAlwaysEmit[] = {"resource"};
  bool operator==(const ResourceFieldSelector&) const = default;
};
BOOST_DESCRIBE_STRUCT(ResourceFieldSelector, (), (container_name, resource, divisor))

// ConfigMapKeySelector and SecretKeySelector have the same shape.
struct KeySelector {
  std::string name;
  std::string key;
  std::optional<bool> optional;
  static constexpr std::string_view kAlwaysEmit[] = {"key"};
  bool operator==(const KeySelector&) const = default;
};
BOOST_DESCRIBE_STRUCT(KeySelector, (), (name, key, optional))

struct EnvVarSource {
  std::optional<ObjectFieldSelector> field_ref;
  std::optional<ResourceFieldSelector> resource_field_ref;
  std::optional<KeySelector> config_map_key_ref;
  std::optional<KeySelector> secret_key_ref;
  boost::json::value file_key_ref;
  bool operator==(const EnvVarSource&) const = default;
};
BOOST_DESCRIBE_STRUCT(EnvVarSource, (),
                      (field_ref, resource_field_ref, config_map_key_ref, secret_key_ref,
                       file_key_ref))

struct EnvVar {
  std::string name;
  std::string value;
  std::optional<EnvVarSource> value_from;
  static constexpr std::string_view kAlwaysEmit[] = {"name"};
  bool operator==(const EnvVar&) const = default;
};
BOOST_DESCRIBE_STRUCT(EnvVar, (), (name, value, value_from))

// ConfigMapEnvSource and SecretEnvSource have the same shape.
struct EnvFromReference {
  std::string name;
  std::optional<bool> optional;
  bool operator==(const EnvFromReference&) const = default;
};
BOOST_DESCRIBE_STRUCT(EnvFromReference, (), (name, optional))

struct EnvFromSource {
  std::string prefix;
  std::optional<EnvFromReference> config_map_ref;
  std::optional<EnvFromReference> secret_ref;
  bool operator==(const EnvFromSource&) const = default;
};
BOOST_DESCRIBE_STRUCT(EnvFromSource, (), (prefix, config_map_ref, secret_ref))

struct ResourceRequirements {
  ResourceList limits;
  ResourceList requests;
  boost::json::value claims;
  bool operator==(const ResourceRequirements&) const = default;
};
BOOST_DESCRIBE_STRUCT(ResourceRequirements, (), (limits, requests, claims))

struct VolumeMount {
  std::string name;
  bool read_only = false;
  std::optional<std::string> recursive_read_only;
  std::string mount_path;
  std::string sub_path;
  std::optional<std::string> mount_propagation;
  std::string sub_path_expr;
  static constexpr std::string_view kAlwaysEmit[] = {"name", "mount_path"};
  bool operator==(const VolumeMount&) const = default;
};
BOOST_DESCRIBE_STRUCT(VolumeMount, (),
                      (name, read_only, recursive_read_only, mount_path, sub_path,
                       mount_propagation, sub_path_expr))

struct ExecAction {
  std::vector<std::string> command;
  bool operator==(const ExecAction&) const = default;
};
BOOST_DESCRIBE_STRUCT(ExecAction, (), (command))

struct HttpHeader {
  std::string name;
  std::string value;
  static constexpr std::string_view kAlwaysEmit[] = {"name", "value"};
  bool operator==(const HttpHeader&) const = default;
};
BOOST_DESCRIBE_STRUCT(HttpHeader, (), (name, value))

struct HttpGetAction {
  std::string path;
  IntOrString port;
  std::string host;
  std::string scheme;  // "HTTP", "HTTPS"
  std::vector<HttpHeader> http_headers;
  static constexpr std::string_view kAlwaysEmit[] = {"port"};
  bool operator==(const HttpGetAction&) const = default;
};
BOOST_DESCRIBE_STRUCT(HttpGetAction, (), (path, port, host, scheme, http_headers))

struct TcpSocketAction {
  IntOrString port;
  std::string host;
  static constexpr std::string_view kAlwaysEmit[] = {"port"};
  bool operator==(const TcpSocketAction&) const = default;
};
BOOST_DESCRIBE_STRUCT(TcpSocketAction, (), (port, host))

struct Probe {
  std::optional<ExecAction> exec;
  std::optional<HttpGetAction> http_get;
  std::optional<TcpSocketAction> tcp_socket;
  boost::json::value grpc;
  std::int32_t initial_delay_seconds = 0;
  std::int32_t timeout_seconds = 0;
  std::int32_t period_seconds = 0;
  std::int32_t success_threshold = 0;
  std::int32_t failure_threshold = 0;
  std::optional<std::int64_t> termination_grace_period_seconds;
  bool operator==(const Probe&) const = default;
};
BOOST_DESCRIBE_STRUCT(Probe, (),
                      (exec, http_get, tcp_socket, grpc, initial_delay_seconds, timeout_seconds,
                       period_seconds, success_threshold, failure_threshold,
                       termination_grace_period_seconds))

struct LifecycleHandler {
  std::optional<ExecAction> exec;
  std::optional<HttpGetAction> http_get;
  std::optional<TcpSocketAction> tcp_socket;
  boost::json::value sleep;
  bool operator==(const LifecycleHandler&) const = default;
};
BOOST_DESCRIBE_STRUCT(LifecycleHandler, (), (exec, http_get, tcp_socket, sleep))

struct Lifecycle {
  std::optional<LifecycleHandler> post_start;
  std::optional<LifecycleHandler> pre_stop;
  std::optional<std::string> stop_signal;
  bool operator==(const Lifecycle&) const = default;
};
BOOST_DESCRIBE_STRUCT(Lifecycle, (), (post_start, pre_stop, stop_signal))

struct Container {
  std::string name;
  std::string image;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::string working_dir;
  std::vector<ContainerPort> ports;
  std::vector<EnvFromSource> env_from;
  std::vector<EnvVar> env;
  ResourceRequirements resources;
  boost::json::value resize_policy;
  std::optional<std::string> restart_policy;  // only "Always", for sidecar init containers
  std::vector<VolumeMount> volume_mounts;
  boost::json::value volume_devices;
  std::optional<Probe> liveness_probe;
  std::optional<Probe> readiness_probe;
  std::optional<Probe> startup_probe;
  std::optional<Lifecycle> lifecycle;
  std::string termination_message_path;
  std::string termination_message_policy;  // "File", "FallbackToLogsOnError"
  std::string image_pull_policy;           // "Always", "IfNotPresent", "Never"
  boost::json::value security_context;
  bool stdin = false;
  bool stdin_once = false;
  bool tty = false;
  static constexpr std::string_view kAlwaysEmit[] = {"name"};
  bool operator==(const Container&) const = default;
};
BOOST_DESCRIBE_STRUCT(Container, (),
                      (name, image, command, args, working_dir, ports, env_from, env, resources,
                       resize_policy, restart_policy, volume_mounts, volume_devices,
                       liveness_probe, readiness_probe, startup_probe, lifecycle,
                       termination_message_path, termination_message_policy, image_pull_policy,
                       security_context, stdin, stdin_once, tty))

// ----------------------------------------------------------------------------- Pod: scheduling

struct NodeSelectorRequirement {
  std::string key;
  std::string operator_;  // "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"
  std::vector<std::string> values;
  static constexpr std::string_view kAlwaysEmit[] = {"key", "operator_"};
  bool operator==(const NodeSelectorRequirement&) const = default;
};
BOOST_DESCRIBE_STRUCT(NodeSelectorRequirement, (), (key, operator_, values))

struct NodeSelectorTerm {
  std::vector<NodeSelectorRequirement> match_expressions;
  std::vector<NodeSelectorRequirement> match_fields;
  bool operator==(const NodeSelectorTerm&) const = default;
};
BOOST_DESCRIBE_STRUCT(NodeSelectorTerm, (), (match_expressions, match_fields))

// core/v1 NodeSelector (the affinity form, not PodSpec.nodeSelector): terms are ORed.
struct NodeSelector {
  std::vector<NodeSelectorTerm> node_selector_terms;
  static constexpr std::string_view kAlwaysEmit[] = {"node_selector_terms"};
  bool operator==(const NodeSelector&) const = default;
};
BOOST_DESCRIBE_STRUCT(NodeSelector, (), (node_selector_terms))

struct PreferredSchedulingTerm {
  std::int32_t weight = 0;
  NodeSelectorTerm preference;
  static constexpr std::string_view kAlwaysEmit[] = {"weight"};
  bool operator==(const PreferredSchedulingTerm&) const = default;
};
BOOST_DESCRIBE_STRUCT(PreferredSchedulingTerm, (), (weight, preference))

struct NodeAffinity {
  std::optional<NodeSelector> required_during_scheduling_ignored_during_execution;
  std::vector<PreferredSchedulingTerm> preferred_during_scheduling_ignored_during_execution;
  bool operator==(const NodeAffinity&) const = default;
};
BOOST_DESCRIBE_STRUCT(NodeAffinity, (),
                      (required_during_scheduling_ignored_during_execution,
                       preferred_during_scheduling_ignored_during_execution))

struct Affinity {
  std::optional<NodeAffinity> node_affinity;
  boost::json::value pod_affinity;       // raw
  boost::json::value pod_anti_affinity;  // raw
  bool operator==(const Affinity&) const = default;
};
BOOST_DESCRIBE_STRUCT(Affinity, (), (node_affinity, pod_affinity, pod_anti_affinity))

struct Toleration {
  std::string key;
  std::string operator_;  // "Exists", "Equal" ("" means Equal)
  std::string value;
  std::string effect;
  std::optional<std::int64_t> toleration_seconds;
  bool operator==(const Toleration&) const = default;
};
BOOST_DESCRIBE_STRUCT(Toleration, (), (key, operator_, value, effect, toleration_seconds))

struct TopologySpreadConstraint {
  std::int32_t max_skew = 0;
  std::string topology_key;
  std::string when_unsatisfiable;  // "DoNotSchedule", "ScheduleAnyway"
  std::optional<LabelSelector> label_selector;
  std::optional<std::int32_t> min_domains;
  std::optional<std::string> node_affinity_policy;
  std::optional<std::string> node_taints_policy;
  std::vector<std::string> match_label_keys;
  static constexpr std::string_view kAlwaysEmit[] = {"max_skew", "topology_key",
                                                     "when_unsatisfiable"};
  bool operator==(const TopologySpreadConstraint&) const = default;
};
BOOST_DESCRIBE_STRUCT(TopologySpreadConstraint, (),
                      (max_skew, topology_key, when_unsatisfiable, label_selector, min_domains,
                       node_affinity_policy, node_taints_policy, match_label_keys))

// ----------------------------------------------------------------------------- Pod

struct PodSpec {
  std::vector<Volume> volumes;
  std::vector<Container> init_containers;
  std::vector<Container> containers;
  boost::json::value ephemeral_containers;
  std::string restart_policy;  // "Always", "OnFailure", "Never"
  std::optional<std::int64_t> termination_grace_period_seconds;
  std::optional<std::int64_t> active_deadline_seconds;
  std::string dns_policy;  // "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"
  StringMap node_selector;
  std::string service_account_name;
  std::string service_account;  // deprecated alias of service_account_name
  std::optional<bool> automount_service_account_token;
  std::string node_name;
  bool host_network = false;
  bool host_pid = false;
  bool host_ipc = false;
  std::optional<bool> share_process_namespace;
  boost::json::value security_context;  // raw PodSecurityContext
  std::vector<LocalObjectReference> image_pull_secrets;
  std::string hostname;
  std::string subdomain;
  std::optional<Affinity> affinity;
  std::string scheduler_name;
  std::vector<Toleration> tolerations;
  boost::json::value host_aliases;
  std::string priority_class_name;
  std::optional<std::int32_t> priority;
  boost::json::value dns_config;
  boost::json::value readiness_gates;
  std::optional<std::string> runtime_class_name;
  std::optional<bool> enable_service_links;
  std::optional<std::string> preemption_policy;
  ResourceList overhead;
  std::vector<TopologySpreadConstraint> topology_spread_constraints;
  std::optional<bool> set_hostname_as_fqdn;
  boost::json::value os;
  std::optional<bool> host_users;
  boost::json::value scheduling_gates;
  boost::json::value resource_claims;
  boost::json::value resources;
  static constexpr std::string_view kAlwaysEmit[] = {"containers"};
  bool operator==(const PodSpec&) const = default;
};
BOOST_DESCRIBE_STRUCT(PodSpec, (),
                      (volumes, init_containers, containers, ephemeral_containers, restart_policy,
                       termination_grace_period_seconds, active_deadline_seconds, dns_policy,
                       node_selector, service_account_name, service_account,
                       automount_service_account_token, node_name, host_network, host_pid,
                       host_ipc, share_process_namespace, security_context, image_pull_secrets,
                       hostname, subdomain, affinity, scheduler_name, tolerations, host_aliases,
                       priority_class_name, priority, dns_config, readiness_gates,
                       runtime_class_name, enable_service_links, preemption_policy, overhead,
                       topology_spread_constraints, set_hostname_as_fqdn, os, host_users,
                       scheduling_gates, resource_claims, resources))

struct PodCondition {
  std::string type;    // "PodScheduled", "Initialized", "ContainersReady", "Ready"
  std::string status;  // "True", "False", "Unknown"
  std::optional<std::int64_t> observed_generation;
  std::optional<Time> last_probe_time;
  std::optional<Time> last_transition_time;
  std::string reason;
  std::string message;
  static constexpr std::string_view kAlwaysEmit[] = {"type", "status", "last_probe_time",
                                                     "last_transition_time"};
  bool operator==(const PodCondition&) const = default;
};
BOOST_DESCRIBE_STRUCT(PodCondition, (),
                      (type, status, observed_generation, last_probe_time, last_transition_time,
                       reason, message))

struct ContainerStateWaiting {
  std::string reason;
  std::string message;
  bool operator==(const ContainerStateWaiting&) const = default;
};
BOOST_DESCRIBE_STRUCT(ContainerStateWaiting, (), (reason, message))

struct ContainerStateRunning {
  std::optional<Time> started_at;
  static constexpr std::string_view kAlwaysEmit[] = {"started_at"};
  bool operator==(const ContainerStateRunning&) const = default;
};
BOOST_DESCRIBE_STRUCT(ContainerStateRunning, (), (started_at))

struct ContainerStateTerminated {
  std::int32_t exit_code = 0;
  std::int32_t signal = 0;
  std::string reason;
  std::string message;
  std::optional<Time> started_at;
  std::optional<Time> finished_at;
  std::string container_id;
  static constexpr std::string_view kAlwaysEmit[] = {"exit_code", "started_at", "finished_at"};
  bool operator==(const ContainerStateTerminated&) const = default;
};
BOOST_DESCRIBE_STRUCT(ContainerStateTerminated, (),
                      (exit_code, signal, reason, message, started_at, finished_at, container_id))

// At most one of the three is set; none means "waiting" without details.
struct ContainerState {
  std::optional<ContainerStateWaiting> waiting;
  std::optional<ContainerStateRunning> running;
  std::optional<ContainerStateTerminated> terminated;
  bool operator==(const ContainerState&) const = default;
};
BOOST_DESCRIBE_STRUCT(ContainerState, (), (waiting, running, terminated))

struct ContainerStatus {
  std::string name;
  ContainerState state;
  ContainerState last_state;
  bool ready = false;
  std::int32_t restart_count = 0;
  std::string image;
  std::string image_id;
  std::string container_id;
  std::optional<bool> started;
  boost::json::value allocated_resources;
  boost::json::value resources;
  boost::json::value volume_mounts;
  boost::json::value user;
  boost::json::value allocated_resources_status;
  std::optional<std::string> stop_signal;
  static constexpr std::string_view kAlwaysEmit[] = {"name", "ready", "restart_count", "image",
                                                     "image_id"};
  bool operator==(const ContainerStatus&) const = default;
};
BOOST_DESCRIBE_STRUCT(ContainerStatus, (),
                      (name, state, last_state, ready, restart_count, image, image_id,
                       container_id, started, allocated_resources, resources, volume_mounts, user,
                       allocated_resources_status, stop_signal))

// PodIP and HostIP have the same shape.
struct IpAddress {
  std::string ip;
  bool operator==(const IpAddress&) const = default;
};
BOOST_DESCRIBE_STRUCT(IpAddress, (), (ip))

struct PodStatus {
  std::optional<std::int64_t> observed_generation;
  std::string phase;  // "Pending", "Running", "Succeeded", "Failed", "Unknown"
  std::vector<PodCondition> conditions;
  std::string message;
  std::string reason;
  std::string nominated_node_name;
  std::string host_ip;
  std::vector<IpAddress> host_ips;
  std::string pod_ip;
  std::vector<IpAddress> pod_ips;
  std::optional<Time> start_time;
  std::vector<ContainerStatus> init_container_statuses;
  std::vector<ContainerStatus> container_statuses;
  std::string qos_class;  // "Guaranteed", "Burstable", "BestEffort"
  std::vector<ContainerStatus> ephemeral_container_statuses;
  std::string resize;
  boost::json::value resource_claim_statuses;
  bool operator==(const PodStatus&) const = default;
};
BOOST_DESCRIBE_STRUCT(PodStatus, (),
                      (observed_generation, phase, conditions, message, reason,
                       nominated_node_name, host_ip, host_ips, pod_ip, pod_ips, start_time,
                       init_container_statuses, container_statuses, qos_class,
                       ephemeral_container_statuses, resize, resource_claim_statuses))

struct Pod {
  static constexpr std::string_view kApiVersion = "v1";
  static constexpr std::string_view kKind = "Pod";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  PodSpec spec;
  PodStatus status;
  bool operator==(const Pod&) const = default;
};
BOOST_DESCRIBE_STRUCT(Pod, (), (api_version, kind, metadata, spec, status))
ORCH_API_DECLARE_LIST(Pod);

// The pod template of workload controllers.
struct PodTemplateSpec {
  ObjectMeta metadata;
  PodSpec spec;
  bool operator==(const PodTemplateSpec&) const = default;
};
BOOST_DESCRIBE_STRUCT(PodTemplateSpec, (), (metadata, spec))

// ----------------------------------------------------------------------------- Service

struct ServicePort {
  std::string name;
  std::string protocol;  // "TCP", "UDP", "SCTP"
  std::optional<std::string> app_protocol;
  std::int32_t port = 0;
  IntOrString target_port;  // unset (int 0) defaults to `port`
  std::int32_t node_port = 0;
  static constexpr std::string_view kAlwaysEmit[] = {"port"};
  bool operator==(const ServicePort&) const = default;
};
BOOST_DESCRIBE_STRUCT(ServicePort, (),
                      (name, protocol, app_protocol, port, target_port, node_port))

struct ServiceSpec {
  std::vector<ServicePort> ports;
  StringMap selector;
  std::string cluster_ip;  // "None" for headless
  std::vector<std::string> cluster_ips;
  std::string type;  // "ClusterIP", "NodePort", "LoadBalancer", "ExternalName"
  std::vector<std::string> external_ips;
  std::string session_affinity;  // "None", "ClientIP"
  std::string load_balancer_ip;
  std::vector<std::string> load_balancer_source_ranges;
  std::string external_name;
  std::string external_traffic_policy;  // "Cluster", "Local"
  std::int32_t health_check_node_port = 0;
  bool publish_not_ready_addresses = false;
  boost::json::value session_affinity_config;
  std::vector<std::string> ip_families;
  std::optional<std::string> ip_family_policy;
  std::optional<bool> allocate_load_balancer_node_ports;
  std::optional<std::string> load_balancer_class;
  std::optional<std::string> internal_traffic_policy;
  std::optional<std::string> traffic_distribution;
  bool operator==(const ServiceSpec&) const = default;
};
BOOST_DESCRIBE_STRUCT(ServiceSpec, (),
                      (ports, selector, cluster_ip, cluster_ips, type, external_ips,
                       session_affinity, load_balancer_ip, load_balancer_source_ranges,
                       external_name, external_traffic_policy, health_check_node_port,
                       publish_not_ready_addresses, session_affinity_config, ip_families,
                       ip_family_policy, allocate_load_balancer_node_ports, load_balancer_class,
                       internal_traffic_policy, traffic_distribution))

struct LoadBalancerIngress {
  std::string ip;
  std::string hostname;
  std::optional<std::string> ip_mode;
  boost::json::value ports;
  bool operator==(const LoadBalancerIngress&) const = default;
};
BOOST_DESCRIBE_STRUCT(LoadBalancerIngress, (), (ip, hostname, ip_mode, ports))

struct LoadBalancerStatus {
  std::vector<LoadBalancerIngress> ingress;
  bool operator==(const LoadBalancerStatus&) const = default;
};
BOOST_DESCRIBE_STRUCT(LoadBalancerStatus, (), (ingress))

struct ServiceStatus {
  LoadBalancerStatus load_balancer;
  boost::json::value conditions;
  bool operator==(const ServiceStatus&) const = default;
};
BOOST_DESCRIBE_STRUCT(ServiceStatus, (), (load_balancer, conditions))

struct Service {
  static constexpr std::string_view kApiVersion = "v1";
  static constexpr std::string_view kKind = "Service";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  ServiceSpec spec;
  ServiceStatus status;
  bool operator==(const Service&) const = default;
};
BOOST_DESCRIBE_STRUCT(Service, (), (api_version, kind, metadata, spec, status))
ORCH_API_DECLARE_LIST(Service);

// ----------------------------------------------------------------------------- Endpoints

struct EndpointAddress {
  std::string ip;
  std::string hostname;
  std::optional<std::string> node_name;
  std::optional<ObjectReference> target_ref;
  static constexpr std::string_view kAlwaysEmit[] = {"ip"};
  bool operator==(const EndpointAddress&) const = default;
};
BOOST_DESCRIBE_STRUCT(EndpointAddress, (), (ip, hostname, node_name, target_ref))

struct EndpointPort {
  std::string name;
  std::int32_t port = 0;
  std::string protocol;
  std::optional<std::string> app_protocol;
  static constexpr std::string_view kAlwaysEmit[] = {"port"};
  bool operator==(const EndpointPort&) const = default;
};
BOOST_DESCRIBE_STRUCT(EndpointPort, (), (name, port, protocol, app_protocol))

struct EndpointSubset {
  std::vector<EndpointAddress> addresses;
  std::vector<EndpointAddress> not_ready_addresses;
  std::vector<EndpointPort> ports;
  bool operator==(const EndpointSubset&) const = default;
};
BOOST_DESCRIBE_STRUCT(EndpointSubset, (), (addresses, not_ready_addresses, ports))

struct Endpoints {
  static constexpr std::string_view kApiVersion = "v1";
  static constexpr std::string_view kKind = "Endpoints";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  std::vector<EndpointSubset> subsets;
  bool operator==(const Endpoints&) const = default;
};
BOOST_DESCRIBE_STRUCT(Endpoints, (), (api_version, kind, metadata, subsets))
ORCH_API_DECLARE_LIST(Endpoints);

// ----------------------------------------------------------------------------- Event

struct EventSource {
  std::string component;
  std::string host;
  bool operator==(const EventSource&) const = default;
};
BOOST_DESCRIBE_STRUCT(EventSource, (), (component, host))

// core/v1 Event. Its value-typed timestamps are written as null when unset, and
// reportingComponent/reportingInstance always, as Kubernetes does.
struct Event {
  static constexpr std::string_view kApiVersion = "v1";
  static constexpr std::string_view kKind = "Event";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  ObjectReference involved_object;
  std::string reason;
  std::string message;
  EventSource source;
  std::optional<Time> first_timestamp;
  std::optional<Time> last_timestamp;
  std::int32_t count = 0;
  std::string type;  // "Normal", "Warning"
  std::optional<MicroTime> event_time;
  boost::json::value series;
  std::string action;
  std::optional<ObjectReference> related;
  std::string reporting_component;
  std::string reporting_instance;
  static constexpr std::string_view kAlwaysEmit[] = {
      "first_timestamp", "last_timestamp", "event_time", "reporting_component",
      "reporting_instance"};
  bool operator==(const Event&) const = default;
};
BOOST_DESCRIBE_STRUCT(Event, (),
                      (api_version, kind, metadata, involved_object, reason, message, source,
                       first_timestamp, last_timestamp, count, type, event_time, series, action,
                       related, reporting_component, reporting_instance))
ORCH_API_DECLARE_LIST(Event);

// ----------------------------------------------------------------------------- ConfigMap, Secret

struct ConfigMap {
  static constexpr std::string_view kApiVersion = "v1";
  static constexpr std::string_view kKind = "ConfigMap";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  std::optional<bool> immutable;
  StringMap data;
  std::map<std::string, Bytes> binary_data;
  bool operator==(const ConfigMap&) const = default;
};
BOOST_DESCRIBE_STRUCT(ConfigMap, (), (api_version, kind, metadata, immutable, data, binary_data))
ORCH_API_DECLARE_LIST(ConfigMap);

// Secret.data holds raw bytes (base64 on the wire). string_data is write-only: set_defaults
// merges it into data (overriding equal keys) and clears it, as the API server does on write.
struct Secret {
  static constexpr std::string_view kApiVersion = "v1";
  static constexpr std::string_view kKind = "Secret";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  std::optional<bool> immutable;
  std::map<std::string, Bytes> data;
  StringMap string_data;
  std::string type;  // "Opaque", "kubernetes.io/tls", ...
  bool operator==(const Secret&) const = default;
};
BOOST_DESCRIBE_STRUCT(Secret, (),
                      (api_version, kind, metadata, immutable, data, string_data, type))
ORCH_API_DECLARE_LIST(Secret);

// ----------------------------------------------------------------------------- PV, PVC

struct LocalVolumeSource {
  std::string path;
  std::optional<std::string> fs_type;
  static constexpr std::string_view kAlwaysEmit[] = {"path"};
  bool operator==(const LocalVolumeSource&) const = default;
};
BOOST_DESCRIBE_STRUCT(LocalVolumeSource, (), (path, fs_type))

struct VolumeNodeAffinity {
  std::optional<NodeSelector> required;
  bool operator==(const VolumeNodeAffinity&) const = default;
};
BOOST_DESCRIBE_STRUCT(VolumeNodeAffinity, (), (required))

struct PersistentVolumeSpec {
  ResourceList capacity;
  boost::json::value gce_persistent_disk;
  boost::json::value aws_elastic_block_store;
  std::optional<HostPathVolumeSource> host_path;
  boost::json::value glusterfs;
  boost::json::value nfs;
  boost::json::value rbd;
  boost::json::value iscsi;
  boost::json::value cinder;
  boost::json::value cephfs;
  boost::json::value fc;
  boost::json::value flocker;
  boost::json::value flex_volume;
  boost::json::value azure_file;
  boost::json::value vsphere_volume;
  boost::json::value quobyte;
  boost::json::value azure_disk;
  boost::json::value photon_persistent_disk;
  boost::json::value portworx_volume;
  boost::json::value scale_io;
  std::optional<LocalVolumeSource> local;
  boost::json::value storageos;
  boost::json::value csi;
  std::vector<std::string> access_modes;  // "ReadWriteOnce", "ReadOnlyMany", ...
  std::optional<ObjectReference> claim_ref;
  std::string persistent_volume_reclaim_policy;  // "Retain", "Delete", "Recycle"
  std::string storage_class_name;
  std::vector<std::string> mount_options;
  std::optional<std::string> volume_mode;  // "Filesystem", "Block"
  std::optional<VolumeNodeAffinity> node_affinity;
  std::optional<std::string> volume_attributes_class_name;
  static constexpr JsonNameOverride kJsonNames[] = {{"scale_io", "scaleIO"}};
  // The number of volume sources set (typed or raw); Kubernetes requires exactly one.
  int source_count() const;
  bool operator==(const PersistentVolumeSpec&) const = default;
};
BOOST_DESCRIBE_STRUCT(PersistentVolumeSpec, (),
                      (capacity, gce_persistent_disk, aws_elastic_block_store, host_path,
                       glusterfs, nfs, rbd, iscsi, cinder, cephfs, fc, flocker, flex_volume,
                       azure_file, vsphere_volume, quobyte, azure_disk, photon_persistent_disk,
                       portworx_volume, scale_io, local, storageos, csi, access_modes, claim_ref,
                       persistent_volume_reclaim_policy, storage_class_name, mount_options,
                       volume_mode, node_affinity, volume_attributes_class_name))

struct PersistentVolumeStatus {
  std::string phase;  // "Pending", "Available", "Bound", "Released", "Failed"
  std::string message;
  std::string reason;
  std::optional<Time> last_phase_transition_time;
  bool operator==(const PersistentVolumeStatus&) const = default;
};
BOOST_DESCRIBE_STRUCT(PersistentVolumeStatus, (),
                      (phase, message, reason, last_phase_transition_time))

struct PersistentVolume {
  static constexpr std::string_view kApiVersion = "v1";
  static constexpr std::string_view kKind = "PersistentVolume";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  PersistentVolumeSpec spec;
  PersistentVolumeStatus status;
  bool operator==(const PersistentVolume&) const = default;
};
BOOST_DESCRIBE_STRUCT(PersistentVolume, (), (api_version, kind, metadata, spec, status))
ORCH_API_DECLARE_LIST(PersistentVolume);

struct VolumeResourceRequirements {
  ResourceList limits;
  ResourceList requests;
  bool operator==(const VolumeResourceRequirements&) const = default;
};
BOOST_DESCRIBE_STRUCT(VolumeResourceRequirements, (), (limits, requests))

struct PersistentVolumeClaimSpec {
  std::vector<std::string> access_modes;
  std::optional<LabelSelector> selector;
  VolumeResourceRequirements resources;
  std::string volume_name;
  std::optional<std::string> storage_class_name;  // unset: default class; "": no class
  std::optional<std::string> volume_mode;
  boost::json::value data_source;
  boost::json::value data_source_ref;
  std::optional<std::string> volume_attributes_class_name;
  bool operator==(const PersistentVolumeClaimSpec&) const = default;
};
BOOST_DESCRIBE_STRUCT(PersistentVolumeClaimSpec, (),
                      (access_modes, selector, resources, volume_name, storage_class_name,
                       volume_mode, data_source, data_source_ref, volume_attributes_class_name))

struct PersistentVolumeClaimStatus {
  std::string phase;  // "Pending", "Bound", "Lost"
  std::vector<std::string> access_modes;
  ResourceList capacity;
  boost::json::value conditions;
  boost::json::value allocated_resources;
  boost::json::value allocated_resource_statuses;
  std::optional<std::string> current_volume_attributes_class_name;
  boost::json::value modify_volume_status;
  bool operator==(const PersistentVolumeClaimStatus&) const = default;
};
BOOST_DESCRIBE_STRUCT(PersistentVolumeClaimStatus, (),
                      (phase, access_modes, capacity, conditions, allocated_resources,
                       allocated_resource_statuses, current_volume_attributes_class_name,
                       modify_volume_status))

struct PersistentVolumeClaim {
  static constexpr std::string_view kApiVersion = "v1";
  static constexpr std::string_view kKind = "PersistentVolumeClaim";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  PersistentVolumeClaimSpec spec;
  PersistentVolumeClaimStatus status;
  bool operator==(const PersistentVolumeClaim&) const = default;
};
BOOST_DESCRIBE_STRUCT(PersistentVolumeClaim, (), (api_version, kind, metadata, spec, status))
ORCH_API_DECLARE_LIST(PersistentVolumeClaim);

// ----------------------------------------------------------------------------- codec

ORCH_API_EXTERN_CODEC(Namespace);
ORCH_API_EXTERN_CODEC(NamespaceList);
ORCH_API_EXTERN_CODEC(Node);
ORCH_API_EXTERN_CODEC(NodeList);
ORCH_API_EXTERN_CODEC(Pod);
ORCH_API_EXTERN_CODEC(PodList);
ORCH_API_EXTERN_CODEC(PodTemplateSpec);
ORCH_API_EXTERN_CODEC(Service);
ORCH_API_EXTERN_CODEC(ServiceList);
ORCH_API_EXTERN_CODEC(Endpoints);
ORCH_API_EXTERN_CODEC(EndpointsList);
ORCH_API_EXTERN_CODEC(Event);
ORCH_API_EXTERN_CODEC(EventList);
ORCH_API_EXTERN_CODEC(ConfigMap);
ORCH_API_EXTERN_CODEC(ConfigMapList);
ORCH_API_EXTERN_CODEC(Secret);
ORCH_API_EXTERN_CODEC(SecretList);
ORCH_API_EXTERN_CODEC(PersistentVolume);
ORCH_API_EXTERN_CODEC(PersistentVolumeList);
ORCH_API_EXTERN_CODEC(PersistentVolumeClaim);
ORCH_API_EXTERN_CODEC(PersistentVolumeClaimList);

}  // namespace orch::api
