// Watch event decoding (any chunking) and WatchStream (ERROR 410 -> OutOfRange, bookmarks,
// stream end, transport errors).
#include <doctest.h>

#include <boost/json.hpp>
#include <deque>

#include "orch/client/watch.hpp"

namespace orch::client {
namespace {

namespace json = boost::json;

std::string pod_event(const char* type, const char* name, const char* rv) {
  return std::string(R"j({"type":")j") + type + R"j(","object":{"kind":"Pod","metadata":{"name":")j" +
         name + R"j(","namespace":"default","resourceVersion":")j" + rv + "\"}}}\n";
}

std::string name_of(const WatchEvent& e) {
  return std::string(e.object->at("metadata").at("name").as_string());
}

TEST_CASE("WatchDecoder decodes events whatever the chunking") {
  std::string stream = pod_event("ADDED", "a", "1") + pod_event("MODIFIED", "a", "2") +
                       "\r\n\n" + pod_event("DELETED", "a", "3") +
                       R"j({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"9"}}})j" +
                       "\r\n";
  // Every split point into two chunks, and byte-by-byte.
  std::vector<std::vector<std::string>> chunkings;
  for (std::size_t i = 0; i <= stream.size(); ++i) {
    chunkings.push_back({stream.substr(0, i), stream.substr(i)});
  }
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  chunkings.push_back(bytes);

  for (const auto& chunks : chunkings) {
    WatchDecoder d;
    std::vector<WatchEvent> events;
    for (const auto& c : chunks) REQUIRE(d.feed(c, events).ok());
    REQUIRE(events.size() == 4);
    CHECK(events[0].type == WatchEventType::Added);
    CHECK(events[1].type == WatchEventType::Modified);
    CHECK(events[2].type == WatchEventType::Deleted);
    CHECK(events[3].type == WatchEventType::Bookmark);
    CHECK(name_of(events[2]) == "a");
    CHECK(d.pending_bytes() == 0);
  }
}

TEST_CASE("WatchDecoder holds back an incomplete line") {
  WatchDecoder d;
  std::vector<WatchEvent> events;
  std::string e = pod_event("ADDED", "x", "5");
  REQUIRE(d.feed(e.substr(0, 10), events).ok());
  CHECK(events.empty());
  CHECK(d.pending_bytes() == 10);
  REQUIRE(d.feed(e.substr(10), events).ok());
  CHECK(events.size() == 1);
}

TEST_CASE("WatchDecoder rejects malformed events") {
  struct Case {
    const char* what;
    std::string line;
    Code code;
  };
  const std::vector<Case> cases = {
      {"not JSON", "{nope\n", Code::kInternal},
      {"not an object", "[1,2]\n", Code::kInternal},
      {"no type", R"j({"object":{}})j" "\n", Code::kInternal},
      {"unknown type", R"j({"type":"RENAMED","object":{}})j" "\n", Code::kInternal},
      {"object not an object", R"j({"type":"ADDED","object":3})j" "\n", Code::kInternal},
  };
  for (const auto& c : cases) {
    SUBCASE(c.what) {
      WatchDecoder d;
      std::vector<WatchEvent> events;
      // A good event first: it is kept even though the next line fails.
      Status s = d.feed(pod_event("ADDED", "ok", "1") + c.line, events);
      CHECK(s.code() == c.code);
      CHECK(events.size() == 1);
    }
  }
  SUBCASE("line too long") {
    WatchDecoder d(64);
    std::vector<WatchEvent> events;
    CHECK(d.feed(std::string(100, 'x'), events).code() == Code::kTooLarge);
  }
}

TEST_CASE("watch_error_status maps a 410 Status to OutOfRange") {
  json::value expired = json::parse(
      R"j({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (107)","reason":"Expired","code":410})j");
  Status s = watch_error_status(expired);
  CHECK(s.code() == Code::kOutOfRange);
  CHECK(s.message() == "too old resource version: 1 (107)");
  // A 410 with reason Gone (older servers) is OutOfRange too.
  CHECK(watch_error_status(json::parse(R"j({"kind":"Status","reason":"Gone","code":410})j")).code() ==
        Code::kOutOfRange);
  CHECK(watch_error_status(json::parse(
                               R"j({"kind":"Status","reason":"InternalError","message":"boom","code":500})j"))
            .code() == Code::kInternal);
}

// A ByteStream that hands out scripted results; when the script is empty it times out.
class ScriptedStream final : public ByteStream {
 public:
  explicit ScriptedStream(std::deque<Result<std::optional<std::string>>> script)
      : script_(std::move(script)) {}
  Result<std::optional<std::string>> read(std::chrono::milliseconds) override {
    if (script_.empty()) return std::optional<std::string>(std::string());
    auto r = std::move(script_.front());
    script_.pop_front();
    return r;
  }
  void close() override { closed_ = true; }
  bool closed_ = false;

