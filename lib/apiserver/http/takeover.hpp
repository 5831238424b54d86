// ConnectionTakeover: what a Response hands the HTTP listener when the connection itself is the
// answer (pods/portforward upgrades, pods/log proxied from a node). Private to the API server.
//
// Thread-safety: run() is called once, on the listener's network thread, and everything it does
// stays on that thread (its executor).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "orch/apiserver/handler.hpp"

namespace orch::apiserver {

class ConnectionTakeover {
 public:
  virtual ~ConnectionTakeover() = default;
  // Owns the connection until it returns: writes the response (and, after a 101, speaks the
  // upgraded protocol). `buffer` holds bytes read past the request. The listener closes the
  // socket afterwards; closing it from outside (server stop) must make run() return promptly.
  virtual boost::asio::awaitable<void> run(boost::beast::tcp_stream& stream,
                                           boost::beast::flat_buffer& buffer,
                                           const Request& request) = 0;
};

}  // namespace orch::apiserver
