// pki: CA and serving certificates (generate, chain, SANs, reload without regenerating), secret
// files' modes, tokens; and a TLS handshake + bridge round trip on loopback.
#include "orch/pki/pki.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include "orch/pki/tls.hpp"

namespace fs = std::filesystem;
using namespace orch;

namespace {

struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "orch-pki-test-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("a CA signs serving certificates whose SANs and chain check out") {
  auto ca = pki::create_ca("test-ca");
  REQUIRE(ca.ok());
  auto cert = pki::issue_serving_cert(*ca, "api", {"127.0.0.1", "localhost", "::1", "host.example"});
  REQUIRE(cert.ok());
  CHECK(pki::verify_certificate(ca->cert_pem, cert->cert_pem).ok());
  auto sans = pki::certificate_sans(cert->cert_pem);
  REQUIRE(sans.ok());
  CHECK(contains(*sans, "127.0.0.1"));
  CHECK(contains(*sans, "localhost"));
  CHECK(contains(*sans, "::1"));
  CHECK(contains(*sans, "host.example"));

  SUBCASE("another CA's certificate does not verify") {
    auto other = pki::create_ca("other");
    REQUIRE(other.ok());
    auto s = pki::verify_certificate(other->cert_pem, cert->cert_pem);
    CHECK(s.code() == Code::kUnauthenticated);
  }
  SUBCASE("garbage is InvalidArgument") {
    CHECK(pki::verify_certificate("nope", cert->cert_pem).code() == Code::kInvalidArgument);
    CHECK(pki::issue_serving_cert(*ca, "x", {}).status().code() == Code::kInvalidArgument);
    CHECK(pki::issue_serving_cert({"x", "y"}, "x", {"a"}).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("load_or_create keeps the CA and serving certificate across restarts") {
  TempDir dir;
  const std::string tls = dir.path + "/tls";
  auto ca = pki::load_or_create_ca(tls);
  REQUIRE(ca.ok());
  CHECK(mode_of(tls) == 0700);
  CHECK(mode_of(tls + "/ca.key") == 0600);
  CHECK(mode_of(tls + "/ca.crt") == 0644);
  auto serving = pki::load_or_issue_serving_cert(tls, "apiserver", *ca, {"127.0.0.1", "localhost"});
  REQUIRE(serving.ok());
  CHECK(mode_of(tls + "/apiserver.key") == 0600);

  auto ca2 = pki::load_or_create_ca(tls);
  REQUIRE(ca2.ok());
  CHECK(ca2->cert_pem == ca->cert_pem);
  CHECK(ca2->key_pem == ca->key_pem);
  auto serving2 = pki::load_or_issue_serving_cert(tls, "apiserver", *ca2, {"localhost"});
  REQUIRE(serving2.ok());
  CHECK(serving2->cert_pem == serving->cert_pem);

  SUBCASE("a new SAN reissues the serving certificate, keeping the old SANs") {
    auto serving3 = pki::load_or_issue_serving_cert(tls, "apiserver", *ca2, {"127.0.0.7"});
    REQUIRE(serving3.ok());
    CHECK(serving3->cert_pem != serving->cert_pem);
    auto sans = pki::certificate_sans(serving3->cert_pem);
    REQUIRE(sans.ok());
    CHECK(contains(*sans, "127.0.0.7"));
    CHECK(contains(*sans, "127.0.0.1"));
    CHECK(pki::verify_certificate(ca->cert_pem, serving3->cert_pem).ok());
  }
  SUBCASE("a lone key is refused rather than silently replaced") {
    fs::remove(tls + "/ca.crt");
    CHECK(pki::load_or_create_ca(tls).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("secret files are created 0600 and kept") {
  TempDir dir;
  const std::string path = dir.path + "/node-token";
  ::umask(0);  // even with a permissive umask the mode is the one asked for
  auto a = pki::load_or_create_secret(path, "first");
  ::umask(022);
  REQUIRE(a.ok());
  CHECK(*a == "first");
  CHECK(mode_of(path) == 0600);
  auto b = pki::load_or_create_secret(path, "second");
  REQUIRE(b.ok());
  CHECK(*b == "first");
  CHECK(pki::read_file(dir.path + "/missing").status().code() == Code::kNotFound);
}

TEST_CASE("tokens: random hex and the k3s-style node token pinning the CA") {
  auto t1 = pki::random_hex(16);
  auto t2 = pki::random_hex(16);
  REQUIRE(t1.ok());
  REQUIRE(t2.ok());
  CHECK(t1->size() == 32);
  CHECK(*t1 != *t2);
  CHECK(pki::sha256_hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  const std::string token = pki::format_node_token("CA PEM", "s3cret");
  CHECK(token == "K10" + pki::sha256_hex("CA PEM") + "::server:s3cret");
  auto parsed = pki::parse_node_token(token + "\n");
  REQUIRE(parsed.ok());
  CHECK(parsed->ca_hash == pki::sha256_hex("CA PEM"));
  CHECK(parsed->secret == "s3cret");
  auto bare = pki::parse_node_token("justasecret");
  REQUIRE(bare.ok());
  CHECK(bare->ca_hash.empty());
  CHECK(bare->secret == "justasecret");
  CHECK(pki::parse_node_token("").status().code() == Code::kInvalidArgument);
  CHECK(pki::parse_node_token("K10abc::server:x").status().code() == Code::kInvalidArgument);
}

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// The server side of the echo: handshake, bridge, read 4 bytes, answer "pong:<them>", close.
net::awaitable<void> echo_server(tcp::socket accepted, pki::TlsContext& ctx) {
  auto tls = co_await pki::accept_tls(std::move(accepted), ctx, std::chrono::seconds(5));
  if (!tls.ok()) co_return;
  auto s = pki::bridge(*tls);
  if (!s.ok()) co_return;
  std::string got(4, '\0');
  auto [ec, n] = co_await net::async_read(*s, net::buffer(got), net::as_tuple(net::use_awaitable));
  if (ec) co_return;
  co_await net::async_write(*s, net::buffer("pong:" + got), net::as_tuple(net::use_awaitable));
  s->close();
}

// A TLS echo of one line through bridges on both sides; returns what the client read.
net::awaitable<std::string> echo_round_trip(tcp::acceptor& acceptor, pki::TlsContext& server_ctx,
                                            pki::TlsContext& client_ctx, std::string host) {
  auto ex = co_await net::this_coro::executor;
  tcp::socket client(ex);
  co_await client.async_connect(acceptor.local_endpoint(), net::use_awaitable);
  auto accepted = co_await acceptor.async_accept(net::use_awaitable);
  net::co_spawn(ex, echo_server(std::move(accepted), server_ctx), net::detached);
  auto client_tls =
      co_await pki::connect_tls(std::move(client), client_ctx, host, std::chrono::seconds(5));
  if (!client_tls.ok()) co_return "client: " + client_tls.status().message();
  auto c = pki::bridge(*client_tls);
  if (!c.ok()) co_return "bridge failed";
  co_await net::async_write(*c, net::buffer(std::string("ping")), net::use_awaitable);
  c->shutdown(tcp::socket::shutdown_send);  // half-close passes through
  std::string answer;
  char buf[64];
  for (;;) {
    auto [ec, n] = co_await c->async_read_some(net::buffer(buf), net::as_tuple(net::use_awaitable));
    answer.append(buf, n);
    if (ec) break;
  }
  co_return answer;
}

}  // namespace

TEST_CASE("TLS handshake verifies the CA and host, and bridges carry bytes both ways") {
  auto ca = pki::create_ca("ca");
  REQUIRE(ca.ok());
  auto serving = pki::issue_serving_cert(*ca, "srv", {"127.0.0.1"});
  REQUIRE(serving.ok());
  auto server_ctx = pki::make_server_context(*serving);
  REQUIRE(server_ctx.ok());
  net::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));

  auto run = [&](pki::TlsContext& client_ctx, std::string host) {
    auto f = net::co_spawn(ioc, echo_round_trip(acceptor, **server_ctx, client_ctx, host),
                           net::use_future);
    ioc.restart();
    ioc.run_for(std::chrono::seconds(20));
    REQUIRE(f.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
    return f.get();
  };

  SUBCASE("the right CA and address") {
    auto client_ctx = pki::make_client_context(ca->cert_pem);
    REQUIRE(client_ctx.ok());
    CHECK(run(**client_ctx, "127.0.0.1") == "pong:ping");
  }
  SUBCASE("another CA is refused") {
    auto other = pki::create_ca("other");
    REQUIRE(other.ok());
    auto client_ctx = pki::make_client_context(other->cert_pem);
    REQUIRE(client_ctx.ok());
    CHECK(run(**client_ctx, "127.0.0.1").starts_with("client: TLS handshake"));
  }
  SUBCASE("an address the certificate does not name is refused") {
    auto client_ctx = pki::make_client_context(ca->cert_pem);
    REQUIRE(client_ctx.ok());
    CHECK(run(**client_ctx, "127.0.0.2").starts_with("client: TLS handshake"));
  }
}
