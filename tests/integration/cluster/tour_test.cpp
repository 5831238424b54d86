// The seed's tour on an in-process cluster with real pods (kuard processes): a Deployment of 3
// behind a LoadBalancer Service answers on its ClusterIP, every node's NodePort and its external
// address and spreads over every pod; scaling adds pods that receive traffic; a rolling image
// change (blue -> green) loses no request of a client hammering the external address; and the
// cluster leaves no process behind.
#include <doctest.h>

#include <dirent.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "control_plane.hpp"
#include "embed_test_util.hpp"
#include "orch/client/resource.hpp"
#include "orch/cluster/cluster.hpp"
#include "tcp_test_util.hpp"

namespace orch::cluster {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kDeployments;
using client::resources::kServices;
using testing::processes_under;
using testing::wait_until;

// GET `path` over a fresh connection; "" on any failure. HTTP/1.0, so the server closes.
std::string http_get(const std::string& ip, std::uint16_t port, const std::string& path) {
  testing::TcpClient c(port, ip);
  if (!c.connected) return {};
  c.send("GET " + path + " HTTP/1.0\r\nHost: x\r\n\r\n");
  std::string all;
  for (int i = 0; i < 400; ++i) {
    std::string l = c.line(2s);
    if (l.empty() && i > 0 && all.find("\r\n\r\n") != std::string::npos) break;
    if (l.empty() && all.empty()) return {};
    all += l + "\n";
    if (all.find("\r\n\r\n") != std::string::npos || all.find("\n\r\n") != std::string::npos) {
      // Headers done: the body is one more line for /version and /env-less pages.
      std::string body = c.line(2s);
      all += body;
      break;
    }
  }
  return all.starts_with("HTTP/1.") && all.find(" 200 ") != std::string::npos ? all : std::string();
}

// The version line kuard's /version answers ("blue"), or "".
std::string version_at(const std::string& ip, std::uint16_t port) {
  std::string r = http_get(ip, port, "/version");
  if (r.empty()) return {};
  auto nl = r.rfind('\n', r.size() - 1);
  std::string last = r.substr(nl == std::string::npos ? 0 : nl + 1);
  while (!last.empty() && (last.back() == '\r' || last.back() == '\n')) last.pop_back();
  return last;
}

json::value deployment(int replicas, const std::string& image) {
  return json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"kuard"},
    "spec":{"replicas":)" + std::to_string(replicas) + R"(,"selector":{"matchLabels":{"app":"kuard"}},
      "strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}},
      "template":{"metadata":{"labels":{"app":"kuard"}},"spec":{
        "terminationGracePeriodSeconds":5,
        "containers":[{"name":"kuard","image":")" + image + R"(",
          "ports":[{"name":"http","containerPort":8080}],
          "readinessProbe":{"httpGet":{"path":"/ready","port":8080},"periodSeconds":1}}]}}}})");
}

std::int64_t available(client::Client& c) {
  auto d = c.get(kDeployments, "default", "kuard");
  if (!d.ok()) return -1;
  auto* st = d->at("status").as_object().if_contains("availableReplicas");
  auto* upd = d->at("status").as_object().if_contains("updatedReplicas");
  return st && st->is_int64() && upd && upd->is_int64() && upd->as_int64() == st->as_int64()
             ? st->as_int64()
             : 0;
}

