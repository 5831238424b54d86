// kuard: the demo server of the examples and tests (after Kubernetes Up & Running's kuard).
//
// Serves HTTP/1.1 on `--address HOST:PORT` (default `$POD_IP:8080`, or 127.0.0.1:8080 when POD_IP
// is unset):
//   GET /          a small HTML page: version, pod name, pod IP, hostname, request counter
//   GET /version   the version ("blue", "green", ...) and a newline
//   GET /healthy   200 "ok", or 500 while the liveness check is made to fail
//   GET /ready     200 "ok", or 500 while the readiness check is made to fail
//   GET /fail?probe=ready|healthy&for=10s    fail that check for a duration
//   GET /fail?probe=ready|healthy&count=3    fail the next 3 calls of that check
//   GET /fail?probe=ready|healthy            fail it until /recover
//   GET /recover?probe=ready|healthy         stop failing it
//   GET /env       the process environment as a JSON object
//   GET /exit?code=N  answers, then exits with status N (to exercise restarts)
// Flags: --address HOST:PORT, --version NAME (else $KUARD_VERSION, else "blue"),
// --fail-ready-for DURATION (not ready for that long after start),
// --fail-healthy-after DURATION (healthy for that long, then failing until /recover).
// DURATION is Go-like: "10s", "500ms", "2m", "1h"; a bare number means seconds.
//
// Logs one line per request to stdout. On SIGTERM or SIGINT it stops accepting, lets in-flight
// requests finish (idle keep-alive connections are closed), and exits 0.
//
// Plain POSIX sockets and one thread per connection: small, fast to compile, no dependencies.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------------------ configuration

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::size_t i = 0;
  double value = 0;
  bool digits = false;
  double frac_scale = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      digits = true;
      if (frac_scale > 0) {
        value += (c - '0') * frac_scale;
        frac_scale /= 10;
      } else {
        value = value * 10 + (c - '0');
      }
    } else if (c == '.' && frac_scale == 0) {
      frac_scale = 0.1;
    } else {
      break;
    }
  }
  if (!digits) return std::nullopt;
  std::string_view unit = text.substr(i);
  double ms = 0;
  if (unit.empty() || unit == "s") {
    ms = value * 1000;
  } else if (unit == "ms") {
    ms = value;
  } else if (unit == "m") {
    ms = value * 60'000;
  } else if (unit == "h") {
    ms = value * 3'600'000;
  } else {
    return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string version;
  std::optional<std::chrono::milliseconds> fail_ready_for;
  std::optional<std::chrono::milliseconds> fail_healthy_after;
};

bool split_address(std::string_view address, std::string& host, int& port) {
  auto colon = address.rfind(':');
  if (colon == std::string_view::npos) return false;
  host = std::string(address.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  std::string port_text(address.substr(colon + 1));
  char* end = nullptr;
  long p = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || p < 0 || p > 65535) return false;
  port = static_cast<int>(p);
  return !host.empty();
}

void usage(std::FILE* out) {
  std::fputs(
      "usage: kuard [--address HOST:PORT] [--version NAME] [--fail-ready-for DURATION]\n"
      "             [--fail-healthy-after DURATION]\n"
      "Serves /, /version, /healthy, /ready, /fail, /recover, /env, /exit on $POD_IP:8080.\n",
      out);
}

// Returns false (after printing why) on a bad command line.
bool parse_flags(int argc, char** argv, Options& opts) {
  if (const char* ip = std::getenv("POD_IP"); ip != nullptr && *ip != '\0') opts.host = ip;
  if (const char* v = std::getenv("KUARD_VERSION"); v != nullptr && *v != '\0') opts.version = v;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string name(arg);
    std::optional<std::string> value;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = std::string(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
    }
    if (name == "--help" || name == "-h") {
      usage(stdout);
      std::exit(0);
    }
    auto take = [&]() -> std::optional<std::string> {
      if (value) return value;
      if (i + 1 < argc) return std::string(argv[++i]);
      return std::nullopt;
    };
    if (name == "--address") {
      auto v = take();
      if (!v || !split_address(*v, opts.host, opts.port)) {
        std::fprintf(stderr, "kuard: --address wants HOST:PORT\n");
        return false;
      }
    } else if (name == "--version") {
      auto v = take();
      if (!v) {
        std::fprintf(stderr, "kuard: --version wants a name\n");
        return false;
      }
      opts.version = *v;
    } else if (name == "--fail-ready-for" || name == "--fail-healthy-after") {
      auto v = take();
      auto d = v ? parse_duration(*v) : std::nullopt;
      if (!d) {
        std::fprintf(stderr, "kuard: %s wants a duration such as 10s\n", name.c_str());
        return false;
      }
      (name == "--fail-ready-for" ? opts.fail_ready_for : opts.fail_healthy_after) = d;
    } else {
      std::fprintf(stderr, "kuard: unknown argument %s\n", argv[i]);
      usage(stderr);
      return false;
    }
  }
  if (opts.version.empty()) opts.version = "blue";
  return true;
}

