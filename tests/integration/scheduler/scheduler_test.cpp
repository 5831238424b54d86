// The scheduler against an in-process API server with Node objects (tests/support/control_plane):
// resource fit, cordon, taints and tolerations, node affinity, host ports, volume node affinity,
// spreading of a workload's replicas, FailedScheduling events and the PodScheduled condition, a
// pending pod scheduled once a fitting node arrives, schedulerName, leader election.
#include <doctest.h>

#include <boost/json.hpp>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "control_plane.hpp"
#include "log_capture.hpp"
#include "orch/client/client.hpp"
#include "orch/client/informer_factory.hpp"
#include "orch/client/resource.hpp"
#include "orch/controller/volume_binding.hpp"
#include "orch/scheduler/scheduler.hpp"

namespace orch::scheduler {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kEvents;
using client::resources::kNodes;
using client::resources::kPersistentVolumeClaims;
using client::resources::kPersistentVolumes;
using client::resources::kPods;
using testing::ControlPlane;
using testing::NodeTaint;
using testing::wait_until;

std::string str_at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto p : path) {
    if (!cur->is_object()) return {};
    cur = cur->get_object().if_contains(p);
    if (!cur) return {};
  }
  return cur->is_string() ? std::string(cur->get_string()) : std::string();
}

struct Fixture {
  ControlPlane cp;
  std::unique_ptr<Scheduler> scheduler;

  explicit Fixture(SchedulerOptions options = {}) {
    options.binder_threads = 2;
    auto s = Scheduler::create(cp.client(), options);
    REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    scheduler = std::move(s).value();
  }
  ~Fixture() {
    if (scheduler) scheduler->stop();
  }
  void start() {
    auto st = scheduler->start();
    REQUIRE_MESSAGE(st.ok(), st.to_string());
  }

  // Creates pod `name` requesting `cpu` (empty: nothing), with `spec_extra` merged into spec.
  void create_pod(const std::string& name, const std::string& cpu = "",
                  json::object spec_extra = {}, json::object meta_extra = {}) {
    json::object container{{"name", "c"}, {"image", "kuard"}};
    if (!cpu.empty()) {
      container["resources"] = json::object{{"requests", json::object{{"cpu", cpu}}}};
    }
    if (auto* ports = spec_extra.if_contains("_ports")) {
      container["ports"] = *ports;
      spec_extra.erase("_ports");
    }
    json::object spec{{"containers", json::array{container}}};
    for (auto& kv : spec_extra) spec[kv.key()] = kv.value();
    json::object meta{{"name", name}};
    for (auto& kv : meta_extra) meta[kv.key()] = kv.value();
    json::value pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", spec}};
    auto r = cp.client()->create(kPods, "default", pod);
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  }

  std::string node_of(const std::string& pod) {
    auto p = cp.client()->get(kPods, "default", pod);
    return p.ok() ? str_at(*p, {"spec", "nodeName"}) : std::string();
  }
  // Waits for the pod to be bound; returns its node ("" on timeout).
  std::string wait_bound(const std::string& pod) {
    std::string node;
    wait_until([&] { return !(node = node_of(pod)).empty(); }, 30s);
    return node;
  }
  // Waits for a FailedScheduling event about `pod` and returns its message.
  std::string wait_event(const std::string& pod, const std::string& reason,
                         const std::string& contains = "") {
    std::string message;
    wait_until(
        [&] {
          auto list = cp.client()->list(kEvents, "default");
          if (!list.ok()) return false;
          for (const auto& e : list->at("items").as_array()) {
            if (str_at(e, {"involvedObject", "name"}) == pod && str_at(e, {"reason"}) == reason &&
                str_at(e, {"message"}).find(contains) != std::string::npos) {
              message = str_at(e, {"message"});
              return true;
            }
          }
          return false;
        },
        30s, 20ms);
    return message;
  }
  void patch_node(const std::string& node, const std::string& patch) {
    auto r = cp.client()->patch(kNodes, "", node, client::PatchType::Merge, patch);
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  }
};

