// Cluster::snapshot and ClusterOptions::restore_from: a cluster built once (objects, a running
// Deployment) is imaged, and new clusters start from that image with the same objects (uids,
// resourceVersions), working controllers and nodes, independent of each other; a process-runtime
// cluster's pods are run again from their specs and its Service carries traffic again.
#include <doctest.h>

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <string>

#include "control_plane.hpp"
#include "embed_test_util.hpp"
#include "orch/client/resource.hpp"
#include "orch/cluster/cluster.hpp"

namespace orch::cluster {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kConfigMaps;
using client::resources::kDeployments;
using client::resources::kPods;
using client::resources::kServices;
using testing::available_replicas;
using testing::wait_until;

std::string field(const Result<json::value>& obj, const char* section, const char* key) {
  if (!obj.ok()) return {};
  const auto* v = obj->at(section).as_object().if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

Result<std::unique_ptr<Cluster>> restore(std::shared_ptr<const Snapshot> snap) {
  return Cluster::start({.restore_from = std::move(snap)});
}

TEST_CASE("a snapshot of a simulated cluster starts identical, independent clusters") {
  std::shared_ptr<const Snapshot> snap;
  std::string cm_uid, cm_rv;
  {
    auto started = Cluster::start({.nodes = 3, .runtime = RuntimeKind::kSimulated});
    REQUIRE_MESSAGE(started.ok(), started.status().to_string());
    auto& c = *(*started)->client();
    REQUIRE((*started)->wait_ready(30s).ok());
    REQUIRE(c.create(kDeployments, "default", testing::kuard_deployment("web", 4)).ok());
    auto cm = c.create(kConfigMaps, "default",
                       json::parse(R"({"metadata":{"name":"settings"},"data":{"k":"v"}})"));
    REQUIRE(cm.ok());
    cm_uid = field(cm, "metadata", "uid");
    cm_rv = field(cm, "metadata", "resourceVersion");
    REQUIRE(wait_until([&] { return available_replicas(c, "web") == 4; }, 30s));
    auto s = (*started)->snapshot();
    REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    snap = *s;
    CHECK(snap->nodes == 3);
    CHECK(snap->runtime == RuntimeKind::kSimulated);
    CHECK(snap->store_image.starts_with("SQLite format 3"));
  }

  // Two clusters from the one snapshot, at the same time.
  auto a = restore(snap);
  auto b = restore(snap);
  REQUIRE_MESSAGE(a.ok(), a.status().to_string());
  REQUIRE_MESSAGE(b.ok(), b.status().to_string());
  for (auto* cl : {a->get(), b->get()}) {
    REQUIRE(cl->wait_ready(30s).ok());
    CHECK(cl->node_names() == snap->node_names);
    auto& c = *cl->client();
    auto cm = c.get(kConfigMaps, "default", "settings");
    CHECK(field(cm, "metadata", "uid") == cm_uid);
    CHECK(field(cm, "metadata", "resourceVersion") == cm_rv);
    CHECK(wait_until([&] { return available_replicas(c, "web") == 4; }, 30s));
  }
  // Each goes its own way: a scale in one is not seen by the other.
  auto& ca = *(*a)->client();
  auto& cb = *(*b)->client();
  REQUIRE(ca.patch(kDeployments, "default", "web", client::PatchType::Merge,
                   R"({"spec":{"replicas":6}})").ok());
  REQUIRE(cb.remove(kConfigMaps, "default", "settings").ok());
  CHECK(wait_until([&] { return available_replicas(ca, "web") == 6; }, 30s));
  CHECK(ca.get(kConfigMaps, "default", "settings").ok());
  CHECK(available_replicas(cb, "web") == 4);
}

TEST_CASE("a snapshot survives a file round trip, and a bad file is refused") {
  auto started = Cluster::start({.nodes = 1, .runtime = RuntimeKind::kSimulated});
  REQUIRE(started.ok());
  REQUIRE((*started)->client()->create(kConfigMaps, "default",
      json::parse(R"({"metadata":{"name":"saved"},"data":{"k":"v"}})")).ok());
  auto snap = (*started)->snapshot();
  REQUIRE(snap.ok());
  const auto path = std::filesystem::temp_directory_path() /
                    ("orch-snapshot-test-" + std::to_string(::getpid()));
  REQUIRE((*snap)->save(path.string()).ok());
  auto loaded = Snapshot::load(path.string());
  std::filesystem::remove(path);
  REQUIRE(loaded.ok());
  CHECK((*loaded)->store_image == (*snap)->store_image);
  CHECK((*loaded)->node_names == (*snap)->node_names);
  auto restored = restore(*loaded);
  REQUIRE_MESSAGE(restored.ok(), restored.status().to_string());
  CHECK((*restored)->client()->get(kConfigMaps, "default", "saved").ok());

  CHECK(Snapshot::load(path.string()).status().code() == Code::kNotFound);
  {
    std::ofstream junk(path);
    junk << "not a snapshot\n";
  }
  CHECK(Snapshot::load(path.string()).status().code() == Code::kInvalidArgument);
  std::filesystem::remove(path);
}

TEST_CASE("a restored process-runtime cluster runs its pods again and its Service answers") {
  std::shared_ptr<const Snapshot> snap;
  std::string old_pod_uid;
  {
    auto started = Cluster::start({.nodes = 1});
    REQUIRE_MESSAGE(started.ok(), started.status().to_string());
    auto& c = *(*started)->client();
    REQUIRE(c.create(kDeployments, "default", testing::kuard_deployment("web", 1, "snap")).ok());
    REQUIRE(c.create(kServices, "default", testing::kuard_service("web")).ok());
    REQUIRE(wait_until([&] { return available_replicas(c, "web") == 1; }, 60s));
    auto pods = c.list_all(kPods, "default");
    REQUIRE(pods.ok());
    REQUIRE(pods->items.size() == 1);
    old_pod_uid = std::string(pods->items[0].at("metadata").at("uid").as_string());
    auto s = (*started)->snapshot();
    REQUIRE(s.ok());
    snap = *s;
  }  // the original cluster and its pod processes are gone

  auto restored = restore(snap);
  REQUIRE_MESSAGE(restored.ok(), restored.status().to_string());
  auto& c = *(*restored)->client();
  REQUIRE((*restored)->wait_ready(30s).ok());
  auto svc = c.get(kServices, "default", "web");
  REQUIRE(svc.ok());
  const std::string ip(svc->at("spec").at("clusterIP").as_string());
  CHECK(wait_until([&] { return testing::http_get_body(ip, 80, "/version") == "snap\n"; }, 60s, 50ms));
  auto pods = c.list_all(kPods, "default");
  REQUIRE(pods.ok());
  REQUIRE(pods->items.size() == 1);
  CHECK(pods->items[0].at("metadata").at("uid").as_string() == old_pod_uid);
  const std::string dir = (*restored)->data_dir();
  CHECK(testing::processes_under(dir) > 0);
  restored->reset();
  CHECK(testing::processes_under(dir) == 0);
}

TEST_CASE("restore_from refuses a data directory that already holds a store") {
  auto started = Cluster::start({.nodes = 0, .runtime = RuntimeKind::kSimulated});
  REQUIRE(started.ok());
  auto snap = (*started)->snapshot();
  REQUIRE(snap.ok());
  auto again = Cluster::start({.data_dir = (*started)->data_dir(), .restore_from = *snap});
  CHECK(again.status().code() == Code::kAlreadyExists);
}

}  // namespace
}  // namespace orch::cluster
