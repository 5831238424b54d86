// Informer: list, watch, cache, indices, handlers. Thread-safety: see informer.hpp. The
// informer thread computes changes under mu_, releases it, then calls handlers.
#include "orch/client/informer.hpp"

#include <boost/json.hpp>
#include <random>
#include <system_error>

namespace orch::client {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

// How long one wait for watch events lasts before the loop re-checks stop and resync.
constexpr milliseconds kPollInterval{100};
// A watch that ends this fast without a single event is treated as an error (backoff), so a
// server that closes at once is not hammered.
constexpr milliseconds kShortWatch{100};

const json::value* path(const json::value& v, std::initializer_list<std::string_view> keys) {
  const json::value* cur = &v;
  for (auto k : keys) {
    const auto* o = cur->if_object();
    if (!o) return nullptr;
    cur = o->if_contains(k);
    if (!cur) return nullptr;
  }
  return cur;
}

}  // namespace

IndexFunc index_by_namespace() {
  return [](const json::value& o) -> std::vector<std::string> {
    auto ns = object_namespace(o);
    if (ns.empty()) return {};
    return {std::string(ns)};
  };
}

IndexFunc index_by_node_name() {
  return [](const json::value& o) -> std::vector<std::string> {
    const auto* n = path(o, {"spec", "nodeName"});
    if (!n || !n->is_string() || n->get_string().empty()) return {};
    return {std::string(n->get_string())};
  };
}

IndexFunc index_by_controller_uid() {
  return [](const json::value& o) -> std::vector<std::string> {
    const auto* refs = path(o, {"metadata", "ownerReferences"});
    if (!refs || !refs->is_array()) return {};
    for (const auto& r : refs->get_array()) {
      const auto* ctl = path(r, {"controller"});
      const auto* uid = path(r, {"uid"});
      if (ctl && ctl->is_bool() && ctl->get_bool() && uid && uid->is_string()) {
        return {std::string(uid->get_string())};
      }
    }
    return {};
  };
}

IndexFunc index_by_label(std::string key) {
  return [key = std::move(key)](const json::value& o) -> std::vector<std::string> {
    const auto* labels = path(o, {"metadata", "labels"});
    if (!labels || !labels->is_object()) return {};
    const auto* v = labels->get_object().if_contains(key);
    if (!v || !v->is_string()) return {};
    return {std::string(v->get_string())};
  };
}

Informer::Informer(std::shared_ptr<Client> client, Resource resource, InformerOptions options)
    : client_(std::move(client)), resource_(std::move(resource)), options_(std::move(options)) {
  ORCH_CHECK(client_ != nullptr);
}

Informer::~Informer() { stop(); }

Status Informer::add_event_handler(EventHandlers handlers) {
  std::lock_guard lock(mu_);
  if (handlers_frozen_) return invalid_argument("informer already started: add handlers before");
  handlers_.push_back(std::move(handlers));
  return ok_status();
}

void Informer::add_indexer(std::string name, IndexFunc fn) {
  std::lock_guard lock(mu_);
  auto& index = indices_[name];
  index.clear();
  indexers_[name] = std::move(fn);
  const IndexFunc& f = indexers_[name];
  for (const auto& [key, obj] : items_) {
    std::vector<std::string> values;
    try {
      values = f(*obj);
    } catch (...) {
    }
    for (auto& v : values) index[v].insert(key);
  }
}

Status Informer::start() {
  std::lock_guard life(lifecycle_mu_);
  if (started_) return invalid_argument("informer already started");
  {
    std::lock_guard lock(mu_);
    handlers_frozen_ = true;
  }
  try {
    thread_ = std::thread([this] {
      informer_thread_id_.store(std::this_thread::get_id());
      run();
    });
  } catch (const std::system_error& e) {
    return internal_error(std::string("cannot start informer thread: ") + e.what());
  }
  started_ = true;
  return ok_status();
}

void Informer::request_stop() {
  stop_.store(true);
  {
    std::lock_guard lock(mu_);  // so no waiter misses the flag between check and wait
  }
  cv_.notify_all();
}

void Informer::stop() {
  request_stop();
  // From a handler (the informer's own thread): the flag is set; the thread ends after the
  // handler returns, and is joined by a later stop() or the destructor from another thread.
  if (std::this_thread::get_id() == informer_thread_id_.load()) return;
  std::lock_guard life(lifecycle_mu_);
  if (thread_.joinable()) thread_.join();
}

bool Informer::has_synced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

bool Informer::wait_for_sync(milliseconds timeout) const {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return synced_ || stop_.load(); });
  return synced_;
}

SharedObject Informer::get(std::string_view ns, std::string_view name) const {
  return get_by_key(make_key(resource_.namespaced ? ns : std::string_view(), name));
}

