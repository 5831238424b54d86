// Watches of the etcd backend: see etcd_watch.hpp.
#include "etcd/etcd_watch.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

namespace orch::store::etcd {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Reconnect backoff of a stream that failed before etcd acknowledged it or soon after; a stream
// that was live for kHealthyStream reconnects at once (to the next endpoint).
constexpr auto kFirstBackoff = std::chrono::milliseconds(50);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);
constexpr auto kHealthyStream = std::chrono::seconds(1);
// The longest the pump sleeps without looking at its queue and timers.
constexpr int kPollMs = 1000;
// A watcher quiet this long after "created" is taken as caught up: etcd's catch-up loop runs every
// 100 ms (see etcd_watch.hpp, "Progress and synced").
constexpr auto kAssumeSyncedAfter = std::chrono::milliseconds(300);
// etcd sends a catch-up in batches of at most this many revisions (watchBatchMaxRevs).
constexpr std::size_t kCatchUpBatchRevisions = 1000;

CURLM* multi_of(void* p) { return static_cast<CURLM*>(p); }

}  // namespace

KeyValue decode_kv(const json::object& kv, const std::string& strip) {
  KeyValue out;
  out.key = bytes_field(kv, "key");
  if (!strip.empty() && out.key.compare(0, strip.size(), strip) == 0)
    out.key.erase(0, strip.size());
  out.value = bytes_field(kv, "value");
  out.create_revision = from_etcd(int_field(kv, "create_revision"));
  out.mod_revision = from_etcd(int_field(kv, "mod_revision"));
  out.version = int_field(kv, "version");
  return out;
}

Status probe_revision(EtcdClient& client, std::int64_t etcd_revision,
                      SteadyClock::time_point deadline) {
  json::object req;
  req["key"] = base64_encode(std::string(1, '\0'));
  req["count_only"] = true;
  req["revision"] = etcd_revision;
  auto got = client.read("/v3/kv/range", json::serialize(req), deadline);
  if (got.ok()) return ok_status();
  if (got.status().code() == Code::kOutOfRange &&
      got.status().message().find("future") != std::string::npos) {
    return ok_status();
  }
  return got.status();
}

// ---- WatchState ----

bool WatchState::push(std::vector<Event> batch) {
  std::lock_guard lock(mu);
  if (closed || !end.ok()) return false;
  bool added = false;
  for (auto& ev : batch) {
    if (ev.revision() <= received) continue;  // never repeat (defensive: resumes start after)
    if (events.size() >= capacity) {
      end = Status(Code::kResourceExhausted,
                   fmt::format("watch fell behind: {} events buffered; resume after revision {}",
                               capacity, events.empty() ? delivered : events.back().revision()));
      cv.notify_all();
      return false;
    }
    received = ev.revision();
    events.push_back(std::move(ev));
    added = true;
  }
  if (added) cv.notify_all();
  return true;
}

void WatchState::progress(Revision revision) {
  std::lock_guard lock(mu);
  if (revision > received) received = revision;
  synced = true;
}

void WatchState::mark_synced() {
  std::lock_guard lock(mu);
  synced = true;
}

bool WatchState::compaction_safe(Revision revision) {
  std::lock_guard lock(mu);
  return closed || !end.ok() || synced || received >= revision - 1 ||
         SteadyClock::now() >= assume_synced_at;
}

void WatchState::finish(Status status) {
  std::lock_guard lock(mu);
  if (end.ok()) end = std::move(status);
  cv.notify_all();
}

bool WatchState::done() {
  std::lock_guard lock(mu);
  return closed || !end.ok();
}

// ---- WatchPump ----

