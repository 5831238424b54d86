// EtcdProcesses: a throwaway etcd cluster for the benchmarks (store_bench, api_bench): N members
// of a new cluster on free loopback ports with their data under a given directory, started from
// /usr/bin/etcd (or $ORCH_ETCD), killed (SIGKILL, reaped) on destruction and with the bench
// process (PR_SET_PDEATHSIG). Failures print a message and exit(1): benchmarks have no caller to
// report to.
//
// Thread-safety: one owner thread; open() from any thread.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orch/store/etcd_store.hpp"

namespace orch::bench {

inline std::string etcd_binary() {
  const char* env = std::getenv("ORCH_ETCD");
  return env != nullptr && *env != '\0' ? env : "/usr/bin/etcd";
}

inline bool etcd_available() { return ::access(etcd_binary().c_str(), X_OK) == 0; }

[[noreturn]] inline void etcd_die(const std::string& why) {
  std::fprintf(stderr, "etcd: %s\n", why.c_str());
  std::exit(1);
}

inline int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    etcd_die("cannot get a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

class EtcdProcesses {
 public:
  EtcdProcesses(const std::string& dir, int members) {
    std::vector<int> client(static_cast<std::size_t>(members));
    std::vector<int> peer(static_cast<std::size_t>(members));
    std::string cluster;
    for (std::size_t i = 0; i < client.size(); ++i) {
      client[i] = free_loopback_port();
      peer[i] = free_loopback_port();
      cluster += (i == 0 ? "" : ",") + member(i) + "=" + url(peer[i]);
    }
    for (std::size_t i = 0; i < client.size(); ++i) {
      endpoints_.push_back(url(client[i]));
      const std::string data = dir + "/etcd-" + member(i);
      std::vector<std::string> args = {
          etcd_binary(), "--name", member(i), "--data-dir", data,
          "--listen-client-urls", url(client[i]), "--advertise-client-urls", url(client[i]),
          "--listen-peer-urls", url(peer[i]), "--initial-advertise-peer-urls", url(peer[i]),
          "--initial-cluster", cluster, "--initial-cluster-state", "new",
          "--logger", "zap", "--log-outputs", data + ".log"};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      const pid_t pid = ::fork();
      if (pid < 0) etcd_die("fork failed");
      if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        const int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
        ::execv(argv[0], argv.data());
        ::_exit(127);
      }
      pids_.push_back(pid);
    }
  }
  ~EtcdProcesses() {
    for (pid_t pid : pids_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  EtcdProcesses(const EtcdProcesses&) = delete;
  EtcdProcesses& operator=(const EtcdProcesses&) = delete;

  const std::vector<std::string>& endpoints() const { return endpoints_; }

  // A store on every member under `prefix` (waits up to 30 s for the cluster to answer).
  std::unique_ptr<store::Store> open(const std::string& prefix) const {
    store::EtcdOptions options;
    options.endpoints = endpoints_;
    options.key_prefix = prefix;
    options.operation_timeout = std::chrono::seconds(30);
    auto opened = store::open_etcd_store(options);
    if (!opened.ok()) etcd_die(opened.status().to_string());
    return std::move(opened).value();
  }

 private:
  static std::string member(std::size_t i) { return "m" + std::to_string(i); }
  static std::string url(int port) { return "http://127.0.0.1:" + std::to_string(port); }

  std::vector<std::string> endpoints_;
  std::vector<pid_t> pids_;
};

}  // namespace orch::bench
