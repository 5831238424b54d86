// HttpServer: the API server's HTTP/1.1 listener (Boost.Beast), in front of a Handler.
//
// - Keep-alive, chunked streaming of ResponseStream bodies (flushed per chunk), a timeout on every
//   read, request bodies bounded (413 RequestEntityTooLarge above `max_body_bytes`).
// - Handlers run on a worker pool, never on the network thread, so a slow store write does not
//   stall other connections; streaming responses wait on notifications, not on threads.
// - A client that disconnects ends its stream at once (the stream is closed, its watcher freed).
// - stop(): stops accepting, lets in-flight requests finish and closes streams; after `grace`
//   it closes whatever is left. Destruction stops too. No thread outlives the server.
//
// Thread-safety: all methods may be called from any thread; stop() is idempotent.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "orch/apiserver/handler.hpp"
#include "orch/status.hpp"

namespace orch::apiserver {

struct HttpServerOptions {
  // Address to bind. Default: 127.0.0.1 (never another interface unless asked).
  std::string address = "127.0.0.1";
  // Port; 0 picks a free one (see HttpServer::port()). Default: 0.
  std::uint16_t port = 0;
  // Largest request body accepted. Default: 3 MiB.
  std::size_t max_body_bytes = 3 * 1024 * 1024;
  // How long a read may wait (request headers/body, or an idle keep-alive connection).
  // Default: 60 s.
  std::chrono::milliseconds read_timeout{60'000};
  // Worker threads that run the handler. Default: 16.
  int worker_threads = 16;
};

class HttpServer {
 public:
  // Binds and starts serving `handler`, which must outlive the server.
  // Unavailable when the address cannot be bound (in use, not local, no permission).
  static Result<std::unique_ptr<HttpServer>> start(const HttpServerOptions& options,
                                                   Handler& handler);
  virtual ~HttpServer() = default;
  // The bound port (the real one when options.port was 0).
  virtual std::uint16_t port() const = 0;
  // "http://127.0.0.1:PORT"
  virtual std::string url() const = 0;
  // Graceful stop, as described above. Blocks until every thread has exited.
  virtual void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000)) = 0;
};

}  // namespace orch::apiserver
