// MetricsServer: a minimal HTTP/1.1 server for GET /metrics (Prometheus scrapes), private to the
// proxy. One thread, one io_context; each connection: read a request (10 s timeout), answer,
// repeat while the client keeps it alive. `render` is called on the server's thread per request.
//
// Thread-safety: start/port/stop from any thread; stop() is idempotent and joins the thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "orch/status.hpp"

namespace orch::proxy {

class MetricsServer {
 public:
  // Unavailable when address:port cannot be bound; InvalidArgument for a bad address.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& address,
                                                      std::uint16_t port,
                                                      std::function<std::string()> render);
  virtual ~MetricsServer() = default;
  virtual std::uint16_t port() const = 0;
  virtual void stop() = 0;
};

}  // namespace orch::proxy
