// The node lifecycle controller: its pure decisions (taints per Ready state, tolerations,
// eviction times, Unknown status, pods marked not ready), table-driven; then the controller on a
// FakeClock against an in-process API server: a silent node turns Unknown and tainted, its pods
// not ready, then evicted after their toleration; a renewed lease lifts the taints; a deleted
// node's pods are force-deleted.
#include <doctest.h>

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control_plane.hpp"
#include "orch/api/time.hpp"
#include "orch/client/informer_factory.hpp"
#include "orch/client/resource.hpp"
#include "orch/controller/node_lifecycle_controller.hpp"
#include "orch/util/clock.hpp"

namespace orch::controller {
namespace {

namespace json = boost::json;
namespace nl = node_lifecycle;
using namespace std::chrono_literals;
using client::resources::kLeases;
using client::resources::kNodes;
using client::resources::kPods;
using orch::testing::wait_until;
using SysTime = std::chrono::system_clock::time_point;

SysTime at_time(const char* s) { return api::Time::parse(s).value().value; }

const SysTime kNow = at_time("2024-01-01T00:10:00Z");

// `ready`: the Ready status, optionally "@<lastTransitionTime>".
json::value node_with(std::string_view ready, const char* taints_json) {
  json::value n = json::parse(R"({"metadata":{"name":"n1"},"spec":{},"status":{"conditions":[]}})");
  if (!ready.empty()) {
    json::object c{{"type", "Ready"},
                   {"status", ready.substr(0, ready.find('@'))},
                   {"lastHeartbeatTime", "2024-01-01T00:00:00Z"}};
    if (ready.find('@') != std::string_view::npos) {
      c["lastTransitionTime"] = ready.substr(ready.find('@') + 1);
    }
    n.at("status").at("conditions").as_array().push_back(std::move(c));
  }
  if (std::string_view(taints_json) == "cordon") {
    n.at("spec").as_object()["unschedulable"] = true;
  } else if (*taints_json) {
    n.at("spec").as_object()["taints"] = json::parse(taints_json);
  }
  return n;
}

TEST_CASE("taints follow the Ready condition; other taints and timeAdded stay") {
  struct Case {
    const char* name;
    const char* ready;
    const char* taints;
    const char* want;
  };
  const std::vector<Case> cases = {
      {"ready, none", "True", "", "[]"},
      {"no condition yet", "", "", "[]"},
      {"unknown adds the unreachable pair", "Unknown", "",
       R"([{"key":"node.kubernetes.io/unreachable","effect":"NoSchedule"},
           {"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"2024-01-01T00:10:00Z"}])"},
      {"false adds the not-ready pair", "False", "",
       R"([{"key":"node.kubernetes.io/not-ready","effect":"NoSchedule"},
           {"key":"node.kubernetes.io/not-ready","effect":"NoExecute","timeAdded":"2024-01-01T00:10:00Z"}])"},
      {"unknown replaces not-ready", "Unknown",
       R"([{"key":"node.kubernetes.io/not-ready","effect":"NoSchedule"},
           {"key":"node.kubernetes.io/not-ready","effect":"NoExecute","timeAdded":"2024-01-01T00:01:00Z"}])",
       R"([{"key":"node.kubernetes.io/unreachable","effect":"NoSchedule"},
           {"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"2024-01-01T00:10:00Z"}])"},
      {"unknown keeps its earlier timeAdded", "Unknown",
       R"([{"key":"node.kubernetes.io/unreachable","effect":"NoSchedule"},
           {"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"2024-01-01T00:01:00Z"}])",
       R"([{"key":"node.kubernetes.io/unreachable","effect":"NoSchedule"},
           {"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"2024-01-01T00:01:00Z"}])"},
      {"ready again lifts ours, keeps the user's", "True",
       R"([{"key":"dedicated","value":"db","effect":"NoSchedule"},
           {"key":"node.kubernetes.io/unreachable","effect":"NoSchedule"},
           {"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"2024-01-01T00:01:00Z"}])",
       R"([{"key":"dedicated","value":"db","effect":"NoSchedule"}])"},
      {"a new NoExecute taint dates from the transition", "Unknown@2024-01-01T00:05:00Z", "",
       R"([{"key":"node.kubernetes.io/unreachable","effect":"NoSchedule"},
           {"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"2024-01-01T00:05:00Z"}])"},
      {"uncordoned: the unschedulable taint goes", "True",
       R"([{"key":"node.kubernetes.io/unschedulable","effect":"NoSchedule"}])", "[]"},
      {"cordoned: the unschedulable taint comes", "True", "cordon",
       R"([{"key":"node.kubernetes.io/unschedulable","effect":"NoSchedule"}])"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      json::value node = node_with(c.ready, c.taints);
      CHECK(json::value(nl::desired_taints(node, nl::ready_status(node), kNow)) == json::parse(c.want));
    }
  }
}

TEST_CASE("tolerations match taints by key, operator, value and effect") {
  const json::value taint = json::parse(R"({"key":"node.kubernetes.io/unreachable","effect":"NoExecute"})");
  const json::value valued = json::parse(R"({"key":"dedicated","value":"db","effect":"NoSchedule"})");
  struct Case {
    const char* toleration;
    const json::value* taint;
    bool want;
  };
  const std::vector<Case> cases = {
      {R"({"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute"})", &taint, true},
      {R"({"key":"node.kubernetes.io/unreachable","operator":"Exists"})", &taint, true},
      {R"({"operator":"Exists"})", &taint, true},
      {R"({"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoSchedule"})", &taint, false},
      {R"({"key":"node.kubernetes.io/not-ready","operator":"Exists"})", &taint, false},
      {R"({"key":"node.kubernetes.io/unreachable"})", &taint, true},  // Equal, value "" == ""
      {R"({"key":"dedicated","value":"db"})", &valued, true},
      {R"({"key":"dedicated","operator":"Equal","value":"web"})", &valued, false},
      {R"({"key":"dedicated","operator":"Exists","effect":"NoSchedule"})", &valued, true},
      {R"({"value":"db"})", &valued, false},  // an empty key needs Exists
  };
  for (const auto& c : cases) {
    CAPTURE(c.toleration);
    CHECK(nl::tolerates(json::parse(c.toleration), *c.taint) == c.want);
  }
}

TEST_CASE("eviction time: at once without a toleration, after tolerationSeconds, never without") {
  const json::value unreachable = json::parse(
      R"([{"key":"node.kubernetes.io/unreachable","effect":"NoSchedule"},
          {"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"2024-01-01T00:09:00Z"}])");
  const json::value no_schedule_only = json::parse(R"([{"key":"x","effect":"NoSchedule"}])");
  const json::value two = json::parse(
      R"([{"key":"a","effect":"NoExecute","timeAdded":"2024-01-01T00:09:30Z"},
          {"key":"b","effect":"NoExecute","timeAdded":"2024-01-01T00:09:00Z"}])");
  struct Case {
    const char* name;
    const char* tolerations;
    const json::value* taints;
    std::optional<SysTime> want;
  };
  const std::vector<Case> cases = {
      {"no NoExecute taint", "[]", &no_schedule_only, std::nullopt},
      {"not tolerated: now", "[]", &unreachable, kNow},
      {"300 s from timeAdded",
       R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}])",
       &unreachable, at_time("2024-01-01T00:14:00Z")},
      {"the smallest tolerationSeconds wins",
       R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},
           {"operator":"Exists","effect":"NoExecute","tolerationSeconds":30}])",
       &unreachable, at_time("2024-01-01T00:09:30Z")},
      {"negative counts as zero",
       R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","tolerationSeconds":-5}])",
       &unreachable, at_time("2024-01-01T00:09:00Z")},
      {"tolerated forever: never",
       R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute"}])",
       &unreachable, std::nullopt},
      {"one of two taints untolerated: now", R"([{"key":"a","operator":"Exists","tolerationSeconds":60}])",
       &two, kNow},
      {"two taints: earliest timeAdded",
       R"([{"operator":"Exists","tolerationSeconds":60}])", &two, at_time("2024-01-01T00:10:00Z")},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      json::value pod = json::object{{"spec", json::object{{"tolerations", json::parse(c.tolerations)}}}};
      CHECK(nl::eviction_time(pod, *c.taints, kNow) == c.want);
    }
  }
}

