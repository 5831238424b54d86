// The in-process transport: HttpRequest -> apiserver::Request -> Handler::handle -> HttpResponse.
// Thread-safety: stateless apart from the Handler reference; InProcessStream is read by one
// thread, close() from any (the closed flag is atomic and ResponseStream::close is idempotent).
#include "orch/client/in_process_transport.hpp"

#include <atomic>
#include <cctype>
#include <chrono>
#include <utility>

#include "orch/apiserver/status_body.hpp"

namespace orch::client {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Used by request() on a streamed body when the request gave no timeout.
constexpr milliseconds kDefaultDrainTimeout{60'000};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

apiserver::Request to_apiserver(const HttpRequest& r) {
  apiserver::Request out;
  out.method = r.method;
  out.path = r.path;
  out.query = r.query;
  for (const auto& [name, value] : r.headers) out.headers[lower(name)] = value;
  if (!out.headers.contains("accept")) out.headers["accept"] = "application/json";
  if (!r.body.empty() && !out.headers.contains("content-type")) {
    out.headers["content-type"] = "application/json";
  }
  out.body = r.body;
  out.remote = "in-process";
  return out;
}

std::map<std::string, std::string> response_headers(const apiserver::Response& r) {
  std::map<std::string, std::string> h;
  if (!r.content_type.empty()) h["content-type"] = r.content_type;
  for (const auto& [name, value] : r.headers) h[lower(name)] = value;
  return h;
}

// Reads an apiserver::ResponseStream through the ByteStream contract.
class InProcessStream final : public ByteStream {
 public:
  explicit InProcessStream(std::shared_ptr<apiserver::ResponseStream> stream)
      : stream_(std::move(stream)) {}
  ~InProcessStream() override { close(); }

  Result<std::optional<std::string>> read(milliseconds timeout) override {
    if (closed_.load()) return aborted("stream closed");
    if (ended_) return std::optional<std::string>();
    std::optional<std::vector<std::string>> chunks;
    try {
      chunks = stream_->poll(timeout < milliseconds(0) ? milliseconds(0) : timeout);
    } catch (...) {
      ended_ = true;
      return internal_error("in-process response stream threw");
    }
    if (!chunks) {
      ended_ = true;
      if (closed_.load()) return aborted("stream closed");
      return std::optional<std::string>();
    }
    std::string out;
    for (auto& c : *chunks) out += c;
    return std::optional<std::string>(std::move(out));
  }

  void close() override {
    if (closed_.exchange(true)) return;
    stream_->close();
  }

 private:
  // Const after construction.
  const std::shared_ptr<apiserver::ResponseStream> stream_;
  std::atomic<bool> closed_{false};
  // Reader's thread only.
  bool ended_ = false;
};

// A whole body handed out as one chunk (a stream() request the handler answered at once).
class BodyStream final : public ByteStream {
 public:
  explicit BodyStream(std::string body) : body_(std::move(body)) {}
  Result<std::optional<std::string>> read(milliseconds) override {
    if (closed_.load()) return aborted("stream closed");
    if (done_) return std::optional<std::string>();
    done_ = true;
    return std::optional<std::string>(std::move(body_));
  }
  void close() override { closed_.store(true); }

 private:
  std::string body_;
  bool done_ = false;
  std::atomic<bool> closed_{false};
};

class InProcessTransport final : public Transport {
 public:
  explicit InProcessTransport(apiserver::Handler& handler) : handler_(handler) {}

  Result<HttpResponse> request(const HttpRequest& request) override {
    ORCH_ASSIGN_OR_RETURN(apiserver::Response r, call(request));
    HttpResponse out;
    out.status = r.status;
    out.headers = response_headers(r);
    if (r.stream) {
      // A streamed answer to a plain request: collect it until it ends or time runs out.
      milliseconds limit = request.timeout.count() > 0 ? request.timeout : kDefaultDrainTimeout;
      auto deadline = steady_clock::now() + limit;
      InProcessStream s(r.stream);
      while (true) {
        auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
        if (left.count() <= 0) {
          return Status(Code::kDeadlineExceeded, "streamed response to " + request.path +
                                                     " did not end within " +
                                                     std::to_string(limit.count()) + " ms");
        }
        auto chunk = s.read(left);
        if (!chunk.ok()) return chunk.status();
        if (!chunk->has_value()) break;
        out.body += **chunk;
      }
    } else {
      out.body = std::move(r.body);
    }
    if (out.status < 200 || out.status > 299) {
      return apiserver::status_from_response(out.status, out.body);
    }
    return out;
  }

  Result<std::unique_ptr<ByteStream>> stream(const HttpRequest& request) override {
    ORCH_ASSIGN_OR_RETURN(apiserver::Response r, call(request));
    if (r.status < 200 || r.status > 299) {
      if (r.stream) {
        // Unusual, but an error body could be streamed: read what is there now.
        InProcessStream s(r.stream);
        std::string body;
        while (true) {
          auto chunk = s.read(milliseconds(1000));
          if (!chunk.ok() || !chunk->has_value() || (*chunk)->empty()) break;
          body += **chunk;
        }
        return apiserver::status_from_response(r.status, body);
      }
      return apiserver::status_from_response(r.status, r.body);
    }
    if (r.stream) return std::unique_ptr<ByteStream>(new InProcessStream(std::move(r.stream)));
    return std::unique_ptr<ByteStream>(new BodyStream(std::move(r.body)));
  }

 private:
  Result<apiserver::Response> call(const HttpRequest& request) {
    try {
      return handler_.handle(to_apiserver(request));
    } catch (const std::exception& e) {
      return internal_error(std::string("in-process handler threw: ") + e.what());
    } catch (...) {
      return internal_error("in-process handler threw");
    }
  }

  // Const after construction.
  apiserver::Handler& handler_;
};

}  // namespace

std::unique_ptr<Transport> make_in_process_transport(apiserver::Handler& handler) {
  return std::make_unique<InProcessTransport>(handler);
}

}  // namespace orch::client
