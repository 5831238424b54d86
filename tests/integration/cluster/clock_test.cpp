// A whole cluster of simulated nodes on a manual clock (ClusterOptions::clock = a FakeClock):
// the test advances time and every time-driven part follows — lease renewals (and a stopped
// node's lease expiring), a Deployment's progress deadline — in milliseconds of real time.
#include <doctest.h>

#include <boost/json.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "control_plane.hpp"
#include "orch/api/time.hpp"
#include "orch/client/resource.hpp"
#include "orch/cluster/cluster.hpp"
#include "orch/util/clock.hpp"

namespace orch::cluster {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kDeployments;
using client::resources::kLeases;
using client::resources::kNodes;
using client::resources::kPods;
using testing::wait_until;
using SysTime = std::chrono::system_clock::time_point;

// The Lease's spec.renewTime of `node`, if any.
std::optional<SysTime> renew_time(client::Client& c, const std::string& node) {
  auto l = c.get(kLeases, "kube-node-lease", node);
  if (!l.ok()) return std::nullopt;
  const auto* t = l->at("spec").as_object().if_contains("renewTime");
  if (!t || !t->is_string()) return std::nullopt;
  auto parsed = api::MicroTime::parse(std::string(t->as_string()));
  if (!parsed.ok()) return std::nullopt;
  return parsed->value;
}

// reason of the Deployment's Progressing condition ("" if none).
std::string progressing_reason(client::Client& c, const std::string& name) {
  auto d = c.get(kDeployments, "default", name);
  if (!d.ok()) return {};
  const auto* conds = d->at("status").as_object().if_contains("conditions");
  if (!conds || !conds->is_array()) return {};
  for (const auto& cond : conds->as_array()) {
    if (cond.at("type") == "Progressing") return std::string(cond.at("reason").as_string());
  }
  return {};
}

// The Ready condition's status of a node ("" if none).
std::string node_ready(client::Client& c, const std::string& name) {
  auto n = c.get(kNodes, "", name);
  if (!n.ok()) return {};
  const auto* conds = n->at("status").as_object().if_contains("conditions");
  if (!conds || !conds->is_array()) return {};
  for (const auto& cond : conds->as_array()) {
    if (cond.at("type") == "Ready") return std::string(cond.at("status").as_string());
  }
  return {};
}

json::value deployment(const std::string& name, int replicas, bool never_ready) {
  json::value d = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"x"},
    "spec":{"replicas":1,"progressDeadlineSeconds":300,"selector":{"matchLabels":{"app":"x"}},
      "template":{"metadata":{"labels":{"app":"x"}},
        "spec":{"containers":[{"name":"c","image":"kuard"}]}}}})");
  d.at("metadata").as_object()["name"] = name;
  d.at("spec").as_object()["replicas"] = replicas;
  d.at("spec").at("selector").at("matchLabels").as_object()["app"] = name;
  auto& tmeta = d.at("spec").at("template").at("metadata").as_object();
  tmeta["labels"].as_object()["app"] = name;
  // Simulated nodes run such pods but never report them Ready: the rollout cannot progress.
  if (never_ready) tmeta["annotations"] = json::object{{"orch.dev/simulate", "not-ready"}};
  return d;
}

struct FakeClockCluster {
  util::FakeClock clock;
  std::unique_ptr<Cluster> cluster;
  FakeClockCluster() {
    auto started = Cluster::start({.nodes = 3, .runtime = RuntimeKind::kSimulated, .clock = &clock});
    REQUIRE_MESSAGE(started.ok(), started.status().to_string());
    cluster = std::move(started).value();
    REQUIRE(cluster->wait_ready(30s).ok());
  }
};

