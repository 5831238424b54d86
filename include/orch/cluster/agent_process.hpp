// AgentProcess: one further node joining a running orch-server over the network, what
// `orch-agent` runs (ARCHITECTURE.md, "Executables"): the node agent with the process runtime,
// its node server (logs, port-forward) and the node's service proxy, all talking to the API
// server over HTTPS with the node token.
//
// Joining: the token is orch-server's <data-dir>/node-token, `K10<sha256 of the CA>::server:
// <secret>` (k3s's shape). The agent fetches the CA from GET <server>/cacerts without trusting
// the connection, accepts it only when its SHA-256 equals the token's hash, and from then on
// verifies the server against that CA and presents the secret as its bearer token. A bare
// secret (no K10 prefix) skips the pinning (the fetched CA is trusted as is; say so in logs).
//
// Several agents on one machine: each needs its own node name, data dir, node IP and pod range.
// By default the node IP and pod range come from an address slot derived from the node name
// (127.0.0.<slot+1> and 127.1.<slot>.0/24, the slots of orch-server's own address plan, whose
// local node uses slot 0); give `address_slot` (or node_ip and pod_cidr) to choose.
//
// Thread-safety: start/stop from any thread; stop() is idempotent.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orch/status.hpp"

namespace orch::cluster {

struct AgentProcessOptions {
  // API server URLs ("https://127.0.0.1:6443"); the first that answers is used, the others are
  // failover targets for every request. At least one.
  std::vector<std::string> servers{};
  // The join token (see above). Required.
  std::string token{};
  // The Node's name. Required.
  std::string node_name{};
  // Pods, logs, images of this node. Required.
  std::string data_dir{};
  // The node's address and pod range. Default: from address_slot.
  std::string node_ip{};
  std::string pod_cidr{};
  // 1..250: node IP 127.0.0.<slot+1>, pods 127.1.<slot>.0/24. Default: derived from node_name
  // (2..250; two names may collide: then give slots explicitly).
  std::optional<std::uint32_t> address_slot{};
  // The kuard binary for the process runtime. Default: found next to the executable.
  std::string kuard_path{};
  // Node capacity (cpu, memory, pods). Default: the machine's.
  std::map<std::string, std::string> node_capacity{};
  // stop() kills this node's pods (else they keep running for the next start to adopt).
  // Default: false.
  bool kill_pods_on_stop = false;
  // Default: 10 s.
  std::chrono::milliseconds lease_renew_interval{10'000};
  // How long start() waits for a server to answer /cacerts. Default: 60 s.
  std::chrono::milliseconds join_timeout{60'000};
};

// The address slot AgentProcessOptions derives from a node name (2..250).
std::uint32_t default_address_slot(const std::string& node_name);

// Fetches GET <server>/cacerts from the first of `servers` that answers within `timeout` and
// checks it against `token`. Unauthenticated when the CA's hash differs from the token's;
// DeadlineExceeded when no server answered in time; InvalidArgument for a malformed token.
Result<std::string> fetch_cluster_ca(const std::vector<std::string>& servers,
                                     const std::string& token, std::chrono::milliseconds timeout);

class AgentProcess {
 public:
  // Joins (fetch_cluster_ca), registers the Node and starts serving pods. The errors of
  // fetch_cluster_ca; Unauthenticated when the server refuses the token; the agent's errors.
  static Result<std::unique_ptr<AgentProcess>> start(AgentProcessOptions options);
  virtual ~AgentProcess() = default;

  virtual const std::string& node_name() const = 0;
  virtual const std::string& node_ip() const = 0;
  virtual const std::string& pod_cidr() const = 0;
  // Stops the proxy and the agent (killing pods when kill_pods_on_stop). Idempotent.
  virtual void stop() = 0;
};

}  // namespace orch::cluster
