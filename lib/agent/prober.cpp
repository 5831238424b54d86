// Prober: probe workers on a WorkQueue timed by the agent's clock; single probe runs over plain
// non-blocking sockets with poll() deadlines (real time), exec through the Runtime.
//
// Thread-safety: entries_ is guarded by Impl::mu_; a probe key is handled by one worker at a
// time (the WorkQueue guarantees it), so per-probe callbacks are ordered.
#include "orch/agent/prober.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "orch/client/work_queue.hpp"

namespace orch::agent {
namespace {

using Steady = std::chrono::steady_clock;

std::chrono::milliseconds probe_timeout(const api::Probe& p) {
  return std::chrono::seconds(p.timeout_seconds > 0 ? p.timeout_seconds : 1);
}
std::chrono::seconds probe_period(const api::Probe& p) {
  return std::chrono::seconds(p.period_seconds > 0 ? p.period_seconds : 10);
}
int success_threshold(const api::Probe& p) {
  return p.success_threshold > 0 ? p.success_threshold : 1;
}
int failure_threshold(const api::Probe& p) {
  return p.failure_threshold > 0 ? p.failure_threshold : 3;
}

// Port by number, or by the name of one of the container's ports.
Result<int> resolve_port(const api::IntOrString& port, const std::vector<api::ContainerPort>& ports) {
  if (port.is_int()) {
    if (port.int_value() <= 0 || port.int_value() > 65535) {
      return invalid_argument(fmt::format("invalid port number: {}", port.int_value()));
    }
    return port.int_value();
  }
  for (const auto& p : ports) {
    if (p.name == port.str_value()) return p.container_port;
  }
  const std::string& s = port.str_value();
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos && s.size() < 6) {
    int v = std::stoi(s);
    if (v > 0 && v <= 65535) return v;
  }
  return not_found(fmt::format("couldn't find port: {} in {}", s, "container"));
}

int remaining_ms(Steady::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// A connected socket, or the Go-style dial error text.
struct Dialed {
  int fd = -1;
  std::string error;  // "connect: connection refused", "i/o timeout"
};

// strerror in Go's spelling ("connection refused").
std::string go_error(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

Dialed dial(const std::string& host, int port, Steady::time_point deadline) {
  Dialed d;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
      d.error = fmt::format("lookup {}: no such host", host);
      return d;
    }
    addr.sin_addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
    freeaddrinfo(res);
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    d.error = fmt::format("socket: {}", std::strerror(errno));
    return d;
  }
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  if (rc != 0 && errno != EINPROGRESS) {
    d.error = "connect: " + go_error(errno);
    ::close(fd);
    return d;
  }
  if (rc != 0) {
    pollfd p{fd, POLLOUT, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n <= 0) {
      d.error = "i/o timeout";
      ::close(fd);
      return d;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      d.error = "connect: " + go_error(err);
      ::close(fd);
      return d;
    }
  }
  d.fd = fd;
  return d;
}

ProbeOutcome http_probe(const api::HttpGetAction& action, const ProbeTarget& target,
                        std::chrono::milliseconds timeout) {
  ProbeOutcome out;
  std::string scheme = action.scheme.empty() ? "HTTP" : action.scheme;
  std::string host = action.host.empty() ? target.pod_ip : action.host;
  if (host.empty()) host = "127.0.0.1";
  auto port = resolve_port(action.port, target.ports);
  if (!port.ok()) {
    out.message = port.status().message();
    return out;
  }
  std::string path = action.path.empty() ? "/" : action.path;
  if (path[0] != '/') path = "/" + path;
  std::string url = fmt::format("{}://{}:{}{}", scheme == "HTTPS" ? "https" : "http", host, *port,
                                path);
  if (scheme != "HTTP") {
    out.message = fmt::format("Get \"{}\": scheme {} is not supported by this agent", url, scheme);
    return out;
  }
  auto deadline = Steady::now() + timeout;
  Dialed d = dial(host, *port, deadline);
  if (d.fd < 0) {
    if (d.error == "i/o timeout") {
      out.message = fmt::format(
          "Get \"{}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
          url);
    } else {
      out.message = fmt::format("Get \"{}\": dial tcp {}:{}: {}", url, host, *port, d.error);
    }
    return out;
  }
  std::string req = fmt::format("GET {} HTTP/1.1\r\n", path);
  bool has_host = false, has_ua = false, has_accept = false;
  for (const auto& h : action.http_headers) {
    std::string lname = h.name;
    for (auto& c : lname) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lname == "host") has_host = true;
    if (lname == "user-agent") has_ua = true;
    if (lname == "accept") has_accept = true;
    req += h.name + ": " + h.value + "\r\n";
  }
  if (!has_host) req += fmt::format("Host: {}:{}\r\n", host, *port);
  if (!has_ua) req += "User-Agent: kube-probe/1.32\r\n";
  if (!has_accept) req += "Accept: */*\r\n";
  req += "Connection: close\r\n\r\n";
  std::size_t sent = 0;
  std::string error;
  while (sent < req.size()) {
    ssize_t n = ::send(d.fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{d.fd, POLLOUT, 0};
      if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
        error = "timeout";
        break;
      }
      continue;
    }
    error = fmt::format("write: {}", std::strerror(errno));
    break;
  }
  std::string buf;
  while (error.empty() && buf.find("\r\n") == std::string::npos && buf.size() < 8192) {
    pollfd p{d.fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
      error = "timeout";
      break;
    }
    char tmp[2048];
    ssize_t n = ::recv(d.fd, tmp, sizeof(tmp), 0);
    if (n > 0) {
      buf.append(tmp, static_cast<std::size_t>(n));
    } else if (n == 0) {
      error = "EOF";
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      error = fmt::format("read: {}", std::strerror(errno));
    }
  }
  ::close(d.fd);
  if (error == "timeout") {
    out.message = fmt::format(
        "Get \"{}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
        url);
    return out;
  }
  if (!error.empty() && buf.find("\r\n") == std::string::npos) {
    out.message = fmt::format("Get \"{}\": {}", url, error);
    return out;
  }
  // "HTTP/1.1 200 OK"
  int code = 0;
  if (buf.rfind("HTTP/", 0) == 0) {
    auto sp = buf.find(' ');
    if (sp != std::string::npos && sp + 4 <= buf.size()) {
      code = std::atoi(buf.substr(sp + 1, 3).c_str());
    }
  }
  if (code == 0) {
    out.message = fmt::format("Get \"{}\": malformed HTTP response", url);
    return out;
  }
  if (code >= 200 && code < 400) {
    out.success = true;
    return out;
  }
  out.message = fmt::format("HTTP probe failed with statuscode: {}", code);
  return out;
}

