// IntOrString: Kubernetes' intstr.IntOrString, a field that holds either an int32 or a string
// (Service targetPort 8080 or "http", Deployment maxSurge 1 or "25%"). In JSON it is a number or
// a string; the generic codec (codec.hpp) handles it directly.
//
// Thread-safety: a value type; const instances may be shared.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "orch/status.hpp"

namespace orch::api {

class IntOrString {
 public:
  // The int 0, what an unset plain member holds (the codec omits it on encode).
  IntOrString() = default;
  IntOrString(std::int32_t value) : int_(value) {}  // NOLINT: implicit, as Go's FromInt
  IntOrString(std::string value) : is_string_(true), str_(std::move(value)) {}  // NOLINT
  IntOrString(const char* value) : is_string_(true), str_(value) {}              // NOLINT

  bool is_int() const { return !is_string_; }
  bool is_string() const { return is_string_; }
  // The int value; 0 when is_string().
  std::int32_t int_value() const { return int_; }
  // The string value; "" when is_int().
  const std::string& str_value() const { return str_; }
  // True for the int 0, the value an unset field has.
  bool is_zero_int() const { return !is_string_ && int_ == 0; }

  // "8080" or "25%": Go's IntOrString.String(), also what field errors print.
  std::string to_string() const;

  // Kubernetes' GetScaledValueFromIntOrPercent: the int itself, or the percentage of `total`
  // ("25%" of 10 is 3 rounded up, 2 rounded down). BadRequest when the string is not
  // "<digits>%": `invalid value for IntOrString: invalid type: string is not a percentage`
  // or `invalid value "x%": ...`.
  Result<std::int32_t> scaled_value(std::int32_t total, bool round_up) const;

  bool operator==(const IntOrString&) const = default;

 private:
  bool is_string_ = false;
  std::int32_t int_ = 0;
  std::string str_;
};

}  // namespace orch::api
