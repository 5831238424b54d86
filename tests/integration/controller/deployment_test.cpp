// The Deployment controller on an in-process API server, with the ReplicaSet controller and a
// NodePlayer that plays the node (binds pods, marks them Running and Ready, completes
// deletions): names and labels of what a Deployment creates, scaling, a rolling update whose
// every observed state stays within maxSurge/maxUnavailable, rollback re-using the old
// ReplicaSet, pause/resume, Recreate, proportional scaling mid-rollout and the progress deadline.
#include <doctest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "control_plane.hpp"
#include "orch/api/selector.hpp"
#include "orch/client/client.hpp"
#include "orch/client/event_recorder.hpp"
#include "orch/client/informer_factory.hpp"
#include "orch/client/resource.hpp"
#include "orch/client/watch.hpp"
#include "orch/controller/controller.hpp"
#include "orch/controller/deployment_controller.hpp"
#include "orch/controller/replicaset_controller.hpp"


namespace orch::controller {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kDeployments;
using client::resources::kEvents;
using client::resources::kPods;
using client::resources::kReplicaSets;

const json::value* at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto p : path) {
    if (!cur->is_object()) return nullptr;
    cur = cur->get_object().if_contains(p);
    if (!cur) return nullptr;
  }
  return cur;
}
std::string str_at(const json::value& v, std::initializer_list<std::string_view> path) {
  const auto* x = at(v, path);
  return x && x->is_string() ? std::string(x->get_string()) : std::string();
}
std::int64_t int_at(const json::value& v, std::initializer_list<std::string_view> path) {
  const auto* x = at(v, path);
  return x && x->is_int64() ? x->get_int64() : 0;
}
bool pod_is_ready(const json::value& pod) {
  const auto* conds = at(pod, {"status", "conditions"});
  if (!conds || !conds->is_array()) return false;
  for (const auto& c : conds->get_array()) {
    if (str_at(c, {"type"}) == "Ready") return str_at(c, {"status"}) == "True";
  }
  return false;
}
bool terminating(const json::value& o) { return at(o, {"metadata", "deletionTimestamp"}); }
std::string image_of(const json::value& pod_or_template_spec_owner) {
  const auto* cs = at(pod_or_template_spec_owner, {"spec", "containers"});
  if (!cs || !cs->is_array() || cs->get_array().empty()) return {};
  return str_at(cs->get_array()[0], {"image"});
}


// The control plane, a node, a NodePlayer and both controllers on shared informers.
class Env {
 public:
  explicit Env(testing::NodePlayerOptions player_options = {}) {
    REQUIRE(cp_.add_node("node-1").ok());
    player_options.bind_pending_to = "node-1";
    player_ = std::make_unique<testing::NodePlayer>(cp_.client(), player_options);
    client::InformerOptions io;
    io.backoff_initial = 50ms;
    io.backoff_max = 1s;
    informers_ = std::make_unique<client::InformerFactory>(cp_.client(), io);
    events_ = std::make_unique<client::EventRecorder>(
        cp_.client(), client::EventRecorderOptions{.component = "deployment-controller"});
    ControllerContext ctx;
    ctx.client = cp_.client();
    ctx.informers = informers_.get();
    ctx.events = events_.get();
    ctx.clock = &util::real_clock();
    auto rsc = new_replicaset_controller(ctx);
    REQUIRE_MESSAGE(rsc.ok(), rsc.status().to_string());
    rs_controller_ = std::move(rsc).value();
    auto dc = new_deployment_controller(ctx);
    REQUIRE_MESSAGE(dc.ok(), dc.status().to_string());
    deployment_controller_ = std::move(dc).value();
    REQUIRE(informers_->start().ok());
    REQUIRE(informers_->wait_for_sync(30s));
    REQUIRE(rs_controller_->start().ok());
    REQUIRE(deployment_controller_->start().ok());
  }
  ~Env() {
    deployment_controller_->stop();
    rs_controller_->stop();
    informers_->stop();
    events_.reset();
    player_->stop();
  }

