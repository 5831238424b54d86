// The libcurl HTTP transport against TestHttpServer on 127.0.0.1: connection reuse, concurrency,
// failover, authentication, TLS (CA file/data, wrong CA, insecure, client certificates), Status
// error bodies, timeouts, chunked streams with back-pressure, close, and option validation.
#include <doctest.h>

#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "fake_apiserver.hpp"
#include "orch/apiserver/status_body.hpp"
#include "orch/client/client.hpp"
#include "orch/client/http_transport.hpp"
#include "test_http_server.hpp"

namespace orch::client {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::FakeApiServer;
using testing::FakeStream;
using testing::TestHttpServer;

struct FnHandler final : apiserver::Handler {
  explicit FnHandler(std::function<apiserver::Response(const apiserver::Request&)> f)
      : fn(std::move(f)) {}
  apiserver::Response handle(const apiserver::Request& r) override {
    {
      std::lock_guard lock(mu);
      seen.push_back(r);
    }
    return fn(r);
  }
  std::vector<apiserver::Request> requests() {
    std::lock_guard lock(mu);
    return seen;
  }
  std::function<apiserver::Response(const apiserver::Request&)> fn;
  std::mutex mu;
  std::vector<apiserver::Request> seen;
};

apiserver::Response ok_json(std::string body = "{}") {
  apiserver::Response r;
  r.body = std::move(body);
  return r;
}

std::unique_ptr<Transport> transport(HttpTransportOptions o) {
  auto t = make_http_transport(std::move(o));
  REQUIRE_MESSAGE(t.ok(), t.status().to_string());
  return std::move(*t);
}

std::unique_ptr<Transport> transport(const std::string& url) {
  HttpTransportOptions o;
  o.servers = {url};
  return transport(std::move(o));
}

HttpRequest get(std::string path) {
  HttpRequest r;
  r.path = std::move(path);
  return r;
}

struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "orch-http-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
  fs::path path;
};

TEST_CASE("requests reuse one kept-alive connection") {
  FakeApiServer fake;
  TestHttpServer server(fake);
  auto t = transport(server.url());
  for (int i = 0; i < 20; ++i) {
    auto r = t->request(get("/api/v1/namespaces/default/pods"));
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    CHECK(r->status == 200);
    CHECK(r->headers.at("content-type") == "application/json");
  }
  CHECK(server.requests() == 20);
  CHECK(server.connections() == 1);
}

