// SqliteStore: the SQLite Store backend (include/orch/store/sqlite_store.hpp, doc/store.md).
//
// Writes: callers queue a WriteRequest and block on its semaphore; the one writer thread takes up
// to max_batch queued requests, applies them in one BEGIN IMMEDIATE transaction (each successful
// one gets the next revision), COMMITs (one fsync: WAL + synchronous=FULL), then publishes the
// events to the watch hub and wakes the callers. Compaction runs on the same thread as a sequence
// of small transactions interleaved with the write batches. A checkpointer thread with its own
// connection copies the WAL back into the database (PASSIVE checkpoints, which run concurrently
// with commits) whenever the writer's WAL hook reports kCheckpointFrames new frames, so that no
// commit waits for a checkpoint's fsync.
//
// Thread-safety: every public method from any thread. Lock order: mu_ (the queues) and
// checkpoint_mu_ are leaves; the writer takes WatchHub's locks only while holding no lock of its
// own.
#include "orch/store/sqlite_store.hpp"

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <semaphore>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite/file_lock.hpp"
#include "sqlite/read_pool.hpp"
#include "sqlite/schema.hpp"
#include "sqlite/sqlite_db.hpp"
#include "sqlite/watch_hub.hpp"

namespace orch::store::sqlite {
namespace {

using Clock = std::chrono::steady_clock;

// How long a statement waits for a lock held by another connection of this store (only during
// WAL recovery at open, in practice), and how long the post-compaction checkpoint waits for
// readers to leave the WAL.
constexpr int kBusyTimeoutMs = 10000;
constexpr int kCheckpointWaitMs = 200;
// WAL frames (pages) after which the checkpointer copies the WAL back into the database: SQLite's
// own auto-checkpoint threshold, but run off the commit path.
constexpr int kCheckpointFrames = 1000;
// The group commit window (see writer_loop) opens only after a group of at least this many
// writes, and never lasts longer than this.
constexpr std::size_t kWindowMinGroup = 8;
constexpr Clock::duration kMaxWindow = std::chrono::milliseconds(2);

// One queued write. Lives on the caller's stack until `done` is released.
struct WriteRequest {
  enum class Kind : std::uint8_t { kCreate, kUpdate, kRemove };
  WriteRequest(Kind k, const std::string& key_in, std::string value_in, Revision expected_in)
      : kind(k), key(key_in), value(std::move(value_in)), expected(expected_in) {}

  const Kind kind;
  const std::string& key;
  std::string value;  // moved into the event on success
  const Revision expected;
  // Written by the writer thread before `done` is released.
  Status status;
  EventPtr event;
  std::binary_semaphore done{0};
};

// One compaction: compact(R) from a caller (who waits on `done`), an automatic one (nobody
// waits), or the resumption at open of one a crash interrupted (`resume`).
struct CompactJob {
  explicit CompactJob(Revision r, bool resume_in = false) : revision(r), resume(resume_in) {}
  const Revision revision;
  const bool resume;
  Status status;
  std::binary_semaphore done{0};
};

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// fsync a directory so that a file created in it survives a machine crash.
void sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// "<path>: not a liborch store or corrupt: <why>"; InvalidArgument unless `corrupt`.
Status not_a_store(const std::string& path, std::string_view why, bool corrupt) {
  std::string message = fmt::format("{}: not a liborch store or corrupt: {}", path, why);
  return corrupt ? internal_error(std::move(message)) : invalid_argument(std::move(message));
}

// Translates an error met while opening: SQLite's "not a database" means a foreign or damaged
// file; corruption codes mean a damaged store. `detail` is SQLite's own message.
Status open_error(const std::string& path, const Status& status, int rc, std::string_view detail) {
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
      return not_a_store(path, detail, /*corrupt=*/false);
    case SQLITE_CORRUPT:
    case SQLITE_FORMAT:
      return not_a_store(path, detail, /*corrupt=*/true);
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      return invalid_argument(fmt::format("{}: cannot open for writing: {}", path, detail));
    default:
      return status;
  }
}

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<Store>> open(const SqliteOptions& options);
  ~SqliteStore() override;

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
  SqliteStore(const SqliteOptions& options, std::unique_ptr<FileLock> lock,
              std::unique_ptr<Connection> writer_conn, std::unique_ptr<Connection> checkpoint_conn,
              std::shared_ptr<ReadPool> pool, Revision head, Revision compacted,
              Revision compacted_through);