SharedObject Informer::get_by_key(std::string_view key) const {
  std::lock_guard lock(mu_);
  auto it = items_.find(std::string(key));
  return it == items_.end() ? nullptr : it->second;
}

std::vector<SharedObject> Informer::list() const {
  std::lock_guard lock(mu_);
  std::vector<SharedObject> out;
  out.reserve(items_.size());
  for (const auto& [k, v] : items_) out.push_back(v);
  return out;
}

std::vector<std::string> Informer::list_keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& [k, v] : items_) out.push_back(k);
  return out;
}

Result<std::vector<SharedObject>> Informer::by_index(std::string_view name,
                                                     std::string_view value) const {
  std::lock_guard lock(mu_);
  auto idx = indices_.find(name);
  if (idx == indices_.end()) {
    return not_found("index \"" + std::string(name) + "\" does not exist");
  }
  std::vector<SharedObject> out;
  auto keys = idx->second.find(std::string(value));
  if (keys == idx->second.end()) return out;
  for (const auto& k : keys->second) {
    auto it = items_.find(k);
    if (it != items_.end()) out.push_back(it->second);
  }
  return out;
}

std::string Informer::last_sync_resource_version() const {
  std::lock_guard lock(mu_);
  return rv_;
}

Status Informer::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void Informer::index_locked(const std::string& key, const json::value* old_object,
                            const json::value* new_object) {
  for (const auto& [name, fn] : indexers_) {
    auto& index = indices_[name];
    auto values_of = [&](const json::value* o) -> std::vector<std::string> {
      if (!o) return {};
      try {
        return fn(*o);
      } catch (...) {
        return {};
      }
    };
    for (const auto& v : values_of(old_object)) {
      auto it = index.find(v);
      if (it == index.end()) continue;
      it->second.erase(key);
      if (it->second.empty()) index.erase(it);
    }
    for (auto& v : values_of(new_object)) index[v].insert(key);
  }
}

void Informer::emit(const std::vector<Change>& changes) {
  // handlers_ is frozen once the thread runs, so it is read without mu_.
  for (const auto& c : changes) {
    for (const auto& h : handlers_) {
      try {
        switch (c.kind) {
          case Change::kAdd:
            if (h.on_add) h.on_add(c.new_object);
            break;
          case Change::kUpdate:
            if (h.on_update) h.on_update(c.old_object, c.new_object);
            break;
          case Change::kDelete:
            if (h.on_delete) h.on_delete(c.old_object);
            break;
        }
      } catch (...) {
        // A handler's exception must not end the informer's thread; the handler owns its errors.
      }
    }
  }
}

Result<std::string> Informer::relist() {
  ListOptions lo;
  lo.label_selector = options_.label_selector;
  lo.field_selector = options_.field_selector;
  lo.limit = options_.page_size;
  ORCH_ASSIGN_OR_RETURN(ObjectList list,
                        client_->list_all(resource_, options_.namespace_, std::move(lo)));
  std::unordered_map<std::string, SharedObject> fresh;
  fresh.reserve(list.items.size());
  for (auto& item : list.items) {
    std::string key = object_key(item);
    fresh[std::move(key)] = std::make_shared<const json::value>(std::move(item));
  }
  std::vector<Change> changes;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, obj] : fresh) {
      auto old = items_.find(key);
      if (old == items_.end()) {
        changes.push_back({Change::kAdd, nullptr, obj});
      } else if (object_resource_version(*old->second) != object_resource_version(*obj)) {
        changes.push_back({Change::kUpdate, old->second, obj});
      } else {
        obj = old->second;  // unchanged: keep the object callers may already hold
      }
    }
    for (const auto& [key, obj] : items_) {
      if (!fresh.contains(key)) changes.push_back({Change::kDelete, obj, nullptr});
    }
    items_ = std::move(fresh);
    for (auto& [name, index] : indices_) index.clear();
    for (const auto& [key, obj] : items_) index_locked(key, nullptr, obj.get());
    rv_ = list.resource_version;
    last_error_ = ok_status();
  }
  emit(changes);
  {
    std::lock_guard lock(mu_);
    synced_ = true;
  }
  cv_.notify_all();
  return list.resource_version;
}