TEST_CASE("many threads share one transport") {
  FakeApiServer fake;
  TestHttpServer server(fake);
  std::shared_ptr<Transport> t = transport(server.url());
  Client client(t);
  constexpr int kThreads = 8, kEach = 15;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kEach; ++j) {
        json::value p{{"metadata", {{"name", "p-" + std::to_string(i) + "-" + std::to_string(j)}}}};
        if (!client.create(resources::kPods, "default", p).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
  CHECK(client.list_all(resources::kPods, "default")->items.size() == kThreads * kEach);
  CHECK(server.connections() <= kThreads);
}

TEST_CASE("failover to the next server when one cannot be reached") {
  FakeApiServer fake;
  TestHttpServer server(fake);
  HttpTransportOptions o;
  o.servers = {"http://127.0.0.1:1", server.url() + "/"};  // port 1: connection refused
  auto t = transport(o);
  for (int i = 0; i < 3; ++i) {
    auto r = t->request(get("/api/v1/pods"));
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  }
  CHECK(server.requests() == 3);
  auto s = t->stream(get("/api/v1/pods"));
  CHECK(s.ok());

  HttpTransportOptions dead;
  dead.servers = {"http://127.0.0.1:1", "http://127.0.0.1:1/x"};
  auto d = transport(dead);
  auto r = d->request(get("/api/v1/pods"));
  CHECK(r.status().code() == Code::kUnavailable);
  CHECK(r.status().message().find("127.0.0.1:1") != std::string::npos);
  CHECK(d->stream(get("/api/v1/pods")).status().code() == Code::kUnavailable);
}

TEST_CASE("authentication headers") {
  FnHandler h([](const apiserver::Request&) { return ok_json(); });
  TestHttpServer server(h);
  TempDir dir;
  struct Case {
    const char* what;
    std::function<void(HttpTransportOptions&)> set;
    std::string want;  // Authorization header
  };
  const std::vector<Case> cases = {
      {"none", [](HttpTransportOptions&) {}, ""},
      {"bearer token", [](HttpTransportOptions& o) { o.bearer_token = "t0k"; }, "Bearer t0k"},
      {"token file wins, trimmed",
       [&](HttpTransportOptions& o) {
         o.bearer_token = "inline";
         o.bearer_token_file = dir.write("token", "from-file\n");
       },
       "Bearer from-file"},
      {"basic", [](HttpTransportOptions& o) {
         o.username = "admin";
         o.password = "secret";
       }, "Basic YWRtaW46c2VjcmV0"},
      {"token beats basic", [](HttpTransportOptions& o) {
         o.username = "admin";
         o.password = "secret";
         o.bearer_token = "t";
       }, "Bearer t"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.what) {
      HttpTransportOptions o;
      o.servers = {server.url()};
      c.set(o);
      auto t = transport(o);
      REQUIRE(t->request(get("/x")).ok());
      CHECK(h.requests().back().header("authorization") == c.want);
      CHECK(h.requests().back().header("user-agent") == "liborch-client/0.1");
    }
  }
}

TEST_CASE("methods, bodies, headers and query encoding reach the server intact") {
  FnHandler h([](const apiserver::Request&) { return ok_json(); });
  TestHttpServer server(h);
  auto t = transport(server.url());
  for (const char* m : {"POST", "PUT", "PATCH", "DELETE", "GET"}) {
    HttpRequest r;
    r.method = m;
    r.path = "/api/v1/namespaces/default/pods/a b";
    r.query = {{"labelSelector", "app=kuard,tier in (a,b)"}, {"x", "&=?/%+"}};
    r.headers = {{"Content-Type", "application/merge-patch+json"}};
    r.body = std::string(m) == "GET" ? "" : std::string("{\"m\":\"") + m + "\"}";
    REQUIRE(t->request(r).ok());
    auto seen = h.requests().back();
    CHECK(seen.method == m);
    CHECK(seen.path == "/api/v1/namespaces/default/pods/a b");
    CHECK(seen.query == r.query);
    CHECK(seen.body == r.body);
    CHECK(seen.header("content-type") == "application/merge-patch+json");
    CHECK(seen.header("accept") == "application/json");
    CHECK(seen.header("expect").empty());
  }
  // A large body is not held back by 100-continue.
  HttpRequest big;
  big.method = "POST";
  big.path = "/big";
  big.body = std::string(2 * 1024 * 1024, 'x');
  REQUIRE(t->request(big).ok());
  CHECK(h.requests().back().body.size() == big.body.size());
  CHECK(h.requests().back().header("expect").empty());
  CHECK(h.requests().back().header("content-type") == "application/json");
}

TEST_CASE("error answers become the right Status") {
  struct Case {
    const char* what;
    int http;
    std::string body;
    Code code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"Status 404", 404, apiserver::status_body(not_found("pods \"x\" not found")),
       Code::kNotFound, "pods \"x\" not found"},
      {"Status conflict", 409, apiserver::status_body(aborted("the object has been modified")),
       Code::kAborted, "the object has been modified"},
      {"Status already exists", 409, apiserver::status_body(already_exists("exists")),
       Code::kAlreadyExists, "exists"},
      {"Status gone", 410, apiserver::status_body(out_of_range("too old")), Code::kOutOfRange,
       "too old"},
      {"plain 404", 404, "404 page not found", Code::kNotFound, "404 page not found"},
      {"plain 503", 503, "", Code::kUnavailable, "the server answered HTTP 503"},
      {"plain 401", 401, "Unauthorized", Code::kUnauthenticated, "Unauthorized"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.what) {
      FnHandler h([&](const apiserver::Request&) {
        apiserver::Response r;
        r.status = c.http;
        r.body = c.body;
        return r;
      });
      TestHttpServer server(h);
      auto t = transport(server.url());
      auto r = t->request(get("/x"));
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == c.code);
      CHECK(r.status().message() == c.message);
      auto s = t->stream(get("/x"));
      REQUIRE_FALSE(s.ok());
      CHECK(s.status().code() == c.code);
      CHECK(s.status().message() == c.message);
    }
  }
  SUBCASE("422 keeps its causes") {
    FnHandler h([](const apiserver::Request&) {
      return apiserver::status_response(invalid_argument(
          "Pod \"p\" is invalid", {{"FieldValueRequired", "Required value", "spec.containers"}}));
    });
    TestHttpServer server(h);
    auto r = transport(server.url())->request(get("/x"));
    CHECK(r.status().code() == Code::kInvalidArgument);
    REQUIRE(r.status().causes().size() == 1);
    CHECK(r.status().causes()[0].field == "spec.containers");
  }
}

