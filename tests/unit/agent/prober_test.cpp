// Single probe runs (httpGet, tcpSocket, exec) and the agent's small helpers: pod IP ranges,
// $(VAR) expansion.
#include <doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "../../../lib/agent/agent_internal.hpp"
#include "control_plane.hpp"
#include "fake_runtime.hpp"
#include "orch/agent/prober.hpp"

namespace orch::agent {
namespace {

using namespace std::chrono_literals;

// A loopback listener answering every request with `code` (or never answering when code == 0).
class Server {
 public:
  explicit Server(int code) : code_(code) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        char buf[4096];
        pollfd q{c, POLLIN, 0};
        ssize_t n = 0;
        if (::poll(&q, 1, 2000) > 0) n = ::recv(c, buf, sizeof(buf), 0);
        if (n > 0) last_request_.assign(buf, static_cast<std::size_t>(n));
        if (code_ != 0) {
          std::string resp = "HTTP/1.1 " + std::to_string(code_) +
                             " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
          (void)::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
        } else {
          while (!stop_) std::this_thread::sleep_for(10ms);
        }
        ::close(c);
      }
    });
  }
  ~Server() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  std::string last_request() const { return last_request_; }

 private:
  int code_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::string last_request_;
  std::thread thread_;
};

// A port nobody listens on (bound, then closed).
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

api::Probe http_probe(api::IntOrString port, std::string path = "/healthz") {
  api::Probe p;
  api::HttpGetAction h;
  h.port = std::move(port);
  h.path = std::move(path);
  h.http_headers.push_back({"X-Probe", "yes"});
  p.http_get = h;
  p.timeout_seconds = 1;
  return p;
}

TEST_CASE("httpGet probes: 200-399 succeed, others fail with the kubelet's message") {
  struct Case {
    int code;
    bool success;
    std::string message;
  };
  std::vector<Case> cases = {
      {200, true, ""},
      {204, true, ""},
      {302, true, ""},
      {399, true, ""},
      {404, false, "HTTP probe failed with statuscode: 404"},
      {500, false, "HTTP probe failed with statuscode: 500"},
  };
  for (const auto& c : cases) {
    SUBCASE(std::to_string(c.code).c_str()) {
      Server s(c.code);
      ProbeTarget t;
      t.pod_ip = "127.0.0.1";
      auto out = run_probe(http_probe(s.port()), t, nullptr);
      CHECK(out.success == c.success);
      CHECK(out.message == c.message);
      CHECK(s.last_request().rfind("GET /healthz HTTP/1.1\r\n", 0) == 0);
      CHECK(s.last_request().find("X-Probe: yes\r\n") != std::string::npos);
      CHECK(s.last_request().find("User-Agent: kube-probe/") != std::string::npos);
    }
  }
}

TEST_CASE("httpGet probes resolve named ports and report refused connections and timeouts") {
  Server s(200);
  ProbeTarget t;
  t.pod_ip = "127.0.0.1";
  t.ports.push_back(api::ContainerPort{"http", 0, s.port(), "TCP", ""});
  CHECK(run_probe(http_probe(api::IntOrString("http")), t, nullptr).success);
  auto unknown = run_probe(http_probe(api::IntOrString("nope")), t, nullptr);
  CHECK_FALSE(unknown.success);

  int port = closed_port();
  auto refused = run_probe(http_probe(port), t, nullptr);
  CHECK_FALSE(refused.success);
  CHECK(refused.message == "Get \"http://127.0.0.1:" + std::to_string(port) +
                               "/healthz\": dial tcp 127.0.0.1:" + std::to_string(port) +
                               ": connect: connection refused");

  Server silent(0);
  auto slow = run_probe(http_probe(silent.port()), t, nullptr);
  CHECK_FALSE(slow.success);
  CHECK(slow.message.find("context deadline exceeded") != std::string::npos);
}

TEST_CASE("tcpSocket and exec probes") {
  Server s(200);
  ProbeTarget t;
  t.pod_ip = "127.0.0.1";
  api::Probe tcp;
  tcp.tcp_socket = api::TcpSocketAction{s.port(), ""};
  CHECK(run_probe(tcp, t, nullptr).success);
  tcp.tcp_socket->port = closed_port();
  auto refused = run_probe(tcp, t, nullptr);
  CHECK_FALSE(refused.success);
  CHECK(refused.message.find("connect: connection refused") != std::string::npos);

  util::FakeClock clock;
  testing::FakeRuntime rt(&clock);
  PodSandboxConfig pod;
  pod.uid = "u1";
  ContainerConfig cfg;
  cfg.container.name = "c";
  auto id = rt.start_container(pod, cfg);
  REQUIRE(id.ok());
  t.container_id = *id;
  api::Probe ex;
  ex.exec = api::ExecAction{{"cat", "/tmp/healthy"}};
  CHECK(run_probe(ex, t, &rt).success);
  rt.set_exec_exit("c", 1);
  auto failed = run_probe(ex, t, &rt);
  CHECK_FALSE(failed.success);
  CHECK(failed.message == "probe says no");
}

