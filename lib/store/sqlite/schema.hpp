// The on-disk layout of the SQLite store (doc/store.md, "SQLite layout"): table and meta names and
// the schema creation script. Kept in one place so the writer, the readers and the tests agree.
//
// Thread-safety: constants only.
#pragma once

#include <cstdint>

namespace orch::store::sqlite {

// PRAGMA application_id of a liborch store ("ORCH"), and the format version in user_version.
inline constexpr std::int32_t kApplicationId = 0x4f524348;
inline constexpr std::int32_t kFormatVersion = 1;

// meta(name, value) rows.
inline constexpr const char* kMetaCompactRevision = "compact_revision";    // reads below: 410
inline constexpr const char* kMetaCompactedThrough = "compacted_through";  // deletes done up to

// Run inside one transaction on an empty database, after PRAGMA auto_vacuum=INCREMENTAL.
//
// log: one row per committed write; rev is the store revision (AUTOINCREMENT: never reused, so a
//   compacted revision never comes back). prev_revision is the revision of the row this write
//   supersedes for the same key (0 when the key has no earlier row); UNIQUE(key, prev_revision)
//   makes two writes from the same base impossible even if the in-transaction check were wrong.
//   Within one key, prev_revision grows with rev, so the index also orders a key's history.
//   A delete is a row with tombstone = 1 that carries the deleted value, its create_revision and
//   version (so a DELETE event has `prev` even after the value's own row is compacted).
// kv: every live key (no tombstones) and the log row holding its current value, for fast current
//   reads and CAS; the value itself is stored once, in the log.
inline constexpr const char* kCreateSchema = R"sql(
CREATE TABLE meta(
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE log(
  rev             INTEGER PRIMARY KEY AUTOINCREMENT,
  key             BLOB    NOT NULL,
  value           BLOB    NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision   INTEGER NOT NULL,
  version         INTEGER NOT NULL,
  tombstone       INTEGER NOT NULL,
  UNIQUE(key, prev_revision)
);
CREATE TABLE kv(
  key BLOB    PRIMARY KEY,
  rev INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta(name, value) VALUES ('compact_revision', 0), ('compacted_through', 0);
)sql";

// The revision counter as of the current transaction's snapshot.
inline constexpr const char* kSelectRevision =
    "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'log'), 0)";
inline constexpr const char* kSelectCompactRevision =
    "SELECT value FROM meta WHERE name = 'compact_revision'";
inline constexpr const char* kSelectCompactedThrough =
    "SELECT value FROM meta WHERE name = 'compacted_through'";

}  // namespace orch::store::sqlite
