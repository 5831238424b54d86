// Status and Result<T>: how every liborch call reports failure.
//
// A Status is a code that tells the caller what to do next, a one-line message for a person, and
// (for validation failures) the list of causes, one per offending field. The one table that maps a
// code to an HTTP status and a Kubernetes `reason` lives here (`http_status`, `k8s_reason`); the
// API server, the CLI and the Python bindings translate from it and nowhere else.
//
// No exception crosses a liborch API: functions return `Status` or `Result<T>`, both
// [[nodiscard]].
//
// Thread-safety: values; a const Status/Result may be read from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace orch {

// What went wrong, named for what the caller should do about it.
enum class Code : std::uint8_t {
  kOk = 0,
  kInvalidArgument,    // the object breaks a rule (422 Invalid); causes list each field
  kBadRequest,         // the request itself is malformed: bad JSON/YAML, wrong types (400)
  kNotFound,           // 404 NotFound
  kAlreadyExists,      // 409 AlreadyExists
  kAborted,            // stale resourceVersion: re-read and retry the write (409 Conflict)
  kOutOfRange,         // revision compacted away: relist (410 Expired)
  kUnauthenticated,    // 401 Unauthorized
  kPermissionDenied,   // 403 Forbidden
  kTooLarge,           // request or object over the size limit (413 RequestEntityTooLarge)
  kResourceExhausted,  // a bounded buffer or quota is full: back off, resume (429)
  kDeadlineExceeded,   // 504 Timeout
  kUnavailable,        // retry later, maybe elsewhere (503 ServiceUnavailable)
  kInternal,           // a bug or an I/O failure (500 InternalError)
};

// Kubernetes StatusCause: one field that failed validation.
struct Cause {
  std::string type;     // "FieldValueRequired", "FieldValueInvalid", ... (metav1.CauseType)
  std::string message;  // "Required value", "Invalid value: \"x\": must be ..."
  std::string field;    // "spec.containers[0].name"
  bool operator==(const Cause&) const = default;
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message, std::vector<Cause> causes = {})
      : code_(code), message_(std::move(message)), causes_(std::move(causes)) {}

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<Cause>& causes() const { return causes_; }
  // "NotFound: pods \"x\" not found"; "OK" when ok.
  std::string to_string() const;
  // Itself, so ORCH_TRY and generic code treat Status and Result<T> alike.
  const Status& status() const { return *this; }
  // Explicitly drop a Status the caller has decided not to act on.
  void ignore() const {}

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::vector<Cause> causes_;
};

inline Status ok_status() { return Status(); }
Status invalid_argument(std::string message, std::vector<Cause> causes = {});
Status bad_request(std::string message);
Status not_found(std::string message);
Status already_exists(std::string message);
Status aborted(std::string message);
Status out_of_range(std::string message);
Status unavailable(std::string message);
Status internal_error(std::string message);

// The one mapping table: HTTP status code and Kubernetes `reason` for each code.
int http_status(Code code);
std::string_view k8s_reason(Code code);
std::string_view code_name(Code code);  // "kNotFound" -> "NotFound"
// The inverse, for clients reading a Kubernetes Status body: reason wins, HTTP status otherwise.
Code code_from_http(int http_status, std::string_view reason);

// A value or the Status that says why there is none. Never both, never neither.
template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::decay_t<T>, Status>, "Result<Status> makes no sense");

 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::in_place_index<1>, std::move(status)) {  // NOLINT
    if (std::get<1>(v_).ok()) v_.template emplace<1>(Code::kInternal, "Result built from OK Status");
  }

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  // The status: OK when there is a value. A reference, so `r.status().causes()` is safe to
  // iterate for as long as `r` lives.
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<1>(v_);
  }

  // Preconditions: ok(). Checked: calling these on an error aborts (a broken invariant).
  T& value() & { return check(), std::get<0>(v_); }
  const T& value() const& { return check(), std::get<0>(v_); }
  T&& value() && { return check(), std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  T value_or(T fallback) const& { return ok() ? std::get<0>(v_) : std::move(fallback); }

 private:
  void check() const;
  std::variant<T, Status> v_;
};

namespace detail {
[[noreturn]] void die_bad_result_access(const Status& status);
[[noreturn]] void die_check_failed(const char* expr, const char* file, int line);
}  // namespace detail

template <typename T>
void Result<T>::check() const {
  if (!ok()) detail::die_bad_result_access(std::get<1>(v_));
}

}  // namespace orch

// Aborts on a broken invariant (never on bad input: that gets a Status).
#define ORCH_CHECK(cond) \
  ((cond) ? (void)0 : ::orch::detail::die_check_failed(#cond, __FILE__, __LINE__))

#define ORCH_CONCAT_INNER_(a, b) a##b
#define ORCH_CONCAT_(a, b) ORCH_CONCAT_INNER_(a, b)

// ORCH_TRY(expr): return the Status of `expr` (a Status or a Result) from the enclosing function
// when it is not OK.
#define ORCH_TRY(expr)                                       \
  do {                                                       \
    auto&& orch_try_value_ = (expr);                         \
    if (!orch_try_value_.ok()) return orch_try_value_.status();          \
  } while (0)

// ORCH_ASSIGN_OR_RETURN(auto x, expr): declare/assign from a Result or return its Status.
#define ORCH_ASSIGN_OR_RETURN(lhs, expr)                                   \
  auto ORCH_CONCAT_(orch_result_, __LINE__) = (expr);                      \
  if (!ORCH_CONCAT_(orch_result_, __LINE__).ok())                          \
    return ORCH_CONCAT_(orch_result_, __LINE__).status();                  \
  lhs = std::move(ORCH_CONCAT_(orch_result_, __LINE__)).value()
