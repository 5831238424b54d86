// The Deployment controller's pure functions (lib/controller/deployment_util.hpp): the
// pod-template-hash, maxSurge/maxUnavailable resolution, picking the new ReplicaSet, how far the
// new ReplicaSet may grow, proportional scaling, revision numbering, pod availability and the
// rollout conditions. Cases follow Kubernetes' deployment_util_test.go / sync_test.go where they
// exist.
#include <doctest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "deployment_util.hpp"
#include "orch/api/codec.hpp"
#include "orch/api/int_or_string.hpp"
#include "orch/api/types/apps.hpp"

namespace orch::controller::deployment {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using SysTime = std::chrono::system_clock::time_point;

const SysTime kT0 = SysTime(std::chrono::seconds(1'700'000'000));

api::PodTemplateSpec tmpl(const std::string& image) {
  api::PodTemplateSpec t;
  t.metadata.labels = {{"app", "kuard"}};
  api::Container c;
  c.name = "kuard";
  c.image = image;
  t.spec.containers.push_back(c);
  return t;
}

api::Deployment deploy(std::int32_t replicas, std::optional<api::IntOrString> surge = "25%",
                       std::optional<api::IntOrString> unavailable = "25%") {
  api::Deployment d;
  d.metadata.name = "kuard";
  d.metadata.namespace_ = "default";
  d.metadata.uid = "d-uid";
  d.metadata.generation = 1;
  d.spec.replicas = replicas;
  d.spec.selector = api::LabelSelector{{{"app", "kuard"}}, {}};
  d.spec.template_ = tmpl("kuard:v1");
  d.spec.strategy.type = "RollingUpdate";
  d.spec.strategy.rolling_update = api::RollingUpdateDeployment{unavailable, surge};
  d.spec.revision_history_limit = 10;
  d.spec.progress_deadline_seconds = 600;
  return d;
}

api::ReplicaSet rs(const std::string& name, std::int32_t replicas, std::int64_t created_s,
                   std::int32_t available = 0, std::optional<std::int32_t> max_replicas = {}) {
  api::ReplicaSet r;
  r.metadata.name = name;
  r.metadata.uid = name + "-uid";
  r.metadata.creation_timestamp = api::Time{kT0 + std::chrono::seconds(created_s)};
  r.spec.replicas = replicas;
  r.spec.template_ = tmpl("kuard:" + name);
  r.status.replicas = replicas;
  r.status.available_replicas = available;
  if (max_replicas) r.metadata.annotations[std::string(kMaxReplicasAnnotation)] =
      std::to_string(*max_replicas);
  return r;
}

TEST_CASE("fnv32a and safe_encode_string match Go's hash/fnv and rand.SafeEncodeString") {
  CHECK(fnv32a("") == 0x811c9dc5u);
  CHECK(fnv32a("a") == 0xe40c292cu);
  CHECK(fnv32a("foobar") == 0xbf9cf968u);
  CHECK(fnv32a("bar", fnv32a("foo")) == fnv32a("foobar"));
  // Each decimal digit maps to one letter of "bcdfghjklmnpqrstvwxz2456789" by its byte value.
  CHECK(safe_encode_string("0123456789") == "456789bcdf");
  CHECK(safe_encode_string("") == "");
}

TEST_CASE("canonical_json sorts keys at every level") {
  auto a = json::parse(R"({"b":1,"a":{"y":[{"d":1,"c":2}],"x":null}})");
  auto b = json::parse(R"({"a":{"x":null,"y":[{"c":2,"d":1}]},"b":1})");
  CHECK(canonical_json(a) == canonical_json(b));
  CHECK(canonical_json(a) == R"({"a":{"x":null,"y":[{"c":2,"d":1}]},"b":1})");
}

TEST_CASE("compute_hash: stable, template-sensitive, collision-sensitive, in the safe alphabet") {
  auto t = tmpl("kuard:v1");
  std::string h = compute_hash(t, std::nullopt);
  CHECK(h == compute_hash(tmpl("kuard:v1"), std::nullopt));
  CHECK(h != compute_hash(tmpl("kuard:v2"), std::nullopt));
  CHECK(h != compute_hash(t, 0));
  CHECK(compute_hash(t, 0) != compute_hash(t, 1));
  CHECK(compute_hash(t, 1) == compute_hash(t, 1));
  CHECK_FALSE(h.empty());
  CHECK(h.size() <= 10);
  CHECK(h.find_first_not_of("bcdfghjklmnpqrstvwxz2456789") == std::string::npos);
  // Pinned: a ReplicaSet name must not change between releases, or a restarted controller would
  // create a second ReplicaSet for an unchanged template. (Checked by hand: FNV-32a of the bytes
  // below is 3582360860, "79d67b4db4" in the safe alphabet.)
  CHECK(canonical_json(api::encode(t)) ==
        R"({"metadata":{"creationTimestamp":null,"labels":{"app":"kuard"}},)"
        R"("spec":{"containers":[{"image":"kuard:v1","name":"kuard","resources":{}}]}})");
  CHECK(h == "79d67b4db4");
  CHECK(compute_hash(t, 1) == "5b4b8cbc77");
  api::PodTemplateSpec labelled = t;
  labelled.metadata.labels["pod-template-hash"] = h;
  CHECK(equal_ignore_hash(labelled, t));
  CHECK_FALSE(equal_ignore_hash(labelled, tmpl("kuard:v2")));
}

TEST_CASE("resolve_fenceposts rounds surge up and unavailable down") {
  struct Case {
    std::optional<api::IntOrString> surge, unavailable;
    std::int32_t desired;
    Fenceposts want;
  };
  const std::vector<Case> cases = {
      {"25%", "25%", 10, {3, 2}},
      {"25%", "25%", 4, {1, 1}},
      {"25%", "25%", 1, {1, 0}},
      {"50%", "50%", 5, {3, 2}},
      {1, 0, 5, {1, 0}},
      {0, 2, 5, {0, 2}},
      {0, 0, 5, {0, 1}},                       // both zero: unavailable 1
      {"0%", "1%", 2, {0, 1}},                 // 1% of 2 rounds down to 0
      {std::nullopt, std::nullopt, 3, {0, 1}},  // unset counts as 0
      {"100%", "0%", 3, {3, 0}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.desired);
    auto got = resolve_fenceposts(c.surge, c.unavailable, c.desired);
    REQUIRE(got.ok());
    CHECK(got->max_surge == c.want.max_surge);
    CHECK(got->max_unavailable == c.want.max_unavailable);
  }
  CHECK_FALSE(resolve_fenceposts(api::IntOrString("x%"), 1, 3).ok());
}

TEST_CASE("max_surge and max_unavailable of a deployment") {
  CHECK(max_surge(deploy(10)) == 3);
  CHECK(max_unavailable(deploy(10)) == 2);
  CHECK(max_unavailable(deploy(0)) == 0);
  CHECK(max_unavailable(deploy(2, 0, 5)) == 2);  // never more than replicas
  auto r = deploy(10);
  r.spec.strategy.type = "Recreate";
  r.spec.strategy.rolling_update.reset();
  CHECK(max_surge(r) == 0);
  CHECK(max_unavailable(r) == 0);
}

TEST_CASE("find_new_replica_set: the oldest with an equal template, hash label ignored") {
  auto d = deploy(3);
  auto a = rs("a", 0, 10);
  a.spec.template_ = tmpl("kuard:v1");
  a.spec.template_.metadata.labels["pod-template-hash"] = "abc";
  auto b = rs("b", 0, 5);
  b.spec.template_ = tmpl("kuard:v1");
  b.spec.template_.metadata.labels["pod-template-hash"] = "xyz";
  auto c = rs("c", 3, 1);  // another template
  std::vector<const api::ReplicaSet*> all = {&a, &b, &c};
  CHECK(find_new_replica_set(d, all) == &b);
  CHECK(find_new_replica_set(d, {&c}) == nullptr);
  auto old = find_old_replica_sets(all, &b);
  CHECK(old.size() == 2);
  CHECK(filter_active(all).size() == 1);
}

TEST_CASE("find_active_or_latest") {
  auto n = rs("new", 0, 20);
  auto o1 = rs("o1", 0, 10);
  auto o2 = rs("o2", 0, 5);
  CHECK(find_active_or_latest(&n, {&o1, &o2}) == &n);  // none active: the new one
  CHECK(find_active_or_latest(nullptr, {&o2, &o1}) == &o1);  // none active, no new: newest old
  o2.spec.replicas = 3;
  CHECK(find_active_or_latest(&n, {&o1, &o2}) == &o2);  // the one active
  n.spec.replicas = 1;
  CHECK(find_active_or_latest(&n, {&o1, &o2}) == nullptr);  // two active: proportional
}

TEST_CASE("new_rs_new_replicas: up to replicas + maxSurge pods, never beyond replicas") {
  struct Case {
    const char* name;
    std::int32_t replicas;
    api::IntOrString surge;
    std::int32_t old_spec, old_actual, new_spec;
    std::int32_t want;
  };
  const std::vector<Case> cases = {
      {"start of a rollout", 10, "25%", 10, 10, 0, 3},
      {"surge used up", 10, "25%", 10, 10, 3, 3},
      {"old scaled down makes room", 10, "25%", 7, 7, 3, 6},
      {"capped at replicas", 10, "25%", 1, 1, 9, 10},
      {"scale-down in flight counts", 10, "25%", 7, 9, 3, 4},
      {"surge 0", 4, 0, 4, 4, 0, 0},
      {"surge 0 after old went down", 4, 0, 3, 3, 0, 1},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto d = deploy(c.replicas, c.surge, 1);
    auto old = rs("old", c.old_spec, 0);
    old.status.replicas = c.old_actual;
    auto nrs = rs("new", c.new_spec, 1);
    CHECK(new_rs_new_replicas(d, {&old, &nrs}, nrs) == c.want);
  }
  auto r = deploy(5);
  r.spec.strategy.type = "Recreate";
  auto nrs = rs("new", 0, 1);
  CHECK(new_rs_new_replicas(r, {&nrs}, nrs) == 5);
}

TEST_CASE("proportional_sizes spreads a scaling event over the active ReplicaSets") {
  SUBCASE("5 -> 10 with 3 new and 2 old") {
    auto d = deploy(10, 0, 1);
    auto n = rs("new", 3, 10, 0, 5);
    auto o = rs("old", 2, 0, 0, 5);
    auto sizes = proportional_sizes(d, {&o, &n});
    CHECK(sizes["new"] == 6);
    CHECK(sizes["old"] == 4);
  }
  SUBCASE("10 -> 5 with 6 new and 4 old") {
    auto d = deploy(5, 0, 1);
    auto n = rs("new", 6, 10, 0, 10);
    auto o = rs("old", 4, 0, 0, 10);
    auto sizes = proportional_sizes(d, {&o, &n});
    CHECK(sizes["new"] == 3);
    CHECK(sizes["old"] == 2);
  }
  SUBCASE("leftover goes to the newest of equal sizes when scaling up") {
    auto d = deploy(4, 0, 1);
    auto a = rs("a", 1, 0, 0, 3);
    auto b = rs("b", 1, 1, 0, 3);
    auto c = rs("c", 1, 2, 0, 3);
    auto sizes = proportional_sizes(d, {&a, &b, &c});
    CHECK(sizes["a"] == 1);
    CHECK(sizes["b"] == 1);
    CHECK(sizes["c"] == 2);
  }
  SUBCASE("leftover comes off the oldest of equal sizes when scaling down") {
    auto d = deploy(2, 0, 1);
    auto a = rs("a", 1, 0, 0, 3);
    auto b = rs("b", 1, 1, 0, 3);
    auto c = rs("c", 1, 2, 0, 3);
    auto sizes = proportional_sizes(d, {&a, &b, &c});
    CHECK(sizes["a"] == 0);
    CHECK(sizes["b"] == 1);
    CHECK(sizes["c"] == 1);
  }
  SUBCASE("to zero") {
    auto d = deploy(0, 0, 1);
    auto n = rs("new", 3, 10, 0, 5);
    auto o = rs("old", 2, 0, 0, 5);
    auto sizes = proportional_sizes(d, {&o, &n});
    CHECK(sizes["new"] == 0);
    CHECK(sizes["old"] == 0);
  }
  SUBCASE("with surge: the total becomes replicas + maxSurge") {
    auto d = deploy(20, 2, 0);
    auto n = rs("new", 6, 10, 0, 12);
    auto o = rs("old", 6, 0, 0, 12);
    auto sizes = proportional_sizes(d, {&o, &n});
    CHECK(sizes["new"] + sizes["old"] == 22);
    CHECK(sizes["new"] == 11);
    CHECK(sizes["old"] == 11);
  }
}

TEST_CASE("revision numbering and history on ReplicaSets") {
  auto d = deploy(3);
  d.metadata.annotations = {{"team", "a"},
                            {std::string(kRevisionAnnotation), "7"},
                            {std::string(kLastAppliedAnnotation), "{}"}};
  SUBCASE("a new ReplicaSet gets the revision, copied annotations and replica annotations") {
    auto r = rs("new", 0, 0);
    r.metadata.annotations.clear();
    CHECK(set_new_replica_set_annotations(d, r, 2, false));
    CHECK(r.metadata.annotations[std::string(kRevisionAnnotation)] == "2");
    CHECK(r.metadata.annotations["team"] == "a");
    CHECK(r.metadata.annotations.count(std::string(kLastAppliedAnnotation)) == 0);
    CHECK(r.metadata.annotations[std::string(kDesiredReplicasAnnotation)] == "3");
    CHECK(r.metadata.annotations[std::string(kMaxReplicasAnnotation)] == "4");
    CHECK(r.metadata.annotations.count(std::string(kRevisionHistoryAnnotation)) == 0);
    CHECK_FALSE(set_new_replica_set_annotations(d, r, 2, true));  // nothing to change
  }
  SUBCASE("rolling back to an old ReplicaSet moves its revision into the history") {
    auto r = rs("old", 0, 0);
    r.metadata.annotations = {{std::string(kRevisionAnnotation), "1"}, {"team", "a"}};
    CHECK(set_new_replica_set_annotations(d, r, 3, true));
    CHECK(r.metadata.annotations[std::string(kRevisionAnnotation)] == "3");
    CHECK(r.metadata.annotations[std::string(kRevisionHistoryAnnotation)] == "1");
    CHECK(r.metadata.annotations.count(std::string(kDesiredReplicasAnnotation)) == 0);
    CHECK(set_new_replica_set_annotations(d, r, 5, true));
    CHECK(r.metadata.annotations[std::string(kRevisionHistoryAnnotation)] == "1,3");
    CHECK_FALSE(set_new_replica_set_annotations(d, r, 4, true));  // never lowered
    CHECK(r.metadata.annotations[std::string(kRevisionAnnotation)] == "5");
  }
  SUBCASE("the history is bounded, oldest dropped first") {
    auto r = rs("old", 0, 0);
    r.metadata.annotations = {{std::string(kRevisionAnnotation), "30"},
                              {std::string(kRevisionHistoryAnnotation), "10,20"}};
    CHECK(set_new_replica_set_annotations(d, r, 40, true, 6));
    CHECK(r.metadata.annotations[std::string(kRevisionHistoryAnnotation)] == "20,30");
  }
  SUBCASE("max_revision") {
    auto a = rs("a", 0, 0);
    a.metadata.annotations[std::string(kRevisionAnnotation)] = "4";
    auto b = rs("b", 0, 0);
    b.metadata.annotations[std::string(kRevisionAnnotation)] = "x";  // malformed: 0
    auto c = rs("c", 0, 0);
    c.metadata.annotations[std::string(kRevisionAnnotation)] = "12";
    CHECK(max_revision({&a, &b, &c}) == 12);
    CHECK(max_revision({}) == 0);
    CHECK(lower_revision(a, c));
  }
}

TEST_CASE("pod readiness and availability with minReadySeconds") {
  api::Pod p;
  CHECK_FALSE(pod_ready(p));
  api::PodCondition ready;
  ready.type = "Ready";
  ready.status = "True";
  ready.last_transition_time = api::Time{kT0};
  p.status.conditions.push_back(ready);
  CHECK(pod_ready(p));
  CHECK(pod_available(p, 0, kT0));
  CHECK_FALSE(pod_available(p, 10, kT0 + 9s));
  CHECK(pod_available(p, 10, kT0 + 10s));
  CHECK(pod_available_at(p, 10, kT0 + 3s) == kT0 + 10s);
  CHECK_FALSE(pod_available_at(p, 10, kT0 + 10s).has_value());
  p.status.conditions[0].status = "False";
  CHECK_FALSE(pod_available(p, 0, kT0));
}

TEST_CASE("conditions: set keeps the transition time while the status stays") {
  api::DeploymentStatus s;
  set_condition(s, new_condition(kConditionProgressing, "True", kReasonNewReplicaSet, "a", kT0));
  set_condition(s, new_condition(kConditionProgressing, "True", kReasonReplicaSetUpdated, "b",
                                 kT0 + 5s));
  const auto* c = get_condition(s, kConditionProgressing);
  REQUIRE(c);
  CHECK(c->reason == kReasonReplicaSetUpdated);
  CHECK(c->last_transition_time->value == kT0);
  CHECK(c->last_update_time->value == kT0 + 5s);
  set_condition(s, new_condition(kConditionProgressing, "False", kReasonTimedOut, "c", kT0 + 9s));
  c = get_condition(s, kConditionProgressing);
  CHECK(c->last_transition_time->value == kT0 + 9s);
  CHECK(s.conditions.size() == 1);
  remove_condition(s, kConditionProgressing);
  CHECK(s.conditions.empty());
}

TEST_CASE("rollout_status: progress, completion and the deadline") {
  auto d = deploy(3, 1, 0);
  d.spec.progress_deadline_seconds = 60;
  auto n = rs("new", 3, 1);
  auto o = rs("old", 0, 0);

  SUBCASE("complete: NewReplicaSetAvailable and Available") {
    n.status.replicas = 3;
    n.status.ready_replicas = 3;
    n.status.available_replicas = 3;
    o.status.replicas = 0;
    auto s = rollout_status(d, {&o, &n}, &n, kT0);
    CHECK(s.observed_generation == 1);
    CHECK(s.replicas == 3);
    CHECK(s.updated_replicas == 3);
    CHECK(s.available_replicas == 3);
    CHECK(s.unavailable_replicas == 0);
    REQUIRE(get_condition(s, kConditionProgressing));
    CHECK(get_condition(s, kConditionProgressing)->reason == kReasonNewRSAvailable);
    CHECK(get_condition(s, kConditionProgressing)->message ==
          "ReplicaSet \"new\" has successfully progressed.");
    REQUIRE(get_condition(s, kConditionAvailable));
    CHECK(get_condition(s, kConditionAvailable)->status == "True");
    CHECK(get_condition(s, kConditionAvailable)->reason == kReasonMinimumReplicasAvailable);
    CHECK(deployment_complete(d, s));
  }
  SUBCASE("no progress past the deadline: ProgressDeadlineExceeded") {
    n.status.replicas = 3;
    n.status.available_replicas = 0;
    o.status.replicas = 0;
    d.status.replicas = 3;
    d.status.updated_replicas = 3;
    d.status.conditions.push_back(
        new_condition(kConditionProgressing, "True", kReasonNewReplicaSet, "x", kT0));
    auto early = rollout_status(d, {&o, &n}, &n, kT0 + 30s);
    CHECK(get_condition(early, kConditionProgressing)->reason == kReasonNewReplicaSet);
    CHECK(get_condition(early, kConditionAvailable)->status == "False");
    CHECK(get_condition(early, kConditionAvailable)->reason == kReasonMinimumReplicasUnavailable);
    auto after = stuck_requeue_after(d, early, kT0 + 30s);
    REQUIRE(after.has_value());
    CHECK(*after == std::chrono::nanoseconds(31s));
    auto late = rollout_status(d, {&o, &n}, &n, kT0 + 61s);
    const auto* c = get_condition(late, kConditionProgressing);
    REQUIRE(c);
    CHECK(c->status == "False");
    CHECK(c->reason == kReasonTimedOut);
    CHECK(c->message == "ReplicaSet \"new\" has timed out progressing.");
  }
  SUBCASE("progress moves lastUpdateTime") {
    n.status.replicas = 3;
    n.status.available_replicas = 1;
    d.status.replicas = 3;
    d.status.updated_replicas = 3;
    d.status.conditions.push_back(
        new_condition(kConditionProgressing, "True", kReasonNewReplicaSet, "x", kT0));
    auto s = rollout_status(d, {&o, &n}, &n, kT0 + 50s);
    const auto* c = get_condition(s, kConditionProgressing);
    REQUIRE(c);
    CHECK(c->reason == kReasonReplicaSetUpdated);
    CHECK(c->last_update_time->value == kT0 + 50s);
    CHECK(c->last_transition_time->value == kT0);
  }
}

TEST_CASE("is_saturated") {
  auto d = deploy(3);
  auto n = rs("new", 3, 0, 3);
  CHECK_FALSE(is_saturated(d, &n));  // no desired-replicas annotation
  n.metadata.annotations[std::string(kDesiredReplicasAnnotation)] = "3";
  CHECK(is_saturated(d, &n));
  n.status.available_replicas = 2;
  CHECK_FALSE(is_saturated(d, &n));
  CHECK_FALSE(is_saturated(d, nullptr));
}

}  // namespace
}  // namespace orch::controller::deployment
