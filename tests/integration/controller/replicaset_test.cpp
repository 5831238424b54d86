// The ReplicaSet controller on an in-process control plane with the NodePlayer playing the node:
// pods created with the right names, labels and ownerReferences; scaling up and down (not-Ready
// pods go first); a deleted pod is replaced; orphans are adopted and non-matching pods released;
// terminating pods do not count; status fields, minReadySeconds on a FakeClock; Events.
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
#include "orch/controller/replicaset_controller.hpp"
#include "orch/util/clock.hpp"

namespace orch::controller {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kEvents;
using client::resources::kPods;
using client::resources::kReplicaSets;
using orch::testing::wait_until;

json::value make_rs(const std::string& name, int replicas,
                    const std::map<std::string, std::string>& template_labels = {{"app", "web"}},
                    const std::map<std::string, std::string>& selector = {{"app", "web"}},
                    int min_ready_seconds = 0) {
  json::object tl, sl;
  for (const auto& [k, v] : template_labels) tl[k] = v;
  for (const auto& [k, v] : selector) sl[k] = v;
  json::object container{{"name", "kuard"}, {"image", "kuard:1"}};
  json::object pod_spec{{"containers", json::array{container}}};
  json::object tmpl{{"metadata", json::object{{"labels", tl}}}, {"spec", pod_spec}};
  json::object spec{{"replicas", replicas},
                    {"selector", json::object{{"matchLabels", sl}}},
                    {"template", tmpl}};
  if (min_ready_seconds > 0) spec["minReadySeconds"] = min_ready_seconds;
  return {{"apiVersion", "apps/v1"},
          {"kind", "ReplicaSet"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", std::move(spec)}};
}

json::value make_pod(const std::string& name, const std::map<std::string, std::string>& labels) {
  json::object l;
  for (const auto& [k, v] : labels) l[k] = v;
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"labels", l}}},
          {"spec",
           {{"containers",
             json::array{json::object{{"name", "kuard"}, {"image", "kuard:1"}}}}}}};
}

bool deleting(const json::value& o) {
  const auto* d = o.at("metadata").as_object().if_contains("deletionTimestamp");
  return d && !d->is_null();
}

std::string controller_uid(const json::value& pod) {
  const auto* refs = pod.at("metadata").as_object().if_contains("ownerReferences");
  if (!refs || !refs->is_array()) return "";
  for (const auto& r : refs->get_array()) {
    const auto* c = r.as_object().if_contains("controller");
    if (c && c->is_bool() && c->get_bool()) return std::string(r.at("uid").as_string());
  }
  return "";
}

bool pod_ready(const json::value& pod) {
  const auto* st = pod.as_object().if_contains("status");
  if (!st) return false;
  const auto* conds = st->as_object().if_contains("conditions");
  if (!conds || !conds->is_array()) return false;
  for (const auto& c : conds->get_array()) {
    if (c.at("type") == "Ready") return c.at("status") == "True";
  }
  return false;
}

std::int64_t status_of(const json::value& rs, std::string_view field) {
  const auto* st = rs.as_object().if_contains("status");
  if (!st || !st->is_object()) return 0;
  const auto* v = st->as_object().if_contains(field);
  return v ? v->to_number<std::int64_t>() : 0;
}

// The control plane, one Ready node, a player that binds and runs every pod there, and a
// ReplicaSet controller with its own informers and event recorder.
struct Env {
  explicit Env(util::Clock* clock = nullptr, orch::testing::NodePlayerOptions po = {}) {
    REQUIRE(cp.add_node("node-1").ok());
    po.bind_pending_to = "node-1";
    po.clock = clock;
    player = std::make_unique<orch::testing::NodePlayer>(cp.client(), po);
    informers = std::make_unique<client::InformerFactory>(cp.client());
    events = std::make_unique<client::EventRecorder>(
        cp.client(), client::EventRecorderOptions{.component = kReplicaSetControllerComponent,
                                                  .clock = clock});
    ControllerContext ctx{cp.client(), informers.get(), events.get(), clock};
    auto c = new_replicaset_controller(ctx);
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
    player.reset();
  }