TEST_CASE("a request that runs out of time is DeadlineExceeded") {
  FnHandler h([](const apiserver::Request&) {
    std::this_thread::sleep_for(300ms);
    return ok_json();
  });
  TestHttpServer server(h);
  HttpTransportOptions o;
  o.servers = {server.url()};
  o.timeout = 50ms;
  auto t = transport(o);
  auto r = t->request(get("/slow"));
  CHECK(r.status().code() == Code::kDeadlineExceeded);
  HttpRequest longer = get("/slow");
  longer.timeout = 5s;  // per-request timeout wins
  CHECK(t->request(longer).ok());
  HttpRequest stream = get("/slow");
  stream.timeout = 50ms;
  CHECK(t->stream(stream).status().code() == Code::kDeadlineExceeded);
}

TEST_CASE("chunked watch streams: partial lines across chunks, 410 as OutOfRange") {
  auto feed = std::make_shared<FakeStream>();
  FnHandler h([&](const apiserver::Request&) {
    apiserver::Response r;
    r.stream = feed;
    return r;
  });
  TestHttpServer server(h);
  Client client(std::shared_ptr<Transport>(transport(server.url())));
  WatchOptions wo;
  wo.resource_version = "5";
  wo.allow_bookmarks = true;
  wo.timeout_seconds = 30;
  auto w = client.watch(resources::kPods, "default", wo);
  REQUIRE_MESSAGE(w.ok(), w.status().to_string());
  auto q = h.requests().at(0).query;
  CHECK(q == std::map<std::string, std::string>{{"watch", "true"},
                                                {"resourceVersion", "5"},
                                                {"allowWatchBookmarks", "true"},
                                                {"timeoutSeconds", "30"}});
  // Nothing yet: an empty batch, not the end.
  auto none = (*w)->next(20ms);
  REQUIRE(none.ok());
  CHECK(none->empty());
  CHECK_FALSE((*w)->ended());

  std::string ev1 = R"j({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"6"}}})j" "\n";
  std::string ev2 = R"j({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}})j" "\n";
  std::string err =
      R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 9 (20)","reason":"Expired","code":410}})j" "\n";
  feed->push(ev1.substr(0, 15));
  feed->push(ev1.substr(15) + ev2.substr(0, 3));
  std::vector<WatchEvent> got;
  for (int i = 0; i < 100 && got.size() < 2; ++i) {
    if (i == 0) feed->push(ev2.substr(3));
    auto ev = (*w)->next(50ms);
    REQUIRE_MESSAGE(ev.ok(), ev.status().to_string());
    for (auto& e : *ev) got.push_back(e);
  }
  REQUIRE(got.size() == 2);
  CHECK(got[0].type == WatchEventType::Added);
  CHECK(got[1].type == WatchEventType::Bookmark);
  CHECK((*w)->last_resource_version() == "9");
  feed->push(err);
  Status s;
  for (int i = 0; i < 100 && s.ok(); ++i) {
    auto ev = (*w)->next(50ms);
    if (!ev.ok()) s = ev.status();
  }
  CHECK(s.code() == Code::kOutOfRange);
}

