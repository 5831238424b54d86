// The libcurl HTTP(S) transport. See http_transport.hpp for the contract.
//
// Thread-safety: HttpTransport is shared by many threads: the handle pool is guarded by pool_mu_,
// the token by token_mu_ (never both at once), the preferred server is atomic; each request uses
// one easy handle exclusively. A CurlStream's state shared between its reader and its transfer
// thread is guarded by CurlStream::mu_; curl handles are touched only by the transfer thread
// (and by the destructor after joining it), except curl_multi_wakeup, which is thread-safe.
#include "orch/client/http_transport.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "orch/apiserver/status_body.hpp"

namespace orch::client {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr auto kTokenRefresh = std::chrono::seconds(60);
// How long a stream's transfer thread sleeps in curl_multi_poll before re-checking its flags; a
// wakeup cuts it short, so this only bounds the cost of a missed wakeup.
constexpr int kPollMs = 1000;

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

bool unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

std::string percent_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string build_url(std::string_view base, const HttpRequest& r) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  std::string url(base);
  if (r.path.empty() || r.path.front() != '/') url += '/';
  url += percent_encode(r.path, /*keep_slash=*/true);
  char sep = '?';
  for (const auto& [k, v] : r.query) {
    url += sep;
    url += percent_encode(k, false);
    url += '=';
    url += percent_encode(v, false);
    sep = '&';
  }
  return url;
}

Result<std::string> read_whole_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_argument("unable to read " + std::string(what) + " \"" + path + "\"");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return invalid_argument("unable to read " + std::string(what) + " \"" + path + "\"");
  return ss.str();
}

bool has_header(const std::map<std::string, std::string>& headers, std::string_view lower_name) {
  for (const auto& [k, v] : headers) {
    if (lower(k) == lower_name) return true;
  }
  return false;
}

