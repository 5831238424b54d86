// ControllerManager on an in-process control plane with the ReplicaSet controller: two managers
// against one API (exactly one acts; the other takes over when the first stops), a manager that
// loses its lease stops its controllers and reports it, running without leader election,
// registration rules, factory failures and the default registry. Leader election runs on a
// FakeClock, so no renewal can be missed on a loaded machine.
#include <doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include <boost/json.hpp>

#include "control_plane.hpp"
#include "orch/client/in_process_transport.hpp"
#include "orch/client/resource.hpp"
#include "orch/controller/manager.hpp"
#include "orch/controller/replicaset_controller.hpp"
#include "orch/util/clock.hpp"

namespace orch::controller {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kLeases;
using client::resources::kPods;
using client::resources::kReplicaSets;
using orch::testing::wait_until;
using State = ControllerManager::State;

json::value make_rs(const std::string& name, int replicas) {
  json::object labels{{"app", name}};
  json::object container{{"name", "c"}, {"image", "kuard:1"}};
  json::object tmpl{{"metadata", json::object{{"labels", labels}}},
                    {"spec", json::object{{"containers", json::array{container}}}}};
  json::object spec{{"replicas", replicas},
                    {"selector", json::object{{"matchLabels", labels}}},
                    {"template", tmpl}};
  return json::object{{"apiVersion", "apps/v1"},
                      {"kind", "ReplicaSet"},
                      {"metadata", json::object{{"name", name}, {"namespace", "default"}}},
                      {"spec", spec}};
}

int live_pods(client::Client& c) {
  auto list = c.list_all(kPods, "default");
  if (!list.ok()) return -1;
  int n = 0;
  for (auto& p : list->items) {
    if (!p.at("metadata").as_object().contains("deletionTimestamp")) ++n;
  }
  return n;
}

std::string lease_holder(client::Client& c) {
  auto l = c.get(kLeases, "kube-system", "orch-controller-manager");
  if (!l.ok()) return "";
  const auto* h = l->at("spec").as_object().if_contains("holderIdentity");
  return h && h->is_string() ? std::string(h->get_string()) : "";
}

ControllerManagerOptions manager_options(std::string identity, util::Clock* clock) {
  ControllerManagerOptions o;
  o.identity = std::move(identity);
  o.clock = clock;
  o.lease_duration = 15s;
  o.renew_deadline = 10s;
  o.retry_period = 2s;
  return o;
}

// A transport that fails every request while `fail` is set (a partitioned manager).
class FlakyTransport : public client::Transport {
 public:
  explicit FlakyTransport(std::unique_ptr<client::Transport> inner) : inner_(std::move(inner)) {}
  Result<client::HttpResponse> request(const client::HttpRequest& r) override {
    if (fail.load()) return unavailable("injected failure");
    return inner_->request(r);
  }
  Result<std::unique_ptr<client::ByteStream>> stream(const client::HttpRequest& r) override {
    if (fail.load()) return unavailable("injected failure");
    return inner_->stream(r);
  }
  std::atomic<bool> fail{false};

