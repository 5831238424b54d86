// EventRecorder and InformerFactory against the real API server (in-process transport):
// events are written, repeats aggregate into one Event with a count, cluster-scoped objects'
// events land in "default"; shared informers are shared and stop cleanly.
#include <doctest.h>

#include <boost/json.hpp>

#include <chrono>
#include <memory>
#include <thread>

#include "orch/apiserver/api_server.hpp"
#include "orch/client/client.hpp"
#include "orch/client/event_recorder.hpp"
#include "orch/client/in_process_transport.hpp"
#include "orch/client/informer_factory.hpp"
#include "orch/store/sqlite_store.hpp"
#include "orch/util/clock.hpp"
#include "../../conformance/store/store_test_util.hpp"

namespace orch::client {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

struct Api {
  Api() {
    store::SqliteOptions so;
    so.path = dir.file("state.db");
    auto s = store::open_sqlite_store(so);
    REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    store = std::move(s).value();
    apiserver::ApiServerOptions ao;
    ao.serve_http = false;
    auto srv = apiserver::ApiServer::start(*store, ao);
    REQUIRE_MESSAGE(srv.ok(), srv.status().to_string());
    server = std::move(srv).value();
    client = std::make_shared<Client>(
        std::shared_ptr<Transport>(make_in_process_transport(server->handler())));
  }
  ~Api() {
    server->stop();
    server.reset();
    store.reset();
  }
  store::testing::TempDir dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<apiserver::ApiServer> server;
  std::shared_ptr<Client> client;
};

json::value pod(std::string_view name) {
  return json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" +
                     std::string(name) +
                     R"(","namespace":"default","uid":"u-1"},"spec":{"containers":[]}})");
}

std::vector<json::value> events_in(Client& client, std::string_view ns) {
  auto list = client.list_all(resources::kEvents, ns);
  REQUIRE_MESSAGE(list.ok(), list.status().to_string());
  return list->items;
}

TEST_CASE("an event is written with the object reference, source and reason") {
  Api api;
  util::FakeClock clock;
  EventRecorder recorder(api.client, {.component = "default-scheduler", .host = "node-1",
                                      .clock = &clock});
  recorder.event(pod("kuard"), "Normal", "Scheduled", "Successfully assigned default/kuard to n1");
  REQUIRE(recorder.flush(10s));
  auto events = events_in(*api.client, "default");
  REQUIRE(events.size() == 1);
  const auto& e = events[0].as_object();
  CHECK(e.at("reason") == "Scheduled");
  CHECK(e.at("type") == "Normal");
  CHECK(e.at("message") == "Successfully assigned default/kuard to n1");
  CHECK(e.at("count") == 1);
  CHECK(e.at("involvedObject").at("kind") == "Pod");
  CHECK(e.at("involvedObject").at("name") == "kuard");
  CHECK(e.at("involvedObject").at("uid") == "u-1");
  CHECK(e.at("source").at("component") == "default-scheduler");
  CHECK(e.at("source").at("host") == "node-1");
  CHECK(e.at("firstTimestamp") == "2024-01-01T00:00:00Z");
  CHECK(std::string(e.at("metadata").at("name").as_string()).starts_with("kuard."));
}

TEST_CASE("repeats within ten minutes aggregate into one Event; later ones start another") {
  Api api;
  util::FakeClock clock;
  EventRecorder recorder(api.client, {.component = "kubelet", .clock = &clock});
  for (int i = 0; i < 4; ++i) {
    recorder.event(pod("kuard"), "Warning", "BackOff", "Back-off restarting failed container");
    clock.advance(1min);
  }
  // A different message is a different Event.
  recorder.event(pod("kuard"), "Warning", "Unhealthy", "Liveness probe failed");
  REQUIRE(recorder.flush(10s));
  auto events = events_in(*api.client, "default");
  REQUIRE(events.size() == 2);
  for (const auto& e : events) {
    if (e.at("reason") == "BackOff") {
      CHECK(e.at("count") == 4);
      CHECK(e.at("firstTimestamp") == "2024-01-01T00:00:00Z");
      CHECK(e.at("lastTimestamp") == "2024-01-01T00:03:00Z");
    } else {
      CHECK(e.at("count") == 1);
    }
  }
  clock.advance(20min);
  recorder.event(pod("kuard"), "Warning", "BackOff", "Back-off restarting failed container");
  REQUIRE(recorder.flush(10s));
  CHECK(events_in(*api.client, "default").size() == 3);
}

TEST_CASE("many different events at one instant all get their own Event object") {
  Api api;
  util::FakeClock clock;  // never advanced: every event has the same timestamp
  EventRecorder recorder(api.client, {.component = "kubelet", .clock = &clock});
  for (int i = 0; i < 12; ++i) {
    recorder.event(pod("kuard"), "Normal", "Created", "Created container c" + std::to_string(i));
  }
  REQUIRE(recorder.flush(10s));
  CHECK(events_in(*api.client, "default").size() == 12);
}

TEST_CASE("events about cluster-scoped objects go to the default namespace") {
  Api api;
  EventRecorder recorder(api.client, {.component = "node-controller"});
  recorder.event(json::parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}})"),
                 "Normal", "RegisteredNode", "Node n1 event: Registered Node n1");
  REQUIRE(recorder.flush(10s));
  auto events = events_in(*api.client, "default");
  REQUIRE(events.size() == 1);
  CHECK(events[0].at("involvedObject").at("kind") == "Node");
  CHECK(events[0].at("involvedObject").as_object().if_contains("namespace") == nullptr);
}

TEST_CASE("an event about an object in a missing namespace is dropped, not retried forever") {
  Api api;
  EventRecorder recorder(api.client, {.component = "test"});
  auto p = pod("x");
  p.at("metadata").as_object()["namespace"] = "nowhere";
  recorder.event(p, "Normal", "Reason", "message");
  recorder.event(pod("y"), "Normal", "Reason", "message");
  REQUIRE(recorder.flush(10s));
  CHECK(events_in(*api.client, "default").size() == 1);
}

TEST_CASE("the informer factory shares one informer per resource and options") {
  Api api;
  InformerFactory factory(api.client);
  Informer& a = factory.informer(resources::kPods);
  Informer& b = factory.informer(resources::kPods);
  Informer& c = factory.informer(resources::kPods, {.field_selector = "spec.nodeName=n1"});
  CHECK(&a == &b);
  CHECK(&a != &c);
  std::atomic<int> adds{0};
  EventHandlers handlers;
  handlers.on_add = [&](const SharedObject&) { ++adds; };
  REQUIRE(a.add_event_handler(std::move(handlers)).ok());
  REQUIRE(api.client->create(resources::kConfigMaps, "default",
                             json::parse(R"({"metadata":{"name":"cm"}})"))
              .ok());
  REQUIRE(factory.start().ok());
  REQUIRE(factory.wait_for_sync(10s));
  // An informer asked for after start is started at once.
  Informer& cms = factory.informer(resources::kConfigMaps);
  REQUIRE(cms.wait_for_sync(10s));
  CHECK(cms.get("default", "cm") != nullptr);
  REQUIRE(api.client->create(resources::kPods, "default",
                             json::parse(R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"kuard"}]}})"))
              .ok());
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (adds.load() < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  CHECK(adds.load() == 1);
  factory.stop();
  factory.stop();  // idempotent
  CHECK_FALSE(factory.start().ok());
}

}  // namespace
}  // namespace orch::client
