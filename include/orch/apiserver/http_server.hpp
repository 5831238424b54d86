// HttpServer: the API server's HTTP/1.1 listener (Boost.Beast), in front of a Handler.
//
// - Keep-alive, chunked streaming of ResponseStream bodies (flushed per chunk), a timeout on every
//   read, request bodies bounded (413 RequestEntityTooLarge above `max_body_bytes`).
// - Handlers run on a worker pool, never on the network thread, so a slow store write does not
//   stall other connections; streaming responses wait on notifications, not on threads.
// - A client that disconnects ends its stream at once (the stream is closed, its watcher freed).
// - stop(): stops accepting, lets in-flight requests finish and closes streams; after `grace`
//   it closes whatever is left. Destruction stops too. No thread outlives the server.
// - HTTPS when given a serving certificate (orch/pki makes one): TLS 1.2+ on every connection,
//   the handshake bounded by read_timeout; connection takeovers (pods/log, port-forward) get a
//   plaintext socket bridged to the TLS connection (orch/pki/tls.hpp).
// - Authentication when given bearer tokens: a request without `Authorization: Bearer <token>`
//   naming one of them gets 401 with a Kubernetes Status (reason Unauthorized), as
//   kube-apiserver answers; `public_paths` (health, version, the CA) stay open, as Kubernetes'
//   system:public-info-viewer leaves them.
//
// Thread-safety: all methods may be called from any thread; stop() is idempotent.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <functional>
#include <optional>
#include <string>
#include <vector>

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

  // Serve HTTPS with this certificate (chain, PEM) and private key (PEM). Both or neither.
  // Default: none (plain HTTP).
  std::string tls_cert_pem{};
  std::string tls_key_pem{};
  // Accepted bearer tokens. Empty: no authentication (every request is served). Default: none.
  std::vector<std::string> bearer_tokens{};
  // Paths served without credentials: exact matches, or prefixes when they end in '/'.
  // Default: /healthz, /livez, /readyz (and their sub-paths), /version, /cacerts.
  std::vector<std::string> public_paths{"/healthz", "/healthz/", "/livez", "/livez/", "/readyz",
                                        "/readyz/", "/version", "/version/", "/cacerts"};
  // Asked first for every authenticated (or public) request, on a worker thread: a Response to
  // send instead of the handler's, or nullopt to pass the request on. For endpoints outside the
  // Kubernetes API (orch-server's GET /cacerts for joining agents). Default: none.
  std::function<std::optional<Response>(const Request&)> pre_handler{};
};

class HttpServer {
 public:
  // Binds and starts serving `handler`, which must outlive the server.
  // Unavailable when the address cannot be bound (in use, not local, no permission);
  // InvalidArgument when the TLS certificate or key does not load.
  static Result<std::unique_ptr<HttpServer>> start(const HttpServerOptions& options,
                                                   Handler& handler);
  virtual ~HttpServer() = default;
  // The bound port (the real one when options.port was 0).
  virtual std::uint16_t port() const = 0;
  // "http://127.0.0.1:PORT", or "https://..." when serving TLS.
  virtual std::string url() const = 0;
  // Graceful stop, as described above. Blocks until every thread has exited.
  virtual void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000)) = 0;
};

}  // namespace orch::apiserver
