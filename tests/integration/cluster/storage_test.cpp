// Storage on in-process clusters with real pods (busybox `sh` processes): the default local-path
// StorageClass, StatefulSet volumeClaimTemplates with ordered pods on Bound claims, data that
// outlives its pod (same name, same node), scale down and up keeping identities, reclaim policy
// Delete (the directory goes) and Retain (it stays), a static local PersistentVolume pinning its
// pod to its node, and data surviving a restart of the cluster on the same data directory.
//
// Pods write through $ORCH_VOLUME_DATA (the process runtime exports every volume's host directory
// so, and bind-mounts it where the mount path exists on the host); the test reads the same files
// from the host, below each node's data directory.
#include <doctest.h>

#include <unistd.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "control_plane.hpp"
#include "orch/client/resource.hpp"
#include "orch/cluster/cluster.hpp"
#include "orch/controller/volume_binding.hpp"

namespace orch::cluster {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kPersistentVolumeClaims;
using client::resources::kPersistentVolumes;
using client::resources::kPods;
using client::resources::kStatefulSets;
using testing::wait_until;

// Each start appends "start" to $D/log, and "again" when $D/id (written on the first start)
// already existed: a pod that finds its earlier data says so.
constexpr const char* kScript =
    "D=$ORCH_VOLUME_DATA; if [ -f $D/id ]; then echo again >> $D/log; "
    "else echo $HOSTNAME > $D/id; fi; echo start >> $D/log; exec sleep 3600";

json::value stateful_set(int replicas) {
  return json::parse(R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"web"},
    "spec":{"replicas":)" + std::to_string(replicas) + R"(,"serviceName":"web",
      "selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"}},"spec":{"terminationGracePeriodSeconds":1,
        "containers":[{"name":"c","image":"busybox","command":["sh","-c",")" +
                     std::string(kScript) + R"("],
          "volumeMounts":[{"name":"data","mountPath":"/orch-test-no-such-dir"}]}]}},
      "volumeClaimTemplates":[{"metadata":{"name":"data"},
        "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"64Mi"}}}}]}})");
}

json::value pod_with_claim(const std::string& name, const std::string& claim) {
  return json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name + R"("},
    "spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"c","image":"busybox",
      "command":["sh","-c",")" + std::string(kScript) + R"("],
      "volumeMounts":[{"name":"data","mountPath":"/orch-test-no-such-dir"}]}],
      "volumes":[{"name":"data","persistentVolumeClaim":{"claimName":")" + claim + R"("}}]}})");
}

json::value claim(const std::string& name, const std::string& klass) {
  std::string cls = klass.empty() ? "" : R"("storageClassName":")" + klass + R"(",)";
  return json::parse(R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":")" +
                     name + R"("},"spec":{)" + cls +
                     R"("accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"64Mi"}}}})");
}

std::string str(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* cur = &v;
  for (const char* k : path) {
    if (!cur->is_object() || !(cur = cur->as_object().if_contains(k))) return {};
  }
  return cur->is_string() ? std::string(cur->get_string()) : std::string();
}

