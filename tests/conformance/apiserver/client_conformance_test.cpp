// The client conformance suite: the same API semantics through both client transports (HTTP on a
// loopback port, and in-process calls into the same handler), against the real ApiServer on a
// SQLite store. Codes, generation and status rules, patches, watches in order, 410 after
// compaction, informers, bad input, and a clean shutdown with watches open.
#include <doctest.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "orch/apiserver/api_server.hpp"
#include "orch/client/client.hpp"
#include "orch/client/http_transport.hpp"
#include "orch/client/in_process_transport.hpp"
#include "orch/client/informer.hpp"
#include "orch/client/resource.hpp"
#include "orch/store/sqlite_store.hpp"
#include "../store/store_test_util.hpp"

namespace orch::client {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using resources::kConfigMaps;
using resources::kDeployments;
using resources::kPods;

// Events the server queues for one watcher before ending it as fallen behind.
constexpr std::size_t kWatchBuffer = 32;

// A store in a temp dir and an API server over it.
class ServerBase {
 public:
  explicit ServerBase(bool http) {
    store::SqliteOptions so;
    so.path = dir_.file("state.db");
    so.auto_compaction_interval = 0ms;
    auto s = store::open_sqlite_store(so);
    REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    store_ = std::move(s).value();
    apiserver::ApiServerOptions ao;
    ao.serve_http = http;
    ao.bookmark_interval = std::chrono::seconds(1);
    ao.watch_buffer = kWatchBuffer;
    auto srv = apiserver::ApiServer::start(*store_, ao);
    REQUIRE_MESSAGE(srv.ok(), srv.status().to_string());
    server_ = std::move(srv).value();
  }
  ~ServerBase() {
    server_->stop();
    server_.reset();
    store_.reset();
  }
  store::Store& store() { return *store_; }
  apiserver::ApiServer& server() { return *server_; }
  Client& client() { return *client_; }
  Transport& transport() { return client_->transport(); }

 protected:
  store::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<apiserver::ApiServer> server_;
  std::shared_ptr<Client> client_;
};

struct InProcess : ServerBase {
  static constexpr const char* kName = "in-process";
  InProcess() : ServerBase(false) {
    client_ = std::make_shared<Client>(
        std::shared_ptr<Transport>(make_in_process_transport(server_->handler())));
  }
};

struct Http : ServerBase {
  static constexpr const char* kName = "http";
  Http() : ServerBase(true) {
    HttpTransportOptions o;
    o.servers = {server_->url()};
    auto t = make_http_transport(o);
    REQUIRE_MESSAGE(t.ok(), t.status().to_string());
    client_ = std::make_shared<Client>(std::shared_ptr<Transport>(std::move(t).value()));
  }
};

json::value parse(std::string_view text) { return json::parse(text); }

json::value pod(const std::string& name, const std::string& app = "t") {
  return parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
               R"(","labels":{"app":")" + app +
               R"("}},"spec":{"containers":[{"name":"c","image":"kuard"}]}})");
}

json::value deployment(const std::string& name, int replicas) {
  return parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":")" + name +
               R"("},"spec":{"replicas":)" + std::to_string(replicas) +
               R"(,"selector":{"matchLabels":{"app":")" + name +
               R"("}},"template":{"metadata":{"labels":{"app":")" + name +
               R"("}},"spec":{"containers":[{"name":"c","image":"kuard"}]}}}})");
}

std::string str_at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto p : path) {
    if (!cur->is_object()) return {};
    cur = cur->get_object().if_contains(p);
    if (!cur) return {};
  }
  if (cur->is_string()) return std::string(cur->get_string());
  if (cur->is_int64()) return std::to_string(cur->get_int64());
  return {};
}

std::int64_t revision_of(store::Store& s) {
  auto r = s.current_revision();
  REQUIRE(r.ok());
  return *r;
}

#define CONFORMANCE(name) TEST_CASE_TEMPLATE(name, F, InProcess, Http)