TEST_CASE("streams: clean end, close from another thread, broken connection") {
  auto feed = std::make_shared<FakeStream>();
  FnHandler h([&](const apiserver::Request&) {
    apiserver::Response r;
    r.stream = feed;
    return r;
  });
  TestHttpServer server(h);
  auto t = transport(server.url());

  SUBCASE("clean end") {
    auto s = t->stream(get("/w"));
    REQUIRE(s.ok());
    feed->push("abc");
    feed->end();
    std::string all;
    bool ended = false;
    for (int i = 0; i < 100 && !ended; ++i) {
      auto r = (*s)->read(50ms);
      REQUIRE(r.ok());
      if (!r->has_value()) {
        ended = true;
      } else {
        all += **r;
      }
    }
    CHECK(ended);
    CHECK(all == "abc");
  }
  SUBCASE("close unblocks a reader at once") {
    auto s = t->stream(get("/w"));
    REQUIRE(s.ok());
    auto reader = std::async(std::launch::async, [&] { return (*s)->read(10s); });
    std::this_thread::sleep_for(30ms);
    auto start = std::chrono::steady_clock::now();
    (*s)->close();
    REQUIRE(reader.wait_for(2s) == std::future_status::ready);
    CHECK(reader.get().status().code() == Code::kAborted);
    CHECK(std::chrono::steady_clock::now() - start < 1s);
    s->reset();  // joins the transfer thread
  }
  SUBCASE("the server drops the connection") {
    auto s = t->stream(get("/w"));
    REQUIRE(s.ok());
    feed->push("partial");
    std::this_thread::sleep_for(30ms);
    server.drop_connections();
    Status err;
    std::string all;
    for (int i = 0; i < 100 && err.ok(); ++i) {
      auto r = (*s)->read(50ms);
      if (!r.ok()) {
        err = r.status();
      } else if (!r->has_value()) {
        break;
      } else {
        all += **r;
      }
    }
    CHECK(err.code() == Code::kUnavailable);
    CHECK(all == "partial");
  }
}

TEST_CASE("a slow reader applies back-pressure without losing bytes") {
  auto feed = std::make_shared<FakeStream>();
  FnHandler h([&](const apiserver::Request&) {
    apiserver::Response r;
    r.stream = feed;
    return r;
  });
  TestHttpServer server(h);
  HttpTransportOptions o;
  o.servers = {server.url()};
  o.stream_buffer_bytes = 4096;
  auto t = transport(o);
  auto s = t->stream(get("/w"));
  REQUIRE(s.ok());
  std::string sent;
  for (int i = 0; i < 400; ++i) {
    std::string chunk(1000, static_cast<char>('a' + i % 26));
    sent += chunk;
    feed->push(chunk);
  }
  feed->end();
  std::string got;
  std::size_t largest = 0;
  for (int i = 0; i < 10000; ++i) {
    auto r = (*s)->read(100ms);
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    if (!r->has_value()) break;
    largest = std::max(largest, (*r)->size());
    got += **r;
    if (i % 10 == 0) std::this_thread::sleep_for(1ms);
  }
  CHECK(got.size() == sent.size());
  CHECK(got == sent);
  // The buffer bound holds (plus at most one curl write of up to 16 KiB).
  CHECK(largest <= 4096 + 16 * 1024);
}

