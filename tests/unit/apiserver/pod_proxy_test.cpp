// pods/log and pods/portforward through the real ApiServer (HTTP) to a real agent NodeServer and a
// local echo "pod": log proxying and its errors, and port-forward spoken as kubectl speaks it
// (SPDY/3.1 after an HTTP upgrade, and SPDY tunnelled in WebSocket binary messages), with
// concurrent forwarded connections, PING, half-close, and dial errors on the error stream.
#include <doctest.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include "../../../lib/apiserver/http/spdy.hpp"
#include "orch/agent/container_log.hpp"
#include "orch/agent/node_server.hpp"
#include "orch/apiserver/api_server.hpp"
#include "orch/store/sqlite_store.hpp"

namespace orch::apiserver {
namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

constexpr const char* kToken = "node-token";
const std::chrono::system_clock::time_point kT0{std::chrono::seconds(1704067200)};

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/orch-podproxy-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

// Every blocking socket op of the test gives up after 20 s instead of hanging.
void bound_waits(tcp::socket& s) {
  timeval tv{20, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Echoes each connection until EOF, then closes. Threads joined in the destructor.
class EchoServer {
 public:
  EchoServer() : acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] {
      for (;;) {
        tcp::socket s(ioc_);
        boost::system::error_code ec;
        acceptor_.accept(s, ec);
        if (ec || stop_) return;
        std::lock_guard lock(mu_);
        conns_.emplace_back([sock = std::move(s)]() mutable {
          bound_waits(sock);
          char buf[8192];
          boost::system::error_code e;
          for (;;) {
            std::size_t n = sock.read_some(net::buffer(buf), e);
            if (n > 0) net::write(sock, net::buffer(buf, n), e);
            if (e) break;
          }
          sock.shutdown(tcp::socket::shutdown_both, e);
        });
      }
    });
  }
  ~EchoServer() {
    stop_ = true;
    boost::system::error_code ec;
    tcp::socket s(ioc_);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
    thread_.join();
    std::lock_guard lock(mu_);
    for (auto& t : conns_) t.join();
  }
  std::uint16_t port() const { return port_; }

 private:
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::thread> conns_;
};

Response call(Handler& h, const std::string& method, const std::string& path,
              const std::string& body) {
  Request r;
  r.method = method;
  r.path = path;
  r.headers["content-type"] = "application/json";
  r.body = body;
  return h.handle(r);
}

// API server + node server + echo pod; pods "web" (one container) and "multi" (a, b) on node-1,
// "pending" on no node.
struct Cluster {
  TempDir dir;
  EchoServer echo;
  std::unique_ptr<agent::NodeServer> node;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<ApiServer> server;
  net::io_context ioc;

  explicit Cluster(const std::string& token = kToken) {
    agent::NodeServerOptions no;
    no.token = kToken;
    std::string logs = dir.path;
    no.resolve_pod = [logs](std::string_view, std::string_view name)
        -> Result<agent::PodLocation> {
      agent::PodLocation loc;
      loc.uid = "uid";
      loc.pod_ip = "127.0.0.1";
      loc.log_dir = logs + "/" + std::string(name);
      return loc;
    };
    auto n = agent::NodeServer::start(no);
    REQUIRE(n.ok());
    node = std::move(*n);
    store::SqliteOptions so;
    so.path = dir.path + "/state.db";
    auto s = store::open_sqlite_store(so);
    REQUIRE(s.ok());
    store = std::move(*s);
    ApiServerOptions ao;
    ao.node_token = token;
    auto srv = ApiServer::start(*store, ao);
    REQUIRE(srv.ok());
    server = std::move(*srv);

    std::string nodej = R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1"},)"
                        R"("status":{"addresses":[{"type":"InternalIP","address":"127.0.0.1"}],)"
                        R"("daemonEndpoints":{"kubeletEndpoint":{"Port":)" +
                        std::to_string(node->port()) + "}}}}";
    auto& h = server->handler();
    REQUIRE(call(h, "POST", "/api/v1/nodes", nodej).status == 201);
    REQUIRE(call(h, "PUT", "/api/v1/nodes/node-1/status", nodej).status == 200);
    auto pod = [](const std::string& name, const std::string& containers, const std::string& node) {
      return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
             R"("},"spec":{)" + (node.empty() ? "" : R"("nodeName":")" + node + "\",") +
             R"("containers":[)" + containers + "]}}";
    };
    for (auto [name, cs, n2] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"web", R"({"name":"web","image":"x"})", "node-1"},
             {"multi", R"({"name":"a","image":"x"},{"name":"b","image":"x"})", "node-1"},
             {"pending", R"({"name":"c","image":"x"})", ""}}) {
      auto r = call(h, "POST", "/api/v1/namespaces/default/pods", pod(name, cs, n2));
      REQUIRE_MESSAGE(r.status == 201, r.body);
    }
  }
  ~Cluster() {
    server->stop();
    node->stop();
  }

  tcp::socket connect() {
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server->port()));
    bound_waits(s);
    return s;
  }

  std::pair<int, std::string> get(const std::string& target) {
    auto s = connect();
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "api");
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    boost::system::error_code ec;
    http::read(s, buf, res, ec);
    return {res.result_int(), res.body()};
  }
};

