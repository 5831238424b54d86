// Small HTTP helpers private to the API server's listener. Thread-safety: stateless.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "orch/apiserver/status_body.hpp"

namespace orch::apiserver {

// Splits "/p%20a/th?x=1&y=a+b" into the decoded path and query ('+' is a space in the query, as
// Go's url.ParseQuery reads it). A repeated key keeps its last value.
void split_target(std::string_view target, std::string& path, std::map<std::string, std::string>& query);
// Percent-decodes `s`; with plus_is_space, '+' becomes ' '. Malformed escapes are kept as is.
std::string percent_decode(std::string_view s, bool plus_is_space);
// Brackets an IPv6 literal for use in a URL.
std::string host_for_url(const std::string& address);

}  // namespace orch::apiserver
