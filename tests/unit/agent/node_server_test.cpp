// NodeServer: logs over HTTP (plain and followed), port-forward spliced to a local echo server
// (several connections at once, half-close), bearer token checks, and clean errors.
#include <doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "orch/agent/container_log.hpp"
#include "orch/agent/node_server.hpp"

namespace orch::agent {
namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

const std::chrono::system_clock::time_point kT0{std::chrono::seconds(1704067200)};

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/orch-node-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

void append(const std::string& file, const std::string& text) {
  fs::create_directories(fs::path(file).parent_path());
  std::ofstream(file, std::ios::app) << text;
}

// A blocking echo server on 127.0.0.1: echoes each connection until the peer half-closes, then
// writes "bye" and closes. Every thread is joined in the destructor.
class EchoServer {
 public:
  EchoServer() : acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { accept_loop(); });
  }
  ~EchoServer() {
    stop_ = true;
    boost::system::error_code ec;
    // Wake accept() with a connection of our own, then join everything.
    tcp::socket s(ioc_);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
    thread_.join();
    std::lock_guard lock(mu_);
    for (auto& t : conns_) t.join();
  }
  std::uint16_t port() const { return port_; }

 private:
  void accept_loop() {
    while (!stop_) {
      tcp::socket s(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stop_) return;
      std::lock_guard lock(mu_);
      conns_.emplace_back([sock = std::move(s)]() mutable {
        char buf[4096];
        boost::system::error_code e;
        for (;;) {
          std::size_t n = sock.read_some(net::buffer(buf), e);
          if (n > 0) net::write(sock, net::buffer(buf, n), e);
          if (e) break;
        }
        net::write(sock, net::buffer(std::string("bye")), e);
        sock.shutdown(tcp::socket::shutdown_both, e);
      });
    }
  }
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::thread> conns_;
};

struct Fixture {
  TempDir dir;
  EchoServer echo;
  std::unique_ptr<NodeServer> server;
  net::io_context ioc;
  std::shared_ptr<std::atomic<bool>> running = std::make_shared<std::atomic<bool>>(true);

  Fixture() {
    NodeServerOptions o;
    o.token = "s3cret";
    std::string log_dir = dir.path;
    auto run = running;
    o.resolve_pod = [log_dir, run](std::string_view ns,
                                   std::string_view name) -> Result<PodLocation> {
      if (ns == "default" && name == "web") {
        PodLocation loc;
        loc.uid = "uid-1";
        loc.pod_ip = "127.0.0.1";
        loc.log_dir = log_dir;
        loc.container_running = [run](std::string_view) { return run->load(); };
        return loc;
      }
      return not_found("pods \"" + std::string(name) + "\" not found");
    };
    auto s = NodeServer::start(std::move(o));
    REQUIRE_MESSAGE(s.ok(), s.status().to_string());
    server = std::move(*s);
  }

  tcp::socket connect() {
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server->port()));
    return s;
  }

  // One GET; returns status and whole body.
  std::pair<int, std::string> get(const std::string& target, const std::string& token = "s3cret") {
    auto s = connect();
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "node");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    boost::system::error_code ec;
    http::read(s, buf, res, ec);
    return {res.result_int(), res.body()};
  }
};

TEST_CASE("node server: logs over HTTP") {
  Fixture f;
  append(container_log_path(f.dir.path, "c", 0), format_cri_line(kT0, "stdout", false, "old"));
  append(container_log_path(f.dir.path, "c", 1),
         format_cri_line(kT0, "stdout", false, "hello") +
             format_cri_line(kT0, "stderr", false, "world"));

  struct Case {
    std::string target;
    int status;
    std::string body;
  };
  std::vector<Case> cases{
      {"/containerLogs/default/web/c", 200, "hello\nworld\n"},
      {"/containerLogs/default/web/c?tailLines=1", 200, "world\n"},
      {"/containerLogs/default/web/c?previous=true", 200, "old\n"},
      {"/containerLogs/default/web/c?timestamps=true&tailLines=1", 200,
       "2024-01-01T00:00:00.000000000Z world\n"},
      {"/containerLogs/default/web/nope", 404, ""},
      {"/containerLogs/default/other/c", 404, "pods \"other\" not found\n"},
      {"/containerLogs/default/web/c?tailLines=x", 400, ""},
      {"/nothing", 404, ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.target);
    auto [status, body] = f.get(c.target);
    CHECK(status == c.status);
    if (!c.body.empty()) CHECK(body == c.body);
  }
}

TEST_CASE("node server: a bad or missing token is 401") {
  Fixture f;
  CHECK(f.get("/containerLogs/default/web/c", "wrong").first == 401);
  CHECK(f.get("/containerLogs/default/web/c", "").first == 401);
  CHECK(f.get("/portForward/default/web?port=1", "s3cret-but-longer").first == 401);
}

TEST_CASE("node server: start needs a token and a resolver") {
  NodeServerOptions o;
  o.resolve_pod = [](std::string_view, std::string_view) -> Result<PodLocation> {
    return not_found("x");
  };
  CHECK(NodeServer::start(o).status().code() == Code::kInvalidArgument);
  o.token = "t";
  o.resolve_pod = nullptr;
  CHECK(NodeServer::start(o).status().code() == Code::kInvalidArgument);
}

