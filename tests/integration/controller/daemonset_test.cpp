// The DaemonSet controller with the real scheduler (which places daemon pods through their
// matchFields node affinity) and the NodePlayer running every bound pod: one pod per eligible
// node (a NoSchedule taint without toleration and a nodeSelector exclude nodes), a node added
// later gets a pod, a deleted node loses its pod, a rolling update replaces every pod; status.
#include <doctest.h>

#include <chrono>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "control_plane.hpp"
#include "orch/client/event_recorder.hpp"
#include "orch/client/informer_factory.hpp"
#include "orch/client/resource.hpp"
#include "orch/controller/daemonset_controller.hpp"
#include "orch/scheduler/scheduler.hpp"

namespace orch::controller {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kDaemonSets;
using client::resources::kNodes;
using client::resources::kPods;
using orch::testing::wait_until;

json::value make_ds(const std::string& name, const std::string& image = "agent:1",
                    const std::map<std::string, std::string>& node_selector = {}) {
  json::object pod_spec{
      {"containers", json::array{json::object{{"name", "c"}, {"image", image}}}}};
  if (!node_selector.empty()) {
    json::object ns;
    for (const auto& [k, v] : node_selector) ns[k] = v;
    pod_spec["nodeSelector"] = std::move(ns);
  }
  return {{"apiVersion", "apps/v1"},
          {"kind", "DaemonSet"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"selector", {{"matchLabels", {{"app", name}}}}},
            {"template", {{"metadata", {{"labels", {{"app", name}}}}}, {"spec", pod_spec}}}}}};
}

bool deleting(const json::value& o) {
  const auto* d = o.at("metadata").as_object().if_contains("deletionTimestamp");
  return d && !d->is_null();
}

bool pod_ready(const json::value& pod) {
  const auto* st = pod.as_object().if_contains("status");
  if (!st || !st->is_object()) return false;
  const auto* conds = st->as_object().if_contains("conditions");
  if (!conds || !conds->is_array()) return false;
  for (const auto& c : conds->get_array()) {
    if (c.at("type") == "Ready") return c.at("status") == "True";
  }
  return false;
}

std::int64_t status_int(const json::value& o, std::string_view field) {
  const auto* st = o.as_object().if_contains("status");
  if (!st || !st->is_object()) return -1;
  // Zero-valued fields are omitted (omitempty), as Go clients read them.
  const auto* v = st->as_object().if_contains(field);
  return v && v->is_number() ? v->to_number<std::int64_t>() : 0;
}

std::string str(const json::value& o, std::initializer_list<std::string_view> path) {
  const json::value* cur = &o;
  for (auto p : path) {
    if (!cur->is_object()) return {};
    cur = cur->as_object().if_contains(p);
    if (!cur) return {};
  }
  return cur->is_string() ? std::string(cur->get_string()) : std::string();
}

struct Env {
  Env() {
    REQUIRE(cp.add_node("node-1").ok());
    REQUIRE(cp.add_node("node-2", "4", "8Gi", {}, {{"dedicated", "db", "NoSchedule"}}).ok());
    REQUIRE(cp.add_node("node-3", "4", "8Gi", {{"disk", "ssd"}}).ok());
    player = std::make_unique<orch::testing::NodePlayer>(cp.client());
    auto s = scheduler::Scheduler::create(cp.client(), {.pod_initial_backoff = 100ms,
                                                        .pod_max_backoff = 1000ms});
    REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    sched = std::move(s).value();
    REQUIRE(sched->start().ok());
    informers = std::make_unique<client::InformerFactory>(cp.client());
    events = std::make_unique<client::EventRecorder>(
        cp.client(), client::EventRecorderOptions{.component = kDaemonSetControllerComponent});
    ControllerContext ctx{cp.client(), informers.get(), events.get(), nullptr};
    auto c = new_daemonset_controller(ctx);
    REQUIRE_MESSAGE(c.ok(), c.status().to_string());
    controller = std::move(c).value();
    REQUIRE(informers->start().ok());
    REQUIRE(informers->wait_for_sync(30s));
    REQUIRE(controller->start().ok());
  }
  ~Env() {
    controller->stop();
    informers->stop();
    controller.reset();
    events.reset();
    informers.reset();
    sched->stop();
    sched.reset();
    player.reset();
  }

