// The etcd backend's own cases, beyond the shared Store suite: key prefixes sharing one etcd, the
// revision mapping, open errors, and what other etcd clients see on the wire; and on a 3-member
// cluster: leader death during writes and watches, quorum loss, and unknown outcomes resolved.
//
// Thread-safety: each case owns its cluster and stores.
#include "orch/store/etcd_store.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <doctest.h>
#include <fmt/format.h>

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

// ---- Three members: failover, quorum loss, unknown outcomes ----

// Opens a client of every member with a short per-request timeout, so that failover is quick.
std::unique_ptr<Store> open_fast(const EtcdCluster& cluster, std::chrono::milliseconds operation) {
  EtcdOptions options;
  options.endpoints = cluster.endpoints();
  options.request_timeout = 1s;
  options.operation_timeout = operation;
  auto opened = open_etcd_store(options);
  REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
  return std::move(opened).value();
}

int wait_leader(const EtcdCluster& cluster) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    const int leader = cluster.leader();
    if (leader >= 0) return leader;
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "no etcd leader");
    std::this_thread::sleep_for(50ms);
  }
}

TEST_CASE("etcd 3 members: killing the leader loses no acknowledged write and fails none") {
  EtcdCluster cluster(3);
  const int leader = wait_leader(cluster);
  // Start at the leader: its death breaks requests in flight, whose outcome is then unknown.
  EtcdOptions options;
  options.endpoints = cluster.endpoints();
  std::rotate(options.endpoints.begin(), options.endpoints.begin() + leader,
              options.endpoints.end());
  options.request_timeout = 1s;
  auto opened = open_etcd_store(options);
  REQUIRE(opened.ok());
  Store& s = **opened;
  auto w = s.watch("/k/", 0);
  REQUIRE(w.ok());

  constexpr int kWrites = 120;
  std::map<std::string, std::string> acked;
  std::atomic<int> done{0};
  std::thread writer([&] {
    for (int i = 0; i < kWrites; ++i) {
      const std::string key = "/k/" + std::to_string(i);
      auto created = s.create(key, "v" + std::to_string(i));
      if (created.ok()) acked[key] = created->value;
      CHECK_MESSAGE(created.ok(), created.status().to_string());
      if (i % 3 == 0) {  // and a CAS update of an earlier key
        const std::string old = "/k/" + std::to_string(i / 2);
        auto cur = s.get(old);
        if (cur.ok()) {
          auto up = s.update(old, cur->value + "+", cur->mod_revision);
          CHECK_MESSAGE(up.ok(), up.status().to_string());
          if (up.ok()) acked[old] = up->value;
        }
      }
      done = i + 1;
    }
  });
  while (done < kWrites / 3) std::this_thread::sleep_for(1ms);
  cluster.kill(leader);
  writer.join();

  auto list = s.list("/k/");
  REQUIRE(list.ok());
  std::map<std::string, std::string> stored;
  for (const auto& kv : list->items) stored[kv.key] = kv.value;
  CHECK(stored == acked);
  // The watch moved to a live member and saw every write exactly once, in order.
  auto got = collect(**w, static_cast<std::size_t>(list->revision), 20s);
  REQUIRE(got.end.ok());
  std::map<std::string, std::string> replayed;
  Revision last = 0;
  for (const auto& ev : got.events) {
    CHECK(ev.revision() > last);
    last = ev.revision();
    replayed[ev.kv.key] = ev.kv.value;
  }
  CHECK(replayed == acked);
  CHECK(drain(**w, 300ms).events.empty());
}

TEST_CASE("etcd 3 members: a watch resumes on another member with nothing missed or repeated") {
  EtcdCluster cluster(3);
  wait_leader(cluster);
  // The watch streams from the first endpoint; kill that member while writes go on elsewhere.
  auto watcher = open_fast(cluster, 15s);
  EtcdOptions wo;
  wo.endpoints = {cluster.endpoint(1), cluster.endpoint(2), cluster.endpoint(0)};
  auto writer = open_etcd_store(wo);
  REQUIRE(writer.ok());
  auto w = watcher->watch("/w/", 0);
  REQUIRE(w.ok());
  for (int i = 0; i < 5; ++i) REQUIRE((*writer)->create("/w/a" + std::to_string(i), "x").ok());
  REQUIRE(collect(**w, 5, 10s).events.size() == 5);
  cluster.kill(0);
  for (int i = 0; i < 5; ++i) REQUIRE((*writer)->create("/w/b" + std::to_string(i), "y").ok());
  REQUIRE((*writer)->remove("/w/a0", 0).ok());
  auto got = collect(**w, 6, 20s);
  REQUIRE_MESSAGE(got.end.ok(), got.end.to_string());
  REQUIRE(got.events.size() == 6);
  for (std::size_t i = 0; i < 5; ++i) CHECK(got.events[i].kv.key == fmt::format("/w/b{}", i));
  CHECK(got.events[5].type == EventType::kDelete);
  CHECK(got.events[5].prev->key == "/w/a0");
  CHECK(drain(**w, 300ms).events.empty());
}

