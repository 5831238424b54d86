// Services end to end on an in-process control plane: the Endpoints controller, the load
// balancer controller and a ServiceProxy, with greeting servers standing in for the pods (bound
// to the pod IPs the NodePlayer hands out). ClusterIP, NodePort and the external address all
// reach every pod; a pod that stops being ready gets no new connections; a pod whose process
// died is skipped; deleting the Service closes its addresses.
#include <doctest.h>

#include <boost/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "control_plane.hpp"
#include "log_capture.hpp"
#include "orch/client/resource.hpp"
#include "orch/controller/endpoints_controller.hpp"
#include "orch/controller/manager.hpp"
#include "orch/proxy/load_balancer.hpp"
#include "orch/proxy/service_proxy.hpp"
#include "tcp_test_util.hpp"

namespace orch::proxy {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kPods;
using client::resources::kServices;
using testing::greeting;
using testing::GreetingServer;
using testing::wait_until;

struct Cluster {
  Cluster() {
    REQUIRE(cp.add_node("node-1").ok());
    manager = std::make_unique<controller::ControllerManager>(
        cp.client(), controller::ControllerManagerOptions{.leader_election = false});
    REQUIRE(manager->add(controller::endpoints_controller_registration()).ok());
    REQUIRE(manager->add(load_balancer_controller_registration({.address_range = "127.241.0.0/24"})).ok());
    REQUIRE(manager->start().ok());
    auto p = ServiceProxy::start(cp.client(), {.node_name = "node-1",
                                               .node_ip = "127.0.0.1",
                                               .metrics_address = "127.0.0.1",
                                               .metrics_port = 0});
    REQUIRE(p.ok());
    proxy = std::move(p).value();
  }
  ~Cluster() {
    proxy->stop();
    player.stop();
    manager->stop();
  }
  testing::ControlPlane cp;
  testing::NodePlayer player{cp.client(), {.bind_pending_to = "node-1"}};
  std::unique_ptr<controller::ControllerManager> manager;
  std::unique_ptr<ServiceProxy> proxy;
};

json::value pod(const std::string& name, std::uint16_t port) {
  return json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                     R"(","labels":{"app":"kuard"}},"spec":{"containers":[{"name":"kuard","image":"kuard","ports":[{"name":"http","containerPort":)" +
                     std::to_string(port) + "}]}]}}");
}

std::string pod_ip(client::Client& c, const std::string& name) {
  auto p = c.get(kPods, "default", name);
  if (!p.ok()) return {};
  auto* ip = p->at("status").as_object().if_contains("podIP");
  return ip && ip->is_string() ? std::string(ip->as_string()) : std::string();
}

// Greetings from `n` connections to ip:port.
std::map<std::string, int> spread(const std::string& ip, std::uint16_t port, int n) {
  std::map<std::string, int> hits;
  for (int i = 0; i < n; ++i) hits[greeting(ip, port)]++;
  return hits;
}

TEST_CASE("a LoadBalancer service answers on its ClusterIP, NodePort and external address") {
  testing::LogCapture logs(2);
  Cluster k;
  auto& c = *k.cp.client();
  // A target port no other test process uses, so the pods' servers can bind pod-ip:port.
  const std::uint16_t target = testing::unused_port();
  std::map<std::string, std::unique_ptr<GreetingServer>> pods;
  for (const std::string name : {"kuard-a", "kuard-b", "kuard-c"}) {
    REQUIRE(c.create(kPods, "default", pod(name, target)).ok());
    REQUIRE(wait_until([&] { return !pod_ip(c, name).empty(); }));
    pods[name] = std::make_unique<GreetingServer>(name, pod_ip(c, name), target);
    REQUIRE(pods[name]->ok());
  }
  auto svc = c.create(kServices, "default", json::parse(R"({"metadata":{"name":"kuard"},"spec":{"type":"LoadBalancer","selector":{"app":"kuard"},"ports":[{"port":80,"targetPort":"http"}]}})"));
  REQUIRE_MESSAGE(svc.ok(), svc.status().to_string());
  const std::string cluster_ip(svc->at("spec").at("clusterIP").as_string());
  const auto node_port = static_cast<std::uint16_t>(svc->at("spec").at("ports").at(0).at("nodePort").as_int64());

  const std::set<std::string> all{"kuard-a", "kuard-b", "kuard-c"};
  auto reaches_all = [&](const std::string& ip, std::uint16_t port) {
    return wait_until([&] {
      std::set<std::string> seen;
      for (auto& [who, n] : spread(ip, port, 9)) seen.insert(who);
      return seen == all;
    }, 20s, 50ms);
  };
  CHECK(reaches_all(cluster_ip, 80));
  CHECK(reaches_all("127.0.0.1", node_port));

  std::string external;
  REQUIRE(wait_until([&] {
    auto s = c.get(kServices, "default", "kuard");
    if (!s.ok()) return false;
    auto* ing = s->at("status").at("loadBalancer").as_object().if_contains("ingress");
    if (!ing || ing->as_array().empty()) return false;
    external = std::string(ing->at(0).at("ip").as_string());
    return true;
  }));
  CHECK(external.starts_with("127.241.0."));
  CHECK(!logs.find("load-balancer", " I load-balancer: assigned address " + external +
                                        " to service default/kuard").empty());
  CHECK(!logs.find("proxy/node-1", fmt::format(" V2 proxy/node-1: opened listener {}:80 for "
                                               "default/kuard:", cluster_ip)).empty());
  CHECK(reaches_all(external, 80));
  CHECK(k.proxy->stats("default/kuard:").connections > 0);

  SUBCASE("a pod that is not ready gets no new connections; a dead one is skipped") {
    k.player.set_ready("default", "kuard-b", false);
    REQUIRE(wait_until([&] {
      auto hits = spread(cluster_ip, 80, 6);
      return !hits.contains("kuard-b") && hits["kuard-a"] > 0 && hits["kuard-c"] > 0;
    }, 20s, 50ms));
    for (auto& [who, n] : spread(cluster_ip, 80, 30)) CHECK(who != "kuard-b");

    // kuard-c's process dies but it is still listed: the proxy skips it, clients never notice.
    pods["kuard-c"]->close();
    auto hits = spread(cluster_ip, 80, 20);
    CHECK(hits["kuard-a"] == 20);
  }
  SUBCASE("deleting the service closes its addresses and frees the external one") {
    REQUIRE(c.remove(kServices, "default", "kuard").ok());
    CHECK(wait_until([&] { return greeting(cluster_ip, 80).empty() && greeting(external, 80).empty(); }, 20s, 50ms));
    CHECK(wait_until([&] { return k.proxy->listener_count() == 0; }));
    CHECK(wait_until([&] {
      return !logs.find("load-balancer", "released address " + external + " of service default/kuard")
                  .empty();
    }));
  }
}

TEST_CASE("a service whose selector matches nothing refuses cleanly instead of hanging") {
  Cluster k;
  auto& c = *k.cp.client();
  auto svc = c.create(kServices, "default", json::parse(R"({"metadata":{"name":"empty"},"spec":{"selector":{"app":"none"},"ports":[{"port":81}]}})"));
  REQUIRE(svc.ok());
  const std::string ip(svc->at("spec").at("clusterIP").as_string());
  REQUIRE(k.proxy->wait_for_sync(10s));
  REQUIRE(wait_until([&] { return k.proxy->listener_count() == 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  testing::TcpClient cl(81, ip);
  CHECK(cl.line(3s).empty());
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);  // reset at once, not a timeout
}

// GET http://127.0.0.1:port/metrics: the body's lines ("" lines dropped), or {} on failure.
std::vector<std::string> scrape(std::uint16_t port) {
  testing::TcpClient c(port);
  if (!c.connected) return {};
  c.send("GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
  std::vector<std::string> lines;
  bool ok = false, body = false;
  for (std::string l = c.line(); !l.empty(); l = c.line()) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (lines.empty() && !ok) ok = l.starts_with("HTTP/1.") && l.find(" 200 ") != std::string::npos;
    if (body) lines.push_back(l);
    if (l.empty()) body = true;
    if (!body && lines.empty() && !ok) break;
  }
  return ok ? lines : std::vector<std::string>{};
}

TEST_CASE("metrics count real connections, bytes and rejections per service, also over /metrics") {
  Cluster k;
  auto& c = *k.cp.client();
  const std::uint16_t target = testing::unused_port();
  std::map<std::string, std::unique_ptr<GreetingServer>> pods;
  for (const std::string name : {"m-a", "m-b"}) {
    auto p = pod(name, target);
    p.at("metadata").at("labels").as_object()["app"] = "metered";
    REQUIRE(c.create(kPods, "default", p).ok());
    REQUIRE(wait_until([&] { return !pod_ip(c, name).empty(); }));
    pods[name] = std::make_unique<GreetingServer>(name, pod_ip(c, name), target);
    REQUIRE(pods[name]->ok());
  }
  auto svc = c.create(kServices, "default", json::parse(R"({"metadata":{"name":"metered"},"spec":{"selector":{"app":"metered"},"ports":[{"name":"web","port":8081,"targetPort":"http"}]}})"));
  REQUIRE(svc.ok());
  auto none = c.create(kServices, "default", json::parse(R"({"metadata":{"name":"nobody"},"spec":{"selector":{"app":"nobody"},"ports":[{"port":8082}]}})"));
  REQUIRE(none.ok());
  const std::string ip(svc->at("spec").at("clusterIP").as_string());
  const std::string none_ip(none->at("spec").at("clusterIP").as_string());
  auto port_metrics = [&](const std::string& name) {
    for (const auto& p : k.proxy->metrics().service_ports) {
      if (p.ns == "default" && p.service == name) return p;
    }
    return ServicePortMetrics{};
  };
  REQUIRE(wait_until([&] { return port_metrics("metered").endpoints == 2; }, 20s));
  CHECK(port_metrics("metered").port_name == "web");
  CHECK(port_metrics("metered").listeners == 1);
  const auto before = port_metrics("metered").stats;

  {
    testing::TcpClient open(8081, ip);
    REQUIRE(!open.line().empty());
    CHECK(port_metrics("metered").stats.active == before.active + 1);
    for (int i = 0; i < 10; ++i) {
      testing::TcpClient cl(8081, ip);
      REQUIRE(!cl.line().empty());
      cl.send("hello\n");
      REQUIRE(cl.line() == "hello");
    }
  }
  for (int i = 0; i < 3; ++i) CHECK(greeting(none_ip, 8082).empty());
  CHECK(wait_until([&] { return port_metrics("metered").stats.active == before.active; }));
  const auto after = port_metrics("metered").stats;
  CHECK(after.connections - before.connections == 11);
  CHECK(after.connects - before.connects == 11);
  CHECK(after.bytes_to_backend - before.bytes_to_backend == 10 * 6);  // "hello\n"
  CHECK(after.bytes_to_client - before.bytes_to_client == 10 * 6 + 11 * 4);  // + greetings "m-a\n"
  CHECK(after.errors == 0);
  std::uint64_t in_buckets = 0;
  for (auto n : after.connect_latency_buckets) in_buckets += n;
  CHECK(in_buckets == after.connects);
  const auto rejected = port_metrics("nobody").stats;
  CHECK(rejected.connections == 3);
  CHECK(rejected.no_endpoint == 3);

  // The same numbers over HTTP, as Prometheus scrapes them.
  REQUIRE(k.proxy->metrics_port() != 0);
  auto lines = scrape(k.proxy->metrics_port());
  REQUIRE_FALSE(lines.empty());
  auto has = [&](const std::string& l) { return std::find(lines.begin(), lines.end(), l) != lines.end(); };
  CHECK(has(fmt::format(R"(orch_proxy_connections_total{{namespace="default",service="metered",port="web"}} {})", after.connections)));
  CHECK(has(R"(orch_proxy_rejected_connections_total{namespace="default",service="nobody",port="",reason="no_endpoint"} 3)"));
  CHECK(has(R"(orch_proxy_endpoints{namespace="default",service="metered",port="web"} 2)"));
}

}  // namespace
}  // namespace orch::proxy
