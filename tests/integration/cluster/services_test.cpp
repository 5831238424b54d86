// Services on an in-process cluster of 3 nodes with real kuard pods, as a user meets them:
// - a Deployment of 5 behind `type: LoadBalancer` (port 80 -> targetPort 8080) answers on its
//   ClusterIP, on every node's NodePort and on its external address, and 100 requests reach every
//   pod; each node's proxy counts them at http://<node ip>:10249/metrics; scaled to 10, the new
//   pods get traffic too;
// - a pod's process killed with SIGKILL costs no request (the proxy skips it until it is back);
//   a pod whose readiness probe fails gets no new connections;
// - bad input: a selector that matches nothing and a targetPort name no container has are
//   refused at once (no hang); a taken, duplicated or out-of-range nodePort is 422.
#include <doctest.h>

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include "control_plane.hpp"
#include "orch/client/resource.hpp"
#include "orch/cluster/cluster.hpp"
#include "tcp_test_util.hpp"

namespace orch::cluster {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kDeployments;
using client::resources::kEndpoints;
using client::resources::kPods;
using client::resources::kServices;
using testing::wait_until;

// GET `path` over a fresh HTTP/1.0 connection; the body of a 200, else "".
std::string http_body(const std::string& ip, std::uint16_t port, const std::string& path) {
  testing::TcpClient c(port, ip);
  if (!c.connected) return {};
  c.send("GET " + path + " HTTP/1.0\r\nHost: x\r\n\r\n");
  std::string all;
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{c.fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::read(c.fd, buf, sizeof buf);
    if (n <= 0) break;
    all.append(buf, static_cast<std::size_t>(n));
  }
  const auto split = all.find("\r\n\r\n");
  if (!all.starts_with("HTTP/1.") || all.find(" 200 ") > all.find('\n') ||
      split == std::string::npos) {
    return {};
  }
  return all.substr(split + 4);
}

// The pod that answered kuard's "/" page, or "" when nothing (or not kuard) answered.
std::string pod_at(const std::string& ip, std::uint16_t port) {
  static const std::regex kPod(R"(<span id="pod">([^<]*)</span>)");
  const std::string body = http_body(ip, port, "/");
  std::smatch m;
  return std::regex_search(body, m, kPod) ? m[1].str() : std::string();
}

// Pods hit by `n` requests ("" counts failures).
std::map<std::string, int> spread(const std::string& ip, std::uint16_t port, int n) {
  std::map<std::string, int> hits;
  for (int i = 0; i < n; ++i) hits[pod_at(ip, port)]++;
  return hits;
}

// True when ip:port refuses or resets a connection within 3 s; false when it hangs (or answers).
bool refused_cleanly(const std::string& ip, std::uint16_t port) {
  testing::TcpClient c(port, ip);
  if (!c.connected) return true;
  pollfd p{c.fd, POLLIN, 0};
  if (::poll(&p, 1, 3000) <= 0) return false;
  char b;
  return ::read(c.fd, &b, 1) <= 0;
}

json::value deployment(int replicas) {
  return json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"kuard"},
    "spec":{"replicas":)" + std::to_string(replicas) + R"(,"selector":{"matchLabels":{"app":"kuard"}},
      "template":{"metadata":{"labels":{"app":"kuard"}},"spec":{
        "terminationGracePeriodSeconds":2,
        "containers":[{"name":"kuard","image":"kuard",
          "ports":[{"name":"http","containerPort":8080}],
          "readinessProbe":{"httpGet":{"path":"/ready","port":8080},"periodSeconds":1,
                            "failureThreshold":1}}]}}}})");
}

// Ready kuard pods: name -> pod IP.
std::map<std::string, std::string> ready_pods(client::Client& c) {
  std::map<std::string, std::string> out;
  auto pods = c.list_all(kPods, "default");
  if (!pods.ok()) return out;
  for (const auto& p : pods->items) {
    const auto& st = p.at("status").as_object();
    bool ready = false;
    if (const auto* conds = st.if_contains("conditions")) {
      for (const auto& cond : conds->as_array()) {
        ready = ready || (cond.at("type") == "Ready" && cond.at("status") == "True");
      }
    }
    const auto* ip = st.if_contains("podIP");
    if (ready && ip && ip->is_string() && !p.at("metadata").as_object().contains("deletionTimestamp")) {
      out[std::string(p.at("metadata").at("name").as_string())] = std::string(ip->as_string());
    }
  }
  return out;
}

std::set<std::string> names(const std::map<std::string, std::string>& pods) {
  std::set<std::string> out;
  for (const auto& [n, ip] : pods) out.insert(n);
  return out;
}

