// HttpServer implementation: one network thread running an io_context, a worker pool for the
// handler, one coroutine per connection (Beast), and one waiter per streaming response.
//
// Thread-safety: the connection table and every socket live on the network thread; other threads
// reach them only by posting to it. The handler runs on the pool.
#include "orch/apiserver/http_server.hpp"

#include <atomic>
#include <charconv>
#include <future>
#include <map>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "http_util.hpp"
#include "orch/apiserver/status_body.hpp"
#include "orch/pki/tls.hpp"
#include "takeover.hpp"

namespace orch::apiserver {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

// Longest a streaming response sleeps between polls when nothing notifies it.
constexpr std::chrono::seconds kStreamRecheck{30};
// An oversize request's body is read and dropped up to this size before the connection closes.
constexpr std::uint64_t kMaxDrainBytes = 64ull << 20;
constexpr std::chrono::seconds kDrainTimeout{10};
// Longest one write may take before the peer is considered gone.
constexpr std::chrono::seconds kWriteTimeout{60};

// What stop() needs of a connection, whatever its stream type.
struct ConnectionBase {
  virtual ~ConnectionBase() = default;
  virtual void close() = 0;
  bool idle = true;                        // waiting for a request (safe to close on stop)
  std::function<void()> wake_stream;       // set while streaming: ends the wait at once
};

// Stream: beast::tcp_stream (HTTP) or pki::TlsStream (HTTPS).
template <typename Stream>
struct Connection final : ConnectionBase {
  template <typename... Args>
  explicit Connection(Args&&... args) : stream(std::forward<Args>(args)...) {}
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream); }
  void close() override {
    boost::system::error_code ignored;
    lowest().socket().close(ignored);
  }
  Stream stream;
};

constexpr bool kIsTls(const beast::tcp_stream*) { return false; }
constexpr bool kIsTls(const pki::TlsStream*) { return true; }

// Constant-time comparison, so a token cannot be guessed byte by byte from response times.
bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

// Wakes a streaming response's coroutine from any thread.
struct Waker {
  explicit Waker(net::any_io_executor ex) : timer(ex) {}
  net::steady_timer timer;
  std::atomic<bool> pending{false};
  bool client_gone = false;  // network thread only
};

class HttpServerImpl final : public HttpServer {
 public:
  HttpServerImpl(const HttpServerOptions& options, Handler& handler)
      : options_(options),
        handler_(handler),
        pool_(static_cast<std::size_t>(std::max(1, options.worker_threads))),
        acceptor_(ioc_) {}

  ~HttpServerImpl() override { stop(std::chrono::milliseconds(5000)); }

