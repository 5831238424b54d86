// The log registry: verbosity, sinks, line formatting. Thread-safety: see log.hpp (sinks_mu_
// serialises every write, so lines from different threads never interleave).
#include "orch/util/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>

namespace orch::log {

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  return (end != nullptr && *end == '\0') ? static_cast<int>(n) : fallback;
}

std::atomic<int>& verbosity_ref() {
  static std::atomic<int> v{env_int("ORCH_V", 0)};
  return v;
}

std::atomic<bool>& quiet_ref() {
  static std::atomic<bool> q{env_int("ORCH_QUIET", 0) != 0};
  return q;
}

std::atomic<bool>& stderr_ref() {
  static std::atomic<bool> on{true};
  return on;
}

struct Registry {
  std::mutex mu;
  std::map<std::uint64_t, Sink> sinks;  // guarded by mu
  std::uint64_t next_id = 0;            // guarded by mu
};

Registry& registry() {
  // Leaked on purpose: components may log from static destructors.
  static auto* r = new Registry();
  return *r;
}

void append_escaped(std::string& out, std::string_view message) {
  for (char c : message) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
}

}  // namespace

void set_verbosity(int v) { verbosity_ref().store(v); }
int verbosity() { return verbosity_ref().load(std::memory_order_relaxed); }
void set_quiet(bool quiet) { quiet_ref().store(quiet); }

std::string format_line(Level level, int v, std::string_view component, std::string_view message) {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = fmt::format("{}.{:03d}Z ", stamp, static_cast<int>(millis));
  switch (level) {
    case Level::kError: out += 'E'; break;
    case Level::kWarning: out += 'W'; break;
    case Level::kInfo: out += 'I'; break;
    case Level::kVerbose: out += fmt::format("V{}", v); break;
  }
  out += ' ';
  out += component;
  out += ": ";
  append_escaped(out, message);
  return out;
}

void set_stderr(bool on) { stderr_ref().store(on); }

namespace {

void to_stderr(const Line& line) {
  if (!stderr_ref().load(std::memory_order_relaxed)) return;
  if (quiet_ref().load(std::memory_order_relaxed) &&
      (line.level == Level::kInfo || line.level == Level::kVerbose)) {
    return;
  }
  std::string out(line.text);
  out += '\n';
  std::fwrite(out.data(), 1, out.size(), stderr);
}

}  // namespace

void write(Level level, int v, std::string_view component, std::string_view message) {
  if (!enabled(level, v)) return;
  std::string text = format_line(level, v, component, message);
  Line line{level, level == Level::kVerbose ? v : 0, component, text};
  auto& r = registry();
  std::lock_guard lock(r.mu);
  to_stderr(line);
  for (auto& [id, sink] : r.sinks) sink(line);
}

std::uint64_t add_sink(Sink sink) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto id = ++r.next_id;
  r.sinks.emplace(id, std::move(sink));
  return id;
}

void remove_sink(std::uint64_t id) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  r.sinks.erase(id);
}

}  // namespace orch::log
