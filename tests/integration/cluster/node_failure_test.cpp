// Nodes that die or lose the API server, on in-process 3-node clusters with real kuard pods and
// short periods (lease renewal 200 ms, grace 2 s, toleration 3 s):
// - an agent killed (stop_node, the in-process SIGKILL): the node goes Unknown and tainted, its
//   Deployment pods are replaced elsewhere after the toleration, its StatefulSet pod is evicted
//   but not replaced while its object exists; the containers' shims fence them by themselves
//   (the dead-man switch: the agent's heartbeat stopped), so no Deployment pod runs beside its
//   replacement; when the agent returns, its stale pods are cleaned up and the StatefulSet pod
//   comes back once.
// - an agent partitioned from the API server (partition_node): the same, the agent fencing
//   itself.
// Over the whole of both, a monitor samples every node's runtime every 50 ms and asserts that no
// pod name ever runs on two nodes at once (a StatefulSet identity is never duplicated) and that
// no more Deployment pods than its replicas ever run at once.
// - cordon keeps new pods off a node (and taints it); deleting a Node removes its pods.
#include <doctest.h>

#include <boost/json.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "control_plane.hpp"
#include "orch/client/resource.hpp"
#include "orch/cluster/cluster.hpp"

namespace orch::cluster {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kDeployments;
using client::resources::kNodes;
using client::resources::kPods;
using client::resources::kStatefulSets;
using testing::wait_until;

constexpr int kReplicas = 3;

ClusterOptions failure_options() {
  ClusterOptions o;
  o.nodes = 3;
  o.lease_renew_interval = 200ms;
  o.node_monitor_grace_period = 2s;
  o.default_toleration_seconds = 3;
  return o;
}

std::string pod_template(const std::string& app) {
  return R"({"metadata":{"labels":{"app":")" + app + R"("}},"spec":{
      "terminationGracePeriodSeconds":1,
      "containers":[{"name":"kuard","image":"kuard",
        "ports":[{"containerPort":8080}],
        "readinessProbe":{"httpGet":{"path":"/ready","port":8080},"periodSeconds":1}}]}})";
}

json::value deployment(const std::string& name, int replicas) {
  return json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":")" + name +
                     R"("},"spec":{"replicas":)" + std::to_string(replicas) +
                     R"(,"selector":{"matchLabels":{"app":")" + name + R"("}},"template":)" +
                     pod_template(name) + "}}");
}

json::value statefulset(const std::string& name, int replicas) {
  return json::parse(R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":")" +
                     name + R"("},"spec":{"replicas":)" + std::to_string(replicas) +
                     R"(,"serviceName":")" + name +
                     R"(","podManagementPolicy":"Parallel","selector":{"matchLabels":{"app":")" +
                     name + R"("}},"template":)" + pod_template(name) + "}}");
}

std::string str(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto p : path) {
    if (!cur->is_object()) return {};
    cur = cur->as_object().if_contains(p);
    if (!cur) return {};
  }
  return cur->is_string() ? std::string(cur->as_string()) : std::string();
}

bool deleting(const json::value& obj) {
  return obj.at("metadata").as_object().contains("deletionTimestamp");
}

bool pod_ready(const json::value& pod) {
  const auto* conds = pod.at("status").as_object().if_contains("conditions");
  if (!conds || !conds->is_array()) return false;
  for (const auto& c : conds->as_array()) {
    if (c.at("type") == "Ready") return c.at("status") == "True";
  }
  return false;
}

std::string node_ready(client::Client& c, const std::string& node) {
  auto n = c.get(kNodes, "", node);
  if (!n.ok()) return {};
  for (const auto& cond : n->at("status").at("conditions").as_array()) {
    if (cond.at("type") == "Ready") return std::string(cond.at("status").as_string());
  }
  return {};
}

std::set<std::string> taints(client::Client& c, const std::string& node) {
  std::set<std::string> out;
  auto n = c.get(kNodes, "", node);
  if (!n.ok()) return out;
  if (const auto* t = n->at("spec").as_object().if_contains("taints"); t && t->is_array()) {
    for (const auto& x : t->as_array()) out.insert(str(x, {"key"}) + ":" + str(x, {"effect"}));
  }
  return out;
}

