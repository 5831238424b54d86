// Real etcd members for the etcd store tests: EtcdCluster starts N members of a new cluster
// (`/usr/bin/etcd`, or $ORCH_ETCD) on free loopback ports with their data in a temp dir, can kill
// and restart members, and kills every member (SIGKILL, reaped) and removes the dir when
// destroyed. Members also die with the test process (PR_SET_PDEATHSIG).
//
// ORCH_ETCD_SKIP_UNLESS_AVAILABLE() (once per test binary) exits with 77, meson's "skipped",
// and a message when etcd is not installed.
//
// Thread-safety: an EtcdCluster is used by one thread (the test's); endpoints() is a value.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_test_util.hpp"

namespace orch::store::testing {

inline std::string etcd_binary() {
  const char* env = std::getenv("ORCH_ETCD");
  return env != nullptr && *env != '\0' ? env : "/usr/bin/etcd";
}

inline bool etcd_available() { return ::access(etcd_binary().c_str(), X_OK) == 0; }

#define ORCH_ETCD_SKIP_UNLESS_AVAILABLE()                                                      \
  static const bool orch_etcd_checked_ = [] {                                                  \
    if (!::orch::store::testing::etcd_available()) {                                           \
      std::fprintf(stderr,                                                                     \
                   "SKIPPED: etcd is not installed (%s not found; install the Debian package " \
                   "etcd-server, or set ORCH_ETCD): the etcd store tests did not run\n",       \
                   ::orch::store::testing::etcd_binary().c_str());                             \
      std::_Exit(77);                                                                          \
    }                                                                                          \
    return true;                                                                               \
  }()

// A port the kernel handed out on 127.0.0.1 and that is free again (a later bind may collide:
// EtcdCluster retries with new ports when a member fails to start).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// TLS material (PEM files) for a cluster that serves https and requires client certificates.
struct EtcdTls {
  std::string ca;                       // signs both certificates
  std::string server_cert, server_key;  // for 127.0.0.1
  std::string client_cert, client_key;
};

// A throwaway CA, server and client certificate in `dir`, made with the openssl tool; nullopt
// when that is not available.
inline std::optional<EtcdTls> make_test_tls(const std::string& dir) {
  EtcdTls t{dir + "/ca.crt", dir + "/server.crt", dir + "/server.key", dir + "/client.crt",
            dir + "/client.key"};
  const std::string script =
      "set -e; cd '" + dir +
      "'; K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'; "
      "openssl req -x509 $K -keyout ca.key -out ca.crt -days 2 -subj /CN=orch-test-ca; "
      "printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > s.ext; "
      "printf 'extendedKeyUsage=clientAuth\n' > c.ext; "
      "openssl req $K -keyout server.key -out server.csr -subj /CN=127.0.0.1; "
      "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile s.ext -out server.crt; "
      "openssl req $K -keyout client.key -out client.csr -subj /CN=orch-test-client; "
      "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile c.ext -out client.crt";
  const std::string command = "{ " + script + "; } >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) return std::nullopt;
  return t;
}

// POSTs `body` to `url` (with `tls`'s CA and client certificate for https); returns the HTTP
// status (0 when the request failed) and the body.
inline long etcd_post(const std::string& url, const std::string& body, std::string* out = nullptr,
                      long timeout_ms = 1000, const EtcdTls* tls = nullptr) {
  CURL* h = curl_easy_init();
  std::string response;
  if (tls != nullptr) {
    curl_easy_setopt(h, CURLOPT_CAINFO, tls->ca.c_str());
    curl_easy_setopt(h, CURLOPT_SSLCERT, tls->client_cert.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEY, tls->client_key.c_str());
  }
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(
      h, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* u) {
        static_cast<std::string*>(u)->append(d, s * n);
        return s * n;
      });
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response);
  long status = 0;
  if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(h);
  if (out != nullptr) *out = std::move(response);
  return status;
}

