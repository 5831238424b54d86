// store_bench: how fast is the SQLite store, compared with raw SQLite on the same disk?
//
// Measures, in one run and in one temp dir (so on one disk):
// - baseline: raw SQLite inserts into a minimal key-value table (key BLOB PRIMARY KEY, value BLOB,
//   WITHOUT ROWID), 100 rows per transaction, WAL, synchronous=FULL: rows/s and ms/transaction;
// - create and update (compare-and-swap) throughput of the store with 1, 16 and 64 concurrent
//   writers, each figure also as a ratio to the baseline rate;
// - the delay from COMMIT (the writer's on_commit_for_test hook) to delivery by Watch::next() with
//   100 watchers, p50 and p99, also as a ratio to the baseline's time per transaction.
// Goal: at 64 writers the store reaches at least half the baseline rate.
// - when etcd is installed (/usr/bin/etcd or $ORCH_ETCD): the same create and update figures on the
//   etcd backend, against a 1-member and a 3-member etcd on loopback started by the bench (data in
//   the same temp dir), as ratios to the SqliteStore figure with the same writers.
//
// Flags: --dir DIR (default $TMPDIR or /tmp), --seconds S per throughput figure (default 2),
// --max-ops N per figure (default 200000), --value-size B (default 256), --watchers W (default
// 100), --latency-writes N (default 3000), --baseline-rows N (default 60000),
// --writers 1,16,64, --etcd-members 1,3 (0 = skip etcd).
//
// Thread-safety: single main thread plus the worker threads each figure starts and joins.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "etcd_processes.hpp"
#include "orch/store/etcd_store.hpp"
#include "orch/store/sqlite_store.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using orch::store::Revision;
using orch::store::SqliteOptions;
using orch::store::Store;

struct Flags {
  std::string dir;
  double seconds = 2.0;
  long max_ops = 200000;
  std::size_t value_size = 256;
  int watchers = 100;
  int latency_writes = 3000;
  int baseline_rows = 60000;
  std::vector<int> writers = {1, 16, 64};
  std::vector<int> etcd_members = {1, 3};
};

std::vector<int> parse_list(const std::string& list) {
  std::vector<int> out;
  for (std::size_t start = 0; start <= list.size();) {
    std::size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    out.push_back(std::stoi(list.substr(start, comma - start)));
    start = comma + 1;
  }
  return out;
}

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "store_bench: %s\n", why.c_str());
  std::exit(1);
}

Flags parse_flags(int argc, char** argv) {
  Flags f;
  const char* tmp = std::getenv("TMPDIR");
  f.dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value for " + arg);
      return argv[++i];
    };
    if (arg == "--dir") {
      f.dir = value();
    } else if (arg == "--seconds") {
      f.seconds = std::stod(value());
    } else if (arg == "--max-ops") {
      f.max_ops = std::stol(value());
    } else if (arg == "--value-size") {
      f.value_size = std::stoul(value());
    } else if (arg == "--watchers") {
      f.watchers = std::stoi(value());
    } else if (arg == "--latency-writes") {
      f.latency_writes = std::stoi(value());
    } else if (arg == "--baseline-rows") {
      f.baseline_rows = std::stoi(value());
    } else if (arg == "--writers") {
      f.writers.clear();
      std::string list = value();
      for (std::size_t start = 0; start <= list.size();) {
        std::size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        f.writers.push_back(std::stoi(list.substr(start, comma - start)));
        start = comma + 1;
      }
    } else if (arg == "--etcd-members") {
      f.etcd_members = parse_list(value());
      std::erase(f.etcd_members, 0);
    } else if (arg == "--help" || arg == "-h") {
      std::printf(
          "store_bench [--dir DIR] [--seconds S] [--max-ops N] [--value-size B] [--watchers W]\n"
          "            [--latency-writes N] [--baseline-rows N] [--writers 1,16,64]\n"
          "            [--etcd-members 1,3]\n");
      std::exit(0);
    } else {
      die("unknown flag " + arg);
    }
  }
  return f;
}

// A scratch directory removed on destruction.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& base) {
    std::string pattern = base + "/orch-store-bench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) die("mkdtemp in " + base + " failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Baseline {
  double rows_per_s = 0;
  double ms_per_txn = 0;
};

