// Informer over both transports against the fake API server: initial sync, live events, indexers,
// relist after 410 with the right add/update/delete calls, re-watch after the server ends a watch,
// bookmarks, backoff after errors, resync, lifecycle.
#include <doctest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <mutex>
#include <thread>

#include "client_envs.hpp"
#include "orch/client/informer.hpp"

namespace orch::client {
namespace {

namespace json = boost::json;
using testing::HttpEnv;
using testing::InProcessEnv;
using namespace std::chrono_literals;

json::value pod(const std::string& name, const std::string& app = "kuard",
                const std::string& owner_uid = "") {
  json::value p{{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", {{"name", name}, {"labels", {{"app", app}}}}},
                {"spec", json::object{}}};
  if (!owner_uid.empty()) {
    p.at("metadata").as_object()["ownerReferences"] = json::array{
        {{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "rs"}, {"uid", "other"}},
        {{"apiVersion", "apps/v1"},
         {"kind", "ReplicaSet"},
         {"name", "rs"},
         {"uid", owner_uid},
         {"controller", true}}};
  }
  return p;
}

// Records handler calls as "add:ns/name", "update:ns/name", "delete:ns/name".
struct Recorder {
  std::mutex mu;
  std::vector<std::string> calls;
  std::vector<std::pair<SharedObject, SharedObject>> updates;

  EventHandlers handlers() {
    EventHandlers h;
    h.on_add = [this](const SharedObject& o) { push("add:" + object_key(*o)); };
    h.on_update = [this](const SharedObject& a, const SharedObject& b) {
      std::lock_guard lock(mu);
      calls.push_back("update:" + object_key(*b));
      updates.emplace_back(a, b);
    };
    h.on_delete = [this](const SharedObject& o) { push("delete:" + object_key(*o)); };
    return h;
  }
  void push(std::string s) {
    std::lock_guard lock(mu);
    calls.push_back(std::move(s));
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mu);
    return calls;
  }
  void clear() {
    std::lock_guard lock(mu);
    calls.clear();
    updates.clear();
  }
  // Waits (at most 5 s) until `n` calls were recorded.
  bool wait_for(std::size_t n) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (snapshot().size() >= n) return true;
      std::this_thread::sleep_for(2ms);
    }
    return false;
  }
};

