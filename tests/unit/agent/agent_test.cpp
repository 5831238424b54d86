// The agent core against the real in-process API server, with a FakeRuntime and a FakeClock:
// node registration and lease, pod status fields, restart policies and crash-loop backoff, init
// containers, probes (liveness restarts exactly one container, readiness flips Ready both ways),
// graceful deletion, unknown images, adoption after an agent restart, container environment.
#include <doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <boost/json.hpp>

#include "control_plane.hpp"
#include "fake_runtime.hpp"
#include "log_capture.hpp"
#include "orch/agent/agent.hpp"
#include "orch/client/resource.hpp"
#include "orch/util/clock.hpp"

namespace orch::agent {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kEvents;
using client::resources::kLeases;
using client::resources::kNodes;
using client::resources::kPods;
using orch::testing::wait_until;

// Minimal HTTP server answering every request with `code` (for httpGet probes).
class TinyHttpServer {
 public:
  TinyHttpServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~TinyHttpServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  void set_code(int c) { code_ = c; }
  int hits() const { return hits_; }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      char buf[2048];
      pollfd q{c, POLLIN, 0};
      if (::poll(&q, 1, 2000) > 0) (void)::recv(c, buf, sizeof(buf), 0);
      ++hits_;
      std::string resp = "HTTP/1.1 " + std::to_string(code_.load()) +
                         " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> code_{200};
  std::atomic<int> hits_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Fixture {
  ::orch::testing::ControlPlane cp;
  util::FakeClock clock;
  testing::FakeRuntime rt{&clock};
  std::unique_ptr<Agent> agent;

  AgentOptions options() {
    AgentOptions o;
    o.node_name = "node-1";
    o.node_ip = "127.0.0.1";
    o.pod_cidr = "127.1.0.0/24";
    o.capacity = {{"cpu", "4"}, {"memory", "8Gi"}, {"pods", "110"}};
    o.data_dir = cp.dir() + "/agent";
    o.clock = &clock;
    o.status_batch_interval = 0ms;
    o.labels = {{"zone", "a"}};
    return o;
  }
  void start() {
    agent = std::make_unique<Agent>(options(), cp.client(), rt);
    Status s = agent->start(30s);
    REQUIRE_MESSAGE(s.ok(), s.to_string());
  }
  ~Fixture() {
    if (agent) agent->stop();
  }

  void create_pod(std::string_view text) {
    json::value pod = json::parse(text);
    auto r = cp.client()->create(kPods, "default", pod);
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  }
  json::value get_pod(std::string_view name) {
    auto r = cp.client()->get(kPods, "default", name);
    return r.ok() ? std::move(r).value() : json::value(nullptr);
  }
  // Waits (real time, generous) until `pred(pod)` holds.
  bool wait_pod(std::string_view name, const std::function<bool(const json::value&)>& pred,
                std::chrono::milliseconds timeout = 30s) {
    bool ok = wait_until(
        [&] {
          json::value p = get_pod(name);
          return p.is_object() && pred(p);
        },
        timeout);
    if (!ok && timeout > 1s) MESSAGE("pod " << name << ": " << json::serialize(get_pod(name)));
    return ok;
  }
  // Advances the fake clock by `step` every poll until `pred` holds.
  bool advance_until(const std::function<bool()>& pred, std::chrono::seconds step,
                     std::chrono::milliseconds timeout = 60s) {
    return wait_until(
        [&] {
          if (pred()) return true;
          clock.advance(step);
          return false;
        },
        timeout, 50ms);
  }
  std::vector<json::value> events() {
    auto r = cp.client()->list(kEvents, "default");
    if (!r.ok()) return {};
    auto items = r->as_object()["items"].as_array();
    return {items.begin(), items.end()};
  }
  bool has_event(std::string_view type, std::string_view reason, std::string_view contains) {
    for (const auto& e : events()) {
      const auto& o = e.as_object();
      if (o.at("type").as_string() == type && o.at("reason").as_string() == reason &&
          std::string(o.at("message").as_string()).find(contains) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
};

std::string str(const json::value& v, std::initializer_list<std::string_view> keys) {
  const json::value* cur = &v;
  for (auto k : keys) {
    if (!cur->is_object() || !cur->as_object().contains(k)) return {};
    cur = &cur->as_object().at(k);
  }
  if (cur->is_string()) return std::string(cur->as_string());
  if (cur->is_int64()) return std::to_string(cur->as_int64());
  if (cur->is_bool()) return cur->as_bool() ? "true" : "false";
  return {};
}

bool has(const json::value& v, std::initializer_list<std::string_view> keys) {
  const json::value* cur = &v;
  for (auto k : keys) {
    if (!cur->is_object() || !cur->as_object().contains(k)) return false;
    cur = &cur->as_object().at(k);
  }
  return true;
}

const json::value& cstatus(const json::value& pod, std::size_t i, bool init = false) {
  static const json::value kNull;
  const auto* st = pod.as_object().if_contains("status");
  if (!st) return kNull;
  const auto* cs = st->as_object().if_contains(init ? "initContainerStatuses" : "containerStatuses");
  if (!cs || !cs->is_array() || cs->as_array().size() <= i) return kNull;
  return cs->as_array()[i];
}

std::string condition(const json::value& pod, std::string_view type) {
  const auto* st = pod.as_object().if_contains("status");
  if (!st || !st->as_object().contains("conditions")) return {};
  for (const auto& c : st->as_object().at("conditions").as_array()) {
    if (str(c, {"type"}) == type) return str(c, {"status"});
  }
  return {};
}

std::string waiting_reason(const json::value& pod, std::size_t i, bool init = false) {
  return str(cstatus(pod, i, init), {"state", "waiting", "reason"});
}
int restarts(const json::value& pod, std::size_t i) {
  const json::value& c = cstatus(pod, i);
  return c.is_object() ? static_cast<int>(c.as_object().at("restartCount").to_number<int>()) : -1;
}

std::string simple_pod(std::string_view name, std::string_view policy = "Always",
                       std::string_view image = "busybox") {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + std::string(name) +
         R"("},"spec":{"nodeName":"node-1","restartPolicy":")" + std::string(policy) +
         R"(","containers":[{"name":"c","image":")" + std::string(image) + R"("}]}})";
}

TEST_CASE("agent registers its Node and renews its Lease") {
  Fixture f;
  f.start();
  auto node = f.cp.client()->get(kNodes, "", "node-1");
  REQUIRE(node.ok());
  CHECK(str(*node, {"metadata", "labels", "kubernetes.io/hostname"}) == "node-1");
  CHECK(str(*node, {"metadata", "labels", "kubernetes.io/os"}) == "linux");
  CHECK(!str(*node, {"metadata", "labels", "kubernetes.io/arch"}).empty());
  CHECK(str(*node, {"metadata", "labels", "zone"}) == "a");
  CHECK(str(*node, {"status", "capacity", "cpu"}) == "4");
  CHECK(str(*node, {"status", "allocatable", "memory"}) == "8Gi");
  CHECK(str(*node, {"spec", "podCIDR"}) == "127.1.0.0/24");
  CHECK(condition(*node, "Ready") == "True");
  CHECK(condition(*node, "MemoryPressure") == "False");
  CHECK(condition(*node, "DiskPressure") == "False");
  CHECK(condition(*node, "PIDPressure") == "False");
  const auto& addrs = node->as_object()["status"].as_object()["addresses"].as_array();
  REQUIRE(addrs.size() == 2);
  CHECK(str(addrs[0], {"type"}) == "InternalIP");
  CHECK(str(addrs[0], {"address"}) == "127.0.0.1");
  CHECK(str(*node, {"status", "nodeInfo", "kubeletVersion"}) == "v1.32.0");

  auto lease = f.cp.client()->get(kLeases, "kube-node-lease", "node-1");
  REQUIRE(lease.ok());
  CHECK(str(*lease, {"spec", "holderIdentity"}) == "node-1");
  CHECK(str(*lease, {"spec", "leaseDurationSeconds"}) == "40");
  std::string first = str(*lease, {"spec", "renewTime"});
  // Every renew interval on the agent's clock, the lease moves on.
  CHECK(f.advance_until(
      [&] {
        auto l = f.cp.client()->get(kLeases, "kube-node-lease", "node-1");
        return l.ok() && str(*l, {"spec", "renewTime"}) != first;
      },
      10s));
}

TEST_CASE("a running pod reports its status fields and gets its environment") {
  Fixture f;
  f.start();
  f.create_pod(R"J({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"x"}},
    "spec":{"nodeName":"node-1","containers":[{"name":"c","image":"kuard",
      "command":["run","$(GREETING)"],
      "env":[{"name":"GREETING","value":"hi"},
             {"name":"MY_NODE","valueFrom":{"fieldRef":{"fieldPath":"spec.nodeName"}}},
             {"name":"MY_APP","valueFrom":{"fieldRef":{"fieldPath":"metadata.labels['app']"}}},
             {"name":"MY_IP","valueFrom":{"fieldRef":{"fieldPath":"status.podIP"}}}]}]}})J");
  REQUIRE(f.wait_pod("web", [](const json::value& p) {
    return str(p, {"status", "phase"}) == "Running" && condition(p, "Ready") == "True";
  }));
  json::value p = f.get_pod("web");
  std::string ip = str(p, {"status", "podIP"});
  CHECK(ip.rfind("127.1.0.", 0) == 0);
  CHECK(str(p, {"status", "hostIP"}) == "127.0.0.1");
  CHECK(!str(p, {"status", "startTime"}).empty());
  CHECK(condition(p, "Initialized") == "True");
  CHECK(condition(p, "ContainersReady") == "True");
  CHECK(condition(p, "PodScheduled") == "True");
  const json::value& cs = cstatus(p, 0);
  CHECK(str(cs, {"name"}) == "c");
  CHECK(str(cs, {"ready"}) == "true");
  CHECK(str(cs, {"started"}) == "true");
  CHECK(str(cs, {"image"}) == "kuard");
  CHECK(str(cs, {"imageID"}).find("kuard") != std::string::npos);
  CHECK(str(cs, {"containerID"}).rfind("fake://", 0) == 0);
  CHECK(!str(cs, {"state", "running", "startedAt"}).empty());
  CHECK(restarts(p, 0) == 0);

