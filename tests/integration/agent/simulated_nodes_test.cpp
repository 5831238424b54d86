// Simulated nodes on an in-process API server: 500 nodes register and stay Ready with their
// leases renewing; pods bound to them go Running and Ready (or fail on demand); deletion
// completes at once; a stopped node's lease stops moving.
#include <doctest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>

#include <boost/json.hpp>

#include "control_plane.hpp"
#include "orch/agent/simulated_nodes.hpp"
#include "orch/client/resource.hpp"

namespace orch::agent {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kLeases;
using client::resources::kNodes;
using client::resources::kPods;
using orch::testing::wait_until;

std::string str(const json::value& v, std::initializer_list<std::string_view> keys) {
  const json::value* cur = &v;
  for (auto k : keys) {
    if (!cur->is_object() || !cur->as_object().contains(k)) return {};
    cur = &cur->as_object().at(k);
  }
  return cur->is_string() ? std::string(cur->as_string()) : std::string();
}

bool node_ready(const json::value& node) {
  const auto* st = node.as_object().if_contains("status");
  if (!st || !st->as_object().contains("conditions")) return false;
  for (const auto& c : st->as_object().at("conditions").as_array()) {
    if (str(c, {"type"}) == "Ready") return str(c, {"status"}) == "True";
  }
  return false;
}

bool pod_ready(const json::value& pod) {
  const auto* st = pod.as_object().if_contains("status");
  if (!st || !st->as_object().contains("conditions")) return false;
  for (const auto& c : st->as_object().at("conditions").as_array()) {
    if (str(c, {"type"}) == "Ready") return str(c, {"status"}) == "True";
  }
  return false;
}

std::map<std::string, std::string> renew_times(client::Client& c) {
  std::map<std::string, std::string> out;
  auto leases = c.list_all(kLeases, "kube-node-lease");
  if (!leases.ok()) return out;
  for (const auto& l : leases->items) out[str(l, {"metadata", "name"})] = str(l, {"spec", "renewTime"});
  return out;
}

json::value pod_on(std::string_view name, std::string_view node,
                   std::map<std::string, std::string> annotations = {}) {
  json::object meta{{"name", name}};
  if (!annotations.empty()) {
    json::object a;
    for (auto& [k, v] : annotations) a[k] = v;
    meta["annotations"] = std::move(a);
  }
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", std::move(meta)},
      {"spec", json::object{{"nodeName", node},
                            {"containers", json::array{json::object{{"name", "c"},
                                                                    {"image", "kuard"}}}}}}};
}

TEST_CASE("500 simulated nodes register, stay Ready with renewing leases, and run pods") {
  ::orch::testing::ControlPlane cp;
  SimulatedNodesOptions o;
  o.lease_renew_interval = 1s;
  o.node_status_interval = 2s;
  SimulatedNodes sim(cp.client(), o);
  REQUIRE(sim.start().ok());
  auto names = sim.add_nodes(500);
  REQUIRE_MESSAGE(names.ok(), names.status().to_string());
  REQUIRE(names->size() == 500);
  CHECK(sim.node_count() == 500);

  auto nodes = cp.client()->list_all(kNodes, "");
  REQUIRE(nodes.ok());
  CHECK(nodes->items.size() == 500);
  std::set<std::string> ips;
  for (const auto& n : nodes->items) {
    CHECK(node_ready(n));
    CHECK(str(n, {"status", "capacity", "cpu"}) == "32");
    ips.insert(str(n, {"spec", "podCIDR"}));
  }
  CHECK(ips.size() == 500);  // every node its own pod range

  // Every lease renews (compare with the first snapshot).
  auto first = renew_times(*cp.client());
  CHECK(first.size() == 500);
  CHECK(wait_until(
      [&] {
        auto now = renew_times(*cp.client());
        if (now.size() != 500) return false;
        for (const auto& [name, t] : now) {
          if (first[name] == t) return false;
        }
        return true;
      },
      120s, 200ms));

  // Pods bound to simulated nodes go Running and Ready with distinct IPs.
  for (int i = 0; i < 50; ++i) {
    auto r = cp.client()->create(kPods, "default",
                                 pod_on("p" + std::to_string(i), (*names)[i % 500]));
    REQUIRE(r.ok());
  }
  CHECK(wait_until(
      [&] {
        auto pods = cp.client()->list_all(kPods, "default");
        if (!pods.ok() || pods->items.size() != 50) return false;
        for (const auto& p : pods->items) {
          if (str(p, {"status", "phase"}) != "Running" || !pod_ready(p)) return false;
        }
        return true;
      },
      60s));
  auto pods = cp.client()->list_all(kPods, "default");
  REQUIRE(pods.ok());
  std::set<std::string> pod_ips;
  for (const auto& p : pods->items) {
    pod_ips.insert(str(p, {"status", "podIP"}));
    CHECK(!str(p, {"status", "hostIP"}).empty());
  }
  CHECK(pod_ips.size() == 50);

  // Still Ready after the renewals.
  auto later = cp.client()->list_all(kNodes, "");
  REQUIRE(later.ok());
  int ready = 0;
  for (const auto& n : later->items) ready += node_ready(n) ? 1 : 0;
  CHECK(ready == 500);
  sim.stop();
}

