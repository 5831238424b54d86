// apply / wait_for / events on an embedded cluster of simulated nodes.
#include "orch/cluster/helpers.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "orch/client/resource.hpp"
#include "orch/cluster/cluster.hpp"

namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

std::string manifest(int replicas) {
  return R"(apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {color: blue}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: )" + std::to_string(replicas) + R"(
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: kuard}]
)";
}

}  // namespace

TEST_CASE("apply creates then replaces; wait_for follows the watch until the state is reached") {
  auto started = orch::cluster::Cluster::start({.nodes = 2, .runtime = orch::cluster::RuntimeKind::kSimulated});
  REQUIRE_MESSAGE(started.ok(), started.status().to_string());
  auto client = (*started)->client();

  auto applied = orch::cluster::apply(*client, manifest(2));
  REQUIRE_MESSAGE(applied.ok(), applied.status().to_string());
  REQUIRE(applied->size() == 2);
  CHECK(applied->at(0).at("metadata").at("namespace") == "default");
  auto d = orch::cluster::wait_for(*client, "deployments", "default", "web",
                                   orch::cluster::available(2), 30s);
  REQUIRE_MESSAGE(d.ok(), d.status().to_string());

  // Applying again replaces: the live object keeps its identity and gets the new spec.
  const auto uid = d->at("metadata").at("uid");
  applied = orch::cluster::apply(*client, manifest(3));
  REQUIRE_MESSAGE(applied.ok(), applied.status().to_string());
  d = orch::cluster::wait_for(*client, "Deployment", "default", "web", orch::cluster::available(3), 30s);
  REQUIRE_MESSAGE(d.ok(), d.status().to_string());
  CHECK(d->at("metadata").at("uid") == uid);

  // Existence only, by short name.
  CHECK(orch::cluster::wait_for(*client, "cm", "default", "settings", nullptr, 5s).ok());

  // The Events tell what the controllers did.
  auto evs = orch::cluster::events(*client, "default", "web");
  REQUIRE(evs.ok());
  bool scaled = false;
  for (const auto& e : *evs) scaled = scaled || e.at("reason") == "ScalingReplicaSet";
  CHECK(scaled);

  // A state never reached: DeadlineExceeded naming what was last seen.
  auto never = orch::cluster::wait_for(*client, "deployments", "default", "web",
                                       orch::cluster::available(7), 300ms);
  CHECK(never.status().code() == orch::Code::kDeadlineExceeded);
  CHECK(never.status().message().find("last seen") != std::string::npos);
  CHECK(orch::cluster::wait_for(*client, "nope", "default", "x", nullptr, 1s).status().code() ==
        orch::Code::kInvalidArgument);
  CHECK(orch::cluster::apply(*client, "apiVersion: v9\nkind: Nope\nmetadata: {name: x}\n").status().code() ==
        orch::Code::kInvalidArgument);
}
