// The SQLite Store backend: the embedded default (ARCHITECTURE.md, "Store"; doc/store.md).
//
// One file holds the store: a table of current values plus a history log, both written in one
// transaction per group commit. The revision is the log's row id. The database runs in WAL mode
// with synchronous=FULL, so a write is acknowledged only once it is on disk. One writer thread
// group-commits the writes of concurrent callers (checkpoints run on a thread of their own, off
// the commit path); reads run on a small pool of read connections, each read in its own snapshot.
// Watches catch up from the log, then receive live events from the commit path. Automatic
// compaction (optional) keeps a minimum history window.
//
// A store file is used by one process at a time: open takes an exclusive advisory lock
// (flock) on "<path>.lock", which also holds the owner's pid for the error message. The lock file
// is left in place on close (removing it would race with a concurrent open).
//
// Thread-safety: as Store (every method from any thread). The store runs two threads of its own,
// the writer and a WAL checkpointer; destroying it stops both (queued writes fail with
// Unavailable), ends every open Watch with Unavailable, closes the file and releases the lock. A
// Watch may outlive the store; its next() then returns Unavailable.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "orch/status.hpp"
#include "orch/store/store.hpp"

namespace orch::store {

struct SqliteOptions {
  // The database file. Created (with its schema) when absent or empty; its directory must exist
  // and be writable. Also used: "<path>-wal", "<path>-shm", "<path>.lock". Required.
  std::string path;

  // Automatic compaction keeps at least this many revisions of history: every
  // `auto_compaction_interval` it compacts at current_revision() - history_window. Default: 10000.
  Revision history_window = 10000;
  // How often automatic compaction runs; 0 = never (compact() only). Default: 5 minutes.
  std::chrono::milliseconds auto_compaction_interval = std::chrono::minutes(5);
  // Log rows examined per compaction transaction; writes interleave between batches. Default: 1000.
  int compaction_batch = 1000;

  // The most writes one group commit (one transaction, one fsync) takes from the queue.
  // Default: 256.
  int max_batch = 256;
  // Read connections (concurrent reads beyond this wait for a free one). Default: 4.
  int read_connections = 4;
  // The buffer of a watch whose WatchOptions::buffer is 0. Default: 1024.
  std::size_t watch_buffer = 1024;
  // Runs `PRAGMA quick_check` at open (reads the whole file). Default: false.
  bool check_on_open = false;

  // Test and benchmark hook: called on the writer thread right after each COMMIT returned, with
  // the last revision of the group, before any caller is acknowledged or watcher notified. Must
  // not call into the store. Default: none.
  std::function<void(Revision)> on_commit_for_test;
};

// Opens (or creates) the store at options.path. Errors, each naming the path:
// - InvalidArgument: empty path or bad option values; the directory is missing or is not
//   writable, or the file is not writable ("<path>: cannot open for writing: ..."); the file is
//   not a SQLite database or not a liborch store ("<path>: not a liborch store or corrupt: ...").
// - Unavailable: another process (or another open in this one) holds the store
//   ("<path> is in use by another process (pid N)").
// - Internal: the file is a liborch store but corrupt, or an I/O error.
// The store is ready on return; nothing is left behind on failure (except a created, empty
// database file or lock file).
Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteOptions& options);

// Whole-store images (Cluster::snapshot / ClusterOptions::restore_from use them).
// read_sqlite_image: the bytes of a database file equal to the store at `path` at one instant (a
// consistent point in time, taken with SQLite's online backup API, while an open store keeps
// writing). The store's revisions, history and compaction point come along. NotFound when there
// is no file; Internal on an SQLite error. Any thread.
Result<std::string> read_sqlite_image(const std::string& path);
// Writes `image` (from read_sqlite_image) as the store file `path`, to be opened with
// open_sqlite_store. AlreadyExists when a non-empty file is there; InvalidArgument when the
// image is not a SQLite database or the file cannot be written.
Status write_sqlite_image(const std::string& path, std::string_view image);

}  // namespace orch::store
