// kuard, the demo server: its pages, the probe endpoints failing on demand, /env, and draining on
// SIGTERM. Runs the built binary ($ORCH_KUARD_PATH) on a loopback address with port 0.
#include <chrono>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

using namespace std::chrono_literals;

std::string random_loopback_ip() {
  std::random_device rd;
  return "127." + std::to_string(1 + rd() % 250) + "." + std::to_string(rd() % 250) + "." +
         std::to_string(2 + rd() % 250);
}

int connect_to(const std::string& ip, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_text(int fd, const std::string& text) {
  REQUIRE(::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size()));
}

// Reads until the peer closes or 20 s pass.
std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

struct HttpResponse {
  int status = 0;
  std::string body;
};

std::optional<HttpResponse> http_get(const std::string& ip, int port, const std::string& path) {
  int fd = connect_to(ip, port);
  if (fd < 0) return std::nullopt;
  send_text(fd, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string raw = read_all(fd);
  ::close(fd);
  if (raw.size() < 12) return std::nullopt;
  HttpResponse r;
  r.status = std::atoi(raw.substr(9, 3).c_str());
  auto body = raw.find("\r\n\r\n");
  r.body = body == std::string::npos ? "" : raw.substr(body + 4);
  return r;
}

// A kuard process with its stdout on a pipe.
class Kuard {
 public:
  explicit Kuard(std::vector<std::string> args, std::vector<std::string> extra_env = {}) {
    const char* path = std::getenv("ORCH_KUARD_PATH");
    REQUIRE_MESSAGE(path != nullptr, "ORCH_KUARD_PATH must name the kuard binary");
    ip_ = random_loopback_ip();
    std::vector<std::string> argv = {path, "--address", ip_ + ":0"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> argv_c;
    for (auto& a : argv) argv_c.push_back(a.data());
    argv_c.push_back(nullptr);
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> env_c;
    for (auto& e : env) env_c.push_back(e.data());
    env_c.push_back(nullptr);
    int out[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    REQUIRE(posix_spawn(&pid_, path, &fa, nullptr, argv_c.data(), env_c.data()) == 0);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    out_ = out[0];
    std::string line = read_until("listening on ");
    auto colon = line.rfind(':');
    REQUIRE(colon != std::string::npos);
    port_ = std::atoi(line.c_str() + colon + 1);
    REQUIRE(port_ > 0);
  }
  ~Kuard() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }

  // Reads stdout until a line containing `what` (20 s at most); returns that line.
  std::string read_until(const std::string& what) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto nl = buffer_.find('\n');
      while (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        if (line.find(what) != std::string::npos) return line;
        nl = buffer_.find('\n');
      }
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) break;
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
    FAIL("kuard never printed \"" << what << "\"");
    return "";
  }

  // Waits (20 s at most) for the process to exit; returns its wait status or -1.
  int wait_exit() {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

  const std::string& ip() const { return ip_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  std::string ip_;
  int port_ = 0;
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

}  // namespace

TEST_CASE("kuard / shows version, pod name, IP and a request counter") {
  Kuard k({"--version", "green"}, {"POD_NAME=kuard-abc", "HOSTNAME=kuard-host"});
  auto first = http_get(k.ip(), k.port(), "/");
  REQUIRE(first);
  CHECK(first->status == 200);
  CHECK(first->body.find(">green<") != std::string::npos);
  CHECK(first->body.find(">kuard-abc<") != std::string::npos);
  CHECK(first->body.find(">" + k.ip() + "<") != std::string::npos);
  CHECK(first->body.find(">kuard-host<") != std::string::npos);
  CHECK(first->body.find("id=\"requests\">1<") != std::string::npos);
  auto second = http_get(k.ip(), k.port(), "/");
  REQUIRE(second);
  CHECK(second->body.find("id=\"requests\">2<") != std::string::npos);
  auto version = http_get(k.ip(), k.port(), "/version");
  REQUIRE(version);
  CHECK(version->body == "green\n");
  // One log line per request.
  CHECK(k.read_until("\"GET /version\" 200").find("GET /version") != std::string::npos);
}

TEST_CASE("kuard takes its version from KUARD_VERSION") {
  Kuard k({}, {"KUARD_VERSION=blue"});
  auto version = http_get(k.ip(), k.port(), "/version");
  REQUIRE(version);
  CHECK(version->body == "blue\n");
}

TEST_CASE("kuard /ready and /healthy fail on demand") {
  Kuard k({});
  auto status = [&](const std::string& path) {
    auto r = http_get(k.ip(), k.port(), path);
    REQUIRE(r);
    return r->status;
  };
  CHECK(status("/ready") == 200);
  CHECK(status("/healthy") == 200);

  SUBCASE("for a number of calls") {
    CHECK(status("/fail?probe=ready&count=2") == 200);
    CHECK(status("/ready") == 500);
    CHECK(status("/ready") == 500);
    CHECK(status("/ready") == 200);
    CHECK(status("/fail?probe=healthy&count=1") == 200);
    CHECK(status("/healthy") == 500);
    CHECK(status("/healthy") == 200);
    CHECK(status("/ready") == 200);
  }
  SUBCASE("for a time, until /recover") {
    CHECK(status("/fail?probe=ready&for=1h") == 200);
    CHECK(status("/ready") == 500);
    CHECK(status("/ready") == 500);
    CHECK(status("/healthy") == 200);
    CHECK(status("/recover?probe=ready") == 200);
    CHECK(status("/ready") == 200);
  }
  SUBCASE("bad requests") {
    CHECK(status("/fail?probe=other") == 400);
    CHECK(status("/fail?probe=ready&for=soon") == 400);
    CHECK(status("/nope") == 404);
  }
}

TEST_CASE("kuard --fail-ready-for and --fail-healthy-after") {
  Kuard k({"--fail-ready-for", "1h", "--fail-healthy-after", "0s"});
  auto ready = http_get(k.ip(), k.port(), "/ready");
  REQUIRE(ready);
  CHECK(ready->status == 500);
  auto healthy = http_get(k.ip(), k.port(), "/healthy");
  REQUIRE(healthy);
  CHECK(healthy->status == 500);
}

TEST_CASE("kuard /env is the environment as JSON") {
  Kuard k({}, {"KUARD_TEST_VAR=a \"quoted\" value"});
  auto env = http_get(k.ip(), k.port(), "/env");
  REQUIRE(env);
  CHECK(env->status == 200);
  CHECK(env->body.front() == '{');
  CHECK(env->body.find("\"KUARD_TEST_VAR\": \"a \\\"quoted\\\" value\"") != std::string::npos);
}

TEST_CASE("kuard finishes an in-flight request on SIGTERM, then exits 0") {
  Kuard k({});
  int idle = connect_to(k.ip(), k.port());
  REQUIRE(idle >= 0);
  int busy = connect_to(k.ip(), k.port());
  REQUIRE(busy >= 0);
  // A request whose head has not fully arrived is in flight (on loopback, send() has queued it
  // at kuard's socket when it returns).
  send_text(busy, "GET /version HTTP/1.1\r\nHost: x\r\n");
  REQUIRE(::kill(k.pid(), SIGTERM) == 0);
  k.read_until("draining");
  // New connections are refused once it stops accepting.
  auto refused_deadline = std::chrono::steady_clock::now() + 20s;
  bool refused = false;
  while (!refused && std::chrono::steady_clock::now() < refused_deadline) {
    int fd = connect_to(k.ip(), k.port());
    if (fd < 0) {
      refused = true;
    } else {
      ::close(fd);
      std::this_thread::sleep_for(20ms);
    }
  }
  CHECK(refused);
  // The idle keep-alive connection is closed.
  CHECK(read_all(idle).empty());
  ::close(idle);
  // The in-flight request completes.
  send_text(busy, "\r\n");
  std::string raw = read_all(busy);
  ::close(busy);
  CHECK(raw.starts_with("HTTP/1.1 200"));
  CHECK(raw.find("Connection: close") != std::string::npos);
  CHECK(raw.ends_with("blue\n"));
  int status = k.wait_exit();
  REQUIRE(status != -1);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