TEST_CASE("an Unknown status keeps heartbeats and is written once") {
  json::value node = node_with("True", "");
  node.at("status").at("conditions").as_array().push_back(
      json::object{{"type", "MemoryPressure"}, {"status", "False"}});
  auto next = nl::unknown_status(node, kNow);
  REQUIRE(next);
  CHECK(nl::ready_status(*next) == "Unknown");
  for (const auto& c : next->at("status").at("conditions").as_array()) {
    CHECK(c.at("status") == "Unknown");
    CHECK(c.at("reason") == "NodeStatusUnknown");
    CHECK(c.at("lastTransitionTime") == "2024-01-01T00:10:00Z");
  }
  const auto& ready = next->at("status").at("conditions").at(0);
  CHECK(ready.at("message") == "Kubelet stopped posting node status.");
  CHECK(ready.at("lastHeartbeatTime") == "2024-01-01T00:00:00Z");
  CHECK_FALSE(nl::unknown_status(*next, kNow + 1s));
  // A node that never reported gets a Ready condition.
  auto fresh = nl::unknown_status(node_with("", ""), kNow);
  REQUIRE(fresh);
  CHECK(nl::ready_status(*fresh) == "Unknown");
}

TEST_CASE("only Ready, unfinished pods are marked not ready") {
  struct Case {
    const char* name;
    const char* phase;
    const char* ready;
    bool marked;
  };
  const std::vector<Case> cases = {{"running and ready", "Running", "True", true},
                                   {"already not ready", "Running", "False", false},
                                   {"succeeded", "Succeeded", "True", false},
                                   {"no conditions", "Pending", "", false}};
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      json::value pod = json::parse(R"({"status":{"conditions":[]}})");
      pod.at("status").as_object()["phase"] = c.phase;
      if (*c.ready) {
        pod.at("status").at("conditions").as_array().push_back(
            json::object{{"type", "Ready"}, {"status", c.ready}});
      }
      auto next = nl::not_ready_pod(pod, kNow);
      CHECK(next.has_value() == c.marked);
      if (next) {
        const auto& cond = next->at("status").at("conditions").at(0);
        CHECK(cond.at("status") == "False");
        CHECK(cond.at("lastTransitionTime") == "2024-01-01T00:10:00Z");
      }
    }
  }
}