// --------------------------------------------------------------------------------- probe state

// One check (/ready or /healthy): failing until a time, for a number of calls, or for good.
class Check {
 public:
  // Fails from now for `duration`.
  void fail_for(std::chrono::milliseconds duration) {
    std::lock_guard lock(mu_);
    clear_locked();
    until_ = Clock::now() + duration;
  }
  void fail_count(int count) {
    std::lock_guard lock(mu_);
    clear_locked();
    count_ = count;
  }
  void fail_from(Clock::time_point when) {
    std::lock_guard lock(mu_);
    clear_locked();
    from_ = when;
  }
  void recover() {
    std::lock_guard lock(mu_);
    clear_locked();
  }
  // Whether this call of the check fails (consumes one of a count).
  bool failing() {
    std::lock_guard lock(mu_);
    auto now = Clock::now();
    if (until_ && now < *until_) return true;
    if (from_ && now >= *from_) return true;
    if (count_ > 0) {
      --count_;
      return true;
    }
    return false;
  }

 private:
  void clear_locked() {
    until_.reset();
    from_.reset();
    count_ = 0;
  }
  std::mutex mu_;
  std::optional<Clock::time_point> until_;  // guarded by mu_
  std::optional<Clock::time_point> from_;   // guarded by mu_
  int count_ = 0;                           // guarded by mu_
};

// ------------------------------------------------------------------------------------- server

struct Server {
  Options opts;
  std::string hostname;
  std::string pod_name;
  std::string bound_ip;
  Check ready;
  Check healthy;
  std::atomic<std::uint64_t> requests{0};
  std::atomic<bool> stopping{false};
  std::atomic<int> exit_code{-1};  // set by /exit

  std::mutex mu;
  std::condition_variable cv;
  int active = 0;  // connection threads alive; guarded by mu
};

std::mutex log_mu;

