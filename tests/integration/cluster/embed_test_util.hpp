// Helpers of the embedding tests (clock, snapshot, leak, parallel): a kuard Deployment and its
// Service, an HTTP GET over loopback, and what a process holds (threads, fds, children, pods).
// Header-only; test code only.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "orch/client/client.hpp"
#include "orch/client/resource.hpp"

namespace orch::testing {

// A Deployment of kuard answering `version` on /version, ready when /ready answers.
inline boost::json::value kuard_deployment(const std::string& name, int replicas,
                                           const std::string& version = "blue") {
  namespace json = boost::json;
  json::value d = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{},
    "spec":{"selector":{"matchLabels":{}},"template":{"metadata":{"labels":{}},"spec":{
      "terminationGracePeriodSeconds":2,
      "containers":[{"name":"kuard","image":"kuard","env":[{"name":"KUARD_VERSION"}],
        "ports":[{"name":"http","containerPort":8080}],
        "readinessProbe":{"httpGet":{"path":"/ready","port":8080},"periodSeconds":1}}]}}}})");
  d.at("metadata").as_object()["name"] = name;
  auto& spec = d.at("spec").as_object();
  spec["replicas"] = replicas;
  spec["selector"].as_object()["matchLabels"].as_object()["app"] = name;
  auto& tmpl = spec["template"].as_object();
  tmpl["metadata"].as_object()["labels"].as_object()["app"] = name;
  tmpl["spec"].at("containers").at(0).at("env").at(0).as_object()["value"] = version;
  return d;
}

// A ClusterIP Service `name` on port 80 to the pods labelled app=`name`, port 8080.
inline boost::json::value kuard_service(const std::string& name) {
  namespace json = boost::json;
  return json::value{{"apiVersion", "v1"},
                     {"kind", "Service"},
                     {"metadata", {{"name", name}}},
                     {"spec",
                      {{"selector", {{"app", name}}},
                       {"ports", json::array{{{"port", 80}, {"targetPort", 8080}}}}}}};
}

// status.availableReplicas of Deployment default/`name` (-1 when unreadable).
inline std::int64_t available_replicas(client::Client& c, const std::string& name) {
  auto d = c.get(client::resources::kDeployments, "default", name);
  if (!d.ok()) return -1;
  const auto* v = d->at("status").as_object().if_contains("availableReplicas");
  return v && v->is_int64() ? v->as_int64() : 0;
}

// The body of GET `path` on ip:port (HTTP/1.0), "" on any failure or a non-200 answer. Every
// wait is bounded by `timeout`.
inline std::string http_get_body(const std::string& ip, std::uint16_t port, const std::string& path,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) return {};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return {};
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: x\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return {};
  std::string all;
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    all.append(buf, static_cast<std::size_t>(n));
  }
  if (!all.starts_with("HTTP/1.") || all.find(" 200 ") == std::string::npos) return {};
  auto body = all.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : all.substr(body + 4);
}

// True when a TCP connect to ip:port is refused (nothing listens).
inline bool connect_refused(const std::string& ip, std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  const bool refused = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 &&
                       errno == ECONNREFUSED;
  ::close(fd);
  return refused;
}

inline std::size_t count_entries(const char* dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    ++n;
  }
  return n;
}
// Threads of this process.
inline std::size_t thread_count() { return count_entries("/proc/self/task"); }
// Open file descriptors of this process (the directory listing's own fd included).
inline std::size_t fd_count() { return count_entries("/proc/self/fd"); }

// Live (not zombie) processes whose parent is this process. Zombies count too when
// `zombies` is set: an exited child nobody reaped is a leak as well.
inline std::size_t child_count(bool zombies = true) {
  std::size_t n = 0;
  const auto self = ::getpid();
  DIR* d = ::opendir("/proc");
  if (!d) return 0;
  while (auto* e = ::readdir(d)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
    std::string stat;
    std::getline(in, stat);
    auto rp = stat.rfind(')');
    if (rp == std::string::npos || rp + 4 >= stat.size()) continue;
    const char state = stat[rp + 2];
    const long ppid = std::strtol(stat.c_str() + rp + 4, nullptr, 10);
    if (ppid == self && (zombies || state != 'Z')) ++n;
  }
  ::closedir(d);
  return n;
}

// Processes (any parent) whose working directory is inside `dir`: the pods of a cluster whose
// data directory is `dir`.
inline std::size_t processes_under(const std::string& dir) {
  std::size_t n = 0;
  DIR* d = ::opendir("/proc");
  if (!d) return 0;
  while (auto* e = ::readdir(d)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    std::error_code ec;
    auto cwd = std::filesystem::read_symlink(std::string("/proc/") + e->d_name + "/cwd", ec);
    if (!ec && cwd.string().starts_with(dir)) ++n;
  }
  ::closedir(d);
  return n;
}

}  // namespace orch::testing