std::vector<json::value> pods(client::Client& c) {
  auto list = c.list_all(kPods, "default");
  return list.ok() ? list->items : std::vector<json::value>{};
}

// Ready pods of `app` that are not terminating and not on `avoid`.
int ready_elsewhere(client::Client& c, const std::string& app, const std::string& avoid) {
  int n = 0;
  for (const auto& p : pods(c)) {
    if (str(p, {"metadata", "labels", "app"}) == app && !deleting(p) && pod_ready(p) &&
        str(p, {"spec", "nodeName"}) != avoid) {
      ++n;
    }
  }
  return n;
}

int ready_count(client::Client& c, const std::string& app) { return ready_elsewhere(c, app, ""); }

// Samples every node's running containers every 50 ms and remembers every pod's name by uid.
class Monitor {
 public:
  explicit Monitor(Cluster& cluster) : cluster_(cluster), thread_([this] { run(); }) {}
  ~Monitor() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // Checks every sample: no pod name runs on two nodes (or as two uids) at once; and, when
  // `max_app_pods` is given, no more than that many pods of `app` run at once.
  void check(const std::string& app = "", int max_app_pods = 0) {
    std::lock_guard lock(mu_);
    CHECK(samples_.size() > 20);
    std::size_t worst_duplicates = 0;
    int most_app_pods = 0;
    std::set<std::string> unresolved;
    for (const auto& sample : samples_) {
      std::map<std::string, std::set<std::string>> places;  // pod name -> "uid@node"
      int app_pods = 0;
      for (const auto& [uid, nodes] : sample) {
        auto it = names_.find(uid);
        if (it == names_.end()) {
          unresolved.insert(uid);
          continue;
        }
        for (const auto& node : nodes) places[it->second].insert(uid + "@" + node);
        if (!app.empty() && it->second.starts_with(app + "-")) ++app_pods;
      }
      for (const auto& [name, where] : places) {
        if (where.size() > 1) {
          MESSAGE("pod " << name << " runs in " << where.size() << " places at once");
          worst_duplicates = std::max(worst_duplicates, where.size());
        }
      }
      most_app_pods = std::max(most_app_pods, app_pods);
    }
    CHECK(unresolved.empty());
    CHECK(worst_duplicates == 0);
    if (max_app_pods > 0) {
      MESSAGE("at most " << most_app_pods << " " << app << " pods ran at once");
      CHECK(most_app_pods <= max_app_pods);
    }
  }

  // Whether any container of these pod uids runs on any node now.
  bool any_running(const std::set<std::string>& uids) {
    for (const auto& node : cluster_.node_names()) {
      auto r = cluster_.running_containers(node);
      if (!r.ok()) continue;
      for (const auto& [uid, name] : *r) {
        if (uids.count(uid)) return true;
      }
    }
    return false;
  }

 private:
  void run() {
    auto client = cluster_.client();
    while (!stop_) {
      std::map<std::string, std::string> seen;
      for (const auto& p : pods(*client)) seen[str(p, {"metadata", "uid"})] = str(p, {"metadata", "name"});
      std::map<std::string, std::set<std::string>> sample;
      for (const auto& node : cluster_.node_names()) {
        auto r = cluster_.running_containers(node);
        if (!r.ok()) continue;
        for (const auto& [uid, name] : *r) sample[uid].insert(node);
      }
      {
        std::lock_guard lock(mu_);
        names_.merge(seen);
        samples_.push_back(std::move(sample));
      }
      std::this_thread::sleep_for(50ms);
    }
  }

  Cluster& cluster_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<std::string, std::string> names_;  // pod uid -> name
  std::vector<std::map<std::string, std::set<std::string>>> samples_;  // uid -> nodes
  std::thread thread_;  // last: starts once the rest is built
};