// Whether every pod in `want` answers some of `n` requests to ip:port (and nothing fails).
bool reaches_all(const std::string& ip, std::uint16_t port, const std::set<std::string>& want,
                 int n) {
  auto hits = spread(ip, port, n);
  if (hits.contains("")) return false;
  for (const auto& w : want) {
    if (!hits.contains(w)) return false;
  }
  return true;
}

// The pid of the kuard process serving pod `name` (its environment says POD_NAME=name), or -1.
pid_t pod_pid(const std::string& name) {
  DIR* d = ::opendir("/proc");
  if (!d) return -1;
  pid_t found = -1;
  while (auto* e = ::readdir(d)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    std::ifstream env(std::string("/proc/") + e->d_name + "/environ");
    std::string all((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    if (all.find(std::string("POD_NAME=") + name + '\0') != std::string::npos ||
        all.ends_with("POD_NAME=" + name)) {
      std::ifstream comm(std::string("/proc/") + e->d_name + "/comm");
      std::string c;
      std::getline(comm, c);
      if (c.find("kuard") != std::string::npos) found = std::atoi(e->d_name);
    }
  }
  ::closedir(d);
  return found;
}

// Whether process `pid` has exited (no longer listed, or a zombie).
bool gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = all.rfind(')');
  return paren == std::string::npos || all.compare(paren + 2, 1, "Z") == 0 ||
         all.compare(paren + 2, 1, "X") == 0;
}

TEST_CASE("a LoadBalancer service on 3 nodes: every address answers, every pod serves, failures cost nothing") {
  auto started = Cluster::start({.nodes = 3});
  REQUIRE_MESSAGE(started.ok(), started.status().to_string());
  auto& cluster = **started;
  REQUIRE(cluster.wait_ready(60s).ok());
  auto& c = *cluster.client();

  REQUIRE(c.create(kDeployments, "default", deployment(5)).ok());
  REQUIRE(wait_until([&] { return ready_pods(c).size() == 5; }, 90s, 100ms));
  // What `kubectl expose deployment kuard --type=LoadBalancer --port=80 --target-port=8080` sends.
  auto svc = c.create(kServices, "default", json::parse(R"({"metadata":{"name":"kuard"},
    "spec":{"type":"LoadBalancer","selector":{"app":"kuard"},"ports":[{"port":80,"protocol":"TCP","targetPort":8080}]}})"));
  REQUIRE_MESSAGE(svc.ok(), svc.status().to_string());
  const std::string cluster_ip(svc->at("spec").at("clusterIP").as_string());
  const auto node_port =
      static_cast<std::uint16_t>(svc->at("spec").at("ports").at(0).at("nodePort").as_int64());
  std::string external;
  REQUIRE(wait_until([&] {
    auto s = c.get(kServices, "default", "kuard");
    auto* ing = s.ok() ? s->at("status").at("loadBalancer").as_object().if_contains("ingress") : nullptr;
    if (!ing || ing->as_array().empty()) return false;
    external = std::string(ing->at(0).at("ip").as_string());
    return true;
  }, 30s));

  const auto five = names(ready_pods(c));
  REQUIRE(five.size() == 5);
  // Every address answers, and 100 requests reach every pod.
  CHECK(wait_until([&] { return reaches_all(cluster_ip, 80, five, 100); }, 60s, 100ms));
  REQUIRE(cluster.addresses().node_ips.size() == 3);
  for (const auto& ip : cluster.addresses().node_ips) {
    CHECK_MESSAGE(wait_until([&] { return reaches_all(ip, node_port, five, 100); }, 30s, 100ms), ip);
  }
  CHECK(wait_until([&] { return reaches_all(external, 80, five, 100); }, 30s, 100ms));
  // Each node's proxy counted the connections it carried: at least the 100 sent to its NodePort.
  static const std::regex kConnections(
      R"re(orch_proxy_connections_total\{namespace="default",service="kuard",port=""\} (\d+))re");
  for (const auto& ip : cluster.addresses().node_ips) {
    const std::string text = http_body(ip, 10249, "/metrics");
    std::smatch m;
    REQUIRE_MESSAGE(std::regex_search(text, m, kConnections), ip);
    CHECK(std::stoll(m[1].str()) >= 100);
  }

  // Scale to 10: the new pods receive traffic.
  REQUIRE(c.patch(kDeployments, "default", "kuard", client::PatchType::Merge,
                  R"({"spec":{"replicas":10}})").ok());
  REQUIRE(wait_until([&] { return ready_pods(c).size() == 10; }, 90s, 100ms));
  const auto ten = names(ready_pods(c));
  CHECK(wait_until([&] { return reaches_all(external, 80, ten, 200); }, 60s, 100ms));

  {  // a pod killed with SIGKILL: new connections go to the others, none fails
    const std::string victim = *ten.begin();
    const pid_t pid = pod_pid(victim);
    REQUIRE(pid > 0);
    REQUIRE(::kill(pid, SIGKILL) == 0);
    // kill() returns before the process is gone; a connection its dying listener still took is
    // lost however it is proxied. From its death on, no new connection may fail.
    REQUIRE(wait_until([&] { return gone(pid); }, 10s, 5ms));
    // The proxy skips the dead endpoint on connect: no request fails, before or after the
    // agent notices and the Endpoints change.
    int failed = 0;
    for (int i = 0; i < 60; ++i) {
      if (pod_at(cluster_ip, 80).empty()) ++failed;
      if (pod_at(external, 80).empty()) ++failed;
    }
    CHECK(failed == 0);
    // The restarted pod serves again.
    CHECK(wait_until([&] { return reaches_all(cluster_ip, 80, {victim}, 100); }, 60s, 200ms));
  }

  {  // a pod failing readiness gets no new connections
    const auto pods = ready_pods(c);
    const auto& [name, ip] = *pods.begin();
    REQUIRE(http_body(ip, 8080, "/fail?probe=ready").find("fails") != std::string::npos);
    CHECK(wait_until([&] { return !names(ready_pods(c)).contains(name); }, 30s, 100ms));
    CHECK(wait_until([&] { return !spread(cluster_ip, 80, 30).contains(name); }, 30s, 100ms));
    auto hits = spread(cluster_ip, 80, 100);
    CHECK_FALSE(hits.contains(name));
    CHECK_FALSE(hits.contains(""));
    hits = spread(external, 80, 50);
    CHECK_FALSE(hits.contains(name));
    CHECK_FALSE(hits.contains(""));
  }

  {  // bad input is refused cleanly or rejected with 422
    auto nomatch = c.create(kServices, "default", json::parse(R"({"metadata":{"name":"nomatch"},
      "spec":{"selector":{"app":"nobody"},"ports":[{"port":81}]}})"));
    REQUIRE(nomatch.ok());
    auto noname = c.create(kServices, "default", json::parse(R"({"metadata":{"name":"noname"},
      "spec":{"selector":{"app":"kuard"},"ports":[{"port":82,"targetPort":"nosuch"}]}})"));
    REQUIRE(noname.ok());
    // The pods have no port named "nosuch": the Endpoints list none of them.
    CHECK(wait_until([&] {
      auto ep = c.get(kEndpoints, "default", "noname");
      if (!ep.ok()) return false;
      const auto* subsets = ep->as_object().if_contains("subsets");
      return !subsets || subsets->is_null() || subsets->as_array().empty();
    }, 20s));
    for (const auto& [svc_obj, port] : {std::pair{&*nomatch, 81}, std::pair{&*noname, 82}}) {
      const std::string ip(svc_obj->at("spec").at("clusterIP").as_string());
      CHECK(wait_until([&] { return refused_cleanly(ip, static_cast<std::uint16_t>(port)); }, 20s));
      for (int i = 0; i < 5; ++i) CHECK(refused_cleanly(ip, static_cast<std::uint16_t>(port)));
    }
    // NodePorts: taken, duplicated in one service, out of range -> 422 (InvalidArgument).
    const std::string taken = R"({"metadata":{"name":"taken"},"spec":{"type":"NodePort",
      "selector":{"app":"kuard"},"ports":[{"port":80,"nodePort":)" + std::to_string(node_port) + "}]}}";
    for (const std::string& body : {
             taken,
             std::string(R"({"metadata":{"name":"twice"},"spec":{"type":"NodePort","selector":{"app":"kuard"},
               "ports":[{"name":"a","port":80,"nodePort":30555},{"name":"b","port":81,"nodePort":30555}]}})"),
             std::string(R"({"metadata":{"name":"range"},"spec":{"type":"NodePort","selector":{"app":"kuard"},
               "ports":[{"port":80,"nodePort":29999}]}})"),
         }) {
      auto r = c.create(kServices, "default", json::parse(body));
      CHECK_FALSE(r.ok());
      CHECK_MESSAGE(r.status().code() == Code::kInvalidArgument, r.status().to_string());
    }
  }
}

}  // namespace
}  // namespace orch::cluster
