// Small blocking TCP peers for proxy tests: a greeting echo server and a client with timeouts.
// Header-only; test code only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace orch::testing {

// Greets each connection with "<name>\n", then echoes until EOF, then closes. Binds ip:port
// (port 0: any). ok() is false when the address could not be bound.
class GreetingServer {
 public:
  explicit GreetingServer(std::string name, const std::string& ip = "127.0.0.1",
                          std::uint16_t port = 0)
      : name_(std::move(name)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 128) == 0;
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~GreetingServer() { close(); }
  GreetingServer(const GreetingServer&) = delete;
  GreetingServer& operator=(const GreetingServer&) = delete;

  // Stops accepting and ends every connection. Idempotent.
  void close() {
    if (stop_.exchange(true)) return;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (auto& t : conns_) t.join();
  }
  bool ok() const { return ok_; }
  std::uint16_t port() const { return port_; }

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
  bool ok_ = false;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> conns_;
};

// A loopback port nothing listens on (bound once, then released).
inline std::uint16_t unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct TcpClient {
  explicit TcpClient(std::uint16_t port, const std::string& ip = "127.0.0.1") {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    connected = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~TcpClient() { ::close(fd); }
  TcpClient(const TcpClient&) = delete;
  TcpClient& operator=(const TcpClient&) = delete;
  // Reads up to '\n' (excluded) within `timeout`. "" on EOF, reset or timeout.
  std::string line(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::string out;
    char c;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
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

// Connects to ip:port and returns the greeting line ("" when nothing answered).
inline std::string greeting(const std::string& ip, std::uint16_t port) {
  TcpClient c(port, ip);
  return c.connected ? c.line() : std::string();
}

}  // namespace orch::testing