  client::Client& client() { return *cp_.client(); }
  testing::NodePlayer& player() { return *player_; }
  client::EventRecorder& events() { return *events_; }

  // Creates Deployment `name` (app=name) of `replicas` pods of `image`; `tweak` edits the JSON.
  json::value create(const std::string& name, std::int64_t replicas, const std::string& image,
                     const std::function<void(json::object&)>& tweak = {}) {
    json::object spec{
        {"replicas", replicas},
        {"selector", {{"matchLabels", {{"app", name}}}}},
        {"template",
         {{"metadata", {{"labels", {{"app", name}}}}},
          {"spec", {{"containers", json::array{json::object{{"name", "main"}, {"image", image}}}}}}}}};
    if (tweak) tweak(spec);
    json::value d = {{"apiVersion", "apps/v1"},
                     {"kind", "Deployment"},
                     {"metadata", {{"name", name}, {"namespace", "default"}}},
                     {"spec", std::move(spec)}};
    auto r = client().create(kDeployments, "default", d);
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    return *r;
  }
  json::value get(const std::string& name) {
    auto r = client().get(kDeployments, "default", name);
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    return *r;
  }
  void patch(const std::string& name, const std::string& merge_patch) {
    auto r = client().patch(kDeployments, "default", name, client::PatchType::Merge, merge_patch);
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  }
  void set_image(const std::string& name, const std::string& image) {
    // kubectl set image's strategic merge patch.
    auto r = client().patch(
        kDeployments, "default", name, client::PatchType::Strategic,
        fmt::format(R"({{"spec":{{"template":{{"spec":{{"$setElementOrder/containers":[{{"name":"main"}}],"containers":[{{"image":"{}","name":"main"}}]}}}}}}}})",
                    image));
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  }
  std::vector<json::value> replica_sets(const std::string& app) {
    auto r = client().list_all(kReplicaSets, "default", {.label_selector = "app=" + app});
    REQUIRE(r.ok());
    return r->items;
  }
  std::vector<json::value> pods(const std::string& app) {
    auto r = client().list_all(kPods, "default", {.label_selector = "app=" + app});
    REQUIRE(r.ok());
    return r->items;
  }
  std::optional<json::value> rs_named(const std::string& app, const std::string& name) {
    for (auto& rs : replica_sets(app)) {
      if (client::object_name(rs) == name) return rs;
    }
    return std::nullopt;
  }

  // `kubectl rollout status` success: generation observed, every replica updated and available,
  // no old one left, and (for a template) every live pod runs `image`.
  bool rolled_out(const std::string& name, std::int64_t replicas, const std::string& image) {
    auto d = client().get(kDeployments, "default", name);
    if (!d.ok()) return false;
    if (int_at(*d, {"status", "observedGeneration"}) < int_at(*d, {"metadata", "generation"})) {
      return false;
    }
    if (int_at(*d, {"status", "updatedReplicas"}) != replicas ||
        int_at(*d, {"status", "replicas"}) != replicas ||
        int_at(*d, {"status", "availableReplicas"}) != replicas) {
      return false;
    }
    std::int64_t live = 0;
    for (const auto& p : pods(name)) {
      if (terminating(p)) continue;
      if (image_of(p) != image || !pod_is_ready(p)) return false;
      ++live;
    }
    return live == replicas;
  }
  void wait_rolled_out(const std::string& name, std::int64_t replicas, const std::string& image) {
    bool ok = testing::wait_until([&] { return rolled_out(name, replicas, image); }, 60s, 20ms);
    if (!ok) {
      MESSAGE("deployment: ", json::serialize(get(name)));
      for (const auto& rs : replica_sets(name)) MESSAGE("rs: ", json::serialize(rs));
    }
    REQUIRE(ok);
  }

