// Forwarder: N workers, each one io_context on one thread. A listener is one SO_REUSEPORT acceptor
// per worker; an accepted connection lives on its acceptor's worker until it ends. The maps of
// pools and listeners live under mu_; each pool's backends and round-robin cursor under the pool's
// own mutex (taken once per new connection); bytes move without any lock.
#include "orch/proxy/forwarder.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "orch/util/log.hpp"

namespace orch::proxy {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;
using SteadyTime = std::chrono::steady_clock::time_point;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);
// Bytes moved per splice call (the default pipe capacity).
constexpr std::size_t kChunk = 64 * 1024;
// Reads up to this size are copied; a read that fills it switches the flow to splice.
constexpr std::size_t kCopyBuffer = 4096;
// Empty pipes a worker keeps for the next connections.
constexpr std::size_t kSparePipes = 256;

struct Pool {
  std::mutex mu;  // lock order: after the forwarder's mu_
  // Guarded by mu.
  std::shared_ptr<const std::vector<tcp::endpoint>> backends =
      std::make_shared<const std::vector<tcp::endpoint>>();
  bool client_ip_affinity = false;
  std::chrono::seconds affinity_timeout{0};
  std::size_t next = 0;
  std::unordered_map<std::string, std::pair<tcp::endpoint, SteadyTime>> affinity;
  // Lock-free counters.
  std::atomic<std::uint64_t> connections{0}, active{0}, to_backend{0}, to_client{0}, errors{0},
      no_endpoint{0}, connect_failures{0}, connects{0}, connect_micros{0};
  std::array<std::atomic<std::uint64_t>, kConnectLatencyBounds.size() + 1> latency{};

  void record_connect(std::chrono::steady_clock::duration d) {
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    connects.fetch_add(1, std::memory_order_relaxed);
    connect_micros.fetch_add(static_cast<std::uint64_t>(micros), std::memory_order_relaxed);
    const double seconds = static_cast<double>(micros) / 1e6;
    const auto bucket = static_cast<std::size_t>(
        std::lower_bound(kConnectLatencyBounds.begin(), kConnectLatencyBounds.end(), seconds) -
        kConnectLatencyBounds.begin());
    latency[bucket].fetch_add(1, std::memory_order_relaxed);
  }
};

// A pipe for splice. Move-only; closed on destruction.
struct Pipe {
  Pipe() = default;
  Pipe(Pipe&& o) noexcept : fd{o.fd[0], o.fd[1]} { o.fd[0] = o.fd[1] = -1; }
  Pipe& operator=(Pipe&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
  ~Pipe() {
    if (fd[0] >= 0) ::close(fd[0]);
    if (fd[1] >= 0) ::close(fd[1]);
  }
  bool ok() const { return fd[0] >= 0; }
  int fd[2] = {-1, -1};
};

struct Conn {
  Conn(tcp::socket c, tcp::socket b, std::shared_ptr<Pool> p)
      : client(std::move(c)), backend(std::move(b)), pool(std::move(p)) {
    pool->active.fetch_add(1);
  }
  ~Conn() { pool->active.fetch_sub(1); }
  void close() {
    error_code ec;
    client.close(ec);
    backend.close(ec);
  }
  tcp::socket client;
  tcp::socket backend;
  std::shared_ptr<Pool> pool;
  int pumps_left = 2;
};

// One network thread and what lives on it.
struct Worker {
  Worker() : io(1), work(net::make_work_guard(io)) {}
  net::io_context io;
  net::executor_work_guard<net::io_context::executor_type> work;
  std::thread thread;
  // This worker's thread only.
  std::unordered_map<std::uint64_t, std::weak_ptr<Conn>> conns;
  std::uint64_t next_conn = 0;
  std::vector<Pipe> spare_pipes;

