// Unit tests of the garbage collector's pure parts: the decision for a dependent, the graph's work
// on changes, the patches it sends and its queue keys.
#include "orch/controller/garbage_collector.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <doctest/doctest.h>
#include <string>
#include <vector>

namespace json = boost::json;
using namespace orch::controller;
using gc::DependentDecision;
using gc::OwnerState;
using gc::WorkItem;

namespace {

const orch::api::ResourceInfo& resource(std::string_view group, std::string_view plural) {
  const auto* r = orch::api::find_resource(group, "v1", plural);
  REQUIRE(r != nullptr);
  return *r;
}

struct Ref {
  std::string uid;
  bool block = false;
  std::string kind = "ReplicaSet";
};

// An object with uid, ownerReferences, finalizers and optionally a deletionTimestamp.
json::value object(std::string name, std::string uid, std::vector<Ref> owners = {},
                   std::vector<std::string> finalizers = {}, bool deleting = false) {
  json::object meta{{"name", name}, {"namespace", "default"}, {"uid", uid},
                    {"resourceVersion", "7"}};
  if (!owners.empty()) {
    json::array refs;
    for (const auto& o : owners) {
      refs.push_back(json::object{{"apiVersion", "apps/v1"},
                                  {"kind", o.kind},
                                  {"name", "owner-" + o.uid},
                                  {"uid", o.uid},
                                  {"controller", true},
                                  {"blockOwnerDeletion", o.block}});
    }
    meta["ownerReferences"] = std::move(refs);
  }
  if (!finalizers.empty()) {
    json::array f;
    for (const auto& x : finalizers) f.push_back(json::string(x));
    meta["finalizers"] = std::move(f);
  }
  if (deleting) meta["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  return json::object{{"metadata", std::move(meta)}};
}

gc::ClassifiedOwner owner(std::string uid, OwnerState state) {
  gc::ClassifiedOwner o;
  o.ref.uid = std::move(uid);
  o.state = state;
  return o;
}

WorkItem del(std::string uid) { return {WorkItem::Kind::kAttemptToDelete, std::move(uid)}; }
WorkItem orphan(std::string uid) { return {WorkItem::Kind::kAttemptToOrphan, std::move(uid)}; }

}  // namespace

TEST_CASE("decide_dependent follows Kubernetes' attemptToDeleteItem") {
  using A = DependentDecision::Action;
  struct Case {
    const char* name;
    std::vector<std::string> finalizers;
    std::vector<gc::ClassifiedOwner> owners;
    bool has_dependents;
    bool dependent_deleting_dependents;
    DependentDecision want;
  };
  const std::vector<Case> cases = {
      {"no owner reference: nothing", {}, {}, false, false, {}},
      {"a solid owner: nothing", {}, {owner("a", OwnerState::kSolid)}, false, false, {}},
      {"the only owner is gone: Background delete",
       {},
       {owner("a", OwnerState::kDangling)},
       false,
       false,
       {A::kDelete, {}, "Background", false}},
      {"every owner gone: Background delete",
       {},
       {owner("a", OwnerState::kDangling), owner("b", OwnerState::kDangling)},
       true,
       false,
       {A::kDelete, {}, "Background", false}},
      {"one owner left: only the dangling reference goes",
       {},
       {owner("a", OwnerState::kDangling), owner("b", OwnerState::kSolid)},
       false,
       false,
       {A::kRemoveOwnerReferences, {"a"}, "", false}},
      {"a solid owner and one deleting in the foreground: the reference to it goes",
       {},
       {owner("a", OwnerState::kSolid), owner("b", OwnerState::kWaitingForDependentsDeletion),
        owner("c", OwnerState::kDangling)},
       false,
       false,
       {A::kRemoveOwnerReferences, {"b", "c"}, "", false}},
      {"owner waiting, dependent has dependents: Foreground delete",
       {},
       {owner("a", OwnerState::kWaitingForDependentsDeletion)},
       true,
       false,
       {A::kDelete, {}, "Foreground", false}},
      {"owner waiting, a dependent of the dependent waits too: unblock first",
       {},
       {owner("a", OwnerState::kWaitingForDependentsDeletion)},
       true,
       true,
       {A::kDelete, {}, "Foreground", true}},
      {"owner waiting, no dependents: Background delete",
       {},
       {owner("a", OwnerState::kWaitingForDependentsDeletion)},
       false,
       false,
       {A::kDelete, {}, "Background", false}},
      {"gone owner, dependent carries the orphan finalizer: Orphan delete",
       {"orphan"},
       {owner("a", OwnerState::kDangling)},
       true,
       false,
       {A::kDelete, {}, "Orphan", false}},
      {"gone owner, dependent carries foregroundDeletion: Foreground delete",
       {"foregroundDeletion"},
       {owner("a", OwnerState::kDangling)},
       true,
       false,
       {A::kDelete, {}, "Foreground", false}},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      auto dependent = object("pod", "p", {}, c.finalizers);
      auto got = gc::decide_dependent(dependent, c.owners, c.has_dependents,
                                      c.dependent_deleting_dependents);
      CHECK(got == c.want);
    }
  }
}

