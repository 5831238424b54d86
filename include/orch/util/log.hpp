// log: one line per event, with time, level and component, for every liborch component.
//
//   ORCH_LOG(kInfo, "scheduler", "bound {}/{} to {}", ns, name, node);
//   ORCH_VLOG(2, "proxy", "service {} now has {} endpoints", key, n);
//
// A line reads `2026-11-28T22:40:01.123Z I scheduler: bound default/web-1 to node-0`: UTC time
// with milliseconds, one letter for the level (E error, W warning, I info, and V1..V9 for the
// verbose levels `-v N` turns on), the component, the message. Messages are one line: newlines
// in them are written as `\n`, so every line of the output is one event and grep works.
//
// Lines go to stderr (see set_quiet, set_stderr) and to every registered sink. Sinks may
// filter by component (orch-server writes each component's lines to its own file, which is what
// `kubectl logs -n kube-system <component>` reads).
//
// Never pass a secret (token, key, password) to a log call: there is no redaction here.
//
// Thread-safety: every function may be called from any thread. Sinks run on the logging thread,
// under the registry's lock, one line at a time; a sink must not log nor add/remove sinks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace orch::log {

enum class Level : std::uint8_t { kError, kWarning, kInfo, kVerbose };

// One event, as handed to sinks.
struct Line {
  Level level;
  int verbosity;               // 0 unless level == kVerbose (then 1..9)
  std::string_view component;  // e.g. "apiserver", "scheduler", "agent/node-1"
  std::string_view text;       // the whole formatted line, without the trailing newline
};

// Verbose lines at `v` <= verbosity() are written; error, warning and info always are.
// Default: 0 (or the value of the environment variable ORCH_V at first use).
void set_verbosity(int v);
int verbosity();

// The stderr sink drops info and verbose lines (errors and warnings still go out); other sinks
// still get every line. For test suites that embed clusters and want readable output.
// Default: false (or true when the environment variable ORCH_QUIET=1).
void set_quiet(bool quiet);

inline bool enabled(Level level, int v = 0) {
  if (level == Level::kVerbose) return v <= verbosity();
  return true;
}

using Sink = std::function<void(const Line&)>;
// Registers a sink (in addition to stderr); returns its id.
std::uint64_t add_sink(Sink sink);
// Unregisters; once it returns the sink is not running and won't be called again.
void remove_sink(std::uint64_t id);
// Whether lines go to stderr at all. Default: true.
void set_stderr(bool on);

// Formats and emits one line. Prefer the macros, which skip formatting when not enabled.
void write(Level level, int v, std::string_view component, std::string_view message);

// The line exactly as sinks receive it (exposed for tests and for sinks that reformat).
std::string format_line(Level level, int v, std::string_view component, std::string_view message);

template <typename... Args>
void emit(Level level, int v, std::string_view component, fmt::format_string<Args...> f,
          Args&&... args) {
  write(level, v, component, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace orch::log

#define ORCH_LOG(level, component, ...)                                              \
  do {                                                                               \
    ::orch::log::emit(::orch::log::Level::level, 0, component, __VA_ARGS__);         \
  } while (false)

#define ORCH_VLOG(v, component, ...)                                                 \
  do {                                                                               \
    if (::orch::log::enabled(::orch::log::Level::kVerbose, v))                       \
      ::orch::log::emit(::orch::log::Level::kVerbose, v, component, __VA_ARGS__);    \
  } while (false)
