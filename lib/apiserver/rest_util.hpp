// Helpers of the REST handler that need no registry: identifiers, continue tokens, field paths,
// the watch event stream. Private to lib/apiserver.
//
// Thread-safety: stateless functions; random draws use a thread-local engine.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "orch/apiserver/handler.hpp"
#include "orch/status.hpp"
#include "orch/store/store.hpp"
#include "watch_hub.hpp"

namespace orch::apiserver {

// A random RFC 4122 version-4 UUID ("6f1c...-4...").
std::string new_uid();
// `n` characters from Kubernetes' generateName alphabet (no vowels, no ambiguous digits).
std::string random_suffix(std::size_t n = 5);

// A list's continue token: the store revision the first page was read at and the key to go on
// from. Opaque base64 text to clients.
struct ContinueToken {
  store::Revision revision = 0;
  std::string start_key;
};
std::string encode_continue(const ContinueToken& token);
// BadRequest on anything this server did not produce.
Result<ContinueToken> decode_continue(std::string_view text);

// The value at a dotted field path ("spec.nodeName", "involvedObject.uid") as a field selector
// compares it: strings as is, booleans "true"/"false", numbers in decimal; an absent field is "".
// nullopt when a step crosses a non-object.
std::optional<std::string> field_value(const boost::json::value& object, std::string_view path);

// Whether two objects differ anywhere outside metadata and status (so generation must move).
bool spec_changed(const boost::json::value& before, const boost::json::value& after);

// "true", "1" and "True" (Python sends True) are true.
bool truthy(std::optional<std::string_view> v);

// The watch response body: one JSON line per event, as client-go and the Python client read it.
struct WatchStreamOptions {
  bool bookmarks = false;  // allowWatchBookmarks
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::string kind;         // for BOOKMARK objects: "Pod"
  std::string api_version;  // for BOOKMARK objects: "v1"
  // Turns an event object into what the client asked for (a one-row Table); null = as is.
  std::function<boost::json::value(const boost::json::value&)> render;
  std::chrono::milliseconds bookmark_interval{std::chrono::seconds(60)};
};
// `initial` events are sent first (the synthetic ADDED events of a watch without a
// resourceVersion); `sub` may be null when only `initial` and `error` are sent.
std::shared_ptr<ResponseStream> make_watch_stream(std::vector<WatchEvent> initial,
                                                  std::shared_ptr<Subscription> sub,
                                                  WatchStreamOptions options,
                                                  std::optional<Status> error = std::nullopt);

// {"type":"ERROR","object":<Status>}\n
std::string watch_error_line(const Status& status);

}  // namespace orch::apiserver