TEST_CASE("resource fit: pods go where their requests fit; too big a pod says why") {
  Fixture f;
  REQUIRE(f.cp.add_node("small", "1").ok());
  REQUIRE(f.cp.add_node("large", "4").ok());
  f.start();
  f.create_pod("a", "2");
  CHECK(f.wait_bound("a") == "large");
  f.create_pod("b", "1500m");
  CHECK(f.wait_bound("b") == "large");
  // 500m left on each node now... "large" has 500m, "small" 1.
  f.create_pod("c", "800m");
  CHECK(f.wait_bound("c") == "small");

  f.create_pod("huge", "3");
  CHECK(f.wait_event("huge", "FailedScheduling") == "0/2 nodes are available: 2 Insufficient cpu.");
  CHECK(f.node_of("huge").empty());
  // The pod's PodScheduled condition says so, as Kubernetes writes it.
  CHECK(wait_until([&] {
    auto p = f.cp.client()->get(kPods, "default", "huge");
    if (!p.ok()) return false;
    const auto* conds = p->at("status").as_object().if_contains("conditions");
    if (!conds) return false;
    for (const auto& c : conds->as_array()) {
      if (str_at(c, {"type"}) == "PodScheduled") {
        return str_at(c, {"status"}) == "False" && str_at(c, {"reason"}) == "Unschedulable" &&
               str_at(c, {"message"}) == "0/2 nodes are available: 2 Insufficient cpu.";
      }
    }
    return false;
  }));
  CHECK(f.wait_event("a", "Scheduled") == "Successfully assigned default/a to large");
}

TEST_CASE("logs: each binding at -v 2, an unschedulable pod at info with the reason") {
  testing::LogCapture logs(2);
  Fixture f;
  REQUIRE(f.cp.add_node("n1", "1").ok());
  f.start();
  f.create_pod("fits", "500m");
  CHECK(f.wait_bound("fits") == "n1");
  CHECK(wait_until([&] { return !logs.find("scheduler", " V2 scheduler: bound default/fits to n1").empty(); }));
  f.create_pod("huge", "3");
  CHECK(wait_until([&] {
    return !logs.find("scheduler", " I scheduler: default/huge is unschedulable: 0/1 nodes are "
                                   "available: 1 Insufficient cpu.").empty();
  }));
}

TEST_CASE("an unschedulable pod is scheduled when a fitting node is added") {
  Fixture f;
  REQUIRE(f.cp.add_node("n1", "1").ok());
  f.start();
  f.create_pod("big", "3");
  CHECK(f.wait_event("big", "FailedScheduling") == "0/1 nodes are available: 1 Insufficient cpu.");
  REQUIRE(f.cp.add_node("n2", "4").ok());
  CHECK(f.wait_bound("big") == "n2");
}

TEST_CASE("an unschedulable pod is scheduled when a pod on the node goes away") {
  Fixture f;
  REQUIRE(f.cp.add_node("n1", "2").ok());
  f.start();
  f.create_pod("first", "1500m");
  CHECK(f.wait_bound("first") == "n1");
  f.create_pod("second", "1500m");
  f.wait_event("second", "FailedScheduling");
  client::DeleteOptions d;
  d.grace_period_seconds = 0;
  REQUIRE(f.cp.client()->remove(kPods, "default", "first", d).ok());
  CHECK(f.wait_bound("second") == "n1");
}

TEST_CASE("cordon: an unschedulable node takes no pods, unless they tolerate it") {
  Fixture f;
  REQUIRE(f.cp.add_node("n1").ok());
  REQUIRE(f.cp.add_node("n2").ok());
  f.patch_node("n1", R"({"spec":{"unschedulable":true}})");
  f.start();
  for (int i = 0; i < 4; ++i) f.create_pod("p" + std::to_string(i), "100m");
  for (int i = 0; i < 4; ++i) CHECK(f.wait_bound("p" + std::to_string(i)) == "n2");

  f.patch_node("n2", R"({"spec":{"unschedulable":true}})");
  f.create_pod("stuck");
  CHECK(f.wait_event("stuck", "FailedScheduling") ==
        "0/2 nodes are available: 2 node(s) were unschedulable.");
  f.create_pod("tolerant", "", json::object{{"tolerations", json::array{json::object{
                                                {"key", "node.kubernetes.io/unschedulable"},
                                                {"operator", "Exists"},
                                                {"effect", "NoSchedule"}}}}});
  CHECK(!f.wait_bound("tolerant").empty());
  // Uncordoning n1 lets the stuck pod in.
  f.patch_node("n1", R"({"spec":{"unschedulable":null}})");
  CHECK(f.wait_bound("stuck") == "n1");
}