// ------------------------------------------------------------------ the controller, FakeClock

struct Env {
  Env() {
    informers = std::make_unique<client::InformerFactory>(cp.client());
    ControllerContext ctx{cp.client(), informers.get(), nullptr, &clock};
    auto c = new_node_lifecycle_controller(
        ctx, {.grace_period = 40s, .pod_gc_quarantine = 40s, .workers = 1});
    REQUIRE_MESSAGE(c.ok(), c.status().to_string());
    controller = std::move(c).value();
  }
  void start() {
    REQUIRE(informers->start().ok());
    REQUIRE(informers->wait_for_sync(30s));
    REQUIRE(controller->start().ok());
  }
  ~Env() {
    controller->stop();
    informers->stop();
  }

  client::Client& api() { return *cp.client(); }
  void renew(const std::string& node) {
    std::string now = api::MicroTime{clock.system_now()}.to_string();
    auto got = api().get(kLeases, "kube-node-lease", node);
    if (got.ok()) {
      got->at("spec").as_object()["renewTime"] = now;
      REQUIRE(api().update(kLeases, "kube-node-lease", *got).ok());
      return;
    }
    json::value lease = json::parse(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
        "metadata":{"namespace":"kube-node-lease"},"spec":{"leaseDurationSeconds":40}})");
    lease.at("metadata").as_object()["name"] = node;
    lease.at("spec").as_object()["holderIdentity"] = node;
    lease.at("spec").as_object()["renewTime"] = now;
    REQUIRE(api().create(kLeases, "kube-node-lease", lease).ok());
  }
  // A Running, Ready pod on `node` tolerating unreachable for `tolerate_seconds`.
  void add_pod(const std::string& name, const std::string& node, int tolerate_seconds) {
    json::value pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{},
        "spec":{"containers":[{"name":"c","image":"kuard"}]}})");
    pod.at("metadata").as_object()["name"] = name;
    pod.at("spec").as_object()["nodeName"] = node;
    json::array tols;
    tols.push_back(json::object{{"key", "node.kubernetes.io/unreachable"},
                                {"operator", "Exists"},
                                {"effect", "NoExecute"},
                                {"tolerationSeconds", tolerate_seconds}});
    pod.at("spec").as_object()["tolerations"] = std::move(tols);
    auto created = api().create(kPods, "default", pod);
    REQUIRE_MESSAGE(created.ok(), created.status().to_string());
    created->as_object()["status"] = json::parse(
        R"({"phase":"Running","conditions":[{"type":"Ready","status":"True"}]})");
    REQUIRE(api().update_status(kPods, "default", *created).ok());
  }
  json::value get(const client::Resource& r, const std::string& ns, const std::string& name) {
    auto got = api().get(r, ns, name);
    REQUIRE_MESSAGE(got.ok(), got.status().to_string());
    return *got;
  }
  std::string ready(const std::string& node) { return nl::ready_status(get(kNodes, "", node)); }
  std::vector<std::string> taint_keys(const std::string& node) {
    std::vector<std::string> out;
    json::value n = get(kNodes, "", node);
    if (const auto* t = n.at("spec").as_object().if_contains("taints")) {
      for (const auto& x : t->as_array()) {
        out.push_back(std::string(x.at("key").as_string()) + ":" + std::string(x.at("effect").as_string()));
      }
    }
    return out;
  }
  bool pod_ready(const std::string& name) {
    json::value p = get(kPods, "default", name);
    for (const auto& c : p.at("status").at("conditions").as_array()) {
      if (c.at("type") == "Ready") return c.at("status") == "True";
    }
    return false;
  }
  bool deleting(const std::string& name) {
    auto got = api().get(kPods, "default", name);
    return got.ok() && got->at("metadata").as_object().contains("deletionTimestamp");
  }
  bool gone(const std::string& name) {
    return api().get(kPods, "default", name).status().code() == Code::kNotFound;
  }

  util::FakeClock clock;
  orch::testing::ControlPlane cp;
  std::unique_ptr<client::InformerFactory> informers;
  std::unique_ptr<Controller> controller;
};

