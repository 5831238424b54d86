// The scheduler's compact view of pods and nodes: what scheduling needs, parsed once from the
// JSON objects the informers deliver, so filters and scores never walk JSON per node.
//
// - PodInfo: requests (Kubernetes' rule: max(sum of containers + sidecars, each init container)
//   plus overhead), node selector, required and preferred node affinity, tolerations, host ports,
//   claims, the controller owner, priority. Immutable once parsed; shared as
//   std::shared_ptr<const PodInfo>.
// - NodeInfo: a node's labels, taints, allocatable, and the aggregates of the pods on it (bound
//   and assumed): requested resources, non-zero requests for scoring, used host ports, and the
//   number of pods of each workload (spread key). Owned by the SchedulerCache.
//
// Thread-safety: values. PodInfo is immutable after parse_pod; NodeInfo is guarded by its owner.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "orch/status.hpp"

namespace orch::scheduler {

// Amounts of the resources the scheduler accounts for.
struct Resources {
  std::int64_t milli_cpu = 0;
  std::int64_t memory = 0;             // bytes
  std::int64_t ephemeral_storage = 0;  // bytes
  std::int64_t pods = 0;               // allocatable pods (nodes only)

  void add(const Resources& r) {
    milli_cpu += r.milli_cpu;
    memory += r.memory;
    ephemeral_storage += r.ephemeral_storage;
  }
  void sub(const Resources& r) {
    milli_cpu -= r.milli_cpu;
    memory -= r.memory;
    ephemeral_storage -= r.ephemeral_storage;
  }
  bool operator==(const Resources&) const = default;
};

// Requests Kubernetes assumes for scoring when a container requests nothing (100m, 200Mi).
inline constexpr std::int64_t kDefaultMilliCpuRequest = 100;
inline constexpr std::int64_t kDefaultMemoryRequest = 200LL * 1024 * 1024;

// core/v1 NodeSelectorRequirement, parsed.
struct NodeSelectorRequirement {
  std::string key;
  std::string op;  // "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"
  std::vector<std::string> values;
};
// A NodeSelectorTerm: all of its expressions and fields. A term with neither matches nothing.
struct NodeSelectorTerm {
  std::vector<NodeSelectorRequirement> match_expressions;
  std::vector<NodeSelectorRequirement> match_fields;  // key "metadata.name" only
};
// A NodeSelector: any of its terms.
struct NodeSelector {
  std::vector<NodeSelectorTerm> terms;
};
struct PreferredTerm {
  std::int32_t weight = 0;
  NodeSelectorTerm term;
};

struct Toleration {
  std::string key;
  std::string op;  // "Exists" or "Equal" ("" reads as Equal)
  std::string value;
  std::string effect;  // "" tolerates every effect
};

struct Taint {
  std::string key;
  std::string value;
  std::string effect;  // "NoSchedule", "PreferNoSchedule", "NoExecute"
};

struct HostPort {
  std::string protocol;  // "TCP" (default), "UDP", "SCTP"
  std::string ip;        // "0.0.0.0" when unset
  std::int32_t port = 0;
  bool operator==(const HostPort&) const = default;
};

struct PodInfo {
  std::string ns, name, uid;
  std::string key;  // "ns/name"
  std::map<std::string, std::string> labels;
  std::string node_name;
  std::string scheduler_name;
  std::string phase;
  bool terminating = false;  // metadata.deletionTimestamp set
  std::int32_t priority = 0;
  Resources requests;           // what the pod asks for (fit)
  Resources non_zero_requests;  // the same with 100m / 200Mi for containers asking nothing (score)
  std::map<std::string, std::string> node_selector;
  std::optional<NodeSelector> required_affinity;
  std::vector<PreferredTerm> preferred_affinity;
  std::vector<Toleration> tolerations;
  std::vector<HostPort> host_ports;
  std::vector<std::string> claims;  // persistentVolumeClaim.claimName of each volume
  // "owner:<controller uid>", else "labels:<k=v,...>", else "" (no spreading).
  std::string spread_key;
  // The JSON-relevant parts used to tell a scheduling-relevant update from a status-only one.
  std::size_t spec_hash = 0;
  // The object as delivered.
  std::shared_ptr<const boost::json::value> object;
};
using PodInfoPtr = std::shared_ptr<const PodInfo>;

// Parses a Pod object. BadRequest when it is not an object with metadata.name. Malformed
// quantities count as zero (the API server validated them).
Result<PodInfoPtr> parse_pod(std::shared_ptr<const boost::json::value> object);

struct NodeInfo {
  // From the Node object.
  std::string name;
  std::map<std::string, std::string> labels;
  bool unschedulable = false;
  std::vector<Taint> taints;
  Resources allocatable;
  bool has_node = false;  // false: a placeholder for pods bound to a node not (yet) seen
  std::size_t spec_hash = 0;
  // Aggregates of the pods on the node (bound and assumed).
  Resources requested;
  Resources non_zero_requested;
  std::int64_t pod_count = 0;
  std::vector<std::pair<HostPort, int>> used_ports;  // port -> number of pods using it
  std::unordered_map<std::string, int> spread_counts;  // spread key -> pods
  // Position in the cache's schedulable order (internal).
  std::size_t order_index = 0;

  // Adds / removes a pod's contribution.
  void add_pod(const PodInfo& pod);
  void remove_pod(const PodInfo& pod);
  // Whether `port` conflicts with a port in use (same protocol and port, and same IP or either
  // 0.0.0.0).
  bool port_in_use(const HostPort& port) const;
};

// Fills the node fields of `info` (not the aggregates) from a Node object. BadRequest when it
// has no metadata.name.
Status parse_node(const boost::json::value& object, NodeInfo& info);

// Whether the requirement/term/selector matches a node with these labels and name.
bool matches(const NodeSelectorRequirement& r, const std::map<std::string, std::string>& labels);
bool matches(const NodeSelectorTerm& term, const std::map<std::string, std::string>& labels,
             std::string_view node_name);
bool matches(const NodeSelector& selector, const std::map<std::string, std::string>& labels,
             std::string_view node_name);
// Parses a core/v1 NodeSelector ({"nodeSelectorTerms":[...]}); nullopt when not an object.
std::optional<NodeSelector> parse_node_selector(const boost::json::value& v);
// v1helper.ToleratesTaint.
bool tolerates(const Toleration& t, const Taint& taint);
bool tolerates_any(const std::vector<Toleration>& ts, const Taint& taint);

}  // namespace orch::scheduler