struct WatchPump::Stream {
  std::shared_ptr<WatchState> state;
  CURL* easy = nullptr;
  std::string body;
  std::string buffer;  // a partial line
  std::int64_t start_revision = 0;  // etcd's, of the current transfer
  std::size_t endpoint = 0;
  int failures = 0;
  bool live = false;                  // etcd acknowledged the watch ("created")
  bool abort = false;                 // on_line asked to end the transfer
  SteadyClock::time_point started{};  // of the current transfer
  SteadyClock::time_point due{};      // when a stopped transfer starts again
};

WatchPump::WatchPump(std::shared_ptr<EtcdClient> client) : client_(std::move(client)) {
  multi_ = curl_multi_init();
  thread_ = std::thread([this] { run(); });
}

WatchPump::~WatchPump() {
  shutdown();
  curl_multi_cleanup(multi_of(multi_));
}

Status WatchPump::add(std::shared_ptr<WatchState> state) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return unavailable("etcd store closed");
    std::erase_if(started_, [](const std::weak_ptr<WatchState>& w) { return w.expired(); });
    started_.push_back(state);
    incoming_.push_back(std::move(state));
  }
  curl_multi_wakeup(multi_of(multi_));
  return ok_status();
}

void WatchPump::wake() { curl_multi_wakeup(multi_of(multi_)); }

