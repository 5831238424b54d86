// SimulatedNodes: many fake nodes in one process, like kwok. No Runtime, no processes.
//
// - Each node is a real Node object (capacity, allocatable, labels, taints, Ready conditions)
//   with its own Lease in kube-node-lease, renewed every `lease_renew_interval`; leases and node
//   heartbeats are written in batches by ONE worker thread shared by every node.
// - ONE pod informer (all pods) serves every node: a pod whose spec.nodeName is a live simulated
//   node goes Running and Ready at once (or after `pod_ready_delay`), with a pod IP from that
//   node's range, hostIP, startTime and container statuses (containerID "sim://...").
//   The annotation `orch.dev/simulate` changes that: "fail" -> Failed (containers terminated with
//   exit code 1, reason Error), "succeed" -> Succeeded (exit 0, Completed), "not-ready" -> Running
//   but never Ready. fail_pod() does the same on demand.
// - A pod with a deletionTimestamp is deleted at once (gracePeriodSeconds=0, uid precondition).
// - Faults: stop_node() stops renewing the node's lease and heartbeats and stops handling its pods
//   (the node "dies"; the node lifecycle controller notices); resume_node() brings it back;
//   remove_node() also deletes its Node and Lease.
//
// Node i (counting from 0 over the pool's life) is named `<name_prefix><i>`, has InternalIP
// 127.<ip_second_octet + i/65536>... see node_ip(), and pod IPs from its own /24.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "orch/agent/agent.hpp"
#include "orch/client/client.hpp"
#include "orch/status.hpp"
#include "orch/util/clock.hpp"

namespace orch::agent {

struct SimulatedNodesOptions {
  // Node names are <name_prefix><index>. Default: "sim-node-".
  std::string name_prefix = "sim-node-";
  // Capacity (= allocatable) of every node. Default: cpu 32, memory 256Gi, pods 110.
  std::map<std::string, std::string> capacity{{"cpu", "32"}, {"memory", "256Gi"}, {"pods", "110"}};
  // Extra labels (kubernetes.io/hostname, os, arch and type=simulated are always set).
  // Default: {}.
  std::map<std::string, std::string> labels{};
  // Default: {}.
  std::vector<NodeTaintSpec> taints{};
  // Default: 40 s.
  std::chrono::seconds lease_duration{40};
  // Default: 10 s.
  std::chrono::milliseconds lease_renew_interval{10'000};
  // Node conditions' heartbeat rewrite period. Default: 60 s.
  std::chrono::milliseconds node_status_interval{60'000};
  // Bound pods go Running + Ready this long after the pool first sees them. Default: 0.
  std::chrono::milliseconds pod_ready_delay{0};
  // Node i's pod range is 127.<b>.<c>.0/24 with b = pod_ip_second_octet + i / 256, c = i % 256;
  // node i's own address is 127.<node_ip_second_octet + i / 65536>.<(i / 256) % 256>.<i % 256>
  // (.0 skipped by starting at i + 1). Default: 128, 127.
  std::uint32_t pod_ip_second_octet = 128;
  std::uint32_t node_ip_second_octet = 127;
  // Time for delays, leases and timestamps (not owned). Default: real_clock().
  util::Clock* clock = nullptr;
  // Worker threads shared by every node. Default: 1.
  int workers = 1;
};

class SimulatedNodes {
 public:
  explicit SimulatedNodes(std::shared_ptr<client::Client> client,
                          SimulatedNodesOptions options = {});
  // stop()s.
  ~SimulatedNodes();
  SimulatedNodes(const SimulatedNodes&) = delete;
  SimulatedNodes& operator=(const SimulatedNodes&) = delete;

  // Starts the pod informer and the worker (waits up to `sync_timeout` for the first list).
  // InvalidArgument on a second start; DeadlineExceeded when the informer did not sync.
  Status start(std::chrono::milliseconds sync_timeout = std::chrono::seconds(30));
  // Stops the informer and the worker; Nodes, Leases and pods stay as they are. Idempotent.
  void stop();

  // Registers `count` more nodes (Node + Lease written before it returns) and returns their
  // names. The first API error stops it (nodes registered so far stay).
  Result<std::vector<std::string>> add_nodes(std::size_t count);
  // Stops a node (no more lease renewals, heartbeats or pod handling). NotFound for an unknown
  // node.
  Status stop_node(std::string_view name);
  // Undoes stop_node (renews the lease at once). NotFound.
  Status resume_node(std::string_view name);
  // Stops the node and deletes its Node and Lease. NotFound.
  Status remove_node(std::string_view name);
  // Makes a pod on a simulated node Failed (containers terminated, exit code 1, `reason`).
  // NotFound when the pod is not on a live simulated node.
  Status fail_pod(std::string_view ns, std::string_view name, std::string_view reason = "Error");

  std::vector<std::string> node_names() const;
  std::size_t node_count() const;
  // Pod IP currently given to pod ns/name ("" if none).
  std::string pod_ip(std::string_view ns, std::string_view name) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace orch::agent