  Pipe take_pipe() {
    if (!spare_pipes.empty()) {
      Pipe p = std::move(spare_pipes.back());
      spare_pipes.pop_back();
      return p;
    }
    Pipe p;
    if (::pipe2(p.fd, O_NONBLOCK | O_CLOEXEC) != 0) p.fd[0] = p.fd[1] = -1;
    return p;
  }
  // `p` must be empty (every byte spliced out).
  void give_back(Pipe p) {
    if (p.ok() && spare_pipes.size() < kSparePipes) spare_pipes.push_back(std::move(p));
  }
};

// Where a listener's connections go. Shared by its accept loops.
struct Target {
  std::string pool;  // guarded by the forwarder's mu_
};

// One acceptor per worker. A worker's coroutines hold only that worker's acceptor, so tearing
// down one io_context never touches another's sockets.
struct Listener {
  // Each acceptor is touched only on its worker's thread once its accept loop runs.
  std::vector<std::pair<Worker*, std::shared_ptr<tcp::acceptor>>> acceptors;
  std::shared_ptr<Target> target = std::make_shared<Target>();
};

// Resets `s` (RST instead of FIN): the client learns at once that nobody serves it.
void reset(tcp::socket& s) {
  error_code ec;
  s.set_option(net::socket_base::linger(true, 0), ec);
  s.close(ec);
}

// An acceptor on `io` bound to `ep`, or the error.
Result<std::shared_ptr<tcp::acceptor>> open_acceptor(net::io_context& io, const tcp::endpoint& ep,
                                                     bool reuse_port) {
  auto a = std::make_shared<tcp::acceptor>(io);
  error_code ec;
  a->open(ep.protocol(), ec);
  if (!ec) a->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec && reuse_port) {
    int one = 1;
    if (::setsockopt(a->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      ec = error_code(errno, boost::system::system_category());
    }
  }
  // Accepted sockets inherit TCP_NODELAY (one system call less per connection).
  if (!ec) a->set_option(tcp::no_delay(true), ec);
  if (!ec) a->bind(ep, ec);
  if (!ec) a->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status(Code::kUnavailable, ec.message());
  return a;
}

class ForwarderImpl final : public Forwarder {
 public:
  explicit ForwarderImpl(ForwarderOptions options) : options_(options) {
    unsigned n = options.threads != 0 ? options.threads : std::thread::hardware_concurrency();
    n = std::clamp(n, 1U, 64U);
    for (unsigned i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>());
  }
  ~ForwarderImpl() override { stop(); }

  Status run() {
    for (auto& w : workers_) {
      try {
        w->thread = std::thread([this, w = w.get()] {
          w->io.run();
          std::lock_guard lock(mu_);
          ++finished_;
          cv_.notify_all();
        });
      } catch (const std::exception& e) {
        stop();
        return Status(Code::kInternal, std::string("forwarder thread: ") + e.what());
      }
    }
    return Status();
  }

  void set_pool(const std::string& name, PoolConfig config) override {
    auto endpoints = std::make_shared<std::vector<tcp::endpoint>>();
    for (const auto& b : config.backends) {
      error_code ec;
      auto addr = net::ip::make_address(b.host, ec);
      if (!ec) endpoints->emplace_back(addr, b.port);
    }
    std::shared_ptr<Pool> p;
    {
      std::lock_guard lock(mu_);
      auto& slot = pools_[name];
      if (!slot) slot = std::make_shared<Pool>();
      p = slot;
    }
    std::lock_guard lock(p->mu);
    p->backends = endpoints;
    p->client_ip_affinity = config.client_ip_affinity;
    p->affinity_timeout = config.affinity_timeout;
    // Affinity to a backend that left is forgotten.
    std::erase_if(p->affinity, [&](const auto& kv) {
      return std::find(endpoints->begin(), endpoints->end(), kv.second.first) == endpoints->end();
    });
  }

  void remove_pool(const std::string& name) override {
    std::lock_guard lock(mu_);
    pools_.erase(name);
  }

  Result<std::uint16_t> listen(const std::string& host, std::uint16_t port,
                               const std::string& pool) override {
    error_code ec;
    auto addr = net::ip::make_address(host, ec);
    if (ec) return Status(Code::kInvalidArgument, "not an IP address: " + host);
    {
      std::lock_guard lock(mu_);
      if (stopped_) return Status(Code::kUnavailable, "forwarder stopped");
      if (port != 0 && listeners_.contains(key(host, port))) {
        return Status(Code::kAlreadyExists, "already listening on " + key(host, port));
      }
    }
    auto l = std::make_shared<Listener>();
    tcp::endpoint ep(addr, port);
    // Without SO_REUSEPORT only one socket may bind: put it on the next worker in turn.
    const std::size_t count = options_.reuse_port ? workers_.size() : 1;
    const std::size_t first = options_.reuse_port ? 0 : next_worker_++ % workers_.size();
    for (std::size_t i = 0; i < count; ++i) {
      Worker* w = workers_[(first + i) % workers_.size()].get();
      auto a = open_acceptor(w->io, ep, options_.reuse_port);
      if (!a.ok()) {
        return Status(Code::kUnavailable, fmt::format("cannot listen on {}: {}", key(host, port),
                                                      a.status().message()));
      }
      ep.port((*a)->local_endpoint(ec).port());  // the others join the port the first got
      l->acceptors.emplace_back(w, *a);
    }
    const std::uint16_t bound = ep.port();
    {
      std::lock_guard lock(mu_);
      if (stopped_) return Status(Code::kUnavailable, "forwarder stopped");
      l->target->pool = pool;
      listeners_[key(host, bound)] = l;
    }
    for (auto& [w, a] : l->acceptors) {
      net::co_spawn(w->io, accept_loop(l->target, w, a), net::detached);
    }
    return bound;
  }