bool WatchPump::wait_compaction_safe(Revision revision, SteadyClock::time_point deadline) {
  for (;;) {
    std::vector<std::shared_ptr<WatchState>> states;
    {
      std::lock_guard lock(mu_);
      for (const auto& w : started_) {
        if (auto s = w.lock(); s != nullptr) states.push_back(std::move(s));
      }
    }
    const bool safe = std::all_of(states.begin(), states.end(), [&](const auto& s) {
      return s->compaction_safe(revision);
    });
    if (safe) return true;
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void WatchPump::shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  curl_multi_wakeup(multi_of(multi_));
  // Called by the store's destructor and then by ours, both on the thread destroying the store.
  if (thread_.joinable()) thread_.join();
}

void WatchPump::start_transfer(Stream& s) {
  Revision from;
  {
    std::lock_guard lock(s.state->mu);
    from = s.state->received;
    // A new watcher on the server: unsynced until it says otherwise.
    s.state->synced = false;
    s.state->assume_synced_at = SteadyClock::time_point::max();
  }
  s.start_revision = to_etcd(from + 1);
  json::object create;
  create["key"] = base64_encode(s.state->wire_key);
  create["range_end"] = base64_encode(s.state->wire_end);
  create["start_revision"] = s.start_revision;
  create["prev_kv"] = true;
  create["progress_notify"] = true;
  json::object req;
  req["create_request"] = std::move(create);
  s.body = json::serialize(req);
  s.buffer.clear();
  s.live = false;
  s.abort = false;
  s.started = SteadyClock::now();
  s.easy = curl_easy_init();
  client_->configure_stream(s.easy, s.endpoint, "/v3/watch");
  curl_easy_setopt(s.easy, CURLOPT_POSTFIELDS, s.body.data());
  curl_easy_setopt(s.easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(s.body.size()));
  curl_easy_setopt(s.easy, CURLOPT_WRITEFUNCTION, &WatchPump::on_write);
  curl_easy_setopt(s.easy, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(s.easy, CURLOPT_PRIVATE, &s);
  curl_multi_add_handle(multi_of(multi_), s.easy);
}

void WatchPump::end_transfer(Stream& s) {
  if (s.easy == nullptr) return;
  curl_multi_remove_handle(multi_of(multi_), s.easy);
  curl_easy_cleanup(s.easy);
  s.easy = nullptr;
}

size_t WatchPump::on_write(char* data, size_t size, size_t n, void* user) {
  auto& s = *static_cast<Stream*>(user);
  s.buffer.append(data, size * n);
  std::size_t start = 0;
  for (;;) {
    const auto nl = s.buffer.find('\n', start);
    if (nl == std::string::npos) break;
    const std::string_view line(s.buffer.data() + start, nl - start);
    start = nl + 1;
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
    if (!on_line(s, line)) {
      s.abort = true;
      return 0;  // ends the transfer (CURLE_WRITE_ERROR)
    }
  }
  s.buffer.erase(0, start);
  return size * n;
}

bool WatchPump::on_line(Stream& s, std::string_view line) {
  boost::system::error_code ec;
  json::value parsed = json::parse(line, ec);
  if (ec || !parsed.is_object()) return false;  // garbage: reconnect
  const json::object& msg = parsed.as_object();
  const json::object* result = object_field(msg, "result");
  if (result == nullptr) return false;  // {"error": ...}: the stream failed; reconnect elsewhere
  if (bool_field(*result, "canceled")) {
    const std::int64_t compacted = int_field(*result, "compact_revision");
    if (compacted > 0) {
      s.state->finish(out_of_range(fmt::format(
          "watch: required revision has been compacted (compacted at {})", from_etcd(compacted))));
    }
    return false;  // other cancels (no leader): reconnect
  }
  const json::object* header = object_field(*result, "header");
  const std::int64_t header_revision = header != nullptr ? int_field(*header, "revision") : 0;
  const json::array* events = array_field(*result, "events");
  if (bool_field(*result, "created")) {
    s.live = true;
    // The header carries the revision read just before the watcher was registered: a start above
    // it was registered synced (barring a concurrent write, which then is caught up at once).
    if (s.start_revision > header_revision) {
      s.state->mark_synced();
    } else {
      std::lock_guard lock(s.state->mu);
      s.state->assume_synced_at = SteadyClock::now() + kAssumeSyncedAfter;
    }
  }
  if (events == nullptr || events->empty()) {
    // A per-watch progress notification (watch_id -1 would be the stream-wide kind, which we
    // never request and which 3.4 sends before catching up): everything up to it was sent.
    if (!bool_field(*result, "created") && header_revision > 0 &&
        string_field(*result, "watch_id") != "-1") {
      s.state->progress(from_etcd(header_revision));
    }
    return true;
  }
  std::vector<Event> batch;
  batch.reserve(events->size());
  std::size_t revisions = 0;  // distinct revisions in the batch
  Revision last_revision = -1;
  for (const json::value& v : *events) {
    if (!v.is_object()) continue;
    const json::object& ev = v.as_object();
    const json::object* kv = object_field(ev, "kv");
    if (kv == nullptr) continue;
    Event out;
    out.kv = decode_kv(*kv, s.state->strip);
    if (string_field(ev, "type") == "DELETE") {
      out.type = EventType::kDelete;
      out.kv.value.clear();
      out.kv.create_revision = 0;
      out.kv.version = 0;
    }
    if (const json::object* prev = object_field(ev, "prev_kv"); prev != nullptr) {
      out.prev = decode_kv(*prev, s.state->strip);
    }
    if (out.revision() != last_revision) ++revisions;
    last_revision = out.revision();
    batch.push_back(std::move(out));
  }
  if (!s.state->push(std::move(batch))) return false;
  // Fewer revisions than a catch-up batch holds: this was the whole catch-up (or a live event).
  // The header revision is not taken as progress: a batch re-sent to a watcher that had fallen
  // behind (etcd's "victims") carries the current revision with events only up to an older one.
  if (revisions < kCatchUpBatchRevisions) s.state->mark_synced();
  return true;
}

void WatchPump::run() {
  CURLM* multi = multi_of(multi_);
  const std::size_t endpoints = client_->endpoint_count();
  for (;;) {
    std::vector<std::shared_ptr<WatchState>> incoming;
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
      incoming.swap(incoming_);
    }
    for (auto& state : incoming) {
      auto s = std::make_unique<Stream>();
      s->state = std::move(state);
      s->endpoint = client_->preferred();
      start_transfer(*s);
      streams_.push_back(std::move(s));
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      Stream* s = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&s));
      if (s == nullptr) continue;
      const bool healthy = s->live && SteadyClock::now() - s->started >= kHealthyStream;
      end_transfer(*s);
      // The stream ended (member gone, error line, no leader): go on at the next member.
      s->endpoint = (s->endpoint + 1) % endpoints;
      if (healthy) {
        s->failures = 0;
        s->due = SteadyClock::now();
      } else {
        const auto pause = std::min<SteadyClock::duration>(
            kFirstBackoff * (1 << std::min(s->failures, 5)), kMaxBackoff);
        ++s->failures;
        s->due = SteadyClock::now() + pause;
      }
    }
    // Drop finished watches; restart due ones.
    const auto now = SteadyClock::now();
    auto next_due = now + std::chrono::milliseconds(kPollMs);
    for (auto& s : streams_) {
      if (s->state->done()) {
        end_transfer(*s);
        s.reset();
        continue;
      }
      if (s->easy == nullptr) {
        if (s->due <= now) {
          start_transfer(*s);
        } else {
          next_due = std::min(next_due, s->due);
        }
      }
    }
    std::erase(streams_, nullptr);
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_due - now);
    curl_multi_poll(multi, nullptr, 0, static_cast<int>(std::max<std::int64_t>(0, wait.count())),
                    nullptr);
  }
  for (auto& s : streams_) {
    end_transfer(*s);
    s->state->finish(unavailable("etcd store closed"));
  }
  streams_.clear();
  std::lock_guard lock(mu_);
  for (auto& state : incoming_) state->finish(unavailable("etcd store closed"));
  incoming_.clear();
}

