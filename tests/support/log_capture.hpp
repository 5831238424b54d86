// LogCapture: collects the lines of orch/util/log.hpp while alive, for tests that assert a
// component logged an event. Sets the verbosity for its lifetime (restored on destruction) and
// leaves stderr as it is.
//
// Thread-safety: lines arrive on any thread; lines(), find() may be called from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "orch/util/log.hpp"

namespace orch::testing {

class LogCapture {
 public:
  explicit LogCapture(int verbosity = 0) : old_v_(log::verbosity()) {
    log::set_verbosity(verbosity);
    id_ = log::add_sink([this](const log::Line& l) {
      std::lock_guard lock(mu_);
      lines_.push_back({std::string(l.component), std::string(l.text)});
    });
  }
  ~LogCapture() {
    log::remove_sink(id_);
    log::set_verbosity(old_v_);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // The first line of `component` containing `text` (the whole formatted line), "" if none yet.
  std::string find(std::string_view component, std::string_view text) const {
    std::lock_guard lock(mu_);
    for (const auto& [c, line] : lines_) {
      if (c == component && line.find(text) != std::string::npos) return line;
    }
    return {};
  }
  // How many lines of `component` contain `text`.
  std::size_t count(std::string_view component, std::string_view text) const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& [c, line] : lines_) {
      if (c == component && line.find(text) != std::string::npos) ++n;
    }
    return n;
  }
  // Every line seen, formatted.
  std::vector<std::string> lines() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& l : lines_) out.push_back(l.second);
    return out;
  }

 private:
  int old_v_;
  std::uint64_t id_ = 0;
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> lines_;
};

}  // namespace orch::testing
