// Key ranges as etcd spells them: a prefix is the half-open range [prefix, prefix_end(prefix)),
// where prefix_end increments the last byte that is not 0xff and drops what follows. Shared by
// every Store backend so that they agree byte for byte on what "under a prefix" means.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace orch::store {

// The exclusive end of the range of keys starting with `prefix`; nullopt = no end (the prefix is
// empty or all 0xff bytes). etcd uses "\0" for "no end" on the wire.
inline std::optional<std::string> prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::nullopt;
}

// Whether `key` starts with `prefix` (bytewise).
inline bool has_prefix(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix;
}

}  // namespace orch::store
