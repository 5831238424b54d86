// WatchHub implementation. Thread-safety: see watch_hub.hpp.
#include "watch_hub.hpp"

#include <boost/json.hpp>

namespace orch::apiserver {

namespace json = boost::json;

namespace {
// Every key the API server writes lives under this prefix, so the hub's one watch sees them all
// and every revision of the store appears in its stream.
constexpr std::string_view kRoot = "/registry/";
constexpr std::chrono::seconds kCatchUpTimeout{30};

bool has_prefix(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
}  // namespace

std::string_view watch_event_type_name(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded: return "ADDED";
    case WatchEvent::Type::kModified: return "MODIFIED";
    case WatchEvent::Type::kDeleted: return "DELETED";
  }
  return "ERROR";
}

JsonPtr decode_stored(const std::string& value, store::Revision revision) {
  boost::system::error_code ec;
  json::value v = json::parse(value, ec);
  if (ec || !v.is_object()) return nullptr;
  auto& meta = v.as_object()["metadata"];
  if (!meta.is_object()) meta = json::object();
  meta.as_object()["resourceVersion"] = std::to_string(revision);
  return std::make_shared<const json::value>(std::move(v));
}

std::pair<WatchHub::Decoded, WatchHub::Decoded> WatchHub::decode_event(const store::Event& e) {
  auto decoded = [](const std::string& value, store::Revision rev) {
    Decoded d;
    d.object = decode_stored(value, rev);
    if (d.object) d.text = std::make_shared<const std::string>(json::serialize(*d.object));
    return d;
  };
  Decoded now, before;
  if (e.type == store::EventType::kPut) now = decoded(e.kv.value, e.revision());
  if (e.prev) before = decoded(e.prev->value, e.revision());
  return {std::move(now), std::move(before)};
}

// ---- Subscription ----

std::optional<std::vector<WatchEvent>> Subscription::poll(std::chrono::milliseconds timeout) {
  std::unique_lock lock(hub_->mu_);
  hub_->cv_.wait_for(lock, timeout, [&] { return !queue_.empty() || ended_; });
  if (!queue_.empty()) {
    std::vector<WatchEvent> out(std::make_move_iterator(queue_.begin()),
                                std::make_move_iterator(queue_.end()));
    queue_.clear();
    return out;
  }
  if (ended_) return std::nullopt;
  return std::vector<WatchEvent>{};
}

Status Subscription::end_status() const {
  std::lock_guard lock(hub_->mu_);
  return end_status_;
}

store::Revision Subscription::progress() const {
  std::lock_guard lock(hub_->mu_);
  return hub_->revision_;
}

void Subscription::set_notify(std::function<void()> notify) {
  std::lock_guard lock(hub_->mu_);
  notify_ = std::move(notify);
}

void Subscription::close() {
  std::vector<std::function<void()>> to_notify;
  {
    std::lock_guard lock(hub_->mu_);
    if (!ended_) hub_->end_locked(*this, unavailable("watch closed"), to_notify);
  }
  for (auto& n : to_notify) n();
}

Subscription::~Subscription() {
  std::lock_guard lock(hub_->mu_);
  std::erase(hub_->subs_, this);
}

// ---- WatchHub ----

Result<std::shared_ptr<WatchHub>> WatchHub::start(store::Store& store, std::size_t buffer) {
  ORCH_ASSIGN_OR_RETURN(store::Revision rev, store.current_revision());
  std::shared_ptr<WatchHub> hub(new WatchHub(store, buffer));
  ORCH_ASSIGN_OR_RETURN(hub->watch_, store.watch(std::string(kRoot), rev));
  hub->revision_ = rev;
  hub->thread_ = std::thread([h = hub.get(), rev] { h->run(rev); });
  return hub;
}

WatchHub::~WatchHub() { stop(); }

void WatchHub::stop() {
  std::vector<std::function<void()>> to_notify;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto* s : std::vector<Subscription*>(subs_)) {
      end_locked(*s, unavailable("the API server is shutting down"), to_notify);
    }
    if (watch_) watch_->close();
  }
  cv_.notify_all();
  for (auto& n : to_notify) n();
  if (thread_.joinable()) thread_.join();
}

store::Revision WatchHub::revision() const {
  std::lock_guard lock(mu_);
  return revision_;
}

void WatchHub::end_locked(Subscription& s, Status why,
                          std::vector<std::function<void()>>& to_notify) {
  s.ended_ = true;
  s.end_status_ = std::move(why);
  std::erase(subs_, &s);
  if (s.notify_) to_notify.push_back(s.notify_);
  cv_.notify_all();
}

bool WatchHub::offer(Subscription& s, const store::Event& e, const Decoded& now,
                     const Decoded& before, std::vector<std::function<void()>>& to_notify,
                     std::size_t limit) {
  if (!has_prefix(e.kv.key, s.prefix_)) return false;
  const bool now_ok = now.object && s.filter_(*now.object);
  const bool before_ok = before.object && s.filter_(*before.object);
  WatchEvent out;
  out.revision = e.revision();
  if (e.type == store::EventType::kDelete) {
    if (!before_ok) return false;
    out.type = WatchEvent::Type::kDeleted;
    out.object = before.object;
    out.text = before.text;
  } else if (now_ok) {
    out.type = before_ok ? WatchEvent::Type::kModified : WatchEvent::Type::kAdded;
    out.object = now.object;
    out.text = now.text;
  } else if (before_ok) {
    out.type = WatchEvent::Type::kDeleted;  // moved out of the selection
    out.object = before.object;
    out.text = before.text;
  } else {
    return false;
  }
  if (s.catching_up_) {
    s.live_during_catch_up_.push_back(std::move(out));
    return true;
  }
  if (limit && s.queue_.size() >= limit) return false;  // caller ends it
  s.queue_.push_back(std::move(out));
  if (s.notify_) to_notify.push_back(s.notify_);
  return true;
}

