// The service proxy at scale: 2,000 Services with 3 endpoints each, fed through an in-process API
// (no pods: the Endpoints are written directly). Every ClusterIP:port gets its listener; then a
// change to one Service's endpoints reprograms only its pool, and a change to one Service's port
// re-creates only its listener (the proxy's counters show it), while another Service keeps
// answering throughout.
#include <doctest.h>

#include <sys/resource.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "control_plane.hpp"
#include "orch/client/resource.hpp"
#include "orch/proxy/service_proxy.hpp"
#include "tcp_test_util.hpp"

namespace orch::proxy {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kEndpoints;
using client::resources::kServices;
using testing::wait_until;

constexpr int kServicesCount = 2000;

json::value service(int i, int port) {
  return json::parse(fmt::format(
      R"({{"metadata":{{"name":"s{}"}},"spec":{{"ports":[{{"port":{},"targetPort":8080}}]}}}})", i,
      port));
}

json::value endpoints(int i, const std::vector<std::pair<std::string, int>>& addrs) {
  json::array list;
  int port = 8080;
  for (const auto& [ip, p] : addrs) {
    list.push_back(json::object{{"ip", ip}});
    port = p;
  }
  return json::value{{"metadata", {{"name", fmt::format("s{}", i)}}},
                     {"subsets", json::array{json::object{
                                     {"addresses", list},
                                     {"ports", json::array{json::object{{"port", port}}}}}}}};
}

std::vector<std::pair<std::string, int>> three(int i) {
  return {{fmt::format("127.50.{}.{}", i / 200, i % 200 + 1), 8080},
          {fmt::format("127.51.{}.{}", i / 200, i % 200 + 1), 8080},
          {fmt::format("127.52.{}.{}", i / 200, i % 200 + 1), 8080}};
}

TEST_CASE("2,000 services: all listen, and a change to one touches only that one") {
  // Listeners take one descriptor per network thread each.
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);

  testing::ControlPlane cp;
  auto& c = *cp.client();
  testing::GreetingServer backend("live");
  REQUIRE(backend.ok());
  // Service 0 forwards to a live server, on a port no other test's services use.
  const int live_port = 20000 + backend.port() % 10000;
  auto started = ServiceProxy::start(cp.client(), {.threads = 2});
  REQUIRE(started.ok());
  auto& proxy = **started;

  std::atomic<int> failures{0};
  std::mutex mu;
  std::string first_error;
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      for (int i = t; i < kServicesCount; i += 8) {
        const bool live = i == 0;
        auto s = c.create(kServices, "default", service(i, live ? live_port : 80));
        auto addrs = live ? std::vector<std::pair<std::string, int>>{{"127.0.0.1", backend.port()}}
                          : three(i);
        auto e = c.create(kEndpoints, "default", endpoints(i, addrs));
        for (const Status& st : {s.status(), e.status()}) {
          if (st.ok()) continue;
          ++failures;
          std::lock_guard lock(mu);
          first_error = st.to_string();
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  REQUIRE_MESSAGE(failures.load() == 0, first_error);
  CHECK(wait_until([&] { return proxy.listener_count() == kServicesCount; }, 180s, 100ms));
  REQUIRE(proxy.wait_for_sync(60s));
  auto svc0 = c.get(kServices, "default", "s0");
  REQUIRE(svc0.ok());
  const std::string ip0(svc0->at("spec").at("clusterIP").as_string());
  CHECK(testing::greeting(ip0, static_cast<std::uint16_t>(live_port)) == "live");

  const ServiceProxyMetrics m0 = proxy.metrics();
  CHECK(m0.service_ports.size() == kServicesCount);
  CHECK(m0.listeners_opened == kServicesCount);
  CHECK(m0.listeners_closed == 0);
  std::size_t endpoints_total = 0;
  for (const auto& p : m0.service_ports) endpoints_total += p.endpoints;
  CHECK(endpoints_total == 3 * (kServicesCount - 1) + 1);

  // One Service's endpoints change: one pool reprogrammed, no listener touched.
  auto addrs = three(7);
  addrs.emplace_back("127.53.0.1", 8080);
  auto ep7 = endpoints(7, addrs);
  REQUIRE(c.patch(kEndpoints, "default", "s7", client::PatchType::Merge,
                  json::serialize(json::object{{"subsets", ep7.at("subsets")}}))
              .ok());
  CHECK(wait_until([&] { return proxy.metrics().pool_updates == m0.pool_updates + 1; }, 30s));
  REQUIRE(proxy.wait_for_sync(30s));
  auto m1 = proxy.metrics();
  CHECK(m1.listeners_opened == m0.listeners_opened);
  CHECK(m1.listeners_closed == 0);
  CHECK(m1.syncs - m0.syncs <= 2);  // the Endpoints event (and nothing for the other 1,999)

  // One Service's port changes: exactly one listener closed and one opened.
  REQUIRE(c.patch(kServices, "default", "s9", client::PatchType::Merge,
                  R"({"spec":{"ports":[{"port":81,"targetPort":8080}]}})")
              .ok());
  CHECK(wait_until([&] { return proxy.metrics().listeners_opened == m0.listeners_opened + 1; }, 30s));
  REQUIRE(proxy.wait_for_sync(30s));
  auto m2 = proxy.metrics();
  CHECK(m2.listeners_opened == m0.listeners_opened + 1);
  CHECK(m2.listeners_closed == 1);
  CHECK(m2.listeners == kServicesCount);
  CHECK(testing::greeting(ip0, static_cast<std::uint16_t>(live_port)) == "live");

  proxy.stop();
  CHECK(proxy.listener_count() == 0);
}

}  // namespace
}  // namespace orch::proxy