std::string message_of(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("message")) return body;
  return std::string(v.at("message").as_string());
}

TEST_CASE("pods/log is proxied to the pod's node") {
  Cluster c;
  auto log = agent::container_log_path(c.dir.path + "/web", "web", 0);
  fs::create_directories(fs::path(log).parent_path());
  std::ofstream(log) << agent::format_cri_line(kT0, "stdout", false, "one")
                     << agent::format_cri_line(kT0, "stdout", false, "two");

  auto [s1, b1] = c.get("/api/v1/namespaces/default/pods/web/log");
  CHECK(s1 == 200);
  CHECK(b1 == "one\ntwo\n");
  auto [s2, b2] = c.get("/api/v1/namespaces/default/pods/web/log?container=web&tailLines=1");
  CHECK(s2 == 200);
  CHECK(b2 == "two\n");

  struct Case {
    std::string target;
    int status;
    std::string message;
  };
  std::vector<Case> cases{
      {"/api/v1/namespaces/default/pods/multi/log", 400,
       "a container name must be specified for pod multi, choose one of: [a b]"},
      {"/api/v1/namespaces/default/pods/web/log?container=zzz", 400,
       "container zzz is not valid for pod web"},
      {"/api/v1/namespaces/default/pods/pending/log", 400,
       "pod pending does not have a host assigned"},
      {"/api/v1/namespaces/default/pods/nope/log", 404, "pods \"nope\" not found"},
      {"/api/v1/namespaces/default/pods/web/log?previous=true", 400,
       "previous terminated container \"web\" in pod \"web\" not found"},
      {"/api/v1/namespaces/default/pods/multi/log?container=a", 404,
       "container \"a\" in pod \"multi\" has no log yet"},
  };
  for (const auto& k : cases) {
    CAPTURE(k.target);
    auto [status, body] = c.get(k.target);
    CHECK(status == k.status);
    CHECK(message_of(body) == k.message);
  }
}

TEST_CASE("pods/log: a wrong node token is reported as such") {
  Cluster c("wrong-token");
  auto [status, body] = c.get("/api/v1/namespaces/default/pods/web/log");
  CHECK(status == 500);
  CHECK(message_of(body).find("node_token") != std::string::npos);
}

TEST_CASE("pods/log?follow=true streams until the container restarts") {
  Cluster c;
  auto log = agent::container_log_path(c.dir.path + "/web", "web", 0);
  fs::create_directories(fs::path(log).parent_path());
  std::ofstream(log) << agent::format_cri_line(kT0, "stdout", false, "first");
  auto s = c.connect();
  http::request<http::empty_body> req{http::verb::get,
                                      "/api/v1/namespaces/default/pods/web/log?follow=true", 11};
  http::write(s, req);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  http::read_header(s, buf, p);
  CHECK(p.get().result_int() == 200);
  auto until = [&](const std::string& want) {
    while (p.get().body().find(want) == std::string::npos) {
      boost::system::error_code ec;
      http::read_some(s, buf, p, ec);
      if (ec) return false;
    }
    return true;
  };
  CHECK(until("first\n"));
  std::ofstream(log, std::ios::app) << agent::format_cri_line(kT0, "stdout", false, "second");
  CHECK(until("second\n"));
  std::ofstream(agent::container_log_path(c.dir.path + "/web", "web", 1))
      << agent::format_cri_line(kT0, "stdout", false, "x");
  boost::system::error_code ec;
  http::read(s, buf, p, ec);
  CHECK(!ec);
  CHECK(p.get().body() == "first\nsecond\n");
}