class EtcdCluster {
 public:
  explicit EtcdCluster(int members, std::optional<EtcdTls> tls = std::nullopt)
      : tls_(std::move(tls)), members_(static_cast<std::size_t>(members)) {
    REQUIRE_MESSAGE(etcd_available(), "etcd is not installed");
    for (int round = 0;; ++round) {
      REQUIRE_MESSAGE(round < 5, "etcd did not start; see " << dir_.path());
      token_ = "orch-test-" + std::to_string(::getpid()) + "-" + std::to_string(round);
      for (auto& m : members_) {
        m.client_port = free_port();
        m.peer_port = free_port();
      }
      for (std::size_t i = 0; i < members_.size(); ++i) {
        members_[i].data = dir_.file("m" + std::to_string(i) + "-" + std::to_string(round));
        spawn(i, /*fresh=*/true);
      }
      if (wait_ready(std::chrono::seconds(30))) break;
      MESSAGE("etcd members did not come up (ports taken?); retrying with new ports");
      for (std::size_t i = 0; i < members_.size(); ++i) kill(static_cast<int>(i));
    }
  }
  ~EtcdCluster() {
    for (std::size_t i = 0; i < members_.size(); ++i) kill(static_cast<int>(i));
  }
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int size() const { return static_cast<int>(members_.size()); }
  std::string endpoint(int i) const {
    return std::string(tls_.has_value() ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(members_[static_cast<std::size_t>(i)].client_port);
  }
  // POST to member i (with the client certificate when the cluster uses TLS).
  long post(int i, const std::string& path, const std::string& body,
            std::string* out = nullptr) const {
    return etcd_post(endpoint(i) + path, body, out, 1000, tls_.has_value() ? &*tls_ : nullptr);
  }
  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (int i = 0; i < size(); ++i) out.push_back(endpoint(i));
    return out;
  }
  bool running(int i) const { return members_[static_cast<std::size_t>(i)].pid > 0; }

  // SIGKILL, reaped. No-op when not running.
  void kill(int i) {
    Member& m = members_[static_cast<std::size_t>(i)];
    if (m.pid <= 0) return;
    ::kill(m.pid, SIGKILL);
    ::waitpid(m.pid, nullptr, 0);
    m.pid = -1;
  }
  // Starts a killed member again on its data; does not wait for it.
  void restart(int i) {
    REQUIRE(!running(i));
    spawn(static_cast<std::size_t>(i), /*fresh=*/false);
  }

  // The index of the member that is leader according to a live member, or -1.
  int leader() const {
    for (int i = 0; i < size(); ++i) {
      if (!running(i)) continue;
      std::string body;
      if (post(i, "/v3/maintenance/status", "{}", &body) != 200) continue;
      const std::string leader = field(body, "leader");
      if (leader.empty() || leader == "0") continue;
      for (int j = 0; j < size(); ++j) {
        if (!running(j)) continue;
        std::string other;
        if (post(j, "/v3/maintenance/status", "{}", &other) != 200) continue;
        if (field(other, "member_id") == leader) return j;
      }
    }
    return -1;
  }

  // Waits until every running member serves linearizable reads.
  bool wait_ready(std::chrono::seconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      bool all = true;
      for (int i = 0; i < size() && all; ++i) {
        if (!running(i)) continue;
        all = post(i, "/v3/kv/range", R"({"key":"AA=="})") == 200;
      }
      if (all) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      for (const Member& m : members_) {
        int status = 0;
        if (m.pid > 0 && ::waitpid(m.pid, &status, WNOHANG) == m.pid) return false;  // died
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  const std::string& dir() const { return dir_.path(); }

 private:
  struct Member {
    int client_port = 0;
    int peer_port = 0;
    std::string data;
    pid_t pid = -1;
  };

  // A "name":"value" string field of a JSON body (enough for maintenance/status).
  static std::string field(const std::string& body, const std::string& name) {
    const std::string needle = "\"" + name + "\":\"";
    const auto at = body.find(needle);
    if (at == std::string::npos) return {};
    const auto start = at + needle.size();
    return body.substr(start, body.find('"', start) - start);
  }

  void spawn(std::size_t i, bool fresh) {
    Member& m = members_[i];
    std::string cluster;
    for (std::size_t j = 0; j < members_.size(); ++j) {
      if (j != 0) cluster += ",";
      cluster +=
          "m" + std::to_string(j) + "=http://127.0.0.1:" + std::to_string(members_[j].peer_port);
    }
    const std::string client = endpoint(static_cast<int>(i));
    const std::string peer = "http://127.0.0.1:" + std::to_string(m.peer_port);
    std::vector<std::string> args = {
        etcd_binary(), "--name", "m" + std::to_string(i), "--data-dir", m.data,
        "--listen-client-urls", client, "--advertise-client-urls", client, "--listen-peer-urls",
        peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", cluster,
        "--initial-cluster-token", token_, "--initial-cluster-state", "new",
        // Fast elections: failover tests wait for them.
        "--heartbeat-interval", "50", "--election-timeout", "500", "--logger", "zap",
        "--log-outputs", m.data + ".log"};
    if (tls_.has_value()) {
      for (const std::string& a :
           {std::string("--cert-file"), tls_->server_cert, std::string("--key-file"),
            tls_->server_key, std::string("--trusted-ca-file"), tls_->ca,
            std::string("--client-cert-auth")}) {
        args.push_back(a);
      }
    }
    (void)fresh;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      const int devnull = ::open("/dev/null", O_RDWR);
      if (devnull >= 0) {
        ::dup2(devnull, 0);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    m.pid = pid;
  }

  TempDir dir_;
  const std::optional<EtcdTls> tls_;
  std::string token_;
  std::vector<Member> members_;
};

}  // namespace orch::store::testing
