// The StatefulSet controller's pure parts: identities, revisions, the pod and claims of one
// ordinal, and the plan of one sync (OrderedReady/Parallel, scale down, rolling update with a
// partition, OnDelete).
#include <doctest.h>

#include <boost/json.hpp>

#include <string>
#include <vector>

#include "statefulset_controller_util.hpp"

namespace orch::controller::statefulset {
namespace {

namespace json = boost::json;
using Kind = Action::Kind;

TEST_CASE("pod names and ordinals round-trip; other names have no ordinal") {
  CHECK(pod_name("web", 0) == "web-0");
  CHECK(pod_name("web", 12) == "web-12");
  struct Case {
    const char* pod;
    std::optional<int> ordinal;
  };
  const std::vector<Case> cases = {
      {"web-0", 0}, {"web-12", 12}, {"web-", std::nullopt}, {"web", std::nullopt},
      {"web-01", std::nullopt}, {"web-x", std::nullopt}, {"webs-1", std::nullopt},
      {"web-1-2", std::nullopt}, {"web--1", std::nullopt}, {"api-1", std::nullopt}};
  for (const auto& c : cases) {
    CAPTURE(c.pod);
    CHECK(parse_ordinal("web", c.pod) == c.ordinal);
  }
  CHECK(claim_name("data", "web", 2) == "data-web-2");
}

TEST_CASE("the revision depends only on the template and names the set") {
  json::value a = json::parse(R"({"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx:1"}]}})");
  json::value b = json::parse(R"({"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx:2"}]}})");
  std::string ra = revision_of("web", a);
  CHECK(ra == revision_of("web", a));
  CHECK(ra != revision_of("web", b));
  CHECK(ra.starts_with("web-"));
  CHECK(ra.find_first_not_of("bcdfghjklmnpqrstvwxz2456789", 4) == std::string::npos);
}

json::value make_set() {
  return json::parse(R"({"apiVersion":"apps/v1","kind":"StatefulSet",
    "metadata":{"name":"web","namespace":"default","uid":"u-1"},
    "spec":{"serviceName":"nginx","replicas":3,"selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"},"annotations":{"a":"b"}},
        "spec":{"containers":[{"name":"c","image":"nginx"}],
                "volumes":[{"name":"data","emptyDir":{}},{"name":"cfg","emptyDir":{}}]}},
      "volumeClaimTemplates":[{"metadata":{"name":"data","labels":{"tier":"db"}},
        "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}})");
}

TEST_CASE("the pod of an ordinal carries its identity, owner and claim") {
  json::value set = make_set();
  json::value pod = build_pod(set, set.at("spec").at("template"), "web-abc", 1);
  const auto& meta = pod.at("metadata");
  CHECK(meta.at("name") == "web-1");
  CHECK(meta.at("namespace") == "default");
  CHECK(meta.at("labels").at("app") == "web");
  CHECK(meta.at("labels").at(kPodNameLabel) == "web-1");
  CHECK(meta.at("labels").at(kPodIndexLabel) == "1");
  CHECK(meta.at("labels").at(kRevisionLabel) == "web-abc");
  CHECK(meta.at("annotations").at("a") == "b");
  const auto& ref = meta.at("ownerReferences").at(0);
  CHECK(ref.at("kind") == "StatefulSet");
  CHECK(ref.at("uid") == "u-1");
  CHECK(ref.at("controller") == true);
  CHECK(pod.at("spec").at("hostname") == "web-1");
  CHECK(pod.at("spec").at("subdomain") == "nginx");
  const auto& vols = pod.at("spec").at("volumes").as_array();
  REQUIRE(vols.size() == 2);  // "data" replaced by the claim, "cfg" kept
  CHECK(vols[0].at("name") == "data");
  CHECK(vols[0].at("persistentVolumeClaim").at("claimName") == "data-web-1");
  CHECK(vols[1].at("name") == "cfg");
}

TEST_CASE("claims are named per ordinal and labelled with the selector") {
  auto claims = build_claims(make_set(), 2);
  REQUIRE(claims.size() == 1);
  CHECK(claims[0].at("kind") == "PersistentVolumeClaim");
  CHECK(claims[0].at("metadata").at("name") == "data-web-2");
  CHECK(claims[0].at("metadata").at("labels").at("app") == "web");
  CHECK(claims[0].at("metadata").at("labels").at("tier") == "db");
  CHECK(!claims[0].at("metadata").as_object().contains("ownerReferences"));
  CHECK(claims[0].at("spec").at("accessModes").at(0) == "ReadWriteOnce");
}

PodState healthy(int ord, const char* rev = "new") { return {ord, false, false, true, rev}; }
PodState unready(int ord, const char* rev = "new") { return {ord, false, false, false, rev}; }
PodState terminating(int ord, const char* rev = "new") { return {ord, true, false, false, rev}; }
PodState failed(int ord, const char* rev = "new") { return {ord, false, true, false, rev}; }

Action create(int ord, const char* rev = "new") { return {Kind::kCreate, ord, rev}; }
Action del(int ord) { return {Kind::kDelete, ord, ""}; }

TEST_CASE("plan: one sync's creates and deletes") {
  struct Case {
    const char* name;
    SetSpec spec;
    std::vector<PodState> pods;
    std::vector<Action> want;
  };
  SetSpec ordered{.replicas = 3, .current_revision = "new", .update_revision = "new"};
  SetSpec parallel = ordered;
  parallel.parallel = true;
  SetSpec rolling{.replicas = 3, .current_revision = "old", .update_revision = "new"};
  SetSpec partitioned = rolling;
  partitioned.partition = 2;
  SetSpec on_delete = rolling;
  on_delete.on_delete = true;
  SetSpec two = ordered;
  two.replicas = 2;
  SetSpec two_parallel = parallel;
  two_parallel.replicas = 1;
  const std::vector<Case> cases = {
      {"ordered: empty creates web-0 only", ordered, {}, {create(0)}},
      {"ordered: waits for web-0 to be ready", ordered, {unready(0)}, {}},
      {"ordered: web-1 after web-0 is ready", ordered, {healthy(0)}, {create(1)}},
      {"ordered: fills the lowest gap first", ordered, {healthy(0), healthy(2)}, {create(1)}},
      {"ordered: all healthy, nothing to do", ordered, {healthy(0), healthy(1), healthy(2)}, {}},
      {"ordered: a terminating pod blocks its replacement and the rest", ordered,
       {terminating(0)}, {}},
      {"ordered: a failed pod is deleted first", ordered, {failed(0), healthy(1)}, {del(0)}},
      {"parallel: creates every missing pod", parallel, {}, {create(0), create(1), create(2)}},
      {"parallel: does not wait for readiness", parallel, {unready(0)}, {create(1), create(2)}},
      {"parallel: a terminating pod is not replaced", parallel, {terminating(1)},
       {create(0), create(2)}},
      {"scale down: highest ordinal first, one at a time", two,
       {healthy(0), healthy(1), healthy(2), healthy(3)}, {del(3)}},
      {"scale down: waits for the terminating one", two,
       {healthy(0), healthy(1), healthy(2), terminating(3)}, {}},
      {"scale down: blocked while a lower pod is unhealthy", two,
       {healthy(0), healthy(1), unready(2), healthy(3)}, {}},
      {"scale down: the unhealthy lowest condemned pod may go", two,
       {healthy(0), healthy(1), unready(2)}, {del(2)}},
      {"scale down parallel: all at once", two_parallel,
       {healthy(0), healthy(1), healthy(2)}, {del(2), del(1)}},
      {"rolling: highest ordinal first", rolling,
       {healthy(0, "old"), healthy(1, "old"), healthy(2, "old")}, {del(2)}},
      {"rolling: recreated at the update revision", rolling,
       {healthy(0, "old"), healthy(1, "old")}, {create(2, "new")}},
      {"rolling: waits for the new pod to be ready", rolling,
       {healthy(0, "old"), healthy(1, "old"), unready(2, "new")}, {}},
      {"rolling: next one down", rolling,
       {healthy(0, "old"), healthy(1, "old"), healthy(2, "new")}, {del(1)}},
      {"rolling: done", rolling, {healthy(0, "new"), healthy(1, "new"), healthy(2, "new")}, {}},
      {"partition: ordinals below keep the old revision", partitioned,
       {healthy(0, "old"), healthy(1, "old"), healthy(2, "new")}, {}},
      {"partition: ordinal at the partition is updated", partitioned,
       {healthy(0, "old"), healthy(1, "old"), healthy(2, "old")}, {del(2)}},
      {"partition: a missing pod below it comes back at the current revision", partitioned,
       {healthy(1, "old"), healthy(2, "new")}, {create(0, "old")}},
      {"on delete: old pods stay", on_delete,
       {healthy(0, "old"), healthy(1, "old"), healthy(2, "old")}, {}},
      {"on delete: a deleted pod comes back new", on_delete,
       {healthy(0, "old"), healthy(2, "old")}, {create(1, "new")}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto got = plan(c.spec, c.pods);
    REQUIRE(got.size() == c.want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CAPTURE(i);
      CHECK(got[i] == c.want[i]);
    }
  }
}

}  // namespace
}  // namespace orch::controller::statefulset