  Status retarget(const std::string& host, std::uint16_t port, const std::string& pool) override {
    std::lock_guard lock(mu_);
    auto it = listeners_.find(key(host, port));
    if (it == listeners_.end()) return Status(Code::kNotFound, "no listener on " + key(host, port));
    it->second->target->pool = pool;
    return Status();
  }

  void unlisten(const std::string& host, std::uint16_t port) override {
    std::shared_ptr<Listener> l;
    {
      std::lock_guard lock(mu_);
      auto it = listeners_.find(key(host, port));
      if (it == listeners_.end()) return;
      l = std::move(it->second);
      listeners_.erase(it);
    }
    close_acceptors(l);
  }

  std::size_t listener_count() const override {
    std::lock_guard lock(mu_);
    return listeners_.size();
  }

  PoolStats stats(const std::string& pool) const override {
    std::shared_ptr<Pool> p;
    {
      std::lock_guard lock(mu_);
      auto it = pools_.find(pool);
      if (it == pools_.end()) return {};
      p = it->second;
    }
    PoolStats s{.connections = p->connections.load(),
                .active = p->active.load(),
                .bytes_to_backend = p->to_backend.load(),
                .bytes_to_client = p->to_client.load(),
                .errors = p->errors.load(),
                .no_endpoint = p->no_endpoint.load(),
                .connect_failures = p->connect_failures.load(),
                .connects = p->connects.load(),
                .connect_micros = p->connect_micros.load()};
    for (std::size_t i = 0; i < s.connect_latency_buckets.size(); ++i) {
      s.connect_latency_buckets[i] = p->latency[i].load();
    }
    return s;
  }

