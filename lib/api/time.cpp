// RFC 3339 timestamps (metav1.Time / MicroTime), Go durations (time.ParseDuration /
// Duration.String) and kubectl's human-readable age (apimachinery util/duration).
// Thread-safety: stateless; now() reads the system clock.
#include "orch/api/time.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>

namespace orch::api {

namespace {

using std::chrono::nanoseconds;
using std::chrono::system_clock;

constexpr std::string_view kRfc3339Layout = "2006-01-02T15:04:05Z07:00";

std::string go_quote(std::string_view s) {
  // Go's strconv.Quote for the ASCII inputs that matter here; non-ASCII bytes pass through
  // (they are valid UTF-8 in practice, which Quote also leaves alone).
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

Status time_range_error(std::string_view text, std::string_view what) {
  return bad_request("parsing time " + go_quote(text) + ": " + std::string(what));
}

Status time_layout_error(std::string_view text, std::string_view rest, std::string_view elem) {
  return bad_request("parsing time " + go_quote(text) + " as " + go_quote(kRfc3339Layout) +
                     ": cannot parse " + go_quote(rest) + " as " + go_quote(elem));
}

// Parses exactly `n` digits at `s[pos]`.
std::optional<int> digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// RFC 3339 as Go's time.Parse(time.RFC3339, ...) accepts it, to nanoseconds since the epoch.
Result<system_clock::time_point> parse_rfc3339(std::string_view text) {
  std::size_t pos = 0;
  int fields[6] = {};
  // Each element: the layout text Go names in its error, its width, and what separates it.
  struct Elem {
    std::string_view layout;
    std::size_t width;
    char sep;  // literal expected before the element, 0 for none
  };
  static constexpr Elem kElems[6] = {{"2006", 4, 0},  {"01", 2, '-'}, {"02", 2, '-'},
                                     {"15", 2, 'T'},  {"04", 2, ':'}, {"05", 2, ':'}};
  for (int i = 0; i < 6; ++i) {
    const Elem& e = kElems[i];
    if (e.sep != 0) {
      if (pos >= text.size() || text[pos] != e.sep)
        return time_layout_error(text, text.substr(pos), std::string_view(&e.sep, 1));
      ++pos;
    }
    auto v = digits(text, pos, e.width);
    if (!v) return time_layout_error(text, text.substr(pos), e.layout);
    fields[i] = *v;
    pos += e.width;
  }
  // Optional fraction: Go keeps up to nine digits and ignores the rest.
  std::int64_t frac_ns = 0;
  if (pos < text.size() && text[pos] == '.') {
    std::size_t start = ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == start) return time_layout_error(text, text.substr(start - 1), "Z07:00");
    std::int64_t scale = 100'000'000;
    for (std::size_t i = start; i < pos && scale > 0; ++i, scale /= 10)
      frac_ns += (text[i] - '0') * scale;
  }
  int offset_minutes = 0;
  if (pos < text.size() && text[pos] == 'Z') {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    auto hh = digits(text, pos + 1, 2);
    auto mm = digits(text, pos + 4, 2);
    if (!hh || !mm || text[pos + 3] != ':')
      return time_layout_error(text, text.substr(pos), "Z07:00");
    if (*hh > 23) return time_range_error(text, "timezone hour out of range");
    if (*mm > 59) return time_range_error(text, "timezone minute out of range");
    offset_minutes = sign * (*hh * 60 + *mm);
    pos += 6;
  } else {
    return time_layout_error(text, text.substr(pos), "Z07:00");
  }
  if (pos != text.size())
    return bad_request("parsing time " + go_quote(text) + ": extra text: " +
                       go_quote(text.substr(pos)));

  const int year = fields[0], month = fields[1], day = fields[2];
  const int hour = fields[3], minute = fields[4], second = fields[5];
  if (month < 1 || month > 12) return time_range_error(text, "month out of range");
  const std::chrono::year_month_day ymd{std::chrono::year(year),
                                        std::chrono::month(static_cast<unsigned>(month)),
                                        std::chrono::day(static_cast<unsigned>(day))};
  if (day < 1 || !ymd.ok()) return time_range_error(text, "day out of range");
  if (hour > 23) return time_range_error(text, "hour out of range");
  if (minute > 59) return time_range_error(text, "minute out of range");
  if (second > 59) return time_range_error(text, "second out of range");

  // Seconds since the epoch fit easily in int64 for years 0000-9999; nanoseconds only within
  // about 1678-2262, the range of system_clock on this platform.
  const std::int64_t days = std::chrono::sys_days(ymd).time_since_epoch().count();
  const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second -
                            static_cast<std::int64_t>(offset_minutes) * 60;
  constexpr std::int64_t kMaxSecs = std::numeric_limits<std::int64_t>::max() / 1'000'000'000 - 1;
  if (secs > kMaxSecs || secs < -kMaxSecs) {
    // Go's zero time, which some clients send for "unset", maps to the zero Time.
    if (year == 1 && month == 1 && day == 1 && secs == -62135596800 && frac_ns == 0)
      return system_clock::time_point{};
    return time_range_error(text, "year outside of supported range [1678,2261]");
  }
  return system_clock::time_point{
      std::chrono::duration_cast<system_clock::duration>(nanoseconds(secs * 1'000'000'000 + frac_ns))};
}

// "2024-05-01T12:00:00" plus, when `micro`, ".123456"; then "Z".
std::string format_rfc3339(system_clock::time_point t, bool micro) {
  const auto us = std::chrono::floor<std::chrono::microseconds>(t);
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const auto days = std::chrono::floor<std::chrono::days>(secs);
  const std::chrono::year_month_day ymd{days};
  const std::chrono::hh_mm_ss hms{secs - days};
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                        static_cast<int>(hms.hours().count()),
                        static_cast<int>(hms.minutes().count()),
                        static_cast<int>(hms.seconds().count()));
  std::string out(buf, static_cast<std::size_t>(n));
  if (micro) {
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>((us - secs).count()));
    out += buf;
  }
  out += 'Z';
  return out;
}

// ---- Go durations -------------------------------------------------------------------------

Status invalid_duration(std::string_view text) {
  return bad_request("time: invalid duration " + go_quote(text));
}

std::optional<std::uint64_t> unit_nanos(std::string_view u) {
  if (u == "ns") return 1;
  if (u == "us" || u == "\xC2\xB5s" || u == "\xCE\xBCs") return 1'000;  // us, U+00B5, U+03BC
  if (u == "ms") return 1'000'000;
  if (u == "s") return 1'000'000'000;
  if (u == "m") return 60'000'000'000;
  if (u == "h") return 3'600'000'000'000;
  return std::nullopt;
}

// Appends the fraction v / 10^prec without trailing zeros (Go's fmtFrac); returns v / 10^prec.
std::uint64_t append_fraction(std::string& rev, std::uint64_t v, int prec) {
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    const auto digit = static_cast<char>(v % 10);
    print = print || digit != 0;
    if (print) rev += static_cast<char>('0' + digit);
    v /= 10;
  }
  if (print) rev += '.';
  return v;
}

void append_int(std::string& rev, std::uint64_t v) {
  if (v == 0) {
    rev += '0';
    return;
  }
  while (v > 0) {
    rev += static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

}  // namespace

// ---- Time / MicroTime -----------------------------------------------------------------------

Result<Time> Time::parse(std::string_view text) {
  ORCH_ASSIGN_OR_RETURN(auto t, parse_rfc3339(text));
  return Time{t};
}

std::string Time::to_string() const { return format_rfc3339(value, false); }

Time Time::now() {
  return Time{std::chrono::time_point_cast<system_clock::duration>(
      std::chrono::floor<std::chrono::seconds>(system_clock::now()))};
}

Result<MicroTime> MicroTime::parse(std::string_view text) {
  ORCH_ASSIGN_OR_RETURN(auto t, parse_rfc3339(text));
  return MicroTime{t};
}

std::string MicroTime::to_string() const { return format_rfc3339(value, true); }

MicroTime MicroTime::now() {
  return MicroTime{std::chrono::time_point_cast<system_clock::duration>(
      std::chrono::floor<std::chrono::microseconds>(system_clock::now()))};
}

// ---- Durations ----------------------------------------------------------------------------------

Result<nanoseconds> parse_duration(std::string_view text) {
  constexpr std::uint64_t kLimit = std::uint64_t{1} << 63;
  std::string_view s = text;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return nanoseconds(0);
  if (s.empty()) return invalid_duration(text);
  std::uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) return invalid_duration(text);
    // Integer part.
    std::uint64_t v = 0;
    std::size_t i = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      if (v > (kLimit - 1) / 10) return invalid_duration(text);  // overflow
      v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
      if (v > kLimit) return invalid_duration(text);
    }
    const bool pre = i > 0;
    s.remove_prefix(i);
    // Fraction.
    std::uint64_t f = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      std::size_t j = 0;
      bool overflow = false;
      for (; j < s.size() && s[j] >= '0' && s[j] <= '9'; ++j) {
        if (overflow) continue;
        if (f > (kLimit - 1) / 10) {
          overflow = true;
          continue;
        }
        const std::uint64_t y = f * 10 + static_cast<std::uint64_t>(s[j] - '0');
        if (y > kLimit) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) return invalid_duration(text);  // ".s"
    // Unit: everything up to the next digit or '.'.
    std::size_t u = 0;
    while (u < s.size() && s[u] != '.' && !(s[u] >= '0' && s[u] <= '9')) ++u;
    if (u == 0) return bad_request("time: missing unit in duration " + go_quote(text));
    const std::string_view unit_text = s.substr(0, u);
    s.remove_prefix(u);
    const auto unit = unit_nanos(unit_text);
    if (!unit)
      return bad_request("time: unknown unit " + go_quote(unit_text) + " in duration " +
                         go_quote(text));
    if (v > kLimit / *unit) return invalid_duration(text);
    v *= *unit;
    if (f > 0) {
      // As Go: float64 is exact enough for fractions of the largest unit (hours).
      v += static_cast<std::uint64_t>(static_cast<double>(f) *
                                      (static_cast<double>(*unit) / scale));
      if (v > kLimit) return invalid_duration(text);
    }
    total += v;
    if (total > kLimit) return invalid_duration(text);
  }
  if (neg) {
    // -2^63 is representable; negate in unsigned arithmetic.
    return nanoseconds(static_cast<std::int64_t>(~total + 1));
  }
  if (total > kLimit - 1) return invalid_duration(text);
  return nanoseconds(static_cast<std::int64_t>(total));
}