CONFORMANCE("create, get, update and delete answer with Kubernetes' codes") {
  F f;
  auto created = f.client().create(kPods, "default", pod("a"));
  REQUIRE_MESSAGE(created.ok(), created.status().to_string());
  CHECK(str_at(*created, {"metadata", "namespace"}) == "default");
  CHECK(str_at(*created, {"metadata", "uid"}).size() == 36);
  CHECK(str_at(*created, {"spec", "restartPolicy"}) == "Always");
  CHECK(str_at(*created, {"status", "phase"}) == "Pending");

  auto dup = f.client().create(kPods, "default", pod("a"));
  CHECK(dup.status().code() == Code::kAlreadyExists);
  CHECK(dup.status().message() == "pods \"a\" already exists");

  auto got = f.client().get(kPods, "default", "a");
  REQUIRE(got.ok());
  CHECK(str_at(*got, {"metadata", "resourceVersion"}) ==
        str_at(*created, {"metadata", "resourceVersion"}));

  auto missing = f.client().get(kPods, "default", "nope");
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.status().message() == "pods \"nope\" not found");

  // An update with the current resourceVersion succeeds; the same body again is stale.
  json::value v = *got;
  v.as_object()["metadata"].as_object()["labels"].as_object()["x"] = "1";
  auto updated = f.client().update(kPods, "default", v);
  REQUIRE_MESSAGE(updated.ok(), updated.status().to_string());
  auto stale = f.client().update(kPods, "default", v);
  CHECK(stale.status().code() == Code::kAborted);

  auto removed = f.client().remove(kPods, "default", "a");
  REQUIRE(removed.ok());
  CHECK(f.client().get(kPods, "default", "a").status().code() == Code::kNotFound);
  CHECK(f.client().remove(kPods, "default", "a").status().code() == Code::kNotFound);
}

CONFORMANCE("invalid objects are 422 with one cause per field and write nothing") {
  F f;
  const auto before = revision_of(f.store());
  auto bad = parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"Bad_Name"},
                     "spec":{"replicas":-1,"selector":{"matchLabels":{"app":"a"}},
                     "template":{"metadata":{"labels":{"app":"b"}},
                     "spec":{"containers":[{"name":"c"}]}}}})");
  auto r = f.client().create(kDeployments, "default", bad);
  REQUIRE(r.status().code() == Code::kInvalidArgument);
  std::set<std::string> fields;
  for (const auto& c : r.status().causes()) fields.insert(c.field);
  CHECK(fields.contains("metadata.name"));
  CHECK(fields.contains("spec.replicas"));
  CHECK(fields.contains("spec.template.metadata.labels"));
  CHECK(fields.contains("spec.template.spec.containers[0].image"));
  CHECK(r.status().message().starts_with("Deployment.apps \"Bad_Name\" is invalid: ["));
  CHECK(revision_of(f.store()) == before);
}

CONFORMANCE("malformed bodies and unknown paths are Status errors that change nothing") {
  F f;
  const auto before = revision_of(f.store());
  struct Case {
    const char* name;
    std::string method, path, body, content_type;
    Code code;
  };
  const std::vector<Case> cases = {
      {"malformed JSON", "POST", "/api/v1/namespaces/default/pods", "{\"metadata\":", "application/json", Code::kBadRequest},
      {"wrong type", "POST", "/api/v1/namespaces/default/configmaps",
       R"({"metadata":{"name":"x"},"data":{"a":1}})", "application/json", Code::kBadRequest},
      {"array body", "POST", "/api/v1/namespaces/default/pods", "[]", "application/json", Code::kBadRequest},
      {"unknown resource", "GET", "/api/v1/namespaces/default/widgets", "", "", Code::kNotFound},
      {"unknown group", "GET", "/apis/nope.example.com/v1/things", "", "", Code::kNotFound},
      {"missing namespace", "POST", "/api/v1/namespaces/nope/configmaps",
       R"({"metadata":{"name":"x"}})", "application/json", Code::kNotFound},
      {"namespace mismatch", "POST", "/api/v1/namespaces/default/configmaps",
       R"({"metadata":{"name":"x","namespace":"kube-system"}})", "application/json", Code::kBadRequest},
      {"bad patch", "PATCH", "/api/v1/namespaces/default/configmaps/none", "{", "application/merge-patch+json", Code::kNotFound},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      HttpRequest req;
      req.method = c.method;
      req.path = c.path;
      req.body = c.body;
      if (!c.content_type.empty()) req.headers["Content-Type"] = c.content_type;
      auto resp = f.transport().request(req);
      if (resp.ok()) {
        // Transports may hand non-2xx answers back as responses or as a Status.
        CHECK(resp->status >= 400);
      } else {
        CHECK_MESSAGE(resp.status().code() == c.code, resp.status().to_string());
      }
      CHECK(revision_of(f.store()) == before);
    }
  }
}