TEST_CASE("taints and tolerations") {
  Fixture f;
  REQUIRE(f.cp.add_node("gpu", "4", "8Gi", {{"hw", "gpu"}}, {NodeTaint{"dedicated", "gpu", "NoSchedule"}}).ok());
  REQUIRE(f.cp.add_node("plain").ok());
  f.start();
  for (int i = 0; i < 3; ++i) f.create_pod("web" + std::to_string(i), "100m");
  for (int i = 0; i < 3; ++i) CHECK(f.wait_bound("web" + std::to_string(i)) == "plain");
  f.create_pod("trainer", "100m",
               json::object{{"nodeSelector", json::object{{"hw", "gpu"}}},
                            {"tolerations", json::array{json::object{{"key", "dedicated"},
                                                                     {"operator", "Equal"},
                                                                     {"value", "gpu"},
                                                                     {"effect", "NoSchedule"}}}}});
  CHECK(f.wait_bound("trainer") == "gpu");
  f.create_pod("intruder", "100m", json::object{{"nodeSelector", json::object{{"hw", "gpu"}}}});
  CHECK(f.wait_event("intruder", "FailedScheduling") ==
        "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) "
        "had untolerated taint {dedicated: gpu}.");
}

TEST_CASE("required node affinity picks the matching node") {
  Fixture f;
  REQUIRE(f.cp.add_node("a1", "4", "8Gi", {{"zone", "a"}}).ok());
  REQUIRE(f.cp.add_node("b1", "4", "8Gi", {{"zone", "b"}}).ok());
  REQUIRE(f.cp.add_node("c1", "4", "8Gi", {{"zone", "c"}}).ok());
  f.start();
  auto affinity = [](const std::string& op, json::array values) {
    return json::object{
        {"affinity",
         json::object{{"nodeAffinity",
                       json::object{{"requiredDuringSchedulingIgnoredDuringExecution",
                                     json::object{{"nodeSelectorTerms",
                                                   json::array{json::object{
                                                       {"matchExpressions",
                                                        json::array{json::object{{"key", "zone"},
                                                                                 {"operator", op},
                                                                                 {"values", values}}}}}}}}}}}}}};
  };
  for (int i = 0; i < 3; ++i) f.create_pod("in-b" + std::to_string(i), "100m", affinity("In", {"b"}));
  for (int i = 0; i < 3; ++i) CHECK(f.wait_bound("in-b" + std::to_string(i)) == "b1");
  for (int i = 0; i < 3; ++i) f.create_pod("not-ab" + std::to_string(i), "100m", affinity("NotIn", {"a", "b"}));
  for (int i = 0; i < 3; ++i) CHECK(f.wait_bound("not-ab" + std::to_string(i)) == "c1");
  f.create_pod("nowhere", "100m", affinity("In", {"z"}));
  CHECK(f.wait_event("nowhere", "FailedScheduling") ==
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.");
}

TEST_CASE("host ports: one pod per node per port") {
  Fixture f;
  REQUIRE(f.cp.add_node("n1").ok());
  REQUIRE(f.cp.add_node("n2").ok());
  f.start();
  json::object ports{{"_ports", json::array{json::object{{"containerPort", 8080}, {"hostPort", 8080}}}}};
  f.create_pod("h1", "100m", ports);
  f.create_pod("h2", "100m", ports);
  std::set<std::string> nodes{f.wait_bound("h1"), f.wait_bound("h2")};
  CHECK(nodes == std::set<std::string>{"n1", "n2"});
  f.create_pod("h3", "100m", ports);
  CHECK(f.wait_event("h3", "FailedScheduling") ==
        "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports.");
  CHECK(f.node_of("h3").empty());
}

TEST_CASE("spreading: 6 replicas of one workload land 2 per node on 3 nodes") {
  Fixture f;
  REQUIRE(f.cp.add_node("n1").ok());
  REQUIRE(f.cp.add_node("n2").ok());
  REQUIRE(f.cp.add_node("n3").ok());
  f.start();
  json::object owner{
      {"labels", json::object{{"app", "web"}}},
      {"ownerReferences",
       json::array{json::object{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "web-1"},
                                {"uid", "7d3f6a2e-0000-4000-8000-000000000001"},
                                {"controller", true}}}}};
  for (int i = 0; i < 6; ++i) f.create_pod("web-" + std::to_string(i), "100m", {}, owner);
  std::map<std::string, int> per_node;
  for (int i = 0; i < 6; ++i) ++per_node[f.wait_bound("web-" + std::to_string(i))];
  CHECK(per_node == std::map<std::string, int>{{"n1", 2}, {"n2", 2}, {"n3", 2}});
}

