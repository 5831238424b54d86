// Status helpers and the code -> HTTP status -> Kubernetes reason table.
// Thread-safety: stateless.
#include "orch/status.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>

namespace orch {
namespace {

struct CodeRow {
  Code code;
  int http;
  std::string_view reason;
  std::string_view name;
};

// The one table. Order follows enum Code.
constexpr std::array<CodeRow, 14> kCodeTable{{
    {Code::kOk, 200, "", "OK"},
    {Code::kInvalidArgument, 422, "Invalid", "InvalidArgument"},
    {Code::kBadRequest, 400, "BadRequest", "BadRequest"},
    {Code::kNotFound, 404, "NotFound", "NotFound"},
    {Code::kAlreadyExists, 409, "AlreadyExists", "AlreadyExists"},
    {Code::kAborted, 409, "Conflict", "Aborted"},
    {Code::kOutOfRange, 410, "Expired", "OutOfRange"},
    {Code::kUnauthenticated, 401, "Unauthorized", "Unauthenticated"},
    {Code::kPermissionDenied, 403, "Forbidden", "PermissionDenied"},
    {Code::kTooLarge, 413, "RequestEntityTooLarge", "TooLarge"},
    {Code::kResourceExhausted, 429, "TooManyRequests", "ResourceExhausted"},
    {Code::kDeadlineExceeded, 504, "Timeout", "DeadlineExceeded"},
    {Code::kUnavailable, 503, "ServiceUnavailable", "Unavailable"},
    {Code::kInternal, 500, "InternalError", "Internal"},
}};

const CodeRow& row(Code code) {
  const auto i = static_cast<std::size_t>(code);
  return i < kCodeTable.size() ? kCodeTable[i] : kCodeTable.back();
}

}  // namespace

std::string Status::to_string() const {
  if (ok()) return "OK";
  std::string out(code_name(code_));
  out += ": ";
  out += message_;
  return out;
}

Status invalid_argument(std::string message, std::vector<Cause> causes) {
  return {Code::kInvalidArgument, std::move(message), std::move(causes)};
}
Status bad_request(std::string message) { return {Code::kBadRequest, std::move(message)}; }
Status not_found(std::string message) { return {Code::kNotFound, std::move(message)}; }
Status already_exists(std::string message) { return {Code::kAlreadyExists, std::move(message)}; }
Status aborted(std::string message) { return {Code::kAborted, std::move(message)}; }
Status out_of_range(std::string message) { return {Code::kOutOfRange, std::move(message)}; }
Status unavailable(std::string message) { return {Code::kUnavailable, std::move(message)}; }
Status internal_error(std::string message) { return {Code::kInternal, std::move(message)}; }

int http_status(Code code) { return row(code).http; }
std::string_view k8s_reason(Code code) { return row(code).reason; }
std::string_view code_name(Code code) { return row(code).name; }

Code code_from_http(int http_status, std::string_view reason) {
  // Kubernetes also says "Gone" for 410 on some paths; both mean relist.
  if (reason == "Gone") return Code::kOutOfRange;
  if (!reason.empty()) {
    for (const auto& r : kCodeTable) {
      if (r.code != Code::kOk && r.reason == reason) return r.code;
    }
  }
  if (http_status >= 200 && http_status < 300) return Code::kOk;
  for (const auto& r : kCodeTable) {
    if (r.code != Code::kOk && r.http == http_status) return r.code;
  }
  if (http_status >= 500) return Code::kInternal;
  return Code::kBadRequest;
}

namespace detail {
void die_bad_result_access(const Status& status) {
  std::fprintf(stderr, "liborch: value() of a failed Result: %s\n", status.to_string().c_str());
  std::abort();
}
void die_check_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "liborch: ORCH_CHECK(%s) failed at %s:%d\n", expr, file, line);
  std::abort();
}
}  // namespace detail

}  // namespace orch