 private:
  std::unique_ptr<client::Transport> inner_;
};

TEST_CASE("two managers against one API: exactly one acts, the other takes over when it stops") {
  orch::testing::ControlPlane cp;
  REQUIRE(cp.add_node("node-1").ok());
  orch::testing::NodePlayer player(cp.client(), {.bind_pending_to = "node-1"});
  util::FakeClock clock;

  ControllerManager m1(cp.new_client(), manager_options("m1", &clock));
  ControllerManager m2(cp.new_client(), manager_options("m2", &clock));
  REQUIRE(m1.add(replicaset_controller_registration()).ok());
  REQUIRE(m2.add(replicaset_controller_registration()).ok());
  REQUIRE(m1.start().ok());
  REQUIRE(wait_until([&] { return m1.state() == State::kRunning; }));
  CHECK(m1.is_leader());
  CHECK(lease_holder(*cp.client()) == "m1");
  REQUIRE(m2.start().ok());
  clock.advance(3s);  // m2 has tried at least once more, m1 has renewed
  REQUIRE(wait_until([&] { return m1.state() == State::kRunning; }));
  std::this_thread::sleep_for(50ms);
  CHECK(m2.state() == State::kCampaigning);
  CHECK_FALSE(m2.is_leader());
  CHECK(m2.controller(kReplicaSetControllerName) == nullptr);
  CHECK(m1.controller(kReplicaSetControllerName) != nullptr);

  REQUIRE(cp.client()->create(kReplicaSets, "default", make_rs("web", 3)).ok());
  REQUIRE(wait_until([&] { return live_pods(*cp.client()) == 3; }));

  m1.stop();
  CHECK(m1.state() == State::kStopped);
  CHECK_FALSE(m1.is_leader());
  CHECK(lease_holder(*cp.client()).empty());  // released
  clock.advance(3s);  // m2's next retry, long before the lease would have expired
  REQUIRE(wait_until([&] { return m2.state() == State::kRunning; }));
  CHECK(lease_holder(*cp.client()) == "m2");
  // m2 acts now.
  REQUIRE(cp.client()
              ->patch(kReplicaSets, "default", "web", client::PatchType::Merge,
                      R"({"spec":{"replicas":5}})")
              .ok());
  CHECK(wait_until([&] { return live_pods(*cp.client()) == 5; }));
  m2.stop();
  CHECK(m2.state() == State::kStopped);
}

TEST_CASE("a manager that loses its lease stops its controllers and reports it") {
  orch::testing::ControlPlane cp;
  util::FakeClock clock;
  auto flaky = std::make_shared<FlakyTransport>(
      client::make_in_process_transport(cp.server().handler()));
  std::atomic<int> lost_calls{0};
  auto o = manager_options("m1", &clock);
  o.on_leadership_lost = [&] { ++lost_calls; };
  ControllerManager m(std::make_shared<client::Client>(flaky), o);
  REQUIRE(m.add(replicaset_controller_registration()).ok());
  REQUIRE(m.start().ok());
  REQUIRE(wait_until([&] { return m.state() == State::kRunning; }));
  flaky->fail = true;
  CHECK(wait_until([&] {
    if (m.state() == State::kLostLeadership) return true;
    clock.advance(1s);
    return false;
  }));
  CHECK(lost_calls.load() == 1);
  CHECK_FALSE(m.is_leader());
  CHECK(m.controller(kReplicaSetControllerName) == nullptr);
  flaky->fail = false;
  m.stop();
  CHECK(m.state() == State::kLostLeadership);
}

TEST_CASE("without leader election the manager starts its controllers at once") {
  orch::testing::ControlPlane cp;
  REQUIRE(cp.add_node("node-1").ok());
  orch::testing::NodePlayer player(cp.client(), {.bind_pending_to = "node-1"});
  ControllerManagerOptions o;
  o.leader_election = false;
  ControllerManager m(cp.client(), o);
  REQUIRE(m.add(replicaset_controller_registration()).ok());
  CHECK(m.state() == State::kIdle);
  REQUIRE(m.start().ok());
  REQUIRE(wait_until([&] { return m.state() == State::kRunning; }));
  CHECK(m.is_leader());
  REQUIRE(cp.client()->create(kReplicaSets, "default", make_rs("web", 2)).ok());
  CHECK(wait_until([&] { return live_pods(*cp.client()) == 2; }));
  CHECK(lease_holder(*cp.client()).empty());  // no lease taken
  CHECK(m.start().code() == Code::kInvalidArgument);
  m.stop();
  m.stop();
  CHECK(m.state() == State::kStopped);
}

TEST_CASE("registration rules, factory failures and the default registry") {
  orch::testing::ControlPlane cp;
  ControllerManagerOptions o;
  o.leader_election = false;

  SUBCASE("names must be unique and present, factories non-null, before start") {
    ControllerManager m(cp.client(), o);
    CHECK(m.add(replicaset_controller_registration()).ok());
    CHECK(m.add(replicaset_controller_registration()).code() == Code::kInvalidArgument);
    CHECK(m.add("", "", replicaset_controller_registration().factory).code() ==
          Code::kInvalidArgument);
    CHECK(m.add("x", "", nullptr).code() == Code::kInvalidArgument);
    REQUIRE(m.start().ok());
    CHECK(m.add("late", "", replicaset_controller_registration().factory).code() ==
          Code::kInvalidArgument);
    CHECK(m.controller_names() == std::vector<std::string>{"replicaset"});
  }
  SUBCASE("a failing factory fails the manager and stops what was built") {
    ControllerManager m(cp.client(), o);
    REQUIRE(m.add(replicaset_controller_registration()).ok());
    REQUIRE(m.add("broken", "", [](const ControllerContext&) -> Result<std::unique_ptr<Controller>> {
                return invalid_argument("no good");
              }).ok());
    REQUIRE(m.start().ok());
    REQUIRE(wait_until([&] { return m.state() == State::kFailed; }));
    CHECK(m.last_error().code() == Code::kInvalidArgument);
    CHECK(m.last_error().message().find("broken") != std::string::npos);
    CHECK(m.controller(kReplicaSetControllerName) == nullptr);
  }
  SUBCASE("add_default_controllers adds the registry in order") {
    register_default_controller(replicaset_controller_registration());
    ControllerManager m(cp.client(), o);
    REQUIRE(m.add_default_controllers().ok());
    auto names = m.controller_names();
    REQUIRE_FALSE(names.empty());
    CHECK(std::find(names.begin(), names.end(), "replicaset") != names.end());
  }
  SUBCASE("stop before start is fine") {
    ControllerManager m(cp.client(), o);
    m.stop();
    CHECK(m.start().ok());  // started after stop: does nothing
    CHECK(m.state() == State::kStopped);
  }
}

}  // namespace
}  // namespace orch::controller
