// Transport: how a client reaches the API server. One narrow interface, two implementations:
//
// - HTTP(S) on libcurl (http_transport.hpp): a remote server, keep-alive connection reuse, TLS,
//   bearer token / client certificate / basic auth, failover across several server URLs.
// - In-process (in_process_transport.hpp): calls an apiserver::Handler directly, no socket, the
//   same routing, admission and validation as over HTTP.
//
// Both answer a non-2xx response with the Status its body describes (apiserver::
// status_from_response): a 404 becomes NotFound, a 409 Conflict becomes Aborted, and so on. A
// failure to reach the server at all is Unavailable; a request that ran out of time is
// DeadlineExceeded.
//
// Thread-safety: Transport::request() and stream() may be called from many threads at once.
// A ByteStream is read by one thread at a time; close() may be called from any thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "orch/status.hpp"

namespace orch::client {

struct HttpRequest {
  // "GET", "POST", "PUT", "PATCH", "DELETE". Default: GET.
  std::string method = "GET";
  // The path, not percent-encoded, starting with '/': "/api/v1/namespaces/default/pods".
  std::string path{};
  // Query parameters, not percent-encoded (the transport encodes them).
  std::map<std::string, std::string> query{};
  // Extra request headers. Names are case-insensitive; the transports send Accept:
  // application/json and, when there is a body, Content-Type: application/json unless set here.
  std::map<std::string, std::string> headers{};
  std::string body{};
  // Limit on the whole exchange (for stream(): on receiving the response headers). Zero means
  // the transport's default. Default: 0.
  std::chrono::milliseconds timeout{0};
};

struct HttpResponse {
  int status = 0;
  // Header names lower-case; a repeated header keeps the last value.
  std::map<std::string, std::string> headers{};
  std::string body{};
};

// A response body that arrives over time (a watch, followed logs). Pull-based: the reader asks
// for the next chunk and says how long it may wait.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // The next bytes of the body, waiting at most `timeout` for some to arrive:
  // - a non-empty string: the bytes (chunk boundaries carry no meaning);
  // - an empty string: nothing arrived within `timeout` (not an error; call again);
  // - nullopt: the body ended cleanly (after every byte was returned).
  // Unavailable when the connection broke mid-body; Aborted after close().
  virtual Result<std::optional<std::string>> read(std::chrono::milliseconds timeout) = 0;
  // Ends the stream early and releases the connection. Idempotent; from any thread; a read()
  // blocked in another thread returns promptly.
  virtual void close() = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one request and returns the whole response when its status is 2xx.
  // Non-2xx: the Status the body describes (NotFound, Aborted, AlreadyExists, OutOfRange,
  // InvalidArgument with causes, ...). Unavailable: no server could be reached.
  // DeadlineExceeded: the timeout passed first.
  virtual Result<HttpResponse> request(const HttpRequest& request) = 0;
  // Sends one request whose response body is read over time (watch=true, follow=true). Returns
  // once the response headers arrived with a 2xx status; errors as request().
  virtual Result<std::unique_ptr<ByteStream>> stream(const HttpRequest& request) = 0;
};

}  // namespace orch::client