TEST_CASE("node server: a followed log streams as the file grows") {
  Fixture f;
  const std::string file = container_log_path(f.dir.path, "c", 0);
  append(file, format_cri_line(kT0, "stdout", false, "first"));
  auto s = f.connect();
  http::request<http::empty_body> req{http::verb::get, "/containerLogs/default/web/c?follow=true",
                                      11};
  req.set(http::field::authorization, "Bearer s3cret");
  http::write(s, req);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  http::read_header(s, buf, parser);
  CHECK(parser.get().result_int() == 200);
  // Read body chunks until `want` has arrived.
  auto read_until = [&](const std::string& want) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (parser.get().body().find(want) == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      boost::system::error_code ec;
      http::read_some(s, buf, parser, ec);
      if (ec) break;
    }
    return parser.get().body().find(want) != std::string::npos;
  };
  CHECK(read_until("first\n"));
  append(file, format_cri_line(kT0, "stdout", false, "second"));
  CHECK(read_until("second\n"));
  // A restart ends the followed log: the response completes.
  append(container_log_path(f.dir.path, "c", 1), format_cri_line(kT0, "stdout", false, "new"));
  boost::system::error_code ec;
  http::read(s, buf, parser, ec);
  CHECK(!ec);
  CHECK(parser.is_done());
  CHECK(parser.get().body() == "first\nsecond\n");
}

TEST_CASE("node server: a followed log ends when the container exits") {
  Fixture f;
  const std::string file = container_log_path(f.dir.path, "c", 0);
  append(file, format_cri_line(kT0, "stdout", false, "first"));
  auto s = f.connect();
  http::request<http::empty_body> req{http::verb::get, "/containerLogs/default/web/c?follow=1", 11};
  req.set(http::field::authorization, "Bearer s3cret");
  http::write(s, req);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  http::read_header(s, buf, parser);
  while (parser.get().body().empty()) {
    boost::system::error_code ec;
    http::read_some(s, buf, parser, ec);
    if (ec) break;
  }
  CHECK(parser.get().body() == "first\n");
  append(file, format_cri_line(kT0, "stdout", false, "goodbye"));
  *f.running = false;
  boost::system::error_code ec;
  http::read(s, buf, parser, ec);
  CHECK(!ec);
  CHECK(parser.get().body() == "first\ngoodbye\n");
}

// Upgrades one connection to the pod's port; returns the socket after the 101.
tcp::socket open_forward(Fixture& f, std::uint16_t port, int* status = nullptr,
                         std::string* body = nullptr) {
  auto s = f.connect();
  std::string req = "GET /portForward/default/web?port=" + std::to_string(port) +
                    " HTTP/1.1\r\nHost: node\r\nAuthorization: Bearer s3cret\r\n"
                    "Connection: Upgrade\r\nUpgrade: orch-portforward\r\n\r\n";
  net::write(s, net::buffer(req));
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.skip(false);
  http::read_header(s, buf, parser);
  if (status) *status = parser.get().result_int();
  if (parser.get().result_int() != 101) {
    boost::system::error_code ec;
    http::read(s, buf, parser, ec);
    if (body) *body = parser.get().body();
  }
  REQUIRE(buf.size() == 0);  // the echo server says nothing before it is spoken to
  return s;
}

TEST_CASE("node server: port-forward splices to the pod's port, many connections at once") {
  Fixture f;
  constexpr int kConns = 8;
  std::vector<tcp::socket> socks;
  for (int i = 0; i < kConns; ++i) {
    int status = 0;
    socks.push_back(open_forward(f, f.echo.port(), &status));
    REQUIRE(status == 101);
  }
  for (int i = 0; i < kConns; ++i) {
    std::string msg = "hello " + std::to_string(i) + std::string(10000, 'x');
    net::write(socks[static_cast<std::size_t>(i)], net::buffer(msg));
  }
  for (int i = 0; i < kConns; ++i) {
    auto& s = socks[static_cast<std::size_t>(i)];
    // Half-close: the echo server answers "bye" after our EOF and closes.
    s.shutdown(tcp::socket::shutdown_send);
    std::string got;
    boost::system::error_code ec;
    char buf[4096];
    for (;;) {
      std::size_t n = s.read_some(net::buffer(buf), ec);
      got.append(buf, n);
      if (ec) break;
    }
    CHECK(got == "hello " + std::to_string(i) + std::string(10000, 'x') + "bye");
  }
}

TEST_CASE("node server: port-forward errors are plain HTTP answers") {
  Fixture f;
  int status = 0;
  std::string body;
  // A port nobody listens on (the echo server's, after binding one and closing it).
  std::uint16_t closed_port = 0;
  {
    tcp::acceptor a(f.ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    closed_port = a.local_endpoint().port();
  }
  open_forward(f, closed_port, &status, &body);
  CHECK(status == 502);
  CHECK(body.find("failed to connect to 127.0.0.1:" + std::to_string(closed_port)) !=
        std::string::npos);
  CHECK(f.get("/portForward/default/web?port=0").first == 400);
  CHECK(f.get("/portForward/default/web?port=80").first == 400);  // no Upgrade header
}

TEST_CASE("node server: stop ends open sessions") {
  Fixture f;
  int status = 0;
  auto s = open_forward(f, f.echo.port(), &status);
  REQUIRE(status == 101);
  f.server->stop();
  char buf[16];
  boost::system::error_code ec;
  s.read_some(net::buffer(buf), ec);
  CHECK(ec);
  f.server->stop();  // idempotent
}

}  // namespace
}  // namespace orch::agent