// Raw SQLite: the most a store on this disk could do with 100-row transactions.
Baseline run_baseline(const Flags& flags) {
  ScratchDir dir(flags.dir);
  const std::string path = dir.path() + "/raw.db";
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) die("sqlite3_open raw.db");
  auto exec = [&](const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      die(std::string("raw sqlite: ") + (err != nullptr ? err : "?"));
    }
  };
  exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
  exec("CREATE TABLE kv(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID");
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO kv(key, value) VALUES (?1, ?2)", -1, &insert, nullptr) !=
      SQLITE_OK) {
    die("prepare");
  }
  const std::string value(flags.value_size, 'x');
  constexpr int kBatch = 100;
  const int txns = std::max(1, flags.baseline_rows / kBatch);
  const auto start = Clock::now();
  int rows = 0;
  for (int t = 0; t < txns; ++t) {
    exec("BEGIN");
    for (int i = 0; i < kBatch; ++i, ++rows) {
      const std::string key = "/registry/bench/raw/" + std::to_string(rows);
      sqlite3_bind_blob(insert, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
      sqlite3_bind_blob(insert, 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
      if (sqlite3_step(insert) != SQLITE_DONE) die("raw insert");
      sqlite3_reset(insert);
    }
    exec("COMMIT");
    if (seconds_since(start) > flags.seconds * 3 && t >= 10) {
      rows = (t + 1) * kBatch;
      break;
    }
  }
  const double elapsed = seconds_since(start);
  const int done_txns = rows / kBatch;
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return {rows / elapsed, elapsed * 1000.0 / done_txns};
}

// Counts group commits through the writer's hook.
struct CommitCounter {
  std::atomic<long> commits{0};
};

std::unique_ptr<Store> open_store(const std::string& path, CommitCounter* counter,
                                  std::function<void(Revision)> hook = {}) {
  SqliteOptions options;
  options.path = path;
  options.auto_compaction_interval = std::chrono::milliseconds(0);
  options.on_commit_for_test = [counter, hook = std::move(hook)](Revision rev) {
    counter->commits.fetch_add(1, std::memory_order_relaxed);
    if (hook) hook(rev);
  };
  auto store = orch::store::open_sqlite_store(options);
  if (!store.ok()) die(store.status().to_string());
  return std::move(store).value();
}

struct Throughput {
  double create_per_s = 0;
  double create_per_commit = 0;
  double update_per_s = 0;
  double update_per_commit = 0;
};

Throughput run_writers_on(const Flags& flags, int writers, Store* store, CommitCounter& counter);

// `writers` threads create keys, then update them (CAS on the revision each thread knows).
Throughput run_writers(const Flags& flags, int writers) {
  ScratchDir dir(flags.dir);
  CommitCounter counter;
  auto store = open_store(dir.path() + "/store.db", &counter);
  return run_writers_on(flags, writers, store.get(), counter);
}

Throughput run_writers_on(const Flags& flags, int writers, Store* store, CommitCounter& counter) {
  const std::string value(flags.value_size, 'x');
  const long per_thread = std::max<long>(1, flags.max_ops / writers);
  std::vector<std::vector<Revision>> revs(static_cast<std::size_t>(writers));
  std::atomic<long> failures{0};
  Throughput out;

  auto phase = [&](bool update, double* rate, double* per_commit) {
    std::atomic<long> done{0};
    std::atomic<bool> go{false};
    const long commits_before = counter.commits.load();
    std::vector<std::thread> threads;
    const auto budget = std::chrono::duration<double>(flags.seconds);
    for (int t = 0; t < writers; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(budget);
        auto& mine = revs[static_cast<std::size_t>(t)];
        const long limit = update ? static_cast<long>(mine.size()) : per_thread;
        long n = 0;
        for (; n < limit && Clock::now() < deadline; ++n) {
          const std::string key = "/registry/bench/" + std::to_string(t) + "/" + std::to_string(n);
          if (update) {
            auto kv = store->update(key, value, mine[static_cast<std::size_t>(n)]);
            if (!kv.ok()) {
              ++failures;
              continue;
            }
            mine[static_cast<std::size_t>(n)] = kv->mod_revision;
          } else {
            auto kv = store->create(key, value);
            if (!kv.ok()) {
              ++failures;
              continue;
            }
            mine.push_back(kv->mod_revision);
          }
        }
        done += n;
      });
    }
    const auto start = Clock::now();
    go = true;
    for (auto& th : threads) th.join();
    const double elapsed = seconds_since(start);
    const long commits = counter.commits.load() - commits_before;
    *rate = static_cast<double>(done.load()) / elapsed;
    *per_commit = commits > 0 ? static_cast<double>(done.load()) / static_cast<double>(commits) : 0;
  };
  phase(false, &out.create_per_s, &out.create_per_commit);
  phase(true, &out.update_per_s, &out.update_per_commit);
  if (failures.load() != 0) die("writes failed: " + std::to_string(failures.load()));
  return out;
}