TEST_CASE("volume node affinity: a pod whose volume sits on one node goes there") {
  Fixture f;
  REQUIRE(f.cp.add_node("n1").ok());
  REQUIRE(f.cp.add_node("n2").ok());
  REQUIRE(f.cp.add_node("n3").ok());
  json::value pv = json::parse(R"({"apiVersion":"v1","kind":"PersistentVolume",
    "metadata":{"name":"local-pv"},
    "spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],
      "local":{"path":"/tmp/x"},"claimRef":{"namespace":"default","name":"data"},
      "nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[
        {"key":"kubernetes.io/hostname","operator":"In","values":["n2"]}]}]}}}})");
  auto r = f.cp.client()->create(kPersistentVolumes, "", pv);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  json::value pvc = json::parse(R"({"apiVersion":"v1","kind":"PersistentVolumeClaim",
    "metadata":{"name":"data"},
    "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}},
      "volumeName":"local-pv"}})");
  r = f.cp.client()->create(kPersistentVolumeClaims, "default", pvc);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  // A claim of a WaitForFirstConsumer class with a provisioner, and one of no class (Immediate).
  r = f.cp.client()->create(controller::kStorageClassesResource, "",
                            json::parse(R"({"apiVersion":"storage.k8s.io/v1","kind":"StorageClass",
    "metadata":{"name":"wait"},"provisioner":"example.com/any-node",
    "volumeBindingMode":"WaitForFirstConsumer"})"));
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  json::value unbound = json::parse(R"({"apiVersion":"v1","kind":"PersistentVolumeClaim",
    "metadata":{"name":"later"},"spec":{"storageClassName":"wait","accessModes":["ReadWriteOnce"],
      "resources":{"requests":{"storage":"1Gi"}}}})");
  r = f.cp.client()->create(kPersistentVolumeClaims, "default", unbound);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  json::value immediate = json::parse(R"({"apiVersion":"v1","kind":"PersistentVolumeClaim",
    "metadata":{"name":"now"},
    "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}})");
  r = f.cp.client()->create(kPersistentVolumeClaims, "default", immediate);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  f.start();
  auto volume = [](const std::string& claim) {
    return json::object{{"volumes", json::array{json::object{
                                        {"name", "v"},
                                        {"persistentVolumeClaim", json::object{{"claimName", claim}}}}}}};
  };
  for (int i = 0; i < 3; ++i) f.create_pod("db" + std::to_string(i), "100m", volume("data"));
  for (int i = 0; i < 3; ++i) CHECK(f.wait_bound("db" + std::to_string(i)) == "n2");
  // A claim waiting for its first consumer: the pod is placed and the claim told where.
  f.create_pod("waiting", "100m", volume("later"));
  const std::string chosen = f.wait_bound("waiting");
  CHECK(!chosen.empty());
  auto later = f.cp.client()->get(kPersistentVolumeClaims, "default", "later");
  REQUIRE(later.ok());
  CHECK(str_at(*later, {"metadata", "annotations", "volume.kubernetes.io/selected-node"}) == chosen);
  // An unbound claim of an Immediate class waits for the binder, as in Kubernetes.
  f.create_pod("early", "100m", volume("now"));
  CHECK(f.wait_event("early", "FailedScheduling") ==
        "0/3 nodes are available: 3 pod has unbound immediate PersistentVolumeClaims.");
  f.create_pod("orphan", "100m", volume("missing"));
  CHECK(f.wait_event("orphan", "FailedScheduling") ==
        "0/3 nodes are available: 3 persistentvolumeclaim \"missing\" not found.");
}

TEST_CASE("only pods for this scheduler are scheduled") {
  Fixture f;
  REQUIRE(f.cp.add_node("n1").ok());
  f.start();
  f.create_pod("other", "", json::object{{"schedulerName", "someone-else"}});
  f.create_pod("mine", "", json::object{{"schedulerName", "default-scheduler"}});
  CHECK(f.wait_bound("mine") == "n1");
  // "mine" was created after "other": by now "other" would have been tried.
  CHECK(f.node_of("other").empty());
  CHECK(f.scheduler->stats().attempts == 1);
}