bool running_and_ready(const json::value& pod) {
  if (str(pod, {"status", "phase"}) != "Running") return false;
  const auto* conds = pod.at("status").as_object().if_contains("conditions");
  if (!conds || !conds->is_array()) return false;
  for (const auto& c : conds->as_array()) {
    if (str(c, {"type"}) == "Ready") return str(c, {"status"}) == "True";
  }
  return false;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Placed {
  std::string uid, node, dir;  // the pod's uid and node, its volume's directory
};

// The running and ready pod `name`, its node and the directory of its claim `claim_name`.
std::optional<Placed> placed(client::Client& c, const std::string& name,
                             const std::string& claim_name) {
  auto pod = c.get(kPods, "default", name);
  if (!pod.ok() || !running_and_ready(*pod)) return std::nullopt;
  auto pvc = c.get(kPersistentVolumeClaims, "default", claim_name);
  if (!pvc.ok() || str(*pvc, {"status", "phase"}) != "Bound") return std::nullopt;
  auto pv = c.get(kPersistentVolumes, "", str(*pvc, {"spec", "volumeName"}));
  if (!pv.ok()) return std::nullopt;
  return Placed{str(*pod, {"metadata", "uid"}), str(*pod, {"spec", "nodeName"}),
                str(*pv, {"spec", "local", "path"})};
}

// A merge patch, as `kubectl scale` writes: no resourceVersion, so no conflict with the
// controller's concurrent status writes.
Status scale(client::Client& c, int replicas) {
  return c.patch(kStatefulSets, "default", "web", client::PatchType::Merge,
                 fmt::format(R"({{"spec":{{"replicas":{}}}}})", replicas))
      .status();
}

TEST_CASE("a StatefulSet with volumeClaimTemplates keeps its pods' data and nodes") {
  auto started = Cluster::start({.nodes = 3});
  REQUIRE_MESSAGE(started.ok(), started.status().to_string());
  auto& cluster = **started;
  REQUIRE(cluster.wait_ready(30s).ok());
  auto& c = *cluster.client();

  // The default class exists from the start.
  auto sc = c.get(controller::kStorageClassesResource, "", "local-path");
  REQUIRE(sc.ok());
  CHECK(str(*sc, {"volumeBindingMode"}) == "WaitForFirstConsumer");
  CHECK(str(*sc, {"metadata", "annotations", "storageclass.kubernetes.io/is-default-class"}) ==
        "true");

  REQUIRE(c.create(kStatefulSets, "default", stateful_set(3)).ok());
  // OrderedReady: web-<i+1> never exists before web-<i> is Ready.
  bool ordered = true;
  std::map<int, Placed> first;
  REQUIRE(wait_until(
      [&] {
        for (int i = 0; i < 2; ++i) {
          auto next = c.get(kPods, "default", "web-" + std::to_string(i + 1));
          if (!next.ok()) continue;
          auto prev = c.get(kPods, "default", "web-" + std::to_string(i));
          if (!prev.ok() || !running_and_ready(*prev)) ordered = false;
        }
        for (int i = 0; i < 3; ++i) {
          auto p = placed(c, "web-" + std::to_string(i), "data-web-" + std::to_string(i));
          if (!p) return false;
          first[i] = *p;
        }
        return true;
      },
      90s, 20ms));
  CHECK(ordered);
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    const Placed& p = first[i];
    // The volume lives on the pod's node, below that node's data directory.
    CHECK(p.dir.starts_with(cluster.data_dir() + "/nodes/" + p.node + "/volumes/pvc-"));
    REQUIRE(wait_until([&] { return read_file(p.dir + "/log") == "start\n"; }, 20s));
    CHECK(read_file(p.dir + "/id") == "web-" + std::to_string(i) + "\n");
    auto pvc = c.get(kPersistentVolumeClaims, "default", "data-web-" + std::to_string(i));
    REQUIRE(pvc.ok());
    CHECK(str(*pvc, {"spec", "storageClassName"}) == "local-path");
    CHECK(str(*pvc, {"metadata", "annotations", "pv.kubernetes.io/bind-completed"}) == "yes");
    CHECK(str(*pvc, {"metadata", "annotations", "volume.kubernetes.io/selected-node"}) == p.node);
    CHECK(pvc->at("metadata").as_object().if_contains("ownerReferences") == nullptr);
  }

  SUBCASE("a deleted pod comes back with its name on its node and finds its data") {
    REQUIRE(c.remove(kPods, "default", "web-1").ok());
    std::optional<Placed> again;
    REQUIRE(wait_until(
        [&] {
          again = placed(c, "web-1", "data-web-1");
          return again && again->uid != first[1].uid;
        },
        60s, 20ms));
    CHECK(again->node == first[1].node);
    CHECK(again->dir == first[1].dir);
    CHECK(wait_until([&] { return read_file(first[1].dir + "/log") == "start\nagain\nstart\n"; },
                     20s));
  }

  SUBCASE("scale down and up keeps identities, claims and nodes; Delete removes the directory") {
    REQUIRE(scale(c, 1).ok());
    REQUIRE(wait_until(
        [&] {
          return c.get(kPods, "default", "web-1").status().code() == Code::kNotFound &&
                 c.get(kPods, "default", "web-2").status().code() == Code::kNotFound;
        },
        60s, 20ms));
    for (int i : {1, 2}) {  // claims (and data) stay: persistentVolumeClaimRetentionPolicy Retain
      auto pvc = c.get(kPersistentVolumeClaims, "default", "data-web-" + std::to_string(i));
      REQUIRE(pvc.ok());
      CHECK(str(*pvc, {"status", "phase"}) == "Bound");
      CHECK(fs::exists(first[i].dir + "/id"));
    }
    REQUIRE(scale(c, 3).ok());
    for (int i : {1, 2}) {
      CAPTURE(i);
      std::optional<Placed> back;
      REQUIRE(wait_until(
          [&] {
            back = placed(c, "web-" + std::to_string(i), "data-web-" + std::to_string(i));
            return back.has_value();
          },
          60s, 20ms));
      CHECK(back->node == first[i].node);
      CHECK(wait_until([&] { return read_file(first[i].dir + "/log").ends_with("again\nstart\n"); },
                       20s));
    }

    // Reclaim policy Delete (local-path's): deleting the claim deletes the volume and its data.
    REQUIRE(scale(c, 2).ok());
    REQUIRE(wait_until(
        [&] { return c.get(kPods, "default", "web-2").status().code() == Code::kNotFound; }, 60s,
        20ms));
    auto pvc = c.get(kPersistentVolumeClaims, "default", "data-web-2");
    REQUIRE(pvc.ok());
    const std::string pv_name = str(*pvc, {"spec", "volumeName"});
    REQUIRE(c.remove(kPersistentVolumeClaims, "default", "data-web-2").ok());
    CHECK(wait_until(
        [&] {
          return c.get(kPersistentVolumes, "", pv_name).status().code() == Code::kNotFound &&
                 !fs::exists(first[2].dir);
        },
        30s, 20ms));
    CHECK(fs::exists(first[0].dir + "/id"));  // the others keep theirs
  }
  cluster.stop();
}