 private:
  testing::ControlPlane cp_;
  std::unique_ptr<testing::NodePlayer> player_;
  std::unique_ptr<client::InformerFactory> informers_;
  std::unique_ptr<client::EventRecorder> events_;
  std::unique_ptr<Controller> rs_controller_;
  std::unique_ptr<Controller> deployment_controller_;
};

const json::value* condition(const json::value& d, std::string_view type) {
  const auto* conds = at(d, {"status", "conditions"});
  if (!conds || !conds->is_array()) return nullptr;
  for (const auto& c : conds->get_array()) {
    if (str_at(c, {"type"}) == type) return &c;
  }
  return nullptr;
}

// Follows every pod event of app `app` from resourceVersion `rv`, calling `check` with the
// state after each event (pod name -> pod), until `done` holds on a state or 60 s pass.
bool watch_pods(client::Client& c, const std::string& app, const std::string& rv,
                const std::function<void(const std::map<std::string, json::value>&)>& check,
                const std::function<bool(const std::map<std::string, json::value>&)>& done,
                std::map<std::string, json::value> state) {
  std::string from = rv;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto w = c.watch(kPods, "default", {.resource_version = from, .label_selector = "app=" + app});
    REQUIRE_MESSAGE(w.ok(), w.status().to_string());
    while (std::chrono::steady_clock::now() < deadline) {
      auto events = (*w)->next(200ms);
      REQUIRE_MESSAGE(events.ok(), events.status().to_string());
      for (const auto& e : *events) {
        if (e.type == client::WatchEventType::Bookmark) continue;
        std::string name(client::object_name(*e.object));
        if (e.type == client::WatchEventType::Deleted) {
          state.erase(name);
        } else {
          state[name] = *e.object;
        }
        check(state);
        if (done(state)) return true;
      }
      if ((*w)->ended()) break;
    }
    from = (*w)->last_resource_version().empty() ? from : (*w)->last_resource_version();
  }
  return false;
}

// The pods of a list, by name, and the list's resourceVersion.
std::pair<std::map<std::string, json::value>, std::string> pod_snapshot(client::Client& c,
                                                                       const std::string& app) {
  auto r = c.list_all(kPods, "default", {.label_selector = "app=" + app});
  REQUIRE(r.ok());
  std::map<std::string, json::value> m;
  for (auto& p : r->items) m[std::string(client::object_name(p))] = p;
  return {std::move(m), r->resource_version};
}

