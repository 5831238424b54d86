// The API listener over TLS with bearer tokens, driven by the client's HTTP transport (libcurl):
// the kubeconfig's CA data, token, and insecure-skip-tls-verify; 401 as Unauthenticated; open
// paths; a streamed response over TLS.
#include <doctest.h>

#include <atomic>
#include <chrono>
#include <string>

#include "orch/api/bytes.hpp"
#include "orch/apiserver/http_server.hpp"
#include "orch/apiserver/status_body.hpp"
#include "orch/client/http_transport.hpp"
#include "orch/client/kubeconfig.hpp"
#include "orch/pki/pki.hpp"

namespace orch {
namespace {

using namespace std::chrono_literals;

// Answers every path with {"path": ...}; /stream with two chunks, then the end.
class EchoHandler final : public apiserver::Handler {
 public:
  apiserver::Response handle(const apiserver::Request& r) override {
    apiserver::Response res;
    if (r.path == "/stream") {
      res.stream = std::make_shared<TwoChunks>();
      return res;
    }
    res.body = "{\"path\":\"" + r.path + "\"}";
    return res;
  }

 private:
  struct TwoChunks final : apiserver::ResponseStream {
    std::optional<std::vector<std::string>> poll(std::chrono::milliseconds) override {
      if (sent_) return std::nullopt;
      sent_ = true;
      return std::vector<std::string>{"one\n", "two\n"};
    }
    void set_notify(std::function<void()>) override {}
    void close() override {}
    bool sent_ = false;
  };
};

struct SecureServer {
  SecureServer() {
    auto c = pki::create_ca("test");
    REQUIRE(c.ok());
    ca = *c;
    auto serving = pki::issue_serving_cert(ca, "apiserver", {"127.0.0.1", "localhost"});
    REQUIRE(serving.ok());
    apiserver::HttpServerOptions o;
    o.tls_cert_pem = serving->cert_pem;
    o.tls_key_pem = serving->key_pem;
    o.bearer_tokens = {"admin-token", "node-token"};
    o.pre_handler = [](const apiserver::Request& r) -> std::optional<apiserver::Response> {
      if (r.path != "/cacerts") return std::nullopt;
      apiserver::Response res;
      res.body = "CA";
      return res;
    };
    auto s = apiserver::HttpServer::start(o, handler);
    REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    server = std::move(*s);
  }
  ~SecureServer() { server->stop(); }

  client::HttpTransportOptions options(std::string token) const {
    client::HttpTransportOptions o;
    o.servers = {server->url()};
    o.ca_data = ca.cert_pem;
    o.bearer_token = std::move(token);
    o.timeout = 10s;
    return o;
  }

  EchoHandler handler;
  pki::CertKey ca;
  std::unique_ptr<apiserver::HttpServer> server;
};

Result<client::HttpResponse> get(const client::HttpTransportOptions& o, std::string path) {
  auto t = client::make_http_transport(o);
  if (!t.ok()) return t.status();
  client::HttpRequest r;
  r.path = std::move(path);
  return (*t)->request(r);
}

TEST_CASE("HTTPS with bearer tokens") {
  SecureServer s;
  REQUIRE(s.server->url().starts_with("https://127.0.0.1:"));

  SUBCASE("the CA and a valid token pass") {
    auto r = get(s.options("admin-token"), "/api/v1/pods");
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    CHECK(r->body == R"({"path":"/api/v1/pods"})");
    CHECK(get(s.options("node-token"), "/api").ok());
  }
  SUBCASE("a wrong or missing token is 401 Unauthorized") {
    for (std::string token : {"wrong", ""}) {
      auto r = get(s.options(token), "/api/v1/pods");
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == Code::kUnauthenticated);
      CHECK(r.status().message() == "Unauthorized");
    }
  }
  SUBCASE("health, version and the CA stay open") {
    for (std::string path : {"/healthz", "/livez", "/readyz/ping", "/version"}) {
      CHECK_MESSAGE(get(s.options(""), path).ok(), path);
    }
    auto ca = get(s.options(""), "/cacerts");
    REQUIRE(ca.ok());
    CHECK(ca->body == "CA");
  }
  SUBCASE("a server the CA did not sign is refused; insecure-skip-tls-verify accepts it") {
    auto other = pki::create_ca("other");
    REQUIRE(other.ok());
    auto o = s.options("admin-token");
    o.ca_data = other->cert_pem;
    auto r = get(o, "/api");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kUnavailable);
    o.insecure_skip_tls_verify = true;
    CHECK(get(o, "/api").ok());
  }
  SUBCASE("a kubeconfig with certificate-authority-data and a token") {
    const std::string yaml = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
                             "    server: " + s.server->url() + "\n"
                             "    certificate-authority-data: " + api::base64_encode(s.ca.cert_pem) +
                             "\nusers:\n- name: u\n  user:\n    token: admin-token\n"
                             "contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n"
                             "current-context: x\n";
    auto config = client::parse_kubeconfig(yaml);
    REQUIRE(config.ok());
    auto t = client::transport_from_kubeconfig(*config);
    REQUIRE(t.ok());
    client::HttpRequest r;
    r.path = "/api";
    CHECK((*t)->request(r).ok());
  }
  SUBCASE("a streamed response over TLS") {
    auto t = client::make_http_transport(s.options("admin-token"));
    REQUIRE(t.ok());
    client::HttpRequest r;
    r.path = "/stream";
    auto stream = (*t)->stream(r);
    REQUIRE_MESSAGE(stream.ok(), stream.status().to_string());
    std::string got;
    for (int i = 0; i < 100; ++i) {
      auto chunk = (*stream)->read(100ms);
      REQUIRE(chunk.ok());
      if (!*chunk) break;
      got += **chunk;
    }
    CHECK(got == "one\ntwo\n");
    auto denied = client::make_http_transport(s.options("bad"));
    REQUIRE(denied.ok());
    CHECK((*denied)->stream(r).status().code() == Code::kUnauthenticated);
  }
}

}  // namespace
}  // namespace orch