struct Latency {
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  long deliveries = 0;
};

// Watchers block in next(); 4 writers write; delay = delivery time - COMMIT time, per event per
// watcher.
Latency run_latency(const Flags& flags) {
  ScratchDir dir(flags.dir);
  CommitCounter counter;
  const int writes = flags.latency_writes;
  // commit_ns[rev]: when the group holding `rev` committed (the hook gets the group's last rev).
  std::vector<std::atomic<std::int64_t>> commit_ns(static_cast<std::size_t>(writes) + 2);
  Revision hooked = 0;  // writer thread only
  auto now_ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
  };
  auto store = open_store(dir.path() + "/store.db", &counter, [&](Revision last) {
    const std::int64_t t = now_ns();
    for (Revision r = hooked + 1; r <= last && r < static_cast<Revision>(commit_ns.size()); ++r) {
      commit_ns[static_cast<std::size_t>(r)].store(t, std::memory_order_release);
    }
    hooked = last;
  });

  std::vector<std::vector<std::pair<Revision, std::int64_t>>> received(
      static_cast<std::size_t>(flags.watchers));
  std::vector<std::thread> watchers;
  std::atomic<int> live{0};
  for (int w = 0; w < flags.watchers; ++w) {
    auto watch = store->watch("/registry/lat/", 0);
    if (!watch.ok()) die(watch.status().to_string());
    watchers.emplace_back(
        [&, w, watch = std::shared_ptr<orch::store::Watch>(std::move(watch).value())] {
          auto& mine = received[static_cast<std::size_t>(w)];
          mine.reserve(static_cast<std::size_t>(writes));
          bool counted = false;
          while (static_cast<int>(mine.size()) < writes) {
            auto batch = watch->next(std::chrono::milliseconds(200));
            if (!batch.ok()) die("watch ended: " + batch.status().to_string());
            if (!counted) {
              counted = true;
              ++live;
            }
            const std::int64_t t = now_ns();
            for (const auto& ev : *batch) mine.emplace_back(ev.revision(), t);
          }
        });
  }
  while (live.load() < flags.watchers) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  const std::string value(flags.value_size, 'x');
  std::vector<std::thread> writers;
  constexpr int kWriters = 4;
  std::atomic<int> next{0};
  std::atomic<long> failures{0};
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&] {
      for (int i; (i = next++) < writes;) {
        if (!store->create("/registry/lat/" + std::to_string(i), value).ok()) ++failures;
      }
    });
  }
  for (auto& th : writers) th.join();
  for (auto& th : watchers) th.join();
  if (failures.load() != 0) die("latency writes failed");

  std::vector<double> delays;
  for (const auto& mine : received) {
    for (const auto& [rev, t] : mine) {
      const std::int64_t c =
          commit_ns[static_cast<std::size_t>(rev)].load(std::memory_order_acquire);
      delays.push_back(static_cast<double>(t - c) / 1e6);
    }
  }
  std::sort(delays.begin(), delays.end());
  Latency out;
  out.deliveries = static_cast<long>(delays.size());
  if (!delays.empty()) {
    out.p50_ms = delays[delays.size() / 2];
    out.p99_ms = delays[std::min(delays.size() - 1, delays.size() * 99 / 100)];
    out.max_ms = delays.back();
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = parse_flags(argc, argv);
  const auto start = Clock::now();
  std::printf("store_bench: dir %s, value %zu bytes, %.1f s per throughput figure\n",
              flags.dir.c_str(), flags.value_size, flags.seconds);

  const Baseline base = run_baseline(flags);
  std::printf("\nbaseline: raw SQLite, 100 inserts per transaction, WAL, synchronous=FULL\n");
  std::printf("  %-40s %12.0f rows/s   (%.2f ms per transaction)\n", "raw batched insert",
              base.rows_per_s, base.ms_per_txn);

  std::printf("\nSqliteStore throughput (ratio = store rate / baseline rate)\n");
  std::printf("  %-40s %12s %10s %14s\n", "figure", "ops/s", "ratio", "writes/commit");
  double ratio_at_64 = -1;
  std::vector<Throughput> sqlite_figures;  // in flags.writers order
  for (int w : flags.writers) {
    const Throughput t = run_writers(flags, w);
    sqlite_figures.push_back(t);
    const std::string c = "create, " + std::to_string(w) + " writer" + (w == 1 ? "" : "s");
    const std::string u = "update (CAS), " + std::to_string(w) + " writer" + (w == 1 ? "" : "s");
    std::printf("  %-40s %12.0f %10.3f %14.1f\n", c.c_str(), t.create_per_s,
                t.create_per_s / base.rows_per_s, t.create_per_commit);
    std::printf("  %-40s %12.0f %10.3f %14.1f\n", u.c_str(), t.update_per_s,
                t.update_per_s / base.rows_per_s, t.update_per_commit);
    if (w == 64) ratio_at_64 = std::min(t.create_per_s, t.update_per_s) / base.rows_per_s;
  }

  const Latency lat = run_latency(flags);
  std::printf(
      "\nCOMMIT -> Watch::next() delay, %d watchers, %d writes by 4 writers (%ld "
      "deliveries)\n",
      flags.watchers, flags.latency_writes, lat.deliveries);
  std::printf("  (ratio = delay / baseline time per transaction)\n");
  std::printf("  %-40s %10.3f ms %10.3f\n", "p50", lat.p50_ms, lat.p50_ms / base.ms_per_txn);
  std::printf("  %-40s %10.3f ms %10.3f\n", "p99", lat.p99_ms, lat.p99_ms / base.ms_per_txn);
  std::printf("  %-40s %10.3f ms %10.3f\n", "max", lat.max_ms, lat.max_ms / base.ms_per_txn);

  if (!flags.etcd_members.empty() && !orch::bench::etcd_available()) {
    std::printf("\netcd: %s not installed, etcd figures skipped\n",
                orch::bench::etcd_binary().c_str());
  } else {
    for (int members : flags.etcd_members) {
      ScratchDir dir(flags.dir);
      orch::bench::EtcdProcesses etcd(dir.path(), members);
      std::printf(
          "\nEtcdStore on a %d-member etcd on loopback (ratio = rate / baseline; "
          "vs sqlite = rate / SqliteStore rate)\n",
          members);
      std::printf("  %-40s %12s %10s %10s\n", "figure", "ops/s", "ratio", "vs sqlite");
      for (std::size_t i = 0; i < flags.writers.size(); ++i) {
        const int w = flags.writers[i];
        auto store = etcd.open("/bench-" + std::to_string(w));
        CommitCounter unused;
        const Throughput t = run_writers_on(flags, w, store.get(), unused);
        const std::string c = "create, " + std::to_string(w) + " writer" + (w == 1 ? "" : "s");
        const std::string u =
            "update (CAS), " + std::to_string(w) + " writer" + (w == 1 ? "" : "s");
        std::printf("  %-40s %12.0f %10.3f %10.3f\n", c.c_str(), t.create_per_s,
                    t.create_per_s / base.rows_per_s,
                    t.create_per_s / sqlite_figures[i].create_per_s);
        std::printf("  %-40s %12.0f %10.3f %10.3f\n", u.c_str(), t.update_per_s,
                    t.update_per_s / base.rows_per_s,
                    t.update_per_s / sqlite_figures[i].update_per_s);
      }
    }
  }

  if (ratio_at_64 >= 0) {
    std::printf("\ngoal: 64 writers >= 0.5 x baseline: %s (%.3f, the lower of create and update)\n",
                ratio_at_64 >= 0.5 ? "MET" : "NOT MET", ratio_at_64);
  }
  std::printf("total %.1f s\n", seconds_since(start));
  return 0;
}
