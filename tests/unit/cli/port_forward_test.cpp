// client::PortForward against a small fake API server on a loopback port: TLS with a
// certificate made here, the WebSocket upgrade with kubectl's subprotocol and the bearer token,
// SPDY stream headers, bytes both ways with half-close, and the server's refusals.
#include <doctest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <array>
#include <map>
#include <mutex>
#include <thread>

#include "../../../lib/apiserver/http/spdy.hpp"
#include "orch/client/port_forward.hpp"

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace spdy = orch::apiserver::spdy;
using tcp = net::ip::tcp;

namespace {

// A self-signed certificate for IP 127.0.0.1 and its key, as PEM.
struct TestCert {
  std::string cert, key;
  TestCert() {
    EVP_PKEY* pkey = EVP_EC_gen("P-256");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("orch-test"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1"},
                              std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      X509_add_ext(x, ext, -1);
      X509_EXTENSION_free(ext);
    }
    X509_sign(x, pkey, EVP_sha256());
    cert = pem([&](BIO* b) { PEM_write_bio_X509(b, x); });
    key = pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, pkey, nullptr, nullptr, 0, nullptr, nullptr); });
    X509_free(x);
    EVP_PKEY_free(pkey);
  }
  template <class F>
  static std::string pem(F write) {
    BIO* b = BIO_new(BIO_s_mem());
    write(b);
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(b);
    return out;
  }
};

// Serves one connection: TLS, then either a refusal (`refuse_status` != 0) or the WebSocket with a
// SPDY session that echoes each data stream back and ends it when the client half-closes.
struct FakeApiServer {
  net::io_context ioc;
  ssl::context tls{ssl::context::tls_server};
  tcp::acceptor acceptor{ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
  int refuse_status = 0;
  std::string seen_target, seen_authorization, seen_protocol;
  std::mutex mu;
  std::vector<spdy::Headers> seen_streams;  // guarded by mu
  std::thread thread;

  std::vector<spdy::Headers> streams() {
    std::lock_guard lock(mu);
    return seen_streams;
  }

  explicit FakeApiServer(const TestCert& c) {
    tls.use_certificate_chain(net::buffer(c.cert));
    tls.use_private_key(net::buffer(c.key), ssl::context::pem);
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()); }
  void start() {
    thread = std::thread([this] {
      try {
        serve();
      } catch (const std::exception&) {
        // The client went away; the test's checks say whether that was expected.
      }
    });
  }
  ~FakeApiServer() {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    if (thread.joinable()) thread.join();
  }

  void serve() {
    websocket::stream<ssl::stream<tcp::socket>> ws(acceptor.accept(), tls);
    ws.next_layer().handshake(ssl::stream_base::server);
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    http::read(ws.next_layer(), buf, req);
    seen_target = std::string(req.target());
    seen_authorization = std::string(req[http::field::authorization]);
    seen_protocol = std::string(req[http::field::sec_websocket_protocol]);
    if (refuse_status != 0) {
      http::response<http::string_body> res{static_cast<http::status>(refuse_status), 11};
      res.set(http::field::content_type, "application/json");
      res.body() = R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"p\" is forbidden: )"
                   R"(User \"x\" cannot create resource \"pods/portforward\"","reason":"Forbidden","code":403})";
      res.prepare_payload();
      http::write(ws.next_layer(), res);
      return;
    }
    ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::sec_websocket_protocol, "SPDY/3.1+portforward.k8s.io");
    }));
    ws.accept(req);
    ws.binary(true);
    spdy::HeaderCodec codec;
    std::string in;
    std::map<std::uint32_t, std::string> type_of;  // stream id -> streamtype
    while (true) {
      beast::flat_buffer msg;
      ws.read(msg);
      in += beast::buffers_to_string(msg.data());
      while (in.size() >= spdy::kFrameHeaderSize) {
        auto h = spdy::parse_frame_header(reinterpret_cast<const unsigned char*>(in.data()));
        if (in.size() < spdy::kFrameHeaderSize + h.length) break;
        std::string payload = in.substr(spdy::kFrameHeaderSize, h.length);
        in.erase(0, spdy::kFrameHeaderSize + h.length);
        std::string out;
        if (h.control && h.type == spdy::kSynStream) {
          auto id = spdy::read_u32(reinterpret_cast<const unsigned char*>(payload.data())) & 0x7fffffff;
          auto headers = codec.decode(std::string_view(payload).substr(10));
          if (!headers.ok()) return;
          {
            std::lock_guard lock(mu);
            seen_streams.push_back(*headers);
          }
          for (const auto& [k, v] : *headers)
            if (k == "streamtype") type_of[id] = v;
          std::string reply;
          spdy::put_u32(reply, id);
          reply += codec.encode({});
          out = spdy::control_frame(spdy::kSynReply, 0, reply);
        } else if (!h.control && type_of[h.stream_id] == "data") {
          // Echo, and end the stream when the client half-closed it.
          if (!payload.empty()) out += spdy::data_frame(h.stream_id, 0, payload);
          if (h.flags & spdy::kFlagFin) out += spdy::data_frame(h.stream_id, spdy::kFlagFin, "");
        }
        if (!out.empty()) ws.write(net::buffer(out));
      }
    }
  }
};

