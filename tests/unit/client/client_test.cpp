// Client conformance: the same REST behaviour over the in-process and the HTTP transport, against
// the fake API server; plus client-side argument checks and list paging.
#include <doctest.h>

#include <boost/json.hpp>

#include "client_envs.hpp"
#include "orch/client/client.hpp"

namespace orch::client {
namespace {

namespace json = boost::json;
using testing::HttpEnv;
using testing::InProcessEnv;
using namespace std::chrono_literals;

json::value pod(const std::string& name, const std::string& app = "kuard") {
  return json::value{{"apiVersion", "v1"},
                     {"kind", "Pod"},
                     {"metadata", {{"name", name}, {"labels", {{"app", app}}}}},
                     {"spec", {{"containers", json::array{{{"name", "c"}, {"image", "kuard"}}}}}}};
}

std::string str(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto k : path) cur = &cur->at(k);
  return std::string(cur->as_string());
}

TEST_CASE_TEMPLATE("Client CRUD with Kubernetes error codes", Env, InProcessEnv, HttpEnv) {
  Env env;
  Client& c = *env.client;
  auto created = c.create(resources::kPods, "default", pod("kuard"));
  REQUIRE_MESSAGE(created.ok(), created.status().to_string());
  CHECK(str(*created, {"metadata", "namespace"}) == "default");
  CHECK_FALSE(str(*created, {"metadata", "uid"}).empty());
  std::string rv1 = str(*created, {"metadata", "resourceVersion"});

  auto dup = c.create(resources::kPods, "default", pod("kuard"));
  CHECK(dup.status().code() == Code::kAlreadyExists);
  CHECK(dup.status().message() == "pods \"kuard\" already exists");

  auto got = c.get(resources::kPods, "default", "kuard");
  REQUIRE(got.ok());
  CHECK(*got == *created);

  auto missing = c.get(resources::kPods, "default", "nope");
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.status().message() == "pods \"nope\" not found");

  // Update with the current resourceVersion succeeds; a stale one is a conflict (Aborted).
  json::value changed = *got;
  changed.at("metadata").as_object()["labels"].as_object()["tier"] = "web";
  auto updated = c.update(resources::kPods, "", changed);  // namespace from the object
  REQUIRE_MESSAGE(updated.ok(), updated.status().to_string());
  CHECK(str(*updated, {"metadata", "labels", "tier"}) == "web");
  CHECK(str(*updated, {"metadata", "resourceVersion"}) != rv1);
  auto stale = c.update(resources::kPods, "default", changed);
  CHECK(stale.status().code() == Code::kAborted);

  // Status subresource.
  json::value with_status = *updated;
  with_status.as_object()["status"] = {{"phase", "Running"}};
  auto st = c.update_status(resources::kPods, "default", with_status);
  REQUIRE_MESSAGE(st.ok(), st.status().to_string());
  CHECK(str(*st, {"status", "phase"}) == "Running");

  // Merge patch.
  auto patched = c.patch(resources::kPods, "default", "kuard", PatchType::Merge,
                         R"j({"metadata":{"labels":{"tier":null,"patched":"yes"}}})j");
  REQUIRE_MESSAGE(patched.ok(), patched.status().to_string());
  CHECK(str(*patched, {"metadata", "labels", "patched"}) == "yes");
  CHECK_FALSE(patched->at("metadata").at("labels").as_object().contains("tier"));

  // Delete with a failing precondition, then for real.
  DeleteOptions wrong;
  wrong.precondition_resource_version = rv1;
  CHECK(c.remove(resources::kPods, "default", "kuard", wrong).status().code() == Code::kAborted);
  DeleteOptions right;
  right.precondition_uid = str(*patched, {"metadata", "uid"});
  auto removed = c.remove(resources::kPods, "default", "kuard", right);
  REQUIRE_MESSAGE(removed.ok(), removed.status().to_string());
  CHECK(str(*removed, {"metadata", "name"}) == "kuard");
  CHECK(c.get(resources::kPods, "default", "kuard").status().code() == Code::kNotFound);
}