  auto c = f.rt.newest("c");
  REQUIRE(c.has_value());
  std::map<std::string, std::string> env(c->config.env.begin(), c->config.env.end());
  CHECK(env["POD_IP"] == ip);
  CHECK(env["POD_NAME"] == "web");
  CHECK(env["POD_NAMESPACE"] == "default");
  CHECK(env["NODE_NAME"] == "node-1");
  CHECK(env["MY_NODE"] == "node-1");
  CHECK(env["MY_APP"] == "x");
  CHECK(env["MY_IP"] == ip);
  REQUIRE(c->config.container.command.size() == 2);
  CHECK(c->config.container.command[1] == "hi");
  std::string uid = str(p, {"metadata", "uid"});
  CHECK(c->config.log_path == f.cp.dir() + "/agent/logs/default_web_" + uid + "/c/0.log");
  CHECK(c->pod.pod_ip == ip);
  CHECK(f.wait_pod("web", [&](const json::value&) {
    return f.has_event("Normal", "Started", "Started container c") &&
           f.has_event("Normal", "Pulled", "already present on machine");
  }));
}

TEST_CASE("restartPolicy Always: crash-loop backoff 10s, 20s, 40s with CrashLoopBackOff") {
  Fixture f;
  f.start();
  f.create_pod(simple_pod("crash"));
  REQUIRE(f.wait_pod("crash", [](const json::value& p) { return str(p, {"status", "phase"}) == "Running"; }));
  // The first crash restarts at once.
  REQUIRE(f.rt.exit("c", 1));
  REQUIRE(f.wait_pod("crash", [](const json::value& p) {
    return restarts(p, 0) == 1 && has(cstatus(p, 0), {"state", "running"});
  }));
  json::value p = f.get_pod("crash");
  CHECK(str(cstatus(p, 0), {"lastState", "terminated", "exitCode"}) == "1");
  CHECK(str(cstatus(p, 0), {"lastState", "terminated", "reason"}) == "Error");
  // Then 10 s, 20 s, 40 s of back-off.
  for (std::string backoff : {"10s", "20s", "40s"}) {
    CAPTURE(backoff);
    int before = f.rt.starts("c");
    REQUIRE(f.rt.exit("c", 2));
    REQUIRE(f.wait_pod("crash", [&](const json::value& p) {
      return waiting_reason(p, 0) == "CrashLoopBackOff" &&
             str(cstatus(p, 0), {"state", "waiting", "message"}).find("back-off " + backoff) == 0;
    }));
    p = f.get_pod("crash");
    CHECK(str(p, {"status", "phase"}) == "Running");
    CHECK(str(cstatus(p, 0), {"lastState", "terminated", "exitCode"}) == "2");
    CHECK(condition(p, "Ready") == "False");
    CHECK(f.rt.starts("c") == before);
    CHECK(f.advance_until([&] { return f.rt.starts("c") == before + 1; }, 1s));
  }
  CHECK(f.wait_pod("crash", [](const json::value& p) { return restarts(p, 0) == 4; }));
  CHECK(f.wait_pod("crash", [&](const json::value&) {
    return f.has_event("Warning", "BackOff", "Back-off restarting failed container c in pod crash_default");
  }));
}

TEST_CASE("logs: container started, exited with its code, restarted after a back-off") {
  orch::testing::LogCapture logs;
  Fixture f;
  f.start();
  CHECK(!logs.find("agent/node-1", " I agent/node-1: registered node node-1").empty());
  f.create_pod(simple_pod("logged"));
  REQUIRE(f.wait_pod("logged", [](const json::value& p) { return str(p, {"status", "phase"}) == "Running"; }));
  CHECK(!logs.find("agent/node-1", "started container c of pod default/logged").empty());
  REQUIRE(f.rt.exit("c", 3));
  REQUIRE(f.wait_pod("logged", [](const json::value& p) { return restarts(p, 0) == 1; }));
  CHECK(!logs.find("agent/node-1", " I agent/node-1: container c of pod default/logged exited with code 3").empty());
  REQUIRE(f.rt.exit("c", 4));
  REQUIRE(f.wait_pod("logged", [](const json::value& p) { return waiting_reason(p, 0) == "CrashLoopBackOff"; }));
  CHECK(logs.count("agent/node-1", "container c of pod default/logged exited with code 4") == 1);
  CHECK(!logs.find("agent/node-1", "container c of pod default/logged restarts after a back-off of 10s").empty());
}

TEST_CASE("restart policies decide phase and restarts") {
  struct Case {
    std::string policy;
    int exit_code;
    std::string phase;
    int restarts;
  };
  std::vector<Case> cases = {
      {"Never", 0, "Succeeded", 0},
      {"Never", 1, "Failed", 0},
      {"OnFailure", 0, "Succeeded", 0},
      {"OnFailure", 3, "Running", 1},
      {"Always", 0, "Running", 1},
  };
  for (const auto& c : cases) {
    SUBCASE((c.policy + " exit " + std::to_string(c.exit_code)).c_str()) {
      Fixture f;
      f.start();
      f.create_pod(simple_pod("p", c.policy));
      REQUIRE(f.wait_pod("p", [](const json::value& p) { return str(p, {"status", "phase"}) == "Running"; }));
      REQUIRE(f.rt.exit("c", c.exit_code));
      CHECK(f.wait_pod("p", [&](const json::value& p) {
        return str(p, {"status", "phase"}) == c.phase && restarts(p, 0) == c.restarts &&
               (c.restarts > 0 ? has(cstatus(p, 0), {"state", "running"})
                               : str(cstatus(p, 0), {"state", "terminated", "exitCode"}) ==
                                     std::to_string(c.exit_code));
      }));
      if (c.phase == "Succeeded") {
        CHECK(str(cstatus(f.get_pod("p"), 0), {"state", "terminated", "reason"}) == "Completed");
      }
    }
  }
}

TEST_CASE("init containers run in order, each to completion, before the app containers") {
  Fixture f;
  f.start();
  f.create_pod(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"init"},
    "spec":{"nodeName":"node-1","initContainers":[{"name":"i1","image":"busybox"},
      {"name":"i2","image":"busybox"}],"containers":[{"name":"app","image":"busybox"}]}})");
  REQUIRE(f.wait_pod("init", [](const json::value& p) {
    return str(p, {"status", "phase"}) == "Pending" && waiting_reason(p, 0) == "PodInitializing" &&
           has(cstatus(p, 0, true), {"state", "running"});
  }));
  CHECK(condition(f.get_pod("init"), "Initialized") == "False");
  CHECK(f.rt.starts("i2") == 0);
  CHECK(f.rt.starts("app") == 0);
  // A failing init container restarts (policy Always) before the next one starts.
  REQUIRE(f.rt.exit("i1", 1));
  REQUIRE(wait_until([&] { return f.rt.starts("i1") == 2; }));
  CHECK(f.rt.starts("i2") == 0);
  REQUIRE(f.rt.exit("i1", 0));
  REQUIRE(wait_until([&] { return f.rt.starts("i2") == 1; }));
  CHECK(f.rt.starts("app") == 0);
  REQUIRE(f.rt.exit("i2", 0));
  REQUIRE(f.wait_pod("init", [](const json::value& p) {
    return str(p, {"status", "phase"}) == "Running" && condition(p, "Initialized") == "True";
  }));
  json::value p = f.get_pod("init");
  CHECK(str(cstatus(p, 0, true), {"state", "terminated", "reason"}) == "Completed");
  CHECK(str(cstatus(p, 1, true), {"state", "terminated", "reason"}) == "Completed");
  CHECK(f.rt.starts("app") == 1);
  auto log = f.rt.log();
  std::vector<std::string> starts;
  for (const auto& l : log) {
    if (l.rfind("start ", 0) == 0) starts.push_back(l.substr(6));
  }
  CHECK(starts == std::vector<std::string>{"i1", "i1", "i2", "app"});
}

