// SQLite connection and statement wrappers (see sqlite_db.hpp).
// Thread-safety: one thread per Connection at a time.
#include "sqlite/sqlite_db.hpp"

#include <fmt/format.h>

namespace orch::store::sqlite {

Status sqlite_status(int rc, std::string_view path, std::string_view what, sqlite3* db) {
  const int primary = rc & 0xff;
  std::string detail =
      db != nullptr && sqlite3_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string message = fmt::format("{}: {}: {}", path, what, detail);
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return unavailable(std::move(message));
    default:
      return internal_error(std::move(message));
  }
}

void Stmt::bind_blob(int index, std::string_view bytes, bool stable) {
  // A zero-length blob must not be bound from a null pointer: SQLite would store NULL.
  static const char kEmpty = 0;
  const char* data = bytes.empty() ? &kEmpty : bytes.data();
  sqlite3_bind_blob64(stmt_, index, data, bytes.size(), stable ? SQLITE_STATIC : SQLITE_TRANSIENT);
}

void Stmt::bind_int(int index, std::int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

void Stmt::bind_null(int index) { sqlite3_bind_null(stmt_, index); }

int Stmt::step() { return sqlite3_step(stmt_); }

bool Stmt::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::int64_t Stmt::column_int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Stmt::column_blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, bool create) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
                    (create ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status status = sqlite_status(rc, path, "open", db);
    sqlite3_close_v2(db);  // a handle is returned even on failure (or null: a no-op)
    return status;
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<Connection>(new Connection(db, path));
}

Connection::~Connection() {
  stmts_.clear();  // finalize every statement before closing
  sqlite3_close_v2(db_);
}

Status Connection::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return ok_status();
  std::string detail = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  Status status = sqlite_status(rc, path_, text, nullptr);
  return Status(status.code(), fmt::format("{}: {}: {}", path_, text, detail));
}

Result<Stmt*> Connection::stmt(const std::string& sql) {
  if (auto it = stmts_.find(sql); it != stmts_.end()) return it->second.get();
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return error(rc, "prepare " + sql);
  }
  auto owned = std::make_unique<Stmt>(raw);
  Stmt* out = owned.get();
  stmts_.emplace(sql, std::move(owned));
  return out;
}

Status Connection::error(int rc, std::string_view what) const {
  return sqlite_status(rc, path_, what, db_);
}

Result<std::int64_t> Connection::query_int(const std::string& sql) {
  ORCH_ASSIGN_OR_RETURN(Stmt * stmt, this->stmt(sql));
  Stmt::Scope scope(*stmt);
  const int rc = stmt->step();
  if (rc == SQLITE_ROW) return stmt->column_int(0);
  if (rc == SQLITE_DONE) return std::int64_t{0};
  return error(rc, sql);
}

}  // namespace orch::store::sqlite