  // sqlite3_wal_hook on the writer connection: called after each commit with the WAL's size.
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int frames);
  void checkpointer_loop();

  // Queues `request`, waits until the writer has committed (or failed) it.
  Status submit(WriteRequest& request);

  // ---- writer thread only ----
  void writer_loop();
  void run_batch(std::vector<WriteRequest*>& batch);
  // Applies one request inside the open transaction at revision head_ + 1. An error Status from
  // the return value is a SQLite failure (the batch rolls back); a CAS-style refusal is stored in
  // request.status and returns OK.
  Status apply(WriteRequest& request);
  // Runs one bounded step of the active compaction; completes it when it is done.
  void compaction_step();
  Status compaction_record();
  Result<bool> compaction_delete_chunk();  // true when the last chunk is done
  Result<bool> compaction_vacuum_step();   // true when no free page is left
  void finish_compaction(Status status);
  void maybe_schedule_auto_compaction();
  // Sets head_ from the database after a failed transaction; a mismatch poisons the writer.
  void resync_after_failure(const Status& cause);
  Status exec_stmt(const std::string& sql);

  // Const after construction.
  const SqliteOptions options_;
  const std::string path_;
  const std::unique_ptr<FileLock> lock_;
  const std::shared_ptr<ReadPool> pool_;
  const std::shared_ptr<WatchHub> hub_;

  // Written by the writer thread, read by anyone.
  std::atomic<Revision> committed_;  // the latest committed revision
  std::atomic<Revision> compacted_;  // the compaction point (reads below it: OutOfRange)

  // Writer thread only.
  std::unique_ptr<Connection> writer_conn_;  // closed by the destructor after the thread ends
  Revision head_;                            // == committed_ between batches
  Status poisoned_;                          // set when the database and head_ disagree
  std::shared_ptr<CompactJob> active_job_;
  enum class CompactPhase : std::uint8_t { kRecord, kDelete, kVacuum, kCheckpoint };
  CompactPhase phase_ = CompactPhase::kRecord;
  Revision delete_cursor_ = 0;  // log rows <= this were examined by the active job
  std::size_t last_group_ = 0;  // writes in the last group commit
  Clock::duration last_commit_time_{};
  Clock::time_point next_auto_compaction_;

  std::mutex mu_;  // leaf lock: guards the queues below
  // Guarded by mu_.
  std::condition_variable work_cv_;
  std::deque<WriteRequest*> queue_;
  std::deque<std::shared_ptr<CompactJob>> compactions_;
  bool stopping_ = false;

  // Checkpointer thread only.
  std::unique_ptr<Connection> checkpoint_conn_;  // closed by the destructor after the thread ends

  std::mutex checkpoint_mu_;  // leaf lock
  // Guarded by checkpoint_mu_.
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;
  bool checkpoint_stopping_ = false;

  // Started last in the constructor, joined first in the destructor.
  std::thread checkpointer_;
  std::thread writer_;
};

SqliteStore::SqliteStore(const SqliteOptions& options, std::unique_ptr<FileLock> lock,
                         std::unique_ptr<Connection> writer_conn,
                         std::unique_ptr<Connection> checkpoint_conn,
                         std::shared_ptr<ReadPool> pool, Revision head, Revision compacted,
                         Revision compacted_through)
    : options_(options),
      path_(options.path),
      lock_(std::move(lock)),
      pool_(std::move(pool)),
      hub_(std::make_shared<WatchHub>(head)),
      committed_(head),
      compacted_(compacted),
      writer_conn_(std::move(writer_conn)),
      head_(head),
      checkpoint_conn_(std::move(checkpoint_conn)) {
  next_auto_compaction_ = Clock::now() + options_.auto_compaction_interval;
  if (compacted_through < compacted) {
    // A crash interrupted the deletes of the last compaction: finish them in the background.
    compactions_.push_back(std::make_shared<CompactJob>(compacted, /*resume=*/true));
  }
  sqlite3_wal_hook(writer_conn_->handle(), &SqliteStore::on_wal_commit, this);
  checkpointer_ = std::thread([this] { checkpointer_loop(); });
  writer_ = std::thread([this] { writer_loop(); });
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    work_cv_.notify_all();
  }
  writer_.join();  // fails what is still queued with Unavailable
  {
    std::lock_guard lock(checkpoint_mu_);
    checkpoint_stopping_ = true;
    checkpoint_cv_.notify_all();
  }
  checkpointer_.join();
  hub_->shutdown();
  pool_->shutdown();
  checkpoint_conn_.reset();
  writer_conn_.reset();  // the last connection: SQLite checkpoints the WAL as it closes
}