  void stop() override {
    std::map<std::string, std::shared_ptr<Listener>> listeners;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      listeners.swap(listeners_);
    }
    // Close everything on each network thread, let the coroutines end, then join.
    for (auto& [k, l] : listeners) close_acceptors(l);
    std::size_t running = 0;
    for (auto& w : workers_) {
      if (!w->thread.joinable()) continue;
      ++running;
      net::post(w->io, [w = w.get()] {
        for (auto& [id, weak] : w->conns) {
          if (auto c = weak.lock()) c->close();
        }
      });
      w->work.reset();
    }
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(2), [&] { return finished_ >= running; });
    }
    for (auto& w : workers_) {
      w->io.stop();
      if (w->thread.joinable()) w->thread.join();
    }
  }

 private:
  static std::string key(const std::string& host, std::uint16_t port) {
    return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                               : fmt::format("{}:{}", host, port);
  }

  static void close_acceptors(const std::shared_ptr<Listener>& l) {
    for (auto& [w, a] : l->acceptors) {
      net::post(w->io, [a = a] {
        error_code ec;
        a->close(ec);
      });
    }
  }

  std::shared_ptr<Pool> find_pool(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = pools_.find(name);
    return it == pools_.end() ? nullptr : it->second;
  }

  // Accepts until the backlog is empty (accept4: non-blocking, close-on-exec in one call), then
  // waits for the next connection.
  net::awaitable<void> accept_loop(std::shared_ptr<Target> target, Worker* w,
                                   std::shared_ptr<tcp::acceptor> a) {
    error_code ec;
    a->non_blocking(true, ec);
    const tcp protocol = a->local_endpoint(ec).protocol();
    for (;;) {
      const int fd = ::accept4(a->native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN) {
          auto [wec] = co_await a->async_wait(tcp::acceptor::wait_read, kTuple);
          if (wec || !a->is_open()) co_return;
          continue;
        }
        if (!a->is_open()) co_return;
        // Out of descriptors and the like: breathe, then go on.
        net::steady_timer t(w->io);
        t.expires_after(std::chrono::milliseconds(50));
        co_await t.async_wait(kTuple);
        if (!a->is_open()) co_return;
        continue;
      }
      tcp::socket sock(w->io);
      sock.assign(protocol, fd, ec);
      if (ec) {
        ::close(fd);
        continue;
      }
      std::string pool;
      {
        std::lock_guard lock(mu_);
        pool = target->pool;
      }
      net::co_spawn(w->io, serve(std::move(sock), find_pool(pool), w), net::detached);
    }
  }

  // What a new connection tries: the backends (a snapshot), where to start, and the client's
  // affine backend if any.
  struct Plan {
    std::shared_ptr<const std::vector<tcp::endpoint>> backends;
    std::size_t start = 0;
    std::optional<tcp::endpoint> affine;
    std::string client_ip;  // set only under ClientIP affinity
  };

  static Plan plan_for(Pool& pool, const tcp::socket& client) {
    Plan plan;
    bool affinity = false;
    {
      std::lock_guard lock(pool.mu);
      plan.backends = pool.backends;
      if (!plan.backends->empty()) plan.start = pool.next++ % plan.backends->size();
      affinity = pool.client_ip_affinity;
    }
    if (!affinity || plan.backends->empty()) return plan;
    error_code ec;
    plan.client_ip = client.remote_endpoint(ec).address().to_string();
    std::lock_guard lock(pool.mu);
    auto it = pool.affinity.find(plan.client_ip);
    if (it != pool.affinity.end() && it->second.second > std::chrono::steady_clock::now()) {
      plan.affine = it->second.first;
    }
    return plan;
  }

  static void remember(Pool& pool, const Plan& plan, const tcp::endpoint& b) {
    if (plan.client_ip.empty()) return;
    std::lock_guard lock(pool.mu);
    if (!pool.client_ip_affinity) return;
    pool.affinity[plan.client_ip] = {b, std::chrono::steady_clock::now() + pool.affinity_timeout};
  }

  // Connects to `ep` within the connect timeout; the socket, or nullopt. A connect that completes
  // at once (loopback) costs no timer.
  net::awaitable<std::optional<tcp::socket>> connect(Worker* w, const tcp::endpoint& ep) {
    const int fd = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) co_return std::nullopt;
    tcp::socket s(w->io);
    error_code ec;
    s.assign(ep.protocol(), fd, ec);
    if (ec) {
      ::close(fd);
      co_return std::nullopt;
    }
    if (::connect(s.native_handle(), ep.data(), static_cast<socklen_t>(ep.size())) == 0) {
      co_return std::optional<tcp::socket>(std::move(s));
    }
    if (errno != EINPROGRESS) co_return std::nullopt;
    net::steady_timer timer(w->io);
    timer.expires_after(options_.connect_timeout);
    timer.async_wait([&s](error_code e) {
      if (!e) {
        error_code ig;
        s.close(ig);
      }
    });
    auto [wec] = co_await s.async_wait(tcp::socket::wait_write, kTuple);
    timer.cancel();
    int err = 0;
    socklen_t len = sizeof err;
    if (wec || !s.is_open() ||
        ::getsockopt(s.native_handle(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      co_return std::nullopt;
    }
    co_return std::optional<tcp::socket>(std::move(s));
  }

  net::awaitable<void> serve(tcp::socket client, std::shared_ptr<Pool> pool, Worker* w) {
    if (!pool) {
      reset(client);
      co_return;
    }
    pool->connections.fetch_add(1, std::memory_order_relaxed);
    Plan plan = plan_for(*pool, client);
    const auto& bs = *plan.backends;
    if (bs.empty()) pool->no_endpoint.fetch_add(1, std::memory_order_relaxed);
    std::optional<tcp::socket> backend;
    // The affine backend first (when it is still in the pool), then round robin.
    const std::size_t skip = plan.affine ? 1 : 0;
    for (std::size_t i = 0; i < bs.size() + skip && !backend; ++i) {
      const tcp::endpoint ep = i < skip ? *plan.affine : bs[(plan.start + i - skip) % bs.size()];
      if (i >= skip && plan.affine && ep == *plan.affine) continue;  // tried first already
      const auto t0 = std::chrono::steady_clock::now();
      backend = co_await connect(w, ep);
      if (backend) {
        pool->record_connect(std::chrono::steady_clock::now() - t0);
        remember(*pool, plan, ep);
        break;
      }
      pool->connect_failures.fetch_add(1, std::memory_order_relaxed);
      ORCH_VLOG(3, options_.log_component, "backend {}:{} did not accept a connection",
                ep.address().to_string(), ep.port());
      if (stopping()) break;
    }
    if (!backend) {
      pool->errors.fetch_add(1, std::memory_order_relaxed);
      ORCH_VLOG(3, options_.log_component, "connection reset: {}",
                bs.empty() ? "the service has no ready endpoint" : "no endpoint accepted it");
      reset(client);
      co_return;
    }
    error_code ec;
    backend->set_option(tcp::no_delay(true), ec);  // the client's came from the listener
    auto conn = std::make_shared<Conn>(std::move(client), std::move(*backend), pool);
    const std::uint64_t id = w->next_conn++;
    w->conns[id] = conn;
    net::co_spawn(w->io, pump(conn, id, w, false), net::detached);
    co_await pump(std::move(conn), id, w, true);
  }

  bool stopping() const {
    std::lock_guard lock(mu_);
    return stopped_;
  }

  // Moves bytes one way until EOF (then half-closes the other side) or an error (then closes
  // both). Small messages are copied through a small buffer (cheaper than splicing them: about two
  // system calls a message, as haproxy); once a read fills that buffer the flow is bulk and the
  // rest moves with splice(2) through a pipe, no copy into user space. In splice mode readiness is
  // awaited only after splice said EAGAIN (the reactor is edge-triggered).
  static net::awaitable<void> pump(std::shared_ptr<Conn> c, std::uint64_t id, Worker* w,
                                   bool to_backend) {
    tcp::socket& src = to_backend ? c->client : c->backend;
    tcp::socket& dst = to_backend ? c->backend : c->client;
    auto& counter = to_backend ? c->pool->to_backend : c->pool->to_client;
    std::array<char, kCopyBuffer> buf;
    Pipe pipe;
    bool failed = false;
    while (!failed && !pipe.ok()) {  // copy mode
      // Asio's read is speculative: it tries recv at once, and after a short read (the socket
      // drained) waits for the next edge without asking epoll again.
      auto [rec, n] = co_await src.async_read_some(net::buffer(buf), kTuple);
      if (rec) {
        failed = rec != net::error::eof;
        break;
      }
      counter.fetch_add(n, std::memory_order_relaxed);
      const ssize_t sent = ::send(dst.native_handle(), buf.data(), n, MSG_NOSIGNAL);
      if (sent < 0 && errno != EAGAIN && errno != EINTR) {
        failed = true;
        break;
      }
      const std::size_t done = sent > 0 ? static_cast<std::size_t>(sent) : 0;
      if (done < n) {  // the peer's window is full: wait for it
        auto [wec, m] = co_await net::async_write(dst, net::buffer(buf.data() + done, n - done), kTuple);
        failed = static_cast<bool>(wec);
      }
      if (!failed && n == buf.size()) {
        pipe = w->take_pipe();
        failed = !pipe.ok();
      }
    }
    while (!failed && pipe.ok()) {  // splice mode
      const ssize_t n = ::splice(src.native_handle(), nullptr, pipe.fd[1], nullptr, kChunk,
                                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n == 0) break;
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          auto [wec] = co_await src.async_wait(tcp::socket::wait_read, kTuple);
          failed = static_cast<bool>(wec);
        } else {
          failed = true;
        }
        continue;
      }
      counter.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
      ssize_t left = n;
      while (left > 0 && !failed) {
        const ssize_t m = ::splice(pipe.fd[0], nullptr, dst.native_handle(), nullptr,
                                   static_cast<std::size_t>(left), SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (m > 0) {
          left -= m;
        } else if (m < 0 && (errno == EAGAIN || errno == EINTR)) {
          auto [wec] = co_await dst.async_wait(tcp::socket::wait_write, kTuple);
          failed = static_cast<bool>(wec);
        } else {
          failed = true;
        }
      }
    }
    if (failed) {
      c->close();
    } else {  // EOF: pass the half-close on; a pipe is empty and may serve another connection
      error_code ec;
      dst.shutdown(tcp::socket::shutdown_send, ec);
      w->give_back(std::move(pipe));
    }
    if (--c->pumps_left == 0) w->conns.erase(id);
  }

  // Const after construction.
  const ForwarderOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;

  mutable std::mutex mu_;  // lock order: before any Pool::mu
  std::condition_variable cv_;
  // Guarded by mu_.
  std::map<std::string, std::shared_ptr<Pool>> pools_;
  std::map<std::string, std::shared_ptr<Listener>> listeners_;
  bool stopped_ = false;
  std::size_t finished_ = 0;
  std::atomic<std::size_t> next_worker_{0};
};

}  // namespace

Result<std::unique_ptr<Forwarder>> Forwarder::start(ForwarderOptions options) {
  auto f = std::make_unique<ForwarderImpl>(options);
  ORCH_TRY(f->run());
  return std::unique_ptr<Forwarder>(std::move(f));
}

}  // namespace orch::proxy