ProbeOutcome tcp_probe(const api::TcpSocketAction& action, const ProbeTarget& target,
                       std::chrono::milliseconds timeout) {
  ProbeOutcome out;
  std::string host = action.host.empty() ? target.pod_ip : action.host;
  if (host.empty()) host = "127.0.0.1";
  auto port = resolve_port(action.port, target.ports);
  if (!port.ok()) {
    out.message = port.status().message();
    return out;
  }
  Dialed d = dial(host, *port, Steady::now() + timeout);
  if (d.fd < 0) {
    out.message = fmt::format("dial tcp {}:{}: {}", host, *port, d.error);
    return out;
  }
  ::close(d.fd);
  out.success = true;
  return out;
}

ProbeOutcome exec_probe(const api::ExecAction& action, const ProbeTarget& target,
                        Runtime* runtime, std::chrono::milliseconds timeout) {
  ProbeOutcome out;
  if (runtime == nullptr) {
    out.message = "exec probes need a runtime";
    return out;
  }
  auto r = runtime->exec(target.container_id, action.command, timeout);
  if (!r.ok()) {
    if (r.status().code() == Code::kDeadlineExceeded) {
      std::string cmd;
      for (const auto& c : action.command) cmd += (cmd.empty() ? "" : " ") + c;
      out.message = fmt::format("command \"{}\" timed out", cmd);
    } else {
      out.message = r.status().message();
    }
    return out;
  }
  if (r->exit_code == 0) {
    out.success = true;
    return out;
  }
  out.message = r->output;
  while (!out.message.empty() && (out.message.back() == '\n' || out.message.back() == '\r')) {
    out.message.pop_back();
  }
  if (out.message.empty()) {
    out.message = fmt::format("command exited with code {}", r->exit_code);
  }
  return out;
}

}  // namespace