std::string echo_through(std::uint16_t port, const std::string& text) {
  net::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  net::write(s, net::buffer(text));
  s.shutdown(tcp::socket::shutdown_send);
  std::string got;
  boost::system::error_code ec;
  std::array<char, 4096> buf;
  while (!ec) {
    std::size_t n = s.read_some(net::buffer(buf), ec);
    got.append(buf.data(), n);
  }
  return got;
}

orch::client::PortForwardOptions options(const FakeApiServer& server, const TestCert& cert) {
  orch::client::PortForwardOptions o;
  o.connection.servers = {server.url()};
  o.connection.ca_data = cert.cert;
  o.connection.bearer_token = "secret-token";
  o.namespace_ = "team";
  o.pod = "p";
  o.ports = {{0, 8080}};
  o.addresses = {"127.0.0.1"};
  return o;
}

}  // namespace

TEST_CASE("PortForward over TLS: token, subprotocol, SPDY streams, bytes both ways") {
  TestCert cert;
  FakeApiServer server(cert);
  server.start();
  std::vector<std::string> handled;
  auto o = options(server, cert);
  o.on_connection = [&](std::string_view line) { handled.emplace_back(line); };
  auto pf = orch::client::PortForward::start(o);
  REQUIRE(pf.ok());
  auto ls = (*pf)->listeners();
  REQUIRE(ls.size() == 1);
  CHECK(ls[0].address == "127.0.0.1");
  CHECK(ls[0].remote == 8080);
  REQUIRE(ls[0].local != 0);

  std::string big(300'000, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  CHECK(echo_through(ls[0].local, "hello") == "hello");
  CHECK(echo_through(ls[0].local, big) == big);

  CHECK(server.seen_target == "/api/v1/namespaces/team/pods/p/portforward");
  CHECK(server.seen_authorization == "Bearer secret-token");
  CHECK(server.seen_protocol == "SPDY/3.1+portforward.k8s.io");
  auto streams = server.streams();
  REQUIRE(streams.size() == 4);
  CHECK(streams[0] == spdy::Headers{{"streamtype", "error"}, {"port", "8080"}, {"requestid", "0"}});
  CHECK(streams[1] == spdy::Headers{{"streamtype", "data"}, {"port", "8080"}, {"requestid", "0"}});
  CHECK(streams[3] == spdy::Headers{{"streamtype", "data"}, {"port", "8080"}, {"requestid", "1"}});
  CHECK(handled.size() == 2);
  CHECK(handled[0] == "Handling connection for " + std::to_string(ls[0].local));

  CHECK((*pf)->wait(std::chrono::milliseconds(10)).code() == orch::Code::kDeadlineExceeded);
  (*pf)->stop();
  CHECK((*pf)->wait().ok());
}

TEST_CASE("PortForward: the server's refusal and an untrusted certificate") {
  TestCert cert;
  SUBCASE("403 with a Status body") {
    FakeApiServer server(cert);
    server.refuse_status = 403;
    server.start();
    auto pf = orch::client::PortForward::start(options(server, cert));
    REQUIRE_FALSE(pf.ok());
    CHECK(pf.status().code() == orch::Code::kPermissionDenied);
    CHECK(pf.status().message().starts_with("pods \"p\" is forbidden"));
  }
  SUBCASE("a CA that did not sign the server's certificate") {
    FakeApiServer server(cert);
    server.start();
    TestCert other;
    auto o = options(server, cert);
    o.connection.ca_data = other.cert;
    auto pf = orch::client::PortForward::start(o);
    REQUIRE_FALSE(pf.ok());
    CHECK(pf.status().code() == orch::Code::kUnavailable);
    CHECK(pf.status().message().starts_with("tls handshake with 127.0.0.1:"));
  }
  SUBCASE("nothing listening") {
    std::uint16_t port;
    {
      net::io_context ioc;
      tcp::acceptor a(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
      port = a.local_endpoint().port();
    }
    orch::client::PortForwardOptions o;
    o.connection.servers = {"http://127.0.0.1:" + std::to_string(port)};
    o.pod = "p";
    o.ports = {{0, 80}};
    auto pf = orch::client::PortForward::start(o);
    REQUIRE_FALSE(pf.ok());
    CHECK(pf.status().code() == orch::Code::kUnavailable);
    CHECK(pf.status().message().starts_with("dial tcp 127.0.0.1:" + std::to_string(port) + ": "));
  }
}