  client::Client& api() { return *cp.client(); }
  json::value rs(const std::string& name) {
    auto r = api().get(kReplicaSets, "default", name);
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    return *r;
  }
  // Pods (not terminating) whose controller is `rs`.
  std::vector<json::value> active_pods_of(const std::string& rs_name) {
    std::string uid(client::object_uid(rs(rs_name)));
    auto list = api().list_all(kPods, "default");
    REQUIRE(list.ok());
    std::vector<json::value> out;
    for (auto& p : list->items) {
      if (!deleting(p) && controller_uid(p) == uid) out.push_back(p);
    }
    return out;
  }
  std::vector<json::value> all_pods() {
    auto list = api().list_all(kPods, "default");
    REQUIRE(list.ok());
    return list->items;
  }
  bool settled(const std::string& name, std::int64_t n) {
    auto r = rs(name);
    auto pods = active_pods_of(name);
    std::int64_t ready = 0;
    for (auto& p : pods) ready += pod_ready(p) ? 1 : 0;
    return static_cast<std::int64_t>(pods.size()) == n && ready == n &&
           status_of(r, "replicas") == n && status_of(r, "readyReplicas") == n &&
           status_of(r, "observedGeneration") ==
               r.at("metadata").at("generation").to_number<std::int64_t>();
  }
  void scale(const std::string& name, int replicas) {
    auto r = api().patch(kReplicaSets, "default", name, client::PatchType::Merge,
                         json::serialize(json::value{{"spec", {{"replicas", replicas}}}}));
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  }
  // Events about `name` with `reason`.
  int count_events(const std::string& name, const std::string& reason) {
    auto list = api().list_all(kEvents, "default");
    if (!list.ok()) return -1;
    int n = 0;
    for (auto& e : list->items) {
      if (std::string_view(e.at("involvedObject").at("name").as_string()) == name &&
          std::string_view(e.at("reason").as_string()) == reason) {
        n += static_cast<int>(e.at("count").to_number<std::int64_t>());
      }
    }
    return n;
  }

  orch::testing::ControlPlane cp;
  std::unique_ptr<orch::testing::NodePlayer> player;
  std::unique_ptr<client::InformerFactory> informers;
  std::unique_ptr<client::EventRecorder> events;
  std::unique_ptr<Controller> controller;
};

TEST_CASE("a ReplicaSet of 5 gets 5 pods with generated names, its labels and an owner") {
  Env env;
  auto created = env.api().create(kReplicaSets, "default", make_rs("web", 5, {{"app", "web"}, {"tier", "front"}}));
  REQUIRE_MESSAGE(created.ok(), created.status().to_string());
  const std::string uid(client::object_uid(*created));
  REQUIRE(wait_until([&] { return env.settled("web", 5); }));

  const std::regex name_re("^web-[bcdfghjklmnpqrstvwxz2456789]{5}$");
  auto pods = env.active_pods_of("web");
  REQUIRE(pods.size() == 5);
  std::set<std::string> names;
  for (auto& p : pods) {
    std::string name(client::object_name(p));
    names.insert(name);
    CHECK_MESSAGE(std::regex_match(name, name_re), name);
    CHECK(p.at("metadata").at("generateName") == "web-");
    CHECK(p.at("metadata").at("labels") == json::value{{"app", "web"}, {"tier", "front"}});
    const auto& refs = p.at("metadata").at("ownerReferences").as_array();
    REQUIRE(refs.size() == 1);
    CHECK(refs[0].at("apiVersion") == "apps/v1");
    CHECK(refs[0].at("kind") == "ReplicaSet");
    CHECK(refs[0].at("name") == "web");
    CHECK(std::string_view(refs[0].at("uid").as_string()) == uid);
    CHECK(refs[0].at("controller") == true);
    CHECK(refs[0].at("blockOwnerDeletion") == true);
    CHECK(p.at("spec").at("containers").as_array()[0].at("image") == "kuard:1");
  }
  CHECK(names.size() == 5);
  auto rs = env.rs("web");
  CHECK(status_of(rs, "fullyLabeledReplicas") == 5);
  CHECK(status_of(rs, "availableReplicas") == 5);
  CHECK(status_of(rs, "observedGeneration") == 1);
  CHECK(wait_until([&] { return env.count_events("web", "SuccessfulCreate") == 5; }));
  // Settled means settled: no extra pod appears later.
  std::this_thread::sleep_for(300ms);
  CHECK(env.all_pods().size() == 5);
}

