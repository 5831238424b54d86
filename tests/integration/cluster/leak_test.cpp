// A Cluster leaves nothing behind: after its destructor this process has the threads, file
// descriptors and children it had before, the API port refuses connections, no pod process is
// left and the temp data directory is gone — in-process (no socket) and serving HTTP, with
// simulated nodes and with real pod processes (kuard) running.
#include <doctest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include <boost/url/parse.hpp>

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

struct Baseline {
  std::size_t threads = testing::thread_count();
  std::size_t fds = testing::fd_count();
  std::size_t children = testing::child_count();
};

// Runs one cluster with `options`, optionally with a kuard Deployment and Service, then checks
// that its destruction left nothing behind.
void run_and_check(ClusterOptions options, bool with_pods) {
  std::string data_dir, url;
  std::uint16_t service_port = 80;
  std::string cluster_ip;
  Baseline before;
  {
    auto started = Cluster::start(options);
    REQUIRE_MESSAGE(started.ok(), started.status().to_string());
    auto& cluster = **started;
    data_dir = cluster.data_dir();
    url = cluster.url();
    CHECK(url.empty() == !options.serve_http);
    REQUIRE(cluster.wait_ready(30s).ok());
    if (with_pods) {
      auto& c = *cluster.client();
      REQUIRE(c.create(kDeployments, "default", testing::kuard_deployment("leak", 2)).ok());
      auto svc = c.create(kServices, "default", testing::kuard_service("leak"));
      REQUIRE(svc.ok());
      cluster_ip = std::string(svc->at("spec").at("clusterIP").as_string());
      REQUIRE(wait_until([&] { return testing::available_replicas(c, "leak") == 2; }, 60s));
      if (options.runtime == RuntimeKind::kProcess) {
        // Real pods behind the node's service proxy (simulated nodes have neither).
        REQUIRE(wait_until([&] {
          return testing::http_get_body(cluster_ip, service_port, "/version") == "blue\n";
        }, 30s, 50ms));
        CHECK(testing::processes_under(data_dir) >= 2);
        CHECK(testing::child_count(false) > before.children);
      }
    }
    CHECK(testing::thread_count() > before.threads);
  }
  // Threads end as their components stop (joined, not detached): same count as before.
  CHECK(testing::thread_count() == before.threads);
  CHECK(testing::fd_count() == before.fds);
  CHECK(testing::child_count() == before.children);
  CHECK(testing::processes_under(data_dir) == 0);
  CHECK_FALSE(std::filesystem::exists(data_dir));
  if (!url.empty()) {
    auto u = boost::urls::parse_uri(url);
    REQUIRE(u.has_value());
    CHECK(testing::connect_refused(std::string(u->host()), u->port_number()));
  }
  if (options.runtime == RuntimeKind::kProcess && !cluster_ip.empty()) {
    CHECK(testing::connect_refused(cluster_ip, service_port));
  }
}

TEST_CASE("no thread, fd, child, port or temp file is left behind") {
  // A first cluster initializes what the process keeps once for good (SQLite's and OpenSSL's
  // globals, the real clock): counted into the baseline of the cases below.
  { auto warm = Cluster::start({.nodes = 1, .runtime = RuntimeKind::kSimulated, .serve_http = true}); }

  struct Case {
    const char* name;
    RuntimeKind runtime;
    bool serve_http;
    bool with_pods;
  };
  const Case cases[] = {
      {"in-process, simulated nodes", RuntimeKind::kSimulated, false, true},
      {"serving HTTP, simulated nodes", RuntimeKind::kSimulated, true, false},
      {"in-process, kuard pods running", RuntimeKind::kProcess, false, true},
      {"serving HTTP, kuard pods running", RuntimeKind::kProcess, true, true},
  };
  for (const auto& tc : cases) {
    SUBCASE(tc.name) {
      run_and_check({.nodes = 2, .runtime = tc.runtime, .serve_http = tc.serve_http}, tc.with_pods);
    }
  }
}

TEST_CASE("stopping a node and starting it again leaves nothing behind either") {
  { auto warm = Cluster::start({.nodes = 1, .runtime = RuntimeKind::kSimulated}); }
  Baseline before;
  std::string data_dir;
  {
    auto started = Cluster::start({.nodes = 2});
    REQUIRE(started.ok());
    auto& cluster = **started;
    data_dir = cluster.data_dir();
    auto& c = *cluster.client();
    REQUIRE(c.create(kDeployments, "default", testing::kuard_deployment("leak", 2)).ok());
    REQUIRE(wait_until([&] { return testing::available_replicas(c, "leak") == 2; }, 60s));
    const auto node = cluster.node_names().at(0);
    REQUIRE(cluster.stop_node(node).ok());
    REQUIRE(cluster.start_node(node).ok());
    REQUIRE(cluster.wait_ready(30s).ok());
  }
  CHECK(testing::thread_count() == before.threads);
  CHECK(testing::fd_count() == before.fds);
  CHECK(testing::child_count() == before.children);
  CHECK(testing::processes_under(data_dir) == 0);
  CHECK_FALSE(std::filesystem::exists(data_dir));
}

}  // namespace
}  // namespace orch::cluster
