// Unit tests of SQLite store compaction at the file level (doc/store.md, "Compaction"): what
// compaction physically deletes and keeps, that it frees pages and truncates the WAL, that the
// UNIQUE(key, prev_revision) constraint backs compare-and-swap, that an interrupted compaction
// resumes at open, and that automatic compaction keeps the configured window.
//
// These tests read the database file with a second, independent SQLite connection.
// Thread-safety: single-threaded.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include <doctest.h>
#include <sqlite3.h>

#include "orch/store/sqlite_store.hpp"
#include "store_test_util.hpp"

namespace orch::store {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

// A raw connection to the store's file, for inspection (and, in one test, tampering).
class Raw {
 public:
  explicit Raw(const std::string& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~Raw() { sqlite3_close(db_); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  std::int64_t value(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE_MESSAGE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK,
                    sqlite3_errmsg(db_));
    const int rc = sqlite3_step(stmt);
    REQUIRE_MESSAGE((rc == SQLITE_ROW || rc == SQLITE_DONE), sqlite3_errmsg(db_));
    const std::int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    return v;
  }
  int exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }

 private:
  sqlite3* db_ = nullptr;
};

std::unique_ptr<Store> open_store(const std::string& path, SqliteOptions options = {}) {
  options.path = path;
  if (options.auto_compaction_interval == std::chrono::minutes(5)) {
    options.auto_compaction_interval = 0ms;
  }
  auto opened = open_sqlite_store(options);
  REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
  return std::move(opened).value();
}

TEST_CASE("compaction deletes superseded rows and tombstones, frees pages, truncates the WAL") {
  TempDir dir;
  const std::string path = dir.file("store.db");
  SqliteOptions options;
  options.compaction_batch = 100;
  auto store = open_store(path, options);
  const std::string big(2000, 'x');
  for (int i = 0; i < 300; ++i) {
    REQUIRE(store->create("/gone/" + std::to_string(i), big).ok());
    REQUIRE(store->remove("/gone/" + std::to_string(i), 0).ok());
  }
  REQUIRE(store->create("/kept", "0").ok());
  for (int i = 1; i <= 500; ++i) REQUIRE(store->update("/kept", std::to_string(i), 0).ok());
  REQUIRE(store->create("/static", "s").ok());
  const Revision head = *store->current_revision();

  std::optional<Raw> raw;
  raw.emplace(path);
  CHECK(raw->value("SELECT count(*) FROM log") == head);
  const std::int64_t pages_before = raw->value("PRAGMA page_count");

  REQUIRE(store->compact(head).ok());

  // Left: the latest row of each live key below the compaction point, and the row at it.
  CHECK(raw->value("SELECT count(*) FROM log") == 2);
  CHECK(raw->value("SELECT count(*) FROM log WHERE tombstone = 1") == 0);
  CHECK(raw->value("SELECT rev FROM log WHERE key = CAST('/kept' AS BLOB)") == head - 1);
  CHECK(raw->value("SELECT value FROM meta WHERE name = 'compact_revision'") == head);
  CHECK(raw->value("SELECT value FROM meta WHERE name = 'compacted_through'") == head);
  CHECK(raw->value("PRAGMA freelist_count") == 0);
  CHECK(raw->value("PRAGMA page_count") < pages_before / 4);
  CHECK(std::filesystem::file_size(path + "-wal") == 0);

  // And the store still reads and writes as before.
  CHECK(store->get("/kept")->value == "500");
  CHECK(store->get("/kept")->version == 501);
  CHECK(store->list("").value().count == 2);
  auto next = store->update("/kept", "501", head - 1);
  REQUIRE(next.ok());
  CHECK(next->mod_revision == head + 1);

  // A clean close (of the last connection) leaves an empty WAL: no stale frame can shadow the
  // database file.
  raw.reset();
  store.reset();
  CHECK(std::filesystem::file_size(path + "-wal") == 0);
}

TEST_CASE("UNIQUE(key, prev_revision) refuses a second write from the same base") {
  TempDir dir;
  const std::string path = dir.file("store.db");
  auto store = open_store(path);
  REQUIRE(store->create("/k", "1").ok());
  REQUIRE(store->update("/k", "2", 1).ok());
  Raw raw(path);
  // A second successor of revision 1 for /k: what a lost CAS race would write.
  CHECK(raw.exec("INSERT INTO log(key, value, create_revision, prev_revision, version, "
                 "tombstone) VALUES (CAST('/k' AS BLOB), CAST('x' AS BLOB), 1, 1, 2, 0)") ==
        SQLITE_CONSTRAINT);
}

TEST_CASE("a compaction interrupted before its deletes finishes after reopen") {
  TempDir dir;
  const std::string path = dir.file("store.db");
  Revision head = 0;
  {
    auto store = open_store(path);
    REQUIRE(store->create("/k", "0").ok());
    for (int i = 1; i < 200; ++i) REQUIRE(store->update("/k", std::to_string(i), 0).ok());
    head = *store->current_revision();
  }
  {
    // What a crash right after the compaction point was recorded leaves behind.
    Raw raw(path);
    REQUIRE(raw.exec("UPDATE meta SET value = " + std::to_string(head) +
                     " WHERE name = 'compact_revision'") == SQLITE_OK);
    REQUIRE(raw.value("SELECT count(*) FROM log") == head);
  }
  auto store = open_store(path);
  CHECK(*store->compacted_revision() == head);
  CHECK(store
            ->list("",
                   [&] {
                     ListOptions o;
                     o.revision = head - 1;
                     return o;
                   }())
            .status()
            .code() == Code::kOutOfRange);
  Raw raw(path);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (raw.value("SELECT value FROM meta WHERE name = 'compacted_through'") != head &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  CHECK(raw.value("SELECT value FROM meta WHERE name = 'compacted_through'") == head);
  // The row at the compaction point, and the one it replaced (its watch event's prev).
  CHECK(raw.value("SELECT count(*) FROM log") == 2);
  CHECK(store->get("/k")->value == "199");
}

TEST_CASE("automatic compaction keeps the history window") {
  TempDir dir;
  SqliteOptions options;
  options.auto_compaction_interval = 20ms;
  options.history_window = 10;
  auto store = open_store(dir.file("store.db"), options);
  for (int i = 0; i < 100; ++i) REQUIRE(store->create("/a/" + std::to_string(i), "v").ok());
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (*store->compacted_revision() != 90 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  CHECK(*store->compacted_revision() == 90);  // 100 - window
  ListOptions at;
  at.revision = 90;
  CHECK(store->list("", at).ok());
  at.revision = 89;
  CHECK(store->list("", at).status().code() == Code::kOutOfRange);
  CHECK(store->watch("", 89).ok());
  CHECK(store->watch("", 88).status().code() == Code::kOutOfRange);
}

}  // namespace
}  // namespace orch::store
