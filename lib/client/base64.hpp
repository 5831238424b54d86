// Private: standard base64 (RFC 4648 §4) for kubeconfig *-data fields.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace orch::client::detail {

// With '=' padding.
std::string base64_encode(std::string_view data);
// Whitespace (CR, LF, space, tab) is skipped; padding is optional. nullopt on any other byte
// outside the alphabet or a truncated final group.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace orch::client::detail
