// Cluster: a whole liborch cluster in the calling process — store, API server, controller
// manager, scheduler, load balancer, and N nodes (each an agent with its process runtime and
// service proxy, or simulated nodes) — started from options and stopped by the destructor.
//
//   auto c = orch::cluster::Cluster::start({.nodes = 3});
//   auto client = (*c)->client();            // in-process transport, no socket
//   ... create a Deployment; (*c)->wait_ready(...) ...
//
// helpers.hpp has what replaces sleeps: apply(client, yaml), wait_for(client, kind, ns, name,
// predicate, timeout) driven by a watch, events(client, ns).
//
// orch-server is this class with HTTP on, one node named after the host, and a data directory
// that outlives it.
//
// Addresses: every cluster gets its own block of 127.0.0.0/8 so several clusters (in one process
// or several) do not collide; see address_plan() for the exact ranges.
//
// Thread-safety: every method may be called from any thread. Start and stop are not concurrent
// with each other.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "orch/client/client.hpp"
#include "orch/status.hpp"
#include "orch/util/clock.hpp"

namespace orch::apiserver {
class ApiServer;
}

namespace orch::cluster {

enum class RuntimeKind : std::uint8_t {
  kProcess,    // pods are real processes (kuard, busybox, imported images)
  kSimulated,  // pods go Running at once; no processes (kwok-like), for scale and harnesses
};

// The address ranges of one cluster.
struct AddressPlan {
  std::string service_cidr;        // ClusterIPs
  std::string load_balancer_cidr;  // external addresses of LoadBalancer Services
  std::vector<std::string> node_ips;
  std::vector<std::string> pod_cidrs;  // one /24 per node
};

// The plan for address block `block` (0: the single-cluster defaults orch-server uses:
// services 127.96.0.0/16, load balancers 127.240.0.0/16, nodes 127.0.0.1.., pods 127.1.<i>.0/24;
// 1..255: 127.(96+b/16).((b%16)*16).0/20, 127.(240+b/16).((b%16)*16).0/20, 127.64.b.(i+1),
// 127.(2+b%60).<i>.0/24).
AddressPlan address_plan(std::uint32_t block, std::size_t nodes);

// A point-in-time image of a cluster's whole state (every object in the store, with its
// revisions and history), from Cluster::snapshot(); ClusterOptions::restore_from starts a new
// cluster from it. Immutable once made, so one snapshot may start many clusters, one after the
// other or at once (simulated nodes; see restore_from for the process runtime).
struct Snapshot {
  // The store as a SQLite database file's bytes (write it to a file and `sqlite3` reads it).
  std::string store_image;
  // The snapshotted cluster's address block, node count and runtime: a restored cluster keeps
  // them, so ClusterIPs, node and pod addresses in the objects stay valid.
  std::uint32_t address_block = 0;
  std::size_t nodes = 0;
  RuntimeKind runtime = RuntimeKind::kProcess;
  std::vector<std::string> node_names{};

