// metav1.Time / MicroTime (RFC 3339), Go durations and kubectl's AGE column.
#include "orch/api/time.hpp"

#include <doctest.h>

#include <chrono>
#include <limits>
#include <string>
#include <vector>

namespace orch::api {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

TEST_CASE("Time and MicroTime parse RFC 3339 and print UTC") {
  struct Case {
    std::string in;
    std::string time;   // Time::to_string()
    std::string micro;  // MicroTime::to_string()
  };
  const std::vector<Case> cases = {
      {"2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.000000Z"},
      {"2024-05-01T14:00:00+02:00", "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.000000Z"},
      {"2024-05-01T00:30:00-01:30", "2024-05-01T02:00:00Z", "2024-05-01T02:00:00.000000Z"},
      {"2025-01-01T00:30:00+01:00", "2024-12-31T23:30:00Z", "2024-12-31T23:30:00.000000Z"},
      {"2024-05-01T12:00:00.999Z", "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.999000Z"},
      {"2024-05-01T12:00:00.123456Z", "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456Z"},
      {"2024-05-01T12:00:00.1234567891Z", "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456Z"},
      {"2024-02-29T23:59:59Z", "2024-02-29T23:59:59Z", "2024-02-29T23:59:59.000000Z"},
      {"1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59Z", "1969-12-31T23:59:59.500000Z"},
      {"1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000Z"},
      {"2262-01-01T00:00:00Z", "2262-01-01T00:00:00Z", "2262-01-01T00:00:00.000000Z"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.in.c_str()) {
      Result<Time> t = Time::parse(c.in);
      REQUIRE_MESSAGE(t.ok(), t.status().to_string());
      CHECK(t->to_string() == c.time);
      Result<MicroTime> m = MicroTime::parse(c.in);
      REQUIRE(m.ok());
      CHECK(m->to_string() == c.micro);
      CHECK(m->value == t->value);
      // Printed forms parse back to the same instant at their precision.
      Result<Time> again = Time::parse(t->to_string());
      REQUIRE(again.ok());
      CHECK(again->to_string() == c.time);
      Result<MicroTime> micro_again = MicroTime::parse(m->to_string());
      REQUIRE(micro_again.ok());
      CHECK(micro_again->to_string() == c.micro);
    }
  }
}

TEST_CASE("Time values: epoch, Go's zero time and ordering") {
  CHECK(Time{}.is_zero());
  CHECK(Time::parse("1970-01-01T00:00:00Z")->is_zero());
  CHECK(Time::parse("0001-01-01T00:00:00Z")->is_zero());
  CHECK_FALSE(Time::parse("2024-05-01T12:00:00Z")->is_zero());
  CHECK(*Time::parse("2024-05-01T12:00:00Z") == *Time::parse("2024-05-01T14:00:00+02:00"));
  CHECK(*Time::parse("2024-05-01T12:00:00Z") < *Time::parse("2024-05-01T12:00:01Z"));
  CHECK(*MicroTime::parse("2024-05-01T12:00:00.000001Z") > *MicroTime::parse("2024-05-01T12:00:00Z"));
  CHECK((Time::parse("2024-05-01T12:00:01Z")->value - Time::parse("2024-05-01T12:00:00Z")->value) ==
        1s);
}

TEST_CASE("now() is truncated so that printing and parsing round-trips exactly") {
  const Time t = Time::now();
  CHECK(t.value.time_since_epoch() % 1s == 0ns);
  CHECK(*Time::parse(t.to_string()) == t);
  const MicroTime m = MicroTime::now();
  CHECK(m.value.time_since_epoch() % 1us == 0ns);
  CHECK(*MicroTime::parse(m.to_string()) == m);
  CHECK(t.value.time_since_epoch() > 1'700'000'000s);  // after Nov 2023: a real clock
}

TEST_CASE("Time::parse rejects non-RFC 3339 input with Go's message") {
  const std::string as = " as \"2006-01-02T15:04:05Z07:00\": ";
  struct Case {
    std::string in;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "parsing time \"\"" + as + "cannot parse \"\" as \"2006\""},
      {"24-05-01T12:00:00Z", "parsing time \"24-05-01T12:00:00Z\"" + as +
                                 "cannot parse \"24-05-01T12:00:00Z\" as \"2006\""},
      {"2024-05-01 12:00:00Z",
       "parsing time \"2024-05-01 12:00:00Z\"" + as + "cannot parse \" 12:00:00Z\" as \"T\""},
      {"2024-05-01T12:00:00",
       "parsing time \"2024-05-01T12:00:00\"" + as + "cannot parse \"\" as \"Z07:00\""},
      {"2024-05-01T12:00:00+2:00",
       "parsing time \"2024-05-01T12:00:00+2:00\"" + as + "cannot parse \"+2:00\" as \"Z07:00\""},
      {"2024-05-01T12:00Z",
       "parsing time \"2024-05-01T12:00Z\"" + as + "cannot parse \"Z\" as \":\""},
      {"2024-13-01T00:00:00Z", "parsing time \"2024-13-01T00:00:00Z\": month out of range"},
      {"2023-02-29T00:00:00Z", "parsing time \"2023-02-29T00:00:00Z\": day out of range"},
      {"2024-04-00T00:00:00Z", "parsing time \"2024-04-00T00:00:00Z\": day out of range"},
      {"2024-05-01T24:00:00Z", "parsing time \"2024-05-01T24:00:00Z\": hour out of range"},
      {"2024-05-01T12:60:00Z", "parsing time \"2024-05-01T12:60:00Z\": minute out of range"},
      {"2024-05-01T12:00:60Z", "parsing time \"2024-05-01T12:00:60Z\": second out of range"},
      {"2024-05-01T12:00:00+24:00",
       "parsing time \"2024-05-01T12:00:00+24:00\": timezone hour out of range"},
      {"2024-05-01T12:00:00+01:60",
       "parsing time \"2024-05-01T12:00:00+01:60\": timezone minute out of range"},
      {"2024-05-01T12:00:00Zjunk", "parsing time \"2024-05-01T12:00:00Zjunk\": extra text: \"junk\""},
      {"3000-01-01T00:00:00Z",
       "parsing time \"3000-01-01T00:00:00Z\": year outside of supported range [1678,2261]"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.in.c_str()) {
      Result<Time> t = Time::parse(c.in);
      REQUIRE_FALSE(t.ok());
      CHECK(t.status().code() == Code::kBadRequest);
      CHECK(t.status().message() == c.message);
      CHECK_FALSE(MicroTime::parse(c.in).ok());
    }
  }
}

TEST_CASE("parse_duration reads Go durations") {
  struct Case {
    std::string in;
    nanoseconds want;
  };
  const std::vector<Case> cases = {
      {"0", 0ns},
      {"+0", 0ns},
      {"0s", 0ns},
      {"300ms", 300ms},
      {"1h30m", 90min},
      {"-1.5h", -90min},
      {"2us", 2us},
      {"1\xC2\xB5s", 1us},  // micro sign U+00B5
      {"1\xCE\xBCs", 1us},  // Greek mu U+03BC
      {"1.5s", 1500ms},
      {".5s", 500ms},
      {"1.s", 1s},
      {"+5s", 5s},
      {"1h1m1s1ms1us1ns", 1h + 1min + 1s + 1ms + 1us + 1ns},
      {"100ns", 100ns},
      {"0.000000001s", 1ns},
      {"2562047h", 2562047h},
      {"9223372036854775807ns", nanoseconds(std::numeric_limits<std::int64_t>::max())},
      {"-9223372036854775808ns", nanoseconds(std::numeric_limits<std::int64_t>::min())},
  };
  for (const auto& c : cases) {
    SUBCASE(c.in.c_str()) {
      Result<nanoseconds> d = parse_duration(c.in);
      REQUIRE_MESSAGE(d.ok(), d.status().to_string());
      CHECK(d->count() == c.want.count());
    }
  }
}

TEST_CASE("parse_duration errors say what Go says") {
  struct Case {
    std::string in;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "time: invalid duration \"\""},
      {"-", "time: invalid duration \"-\""},
      {"x", "time: invalid duration \"x\""},
      {".s", "time: invalid duration \".s\""},
      {"1h-1m", "time: unknown unit \"h-\" in duration \"1h-1m\""},
      {"1", "time: missing unit in duration \"1\""},
      {"1x", "time: unknown unit \"x\" in duration \"1x\""},
      {"5 s", "time: unknown unit \" s\" in duration \"5 s\""},
      {"1d", "time: unknown unit \"d\" in duration \"1d\""},
      {"2562048h", "time: invalid duration \"2562048h\""},
      {"9223372036854775808ns", "time: invalid duration \"9223372036854775808ns\""},
      {"99999999999999999999s", "time: invalid duration \"99999999999999999999s\""},
  };
  for (const auto& c : cases) {
    SUBCASE(c.in.c_str()) {
      Result<nanoseconds> d = parse_duration(c.in);
      REQUIRE_FALSE(d.ok());
      CHECK(d.status().code() == Code::kBadRequest);
      CHECK(d.status().message() == c.message);
    }
  }
}