void WatchHub::run(store::Revision from) {
  store::Revision resume = from;
  for (;;) {
    auto batch = watch_->next(std::chrono::milliseconds(1000));
    std::vector<std::function<void()>> to_notify;
    if (!batch.ok()) {
      std::unique_lock lock(mu_);
      if (stopping_) return;
      const Status why = batch.status();
      if (why.code() == Code::kResourceExhausted) {
        // The hub itself fell behind the store: resume exactly where it was.
        lock.unlock();
        auto again = store_.watch(std::string(kRoot), resume);
        lock.lock();
        if (again.ok() && !stopping_) {
          watch_ = std::move(again).value();
          continue;
        }
      }
      // History is gone or the store closed: every subscriber must relist.
      for (auto* s : std::vector<Subscription*>(subs_)) {
        end_locked(*s, why.code() == Code::kOutOfRange ? why : unavailable(why.message()),
                   to_notify);
      }
      lock.unlock();
      for (auto& n : to_notify) n();
      if (why.code() != Code::kOutOfRange) return;
      auto rev = store_.current_revision();
      auto again = rev.ok() ? store_.watch(std::string(kRoot), *rev)
                            : Result<std::unique_ptr<store::Watch>>(rev.status());
      lock.lock();
      if (!again.ok() || stopping_) return;
      watch_ = std::move(again).value();
      revision_ = resume = *rev;
      continue;
    }
    if (batch->empty()) continue;
    // Decode and serialize outside the lock, once: every subscriber shares the results.
    std::vector<std::pair<Decoded, Decoded>> decoded;
    decoded.reserve(batch->size());
    for (const auto& e : *batch) decoded.push_back(decode_event(e));
    {
      std::lock_guard lock(mu_);
      for (std::size_t i = 0; i < batch->size(); ++i) {
        const auto& e = (*batch)[i];
        for (auto* s : std::vector<Subscription*>(subs_)) {
          if (s->ended_ || e.revision() <= s->after_) continue;
          const bool full = !s->catching_up_ && buffer_ && s->queue_.size() >= buffer_;
          if (full && has_prefix(e.kv.key, s->prefix_)) {
            end_locked(*s, Status(Code::kResourceExhausted, "watcher fell behind"), to_notify);
            continue;
          }
          offer(*s, e, decoded[i].first, decoded[i].second, to_notify, buffer_);
        }
        revision_ = resume = e.revision();
      }
    }
    cv_.notify_all();
    for (auto& n : to_notify) n();
  }
}

Result<std::shared_ptr<Subscription>> WatchHub::subscribe(
    const std::string& prefix, store::Revision after,
    std::function<bool(const json::value&)> filter) {
  std::shared_ptr<Subscription> sub(new Subscription(shared_from_this()));
  sub->prefix_ = prefix;
  sub->after_ = after;
  sub->filter_ = std::move(filter);
  sub->limit_ = buffer_;
  store::Revision target;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return unavailable("the API server is shutting down");
    target = revision_;
    sub->catching_up_ = after < target;
    subs_.push_back(sub.get());
  }
  if (!sub->catching_up_) return sub;

  // Catch up from the store's history up to `target`; live events after it are held meanwhile.
  std::vector<WatchEvent> history;
  auto watch = store_.watch(std::string(kRoot), after);
  if (!watch.ok()) {
    std::lock_guard lock(mu_);
    std::erase(subs_, sub.get());
    sub->ended_ = true;
    return watch.status();
  }
  const auto give_up = std::chrono::steady_clock::now() + kCatchUpTimeout;
  bool reached = false;
  Status failure;
  Subscription scratch(shared_from_this());  // offer() target for history, never registered
  scratch.prefix_ = prefix;
  scratch.filter_ = sub->filter_;
  std::vector<std::function<void()>> unused;
  while (!reached) {
    if (std::chrono::steady_clock::now() > give_up) {
      failure = unavailable("timed out catching up the watch from the store's history");
      break;
    }
    auto batch = (*watch)->next(std::chrono::milliseconds(500));
    if (!batch.ok()) {
      failure = batch.status();
      break;
    }
    for (const auto& e : *batch) {
      if (e.revision() > target) {
        reached = true;
        break;
      }
      if (has_prefix(e.kv.key, prefix)) {
        auto [now, before] = decode_event(e);
        offer(scratch, e, now, before, unused, 0);
      }
      if (e.revision() == target) reached = true;
    }
  }
  (*watch)->close();
  std::vector<std::function<void()>> to_notify;
  {
    std::lock_guard lock(mu_);
    sub->catching_up_ = false;
    if (!failure.ok()) {
      std::erase(subs_, sub.get());
      sub->ended_ = true;
      return failure;
    }
    if (!sub->ended_) {
      for (auto& ev : scratch.queue_) sub->queue_.push_back(std::move(ev));
      for (auto& ev : sub->live_during_catch_up_) sub->queue_.push_back(std::move(ev));
      sub->live_during_catch_up_.clear();
    }
  }
  {
    std::lock_guard lock(mu_);
    std::erase(subs_, &scratch);  // never registered; keeps the destructor's erase harmless
  }
  cv_.notify_all();
  return sub;
}

}  // namespace orch::apiserver
