// The garbage collector against an in-process API server: cascading deletion in the background
// and the foreground, orphaning, a Deployment -> ReplicaSet -> pods chain, owners that are only
// partly gone, and a reference whose uid no longer matches. A NodePlayer binds the pods and
// completes their graceful deletion, as agents do.
#include "orch/controller/garbage_collector.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <doctest/doctest.h>
#include <memory>
#include <string>
#include <vector>

#include "control_plane.hpp"
#include "orch/client/informer_factory.hpp"
#include "orch/client/resource.hpp"
#include "orch/util/clock.hpp"

namespace json = boost::json;
namespace resources = orch::client::resources;
using orch::client::Resource;
using orch::testing::wait_until;

namespace {

// Control plane + node player + shared informers + a running garbage collector.
struct Harness {
  orch::testing::ControlPlane cp;
  std::unique_ptr<orch::testing::NodePlayer> player;
  std::unique_ptr<orch::client::InformerFactory> informers;
  std::unique_ptr<orch::controller::GarbageCollector> gc;

  Harness() {
    REQUIRE(cp.add_node("node-1").ok());
    player = std::make_unique<orch::testing::NodePlayer>(
        cp.client(), orch::testing::NodePlayerOptions{.bind_pending_to = "node-1"});
    informers = std::make_unique<orch::client::InformerFactory>(cp.client());
    orch::controller::ControllerContext ctx;
    ctx.client = cp.client();
    ctx.informers = informers.get();
    ctx.clock = &orch::util::real_clock();
    auto created = orch::controller::GarbageCollector::create(ctx);
    REQUIRE(created.ok());
    gc = std::move(created).value();
    REQUIRE(informers->start().ok());
    REQUIRE(informers->wait_for_sync(std::chrono::seconds(30)));
    REQUIRE(gc->start().ok());
  }
  ~Harness() {
    gc->stop();
    informers->stop();
    player->stop();
  }

  const orch::client::Client& client() const { return *cp.client(); }

  json::value create(const Resource& r, const std::string& text) {
    auto got = client().create(r, "", json::parse(text));
    REQUIRE_MESSAGE(got.ok(), got.status().to_string());
    return std::move(got).value();
  }

  bool exists(const Resource& r, std::string_view name, std::string_view ns = "default") const {
    return client().get(r, ns, name).ok();
  }

  json::value get(const Resource& r, std::string_view name, std::string_view ns = "default") {
    auto got = client().get(r, ns, name);
    REQUIRE_MESSAGE(got.ok(), got.status().to_string());
    return std::move(got).value();
  }

  void remove(const Resource& r, std::string_view name, std::string propagation = "") {
    orch::client::DeleteOptions o;
    o.propagation_policy = std::move(propagation);
    auto got = client().remove(r, "default", name, o);
    REQUIRE_MESSAGE(got.ok(), got.status().to_string());
  }
};

std::string owner_ref(std::string_view api_version, std::string_view kind, std::string_view name,
                      std::string_view uid, bool block = true, bool controller = true) {
  json::object o{{"apiVersion", api_version}, {"kind", kind},
                 {"name", name},              {"uid", uid},
                 {"controller", controller},  {"blockOwnerDeletion", block}};
  return json::serialize(o);
}

std::string uid_of(const json::value& v) { return std::string(orch::client::object_uid(v)); }

const char* kTemplate = R"("template":{"metadata":{"labels":{"app":"web"}},
    "spec":{"containers":[{"name":"c","image":"kuard"}]}})";

json::value create_deployment(Harness& h, std::string_view name) {
  return h.create(resources::kDeployments,
                  std::string(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":")") +
                      std::string(name) +
                      R"(","namespace":"default"},"spec":{"replicas":2,"selector":{"matchLabels":
                      {"app":"web"}},)" + kTemplate + "}}");
}

json::value create_rs(Harness& h, std::string_view name, const std::string& owners = "") {
  std::string meta = R"({"name":")" + std::string(name) + R"(","namespace":"default")";
  if (!owners.empty()) meta += R"(,"ownerReferences":[)" + owners + "]";
  meta += "}";
  return h.create(resources::kReplicaSets,
                  R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":)" + meta +
                      R"(,"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},)" +
                      kTemplate + "}}");
}