  Status listen() {
    if (options_.tls_cert_pem.empty() != options_.tls_key_pem.empty()) {
      return Status(Code::kInvalidArgument, "TLS needs both a certificate and a key");
    }
    if (!options_.tls_cert_pem.empty()) {
      ORCH_ASSIGN_OR_RETURN(tls_, pki::make_server_context(
                                      {options_.tls_cert_pem, options_.tls_key_pem}));
    }
    boost::system::error_code ec;
    auto addr = net::ip::make_address(options_.address, ec);
    if (ec) return Status(Code::kInvalidArgument, "bad listen address \"" + options_.address + "\"");
    tcp::endpoint ep(addr, options_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return unavailable("cannot listen on " + options_.address + ":" +
                         std::to_string(options_.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(ioc_, accept_loop(), net::detached);
    io_thread_ = std::thread([this] { ioc_.run(); });
    return Status();
  }

  std::uint16_t port() const override { return port_; }
  std::string url() const override {
    return std::string(tls_ ? "https://" : "http://") + host_for_url(options_.address) + ":" +
           std::to_string(port_);
  }

  void stop(std::chrono::milliseconds grace) override {
    std::lock_guard stop_lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    if (io_thread_.joinable()) {
      // Phase 1: stop accepting, close idle connections, end streams; busy ones finish.
      std::promise<void> drained;
      auto drained_future = drained.get_future();
      net::post(ioc_, [this, &drained] {
        stopping_ = true;
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        for (auto& [id, c] : conns_) {
          if (c->idle) c->close();
          if (c->wake_stream) c->wake_stream();
        }
        on_drained_ = [&drained] { drained.set_value(); };
        if (conns_.empty()) std::exchange(on_drained_, nullptr)();
      });
      if (drained_future.wait_for(grace) != std::future_status::ready) {
        // Phase 2: the grace period is over; close what is left.
        std::promise<void> closed;
        net::post(ioc_, [this, &closed] {
          boost::system::error_code ignored;
          for (auto& [id, c] : conns_) c->close();
          on_drained_ = nullptr;
          closed.set_value();
        });
        closed.get_future().wait();
      }
      ioc_.stop();
      io_thread_.join();
    }
    pool_.join();
  }

 private:
  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (ec) {
        if (stopping_ || ec == net::error::operation_aborted) co_return;
        continue;  // a failed accept (EMFILE, aborted handshake) must not end the server
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto id = next_id_++;
      if (tls_) {
        auto conn = std::make_shared<Connection<pki::TlsStream>>(std::move(socket), *tls_);
        conns_.emplace(id, conn);
        net::co_spawn(ioc_, session(id, conn), net::detached);
      } else {
        auto conn = std::make_shared<Connection<beast::tcp_stream>>(std::move(socket));
        conns_.emplace(id, conn);
        net::co_spawn(ioc_, session(id, conn), net::detached);
      }
    }
  }

  void forget(std::uint64_t id) {
    conns_.erase(id);
    if (conns_.empty() && on_drained_) std::exchange(on_drained_, nullptr)();
  }

  static std::string remote_of(beast::tcp_stream& s) {
    boost::system::error_code ec;
    auto ep = s.socket().remote_endpoint(ec);
    return ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  template <typename Stream>
  net::awaitable<void> session(std::uint64_t id, std::shared_ptr<Connection<Stream>> c) {
    beast::flat_buffer buffer;
    const std::string remote = remote_of(c->lowest());
    bool bridged = false;  // a TLS connection handed to a bridge's pump, which closes it
    bool streamed = false;  // watch_for_eof may still be reading: no TLS shutdown then
    if constexpr (kIsTls(static_cast<Stream*>(nullptr))) {
      c->lowest().expires_after(options_.read_timeout);
      auto [hec] = co_await c->stream.async_handshake(pki::TlsStream::server, kTuple);
      if (hec) {
        c->close();
        forget(id);
        co_return;
      }
    }
    while (!stopping_) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options_.max_body_bytes);
      parser.header_limit(64 * 1024);
      c->idle = true;
      c->lowest().expires_after(options_.read_timeout);
      auto [ec, n] = co_await http::async_read(c->stream, buffer, parser, kTuple);
      c->idle = false;
      if (ec == http::error::body_limit) {
        Response too_large = status_response(
            Status(Code::kTooLarge, "the request body is larger than " +
                                        std::to_string(options_.max_body_bytes) + " bytes"));
        co_await write_plain(*c, too_large, 11, false);
        // Drain what the client is still sending (bounded), so it reads our answer instead of
        // failing on a reset connection.
        std::uint64_t left = 0;
        {
          auto cl = parser.get()[http::field::content_length];
          std::from_chars(cl.data(), cl.data() + cl.size(), left);
        }
        if (left <= kMaxDrainBytes) {
          left -= std::min<std::uint64_t>(left, buffer.size());
          char scratch[16384];
          c->lowest().expires_after(kDrainTimeout);
          while (left > 0) {
            auto [dec, dn] = co_await c->stream.async_read_some(net::buffer(scratch), kTuple);
            if (dec) break;
            left -= std::min<std::uint64_t>(left, dn);
          }
        }
        break;
      }
      if (ec) break;  // EOF, timeout, reset, or closed by stop()
      auto& req = parser.get();
      const bool keep_alive = req.keep_alive();
      const unsigned version = req.version();
      Request request = to_request(req, remote);

      // A coroutine function, not a lambda with captures: GCC 12 mis-copies closure objects
      // holding strings into coroutine frames. `request` lives in this frame until it returns.
      Response response = co_await net::co_spawn(pool_, run_handler(&request), net::use_awaitable);

      if (response.takeover) {
        // pods/log, pods/portforward: the connection is the answer. stop() ends it by closing
        // the socket.
        if constexpr (kIsTls(static_cast<Stream*>(nullptr))) {
          // The takeover speaks plaintext to a bridge; the pump owns the TLS connection now.
          auto plain = pki::bridge(std::shared_ptr<pki::TlsStream>(c, &c->stream), c);
          if (!plain.ok()) break;
          bridged = true;
          auto local = std::make_shared<beast::tcp_stream>(std::move(*plain));
          c->wake_stream = [c, local] {
            boost::system::error_code ignored;
            local->socket().close(ignored);
            c->close();
          };
          co_await response.takeover->run(*local, buffer, request);
          boost::system::error_code ignored;
          local->socket().close(ignored);
        } else {
          Connection<Stream>* raw = c.get();
          c->wake_stream = [raw] { raw->close(); };
          co_await response.takeover->run(c->stream, buffer, request);
        }
        c->wake_stream = nullptr;
        break;
      }
      if (response.stream) {
        co_await write_stream(c, response, version);
        streamed = true;
        break;  // a streamed response ends its connection
      }
      if (!co_await write_plain(*c, response, version, keep_alive && !stopping_)) break;
      if (!keep_alive) break;
    }
    if (!bridged) {
      if constexpr (kIsTls(static_cast<Stream*>(nullptr))) {
        if (!streamed) {
          // close_notify, bounded: a peer that does not answer is closed on anyway.
          c->lowest().expires_after(std::chrono::seconds(2));
          co_await c->stream.async_shutdown(kTuple);
        }
      }
      boost::system::error_code ignored;
      c->lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      c->close();
    }
    forget(id);
  }

  // The response to a request that may not pass: nullopt when it may.
  std::optional<Response> authenticate(const Request& request) const {
    if (options_.bearer_tokens.empty()) return std::nullopt;
    for (const auto& p : options_.public_paths) {
      if (request.path == p || (p.ends_with('/') && request.path.starts_with(p))) return std::nullopt;
    }
    std::string_view auth = request.header("authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.size() > kBearer.size() &&
        std::equal(kBearer.begin(), kBearer.end(), auth.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      std::string_view token = auth.substr(kBearer.size());
      while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
      bool ok = false;
      for (const auto& t : options_.bearer_tokens) ok |= same_secret(token, t);
      if (ok) return std::nullopt;
    }
    return status_response(Status(Code::kUnauthenticated, "Unauthorized"));
  }

  net::awaitable<Response> run_handler(const Request* request) {
    try {
      if (auto denied = authenticate(*request)) co_return std::move(*denied);
      if (options_.pre_handler) {
        if (auto answer = options_.pre_handler(*request)) co_return std::move(*answer);
      }
      co_return handler_.handle(*request);
    } catch (const std::exception& e) {
      co_return status_response(internal_error(e.what()));
    } catch (...) {
      co_return status_response(internal_error("unknown error"));
    }
  }

  // Ends when the peer closes (or the socket is closed): marks the client gone, wakes the writer.
  // Holds the connection: a TLS stream must outlive its pending read.
  template <typename Stream>
  static net::awaitable<void> watch_for_eof(std::shared_ptr<Connection<Stream>> c,
                                            std::shared_ptr<Waker> waker) {
    char scratch[256];
    for (;;) {
      auto [ec, n] = co_await c->stream.async_read_some(net::buffer(scratch), kTuple);
      if (ec) {
        waker->client_gone = true;
        waker->timer.cancel();
        co_return;
      }
    }
  }

  static Request to_request(http::request<http::string_body>& req, const std::string& remote) {
    Request r;
    r.method = std::string(req.method_string());
    split_target(req.target(), r.path, r.query);
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      r.headers[name] = std::string(f.value());
    }
    r.body = std::move(req.body());
    r.remote = remote;
    return r;
  }

  template <typename Message>
  static void set_headers(Message& m, const Response& r) {
    m.set(http::field::content_type, r.content_type);
    m.set(http::field::cache_control, "no-cache, private");
    for (const auto& [k, v] : r.headers) m.insert(k, v);
  }

  // Returns whether the connection is still usable.
  template <typename Stream>
  net::awaitable<bool> write_plain(Connection<Stream>& c, Response& r, unsigned version,
                                   bool keep_alive) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    set_headers(res, r);
    res.body() = std::move(r.body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    c.lowest().expires_after(kWriteTimeout);
    auto [ec, n] = co_await http::async_write(c.stream, res, kTuple);
    co_return !ec;
  }

  template <typename Stream>
  net::awaitable<void> write_stream(std::shared_ptr<Connection<Stream>> conn, Response& r,
                                    unsigned version) {
    Connection<Stream>& c = *conn;
    auto stream = r.stream;
    http::response<http::empty_body> res{static_cast<http::status>(r.status), version};
    set_headers(res, r);
    res.chunked(true);
    res.keep_alive(false);
    http::response_serializer<http::empty_body> sr{res};
    c.lowest().expires_after(kWriteTimeout);
    auto [hec, hn] = co_await http::async_write_header(c.stream, sr, kTuple);
    if (hec) {
      stream->close();
      co_return;
    }

    auto ex = co_await net::this_coro::executor;
    auto waker = std::make_shared<Waker>(ex);
    std::weak_ptr<Waker> weak = waker;
    auto wake = [weak, ex] {
      if (auto w = weak.lock()) {
        w->pending = true;
        net::post(ex, [weak] {
          if (auto w2 = weak.lock()) w2->timer.cancel();
        });
      }
    };
    stream->set_notify(wake);
    c.wake_stream = wake;

    // The client sends nothing on a watch; a completed read means it went away.
    net::co_spawn(ex, watch_for_eof(conn, waker), net::detached);

    bool write_failed = false;
    for (;;) {
      auto chunks = stream->poll(std::chrono::milliseconds(0));
      if (!chunks) break;  // ended
      if (!chunks->empty()) {
        std::string joined;
        for (auto& s : *chunks) joined += s;
        if (joined.empty()) continue;  // a zero-length chunk would end the body
        c.lowest().expires_after(kWriteTimeout);
        auto [ec, n] = co_await net::async_write(c.stream, http::make_chunk(net::buffer(joined)),
                                                 kTuple);
        if (ec) {
          write_failed = true;
          break;
        }
        continue;
      }
      if (waker->client_gone || stopping_) break;
      if (!waker->pending.exchange(false)) {
        const auto now = std::chrono::steady_clock::now();
        const auto deadline = stream->deadline();
        waker->timer.expires_at(deadline - now < kStreamRecheck ? deadline : now + kStreamRecheck);
        co_await waker->timer.async_wait(kTuple);
      }
    }
    c.wake_stream = nullptr;
    stream->set_notify(nullptr);
    stream->close();
    if (!write_failed && !waker->client_gone) {
      c.lowest().expires_after(kWriteTimeout);
      co_await net::async_write(c.stream, http::make_chunk_last(), kTuple);
    }
  }

  const HttpServerOptions options_;
  Handler& handler_;

  net::io_context ioc_{1};
  net::thread_pool pool_;
  tcp::acceptor acceptor_;
  std::thread io_thread_;
  std::uint16_t port_ = 0;

  std::shared_ptr<pki::TlsContext> tls_;  // set by listen() when serving HTTPS

  // Network thread only:
  std::map<std::uint64_t, std::shared_ptr<ConnectionBase>> conns_;
  std::uint64_t next_id_ = 1;
  std::function<void()> on_drained_;
  std::atomic<bool> stopping_{false};

  std::mutex stop_mu_;  // guards stopped_; held for the whole of stop()
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(const HttpServerOptions& options,
                                                      Handler& handler) {
  auto server = std::make_unique<HttpServerImpl>(options, handler);
  ORCH_TRY(server->listen());
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace orch::apiserver
