// EtcdClient: see etcd_client.hpp.
#include "etcd/etcd_client.hpp"

#include <array>
#include <charconv>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <unistd.h>

namespace orch::store::etcd {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// gRPC status codes as etcd puts them in "code".
constexpr std::int64_t kGrpcInvalidArgument = 3;
constexpr std::int64_t kGrpcNotFound = 5;
constexpr std::int64_t kGrpcPermissionDenied = 7;
constexpr std::int64_t kGrpcResourceExhausted = 8;
constexpr std::int64_t kGrpcFailedPrecondition = 9;
constexpr std::int64_t kGrpcOutOfRange = 11;
constexpr std::int64_t kGrpcUnauthenticated = 16;

// Pause between two rounds over every endpoint.
constexpr auto kFirstBackoff = std::chrono::milliseconds(50);
constexpr auto kMaxBackoff = std::chrono::milliseconds(500);

size_t append_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = (std::uint32_t(std::uint8_t(in[i])) << 16) |
                   (std::uint32_t(std::uint8_t(in[i + 1])) << 8) | std::uint8_t(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == in.size()) {
    const auto n = std::uint32_t(std::uint8_t(in[i])) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const auto n =
        (std::uint32_t(std::uint8_t(in[i])) << 16) | (std::uint32_t(std::uint8_t(in[i + 1])) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

bool base64_decode(std::string_view in, std::string& out) {
  static const std::array<int, 256> kValue = [] {
    std::array<int, 256> v{};
    v.fill(-1);
    for (int i = 0; i < 64; ++i) v[static_cast<unsigned char>(kAlphabet[i])] = i;
    return v;
  }();
  out.clear();
  if (in.size() % 4 != 0) return false;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return false;
      v[j] = kValue[static_cast<unsigned char>(c)];
      if (v[j] < 0) return false;
    }
    const std::uint32_t n = (std::uint32_t(v[0]) << 18) | (std::uint32_t(v[1]) << 12) |
                            (std::uint32_t(v[2]) << 6) | std::uint32_t(v[3]);
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return true;
}

std::int64_t int_field(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  if (v->is_string()) {
    const json::string& s = v->as_string();
    std::int64_t out = 0;
    std::from_chars(s.data(), s.data() + s.size(), out);
    return out;
  }
  return 0;
}

bool bool_field(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v != nullptr && v->is_bool() && v->as_bool();
}

std::string string_field(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->as_string());
}

std::string bytes_field(const json::object& o, std::string_view name) {
  std::string out;
  const json::value* v = o.if_contains(name);
  if (v == nullptr || !v->is_string()) return out;
  if (!base64_decode(std::string_view(v->as_string()), out)) out.clear();
  return out;
}

const json::object* object_field(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v != nullptr && v->is_object() ? &v->as_object() : nullptr;
}

const json::array* array_field(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v != nullptr && v->is_array() ? &v->as_array() : nullptr;
}

Reply classify_error(long http_status, const json::object* body, std::string_view raw) {
  Reply r;
  std::string message = body != nullptr ? string_field(*body, "message") : std::string();
  if (message.empty()) message = std::string(raw.substr(0, 200));
  const std::int64_t code = body != nullptr ? int_field(*body, "code") : 0;
  const std::string what = fmt::format("etcd: {} (HTTP {}, code {})", message, http_status, code);
  // Refused before it was proposed: nothing applied, safe to send elsewhere.
  if (contains(message, "no leader") || contains(message, "too many requests") ||
      contains(message, "proposal dropped") || contains(message, "not capable")) {
    r.outcome = Outcome::kNotSent;
    r.status = unavailable(what);
    return r;
  }
  r.outcome = Outcome::kRejected;
  switch (code) {
    case kGrpcOutOfRange:
      r.status = out_of_range(what);
      return r;
    case kGrpcInvalidArgument:
      r.status =
          contains(message, "too large") ? Status(Code::kTooLarge, what) : invalid_argument(what);
      return r;
    case kGrpcResourceExhausted:
      if (contains(message, "larger than max")) {
        r.status = Status(Code::kTooLarge, what);
        return r;
      }
      r.outcome = Outcome::kNotSent;
      r.status = unavailable(what);
      return r;
    case kGrpcNotFound:
      r.status = not_found(what);
      return r;
    case kGrpcPermissionDenied:
      r.status = Status(Code::kPermissionDenied, what);
      return r;
    case kGrpcUnauthenticated:
      r.status = Status(Code::kUnauthenticated, what);
      return r;
    case kGrpcFailedPrecondition:
      r.status = Status(Code::kInternal, what);
      return r;
    default:
      break;
  }
  if (http_status >= 500 || code != 0) {
    // Timeouts, leader changes, "context deadline exceeded", gateway errors: maybe applied.
    r.outcome = Outcome::kUnknown;
    r.status = unavailable(what);
    return r;
  }
  r.status = internal_error(what);
  return r;
}

EtcdClient::EtcdClient(const EtcdOptions& options) : options_(options) {
  headers_ = curl_slist_append(headers_, "Content-Type: application/json");
  headers_ = curl_slist_append(headers_, "Expect:");
  headers_ = curl_slist_append(headers_, "Grpc-Metadata-hasleader: true");
}

EtcdClient::~EtcdClient() {
  for (CURL* h : pool_) curl_easy_cleanup(h);
  curl_slist_free_all(headers_);
}

Result<std::unique_ptr<EtcdClient>> EtcdClient::create(const EtcdOptions& options) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (options.endpoints.empty()) return invalid_argument("etcd store: no endpoints");
  for (const auto& e : options.endpoints) {
    if (e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0) {
      return invalid_argument(
          fmt::format("etcd store: endpoint \"{}\" is not an http:// or https:// URL", e));
    }
  }
  for (const std::string* f : {&options.ca_file, &options.cert_file, &options.key_file}) {
    if (!f->empty() && ::access(f->c_str(), R_OK) != 0) {
      return invalid_argument(fmt::format("etcd store: cannot read TLS file {}", *f));
    }
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return invalid_argument("etcd store: a client certificate needs both cert_file and key_file");
  }
  if (options.request_timeout.count() <= 0 || options.operation_timeout.count() <= 0 ||
      options.connect_timeout.count() <= 0) {
    return invalid_argument("etcd store: timeouts must be > 0");
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(options));
}