TEST_CASE("a failed init container with restartPolicy Never fails the pod") {
  Fixture f;
  f.start();
  f.create_pod(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"initfail"},
    "spec":{"nodeName":"node-1","restartPolicy":"Never","initContainers":[{"name":"i1","image":"busybox"}],
      "containers":[{"name":"app","image":"busybox"}]}})");
  REQUIRE(wait_until([&] { return f.rt.starts("i1") == 1; }));
  REQUIRE(f.rt.exit("i1", 7));
  CHECK(f.wait_pod("initfail", [](const json::value& p) { return str(p, {"status", "phase"}) == "Failed"; }));
  CHECK(f.rt.starts("app") == 0);
}

TEST_CASE("a failing liveness probe restarts exactly that container") {
  Fixture f;
  f.start();
  f.create_pod(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"live"},
    "spec":{"nodeName":"node-1","containers":[
      {"name":"sick","image":"busybox","livenessProbe":{"exec":{"command":["check"]},
        "periodSeconds":1,"failureThreshold":3}},
      {"name":"fine","image":"busybox","livenessProbe":{"exec":{"command":["check"]},
        "periodSeconds":1,"failureThreshold":3}}]}})");
  REQUIRE(f.wait_pod("live", [](const json::value& p) { return condition(p, "Ready") == "True"; }));
  f.rt.set_exec_exit("sick", 1);
  REQUIRE(f.advance_until([&] { return f.rt.stops("sick") == 1; }, 1s));
  CHECK(f.wait_pod("live", [](const json::value& p) {
    return restarts(p, 0) == 1 && has(cstatus(p, 0), {"state", "running"});
  }));
  CHECK(f.rt.stops("fine") == 0);
  CHECK(f.rt.starts("fine") == 1);
  CHECK(restarts(f.get_pod("live"), 1) == 0);
  CHECK(str(cstatus(f.get_pod("live"), 0), {"lastState", "terminated", "exitCode"}) == "143");
  CHECK(f.wait_pod("live", [&](const json::value&) {
    return f.has_event("Warning", "Unhealthy", "Liveness probe failed: probe says no") &&
           f.has_event("Normal", "Killing", "Container sick failed liveness probe, will be restarted");
  }));
}

