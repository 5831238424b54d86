// Status, Result<T>, ORCH_TRY and the code -> HTTP -> reason table.
#include "orch/status.hpp"

#include <doctest.h>

#include <memory>

namespace orch {
namespace {

TEST_CASE("every code maps to the HTTP status and reason Kubernetes uses") {
  struct Row {
    Code code;
    int http;
    std::string_view reason;
  };
  const std::vector<Row> rows = {
      {Code::kNotFound, 404, "NotFound"},
      {Code::kAlreadyExists, 409, "AlreadyExists"},
      {Code::kAborted, 409, "Conflict"},
      {Code::kInvalidArgument, 422, "Invalid"},
      {Code::kBadRequest, 400, "BadRequest"},
      {Code::kOutOfRange, 410, "Expired"},
      {Code::kUnauthenticated, 401, "Unauthorized"},
      {Code::kPermissionDenied, 403, "Forbidden"},
      {Code::kTooLarge, 413, "RequestEntityTooLarge"},
      {Code::kInternal, 500, "InternalError"},
      {Code::kUnavailable, 503, "ServiceUnavailable"},
      {Code::kDeadlineExceeded, 504, "Timeout"},
      {Code::kResourceExhausted, 429, "TooManyRequests"},
  };
  for (const auto& r : rows) {
    SUBCASE(std::string(r.reason).c_str()) {
      CHECK(http_status(r.code) == r.http);
      CHECK(k8s_reason(r.code) == r.reason);
      CHECK(code_from_http(r.http, r.reason) == r.code);
    }
  }
}

TEST_CASE("code_from_http falls back to the HTTP status when the reason is unknown") {
  CHECK(code_from_http(404, "") == Code::kNotFound);
  CHECK(code_from_http(410, "Gone") == Code::kOutOfRange);
  CHECK(code_from_http(502, "Whatever") == Code::kInternal);
  CHECK(code_from_http(418, "") == Code::kBadRequest);
  CHECK(code_from_http(201, "") == Code::kOk);
}

TEST_CASE("Status carries code, message and causes") {
  Status ok;
  CHECK(ok.ok());
  CHECK(ok.to_string() == "OK");
  Status bad = invalid_argument("Pod \"x\" is invalid",
                                {{"FieldValueRequired", "Required value", "spec.containers"}});
  CHECK_FALSE(bad.ok());
  CHECK(bad.code() == Code::kInvalidArgument);
  REQUIRE(bad.causes().size() == 1);
  CHECK(bad.causes()[0].field == "spec.containers");
  CHECK(bad.to_string() == "InvalidArgument: Pod \"x\" is invalid");
}

Result<int> parse_positive(int v) {
  if (v <= 0) return invalid_argument("must be positive");
  return v;
}

Result<int> doubled(int v) {
  ORCH_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return x * 2;
}

Status check_both(int a, int b) {
  ORCH_TRY(parse_positive(a));
  ORCH_TRY(parse_positive(b));
  return Status();
}

TEST_CASE("Result holds a value or a status, and the macros propagate failures") {
  CHECK(doubled(4).value() == 8);
  auto r = doubled(-1);
  CHECK_FALSE(r.ok());
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK(r.value_or(7) == 7);
  CHECK(check_both(1, 2).ok());
  CHECK(check_both(1, 0).code() == Code::kInvalidArgument);

  // A move-only value comes out of an rvalue Result.
  auto make = [](int v) -> Result<std::unique_ptr<int>> { return std::make_unique<int>(v); };
  std::unique_ptr<int> p = make(3).value();
  CHECK(*p == 3);

  // A Result built from an OK Status is a bug in the caller; it must not read as success.
  Result<int> from_ok{Status()};
  CHECK_FALSE(from_ok.ok());
  CHECK(from_ok.status().code() == Code::kInternal);
}

}  // namespace
}  // namespace orch
