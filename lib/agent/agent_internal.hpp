// Private helpers of the agent core and the simulated nodes: JSON access, pod IP allocation,
// machine facts, Node / Lease objects, container environment.
//
// Thread-safety: free functions are stateless; IpAllocator is not thread-safe (its owner locks).
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orch/agent/agent.hpp"
#include "orch/client/client.hpp"
#include "orch/client/informer.hpp"
#include "orch/status.hpp"

namespace orch::agent::detail {

namespace json = boost::json;

// ---- JSON access (null-safe) ----
const json::value* path(const json::value& v, std::initializer_list<std::string_view> keys);
std::string str_at(const json::value& v, std::initializer_list<std::string_view> keys);
std::int64_t int_at(const json::value& v, std::initializer_list<std::string_view> keys,
                    std::int64_t fallback);
const json::array* array_at(const json::value& v, std::initializer_list<std::string_view> keys);
// Numeric resourceVersion ("" or garbage: 0).
std::uint64_t rv_number(const json::value& object);

// ---- Pod IPs ----
class IpAllocator {
 public:
  // "127.1.0.0/24". InvalidArgument for anything else than an IPv4 CIDR with prefix 8..30.
  static Result<IpAllocator> parse(std::string_view cidr, std::string_view exclude = {});
  // The lowest free address; ResourceExhausted when the range is full.
  Result<std::string> allocate();
  // Marks `ip` used (adoption). False when outside the range or already used.
  bool reserve(std::string_view ip);
  void release(std::string_view ip);
  std::size_t used() const { return used_.size(); }

 private:
  std::uint32_t base_ = 0;
  std::uint32_t size_ = 0;
  std::uint32_t exclude_ = 0;
  std::set<std::uint32_t> used_;
  std::uint32_t next_ = 1;
};

std::optional<std::uint32_t> parse_ipv4(std::string_view ip);
std::string format_ipv4(std::uint32_t ip);

// ---- Machine ----
struct MachineInfo {
  int cores = 1;
  std::uint64_t memory_bytes = 0;
  std::uint64_t disk_bytes = 0;
  std::string machine_id, system_uuid, boot_id, kernel_version, os_image, architecture;
  std::string hostname;
};
MachineInfo read_machine_info(const std::string& data_dir);
// "amd64" / "arm64" / ... for uname's machine.
std::string go_arch(std::string_view machine);

// ---- Node and Lease objects ----
struct NodeDescription {
  std::string name;
  std::string ip;
  std::string hostname;  // for the Hostname address (the node name for simulated nodes)
  std::string pod_cidr;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<NodeTaintSpec> taints;
  std::map<std::string, std::string> capacity;
  std::map<std::string, std::string> allocatable;
  json::object node_info;
  std::uint16_t endpoint_port = 0;
};

// The Node object to create.
json::value node_object(const NodeDescription& d);
// status (capacity, allocatable, addresses, nodeInfo, daemonEndpoints, conditions with `now` as
// heartbeat; a condition's lastTransitionTime is kept from `previous` when its status is the
// same).
json::value node_status(const NodeDescription& d, std::string_view now,
                        const json::value* previous_status);
// Creates the Node or, when it exists, merges our labels into it; then writes its status.
// Returns the Node as last written.
Result<json::value> register_node(const client::Client& client, const NodeDescription& d,
                                  std::string_view now);
// Rewrites the conditions' heartbeat times of `node` (the last known copy; re-read on 409).
// NotFound when the Node is gone. Returns the Node as written.
Result<json::value> heartbeat_node(const client::Client& client, const NodeDescription& d,
                                   json::value node, std::string_view now);

// Renews kube-node-lease/<node> (creating it when absent). `lease` is the last known copy (null
// when none). Returns the Lease as written.
Result<json::value> renew_lease(const client::Client& client, std::string_view node,
                                std::string_view node_uid, std::int64_t duration_seconds,
                                const json::value& lease, std::string_view now_micro);

// ---- Container environment ----
struct EnvContext {
  const json::value* pod = nullptr;
  std::string pod_ip;
  std::string host_ip;
  std::string node_name;
  // Services of the pod's namespace, and default/kubernetes (may be null).
  std::vector<client::SharedObject> services;
  client::SharedObject kubernetes_service;
  // For configMapKeyRef / secretKeyRef / envFrom (null: those are skipped).
  const client::Client* client = nullptr;
  // For resourceFieldRef of a resource without a limit.
  std::map<std::string, std::string> node_allocatable;
};
// The container's final environment (ordered, later entries win when names repeat). Errors:
// InvalidArgument naming a missing configMap/secret key that is not optional
// (CreateContainerConfigError).
Result<std::vector<std::pair<std::string, std::string>>> container_env(
    const EnvContext& ctx, const json::value& container);
// Kubernetes' $(VAR) expansion ($$ escapes).
std::string expand_vars(std::string_view in, const std::map<std::string, std::string>& vars);

}  // namespace orch::agent::detail