CONFORMANCE("generation moves only with spec; status is written through /status only") {
  F f;
  auto d = f.client().create(kDeployments, "default", deployment("g", 1));
  REQUIRE(d.ok());
  CHECK(str_at(*d, {"metadata", "generation"}) == "1");
  auto scaled = f.client().patch(kDeployments, "default", "g", PatchType::Merge,
                                 R"({"spec":{"replicas":3},"status":{"replicas":9}})");
  REQUIRE_MESSAGE(scaled.ok(), scaled.status().to_string());
  CHECK(str_at(*scaled, {"metadata", "generation"}) == "2");
  CHECK(str_at(*scaled, {"status", "replicas"}).empty());
  auto labelled = f.client().patch(kDeployments, "default", "g", PatchType::Strategic,
                                   R"({"metadata":{"labels":{"x":"y"}}})");
  REQUIRE(labelled.ok());
  CHECK(str_at(*labelled, {"metadata", "generation"}) == "2");
  json::value st = *labelled;
  st.as_object()["status"] = parse(R"({"replicas":3,"observedGeneration":2})");
  st.as_object()["spec"].as_object()["replicas"] = 7;
  auto status = f.client().update_status(kDeployments, "default", st);
  REQUIRE_MESSAGE(status.ok(), status.status().to_string());
  CHECK(str_at(*status, {"status", "replicas"}) == "3");
  CHECK(str_at(*status, {"spec", "replicas"}) == "3");
  CHECK(str_at(*status, {"metadata", "generation"}) == "2");
  auto scale = f.client().get_subresource(kDeployments, "default", "g", "scale");
  REQUIRE(scale.ok());
  CHECK(str_at(*scale, {"spec", "replicas"}) == "3");
  CHECK(str_at(*scale, {"status", "selector"}) == "app=g");
  auto json_patch = f.client().patch(kDeployments, "default", "g", PatchType::Json,
                                     R"([{"op":"test","path":"/spec/replicas","value":5}])");
  CHECK(json_patch.status().code() == Code::kInvalidArgument);
}

CONFORMANCE("a watch from a list's revision sees every later change in order") {
  F f;
  REQUIRE(f.client().create(kConfigMaps, "default", parse(R"({"metadata":{"name":"before"}})")).ok());
  auto list = f.client().list(kConfigMaps, "default");
  REQUIRE(list.ok());
  WatchOptions wo;
  wo.resource_version = str_at(*list, {"metadata", "resourceVersion"});
  auto w = f.client().watch(kConfigMaps, "default", wo);
  REQUIRE_MESSAGE(w.ok(), w.status().to_string());
  REQUIRE(f.client().create(kConfigMaps, "default", parse(R"({"metadata":{"name":"a"}})")).ok());
  REQUIRE(f.client().patch(kConfigMaps, "default", "a", PatchType::Merge, R"({"data":{"k":"v"}})").ok());
  REQUIRE(f.client().remove(kConfigMaps, "default", "a").ok());
  REQUIRE(f.client().create(kConfigMaps, "kube-system", parse(R"({"metadata":{"name":"elsewhere"}})")).ok());
  std::vector<std::pair<WatchEventType, std::string>> seen;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (seen.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    auto batch = (*w)->next(200ms);
    REQUIRE_MESSAGE(batch.ok(), batch.status().to_string());
    for (auto& e : *batch) seen.emplace_back(e.type, str_at(*e.object, {"metadata", "name"}));
  }
  std::string trace;
  for (const auto& [type, name] : seen) trace += fmt::format("{}:{} ", static_cast<int>(type), name);
  INFO("events seen: ", trace);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == std::pair{WatchEventType::Added, std::string("a")});
  CHECK(seen[1] == std::pair{WatchEventType::Modified, std::string("a")});
  CHECK(seen[2] == std::pair{WatchEventType::Deleted, std::string("a")});
  (*w)->close();
}

CONFORMANCE("a watch from a compacted revision is 410 (OutOfRange); a recent one is not") {
  F f;
  auto first = f.client().create(kConfigMaps, "default", parse(R"({"metadata":{"name":"c1"}})"));
  REQUIRE(first.ok());
  const std::string old_rv = str_at(*first, {"metadata", "resourceVersion"});
  for (int i = 2; i <= 4; ++i) {
    REQUIRE(f.client().create(kConfigMaps, "default",
                              parse(R"({"metadata":{"name":"c)" + std::to_string(i) + R"("}})")).ok());
  }
  REQUIRE(f.store().compact(revision_of(f.store())).ok());
  WatchOptions wo;
  wo.resource_version = old_rv;
  auto w = f.client().watch(kConfigMaps, "default", wo);
  Status ended;
  if (!w.ok()) {
    ended = w.status();
  } else {
    for (int i = 0; i < 50 && ended.ok(); ++i) {
      auto batch = (*w)->next(100ms);
      if (!batch.ok()) ended = batch.status();
    }
  }
  CHECK(ended.code() == Code::kOutOfRange);
  CHECK(ended.message().find("too old resource version: " + old_rv) != std::string::npos);

  wo.resource_version = std::to_string(revision_of(f.store()));
  auto fresh = f.client().watch(kConfigMaps, "default", wo);
  REQUIRE(fresh.ok());
  REQUIRE(f.client().create(kConfigMaps, "default", parse(R"({"metadata":{"name":"c5"}})")).ok());
  bool got = false;
  for (int i = 0; i < 50 && !got; ++i) {
    auto batch = (*fresh)->next(100ms);
    REQUIRE(batch.ok());
    for (auto& e : *batch) got |= str_at(*e.object, {"metadata", "name"}) == "c5";
  }
  CHECK(got);
}