TEST_CASE("a static local volume pins its pod to its node; Retain keeps the data") {
  auto started = Cluster::start({.nodes = 3});
  REQUIRE_MESSAGE(started.ok(), started.status().to_string());
  auto& cluster = **started;
  REQUIRE(cluster.wait_ready(30s).ok());
  auto& c = *cluster.client();
  const std::string node = cluster.node_names().at(1);
  const std::string dir = cluster.data_dir() + "/static-volume";
  fs::create_directories(dir);

  REQUIRE(c.create(controller::kStorageClassesResource, "",
                   json::parse(R"({"apiVersion":"storage.k8s.io/v1","kind":"StorageClass",
                     "metadata":{"name":"manual"},"provisioner":"kubernetes.io/no-provisioner",
                     "volumeBindingMode":"WaitForFirstConsumer"})"))
              .ok());
  REQUIRE(c.create(kPersistentVolumes, "",
                   json::parse(R"({"apiVersion":"v1","kind":"PersistentVolume",
                     "metadata":{"name":"local-a"},
                     "spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],
                       "persistentVolumeReclaimPolicy":"Retain","storageClassName":"manual",
                       "local":{"path":")" + dir + R"("},
                       "nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[
                         {"key":"kubernetes.io/hostname","operator":"In","values":[")" + node +
                               R"("]}]}]}}}})"))
              .ok());
  REQUIRE(wait_until([&] {
    auto pv = c.get(kPersistentVolumes, "", "local-a");
    return pv.ok() && str(*pv, {"status", "phase"}) == "Available";
  }));
  REQUIRE(c.create(kPersistentVolumeClaims, "default", claim("claim-a", "manual")).ok());
  REQUIRE(c.create(kPods, "default", pod_with_claim("user", "claim-a")).ok());
  std::optional<Placed> p;
  REQUIRE(wait_until(
      [&] {
        p = placed(c, "user", "claim-a");
        return p.has_value();
      },
      60s, 20ms));
  CHECK(p->node == node);
  CHECK(p->dir == dir);
  CHECK(wait_until([&] { return read_file(dir + "/id") == "user\n"; }, 20s));
  auto pv = c.get(kPersistentVolumes, "", "local-a");
  REQUIRE(pv.ok());
  CHECK(str(*pv, {"spec", "claimRef", "name"}) == "claim-a");
  CHECK(str(*pv, {"status", "phase"}) == "Bound");

  // Pod and claim gone: the volume is Released and keeps its data (Retain).
  client::DeleteOptions now;
  now.grace_period_seconds = 0;
  REQUIRE(c.remove(kPods, "default", "user", now).ok());
  REQUIRE(wait_until(
      [&] { return c.get(kPods, "default", "user").status().code() == Code::kNotFound; }, 30s));
  REQUIRE(c.remove(kPersistentVolumeClaims, "default", "claim-a").ok());
  CHECK(wait_until([&] {
    auto v = c.get(kPersistentVolumes, "", "local-a");
    return v.ok() && str(*v, {"status", "phase"}) == "Released";
  }));
  CHECK(read_file(dir + "/id") == "user\n");
  cluster.stop();
}

TEST_CASE("data on a local-path volume survives a restart of the cluster") {
  char tmpl[] = "/tmp/orch-storage-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string data_dir = tmpl;
  std::string dir;
  {
    auto started = Cluster::start({.nodes = 1, .data_dir = data_dir});
    REQUIRE_MESSAGE(started.ok(), started.status().to_string());
    auto& cluster = **started;
    REQUIRE(cluster.wait_ready(30s).ok());
    auto& c = *cluster.client();
    REQUIRE(c.create(kPersistentVolumeClaims, "default", claim("keep", "")).ok());
    REQUIRE(c.create(kPods, "default", pod_with_claim("keeper", "keep")).ok());
    std::optional<Placed> p;
    REQUIRE(wait_until(
        [&] {
          p = placed(c, "keeper", "keep");
          return p.has_value();
        },
        60s, 20ms));
    dir = p->dir;
    REQUIRE(wait_until([&] { return read_file(dir + "/log") == "start\n"; }, 20s));
    cluster.stop();
  }
  {
    auto started = Cluster::start({.nodes = 1, .data_dir = data_dir});
    REQUIRE_MESSAGE(started.ok(), started.status().to_string());
    auto& cluster = **started;
    REQUIRE(cluster.wait_ready(30s).ok());
    auto& c = *cluster.client();
    CHECK(wait_until([&] { return placed(c, "keeper", "keep").has_value(); }, 60s, 20ms));
    CHECK(wait_until([&] { return read_file(dir + "/log").ends_with("again\nstart\n"); }, 30s));
    CHECK(read_file(dir + "/id") == "keeper\n");
    cluster.stop();
  }
  std::error_code ec;
  fs::remove_all(data_dir, ec);
}

}  // namespace
}  // namespace orch::cluster
