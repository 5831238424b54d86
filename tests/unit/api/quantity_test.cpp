// resource.Quantity: parsing, Kubernetes' canonical printing, milli/whole values, comparison and
// arithmetic.
#include "orch/api/quantity.hpp"

#include <doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace orch::api {
namespace {

using Format = Quantity::Format;

Quantity q(std::string_view s) {
  Result<Quantity> r = Quantity::parse(s);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  return *r;
}

TEST_CASE("Quantity::parse reads every suffix and prints the canonical form") {
  struct Case {
    std::string in;
    std::string out;          // to_string()
    std::int64_t milli;       // milli_value()
    std::int64_t value;       // value(), rounded up
    Format format;
  };
  const std::int64_t kGi = 1024LL * 1024 * 1024;
  const std::vector<Case> cases = {
      {"0", "0", 0, 0, Format::DecimalSI},
      {"2", "2", 2000, 2, Format::DecimalSI},
      {"500m", "500m", 500, 1, Format::DecimalSI},
      {"0.5", "500m", 500, 1, Format::DecimalSI},
      {"1.5", "1500m", 1500, 2, Format::DecimalSI},
      {"100m", "100m", 100, 1, Format::DecimalSI},
      {"1000m", "1", 1000, 1, Format::DecimalSI},
      {"1500", "1500", 1500000, 1500, Format::DecimalSI},
      {"2000", "2k", 2000000, 2000, Format::DecimalSI},
      {"100k", "100k", 100000000, 100000, Format::DecimalSI},
      {"1.5k", "1500", 1500000, 1500, Format::DecimalSI},
      {"1G", "1G", 1000000000000, 1000000000, Format::DecimalSI},
      {"12M", "12M", 12000000000, 12000000, Format::DecimalSI},
      {"3T", "3T", 3000000000000000, 3000000000000, Format::DecimalSI},
      {"2P", "2P", 2000000000000000000, 2000000000000000, Format::DecimalSI},
      {"1E", "1E", std::numeric_limits<std::int64_t>::max(), 1000000000000000000, Format::DecimalSI},
      {"1n", "1n", 1, 1, Format::DecimalSI},
      {"10u", "10u", 1, 1, Format::DecimalSI},
      {"1500u", "1500u", 2, 1, Format::DecimalSI},
      {"1Ki", "1Ki", 1024000, 1024, Format::BinarySI},
      {"1024Ki", "1Mi", 1048576000, 1048576, Format::BinarySI},
      {"128Mi", "128Mi", 128LL * 1024 * 1024 * 1000, 128LL * 1024 * 1024, Format::BinarySI},
      {"1.5Gi", "1536Mi", 1536LL * 1024 * 1024 * 1000, 1536LL * 1024 * 1024, Format::BinarySI},
      {"2Gi", "2Gi", 2 * kGi * 1000, 2 * kGi, Format::BinarySI},
      {"1Ti", "1Ti", 1024 * kGi * 1000, 1024 * kGi, Format::BinarySI},
      {"1Pi", "1Pi", 1024 * 1024 * kGi * 1000, 1024 * 1024 * kGi, Format::BinarySI},
      {"1Ei", "1Ei", std::numeric_limits<std::int64_t>::max(), 1024LL * 1024 * 1024 * kGi,
       Format::BinarySI},
      {"0.5Ki", "512", 512000, 512, Format::BinarySI},
      {"1.1Ki", "1126400m", 1126400, 1127, Format::BinarySI},
      {"1e3", "1e3", 1000000, 1000, Format::DecimalExponent},
      {"1E3", "1e3", 1000000, 1000, Format::DecimalExponent},
      {"1.5e3", "1500", 1500000, 1500, Format::DecimalExponent},
      {"1e-3", "1e-3", 1, 1, Format::DecimalExponent},
      {"12e+6", "12e6", 12000000000, 12000000, Format::DecimalExponent},
      {"-1", "-1", -1000, -1, Format::DecimalSI},
      {"-500m", "-500m", -500, -1, Format::DecimalSI},
      {"-1.5Gi", "-1536Mi", -1536LL * 1024 * 1024 * 1000, -1536LL * 1024 * 1024, Format::BinarySI},
      {"+2", "2", 2000, 2, Format::DecimalSI},
      {"007", "7", 7000, 7, Format::DecimalSI},
      {"1.", "1", 1000, 1, Format::DecimalSI},
      {".5", "500m", 500, 1, Format::DecimalSI},
      {"0.1n", "1n", 1, 1, Format::DecimalSI},  // below 1n rounds up
      {"0.0001Ki", "102400u", 103, 1, Format::DecimalSI},  // binary below 1 becomes decimal
      {"0m", "0", 0, 0, Format::DecimalSI},
      {"0Gi", "0", 0, 0, Format::BinarySI},
      {"1000E", "9223372036854775807", std::numeric_limits<std::int64_t>::max(),
       std::numeric_limits<std::int64_t>::max(), Format::DecimalSI},  // capped at 2^63-1
  };
  for (const auto& c : cases) {
    SUBCASE(c.in.c_str()) {
      Quantity got = q(c.in);
      CHECK(got.to_string() == c.out);
      CHECK(got.milli_value() == c.milli);
      CHECK(got.value() == c.value);
      CHECK(got.format() == c.format);
      // The canonical string means the same amount.
      CHECK(q(got.to_string()) == got);
      CHECK(q(got.to_string()).to_string() == c.out);
    }
  }
}

TEST_CASE("Quantity::parse rejects malformed input, naming it") {
  const std::string kRegex =
      "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
  struct Case {
    std::string in;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "cannot parse quantity \"\": " + kRegex},
      {"12Q", "cannot parse quantity \"12Q\": " + kRegex},
      {"1.2.3", "cannot parse quantity \"1.2.3\": " + kRegex},
      {"abc", "cannot parse quantity \"abc\": " + kRegex},
      {"m", "cannot parse quantity \"m\": " + kRegex},
      {"-", "cannot parse quantity \"-\": " + kRegex},
      {" 1", "cannot parse quantity \" 1\": " + kRegex},
      {"1 ", "cannot parse quantity \"1 \": " + kRegex},
      {"1Gi5x", "cannot parse quantity \"1Gi5x\": " + kRegex},
      {"1ki", "cannot parse quantity \"1ki\": unable to parse quantity's suffix"},
      {"1K", "cannot parse quantity \"1K\": unable to parse quantity's suffix"},
      {"1e", "cannot parse quantity \"1e\": unable to parse quantity's suffix"},
      {"1mi", "cannot parse quantity \"1mi\": unable to parse quantity's suffix"},
      {"5iB", "cannot parse quantity \"5iB\": " + kRegex},
  };
  for (const auto& c : cases) {
    SUBCASE(c.in.c_str()) {
      Result<Quantity> r = Quantity::parse(c.in);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == Code::kBadRequest);
      CHECK(r.status().message() == c.message);
    }
  }
}