TEST_CASE("a readiness probe flips the Ready condition both ways") {
  TinyHttpServer server;
  Fixture f;
  f.start();
  server.set_code(500);
  f.create_pod(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"ready"},
    "spec":{"nodeName":"node-1","containers":[{"name":"c","image":"kuard",
      "ports":[{"name":"http","containerPort":)" +
               std::to_string(server.port()) + R"(}],
      "readinessProbe":{"httpGet":{"host":"127.0.0.1","port":"http","path":"/ready"},
        "periodSeconds":1,"failureThreshold":1}}]}})");
  REQUIRE(f.wait_pod("ready", [](const json::value& p) { return str(p, {"status", "phase"}) == "Running"; }));
  CHECK(condition(f.get_pod("ready"), "Ready") == "False");
  server.set_code(200);
  CHECK(f.advance_until([&] { return condition(f.get_pod("ready"), "Ready") == "True"; }, 1s));
  CHECK(str(cstatus(f.get_pod("ready"), 0), {"ready"}) == "true");
  server.set_code(503);
  CHECK(f.advance_until([&] { return condition(f.get_pod("ready"), "Ready") == "False"; }, 1s));
  CHECK(str(cstatus(f.get_pod("ready"), 0), {"ready"}) == "false");
  CHECK(condition(f.get_pod("ready"), "ContainersReady") == "False");
  server.set_code(200);
  CHECK(f.advance_until([&] { return condition(f.get_pod("ready"), "Ready") == "True"; }, 1s));
  CHECK(f.rt.stops("c") == 0);  // readiness never restarts
}