TEST_CASE("TLS: server verification, insecure mode, client certificates") {
  testing::Pem ca = testing::make_ca("orch-test-ca");
  testing::Pem server_cert = testing::make_cert(ca, "127.0.0.1", /*server=*/true);
  testing::Pem other_ca = testing::make_ca("someone-else");
  testing::Pem client_cert = testing::make_cert(ca, "admin", /*server=*/false);
  TempDir dir;

  SUBCASE("server certificate") {
    FakeApiServer fake;
    TestHttpServer server(fake, testing::TestTls{server_cert, ""});
    REQUIRE(server.url().starts_with("https://"));
    struct Case {
      const char* what;
      std::function<void(HttpTransportOptions&)> set;
      bool ok;
    };
    const std::vector<Case> cases = {
        {"CA data", [&](HttpTransportOptions& o) { o.ca_data = ca.cert; }, true},
        {"CA file", [&](HttpTransportOptions& o) { o.ca_file = dir.write("ca.pem", ca.cert); },
         true},
        {"wrong CA", [&](HttpTransportOptions& o) { o.ca_data = other_ca.cert; }, false},
        {"insecure", [&](HttpTransportOptions& o) {
           o.ca_data = other_ca.cert;
           o.insecure_skip_tls_verify = true;
         }, true},
    };
    for (const auto& c : cases) {
      SUBCASE(c.what) {
        HttpTransportOptions o;
        o.servers = {server.url()};
        c.set(o);
        auto t = transport(o);
        auto r = t->request(get("/api/v1/pods"));
        if (c.ok) {
          CHECK_MESSAGE(r.ok(), r.status().to_string());
          CHECK(t->stream(get("/api/v1/pods")).ok());
        } else {
          CHECK(r.status().code() == Code::kUnavailable);
        }
      }
    }
  }
  SUBCASE("client certificate required") {
    FakeApiServer fake;
    TestHttpServer server(fake, testing::TestTls{server_cert, ca.cert});
    struct Case {
      const char* what;
      std::function<void(HttpTransportOptions&)> set;
      bool ok;
    };
    const std::vector<Case> cases = {
        {"inline", [&](HttpTransportOptions& o) {
           o.client_certificate_data = client_cert.cert;
           o.client_key_data = client_cert.key;
         }, true},
        {"files", [&](HttpTransportOptions& o) {
           o.client_certificate_file = dir.write("client.pem", client_cert.cert);
           o.client_key_file = dir.write("client-key.pem", client_cert.key);
         }, true},
        {"none", [](HttpTransportOptions&) {}, false},
    };
    for (const auto& c : cases) {
      SUBCASE(c.what) {
        HttpTransportOptions o;
        o.servers = {server.url()};
        o.ca_data = ca.cert;
        c.set(o);
        auto t = transport(o);
        auto r = t->request(get("/api/v1/pods"));
        if (c.ok) {
          REQUIRE_MESSAGE(r.ok(), r.status().to_string());
          CHECK(server.last_client_cn() == "admin");
        } else {
          CHECK_FALSE(r.ok());
          CHECK(r.status().code() == Code::kUnavailable);
        }
      }
    }
  }
}

TEST_CASE("make_http_transport validates its options") {
  TempDir dir;
  struct Case {
    const char* what;
    std::function<void(HttpTransportOptions&)> set;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {"no server", [](HttpTransportOptions& o) { o.servers.clear(); }, "no server"},
      {"bad scheme", [](HttpTransportOptions& o) { o.servers = {"ftp://x"}; }, "ftp://x"},
      {"cert without key", [](HttpTransportOptions& o) { o.client_certificate_data = "x"; },
       "without a client key"},
      {"key without cert", [](HttpTransportOptions& o) { o.client_key_data = "x"; },
       "without a client certificate"},
      {"unreadable CA", [](HttpTransportOptions& o) { o.ca_file = "/nonexistent/ca"; },
       "/nonexistent/ca"},
      {"unreadable token", [](HttpTransportOptions& o) { o.bearer_token_file = "/nonexistent/t"; },
       "/nonexistent/t"},
      {"unreadable cert", [](HttpTransportOptions& o) {
         o.client_certificate_file = "/nonexistent/c";
         o.client_key_data = "k";
       }, "/nonexistent/c"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.what) {
      HttpTransportOptions o;
      o.servers = {"http://127.0.0.1:1"};
      c.set(o);
      auto t = make_http_transport(o);
      REQUIRE_FALSE(t.ok());
      CHECK(t.status().code() == Code::kInvalidArgument);
      CHECK_MESSAGE(t.status().message().find(c.needle) != std::string::npos,
                    t.status().message());
    }
  }
}

}  // namespace
}  // namespace orch::client