TEST_CASE("etcd 3 members: without quorum writes fail with Unavailable, and nothing is lost") {
  EtcdCluster cluster(3);
  wait_leader(cluster);
  auto s = open_fast(cluster, 3s);
  REQUIRE(s->create("/q/before", "1").ok());
  cluster.kill(1);
  cluster.kill(2);
  auto failed = s->create("/q/during", "2");
  REQUIRE(failed.status().code() == Code::kUnavailable);
  CHECK(failed.status().message().find("may have been committed") != std::string::npos);
  CHECK(s->get("/q/before").status().code() == Code::kUnavailable);  // linearizable reads too

  cluster.restart(1);
  cluster.restart(2);
  REQUIRE(cluster.wait_ready(30s));
  auto before = s->get("/q/before");
  REQUIRE(before.ok());
  CHECK(before->value == "1");
  // The failed create either happened or not, and can be resolved by reading it back.
  auto during = s->get("/q/during");
  if (during.ok()) {
    CHECK(during->value == "2");
  } else {
    CHECK(during.status().code() == Code::kNotFound);
  }
  REQUIRE(s->create("/q/after", "3").ok());
}

TEST_CASE("etcd 3 members: CAS increments under member kills count every acknowledged one once") {
  EtcdCluster cluster(3);
  wait_leader(cluster);
  constexpr int kClients = 4;
  constexpr int kPerClient = 40;
  std::vector<std::unique_ptr<Store>> stores;
  for (int c = 0; c < kClients; ++c) {
    EtcdOptions options;
    options.endpoints = cluster.endpoints();
    std::rotate(options.endpoints.begin(), options.endpoints.begin() + c % 3,
                options.endpoints.end());
    options.request_timeout = 1s;
    auto opened = open_etcd_store(options);
    REQUIRE(opened.ok());
    stores.push_back(std::move(opened).value());
  }
  REQUIRE(stores[0]->create("/counter", "0").ok());
  std::atomic<int> acked{0};
  std::atomic<int> unknown{0};
  std::atomic<int> progress{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      Store& s = *stores[static_cast<std::size_t>(c)];
      for (int i = 0; i < kPerClient; ++i) {
        for (;;) {
          auto cur = s.get("/counter");
          if (!cur.ok()) continue;  // a member is down: try again
          // "<count> <client>.<i>": the request id makes every value unique, which is what lets
          // the store tell its own earlier attempt from another client's write (etcd_store.hpp).
          auto up = s.update("/counter",
                             fmt::format("{} {}.{}", std::stoi(cur->value) + 1, c, i),
                             cur->mod_revision);
          if (up.ok()) {
            ++acked;
            break;
          }
          if (up.status().code() == Code::kAborted) continue;
          ++unknown;  // Unavailable: maybe applied
          break;
        }
        ++progress;
      }
    });
  }
  // Kill and restart the leader, then another member, while the increments run.
  for (int round = 0; round < 2; ++round) {
    while (progress < (round + 1) * kClients * kPerClient / 3) std::this_thread::sleep_for(1ms);
    const int victim = round == 0 ? wait_leader(cluster) : (wait_leader(cluster) + 1) % 3;
    cluster.kill(victim);
    std::this_thread::sleep_for(300ms);
    cluster.restart(victim);
  }
  for (auto& t : clients) t.join();
  REQUIRE(cluster.wait_ready(30s));
  auto final_value = stores[0]->get("/counter");
  REQUIRE(final_value.ok());
  const int value = std::stoi(final_value->value);
  MESSAGE("acknowledged " << acked.load() << ", unknown " << unknown.load() << ", final " << value);
  CHECK(unknown.load() == 0);  // with a quorum up, every outcome was resolved
  CHECK(value == acked.load());
}

}  // namespace
}  // namespace orch::store