void log_line(const std::string& line) {
  std::lock_guard lock(log_mu);
  std::string out = line + "\n";
  const char* p = out.data();
  std::size_t left = out.size();
  while (left > 0) {
    ssize_t n = ::write(1, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::strtol(std::string(s.substr(i + 1, 2)).c_str(), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    auto eq = part.find('=');
    if (eq == std::string_view::npos) {
      out[url_decode(part)] = "";
    } else {
      out[url_decode(part.substr(0, eq))] = url_decode(part.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 500:
      return "Internal Server Error";
    default:
      return "Unknown";
  }
}

Response route(Server& s, std::string_view method, std::string_view target) {
  std::uint64_t n = ++s.requests;
  auto qpos = target.find('?');
  std::string_view path = target.substr(0, qpos);
  auto query =
      parse_query(qpos == std::string_view::npos ? std::string_view() : target.substr(qpos + 1));
  if (method != "GET" && method != "HEAD") return {405, "text/plain", "method not allowed\n"};
  if (path == "/") {
    std::string body;
    body += "<!DOCTYPE html>\n<html><head><title>KUAR Demo</title></head><body>\n";
    body += "<h1>KUAR Demo</h1>\n<ul>\n";
    body += "<li>version: <span id=\"version\">" + html_escape(s.opts.version) + "</span></li>\n";
    body += "<li>pod: <span id=\"pod\">" + html_escape(s.pod_name) + "</span></li>\n";
    body += "<li>ip: <span id=\"ip\">" + html_escape(s.bound_ip) + "</span></li>\n";
    body += "<li>hostname: <span id=\"hostname\">" + html_escape(s.hostname) + "</span></li>\n";
    body += "<li>requests: <span id=\"requests\">" + std::to_string(n) + "</span></li>\n";
    body += "</ul>\n</body></html>\n";
    return {200, "text/html; charset=utf-8", body};
  }
  if (path == "/version") return {200, "text/plain; charset=utf-8", s.opts.version + "\n"};
  if (path == "/healthy") {
    if (s.healthy.failing()) return {500, "text/plain", "unhealthy\n"};
    return {200, "text/plain", "ok"};
  }
  if (path == "/ready") {
    if (s.ready.failing()) return {500, "text/plain", "not ready\n"};
    return {200, "text/plain", "ok"};
  }
  if (path == "/fail" || path == "/recover") {
    auto probe = query["probe"];
    Check* check = probe == "ready" ? &s.ready : probe == "healthy" ? &s.healthy : nullptr;
    if (check == nullptr) return {400, "text/plain", "probe must be ready or healthy\n"};
    if (path == "/recover") {
      check->recover();
      return {200, "text/plain", probe + " recovered\n"};
    }
    if (auto it = query.find("for"); it != query.end()) {
      auto d = parse_duration(it->second);
      if (!d) return {400, "text/plain", "for must be a duration such as 10s\n"};
      check->fail_for(*d);
      return {200, "text/plain", probe + " fails for " + it->second + "\n"};
    }
    if (auto it = query.find("count"); it != query.end()) {
      int count = std::atoi(it->second.c_str());
      if (count <= 0) return {400, "text/plain", "count must be a positive number\n"};
      check->fail_count(count);
      return {200, "text/plain", probe + " fails " + it->second + " times\n"};
    }
    check->fail_from(Clock::now());
    return {200, "text/plain", probe + " fails until /recover\n"};
  }
  if (path == "/env") {
    std::string body = "{";
    bool first = true;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view kv = *e;
      auto eq = kv.find('=');
      if (eq == std::string_view::npos) continue;
      if (!first) body += ",";
      first = false;
      body += "\n  \"" + json_escape(kv.substr(0, eq)) + "\": \"" + json_escape(kv.substr(eq + 1)) +
              "\"";
    }
    body += "\n}\n";
    return {200, "application/json", body};
  }
  if (path == "/exit") {
    int code = std::atoi(query["code"].c_str());
    s.exit_code = code;
    return {200, "text/plain", "exiting with " + std::to_string(code) + "\n"};
  }
  return {404, "text/plain", "not found\n"};
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void serve_connection(Server& s, int fd, std::string peer) {
  std::string buf;
  char chunk[4096];
  bool keep_open = true;
  while (keep_open) {
    // Read one request head. While idle, check for shutdown every 100 ms.
    std::size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.empty() && s.stopping) {
        // Idle unless a request has already arrived in the socket.
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0) {
          keep_open = false;
          break;
        }
      }
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, 100);
      if (r < 0 && errno != EINTR) keep_open = false;
      if (r <= 0) {
        if (!keep_open) break;
        continue;
      }
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0 || buf.size() > 64 * 1024) {
        keep_open = false;
        break;
      }
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    if (!keep_open) break;
    std::string_view head(buf.data(), head_end);
    auto line_end = head.find("\r\n");
    std::string_view request_line = head.substr(0, line_end);
    auto sp1 = request_line.find(' ');
    auto sp2 = request_line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) break;
    std::string method(request_line.substr(0, sp1));
    std::string target(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
    std::string version(request_line.substr(sp2 + 1));
    bool keep_alive = version == "HTTP/1.1";
    std::size_t content_length = 0;
    std::string_view headers =
        line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);
    while (!headers.empty()) {
      auto e = headers.find("\r\n");
      std::string_view h = headers.substr(0, e);
      auto colon = h.find(':');
      if (colon != std::string_view::npos) {
        std::string name = lower(h.substr(0, colon));
        std::string_view value = h.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (name == "content-length")
          content_length = std::strtoul(std::string(value).c_str(), nullptr, 10);
        if (name == "connection") {
          std::string v = lower(value);
          if (v == "close") keep_alive = false;
          if (v == "keep-alive") keep_alive = true;
        }
      }
      if (e == std::string_view::npos) break;
      headers.remove_prefix(e + 2);
    }
    buf.erase(0, head_end + 4);
    // Skip the body.
    while (buf.size() < content_length) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) {
        keep_open = false;
        break;
      }
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    if (!keep_open) break;
    buf.erase(0, content_length);

    Response resp = route(s, method, target);
    if (s.stopping || s.exit_code >= 0) keep_alive = false;
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + reason_phrase(resp.status) +
                      "\r\nContent-Type: " + resp.content_type +
                      "\r\nContent-Length: " + std::to_string(resp.body.size()) +
                      "\r\nConnection: " + (keep_alive ? "keep-alive" : "close") + "\r\n\r\n";
    if (method != "HEAD") out += resp.body;
    bool sent = send_all(fd, out);
    log_line(now_rfc3339() + " " + peer + " \"" + method + " " + target + "\" " +
             std::to_string(resp.status) + " " + std::to_string(resp.body.size()));
    if (!sent || !keep_alive) keep_open = false;
  }
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

struct Connection {
  Server* server;
  int fd;
  std::string peer;
};