TEST_CASE("quantities compare by amount, whatever the format") {
  struct Case {
    std::string a, b;
    int want;  // sign of a <=> b
  };
  const std::vector<Case> cases = {
      {"1Ki", "1024", 0},   {"1", "1000m", 0},     {"1e3", "1k", 0},   {"0.5", "500m", 0},
      {"500m", "1", -1},    {"1Gi", "1G", 1},      {"100Mi", "1Gi", -1}, {"-1", "0", -1},
      {"1n", "0", 1},       {"128974848", "123Mi", 0}, {"129e6", "129M", 0},
  };
  for (const auto& c : cases) {
    SUBCASE((c.a + " vs " + c.b).c_str()) {
      const Quantity a = q(c.a), b = q(c.b);
      const auto order = a <=> b;
      const int got = order < 0 ? -1 : (order > 0 ? 1 : 0);
      CHECK(got == c.want);
      CHECK((a == b) == (c.want == 0));
      CHECK((a < b) == (c.want < 0));
    }
  }
}

TEST_CASE("addition and subtraction keep the left format unless it is zero") {
  struct Case {
    std::string a, b;
    bool add;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"100m", "200m", true, "300m"},
      {"1", "500m", true, "1500m"},
      {"1Gi", "512Mi", true, "1536Mi"},
      {"0", "512Mi", true, "512Mi"},     // zero takes the other's format
      {"1Gi", "1G", true, "2073741824"},  // not a whole number of Ki
      {"2", "500m", false, "1500m"},
      {"1Gi", "1Gi", false, "0"},
      {"500m", "1", false, "-500m"},
      {"0", "1Ki", false, "-1Ki"},
  };
  for (const auto& c : cases) {
    SUBCASE((c.a + (c.add ? " + " : " - ") + c.b).c_str()) {
      Quantity got = c.add ? q(c.a) + q(c.b) : q(c.a) - q(c.b);
      CHECK(got.to_string() == c.want);
      Quantity acc = q(c.a);
      if (c.add) {
        acc += q(c.b);
      } else {
        acc -= q(c.b);
      }
      CHECK(acc == got);
    }
  }
}

TEST_CASE("arithmetic saturates at the cap instead of overflowing") {
  const Quantity max = q("9223372036854775807");
  CHECK((max + q("1")).to_string() == "9223372036854775807");
  CHECK((-max - q("5")).to_string() == "-9223372036854775807");
  CHECK((-max).value() == -std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("from_value and from_milli build quantities that print like parsed ones") {
  CHECK(Quantity::from_milli(250).to_string() == "250m");
  CHECK(Quantity::from_milli(2000).to_string() == "2");
  CHECK(Quantity::from_value(3).to_string() == "3");
  CHECK(Quantity::from_value(64LL * 1024 * 1024, Format::BinarySI).to_string() == "64Mi");
  CHECK(Quantity::from_value(1000, Format::BinarySI).to_string() == "1k");
  CHECK(Quantity::from_milli(1500) == q("1.5"));
  CHECK(Quantity().is_zero());
  CHECK(q("-3").sign() == -1);
  CHECK(q("3m").sign() == 1);
  CHECK(q("1.5Gi").as_double() == doctest::Approx(1610612736.0));
  CHECK(q("250m").as_double() == doctest::Approx(0.25));
}

}  // namespace
}  // namespace orch::api