Result<std::unique_ptr<Store>> SqliteStore::open(const SqliteOptions& options) {
  const std::string& path = options.path;
  if (path.empty()) return invalid_argument("sqlite store: empty path");
  if (options.max_batch < 1 || options.read_connections < 1 || options.compaction_batch < 1 ||
      options.history_window < 0 || options.auto_compaction_interval.count() < 0) {
    return invalid_argument(fmt::format(
        "{}: bad options: max_batch, read_connections and compaction_batch must be >= 1, "
        "history_window and auto_compaction_interval >= 0",
        path));
  }
  const std::string dir = parent_dir(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return invalid_argument(
        fmt::format("{}: cannot open for writing: directory {} does not exist", path, dir));
  }
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return invalid_argument(fmt::format("{}: cannot open for writing: is a directory", path));
  }
  ORCH_ASSIGN_OR_RETURN(auto lock, FileLock::acquire(path + ".lock", path));

  // Check the file ourselves first: SQLite silently falls back to read-only on a read-only file.
  {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      const int err = errno;
      return invalid_argument(
          fmt::format("{}: cannot open for writing: {}", path, std::strerror(err)));
    }
    ::close(fd);
  }

  auto opened = Connection::open(path, /*create=*/true);
  if (!opened.ok()) {
    return open_error(path, opened.status(), SQLITE_CANTOPEN, opened.status().message());
  }
  std::unique_ptr<Connection> conn = std::move(opened).value();
  auto fail = [&](const Status& status) {
    return open_error(path, status, sqlite3_extended_errcode(conn->handle()),
                      sqlite3_errmsg(conn->handle()));
  };
  if (sqlite3_db_readonly(conn->handle(), "main") == 1) {
    return invalid_argument(fmt::format("{}: cannot open for writing: opened read-only", path));
  }
  sqlite3_busy_timeout(conn->handle(), kBusyTimeoutMs);

  // Reading the schema is the first access to the file's content: a foreign file fails here.
  auto tables = conn->query_int("SELECT count(*) FROM sqlite_master");
  if (!tables.ok()) return fail(tables.status());
  if (*tables == 0) {
    // A new store. auto_vacuum must be set before the first table exists.
    Status s = conn->exec("PRAGMA auto_vacuum = INCREMENTAL");
    if (s.ok()) s = conn->exec("PRAGMA journal_mode = WAL");
    if (s.ok()) {
      s =
          conn->exec(fmt::format("BEGIN IMMEDIATE; {} PRAGMA application_id = {}; "
                                 "PRAGMA user_version = {}; COMMIT;",
                                 kCreateSchema, kApplicationId, kFormatVersion));
    }
    if (!s.ok()) {
      (void)conn->exec("ROLLBACK");
      return fail(s);
    }
  } else {
    auto app = conn->query_int("PRAGMA application_id");
    if (!app.ok()) return fail(app.status());
    if (*app != kApplicationId) {
      return not_a_store(path,
                         fmt::format("a SQLite database of another application (application_id "
                                     "{:#x}, expected {:#x})",
                                     *app, kApplicationId),
                         /*corrupt=*/false);
    }
    auto version = conn->query_int("PRAGMA user_version");
    if (!version.ok()) return fail(version.status());
    if (*version != kFormatVersion) {
      return not_a_store(
          path, fmt::format("format version {} (this build reads {})", *version, kFormatVersion),
          /*corrupt=*/false);
    }
  }
  {
    auto mode = conn->stmt("PRAGMA journal_mode = WAL");
    if (!mode.ok()) return fail(mode.status());
    Stmt::Scope scope(**mode);
    const int rc = scope->step();
    if (rc != SQLITE_ROW) return fail(conn->error(rc, "PRAGMA journal_mode = WAL"));
    if (scope->column_blob(0) != "wal") {
      return internal_error(fmt::format("{}: cannot switch to WAL mode (journal_mode is {})", path,
                                        scope->column_blob(0)));
    }
  }
  // FULL: each COMMIT fsyncs the WAL, so an acknowledged write survives a machine crash.
  // Checkpoints run on the checkpointer thread, not inside COMMIT (wal_autocheckpoint = 0).
  // The WAL file is kept on close (PERSIST_WAL: no directory entry to lose on the next open);
  // journal_size_limit makes SQLite truncate it to zero on a clean close (so no stale frame
  // shadows the database) and to 64 MiB when it starts over.
  Status s = conn->exec(
      "PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF; PRAGMA wal_autocheckpoint = 0; "
      "PRAGMA journal_size_limit = 67108864;");
  if (!s.ok()) return fail(s);
  int persist = 1;
  sqlite3_file_control(conn->handle(), "main", SQLITE_FCNTL_PERSIST_WAL, &persist);

  if (options.check_on_open) {
    auto check = conn->stmt("PRAGMA quick_check");
    if (!check.ok()) return fail(check.status());
    Stmt::Scope scope(**check);
    const int rc = scope->step();
    if (rc != SQLITE_ROW) return fail(conn->error(rc, "PRAGMA quick_check"));
    std::string report = scope->column_blob(0);
    if (report != "ok") {
      // The report is one line per problem: keep the first few, on one line.
      std::string brief;
      std::size_t start = 0;
      for (int lines = 0; lines < 3 && start < report.size(); ++lines) {
        std::size_t nl = report.find('\n', start);
        if (nl == std::string::npos) nl = report.size();
        brief += (brief.empty() ? "" : "; ") + report.substr(start, nl - start);
        start = nl + 1;
      }
      if (start < report.size()) brief += "; ...";
      return not_a_store(path, "quick_check: " + brief, /*corrupt=*/true);
    }
  }

  Revision head = 0;
  Revision compacted = 0;
  Revision compacted_through = 0;
  {
    auto h = conn->query_int(kSelectRevision);
    if (!h.ok()) return fail(h.status());
    auto c = conn->query_int(kSelectCompactRevision);
    if (!c.ok()) return fail(c.status());
    auto t = conn->query_int(kSelectCompactedThrough);
    if (!t.ok()) return fail(t.status());
    head = *h;
    compacted = *c;
    compacted_through = *t;
  }
  sync_dir(dir);  // the WAL (and a new database file) must survive a machine crash

  auto pool = ReadPool::open(path, options.read_connections);
  if (!pool.ok()) return fail(pool.status());
  auto checkpointer = Connection::open(path, /*create=*/false);
  if (!checkpointer.ok()) return fail(checkpointer.status());
  s = (*checkpointer)->exec("PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;");
  if (!s.ok()) return fail(s);
  return std::unique_ptr<Store>(
      new SqliteStore(options, std::move(lock), std::move(conn), std::move(checkpointer).value(),
                      std::move(pool).value(), head, compacted, compacted_through));
}

