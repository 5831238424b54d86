// Namespace deletion against an in-process API server: the API server keeps a deleted namespace
// Terminating until spec.finalizers is empty (the finalize subresource), and the namespace
// controller (with the garbage collector beside it, as in a controller manager) empties it, shows
// its progress in status.conditions, then finalizes it.
#include "orch/controller/namespace_controller.hpp"

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <memory>
#include <string>
#include <vector>

#include "control_plane.hpp"
#include "orch/client/informer_factory.hpp"
#include "orch/client/resource.hpp"
#include "orch/controller/garbage_collector.hpp"
#include "orch/util/clock.hpp"

namespace json = boost::json;
namespace resources = orch::client::resources;
using orch::client::Resource;
using orch::testing::wait_until;

namespace {

json::value create(const orch::client::Client& c, const Resource& r, const std::string& text) {
  auto got = c.create(r, "", json::parse(text));
  REQUIRE_MESSAGE(got.ok(), got.status().to_string());
  return std::move(got).value();
}

void create_namespace(const orch::client::Client& c, std::string_view name) {
  create(c, resources::kNamespaces,
         R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + std::string(name) +
             R"("}})");
}

void create_pod(const orch::client::Client& c, std::string_view ns, std::string_view name) {
  create(c, resources::kPods,
         R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + std::string(name) +
             R"(","namespace":")" + std::string(ns) +
             R"("},"spec":{"containers":[{"name":"c","image":"kuard"}]}})");
}

bool exists(const orch::client::Client& c, const Resource& r, std::string_view ns,
            std::string_view name) {
  return c.get(r, ns, name).ok();
}

std::string phase(const json::value& ns) {
  const auto* st = ns.as_object().if_contains("status");
  if (!st || !st->is_object()) return "";
  const auto* p = st->as_object().if_contains("phase");
  return p && p->is_string() ? std::string(p->as_string()) : "";
}

std::string field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

// The condition of `type` in a namespace, or null.
const json::object* condition(const json::value& ns, std::string_view type) {
  const auto* st = ns.as_object().if_contains("status");
  if (!st || !st->is_object()) return nullptr;
  const auto* cs = st->as_object().if_contains("conditions");
  if (!cs || !cs->is_array()) return nullptr;
  for (const auto& c : cs->as_array()) {
    if (c.is_object() && field(c.as_object(), "type") == type) return &c.as_object();
  }
  return nullptr;
}

}  // namespace

// The API server part (lib/apiserver/rest_handler.cpp): spec.finalizers hold a deleted namespace.
TEST_CASE("apiserver: a deleted namespace stays Terminating until finalize empties spec.finalizers") {
  orch::testing::ControlPlane cp;
  const auto& c = *cp.client();
  create_namespace(c, "held");
  auto ns = c.get(resources::kNamespaces, "", "held");
  REQUIRE(ns.ok());
  CHECK(orch::controller::ns_deletion::awaits_content_removal(*ns));

  REQUIRE(c.remove(resources::kNamespaces, "", "held").ok());
  ns = c.get(resources::kNamespaces, "", "held");
  REQUIRE_MESSAGE(ns.ok(), ns.status().to_string());
  CHECK(phase(*ns) == "Terminating");
  CHECK(orch::controller::gc::being_deleted(*ns));
  // New content is refused meanwhile.
  auto refused = c.create(resources::kConfigMaps, "held",
                          json::parse(R"({"apiVersion":"v1","kind":"ConfigMap",
                                          "metadata":{"name":"x","namespace":"held"}})"));
  CHECK(refused.status().code() == orch::Code::kPermissionDenied);

  // A status write keeps it (and cannot change spec.finalizers); so does a plain update.
  json::value next = *ns;
  next.as_object()["status"].as_object()["conditions"] = json::array{};
  auto written = c.update_status(resources::kNamespaces, "", next);
  REQUIRE_MESSAGE(written.ok(), written.status().to_string());
  json::value plain = *written;
  plain.as_object()["spec"] = json::object{{"finalizers", json::array{}}};
  auto updated = c.update(resources::kNamespaces, "", plain);
  REQUIRE_MESSAGE(updated.ok(), updated.status().to_string());
  ns = c.get(resources::kNamespaces, "", "held");
  REQUIRE(ns.ok());
  CHECK(orch::controller::ns_deletion::awaits_content_removal(*ns));

  // Finalize with no finalizer left: gone.
  json::value fin = *ns;
  fin.as_object()["spec"] = json::object{{"finalizers", json::array{}}};
  auto finalized = c.update_subresource(resources::kNamespaces, "", "held", "finalize", fin);
  REQUIRE_MESSAGE(finalized.ok(), finalized.status().to_string());
  CHECK(c.get(resources::kNamespaces, "", "held").status().code() == orch::Code::kNotFound);
}