TEST_CASE("leader election: of two schedulers only the leader schedules; the standby takes over") {
  ControlPlane cp;
  REQUIRE(cp.add_node("n1").ok());
  auto make = [&](const std::string& id) {
    SchedulerOptions o;
    o.binder_threads = 1;
    o.leader_election = lease_leader_hook(cp.client(), id, nullptr, 1s);
    auto s = Scheduler::create(cp.client(), o);
    REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    return std::move(s).value();
  };
  auto first = make("first");
  REQUIRE(first->start().ok());
  REQUIRE(wait_until([&] { return first->active(); }));
  auto second = make("second");
  REQUIRE(second->start().ok());
  json::value pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},
    "spec":{"containers":[{"name":"c","image":"kuard"}]}})");
  REQUIRE(cp.client()->create(kPods, "default", pod).ok());
  REQUIRE(wait_until([&] {
    auto p = cp.client()->get(kPods, "default", "x");
    return p.ok() && !str_at(*p, {"spec", "nodeName"}).empty();
  }));
  CHECK(first->stats().scheduled == 1);
  CHECK_FALSE(second->active());
  CHECK(second->stats().attempts == 0);
  first->stop();  // releases the lease
  REQUIRE(wait_until([&] { return second->active(); }, 30s));
  json::value pod2 = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"y"},
    "spec":{"containers":[{"name":"c","image":"kuard"}]}})");
  REQUIRE(cp.client()->create(kPods, "default", pod2).ok());
  CHECK(wait_until([&] { return second->stats().scheduled == 1; }));
  second->stop();
}

// A binder that fails its first `failures` calls, then skips so the DefaultBinder binds.
class FlakyBinder final : public BindPlugin {
 public:
  explicit FlakyBinder(int failures) : left_(failures) {}
  std::string_view name() const override { return "FlakyBinder"; }
  PluginStatus bind(const PodInfo&, const std::string&) override {
    if (left_.fetch_sub(1) > 0) return PluginStatus::error("injected binding failure");
    return PluginStatus::skip();
  }

 private:
  std::atomic<int> left_;
};

TEST_CASE("a failed binding forgets the assumption, says so, and the pod is retried") {
  ControlPlane cp;
  REQUIRE(cp.add_node("n1", "1").ok());
  SchedulerOptions o;
  o.binder_threads = 1;
  o.pod_initial_backoff = 10ms;
  o.pod_max_backoff = 50ms;
  auto client = cp.client();
  o.configure_framework = [client](Framework& fw) {
    Framework f;
    f.add(std::make_shared<FlakyBinder>(2));
    f.add(std::make_shared<NodeResourcesFit>());
    f.add(std::make_shared<DefaultBinder>(client));
    fw = std::move(f);
  };
  auto s = Scheduler::create(cp.client(), o);
  REQUIRE(s.ok());
  auto& sched = *s.value();
  REQUIRE(sched.start().ok());
  json::value pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},
    "spec":{"containers":[{"name":"c","image":"kuard","resources":{"requests":{"cpu":"800m"}}}]}})");
  REQUIRE(cp.client()->create(kPods, "default", pod).ok());
  CHECK(wait_until([&] {
    auto p = cp.client()->get(kPods, "default", "x");
    return p.ok() && str_at(*p, {"spec", "nodeName"}) == "n1";
  }));
  CHECK(sched.stats().bind_failures == 2);
  CHECK(sched.stats().scheduled == 1);
  // The failed assumptions were forgotten: the node counts the pod once.
  NodeInfo n;
  CHECK(wait_until([&] { return sched.cache_for_test().node_for_test("n1", n) && !sched.cache_for_test().is_assumed("default/x"); }));
  CHECK(n.requested.milli_cpu == 800);
  CHECK(n.pod_count == 1);
  sched.stop();
}

TEST_CASE("built on shared informers of an InformerFactory") {
  ControlPlane cp;
  REQUIRE(cp.add_node("n1").ok());
  client::InformerFactory informers(cp.client());
  auto s = Scheduler::create(informers, {});
  REQUIRE_MESSAGE(s.ok(), s.status().to_string());
  REQUIRE(s.value()->start().ok());
  json::value pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},
    "spec":{"containers":[{"name":"c","image":"kuard"}]}})");
  REQUIRE(cp.client()->create(kPods, "default", pod).ok());
  CHECK(wait_until([&] {
    auto p = cp.client()->get(kPods, "default", "x");
    return p.ok() && str_at(*p, {"spec", "nodeName"}) == "n1";
  }));
  // The factory's pod informer is the one the scheduler used.
  CHECK(wait_until([&] {
    auto p = informers.informer(kPods).get("default", "x");
    return p && str_at(*p, {"spec", "nodeName"}) == "n1";
  }));
  s.value()->stop();
  s.value().reset();
  informers.stop();
}

}  // namespace
}  // namespace orch::scheduler
