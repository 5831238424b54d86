// The etcd backend's own cases, beyond the shared Store suite: key prefixes sharing one etcd, the
// revision mapping, open errors, and what other etcd clients see on the wire.
//
// Thread-safety: each case owns its cluster and stores.
#include "orch/store/etcd_store.hpp"

#include <string>
#include <vector>

#include <doctest.h>

#include "etcd_fixture.hpp"
#include "store_test_util.hpp"

namespace orch::store {
namespace {

using namespace std::chrono_literals;
using testing::collect;
using testing::drain;
using testing::EtcdCluster;

std::unique_ptr<Store> open_store(const EtcdCluster& cluster, const std::string& prefix = {}) {
  EtcdOptions options;
  options.endpoints = cluster.endpoints();
  options.key_prefix = prefix;
  auto opened = open_etcd_store(options);
  REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
  return std::move(opened).value();
}

TEST_CASE("etcd: stores under different key prefixes share one etcd without seeing each other") {
  EtcdCluster cluster(1);
  auto a = open_store(cluster, "/orch-a");
  auto b = open_store(cluster, "/orch-b");
  auto wa = a->watch("", 0);
  REQUIRE(wa.ok());

  auto ka = a->create("/registry/pods/default/x", "from-a");
  REQUIRE(ka.ok());
  CHECK(ka->key == "/registry/pods/default/x");
  auto kb = b->create("/registry/pods/default/x", "from-b");  // same key, other store
  REQUIRE(kb.ok());
  CHECK(kb->mod_revision == ka->mod_revision + 1);  // one revision counter per etcd cluster

  auto la = a->list("");
  REQUIRE(la.ok());
  REQUIRE(la->items.size() == 1);
  CHECK(la->items[0].value == "from-a");
  CHECK(la->items[0].key == "/registry/pods/default/x");
  CHECK(b->get("/registry/pods/default/x")->value == "from-b");
  REQUIRE(b->remove("/registry/pods/default/x", 0).ok());
  CHECK(a->get("/registry/pods/default/x").ok());

  // a's watch sees only a's key, without the prefix.
  auto got = collect(**wa, 1, 10s);
  REQUIRE(got.events.size() == 1);
  CHECK(got.events[0].kv.key == "/registry/pods/default/x");
  CHECK(got.events[0].kv.value == "from-a");
  CHECK(drain(**wa, 200ms).events.empty());
}

TEST_CASE("etcd: the wire carries the prefixed key and etcd's revision (ours + 1)") {
  EtcdCluster cluster(1);
  auto s = open_store(cluster, "/p");
  auto kv = s->create("/k", "v");
  REQUIRE(kv.ok());
  CHECK(kv->mod_revision == 1);
  std::string body;
  // "/p/k" = L3Avaw==
  REQUIRE(testing::etcd_post(cluster.endpoint(0) + "/v3/kv/range", R"({"key":"L3Avaw=="})",
                             &body) == 200);
  CHECK(body.find(R"("mod_revision":"2")") != std::string::npos);
  CHECK(body.find(R"("value":"dg==")") != std::string::npos);
}

TEST_CASE("etcd: open errors") {
  EtcdOptions none;
  CHECK(open_etcd_store(none).status().code() == Code::kInvalidArgument);
  EtcdOptions bad_url;
  bad_url.endpoints = {"127.0.0.1:2379"};
  CHECK(open_etcd_store(bad_url).status().code() == Code::kInvalidArgument);
  EtcdOptions bad_tls;
  bad_tls.endpoints = {"https://127.0.0.1:1"};
  bad_tls.ca_file = "/nonexistent/ca.pem";
  CHECK(open_etcd_store(bad_tls).status().code() == Code::kInvalidArgument);

  // Nobody listens: Unavailable once operation_timeout has passed.
  EtcdOptions down;
  down.endpoints = {"http://127.0.0.1:" + std::to_string(testing::free_port()),
                    "http://127.0.0.1:" + std::to_string(testing::free_port())};
  down.operation_timeout = 300ms;
  auto opened = open_etcd_store(down);
  CHECK(opened.status().code() == Code::kUnavailable);
}

TEST_CASE("etcd: a dead first endpoint is skipped") {
  EtcdCluster cluster(1);
  EtcdOptions options;
  options.endpoints = {"http://127.0.0.1:" + std::to_string(testing::free_port()),
                       cluster.endpoint(0)};
  auto opened = open_etcd_store(options);
  REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
  Store& s = **opened;
  REQUIRE(s.create("/a", "1").ok());
  auto w = s.watch("/", 0);
  REQUIRE(w.ok());
  auto got = collect(**w, 1, 10s);
  REQUIRE(got.events.size() == 1);
  CHECK(got.events[0].kv.key == "/a");
}

TEST_CASE("etcd: TLS with a client certificate") {
  testing::TempDir certs;
  auto tls = testing::make_test_tls(certs.path());
  if (!tls.has_value()) {
    MESSAGE("the openssl tool is not available: TLS case skipped");
    return;
  }
  EtcdCluster cluster(1, *tls);
  EtcdOptions options;
  options.endpoints = cluster.endpoints();
  REQUIRE(options.endpoints[0].rfind("https://", 0) == 0);
  options.ca_file = tls->ca;
  options.cert_file = tls->client_cert;
  options.key_file = tls->client_key;
  auto opened = open_etcd_store(options);
  REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
  Store& s = **opened;
  auto w = s.watch("/t/", 0);
  REQUIRE(w.ok());
  REQUIRE(s.create("/t/a", "secret").ok());
  CHECK(s.get("/t/a")->value == "secret");
  auto got = collect(**w, 1, 10s);
  REQUIRE(got.events.size() == 1);
  CHECK(got.events[0].kv.value == "secret");

  // Without the client certificate the member refuses the connection.
  EtcdOptions no_cert = options;
  no_cert.cert_file.clear();
  no_cert.key_file.clear();
  no_cert.operation_timeout = 500ms;
  CHECK(open_etcd_store(no_cert).status().code() == Code::kUnavailable);
  // Only one of cert and key is a configuration error.
  EtcdOptions half = options;
  half.key_file.clear();
  CHECK(open_etcd_store(half).status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace orch::store
