// Watch event decoding and WatchStream. Thread-safety: one reader thread; WatchStream::close()
// from any thread (it only closes the ByteStream, whose close() is thread-safe).
#include "orch/client/watch.hpp"

#include <boost/json.hpp>

#include "orch/apiserver/status_body.hpp"
#include "orch/client/resource.hpp"

namespace orch::client {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

std::string_view watch_event_type_name(WatchEventType type) {
  switch (type) {
    case WatchEventType::Added: return "ADDED";
    case WatchEventType::Modified: return "MODIFIED";
    case WatchEventType::Deleted: return "DELETED";
    case WatchEventType::Bookmark: return "BOOKMARK";
    case WatchEventType::Error: return "ERROR";
  }
  return "UNKNOWN";
}

namespace {
std::optional<WatchEventType> parse_type(std::string_view s) {
  if (s == "ADDED") return WatchEventType::Added;
  if (s == "MODIFIED") return WatchEventType::Modified;
  if (s == "DELETED") return WatchEventType::Deleted;
  if (s == "BOOKMARK") return WatchEventType::Bookmark;
  if (s == "ERROR") return WatchEventType::Error;
  return std::nullopt;
}
}  // namespace

Status WatchDecoder::feed(std::string_view bytes, std::vector<WatchEvent>& out) {
  while (!bytes.empty()) {
    auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      if (partial_.size() + bytes.size() > max_line_bytes_) {
        partial_.clear();
        return Status(Code::kTooLarge, "watch event longer than " +
                                           std::to_string(max_line_bytes_) + " bytes");
      }
      partial_.append(bytes);
      return ok_status();
    }
    std::string_view piece = bytes.substr(0, nl);
    bytes.remove_prefix(nl + 1);
    Status s;
    if (partial_.empty()) {
      s = decode_line(piece, out);
    } else {
      partial_.append(piece);
      std::string line = std::move(partial_);
      partial_.clear();
      s = decode_line(line, out);
    }
    if (!s.ok()) return s;
  }
  return ok_status();
}

Status WatchDecoder::decode_line(std::string_view line, std::vector<WatchEvent>& out) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  bool blank = true;
  for (char c : line) {
    if (c != ' ' && c != '\t') {
      blank = false;
      break;
    }
  }
  if (blank) return ok_status();
  if (line.size() > max_line_bytes_) {
    return Status(Code::kTooLarge,
                  "watch event longer than " + std::to_string(max_line_bytes_) + " bytes");
  }
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  if (ec || !v.is_object()) {
    return internal_error("malformed watch event: " +
                          (ec ? ec.message() : std::string("not a JSON object")));
  }
  auto& o = v.get_object();
  const auto* type = o.if_contains("type");
  if (!type || !type->is_string()) return internal_error("watch event without a \"type\"");
  auto t = parse_type(type->get_string());
  if (!t) {
    return internal_error("watch event of unknown type \"" + std::string(type->get_string()) +
                          "\"");
  }
  auto* object = o.if_contains("object");
  if (!object || !object->is_object()) {
    return internal_error("watch event without an \"object\"");
  }
  out.push_back(WatchEvent{*t, std::make_shared<const json::value>(std::move(*object))});
  return ok_status();
}

Status watch_error_status(const json::value& object) {
  int code = 500;
  if (const auto* o = object.if_object()) {
    if (const auto* c = o->if_contains("code"); c && c->is_int64()) {
      code = static_cast<int>(c->get_int64());
    }
  }
  Status s = apiserver::status_from_response(code, json::serialize(object));
  if (code == 410 && s.code() != Code::kOutOfRange) {
    return Status(Code::kOutOfRange, s.message(), s.causes());
  }
  return s;
}

WatchStream::WatchStream(std::unique_ptr<ByteStream> body) : body_(std::move(body)) {}

WatchStream::~WatchStream() { close(); }

void WatchStream::close() {
  if (body_) body_->close();
}

Result<std::vector<WatchEvent>> WatchStream::next(milliseconds timeout) {
  std::vector<WatchEvent> events;
  if (pending_error_) {
    Status s = std::move(*pending_error_);
    pending_error_.reset();
    return s;
  }
  if (ended_) return events;
  auto deadline = steady_clock::now() + timeout;
  auto fail = [&](Status s) -> Result<std::vector<WatchEvent>> {
    ended_ = true;
    body_->close();
    if (events.empty()) return s;
    pending_error_ = std::move(s);
    return std::move(events);
  };
  while (true) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() < 0) left = milliseconds(0);
    auto chunk = body_->read(left);
    if (!chunk.ok()) return fail(chunk.status());
    if (!chunk->has_value()) {
      ended_ = true;
      break;
    }
    std::size_t first_new = events.size();
    Status s = decoder_.feed(**chunk, events);
    // Hand out what came before an ERROR event or a malformed line, then the error.
    for (std::size_t i = first_new; i < events.size(); ++i) {
      if (events[i].type == WatchEventType::Error) {
        Status err = watch_error_status(*events[i].object);
        events.resize(i);
        return fail(std::move(err));
      }
      auto rv = object_resource_version(*events[i].object);
      if (!rv.empty()) last_resource_version_ = std::string(rv);
    }
    if (!s.ok()) return fail(std::move(s));
    if (!events.empty() || steady_clock::now() >= deadline) break;
  }
  return events;
}

}  // namespace orch::client
