// log: line format, verbosity, sinks.
#include "orch/util/log.hpp"

#include <doctest/doctest.h>

#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace {

// Collects every line while alive (stderr off meanwhile); restores verbosity on exit.
struct Capture {
  std::vector<std::string> lines;
  std::vector<std::string> components;
  std::uint64_t id;
  int old_v = orch::log::verbosity();
  Capture()
      : id(orch::log::add_sink([this](const orch::log::Line& l) {
          lines.emplace_back(l.text);
          components.emplace_back(l.component);
        })) {
    orch::log::set_stderr(false);
  }
  ~Capture() {
    orch::log::set_stderr(true);
    orch::log::remove_sink(id);
    orch::log::set_verbosity(old_v);
  }
};

}  // namespace

TEST_CASE("a line has UTC time, level letter, component and message") {
  Capture cap;
  ORCH_LOG(kInfo, "scheduler", "bound {}/{} to {}", "default", "web-1", "node-0");
  ORCH_LOG(kWarning, "agent", "probe failed");
  ORCH_LOG(kError, "apiserver", "store unavailable");
  REQUIRE(cap.lines.size() == 3);
  std::regex shape(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z I scheduler: bound default/web-1 to node-0)");
  CHECK(std::regex_match(cap.lines[0], shape));
  CHECK(cap.lines[1].find(" W agent: probe failed") != std::string::npos);
  CHECK(cap.lines[2].find(" E apiserver: store unavailable") != std::string::npos);
  CHECK(cap.components[0] == "scheduler");
}

TEST_CASE("a message with newlines stays one line") {
  Capture cap;
  ORCH_LOG(kInfo, "x", "a\nb\r\nc");
  REQUIRE(cap.lines.size() == 1);
  CHECK(cap.lines[0].find('\n') == std::string::npos);
  CHECK(cap.lines[0].ends_with("x: a\\nb\\r\\nc"));
}

TEST_CASE("verbose lines appear only up to the verbosity set") {
  Capture cap;
  orch::log::set_verbosity(2);
  int formatted = 0;
  auto count = [&] { return ++formatted; };
  ORCH_VLOG(2, "proxy", "shown {}", count());
  ORCH_VLOG(3, "proxy", "hidden {}", count());
  REQUIRE(cap.lines.size() == 1);
  CHECK(cap.lines[0].find(" V2 proxy: shown 1") != std::string::npos);
  CHECK(formatted == 1);  // the hidden line's arguments were never evaluated
  orch::log::set_verbosity(0);
  ORCH_VLOG(1, "proxy", "hidden");
  CHECK(cap.lines.size() == 1);
}

TEST_CASE("a removed sink gets nothing more; lines from many threads never interleave") {
  std::vector<std::string> after;
  {
    Capture cap;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([t] {
        for (int i = 0; i < 200; ++i) ORCH_LOG(kInfo, "t", "thread {} line {}", t, i);
      });
    }
    for (auto& th : threads) th.join();
    REQUIRE(cap.lines.size() == 800);
    std::regex shape(R"(.* I t: thread \d line \d+)");
    for (const auto& l : cap.lines) REQUIRE(std::regex_match(l, shape));
  }
  auto id = orch::log::add_sink([&](const orch::log::Line& l) { after.emplace_back(l.text); });
  ORCH_LOG(kInfo, "t", "one");
  orch::log::remove_sink(id);
  CHECK(after.size() == 1);
}