TEST_CASE_TEMPLATE("Client sends Kubernetes query parameters and content types", Env,
                   InProcessEnv, HttpEnv) {
  Env env;
  Client& c = *env.client;
  ListOptions lo;
  lo.label_selector = "app=kuard,tier in (a,b)";
  lo.field_selector = "spec.nodeName=node-1";
  lo.limit = 7;
  lo.resource_version = "0";
  (void)c.list(resources::kPods, "default", lo);
  WriteOptions wo;
  wo.dry_run = true;
  wo.field_manager = "orch-test";
  wo.field_validation = "Strict";
  (void)c.create(resources::kDeployments, "ns1", json::value{{"metadata", {{"name", "d"}}}}, wo);
  for (auto type : {PatchType::Strategic, PatchType::Merge, PatchType::Json}) {
    (void)c.patch(resources::kPods, "default", "p", type, "{}");
  }
  DeleteOptions del;
  del.grace_period_seconds = 0;
  del.propagation_policy = "Foreground";
  del.dry_run = true;
  (void)c.remove(resources::kPods, "default", "p", del);

  auto reqs = env.server.requests();
  REQUIRE(reqs.size() == 6);
  CHECK(reqs[0].method == "GET");
  CHECK(reqs[0].path == "/api/v1/namespaces/default/pods");
  CHECK(reqs[0].query == std::map<std::string, std::string>{
                             {"labelSelector", "app=kuard,tier in (a,b)"},
                             {"fieldSelector", "spec.nodeName=node-1"},
                             {"limit", "7"},
                             {"resourceVersion", "0"}});
  CHECK(reqs[1].method == "POST");
  CHECK(reqs[1].path == "/apis/apps/v1/namespaces/ns1/deployments");
  CHECK(reqs[1].query == std::map<std::string, std::string>{
                             {"dryRun", "All"}, {"fieldManager", "orch-test"},
                             {"fieldValidation", "Strict"}});
  CHECK(reqs[1].header("content-type") == "application/json");
  CHECK(json::parse(reqs[1].body) == json::parse(R"j({"metadata":{"name":"d"}})j"));
  CHECK(reqs[2].header("content-type") == "application/strategic-merge-patch+json");
  CHECK(reqs[3].header("content-type") == "application/merge-patch+json");
  CHECK(reqs[4].header("content-type") == "application/json-patch+json");
  CHECK(reqs[4].method == "PATCH");
  CHECK(reqs[5].method == "DELETE");
  CHECK(reqs[5].query == std::map<std::string, std::string>{
                             {"gracePeriodSeconds", "0"},
                             {"propagationPolicy", "Foreground"},
                             {"dryRun", "All"}});
  CHECK(json::parse(reqs[5].body) ==
        json::parse(R"j({"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0,)j"
                    R"j("propagationPolicy":"Foreground","dryRun":["All"]})j"));
  for (const auto& r : reqs) CHECK(r.header("accept") == "application/json");
}

TEST_CASE_TEMPLATE("Client lists pages, namespaces and collections", Env, InProcessEnv, HttpEnv) {
  Env env;
  Client& c = *env.client;
  for (int i = 0; i < 7; ++i) {
    REQUIRE(c.create(resources::kPods, "a", pod("p" + std::to_string(i), i % 2 ? "odd" : "even")).ok());
  }
  REQUIRE(c.create(resources::kPods, "b", pod("other")).ok());

  ListOptions paged;
  paged.limit = 3;
  auto all_a = c.list_all(resources::kPods, "a", paged);
  REQUIRE_MESSAGE(all_a.ok(), all_a.status().to_string());
  CHECK(all_a->items.size() == 7);
  CHECK(all_a->resource_version == std::to_string(env.server.resource_version()));
  auto reqs = env.server.requests();
  int list_requests = 0;
  for (const auto& r : reqs) list_requests += r.method == "GET" ? 1 : 0;
  CHECK(list_requests == 3);  // 3 + 3 + 1
  CHECK(reqs.back().query.at("continue").size() > 0);

  auto everywhere = c.list_all(resources::kPods, "");
  REQUIRE(everywhere.ok());
  CHECK(everywhere->items.size() == 8);

  ListOptions odd;
  odd.label_selector = "app=odd";
  auto page = c.list(resources::kPods, "a", odd);
  REQUIRE(page.ok());
  CHECK(page->at("items").as_array().size() == 3);
  CHECK(page->at("kind").as_string() == "PodList");

  auto removed = c.remove_collection(resources::kPods, "a", odd);
  REQUIRE_MESSAGE(removed.ok(), removed.status().to_string());
  CHECK(c.list_all(resources::kPods, "a")->items.size() == 4);
}

