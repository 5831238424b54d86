// Store: the revisioned key-value store under the API server (ARCHITECTURE.md, "Store").
//
// The contract maps one-to-one onto etcd 3.x, so every backend (SQLite now, etcd later) passes the
// same conformance suite (tests/conformance/store):
// - One revision counter per store, +1 per committed write (create, update, delete). Reads and
//   failed writes never advance it. An object's resource version is the revision of its last write
//   (`mod_revision`); `create_revision` is the write that created this incarnation of the key.
// - create fails with AlreadyExists if the key is present; update and delete compare-and-swap on
//   mod_revision (0 = unconditional) and fail with Aborted (409 Conflict) when it moved, NotFound
//   when the key is absent.
// - list reads a consistent snapshot of a key range and returns the revision it was read at; it can
//   read at an older revision (paging pinned to the first page's revision).
// - watch delivers every event with revision > `after_revision` for keys under a prefix, in
//   revision order, none missed, none repeated. A revision older than the compaction point fails
//   with OutOfRange (410: relist). A watcher that falls behind (its bounded buffer is full) is
//   closed with ResourceExhausted and `Watch::resume_revision()` tells where to watch from again.
// - compact(R) discards history before R: reads at revisions >= R and watches with
//   after_revision >= R - 1 still work; older ones fail with OutOfRange.
// - An acknowledged write is durable (it survives a crash of the process or the machine).
//
// Keys are byte strings, by convention `/registry/<group>/<resource>/<namespace>/<name>`; values
// are opaque bytes (the API server stores JSON). The store never parses them.
//
// Thread-safety: every Store method may be called from any thread concurrently. A Watch is used by
// one consumer thread at a time; `close()` may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orch/status.hpp"

namespace orch::store {

using Revision = std::int64_t;

// One key's current value (etcd's KeyValue).
struct KeyValue {
  std::string key;
  std::string value;
  Revision create_revision = 0;  // the write that created this incarnation
  Revision mod_revision = 0;     // the last write: the object's resourceVersion
  std::int64_t version = 0;      // writes since creation, 1 on create
  bool operator==(const KeyValue&) const = default;
};

enum class EventType : std::uint8_t { kPut, kDelete };

// One committed change. For kPut, `kv` is the new value and `prev` the value it replaced (absent
// on create). For kDelete, `kv.key` and `kv.mod_revision` (the delete's revision) are set, and
// `prev` holds the deleted value.
struct Event {
  EventType type = EventType::kPut;
  KeyValue kv;
  std::optional<KeyValue> prev;
  Revision revision() const { return kv.mod_revision; }
  bool is_create() const { return type == EventType::kPut && !prev.has_value(); }
};

struct ListOptions {
  // Read the range as of this revision; 0 = the current revision. Older than the compaction point:
  // OutOfRange; newer than the current revision: OutOfRange ("future revision").
  Revision revision = 0;
  // At most this many items; 0 = no limit. `more` says whether items remain.
  std::int64_t limit = 0;
  // Start at this key (inclusive) instead of the prefix; used for paging (last key + '\0').
  std::string start_key;
  // Only count, return no items.
  bool count_only = false;
};

struct ListResult {
  std::vector<KeyValue> items;  // in key order
  Revision revision = 0;        // the revision the snapshot was read at
  bool more = false;            // items beyond `limit` remain
  std::int64_t count = 0;       // keys in [start, end) at that revision (as etcd's count)
};

struct WatchOptions {
  // Events buffered for a consumer before it is considered fallen behind; 0 = the backend's
  // default. Default: 1024.
  std::size_t buffer = 1024;
};

// A stream of events from Store::watch. Close it (or destroy it) when done.
class Watch {
 public:
  virtual ~Watch() = default;
  // Blocks until at least one event is available, the watch ends, or `timeout` passes. Returns the
  // events in revision order (an empty vector on timeout). Once every buffered event has been
  // returned and the watch has ended, returns why: OutOfRange (history compacted while catching
  // up), ResourceExhausted (fell behind), Unavailable (store closed or watch closed by the caller).
  virtual Result<std::vector<Event>> next(std::chrono::milliseconds timeout) = 0;
  // The revision to pass as `after_revision` to resume without a gap: the revision of the last
  // event returned by next() (or the starting revision when none was).
  virtual Revision resume_revision() const = 0;
  // Ends the watch; a blocked next() returns Unavailable. Idempotent.
  virtual void close() = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // The latest committed revision (0 for an empty, never-written store).
  virtual Result<Revision> current_revision() = 0;
  // The compaction point: history before it is gone (0 = nothing compacted).
  virtual Result<Revision> compacted_revision() = 0;

  // NotFound when absent.
  virtual Result<KeyValue> get(const std::string& key) = 0;
  // Keys with the given prefix ("" = all keys).
  virtual Result<ListResult> list(const std::string& prefix, const ListOptions& options = {}) = 0;

  // AlreadyExists when present. Returns the stored KeyValue (its mod_revision is the new revision).
  virtual Result<KeyValue> create(const std::string& key, std::string value) = 0;
  // Compare-and-swap: `expected_revision` must equal the key's mod_revision (0 = unconditional).
  // NotFound when absent; Aborted when the revision moved.
  virtual Result<KeyValue> update(const std::string& key, std::string value,
                                  Revision expected_revision) = 0;
  // Same CAS rule and codes as update. Returns the delete as its watchers see it: type kDelete,
  // kv.key, kv.mod_revision = the delete's revision, prev = the deleted value.
  virtual Result<Event> remove(const std::string& key, Revision expected_revision) = 0;

  // Events for keys under `prefix` with revision > after_revision (0 = from the beginning of
  // retained history when nothing was compacted; use the list's revision to watch after a list).
  // OutOfRange when after_revision < compacted_revision() - 1.
  virtual Result<std::unique_ptr<Watch>> watch(const std::string& prefix, Revision after_revision,
                                               const WatchOptions& options = {}) = 0;

  // Discards history before `revision`. OutOfRange if it is at or below the current compaction
  // point (as etcd's ErrCompacted) or in the future; InvalidArgument if it is < 1. Runs in bounded
  // batches so writers are never stalled for long.
  virtual Status compact(Revision revision) = 0;
};

}  // namespace orch::store