  client::Client& api() { return *cp.client(); }
  json::value ds(const std::string& name) {
    auto r = api().get(kDaemonSets, "default", name);
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    return *r;
  }
  // Node -> image of the DaemonSet's Ready, bound, not terminating pods; `total` gets the number
  // of its pods in any state.
  std::map<std::string, std::string> placed(const std::string& name, int* total = nullptr) {
    auto list = api().list_all(kPods, "default");
    REQUIRE(list.ok());
    std::map<std::string, std::string> out;
    int n = 0;
    for (auto& p : list->items) {
      if (str(p, {"metadata", "labels", "app"}) != name) continue;
      ++n;
      std::string node = str(p, {"spec", "nodeName"});
      if (node.empty() || deleting(p) || !pod_ready(p)) continue;
      out[node] = std::string(p.at("spec").at("containers").at(0).at("image").as_string());
    }
    if (total) *total = n;
    return out;
  }
  // Settled: exactly one Ready pod on each of `nodes` (with `image`), no other pod, and a status
  // that says so for the current generation.
  bool settled(const std::string& name, const std::set<std::string>& nodes,
               const std::string& image) {
    int total = 0;
    auto p = placed(name, &total);
    if (total != static_cast<int>(nodes.size()) || p.size() != nodes.size()) return false;
    for (const auto& n : nodes) {
      auto it = p.find(n);
      if (it == p.end() || it->second != image) return false;
    }
    auto d = ds(name);
    const auto want = static_cast<std::int64_t>(nodes.size());
    return status_int(d, "desiredNumberScheduled") == want &&
           status_int(d, "currentNumberScheduled") == want &&
           status_int(d, "numberReady") == want && status_int(d, "numberAvailable") == want &&
           status_int(d, "updatedNumberScheduled") == want &&
           status_int(d, "numberUnavailable") == 0 && status_int(d, "numberMisscheduled") == 0 &&
           status_int(d, "observedGeneration") ==
               d.at("metadata").at("generation").to_number<std::int64_t>();
  }

  orch::testing::ControlPlane cp;
  std::unique_ptr<orch::testing::NodePlayer> player;
  std::unique_ptr<scheduler::Scheduler> sched;
  std::unique_ptr<client::InformerFactory> informers;
  std::unique_ptr<client::EventRecorder> events;
  std::unique_ptr<Controller> controller;
};

TEST_CASE("one pod per eligible node; nodes added and deleted; nodeSelector") {
  Env env;
  REQUIRE(env.api().create(kDaemonSets, "default", make_ds("agent")).ok());
  REQUIRE(env.api().create(kDaemonSets, "default", make_ds("ssd", "ssd:1", {{"disk", "ssd"}})).ok());
  // node-2's NoSchedule taint is not tolerated.
  REQUIRE(wait_until([&] { return env.settled("agent", {"node-1", "node-3"}, "agent:1"); }, 60s));
  REQUIRE(wait_until([&] { return env.settled("ssd", {"node-3"}, "ssd:1"); }, 60s));

  // Pod shape: generated name, pinned by matchFields, daemon tolerations.
  auto list = env.api().list_all(kPods, "default");
  REQUIRE(list.ok());
  const std::regex name_re("^agent-[bcdfghjklmnpqrstvwxz2456789]{5}$");
  for (auto& p : list->items) {
    if (str(p, {"metadata", "labels", "app"}) != "agent") continue;
    std::string name(client::object_name(p));
    CHECK_MESSAGE(std::regex_match(name, name_re), name);
    const auto& f = p.at("spec").at("affinity").at("nodeAffinity")
                        .at("requiredDuringSchedulingIgnoredDuringExecution")
                        .at("nodeSelectorTerms").at(0).at("matchFields").at(0);
    CHECK(f.at("values").at(0) == p.at("spec").at("nodeName"));
    bool tolerates_unschedulable = false;
    for (auto& t : p.at("spec").at("tolerations").as_array()) {
      if (t.at("key") == "node.kubernetes.io/unschedulable") tolerates_unschedulable = true;
    }
    CHECK(tolerates_unschedulable);
    CHECK(p.at("metadata").at("ownerReferences").at(0).at("kind") == "DaemonSet");
  }

  // A new node gets a pod; a new ssd node gets the ssd pod too.
  REQUIRE(env.cp.add_node("node-4").ok());
  REQUIRE(env.cp.add_node("node-5", "4", "8Gi", {{"disk", "ssd"}}).ok());
  REQUIRE(wait_until(
      [&] { return env.settled("agent", {"node-1", "node-3", "node-4", "node-5"}, "agent:1"); },
      60s));
  REQUIRE(wait_until([&] { return env.settled("ssd", {"node-3", "node-5"}, "ssd:1"); }, 60s));

  // A deleted node loses its pod.
  REQUIRE(env.api().remove(kNodes, "", "node-1").ok());
  REQUIRE(wait_until(
      [&] { return env.settled("agent", {"node-3", "node-4", "node-5"}, "agent:1"); }, 60s));

  // A node that stops matching the nodeSelector loses the ssd pod.
  REQUIRE(env.api()
              .patch(kNodes, "", "node-5", client::PatchType::Merge,
                     R"({"metadata":{"labels":{"disk":null}}})")
              .ok());
  REQUIRE(wait_until([&] { return env.settled("ssd", {"node-3"}, "ssd:1"); }, 60s));
}

