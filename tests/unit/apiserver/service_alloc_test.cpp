// Service addresses through the real API server (in-process transport): ClusterIPs from the
// configured CIDR, NodePorts from the range, requested values checked (422 in Kubernetes' words),
// no duplicates under concurrent creates, released on delete and type change, and kept across a
// restart on the same store.
#include <doctest.h>

#include <boost/json.hpp>

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "orch/apiserver/api_server.hpp"
#include "orch/client/client.hpp"
#include "orch/client/in_process_transport.hpp"
#include "orch/store/sqlite_store.hpp"
#include "../../conformance/store/store_test_util.hpp"

namespace orch::apiserver {
namespace {

namespace json = boost::json;
using client::Client;
using client::resources::kServices;

class Api {
 public:
  explicit Api(store::Store& store, std::string cidr = "127.96.0.0/16", int pmin = 30000,
               int pmax = 32767) {
    ApiServerOptions ao;
    ao.serve_http = false;
    ao.service_cluster_ip_range = std::move(cidr);
    ao.service_node_port_min = pmin;
    ao.service_node_port_max = pmax;
    auto srv = ApiServer::start(store, ao);
    REQUIRE_MESSAGE(srv.ok(), srv.status().to_string());
    server_ = std::move(srv).value();
    client = std::make_shared<Client>(
        std::shared_ptr<client::Transport>(client::make_in_process_transport(server_->handler())));
  }
  ~Api() { server_->stop(); }
  std::shared_ptr<Client> client;