std::string_view probe_kind_name(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::kLiveness:
      return "Liveness";
    case ProbeKind::kReadiness:
      return "Readiness";
    case ProbeKind::kStartup:
      return "Startup";
  }
  return "";
}

ProbeOutcome run_probe(const api::Probe& probe, const ProbeTarget& target, Runtime* runtime) {
  auto timeout = probe_timeout(probe);
  if (probe.exec) return exec_probe(*probe.exec, target, runtime, timeout);
  if (probe.http_get) return http_probe(*probe.http_get, target, timeout);
  if (probe.tcp_socket) return tcp_probe(*probe.tcp_socket, target, timeout);
  ProbeOutcome out;
  out.message = probe.grpc.is_null() ? "probe has no handler" : "gRPC probes are not supported";
  return out;
}

struct Prober::Impl {
  struct ProbeState {
    std::optional<api::Probe> spec;
    ProbeResult result = ProbeResult::kUnknown;
    bool last_run_ok = false;
    int run_count = 0;
    bool stopped = false;
    util::Clock::TimePoint next_due{};
  };
  struct Entry {
    ProbeTarget target;
    ProbeState probes[3];
    bool startup_done = true;
  };

  Impl(ProberOptions o, std::function<void(const ProbeUpdate&)> cb)
      : clock(o.clock ? o.clock : &util::real_clock()),
        runtime(o.runtime),
        workers(o.workers > 0 ? o.workers : 1),
        on_update(std::move(cb)),
        queue(client::WorkQueueOptions{.clock = clock}) {}

  static std::string entry_key(std::string_view uid, std::string_view name) {
    return std::string(uid) + "/" + std::string(name);
  }

  void run() {
    while (true) {
      auto key = queue.get(std::chrono::milliseconds(500));
      if (!key) {
        if (queue.shutting_down()) return;
        continue;
      }
      handle(*key);
      queue.done(*key);
    }
  }

  void handle(const std::string& key) {
    // "<uid>/<container>/<k>"
    auto slash = key.rfind('/');
    if (slash == std::string::npos) return;
    int k = key[slash + 1] - '0';
    if (k < 0 || k > 2) return;
    std::string ekey = key.substr(0, slash);
    std::shared_ptr<Entry> entry;
    api::Probe spec;
    ProbeTarget target;
    {
      std::lock_guard lock(mu);
      auto it = entries.find(ekey);
      if (it == entries.end()) return;
      entry = it->second;
      ProbeState& ps = entry->probes[k];
      if (!ps.spec || ps.stopped) return;
      auto now = clock->now();
      if (now < ps.next_due) {
        queue.add_after(key, ps.next_due - now);
        return;
      }
      if (k != static_cast<int>(ProbeKind::kStartup) && !entry->startup_done) {
        ps.next_due = now + probe_period(*ps.spec);
        queue.add_after(key, probe_period(*ps.spec));
        return;
      }
      spec = *ps.spec;
      target = entry->target;
    }
    ProbeOutcome outcome = run_probe(spec, target, runtime);
    ProbeUpdate update;
    {
      std::lock_guard lock(mu);
      auto it = entries.find(ekey);
      if (it == entries.end() || it->second != entry) return;
      ProbeState& ps = entry->probes[k];
      if (ps.stopped) return;
      if (ps.run_count > 0 && ps.last_run_ok == outcome.success) {
        ++ps.run_count;
      } else {
        ps.run_count = 1;
        ps.last_run_ok = outcome.success;
      }
      ProbeResult before = ps.result;
      if (outcome.success && ps.run_count >= success_threshold(spec)) {
        ps.result = ProbeResult::kSuccess;
      } else if (!outcome.success && ps.run_count >= failure_threshold(spec)) {
        ps.result = ProbeResult::kFailure;
      }
      auto kind = static_cast<ProbeKind>(k);
      bool stop_now = false;
      if ((kind == ProbeKind::kLiveness || kind == ProbeKind::kStartup) && !outcome.success &&
          ps.result == ProbeResult::kFailure && ps.run_count >= failure_threshold(spec)) {
        stop_now = true;
      }
      if (kind == ProbeKind::kStartup && ps.result == ProbeResult::kSuccess) {
        entry->startup_done = true;
        stop_now = true;
      }
      if (stop_now) {
        ps.stopped = true;
      } else {
        auto period = probe_period(spec);
        ps.next_due = clock->now() + period;
        queue.add_after(key, period);
      }
      update.target = target;
      update.kind = kind;
      update.result = ps.result;
      update.attempt_failed = !outcome.success;
      update.changed = ps.result != before;
      update.message = std::move(outcome.message);
      if (!update.attempt_failed && !update.changed) return;
    }
    if (on_update) on_update(update);
  }