TEST_CASE("Prober: thresholds, initial delay and startup gating on a fake clock") {
  util::FakeClock clock;
  testing::FakeRuntime rt(&clock);
  PodSandboxConfig pod;
  pod.uid = "u1";
  ContainerConfig cfg;
  cfg.container.name = "c";
  auto id = rt.start_container(pod, cfg);
  REQUIRE(id.ok());
  std::mutex mu;
  std::vector<ProbeUpdate> updates;
  Prober prober(ProberOptions{.clock = &clock, .runtime = &rt, .workers = 2},
                [&](const ProbeUpdate& u) {
                  std::lock_guard lock(mu);
                  updates.push_back(u);
                });
  prober.start();
  auto changes = [&](ProbeKind k) {
    std::lock_guard lock(mu);
    std::vector<ProbeResult> out;
    for (const auto& u : updates) {
      if (u.kind == k && u.changed) out.push_back(u.result);
    }
    return out;
  };
  api::Container c;
  c.name = "c";
  api::Probe startup;
  startup.exec = api::ExecAction{{"started"}};
  startup.period_seconds = 1;
  startup.failure_threshold = 30;
  api::Probe readiness;
  readiness.exec = api::ExecAction{{"ready"}};
  readiness.period_seconds = 1;
  readiness.success_threshold = 2;
  readiness.initial_delay_seconds = 5;
  c.startup_probe = startup;
  c.readiness_probe = readiness;
  rt.set_exec_exit("c", 1);  // not started yet
  prober.add_container(ProbeTarget{"u1", "c", *id, "127.0.0.1", {}, clock.now()}, c);
  CHECK(prober.size() == 1);
  // The startup probe fails; readiness does not run while startup has not succeeded.
  REQUIRE(orch::testing::wait_until([&] {
    std::lock_guard lock(mu);
    return updates.size() >= 1;
  }, 30s));
  for (int i = 0; i < 3; ++i) clock.advance(1s);
  CHECK(changes(ProbeKind::kReadiness).empty());
  rt.set_exec_exit("c", 0);
  // Startup succeeds, then readiness needs two successes in a row (and its initial delay).
  bool ok = orch::testing::wait_until([&] {
    clock.advance(1s);
    return changes(ProbeKind::kReadiness) == std::vector<ProbeResult>{ProbeResult::kSuccess};
  }, 30s, 50ms);
  CHECK(ok);
  if (!ok) {
    std::lock_guard lock(mu);
    for (const auto& u : updates) {
      MESSAGE("kind " << int(u.kind) << " result " << int(u.result) << " failed "
                      << u.attempt_failed << " changed " << u.changed << " " << u.message);
    }
  }
  CHECK(changes(ProbeKind::kStartup) == std::vector<ProbeResult>{ProbeResult::kSuccess});
  prober.remove_pod("u1");
  CHECK(prober.size() == 0);
  prober.stop();
}

TEST_CASE("pod IP ranges never hand out one address twice") {
  auto a = detail::IpAllocator::parse("127.1.0.0/29", "127.1.0.1");
  REQUIRE(a.ok());
  std::set<std::string> seen;
  for (int i = 0; i < 5; ++i) {
    auto ip = a->allocate();
    REQUIRE(ip.ok());
    CHECK(seen.insert(*ip).second);
  }
  CHECK(seen.count("127.1.0.1") == 0);  // the node's own address
  CHECK(seen.count("127.1.0.0") == 0);
  CHECK(seen.count("127.1.0.7") == 0);
  CHECK_FALSE(a->allocate().ok());
  a->release("127.1.0.3");
  auto again = a->allocate();
  REQUIRE(again.ok());
  CHECK(*again == "127.1.0.3");
  CHECK_FALSE(a->reserve("127.1.0.3"));
  CHECK_FALSE(detail::IpAllocator::parse("127.1.0.0").ok());
  CHECK_FALSE(detail::IpAllocator::parse("300.1.0.0/24").ok());
}

TEST_CASE("$(VAR) expansion as Kubernetes does it") {
  std::map<std::string, std::string> vars{{"A", "x"}, {"B", "y"}};
  CHECK(detail::expand_vars("$(A)-$(B)", vars) == "x-y");
  CHECK(detail::expand_vars("$(C)", vars) == "$(C)");
  CHECK(detail::expand_vars("$$(A)", vars) == "$(A)");
  CHECK(detail::expand_vars("cost $5", vars) == "cost $5");
}

}  // namespace
}  // namespace orch::agent
