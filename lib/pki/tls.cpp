// TLS contexts, handshakes with timeouts, and socket-pair bridges. See tls.hpp.
// Thread-safety: a bridge's pump lives on its stream's executor.
#include "orch/pki/tls.hpp"

#include <sys/socket.h>

#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace orch::pki {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using local_socket = net::local::stream_protocol::socket;
using namespace net::experimental::awaitable_operators;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

// Longest a close_notify may take before the TCP connection is closed anyway.
constexpr std::chrono::seconds kShutdownTimeout{2};

std::shared_ptr<TlsContext> base_context(ssl::context::method method) {
  auto ctx = std::make_shared<TlsContext>(method);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  return ctx;
}

// TLS -> local: plaintext from the peer into the pair; its end becomes shutdown(send).
net::awaitable<void> pump_in(std::shared_ptr<TlsStream> tls, std::shared_ptr<local_socket> inner) {
  char buf[16384];
  for (;;) {
    auto [ec, n] = co_await tls->async_read_some(net::buffer(buf), kTuple);
    if (n > 0) {
      auto [wec, wn] = co_await net::async_write(*inner, net::buffer(buf, n), kTuple);
      if (wec) break;
    }
    if (ec) break;
  }
  boost::system::error_code ignored;
  inner->shutdown(local_socket::shutdown_send, ignored);
}

// local -> TLS: what the local side writes goes to the peer; its end sends close_notify and
// closes the connection (which also ends pump_in's read).
net::awaitable<void> pump_out(std::shared_ptr<TlsStream> tls, std::shared_ptr<local_socket> inner) {
  char buf[16384];
  bool failed = false;
  for (;;) {
    auto [ec, n] = co_await inner->async_read_some(net::buffer(buf), kTuple);
    if (n > 0) {
      auto [wec, wn] = co_await net::async_write(*tls, net::buffer(buf, n), kTuple);
      if (wec) {
        failed = true;
        break;
      }
    }
    if (ec) break;
  }
  if (!failed) {
    net::steady_timer timer(co_await net::this_coro::executor, kShutdownTimeout);
    co_await (tls->async_shutdown(kTuple) || timer.async_wait(kTuple));
  }
  boost::system::error_code ignored;
  auto& sock = beast::get_lowest_layer(*tls).socket();
  sock.shutdown(tcp::socket::shutdown_both, ignored);
  sock.close(ignored);
  inner->close(ignored);
}

net::awaitable<void> pump(std::shared_ptr<TlsStream> tls, std::shared_ptr<local_socket> inner,
                          std::shared_ptr<void> keep_alive) {
  beast::get_lowest_layer(*tls).expires_never();
  co_await (pump_in(tls, inner) && pump_out(tls, inner));
  (void)keep_alive;
}

Status handshake_status(const boost::system::error_code& ec, std::string_view what) {
  return Status(Code::kUnauthenticated, std::string(what) + ": " + ec.message());
}

}  // namespace

Result<std::shared_ptr<TlsContext>> make_server_context(const CertKey& serving) {
  auto ctx = base_context(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->use_certificate_chain(net::buffer(serving.cert_pem), ec);
  if (!ec) ctx->use_private_key(net::buffer(serving.key_pem), ssl::context::pem, ec);
  if (ec) return invalid_argument("cannot load the serving certificate: " + ec.message());
  return ctx;
}

Result<std::shared_ptr<TlsContext>> make_client_context(const std::string& ca_pem) {
  auto ctx = base_context(ssl::context::tls_client);
  if (ca_pem.empty()) {
    ctx->set_verify_mode(ssl::verify_none);
    return ctx;
  }
  boost::system::error_code ec;
  ctx->add_certificate_authority(net::buffer(ca_pem), ec);
  if (ec) return invalid_argument("cannot load the CA certificate: " + ec.message());
  ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  return ctx;
}

net::awaitable<Result<std::shared_ptr<TlsStream>>> accept_tls(tcp::socket socket,
                                                              TlsContext& context,
                                                              std::chrono::milliseconds timeout) {
  auto tls = std::make_shared<TlsStream>(std::move(socket), context);
  beast::get_lowest_layer(*tls).expires_after(timeout);
  auto [ec] = co_await tls->async_handshake(ssl::stream_base::server, kTuple);
  if (ec) co_return handshake_status(ec, "TLS handshake");
  beast::get_lowest_layer(*tls).expires_never();
  co_return tls;
}

net::awaitable<Result<std::shared_ptr<TlsStream>>> connect_tls(tcp::socket socket,
                                                               TlsContext& context,
                                                               const std::string& host,
                                                               std::chrono::milliseconds timeout) {
  auto tls = std::make_shared<TlsStream>(std::move(socket), context);
  boost::system::error_code ignored;
  net::ip::make_address(host, ignored);
  if (ignored) SSL_set_tlsext_host_name(tls->native_handle(), host.c_str());  // SNI: names only
  if (SSL_get_verify_mode(tls->native_handle()) != SSL_VERIFY_NONE) {
    tls->set_verify_callback(ssl::host_name_verification(host), ignored);
  }
  beast::get_lowest_layer(*tls).expires_after(timeout);
  auto [ec] = co_await tls->async_handshake(ssl::stream_base::client, kTuple);
  if (ec) co_return handshake_status(ec, "TLS handshake with " + host);
  beast::get_lowest_layer(*tls).expires_never();
  co_return tls;
}

Result<tcp::socket> bridge(std::shared_ptr<TlsStream> tls, std::shared_ptr<void> keep_alive) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return internal_error(std::string("socketpair: ") + std::strerror(errno));
  }
  auto ex = tls->get_executor();
  boost::system::error_code ec;
  tcp::socket outer(ex);
  outer.assign(tcp::v4(), fds[0], ec);
  auto inner = std::make_shared<local_socket>(ex);
  if (!ec) inner->assign(net::local::stream_protocol(), fds[1], ec);
  if (ec) {
    if (!outer.is_open()) ::close(fds[0]);
    if (!inner->is_open()) ::close(fds[1]);
    return internal_error("socket pair: " + ec.message());
  }
  net::co_spawn(ex, pump(std::move(tls), std::move(inner), std::move(keep_alive)), net::detached);
  return outer;
}

}  // namespace orch::pki