TEST_CASE("simulated pods: fail on demand, annotations, deletion, stopped nodes") {
  ::orch::testing::ControlPlane cp;
  SimulatedNodesOptions o;
  o.lease_renew_interval = 500ms;
  SimulatedNodes sim(cp.client(), o);
  REQUIRE(sim.start().ok());
  auto names = sim.add_nodes(3);
  REQUIRE(names.ok());
  auto get = [&](std::string_view name) {
    auto r = cp.client()->get(kPods, "default", name);
    return r.ok() ? std::move(r).value() : json::value(nullptr);
  };
  auto phase_is = [&](std::string_view name, std::string_view phase) {
    return wait_until([&] {
      json::value p = get(name);
      return p.is_object() && str(p, {"status", "phase"}) == phase;
    });
  };
  REQUIRE(cp.client()->create(kPods, "default", pod_on("ok", "sim-node-0")).ok());
  REQUIRE(cp.client()->create(kPods, "default",
                              pod_on("bad", "sim-node-1", {{"orch.dev/simulate", "fail"}})).ok());
  REQUIRE(cp.client()->create(kPods, "default",
                              pod_on("done", "sim-node-1", {{"orch.dev/simulate", "succeed"}})).ok());
  REQUIRE(cp.client()->create(kPods, "default",
                              pod_on("slow", "sim-node-2", {{"orch.dev/simulate", "not-ready"}})).ok());
  CHECK(phase_is("ok", "Running"));
  CHECK(phase_is("bad", "Failed"));
  CHECK(phase_is("done", "Succeeded"));
  CHECK(phase_is("slow", "Running"));
  CHECK_FALSE(pod_ready(get("slow")));
  CHECK(pod_ready(get("ok")));

  REQUIRE(sim.fail_pod("default", "ok", "OOMKilled").ok());
  CHECK(phase_is("ok", "Failed"));
  CHECK(str(get("ok").as_object()["status"].as_object()["containerStatuses"].as_array()[0],
            {"state", "terminated", "reason"}) == "OOMKilled");

  // Graceful deletion completes at once.
  REQUIRE(cp.client()->remove(kPods, "default", "slow").ok());
  CHECK(wait_until([&] { return get("slow").is_null(); }));

  // A stopped node's lease stops moving; a resumed one moves again.
  REQUIRE(sim.stop_node("sim-node-2").ok());
  // Let one renewal round pass (a renewal in flight at stop time may still land), then watch.
  auto t0 = renew_times(*cp.client());
  CHECK(wait_until([&] { return renew_times(*cp.client())["sim-node-0"] != t0["sim-node-0"]; }));
  auto before = renew_times(*cp.client());
  CHECK(wait_until([&] {
    auto now = renew_times(*cp.client());
    return now["sim-node-0"] != before["sim-node-0"] && now["sim-node-1"] != before["sim-node-1"];
  }));
  CHECK(renew_times(*cp.client())["sim-node-2"] == before["sim-node-2"]);
  REQUIRE(cp.client()->create(kPods, "default", pod_on("orphan", "sim-node-2")).ok());
  REQUIRE(sim.resume_node("sim-node-2").ok());
  CHECK(phase_is("orphan", "Running"));
  CHECK(wait_until([&] { return renew_times(*cp.client())["sim-node-2"] != before["sim-node-2"]; }));

  REQUIRE(sim.remove_node("sim-node-1").ok());
  CHECK(cp.client()->get(kNodes, "", "sim-node-1").status().code() == Code::kNotFound);
  CHECK(cp.client()->get(kLeases, "kube-node-lease", "sim-node-1").status().code() ==
        Code::kNotFound);
  CHECK(sim.node_count() == 2);
  CHECK(sim.stop_node("nope").code() == Code::kNotFound);
  sim.stop();
}

}  // namespace
}  // namespace orch::agent