// The scenario of both forms. `partition`: partition_node/heal_node, else stop_node/start_node.
void node_failure(bool partition) {
  auto started = Cluster::start(failure_options());
  REQUIRE_MESSAGE(started.ok(), started.status().to_string());
  auto& cluster = **started;
  REQUIRE(cluster.wait_ready(30s).ok());
  auto& c = *cluster.client();

  REQUIRE(c.create(kDeployments, "default", deployment("web", kReplicas)).ok());
  REQUIRE(c.create(kStatefulSets, "default", statefulset("db", kReplicas)).ok());
  REQUIRE(wait_until([&] { return ready_count(c, "web") == kReplicas && ready_count(c, "db") == kReplicas; },
                     90s, 50ms));
  Monitor monitor(cluster);

  // The victim: a node running a db pod, preferably one with a web pod too.
  std::map<std::string, int> score;
  for (const auto& p : pods(c)) {
    std::string app = str(p, {"metadata", "labels", "app"});
    score[str(p, {"spec", "nodeName"})] += app == "db" ? 10 : 1;
  }
  std::string victim;
  for (const auto& [node, s] : score) {
    if (s >= 10 && (victim.empty() || s > score[victim])) victim = node;
  }
  REQUIRE(!victim.empty());
  std::map<std::string, std::string> old_web, old_db;  // name -> uid
  std::set<std::string> old_uids;
  for (const auto& p : pods(c)) {
    if (str(p, {"spec", "nodeName"}) != victim) continue;
    auto& into = str(p, {"metadata", "labels", "app"}) == "db" ? old_db : old_web;
    into[str(p, {"metadata", "name"})] = str(p, {"metadata", "uid"});
    old_uids.insert(str(p, {"metadata", "uid"}));
  }
  MESSAGE("victim " << victim << ": " << old_web.size() << " web pods, " << old_db.size()
                    << " db pods");

  REQUIRE((partition ? cluster.partition_node(victim) : cluster.stop_node(victim)).ok());

  // The node goes Unknown and tainted.
  CHECK(wait_until([&] { return node_ready(c, victim) == "Unknown"; }, 20s, 50ms));
  CHECK(wait_until([&] {
    auto t = taints(c, victim);
    return t.count("node.kubernetes.io/unreachable:NoExecute") && t.count("node.kubernetes.io/unreachable:NoSchedule");
  }, 20s, 50ms));

  // After the toleration, the web pods are replaced elsewhere; the old ones are Terminating (the
  // node cannot confirm) and the db pod is evicted but not replaced.
  CHECK(wait_until([&] { return ready_elsewhere(c, "web", victim) == kReplicas; }, 60s, 50ms));
  for (const auto& [name, uid] : old_db) {
    CHECK(wait_until([&] {
      auto p = c.get(kPods, "default", name);
      return p.ok() && deleting(*p);
    }, 30s, 50ms));
  }
  CHECK_FALSE(wait_until([&] {
    for (const auto& [name, uid] : old_db) {
      auto p = c.get(kPods, "default", name);
      if (!p.ok() || str(*p, {"metadata", "uid"}) != uid) return true;
    }
    return false;
  }, 2s, 50ms));
  // Fenced: the partitioned agent stopped its pods by itself; the killed agent's shims did.
  CHECK(wait_until([&] { return !monitor.any_running(old_uids); }, 20s, 50ms));

  REQUIRE((partition ? cluster.heal_node(victim) : cluster.start_node(victim)).ok());

  // Back: Ready, untainted; the stale pods stop and their objects go; the db pod comes back once.
  CHECK(wait_until([&] { return node_ready(c, victim) == "True" && taints(c, victim).empty(); }, 30s, 50ms));
  CHECK(wait_until([&] { return !monitor.any_running(old_uids); }, 30s, 50ms));
  CHECK(wait_until([&] {
    for (const auto& p : pods(c)) {
      if (old_uids.count(str(p, {"metadata", "uid"}))) return false;
    }
    return true;
  }, 30s, 50ms));
  CHECK(wait_until([&] { return ready_count(c, "db") == kReplicas && ready_count(c, "web") == kReplicas; },
                   60s, 50ms));
  std::this_thread::sleep_for(500ms);  // a few more samples of the settled cluster
  monitor.stop();
  // Fencing (the agent's, or its shims' when the agent is dead) means no Deployment pod ever
  // runs beside its replacement.
  monitor.check("web", kReplicas);
}