TEST_CASE_TEMPLATE("Client binds pods", Env, InProcessEnv, HttpEnv) {
  Env env;
  Client& c = *env.client;
  REQUIRE(c.create(resources::kPods, "default", pod("p")).ok());
  Status s = c.bind("default", "p", "node-1");
  REQUIRE_MESSAGE(s.ok(), s.to_string());
  auto reqs = env.server.requests();
  CHECK(reqs.back().method == "POST");
  CHECK(reqs.back().path == "/api/v1/namespaces/default/pods/p/binding");
  json::value body = json::parse(reqs.back().body);
  CHECK(str(body, {"kind"}) == "Binding");
  CHECK(str(body, {"target", "name"}) == "node-1");
  CHECK(str(c.get(resources::kPods, "default", "p").value(), {"spec", "nodeName"}) == "node-1");
  CHECK(c.bind("default", "p", "node-2").code() == Code::kAborted);
  CHECK(c.bind("default", "ghost", "node-2").code() == Code::kNotFound);
}

TEST_CASE_TEMPLATE("Client watches: events in order, selectors, expiry, server end", Env,
                   InProcessEnv, HttpEnv) {
  Env env;
  Client& c = *env.client;
  auto first = c.create(resources::kPods, "default", pod("before"));
  REQUIRE(first.ok());
  std::string rv = str(*first, {"metadata", "resourceVersion"});

  WatchOptions wo;
  wo.resource_version = rv;
  auto w = c.watch(resources::kPods, "default", wo);
  REQUIRE_MESSAGE(w.ok(), w.status().to_string());
  WatchOptions filtered;
  filtered.resource_version = rv;
  filtered.label_selector = "app=web";
  auto wf = c.watch(resources::kPods, "default", filtered);
  REQUIRE(wf.ok());

  auto a = c.create(resources::kPods, "default", pod("a", "web"));
  REQUIRE(a.ok());
  REQUIRE(c.patch(resources::kPods, "default", "a", PatchType::Merge, R"j({"spec":{"x":1}})j").ok());
  REQUIRE(c.create(resources::kPods, "default", pod("b")).ok());
  REQUIRE(c.remove(resources::kPods, "default", "a").ok());

  auto collect = [](WatchStream& s, std::size_t n) {
    std::vector<WatchEvent> out;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      auto ev = s.next(100ms);
      REQUIRE_MESSAGE(ev.ok(), ev.status().to_string());
      for (auto& e : *ev) out.push_back(e);
    }
    return out;
  };
  auto events = collect(**w, 4);
  REQUIRE(events.size() == 4);
  CHECK(events[0].type == WatchEventType::Added);
  CHECK(object_name(*events[0].object) == "a");
  CHECK(events[1].type == WatchEventType::Modified);
  CHECK(events[2].type == WatchEventType::Added);
  CHECK(object_name(*events[2].object) == "b");
  CHECK(events[3].type == WatchEventType::Deleted);
  CHECK((*w)->last_resource_version() == std::to_string(env.server.resource_version()));

  auto only_web = collect(**wf, 3);
  REQUIRE(only_web.size() == 3);
  for (const auto& e : only_web) CHECK(object_name(*e.object) == "a");

  // The server ends the watch: next() reports the end.
  env.server.end_watches();
  bool ended = false;
  for (int i = 0; i < 50 && !ended; ++i) {
    auto ev = (*w)->next(100ms);
    REQUIRE(ev.ok());
    ended = (*w)->ended();
  }
  CHECK(ended);

  // A compacted resourceVersion: ERROR 410 -> OutOfRange.
  env.server.compact(env.server.resource_version());
  auto old = c.watch(resources::kPods, "default", wo);
  REQUIRE(old.ok());
  Status got;
  for (int i = 0; i < 50 && got.ok(); ++i) {
    auto ev = (*old)->next(100ms);
    if (!ev.ok()) got = ev.status();
  }
  CHECK(got.code() == Code::kOutOfRange);
}

