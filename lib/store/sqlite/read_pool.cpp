// Read connections and read queries of the SQLite store (see read_pool.hpp).
// Thread-safety: ReadPool guarded by mu_; the query functions use only the connection passed in.
#include "sqlite/read_pool.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "key_range.hpp"
#include "sqlite/schema.hpp"

namespace orch::store::sqlite {
namespace {

Status step_error(Connection& conn, int rc, std::string_view what) { return conn.error(rc, what); }

// The key range [lower, end) of a list or watch: "AND <col> >= ?a AND <col> < ?b" as needed.
struct KeyBounds {
  std::string lower;
  std::optional<std::string> end;
  bool empty() const { return end.has_value() && lower >= *end; }
};

KeyBounds bounds(const std::string& prefix, const std::string& start_key) {
  return {std::max(prefix, start_key), prefix_end(prefix)};
}

}  // namespace

Result<std::shared_ptr<ReadPool>> ReadPool::open(const std::string& path, int count) {
  std::shared_ptr<ReadPool> pool(new ReadPool());
  for (int i = 0; i < count; ++i) {
    ORCH_ASSIGN_OR_RETURN(auto conn, Connection::open(path, /*create=*/false));
    // Readers never write: query_only turns a bug into an error instead of a second writer.
    ORCH_TRY(conn->exec("PRAGMA query_only = 1; PRAGMA busy_timeout = 10000;"));
    pool->free_.push_back(std::move(conn));
  }
  return pool;
}

ReadPool::~ReadPool() { shutdown(); }

Result<ReadPool::Lease> ReadPool::acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return closed_ || !free_.empty(); });
  if (closed_) return unavailable("store closed");
  auto conn = std::move(free_.back());
  free_.pop_back();
  ++leased_;
  return Lease(this, std::move(conn));
}

void ReadPool::release(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  --leased_;
  free_.push_back(std::move(conn));
  cv_.notify_all();
}

void ReadPool::shutdown() {
  std::vector<std::unique_ptr<Connection>> doomed;
  {
    std::unique_lock lock(mu_);
    closed_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return leased_ == 0; });
    doomed.swap(free_);
  }
  // Connections close outside the lock.
}

ReadTxn::~ReadTxn() {
  if (!open_) return;
  if (auto stmt = conn_.stmt("COMMIT"); stmt.ok()) {
    Stmt::Scope scope(**stmt);
    if (scope->step() != SQLITE_DONE) (void)conn_.exec("ROLLBACK");
  }
}

Result<Snapshot> ReadTxn::begin() {
  {
    ORCH_ASSIGN_OR_RETURN(Stmt * stmt, conn_.stmt("BEGIN"));
    Stmt::Scope scope(*stmt);
    const int rc = scope->step();
    if (rc != SQLITE_DONE) return conn_.error(rc, "begin read");
    open_ = true;
  }
  Snapshot snap;
  ORCH_ASSIGN_OR_RETURN(snap.revision, conn_.query_int(kSelectRevision));
  ORCH_ASSIGN_OR_RETURN(snap.compacted, conn_.query_int(kSelectCompactRevision));
  return snap;
}

Result<KeyValue> read_key(Connection& conn, const std::string& key) {
  ORCH_ASSIGN_OR_RETURN(
      Stmt * stmt,
      conn.stmt("SELECT l.value, l.create_revision, l.rev, l.version FROM kv CROSS JOIN log l "
                "ON l.rev = kv.rev WHERE kv.key = ?1"));
  Stmt::Scope scope(*stmt);
  scope->bind_blob(1, key, /*stable=*/true);
  const int rc = scope->step();
  if (rc == SQLITE_DONE) return not_found(fmt::format("key \"{}\" not found", key));
  if (rc != SQLITE_ROW) return step_error(conn, rc, "get");
  KeyValue kv;
  kv.key = key;
  kv.value = scope->column_blob(0);
  kv.create_revision = scope->column_int(1);
  kv.mod_revision = scope->column_int(2);
  kv.version = scope->column_int(3);
  return kv;
}