TEST_CASE("an agent killed: Unknown, taints, its shims fence its pods, no pod ever runs twice") {
  node_failure(/*partition=*/false);
}

TEST_CASE("an agent partitioned from the API server fences its pods: no pod ever runs twice") {
  node_failure(/*partition=*/true);
}

TEST_CASE("cordon keeps new pods off a node; deleting a Node removes its pods") {
  auto started = Cluster::start(failure_options());
  REQUIRE_MESSAGE(started.ok(), started.status().to_string());
  auto& cluster = **started;
  REQUIRE(cluster.wait_ready(30s).ok());
  auto& c = *cluster.client();
  const auto names = cluster.node_names();
  const std::string cordoned = names.at(0);

  REQUIRE(c.patch(kNodes, "", cordoned, client::PatchType::Merge, R"({"spec":{"unschedulable":true}})").ok());
  CHECK(wait_until([&] { return taints(c, cordoned).count("node.kubernetes.io/unschedulable:NoSchedule") == 1; },
                   10s, 50ms));
  REQUIRE(c.create(kDeployments, "default", deployment("web", 6)).ok());
  REQUIRE(wait_until([&] { return ready_count(c, "web") == 6; }, 90s, 50ms));
  std::map<std::string, std::string> uid_node;
  for (const auto& p : pods(c)) {
    CHECK(str(p, {"spec", "nodeName"}) != cordoned);
    uid_node[str(p, {"metadata", "uid"})] = str(p, {"spec", "nodeName"});
  }
  REQUIRE(c.patch(kNodes, "", cordoned, client::PatchType::Merge, R"({"spec":{"unschedulable":null}})").ok());
  CHECK(wait_until([&] { return taints(c, cordoned).empty(); }, 10s, 50ms));

  // kubectl delete node: its pods are deleted at once and replaced; their processes stop.
  const std::string doomed = names.at(1);
  std::set<std::string> doomed_uids;
  for (const auto& [uid, node] : uid_node) {
    if (node == doomed) doomed_uids.insert(uid);
  }
  REQUIRE(!doomed_uids.empty());
  REQUIRE(c.remove(kNodes, "", doomed).ok());
  CHECK(wait_until([&] {
    for (const auto& p : pods(c)) {
      if (doomed_uids.count(str(p, {"metadata", "uid"}))) return false;
    }
    return true;
  }, 20s, 50ms));
  CHECK(wait_until([&] {
    auto r = cluster.running_containers(doomed);
    if (!r.ok()) return false;
    for (const auto& [uid, name] : *r) {
      if (doomed_uids.count(uid)) return false;
    }
    return true;
  }, 20s, 50ms));
  CHECK(wait_until([&] { return ready_count(c, "web") == 6; }, 60s, 50ms));
}

TEST_CASE("fault injection on unknown or simulated nodes is refused") {
  ClusterOptions o;
  o.nodes = 1;
  o.runtime = RuntimeKind::kSimulated;
  auto started = Cluster::start(o);
  REQUIRE_MESSAGE(started.ok(), started.status().to_string());
  auto& cluster = **started;
  CHECK(cluster.partition_node(cluster.node_names().at(0)).code() == Code::kInvalidArgument);
  CHECK(cluster.running_containers(cluster.node_names().at(0)).status().code() == Code::kInvalidArgument);
  auto process = Cluster::start({.nodes = 1});
  REQUIRE(process.ok());
  CHECK((*process)->partition_node("nope").code() == Code::kNotFound);
  CHECK((*process)->heal_node("nope").code() == Code::kNotFound);
  CHECK((*process)->running_containers("nope").status().code() == Code::kNotFound);
}

}  // namespace
}  // namespace orch::cluster
