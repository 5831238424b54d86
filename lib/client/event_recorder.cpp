// EventRecorder: one writer thread per recorder; aggregation state lives on that thread only.
#include "orch/client/event_recorder.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <cstdio>

#include "orch/api/time.hpp"
#include "orch/client/resource.hpp"

namespace orch::client {
namespace json = boost::json;

namespace {

// Kubernetes aggregates repeats seen within this window into one Event.
constexpr auto kAggregationWindow = std::chrono::minutes(10);
// Attempts per event before it is dropped (client-go's maxTriesPerEvent is 12; events are
// best-effort and a stuck API should not pin memory).
constexpr int kMaxTries = 3;

std::string string_at(const json::value& v, std::string_view key) {
  if (const auto* o = v.if_object()) {
    if (const auto* s = o->if_contains(key); s && s->is_string()) return std::string(s->as_string());
  }
  return {};
}

api::ObjectReference reference_of(const json::value& object) {
  api::ObjectReference ref;
  ref.api_version = string_at(object, "apiVersion");
  ref.kind = string_at(object, "kind");
  ref.name = std::string(object_name(object));
  ref.namespace_ = std::string(object_namespace(object));
  ref.uid = std::string(object_uid(object));
  ref.resource_version = std::string(object_resource_version(object));
  return ref;
}

std::string aggregation_key(const api::ObjectReference& ref, std::string_view type,
                            std::string_view reason, std::string_view message) {
  return fmt::format("{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}", ref.kind, ref.namespace_, ref.name,
                     ref.uid, type, reason, message);
}

json::object reference_json(const api::ObjectReference& ref) {
  json::object o;
  if (!ref.kind.empty()) o["kind"] = ref.kind;
  if (!ref.namespace_.empty()) o["namespace"] = ref.namespace_;
  if (!ref.name.empty()) o["name"] = ref.name;
  if (!ref.uid.empty()) o["uid"] = ref.uid;
  if (!ref.api_version.empty()) o["apiVersion"] = ref.api_version;
  if (!ref.resource_version.empty()) o["resourceVersion"] = ref.resource_version;
  if (!ref.field_path.empty()) o["fieldPath"] = ref.field_path;
  return o;
}

}  // namespace

EventRecorder::EventRecorder(std::shared_ptr<Client> client, EventRecorderOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : &util::real_clock()) {
  thread_ = std::thread([this] { run(); });
}

EventRecorder::~EventRecorder() {
  flush(std::chrono::seconds(2));
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventRecorder::event(const json::value& object, std::string_view type,
                          std::string_view reason, std::string_view message) {
  event(reference_of(object), type, reason, message);
}

void EventRecorder::event(const api::ObjectReference& ref, std::string_view type,
                          std::string_view reason, std::string_view message) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (queue_.size() >= std::max<std::size_t>(options_.max_queued, 1)) queue_.pop_front();
    queue_.push_back(Pending{ref, std::string(type), std::string(reason), std::string(message),
                             clock_->system_now()});
  }
  cv_.notify_all();
}

bool EventRecorder::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return queue_.empty() && in_flight_ == 0; });
}

void EventRecorder::run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and nothing left
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    ++in_flight_;
    lock.unlock();
    write(p);
    lock.lock();
    --in_flight_;
    cv_.notify_all();
  }
}

void EventRecorder::write(const Pending& p) {
  // Cluster-scoped objects' events live in "default", as Kubernetes puts them.
  const std::string ns = p.ref.namespace_.empty() ? std::string("default") : p.ref.namespace_;
  const std::string key = aggregation_key(p.ref, p.type, p.reason, p.message);
  const std::string when = api::Time{p.at}.to_string();

  // Forget aggregation state that fell out of the window (bounded memory).
  if (seen_.size() > 4096) {
    for (auto it = seen_.begin(); it != seen_.end();) {
      it = (p.at - it->second.last > kAggregationWindow) ? seen_.erase(it) : std::next(it);
    }
  }

  for (int attempt = 0; attempt < kMaxTries; ++attempt) {
    auto seen = seen_.find(key);
    if (seen != seen_.end() && p.at - seen->second.last <= kAggregationWindow) {
      const std::int32_t count = seen->second.count + 1;
      json::object patch{{"count", count}, {"lastTimestamp", when}};
      auto res = client_->patch(resources::kEvents, seen->second.ns, seen->second.name,
                                PatchType::Merge, json::serialize(patch));
      if (res.ok()) {
        seen->second.count = count;
        seen->second.last = p.at;
        return;
      }
      if (res.status().code() != Code::kNotFound) continue;
      seen_.erase(seen);  // the Event was deleted (TTL, namespace gone): write a new one
    }

    const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           p.at.time_since_epoch())
                           .count();
    // Kubernetes names events "<object>.<unix nanos in hex>"; a per-recorder sequence number
    // keeps names unique when several events share a timestamp (a fake clock, a burst).
    const std::string name =
        fmt::format("{}.{:x}{:04x}", p.ref.name.empty() ? "event" : p.ref.name,
                    static_cast<std::uint64_t>(nanos), (next_seq_++) & 0xffffU);
    json::object event{
        {"apiVersion", "v1"},
        {"kind", "Event"},
        {"metadata", json::object{{"name", name}, {"namespace", ns}}},
        {"involvedObject", reference_json(p.ref)},
        {"reason", p.reason},
        {"message", p.message},
        {"source", options_.host.empty()
                       ? json::object{{"component", options_.component}}
                       : json::object{{"component", options_.component}, {"host", options_.host}}},
        {"firstTimestamp", when},
        {"lastTimestamp", when},
        {"count", 1},
        {"type", p.type},
        {"reportingComponent", options_.component},
        {"reportingInstance", options_.host},
    };
    auto res = client_->create(resources::kEvents, ns, event);
    if (res.ok()) {
      seen_[key] = Seen{ns, name, 1, p.at};
      return;
    }
    // A namespace that is going away refuses new objects: nothing to retry.
    if (res.status().code() == Code::kNotFound || res.status().code() == Code::kPermissionDenied ||
        res.status().code() == Code::kInvalidArgument) {
      return;
    }
  }
}

}  // namespace orch::client
