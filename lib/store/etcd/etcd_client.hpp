// EtcdClient: unary requests to etcd's v3 JSON gateway with failover across members, plus the
// wire helpers of the etcd backend (base64, int64-as-string, KeyValue decoding).
//
// Each request is one HTTP/1.1 POST on a pooled curl easy handle; a handle keeps its connections
// alive, so a steady caller reuses one TCP connection. Every request carries the gRPC metadata
// "hasleader: true" (grpc-gateway maps "Grpc-Metadata-*" headers), so a member without a leader
// fails it at once instead of after etcd's 7 s request timeout.
//
// Thread-safety: every method from any thread; the handle pool is guarded by pool_mu_ (a leaf).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>
#include <curl/curl.h>

#include "orch/status.hpp"
#include "orch/store/etcd_store.hpp"
#include "orch/store/store.hpp"

namespace orch::store::etcd {

namespace json = boost::json;

std::string base64_encode(std::string_view in);
// Standard alphabet with padding; false on malformed input.
bool base64_decode(std::string_view in, std::string& out);

// An int64 field: etcd sends them as strings; a missing field is 0.
std::int64_t int_field(const json::object& o, std::string_view name);
bool bool_field(const json::object& o, std::string_view name);
std::string string_field(const json::object& o, std::string_view name);
// A bytes field (base64) decoded; a missing field is "".
std::string bytes_field(const json::object& o, std::string_view name);
const json::object* object_field(const json::object& o, std::string_view name);
const json::array* array_field(const json::object& o, std::string_view name);

// Our revision of an etcd revision and back (etcd revision 1 = the empty store = our 0).
inline Revision from_etcd(std::int64_t r) { return r > 0 ? r - 1 : 0; }
inline std::int64_t to_etcd(Revision r) { return r + 1; }

// How one request ended.
enum class Outcome : std::uint8_t {
  kOk,        // HTTP 200; `body` is the response
  kRejected,  // etcd answered with a definitive error (`status`): nothing was applied
  kNotSent,   // the request did not reach a member, or a member refused it before proposing it
              // (no leader, too many requests): nothing was applied
  kUnknown,   // sent, but no definitive answer (timeout, connection lost, 5xx): a write may or
              // may not have been applied
};

struct Reply {
  Outcome outcome = Outcome::kNotSent;
  json::object body;
  Status status;  // why, unless kOk
  // call() only: an earlier attempt of this call ended kUnknown, so when this reply is a failed
  // compare, the change it saw may be that attempt's.
  bool after_unknown = false;
};

class EtcdClient {
 public:
  // Validates the options (see open_etcd_store).
  static Result<std::unique_ptr<EtcdClient>> create(const EtcdOptions& options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  const EtcdOptions& options() const { return options_; }
  std::size_t endpoint_count() const { return options_.endpoints.size(); }
  // The endpoint requests start at (the last one that worked).
  std::size_t preferred() const { return preferred_.load(); }

  // One POST of `body` to `path` ("/v3/kv/range") on endpoint `index`, bounded by `timeout`.
  Reply attempt(std::size_t index, const std::string& path, const std::string& body,
                std::chrono::milliseconds timeout);

  // A request that is safe to repeat (a read, or a write whose repetition the caller resolves):
  // tries the endpoints in turn, starting at the preferred one, until one gives kOk or kRejected
  // or `deadline` passes. For kUnknown and kNotSent after the deadline, `status` is the last
  // error, with code Unavailable.
  Reply call(const std::string& path, const std::string& body,
             std::chrono::steady_clock::time_point deadline);
  // A read: call() and OK/the error as a Result.
  Result<json::object> read(const std::string& path, const std::string& body,
                            std::chrono::steady_clock::time_point deadline);

  // Options for a curl handle of a stream (the watch pump): URL of endpoint `index` + path,
  // headers, TLS. The caller sets the write callback and body.
  void configure_stream(CURL* handle, std::size_t index, const std::string& path) const;

  std::chrono::steady_clock::time_point deadline() const {
    return std::chrono::steady_clock::now() + options_.operation_timeout;
  }

 private:
  explicit EtcdClient(const EtcdOptions& options);
  CURL* acquire();
  void release(CURL* handle);
  void configure(CURL* handle, std::size_t index, const std::string& path) const;

  // Const after construction.
  const EtcdOptions options_;
  curl_slist* headers_ = nullptr;

  std::atomic<std::size_t> preferred_{0};

  std::mutex pool_mu_;       // leaf lock
  std::vector<CURL*> pool_;  // guarded by pool_mu_: idle handles
};

// Maps an etcd error body ({"error","message","code"}) or gateway error to an outcome + Status.
Reply classify_error(long http_status, const json::object* body, std::string_view raw);

}  // namespace orch::store::etcd
