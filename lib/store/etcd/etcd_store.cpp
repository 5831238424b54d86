// EtcdStore: the etcd Store backend (include/orch/store/etcd_store.hpp, doc/store.md).
//
// Every write is a conditional txn (create: create_revision == 0; update/remove: mod_revision ==
// expected), so EtcdClient::call may send it again after an unknown outcome: at most one of the
// copies applies. When a copy then finds the compare failed, resolve_* reads the key's history to
// tell whether the change it saw was an earlier copy of this write.
//
// Thread-safety: as Store. The client and the watch pump are shared with the watches; the store
// keeps no other mutable state than known_compacted_ (atomic).
#include "orch/store/etcd_store.hpp"

#include <algorithm>
#include <atomic>
#include <optional>

#include <fmt/format.h>

#include "etcd/etcd_client.hpp"
#include "etcd/etcd_watch.hpp"
#include "key_range.hpp"

namespace orch::store::etcd {
namespace {

using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;

// The longest compact() waits for the store's watches to be caught up by etcd.
constexpr auto kCompactionWaitForWatches = std::chrono::seconds(2);

const std::string kTxn = "/v3/kv/txn";
const std::string kRange = "/v3/kv/range";

std::string no_end() { return std::string(1, '\0'); }

// The first op response of a txn reply (`responses[0].<kind>`), or null.
const json::object* txn_response(const json::object& body, std::string_view kind,
                                 std::size_t index = 0) {
  const json::array* responses = array_field(body, "responses");
  if (responses == nullptr || responses->size() <= index || !(*responses)[index].is_object()) {
    return nullptr;
  }
  return object_field((*responses)[index].as_object(), kind);
}

// The first kv of a range response, if any.
const json::object* first_kv(const json::object* range) {
  if (range == nullptr) return nullptr;
  const json::array* kvs = array_field(*range, "kvs");
  if (kvs == nullptr || kvs->empty() || !(*kvs)[0].is_object()) return nullptr;
  return &(*kvs)[0].as_object();
}

std::int64_t header_revision(const json::object& body) {
  const json::object* h = object_field(body, "header");
  return h != nullptr ? int_field(*h, "revision") : 0;
}

Status unknown_outcome(const Status& cause) {
  return unavailable(fmt::format(
      "{}; the write's outcome is unknown: it may have been committed, read the key again",
      cause.message()));
}

class EtcdStore final : public Store {
 public:
  EtcdStore(std::shared_ptr<EtcdClient> client)
      : client_(std::move(client)),
        prefix_(client_->options().key_prefix),
        pump_(std::make_shared<WatchPump>(client_)) {}
  ~EtcdStore() override { pump_->shutdown(); }

  Result<Revision> current_revision() override;
  Result<Revision> compacted_revision() override;
  Result<KeyValue> get(const std::string& key) override;
  Result<ListResult> list(const std::string& prefix, const ListOptions& options) override;
  Result<KeyValue> create(const std::string& key, std::string value) override;
  Result<KeyValue> update(const std::string& key, std::string value,
                          Revision expected_revision) override;
  Result<Event> remove(const std::string& key, Revision expected_revision) override;
  Result<std::unique_ptr<Watch>> watch(const std::string& prefix, Revision after_revision,
                                       const WatchOptions& options) override;
  Status compact(Revision revision) override;

 private:
  std::string wire(const std::string& key) const { return prefix_ + key; }
  std::string b64(const std::string& key) const { return base64_encode(wire(key)); }

  // The key's value at etcd revision `etcd_revision` (nullopt: absent then).
  Result<std::optional<KeyValue>> get_at(const std::string& key, std::int64_t etcd_revision,
                                         Deadline deadline);
  Result<std::int64_t> etcd_head(Deadline deadline);

  Result<KeyValue> cas_update(const std::string& key, const std::string& value, Revision expected,
                              Deadline deadline);
  Result<Event> cas_remove(const std::string& key, Revision expected, Deadline deadline);