// Adds one "Name: value" header line from a curl header callback to `headers`; a status line
// ("HTTP/1.1 200 OK") starts a new response (after 100 Continue or a redirect).
void parse_header_line(std::string_view line, std::map<std::string, std::string>& headers) {
  if (line.starts_with("HTTP/")) {
    headers.clear();
    return;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return;
  headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
}

// The outcome of one curl transfer attempt, before HTTP status interpretation.
struct Attempt {
  CURLcode code = CURLE_OK;
  std::string error;   // curl's error buffer, or its generic text
  bool sent = false;   // some request bytes reached the server: never resend
};

bool connect_failure(const Attempt& a) { return a.code != CURLE_OK && !a.sent; }

Status transfer_status(const Attempt& a, std::string_view url) {
  std::string msg = "request to " + std::string(url) + " failed: " + a.error;
  switch (a.code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Status(Code::kDeadlineExceeded, std::move(msg));
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FAILED_INIT:
      return internal_error(std::move(msg));
    default:
      return unavailable(std::move(msg));
  }
}

// Owns a curl_slist.
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// Everything a transfer needs that comes from the transport's options (files already read).
struct TlsAuth {
  std::string ca_data;
  bool insecure = false;
  std::string cert_data;
  std::string key_data;
  std::string username;
  std::string password;
};

// Sets every option of one transfer on a freshly reset easy handle. `headers` must outlive the
// transfer. The body is copied into the handle.
void configure(CURL* h, const std::string& url, const HttpRequest& r, const TlsAuth& tls,
               const HttpTransportOptions& o, curl_slist* headers, milliseconds timeout,
               char* error_buffer) {
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_USERAGENT, o.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");

  const std::string& m = r.method;
  if (m == "GET" || m.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (m == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else {
    if (m != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m.c_str());
    if (m == "POST" || m == "PUT" || m == "PATCH" || !r.body.empty()) {
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
      curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, r.body.c_str());
    }
  }

  if (!tls.ca_data.empty()) {
    curl_blob blob{const_cast<char*>(tls.ca_data.data()), tls.ca_data.size(), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
  }
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, tls.insecure ? 0L : 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, tls.insecure ? 0L : 2L);
  if (!tls.cert_data.empty()) {
    curl_blob cert{const_cast<char*>(tls.cert_data.data()), tls.cert_data.size(), CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(tls.key_data.data()), tls.key_data.size(), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
  }
  if (!tls.username.empty() || !tls.password.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, tls.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, tls.password.c_str());
  }
}

Attempt finish_attempt(CURL* h, CURLcode code, const char* error_buffer) {
  Attempt a;
  a.code = code;
  if (code != CURLE_OK) {
    a.error = error_buffer[0] ? std::string(error_buffer) : std::string(curl_easy_strerror(code));
    long sent = 0;
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
    a.sent = sent > 0;
  } else {
    a.sent = true;
  }
  return a;
}

// --- Streams -------------------------------------------------------------------------------

class CurlStream final : public ByteStream {
 public:
  explicit CurlStream(std::size_t buffer_limit) : buffer_limit_(buffer_limit) {}

  ~CurlStream() override {
    close();
    if (thread_.joinable()) thread_.join();
    if (multi_ && easy_) curl_multi_remove_handle(multi_, easy_);
    if (easy_) curl_easy_cleanup(easy_);
    if (multi_) curl_multi_cleanup(multi_);
  }

  // Builds the handles and starts the transfer thread. Internal on failure.
  Status start(const std::string& url, const HttpRequest& r, const TlsAuth& tls,
               const HttpTransportOptions& o, Slist headers) {
    url_ = url;
    headers_list_ = std::move(headers);
    easy_ = curl_easy_init();
    multi_ = curl_multi_init();
    if (!easy_ || !multi_) return internal_error("curl handle allocation failed");
    // No overall timeout: a watch lives as long as the server keeps it open.
    configure(easy_, url_, r, tls, o, headers_list_.get(), milliseconds(0), error_buffer_);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &CurlStream::on_write);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &CurlStream::on_header);
    curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(easy_, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(easy_, CURLOPT_TCP_KEEPINTVL, 10L);
    if (curl_multi_add_handle(multi_, easy_) != CURLM_OK) {
      return internal_error("curl_multi_add_handle failed");
    }
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::exception& e) {
      return internal_error(std::string("cannot start stream thread: ") + e.what());
    }
    return ok_status();
  }

  // Waits until the response headers arrived or the transfer ended. False on timeout.
  bool wait_headers(milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return headers_done_ || finished_ || closed_; });
  }

  // Waits until the transfer ended. False on timeout.
  bool wait_finished(milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return finished_ || closed_; });
  }

  long http_status() {
    std::lock_guard lock(mu_);
    return headers_done_ ? http_status_ : 0;
  }

  // The transfer's failure, when it finished without a response.
  std::optional<Attempt> failure() {
    std::lock_guard lock(mu_);
    if (!finished_ || attempt_.code == CURLE_OK) return std::nullopt;
    return attempt_;
  }

  // Everything buffered so far (an error body).
  std::string drain_buffered() {
    std::lock_guard lock(mu_);
    std::string out;
    for (auto& c : chunks_) out += c;
    chunks_.clear();
    buffered_ = 0;
    return out;
  }

  Result<std::optional<std::string>> read(milliseconds timeout) override {
    std::unique_lock lock(mu_);
    if (timeout.count() < 0) timeout = milliseconds(0);
    cv_.wait_for(lock, timeout, [&] { return !chunks_.empty() || finished_ || closed_; });
    if (closed_) return aborted("stream closed");
    if (!chunks_.empty()) {
      std::string out;
      if (chunks_.size() == 1) {
        out = std::move(chunks_.front());
      } else {
        out.reserve(buffered_);
        for (auto& c : chunks_) out += c;
      }
      chunks_.clear();
      buffered_ = 0;
      bool wake = paused_;
      lock.unlock();
      if (wake) curl_multi_wakeup(multi_);
      return std::optional<std::string>(std::move(out));
    }
    if (finished_) {
      if (attempt_.code != CURLE_OK) return transfer_status(attempt_, url_);
      return std::optional<std::string>();
    }
    return std::optional<std::string>(std::string());
  }

  void close() override {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
    }
    cv_.notify_all();
    if (multi_) curl_multi_wakeup(multi_);
  }

 private:
  static size_t on_write(char* data, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<CurlStream*>(self_ptr);
    size_t len = size * n;
    std::lock_guard lock(self->mu_);
    if (self->closed_) return len == 0 ? 1 : 0;  // anything but `len` aborts the transfer
    if (self->buffered_ >= self->buffer_limit_) {
      self->paused_ = true;
      return CURL_WRITEFUNC_PAUSE;
    }
    self->chunks_.emplace_back(data, len);
    self->buffered_ += len;
    self->cv_.notify_all();
    return len;
  }

  static size_t on_header(char* data, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<CurlStream*>(self_ptr);
    size_t len = size * n;
    std::string_view line(data, len);
    std::lock_guard lock(self->mu_);
    if (line == "\r\n" || line == "\n") {
      long code = 0;
      curl_easy_getinfo(self->easy_, CURLINFO_RESPONSE_CODE, &code);
      if (code >= 200) {
        self->http_status_ = code;
        self->headers_done_ = true;
        self->cv_.notify_all();
      }
    } else {
      parse_header_line(line, self->headers_);
    }
    return len;
  }

  // The transfer thread.
  void run() {
    while (true) {
      int running = 0;
      curl_multi_perform(multi_, &running);
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
        if (msg->msg == CURLMSG_DONE) {
          Attempt a = finish_attempt(easy_, msg->data.result, error_buffer_);
          long code = 0;
          curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &code);
          std::lock_guard lock(mu_);
          attempt_ = a;
          if (!headers_done_ && a.code == CURLE_OK) {
            http_status_ = code;
            headers_done_ = true;
          }
          finished_ = true;
          cv_.notify_all();
          return;
        }
      }
      if (!running) {
        // Not running yet no DONE message: should not happen; end rather than spin.
        std::lock_guard lock(mu_);
        attempt_.code = CURLE_RECV_ERROR;
        attempt_.error = "transfer ended without a result";
        attempt_.sent = true;
        finished_ = true;
        cv_.notify_all();
        return;
      }
      bool unpause = false;
      {
        std::lock_guard lock(mu_);
        if (closed_) return;
        if (paused_ && buffered_ < buffer_limit_) {
          paused_ = false;
          unpause = true;
        }
      }
      // May call on_write at once with the held-back data, so mu_ must not be held.
      if (unpause) {
        curl_easy_pause(easy_, CURLPAUSE_CONT);
        continue;  // let curl_multi_perform deliver what was held back
      }
      curl_multi_poll(multi_, nullptr, 0, kPollMs, nullptr);
    }
  }

  // Const after construction / start().
  const std::size_t buffer_limit_;
  std::string url_;
  Slist headers_list_;
  CURL* easy_ = nullptr;
  CURLM* multi_ = nullptr;
  char error_buffer_[CURL_ERROR_SIZE] = {};  // written by the transfer thread only
  std::thread thread_;

  std::mutex mu_;  // lock order: leaf
  std::condition_variable cv_;
  // Guarded by mu_.
  std::deque<std::string> chunks_;
  std::size_t buffered_ = 0;
  bool paused_ = false;
  bool headers_done_ = false;
  long http_status_ = 0;
  std::map<std::string, std::string> headers_;
  bool finished_ = false;
  Attempt attempt_;
  bool closed_ = false;
};

