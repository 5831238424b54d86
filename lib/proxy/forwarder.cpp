// Forwarder: one io_context on one thread. Pools live under mu_ (read at accept time); listeners
// and connections live on the network thread (created elsewhere, then only touched there).
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

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

namespace orch::proxy {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);
// Bytes moved per splice call (the default pipe capacity).
constexpr std::size_t kChunk = 64 * 1024;

struct Pool {
  // Guarded by the forwarder's mu_.
  PoolConfig config;
  std::size_t next = 0;
  std::unordered_map<std::string, std::pair<Backend, std::chrono::steady_clock::time_point>>
      affinity;
  // Lock-free counters.
  std::atomic<std::uint64_t> connections{0}, active{0}, to_backend{0}, to_client{0}, errors{0},
      connect_failures{0}, connect_micros{0};
};

struct Listener {
  explicit Listener(tcp::acceptor a) : acceptor(std::move(a)) {}
  tcp::acceptor acceptor;  // network thread only (after creation)
  std::string pool;        // guarded by the forwarder's mu_
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

// A pipe for splice; closed on destruction.
struct Pipe {
  int fd[2] = {-1, -1};
  bool open() { return ::pipe2(fd, O_NONBLOCK | O_CLOEXEC) == 0; }
  ~Pipe() {
    if (fd[0] >= 0) ::close(fd[0]);
    if (fd[1] >= 0) ::close(fd[1]);
  }
};

// Resets `s` (RST instead of FIN): the client learns at once that nobody serves it.
void reset(tcp::socket& s) {
  error_code ec;
  s.set_option(net::socket_base::linger(true, 0), ec);
  s.close(ec);
}

class ForwarderImpl final : public Forwarder {
 public:
  explicit ForwarderImpl(ForwarderOptions options)
      : options_(options), work_(net::make_work_guard(io_)) {}
  ~ForwarderImpl() override { stop(); }

  Status run() {
    try {
      thread_ = std::thread([this] {
        io_.run();
        std::lock_guard lock(mu_);
        finished_ = true;
        cv_.notify_all();
      });
    } catch (const std::exception& e) {
      return Status(Code::kInternal, std::string("forwarder thread: ") + e.what());
    }
    return Status();
  }

