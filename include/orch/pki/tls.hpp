// TLS for liborch's listeners and dialers, on Asio's OpenSSL layer (pki.hpp makes the material).
//
// - Contexts: a server context from a serving certificate + key; a client context that trusts
//   one CA (PEM) and verifies the peer, or one that verifies nothing (tests only).
// - Bridges: code written against a plain `tcp::socket` (the node server's sessions, the API
//   server's connection takeovers, the API server's dials to node servers) gets TLS by talking to
//   the local end of a socket pair while a pump coroutine moves bytes between the other end and
//   the TLS stream. Half-closes pass through (TLS close_notify / EOF on one side becomes a
//   shutdown(send) on the other); closing the local end ends the pump and closes the TLS
//   connection. The pump runs on the stream's executor and owns what it needs.
//
// Thread-safety: contexts are immutable after creation and may be shared; a bridge's pump runs
// on its executor only.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "orch/pki/pki.hpp"
#include "orch/status.hpp"

namespace orch::pki {

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
using TlsContext = boost::asio::ssl::context;

// TLS 1.2+ server context presenting `serving`. InvalidArgument when the PEM does not load.
Result<std::shared_ptr<TlsContext>> make_server_context(const CertKey& serving);
// TLS 1.2+ client context that trusts `ca_pem` only and verifies the peer's chain. An empty
// `ca_pem` verifies nothing (insecure; for tests). InvalidArgument when the PEM does not load.
Result<std::shared_ptr<TlsContext>> make_client_context(const std::string& ca_pem);

// Server side of a handshake on an accepted socket, bounded by `timeout`. Unauthenticated when
// the handshake fails (not TLS, bad client, timeout), with the reason.
boost::asio::awaitable<Result<std::shared_ptr<TlsStream>>> accept_tls(
    boost::asio::ip::tcp::socket socket, TlsContext& context, std::chrono::milliseconds timeout);
// Client side on a connected socket: SNI and certificate check for `host` (a DNS name or an IP
// literal, checked against the SANs), bounded by `timeout`. Unauthenticated when the handshake
// or the verification fails.
boost::asio::awaitable<Result<std::shared_ptr<TlsStream>>> connect_tls(
    boost::asio::ip::tcp::socket socket, TlsContext& context, const std::string& host,
    std::chrono::milliseconds timeout);

// Starts the pump between `tls` (handshaken) and a new socket pair; returns the local end, a
// `tcp::socket` on the same executor (reads and writes as TCP; TCP-only options such as
// no_delay fail harmlessly). `keep_alive`, when set, is held until the pump ends. Internal when
// the socket pair cannot be made.
Result<boost::asio::ip::tcp::socket> bridge(std::shared_ptr<TlsStream> tls,
                                            std::shared_ptr<void> keep_alive = nullptr);

}  // namespace orch::pki
