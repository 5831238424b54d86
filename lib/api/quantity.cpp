// resource.Quantity parsing, canonical printing and arithmetic (apimachinery api/resource).
// Values are exact nano-unit counts in a 128-bit integer; parsing goes through a decimal digit
// string so that any input, however long, is rounded and capped exactly.
// Thread-safety: value type, stateless functions.
#include "orch/api/quantity.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <vector>

namespace orch::api {

namespace {

using int128 = __int128;

constexpr std::int64_t kNanoPerUnit = 1'000'000'000;
constexpr int128 kMaxNano = static_cast<int128>(std::numeric_limits<std::int64_t>::max()) *
                            kNanoPerUnit;  // (2^63-1) units
constexpr std::size_t kMaxNanoDigits = 28;  // kMaxNano has 28 decimal digits

constexpr std::string_view kFormatError =
    "quantities must match the regular expression "
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
constexpr std::string_view kSuffixError = "unable to parse quantity's suffix";

Status parse_error(std::string_view text, std::string_view why) {
  std::string msg = "cannot parse quantity \"";
  msg += text;
  msg += "\": ";
  msg += why;
  return bad_request(std::move(msg));
}

int128 clamp_nano(int128 v) { return std::clamp(v, -kMaxNano, kMaxNano); }

std::string int128_to_string(int128 v) {
  if (v == 0) return "0";
  const bool neg = v < 0;
  // |v| <= kMaxNano * 2 in every caller, far from the int128 minimum.
  unsigned __int128 u = neg ? static_cast<unsigned __int128>(-v) : static_cast<unsigned __int128>(v);
  std::string out;
  while (u > 0) {
    out += static_cast<char>('0' + static_cast<int>(u % 10));
    u /= 10;
  }
  if (neg) out += '-';
  std::reverse(out.begin(), out.end());
  return out;
}

struct SuffixInfo {
  int base;           // 10 or 2
  std::int64_t exp;   // power of `base`
  Quantity::Format format;
};

// Kubernetes' suffixHandler.interpret.
std::optional<SuffixInfo> interpret_suffix(std::string_view s) {
  using F = Quantity::Format;
  static constexpr std::array<std::pair<std::string_view, int>, 10> kDecimal = {{
      {"n", -9}, {"u", -6}, {"m", -3}, {"", 0}, {"k", 3},
      {"M", 6}, {"G", 9}, {"T", 12}, {"P", 15}, {"E", 18},
  }};
  static constexpr std::array<std::pair<std::string_view, int>, 6> kBinary = {{
      {"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60},
  }};
  for (const auto& [name, exp] : kDecimal)
    if (s == name) return SuffixInfo{10, exp, F::DecimalSI};
  for (const auto& [name, exp] : kBinary)
    if (s == name) return SuffixInfo{2, exp, F::BinarySI};
  if (s.size() > 1 && (s[0] == 'e' || s[0] == 'E')) {
    std::string_view digits = s.substr(1);
    bool neg = false;
    if (digits[0] == '+' || digits[0] == '-') {
      neg = digits[0] == '-';
      digits.remove_prefix(1);
    }
    if (digits.empty() || digits.size() > 18) return std::nullopt;  // Go: ParseInt fails
    std::int64_t v = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    return SuffixInfo{10, neg ? -v : v, F::DecimalExponent};
  }
  return std::nullopt;
}

// Decimal digits, most significant first, of a non-negative integer.
using Digits = std::vector<std::uint8_t>;

void multiply_small(Digits& d, std::uint32_t m) {
  std::uint64_t carry = 0;
  for (auto it = d.rbegin(); it != d.rend(); ++it) {
    std::uint64_t v = static_cast<std::uint64_t>(*it) * m + carry;
    *it = static_cast<std::uint8_t>(v % 10);
    carry = v / 10;
  }
  while (carry > 0) {
    d.insert(d.begin(), static_cast<std::uint8_t>(carry % 10));
    carry /= 10;
  }
}

void strip_leading_zeros(Digits& d) {
  auto first = std::find_if(d.begin(), d.end(), [](std::uint8_t c) { return c != 0; });
  d.erase(d.begin(), first);
}

// ceil(digits * 10^shift), capped at kMaxNano; `digits` has no leading zeros and is non-empty.
int128 scale_round_up(Digits digits, std::int64_t shift) {
  bool round_up = false;
  if (shift >= 0) {
    if (digits.size() + static_cast<std::uint64_t>(shift) > kMaxNanoDigits) return kMaxNano;
    digits.insert(digits.end(), static_cast<std::size_t>(shift), 0);
  } else {
    const std::uint64_t drop = static_cast<std::uint64_t>(-shift);
    if (drop >= digits.size()) {
      return 1;  // a non-zero value below one nano-unit rounds up to 1n
    }
    auto keep_end = digits.end() - static_cast<std::ptrdiff_t>(drop);
    round_up = std::any_of(keep_end, digits.end(), [](std::uint8_t c) { return c != 0; });
    digits.erase(keep_end, digits.end());
    strip_leading_zeros(digits);
  }
  if (digits.size() > kMaxNanoDigits) return kMaxNano;
  int128 v = 0;
  for (std::uint8_t c : digits) v = v * 10 + c;
  if (round_up) v += 1;
  return std::min(v, kMaxNano);
}

// Rounds |nano| / divisor up, away from zero, and saturates to int64.
std::int64_t divide_away_from_zero(int128 nano, std::int64_t divisor) {
  int128 q = nano / divisor;
  if (nano % divisor != 0) q += nano > 0 ? 1 : -1;
  if (q > std::numeric_limits<std::int64_t>::max()) return std::numeric_limits<std::int64_t>::max();
  if (q < std::numeric_limits<std::int64_t>::min()) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(q);
}

}  // namespace

Result<Quantity> Quantity::parse(std::string_view text) {
  if (text.empty()) return parse_error(text, kFormatError);
  if (text == "0") return Quantity();

  // [+-]? digits* (. digits*)? [eEinumkKMGTP]* [+-]? digits*  (Kubernetes' scanner)
  std::size_t pos = 0;
  bool negative = false;
  if (text[pos] == '+' || text[pos] == '-') negative = text[pos++] == '-';
  const std::size_t num_start = pos;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
  std::string_view num = text.substr(num_start, pos - num_start);
  std::string_view denom;
  if (pos < text.size() && text[pos] == '.') {
    const std::size_t denom_start = ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    denom = text.substr(denom_start, pos - denom_start);
  }
  // Kubernetes accepts a number with no digits at all ("m", "-", ".") as zero; the regular
  // expression it quotes does not, and neither do we.
  if (num.empty() && denom.empty()) return parse_error(text, kFormatError);
  const std::size_t suffix_start = pos;
  while (pos < text.size() && std::string_view("eEinumkKMGTP").find(text[pos]) != std::string_view::npos)
    ++pos;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
  if (pos != text.size()) return parse_error(text, kFormatError);

  std::optional<SuffixInfo> suffix = interpret_suffix(text.substr(suffix_start));
  if (!suffix) return parse_error(text, kSuffixError);

  Digits digits;
  for (char c : num) digits.push_back(static_cast<std::uint8_t>(c - '0'));
  for (char c : denom) digits.push_back(static_cast<std::uint8_t>(c - '0'));
  strip_leading_zeros(digits);
  if (digits.empty()) return Quantity(0, suffix->format);

  // value = digits * 10^(exp10 - len(denom)) * 2^exp2; nano = value * 10^9.
  std::int64_t exp10 = -static_cast<std::int64_t>(denom.size()) + 9;
  if (suffix->base == 10) {
    // Beyond +-10^15 the result is capped or rounded to 1n anyway; avoid int64 overflow.
    exp10 += std::clamp<std::int64_t>(suffix->exp, -1'000'000'000'000'000, 1'000'000'000'000'000);
  } else {
    for (std::int64_t i = 0; i < suffix->exp; i += 10) multiply_small(digits, 1024);
  }
  int128 nano = scale_round_up(std::move(digits), exp10);
  Format format = suffix->format;
  // A binary quantity below one unit has no binary form ("0.0001Ki"): keep it decimal.
  if (format == Format::BinarySI && nano < kNanoPerUnit) format = Format::DecimalSI;
  return Quantity(negative ? -nano : nano, format);
}

Quantity Quantity::from_value(std::int64_t value, Format format) {
  return Quantity(clamp_nano(static_cast<int128>(value) * kNanoPerUnit), format);
}

Quantity Quantity::from_milli(std::int64_t milli, Format format) {
  return Quantity(static_cast<int128>(milli) * 1'000'000, format);
}

std::int64_t Quantity::milli_value() const { return divide_away_from_zero(nano_, 1'000'000); }

std::int64_t Quantity::value() const { return divide_away_from_zero(nano_, kNanoPerUnit); }

double Quantity::as_double() const {
  // Split to keep full double precision for large values.
  const int128 whole = nano_ / kNanoPerUnit;
  const int128 frac = nano_ % kNanoPerUnit;
  return static_cast<double>(whole) + static_cast<double>(frac) / static_cast<double>(kNanoPerUnit);
}

std::string Quantity::to_string() const {
  if (nano_ == 0) return "0";
  Format format = format_;
  if (format == Format::BinarySI) {
    const int128 limit = static_cast<int128>(1024) * kNanoPerUnit;
    // Small or fractional binary values print as decimal SI rather than lose precision.
    if ((nano_ > -limit && nano_ < limit) || nano_ % kNanoPerUnit != 0) format = Format::DecimalSI;
  }
  if (format == Format::BinarySI) {
    int128 v = nano_ / kNanoPerUnit;
    static constexpr std::array<std::string_view, 7> kSuffix = {"", "Ki", "Mi", "Gi",
                                                                 "Ti", "Pi", "Ei"};
    std::size_t times = 0;
    while ((v >= 1024 || v <= -1024) && v % 1024 == 0 && times + 1 < kSuffix.size()) {
      v /= 1024;
      ++times;
    }
    return int128_to_string(v) + std::string(kSuffix[times]);
  }

  // Mantissa and base-10 exponent with the exponent a multiple of 3, mantissa as small as that
  // allows ("1500" stays "1500"; "2000" -> 2e3 -> "2k").
  int128 mantissa = nano_;
  int exponent = -9;
  while ((mantissa >= 10 || mantissa <= -10) && mantissa % 10 == 0) {
    mantissa /= 10;
    ++exponent;
  }
  switch (exponent % 3) {
    case 1:
    case -2:
      mantissa *= 10;
      exponent -= 1;
      break;
    case 2:
    case -1:
      mantissa *= 100;
      exponent -= 2;
      break;
    default: break;
  }
  std::string out = int128_to_string(mantissa);
  if (format == Format::DecimalSI) {
    switch (exponent) {
      case -9: return out + "n";
      case -6: return out + "u";
      case -3: return out + "m";
      case 0: return out;
      case 3: return out + "k";
      case 6: return out + "M";
      case 9: return out + "G";
      case 12: return out + "T";
      case 15: return out + "P";
      case 18: return out + "E";
      default: break;  // unreachable under the cap; fall back to an exponent as Kubernetes
    }
  }
  if (exponent == 0) return out;
  return out + "e" + std::to_string(exponent);
}

Quantity Quantity::operator+(const Quantity& other) const {
  return Quantity(clamp_nano(nano_ + other.nano_), nano_ == 0 ? other.format_ : format_);
}

Quantity Quantity::operator-(const Quantity& other) const {
  return Quantity(clamp_nano(nano_ - other.nano_), nano_ == 0 ? other.format_ : format_);
}

Quantity& Quantity::operator+=(const Quantity& other) { return *this = *this + other; }

Quantity& Quantity::operator-=(const Quantity& other) { return *this = *this - other; }

Quantity Quantity::operator-() const { return Quantity(-nano_, format_); }

}  // namespace orch::api
