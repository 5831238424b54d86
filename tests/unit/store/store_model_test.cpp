// Randomized model test of the SQLite store, and of the etcd store in its etcd build
// (store_model_etcd, -DORCH_STORE_TEST_ETCD: a real etcd of 1 and of 3 members, started by the
// test) (leveldb ModelDB style): random create / update / remove / get / list (paged, at old
// revisions) / compact / watch / reopen operations run against the store and against a plain
// std::map model with revisions, and every result is compared. A
// long-lived watcher's stream is compared with the model's event log; watches and reads below the
// compaction point must fail with OutOfRange (410).
//
// Reproducible: the seed is printed; rerun with ORCH_STORE_SEED=<seed> (and ORCH_STORE_MODEL_OPS
// for the number of operations).
//
// Thread-safety: single-threaded.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <doctest.h>

#include "orch/store/sqlite_store.hpp"
#include "store_test_util.hpp"
#ifdef ORCH_STORE_TEST_ETCD
#include "etcd_fixture.hpp"
#include "orch/store/etcd_store.hpp"
#endif

namespace orch::store {
namespace {

using namespace std::chrono_literals;
using testing::collect;
using testing::drain;
using testing::TempDir;

#ifdef ORCH_STORE_TEST_ETCD
ORCH_ETCD_SKIP_UNLESS_AVAILABLE();
#endif

// The model: current keys, the full event log (event i has revision i + 1), the compaction point.
struct Model {
  std::map<std::string, KeyValue> live;
  std::vector<Event> log;
  Revision compacted = 0;

  Revision revision() const { return static_cast<Revision>(log.size()); }

  // Keys alive at `at`, rebuilt by replaying the log.
  std::map<std::string, KeyValue> state_at(Revision at) const {
    std::map<std::string, KeyValue> state;
    for (Revision r = 1; r <= at; ++r) {
      const Event& ev = log[static_cast<std::size_t>(r - 1)];
      if (ev.type == EventType::kPut) {
        state[ev.kv.key] = ev.kv;
      } else {
        state.erase(ev.kv.key);
      }
    }
    return state;
  }

  Status create(const std::string& key, const std::string& value, KeyValue* out) {
    if (live.count(key) != 0) return already_exists("exists");
    const Revision rev = revision() + 1;
    KeyValue kv{key, value, rev, rev, 1};
    log.push_back(Event{EventType::kPut, kv, std::nullopt});
    live[key] = kv;
    *out = kv;
    return ok_status();
  }

  Status update(const std::string& key, const std::string& value, Revision expected,
                KeyValue* out) {
    auto it = live.find(key);
    if (it == live.end()) return not_found("missing");
    if (expected != 0 && expected != it->second.mod_revision) return aborted("moved");
    const Revision rev = revision() + 1;
    KeyValue kv{key, value, it->second.create_revision, rev, it->second.version + 1};
    log.push_back(Event{EventType::kPut, kv, it->second});
    it->second = kv;
    *out = kv;
    return ok_status();
  }

  Status remove(const std::string& key, Revision expected, Event* out) {
    auto it = live.find(key);
    if (it == live.end()) return not_found("missing");
    if (expected != 0 && expected != it->second.mod_revision) return aborted("moved");
    const Revision rev = revision() + 1;
    Event ev{EventType::kDelete, KeyValue{key, "", 0, rev, 0}, it->second};
    log.push_back(ev);
    live.erase(it);
    *out = ev;
    return ok_status();
  }

  std::vector<Event> events(const std::string& prefix, Revision after) const {
    std::vector<Event> out;
    for (Revision r = after + 1; r <= revision(); ++r) {
      const Event& ev = log[static_cast<std::size_t>(r - 1)];
      if (ev.kv.key.compare(0, prefix.size(), prefix) == 0) out.push_back(ev);
    }
    return out;
  }
};

bool same_event(const Event& a, const Event& b) {
  return a.type == b.type && a.kv == b.kv && a.prev == b.prev;
}

// What a watch delivers once `want` events are due: waits for that many (a backend may deliver
// them a little after the write returned), then checks that nothing more comes.
testing::Collected expect_events(Watch& watch, std::size_t want) {
  auto got = collect(watch, want, 10s);
  if (!got.end.ok() || got.timed_out) return got;
  auto rest = drain(watch, 2ms);
  got.events.insert(got.events.end(), rest.events.begin(), rest.events.end());
  got.end = rest.end;
  return got;
}

class ModelRun {
 public:
  ModelRun(std::uint64_t seed, SqliteOptions options) : rng_(seed), options_(std::move(options)) {
    options_.path = dir_.file("model.db");
    options_.auto_compaction_interval = 0ms;
    open_ = [this] {
      auto opened = open_sqlite_store(options_);
      REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
      return std::move(opened).value();
    };
    reopen();
  }
  // Another backend: `open` opens a new client of the same, initially empty, store.
  // `compact_one_invisible`: after a compaction at revision 1 (which discards nothing), a reopened
  // client may report 0 (etcd: its revision 1 is the empty store).
  ModelRun(std::uint64_t seed, std::function<std::unique_ptr<Store>()> open,
           bool compact_one_invisible)
      : rng_(seed), open_(std::move(open)), compact_one_invisible_(compact_one_invisible) {
    reopen();
  }

