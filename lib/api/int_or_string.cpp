// IntOrString printing and percentage scaling (apimachinery util/intstr).
// Thread-safety: value type.
#include "orch/api/int_or_string.hpp"

#include <charconv>
#include <cmath>

namespace orch::api {

std::string IntOrString::to_string() const {
  return is_string_ ? str_ : std::to_string(int_);
}

Result<std::int32_t> IntOrString::scaled_value(std::int32_t total, bool round_up) const {
  if (!is_string_) return int_;
  if (str_.empty() || str_.back() != '%') {
    return bad_request("invalid value for IntOrString: invalid type: string is not a percentage");
  }
  std::string_view digits(str_.data(), str_.size() - 1);
  std::int64_t percent = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), percent);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.empty()) {
    return bad_request("invalid value \"" + str_ + "\": strconv.Atoi: parsing \"" +
                       std::string(digits) + "\": invalid syntax");
  }
  const double scaled = static_cast<double>(percent) * static_cast<double>(total) / 100.0;
  const double rounded = round_up ? std::ceil(scaled) : std::floor(scaled);
  return static_cast<std::int32_t>(rounded);
}

}  // namespace orch::api