TEST_CASE("graceful deletion: preStop, SIGTERM, SIGKILL after the grace period, then the object goes") {
  Fixture f;
  f.start();
  f.create_pod(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"slow"},
    "spec":{"nodeName":"node-1","terminationGracePeriodSeconds":30,"containers":[{"name":"c",
      "image":"busybox","lifecycle":{"preStop":{"exec":{"command":["drain"]}}}}]}})");
  REQUIRE(f.wait_pod("slow", [](const json::value& p) { return str(p, {"status", "phase"}) == "Running"; }));
  f.rt.ignore_sigterm("c");
  // (Event names derive from the clock: keep the Killing event's apart from the earlier ones.)
  f.clock.advance(1s);
  auto del = f.cp.client()->remove(kPods, "default", "slow");
  REQUIRE(del.ok());
  REQUIRE(wait_until([&] { return f.rt.stops("c") == 1; }));
  auto log = f.rt.log();
  auto exec_at = std::find(log.begin(), log.end(), "exec c drain");
  auto stop_at = std::find(log.begin(), log.end(), "stop c");
  CHECK(exec_at != log.end());
  CHECK(exec_at < stop_at);
  // Still there: the container ignores SIGTERM and the grace period has not passed.
  CHECK(f.get_pod("slow").is_object());
  CHECK(f.rt.kills("c") == 0);
  CHECK(f.advance_until([&] { return f.rt.kills("c") == 1; }, 5s));
  CHECK(wait_until([&] { return f.get_pod("slow").is_null(); }));
  CHECK(f.rt.sandbox_count() == 0);
  CHECK(f.wait_pod("slow", [](const json::value&) { return true; }, 1ms) == false);
  bool killing = wait_until([&] { return f.has_event("Normal", "Killing", "Stopping container c"); });
  CHECK(killing);
  if (!killing) {
    for (const auto& e : f.events()) MESSAGE(json::serialize(e));
  }
}