CURL* EtcdClient::acquire() {
  {
    std::lock_guard lock(pool_mu_);
    if (!pool_.empty()) {
      CURL* h = pool_.back();
      pool_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void EtcdClient::release(CURL* handle) {
  std::lock_guard lock(pool_mu_);
  pool_.push_back(handle);
}

void EtcdClient::configure(CURL* h, std::size_t index, const std::string& path) const {
  const std::string url = options_.endpoints[index] + path;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers_);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!options_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.cert_file.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, options_.cert_file.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEY, options_.key_file.c_str());
  }
}

void EtcdClient::configure_stream(CURL* handle, std::size_t index, const std::string& path) const {
  configure(handle, index, path);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, 0L);
  curl_easy_setopt(handle, CURLOPT_TCP_KEEPIDLE, 10L);
  curl_easy_setopt(handle, CURLOPT_TCP_KEEPINTVL, 5L);
}

Reply EtcdClient::attempt(std::size_t index, const std::string& path, const std::string& body,
                          std::chrono::milliseconds timeout) {
  CURL* h = acquire();
  if (h == nullptr) {
    Reply r;
    r.status = internal_error("etcd: curl_easy_init failed");
    return r;
  }
  std::string response;
  char error_buffer[CURL_ERROR_SIZE] = {};
  configure(h, index, path);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<long>(1, timeout.count())));
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &append_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  const CURLcode rc = curl_easy_perform(h);
  long http_status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http_status);
  long sent = 0;
  curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, nullptr);
  if (rc != CURLE_OK) {
    // A failed handle may hold a half-used connection: drop it rather than pool it.
    curl_easy_cleanup(h);
  } else {
    release(h);
  }

  Reply r;
  const std::string& endpoint = options_.endpoints[index];
  if (rc != CURLE_OK) {
    const std::string what = fmt::format(
        "etcd {}: {}", endpoint, error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc));
    const bool never_sent = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                            rc == CURLE_COULDNT_RESOLVE_PROXY || sent == 0;
    r.outcome = never_sent ? Outcome::kNotSent : Outcome::kUnknown;
    r.status = unavailable(what);
    return r;
  }
  boost::system::error_code ec;
  json::value parsed = json::parse(response, ec);
  const json::object* obj = !ec && parsed.is_object() ? &parsed.as_object() : nullptr;
  if (http_status == 200 && obj != nullptr) {
    r.outcome = Outcome::kOk;
    r.body = std::move(parsed.as_object());
    return r;
  }
  r = classify_error(http_status, obj, response);
  r.status = Status(r.status.code(), fmt::format("{} [{}]", r.status.message(), endpoint));
  return r;
}

Reply EtcdClient::call(const std::string& path, const std::string& body,
                       SteadyClock::time_point deadline) {
  const std::size_t n = options_.endpoints.size();
  std::size_t index = preferred_.load();
  auto backoff = kFirstBackoff;
  Reply last;
  bool unknown = false;  // some attempt may have been applied
  for (std::size_t tried = 0;; ++tried) {
    const auto now = SteadyClock::now();
    if (now >= deadline && tried > 0) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    const auto timeout =
        std::max(std::chrono::milliseconds(1), std::min(options_.request_timeout, left));
    Reply r = attempt(index, path, body, timeout);
    if (r.outcome == Outcome::kOk || r.outcome == Outcome::kRejected) {
      preferred_.store(index);
      r.after_unknown = unknown;
      return r;
    }
    unknown = unknown || r.outcome == Outcome::kUnknown;
    last = std::move(r);
    index = (index + 1) % n;
    if ((tried + 1) % n == 0) {
      // A full round failed: wait a little before the next (an election takes ~1 s).
      const auto pause = std::min<SteadyClock::duration>(backoff, deadline - SteadyClock::now());
      if (pause.count() > 0) std::this_thread::sleep_for(pause);
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }
  last.outcome = unknown ? Outcome::kUnknown : Outcome::kNotSent;
  last.after_unknown = unknown;
  last.status = unavailable(fmt::format("etcd: no member answered within {} ms; last error: {}",
                                        options_.operation_timeout.count(), last.status.message()));
  return last;
}

Result<json::object> EtcdClient::read(const std::string& path, const std::string& body,
                                      SteadyClock::time_point deadline) {
  Reply r = call(path, body, deadline);
  if (r.outcome == Outcome::kOk) return std::move(r.body);
  return r.status;
}

}  // namespace orch::store::etcd
