// REST handler helpers. Thread-safety: see rest_util.hpp.
#include "rest_util.hpp"

#include <mutex>
#include <random>

#include <boost/json.hpp>

#include "orch/api/bytes.hpp"
#include "orch/apiserver/status_body.hpp"

namespace orch::apiserver {

namespace json = boost::json;

namespace {
std::mt19937_64& rng() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine;
}
}  // namespace

std::string new_uid() {
  std::uniform_int_distribution<std::uint64_t> d;
  std::uint64_t hi = d(rng()), lo = d(rng());
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xffff),
                static_cast<unsigned>(hi & 0xffff), static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

std::string random_suffix(std::size_t n) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::uniform_int_distribution<std::size_t> d(0, kAlphabet.size() - 1);
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += kAlphabet[d(rng())];
  return out;
}

std::string encode_continue(const ContinueToken& token) {
  json::object o{{"v", "orch1"}, {"rv", token.revision}, {"start", token.start_key}};
  return api::base64_encode(json::serialize(o));
}

Result<ContinueToken> decode_continue(std::string_view text) {
  auto bad = [] { return bad_request("continue key is not valid"); };
  auto raw = api::base64_decode(text);
  if (!raw.ok()) return bad();
  boost::system::error_code ec;
  json::value v = json::parse(*raw, ec);
  if (ec || !v.is_object()) return bad();
  const auto& o = v.get_object();
  auto* ver = o.if_contains("v");
  auto* rv = o.if_contains("rv");
  auto* start = o.if_contains("start");
  if (!ver || !ver->is_string() || ver->get_string() != "orch1" || !rv || !rv->is_int64() ||
      !start || !start->is_string()) {
    return bad();
  }
  return ContinueToken{rv->get_int64(), std::string(start->get_string())};
}

std::optional<std::string> field_value(const json::value& object, std::string_view path) {
  const json::value* cur = &object;
  while (!path.empty()) {
    auto dot = path.find('.');
    std::string_view step = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    if (!cur->is_object()) return std::nullopt;
    cur = cur->get_object().if_contains(step);
    if (!cur) return std::string();
  }
  if (cur->is_string()) return std::string(cur->get_string());
  if (cur->is_bool()) return std::string(cur->get_bool() ? "true" : "false");
  if (cur->is_int64()) return std::to_string(cur->get_int64());
  if (cur->is_uint64()) return std::to_string(cur->get_uint64());
  if (cur->is_double()) return json::serialize(*cur);
  if (cur->is_null()) return std::string();
  return std::nullopt;
}

bool spec_changed(const json::value& before, const json::value& after) {
  static const json::object kEmpty;
  const auto& b = before.is_object() ? before.get_object() : kEmpty;
  const auto& a = after.is_object() ? after.get_object() : kEmpty;
  auto differs = [](const json::object& x, const json::object& y) {
    for (const auto& [k, v] : x) {
      if (k == "metadata" || k == "status" || k == "apiVersion" || k == "kind") continue;
      auto* other = y.if_contains(k);
      if (!other || *other != v) return true;
    }
    return false;
  };
  return differs(b, a) || differs(a, b);
}

bool truthy(std::optional<std::string_view> v) {
  return v && (*v == "true" || *v == "1" || *v == "True");
}

std::string watch_error_line(const Status& status) {
  return "{\"type\":\"ERROR\",\"object\":" + status_body(status) + "}\n";
}

namespace {

class WatchResponseStream final : public ResponseStream {
 public:
  WatchResponseStream(std::vector<WatchEvent> initial, std::shared_ptr<Subscription> sub,
                      WatchStreamOptions options, std::optional<Status> error)
      : sub_(std::move(sub)), options_(std::move(options)) {
    for (auto& e : initial) pending_.push_back(line(e));
    if (error) {
      pending_.push_back(watch_error_line(*error));
      ended_ = true;
    }
    last_activity_ = std::chrono::steady_clock::now();
  }
  ~WatchResponseStream() override { close(); }

  std::optional<std::vector<std::string>> poll(std::chrono::milliseconds timeout) override {
    std::vector<std::string> out;
    {
      std::lock_guard lock(mu_);
      out.swap(pending_);
      if (out.empty() && (ended_ || closed_)) return std::nullopt;
    }
    if (!out.empty()) return out;
    const auto now = std::chrono::steady_clock::now();
    if (now >= options_.deadline || !sub_) return finish();
    auto wait = std::min<std::chrono::steady_clock::duration>(timeout, options_.deadline - now);
    auto events = sub_->poll(std::chrono::duration_cast<std::chrono::milliseconds>(wait));
    if (!events) {
      // Ended by the hub: history gone (410), or fell behind / closed (end; the client re-watches).
      Status why = sub_->end_status();
      std::lock_guard lock(mu_);
      ended_ = true;
      if (why.code() == Code::kOutOfRange) return std::vector<std::string>{watch_error_line(why)};
      return std::nullopt;
    }
    for (auto& e : *events) out.push_back(line(e));
    if (!out.empty()) {
      last_activity_ = std::chrono::steady_clock::now();
    } else if (options_.bookmarks &&
               std::chrono::steady_clock::now() - last_activity_ >= options_.bookmark_interval) {
      out.push_back(bookmark(sub_->progress()));
      last_activity_ = std::chrono::steady_clock::now();
    }
    return out;
  }

  void set_notify(std::function<void()> notify) override {
    if (sub_) sub_->set_notify(notify);
    std::lock_guard lock(mu_);
    notify_ = std::move(notify);
  }

  void close() override {
    std::function<void()> n;
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      n = notify_;
    }
    if (sub_) sub_->close();
    if (n) n();
  }

  std::chrono::steady_clock::time_point deadline() const override {
    // Bookmarks need a wake-up even when nothing happens.
    if (options_.bookmarks) {
      return std::min(options_.deadline, last_activity_ + options_.bookmark_interval);
    }
    return options_.deadline;
  }

 private:
  std::optional<std::vector<std::string>> finish() {
    std::lock_guard lock(mu_);
    ended_ = true;
    return std::nullopt;
  }

  std::string line(const WatchEvent& e) const {
    std::string out = "{\"type\":\"";
    out += watch_event_type_name(e.type);
    out += "\",\"object\":";
    if (options_.render) {
      out += json::serialize(options_.render(*e.object));
    } else if (e.text) {
      out += *e.text;  // serialized once by the hub for every watcher
    } else {
      out += json::serialize(*e.object);
    }
    out += "}\n";
    return out;
  }

  std::string bookmark(store::Revision rev) const {
    json::object o{{"kind", options_.kind},
                   {"apiVersion", options_.api_version},
                   {"metadata", json::object{{"resourceVersion", std::to_string(rev)}}}};
    return "{\"type\":\"BOOKMARK\",\"object\":" + json::serialize(o) + "}\n";
  }

  const std::shared_ptr<Subscription> sub_;
  const WatchStreamOptions options_;
  std::chrono::steady_clock::time_point last_activity_;  // consumer thread only

  std::mutex mu_;
  std::vector<std::string> pending_;  // guarded by mu_
  bool ended_ = false;                // guarded by mu_
  bool closed_ = false;               // guarded by mu_
  std::function<void()> notify_;      // guarded by mu_
};

}  // namespace

std::shared_ptr<ResponseStream> make_watch_stream(std::vector<WatchEvent> initial,
                                                  std::shared_ptr<Subscription> sub,
                                                  WatchStreamOptions options,
                                                  std::optional<Status> error) {
  return std::make_shared<WatchResponseStream>(std::move(initial), std::move(sub),
                                               std::move(options), std::move(error));
}

}  // namespace orch::apiserver