json::value create_pod(Harness& h, std::string_view name, const std::string& owners,
                       const std::string& finalizers = "") {
  std::string meta = R"({"name":")" + std::string(name) +
                     R"(","namespace":"default","labels":{"app":"web"})";
  if (!owners.empty()) meta += R"(,"ownerReferences":[)" + owners + "]";
  if (!finalizers.empty()) meta += R"(,"finalizers":[)" + finalizers + "]";
  meta += "}";
  return h.create(resources::kPods, R"({"apiVersion":"v1","kind":"Pod","metadata":)" + meta +
                                        R"(,"spec":{"containers":[{"name":"c","image":"kuard"}]}})");
}

std::string rs_ref(const json::value& rs, bool block = true) {
  return owner_ref("apps/v1", "ReplicaSet", orch::client::object_name(rs), uid_of(rs), block);
}

// Removes `finalizer` from pod `name`, retrying while other writers (the node player) race it.
void release(Harness& h, std::string_view name, std::string_view finalizer) {
  CHECK(wait_until([&] {
    auto pod = h.client().get(resources::kPods, "default", name);
    if (!pod.ok()) return false;
    auto patch = orch::controller::gc::remove_finalizer_patch(*pod, finalizer);
    if (!patch) return true;
    return h.client()
        .patch(resources::kPods, "default", name, orch::client::PatchType::Merge, *patch)
        .ok();
  }));
}

// Waits until the collector's graph holds every object of `objects`.
void wait_in_graph(Harness& h, const std::vector<json::value>& objects) {
  CHECK(wait_until([&] {
    for (const auto& o : objects) {
      if (!h.gc->in_graph_for_test(uid_of(o))) return false;
    }
    return true;
  }));
}

std::vector<std::string> owner_uids(const json::value& v) {
  std::vector<std::string> out;
  for (const auto& r : orch::controller::gc::owner_references(v)) out.push_back(r.uid);
  return out;
}

}  // namespace

TEST_CASE("Background: deleting a ReplicaSet deletes its pods") {
  Harness h;
  auto rs = create_rs(h, "web");
  for (const char* p : {"web-a", "web-b", "web-c"}) create_pod(h, p, rs_ref(rs));
  // Bound and running first, so their deletion is graceful (the node player finishes it).
  CHECK(wait_until([&] {
    auto p = h.client().get(resources::kPods, "default", "web-c");
    return p.ok() && p->at("spec").as_object().if_contains("nodeName") != nullptr;
  }));
  h.remove(resources::kReplicaSets, "web");  // the default: Background
  CHECK_FALSE(h.exists(resources::kReplicaSets, "web"));
  CHECK(wait_until([&] {
    return !h.exists(resources::kPods, "web-a") && !h.exists(resources::kPods, "web-b") &&
           !h.exists(resources::kPods, "web-c");
  }));
}

TEST_CASE("Foreground: the owner stays until its blocking dependents are gone") {
  Harness h;
  auto rs = create_rs(h, "web");
  create_pod(h, "web-a", rs_ref(rs));
  // Held by a finalizer of someone else's: the pod stays (being deleted) until that is removed.
  create_pod(h, "web-held", rs_ref(rs), R"("example.com/hold")");
  h.remove(resources::kReplicaSets, "web", "Foreground");

  CHECK(wait_until([&] {
    if (h.exists(resources::kPods, "web-a")) return false;
    auto held = h.client().get(resources::kPods, "default", "web-held");
    return held.ok() && orch::controller::gc::being_deleted(*held);
  }));
  // The owner waits, visibly being deleted in the foreground.
  auto owner = h.get(resources::kReplicaSets, "web");
  CHECK(orch::controller::gc::deleting_dependents(owner));

  // Release the held pod: it goes, and so does its owner.
  release(h, "web-held", "example.com/hold");
  CHECK(wait_until([&] {
    return !h.exists(resources::kPods, "web-held") && !h.exists(resources::kReplicaSets, "web");
  }));
}

TEST_CASE("Foreground: a dependent that does not block is deleted, and the owner does not wait") {
  Harness h;
  auto rs = create_rs(h, "web");
  create_pod(h, "web-free", rs_ref(rs, /*block=*/false), R"("example.com/hold")");
  h.remove(resources::kReplicaSets, "web", "Foreground");
  CHECK(wait_until([&] { return !h.exists(resources::kReplicaSets, "web"); }));
  // The pod was deleted too (it stays only for its own finalizer).
  CHECK(wait_until([&] {
    auto pod = h.client().get(resources::kPods, "default", "web-free");
    return pod.ok() && orch::controller::gc::being_deleted(*pod);
  }));
  release(h, "web-free", "example.com/hold");
  CHECK(wait_until([&] { return !h.exists(resources::kPods, "web-free"); }));
}

