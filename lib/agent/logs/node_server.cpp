// NodeServer: one network thread running an io_context; one coroutine per connection, kept in a
// session table that stop() closes. Port-forward splices with two pump coroutines and an idle
// watchdog; followed logs poll the log reader every 100 ms while watching for the client leaving.
//
// Thread-safety: the session table and every socket live on the network thread; stop() reaches
// them by posting to it.
#include "orch/agent/node_server.hpp"

#include <array>
#include <atomic>
#include <charconv>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include "orch/agent/container_log.hpp"
#include "orch/pki/tls.hpp"

namespace orch::agent {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using namespace net::experimental::awaitable_operators;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

constexpr std::chrono::seconds kRequestTimeout{30};
constexpr std::chrono::seconds kDialTimeout{10};
constexpr std::chrono::hours kIdleTimeout{4};
constexpr std::chrono::milliseconds kLogPoll{100};
constexpr std::string_view kUpgradeProtocol = "orch-portforward";

struct Session {
  explicit Session(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  std::shared_ptr<tcp::socket> peer;  // the pod side of a port-forward
  void close() {
    boost::system::error_code ignored;
    stream.socket().close(ignored);
    if (peer) peer->close(ignored);
  }
};

// Last activity of a spliced connection, for the idle watchdog.
struct Activity {
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
  void touch() { last = std::chrono::steady_clock::now(); }
};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Compares in time independent of where the strings differ.
bool token_matches(std::string_view given, std::string_view want) {
  if (given.size() != want.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i] ^ want[i]);
  }
  return diff == 0;
}

std::vector<std::string> split_path(std::string_view p) {
  std::vector<std::string> out;
  while (!p.empty()) {
    auto s = p.find('/');
    if (s == 0) {
      p.remove_prefix(1);
      continue;
    }
    out.emplace_back(p.substr(0, s));
    if (s == std::string_view::npos) break;
    p.remove_prefix(s + 1);
  }
  return out;
}

int http_code(const Status& s) {
  switch (s.code()) {
    case Code::kBadRequest:
    case Code::kInvalidArgument:
      return 400;
    case Code::kNotFound:
      return 404;
    case Code::kUnauthenticated:
      return 401;
    default:
      return http_status(s.code());
  }
}

// Copies `from` to `to` until EOF (then half-closes `to`) or an error (then closes both).
net::awaitable<void> pump(tcp::socket& from, tcp::socket& to, Activity& activity) {
  std::array<char, 32 * 1024> buf;
  for (;;) {
    auto [ec, n] = co_await from.async_read_some(net::buffer(buf), kTuple);
    if (n > 0) {
      activity.touch();
      auto [wec, wn] = co_await net::async_write(to, net::buffer(buf.data(), n), kTuple);
      if (wec) {
        boost::system::error_code ignored;
        from.close(ignored);
        to.close(ignored);
        co_return;
      }
    }
    if (ec) {
      boost::system::error_code ignored;
      if (ec == net::error::eof) {
        to.shutdown(tcp::socket::shutdown_send, ignored);
      } else {
        from.close(ignored);
        to.close(ignored);
      }
      co_return;
    }
  }
}

net::awaitable<void> idle_watchdog(Activity& activity, std::chrono::steady_clock::duration limit) {
  net::steady_timer timer(co_await net::this_coro::executor);
  for (;;) {
    auto due = activity.last + limit;
    if (std::chrono::steady_clock::now() >= due) co_return;
    timer.expires_at(std::min(due, std::chrono::steady_clock::now() + std::chrono::minutes(1)));
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) co_return;
  }
}

}  // namespace

struct NodeServer::Impl {
  explicit Impl(NodeServerOptions o) : options(std::move(o)), acceptor(ioc) {}

  NodeServerOptions options;
  std::shared_ptr<pki::TlsContext> tls;  // set by listen() when serving HTTPS
  net::io_context ioc{1};
  tcp::acceptor acceptor;
  std::thread thread;
  std::uint16_t port = 0;