std::string format_duration(nanoseconds d) {
  const std::int64_t count = d.count();
  const bool neg = count < 0;
  std::uint64_t u = static_cast<std::uint64_t>(count);
  if (neg) u = ~u + 1;
  std::string rev;  // built backwards, as Go does
  rev += 's';
  if (u < 1'000'000'000) {
    int prec = 0;
    if (u == 0) return "0s";
    if (u < 1'000) {
      rev += 'n';
    } else if (u < 1'000'000) {
      prec = 3;
      rev += "\xB5\xC2";  // "µ" (U+00B5), reversed bytes
    } else {
      prec = 6;
      rev += 'm';
    }
    u = append_fraction(rev, u, prec);
    append_int(rev, u);
  } else {
    u = append_fraction(rev, u, 9);
    append_int(rev, u % 60);
    u /= 60;
    if (u > 0) {
      rev += 'm';
      append_int(rev, u % 60);
      u /= 60;
      if (u > 0) {
        rev += 'h';
        append_int(rev, u);
      }
    }
  }
  if (neg) rev += '-';
  return std::string(rev.rbegin(), rev.rend());
}

std::string human_age(nanoseconds d) {
  using std::to_string;
  const std::int64_t ns = d.count();
  // Go: int(d.Seconds()), a float truncated toward zero.
  const auto seconds = static_cast<std::int64_t>(static_cast<double>(ns) / 1e9);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return to_string(seconds) + "s";
  const std::int64_t minutes = ns / 60'000'000'000;
  if (minutes < 10) {
    const std::int64_t s = (ns / 1'000'000'000) % 60;
    if (s == 0) return to_string(minutes) + "m";
    return to_string(minutes) + "m" + to_string(s) + "s";
  }
  if (minutes < 60 * 3) return to_string(minutes) + "m";
  const std::int64_t hours = ns / 3'600'000'000'000;
  if (hours < 8) {
    const std::int64_t m = minutes % 60;
    if (m == 0) return to_string(hours) + "h";
    return to_string(hours) + "h" + to_string(m) + "m";
  }
  if (hours < 48) return to_string(hours) + "h";
  if (hours < 24 * 8) {
    const std::int64_t h = hours % 24;
    if (h == 0) return to_string(hours / 24) + "d";
    return to_string(hours / 24) + "d" + to_string(h) + "h";
  }
  if (hours < 24 * 365 * 2) return to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    const std::int64_t dy = (hours / 24) % 365;
    if (dy == 0) return to_string(hours / 24 / 365) + "y";
    return to_string(hours / 24 / 365) + "y" + to_string(dy) + "d";
  }
  return to_string(hours / 24 / 365) + "y";
}

}  // namespace orch::api