TEST_CASE("apiserver: finalize keeps the namespace while another finalizer remains") {
  orch::testing::ControlPlane cp;
  const auto& c = *cp.client();
  create(c, resources::kNamespaces,
         R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"two"},
             "spec":{"finalizers":["kubernetes","example.com/other"]}})");
  REQUIRE(c.remove(resources::kNamespaces, "", "two").ok());
  auto ns = c.get(resources::kNamespaces, "", "two");
  REQUIRE(ns.ok());
  json::value fin = *ns;
  fin.as_object()["spec"] = json::object{{"finalizers", json::array{"example.com/other"}}};
  REQUIRE(c.update_subresource(resources::kNamespaces, "", "two", "finalize", fin).ok());
  ns = c.get(resources::kNamespaces, "", "two");
  REQUIRE(ns.ok());
  CHECK_FALSE(orch::controller::ns_deletion::awaits_content_removal(*ns));
  CHECK(phase(*ns) == "Terminating");
  fin = *ns;
  fin.as_object()["spec"] = json::object{{"finalizers", json::array{}}};
  REQUIRE(c.update_subresource(resources::kNamespaces, "", "two", "finalize", fin).ok());
  CHECK(c.get(resources::kNamespaces, "", "two").status().code() == orch::Code::kNotFound);
}