  void run(int ops) {
    for (int i = 0; i < ops; ++i) {
      CAPTURE(i);
      const int dice = pick(0, 99);
      if (dice < 24) {
        op_create();
      } else if (dice < 50) {
        op_update();
      } else if (dice < 64) {
        op_remove();
      } else if (dice < 72) {
        op_get();
      } else if (dice < 82) {
        op_list();
      } else if (dice < 85) {
        op_compact();
      } else if (dice < 92) {
        check_long_watch();
      } else if (dice < 99) {
        op_new_watch();
      } else {
        reopen();
      }
    }
    check_long_watch();
    op_list();
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  Revision pick_rev(Revision lo, Revision hi) {
    return lo >= hi ? lo : std::uniform_int_distribution<Revision>(lo, hi)(rng_);
  }

  std::string random_key() {
    static const char* kPrefixes[] = {"/a/", "/ab", "/b/", "/a/b/"};
    return std::string(kPrefixes[pick(0, 3)]) + std::to_string(pick(0, 5));
  }
  std::string random_prefix() {
    static const char* kPrefixes[] = {"", "/a/", "/a", "/ab", "/b/", "/a/b/", "/c"};
    return kPrefixes[pick(0, 6)];
  }
  std::string random_value() { return "v" + std::to_string(pick(0, 1000000)); }

  // An expected revision: right, unconditional, stale, or for a missing key whatever.
  Revision random_expected(const std::string& key) {
    auto it = model_.live.find(key);
    const int dice = pick(0, 9);
    if (it == model_.live.end()) return dice < 5 ? 0 : pick_rev(1, model_.revision() + 1);
    if (dice < 6) return it->second.mod_revision;
    if (dice < 8) return 0;
    return it->second.mod_revision + pick(1, 3);  // stale (moved or never)
  }

  void reopen() {
    long_watch_.reset();
    store_.reset();
    store_ = open_();
    auto rev = store_->current_revision();
    REQUIRE(rev.ok());
    REQUIRE(*rev == model_.revision());
    check_compacted();
    // The long watcher resumes where it was, as an informer does after a restart; when that was
    // compacted away it gets 410 and relists (here: starts from the current revision).
    auto watch = store_->watch("/a", watched_, WatchOptions{1u << 20});
    if (watched_ < model_.compacted - 1) {
      CHECK(watch.status().code() == Code::kOutOfRange);
      watched_ = model_.revision();
      watch = store_->watch("/a", watched_, WatchOptions{1u << 20});
    }
    REQUIRE_MESSAGE(watch.ok(), watch.status().to_string());
    long_watch_ = std::move(watch).value();
    check_long_watch();  // drains the catch-up: it is live (synced) from here on
  }

  void op_create() {
    const std::string key = random_key();
    const std::string value = random_value();
    KeyValue want;
    const Status expect = model_.create(key, value, &want);
    auto got = store_->create(key, value);
    CAPTURE(key);
    REQUIRE(got.status().code() == expect.code());
    if (got.ok()) CHECK(*got == want);
  }

  void op_update() {
    const std::string key = random_key();
    const std::string value = random_value();
    const Revision expected = random_expected(key);
    KeyValue want;
    const Status expect = model_.update(key, value, expected, &want);
    auto got = store_->update(key, value, expected);
    CAPTURE(key);
    CAPTURE(expected);
    REQUIRE(got.status().code() == expect.code());
    if (got.ok()) CHECK(*got == want);
  }

  void op_remove() {
    const std::string key = random_key();
    const Revision expected = random_expected(key);
    Event want;
    const Status expect = model_.remove(key, expected, &want);
    auto got = store_->remove(key, expected);
    CAPTURE(key);
    CAPTURE(expected);
    REQUIRE(got.status().code() == expect.code());
    if (got.ok()) CHECK(same_event(*got, want));
  }

  void op_get() {
    const std::string key = random_key();
    auto got = store_->get(key);
    auto it = model_.live.find(key);
    CAPTURE(key);
    if (it == model_.live.end()) {
      CHECK(got.status().code() == Code::kNotFound);
    } else {
      REQUIRE(got.ok());
      CHECK(*got == it->second);
    }
  }

  void op_list() {
    const std::string prefix = random_prefix();
    // Mostly a valid revision (current, or one at or after the compaction point); sometimes one
    // that must fail.
    Revision at = 0;
    const int dice = pick(0, 9);
    if (dice < 4) {
      at = 0;
    } else if (dice < 8) {
      at = pick_rev(std::max<Revision>(model_.compacted, 1), model_.revision());
    } else if (dice < 9) {
      at = model_.revision() + pick(1, 3);
    } else {
      at = model_.compacted > 1 ? pick_rev(1, model_.compacted - 1) : 0;
    }
    const Revision read_at = at == 0 ? model_.revision() : at;
    CAPTURE(prefix);
    CAPTURE(at);
    if (at > model_.revision() || (at != 0 && at < model_.compacted)) {
      ListOptions opts;
      opts.revision = at;
      CHECK(store_->list(prefix, opts).status().code() == Code::kOutOfRange);
      return;
    }
    std::vector<KeyValue> want;
    for (const auto& [k, kv] : model_.state_at(read_at)) {
      if (k.compare(0, prefix.size(), prefix) == 0) want.push_back(kv);
    }
    // Page through with a random limit (0 = everything at once).
    ListOptions opts;
    opts.revision = at;
    opts.limit = pick(0, 4);
    std::vector<KeyValue> got;
    for (int pages = 0; pages < 100; ++pages) {
      auto page = store_->list(prefix, opts);
      REQUIRE_MESSAGE(page.ok(), page.status().to_string());
      CHECK(page->revision == read_at);
      const auto remaining = static_cast<std::int64_t>(want.size() - got.size());
      CHECK(page->count == remaining);
      got.insert(got.end(), page->items.begin(), page->items.end());
      CHECK(page->more == (static_cast<std::int64_t>(page->items.size()) < remaining));
      if (!page->more) break;
      REQUIRE(!page->items.empty());
      opts.revision = page->revision;
      opts.start_key = page->items.back().key + '\0';
    }
    CHECK(got == want);
  }

  void op_compact() {
    const int dice = pick(0, 9);
    Revision target;
    if (dice < 7) {
      target = pick_rev(model_.compacted + 1, model_.revision());
    } else if (dice < 8) {
      target = model_.compacted;  // already compacted there (or 0)
    } else {
      target = model_.revision() + 1;  // the future
    }
    CAPTURE(target);
    const Status got = store_->compact(target);
    if (target <= 0) {
      CHECK(got.code() == Code::kInvalidArgument);
    } else if (target <= model_.compacted || target > model_.revision()) {
      CHECK(got.code() == Code::kOutOfRange);
    } else {
      REQUIRE_MESSAGE(got.ok(), got.to_string());
      model_.compacted = target;
    }
    check_compacted();
  }

  void check_compacted() {
    auto got = store_->compacted_revision();
    REQUIRE_MESSAGE(got.ok(), got.status().to_string());
    if (compact_one_invisible_ && model_.compacted == 1) {
      CHECK(*got <= 1);
    } else {
      CHECK(*got == model_.compacted);
    }
  }

  void check_long_watch() {
    const auto want = model_.events("/a", watched_);
    auto got = expect_events(*long_watch_, want.size());
    REQUIRE_MESSAGE(got.end.ok(), got.end.to_string());
    REQUIRE(got.events.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      CAPTURE(i);
      CHECK(same_event(got.events[i], want[i]));
    }
    watched_ = model_.revision();
  }

  void op_new_watch() {
    const std::string prefix = random_prefix();
    const Revision after = pick_rev(0, model_.revision());
    CAPTURE(prefix);
    CAPTURE(after);
    auto watch = store_->watch(prefix, after, WatchOptions{1u << 20});
    if (after < model_.compacted - 1) {
      CHECK(watch.status().code() == Code::kOutOfRange);
      return;
    }
    REQUIRE_MESSAGE(watch.ok(), watch.status().to_string());
    const auto want = model_.events(prefix, after);
    auto got = expect_events(**watch, want.size());
    CHECK(got.end.ok());
    REQUIRE(got.events.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(same_event(got.events[i], want[i]));
    CHECK((*watch)->resume_revision() == (want.empty() ? after : want.back().revision()));
  }

  std::mt19937_64 rng_;
  TempDir dir_;
  SqliteOptions options_;
  std::function<std::unique_ptr<Store>()> open_;
  const bool compact_one_invisible_ = false;
  Model model_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Watch> long_watch_;
  Revision watched_ = 0;  // the long watcher has delivered every event up to this
};

std::uint64_t seed_from_env() {
  if (const char* env = std::getenv("ORCH_STORE_SEED"); env != nullptr && *env != '\0') {
    return std::strtoull(env, nullptr, 10);
  }
  return std::random_device{}();
}

int ops_from_env(int fallback) {
  if (const char* env = std::getenv("ORCH_STORE_MODEL_OPS"); env != nullptr && *env != '\0') {
    return std::atoi(env);
  }
  return fallback;
}

#ifndef ORCH_STORE_TEST_ETCD
TEST_CASE("sqlite store matches the model") {
  struct Config {
    const char* name;
    SqliteOptions options;
  };
  SqliteOptions tiny;
  tiny.compaction_batch = 3;
  tiny.read_connections = 1;
  const std::vector<Config> configs = {{"defaults", SqliteOptions{}}, {"tiny", tiny}};
  static const std::uint64_t seed = seed_from_env();  // one seed for every subcase
  const int ops = ops_from_env(2500);
  for (const auto& config : configs) {
    SUBCASE(config.name) {
      std::printf("store model test (%s): ORCH_STORE_SEED=%llu ORCH_STORE_MODEL_OPS=%d\n",
                  config.name, static_cast<unsigned long long>(seed), ops);
      std::fflush(stdout);
      CAPTURE(seed);
      ModelRun run(seed, config.options);
      run.run(ops);
    }
  }
}

// A second randomized run with a fixed seed, so that one known sequence always runs.
TEST_CASE("sqlite store matches the model (fixed seed)") {
  ModelRun run(20240601, SqliteOptions{});
  run.run(1500);
}

#else
// A fresh etcd cluster per run (the model needs a store that starts empty at revision 0): one
// member, or three on loopback with the client talking to all of them.
void run_etcd_model(std::uint64_t seed, int ops, int members) {
  std::printf("etcd store model test (%d member%s): ORCH_STORE_SEED=%llu ORCH_STORE_MODEL_OPS=%d\n",
              members, members == 1 ? "" : "s", static_cast<unsigned long long>(seed), ops);
  std::fflush(stdout);
  CAPTURE(seed);
  CAPTURE(members);
  testing::EtcdCluster cluster(members);
  auto open = [&cluster] {
    EtcdOptions options;
    options.endpoints = cluster.endpoints();
    auto opened = open_etcd_store(options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
    return std::move(opened).value();
  };
  ModelRun run(seed, open, /*compact_one_invisible=*/true);
  run.run(ops);
}

// Seeds that always run. 1337 and 2845925882 once failed: a long watch re-created just before a
// compaction ended with 410, because etcd 3.4 catches up such a watcher only in a background loop
// (lib/store/etcd/etcd_watch.hpp, "Progress and synced"). ORCH_STORE_SEED adds one more.
std::vector<std::uint64_t> etcd_seeds() {
  std::vector<std::uint64_t> seeds = {1337, 2845925882, 20240601};
  if (std::getenv("ORCH_STORE_SEED") != nullptr) seeds.push_back(seed_from_env());
  return seeds;
}

TEST_CASE("etcd store matches the model") {
  for (const std::uint64_t seed : etcd_seeds()) run_etcd_model(seed, ops_from_env(1000), 1);
}

TEST_CASE("etcd store matches the model (3 members)") {
  const std::vector<std::uint64_t> seeds = etcd_seeds();
  // One seed: the last fixed one, or the ORCH_STORE_SEED one when given.
  run_etcd_model(seeds.back(), ops_from_env(1000), 3);
}
#endif

}  // namespace
}  // namespace orch::store