TEST_CASE("a Deployment of 5 creates one ReplicaSet <name>-<hash> and 5 pods named after it") {
  Env env;
  auto created = env.create("kuard", 5, "kuard:v1");
  env.wait_rolled_out("kuard", 5, "kuard:v1");

  auto rss = env.replica_sets("kuard");
  REQUIRE(rss.size() == 1);
  const auto& rs = rss[0];
  std::string hash = str_at(rs, {"metadata", "labels", "pod-template-hash"});
  REQUIRE_FALSE(hash.empty());
  CHECK(hash.find_first_not_of("bcdfghjklmnpqrstvwxz2456789") == std::string::npos);
  std::string rs_name(client::object_name(rs));
  CHECK(rs_name == "kuard-" + hash);
  CHECK(str_at(rs, {"spec", "selector", "matchLabels", "pod-template-hash"}) == hash);
  CHECK(str_at(rs, {"spec", "selector", "matchLabels", "app"}) == "kuard");
  CHECK(str_at(rs, {"spec", "template", "metadata", "labels", "pod-template-hash"}) == hash);
  CHECK(int_at(rs, {"spec", "replicas"}) == 5);
  CHECK(str_at(rs, {"metadata", "annotations", "deployment.kubernetes.io/revision"}) == "1");
  CHECK(str_at(rs, {"metadata", "annotations", "deployment.kubernetes.io/desired-replicas"}) ==
        "5");
  CHECK(str_at(rs, {"metadata", "annotations", "deployment.kubernetes.io/max-replicas"}) == "7");
  const auto* owners = at(rs, {"metadata", "ownerReferences"});
  REQUIRE(owners);
  REQUIRE(owners->as_array().size() == 1);
  const auto& owner = owners->as_array()[0];
  CHECK(str_at(owner, {"kind"}) == "Deployment");
  CHECK(str_at(owner, {"name"}) == "kuard");
  CHECK(str_at(owner, {"uid"}) == client::object_uid(created));
  CHECK(owner.at("controller") == json::value(true));
  CHECK(owner.at("blockOwnerDeletion") == json::value(true));

  auto pods = env.pods("kuard");
  std::int64_t live = 0;
  // "<rs>-" and 5 characters the API server's generateName adds.
  auto named_after_rs = [&](const std::string& n) {
    return n.size() == rs_name.size() + 6 && n.compare(0, rs_name.size() + 1, rs_name + "-") == 0 &&
           n.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789", rs_name.size() + 1) ==
               std::string::npos;
  };
  for (const auto& p : pods) {
    if (terminating(p)) continue;
    ++live;
    CHECK(named_after_rs(std::string(client::object_name(p))));
    CHECK(str_at(p, {"metadata", "labels", "app"}) == "kuard");
    CHECK(str_at(p, {"metadata", "labels", "pod-template-hash"}) == hash);
    const auto& ref = at(p, {"metadata", "ownerReferences"})->as_array()[0];
    CHECK(str_at(ref, {"kind"}) == "ReplicaSet");
    CHECK(str_at(ref, {"name"}) == rs_name);
  }
  CHECK(live == 5);

  // Status and conditions as `kubectl rollout status` and `describe` read them.
  REQUIRE(testing::wait_until([&] {
    auto d = env.get("kuard");
    const auto* p = condition(d, "Progressing");
    return p && str_at(*p, {"reason"}) == "NewReplicaSetAvailable";
  }, 30s));
  auto d = env.get("kuard");
  CHECK(int_at(d, {"status", "readyReplicas"}) == 5);
  CHECK(int_at(d, {"status", "unavailableReplicas"}) == 0);
  CHECK(str_at(d, {"metadata", "annotations", "deployment.kubernetes.io/revision"}) == "1");
  const auto* avail = condition(d, "Available");
  REQUIRE(avail);
  CHECK(str_at(*avail, {"status"}) == "True");
  CHECK(str_at(*avail, {"reason"}) == "MinimumReplicasAvailable");
  const auto* prog = condition(d, "Progressing");
  CHECK(str_at(*prog, {"status"}) == "True");
  CHECK(str_at(*prog, {"message"}) == "ReplicaSet \"" + rs_name + "\" has successfully progressed.");

  // The ScalingReplicaSet event, worded as Kubernetes 1.32 words it.
  REQUIRE(env.events().flush(10s));
  bool found = testing::wait_until([&] {
    auto evs = env.client().list_all(kEvents, "default");
    if (!evs.ok()) return false;
    for (const auto& e : evs->items) {
      if (str_at(e, {"reason"}) == "ScalingReplicaSet" &&
          str_at(e, {"involvedObject", "kind"}) == "Deployment" &&
          str_at(e, {"message"}) == "Scaled up replica set " + rs_name + " to 5") {
        return true;
      }
    }
    return false;
  }, 30s);
  CHECK(found);
}

TEST_CASE("scaling a Deployment to 10 and back to 5 scales its one ReplicaSet") {
  Env env;
  env.create("web", 5, "web:v1");
  env.wait_rolled_out("web", 5, "web:v1");
  auto r = env.client().patch(kDeployments, "default", "web", client::PatchType::Merge,
                              R"({"spec":{"replicas":10}})", {}, "scale");
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  env.wait_rolled_out("web", 10, "web:v1");
  auto rss = env.replica_sets("web");
  REQUIRE(rss.size() == 1);
  CHECK(int_at(rss[0], {"spec", "replicas"}) == 10);
  CHECK(str_at(rss[0], {"metadata", "annotations", "deployment.kubernetes.io/desired-replicas"}) ==
        "10");
  env.patch("web", R"({"spec":{"replicas":5}})");
  env.wait_rolled_out("web", 5, "web:v1");
  rss = env.replica_sets("web");
  REQUIRE(rss.size() == 1);
  CHECK(int_at(rss[0], {"spec", "replicas"}) == 5);
  CHECK(str_at(rss[0], {"metadata", "annotations", "deployment.kubernetes.io/revision"}) == "1");
}

