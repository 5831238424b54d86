// Many clusters in one process at once: four clusters started from four threads, each with kuard
// pods behind a Service, each on its own addresses; every cluster's Service answers with its own
// pods only, and every cluster stops cleanly while the others run.
#include <doctest.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "control_plane.hpp"
#include "embed_test_util.hpp"
#include "orch/client/resource.hpp"
#include "orch/cluster/cluster.hpp"

namespace orch::cluster {
namespace {

using namespace std::chrono_literals;
using client::resources::kDeployments;
using client::resources::kServices;
using testing::wait_until;

constexpr int kClusters = 4;

TEST_CASE("four clusters in parallel threads each serve only their own traffic") {
  std::vector<std::unique_ptr<Cluster>> clusters(kClusters);
  std::vector<std::string> cluster_ips(kClusters), errors(kClusters);
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kClusters; ++i) {
      threads.emplace_back([&, i] {
        auto started = Cluster::start({.nodes = 2});
        if (!started.ok()) {
          errors[i] = started.status().to_string();
          return;
        }
        auto& c = *(*started)->client();
        const std::string version = "cluster-" + std::to_string(i);
        auto d = c.create(kDeployments, "default", testing::kuard_deployment("app", 2, version));
        auto s = c.create(kServices, "default", testing::kuard_service("app"));
        if (!d.ok() || !s.ok()) {
          errors[i] = "create failed";
          return;
        }
        cluster_ips[i] = std::string(s->at("spec").at("clusterIP").as_string());
        if (!wait_until([&] { return testing::available_replicas(c, "app") == 2; }, 90s)) {
          errors[i] = "pods not available";
        }
        clusters[i] = std::move(started).value();
      });
    }
    for (auto& t : threads) t.join();
  }
  for (int i = 0; i < kClusters; ++i) REQUIRE_MESSAGE(errors[i].empty(), i << ": " << errors[i]);

  // Distinct address plans and ClusterIPs.
  std::set<std::string> ips(cluster_ips.begin(), cluster_ips.end()), service_cidrs;
  for (auto& c : clusters) service_cidrs.insert(c->addresses().service_cidr);
  CHECK(ips.size() == kClusters);
  CHECK(service_cidrs.size() == kClusters);

  // Every cluster's Service answers with that cluster's pods, many times over (round robin).
  std::vector<std::thread> callers;
  std::vector<int> own(kClusters, 0), foreign(kClusters, 0);
  for (int i = 0; i < kClusters; ++i) {
    callers.emplace_back([&, i] {
      const std::string want = "cluster-" + std::to_string(i) + "\n";
      wait_until([&] { return testing::http_get_body(cluster_ips[i], 80, "/version") == want; }, 30s, 50ms);
      for (int k = 0; k < 20; ++k) {
        std::string got = testing::http_get_body(cluster_ips[i], 80, "/version");
        (got == want ? own[i] : foreign[i])++;
      }
    });
  }
  for (auto& t : callers) t.join();
  for (int i = 0; i < kClusters; ++i) {
    CHECK_MESSAGE(own[i] == 20, "cluster " << i);
    CHECK(foreign[i] == 0);
  }

  // Stopping one leaves the others serving.
  const std::string dir0 = clusters[0]->data_dir();
  clusters[0].reset();
  CHECK(testing::processes_under(dir0) == 0);
  CHECK(testing::connect_refused(cluster_ips[0], 80));
  for (int i = 1; i < kClusters; ++i) {
    CHECK(testing::http_get_body(cluster_ips[i], 80, "/version") == "cluster-" + std::to_string(i) + "\n");
  }
  // Stop the rest at once, from threads.
  std::vector<std::thread> stoppers;
  std::vector<std::string> dirs;
  for (int i = 1; i < kClusters; ++i) {
    dirs.push_back(clusters[i]->data_dir());
    stoppers.emplace_back([&, i] { clusters[i].reset(); });
  }
  for (auto& t : stoppers) t.join();
  for (const auto& d : dirs) {
    CHECK(testing::processes_under(d) == 0);
    CHECK_FALSE(std::filesystem::exists(d));
  }
}

}  // namespace
}  // namespace orch::cluster