TEST_CASE("Orphan: the pods keep running without the ownerReference") {
  Harness h;
  auto rs = create_rs(h, "web");
  std::vector<json::value> objects{rs};
  for (const char* p : {"web-a", "web-b"}) objects.push_back(create_pod(h, p, rs_ref(rs)));
  // The collector releases the dependents it knows: let it see the pods before the owner goes.
  wait_in_graph(h, objects);
  h.remove(resources::kReplicaSets, "web", "Orphan");
  CHECK(wait_until([&] { return !h.exists(resources::kReplicaSets, "web"); }));
  for (const char* p : {"web-a", "web-b"}) {
    CAPTURE(p);
    auto pod = h.get(resources::kPods, p);
    CHECK(owner_uids(pod).empty());
    CHECK_FALSE(orch::controller::gc::being_deleted(pod));
  }
}

TEST_CASE("a deleted Deployment takes its ReplicaSets and pods with it") {
  for (const char* policy : {"Background", "Foreground"}) {
    SUBCASE(policy) {
      Harness h;
      auto d = create_deployment(h, "web");
      const std::string d_ref = owner_ref("apps/v1", "Deployment", "web", uid_of(d));
      auto rs1 = create_rs(h, "web-1111", d_ref);
      auto rs2 = create_rs(h, "web-2222", d_ref);
      wait_in_graph(h, {d, rs1, rs2, create_pod(h, "web-1111-a", rs_ref(rs1)),
                        create_pod(h, "web-1111-b", rs_ref(rs1)),
                        create_pod(h, "web-2222-a", rs_ref(rs2))});
      h.remove(resources::kDeployments, "web", policy);
      CHECK(wait_until([&] {
        return !h.exists(resources::kDeployments, "web") &&
               !h.exists(resources::kReplicaSets, "web-1111") &&
               !h.exists(resources::kReplicaSets, "web-2222") &&
               !h.exists(resources::kPods, "web-1111-a") &&
               !h.exists(resources::kPods, "web-1111-b") &&
               !h.exists(resources::kPods, "web-2222-a");
      }));
    }
  }
}

TEST_CASE("a dependent with one live owner left only loses the reference to the gone one") {
  Harness h;
  auto a = create_rs(h, "a");
  auto b = create_rs(h, "b");
  create_pod(h, "shared", rs_ref(a, false) + "," +
                              owner_ref("apps/v1", "ReplicaSet", "b", uid_of(b), false, false));
  h.remove(resources::kReplicaSets, "a");
  CHECK(wait_until([&] {
    auto p = h.client().get(resources::kPods, "default", "shared");
    return p.ok() && owner_uids(*p) == std::vector<std::string>{uid_of(b)};
  }));
  CHECK_FALSE(orch::controller::gc::being_deleted(h.get(resources::kPods, "shared")));
}

TEST_CASE("an owner reference whose uid no longer matches counts as gone") {
  Harness h;
  create_rs(h, "web");
  // Names the live ReplicaSet "web", but an earlier incarnation of it.
  create_pod(h, "stale", owner_ref("apps/v1", "ReplicaSet", "web", "0000-not-the-uid"));
  create_pod(h, "no-such-owner", owner_ref("apps/v1", "ReplicaSet", "gone", "1111-gone"));
  CHECK(wait_until([&] {
    return !h.exists(resources::kPods, "stale") && !h.exists(resources::kPods, "no-such-owner");
  }));
  CHECK(h.exists(resources::kReplicaSets, "web"));
}

TEST_CASE("a namespaced owner in another namespace is no owner") {
  Harness h;
  h.create(resources::kNamespaces,
           R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"other"}})");
  auto elsewhere = h.create(resources::kReplicaSets,
                            std::string(R"({"apiVersion":"apps/v1","kind":"ReplicaSet",
                                "metadata":{"name":"web","namespace":"other"},
                                "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},)") +
                                kTemplate + "}}");
  wait_in_graph(h, {elsewhere});
  create_pod(h, "misplaced", rs_ref(elsewhere));
  CHECK(wait_until([&] { return !h.exists(resources::kPods, "misplaced"); }));
  CHECK(h.exists(resources::kReplicaSets, "web", "other"));
}