CONFORMANCE("an informer syncs, follows changes and indexes by label") {
  F f;
  REQUIRE(f.client().create(kPods, "default", pod("p1", "web")).ok());
  InformerOptions io;
  auto client = std::make_shared<Client>(std::shared_ptr<Transport>(&f.transport(), [](Transport*) {}));
  Informer inf(client, kPods, io);
  inf.add_indexer("app", index_by_label("app"));
  REQUIRE(inf.start().ok());
  REQUIRE(inf.wait_for_sync(10s));
  CHECK(inf.get("default", "p1") != nullptr);
  REQUIRE(f.client().create(kPods, "default", pod("p2", "web")).ok());
  REQUIRE(f.client().remove(kPods, "default", "p1").ok());
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline &&
         (inf.get("default", "p2") == nullptr || inf.get("default", "p1") != nullptr)) {
    std::this_thread::sleep_for(10ms);
  }
  CHECK(inf.get("default", "p1") == nullptr);
  CHECK(inf.get("default", "p2") != nullptr);
  auto web = inf.by_index("app", "web");
  REQUIRE(web.ok());
  CHECK(web->size() == 1);
  inf.stop();
}

CONFORMANCE("an idle watch that allows bookmarks gets one carrying the current revision") {
  F f;
  REQUIRE(f.client().create(kConfigMaps, "default", parse(R"({"metadata":{"name":"b"}})")).ok());
  const auto now = revision_of(f.store());
  WatchOptions wo;
  wo.resource_version = std::to_string(now);
  wo.allow_bookmarks = true;
  auto w = f.client().watch(kPods, "default", wo);
  REQUIRE(w.ok());
  std::shared_ptr<const json::value> bookmark;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!bookmark && std::chrono::steady_clock::now() < deadline) {
    auto batch = (*w)->next(200ms);
    REQUIRE(batch.ok());
    for (auto& e : *batch) {
      CHECK(e.type == WatchEventType::Bookmark);  // nothing else happened to pods
      if (e.type == WatchEventType::Bookmark) bookmark = e.object;
    }
  }
  REQUIRE(bookmark);
  CHECK(str_at(*bookmark, {"kind"}) == "Pod");
  CHECK(std::stoll(str_at(*bookmark, {"metadata", "resourceVersion"})) >= now);
  (*w)->close();
}

CONFORMANCE("a watcher that stops reading never slows writers or other watchers") {
  F f;
  auto slow = f.client().watch(kConfigMaps, "default", {});
  auto fast = f.client().watch(kConfigMaps, "default", {});
  REQUIRE(slow.ok());
  REQUIRE(fast.ok());
  constexpr int kWrites = static_cast<int>(kWatchBuffer) * 8;
  int seen = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kWrites; ++i) {
    REQUIRE(f.client().create(kConfigMaps, "default",
                              parse(R"({"metadata":{"name":"s)" + std::to_string(i) + R"("}})")).ok());
    auto batch = (*fast)->next(0ms);  // the fast watcher keeps up as it goes
    REQUIRE(batch.ok());
    seen += static_cast<int>(batch->size());
  }
  // Every write finished although `slow` read nothing (no write waited on it).
  CHECK(std::chrono::steady_clock::now() - started < 60s);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (seen < kWrites && std::chrono::steady_clock::now() < deadline) {
    auto batch = (*fast)->next(100ms);
    REQUIRE(batch.ok());
    seen += static_cast<int>(batch->size());
  }
  CHECK(seen == kWrites);
  if (std::string_view(F::kName) == "in-process") {
    // Nothing buffers for it outside the server: it was ended after its queue filled, and what
    // it got before the end is a gapless prefix it can resume from.
    int got = 0;
    bool ended = false;
    for (int i = 0; i < 100 && !ended; ++i) {
      auto batch = (*slow)->next(50ms);
      if (!batch.ok()) break;
      got += static_cast<int>(batch->size());
      ended = (*slow)->ended();
    }
    CHECK(ended);
    CHECK(got >= static_cast<int>(kWatchBuffer));
    CHECK(got < kWrites);
  }
}

CONFORMANCE("stopping the server ends open watches") {
  F f;
  auto w = f.client().watch(kPods, "default", {});
  REQUIRE(w.ok());
  f.server().stop(std::chrono::milliseconds(2000));
  bool ended = false;
  for (int i = 0; i < 100 && !ended; ++i) {
    auto batch = (*w)->next(100ms);
    ended = !batch.ok() || (*w)->ended();
  }
  CHECK(ended);
}

}  // namespace
}  // namespace orch::client