  // The first etcd revision after `expected` (ours) at which `key` no longer has mod_revision
  // `expected`, and the key's state there. Binary search over the history.
  struct Change {
    std::int64_t etcd_revision = 0;
    std::optional<KeyValue> kv;  // nullopt: deleted there
  };
  Result<Change> first_change_after(const std::string& key, Revision expected, Deadline deadline);

  Result<KeyValue> resolve_create(const std::string& key, const std::string& value,
                                  const KeyValue& current, Deadline deadline);

  const std::shared_ptr<EtcdClient> client_;
  const std::string prefix_;
  const std::shared_ptr<WatchPump> pump_;
  // The highest compaction point this client knows of (ours == etcd's compact revision).
  std::atomic<Revision> known_compacted_{0};
};

Result<std::int64_t> EtcdStore::etcd_head(Deadline deadline) {
  json::object req;
  req["key"] = base64_encode(no_end());
  req["count_only"] = true;
  ORCH_ASSIGN_OR_RETURN(json::object body, client_->read(kRange, json::serialize(req), deadline));
  return header_revision(body);
}

Result<Revision> EtcdStore::current_revision() {
  ORCH_ASSIGN_OR_RETURN(std::int64_t head, etcd_head(client_->deadline()));
  return from_etcd(head);
}

Result<Revision> EtcdStore::compacted_revision() {
  // etcd does not report its compaction point through the gateway: find the oldest revision that
  // is still readable. Ours is etcd's compact revision (see compact()), which is that revision,
  // except that a compaction at 1 (our 1) leaves nothing unreadable and only this client knows it.
  const Deadline deadline = client_->deadline();
  ORCH_ASSIGN_OR_RETURN(const std::int64_t head, etcd_head(deadline));
  auto readable = [&](std::int64_t r) -> Result<bool> {
    Status s = probe_revision(*client_, r, deadline);
    if (s.ok()) return true;
    if (s.code() == Code::kOutOfRange) return false;
    return s;
  };
  std::int64_t lo = 1;
  std::int64_t hi = std::max<std::int64_t>(head, 1);  // readable
  const Revision known = known_compacted_.load();
  if (known > 1 && known <= hi) {
    ORCH_ASSIGN_OR_RETURN(const bool at_known, readable(known));
    if (at_known) {
      hi = known;
      ORCH_ASSIGN_OR_RETURN(const bool below, readable(known - 1));
      if (!below) lo = known;
    } else {
      lo = known + 1;
    }
  }
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    ORCH_ASSIGN_OR_RETURN(const bool ok, readable(mid));
    if (ok) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  if (lo > 1) {
    Revision seen = known_compacted_.load();
    while (seen < lo && !known_compacted_.compare_exchange_weak(seen, lo)) {
    }
    return std::max<Revision>(lo, known_compacted_.load());
  }
  return known_compacted_.load();
}

Result<KeyValue> EtcdStore::get(const std::string& key) {
  if (key.empty()) return invalid_argument("get: empty key");
  json::object req;
  req["key"] = b64(key);
  ORCH_ASSIGN_OR_RETURN(json::object body,
                        client_->read(kRange, json::serialize(req), client_->deadline()));
  const json::object* kv = first_kv(&body);
  if (kv == nullptr) return not_found(fmt::format("key \"{}\" not found", key));
  return decode_kv(*kv, prefix_);
}

Result<std::optional<KeyValue>> EtcdStore::get_at(const std::string& key,
                                                  std::int64_t etcd_revision, Deadline deadline) {
  json::object req;
  req["key"] = b64(key);
  req["revision"] = etcd_revision;
  ORCH_ASSIGN_OR_RETURN(json::object body, client_->read(kRange, json::serialize(req), deadline));
  const json::object* kv = first_kv(&body);
  if (kv == nullptr) return std::optional<KeyValue>();
  return std::optional<KeyValue>(decode_kv(*kv, prefix_));
}

Result<ListResult> EtcdStore::list(const std::string& prefix, const ListOptions& options) {
  if (options.revision < 0) return invalid_argument("list: revision must be >= 0");
  if (options.limit < 0) return invalid_argument("list: limit must be >= 0");
  const std::string wire_prefix = wire(prefix);
  std::string start = wire_prefix;
  if (!options.start_key.empty() && wire(options.start_key) > start) {
    start = wire(options.start_key);
  }
  if (start.empty()) start = no_end();
  json::object range;
  range["key"] = base64_encode(start);
  range["range_end"] = base64_encode(prefix_end(wire_prefix).value_or(no_end()));
  if (options.limit > 0) range["limit"] = options.limit;
  if (options.count_only) range["count_only"] = true;

  const Deadline deadline = client_->deadline();
  json::object body;
  const json::object* result = nullptr;
  Revision read_at = options.revision;
  if (options.revision == 0) {
    ORCH_ASSIGN_OR_RETURN(body, client_->read(kRange, json::serialize(range), deadline));
    result = &body;
    read_at = from_etcd(header_revision(body));
  } else {
    if (options.revision < known_compacted_.load()) {
      return out_of_range(fmt::format("list at revision {}: required revision has been compacted",
                                      options.revision));
    }
    // One read-only txn: a probe at etcd revision R (our R - 1) fails exactly when our R is
    // below the compaction point; the range itself reads at etcd R + 1.
    json::object probe;
    probe["key"] = base64_encode(no_end());
    probe["count_only"] = true;
    probe["revision"] = options.revision;
    range["revision"] = to_etcd(options.revision);
    json::array success;
    success.push_back(json::object{{"request_range", std::move(probe)}});
    success.push_back(json::object{{"request_range", std::move(range)}});
    json::object txn;
    txn["success"] = std::move(success);
    auto got = client_->read(kTxn, json::serialize(txn), deadline);
    if (!got.ok()) {
      if (got.status().code() == Code::kOutOfRange) {
        return out_of_range(
            fmt::format("list at revision {}: {}", options.revision, got.status().message()));
      }
      return got.status();
    }
    body = std::move(got).value();
    result = txn_response(body, "response_range", 1);
    if (result == nullptr) return internal_error("etcd: txn reply without its range response");
  }
  ListResult out;
  out.revision = read_at;
  out.more = bool_field(*result, "more");
  out.count = int_field(*result, "count");
  if (const json::array* kvs = array_field(*result, "kvs"); kvs != nullptr) {
    out.items.reserve(kvs->size());
    for (const json::value& v : *kvs) {
      if (v.is_object()) out.items.push_back(decode_kv(v.as_object(), prefix_));
    }
  }
  return out;
}

Result<KeyValue> EtcdStore::create(const std::string& key, std::string value) {
  if (key.empty()) return invalid_argument("create: empty key");
  const std::string k = b64(key);
  json::object txn;
  txn["compare"] = json::array{
      json::object{{"key", k}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", 0}}};
  txn["success"] = json::array{
      json::object{{"request_put", json::object{{"key", k}, {"value", base64_encode(value)}}}}};
  txn["failure"] = json::array{json::object{{"request_range", json::object{{"key", k}}}}};
  const std::string body = json::serialize(txn);
  const Deadline deadline = client_->deadline();
  for (;;) {
    Reply r = client_->call(kTxn, body, deadline);
    if (r.outcome == Outcome::kUnknown) return unknown_outcome(r.status);
    if (r.outcome != Outcome::kOk) return r.status;
    if (bool_field(r.body, "succeeded")) {
      const Revision rev = from_etcd(header_revision(r.body));
      return KeyValue{key, std::move(value), rev, rev, 1};
    }
    const json::object* kv = first_kv(txn_response(r.body, "response_range"));
    if (!r.after_unknown) {
      return already_exists(fmt::format("key \"{}\" already exists", key));
    }
    // An earlier copy of this create may be what exists now.
    if (kv == nullptr) continue;  // deleted meanwhile: whatever it was, try again
    return resolve_create(key, value, decode_kv(*kv, prefix_), deadline);
  }
}

Result<KeyValue> EtcdStore::resolve_create(const std::string& key, const std::string& value,
                                           const KeyValue& current, Deadline deadline) {
  KeyValue created = current;
  if (current.version != 1) {
    auto at = get_at(key, to_etcd(current.create_revision), deadline);
    if (!at.ok() || !at->has_value()) {
      // History gone: judge by the value alone.
      if (current.value == value) return current;
      return already_exists(fmt::format("key \"{}\" already exists", key));
    }
    created = **at;
  }
  if (created.value == value && created.version == 1) return created;
  return already_exists(fmt::format("key \"{}\" already exists", key));
}

Result<KeyValue> EtcdStore::update(const std::string& key, std::string value,
                                   Revision expected_revision) {
  if (key.empty()) return invalid_argument("update: empty key");
  if (expected_revision < 0) return invalid_argument("update: expected revision must be >= 0");
  const Deadline deadline = client_->deadline();
  if (expected_revision != 0) return cas_update(key, value, expected_revision, deadline);
  // Unconditional: compare on the revision just read, so that every copy sent is conditional.
  for (;;) {
    json::object req;
    req["key"] = b64(key);
    ORCH_ASSIGN_OR_RETURN(json::object body, client_->read(kRange, json::serialize(req), deadline));
    const json::object* kv = first_kv(&body);
    if (kv == nullptr) return not_found(fmt::format("key \"{}\" not found", key));
    auto done = cas_update(key, value, decode_kv(*kv, prefix_).mod_revision, deadline);
    if (done.ok() || done.status().code() != Code::kAborted) return done;
    if (SteadyClock::now() >= deadline) return done;
  }
}

Result<KeyValue> EtcdStore::cas_update(const std::string& key, const std::string& value,
                                       Revision expected, Deadline deadline) {
  const std::string k = b64(key);
  json::object txn;
  txn["compare"] = json::array{json::object{
      {"key", k}, {"target", "MOD"}, {"result", "EQUAL"}, {"mod_revision", to_etcd(expected)}}};
  txn["success"] = json::array{
      json::object{{"request_put",
                    json::object{{"key", k}, {"value", base64_encode(value)}, {"prev_kv", true}}}}};
  txn["failure"] = json::array{json::object{{"request_range", json::object{{"key", k}}}}};
  Reply r = client_->call(kTxn, json::serialize(txn), deadline);
  if (r.outcome == Outcome::kUnknown) return unknown_outcome(r.status);
  if (r.outcome != Outcome::kOk) return r.status;
  if (bool_field(r.body, "succeeded")) {
    const Revision rev = from_etcd(header_revision(r.body));
    const json::object* put = txn_response(r.body, "response_put");
    const json::object* prev = put != nullptr ? object_field(*put, "prev_kv") : nullptr;
    if (prev == nullptr) return internal_error("etcd: put reply without prev_kv");
    const KeyValue before = decode_kv(*prev, prefix_);
    return KeyValue{key, value, before.create_revision, rev, before.version + 1};
  }
  const json::object* kv = first_kv(txn_response(r.body, "response_range"));
  if (r.after_unknown) {
    // Was the change that failed the compare an earlier copy of this write?
    auto change = first_change_after(key, expected, deadline);
    if (change.ok() && change->kv.has_value() && change->kv->value == value &&
        change->kv->mod_revision == from_etcd(change->etcd_revision)) {
      auto before = get_at(key, to_etcd(expected), deadline);
      if (before.ok() && before->has_value() &&
          (*before)->create_revision == change->kv->create_revision) {
        return *change->kv;
      }
    } else if (!change.ok() && change.status().code() != Code::kOutOfRange) {
      return unknown_outcome(change.status());
    } else if (!change.ok() && kv != nullptr && decode_kv(*kv, prefix_).value == value) {
      return decode_kv(*kv, prefix_);  // history gone: judge by the value
    }
  }
  if (kv == nullptr) return not_found(fmt::format("key \"{}\" not found", key));
  return aborted(fmt::format("key \"{}\": expected revision {}, current revision is {}", key,
                             expected, decode_kv(*kv, prefix_).mod_revision));
}

Result<Event> EtcdStore::remove(const std::string& key, Revision expected_revision) {
  if (key.empty()) return invalid_argument("remove: empty key");
  if (expected_revision < 0) return invalid_argument("remove: expected revision must be >= 0");
  const Deadline deadline = client_->deadline();
  if (expected_revision != 0) return cas_remove(key, expected_revision, deadline);
  for (;;) {
    json::object req;
    req["key"] = b64(key);
    ORCH_ASSIGN_OR_RETURN(json::object body, client_->read(kRange, json::serialize(req), deadline));
    const json::object* kv = first_kv(&body);
    if (kv == nullptr) return not_found(fmt::format("key \"{}\" not found", key));
    auto done = cas_remove(key, decode_kv(*kv, prefix_).mod_revision, deadline);
    if (done.ok() || done.status().code() != Code::kAborted) return done;
    if (SteadyClock::now() >= deadline) return done;
  }
}

Result<Event> EtcdStore::cas_remove(const std::string& key, Revision expected, Deadline deadline) {
  const std::string k = b64(key);
  json::object txn;
  txn["compare"] = json::array{json::object{
      {"key", k}, {"target", "MOD"}, {"result", "EQUAL"}, {"mod_revision", to_etcd(expected)}}};
  txn["success"] = json::array{
      json::object{{"request_delete_range", json::object{{"key", k}, {"prev_kv", true}}}}};
  txn["failure"] = json::array{json::object{{"request_range", json::object{{"key", k}}}}};
  Reply r = client_->call(kTxn, json::serialize(txn), deadline);
  if (r.outcome == Outcome::kUnknown) return unknown_outcome(r.status);
  if (r.outcome != Outcome::kOk) return r.status;
  if (bool_field(r.body, "succeeded")) {
    const json::object* del = txn_response(r.body, "response_delete_range");
    const json::array* prevs = del != nullptr ? array_field(*del, "prev_kvs") : nullptr;
    if (prevs == nullptr || prevs->empty() || !(*prevs)[0].is_object()) {
      return internal_error("etcd: delete reply without prev_kvs");
    }
    Event ev;
    ev.type = EventType::kDelete;
    ev.kv.key = key;
    ev.kv.mod_revision = from_etcd(header_revision(r.body));
    ev.prev = decode_kv((*prevs)[0].as_object(), prefix_);
    return ev;
  }
  const json::object* kv = first_kv(txn_response(r.body, "response_range"));
  if (r.after_unknown) {
    auto change = first_change_after(key, expected, deadline);
    if (change.ok() && !change->kv.has_value()) {
      // The first change after `expected` was a delete: an earlier copy of this one (a delete
      // carries no value to tell it from another client's delete of the same revision).
      auto before = get_at(key, to_etcd(expected), deadline);
      if (before.ok() && before->has_value()) {
        Event ev;
        ev.type = EventType::kDelete;
        ev.kv.key = key;
        ev.kv.mod_revision = from_etcd(change->etcd_revision);
        ev.prev = **before;
        return ev;
      }
    }
    if (!change.ok() && change.status().code() != Code::kOutOfRange) {
      return unknown_outcome(change.status());
    }
  }
  if (kv == nullptr) return not_found(fmt::format("key \"{}\" not found", key));
  return aborted(fmt::format("key \"{}\": expected revision {}, current revision is {}", key,
                             expected, decode_kv(*kv, prefix_).mod_revision));
}

Result<EtcdStore::Change> EtcdStore::first_change_after(const std::string& key, Revision expected,
                                                        Deadline deadline) {
  const std::int64_t from = to_etcd(expected);
  ORCH_ASSIGN_OR_RETURN(std::int64_t hi, etcd_head(deadline));
  auto unchanged = [&](std::optional<KeyValue>& at) {
    return at.has_value() && at->mod_revision == expected;
  };
  // Invariant: unchanged at lo, changed at hi.
  std::int64_t lo = from;
  ORCH_ASSIGN_OR_RETURN(std::optional<KeyValue> at_hi, get_at(key, hi, deadline));
  if (unchanged(at_hi)) return aborted("the key did not change");
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    ORCH_ASSIGN_OR_RETURN(std::optional<KeyValue> at_mid, get_at(key, mid, deadline));
    if (unchanged(at_mid)) {
      lo = mid;
    } else {
      hi = mid;
      at_hi = std::move(at_mid);
    }
  }
  return Change{hi, std::move(at_hi)};
}

Result<std::unique_ptr<Watch>> EtcdStore::watch(const std::string& prefix, Revision after_revision,
                                                const WatchOptions& options) {
  if (after_revision < 0) return invalid_argument("watch: after_revision must be >= 0");
  // Our after_revision A is below the compaction point - 1 exactly when etcd revision A + 1
  // (our A) is compacted away.
  Status probe = probe_revision(*client_, to_etcd(after_revision), client_->deadline());
  if (probe.code() == Code::kOutOfRange) {
    return out_of_range(fmt::format("watch after revision {}: required revision has been compacted",
                                    after_revision));
  }
  ORCH_TRY(probe);
  auto state = std::make_shared<WatchState>();
  const std::string wire_prefix = wire(prefix);
  state->wire_key = wire_prefix.empty() ? no_end() : wire_prefix;
  state->wire_end = prefix_end(wire_prefix).value_or(no_end());
  state->strip = prefix_;
  state->capacity = options.buffer != 0 ? options.buffer : client_->options().watch_buffer;
  state->after = after_revision;
  state->received = after_revision;
  state->delivered = after_revision;
  return std::unique_ptr<Watch>(new EtcdWatch(std::move(state), pump_));
}

Status EtcdStore::compact(Revision revision) {
  if (revision < 1) return invalid_argument("compact: revision must be >= 1");
  const Deadline deadline = client_->deadline();
  ORCH_ASSIGN_OR_RETURN(const std::int64_t head, etcd_head(deadline));
  if (revision > from_etcd(head)) {
    return out_of_range(
        fmt::format("compact {}: required revision is a future revision (current {})", revision,
                    from_etcd(head)));
  }
  // Our own watches that etcd may not have caught up yet would be cancelled by the compaction
  // although they missed nothing (etcd_watch.hpp, "Progress and synced"): give them a moment.
  pump_->wait_compaction_safe(revision,
                              std::min(deadline, SteadyClock::now() + kCompactionWaitForWatches));
  // etcd keeps its compact revision readable: compacting etcd at R (our R - 1) keeps exactly the
  // values the events after our R - 1 need as prev. Reads at our R - 1 are refused above etcd.
  json::object req;
  req["revision"] = revision;
  req["physical"] = true;
  Reply r = client_->call("/v3/kv/compaction", json::serialize(req), deadline);
  if (r.outcome == Outcome::kRejected && r.after_unknown && r.status.code() == Code::kOutOfRange &&
      r.status.message().find("compacted") != std::string::npos) {
    // An earlier copy may have done it; it is done either way if etcd's point is now >= R.
    auto now = compacted_revision();
    if (now.ok() && *now >= revision) r.outcome = Outcome::kOk;
  }
  if (r.outcome == Outcome::kUnknown) return unknown_outcome(r.status);
  if (r.outcome != Outcome::kOk) {
    if (r.status.code() == Code::kOutOfRange) {
      if (r.status.message().find("compacted") != std::string::npos) {
        // etcd's compaction point is at or above `revision`.
        Revision seen = known_compacted_.load();
        while (seen < revision && !known_compacted_.compare_exchange_weak(seen, revision)) {
        }
      }
      return out_of_range(fmt::format("compact {}: {}", revision, r.status.message()));
    }
    return r.status;
  }
  Revision seen = known_compacted_.load();
  while (seen < revision && !known_compacted_.compare_exchange_weak(seen, revision)) {
  }
  return ok_status();
}

}  // namespace
}  // namespace orch::store::etcd

namespace orch::store {

Result<std::unique_ptr<Store>> open_etcd_store(const EtcdOptions& options) {
  ORCH_ASSIGN_OR_RETURN(std::unique_ptr<etcd::EtcdClient> client,
                        etcd::EtcdClient::create(options));
  std::shared_ptr<etcd::EtcdClient> shared(std::move(client));
  auto store = std::make_unique<etcd::EtcdStore>(shared);
  auto revision = store->current_revision();
  if (!revision.ok()) return revision.status();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace orch::store