Result<ListResult> read_list(Connection& conn, const std::string& prefix,
                             const ListOptions& options) {
  if (options.revision < 0) return invalid_argument("list: negative revision");
  if (options.limit < 0) return invalid_argument("list: negative limit");
  ReadTxn txn(conn);
  ORCH_ASSIGN_OR_RETURN(const Snapshot snap, txn.begin());
  const Revision at = options.revision == 0 ? snap.revision : options.revision;
  if (at > snap.revision) {
    return out_of_range(
        fmt::format("required revision {} is a future revision (current {})", at, snap.revision));
  }
  if (at < snap.compacted) {
    return out_of_range(fmt::format("required revision {} has been compacted (compacted at {})", at,
                                    snap.compacted));
  }
  ListResult out;
  out.revision = at;
  const KeyBounds range = bounds(prefix, options.start_key);
  if (range.empty()) return out;
  const bool bounded = range.end.has_value();

  // At the snapshot's own revision the kv table is the answer; older revisions are rebuilt from
  // the log: the row of each key with rev <= at that has no successor with rev <= at (the
  // successor of row r is the row whose prev_revision is r: one lookup in the unique index).
  const bool current = at == snap.revision;
  const std::string from =
      current ? std::string("kv CROSS JOIN log l ON l.rev = kv.rev WHERE kv.key >= ?1")
              : std::string(
                    "log l WHERE l.key >= ?1 AND l.rev <= ?3 AND l.tombstone = 0 AND NOT EXISTS "
                    "(SELECT 1 FROM log n WHERE n.key = l.key AND n.prev_revision = l.rev AND "
                    "n.rev <= ?3)");
  const std::string key_col = current ? "kv.key" : "l.key";
  const std::string upper = bounded ? fmt::format(" AND {} < ?2", key_col) : std::string();
  auto bind = [&](Stmt& stmt) {
    stmt.bind_blob(1, range.lower, true);
    if (bounded) stmt.bind_blob(2, *range.end, true);
    if (!current) stmt.bind_int(3, at);
  };

  {
    // Counting current keys needs only the kv index, not the values.
    const std::string count_from = current ? std::string("kv WHERE kv.key >= ?1") : from;
    ORCH_ASSIGN_OR_RETURN(Stmt * stmt, conn.stmt("SELECT count(*) FROM " + count_from + upper));
    Stmt::Scope scope(*stmt);
    bind(*stmt);
    const int rc = scope->step();
    if (rc != SQLITE_ROW) return step_error(conn, rc, "list count");
    out.count = scope->column_int(0);
  }
  if (options.count_only) {
    out.more = false;
    return out;
  }
  const std::string columns = "l.key, l.value, l.create_revision, l.rev, l.version";
  const std::string sql = fmt::format("SELECT {} FROM {}{} ORDER BY {}{}", columns, from, upper,
                                      key_col, options.limit > 0 ? " LIMIT ?4" : "");
  ORCH_ASSIGN_OR_RETURN(Stmt * stmt, conn.stmt(sql));
  Stmt::Scope scope(*stmt);
  bind(*stmt);
  if (options.limit > 0) stmt->bind_int(4, options.limit);
  for (;;) {
    const int rc = scope->step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return step_error(conn, rc, "list");
    KeyValue kv;
    kv.key = scope->column_blob(0);
    kv.value = scope->column_blob(1);
    kv.create_revision = scope->column_int(2);
    kv.mod_revision = scope->column_int(3);
    kv.version = scope->column_int(4);
    out.items.push_back(std::move(kv));
  }
  out.more = static_cast<std::int64_t>(out.items.size()) < out.count;
  return out;
}

Result<std::vector<Event>> read_events(Connection& conn, const std::string& prefix, Revision after,
                                       Revision upto, std::int64_t limit) {
  ReadTxn txn(conn);
  ORCH_ASSIGN_OR_RETURN(const Snapshot snap, txn.begin());
  if (after < snap.compacted - 1) {
    return out_of_range(fmt::format("required revision {} has been compacted (compacted at {})",
                                    after + 1, snap.compacted));
  }
  std::vector<Event> events;
  upto = std::min(upto, snap.revision);
  if (upto <= after) return events;
  const KeyBounds range = bounds(prefix, std::string());
  const bool filtered = !prefix.empty();
  const bool bounded = range.end.has_value();
  std::string sql =
      "SELECT l.rev, l.key, l.value, l.create_revision, l.prev_revision, l.version, l.tombstone, "
      "p.value FROM log l LEFT JOIN log p ON p.rev = l.prev_revision AND l.tombstone = 0 AND "
      "l.version > 1 WHERE l.rev > ?1 AND l.rev <= ?2";
  if (filtered) sql += " AND l.key >= ?3";
  if (bounded) sql += " AND l.key < ?4";
  sql += " ORDER BY l.rev LIMIT ?5";
  ORCH_ASSIGN_OR_RETURN(Stmt * stmt, conn.stmt(sql));
  Stmt::Scope scope(*stmt);
  stmt->bind_int(1, after);
  stmt->bind_int(2, upto);
  if (filtered) stmt->bind_blob(3, range.lower, true);
  if (bounded) stmt->bind_blob(4, *range.end, true);
  stmt->bind_int(5, limit);
  for (;;) {
    const int rc = scope->step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return step_error(conn, rc, "watch catch-up");
    Event ev;
    const Revision rev = stmt->column_int(0);
    std::string key = stmt->column_blob(1);
    const Revision create_revision = stmt->column_int(3);
    const Revision prev_revision = stmt->column_int(4);
    const std::int64_t version = stmt->column_int(5);
    if (stmt->column_int(6) != 0) {
      ev.type = EventType::kDelete;
      ev.kv.key = key;
      ev.kv.mod_revision = rev;
      ev.prev =
          KeyValue{std::move(key), stmt->column_blob(2), create_revision, prev_revision, version};
    } else {
      ev.type = EventType::kPut;
      if (version > 1) {
        if (stmt->is_null(7)) {
          return internal_error(fmt::format("{}: log row {} names missing row {} as its previous",
                                            conn.path(), rev, prev_revision));
        }
        ev.prev = KeyValue{key, stmt->column_blob(7), create_revision, prev_revision, version - 1};
      }
      ev.kv = KeyValue{std::move(key), stmt->column_blob(2), create_revision, rev, version};
    }
    events.push_back(std::move(ev));
  }
  return events;
}

}  // namespace orch::store::sqlite