 private:
  std::unique_ptr<ApiServer> server_;
};

struct Fixture {
  Fixture() {
    store::SqliteOptions so;
    so.path = dir.file("state.db");
    auto s = store::open_sqlite_store(so);
    REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    store = std::move(s).value();
  }
  store::testing::TempDir dir;
  std::unique_ptr<store::Store> store;
};

json::value service(std::string_view name, std::string_view type, std::string_view extra_spec = "",
                    std::string_view port_extra = "") {
  std::string s = R"({"apiVersion":"v1","kind":"Service","metadata":{"name":")" + std::string(name) +
                  R"("},"spec":{"type":")" + std::string(type) +
                  R"(","selector":{"app":"kuard"},"ports":[{"port":80,"targetPort":8080)" +
                  std::string(port_extra) + "}]" + std::string(extra_spec) + "}}";
  return json::parse(s);
}

std::string cluster_ip(const json::value& svc) {
  return std::string(svc.at("spec").at("clusterIP").as_string());
}
std::int64_t node_port(const json::value& svc) {
  return svc.at("spec").at("ports").at(0).at("nodePort").as_int64();
}

TEST_CASE("a ClusterIP service gets an address from the range; NodePort and LoadBalancer a port") {
  Fixture f;
  Api api(*f.store);
  auto a = api.client->create(kServices, "default", service("a", "ClusterIP"));
  REQUIRE_MESSAGE(a.ok(), a.status().to_string());
  CHECK(cluster_ip(*a).starts_with("127.96."));
  CHECK(a->at("spec").at("clusterIPs").at(0) == a->at("spec").at("clusterIP"));
  CHECK(a->at("spec").at("ports").at(0).as_object().if_contains("nodePort") == nullptr);

  for (std::string_view type : {"NodePort", "LoadBalancer"}) {
    CAPTURE(type);
    auto s = api.client->create(kServices, "default", service(type == "NodePort" ? "np" : "lb", type));
    REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    CHECK(cluster_ip(*s) != cluster_ip(*a));
    CHECK(node_port(*s) >= 30000);
    CHECK(node_port(*s) <= 32767);
  }
  auto headless = api.client->create(kServices, "default",
                                     service("h", "ClusterIP", R"(,"clusterIP":"None")"));
  REQUIRE_MESSAGE(headless.ok(), headless.status().to_string());
  CHECK(cluster_ip(*headless) == "None");
}

TEST_CASE("requested addresses are checked: out of range and taken are 422 in Kubernetes' words") {
  Fixture f;
  Api api(*f.store);
  REQUIRE(api.client->create(kServices, "default",
                             service("a", "NodePort", R"(,"clusterIP":"127.96.0.10")",
                                     R"(,"nodePort":30080)"))
              .ok());
  struct Case {
    const char* name;
    json::value svc;
    const char* message;
  };
  std::vector<Case> cases = {
      {"ip taken", service("b", "ClusterIP", R"(,"clusterIP":"127.96.0.10")"),
       "Service \"b\" is invalid: spec.clusterIPs: Invalid value: []string{\"127.96.0.10\"}: "
       "failed to allocate IP 127.96.0.10: provided IP is already allocated"},
      {"ip out of range", service("c", "ClusterIP", R"(,"clusterIP":"10.0.0.1")"),
       "Service \"c\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.0.0.1\"}: "
       "failed to allocate IP 10.0.0.1: provided IP is not in the valid range. The range of "
       "valid IPs is 127.96.0.0/16"},
      {"port taken", service("d", "NodePort", "", R"(,"nodePort":30080)"),
       "Service \"d\" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is "
       "already allocated"},
      {"port out of range", service("e", "NodePort", "", R"(,"nodePort":80)"),
       "Service \"e\" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not "
       "in the valid range. The range of valid ports is 30000-32767"},
      {"one port twice in a service", service("f", "NodePort", "",
                                              R"(,"name":"a","nodePort":30090},)"
                                              R"({"name":"b","port":81,"nodePort":30090)"),
       "Service \"f\" is invalid: spec.ports[1].nodePort: Duplicate value: 30090"},
  };
  for (auto& c : cases) {
    SUBCASE(c.name) {
      auto r = api.client->create(kServices, "default", c.svc);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == Code::kInvalidArgument);
      CHECK(r.status().message() == c.message);
      // Nothing was kept by the refused create: its cluster IP (if any) is still free.
      CHECK(api.client->get(kServices, "default", c.svc.at("metadata").at("name").as_string())
                .status()
                .code() == Code::kNotFound);
    }
  }
}

TEST_CASE("concurrent creates never share an address or a port") {
  Fixture f;
  Api api(*f.store);
  constexpr int kThreads = 6, kEach = 15;
  std::vector<std::thread> threads;
  std::vector<std::vector<json::value>> made(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = api.client->create(
            kServices, "default", service("s" + std::to_string(t) + "-" + std::to_string(i), "NodePort"));
        if (r.ok()) made[t].push_back(std::move(r).value());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> ips;
  std::set<std::int64_t> ports;
  std::size_t n = 0;
  for (auto& v : made) {
    for (auto& s : v) {
      ++n;
      ips.insert(cluster_ip(s));
      ports.insert(node_port(s));
    }
  }
  CHECK(n == kThreads * kEach);
  CHECK(ips.size() == n);
  CHECK(ports.size() == n);
}

TEST_CASE("delete and type change give addresses back; a full range says so") {
  Fixture f;
  // A /29 has 6 usable addresses; 3 node ports.
  Api api(*f.store, "127.97.0.0/29", 30000, 30002);
  auto a = api.client->create(kServices, "default", service("a", "NodePort"));
  REQUIRE(a.ok());
  const std::string ip = cluster_ip(*a);
  const auto port = node_port(*a);
  REQUIRE(api.client->remove(kServices, "default", "a").ok());
  auto again = api.client->create(kServices, "default",
                                  service("a2", "NodePort", R"(,"clusterIP":")" + ip + "\"",
                                          R"(,"nodePort":)" + std::to_string(port)));
  REQUIRE_MESSAGE(again.ok(), again.status().to_string());

  // NodePort -> ClusterIP drops the node port (as Kubernetes does when the client left it as is).
  json::value changed = *again;
  changed.at("spec").as_object()["type"] = "ClusterIP";
  auto updated = api.client->update(kServices, "default", changed);
  REQUIRE_MESSAGE(updated.ok(), updated.status().to_string());
  CHECK(updated->at("spec").at("ports").at(0).as_object().if_contains("nodePort") == nullptr);
  CHECK(cluster_ip(*updated) == ip);
  auto reuse = api.client->create(kServices, "default",
                                  service("b", "NodePort", "", R"(,"nodePort":)" + std::to_string(port)));
  REQUIRE_MESSAGE(reuse.ok(), reuse.status().to_string());

  // ClusterIP -> NodePort allocates one.
  json::value back = *updated;
  back.at("spec").as_object()["type"] = "NodePort";
  auto np = api.client->update(kServices, "default", back);
  REQUIRE_MESSAGE(np.ok(), np.status().to_string());
  CHECK(node_port(*np) != port);

  // Fill the IP range: 6 usable, 2 used.
  for (int i = 0; i < 4; ++i) {
    REQUIRE(api.client->create(kServices, "default", service("f" + std::to_string(i), "ClusterIP")).ok());
  }
  auto full = api.client->create(kServices, "default", service("full", "ClusterIP"));
  REQUIRE_FALSE(full.ok());
  CHECK(full.status().message().find("range is full") != std::string::npos);
}

TEST_CASE("a restarted API server keeps the allocations of the services it finds") {
  Fixture f;
  std::string ip;
  {
    Api api(*f.store);
    auto a = api.client->create(kServices, "default", service("a", "ClusterIP"));
    REQUIRE(a.ok());
    ip = cluster_ip(*a);
  }
  Api api(*f.store);
  auto b = api.client->create(kServices, "default",
                              service("b", "ClusterIP", R"(,"clusterIP":")" + ip + "\""));
  REQUIRE_FALSE(b.ok());
  CHECK(b.status().message().find("provided IP is already allocated") != std::string::npos);
}

}  // namespace
}  // namespace orch::apiserver