// Counts of one observed state: live pods and ready live pods, per image.
struct Counts {
  std::int64_t live = 0, ready = 0;
  std::map<std::string, std::int64_t> live_by_image, all_by_image;
};
Counts count(const std::map<std::string, json::value>& state) {
  Counts c;
  for (const auto& [name, p] : state) {
    ++c.all_by_image[image_of(p)];
    if (terminating(p)) continue;
    ++c.live;
    ++c.live_by_image[image_of(p)];
    if (pod_is_ready(p)) ++c.ready;
  }
  return c;
}

TEST_CASE("a rolling update stays within maxSurge and maxUnavailable in every observed state") {
  struct Case {
    const char* name;
    std::int64_t replicas;
    json::value surge, unavailable;
    std::int64_t max_surge, max_unavailable;
  };
  const std::vector<Case> cases = {
      {"defaults 25%/25% of 10", 10, "25%", "25%", 3, 2},
      {"surge 1, unavailable 0", 4, 1, 0, 1, 0},
      {"surge 0, unavailable 1", 4, 0, 1, 0, 1},
      {"surge 50%, unavailable 50%", 6, "50%", "50%", 3, 3},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      // Pods take a moment to become Ready, so the rollout goes through many states.
      Env env(testing::NodePlayerOptions{.ready_delay = 30ms});
      env.create("roll", c.replicas, "roll:v1", [&](json::object& spec) {
        spec["strategy"] = {{"type", "RollingUpdate"},
                            {"rollingUpdate", {{"maxSurge", c.surge},
                                               {"maxUnavailable", c.unavailable}}}};
      });
      env.wait_rolled_out("roll", c.replicas, "roll:v1");
      auto [state, rv] = pod_snapshot(env.client(), "roll");
      env.set_image("roll", "roll:v2");

      std::int64_t states = 0, min_ready = c.replicas, max_live = 0;
      std::vector<std::string> violations;
      bool done = watch_pods(
          env.client(), "roll", rv,
          [&](const std::map<std::string, json::value>& s) {
            ++states;
            Counts k = count(s);
            min_ready = std::min(min_ready, k.ready);
            max_live = std::max(max_live, k.live);
            if (k.ready < c.replicas - c.max_unavailable || k.live > c.replicas + c.max_surge) {
              violations.push_back(fmt::format("state {}: {} live, {} ready", states, k.live,
                                               k.ready));
            }
          },
          [&](const std::map<std::string, json::value>& s) {
            Counts k = count(s);
            return k.live == c.replicas && k.ready == c.replicas &&
                   k.all_by_image["roll:v2"] == c.replicas &&
                   k.all_by_image.count("roll:v1") == 0;
          },
          std::move(state));
      CHECK(done);
      CHECK_MESSAGE(violations.empty(), (violations.empty() ? std::string() : violations.front()));
      MESSAGE(std::string(c.name), ": ", states, " states, min ready ", min_ready, ", max live ", max_live);
      env.wait_rolled_out("roll", c.replicas, "roll:v2");
      auto d = env.get("roll");
      CHECK(str_at(d, {"metadata", "annotations", "deployment.kubernetes.io/revision"}) == "2");
      auto rss = env.replica_sets("roll");
      REQUIRE(rss.size() == 2);
      for (const auto& rs : rss) {
        bool is_new = image_of(*at(rs, {"spec", "template"})) == "roll:v2";
        CHECK(int_at(rs, {"spec", "replicas"}) == (is_new ? c.replicas : 0));
        CHECK(str_at(rs, {"metadata", "annotations", "deployment.kubernetes.io/revision"}) ==
              (is_new ? "2" : "1"));
      }
    }
  }
}