 private:
  std::deque<Result<std::optional<std::string>>> script_;
};

using Script = std::deque<Result<std::optional<std::string>>>;
Result<std::optional<std::string>> chunk(std::string s) { return std::optional<std::string>(std::move(s)); }
Result<std::optional<std::string>> end_of_stream() { return std::optional<std::string>(); }

TEST_CASE("WatchStream returns events, tracks the resourceVersion, then ends") {
  std::string a = pod_event("ADDED", "a", "11");
  auto* raw = new ScriptedStream(Script{
      chunk(a.substr(0, 7)), chunk(a.substr(7) + pod_event("MODIFIED", "a", "12")),
      chunk(R"j({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"20"}}})j" "\n"),
      end_of_stream()});
  WatchStream w{std::unique_ptr<ByteStream>(raw)};
  auto first = w.next(std::chrono::milliseconds(100));
  REQUIRE(first.ok());
  REQUIRE(first->size() == 2);
  CHECK(w.last_resource_version() == "12");
  auto second = w.next(std::chrono::milliseconds(100));
  REQUIRE(second.ok());
  REQUIRE(second->size() == 1);
  CHECK((*second)[0].type == WatchEventType::Bookmark);
  CHECK(w.last_resource_version() == "20");
  CHECK_FALSE(w.ended());
  auto third = w.next(std::chrono::milliseconds(100));
  REQUIRE(third.ok());
  CHECK(third->empty());
  CHECK(w.ended());
}

TEST_CASE("WatchStream: nothing within the timeout is not the end") {
  WatchStream w{std::make_unique<ScriptedStream>(Script{})};
  auto r = w.next(std::chrono::milliseconds(5));
  REQUIRE(r.ok());
  CHECK(r->empty());
  CHECK_FALSE(w.ended());
}

TEST_CASE("WatchStream turns ERROR 410 into OutOfRange after the events before it") {
  auto* raw = new ScriptedStream(Script{chunk(
      pod_event("ADDED", "a", "5") +
      R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (107)","reason":"Expired","code":410}})j" +
      "\n" + pod_event("ADDED", "never", "6"))});
  WatchStream w{std::unique_ptr<ByteStream>(raw)};
  auto first = w.next(std::chrono::milliseconds(100));
  REQUIRE(first.ok());
  REQUIRE(first->size() == 1);
  CHECK(name_of((*first)[0]) == "a");
  auto second = w.next(std::chrono::milliseconds(100));
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == Code::kOutOfRange);
  CHECK(second.status().message().find("too old resource version") != std::string::npos);
  CHECK(w.ended());
  CHECK(raw->closed_);
  auto third = w.next(std::chrono::milliseconds(1));
  REQUIRE(third.ok());
  CHECK(third->empty());
}

TEST_CASE("WatchStream passes transport errors and malformed events through") {
  SUBCASE("broken connection") {
    WatchStream w{std::make_unique<ScriptedStream>(Script{unavailable("connection reset")})};
    auto r = w.next(std::chrono::milliseconds(10));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kUnavailable);
    CHECK(w.ended());
  }
  SUBCASE("malformed line") {
    WatchStream w{std::make_unique<ScriptedStream>(Script{chunk("garbage\n")})};
    auto r = w.next(std::chrono::milliseconds(10));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInternal);
  }
  SUBCASE("other ERROR event") {
    WatchStream w{std::make_unique<ScriptedStream>(Script{chunk(
        R"j({"type":"ERROR","object":{"kind":"Status","reason":"Forbidden","message":"no","code":403}})j" "\n")})};
    auto r = w.next(std::chrono::milliseconds(10));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kPermissionDenied);
  }
}

}  // namespace
}  // namespace orch::client
