// Unit tests of the namespace controller's conditions: the messages Kubernetes writes while a
// namespace is Terminating, and how they update.
#include "orch/controller/namespace_controller.hpp"

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <string>
#include <vector>

namespace json = boost::json;
using namespace orch::controller;

namespace {

constexpr std::string_view kT0 = "2026-01-01T00:00:00Z";
constexpr std::string_view kT1 = "2026-01-01T00:01:00Z";

const json::object* find(const json::value& status, std::string_view type) {
  for (const auto& c : status.at("conditions").as_array()) {
    if (c.at("type").as_string() == type) return &c.as_object();
  }
  return nullptr;
}

}  // namespace

TEST_CASE("failing_conditions words what remains as Kubernetes does") {
  struct Want {
    std::string type, reason, message;
  };
  struct Case {
    const char* name;
    ns_deletion::ContentTotals totals;
    std::vector<std::string> errors;
    std::vector<Want> want;
  };
  const std::vector<Case> cases = {
      {"nothing left", {}, {}, {}},
      {"two pods terminating",
       {{{"pods.", 2}}, {}},
       {},
       {{"NamespaceContentRemaining", "SomeResourcesRemain",
         "Some resources are remaining: pods. has 2 resource instances"}}},
      {"several resources, sorted; zero counts skipped",
       {{{"pods.", 2}, {"deployments.apps", 1}, {"configmaps.", 0}}, {}},
       {},
       {{"NamespaceContentRemaining", "SomeResourcesRemain",
         "Some resources are remaining: deployments.apps has 1 resource instances, pods. has 2 "
         "resource instances"}}},
      {"objects held by finalizers",
       {{{"configmaps.", 3}}, {{"example.com/b", 1}, {"example.com/a", 3}}},
       {},
       {{"NamespaceContentRemaining", "SomeResourcesRemain",
         "Some resources are remaining: configmaps. has 3 resource instances"},
        {"NamespaceFinalizersRemaining", "SomeFinalizersRemain",
         "Some content in the namespace has finalizers remaining: example.com/a in 3 resource "
         "instances, example.com/b in 1 resource instances"}}},
      {"deletions that failed",
       {},
       {"services: boom", "configmaps: bang"},
       {{"NamespaceDeletionContentFailure", "ContentDeletionFailed",
         "Failed to delete all resource types, 2 remaining: configmaps: bang, services: boom"}}},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      auto got = ns_deletion::failing_conditions(c.totals, c.errors, kT0);
      REQUIRE(got.size() == c.want.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        CAPTURE(i);
        const auto& o = got[i].as_object();
        CHECK(o.at("type").as_string() == c.want[i].type);
        CHECK(o.at("status").as_string() == "True");
        CHECK(o.at("reason").as_string() == c.want[i].reason);
        CHECK(o.at("message").as_string() == c.want[i].message);
        CHECK(o.at("lastTransitionTime").as_string() == kT0);
      }
    }
  }
}

TEST_CASE("update_conditions keeps every maintained type, flips and stamps transitions") {
  json::value status = json::parse(R"({"phase":"Terminating","conditions":[
      {"type":"Other","status":"True","reason":"Mine","message":"kept"}]})");

  // First pass: pods remain.
  ns_deletion::ContentTotals totals;
  totals.remaining["pods."] = 2;
  CHECK(ns_deletion::update_conditions(status, ns_deletion::failing_conditions(totals, {}, kT0),
                                       kT0));
  const auto& conds = status.at("conditions").as_array();
  CHECK(conds.size() == 6);
  REQUIRE(find(status, "Other") != nullptr);
  CHECK(find(status, "Other")->at("message").as_string() == "kept");
  struct Want {
    std::string type, status, reason;
  };
  const std::vector<Want> first = {
      {"NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered"},
      {"NamespaceDeletionGVParsingFailure", "False", "ParsedGroupVersions"},
      {"NamespaceDeletionContentFailure", "False", "ContentDeleted"},
      {"NamespaceContentRemaining", "True", "SomeResourcesRemain"},
      {"NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers"},
  };
  for (const auto& w : first) {
    CAPTURE(w.type);
    const auto* c = find(status, w.type);
    REQUIRE(c != nullptr);
    CHECK(c->at("status").as_string() == w.status);
    CHECK(c->at("reason").as_string() == w.reason);
    CHECK(c->at("lastTransitionTime").as_string() == kT0);
  }
  CHECK(find(status, "NamespaceContentRemaining")->at("message").as_string() ==
        "Some resources are remaining: pods. has 2 resource instances");
  CHECK(find(status, "NamespaceDeletionContentFailure")->at("message").as_string() ==
        "All content successfully deleted, may be waiting on finalization");

  SUBCASE("the same state again changes nothing") {
    CHECK_FALSE(ns_deletion::update_conditions(
        status, ns_deletion::failing_conditions(totals, {}, kT1), kT1));
    CHECK(find(status, "NamespaceContentRemaining")->at("lastTransitionTime").as_string() == kT0);
  }
  SUBCASE("a new message with the same status keeps the transition time") {
    totals.remaining["pods."] = 1;
    CHECK(ns_deletion::update_conditions(status,
                                         ns_deletion::failing_conditions(totals, {}, kT1), kT1));
    const auto* c = find(status, "NamespaceContentRemaining");
    CHECK(c->at("message").as_string() ==
          "Some resources are remaining: pods. has 1 resource instances");
    CHECK(c->at("lastTransitionTime").as_string() == kT0);
  }
  SUBCASE("content gone: back to the ok variant, stamped") {
    CHECK(ns_deletion::update_conditions(status, ns_deletion::failing_conditions({}, {}, kT1),
                                         kT1));
    const auto* c = find(status, "NamespaceContentRemaining");
    CHECK(c->at("status").as_string() == "False");
    CHECK(c->at("reason").as_string() == "ContentRemoved");
    CHECK(c->at("message").as_string() == "All content successfully removed");
    CHECK(c->at("lastTransitionTime").as_string() == kT1);
    CHECK(conds.size() == 6);
  }
}

TEST_CASE("update_conditions makes a status object when there is none") {
  json::value status;  // null
  CHECK(ns_deletion::update_conditions(status, {}, kT0));
  CHECK(status.at("conditions").as_array().size() == 5);
}

TEST_CASE("awaits_content_removal looks for kubernetes in spec.finalizers") {
  struct Case {
    const char* json;
    bool want;
  };
  const std::vector<Case> cases = {
      {R"({"spec":{"finalizers":["kubernetes"]}})", true},
      {R"({"spec":{"finalizers":["example.com/x","kubernetes"]}})", true},
      {R"({"spec":{"finalizers":["example.com/x"]}})", false},
      {R"({"spec":{"finalizers":[]}})", false},
      {R"({"spec":{}})", false},
      {R"({"metadata":{"finalizers":["kubernetes"]}})", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.json);
    CHECK(ns_deletion::awaits_content_removal(json::parse(c.json)) == c.want);
  }
}