TEST_CASE("a pod deleted at once is killed and cleaned up") {
  Fixture f;
  f.start();
  f.create_pod(simple_pod("gone"));
  REQUIRE(f.wait_pod("gone", [](const json::value& p) { return str(p, {"status", "phase"}) == "Running"; }));
  client::DeleteOptions d;
  d.grace_period_seconds = 0;
  REQUIRE(f.cp.client()->remove(kPods, "default", "gone", d).ok());
  CHECK(wait_until([&] { return f.rt.sandbox_count() == 0 && !f.rt.running("c"); }));
  CHECK(wait_until([&] { return f.agent->pod_count() == 0; }));
}

TEST_CASE("an unknown image: ErrImagePull, ImagePullBackOff, a Warning event, then it runs") {
  Fixture f;
  f.start();
  f.create_pod(simple_pod("img", "Always", "nope:1"));
  REQUIRE(f.wait_pod("img", [](const json::value& p) { return waiting_reason(p, 0) == "ErrImagePull"; }));
  CHECK(str(f.get_pod("img"), {"status", "phase"}) == "Pending");
  CHECK(f.advance_until([&] { return waiting_reason(f.get_pod("img"), 0) == "ImagePullBackOff"; }, 1s));
  CHECK(f.wait_pod("img", [&](const json::value&) {
    return f.has_event("Warning", "Failed", "Failed to pull image \"nope:1\"") &&
           f.has_event("Warning", "Failed", "Error: ErrImagePull") &&
           f.has_event("Normal", "BackOff", "Back-off pulling image \"nope:1\"");
  }));
  f.rt.add_image("nope:1");
  CHECK(f.advance_until([&] { return str(f.get_pod("img"), {"status", "phase"}) == "Running"; }, 2s));
}