TEST_CASE("rollout undo (the template copied back from the old ReplicaSet) re-uses that "
          "ReplicaSet") {
  Env env;
  env.create("undo", 3, "undo:v1");
  env.wait_rolled_out("undo", 3, "undo:v1");
  std::string first_rs(client::object_name(env.replica_sets("undo").at(0)));
  env.set_image("undo", "undo:v2");
  env.wait_rolled_out("undo", 3, "undo:v2");
  REQUIRE(env.replica_sets("undo").size() == 2);

  // What `kubectl rollout undo` (1.32) sends: the revision-1 ReplicaSet's template without its
  // pod-template-hash label, and its annotations, as a JSON patch of the Deployment.
  auto old_rs = env.rs_named("undo", first_rs);
  REQUIRE(old_rs.has_value());
  json::value tmpl = *at(*old_rs, {"spec", "template"});
  tmpl.as_object()["metadata"].as_object()["labels"].as_object().erase("pod-template-hash");
  json::array patch{json::object{{"op", "replace"}, {"path", "/spec/template"}, {"value", tmpl}}};
  auto r = env.client().patch(kDeployments, "default", "undo", client::PatchType::Json,
                              json::serialize(patch));
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());

  env.wait_rolled_out("undo", 3, "undo:v1");
  auto rss = env.replica_sets("undo");
  CHECK(rss.size() == 2);  // no third ReplicaSet
  auto back = env.rs_named("undo", first_rs);
  REQUIRE(back.has_value());
  CHECK(int_at(*back, {"spec", "replicas"}) == 3);
  CHECK(str_at(*back, {"metadata", "annotations", "deployment.kubernetes.io/revision"}) == "3");
  CHECK(str_at(*back, {"metadata", "annotations", "deployment.kubernetes.io/revision-history"}) ==
        "1");
  REQUIRE(testing::wait_until([&] {
    return str_at(env.get("undo"), {"metadata", "annotations",
                                    "deployment.kubernetes.io/revision"}) == "3";
  }, 30s));
  for (const auto& p : env.pods("undo")) {
    if (!terminating(p)) {
      CHECK(str_at(at(p, {"metadata", "ownerReferences"})->as_array()[0], {"name"}) == first_rs);
    }
  }
}

TEST_CASE("a paused Deployment does not roll out but still scales; resume rolls out") {
  Env env;
  env.create("paused", 2, "paused:v1");
  env.wait_rolled_out("paused", 2, "paused:v1");
  env.patch("paused", R"({"spec":{"paused":true}})");
  env.set_image("paused", "paused:v2");
  env.patch("paused", R"({"spec":{"replicas":4}})");

  // Observed, scaled, and still one ReplicaSet of the old template.
  REQUIRE(testing::wait_until([&] {
    auto d = env.get("paused");
    const auto* p = condition(d, "Progressing");
    return int_at(d, {"status", "observedGeneration"}) == int_at(d, {"metadata", "generation"}) &&
           int_at(d, {"status", "availableReplicas"}) == 4 && p &&
           str_at(*p, {"reason"}) == "DeploymentPaused" && str_at(*p, {"status"}) == "Unknown";
  }, 60s));
  auto rss = env.replica_sets("paused");
  REQUIRE(rss.size() == 1);
  CHECK(int_at(rss[0], {"spec", "replicas"}) == 4);
  CHECK(image_of(*at(rss[0], {"spec", "template"})) == "paused:v1");
  for (const auto& p : env.pods("paused")) CHECK(image_of(p) == "paused:v1");

  env.patch("paused", R"({"spec":{"paused":false}})");
  env.wait_rolled_out("paused", 4, "paused:v2");
  CHECK(env.replica_sets("paused").size() == 2);
}