  // Network thread only:
  std::map<std::uint64_t, std::shared_ptr<Session>> sessions;
  std::uint64_t next_id = 1;
  bool stopping = false;
  std::function<void()> on_drained;

  std::mutex stop_mu;  // guards stopped
  bool stopped = false;

  Status listen() {
    if (options.tls_cert_pem.empty() != options.tls_key_pem.empty()) {
      return invalid_argument("node server: TLS needs both a certificate and a key");
    }
    if (!options.tls_cert_pem.empty()) {
      ORCH_ASSIGN_OR_RETURN(tls, pki::make_server_context({options.tls_cert_pem, options.tls_key_pem}));
    }
    boost::system::error_code ec;
    auto addr = net::ip::make_address(options.address, ec);
    if (ec) return invalid_argument("bad listen address \"" + options.address + "\"");
    tcp::endpoint ep(addr, options.port);
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return unavailable(fmt::format("cannot listen on {}:{}: {}", options.address, options.port,
                                     ec.message()));
    }
    port = acceptor.local_endpoint().port();
    net::co_spawn(ioc, accept_loop(), net::detached);
    thread = std::thread([this] { ioc.run(); });
    return Status();
  }

  void stop() {
    std::lock_guard lock(stop_mu);
    if (stopped) return;
    stopped = true;
    if (!thread.joinable()) return;
    std::promise<void> drained;
    auto done = drained.get_future();
    net::post(ioc, [this, &drained] {
      stopping = true;
      boost::system::error_code ignored;
      acceptor.close(ignored);
      for (auto& [id, s] : sessions) s->close();
      on_drained = [&drained] { drained.set_value(); };
      if (sessions.empty()) std::exchange(on_drained, nullptr)();
    });
    // Closed sockets end every session promptly; the bound only guards against a bug.
    if (done.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      std::promise<void> cleared;
      net::post(ioc, [this, &cleared] {
        on_drained = nullptr;
        cleared.set_value();
      });
      cleared.get_future().wait();
    }
    ioc.stop();
    thread.join();
  }

  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kTuple);
      if (ec) {
        if (stopping || ec == net::error::operation_aborted) co_return;
        continue;
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (tls) {
        net::co_spawn(ioc, tls_session(std::move(socket)), net::detached);
      } else {
        start_session(std::move(socket));
      }
    }
  }

  void start_session(tcp::socket socket) {
    auto id = next_id++;
    auto s = std::make_shared<Session>(std::move(socket));
    sessions.emplace(id, s);
    net::co_spawn(ioc, session(id, s), net::detached);
  }

  // TLS first (bounded like a request header read), then a plain session over a bridge.
  net::awaitable<void> tls_session(tcp::socket socket) {
    auto stream = co_await pki::accept_tls(std::move(socket), *tls, kRequestTimeout);
    if (!stream.ok() || stopping) co_return;
    auto plain = pki::bridge(std::move(*stream));
    if (plain.ok()) start_session(std::move(*plain));
  }

  void forget(std::uint64_t id) {
    sessions.erase(id);
    if (sessions.empty() && on_drained) std::exchange(on_drained, nullptr)();
  }

  net::awaitable<void> session(std::uint64_t id, std::shared_ptr<Session> s) {
    beast::flat_buffer buffer;
    co_await serve(*s, buffer);
    s->close();
    forget(id);
  }

  static net::awaitable<bool> reply(Session& s, unsigned version, http::status status,
                                    std::string body) {
    http::response<http::string_body> res{status, version};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    if (!body.empty() && body.back() != '\n') body += '\n';
    res.body() = std::move(body);
    res.keep_alive(false);
    res.prepare_payload();
    s.stream.expires_after(kRequestTimeout);
    auto [ec, n] = co_await http::async_write(s.stream, res, kTuple);
    s.stream.expires_never();
    co_return !ec;
  }

  net::awaitable<void> serve(Session& s, beast::flat_buffer& buffer) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(64 * 1024);
    s.stream.expires_after(kRequestTimeout);
    auto [ec, n] = co_await http::async_read_header(s.stream, buffer, parser, kTuple);
    s.stream.expires_never();
    if (ec || stopping) co_return;
    auto& req = parser.get();
    const unsigned version = req.version();

    std::string_view auth = req[http::field::authorization];
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.size() <= kBearer.size() || !iequals(auth.substr(0, kBearer.size()), kBearer) ||
        !token_matches(auth.substr(kBearer.size()), options.token)) {
      co_await reply(s, version, http::status::unauthorized, "Unauthorized");
      co_return;
    }

    auto url = boost::urls::parse_origin_form(req.target());
    if (!url) {
      co_await reply(s, version, http::status::bad_request, "malformed request target");
      co_return;
    }
    std::vector<std::string> seg = split_path(url->path());
    std::map<std::string, std::string> query;
    for (auto p : url->params()) query[p.key] = p.value;

    if (req.method() != http::verb::get && req.method() != http::verb::post) {
      co_await reply(s, version, http::status::method_not_allowed, "method not allowed");
      co_return;
    }
    if (seg.size() == 4 && seg[0] == "containerLogs") {
      co_await serve_logs(s, version, seg[1], seg[2], seg[3], query);
      co_return;
    }
    if (seg.size() == 3 && seg[0] == "portForward") {
      bool upgrade = iequals(req[http::field::upgrade], kUpgradeProtocol);
      co_await serve_port_forward(s, buffer, version, seg[1], seg[2], query, upgrade);
      co_return;
    }
    co_await reply(s, version, http::status::not_found, "404 page not found");
  }

  Result<PodLocation> resolve(std::string_view ns, std::string_view name) {
    try {
      return options.resolve_pod(ns, name);
    } catch (...) {
      return internal_error("pod resolver failed");
    }
  }

  net::awaitable<void> serve_logs(Session& s, unsigned version, std::string ns, std::string pod,
                                  std::string container, std::map<std::string, std::string> query) {
    auto loc = resolve(ns, pod);
    if (!loc.ok()) {
      co_await reply(s, version, static_cast<http::status>(http_code(loc.status())),
                     loc.status().message());
      co_return;
    }
    auto options_or = parse_log_options(query, std::chrono::system_clock::now());
    if (!options_or.ok()) {
      co_await reply(s, version, http::status::bad_request, options_or.status().message());
      co_return;
    }
    auto reader_or = ContainerLogReader::open(loc->log_dir, container, *options_or, pod);
    if (!reader_or.ok()) {
      co_await reply(s, version, static_cast<http::status>(http_code(reader_or.status())),
                     reader_or.status().message());
      co_return;
    }
    auto reader = std::move(*reader_or);

    http::response<http::empty_body> res{http::status::ok, version};
    res.set(http::field::content_type, "text/plain");
    res.chunked(true);
    res.keep_alive(false);
    http::response_serializer<http::empty_body> sr{res};
    auto [hec, hn] = co_await http::async_write_header(s.stream, sr, kTuple);
    if (hec) co_return;

    Activity activity;
    net::steady_timer timer(ioc);
    std::array<char, 256> scratch;
    for (;;) {
      if (stopping) co_return;
      auto out = reader->read();
      if (!out) break;
      if (!out->empty()) {
        activity.touch();
        auto [wec, wn] = co_await net::async_write(
            s.stream.socket(), http::make_chunk(net::buffer(*out)), kTuple);
        if (wec) co_return;
        continue;
      }
      if (std::chrono::steady_clock::now() - activity.last > kIdleTimeout) co_return;
      if (options_or->follow && loc->container_running && !loc->container_running(container)) {
        reader->stop_following();  // the container exited: one last read, then the end
        continue;
      }
      // Nothing new: wait a poll period, or less if the client goes away.
      timer.expires_after(kLogPoll);
      auto which = co_await (timer.async_wait(kTuple) ||
                             s.stream.socket().async_read_some(net::buffer(scratch), kTuple));
      if (which.index() == 1) co_return;  // the client sent something or left: either way, done
    }
    co_await net::async_write(s.stream.socket(), http::make_chunk_last(), kTuple);
  }

  net::awaitable<void> serve_port_forward(Session& s, beast::flat_buffer& buffer, unsigned version,
                                          std::string ns, std::string pod,
                                          std::map<std::string, std::string> query, bool upgrade) {
    std::uint16_t port = 0;
    {
      auto it = query.find("port");
      std::string_view v = it == query.end() ? std::string_view() : std::string_view(it->second);
      auto [p, pec] = std::from_chars(v.data(), v.data() + v.size(), port);
      if (v.empty() || pec != std::errc() || p != v.data() + v.size() || port == 0) {
        co_await reply(s, version, http::status::bad_request,
                       "a valid port number (1-65535) is required");
        co_return;
      }
    }
    if (!upgrade) {
      co_await reply(s, version, http::status::bad_request,
                     "port-forward needs Upgrade: " + std::string(kUpgradeProtocol));
      co_return;
    }
    auto loc = resolve(ns, pod);
    if (!loc.ok()) {
      co_await reply(s, version, static_cast<http::status>(http_code(loc.status())),
                     loc.status().message());
      co_return;
    }
    boost::system::error_code aec;
    auto addr = net::ip::make_address(loc->pod_ip, aec);
    if (aec) {
      co_await reply(s, version, http::status::bad_gateway,
                     fmt::format("pod {}/{} has no usable IP \"{}\"", ns, pod, loc->pod_ip));
      co_return;
    }
    tcp::endpoint target(addr, port);
    s.peer = std::make_shared<tcp::socket>(ioc);
    {
      net::steady_timer timer(ioc);
      timer.expires_after(kDialTimeout);
      auto dial = co_await (s.peer->async_connect(target, kTuple) || timer.async_wait(kTuple));
      boost::system::error_code dec;
      if (dial.index() == 1) {
        dec = net::error::timed_out;
      } else {
        dec = std::get<0>(std::get<0>(dial));
      }
      if (dec || stopping) {
        co_await reply(s, version, http::status::bad_gateway,
                       fmt::format("failed to connect to {}:{} inside pod {}/{}: {}", loc->pod_ip,
                                   port, ns, pod, dec.message()));
        co_return;
      }
    }
    boost::system::error_code ignored;
    s.peer->set_option(tcp::no_delay(true), ignored);

    http::response<http::empty_body> res{http::status::switching_protocols, version};
    res.set(http::field::connection, "Upgrade");
    res.set(http::field::upgrade, kUpgradeProtocol);
    s.stream.expires_after(kRequestTimeout);
    auto [wec, wn] = co_await http::async_write(s.stream, res, kTuple);
    s.stream.expires_never();
    if (wec) co_return;
    // Bytes the client sent right after its request belong to the pod.
    if (buffer.size() > 0) {
      auto [lec, ln] = co_await net::async_write(*s.peer, buffer.data(), kTuple);
      if (lec) co_return;
      buffer.consume(buffer.size());
    }
    Activity activity;
    auto peer = s.peer;  // keeps the pod socket alive for the pumps
    co_await ((pump(s.stream.socket(), *peer, activity) && pump(*peer, s.stream.socket(), activity)) ||
              idle_watchdog(activity, kIdleTimeout));
  }
};

NodeServer::NodeServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NodeServer::~NodeServer() { stop(); }

Result<std::unique_ptr<NodeServer>> NodeServer::start(NodeServerOptions options) {
  if (options.token.empty()) return invalid_argument("node server: a bearer token is required");
  if (!options.resolve_pod) return invalid_argument("node server: a pod resolver is required");
  auto impl = std::make_unique<Impl>(std::move(options));
  ORCH_TRY(impl->listen());
  return std::unique_ptr<NodeServer>(new NodeServer(std::move(impl)));
}

std::uint16_t NodeServer::port() const { return impl_->port; }

void NodeServer::stop() { impl_->stop(); }

}  // namespace orch::agent