void Informer::apply_event(const WatchEvent& event, std::vector<Change>& changes) {
  const json::value& obj = *event.object;
  auto rv = object_resource_version(obj);
  if (event.type != WatchEventType::Bookmark) {
    std::string key = object_key(obj);
    auto it = items_.find(key);
    switch (event.type) {
      case WatchEventType::Added:
      case WatchEventType::Modified:
        if (it == items_.end()) {
          items_.emplace(key, event.object);
          index_locked(key, nullptr, event.object.get());
          changes.push_back({Change::kAdd, nullptr, event.object});
        } else {
          SharedObject old = it->second;
          it->second = event.object;
          index_locked(key, old.get(), event.object.get());
          changes.push_back({Change::kUpdate, std::move(old), event.object});
        }
        break;
      case WatchEventType::Deleted:
        if (it != items_.end()) {
          SharedObject old = it->second;
          items_.erase(it);
          index_locked(key, old.get(), nullptr);
          // The event carries the final state; hand that out.
          changes.push_back({Change::kDelete, event.object, nullptr});
        }
        break;
      default:
        break;
    }
  }
  if (!rv.empty()) rv_ = std::string(rv);
}

Status Informer::watch_once(std::string& rv) {
  static thread_local std::mt19937 rng(std::random_device{}());
  WatchOptions wo;
  wo.resource_version = rv;
  wo.label_selector = options_.label_selector;
  wo.field_selector = options_.field_selector;
  wo.allow_bookmarks = true;
  auto base = options_.watch_timeout.count();
  if (base > 0) {
    wo.timeout_seconds = base + std::uniform_int_distribution<std::int64_t>(0, base - 1)(rng);
  }
  last_watch_had_events_ = false;
  ORCH_ASSIGN_OR_RETURN(std::unique_ptr<WatchStream> w,
                        client_->watch(resource_, options_.namespace_, wo));
  auto started = steady_clock::now();
  bool& any_event = last_watch_had_events_;
  any_event = false;
  while (!stopping()) {
    auto events = w->next(kPollInterval);
    if (!events.ok()) return events.status();
    if (events->empty()) {
      if (w->ended()) {
        if (!any_event && steady_clock::now() - started < kShortWatch) {
          return unavailable("very short watch: the server ended it at once");
        }
        return ok_status();
      }
    } else {
      any_event = true;
      std::vector<Change> changes;
      {
        std::lock_guard lock(mu_);
        for (const auto& e : *events) apply_event(e, changes);
        rv = rv_;
        last_error_ = ok_status();
      }
      emit(changes);
    }
    resync_if_due();
  }
  return ok_status();
}

void Informer::resync_if_due() {
  if (options_.resync_period.count() <= 0) return;
  auto now = steady_clock::now();
  if (now < next_resync_) return;
  next_resync_ = now + options_.resync_period;
  std::vector<Change> changes;
  {
    std::lock_guard lock(mu_);
    changes.reserve(items_.size());
    for (const auto& [k, obj] : items_) changes.push_back({Change::kUpdate, obj, obj});
  }
  emit(changes);
}

bool Informer::sleep_for(milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [&] { return stop_.load(); });
}

// The informer thread's loop state.
struct Informer::LoopState {
  bool need_list = true;
  int expired_in_a_row = 0;
  std::string rv;
  milliseconds backoff;
};

void Informer::fail(LoopState& st, Status s) {
  {
    std::lock_guard lock(mu_);
    last_error_ = std::move(s);
  }
  sleep_for(st.backoff);
  st.backoff = std::min(st.backoff * 2, options_.backoff_max);
}

void Informer::run() {
  LoopState st;
  st.backoff = options_.backoff_initial;
  while (!stopping()) {
    try {
      loop_once(st);
    } catch (const std::exception& e) {
      // Nothing below is meant to throw (allocation failure aside); never let it end the thread.
      st.need_list = true;
      fail(st, internal_error(std::string("informer loop: ") + e.what()));
    } catch (...) {
      st.need_list = true;
      fail(st, internal_error("informer loop: unknown exception"));
    }
  }
}

void Informer::loop_once(LoopState& st) {
  if (st.need_list) {
    auto listed = relist();
    if (!listed.ok()) {
      fail(st, listed.status());
      return;
    }
    st.rv = std::move(*listed);
    st.need_list = false;
    st.backoff = options_.backoff_initial;
    next_resync_ = steady_clock::now() + options_.resync_period;
  }
  Status s = watch_once(st.rv);
  if (stopping()) return;
  if (s.ok() || last_watch_had_events_) {
    st.backoff = options_.backoff_initial;
    st.expired_in_a_row = 0;
  }
  if (s.ok()) return;  // the server ended the watch: resume from rv
  if (s.code() == Code::kOutOfRange) {
    // Our resourceVersion is gone from the server's history: start over from a fresh list (at
    // once the first time; a server that keeps answering 410 gets backoff).
    st.need_list = true;
    if (++st.expired_in_a_row > 1) {
      fail(st, std::move(s));
    } else {
      std::lock_guard lock(mu_);
      last_error_ = std::move(s);
    }
    return;
  }
  fail(st, std::move(s));
}

}  // namespace orch::client
