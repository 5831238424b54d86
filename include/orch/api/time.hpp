// Timestamps and durations as Kubernetes writes them: metav1.Time (RFC 3339 to the second,
// "2024-05-01T12:00:00Z"), metav1.MicroTime ("2024-05-01T12:00:00.123456Z"), Go durations
// ("1h30m", "300ms") and kubectl's AGE column ("3m20s", "5h30m", "2y10d").
//
// Parsing reports failures as BadRequest with Go's wording; nothing throws.
//
// Thread-safety: values and stateless functions; now() reads the system clock (tests that need a
// controlled clock construct values directly).
#pragma once

#include <chrono>
#include <compare>
#include <string>
#include <string_view>

#include "orch/status.hpp"

namespace orch::api {

// metav1.Time: an instant serialized as RFC 3339 with whole seconds, always in UTC.
// Shape for the generic JSON codec: static parse(std::string_view) and to_string().
struct Time {
  std::chrono::system_clock::time_point value{};  // default: the Unix epoch (is_zero())

  // Parses RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)", converting offsets to UTC and
  // keeping fractional seconds (to nanoseconds; finer digits are dropped). BadRequest, in Go's
  // wording, for anything else, e.g.
  //   parsing time "2024-13-01T00:00:00Z": month out of range
  // system_clock counts nanoseconds, so instants outside about 1678..2261 are BadRequest
  // ("year outside of supported range"), except Go's zero time "0001-01-01T00:00:00Z", which
  // some clients send for "unset" and which parses to the zero Time.
  static Result<Time> parse(std::string_view text);
  // "2024-05-01T12:00:00Z": UTC, fractional seconds truncated.
  std::string to_string() const;
  // The current time truncated to whole seconds, so that to_string/parse round-trips exactly.
  static Time now();
  // True for a default-constructed Time (the Unix epoch). Kubernetes writes an unset time as
  // JSON null: a codec should emit null / omit the field when is_zero().
  bool is_zero() const { return value == std::chrono::system_clock::time_point{}; }
  auto operator<=>(const Time&) const = default;
};

// metav1.MicroTime: an instant serialized as RFC 3339 with exactly six fractional digits, UTC.
struct MicroTime {
  std::chrono::system_clock::time_point value{};

  // Same grammar and errors as Time::parse.
  static Result<MicroTime> parse(std::string_view text);
  // "2024-05-01T12:00:00.123456Z": UTC, truncated to microseconds.
  std::string to_string() const;
  // The current time truncated to microseconds.
  static MicroTime now();
  bool is_zero() const { return value == std::chrono::system_clock::time_point{}; }
  auto operator<=>(const MicroTime&) const = default;
};

// Go's time.ParseDuration: an optional sign and a sequence of decimal numbers, each with optional
// fraction and a unit of ns, us (or µs / μs), ms, s, m, h ("300ms", "-1.5h", "1h30m"); "0" alone
// needs no unit. BadRequest with Go's message:
//   time: invalid duration "x"            (syntax, or overflow of ~292 years)
//   time: missing unit in duration "1"
//   time: unknown unit "x" in duration "1x"
Result<std::chrono::nanoseconds> parse_duration(std::string_view text);

// Go's Duration.String(): "1h30m0s", "1.5s", "300ms", "2µs", "0s", "-1m0s".
std::string format_duration(std::chrono::nanoseconds d);

// kubectl's AGE (apimachinery duration.HumanDuration): about two significant figures,
// "5s", "3m20s", "12m", "5h30m", "20h", "3d4h", "45d", "2y10d", "9y". Slightly negative values
// (down to -1s, clock skew) print "0s"; more negative ones "<invalid>".
std::string human_age(std::chrono::nanoseconds d);

}  // namespace orch::api