TEST_CASE("rolling update replaces every pod, maxUnavailable at a time") {
  Env env;
  auto d = make_ds("agent");
  d.at("spec").as_object()["updateStrategy"] =
      json::object{{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 1}}}};
  REQUIRE(env.api().create(kDaemonSets, "default", d).ok());
  REQUIRE(wait_until([&] { return env.settled("agent", {"node-1", "node-3"}, "agent:1"); }, 60s));

  REQUIRE(env.api()
              .patch(kDaemonSets, "default", "agent", client::PatchType::Merge,
                     R"({"spec":{"template":{"spec":{"containers":[{"name":"c","image":"agent:2"}]}}}})")
              .ok());
  // Never both nodes without a Ready pod at once (maxUnavailable 1): checked on every poll.
  int worst = 0;
  REQUIRE(wait_until(
      [&] {
        auto p = env.placed("agent");
        worst = std::max(worst, 2 - static_cast<int>(p.size()));
        return env.settled("agent", {"node-1", "node-3"}, "agent:2");
      },
      60s));
  CHECK(worst <= 1);
}

TEST_CASE("OnDelete: pods are replaced at the new template only when deleted") {
  Env env;
  auto d = make_ds("agent");
  d.at("spec").as_object()["updateStrategy"] = json::object{{"type", "OnDelete"}};
  REQUIRE(env.api().create(kDaemonSets, "default", d).ok());
  REQUIRE(wait_until([&] { return env.settled("agent", {"node-1", "node-3"}, "agent:1"); }, 60s));
  REQUIRE(env.api()
              .patch(kDaemonSets, "default", "agent", client::PatchType::Merge,
                     R"({"spec":{"template":{"spec":{"containers":[{"name":"c","image":"agent:2"}]}}}})")
              .ok());
  REQUIRE(wait_until([&] {
    auto ds = env.ds("agent");
    return status_int(ds, "observedGeneration") == 2 && status_int(ds, "updatedNumberScheduled") == 0;
  }));
  auto p = env.placed("agent");
  CHECK(p["node-1"] == "agent:1");
  // Delete node-1's pod: it comes back new; node-3's stays old.
  auto list = env.api().list_all(kPods, "default");
  REQUIRE(list.ok());
  for (auto& pod : list->items) {
    if (str(pod, {"spec", "nodeName"}) == "node-1") {
      REQUIRE(env.api().remove(kPods, "default", client::object_name(pod)).ok());
    }
  }
  REQUIRE(wait_until([&] {
    auto q = env.placed("agent");
    return q.size() == 2 && q["node-1"] == "agent:2" && q["node-3"] == "agent:1" &&
           status_int(env.ds("agent"), "updatedNumberScheduled") == 1;
  }, 60s));
}

}  // namespace
}  // namespace orch::controller
