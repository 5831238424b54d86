// A fixed pool of read-only SQLite connections, and the read queries of the SQLite store run on
// them: point reads, lists (current or historical) and the log scans that watches catch up from.
// Every multi-statement read runs in one read transaction, so it sees one consistent snapshot.
//
// Thread-safety: ReadPool is safe from any thread. A leased connection belongs to the lessee until
// the Lease is destroyed. shutdown() waits for every lease to come back, then closes the
// connections; later acquire() calls fail with Unavailable.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "orch/status.hpp"
#include "orch/store/store.hpp"
#include "sqlite/sqlite_db.hpp"

namespace orch::store::sqlite {

class ReadPool {
 public:
  class Lease {
   public:
    Lease(ReadPool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_ != nullptr) pool_->release(std::move(conn_));
    }
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    ReadPool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  // Opens `count` connections to `path` (which must exist and be initialized).
  static Result<std::shared_ptr<ReadPool>> open(const std::string& path, int count);
  ~ReadPool();

  // Waits for a free connection. Unavailable after shutdown.
  Result<Lease> acquire();
  void shutdown();

 private:
  ReadPool() = default;
  void release(std::unique_ptr<Connection> conn);

  mutable std::mutex mu_;  // leaf lock
  // Guarded by mu_.
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> free_;
  int leased_ = 0;
  bool closed_ = false;
};

// The header of a read snapshot.
struct Snapshot {
  Revision revision = 0;   // the latest revision committed in the snapshot
  Revision compacted = 0;  // the compaction point recorded in the snapshot
};

// RAII read transaction on one connection: BEGIN on construction (`begin()`), COMMIT (release the
// snapshot) on destruction.
class ReadTxn {
 public:
  explicit ReadTxn(Connection& conn) : conn_(conn) {}
  ~ReadTxn();
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  // Starts the transaction and reads the snapshot header (which pins the snapshot).
  Result<Snapshot> begin();

 private:
  Connection& conn_;
  bool open_ = false;
};

// NotFound when absent (no transaction needed: one statement is one snapshot).
Result<KeyValue> read_key(Connection& conn, const std::string& key);

// A list as Store::list describes it, in one read transaction.
Result<ListResult> read_list(Connection& conn, const std::string& prefix,
                             const ListOptions& options);

// Log events for keys under `prefix` with after < revision <= upto, in revision order, at most
// `limit`, in one read transaction. OutOfRange when `after` < compaction point - 1 in that snapshot
// (the events may be gone).
Result<std::vector<Event>> read_events(Connection& conn, const std::string& prefix, Revision after,
                                       Revision upto, std::int64_t limit);

}  // namespace orch::store::sqlite