// A SPDY client over some byte channel, as client-go's port-forward uses it.
class SpdyClient {
 public:
  SpdyClient(std::function<void(const std::string&)> write, std::function<std::string()> read)
      : write_(std::move(write)), read_(std::move(read)) {}

  void syn(std::uint32_t id, const std::string& type, std::uint16_t port, int request_id) {
    std::string payload;
    spdy::put_u32(payload, id);
    spdy::put_u32(payload, 0);
    payload += '\0';
    payload += '\0';
    payload += codec_.encode({{"streamtype", type},
                              {"port", std::to_string(port)},
                              {"requestid", std::to_string(request_id)}});
    write_(spdy::control_frame(spdy::kSynStream, 0, payload));
  }
  void data(std::uint32_t id, const std::string& bytes, bool fin) {
    write_(spdy::data_frame(id, fin ? spdy::kFlagFin : 0, bytes));
  }
  void ping(std::uint32_t id) {
    std::string payload;
    spdy::put_u32(payload, id);
    write_(spdy::control_frame(spdy::kPing, 0, payload));
  }

  // Reads frames until `done()`; returns false on a read failure.
  bool pump(const std::function<bool()>& done) {
    while (!done()) {
      while (buf_.size() < spdy::kFrameHeaderSize ||
             buf_.size() < spdy::kFrameHeaderSize +
                               spdy::parse_frame_header(
                                   reinterpret_cast<const unsigned char*>(buf_.data()))
                                   .length) {
        std::string more = read_();
        if (more.empty()) return false;
        buf_ += more;
      }
      auto h = spdy::parse_frame_header(reinterpret_cast<const unsigned char*>(buf_.data()));
      std::string payload = buf_.substr(spdy::kFrameHeaderSize, h.length);
      buf_.erase(0, spdy::kFrameHeaderSize + h.length);
      const auto* p = reinterpret_cast<const unsigned char*>(payload.data());
      if (!h.control) {
        received[h.stream_id] += payload;
        if (h.flags & spdy::kFlagFin) fins.insert(h.stream_id);
      } else if (h.type == spdy::kSynReply) {
        REQUIRE(codec_.decode(std::string_view(payload).substr(4)).ok());
        replies.insert(spdy::read_u32(p));
      } else if (h.type == spdy::kPing) {
        pongs.insert(spdy::read_u32(p));
      }
    }
    return true;
  }

  std::map<std::uint32_t, std::string> received;
  std::set<std::uint32_t> fins, replies, pongs;

 private:
  std::function<void(const std::string&)> write_;
  std::function<std::string()> read_;
  spdy::HeaderCodec codec_;
  std::string buf_;
};

// What every flavor checks: two forwarded connections at once, PING, half-close, a dial error.
void exercise(SpdyClient& c, std::uint16_t echo_port, std::uint16_t closed_port) {
  c.syn(1, "error", echo_port, 0);
  c.syn(3, "data", echo_port, 0);
  c.syn(5, "error", echo_port, 1);
  c.syn(7, "data", echo_port, 1);
  c.syn(9, "error", closed_port, 2);
  c.syn(11, "data", closed_port, 2);
  c.data(1, "", true);  // client-go half-closes the error stream at once
  c.data(5, "", true);
  c.ping(1);
  std::string big(200000, 'z');
  c.data(3, "hello ", false);
  c.data(7, big, false);
  c.data(3, "world", true);
  c.data(7, "", true);
  bool ok = c.pump([&] {
    return c.fins.count(3) && c.fins.count(7) && c.fins.count(1) && c.fins.count(5) &&
           c.fins.count(9) && c.fins.count(11) && c.pongs.count(1) && c.replies.size() == 6;
  });
  REQUIRE(ok);
  CHECK(c.received[3] == "hello world");
  CHECK(c.received[7] == big);
  CHECK(c.received[1].empty());
  CHECK(c.received[9].find("failed to connect to 127.0.0.1:" + std::to_string(closed_port)) !=
        std::string::npos);
  CHECK(c.received[11].empty());
}