TEST_CASE("a restarted agent adopts running containers and reports ones that died") {
  Fixture f;
  f.start();
  f.create_pod(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},
    "spec":{"nodeName":"node-1","containers":[{"name":"ca","image":"busybox"}]}})");
  f.create_pod(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"b"},
    "spec":{"nodeName":"node-1","restartPolicy":"Never","containers":[{"name":"cb","image":"busybox"}]}})");
  f.create_pod(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"c"},
    "spec":{"nodeName":"node-1","containers":[{"name":"cc","image":"busybox"}]}})");
  for (auto n : {"a", "b", "c"}) {
    REQUIRE(f.wait_pod(n, [](const json::value& p) { return str(p, {"status", "phase"}) == "Running"; }));
  }
  std::string ip_a = str(f.get_pod("a"), {"status", "podIP"});
  f.agent->stop();
  f.agent.reset();
  // While the agent is down: b's container dies, pod c is deleted for good.
  REQUIRE(f.rt.exit_silently("cb", 1));
  client::DeleteOptions d;
  d.grace_period_seconds = 0;
  REQUIRE(f.cp.client()->remove(kPods, "default", "c", d).ok());
  f.start();
  CHECK(f.wait_pod("b", [](const json::value& p) {
    return str(p, {"status", "phase"}) == "Failed" &&
           str(cstatus(p, 0), {"state", "terminated", "exitCode"}) == "1";
  }));
  CHECK(wait_until([&] { return !f.rt.running("cc"); }));
  CHECK(f.rt.starts("ca") == 1);  // adopted, not restarted
  CHECK(f.rt.starts("cb") == 1);
  json::value a = f.get_pod("a");
  CHECK(str(a, {"status", "phase"}) == "Running");
  CHECK(str(a, {"status", "podIP"}) == ip_a);
  // A new pod never gets the adopted pod's IP.
  f.create_pod(simple_pod("fresh"));
  REQUIRE(f.wait_pod("fresh", [](const json::value& p) { return str(p, {"status", "phase"}) == "Running"; }));
  CHECK(str(f.get_pod("fresh"), {"status", "podIP"}) != ip_a);
}

TEST_CASE("service environment variables of the pod's namespace") {
  Fixture f;
  auto svc = json::parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"my-db"},
    "spec":{"ports":[{"name":"sql","port":5432,"protocol":"TCP"}]}})");
  auto created = f.cp.client()->create(client::resources::kServices, "default", svc);
  REQUIRE_MESSAGE(created.ok(), created.status().to_string());
  std::string ip = str(*created, {"spec", "clusterIP"});
  f.start();
  f.create_pod(simple_pod("envy"));
  REQUIRE(wait_until([&] { return f.rt.starts("c") == 1; }));
  auto c = f.rt.newest("c");
  REQUIRE(c.has_value());
  std::map<std::string, std::string> env(c->config.env.begin(), c->config.env.end());
  CHECK(env["MY_DB_SERVICE_HOST"] == ip);
  CHECK(env["MY_DB_SERVICE_PORT"] == "5432");
  CHECK(env["MY_DB_SERVICE_PORT_SQL"] == "5432");
  CHECK(env["MY_DB_PORT"] == "tcp://" + ip + ":5432");
  CHECK(env["MY_DB_PORT_5432_TCP_ADDR"] == ip);
}

}  // namespace
}  // namespace orch::agent