void* run_connection(void* arg) {
  std::unique_ptr<Connection> c(static_cast<Connection*>(arg));
  serve_connection(*c->server, c->fd, c->peer);
  std::lock_guard lock(c->server->mu);
  if (--c->server->active == 0) c->server->cv.notify_all();
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  Server s;
  if (!parse_flags(argc, argv, s.opts)) return 2;
  char host[256] = {};
  if (const char* h = std::getenv("HOSTNAME"); h != nullptr && *h != '\0') {
    s.hostname = h;
  } else if (::gethostname(host, sizeof host - 1) == 0) {
    s.hostname = host;
  }
  if (const char* p = std::getenv("POD_NAME"); p != nullptr) s.pod_name = p;
  auto start = Clock::now();
  if (s.opts.fail_ready_for) s.ready.fail_for(*s.opts.fail_ready_for);
  if (s.opts.fail_healthy_after) s.healthy.fail_from(start + *s.opts.fail_healthy_after);

  // SIGTERM/SIGINT arrive through a signalfd; every thread inherits the blocked mask.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0) {
    std::perror("kuard: signalfd");
    return 1;
  }

  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  int family = AF_INET;
  if (auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
      ::inet_pton(AF_INET, s.opts.host.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<std::uint16_t>(s.opts.port));
    addr_len = sizeof(sockaddr_in);
  } else if (auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
             ::inet_pton(AF_INET6, s.opts.host.c_str(), &a6->sin6_addr) == 1) {
    family = AF_INET6;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<std::uint16_t>(s.opts.port));
    addr_len = sizeof(sockaddr_in6);
  } else {
    std::fprintf(stderr, "kuard: %s is not an IP address\n", s.opts.host.c_str());
    return 2;
  }
  int lfd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 ||
      ::listen(lfd, 512) != 0) {
    std::fprintf(stderr, "kuard: cannot listen on %s:%d: %s\n", s.opts.host.c_str(), s.opts.port,
                 std::strerror(errno));
    return 1;
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  char ip[INET6_ADDRSTRLEN] = {};
  int port = 0;
  if (family == AF_INET) {
    auto* b = reinterpret_cast<sockaddr_in*>(&bound);
    ::inet_ntop(AF_INET, &b->sin_addr, ip, sizeof ip);
    port = ntohs(b->sin_port);
  } else {
    auto* b = reinterpret_cast<sockaddr_in6*>(&bound);
    ::inet_ntop(AF_INET6, &b->sin6_addr, ip, sizeof ip);
    port = ntohs(b->sin6_port);
  }
  s.bound_ip = ip;
  log_line("kuard " + s.opts.version + " listening on " +
           (family == AF_INET6 ? "[" + s.bound_ip + "]" : s.bound_ip) + ":" + std::to_string(port));

  // Accepts one connection and serves it on its own thread. False when none is pending.
  auto accept_one = [&]() -> bool {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    int cfd = ::accept4(lfd, reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_CLOEXEC);
    if (cfd < 0) return false;
    char pip[INET6_ADDRSTRLEN] = {};
    int pport = 0;
    if (peer.ss_family == AF_INET) {
      auto* p = reinterpret_cast<sockaddr_in*>(&peer);
      ::inet_ntop(AF_INET, &p->sin_addr, pip, sizeof pip);
      pport = ntohs(p->sin_port);
    } else {
      auto* p = reinterpret_cast<sockaddr_in6*>(&peer);
      ::inet_ntop(AF_INET6, &p->sin6_addr, pip, sizeof pip);
      pport = ntohs(p->sin6_port);
    }
    {
      std::lock_guard lock(s.mu);
      ++s.active;
    }
    // Small stacks: under a memory limit enforced with RLIMIT_DATA, thread stacks count.
    auto* job = new Connection{&s, cfd, std::string(pip) + ":" + std::to_string(pport)};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    if (pthread_create(&thread, &attr, run_connection, job) != 0) {
      // Out of threads or memory: shed this connection rather than die.
      ::close(cfd);
      delete job;
      std::lock_guard lock(s.mu);
      if (--s.active == 0) s.cv.notify_all();
    }
    pthread_attr_destroy(&attr);
    return true;
  };

  int exit_status = 0;
  while (true) {
    pollfd fds[2] = {{lfd, POLLIN, 0}, {sfd, POLLIN, 0}};
    int r = ::poll(fds, 2, 100);
    if (s.exit_code >= 0) {
      exit_status = s.exit_code;
      break;
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(sfd, &info, sizeof info) > 0) {
        log_line("kuard: signal " + std::to_string(info.ssi_signo) +
                 ", draining in-flight requests");
      }
      break;
    }
    if (fds[0].revents & POLLIN) accept_one();
  }
  // Drain: connections the kernel already completed are served too; then stop accepting, let
  // in-flight requests finish, close idle connections.
  ::fcntl(lfd, F_SETFL, O_NONBLOCK);
  while (accept_one()) {
  }
  ::close(lfd);
  s.stopping = true;
  {
    std::unique_lock lock(s.mu);
    s.cv.wait_for(lock, std::chrono::seconds(30), [&] { return s.active == 0; });
  }
  log_line("kuard: stopped");
  // _exit: a connection thread still stuck after the drain timeout must not see `s` destroyed.
  ::_exit(exit_status);
}
