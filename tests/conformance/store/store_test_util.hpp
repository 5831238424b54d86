// Helpers shared by the store tests (conformance, unit, integration): a temp dir removed on
// destruction, collecting events from a Watch with a deadline, and doctest printers for Status,
// KeyValue and Event.
//
// Thread-safety: TempDir is a value; collect() uses the Watch from the calling thread only.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include <doctest.h>
#include <stdlib.h>

#include "orch/status.hpp"
#include "orch/store/store.hpp"

namespace orch::store::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its content on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/orch-store-test-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    REQUIRE_MESSAGE(made != nullptr, "mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    // Undo chmod games of a test so that removal works.
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// What a watch produced until `want` events arrived, the watch ended, or `timeout` passed.
struct Collected {
  std::vector<Event> events;
  Status end;  // OK unless the watch ended
  bool timed_out = false;
};

inline Collected collect(Watch& watch, std::size_t want,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  Collected out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.events.size() < want) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      out.timed_out = true;
      break;
    }
    auto next = watch.next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    if (!next.ok()) {
      out.end = next.status();
      break;
    }
    for (auto& ev : *next) out.events.push_back(std::move(ev));
  }
  return out;
}

// Drains a watch until it ends or `quiet` passes with nothing new.
inline Collected drain(Watch& watch,
                       std::chrono::milliseconds quiet = std::chrono::milliseconds(200)) {
  Collected out;
  for (;;) {
    auto next = watch.next(quiet);
    if (!next.ok()) {
      out.end = next.status();
      return out;
    }
    if (next->empty()) return out;
    for (auto& ev : *next) out.events.push_back(std::move(ev));
  }
}

}  // namespace orch::store::testing

namespace orch {
inline std::ostream& operator<<(std::ostream& os, const Status& s) { return os << s.to_string(); }
inline std::ostream& operator<<(std::ostream& os, Code c) { return os << code_name(c); }
}  // namespace orch

namespace orch::store {
inline std::ostream& operator<<(std::ostream& os, const KeyValue& kv) {
  return os << "{" << kv.key << "=" << kv.value << " c" << kv.create_revision << " m"
            << kv.mod_revision << " v" << kv.version << "}";
}
inline std::ostream& operator<<(std::ostream& os, const Event& ev) {
  os << (ev.type == EventType::kPut ? "PUT" : "DELETE") << "@" << ev.revision() << " " << ev.kv;
  if (ev.prev.has_value()) os << " prev " << *ev.prev;
  return os;
}
}  // namespace orch::store