template <typename Pred>
bool eventually(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

InformerOptions fast_options() {
  InformerOptions o;
  o.backoff_initial = 5ms;
  o.backoff_max = 50ms;
  o.page_size = 2;
  return o;
}

int count_requests(const testing::FakeApiServer& s, bool watch) {
  int n = 0;
  for (const auto& r : s.requests()) {
    if (r.method != "GET" || !r.path.ends_with("/pods")) continue;
    n += (r.query.contains("watch") == watch) ? 1 : 0;
  }
  return n;
}

TEST_CASE_TEMPLATE("Informer syncs, then follows adds, updates and deletes", Env, InProcessEnv,
                   HttpEnv) {
  Env env;
  Recorder rec;  // outlives the informer, whose thread calls it
  for (int i = 0; i < 5; ++i) {
    REQUIRE(env.client->create(resources::kPods, "default", pod("p" + std::to_string(i))).ok());
  }
  REQUIRE(env.client->create(resources::kPods, "elsewhere", pod("ignored")).ok());
  InformerOptions o = fast_options();
  o.namespace_ = "default";
  Informer inf(env.client, resources::kPods, o);
  REQUIRE(inf.add_event_handler(rec.handlers()).ok());
  CHECK_FALSE(inf.has_synced());
  REQUIRE(inf.start().ok());
  REQUIRE(inf.wait_for_sync(5s));
  CHECK(inf.list().size() == 5);
  CHECK(rec.snapshot().size() == 5);  // add calls are made before has_synced()
  CHECK(inf.last_sync_resource_version() == std::to_string(env.server.resource_version()));
  auto p0 = inf.get("default", "p0");
  REQUIRE(p0);
  CHECK(object_name(*p0) == "p0");
  CHECK_FALSE(inf.get("elsewhere", "ignored"));
  CHECK(count_requests(env.server, false) == 3);  // pages of 2

  rec.clear();
  REQUIRE(env.client->create(resources::kPods, "default", pod("new")).ok());
  REQUIRE(env.client->patch(resources::kPods, "default", "p1", PatchType::Merge,
                            R"j({"metadata":{"labels":{"v":"2"}}})j").ok());
  REQUIRE(env.client->remove(resources::kPods, "default", "p2").ok());
  REQUIRE(rec.wait_for(3));
  CHECK(rec.snapshot() ==
        std::vector<std::string>{"add:default/new", "update:default/p1", "delete:default/p2"});
  {
    std::lock_guard lock(rec.mu);
    REQUIRE(rec.updates.size() == 1);
    auto [old_obj, new_obj] = rec.updates[0];
    CHECK(object_resource_version(*old_obj) != object_resource_version(*new_obj));
    CHECK_FALSE(old_obj->at("metadata").at("labels").as_object().contains("v"));
    CHECK(new_obj->at("metadata").at("labels").at("v") == "2");
  }
  CHECK(inf.get("default", "new"));
  CHECK_FALSE(inf.get("default", "p2"));
  CHECK(inf.list().size() == 5);
  CHECK(inf.last_sync_resource_version() == std::to_string(env.server.resource_version()));
  // The object handed out before stays as it was (immutable snapshots).
  CHECK(object_resource_version(*p0) == object_resource_version(*inf.get("default", "p0")));
  inf.stop();
}

TEST_CASE_TEMPLATE("Informer indexers", Env, InProcessEnv, HttpEnv) {
  Env env;
  Recorder rec;  // outlives the informer, whose thread calls it
  REQUIRE(env.client->create(resources::kPods, "a", pod("web-1", "web", "rs-uid")).ok());
  REQUIRE(env.client->create(resources::kPods, "a", pod("web-2", "web", "rs-uid")).ok());
  REQUIRE(env.client->create(resources::kPods, "b", pod("db-1", "db")).ok());
  Informer inf(env.client, resources::kPods, fast_options());
  inf.add_indexer(std::string(kIndexNamespace), index_by_namespace());
  inf.add_indexer(std::string(kIndexNodeName), index_by_node_name());
  inf.add_indexer(std::string(kIndexControllerUid), index_by_controller_uid());
  REQUIRE(inf.start().ok());
  REQUIRE(inf.wait_for_sync(5s));
  inf.add_indexer("app", index_by_label("app"));  // after start: indexes the cache at once

  auto names = [&](std::string_view index, std::string_view value) {
    auto r = inf.by_index(index, value);
    REQUIRE(r.ok());
    std::vector<std::string> out;
    for (const auto& o : *r) out.emplace_back(object_name(*o));
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(names(kIndexNamespace, "a") == std::vector<std::string>{"web-1", "web-2"});
  CHECK(names(kIndexNamespace, "b") == std::vector<std::string>{"db-1"});
  CHECK(names(kIndexControllerUid, "rs-uid") == std::vector<std::string>{"web-1", "web-2"});
  CHECK(names(kIndexControllerUid, "other").empty());  // not the controller reference
  CHECK(names("app", "web") == std::vector<std::string>{"web-1", "web-2"});
  CHECK(names(kIndexNodeName, "node-1").empty());

  REQUIRE(env.client->bind("a", "web-1", "node-1").ok());
  REQUIRE(eventually([&] { return names(kIndexNodeName, "node-1").size() == 1; }));
  REQUIRE(env.client->patch(resources::kPods, "a", "web-2", PatchType::Merge,
                            R"j({"metadata":{"labels":{"app":"db"}}})j").ok());
  REQUIRE(eventually([&] { return names("app", "db").size() == 2; }));
  CHECK(names("app", "web") == std::vector<std::string>{"web-1"});
  REQUIRE(env.client->remove(resources::kPods, "b", "db-1").ok());
  REQUIRE(eventually([&] { return names(kIndexNamespace, "b").empty(); }));
  CHECK(names("app", "db") == std::vector<std::string>{"web-2"});

  auto missing = inf.by_index("nope", "x");
  CHECK(missing.status().code() == Code::kNotFound);
}

TEST_CASE_TEMPLATE("Informer relists after 410 and emits the difference", Env, InProcessEnv,
                   HttpEnv) {
  Env env;
  Recorder rec;  // outlives the informer, whose thread calls it
  for (const char* n : {"keep", "change", "drop"}) {
    REQUIRE(env.client->create(resources::kPods, "default", pod(n)).ok());
  }
  Informer inf(env.client, resources::kPods, fast_options());
  REQUIRE(inf.add_event_handler(rec.handlers()).ok());
  REQUIRE(inf.start().ok());
  REQUIRE(inf.wait_for_sync(5s));
  REQUIRE(eventually([&] { return env.server.open_watches() == 1; }));
  auto keep_before = inf.get("default", "keep");
  rec.clear();
  int lists_before = count_requests(env.server, false);

  // Changes the informer's watch never delivers; then the server expires the watch.
  env.server.hold_events(true);
  REQUIRE(env.client->create(resources::kPods, "default", pod("added")).ok());
  REQUIRE(env.client->patch(resources::kPods, "default", "change", PatchType::Merge,
                            R"j({"metadata":{"labels":{"v":"2"}}})j").ok());
  REQUIRE(env.client->remove(resources::kPods, "default", "drop").ok());
  env.server.hold_events(false);
  env.server.expire_watches();

  REQUIRE(rec.wait_for(3));
  auto calls = rec.snapshot();
  std::sort(calls.begin(), calls.end());
  CHECK(calls == std::vector<std::string>{"add:default/added", "delete:default/drop",
                                          "update:default/change"});
  CHECK(count_requests(env.server, false) > lists_before);
  CHECK(inf.list().size() == 3);
  CHECK(inf.get("default", "keep") == keep_before);  // unchanged objects are not replaced
  CHECK(inf.last_sync_resource_version() == std::to_string(env.server.resource_version()));

  // It watches again after the relist and sees new changes.
  rec.clear();
  REQUIRE(env.client->create(resources::kPods, "default", pod("after")).ok());
  REQUIRE(rec.wait_for(1));
  CHECK(rec.snapshot().at(0) == "add:default/after");
}

TEST_CASE_TEMPLATE("Informer re-watches from the last resourceVersion when the server ends a watch",
                   Env, InProcessEnv, HttpEnv) {
  Env env;
  Recorder rec;  // outlives the informer, whose thread calls it
  Informer inf(env.client, resources::kPods, fast_options());
  REQUIRE(inf.add_event_handler(rec.handlers()).ok());
  REQUIRE(inf.start().ok());
  REQUIRE(inf.wait_for_sync(5s));
  REQUIRE(env.client->create(resources::kPods, "default", pod("one")).ok());
  REQUIRE(rec.wait_for(1));
  std::string rv = inf.last_sync_resource_version();
  REQUIRE(eventually([&] { return env.server.open_watches() == 1; }));
  std::this_thread::sleep_for(150ms);  // not a "very short" watch
  env.server.end_watches();
  REQUIRE(eventually([&] { return count_requests(env.server, true) == 2; }));
  REQUIRE(env.client->create(resources::kPods, "default", pod("two")).ok());
  REQUIRE(rec.wait_for(2));
  CHECK(rec.snapshot() == std::vector<std::string>{"add:default/one", "add:default/two"});
  CHECK(count_requests(env.server, false) == 1);  // no relist
  std::vector<apiserver::Request> watches;
  for (const auto& r : env.server.requests()) {
    if (r.query.contains("watch")) watches.push_back(r);
  }
  REQUIRE(watches.size() == 2);
  CHECK(watches[1].query.at("resourceVersion") == rv);
  CHECK(watches[1].query.at("allowWatchBookmarks") == "true");
  CHECK(watches[1].query.contains("timeoutSeconds"));
}

TEST_CASE_TEMPLATE("Informer follows bookmarks", Env, InProcessEnv, HttpEnv) {
  Env env;
  Recorder rec;  // outlives the informer, whose thread calls it
  Informer inf(env.client, resources::kPods, fast_options());
  REQUIRE(inf.start().ok());
  REQUIRE(inf.wait_for_sync(5s));
  REQUIRE(eventually([&] { return env.server.open_watches() == 1; }));
  // Writes to another resource move the global resourceVersion without pod events.
  REQUIRE(env.client->create(resources::kConfigMaps, "default",
                             json::value{{"metadata", {{"name", "cm"}}}}).ok());
  std::string now = std::to_string(env.server.resource_version());
  CHECK(inf.last_sync_resource_version() != now);
  env.server.send_bookmarks();
  CHECK(eventually([&] { return inf.last_sync_resource_version() == now; }));
  CHECK(inf.list().empty());
}

TEST_CASE_TEMPLATE("Informer backs off and retries after errors", Env, InProcessEnv, HttpEnv) {
  Env env;
  Recorder rec;  // outlives the informer, whose thread calls it
  REQUIRE(env.client->create(resources::kPods, "default", pod("p")).ok());
  env.server.fail_next(3, 503, "ServiceUnavailable");
  Informer inf(env.client, resources::kPods, fast_options());
  REQUIRE(inf.start().ok());
  REQUIRE(inf.wait_for_sync(5s));
  CHECK(inf.list().size() == 1);
  CHECK(count_requests(env.server, false) == 4);
}

TEST_CASE("Informer resyncs every period with on_update(obj, obj)") {
  InProcessEnv env;
  Recorder rec;  // outlives the informer, whose thread calls it
  REQUIRE(env.client->create(resources::kPods, "default", pod("p")).ok());
  InformerOptions o = fast_options();
  o.resync_period = 30ms;
  Informer inf(env.client, resources::kPods, o);
  REQUIRE(inf.add_event_handler(rec.handlers()).ok());
  REQUIRE(inf.start().ok());
  REQUIRE(inf.wait_for_sync(5s));
  REQUIRE(rec.wait_for(3));  // add + two resyncs
  std::lock_guard lock(rec.mu);
  REQUIRE(rec.updates.size() >= 2);
  CHECK(rec.updates[0].first == rec.updates[0].second);
}

TEST_CASE("Informer lifecycle: handlers before start, start once, stop joins, throwing handlers") {
  InProcessEnv env;
  Recorder rec;  // outlives the informer, whose thread calls it
  auto inf = std::make_unique<Informer>(env.client, resources::kPods, fast_options());
  std::atomic<int> adds{0};
  EventHandlers thrower;
  thrower.on_add = [](const SharedObject&) { throw std::runtime_error("handler bug"); };
  EventHandlers counter;
  counter.on_add = [&](const SharedObject&) { ++adds; };
  REQUIRE(inf->add_event_handler(thrower).ok());
  REQUIRE(inf->add_event_handler(counter).ok());
  REQUIRE(inf->start().ok());
  CHECK(inf->start().code() == Code::kInvalidArgument);
  CHECK(inf->add_event_handler(counter).code() == Code::kInvalidArgument);
  REQUIRE(inf->wait_for_sync(5s));
  REQUIRE(env.client->create(resources::kPods, "default", pod("a")).ok());
  REQUIRE(eventually([&] { return adds.load() == 1; }));  // the thrower did not stop it
  REQUIRE(env.client->create(resources::kPods, "default", pod("b")).ok());
  REQUIRE(eventually([&] { return adds.load() == 2; }));

  auto start = std::chrono::steady_clock::now();
  inf->stop();
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  int after_stop = adds.load();
  REQUIRE(env.client->create(resources::kPods, "default", pod("c")).ok());
  std::this_thread::sleep_for(20ms);
  CHECK(adds.load() == after_stop);
  inf->stop();  // idempotent
  inf.reset();

  // Never started: destruction is fine; wait_for_sync times out.
  Informer idle(env.client, resources::kPods, fast_options());
  CHECK_FALSE(idle.wait_for_sync(10ms));
}

std::size_t thread_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

TEST_CASE_TEMPLATE("no thread is left behind", Env, InProcessEnv, HttpEnv) {
  std::size_t before = thread_count();
  {
    Env env;
    Recorder rec;
    Informer inf(env.client, resources::kPods, fast_options());
    REQUIRE(inf.add_event_handler(rec.handlers()).ok());
    REQUIRE(inf.start().ok());
    REQUIRE(inf.wait_for_sync(5s));
    REQUIRE(env.client->create(resources::kPods, "default", pod("a")).ok());
    REQUIRE(rec.wait_for(1));
    CHECK(thread_count() > before);
  }  // the informer, its watch stream and the test server are gone
  CHECK(eventually([&] { return thread_count() == before; }));
}

TEST_CASE("Informer::stop from a handler ends the loop without deadlock") {
  InProcessEnv env;
  REQUIRE(env.client->create(resources::kPods, "default", pod("a")).ok());
  std::atomic<int> adds{0};
  Informer inf(env.client, resources::kPods, fast_options());
  EventHandlers h;
  h.on_add = [&](const SharedObject&) {
    ++adds;
    inf.stop();  // must not join its own thread
  };
  REQUIRE(inf.add_event_handler(h).ok());
  REQUIRE(inf.start().ok());
  REQUIRE(eventually([&] { return adds.load() == 1; }));
  REQUIRE(env.client->create(resources::kPods, "default", pod("b")).ok());
  std::this_thread::sleep_for(50ms);
  CHECK(adds.load() == 1);
  inf.stop();  // joins
}

TEST_CASE("Informer stops promptly while the server is unreachable") {
  HttpTransportOptions o;
  o.servers = {"http://127.0.0.1:1"};  // nothing listens on port 1
  auto t = make_http_transport(o);
  REQUIRE(t.ok());
  auto client = std::make_shared<Client>(std::shared_ptr<Transport>(std::move(*t)));
  InformerOptions io;
  io.backoff_initial = 10s;  // a long backoff: stop() must still be prompt
  Informer inf(client, resources::kPods, io);
  REQUIRE(inf.start().ok());
  REQUIRE(eventually([&] { return !inf.last_error().ok(); }));
  CHECK(inf.last_error().code() == Code::kUnavailable);
  auto start = std::chrono::steady_clock::now();
  inf.stop();
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  CHECK_FALSE(inf.has_synced());
}

}  // namespace
}  // namespace orch::client