TEST_CASE("Recreate: every old pod is gone before any new one exists") {
  Env env(testing::NodePlayerOptions{.ready_delay = 20ms});
  env.create("recreate", 3, "recreate:v1",
             [](json::object& spec) { spec["strategy"] = {{"type", "Recreate"}}; });
  env.wait_rolled_out("recreate", 3, "recreate:v1");
  auto [state, rv] = pod_snapshot(env.client(), "recreate");
  env.set_image("recreate", "recreate:v2");
  std::vector<std::string> violations;
  bool done = watch_pods(
      env.client(), "recreate", rv,
      [&](const std::map<std::string, json::value>& s) {
        Counts k = count(s);
        if (k.all_by_image["recreate:v1"] > 0 && k.all_by_image["recreate:v2"] > 0) {
          violations.push_back(fmt::format("{} old and {} new pods at once",
                                           k.all_by_image["recreate:v1"],
                                           k.all_by_image["recreate:v2"]));
        }
      },
      [&](const std::map<std::string, json::value>& s) {
        Counts k = count(s);
        return k.ready == 3 && k.live_by_image["recreate:v2"] == 3;
      },
      std::move(state));
  CHECK(done);
  CHECK_MESSAGE(violations.empty(), (violations.empty() ? std::string() : violations.front()));
  env.wait_rolled_out("recreate", 3, "recreate:v2");
}

TEST_CASE("scaling mid-rollout scales the ReplicaSets in proportion") {
  // Pods of the new template never become ready, so the rollout stops part-way.
  Env env(testing::NodePlayerOptions{.ready = false});
  env.create("prop", 10, "prop:v1", [](json::object& spec) {
    spec["strategy"] = {{"type", "RollingUpdate"},
                        {"rollingUpdate", {{"maxSurge", 3}, {"maxUnavailable", 2}}}};
  });
  auto mark_ready = [&] {
    for (const auto& p : env.pods("prop")) {
      if (image_of(p) == "prop:v1") env.player().set_ready("default", client::object_name(p), true);
    }
  };
  REQUIRE(testing::wait_until([&] {
    mark_ready();
    return env.rolled_out("prop", 10, "prop:v1");
  }, 60s, 50ms));
  env.set_image("prop", "prop:v2");
  // maxUnavailable 2: old goes to 8; maxSurge 3: new goes to 5 (13 pods), then it stalls.
  auto sizes = [&] {
    std::map<std::string, std::int64_t> m;
    for (const auto& rs : env.replica_sets("prop")) {
      m[image_of(*at(rs, {"spec", "template"}))] = int_at(rs, {"spec", "replicas"});
    }
    return m;
  };
  REQUIRE(testing::wait_until([&] {
    auto m = sizes();
    return m["prop:v1"] == 8 && m["prop:v2"] == 5;
  }, 60s));
  env.patch("prop", R"({"spec":{"replicas":20}})");
  // 20 + maxSurge 3 = 23 allowed, 10 to add, shared by the max-replicas annotation (13):
  // old 8 -> round(8*23/13) = 14, new 5 -> round(5*23/13) = 9.
  REQUIRE(testing::wait_until([&] {
    auto m = sizes();
    return m["prop:v1"] == 14 && m["prop:v2"] == 9;
  }, 60s));
  auto d = env.get("prop");
  CHECK(str_at(d, {"metadata", "annotations", "deployment.kubernetes.io/revision"}) == "2");
}