TEST_CASE("owner_references and the deletion predicates read metadata") {
  auto o = object("pod", "p", {{"rs1", true}, {"rs2", false}}, {"foregroundDeletion"}, true);
  auto refs = gc::owner_references(o);
  REQUIRE(refs.size() == 2);
  CHECK(refs[0].uid == "rs1");
  CHECK(refs[0].name == "owner-rs1");
  CHECK(refs[0].kind == "ReplicaSet");
  CHECK(refs[0].api_version == "apps/v1");
  CHECK(refs[0].controller);
  CHECK(refs[0].block_owner_deletion);
  CHECK_FALSE(refs[1].block_owner_deletion);
  CHECK(gc::being_deleted(o));
  CHECK(gc::deleting_dependents(o));
  CHECK_FALSE(gc::orphaning_dependents(o));
  CHECK(gc::orphaning_dependents(object("rs", "r", {}, {"orphan"}, true)));
  CHECK_FALSE(gc::deleting_dependents(object("rs", "r", {}, {"foregroundDeletion"}, false)));
  CHECK(gc::owner_references(json::parse(R"({"metadata":{"ownerReferences":[{"name":"x"}]}})"))
            .empty());
  CHECK(gc::owner_references(json::value(42)).empty());
}

TEST_CASE("patches drop what was asked, keep the rest and pin the resourceVersion") {
  auto o = object("pod", "p", {{"a", true}, {"b", true}}, {"orphan", "example.com/keep"});
  struct Case {
    const char* name;
    std::optional<std::string> got;
    std::optional<std::string> want;
  };
  const std::vector<Case> cases = {
      {"remove one owner reference", gc::remove_owner_references_patch(o, {"a"}),
       R"({"metadata":{"resourceVersion":"7","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"owner-b","uid":"b","controller":true,"blockOwnerDeletion":true}]}})"},
      {"remove every owner reference: null", gc::remove_owner_references_patch(o, {"a", "b"}),
       R"({"metadata":{"resourceVersion":"7","ownerReferences":null}})"},
      {"no such owner: no patch", gc::remove_owner_references_patch(o, {"zzz"}), std::nullopt},
      {"unblock", gc::unblock_owner_references_patch(o),
       R"({"metadata":{"resourceVersion":"7","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"owner-a","uid":"a","controller":true,"blockOwnerDeletion":false},{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"owner-b","uid":"b","controller":true,"blockOwnerDeletion":false}]}})"},
      {"nothing to unblock", gc::unblock_owner_references_patch(object("x", "x", {{"a", false}})),
       std::nullopt},
      {"remove a finalizer", gc::remove_finalizer_patch(o, "orphan"),
       R"({"metadata":{"resourceVersion":"7","finalizers":["example.com/keep"]}})"},
      {"remove the last finalizer: null",
       gc::remove_finalizer_patch(object("x", "x", {}, {"foregroundDeletion"}),
                                  "foregroundDeletion"),
       R"({"metadata":{"resourceVersion":"7","finalizers":null}})"},
      {"finalizer absent: no patch", gc::remove_finalizer_patch(o, "foregroundDeletion"),
       std::nullopt},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      REQUIRE(c.got.has_value() == c.want.has_value());
      if (c.want) CHECK(json::parse(*c.got) == json::parse(*c.want));
    }
  }
}

TEST_CASE("work keys round-trip") {
  CHECK(gc::work_key(del("u-1")) == "delete/u-1");
  CHECK(gc::work_key(orphan("u-1")) == "orphan/u-1");
  CHECK(gc::parse_work_key("delete/u-1") == del("u-1"));
  CHECK(gc::parse_work_key("orphan/u-2") == orphan("u-2"));
  for (const char* bad : {"", "delete", "delete/", "other/x", "/x"}) {
    CAPTURE(bad);
    CHECK_FALSE(gc::parse_work_key(bad).has_value());
  }
}