std::uint16_t a_closed_port(net::io_context& ioc) {
  tcp::acceptor a(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

TEST_CASE("pods/portforward over SPDY/3.1 (kubectl 1.20)") {
  Cluster c;
  auto s = c.connect();
  std::string req =
      "POST /api/v1/namespaces/default/pods/web/portforward HTTP/1.1\r\nHost: api\r\n"
      "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io"
      "\r\nContent-Length: 0\r\n\r\n";
  net::write(s, net::buffer(req));
  std::string head;
  char ch;
  while (head.find("\r\n\r\n") == std::string::npos && net::read(s, net::buffer(&ch, 1)) == 1) {
    head += ch;
  }
  REQUIRE(head.starts_with("HTTP/1.1 101"));
  CHECK(head.find("X-Stream-Protocol-Version: portforward.k8s.io") != std::string::npos);
  SpdyClient client([&](const std::string& b) { net::write(s, net::buffer(b)); },
                    [&]() -> std::string {
                      char buf[65536];
                      boost::system::error_code ec;
                      std::size_t n = s.read_some(net::buffer(buf), ec);
                      return std::string(buf, n);
                    });
  exercise(client, c.echo.port(), a_closed_port(c.ioc));
}

TEST_CASE("pods/portforward over WebSocket with SPDY tunnelled (kubectl 1.32)") {
  Cluster c;
  websocket::stream<tcp::socket> ws(c.connect());
  ws.set_option(websocket::stream_base::decorator([](websocket::request_type& r) {
    r.set(http::field::sec_websocket_protocol, "SPDY/3.1+portforward.k8s.io");
  }));
  websocket::response_type res;
  ws.handshake(res, "api", "/api/v1/namespaces/default/pods/web/portforward");
  CHECK(res[http::field::sec_websocket_protocol] == "SPDY/3.1+portforward.k8s.io");
  ws.binary(true);
  SpdyClient client([&](const std::string& b) { ws.write(net::buffer(b)); },
                    [&]() -> std::string {
                      char buf[65536];
                      boost::system::error_code ec;
                      std::size_t n = ws.read_some(net::buffer(buf), ec);
                      return std::string(buf, n);
                    });
  exercise(client, c.echo.port(), a_closed_port(c.ioc));
  boost::system::error_code ec;
  ws.close(websocket::close_code::normal, ec);
}

TEST_CASE("pods/portforward refuses what it cannot speak") {
  Cluster c;
  auto post = [&](const std::string& path, const std::string& headers) {
    auto s = c.connect();
    http::request<http::empty_body> req{http::verb::post, path, 11};
    std::size_t pos = 0;
    while (pos < headers.size()) {
      auto colon = headers.find(':', pos);
      auto end = headers.find('\n', pos);
      req.set(headers.substr(pos, colon - pos), headers.substr(colon + 2, end - colon - 2));
      pos = end + 1;
    }
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return std::pair{static_cast<int>(res.result_int()), message_of(res.body())};
  };
  CHECK(post("/api/v1/namespaces/default/pods/web/portforward", "") ==
        std::pair{400, std::string("Upgrade request required")});
  CHECK(post("/api/v1/namespaces/default/pods/pending/portforward",
             "Connection: Upgrade\nUpgrade: SPDY/3.1\n") ==
        std::pair{400, std::string("pod pending does not have a host assigned")});
  // A WebSocket without the tunnelling subprotocol is refused, so kubectl falls back to SPDY.
  websocket::stream<tcp::socket> ws(c.connect());
  boost::system::error_code ec;
  ws.handshake("api", "/api/v1/namespaces/default/pods/web/portforward", ec);
  CHECK(ec);
}

}  // namespace
}  // namespace orch::apiserver