TEST_CASE("a rollout whose pods never get ready exceeds its progress deadline") {
  Env env(testing::NodePlayerOptions{.ready = false});
  env.create("stuck", 2, "stuck:v1",
             [](json::object& spec) { spec["progressDeadlineSeconds"] = 1; });
  REQUIRE(testing::wait_until([&] {
    auto d = env.get("stuck");
    const auto* p = condition(d, "Progressing");
    return p && str_at(*p, {"reason"}) == "ProgressDeadlineExceeded";
  }, 60s));
  auto d = env.get("stuck");
  const auto* p = condition(d, "Progressing");
  CHECK(str_at(*p, {"status"}) == "False");
  auto rs_name = std::string(client::object_name(env.replica_sets("stuck").at(0)));
  CHECK(str_at(*p, {"message"}) == "ReplicaSet \"" + rs_name + "\" has timed out progressing.");
  const auto* a = condition(d, "Available");
  REQUIRE(a);
  CHECK(str_at(*a, {"status"}) == "False");
  CHECK(str_at(*a, {"reason"}) == "MinimumReplicasUnavailable");
  CHECK(int_at(d, {"status", "unavailableReplicas"}) == 2);
  CHECK(int_at(d, {"status", "availableReplicas"}) == 0);
}

TEST_CASE("old ReplicaSets beyond revisionHistoryLimit are deleted once scaled to zero") {
  Env env;
  env.create("hist", 2, "hist:v1", [](json::object& spec) { spec["revisionHistoryLimit"] = 1; });
  env.wait_rolled_out("hist", 2, "hist:v1");
  std::string first(client::object_name(env.replica_sets("hist").at(0)));
  env.set_image("hist", "hist:v2");
  env.wait_rolled_out("hist", 2, "hist:v2");
  env.set_image("hist", "hist:v3");
  env.wait_rolled_out("hist", 2, "hist:v3");
  // The new ReplicaSet and one old one (revision 2) remain; revision 1 is gone.
  REQUIRE(testing::wait_until([&] { return env.replica_sets("hist").size() == 2; }, 60s));
  CHECK_FALSE(env.rs_named("hist", first).has_value());
  std::set<std::string> revisions;
  for (const auto& rs : env.replica_sets("hist")) {
    revisions.insert(str_at(rs, {"metadata", "annotations", "deployment.kubernetes.io/revision"}));
  }
  CHECK(revisions == std::set<std::string>{"2", "3"});
}

TEST_CASE("an orphan ReplicaSet with the Deployment's template is adopted, not duplicated") {
  Env env;
  // An orphan ReplicaSet (e.g. left by `delete --cascade=orphan`) with the same template.
  json::value orphan = {
      {"apiVersion", "apps/v1"},
      {"kind", "ReplicaSet"},
      {"metadata", {{"name", "adopt-old"}, {"namespace", "default"},
                    {"labels", {{"app", "adopt"}, {"pod-template-hash", "old"}}}}},
      {"spec",
       {{"replicas", 2},
        {"selector", {{"matchLabels", {{"app", "adopt"}, {"pod-template-hash", "old"}}}}},
        {"template",
         {{"metadata", {{"labels", {{"app", "adopt"}, {"pod-template-hash", "old"}}}}},
          {"spec", {{"containers", json::array{json::object{{"name", "main"},
                                                            {"image", "adopt:v1"}}}}}}}}}}};
  auto r = env.client().create(kReplicaSets, "default", orphan);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  auto d = env.create("adopt", 2, "adopt:v1");
  env.wait_rolled_out("adopt", 2, "adopt:v1");
  auto rss = env.replica_sets("adopt");
  REQUIRE(rss.size() == 1);
  CHECK(client::object_name(rss[0]) == "adopt-old");
  const auto* owners = at(rss[0], {"metadata", "ownerReferences"});
  REQUIRE(owners);
  REQUIRE(owners->as_array().size() == 1);
  CHECK(str_at(owners->as_array()[0], {"uid"}) == client::object_uid(d));
  CHECK(owners->as_array()[0].at("controller") == json::value(true));
  CHECK(str_at(rss[0], {"metadata", "annotations", "deployment.kubernetes.io/revision"}) == "1");
}

}  // namespace
}  // namespace orch::controller
