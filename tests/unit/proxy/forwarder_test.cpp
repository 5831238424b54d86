// Forwarder: round robin over backends, dead backends skipped, no backend -> reset at once,
// ClientIP affinity, draining (a changed pool leaves open connections alone), half-close, stats,
// retarget and unlisten. Backends are small threaded servers on loopback ports.
#include <doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "orch/proxy/forwarder.hpp"

namespace orch::proxy {
namespace {

using namespace std::chrono_literals;

// A backend: greets each connection with "<name>\n", then echoes until EOF, then closes.
class TestBackend {
 public:
  explicit TestBackend(std::string name) : name_(std::move(name)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 64) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~TestBackend() { close(); }
  void close() {
    if (stop_.exchange(true)) return;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (auto& t : conns_) t.join();
  }
  std::uint16_t port() const { return port_; }
  Backend backend() const { return {"127.0.0.1", port_}; }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      conns_.emplace_back([this, c] {
        std::string hello = name_ + "\n";
        (void)::write(c, hello.data(), hello.size());
        char buf[4096];
        while (!stop_) {
          pollfd p{c, POLLIN, 0};
          if (::poll(&p, 1, 50) <= 0) continue;
          ssize_t n = ::read(c, buf, sizeof buf);
          if (n <= 0) break;
          (void)::write(c, buf, static_cast<std::size_t>(n));
        }
        ::close(c);
      });
    }
  }
  std::string name_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> conns_;
};

// A port nothing listens on.
std::uint16_t dead_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct Client {
  explicit Client(std::uint16_t port, const char* ip = "127.0.0.1") {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &a.sin_addr);
    connected = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { ::close(fd); }
  // Reads up to and including '\n' (5 s limit). "" on EOF/reset/timeout.
  std::string line() {
    std::string out;
    char c;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      if (::read(fd, &c, 1) != 1) return "";
      if (c == '\n') return out;
      out += c;
    }
    return "";
  }
  void send(const std::string& s) { (void)::write(fd, s.data(), s.size()); }
  int fd = -1;
  bool connected = false;
};

std::unique_ptr<Forwarder> make() {
  auto f = Forwarder::start({.connect_timeout = 500ms});
  REQUIRE(f.ok());
  return std::move(f).value();
}

TEST_CASE("connections go round robin over the pool's backends and carry bytes both ways") {
  TestBackend a("a"), b("b");
  auto f = make();
  f->set_pool("svc", {.backends = {a.backend(), b.backend()}});
  auto port = f->listen("127.0.0.1", 0, "svc");
  REQUIRE(port.ok());
  std::map<std::string, int> hits;
  for (int i = 0; i < 10; ++i) {
    Client c(*port);
    REQUIRE(c.connected);
    std::string who = c.line();
    hits[who]++;
    c.send("ping " + std::to_string(i) + "\n");
    CHECK(c.line() == "ping " + std::to_string(i));
  }
  CHECK(hits["a"] == 5);
  CHECK(hits["b"] == 5);
  auto s = f->stats("svc");
  CHECK(s.connections == 10);
  CHECK(s.errors == 0);
  CHECK(s.bytes_to_backend > 0);
  CHECK(s.bytes_to_client > 0);
}

TEST_CASE("a backend that refuses is skipped; with none alive the client is reset at once") {
  TestBackend live("live");
  auto f = make();
  f->set_pool("svc", {.backends = {{"127.0.0.1", dead_port()}, live.backend()}});
  auto port = f->listen("127.0.0.1", 0, "svc");
  REQUIRE(port.ok());
  for (int i = 0; i < 4; ++i) {
    Client c(*port);
    CHECK(c.line() == "live");
  }
  CHECK(f->stats("svc").connect_failures >= 1);
  CHECK(f->stats("svc").errors == 0);

  f->set_pool("svc", {.backends = {{"127.0.0.1", dead_port()}}});
  Client c(*port);
  CHECK(c.line().empty());  // reset, not a hang (line() would wait 5 s for a hang)
  CHECK(f->stats("svc").errors == 1);

  f->set_pool("empty", {});
  auto p2 = f->listen("127.0.0.1", 0, "empty");
  REQUIRE(p2.ok());
  Client e(*p2);
  CHECK(e.line().empty());
}

TEST_CASE("ClientIP affinity keeps a client on one backend") {
  TestBackend a("a"), b("b"), c("c");
  auto f = make();
  f->set_pool("svc", {.backends = {a.backend(), b.backend(), c.backend()}, .client_ip_affinity = true});
  auto port = f->listen("127.0.0.1", 0, "svc");
  REQUIRE(port.ok());
  std::set<std::string> seen;
  for (int i = 0; i < 6; ++i) {
    Client cl(*port);
    seen.insert(cl.line());
  }
  CHECK(seen.size() == 1);
}

TEST_CASE("draining: an open connection survives its backend leaving the pool; new ones go elsewhere") {
  TestBackend old_b("old"), new_b("new");
  auto f = make();
  f->set_pool("svc", {.backends = {old_b.backend()}});
  auto port = f->listen("127.0.0.1", 0, "svc");
  REQUIRE(port.ok());
  Client open(*port);
  REQUIRE(open.line() == "old");
  f->set_pool("svc", {.backends = {new_b.backend()}});
  Client fresh(*port);
  CHECK(fresh.line() == "new");
  open.send("still here\n");
  CHECK(open.line() == "still here");
  CHECK(f->stats("svc").active == 2);
}

TEST_CASE("half-close passes through: the backend sees EOF and its reply still arrives") {
  TestBackend a("a");
  auto f = make();
  f->set_pool("svc", {.backends = {a.backend()}});
  auto port = f->listen("127.0.0.1", 0, "svc");
  REQUIRE(port.ok());
  Client c(*port);
  REQUIRE(c.line() == "a");
  c.send("last\n");
  ::shutdown(c.fd, SHUT_WR);
  CHECK(c.line() == "last");
  // Then the backend closes after EOF and so does the proxy.
  CHECK(c.line().empty());
}

TEST_CASE("retarget, unlisten, a taken address, and stop with connections open") {
  TestBackend a("a"), b("b");
  auto f = make();
  f->set_pool("pa", {.backends = {a.backend()}});
  f->set_pool("pb", {.backends = {b.backend()}});
  auto port = f->listen("127.0.0.1", 0, "pa");
  REQUIRE(port.ok());
  CHECK(f->listen("127.0.0.1", *port, "pb").status().code() == Code::kAlreadyExists);
  REQUIRE(f->retarget("127.0.0.1", *port, "pb").ok());
  {
    Client c(*port);
    CHECK(c.line() == "b");
  }
  CHECK(f->listener_count() == 1);
  Client open(*port);
  REQUIRE(open.line() == "b");
  f->unlisten("127.0.0.1", *port);
  CHECK(f->listener_count() == 0);
  // Closed: a new connection is refused (poll until the close has happened).
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    Client c(*port);
    refused = !c.connected;
    if (!refused) std::this_thread::sleep_for(10ms);
  }
  CHECK(refused);
  open.send("x\n");
  CHECK(open.line() == "x");
  f->stop();
  CHECK(open.line().empty());  // stop closed it
  f->stop();
  CHECK(f->listen("127.0.0.1", 0, "pa").status().code() == Code::kUnavailable);
}

}  // namespace
}  // namespace orch::proxy