TEST_CASE("the tour: deploy, expose as LoadBalancer, scale, roll a new image with no lost request") {
  std::string data_dir;
  {
    auto started = Cluster::start({.nodes = 2});
    REQUIRE_MESSAGE(started.ok(), started.status().to_string());
    auto& cluster = **started;
    data_dir = cluster.data_dir();
    REQUIRE(cluster.wait_ready(30s).ok());
    auto& c = *cluster.client();

    REQUIRE(c.create(kDeployments, "default", deployment(3, "kuard:blue")).ok());
    REQUIRE(wait_until([&] { return available(c) == 3; }, 60s, 50ms));
    auto svc = c.create(kServices, "default", json::parse(R"({"metadata":{"name":"kuard"},
      "spec":{"type":"LoadBalancer","selector":{"app":"kuard"},"ports":[{"port":80,"targetPort":8080}]}})"));
    REQUIRE_MESSAGE(svc.ok(), svc.status().to_string());
    const std::string cluster_ip(svc->at("spec").at("clusterIP").as_string());
    const auto node_port = static_cast<std::uint16_t>(svc->at("spec").at("ports").at(0).at("nodePort").as_int64());
    std::string external;
    REQUIRE(wait_until([&] {
      auto s = c.get(kServices, "default", "kuard");
      auto* ing = s.ok() ? s->at("status").at("loadBalancer").as_object().if_contains("ingress") : nullptr;
      if (!ing || ing->as_array().empty()) return false;
      external = std::string(ing->at(0).at("ip").as_string());
      return true;
    }, 30s));

    CHECK(wait_until([&] { return version_at(cluster_ip, 80) == "blue"; }, 30s, 50ms));
    for (const auto& ip : cluster.addresses().node_ips) {
      CHECK(wait_until([&] { return version_at(ip, node_port) == "blue"; }, 30s, 50ms));
    }
    CHECK(wait_until([&] { return version_at(external, 80) == "blue"; }, 30s, 50ms));

    // Scale to 5: the new pods become endpoints.
    REQUIRE(c.patch(kDeployments, "default", "kuard", client::PatchType::Merge,
                    R"({"spec":{"replicas":5}})").ok());
    REQUIRE(wait_until([&] { return available(c) == 5; }, 60s, 50ms));

    // Roll to green while a client keeps requesting through the external address.
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0}, failed{0};
    std::map<std::string, int> versions;
    std::mutex mu;
    std::thread hammer([&] {
      while (!stop) {
        std::string v = version_at(external, 80);
        if (v.empty()) {
          ++failed;
        } else {
          ++ok;
          std::lock_guard lock(mu);
          versions[v]++;
        }
      }
    });
    REQUIRE(wait_until([&] { return ok.load() > 5; }, 30s));
    REQUIRE(c.patch(kDeployments, "default", "kuard", client::PatchType::Strategic,
                    R"({"spec":{"template":{"spec":{"containers":[{"name":"kuard","image":"kuard:green"}]}}}})").ok());
    CHECK(wait_until([&] {
      auto d = c.get(kDeployments, "default", "kuard");
      if (!d.ok()) return false;
      auto& st = d->at("status").as_object();
      auto num = [&](const char* k) { auto* v = st.if_contains(k); return v && v->is_int64() ? v->as_int64() : 0; };
      return num("updatedReplicas") == 5 && num("availableReplicas") == 5 && num("replicas") == 5;
    }, 120s, 100ms));
    // The client itself sees green (not just a probe of ours): responses switched.
    CHECK(wait_until([&] {
      std::lock_guard lock(mu);
      return versions["green"] > 0;
    }, 30s, 50ms));
    stop = true;
    hammer.join();
    CHECK(failed.load() == 0);
    CHECK(ok.load() > 10);
  }
  // The cluster is gone: no pod process is left, and its temp directory is removed.
  CHECK(processes_under(data_dir) == 0);
  CHECK_FALSE(std::filesystem::exists(data_dir));
}

TEST_CASE("an in-process cluster of simulated nodes starts fast and runs a Deployment") {
  auto started = Cluster::start({.nodes = 3, .runtime = RuntimeKind::kSimulated});
  REQUIRE_MESSAGE(started.ok(), started.status().to_string());
  auto& cluster = **started;
  REQUIRE(cluster.wait_ready(30s).ok());
  auto& c = *cluster.client();
  REQUIRE(c.create(kDeployments, "default", deployment(6, "kuard")).ok());
  REQUIRE(wait_until([&] { return available(c) == 6; }, 60s, 20ms));
  // Spread over the three nodes.
  auto pods = c.list_all(client::resources::kPods, "default");
  REQUIRE(pods.ok());
  std::map<std::string, int> per_node;
  for (auto& p : pods->items) per_node[std::string(p.at("spec").at("nodeName").as_string())]++;
  CHECK(per_node.size() == 3);
}

}  // namespace
}  // namespace orch::cluster