// --- The transport -------------------------------------------------------------------------

class HttpTransport final : public Transport {
 public:
  HttpTransport(HttpTransportOptions options, TlsAuth tls)
      : options_(std::move(options)), tls_(std::move(tls)), token_(options_.bearer_token) {}

  ~HttpTransport() override {
    std::lock_guard lock(pool_mu_);
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }

  Status init_token() {
    if (options_.bearer_token_file.empty()) return ok_status();
    ORCH_ASSIGN_OR_RETURN(std::string t, read_whole_file(options_.bearer_token_file, "token file"));
    std::lock_guard lock(token_mu_);
    token_ = trim(t);
    token_read_ = steady_clock::now();
    return ok_status();
  }

  Result<HttpResponse> request(const HttpRequest& request) override {
    milliseconds timeout = request.timeout.count() > 0 ? request.timeout : options_.timeout;
    Slist headers = make_headers(request);
    if (!headers) return internal_error("curl_slist_append failed");
    CURL* h = acquire();
    if (!h) return internal_error("curl_easy_init failed");
    std::size_t n = options_.servers.size();
    std::size_t first = preferred_.load();
    Status last;
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t idx = (first + i) % n;
      std::string url = build_url(options_.servers[idx], request);
      HttpResponse response;
      char error_buffer[CURL_ERROR_SIZE] = {};
      curl_easy_reset(h);
      configure(h, url, request, tls_, options_, headers.get(), timeout, error_buffer);
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
      curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
      curl_easy_setopt(h, CURLOPT_HEADERDATA, &response.headers);
      CURLcode code = curl_easy_perform(h);
      Attempt a = finish_attempt(h, code, error_buffer);
      if (connect_failure(a)) {
        last = unavailable("cannot reach " + options_.servers[idx] + ": " + a.error);
        continue;
      }
      preferred_.store(idx);
      if (code != CURLE_OK) {
        release(h);
        return transfer_status(a, url);
      }
      long status = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
      release(h);
      response.status = static_cast<int>(status);
      if (status < 200 || status > 299) {
        return apiserver::status_from_response(response.status, response.body);
      }
      return response;
    }
    release(h);
    return last;
  }

  Result<std::unique_ptr<ByteStream>> stream(const HttpRequest& request) override {
    milliseconds timeout = request.timeout.count() > 0 ? request.timeout : options_.timeout;
    if (timeout.count() <= 0) timeout = milliseconds(24LL * 3600 * 1000);
    std::size_t n = options_.servers.size();
    std::size_t first = preferred_.load();
    Status last;
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t idx = (first + i) % n;
      std::string url = build_url(options_.servers[idx], request);
      Slist headers = make_headers(request);
      if (!headers) return internal_error("curl_slist_append failed");
      auto s = std::make_unique<CurlStream>(options_.stream_buffer_bytes);
      ORCH_TRY(s->start(url, request, tls_, options_, std::move(headers)));
      if (!s->wait_headers(timeout)) {
        return Status(Code::kDeadlineExceeded, "no response from " + url + " within " +
                                                   std::to_string(timeout.count()) + " ms");
      }
      if (auto f = s->failure()) {
        if (connect_failure(*f)) {
          last = unavailable("cannot reach " + options_.servers[idx] + ": " + f->error);
          continue;
        }
        preferred_.store(idx);
        return transfer_status(*f, url);
      }
      preferred_.store(idx);
      long status = s->http_status();
      if (status < 200 || status > 299) {
        s->wait_finished(timeout);
        std::string body = s->drain_buffered();
        return apiserver::status_from_response(static_cast<int>(status), body);
      }
      return std::unique_ptr<ByteStream>(std::move(s));
    }
    return last;
  }

 private:
  static size_t on_body(char* data, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
  }

  static size_t on_header(char* data, size_t size, size_t n, void* out) {
    std::string_view line(data, size * n);
    if (line != "\r\n" && line != "\n") {
      parse_header_line(line, *static_cast<std::map<std::string, std::string>*>(out));
    }
    return size * n;
  }

  std::string current_token() {
    std::lock_guard lock(token_mu_);
    if (!options_.bearer_token_file.empty() && steady_clock::now() - token_read_ > kTokenRefresh) {
      // Keep the last good token when a re-read fails (client-go does the same).
      auto t = read_whole_file(options_.bearer_token_file, "token file");
      if (t.ok()) token_ = trim(*t);
      token_read_ = steady_clock::now();
    }
    return token_;
  }

  Slist make_headers(const HttpRequest& r) {
    curl_slist* list = nullptr;
    bool failed = false;
    auto add = [&](const std::string& line) {
      if (failed) return;
      curl_slist* next = curl_slist_append(list, line.c_str());
      if (!next) {
        failed = true;
        return;
      }
      list = next;
    };
    if (!has_header(r.headers, "accept")) add("Accept: application/json");
    if (!r.body.empty() && !has_header(r.headers, "content-type")) {
      add("Content-Type: application/json");
    }
    add("Expect:");  // no 100-continue round trip for large bodies
    if (!has_header(r.headers, "authorization")) {
      std::string token = current_token();
      if (!token.empty()) add("Authorization: Bearer " + token);
    }
    for (const auto& [k, v] : r.headers) add(k + ": " + v);
    Slist out(list);
    if (failed) return nullptr;
    return out;
  }

  CURL* acquire() {
    {
      std::lock_guard lock(pool_mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }

  void release(CURL* h) {
    {
      std::lock_guard lock(pool_mu_);
      if (idle_.size() < options_.max_idle_handles) {
        idle_.push_back(h);
        return;
      }
    }
    curl_easy_cleanup(h);
  }

  // Const after construction.
  const HttpTransportOptions options_;
  const TlsAuth tls_;

  // The server that last answered; requests start there.
  std::atomic<std::size_t> preferred_{0};

  std::mutex pool_mu_;  // lock order: leaf (never held with token_mu_)
  // Guarded by pool_mu_.
  std::vector<CURL*> idle_;

  std::mutex token_mu_;  // lock order: leaf (never held with pool_mu_)
  // Guarded by token_mu_.
  std::string token_;
  steady_clock::time_point token_read_;
};

}  // namespace

