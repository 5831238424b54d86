// The Endpoints/EndpointSlice controller on an in-process API server with a NodePlayer playing
// the node: ready pods in addresses, not-ready ones in notReadyAddresses, named target ports,
// terminating pods leaving, cleanup on Service delete, user-managed Endpoints left alone.
#include <doctest.h>

#include <boost/json.hpp>

#include <set>
#include <string>

#include "control_plane.hpp"
#include "orch/client/resource.hpp"
#include "orch/controller/endpoints_controller.hpp"
#include "orch/controller/manager.hpp"

namespace orch::controller {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kEndpoints;
using client::resources::kPods;
using client::resources::kServices;
using testing::wait_until;

const client::Resource kSlices{"discovery.k8s.io", "v1", "endpointslices", true};

json::value pod(std::string_view name, std::string_view app = "kuard") {
  return json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + std::string(name) +
                     R"(","labels":{"app":")" + std::string(app) +
                     R"("}},"spec":{"containers":[{"name":"kuard","image":"kuard","ports":[{"name":"http","containerPort":8080}]}]}})");
}

json::value service(std::string_view name, std::string_view target = R"("http")") {
  return json::parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":")" + std::string(name) +
                     R"("},"spec":{"selector":{"app":"kuard"},"ports":[{"name":"web","port":80,"targetPort":)" +
                     std::string(target) + "}]}}");
}

// "ip" of every address (ready) and notReadyAddress in the Endpoints, or nullopt when absent.
struct Seen {
  std::set<std::string> ready, not_ready;
  std::int64_t port = 0;
};
std::optional<Seen> endpoints(client::Client& c, std::string_view name) {
  auto ep = c.get(kEndpoints, "default", name);
  if (!ep.ok()) return std::nullopt;
  Seen s;
  if (auto* subsets = ep->as_object().if_contains("subsets"); subsets && subsets->is_array()) {
    for (auto& sub : subsets->as_array()) {
      auto& o = sub.as_object();
      if (auto* a = o.if_contains("addresses")) {
        for (auto& x : a->as_array()) s.ready.insert(std::string(x.at("targetRef").at("name").as_string()));
      }
      if (auto* a = o.if_contains("notReadyAddresses")) {
        for (auto& x : a->as_array()) s.not_ready.insert(std::string(x.at("targetRef").at("name").as_string()));
      }
      s.port = o.at("ports").at(0).at("port").as_int64();
    }
  }
  return s;
}

struct Fixture {
  Fixture() {
    REQUIRE(cp.add_node("node-1").ok());
    manager = std::make_unique<ControllerManager>(cp.client(), ControllerManagerOptions{.leader_election = false});
    REQUIRE(manager->add(endpoints_controller_registration()).ok());
    REQUIRE(manager->start().ok());
  }
  ~Fixture() {
    player.stop();
    manager->stop();
  }
  testing::ControlPlane cp;
  testing::NodePlayer player{cp.client(), {.bind_pending_to = "node-1"}};
  std::unique_ptr<ControllerManager> manager;
};

TEST_CASE("ready pods matching the selector become the service's endpoints and slice") {
  Fixture f;
  auto& c = *f.cp.client();
  for (auto n : {"a", "b", "c"}) REQUIRE(c.create(kPods, "default", pod(n)).ok());
  REQUIRE(c.create(kPods, "default", pod("other", "nginx")).ok());
  REQUIRE(c.create(kServices, "default", service("kuard")).ok());
  REQUIRE(wait_until([&] {
    auto s = endpoints(c, "kuard");
    return s && s->ready == std::set<std::string>{"a", "b", "c"};
  }));
  auto s = endpoints(c, "kuard");
  CHECK(s->port == 8080);  // targetPort "http" resolved to the container port
  CHECK(s->not_ready.empty());

  REQUIRE(wait_until([&] {
    auto slices = c.list(kSlices, "default", {.label_selector = "kubernetes.io/service-name=kuard"});
    if (!slices.ok() || slices->at("items").as_array().size() != 1) return false;
    auto& sl = slices->at("items").at(0);
    return sl.at("endpoints").as_array().size() == 3 && sl.at("addressType") == "IPv4" &&
           sl.at("ports").at(0).at("port") == 8080 &&
           sl.at("metadata").at("ownerReferences").at(0).at("kind") == "Service";
  }));

  SUBCASE("a pod that stops being ready moves to notReadyAddresses, and back") {
    f.player.set_ready("default", "b", false);
    REQUIRE(wait_until([&] {
      auto s = endpoints(c, "kuard");
      return s && s->ready == std::set<std::string>{"a", "c"} &&
             s->not_ready == std::set<std::string>{"b"};
    }));
    f.player.set_ready("default", "b", true);
    REQUIRE(wait_until([&] {
      auto s = endpoints(c, "kuard");
      return s && s->ready.size() == 3 && s->not_ready.empty();
    }));
  }
  SUBCASE("a deleted pod leaves; a relabelled pod leaves") {
    REQUIRE(c.remove(kPods, "default", "a").ok());
    REQUIRE(c.patch(kPods, "default", "c", client::PatchType::Merge,
                    R"({"metadata":{"labels":{"app":"moved"}}})")
                .ok());
    REQUIRE(wait_until([&] {
      auto s = endpoints(c, "kuard");
      return s && s->ready == std::set<std::string>{"b"};
    }));
  }
  SUBCASE("deleting the service deletes its endpoints and slices") {
    REQUIRE(c.remove(kServices, "default", "kuard").ok());
    REQUIRE(wait_until([&] { return !endpoints(c, "kuard").has_value(); }));
    REQUIRE(wait_until([&] {
      auto slices = c.list(kSlices, "default", {.label_selector = "kubernetes.io/service-name=kuard"});
      return slices.ok() && slices->at("items").as_array().empty();
    }));
  }
}

TEST_CASE("a numeric targetPort is used as is; a selector-less service's endpoints are the user's") {
  Fixture f;
  auto& c = *f.cp.client();
  REQUIRE(c.create(kPods, "default", pod("a")).ok());
  REQUIRE(c.create(kServices, "default", service("num", "9090")).ok());
  REQUIRE(wait_until([&] {
    auto s = endpoints(c, "num");
    return s && s->ready.size() == 1 && s->port == 9090;
  }));

  REQUIRE(c.create(kServices, "default",
                   json::parse(R"({"metadata":{"name":"manual"},"spec":{"ports":[{"port":80}]}})"))
              .ok());
  REQUIRE(c.create(kEndpoints, "default",
                   json::parse(R"({"metadata":{"name":"manual"},"subsets":[{"addresses":[{"ip":"127.0.0.9"}],"ports":[{"port":80}]}]})"))
              .ok());
  // Let the controller see the service (the numeric one above proves it is running), then check
  // the user's endpoints are still as written.
  REQUIRE(c.create(kServices, "default", service("probe", "1234")).ok());
  REQUIRE(wait_until([&] { return endpoints(c, "probe").has_value(); }));
  auto manual = c.get(kEndpoints, "default", "manual");
  REQUIRE(manual.ok());
  CHECK(manual->at("subsets").at(0).at("addresses").at(0).at("ip") == "127.0.0.9");
}

}  // namespace
}  // namespace orch::controller
