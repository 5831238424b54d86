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
#include "tcp_test_util.hpp"

namespace orch::proxy {
namespace {

using namespace std::chrono_literals;

using testing::GreetingServer;
using testing::unused_port;
using Client = testing::TcpClient;

Backend backend_of(const GreetingServer& s) { return {"127.0.0.1", s.port()}; }

std::unique_ptr<Forwarder> make() {
  auto f = Forwarder::start({.connect_timeout = 500ms});
  REQUIRE(f.ok());
  return std::move(f).value();
}

TEST_CASE("connections go round robin over the pool's backends and carry bytes both ways") {
  GreetingServer a("a"), b("b");
  auto f = make();
  f->set_pool("svc", {.backends = {backend_of(a), backend_of(b)}});
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
  GreetingServer live("live");
  auto f = make();
  f->set_pool("svc", {.backends = {{"127.0.0.1", unused_port()}, backend_of(live)}});
  auto port = f->listen("127.0.0.1", 0, "svc");
  REQUIRE(port.ok());
  for (int i = 0; i < 4; ++i) {
    Client c(*port);
    CHECK(c.line() == "live");
  }
  CHECK(f->stats("svc").connect_failures >= 1);
  CHECK(f->stats("svc").errors == 0);

  f->set_pool("svc", {.backends = {{"127.0.0.1", unused_port()}}});
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
  GreetingServer a("a"), b("b"), c("c");
  auto f = make();
  f->set_pool("svc", {.backends = {backend_of(a), backend_of(b), backend_of(c)}, .client_ip_affinity = true});
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
  GreetingServer old_b("old"), new_b("new");
  auto f = make();
  f->set_pool("svc", {.backends = {backend_of(old_b)}});
  auto port = f->listen("127.0.0.1", 0, "svc");
  REQUIRE(port.ok());
  Client open(*port);
  REQUIRE(open.line() == "old");
  f->set_pool("svc", {.backends = {backend_of(new_b)}});
  Client fresh(*port);
  CHECK(fresh.line() == "new");
  open.send("still here\n");
  CHECK(open.line() == "still here");
  CHECK(f->stats("svc").active == 2);
}

TEST_CASE("half-close passes through: the backend sees EOF and its reply still arrives") {
  GreetingServer a("a");
  auto f = make();
  f->set_pool("svc", {.backends = {backend_of(a)}});
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
  GreetingServer a("a"), b("b");
  auto f = make();
  f->set_pool("pa", {.backends = {backend_of(a)}});
  f->set_pool("pb", {.backends = {backend_of(b)}});
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

TEST_CASE("bulk bytes (splice mode) arrive intact both ways; stats count them and the connect") {
  GreetingServer a("a");
  auto f = make();
  f->set_pool("svc", {.backends = {backend_of(a)}});
  auto port = f->listen("127.0.0.1", 0, "svc");
  REQUIRE(port.ok());
  Client c(*port);
  REQUIRE(c.line() == "a");
  // 1 MiB of numbered lines, written while the echo is read back (so neither side blocks).
  std::string sent;
  for (int i = 0; sent.size() < (1U << 20); ++i) sent += "line " + std::to_string(i) + " " + std::string(100, 'x') + "\n";
  std::thread writer([&] {
    std::size_t off = 0;
    while (off < sent.size()) {
      ssize_t n = ::write(c.fd, sent.data() + off, std::min<std::size_t>(65536, sent.size() - off));
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
  });
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  char buf[65536];
  while (got.size() < sent.size() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{c.fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::read(c.fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  writer.join();
  CHECK(got.size() == sent.size());
  CHECK(got == sent);
  auto s = f->stats("svc");
  CHECK(s.bytes_to_backend == sent.size());
  CHECK(s.bytes_to_client == sent.size() + 2);  // + the greeting "a\n"
  CHECK(s.connects == 1);
  CHECK(s.no_endpoint == 0);
  std::uint64_t in_buckets = 0;
  for (auto n : s.connect_latency_buckets) in_buckets += n;
  CHECK(in_buckets == 1);
}

TEST_CASE("no endpoint and every endpoint failing are told apart") {
  auto f = make();
  f->set_pool("empty", {});
  f->set_pool("dead", {.backends = {{"127.0.0.1", unused_port()}}});
  auto pe = f->listen("127.0.0.1", 0, "empty");
  auto pd = f->listen("127.0.0.1", 0, "dead");
  REQUIRE(pe.ok());
  REQUIRE(pd.ok());
  for (int i = 0; i < 3; ++i) {
    Client e(*pe), d(*pd);
    CHECK(e.line().empty());
    CHECK(d.line().empty());
  }
  auto se = f->stats("empty"), sd = f->stats("dead");
  CHECK(se.connections == 3);
  CHECK(se.errors == 3);
  CHECK(se.no_endpoint == 3);
  CHECK(sd.errors == 3);
  CHECK(sd.no_endpoint == 0);
  CHECK(sd.connect_failures == 3);
  CHECK(sd.connects == 0);
}

TEST_CASE("several network threads: every connection is served, round robin stays exact") {
  GreetingServer a("a"), b("b");
  auto fr = Forwarder::start({.connect_timeout = 500ms, .threads = 4});
  REQUIRE(fr.ok());
  auto& f = *fr;
  f->set_pool("svc", {.backends = {backend_of(a), backend_of(b)}});
  auto port = f->listen("127.0.0.1", 0, "svc");
  REQUIRE(port.ok());
  std::map<std::string, int> hits;
  for (int i = 0; i < 40; ++i) {
    Client c(*port);
    hits[c.line()]++;
  }
  CHECK(hits["a"] == 20);
  CHECK(hits["b"] == 20);
  f->unlisten("127.0.0.1", *port);
  CHECK(f->listener_count() == 0);
}

}  // namespace
}  // namespace orch::proxy