TEST_CASE("a fake clock drives leases and rollout deadlines of a whole simulated cluster") {
  const auto real_start = std::chrono::steady_clock::now();
  FakeClockCluster f;
  auto& c = *f.cluster->client();
  const auto names = f.cluster->node_names();
  REQUIRE(names.size() == 3);
  const std::string victim = names[0];

  REQUIRE(c.create(kDeployments, "default", deployment("stuck", 2, /*never_ready=*/true)).ok());
  REQUIRE(wait_until([&] { return progressing_reason(c, "stuck") == "NewReplicaSetAvailable" ||
                                  progressing_reason(c, "stuck") == "ReplicaSetUpdated" ||
                                  progressing_reason(c, "stuck") == "NewReplicaSetCreated"; },
                     10s));
  REQUIRE(wait_until([&] {
    auto pods = c.list_all(kPods, "default");
    return pods.ok() && pods->items.size() == 2;
  }, 10s));

  const SysTime t0 = f.clock.system_now();
  for (const auto& n : names) REQUIRE(wait_until([&] { return renew_time(c, n).has_value(); }, 10s));
  REQUIRE(f.cluster->stop_node(victim).ok());

  // 41 s later: the live nodes renewed their leases on the new time; the stopped node's lease is
  // past its 40 s duration.
  f.clock.advance(41s);
  for (std::size_t i = 1; i < names.size(); ++i) {
    CHECK(wait_until([&] {
      auto t = renew_time(c, names[i]);
      return t && *t >= t0 + 41s;
    }, 10s));
  }
  auto victim_renew = renew_time(c, victim);
  REQUIRE(victim_renew.has_value());
  CHECK(*victim_renew <= t0);
  CHECK(*victim_renew + 40s < f.clock.system_now());
  // 41 s is within the Deployment's 300 s progress deadline.
  CHECK(progressing_reason(c, "stuck") != "ProgressDeadlineExceeded");

  // 301 s more (342 s since the rollout began): past the deadline.
  f.clock.advance(301s);
  CHECK(wait_until([&] { return progressing_reason(c, "stuck") == "ProgressDeadlineExceeded"; },
                   10s));
  for (std::size_t i = 1; i < names.size(); ++i) {
    CHECK(wait_until([&] {
      auto t = renew_time(c, names[i]);
      return t && *t >= t0 + 342s;
    }, 10s));
  }
  CHECK(*renew_time(c, victim) == *victim_renew);

  // The node comes back: it renews at once, on the clock's time.
  REQUIRE(f.cluster->start_node(victim).ok());
  CHECK(wait_until([&] {
    auto t = renew_time(c, victim);
    return t && *t >= t0 + 342s;
  }, 10s));
  MESSAGE("342 s of cluster time took "
          << std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - real_start).count()
          << " ms of real time (cluster start included)");
}

// The node lifecycle controller on the same clock, as in Kubernetes: 40 s after the lease stops
// the node goes Ready=Unknown (tainted unreachable), and 300 s later (the default
// tolerationSeconds) its pods are evicted and replaced on the live nodes.
TEST_CASE("a stopped node goes Unknown after the lease grace and its pods are evicted") {
  FakeClockCluster f;
  auto& c = *f.cluster->client();
  const auto names = f.cluster->node_names();
  const std::string victim = names[0];
  REQUIRE(c.create(kDeployments, "default", deployment("web", 6, /*never_ready=*/false)).ok());
  auto on_node = [&](const std::string& node, bool live_only) {
    auto pods = c.list_all(kPods, "default");
    int n = 0;
    if (!pods.ok()) return -1;
    for (auto& p : pods->items) {
      const auto* nn = p.at("spec").as_object().if_contains("nodeName");
      if (!nn || !nn->is_string() || nn->as_string() != node) continue;
      if (live_only && p.at("metadata").as_object().contains("deletionTimestamp")) continue;
      ++n;
    }
    return n;
  };
  REQUIRE(wait_until([&] { return on_node(victim, true) > 0; }, 10s));
  REQUIRE(f.cluster->stop_node(victim).ok());

  f.clock.advance(41s);
  CHECK(wait_until([&] { return node_ready(c, victim) == "Unknown"; }, 10s));
  CHECK(on_node(victim, true) > 0);  // not evicted yet: within tolerationSeconds

  f.clock.advance(301s);
  CHECK(wait_until([&] { return on_node(victim, true) == 0; }, 10s));
  CHECK(wait_until([&] { return on_node(names[1], true) + on_node(names[2], true) == 6; }, 10s));
}

}  // namespace
}  // namespace orch::cluster