  // Saves to / loads from a file (a small header, then the store image). InvalidArgument when the
  // file cannot be written or is not a snapshot; NotFound when it does not exist.
  Status save(const std::string& path) const;
  static Result<std::shared_ptr<const Snapshot>> load(const std::string& path);
};

struct ClusterOptions {
  // Number of nodes. 0: a control plane only. Default: 1.
  std::size_t nodes = 1;
  // Node names; missing ones are "<node_name_prefix><i>". Default: none.
  std::vector<std::string> node_names{};
  // Default: "node-".
  std::string node_name_prefix = "node-";
  RuntimeKind runtime = RuntimeKind::kProcess;
  // Keep the objects in etcd at these client URLs instead of SQLite (the data directory still
  // holds pods, logs and the kubeconfig). Default: none (SQLite in data_dir).
  std::vector<std::string> etcd_endpoints{};
  // TLS to etcd (PEM files). Default: none.
  std::string etcd_ca_file{}, etcd_cert_file{}, etcd_key_file{};
  // State (SQLite store, pod directories, logs, kubeconfig). Empty: a temp dir removed when the
  // cluster stops. Default: "".
  std::string data_dir{};
  // Serve the Kubernetes API over HTTP on http_address:http_port (0 picks a free port) and write
  // <data_dir>/kubeconfig naming it. Default: false (in-process only, no socket).
  bool serve_http = false;
  std::string http_address = "127.0.0.1";
  std::uint16_t http_port = 0;
  // With serve_http: HTTPS and bearer-token authentication (orch/pki): a cluster CA and the API
  // server's certificate in <data_dir>/tls, the admin token in the kubeconfig (with the CA data
  // embedded), the agents' join token in <data_dir>/node-token; all kept across restarts.
  // false: plain HTTP without authentication (tests that speak raw HTTP). Default: true.
  bool secure = true;
  // Address block (see address_plan). Default: one chosen per cluster from the process id and a
  // counter, so parallel clusters rarely collide.
  std::optional<std::uint32_t> address_block{};
  // Node capacity (cpu, memory, pods). Default: the machine's.
  std::map<std::string, std::string> node_capacity{};
  // Controllers and the scheduler campaign for their Leases first. Default: false.
  bool leader_election = false;
  // Every time-driven part reads this clock. Not owned. Default: real_clock().
  util::Clock* clock = nullptr;
  // Agents' lease renew interval. Default: 10 s.
  std::chrono::milliseconds lease_renew_interval{10'000};
  // Node failure (node_lifecycle_controller.hpp): a node whose lease is not renewed for this long
  // turns Ready=Unknown and is tainted unreachable; agents fence their pods against the same
  // period (AgentOptions::node_monitor_grace_period, with a margin of min(5 s, half of it)).
  // Default: 40 s.
  std::chrono::milliseconds node_monitor_grace_period{40'000};
  // tolerationSeconds of the not-ready/unreachable NoExecute tolerations the API server gives
  // every pod that has none: how long after its node failed a pod is evicted. Default: 300.
  std::int64_t default_toleration_seconds = 300;
  // The kuard binary for the process runtime. Default: found next to the executable.
  std::string kuard_path{};
  // stop() leaves pod processes running, for a later start on the same data_dir to adopt (what
  // orch-server does on SIGTERM, as k3s). Default: false (stop() kills every pod).
  bool keep_pods_on_stop = false;
  // Show the components as mirror pods in kube-system (agent/mirror_pods.hpp), with their logs:
  // kube-apiserver, kube-controller-manager, kube-scheduler and orch-load-balancer on the first
  // node, orch-agent and kube-proxy on every node (process runtime only). What orch-server does.
  // Default: false.
  bool mirror_pods = false;
  // Start from this snapshot's state instead of an empty store (SQLite only). The snapshot's
  // address block, node count, node names and runtime override `address_block`, `nodes`,
  // `node_names` and `runtime`. Nodes re-register and renew their leases; pods keep their
  // objects (names, uids, status) and:
  // - simulated nodes take over the pods bound to them (Running again at once);
  // - process nodes start every pod bound to them afresh from its spec (the processes of the
  //   snapshotted cluster are not part of the image).
  // With the process runtime, two clusters from one snapshot must not run at once: their
  // Services and pods would use the same addresses. `data_dir`, if given, must hold no store.
  // Default: none.
  std::shared_ptr<const Snapshot> restore_from{};
};

class Cluster {
 public:
  // Starts everything and returns once the API serves and every node has registered.
  static Result<std::unique_ptr<Cluster>> start(ClusterOptions options = {});
  // stop()s.
  virtual ~Cluster() = default;

  // A client on the in-process transport.
  virtual std::shared_ptr<client::Client> client() const = 0;
  // "http://127.0.0.1:PORT", or "" when not serving HTTP.
  virtual std::string url() const = 0;
  // <data_dir>/kubeconfig, or "" when not serving HTTP.
  virtual std::string kubeconfig_path() const = 0;
  virtual const std::string& data_dir() const = 0;
  virtual const AddressPlan& addresses() const = 0;
  virtual std::vector<std::string> node_names() const = 0;
  virtual apiserver::ApiServer& api_server() = 0;

  // Waits until every node is Ready. DeadlineExceeded on timeout.
  virtual Status wait_ready(std::chrono::milliseconds timeout) = 0;

  // Fault injection: stop a node's agent (its lease stops, its pods keep running) and start it
  // again (it adopts its pods). NotFound for an unknown node.
  virtual Status stop_node(const std::string& name) = 0;
  virtual Status start_node(const std::string& name) = 0;
  // Fault injection: partition a node from the API server (every request of its agent and
  // service proxy fails with Unavailable and their watches break, so its lease stops) while its
  // agent and pods keep running; the agent fences its pods (AgentOptions) as a real partitioned
  // node would. heal_node restores the traffic. NotFound for an unknown node; InvalidArgument for
  // simulated nodes. Idempotent.
  virtual Status partition_node(const std::string& name) = 0;
  virtual Status heal_node(const std::string& name) = 0;
  // The containers running on a node right now, from its runtime (whether its agent runs or
  // not): (pod uid, container name) pairs. NotFound for an unknown node; InvalidArgument for
  // simulated nodes.
  virtual Result<std::vector<std::pair<std::string, std::string>>> running_containers(
      const std::string& name) = 0;

  // A consistent image of the whole store now, for ClusterOptions::restore_from. Writes may go on
  // meanwhile. InvalidArgument on an etcd-backed cluster; Internal on an SQLite error.
  virtual Result<std::shared_ptr<const Snapshot>> snapshot() const = 0;

  // Stops every component, kills every pod process, removes a temp data dir. Idempotent.
  virtual void stop() = 0;
};

}  // namespace orch::cluster