Result<std::unique_ptr<Transport>> make_http_transport(HttpTransportOptions options) {
  init_curl_once();
  if (options.servers.empty()) return invalid_argument("no server URL given");
  for (const auto& s : options.servers) {
    std::string l = lower(s);
    if (!l.starts_with("http://") && !l.starts_with("https://")) {
      return invalid_argument("server URL \"" + s + "\" must start with http:// or https://");
    }
  }
  TlsAuth tls;
  tls.insecure = options.insecure_skip_tls_verify;
  if (!options.ca_data.empty()) {
    tls.ca_data = options.ca_data;
  } else if (!options.ca_file.empty()) {
    ORCH_ASSIGN_OR_RETURN(tls.ca_data, read_whole_file(options.ca_file, "certificate authority"));
  }
  if (!options.client_certificate_data.empty()) {
    tls.cert_data = options.client_certificate_data;
  } else if (!options.client_certificate_file.empty()) {
    ORCH_ASSIGN_OR_RETURN(tls.cert_data,
                          read_whole_file(options.client_certificate_file, "client certificate"));
  }
  if (!options.client_key_data.empty()) {
    tls.key_data = options.client_key_data;
  } else if (!options.client_key_file.empty()) {
    ORCH_ASSIGN_OR_RETURN(tls.key_data, read_whole_file(options.client_key_file, "client key"));
  }
  if (tls.cert_data.empty() != tls.key_data.empty()) {
    return invalid_argument(tls.cert_data.empty() ? "client key given without a client certificate"
                                                  : "client certificate given without a client key");
  }
  if (options.bearer_token.empty() && options.bearer_token_file.empty()) {
    tls.username = options.username;
    tls.password = options.password;
  }
  auto t = std::make_unique<HttpTransport>(std::move(options), std::move(tls));
  ORCH_TRY(t->init_token());
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace orch::client