const std::vector<std::string> kUnreachable = {"node.kubernetes.io/unreachable:NoSchedule",
                                               "node.kubernetes.io/unreachable:NoExecute"};

TEST_CASE("a silent node goes Unknown and tainted, its pods not ready, then evicted by toleration") {
  Env env;
  REQUIRE(env.cp.add_node("n1").ok());
  REQUIRE(env.cp.add_node("n2").ok());
  env.renew("n1");
  env.renew("n2");
  env.add_pod("short", "n1", 3);
  env.add_pod("long", "n1", 300);
  env.add_pod("now", "n1", 0);
  env.add_pod("other", "n2", 3);
  env.start();

  // Inside the grace period nothing happens, even with n1 silent.
  env.clock.advance(30s);
  env.renew("n2");
  CHECK_FALSE(wait_until([&] { return env.ready("n1") != "True"; }, 300ms));

  // Past it: n1 is Unknown and tainted, its pods not ready; n2 (renewed) is untouched.
  env.clock.advance(11s);
  REQUIRE(wait_until([&] { return env.ready("n1") == "Unknown"; }, 10s));
  REQUIRE(wait_until([&] { return env.taint_keys("n1") == kUnreachable; }, 10s));
  CHECK(wait_until([&] { return !env.pod_ready("short") && !env.pod_ready("long"); }, 10s));
  CHECK(env.ready("n2") == "True");
  CHECK(env.taint_keys("n2").empty());
  CHECK(env.pod_ready("other"));
  // A pod tolerating it for 0 s goes at once; the others wait.
  CHECK(wait_until([&] { return env.deleting("now"); }, 10s));
  CHECK_FALSE(env.deleting("short"));

  // After its 3 s toleration "short" is evicted (gracefully: it stays until its agent confirms);
  // "long" stays for its 300 s.
  env.clock.advance(4s);
  CHECK(wait_until([&] { return env.deleting("short"); }, 10s));
  CHECK_FALSE(env.deleting("long"));
  json::value evicted = env.get(kPods, "default", "short");
  bool disruption = false;
  for (const auto& c : evicted.at("status").at("conditions").as_array()) {
    disruption |= c.at("type") == "DisruptionTarget" && c.at("reason") == "DeletionByTaintManager";
  }
  CHECK(disruption);

  // The lease comes back: the taints go at once (the agent restores its own conditions).
  env.renew("n1");
  CHECK(wait_until([&] { return env.taint_keys("n1").empty(); }, 10s));
  env.clock.advance(300s);
  env.renew("n1");
  env.renew("n2");
  CHECK_FALSE(wait_until([&] { return env.deleting("long"); }, 300ms));
}

TEST_CASE("deleting a node force-deletes its pods; pods of a node never seen wait the quarantine") {
  Env env;
  REQUIRE(env.cp.add_node("n1").ok());
  env.renew("n1");
  env.add_pod("a", "n1", 300);
  env.add_pod("b", "n1", 300);
  env.add_pod("lost", "ghost", 300);
  env.start();
  REQUIRE(env.api().remove(kNodes, "", "n1").ok());
  CHECK(wait_until([&] { return env.gone("a") && env.gone("b"); }, 10s));
  // "ghost" never existed: its pod waits out the 40 s quarantine.
  CHECK_FALSE(wait_until([&] { return env.gone("lost"); }, 300ms));
  env.clock.advance(41s);
  CHECK(wait_until([&] { return env.gone("lost"); }, 10s));
}

TEST_CASE("options are checked") {
  orch::testing::ControlPlane cp;
  client::InformerFactory informers(cp.client());
  ControllerContext ctx{cp.client(), &informers, nullptr, nullptr};
  CHECK(new_node_lifecycle_controller(ctx, {.grace_period = 0s}).status().code() ==
        Code::kInvalidArgument);
  CHECK(new_node_lifecycle_controller(ControllerContext{}).status().code() == Code::kInvalidArgument);
  auto reg = node_lifecycle_controller_registration();
  CHECK(reg.name == "nodelifecycle");
  CHECK(reg.component == "node-controller");
}

}  // namespace
}  // namespace orch::controller