// ---- EtcdWatch ----

EtcdWatch::EtcdWatch(std::shared_ptr<WatchState> state, std::weak_ptr<WatchPump> pump)
    : state_(std::move(state)), pump_(std::move(pump)) {}

EtcdWatch::~EtcdWatch() { close(); }

Result<std::vector<Event>> EtcdWatch::next(std::chrono::milliseconds timeout) {
  bool start = false;
  {
    std::lock_guard lock(state_->mu);
    if (state_->closed) return unavailable("watch closed");
    if (!state_->started) {
      state_->started = true;
      start = true;
    }
  }
  if (start) {
    // Started lazily: a compaction between watch() and the first next() is a 410 here, as it is
    // for a SQLite watch that has not caught up yet.
    if (auto pump = pump_.lock(); pump == nullptr) {
      state_->finish(unavailable("etcd store closed"));
    } else {
      Status probe =
          probe_revision(pump->client(), to_etcd(state_->after), pump->client().deadline());
      if (probe.code() == Code::kOutOfRange) {
        state_->finish(out_of_range(fmt::format(
            "watch after revision {}: required revision has been compacted", state_->after)));
      } else {
        // Unreachable cluster: the stream keeps retrying on its own.
        Status added = pump->add(state_);
        if (!added.ok()) state_->finish(std::move(added));
      }
    }
  }
  std::unique_lock lock(state_->mu);
  state_->cv.wait_for(lock, timeout, [&] {
    return state_->closed || !state_->events.empty() || !state_->end.ok();
  });
  if (state_->closed) return unavailable("watch closed");
  if (!state_->events.empty()) {
    std::vector<Event> out(std::make_move_iterator(state_->events.begin()),
                           std::make_move_iterator(state_->events.end()));
    state_->events.clear();
    state_->delivered = out.back().revision();
    return out;
  }
  if (!state_->end.ok()) return state_->end;
  return std::vector<Event>{};
}

Revision EtcdWatch::resume_revision() const {
  std::lock_guard lock(state_->mu);
  return state_->delivered;
}

void EtcdWatch::close() {
  {
    std::lock_guard lock(state_->mu);
    if (state_->closed) return;
    state_->closed = true;
    state_->cv.notify_all();
  }
  if (auto pump = pump_.lock(); pump != nullptr) pump->wake();
}

}  // namespace orch::store::etcd