TEST_CASE("Client checks arguments before sending anything") {
  InProcessEnv env;
  Client& c = *env.client;
  struct Case {
    const char* what;
    std::function<Status()> call;
  };
  const std::vector<Case> cases = {
      {"get without namespace", [&] { return c.get(resources::kPods, "", "x").status(); }},
      {"get without name", [&] { return c.get(resources::kPods, "default", "").status(); }},
      {"name with slash", [&] { return c.get(resources::kPods, "default", "a/b").status(); }},
      {"dot-dot name", [&] { return c.remove(resources::kPods, "default", "..").status(); }},
      {"create without namespace",
       [&] { return c.create(resources::kPods, "", pod("x")).status(); }},
      {"update without name",
       [&] { return c.update(resources::kPods, "default", json::value{{"metadata", json::object{}}}).status(); }},
      {"apply without field manager",
       [&] { return c.patch(resources::kPods, "d", "x", PatchType::Apply, "{}").status(); }},
      {"bind without node", [&] { return c.bind("d", "x", ""); }},
  };
  for (const auto& k : cases) {
    SUBCASE(k.what) {
      CHECK(k.call().code() == Code::kInvalidArgument);
      CHECK(env.server.requests().empty());
    }
  }
  SUBCASE("cluster-scoped needs no namespace") {
    CHECK(c.get(resources::kNodes, "", "n1").status().code() == Code::kNotFound);
    CHECK(env.server.requests().at(0).path == "/api/v1/nodes/n1");
  }
}

// Calls `after` after every request (to change the server between pages).
class HookTransport final : public Transport {
 public:
  HookTransport(std::unique_ptr<Transport> inner, std::function<void()> after)
      : inner_(std::move(inner)), after_(std::move(after)) {}
  Result<HttpResponse> request(const HttpRequest& r) override {
    auto out = inner_->request(r);
    after_();
    return out;
  }
  Result<std::unique_ptr<ByteStream>> stream(const HttpRequest& r) override {
    return inner_->stream(r);
  }

 private:
  std::unique_ptr<Transport> inner_;
  std::function<void()> after_;
};

TEST_CASE("list_all starts over unpaged when a continue token expires") {
  testing::FakeApiServer server;
  bool compact_after = false;
  auto t = std::make_shared<HookTransport>(make_in_process_transport(server), [&] {
    if (compact_after) server.compact(server.resource_version() + 1);
  });
  Client c(t);
  for (int i = 0; i < 5; ++i) REQUIRE(c.create(resources::kPods, "a", pod("p" + std::to_string(i))).ok());
  compact_after = true;
  ListOptions lo;
  lo.limit = 2;
  auto all = c.list_all(resources::kPods, "a", lo);
  REQUIRE_MESSAGE(all.ok(), all.status().to_string());
  CHECK(all->items.size() == 5);
  auto reqs = server.requests();
  REQUIRE(reqs.size() == 5 + 3);  // creates, first page, expired second page, full list
  CHECK(reqs[5].query.at("limit") == "2");
  CHECK(reqs[6].query.contains("continue"));
  CHECK_FALSE(reqs[7].query.contains("limit"));
  CHECK_FALSE(reqs[7].query.contains("continue"));
}

TEST_CASE("the in-process transport marks requests and turns streams into ByteStreams") {
  testing::FakeApiServer server;
  auto t = make_in_process_transport(server);
  HttpRequest r;
  r.path = "/api/v1/namespaces/default/pods";
  r.headers["X-Custom"] = "1";
  auto resp = t->request(r);
  REQUIRE(resp.ok());
  CHECK(resp->status == 200);
  CHECK(resp->headers.at("content-type") == "application/json");
  CHECK(server.requests().at(0).remote == "in-process");
  CHECK(server.requests().at(0).header("x-custom") == "1");

  r.query["watch"] = "true";
  auto s = t->stream(r);
  REQUIRE(s.ok());
  auto nothing = (*s)->read(10ms);
  REQUIRE(nothing.ok());
  REQUIRE(nothing->has_value());
  CHECK((*nothing)->empty());
  Client c(std::shared_ptr<Transport>(make_in_process_transport(server)));
  REQUIRE(c.create(resources::kPods, "default", pod("x")).ok());
  auto data = (*s)->read(1s);
  REQUIRE(data.ok());
  REQUIRE(data->has_value());
  CHECK((*data)->find("\"ADDED\"") != std::string::npos);
  server.end_watches();
  auto end = (*s)->read(1s);
  REQUIRE(end.ok());
  CHECK_FALSE(end->has_value());
  (*s)->close();
  CHECK((*s)->read(0ms).status().code() == Code::kAborted);

  HttpRequest never_ends = r;
  never_ends.timeout = 30ms;
  CHECK(t->request(never_ends).status().code() == Code::kDeadlineExceeded);

  auto err = t->request(HttpRequest{.method = "GET", .path = "/api/v1/namespaces/default/pods/nope"});
  CHECK(err.status().code() == Code::kNotFound);
  auto err_stream = t->stream(HttpRequest{.method = "GET", .path = "/nowhere"});
  CHECK(err_stream.status().code() == Code::kNotFound);
}

}  // namespace
}  // namespace orch::client
