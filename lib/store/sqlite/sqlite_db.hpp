// Thin RAII wrappers over the SQLite C API for the SQLite store: a connection with a cache of
// prepared statements, a statement that resets itself when its scope ends, and the translation of
// SQLite result codes into Status.
//
// Thread-safety: none. A Connection (and its statements) is used by one thread at a time; the
// connection is opened with SQLITE_OPEN_NOMUTEX and the owner serializes access.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <sqlite3.h>

#include "orch/status.hpp"

namespace orch::store::sqlite {

// The Status for SQLite result code `rc` while doing `what` on the database at `path`.
// Busy/locked -> Unavailable; corruption, I/O, full disk and anything else -> Internal.
Status sqlite_status(int rc, std::string_view path, std::string_view what, sqlite3* db);

// A prepared statement owned by a Connection's cache. Use through Stmt::Scope so that it is reset
// (bindings cleared, read transaction released) however the scope is left.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Binds (1-based index). Blobs are bound as BLOB, never TEXT: keys compare as bytes (memcmp),
  // exactly as etcd orders them. The bytes are copied (SQLITE_TRANSIENT) unless `stable` says the
  // caller keeps them alive until the statement is reset.
  void bind_blob(int index, std::string_view bytes, bool stable = false);
  void bind_int(int index, std::int64_t value);
  void bind_null(int index);

  // sqlite3_step: SQLITE_ROW, SQLITE_DONE or an error code.
  int step();
  bool is_null(int column) const;
  std::int64_t column_int(int column) const;
  std::string column_blob(int column) const;
  void reset();

  class Scope {
   public:
    explicit Scope(Stmt& stmt) : stmt_(stmt) {}
    ~Scope() { stmt_.reset(); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Stmt* operator->() { return &stmt_; }
    Stmt& operator*() { return stmt_; }

   private:
    Stmt& stmt_;
  };

 private:
  sqlite3_stmt* stmt_;
};

// One SQLite connection plus its prepared statements, keyed by SQL text.
class Connection {
 public:
  // Opens `path` read-write (creating it when `create`), in multi-thread mode (NOMUTEX).
  static Result<std::unique_ptr<Connection>> open(const std::string& path, bool create);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

  // Runs one or more statements that return no rows of interest.
  Status exec(std::string_view sql);
  // The cached prepared statement for `sql`, preparing it on first use.
  Result<Stmt*> stmt(const std::string& sql);
  // A Status for `rc` from this connection (message from sqlite3_errmsg).
  Status error(int rc, std::string_view what) const;

  // Runs a single-value query (e.g. a PRAGMA) and returns its first column as an integer; 0 when
  // it yields no row.
  Result<std::int64_t> query_int(const std::string& sql);

 private:
  Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  // Const after construction.
  sqlite3* const db_;
  const std::string path_;
  // Owned by the one thread using the connection.
  std::map<std::string, std::unique_ptr<Stmt>, std::less<>> stmts_;
};

}  // namespace orch::store::sqlite
