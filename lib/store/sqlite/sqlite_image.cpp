// Whole-store images of a SQLite store (read_sqlite_image / write_sqlite_image in
// include/orch/store/sqlite_store.hpp): the online backup API copies a consistent snapshot of a
// live store file, page by page, into an in-memory database, whose bytes are a database file.
//
// Thread-safety: both functions are free-standing; each opens its own connections.
#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "orch/store/sqlite_store.hpp"

namespace orch::store {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

Status sqlite_error(sqlite3* db, const std::string& what) {
  return Status(Code::kInternal, what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

}  // namespace

Result<std::string> read_sqlite_image(const std::string& path) {
  if (!std::filesystem::exists(path)) return Status(Code::kNotFound, path + ": no such store");
  sqlite3* raw = nullptr;
  // Read-write without create: a read-only connection cannot recover a WAL it finds mid-way.
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db src(raw);
  if (rc != SQLITE_OK) return sqlite_error(raw, path + ": cannot open");
  sqlite3_busy_timeout(src.get(), 5000);

  raw = nullptr;
  rc = sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db mem(raw);
  if (rc != SQLITE_OK) return sqlite_error(raw, "cannot open an in-memory database");
  // Make the in-memory database a "memdb" one, so sqlite3_serialize hands out its bytes as they
  // are (an ordinary :memory: database would need the sqlite_dbpage table to serialize).
  rc = sqlite3_deserialize(mem.get(), "main", nullptr, 0, 0,
                           SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE);
  if (rc != SQLITE_OK) return sqlite_error(mem.get(), "cannot prepare an in-memory database");

  // One step of -1 pages copies everything inside one read transaction of the source: a
  // point-in-time image even while the store's writer keeps committing.
  sqlite3_backup* backup = sqlite3_backup_init(mem.get(), "main", src.get(), "main");
  if (!backup) return sqlite_error(mem.get(), path + ": cannot start a backup");
  do {
    rc = sqlite3_backup_step(backup, -1);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(1);
  } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  const int finish = sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE || finish != SQLITE_OK) return sqlite_error(mem.get(), path + ": backup failed");

  sqlite3_int64 size = 0;
  unsigned char* bytes = sqlite3_serialize(mem.get(), "main", &size, 0);
  if (!bytes) return sqlite_error(mem.get(), path + ": cannot serialize the backup");
  std::string image(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(size));
  sqlite3_free(bytes);
  return image;
}

Status write_sqlite_image(const std::string& path, std::string_view image) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && std::filesystem::file_size(path, ec) > 0) {
    return Status(Code::kAlreadyExists, path + ": a store is already there");
  }
  if (image.size() < 100 || image.substr(0, 16) != std::string_view("SQLite format 3\0", 16)) {
    return Status(Code::kInvalidArgument, path + ": the image is not a SQLite database");
  }
  const std::string tmp = path + ".restore";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(image.data(), static_cast<std::streamsize>(image.size()));
    out.flush();
    if (!out) {
      std::filesystem::remove(tmp, ec);
      return Status(Code::kInvalidArgument, tmp + ": cannot write");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::filesystem::remove(tmp, ec);
    return Status(Code::kInternal, path + ": cannot write");
  }
  return Status();
}

}  // namespace orch::store
