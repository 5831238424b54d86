// MetricsServer: Beast over one io_context; sessions are coroutines that stop() cancels by
// closing their sockets.
#include "metrics_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <map>
#include <thread>

namespace orch::proxy {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

class MetricsServerImpl final : public MetricsServer {
 public:
  explicit MetricsServerImpl(std::function<std::string()> render) : render_(std::move(render)) {}
  ~MetricsServerImpl() override { stop(); }

  Status run(const std::string& address, std::uint16_t port) {
    boost::system::error_code ec;
    auto addr = net::ip::make_address(address, ec);
    if (ec) return Status(Code::kInvalidArgument, "metrics: not an IP address: " + address);
    tcp::endpoint ep(addr, port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status(Code::kUnavailable,
                    "metrics: cannot listen on " + address + ":" + std::to_string(port) + ": " +
                        ec.message());
    }
    port_ = acceptor_.local_endpoint(ec).port();
    net::co_spawn(io_, accept_loop(), net::detached);
    thread_ = std::thread([this] { io_.run(); });
    return Status();
  }

  std::uint16_t port() const override { return port_; }

  void stop() override {
    if (!thread_.joinable()) return;
    net::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto& [id, s] : sessions_) s->socket().close(ec);
    });
    thread_.join();
  }

 private:
  net::awaitable<void> accept_loop() {
    for (std::uint64_t id = 0;; ++id) {
      auto [ec, sock] = co_await acceptor_.async_accept(kTuple);
      if (ec) co_return;  // closed by stop()
      auto stream = std::make_shared<beast::tcp_stream>(std::move(sock));
      sessions_[id] = stream;
      net::co_spawn(io_, session(stream, id), net::detached);
    }
  }

  net::awaitable<void> session(std::shared_ptr<beast::tcp_stream> stream, std::uint64_t id) {
    beast::flat_buffer buf;
    for (;;) {
      http::request<http::empty_body> req;
      stream->expires_after(std::chrono::seconds(10));
      auto [ec, n] = co_await http::async_read(*stream, buf, req, kTuple);
      if (ec) break;
      http::response<http::string_body> res;
      res.version(req.version());
      res.keep_alive(req.keep_alive());
      const auto target = req.target();
      const auto path = target.substr(0, target.find('?'));
      if (req.method() != http::verb::get && req.method() != http::verb::head) {
        res.result(http::status::method_not_allowed);
        res.set(http::field::content_type, "text/plain");
        res.body() = "method not allowed\n";
      } else if (path == "/metrics") {
        res.result(http::status::ok);
        res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        if (req.method() == http::verb::get) res.body() = render_();
      } else {
        res.result(http::status::not_found);
        res.set(http::field::content_type, "text/plain");
        res.body() = "not found\n";
      }
      res.prepare_payload();
      stream->expires_after(std::chrono::seconds(10));
      auto [wec, m] = co_await http::async_write(*stream, res, kTuple);
      if (wec || !res.keep_alive()) break;
    }
    boost::system::error_code ig;
    stream->socket().shutdown(tcp::socket::shutdown_both, ig);
    sessions_.erase(id);
  }

  const std::function<std::string()> render_;
  net::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  std::thread thread_;
  std::uint16_t port_ = 0;  // const once run() returned
  // Network thread only.
  std::map<std::uint64_t, std::shared_ptr<beast::tcp_stream>> sessions_;
};

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& address,
                                                            std::uint16_t port,
                                                            std::function<std::string()> render) {
  auto s = std::make_unique<MetricsServerImpl>(std::move(render));
  ORCH_TRY(s->run(address, port));
  return std::unique_ptr<MetricsServer>(std::move(s));
}

}  // namespace orch::proxy
