// The API server's transport-independent request and response, and the Handler interface that
// answers them. The HTTP listener (http_server.hpp) turns bytes into a Request and a Response into
// bytes; the in-process client transport calls the same Handler directly, so both go through the
// same routing, admission and validation.
//
// A Response either carries a whole body, or a `stream` (watch events, followed logs): the caller
// writes the status and headers, then every chunk the stream yields until it ends.
//
// Thread-safety: Request/Response are values. Handler::handle may be called from many threads at
// once. A ResponseStream is read by one consumer; notify callbacks may fire on any thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orch::apiserver {

// An upgraded or proxied connection (pods/log, pods/portforward): the HTTP listener hands its
// socket to it instead of writing a response. Defined in lib/apiserver/http/takeover.hpp.
class ConnectionTakeover;

struct Request {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // percent-decoded path, no query
  std::map<std::string, std::string> query;    // percent-decoded; a repeated key keeps the last
  std::map<std::string, std::string> headers;  // names lower-case
  std::string body;
  std::string remote;  // peer address, for logs; "in-process" for the local transport

  // The header's value, or "" when absent. `name` must be lower-case.
  std::string_view header(std::string_view name) const;
  // The query parameter, or nullopt when absent.
  std::optional<std::string_view> param(std::string_view name) const;
};

// A response body produced over time. The consumer calls poll(); producers call the notify
// callback whenever poll() would return something new (data or the end).
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Chunks available now, waiting at most `timeout` for the first one. An empty vector means
  // nothing yet; nullopt means the stream has ended (after every chunk was returned).
  virtual std::optional<std::vector<std::string>> poll(std::chrono::milliseconds timeout) = 0;
  // `notify` is called (from any thread, possibly after close) when there is something to poll.
  // Replaces any earlier callback.
  virtual void set_notify(std::function<void()> notify) = 0;
  // Ends the stream early (client went away, server shutting down). Idempotent.
  virtual void close() = 0;
  // When the stream ends by itself (a watch's timeoutSeconds); poll() past it returns nullopt.
  virtual std::chrono::steady_clock::time_point deadline() const {
    return std::chrono::steady_clock::time_point::max();
  }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. Warning
  std::string body;
  std::shared_ptr<ResponseStream> stream;  // when set, `body` is ignored
  // When set, an HTTP listener gives the connection to it (it writes its own response, e.g. 101
  // Switching Protocols) and everything above is ignored; a transport without sockets (the
  // in-process one) answers with status/body instead, which then say so.
  std::shared_ptr<ConnectionTakeover> takeover;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Answers one request. Never throws; every failure is a Response with a Status body.
  virtual Response handle(const Request& request) = 0;
};

}  // namespace orch::apiserver