TEST_CASE("scaling to 10 and back to 7 deletes the not-Ready pods first") {
  Env env;
  REQUIRE(env.api().create(kReplicaSets, "default", make_rs("web", 5)).ok());
  REQUIRE(wait_until([&] { return env.settled("web", 5); }));
  env.scale("web", 10);
  REQUIRE(wait_until([&] { return env.settled("web", 10); }));
  CHECK(status_of(env.rs("web"), "observedGeneration") == 2);

  // Three pods fail their readiness probe.
  auto pods = env.active_pods_of("web");
  std::set<std::string> unready;
  for (int i = 0; i < 3; ++i) {
    unready.insert(std::string(client::object_name(pods[i * 3])));
    env.player->set_ready("default", client::object_name(pods[i * 3]), false);
  }
  REQUIRE(wait_until([&] {
    auto rs = env.rs("web");
    return status_of(rs, "readyReplicas") == 7 && status_of(rs, "replicas") == 10;
  }));
  env.scale("web", 7);
  REQUIRE(wait_until([&] { return env.settled("web", 7); }));
  for (auto& p : env.active_pods_of("web")) {
    CHECK_MESSAGE(!unready.contains(std::string(client::object_name(p))), client::object_name(p));
  }
  CHECK(wait_until([&] { return env.count_events("web", "SuccessfulDelete") == 3; }));
  // Deleted pods are really gone (the player completed their graceful deletion).
  CHECK(wait_until([&] { return env.all_pods().size() == 7; }));
  env.scale("web", 0);
  CHECK(wait_until([&] { return env.all_pods().empty() && env.settled("web", 0); }));
}

TEST_CASE("a large scale-up creates exactly the pods asked for (slow-start batches, expectations)") {
  Env env;
  REQUIRE(env.api().create(kReplicaSets, "default", make_rs("big", 60)).ok());
  REQUIRE(wait_until([&] { return env.settled("big", 60); }, std::chrono::seconds(120)));
  std::this_thread::sleep_for(300ms);
  CHECK(env.all_pods().size() == 60);
  CHECK(wait_until([&] { return env.count_events("big", "SuccessfulCreate") == 60; }));
}

TEST_CASE("a pod deleted by hand is replaced") {
  Env env;
  REQUIRE(env.api().create(kReplicaSets, "default", make_rs("web", 3)).ok());
  REQUIRE(wait_until([&] { return env.settled("web", 3); }));
  auto pods = env.active_pods_of("web");
  std::string victim(client::object_name(pods[0]));
  REQUIRE(env.api().remove(kPods, "default", victim).ok());
  REQUIRE(wait_until([&] {
    auto now = env.active_pods_of("web");
    if (now.size() != 3 || !env.settled("web", 3)) return false;
    for (auto& p : now) {
      if (client::object_name(p) == victim) return false;
    }
    return true;
  }));
  CHECK(wait_until([&] { return env.count_events("web", "SuccessfulCreate") == 4; }));
}

TEST_CASE("terminating pods do not count; their replacements are created at once") {
  orch::testing::NodePlayerOptions po;
  po.complete_deletions = false;  // pods stay terminating, as with a long grace period
  Env env(nullptr, po);
  REQUIRE(env.api().create(kReplicaSets, "default", make_rs("web", 3)).ok());
  REQUIRE(wait_until([&] { return env.settled("web", 3); }));
  auto pods = env.active_pods_of("web");
  REQUIRE(env.api().remove(kPods, "default", client::object_name(pods[0])).ok());
  REQUIRE(wait_until([&] { return env.settled("web", 3) && env.all_pods().size() == 4; }));
  CHECK(status_of(env.rs("web"), "replicas") == 3);
}