TEST_CASE("deleting a namespace deletes everything in it, then the namespace") {
  orch::testing::ControlPlane cp;
  REQUIRE(cp.add_node("node-1").ok());
  const auto& c = *cp.client();
  // The player binds pods but does not finish their deletion: the test plays that part, so the
  // namespace is seen waiting for its pods.
  orch::testing::NodePlayer player(
      cp.client(), {.complete_deletions = false, .bind_pending_to = "node-1"});
  orch::client::InformerFactory informers(cp.client());
  orch::controller::ControllerContext ctx;
  ctx.client = cp.client();
  ctx.informers = &informers;
  ctx.clock = &orch::util::real_clock();
  auto nsc = orch::controller::NamespaceController::create(
      ctx, {.content_recheck = std::chrono::milliseconds(100)});
  REQUIRE(nsc.ok());
  auto gc = orch::controller::GarbageCollector::create(ctx);
  REQUIRE(gc.ok());
  REQUIRE(informers.start().ok());
  REQUIRE(informers.wait_for_sync(std::chrono::seconds(30)));
  REQUIRE((*nsc)->start().ok());
  REQUIRE((*gc)->start().ok());

  create_namespace(c, "doomed");
  create_pod(c, "doomed", "a");
  create_pod(c, "doomed", "b");
  create(c, resources::kConfigMaps,
         R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"conf","namespace":"doomed"},
             "data":{"k":"v"}})");
  create(c, resources::kServices,
         R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"doomed"},
             "spec":{"selector":{"app":"web"},"ports":[{"port":80}]}})");
  // Another namespace's objects are left alone.
  create(c, resources::kConfigMaps,
         R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"conf","namespace":"default"}})");
  CHECK(wait_until([&] {
    for (const char* p : {"a", "b"}) {
      auto pod = c.get(resources::kPods, "doomed", p);
      if (!pod.ok() || !pod->at("spec").as_object().if_contains("nodeName")) return false;
    }
    return true;
  }));

  REQUIRE(c.remove(resources::kNamespaces, "", "doomed").ok());

  // Everything but the terminating pods goes; the namespace says what it waits for.
  CHECK(wait_until([&] {
    auto ns = c.get(resources::kNamespaces, "", "doomed");
    if (!ns.ok()) return false;
    const auto* remaining = condition(*ns, "NamespaceContentRemaining");
    return remaining && field(*remaining, "status") == "True" &&
           field(*remaining, "message") ==
               "Some resources are remaining: pods. has 2 resource instances" &&
           !exists(c, resources::kConfigMaps, "doomed", "conf") &&
           !exists(c, resources::kServices, "doomed", "web");
  }));
  {
    auto ns = c.get(resources::kNamespaces, "", "doomed");
    REQUIRE(ns.ok());
    CHECK(phase(*ns) == "Terminating");
    const auto* remaining = condition(*ns, "NamespaceContentRemaining");
    REQUIRE(remaining != nullptr);
    CHECK(field(*remaining, "reason") == "SomeResourcesRemain");
    const auto* failure = condition(*ns, "NamespaceDeletionContentFailure");
    REQUIRE(failure != nullptr);
    CHECK(field(*failure, "status") == "False");
    CHECK(field(*failure, "reason") == "ContentDeleted");
    const auto* finalizers = condition(*ns, "NamespaceFinalizersRemaining");
    REQUIRE(finalizers != nullptr);
    CHECK(field(*finalizers, "status") == "False");
    CHECK(condition(*ns, "NamespaceDeletionDiscoveryFailure") != nullptr);
    CHECK(condition(*ns, "NamespaceDeletionGVParsingFailure") != nullptr);
    // The pods are being deleted gracefully.
    for (const char* p : {"a", "b"}) {
      auto pod = c.get(resources::kPods, "doomed", p);
      REQUIRE(pod.ok());
      CHECK(orch::controller::gc::being_deleted(*pod));
    }
  }

  // The node finishes the pods; the namespace goes.
  orch::client::DeleteOptions now;
  now.grace_period_seconds = 0;
  for (const char* p : {"a", "b"}) {
    auto r = c.remove(resources::kPods, "doomed", p, now);
    CHECK((r.ok() || r.status().code() == orch::Code::kNotFound));
  }
  CHECK(wait_until([&] {
    return c.get(resources::kNamespaces, "", "doomed").status().code() == orch::Code::kNotFound;
  }));
  CHECK(exists(c, resources::kConfigMaps, "default", "conf"));
  CHECK(exists(c, resources::kNamespaces, "", "default"));

  (*gc)->stop();
  (*nsc)->stop();
  informers.stop();
  player.stop();
}

