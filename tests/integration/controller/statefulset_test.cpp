// The StatefulSet controller on an in-process control plane with the NodePlayer playing one node:
// OrderedReady creates web-0, web-1, web-2 one after another, each Ready before the next (checked
// on every pod event seen); claims data-web-<n> exist and stay; scale down removes the highest
// ordinal first; Parallel creates every pod at once; a rolling update respects the partition;
// status fields; events.
#include <doctest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "control_plane.hpp"
#include "orch/client/event_recorder.hpp"
#include "orch/client/informer.hpp"
#include "orch/client/informer_factory.hpp"
#include "orch/client/resource.hpp"
#include "orch/controller/statefulset_controller.hpp"

namespace orch::controller {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kEvents;
using client::resources::kPersistentVolumeClaims;
using client::resources::kPods;
using client::resources::kStatefulSets;
using orch::testing::wait_until;

json::value make_set(const std::string& name, int replicas, const std::string& policy = "",
                     const std::string& image = "nginx:1") {
  json::object spec{
      {"replicas", replicas},
      {"serviceName", "nginx"},
      {"selector", {{"matchLabels", {{"app", name}}}}},
      {"template",
       {{"metadata", {{"labels", {{"app", name}}}}},
        {"spec", {{"containers", json::array{json::object{{"name", "c"}, {"image", image}}}}}}}},
      {"volumeClaimTemplates",
       json::array{json::object{
           {"metadata", {{"name", "data"}}},
           {"spec",
            {{"accessModes", json::array{"ReadWriteOnce"}},
             {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}}}}};
  if (!policy.empty()) spec["podManagementPolicy"] = policy;
  return {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", std::move(spec)}};
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

std::string status_str(const json::value& o, std::string_view field) {
  const auto* st = o.as_object().if_contains("status");
  if (!st || !st->is_object()) return {};
  const auto* v = st->as_object().if_contains(field);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::string label(const json::value& o, std::string_view key) {
  const auto* l = o.at("metadata").as_object().if_contains("labels");
  if (!l || !l->is_object()) return {};
  const auto* v = l->as_object().if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// Watches the pods of one set and checks, on every event, the OrderedReady invariant: no pod
// of ordinal k exists while some ordinal below k is missing or not Ready. Also records the order
// in which pods were deleted.
class Observer {
 public:
  Observer(std::shared_ptr<client::Client> c, std::string set)
      : set_(std::move(set)), informer_(std::move(c), kPods) {
    REQUIRE(informer_
                .add_event_handler({.on_add = [this](const client::SharedObject&) { check(); },
                                    .on_update = [this](const client::SharedObject&,
                                                        const client::SharedObject&) { check(); },
                                    .on_delete =
                                        [this](const client::SharedObject& o) {
                                          std::lock_guard lock(mu_);
                                          deleted_.emplace_back(client::object_name(*o));
                                        }})
                .ok());
    REQUIRE(informer_.start().ok());
    REQUIRE(informer_.wait_for_sync(30s));
  }
  ~Observer() { informer_.stop(); }
  void set_checking(bool on) { checking_ = on; }
  int violations() const { return violations_.load(); }
  std::vector<std::string> deleted() {
    std::lock_guard lock(mu_);
    return deleted_;
  }

 private:
  void check() {
    if (!checking_) return;
    std::map<int, bool> ready;  // ordinal -> Ready
    for (const auto& p : informer_.list()) {
      std::string name(client::object_name(*p));
      if (!name.starts_with(set_ + "-")) continue;
      ready[std::stoi(name.substr(set_.size() + 1))] = pod_ready(*p);
    }
    for (const auto& [ord, r] : ready) {
      (void)r;
      for (int lower = 0; lower < ord; ++lower) {
        auto it = ready.find(lower);
        if (it == ready.end() || !it->second) {
          ++violations_;
          return;
        }
      }
    }
  }

  const std::string set_;
  client::Informer informer_;
  std::atomic<bool> checking_{true};
  std::atomic<int> violations_{0};
  std::mutex mu_;
  std::vector<std::string> deleted_;
};

struct Env {
  explicit Env(orch::testing::NodePlayerOptions po = {}) {
    REQUIRE(cp.add_node("node-1").ok());
    po.bind_pending_to = "node-1";
    player = std::make_unique<orch::testing::NodePlayer>(cp.client(), po);
    informers = std::make_unique<client::InformerFactory>(cp.client());
    events = std::make_unique<client::EventRecorder>(
        cp.client(), client::EventRecorderOptions{.component = kStatefulSetControllerComponent});
    ControllerContext ctx{cp.client(), informers.get(), events.get(), nullptr};
    auto c = new_statefulset_controller(ctx);
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
  json::value set(const std::string& name) {
    auto r = api().get(kStatefulSets, "default", name);
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    return *r;
  }
  std::optional<json::value> pod(const std::string& name) {
    auto r = api().get(kPods, "default", name);
    if (!r.ok()) return std::nullopt;
    return *r;
  }
  // Names of the set's pods that are not terminating.
  std::vector<std::string> pod_names(const std::string& set_name) {
    auto list = api().list_all(kPods, "default");
    REQUIRE(list.ok());
    std::vector<std::string> out;
    for (auto& p : list->items) {
      if (label(p, "app") == set_name && !deleting(p)) out.emplace_back(client::object_name(p));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  int ready_pods(const std::string& set_name) {
    auto list = api().list_all(kPods, "default");
    REQUIRE(list.ok());
    int n = 0;
    for (auto& p : list->items) {
      if (label(p, "app") == set_name && !deleting(p) && pod_ready(p)) ++n;
    }
    return n;
  }
  int all_pods(const std::string& set_name) {
    auto list = api().list_all(kPods, "default");
    REQUIRE(list.ok());
    int n = 0;
    for (auto& p : list->items) n += label(p, "app") == set_name ? 1 : 0;
    return n;
  }
  // Settled: n pods, all Ready and at the update revision, status says so, generation observed.
  bool settled(const std::string& name, int n) {
    auto s = set(name);
    return ready_pods(name) == n && all_pods(name) == n && status_int(s, "replicas") == n &&
           status_int(s, "readyReplicas") == n && status_int(s, "updatedReplicas") == n &&
           status_int(s, "observedGeneration") ==
               s.at("metadata").at("generation").to_number<std::int64_t>() &&
           status_str(s, "currentRevision") == status_str(s, "updateRevision");
  }
  void patch(const std::string& name, const json::value& p) {
    auto r = api().patch(kStatefulSets, "default", name, client::PatchType::Merge,
                         json::serialize(p));
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  }
  int count_events(const std::string& name, const std::string& reason,
                   const std::string& message) {
    auto list = api().list_all(kEvents, "default");
    if (!list.ok()) return -1;
    int n = 0;
    for (auto& e : list->items) {
      if (e.at("involvedObject").at("name") == json::value(name) &&
          e.at("reason") == json::value(reason) && e.at("message") == json::value(message)) {
        ++n;
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

TEST_CASE("OrderedReady: pods come up one at a time, each Ready before the next, with claims") {
  Env env({.ready_delay = 100ms});
  Observer observer(env.cp.client(), "web");
  auto created = env.api().create(kStatefulSets, "default", make_set("web", 3));
  REQUIRE_MESSAGE(created.ok(), created.status().to_string());
  REQUIRE(wait_until([&] { return env.settled("web", 3); }, 60s));
  CHECK(observer.violations() == 0);
  CHECK(env.pod_names("web") == std::vector<std::string>{"web-0", "web-1", "web-2"});

  for (int i = 0; i < 3; ++i) {
    const std::string name = "web-" + std::to_string(i);
    CAPTURE(name);
    auto pod = env.pod(name);
    REQUIRE(pod);
    CHECK(label(*pod, "statefulset.kubernetes.io/pod-name") == name);
    CHECK(label(*pod, "apps.kubernetes.io/pod-index") == std::to_string(i));
    CHECK(label(*pod, "controller-revision-hash") == status_str(env.set("web"), "updateRevision"));
    CHECK(pod->at("spec").at("hostname") == json::value(name));
    CHECK(pod->at("spec").at("subdomain") == "nginx");
    CHECK(pod->at("spec").at("volumes").at(0).at("persistentVolumeClaim").at("claimName") ==
          json::value("data-" + name));
    const auto& ref = pod->at("metadata").at("ownerReferences").at(0);
    CHECK(ref.at("kind") == "StatefulSet");
    CHECK(ref.at("uid") == created->at("metadata").at("uid"));
    auto claim = env.api().get(kPersistentVolumeClaims, "default", "data-" + name);
    REQUIRE_MESSAGE(claim.ok(), claim.status().to_string());
    CHECK(label(*claim, "app") == "web");
  }
  auto s = env.set("web");
  CHECK(status_int(s, "currentReplicas") == 3);
  CHECK(status_int(s, "availableReplicas") == 3);
  CHECK(status_int(s, "collisionCount") == 0);
  CHECK(status_str(s, "currentRevision").starts_with("web-"));
  CHECK(wait_until([&] {
    return env.count_events("web", "SuccessfulCreate",
                            "create Pod web-0 in StatefulSet web successful") == 1;
  }));

  // Scale down to 1: web-2 goes first, then web-1; the claims stay.
  observer.set_checking(false);
  env.patch("web", {{"spec", {{"replicas", 1}}}});
  REQUIRE(wait_until([&] { return env.settled("web", 1); }, 60s));
  // The observer's own informer may see the last deletion a moment after the set settled.
  CHECK(wait_until([&] { return observer.deleted().size() >= 2; }, 10s));
  CHECK(observer.deleted() == std::vector<std::string>{"web-2", "web-1"});
  for (int i = 0; i < 3; ++i) {
    CHECK(env.api().get(kPersistentVolumeClaims, "default", "data-web-" + std::to_string(i)).ok());
  }
  CHECK(wait_until([&] {
    return env.count_events("web", "SuccessfulDelete",
                            "delete Pod web-2 in StatefulSet web successful") == 1;
  }));
}

TEST_CASE("OrderedReady: a pod that never becomes Ready holds back the next ordinal") {
  Env env({.ready = false});
  REQUIRE(env.api().create(kStatefulSets, "default", make_set("db", 2)).ok());
  REQUIRE(wait_until([&] {
    auto p = env.pod("db-0");
    return p && p->at("status").as_object().if_contains("phase") &&
           p->at("status").at("phase") == "Running" && status_int(env.set("db"), "replicas") == 1;
  }));
  CHECK(!env.pod("db-1"));
  env.player->set_ready("default", "db-0", true);
  REQUIRE(wait_until([&] { return env.pod("db-1").has_value(); }));
  CHECK(wait_until([&] { return status_int(env.set("db"), "readyReplicas") >= 1; }));
}

TEST_CASE("Parallel: every pod is created at once, Ready or not") {
  Env env({.ready = false});
  REQUIRE(env.api().create(kStatefulSets, "default", make_set("par", 3, "Parallel")).ok());
  REQUIRE(wait_until([&] { return env.pod_names("par").size() == 3; }));
  CHECK(env.ready_pods("par") == 0);
  CHECK(env.pod_names("par") == std::vector<std::string>{"par-0", "par-1", "par-2"});
  REQUIRE(wait_until([&] {
    auto s = env.set("par");
    return status_int(s, "replicas") == 3 && status_int(s, "readyReplicas") == 0;
  }));
}

TEST_CASE("RollingUpdate with a partition updates only ordinals at or above it") {
  Env env;
  REQUIRE(env.api().create(kStatefulSets, "default", make_set("app", 3)).ok());
  REQUIRE(wait_until([&] { return env.settled("app", 3); }, 60s));
  const std::string old_rev = status_str(env.set("app"), "currentRevision");

  env.patch("app",
            {{"spec",
              {{"updateStrategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"partition", 1}}}}},
               {"template",
                {{"spec",
                  {{"containers",
                    json::array{json::object{{"name", "c"}, {"image", "nginx:2"}}}}}}}}}}});
  std::string new_rev;
  REQUIRE(wait_until(
      [&] {
        auto s = env.set("app");
        new_rev = status_str(s, "updateRevision");
        auto p1 = env.pod("app-1"), p2 = env.pod("app-2");
        return new_rev != old_rev && status_int(s, "updatedReplicas") == 2 &&
               status_int(s, "currentReplicas") == 1 && status_int(s, "readyReplicas") == 3 &&
               p1 && p2 && label(*p1, "controller-revision-hash") == new_rev &&
               label(*p2, "controller-revision-hash") == new_rev && !deleting(*p1) &&
               !deleting(*p2);
      },
      60s));
  auto p0 = env.pod("app-0");
  REQUIRE(p0);
  CHECK(label(*p0, "controller-revision-hash") == old_rev);
  CHECK(p0->at("spec").at("containers").at(0).at("image") == "nginx:1");
  CHECK(env.pod("app-2")->at("spec").at("containers").at(0).at("image") == "nginx:2");
  CHECK(status_str(env.set("app"), "currentRevision") == old_rev);

  // A deleted pod below the partition comes back at the old revision.
  REQUIRE(env.api().remove(kPods, "default", "app-0").ok());
  REQUIRE(wait_until([&] {
    auto p = env.pod("app-0");
    return p && !deleting(*p) && pod_ready(*p) &&
           p->at("metadata").at("uid") != p0->at("metadata").at("uid");
  }, 60s));
  CHECK(label(*env.pod("app-0"), "controller-revision-hash") == old_rev);

  // Partition 0: the rest follows and the revision completes.
  env.patch("app", {{"spec", {{"updateStrategy", {{"rollingUpdate", {{"partition", 0}}}}}}}});
  REQUIRE(wait_until([&] { return env.settled("app", 3); }, 60s));
  CHECK(status_str(env.set("app"), "currentRevision") == new_rev);
  CHECK(label(*env.pod("app-0"), "controller-revision-hash") == new_rev);
}

TEST_CASE("OnDelete: pods are only replaced when deleted") {
  Env env;
  auto s = make_set("od", 2);
  s.at("spec").as_object()["updateStrategy"] = json::object{{"type", "OnDelete"}};
  REQUIRE(env.api().create(kStatefulSets, "default", s).ok());
  REQUIRE(wait_until([&] { return env.ready_pods("od") == 2; }, 60s));
  const std::string old_rev = label(*env.pod("od-1"), "controller-revision-hash");
  env.patch("od", {{"spec",
                    {{"template",
                      {{"spec",
                        {{"containers",
                          json::array{json::object{{"name", "c"}, {"image", "nginx:2"}}}}}}}}}}});
  REQUIRE(wait_until([&] {
    auto st = env.set("od");
    return !status_str(st, "updateRevision").empty() &&
           status_str(st, "updateRevision") != old_rev && status_int(st, "updatedReplicas") == 0;
  }));
  CHECK(label(*env.pod("od-1"), "controller-revision-hash") == old_rev);
  REQUIRE(env.api().remove(kPods, "default", "od-1").ok());
  REQUIRE(wait_until([&] {
    auto p = env.pod("od-1");
    return p && !deleting(*p) && label(*p, "controller-revision-hash") != old_rev;
  }, 60s));
  CHECK(label(*env.pod("od-0"), "controller-revision-hash") == old_rev);
}

}  // namespace
}  // namespace orch::controller
