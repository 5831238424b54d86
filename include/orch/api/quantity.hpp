// Quantity: Kubernetes' resource.Quantity, the fixed-point number with an SI or binary suffix
// used for cpu, memory and storage ("500m", "128Mi", "1.5Gi", "2", "1e3").
//
// Representation: an exact count of nano-units (10^-9) in a 128-bit integer, plus the format the
// value was written in (which decides how it prints). Limits, matching Kubernetes:
//   - precision finer than 1n is rounded up, away from zero ("0.1n" -> "1n");
//   - magnitudes above 2^63-1 units are capped at 2^63-1 ("9223372036854775807"), in parse and in
//     arithmetic (Kubernetes caps only binary-SI values and keeps larger decimal ones exactly).
// Every value a user writes for cpu or memory is therefore held exactly.
//
// Deliberate differences from Kubernetes: a number with no digits ("m", "-", ".") is rejected
// rather than read as zero, and to_string() always prints the canonical form (Kubernetes echoes
// an already-canonical input verbatim, so "+1" would print "+1"; here it prints "1").
//
// to_string() prints Kubernetes' canonical form: a binary-SI value stays binary SI when it is a
// whole number of at least 1024 ("1.5Gi" -> "1536Mi", "1Ki" -> "1Ki", "0.5Ki" -> "512"),
// decimal values use the largest SI suffix that keeps an integer mantissa ("0.5" -> "500m",
// "1500" -> "1500", "2000" -> "2k"), exponent values keep an exponent ("1e3" -> "1e3"), zero is "0".
//
// Shape for the generic JSON codec: static parse(std::string_view) and to_string().
//
// Thread-safety: a value type; const instances may be shared.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "orch/status.hpp"

namespace orch::api {

class Quantity {
 public:
  // How the quantity prints (resource.Format).
  enum class Format : std::uint8_t {
    DecimalSI,        // suffixes n u m "" k M G T P E
    BinarySI,         // suffixes Ki Mi Gi Ti Pi Ei
    DecimalExponent,  // e<n> / E<n>
  };

  // Zero, DecimalSI.
  Quantity() = default;

  // Parses `[+-]digits[.digits][suffix]` where suffix is one of n u m k M G T P E, Ki Mi Gi Ti Pi
  // Ei, or an exponent e<int>/E<int>. BadRequest naming the input when the text does not match
  // Kubernetes' regular expression, the number or the suffix is malformed, e.g.
  //   cannot parse quantity "12Q": quantities must match the regular expression
  //   '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'
  static Result<Quantity> parse(std::string_view text);

  // `value` whole units (resource.NewQuantity) or `milli` thousandths (NewMilliQuantity).
  static Quantity from_value(std::int64_t value, Format format = Format::DecimalSI);
  static Quantity from_milli(std::int64_t milli, Format format = Format::DecimalSI);

  // The value in thousandths, rounded up away from zero ("1n" -> 1); saturates at the int64
  // range (only for magnitudes above ~9.2e15 units).
  std::int64_t milli_value() const;
  // The value in whole units, rounded up away from zero ("500m" -> 1, "-0.5" -> -1).
  std::int64_t value() const;
  // An approximation as a double, for scoring and ratios.
  double as_double() const;

  // The canonical Kubernetes string (see the file comment).
  std::string to_string() const;

  Format format() const { return format_; }
  bool is_zero() const { return nano_ == 0; }
  // -1, 0 or 1.
  int sign() const { return nano_ < 0 ? -1 : (nano_ > 0 ? 1 : 0); }

  // Numeric comparison; the format is ignored ("1Ki" == "1024").
  std::strong_ordering operator<=>(const Quantity& other) const { return nano_ <=> other.nano_; }
  bool operator==(const Quantity& other) const { return nano_ == other.nano_; }

  // Sum and difference, capped at +-(2^63-1) units. The result keeps this quantity's format, or
  // the other's when this one is zero (as Kubernetes' Add/Sub).
  Quantity operator+(const Quantity& other) const;
  Quantity operator-(const Quantity& other) const;
  Quantity& operator+=(const Quantity& other);
  Quantity& operator-=(const Quantity& other);
  Quantity operator-() const;

 private:
  Quantity(__int128 nano, Format format) : nano_(nano), format_(format) {}

  __int128 nano_ = 0;  // value * 10^9, |nano_| <= (2^63-1) * 10^9
  Format format_ = Format::DecimalSI;
};

}  // namespace orch::api