  void set_pool(const std::string& name, PoolConfig config) override {
    std::lock_guard lock(mu_);
    auto& p = pools_[name];
    if (!p) p = std::make_shared<Pool>();
    p->config = std::move(config);
    // Affinity to a backend that left is forgotten.
    for (auto it = p->affinity.begin(); it != p->affinity.end();) {
      bool present = false;
      for (const auto& b : p->config.backends) present = present || b == it->second.first;
      it = present ? std::next(it) : p->affinity.erase(it);
    }
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
    tcp::endpoint ep(addr, port);
    tcp::acceptor acceptor(io_);
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec && options_.reuse_port) {
      int one = 1;
      if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        ec = error_code(errno, boost::system::system_category());
      }
    }
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status(Code::kUnavailable,
                    fmt::format("cannot listen on {}: {}", key(host, port), ec.message()));
    }
    const std::uint16_t bound = acceptor.local_endpoint(ec).port();
    auto l = std::make_shared<Listener>(std::move(acceptor));
    {
      std::lock_guard lock(mu_);
      l->pool = pool;
      listeners_[key(host, bound)] = l;
    }
    net::co_spawn(io_, accept_loop(l), net::detached);
    return bound;
  }

  Status retarget(const std::string& host, std::uint16_t port, const std::string& pool) override {
    std::lock_guard lock(mu_);
    auto it = listeners_.find(key(host, port));
    if (it == listeners_.end()) return Status(Code::kNotFound, "no listener on " + key(host, port));
    it->second->pool = pool;
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
    net::post(io_, [l] {
      error_code ec;
      l->acceptor.close(ec);
    });
  }

  std::size_t listener_count() const override {
    std::lock_guard lock(mu_);
    return listeners_.size();
  }

  PoolStats stats(const std::string& pool) const override {
    std::lock_guard lock(mu_);
    auto it = pools_.find(pool);
    if (it == pools_.end()) return {};
    const Pool& p = *it->second;
    return PoolStats{p.connections.load(), p.active.load(),     p.to_backend.load(),
                     p.to_client.load(),   p.errors.load(),     p.connect_failures.load(),
                     p.connect_micros.load()};
  }

  void stop() override {
    std::map<std::string, std::shared_ptr<Listener>> listeners;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      listeners.swap(listeners_);
    }
    if (!thread_.joinable()) return;
    // Close everything on the network thread, let the coroutines end, then join.
    net::post(io_, [this, listeners] {
      for (auto& [k, l] : listeners) {
        error_code ec;
        l->acceptor.close(ec);
      }
      for (auto& [id, weak] : conns_) {
        if (auto c = weak.lock()) c->close();
      }
    });
    work_.reset();
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(2), [this] { return finished_; });
    }
    io_.stop();
    thread_.join();
  }

 private:
  static std::string key(const std::string& host, std::uint16_t port) {
    return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                               : fmt::format("{}:{}", host, port);
  }

  net::awaitable<void> accept_loop(std::shared_ptr<Listener> l) {
    for (;;) {
      auto [ec, sock] = co_await l->acceptor.async_accept(kTuple);
      if (ec) {
        if (ec == net::error::operation_aborted || !l->acceptor.is_open()) co_return;
        // Out of descriptors and the like: breathe, then go on.
        net::steady_timer t(io_);
        t.expires_after(std::chrono::milliseconds(50));
        co_await t.async_wait(kTuple);
        continue;
      }
      std::string pool;
      {
        std::lock_guard lock(mu_);
        pool = l->pool;
      }
      net::co_spawn(io_, serve(std::move(sock), std::move(pool)), net::detached);
    }
  }

  // Backends in the order to try them: the affine one first, then round robin.
  std::vector<Backend> order_for(const std::shared_ptr<Pool>& pool, const std::string& client_ip) {
    std::lock_guard lock(mu_);
    std::vector<Backend> out;
    const auto& bs = pool->config.backends;
    if (bs.empty()) return out;
    if (pool->config.client_ip_affinity) {
      auto it = pool->affinity.find(client_ip);
      if (it != pool->affinity.end() && it->second.second > std::chrono::steady_clock::now()) {
        out.push_back(it->second.first);
      }
    }
    const std::size_t start = pool->next++ % bs.size();
    for (std::size_t i = 0; i < bs.size(); ++i) {
      const Backend& b = bs[(start + i) % bs.size()];
      if (out.empty() || !(out.front() == b)) out.push_back(b);
    }
    return out;
  }

  void remember(const std::shared_ptr<Pool>& pool, const std::string& client_ip, const Backend& b) {
    std::lock_guard lock(mu_);
    if (!pool->config.client_ip_affinity) return;
    pool->affinity[client_ip] = {b, std::chrono::steady_clock::now() + pool->config.affinity_timeout};
  }

  net::awaitable<void> serve(tcp::socket client, std::string pool_name) {
    std::shared_ptr<Pool> pool;
    {
      std::lock_guard lock(mu_);
      auto it = pools_.find(pool_name);
      if (it != pools_.end()) pool = it->second;
    }
    if (!pool) {
      reset(client);
      co_return;
    }
    pool->connections.fetch_add(1);
    error_code ec;
    const std::string client_ip = client.remote_endpoint(ec).address().to_string();
    tcp::socket backend(io_);
    bool connected = false;
    for (const Backend& b : order_for(pool, client_ip)) {
      error_code aec;
      auto addr = net::ip::make_address(b.host, aec);
      if (aec) continue;
      const auto t0 = std::chrono::steady_clock::now();
      tcp::socket s(io_);
      net::steady_timer timer(io_);
      timer.expires_after(options_.connect_timeout);
      timer.async_wait([&s](error_code e) {
        if (!e) {
          error_code ig;
          s.close(ig);
        }
      });
      auto [cec] = co_await s.async_connect(tcp::endpoint(addr, b.port), kTuple);
      timer.cancel();
      if (!cec && s.is_open()) {
        pool->connect_micros.fetch_add(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - t0)
                .count()));
        remember(pool, client_ip, b);
        backend = std::move(s);
        connected = true;
        break;
      }
      pool->connect_failures.fetch_add(1);
      if (stopping()) break;
    }
    if (!connected) {
      pool->errors.fetch_add(1);
      reset(client);
      co_return;
    }
    error_code nd;
    client.set_option(tcp::no_delay(true), nd);
    backend.set_option(tcp::no_delay(true), nd);
    auto conn = std::make_shared<Conn>(std::move(client), std::move(backend), pool);
    const std::uint64_t id = next_conn_++;
    conns_[id] = conn;
    net::co_spawn(io_, pump(conn, id, true), net::detached);
    net::co_spawn(io_, pump(conn, id, false), net::detached);
  }

  bool stopping() const {
    std::lock_guard lock(mu_);
    return stopped_;
  }

  // Moves bytes one way until EOF (then half-closes the other side) or an error (then closes
  // both).
  net::awaitable<void> pump(std::shared_ptr<Conn> c, std::uint64_t id, bool to_backend) {
    tcp::socket& src = to_backend ? c->client : c->backend;
    tcp::socket& dst = to_backend ? c->backend : c->client;
    auto& counter = to_backend ? c->pool->to_backend : c->pool->to_client;
    error_code ec;
    src.non_blocking(true, ec);
    dst.non_blocking(true, ec);
    Pipe pipe;
    bool failed = !pipe.open();
    while (!failed) {
      const ssize_t n = ::splice(src.native_handle(), nullptr, pipe.fd[1], nullptr, kChunk,
                                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n == 0) {  // EOF: pass the half-close on
        dst.shutdown(tcp::socket::shutdown_send, ec);
        break;
      }
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          auto [wec] = co_await src.async_wait(tcp::socket::wait_read, kTuple);
          if (wec) failed = true;
          continue;
        }
        failed = true;
        break;
      }
      counter.fetch_add(static_cast<std::uint64_t>(n));
      ssize_t left = n;
      while (left > 0) {
        const ssize_t m = ::splice(pipe.fd[0], nullptr, dst.native_handle(), nullptr,
                                   static_cast<std::size_t>(left), SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (m > 0) {
          left -= m;
          continue;
        }
        if (m < 0 && (errno == EAGAIN || errno == EINTR)) {
          auto [wec] = co_await dst.async_wait(tcp::socket::wait_write, kTuple);
          if (wec) {
            failed = true;
            break;
          }
          continue;
        }
        failed = true;
        break;
      }
    }
    if (failed) c->close();
    if (--c->pumps_left == 0) conns_.erase(id);
  }

  // Const after construction.
  const ForwarderOptions options_;

  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::thread thread_;

  mutable std::mutex mu_;  // lock order: leaf
  std::condition_variable cv_;
  // Guarded by mu_.
  std::map<std::string, std::shared_ptr<Pool>> pools_;
  std::map<std::string, std::shared_ptr<Listener>> listeners_;
  bool stopped_ = false;
  bool finished_ = false;
  // Network thread only.
  std::map<std::uint64_t, std::weak_ptr<Conn>> conns_;
  std::uint64_t next_conn_ = 0;
};

}  // namespace

Result<std::unique_ptr<Forwarder>> Forwarder::start(ForwarderOptions options) {
  auto f = std::make_unique<ForwarderImpl>(options);
  ORCH_TRY(f->run());
  return std::unique_ptr<Forwarder>(std::move(f));
}

}  // namespace orch::proxy