TEST_CASE("the graph asks for the work each change calls for") {
  const auto& rs = resource("apps", "replicasets");
  const auto& pods = resource("", "pods");
  using Work = std::vector<WorkItem>;
  gc::Graph g;

  SUBCASE("a dependent of an owner the graph has not seen is looked at") {
    CHECK(g.observe(pods, object("p1", "p1", {{"rs"}})) == Work{del("p1")});
    // Observed again unchanged (a resync): nothing new.
    CHECK(g.observe(pods, object("p1", "p1", {{"rs"}})).empty());
    CHECK(g.dependents("rs") == std::vector<std::string>{"p1"});
  }
  SUBCASE("owner first: its dependents need nothing; its deletion looks at them") {
    CHECK(g.observe(rs, object("rs", "rs")).empty());
    CHECK(g.observe(pods, object("p1", "p1", {{"rs", true}})).empty());
    CHECK(g.observe(pods, object("p2", "p2", {{"rs", false}})).empty());
    CHECK(g.size() == 3);
    CHECK(g.blocking_dependents("rs") == std::vector<std::string>{"p1"});
    CHECK(g.forget("rs") == Work{del("p1"), del("p2")});
    CHECK(g.find("rs") == nullptr);
    // The dependents still point at the gone owner.
    CHECK(g.dependents("rs") == std::vector<std::string>{"p1", "p2"});
  }
  SUBCASE("foreground: the owner and its dependents; each dependent gone looks at the owner") {
    CHECK(g.observe(rs, object("rs", "rs")).empty());
    CHECK(g.observe(pods, object("p1", "p1", {{"rs", true}})).empty());
    CHECK(g.observe(pods, object("p2", "p2", {{"rs", true}})).empty());
    CHECK(g.observe(rs, object("rs", "rs", {}, {"foregroundDeletion"}, true)) ==
          Work{del("p1"), del("p2"), del("rs")});
    REQUIRE(g.find("rs") != nullptr);
    CHECK(g.find("rs")->deleting_dependents);
    // Graceful deletion of a pod: nothing to do until it is gone.
    CHECK(g.observe(pods, object("p1", "p1", {{"rs", true}}, {}, true)).empty());
    CHECK(g.forget("p1") == Work{del("rs")});
    // A dependent dropping its blocking reference frees the owner too.
    CHECK(g.observe(pods, object("p2", "p2", {{"rs", false}})) == Work{del("rs")});
    CHECK(g.blocking_dependents("rs").empty());
    // A new dependent of an owner deleting its dependents is looked at.
    CHECK(g.observe(pods, object("p3", "p3", {{"rs", true}})) == Work{del("p3")});
  }
  SUBCASE("a dependent dropping its reference to a waiting owner frees the owner") {
    CHECK(g.observe(rs, object("rs", "rs", {}, {"foregroundDeletion"}, true)) == Work{del("rs")});
    CHECK(g.observe(pods, object("p1", "p1", {{"rs", true}})) == Work{del("p1")});
    CHECK(g.observe(pods, object("p1", "p1")) == Work{del("rs")});
    CHECK(g.dependents("rs").empty());
  }
  SUBCASE("orphan: one orphan item when the finalizer appears") {
    CHECK(g.observe(rs, object("rs", "rs")).empty());
    CHECK(g.observe(rs, object("rs", "rs", {}, {"orphan"}, true)) == Work{orphan("rs")});
    CHECK(g.observe(rs, object("rs", "rs", {}, {"orphan"}, true)).empty());
  }
  SUBCASE("objects without a uid are ignored; forgetting an unknown uid looks at its dependents") {
    CHECK(g.observe(pods, json::parse(R"({"metadata":{"name":"x"}})")).empty());
    CHECK(g.size() == 0);
    CHECK(g.observe(pods, object("p1", "p1", {{"ghost"}})) == Work{del("p1")});
    CHECK(g.forget("ghost") == Work{del("p1")});
  }
  SUBCASE("an owner in another namespace calls for a look, a cluster-scoped one does not") {
    auto elsewhere = object("rs", "rs");
    elsewhere.as_object()["metadata"].as_object()["namespace"] = "other";
    CHECK(g.observe(rs, elsewhere).empty());
    CHECK(g.observe(pods, object("p1", "p1", {{"rs"}})) == Work{del("p1")});
    auto node = json::parse(R"({"metadata":{"name":"node-1","uid":"n1"}})");
    CHECK(g.observe(resource("", "nodes"), node).empty());
    CHECK(g.observe(resource("coordination.k8s.io", "leases"),
                    object("node-1", "l1", {{"n1", false, "Node"}}))
              .empty());
  }
  SUBCASE("a dependent's deletion unlinks it from its owners") {
    CHECK(g.observe(rs, object("rs", "rs")).empty());
    CHECK(g.observe(pods, object("p1", "p1", {{"rs", true}})).empty());
    CHECK(g.forget("p1").empty());
    CHECK(g.dependents("rs").empty());
    CHECK(g.find("p1") == nullptr);
  }
}
