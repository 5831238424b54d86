// Cascading deletion with the real workload controllers, as a control plane runs them: a
// ControllerManager with the Deployment, ReplicaSet, garbage collector and namespace controllers,
// and a NodePlayer playing the node. A deleted Deployment takes its ReplicaSets and pods with it
// (and they are not recreated meanwhile); a deleted namespace takes its Deployment with it.
#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <string>

#include "control_plane.hpp"
#include "orch/client/resource.hpp"
#include "orch/controller/deployment_controller.hpp"
#include "orch/controller/garbage_collector.hpp"
#include "orch/controller/manager.hpp"
#include "orch/controller/namespace_controller.hpp"
#include "orch/controller/replicaset_controller.hpp"

namespace json = boost::json;
namespace resources = orch::client::resources;
using orch::testing::wait_until;

namespace {

struct Cluster {
  orch::testing::ControlPlane cp;
  std::unique_ptr<orch::testing::NodePlayer> player;
  std::unique_ptr<orch::controller::ControllerManager> manager;

  Cluster() {
    REQUIRE(cp.add_node("node-1").ok());
    player = std::make_unique<orch::testing::NodePlayer>(
        cp.client(), orch::testing::NodePlayerOptions{.bind_pending_to = "node-1"});
    manager = std::make_unique<orch::controller::ControllerManager>(
        cp.client(), orch::controller::ControllerManagerOptions{.leader_election = false});
    REQUIRE(manager
                ->add("deployment", "deployment-controller",
                      [](const orch::controller::ControllerContext& ctx) {
                        return orch::controller::new_deployment_controller(ctx);
                      })
                .ok());
    REQUIRE(manager->add(orch::controller::replicaset_controller_registration()).ok());
    REQUIRE(manager->add(orch::controller::garbage_collector_registration()).ok());
    orch::controller::NamespaceControllerOptions ns_options;
    ns_options.content_recheck = std::chrono::milliseconds(200);
    REQUIRE(manager->add(orch::controller::namespace_controller_registration(ns_options)).ok());
    REQUIRE(manager->start().ok());
    REQUIRE(wait_until([&] {
      return manager->state() == orch::controller::ControllerManager::State::kRunning;
    }));
  }
  ~Cluster() {
    manager->stop();
    player->stop();
  }

  const orch::client::Client& client() const { return *cp.client(); }

  std::size_t count(const orch::client::Resource& r, std::string_view ns) const {
    auto list = client().list_all(r, ns);
    return list.ok() ? list->items.size() : 0;
  }

  std::size_t running_pods(std::string_view ns) const {
    auto list = client().list_all(resources::kPods, ns);
    if (!list.ok()) return 0;
    std::size_t n = 0;
    for (const auto& p : list->items) {
      const auto* st = p.as_object().if_contains("status");
      const auto* phase = st && st->is_object() ? st->as_object().if_contains("phase") : nullptr;
      if (phase && phase->is_string() && phase->as_string() == "Running" &&
          !orch::controller::gc::being_deleted(p)) {
        ++n;
      }
    }
    return n;
  }

  void create_deployment(std::string_view ns, std::string_view name, int replicas) {
    std::string text = R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":")" +
                       std::string(name) + R"(","namespace":")" + std::string(ns) +
                       R"("},"spec":{"replicas":)" + std::to_string(replicas) +
                       R"(,"selector":{"matchLabels":{"app":"web"}},
                          "template":{"metadata":{"labels":{"app":"web"}},
                          "spec":{"containers":[{"name":"c","image":"kuard"}]}}}})";
    auto got = client().create(resources::kDeployments, "", json::parse(text));
    REQUIRE_MESSAGE(got.ok(), got.status().to_string());
  }
};

}  // namespace

TEST_CASE("a deleted Deployment takes its ReplicaSets and pods with it, with the real controllers") {
  for (const char* policy : {"Background", "Foreground"}) {
    SUBCASE(policy) {
      Cluster c;
      c.create_deployment("default", "web", 3);
      CHECK(wait_until([&] { return c.running_pods("default") == 3; }));
      CHECK(c.count(resources::kReplicaSets, "default") == 1);

      orch::client::DeleteOptions o;
      o.propagation_policy = policy;
      auto r = c.client().remove(resources::kDeployments, "default", "web", o);
      REQUIRE_MESSAGE(r.ok(), r.status().to_string());
      CHECK(wait_until([&] {
        return c.count(resources::kDeployments, "default") == 0 &&
               c.count(resources::kReplicaSets, "default") == 0 &&
               c.count(resources::kPods, "default") == 0;
      }));
    }
  }
}

TEST_CASE("a deleted namespace takes its Deployment, ReplicaSet and pods with it") {
  Cluster c;
  auto ns = c.client().create(
      resources::kNamespaces, "",
      json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})"));
  REQUIRE(ns.ok());
  c.create_deployment("shop", "web", 2);
  CHECK(wait_until([&] { return c.running_pods("shop") == 2; }));
  REQUIRE(c.client().remove(resources::kNamespaces, "", "shop").ok());
  CHECK(wait_until([&] {
    return c.client().get(resources::kNamespaces, "", "shop").status().code() ==
           orch::Code::kNotFound;
  }));
  CHECK(c.count(resources::kPods, "shop") == 0);
  CHECK(c.count(resources::kReplicaSets, "shop") == 0);
  CHECK(c.count(resources::kDeployments, "shop") == 0);
}
