// A control plane for controller and scheduler tests: a SQLite store in a temp dir, an in-process
// API server over it (no socket) and a Client on the in-process transport. Plus:
//
// - add_node(): a Ready Node object with capacity, labels and taints (no agent behind it).
// - NodePlayer: plays the agents of every node. A pod bound to a node (spec.nodeName set) goes
//   Running with Ready=True and a podIP in 127.0.0.0/8 (after `ready_delay`, or never Ready when
//   told so); a pod with a deletionTimestamp is deleted with gracePeriodSeconds=0 (what an agent
//   does once its containers stopped). Optionally binds every pending pod to one node (for tests
//   that run no scheduler).
// - bind_pending_pods(): the one-shot version of that binding.
// - wait_until(): poll a predicate with a timeout.
//
//   orch::testing::ControlPlane cp;
//   REQUIRE(cp.add_node("node-1").ok());
//   orch::testing::NodePlayer player(cp.client(), {.bind_pending_to = "node-1"});
//   ... start controllers on cp.client() ...
//   CHECK(orch::testing::wait_until([&] { return count_ready_pods() == 3; }));
//
// Everything stops cleanly in destructors (declare the player after the control plane so it is
// destroyed first). Failures to start are doctest REQUIRE failures.
//
// Thread-safety: ControlPlane's accessors may be used from any thread. NodePlayer's methods may
// be called from any thread; it acts on its own threads (an informer and one worker).
#pragma once

#include <boost/json/value.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "orch/apiserver/api_server.hpp"
#include "orch/client/client.hpp"
#include "orch/client/informer.hpp"
#include "orch/client/work_queue.hpp"
#include "orch/status.hpp"
#include "orch/store/store.hpp"
#include "orch/util/clock.hpp"

namespace orch::testing {

// Polls `predicate` every `interval` until it returns true (-> true) or `timeout` passes
// (-> false, after one last try).
bool wait_until(const std::function<bool()>& predicate,
                std::chrono::milliseconds timeout = std::chrono::seconds(30),
                std::chrono::milliseconds interval = std::chrono::milliseconds(10));

struct NodeTaint {
  std::string key;
  std::string value;
  std::string effect;  // "NoSchedule", "PreferNoSchedule", "NoExecute"
};

struct ControlPlaneOptions {
  // Interval of watch bookmarks. Default: 1 s.
  std::chrono::seconds bookmark_interval{1};
  // Also serve HTTP on 127.0.0.1 (port 0). Default: false.
  bool serve_http = false;
};

class ControlPlane {
 public:
  explicit ControlPlane(ControlPlaneOptions options = {});
  // Stops the API server (ends every watch), closes the store, removes the temp dir.
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // A client on the in-process transport (one shared client; make more with new_client()).
  const std::shared_ptr<client::Client>& client() const { return client_; }
  std::shared_ptr<client::Client> new_client() const;
  apiserver::ApiServer& server() { return *server_; }
  store::Store& store() { return *store_; }
  // The temp dir (removed on destruction).
  const std::string& dir() const { return dir_; }

  // Creates Node `name`, Ready, with capacity = allocatable = {cpu, memory, pods: 110}, labels
  // (plus kubernetes.io/hostname=<name>) and taints. The API's error (e.g. AlreadyExists).
  Status add_node(std::string_view name, std::string_view cpu = "4",
                  std::string_view memory = "8Gi",
                  const std::map<std::string, std::string>& labels = {},
                  const std::vector<NodeTaint>& taints = {}) const;

 private:
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<apiserver::ApiServer> server_;
  std::shared_ptr<client::Client> client_;
};

// Binds every pod without spec.nodeName (in `ns`; "" for every namespace) to `node`. Returns how
// many it bound, or the first error other than a lost race (a pod bound or deleted meanwhile).
Result<int> bind_pending_pods(const client::Client& client, std::string_view node,
                              std::string_view ns = "");

struct NodePlayerOptions {
  // Bound pods go Running + Ready this long after the player first sees them bound (real time).
  // Default: 0 (at once).
  std::chrono::milliseconds ready_delay{0};
  // When false, pods go Running but stay not Ready until set_ready(..., true). Default: true.
  bool ready = true;
  // Delete pods with a deletionTimestamp (grace 0). Default: true.
  bool complete_deletions = true;
  // When not empty, binds every pending pod to this node. Default: "".
  std::string bind_pending_to{};
  // When not empty, plays only pods bound to these nodes (others are left to whoever runs
  // them, e.g. a real agent). Default: {} (every node).
  std::set<std::string> only_nodes{};
  // Timestamps written into pod status (startTime, conditions' lastTransitionTime) come from
  // here, so controllers on a FakeClock see consistent times. Default: real_clock().
  util::Clock* clock = nullptr;
};

class NodePlayer {
 public:
  explicit NodePlayer(std::shared_ptr<client::Client> client, NodePlayerOptions options = {});
  // stop()s.
  ~NodePlayer();
  NodePlayer(const NodePlayer&) = delete;
  NodePlayer& operator=(const NodePlayer&) = delete;

  // Overrides the readiness of one pod from now on (a readiness probe failing or passing); the
  // pod's Ready condition is rewritten (with a new lastTransitionTime) when it changes.
  void set_ready(std::string_view ns, std::string_view name, bool ready);
  // Stops the informer and the worker. Idempotent.
  void stop();
  // The player's pod cache (for tests that want to look without another list).
  client::Informer& pods() { return *informer_; }

 private:
  void run();
  // One pod. Sets `requeue` when the pod must be looked at again later (ready_delay). NotFound
  // is success; other errors are retried with backoff.
  Status play(const std::string& key, std::chrono::nanoseconds& requeue);
  std::string pod_ip_for(const std::string& key);

  // Const after construction.
  const std::shared_ptr<client::Client> client_;
  const NodePlayerOptions options_;
  util::Clock* const clock_;

  client::WorkQueue queue_;
  std::unique_ptr<client::Informer> informer_;
  std::thread worker_;
  std::atomic<bool> stopped_{false};

  std::mutex mu_;  // lock order: leaf
  // Guarded by mu_.
  std::map<std::string, bool> ready_override_;
  std::map<std::string, std::string> pod_ips_;
  std::map<std::string, std::chrono::steady_clock::time_point> first_seen_bound_;
  std::uint32_t next_ip_ = 0;
};

}  // namespace orch::testing