Result<Revision> SqliteStore::current_revision() { return committed_.load(); }

Result<Revision> SqliteStore::compacted_revision() { return compacted_.load(); }

Result<KeyValue> SqliteStore::get(const std::string& key) {
  if (key.empty()) return invalid_argument("get: empty key");
  ORCH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  return read_key(*lease, key);
}

Result<ListResult> SqliteStore::list(const std::string& prefix, const ListOptions& options) {
  ORCH_ASSIGN_OR_RETURN(auto lease, pool_->acquire());
  return read_list(*lease, prefix, options);
}

Status SqliteStore::submit(WriteRequest& request) {
  if (request.key.empty()) return invalid_argument("empty key");
  if (request.expected < 0) return invalid_argument("negative expected revision");
  {
    std::lock_guard lock(mu_);
    if (stopping_) return unavailable("store closed");
    queue_.push_back(&request);
    work_cv_.notify_one();
  }
  request.done.acquire();
  return request.status;
}

Result<KeyValue> SqliteStore::create(const std::string& key, std::string value) {
  WriteRequest request(WriteRequest::Kind::kCreate, key, std::move(value), 0);
  ORCH_TRY(submit(request));
  return request.event->kv;
}

Result<KeyValue> SqliteStore::update(const std::string& key, std::string value,
                                     Revision expected_revision) {
  WriteRequest request(WriteRequest::Kind::kUpdate, key, std::move(value), expected_revision);
  ORCH_TRY(submit(request));
  return request.event->kv;
}

Result<Event> SqliteStore::remove(const std::string& key, Revision expected_revision) {
  WriteRequest request(WriteRequest::Kind::kRemove, key, std::string(), expected_revision);
  ORCH_TRY(submit(request));
  return *request.event;
}

Result<std::unique_ptr<Watch>> SqliteStore::watch(const std::string& prefix,
                                                  Revision after_revision,
                                                  const WatchOptions& options) {
  if (after_revision < 0) return invalid_argument("watch: negative revision");
  const Revision compacted = compacted_.load();
  if (after_revision < compacted - 1) {
    return out_of_range(fmt::format("required revision {} has been compacted (compacted at {})",
                                    after_revision + 1, compacted));
  }
  const std::size_t capacity = options.buffer == 0 ? options_.watch_buffer : options.buffer;
  auto state =
      std::make_shared<WatcherState>(prefix, after_revision, std::max<std::size_t>(capacity, 1));
  ORCH_TRY(hub_->add(state));
  return std::unique_ptr<Watch>(new SqliteWatch(hub_, pool_, std::move(state)));
}