TEST_CASE("orphans that match are adopted, pods that stop matching are released") {
  Env env;
  // Two orphans exist before the ReplicaSet; a third pod matches but belongs to someone else.
  REQUIRE(env.api().create(kPods, "default", make_pod("orphan-1", {{"app", "web"}})).ok());
  REQUIRE(env.api().create(kPods, "default", make_pod("orphan-2", {{"app", "web"}})).ok());
  auto foreign = make_pod("foreign", {{"app", "web"}});
  foreign.at("metadata").as_object()["ownerReferences"] = json::array{
      json::object{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "other"},
                   {"uid", "3c5b3c43-0000-4000-8000-000000000001"}, {"controller", true}}};
  REQUIRE(env.api().create(kPods, "default", foreign).ok());

  // Template labels {app, tier}; the selector only app: adopted orphans lack tier.
  REQUIRE(env.api()
              .create(kReplicaSets, "default",
                      make_rs("web", 3, {{"app", "web"}, {"tier", "front"}}, {{"app", "web"}}))
              .ok());
  REQUIRE(wait_until([&] { return env.settled("web", 3); }));
  auto owned = env.active_pods_of("web");
  std::set<std::string> names;
  for (auto& p : owned) names.insert(std::string(client::object_name(p)));
  CHECK(names.contains("orphan-1"));
  CHECK(names.contains("orphan-2"));
  CHECK_FALSE(names.contains("foreign"));
  CHECK(env.all_pods().size() == 4);  // one created, two adopted, the foreign one untouched
  CHECK(wait_until([&] { return status_of(env.rs("web"), "fullyLabeledReplicas") == 1; }));
  auto orphan = env.api().get(kPods, "default", "orphan-1");
  REQUIRE(orphan.ok());
  const auto& ref = orphan->at("metadata").at("ownerReferences").as_array()[0];
  CHECK(ref.at("controller") == true);
  CHECK(ref.at("blockOwnerDeletion") == true);
  CHECK(ref.at("name") == "web");

  // orphan-1 stops matching: released (ownerReference removed) and replaced.
  REQUIRE(env.api()
              .patch(kPods, "default", "orphan-1", client::PatchType::Merge,
                     R"({"metadata":{"labels":{"app":"other"}}})")
              .ok());
  REQUIRE(wait_until([&] {
    auto p = env.api().get(kPods, "default", "orphan-1");
    return p.ok() && controller_uid(*p).empty() && env.settled("web", 3);
  }));
  names.clear();
  for (auto& p : env.active_pods_of("web")) names.insert(std::string(client::object_name(p)));
  CHECK_FALSE(names.contains("orphan-1"));
  CHECK(names.contains("orphan-2"));
  auto foreign_now = env.api().get(kPods, "default", "foreign");
  REQUIRE(foreign_now.ok());
  CHECK(controller_uid(*foreign_now) == "3c5b3c43-0000-4000-8000-000000000001");
}

TEST_CASE("availableReplicas counts pods Ready for minReadySeconds (FakeClock)") {
  util::FakeClock clock;
  Env env(&clock);
  REQUIRE(env.api()
              .create(kReplicaSets, "default",
                      make_rs("web", 2, {{"app", "web"}}, {{"app", "web"}}, 30))
              .ok());
  REQUIRE(wait_until([&] { return env.settled("web", 2); }));
  auto rs = env.rs("web");
  CHECK(status_of(rs, "readyReplicas") == 2);
  CHECK(status_of(rs, "availableReplicas") == 0);
  clock.advance(29s);
  std::this_thread::sleep_for(50ms);
  CHECK(status_of(env.rs("web"), "availableReplicas") == 0);
  clock.advance(1s);  // the controller's requeue-after fires on the fake clock
  CHECK(wait_until([&] { return status_of(env.rs("web"), "availableReplicas") == 2; }));
}

TEST_CASE("a ReplicaSet being deleted creates nothing; a deleted one's key is forgotten") {
  Env env;
  REQUIRE(env.api().create(kReplicaSets, "default", make_rs("web", 2)).ok());
  REQUIRE(wait_until([&] { return env.settled("web", 2); }));
  // Orphan the pods (no garbage collector runs here): they stay, and no new pods appear.
  client::DeleteOptions d;
  d.propagation_policy = "Orphan";
  REQUIRE(env.api().remove(kReplicaSets, "default", "web", d).ok());
  // The orphan finalizer is left for the garbage collector; the ReplicaSet stays "deleting".
  std::this_thread::sleep_for(300ms);
  CHECK(env.all_pods().size() == 2);
}

}  // namespace
}  // namespace orch::controller