TEST_CASE("format_duration prints like Go's Duration.String and parses back") {
  struct Case {
    nanoseconds in;
    std::string want;
  };
  const std::vector<Case> cases = {
      {0ns, "0s"},
      {1ns, "1ns"},
      {999ns, "999ns"},
      {1100ns, "1.1\xC2\xB5s"},
      {2200us, "2.2ms"},
      {300ms, "300ms"},
      {1500ms, "1.5s"},
      {1s, "1s"},
      {61s, "1m1s"},
      {90min, "1h30m0s"},
      {1h, "1h0m0s"},
      {100h + 1ns, "100h0m0.000000001s"},
      {-1min, "-1m0s"},
      {-1500us, "-1.5ms"},
      {nanoseconds(std::numeric_limits<std::int64_t>::max()), "2562047h47m16.854775807s"},
      {nanoseconds(std::numeric_limits<std::int64_t>::min()), "-2562047h47m16.854775808s"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.want.c_str()) {
      CHECK(format_duration(c.in) == c.want);
      Result<nanoseconds> back = parse_duration(format_duration(c.in));
      REQUIRE(back.ok());
      CHECK(back->count() == c.in.count());
    }
  }
}

TEST_CASE("human_age follows kubectl's HumanDuration") {
  using days = std::chrono::days;
  struct Case {
    nanoseconds in;
    std::string want;
  };
  const std::vector<Case> cases = {
      {-3s, "<invalid>"},
      {-2s, "<invalid>"},
      {-1500ms, "0s"},  // within clock skew
      {-1s, "0s"},
      {0s, "0s"},
      {5s, "5s"},
      {5900ms, "5s"},
      {119s, "119s"},
      {120s, "2m"},
      {200s, "3m20s"},
      {599s, "9m59s"},
      {10min, "10m"},
      {12min + 30s, "12m"},
      {179min, "179m"},
      {3h, "3h"},
      {5h + 30min, "5h30m"},
      {7h + 59min, "7h59m"},
      {8h + 30min, "8h"},
      {47h, "47h"},
      {48h, "2d"},
      {days(3) + 4h, "3d4h"},
      {days(7) + 23h, "7d23h"},
      {days(8), "8d"},
      {days(45), "45d"},
      {days(729), "729d"},
      {days(730), "2y"},
      {days(740), "2y10d"},
      {days(365 * 8), "8y"},
      {days(3660), "10y"},
  };
  for (const auto& c : cases) {
    SUBCASE((format_duration(c.in) + " -> " + c.want).c_str()) { CHECK(human_age(c.in) == c.want); }
  }
}

}  // namespace
}  // namespace orch::api