TEST_CASE("a namespace's ReplicaSet and its pods go with it; an Active namespace is left alone") {
  orch::testing::ControlPlane cp;
  REQUIRE(cp.add_node("node-1").ok());
  const auto& c = *cp.client();
  orch::testing::NodePlayer player(cp.client(), {.bind_pending_to = "node-1"});
  orch::client::InformerFactory informers(cp.client());
  orch::controller::ControllerContext ctx;
  ctx.client = cp.client();
  ctx.informers = &informers;
  ctx.clock = &orch::util::real_clock();
  auto nsc = orch::controller::new_namespace_controller(ctx);
  REQUIRE(nsc.ok());
  auto gc = orch::controller::new_garbage_collector(ctx);
  REQUIRE(gc.ok());
  REQUIRE(informers.start().ok());
  REQUIRE(informers.wait_for_sync(std::chrono::seconds(30)));
  REQUIRE((*nsc)->start().ok());
  REQUIRE((*gc)->start().ok());

  create_namespace(c, "keep");
  create_namespace(c, "gone");
  create(c, resources::kConfigMaps,
         R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"conf","namespace":"keep"}})");
  auto rs = create(c, resources::kReplicaSets,
                   R"({"apiVersion":"apps/v1","kind":"ReplicaSet",
                       "metadata":{"name":"web","namespace":"gone"},
                       "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},
                               "template":{"metadata":{"labels":{"app":"web"}},
                                           "spec":{"containers":[{"name":"c","image":"kuard"}]}}}})");
  create(c, resources::kPods,
         R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-x","namespace":"gone",
             "labels":{"app":"web"},"ownerReferences":[{"apiVersion":"apps/v1",
             "kind":"ReplicaSet","name":"web","uid":")" +
             std::string(orch::client::object_uid(rs)) +
             R"(","controller":true,"blockOwnerDeletion":true}]},
             "spec":{"containers":[{"name":"c","image":"kuard"}]}})");

  REQUIRE(c.remove(resources::kNamespaces, "", "gone").ok());
  CHECK(wait_until([&] {
    return c.get(resources::kNamespaces, "", "gone").status().code() == orch::Code::kNotFound;
  }));
  CHECK_FALSE(exists(c, resources::kReplicaSets, "gone", "web"));
  CHECK_FALSE(exists(c, resources::kPods, "gone", "web-x"));
  auto keep = c.get(resources::kNamespaces, "", "keep");
  REQUIRE(keep.ok());
  CHECK(phase(*keep) == "Active");
  CHECK(exists(c, resources::kConfigMaps, "keep", "conf"));

  (*gc)->stop();
  (*nsc)->stop();
  informers.stop();
  player.stop();
}

TEST_CASE("an object held by a finalizer holds the namespace, and the conditions say so") {
  orch::testing::ControlPlane cp;
  const auto& c = *cp.client();
  orch::client::InformerFactory informers(cp.client());
  orch::controller::ControllerContext ctx;
  ctx.client = cp.client();
  ctx.informers = &informers;
  ctx.clock = &orch::util::real_clock();
  auto nsc = orch::controller::NamespaceController::create(
      ctx, {.content_recheck = std::chrono::milliseconds(100)});
  REQUIRE(nsc.ok());
  REQUIRE(informers.start().ok());
  REQUIRE(informers.wait_for_sync(std::chrono::seconds(30)));
  REQUIRE((*nsc)->start().ok());

  create_namespace(c, "held");
  create(c, resources::kConfigMaps,
         R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"conf","namespace":"held",
             "finalizers":["example.com/hold"]}})");
  REQUIRE(c.remove(resources::kNamespaces, "", "held").ok());
  CHECK(wait_until([&] {
    auto ns = c.get(resources::kNamespaces, "", "held");
    if (!ns.ok()) return false;
    const auto* remaining = condition(*ns, "NamespaceContentRemaining");
    const auto* finalizers = condition(*ns, "NamespaceFinalizersRemaining");
    return remaining && finalizers &&
           field(*remaining, "message") ==
               "Some resources are remaining: configmaps. has 1 resource instances" &&
           field(*finalizers, "status") == "True" &&
           field(*finalizers, "reason") == "SomeFinalizersRemain" &&
           field(*finalizers, "message") ==
               "Some content in the namespace has finalizers remaining: example.com/hold in 1 "
               "resource instances";
  }));
  // Whoever owns the finalizer lets go: the ConfigMap goes, then the namespace.
  auto patched = c.patch(resources::kConfigMaps, "held", "conf",
                         orch::client::PatchType::Merge, R"({"metadata":{"finalizers":null}})");
  REQUIRE_MESSAGE(patched.ok(), patched.status().to_string());
  CHECK(wait_until([&] {
    return c.get(resources::kNamespaces, "", "held").status().code() == orch::Code::kNotFound;
  }));

  (*nsc)->stop();
  informers.stop();
}