Status SqliteStore::compact(Revision revision) {
  if (revision <= 0) return invalid_argument(fmt::format("compact: bad revision {}", revision));
  auto job = std::make_shared<CompactJob>(revision);
  {
    std::lock_guard lock(mu_);
    if (stopping_) return unavailable("store closed");
    compactions_.push_back(job);
    work_cv_.notify_one();
  }
  job->done.acquire();
  return job->status;
}

// ---------------------------------------------------------------------------------------------
// Checkpointer thread.

int SqliteStore::on_wal_commit(void* self, sqlite3* /*db*/, const char* /*name*/, int frames) {
  if (frames >= kCheckpointFrames) {
    auto* store = static_cast<SqliteStore*>(self);
    std::lock_guard lock(store->checkpoint_mu_);
    store->checkpoint_wanted_ = true;
    store->checkpoint_cv_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteStore::checkpointer_loop() {
  for (;;) {
    {
      std::unique_lock lock(checkpoint_mu_);
      checkpoint_cv_.wait(lock, [&] { return checkpoint_stopping_ || checkpoint_wanted_; });
      if (checkpoint_stopping_) return;
      checkpoint_wanted_ = false;
    }
    // PASSIVE: copies what no reader still needs, never waits, never blocks the writer. Once the
    // WAL is fully copied, the writer's next transaction starts it over from the beginning.
    // SQLITE_BUSY means another checkpoint (compaction's) is running: nothing to do.
    (void)sqlite3_wal_checkpoint_v2(checkpoint_conn_->handle(), "main", SQLITE_CHECKPOINT_PASSIVE,
                                    nullptr, nullptr);
  }
}

// ---------------------------------------------------------------------------------------------
// Writer thread.

void SqliteStore::writer_loop() {
  std::vector<WriteRequest*> batch;
  batch.reserve(static_cast<std::size_t>(options_.max_batch));
  const bool auto_compaction = options_.auto_compaction_interval.count() > 0;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      auto has_work = [&] {
        return stopping_ || !queue_.empty() || active_job_ != nullptr || !compactions_.empty();
      };
      if (auto_compaction) {
        work_cv_.wait_until(lock, next_auto_compaction_, has_work);
      } else {
        work_cv_.wait(lock, has_work);
      }
      if (stopping_) {
        for (WriteRequest* request : queue_) {
          request->status = unavailable("store closed before the write was committed");
          request->done.release();
        }
        queue_.clear();
        for (auto& job : compactions_) {
          job->status = unavailable("store closed");
          job->done.release();
        }
        compactions_.clear();
        break;
      }
      // Group commit window: the callers the last group acknowledged are probably about to write
      // again. When that group was large (many concurrent writers), wait a fraction of a commit
      // for them, so that one fsync covers them too. A lone writer never waits.
      const std::size_t max_batch = static_cast<std::size_t>(options_.max_batch);
      if (!queue_.empty() && last_group_ >= kWindowMinGroup &&
          queue_.size() < std::min(max_batch, last_group_)) {
        const auto window = std::min(last_commit_time_ / 4, kMaxWindow);
        work_cv_.wait_for(lock, window, [&] {
          return stopping_ || queue_.size() >= std::min(max_batch, last_group_);
        });
      }
      while (!queue_.empty() && batch.size() < max_batch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
      if (active_job_ == nullptr && !compactions_.empty()) {
        active_job_ = std::move(compactions_.front());
        compactions_.pop_front();
        phase_ = active_job_->resume ? CompactPhase::kDelete : CompactPhase::kRecord;
        delete_cursor_ = 0;
      }
    }
    if (!batch.empty()) {
      const auto started = Clock::now();
      run_batch(batch);
      last_commit_time_ = Clock::now() - started;
      last_group_ = batch.size();
      batch.clear();
    }
    if (active_job_ != nullptr) compaction_step();
    if (auto_compaction && Clock::now() >= next_auto_compaction_) {
      next_auto_compaction_ = Clock::now() + options_.auto_compaction_interval;
      maybe_schedule_auto_compaction();
    }
  }
  if (active_job_ != nullptr) finish_compaction(unavailable("store closed"));
}

Status SqliteStore::exec_stmt(const std::string& sql) {
  ORCH_ASSIGN_OR_RETURN(Stmt * stmt, writer_conn_->stmt(sql));
  Stmt::Scope scope(*stmt);
  const int rc = scope->step();
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return writer_conn_->error(rc, sql);
  return ok_status();
}

void SqliteStore::run_batch(std::vector<WriteRequest*>& batch) {
  Status failure = poisoned_;
  const Revision base = head_;
  std::vector<EventPtr> events;
  events.reserve(batch.size());
  if (failure.ok()) failure = exec_stmt("BEGIN IMMEDIATE");
  if (failure.ok()) {
    for (WriteRequest* request : batch) {
      failure = apply(*request);
      if (!failure.ok()) break;
      if (request->status.ok()) events.push_back(request->event);
    }
    if (failure.ok()) failure = exec_stmt("COMMIT");
    if (!failure.ok()) resync_after_failure(failure);
  }
  if (!failure.ok()) {
    head_ = base;
    for (WriteRequest* request : batch) {
      request->status = failure;
      request->event.reset();
      request->done.release();
    }
    return;
  }
  committed_.store(head_);
  if (head_ != base && options_.on_commit_for_test) options_.on_commit_for_test(head_);
  hub_->publish(events, head_);
  for (WriteRequest* request : batch) request->done.release();
}

Status SqliteStore::apply(WriteRequest& request) {
  using Kind = WriteRequest::Kind;
  Connection& conn = *writer_conn_;
  const std::string& key = request.key;
  // The current value, if any: the CAS check runs inside the transaction, so it sees the earlier
  // writes of this batch.
  std::optional<KeyValue> current;
  {
    ORCH_ASSIGN_OR_RETURN(
        Stmt * stmt,
        conn.stmt("SELECT l.value, l.create_revision, l.rev, l.version FROM kv CROSS JOIN log l "
                  "ON l.rev = kv.rev WHERE kv.key = ?1"));
    Stmt::Scope scope(*stmt);
    scope->bind_blob(1, key, true);
    const int rc = scope->step();
    if (rc == SQLITE_ROW) {
      current = KeyValue{key, scope->column_blob(0), scope->column_int(1), scope->column_int(2),
                         scope->column_int(3)};
    } else if (rc != SQLITE_DONE) {
      return conn.error(rc, "read for write");
    }
  }
  if (request.kind == Kind::kCreate) {
    if (current.has_value()) {
      request.status = already_exists(fmt::format("key \"{}\" already exists", key));
      return ok_status();
    }
  } else {
    if (!current.has_value()) {
      request.status = not_found(fmt::format("key \"{}\" not found", key));
      return ok_status();
    }
    if (request.expected != 0 && request.expected != current->mod_revision) {
      request.status =
          aborted(fmt::format("key \"{}\": expected revision {}, current revision is {}", key,
                              request.expected, current->mod_revision));
      return ok_status();
    }
  }

  // The row this write supersedes: the current value, or for a create the key's last log row
  // (a tombstone), 0 when none is left.
  Revision prev_revision = 0;
  if (current.has_value()) {
    prev_revision = current->mod_revision;
  } else {
    ORCH_ASSIGN_OR_RETURN(
        Stmt * stmt,
        conn.stmt("SELECT rev FROM log WHERE key = ?1 ORDER BY prev_revision DESC LIMIT 1"));
    Stmt::Scope scope(*stmt);
    scope->bind_blob(1, key, true);
    const int rc = scope->step();
    if (rc == SQLITE_ROW) {
      prev_revision = scope->column_int(0);
    } else if (rc != SQLITE_DONE) {
      return conn.error(rc, "read last revision");
    }
  }

  const Revision rev = head_ + 1;
  auto event = std::make_shared<Event>();
  const bool remove = request.kind == Kind::kRemove;
  if (remove) {
    event->type = EventType::kDelete;
    event->kv.key = key;
    event->kv.mod_revision = rev;
    event->prev = std::move(current);
  } else {
    event->type = EventType::kPut;
    const Revision create_revision = current.has_value() ? current->create_revision : rev;
    const std::int64_t version = current.has_value() ? current->version + 1 : 1;
    event->kv = KeyValue{key, std::move(request.value), create_revision, rev, version};
    event->prev = std::move(current);
  }
  {
    // A tombstone carries the deleted value; a put carries the new one.
    const KeyValue& row = remove ? *event->prev : event->kv;
    ORCH_ASSIGN_OR_RETURN(
        Stmt * stmt,
        conn.stmt("INSERT INTO log(rev, key, value, create_revision, prev_revision, version, "
                  "tombstone) VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6)"));
    Stmt::Scope scope(*stmt);
    scope->bind_blob(1, key, true);
    scope->bind_blob(2, row.value, true);
    scope->bind_int(3, row.create_revision);
    scope->bind_int(4, prev_revision);
    scope->bind_int(5, row.version);
    scope->bind_int(6, remove ? 1 : 0);
    const int rc = scope->step();
    if (rc != SQLITE_DONE) return conn.error(rc, "append to log");
  }
  // AUTOINCREMENT picked the row id; it is the revision, and it must be the next one.
  const Revision assigned = sqlite3_last_insert_rowid(conn.handle());
  if (assigned != rev) {
    return internal_error(
        fmt::format("{}: log row id {} is not the next revision {}", path_, assigned, rev));
  }
  {
    const char* sql = remove                    ? "DELETE FROM kv WHERE key = ?1"
                      : event->prev.has_value() ? "UPDATE kv SET rev = ?2 WHERE key = ?1"
                                                : "INSERT INTO kv(key, rev) VALUES (?1, ?2)";
    ORCH_ASSIGN_OR_RETURN(Stmt * stmt, conn.stmt(sql));
    Stmt::Scope scope(*stmt);
    scope->bind_blob(1, key, true);
    if (!remove) scope->bind_int(2, rev);
    const int rc = scope->step();
    if (rc != SQLITE_DONE) return conn.error(rc, "write kv");
  }
  head_ = rev;
  request.status = ok_status();
  request.event = std::move(event);
  return ok_status();
}

void SqliteStore::resync_after_failure(const Status& cause) {
  if (sqlite3_get_autocommit(writer_conn_->handle()) == 0) {
    (void)writer_conn_->exec("ROLLBACK");
  }
  auto revision = writer_conn_->query_int(kSelectRevision);
  const Revision before = committed_.load();
  if (!revision.ok() || *revision != before) {
    // COMMIT failed in a way that leaves it unknown whether it happened: stop writing rather than
    // hand out revisions twice. Reopening the store recovers from the file.
    poisoned_ = Status(Code::kInternal,
                       fmt::format("{}: store stopped writing after a failed commit ({}); reopen "
                                   "it",
                                   path_, cause.message()));
  }
}

// ---------------------------------------------------------------------------------------------
// Compaction (writer thread): record the compaction point (one transaction), delete what it made
// unreachable in chunks of compaction_batch log rows (one transaction each), free the pages
// (incremental_vacuum in chunks), then truncate the WAL.

void SqliteStore::maybe_schedule_auto_compaction() {
  const Revision target = head_ - options_.history_window;
  if (target <= compacted_.load() || target < 1) return;
  std::lock_guard lock(mu_);
  if (active_job_ != nullptr || !compactions_.empty()) return;
  compactions_.push_back(std::make_shared<CompactJob>(target));
}

void SqliteStore::finish_compaction(Status status) {
  active_job_->status = std::move(status);
  active_job_->done.release();
  active_job_.reset();
}

void SqliteStore::compaction_step() {
  if (!poisoned_.ok()) return finish_compaction(poisoned_);
  switch (phase_) {
    case CompactPhase::kRecord: {
      Status s = compaction_record();
      if (!s.ok()) return finish_compaction(std::move(s));
      phase_ = CompactPhase::kDelete;
      delete_cursor_ = 0;
      return;
    }
    case CompactPhase::kDelete: {
      auto done = compaction_delete_chunk();
      if (!done.ok()) return finish_compaction(done.status());
      if (*done) phase_ = CompactPhase::kVacuum;
      return;
    }
    case CompactPhase::kVacuum: {
      auto done = compaction_vacuum_step();
      if (!done.ok()) return finish_compaction(done.status());
      if (*done) phase_ = CompactPhase::kCheckpoint;
      return;
    }
    case CompactPhase::kCheckpoint: {
      // TRUNCATE waits (busy handler) for readers to leave the WAL; give them a short while
      // only, as writers queue meanwhile. A partial checkpoint is fine: the next one finishes.
      // The checkpointer's own PASSIVE checkpoint makes TRUNCATE fail at once with SQLITE_BUSY:
      // retry within the same short budget.
      sqlite3_busy_timeout(writer_conn_->handle(), kCheckpointWaitMs);
      const auto give_up = Clock::now() + std::chrono::milliseconds(kCheckpointWaitMs);
      while (sqlite3_wal_checkpoint_v2(writer_conn_->handle(), "main", SQLITE_CHECKPOINT_TRUNCATE,
                                       nullptr, nullptr) == SQLITE_BUSY &&
             Clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      sqlite3_busy_timeout(writer_conn_->handle(), kBusyTimeoutMs);
      return finish_compaction(ok_status());
    }
  }
}

Status SqliteStore::compaction_record() {
  const Revision target = active_job_->revision;
  ORCH_TRY(exec_stmt("BEGIN IMMEDIATE"));
  auto rollback = [&](Status s) {
    (void)writer_conn_->exec("ROLLBACK");
    return s;
  };
  auto recorded = writer_conn_->query_int(kSelectCompactRevision);
  if (!recorded.ok()) return rollback(recorded.status());
  if (target <= *recorded) {
    return rollback(out_of_range(fmt::format(
        "compact {}: required revision has been compacted (compacted at {})", target, *recorded)));
  }
  if (target > head_) {
    return rollback(out_of_range(fmt::format(
        "compact {}: required revision is a future revision (current {})", target, head_)));
  }
  {
    auto stmt = writer_conn_->stmt("UPDATE meta SET value = ?1 WHERE name = 'compact_revision'");
    if (!stmt.ok()) return rollback(stmt.status());
    Stmt::Scope scope(**stmt);
    scope->bind_int(1, target);
    const int rc = scope->step();
    if (rc != SQLITE_DONE) return rollback(writer_conn_->error(rc, "record compaction"));
  }
  Status s = exec_stmt("COMMIT");
  if (!s.ok()) {
    resync_after_failure(s);
    return s;
  }
  compacted_.store(target);
  return ok_status();
}

Result<bool> SqliteStore::compaction_delete_chunk() {
  const Revision target = active_job_->revision;
  ORCH_TRY(exec_stmt("BEGIN IMMEDIATE"));
  auto rollback = [&](Status s) -> Result<bool> {
    (void)writer_conn_->exec("ROLLBACK");
    return s;
  };
  // The chunk: the next compaction_batch log rows below the target.
  Revision hi = target - 1;
  bool last = true;
  {
    auto stmt = writer_conn_->stmt(
        "SELECT rev FROM log WHERE rev > ?1 AND rev < ?2 ORDER BY rev LIMIT 1 OFFSET ?3");
    if (!stmt.ok()) return rollback(stmt.status());
    Stmt::Scope scope(**stmt);
    scope->bind_int(1, delete_cursor_);
    scope->bind_int(2, target);
    scope->bind_int(3, options_.compaction_batch - 1);
    const int rc = scope->step();
    if (rc == SQLITE_ROW) {
      hi = scope->column_int(0);
      last = hi >= target - 1;
    } else if (rc != SQLITE_DONE) {
      return rollback(writer_conn_->error(rc, "compaction chunk"));
    }
  }
  {
    // A row below the target goes when a later write below the target supersedes it (its
    // successor is the row naming it as prev_revision), or when it is a tombstone. What stays is
    // exactly what reads at >= target and events after target - 1 (with their prev) need.
    auto stmt = writer_conn_->stmt(
        "DELETE FROM log WHERE rev > ?1 AND rev <= ?2 AND (tombstone = 1 OR EXISTS (SELECT 1 "
        "FROM log n WHERE n.key = log.key AND n.prev_revision = log.rev AND n.rev < ?3))");
    if (!stmt.ok()) return rollback(stmt.status());
    Stmt::Scope scope(**stmt);
    scope->bind_int(1, delete_cursor_);
    scope->bind_int(2, hi);
    scope->bind_int(3, target);
    const int rc = scope->step();
    if (rc != SQLITE_DONE) return rollback(writer_conn_->error(rc, "compaction delete"));
  }
  if (last) {
    auto stmt = writer_conn_->stmt("UPDATE meta SET value = ?1 WHERE name = 'compacted_through'");
    if (!stmt.ok()) return rollback(stmt.status());
    Stmt::Scope scope(**stmt);
    scope->bind_int(1, target);
    const int rc = scope->step();
    if (rc != SQLITE_DONE) return rollback(writer_conn_->error(rc, "record compaction done"));
  }
  Status s = exec_stmt("COMMIT");
  if (!s.ok()) {
    resync_after_failure(s);
    return s;
  }
  delete_cursor_ = hi;
  return last;
}

Result<bool> SqliteStore::compaction_vacuum_step() {
  ORCH_TRY(
      writer_conn_->exec(fmt::format("PRAGMA incremental_vacuum({})", options_.compaction_batch)));
  ORCH_ASSIGN_OR_RETURN(const std::int64_t free_pages,
                        writer_conn_->query_int("PRAGMA freelist_count"));
  return free_pages == 0;
}

}  // namespace

}  // namespace orch::store::sqlite

namespace orch::store {

Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteOptions& options) {
  return sqlite::SqliteStore::open(options);
}

}  // namespace orch::store
