// FieldError: one violated rule at one field path, and the Kubernetes `Invalid` Status built from
// a list of them (Kubernetes' field.Error / field.ErrorList and errors.NewInvalid).
//
//   spec.containers[0].name: Required value
//   spec.replicas: Invalid value: -1: must be greater than or equal to 0
//   spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never"
//
// Thread-safety: values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "orch/status.hpp"

namespace orch::api {

enum class FieldErrorType : std::uint8_t {
  kRequired,      // "Required value"
  kInvalid,       // "Invalid value"
  kNotSupported,  // "Unsupported value"
  kDuplicate,     // "Duplicate value"
  kForbidden,     // "Forbidden"
  kTooLong,       // "Too long"
  kTooMany,       // "Too many"
  kNotFound,      // "Not found"
};

struct FieldError {
  FieldErrorType type = FieldErrorType::kInvalid;
  std::string field;   // "spec.containers[0].name"
  std::string value;   // the bad value as Kubernetes prints it: "\"abc\"", "-1", "" when none
  std::string detail;  // "must be no more than 63 characters"

  // "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
  std::string to_string() const;
  // The metav1.CauseType string: "FieldValueRequired", "FieldValueInvalid", ...
  std::string_view cause_type() const;
  bool operator==(const FieldError&) const = default;
};

using FieldErrors = std::vector<FieldError>;

FieldError required(std::string field, std::string detail = {});
// `value` is already rendered; use quote() for strings.
FieldError invalid(std::string field, std::string value, std::string detail);
FieldError not_supported(std::string field, std::string value,
                         const std::vector<std::string_view>& supported);
FieldError duplicate(std::string field, std::string value);
FieldError forbidden(std::string field, std::string detail);
FieldError too_long(std::string field, std::string value, std::size_t max_length);
// "spec.containers[0].volumeMounts[0].name: Not found: \"data\"" (a reference to nothing).
FieldError not_found_field(std::string field, std::string value);

// Go's %q of a string: "abc" with quotes and escapes, as Kubernetes renders string values.
std::string quote(std::string_view s);

// The 422 Status for `errors` (must not be empty):
//   Pod "x" is invalid: spec.containers[0].image: Required value
//   Deployment.apps "x" is invalid: [spec.a: Required value, spec.b: Invalid value: ...]
// `qualified_kind` is the kind with its group for non-core kinds ("Deployment.apps").
Status invalid_status(std::string_view qualified_kind, std::string_view name,
                      const FieldErrors& errors);

}  // namespace orch::api