  util::Clock* const clock;
  Runtime* const runtime;
  const int workers;
  const std::function<void(const ProbeUpdate&)> on_update;

  client::WorkQueue queue;
  std::mutex lifecycle_mu;  // lock order: before mu
  std::vector<std::thread> threads;
  bool started = false;

  mutable std::mutex mu;  // lock order: leaf
  std::map<std::string, std::shared_ptr<Entry>> entries;
};

Prober::Prober(ProberOptions options, std::function<void(const ProbeUpdate&)> on_update)
    : impl_(std::make_unique<Impl>(options, std::move(on_update))) {}

Prober::~Prober() { stop(); }

void Prober::start() {
  std::lock_guard lock(impl_->lifecycle_mu);
  if (impl_->started) return;
  impl_->started = true;
  for (int i = 0; i < impl_->workers; ++i) {
    impl_->threads.emplace_back([this] { impl_->run(); });
  }
}

void Prober::stop() {
  std::lock_guard lock(impl_->lifecycle_mu);
  impl_->queue.shut_down();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
}

void Prober::add_container(const ProbeTarget& target, const api::Container& container) {
  auto entry = std::make_shared<Impl::Entry>();
  entry->target = target;
  entry->probes[0].spec = container.liveness_probe;
  entry->probes[1].spec = container.readiness_probe;
  entry->probes[2].spec = container.startup_probe;
  entry->probes[0].result = ProbeResult::kSuccess;
  entry->probes[1].result = ProbeResult::kFailure;
  entry->probes[2].result = ProbeResult::kFailure;
  entry->startup_done = !container.startup_probe.has_value();
  std::string ekey = Impl::entry_key(target.pod_uid, target.container_name);
  std::lock_guard lock(impl_->mu);
  if (!container.liveness_probe && !container.readiness_probe && !container.startup_probe) {
    impl_->entries.erase(ekey);
    return;
  }
  auto now = impl_->clock->now();
  for (int k = 0; k < 3; ++k) {
    auto& ps = entry->probes[k];
    if (!ps.spec) continue;
    auto first = target.started_at + std::chrono::seconds(std::max(0, ps.spec->initial_delay_seconds));
    ps.next_due = first;
    impl_->queue.add_after(ekey + "/" + std::to_string(k), first > now ? first - now
                                                                        : std::chrono::nanoseconds(0));
  }
  impl_->entries[ekey] = std::move(entry);
}

void Prober::remove_container(std::string_view pod_uid, std::string_view container_name) {
  std::lock_guard lock(impl_->mu);
  impl_->entries.erase(Impl::entry_key(pod_uid, container_name));
}

void Prober::remove_pod(std::string_view pod_uid) {
  std::string prefix = std::string(pod_uid) + "/";
  std::lock_guard lock(impl_->mu);
  for (auto it = impl_->entries.lower_bound(prefix);
       it != impl_->entries.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    it = impl_->entries.erase(it);
  }
}

std::size_t Prober::size() const {
  std::lock_guard lock(impl_->mu);
  return impl_->entries.size();
}

}  // namespace orch::agent
