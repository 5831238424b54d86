// The Store conformance suite: the contract of include/orch/store/store.hpp, written once and run
// against every backend fixture (store_fixtures.hpp). A backend is done when it passes all of it.
//
// Thread-safety: each case owns its fixture; some cases start threads and join them.
#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <doctest.h>

#include "store_fixtures.hpp"
#include "store_test_util.hpp"

namespace orch::store {
namespace {

using namespace std::chrono_literals;
using testing::collect;
using testing::drain;

// The etcd build of this suite (conformance_store_etcd) runs the same cases on a real etcd.
#ifdef ORCH_STORE_TEST_ETCD
ORCH_ETCD_SKIP_UNLESS_AVAILABLE();
#define STORE_FIXTURES testing::EtcdFixture, testing::Etcd3Fixture
#else
#define STORE_FIXTURES testing::SqliteFixture, testing::SqliteTinyFixture
#endif

#define REQUIRE_OK(expr)                                           \
  do {                                                             \
    const auto& orch_ok_ = (expr);                                 \
    REQUIRE_MESSAGE(orch_ok_.ok(), orch_ok_.status().to_string()); \
  } while (0)

template <typename R>
Code code_of(const R& r) {
  return r.status().code();
}

// Writes `key` = `value` (create or unconditional update) and returns the new revision.
Revision put(Store& store, const std::string& key, const std::string& value) {
  auto got = store.get(key);
  auto written = got.ok() ? store.update(key, value, 0) : store.create(key, value);
  REQUIRE_MESSAGE(written.ok(), written.status().to_string());
  return written->mod_revision;
}

Revision current(Store& store) {
  auto rev = store.current_revision();
  REQUIRE_OK(rev);
  return *rev;
}

ListOptions at(Revision revision) {
  ListOptions o;
  o.revision = revision;
  return o;
}

ListOptions paged(Revision revision, std::int64_t limit, std::string start_key = {}) {
  ListOptions o;
  o.revision = revision;
  o.limit = limit;
  o.start_key = std::move(start_key);
  return o;
}

ListOptions count_only() {
  ListOptions o;
  o.count_only = true;
  return o;
}

std::vector<std::string> keys_of(const std::vector<KeyValue>& items) {
  std::vector<std::string> keys;
  for (const auto& kv : items) keys.push_back(kv.key);
  return keys;
}

// Watches `prefix` after `after` and waits until the watch is live (a probe returned nothing).
std::unique_ptr<Watch> live_watch(Store& store, const std::string& prefix, Revision after,
                                  std::size_t buffer = 1024) {
  auto watch = store.watch(prefix, after, WatchOptions{buffer});
  REQUIRE_OK(watch);
  return std::move(watch).value();
}

TEST_CASE_TEMPLATE("create, get, update, remove and their codes", F, STORE_FIXTURES) {
  F f;
  Store& s = f.store();
  CHECK(current(s) == 0);
  CHECK(code_of(s.get("/k")) == Code::kNotFound);

  auto created = s.create("/k", "v1");
  REQUIRE_OK(created);
  CHECK(*created == KeyValue{"/k", "v1", 1, 1, 1});
  CHECK(code_of(s.create("/k", "again")) == Code::kAlreadyExists);
  auto got = s.get("/k");
  REQUIRE_OK(got);
  CHECK(*got == *created);

  CHECK(code_of(s.update("/k", "v2", 7)) == Code::kAborted);
  auto updated = s.update("/k", "v2", 1);
  REQUIRE_OK(updated);
  CHECK(*updated == KeyValue{"/k", "v2", 1, 2, 2});
  CHECK(code_of(s.update("/k", "stale", 1)) == Code::kAborted);
  auto unconditional = s.update("/k", "v3", 0);
  REQUIRE_OK(unconditional);
  CHECK(*unconditional == KeyValue{"/k", "v3", 1, 3, 3});
  CHECK(code_of(s.update("/missing", "x", 0)) == Code::kNotFound);
  CHECK(code_of(s.update("/missing", "x", 3)) == Code::kNotFound);

  CHECK(code_of(s.remove("/k", 2)) == Code::kAborted);
  CHECK(code_of(s.remove("/missing", 0)) == Code::kNotFound);
  auto removed = s.remove("/k", 3);
  REQUIRE_OK(removed);
  CHECK(removed->type == EventType::kDelete);
  CHECK(removed->kv.key == "/k");
  CHECK(removed->revision() == 4);
  REQUIRE(removed->prev.has_value());
  CHECK(*removed->prev == KeyValue{"/k", "v3", 1, 3, 3});
  CHECK(code_of(s.get("/k")) == Code::kNotFound);
  CHECK(code_of(s.remove("/k", 0)) == Code::kNotFound);

  // A new incarnation starts over: version 1, its own create_revision.
  auto again = s.create("/k", "v4");
  REQUIRE_OK(again);
  CHECK(*again == KeyValue{"/k", "v4", 5, 5, 1});

  // Bad input is an error, not a crash.
  CHECK(code_of(s.create("", "v")) == Code::kInvalidArgument);
  CHECK(code_of(s.get("")) == Code::kInvalidArgument);
  CHECK(code_of(s.update("/k", "v", -1)) == Code::kInvalidArgument);

  // Values and keys are bytes.
  const std::string binary_key("/bin/\0\xff", 7);
  const std::string binary_value("\0\x01\x02\xff", 4);
  auto bin = s.create(binary_key, binary_value);
  REQUIRE_OK(bin);
  auto bin_got = s.get(binary_key);
  REQUIRE_OK(bin_got);
  CHECK(bin_got->value == binary_value);
  auto empty_value = s.create("/empty", "");
  REQUIRE_OK(empty_value);
  CHECK(s.get("/empty")->value.empty());
}

TEST_CASE_TEMPLATE("revisions go +1 per write and failed writes consume none", F, STORE_FIXTURES) {
  F f;
  Store& s = f.store();
  Revision expected = 0;
  for (int i = 0; i < 10; ++i) {
    auto kv = s.create("/r/" + std::to_string(i), "x");
    REQUIRE_OK(kv);
    CHECK(kv->mod_revision == ++expected);
    CHECK(current(s) == expected);
    // Failures of every kind leave the counter alone.
    CHECK(code_of(s.create("/r/" + std::to_string(i), "y")) == Code::kAlreadyExists);
    CHECK(code_of(s.update("/r/" + std::to_string(i), "y", 999)) == Code::kAborted);
    CHECK(code_of(s.remove("/r/none", 0)) == Code::kNotFound);
    (void)s.get("/r/0");
    (void)s.list("/r/");
    CHECK(current(s) == expected);
  }
  auto removed = s.remove("/r/3", 0);
  REQUIRE_OK(removed);
  CHECK(removed->revision() == ++expected);
  CHECK(current(s) == expected);
}

TEST_CASE_TEMPLATE("create_revision and version", F, STORE_FIXTURES) {
  F f;
  Store& s = f.store();
  REQUIRE_OK(s.create("/other", "o"));  // rev 1
  auto a = s.create("/a", "1");         // rev 2
  REQUIRE_OK(a);
  for (int i = 2; i <= 5; ++i) {
    auto kv = s.update("/a", std::to_string(i), 0);
    REQUIRE_OK(kv);
    CHECK(kv->create_revision == 2);
    CHECK(kv->version == i);
    CHECK(kv->mod_revision == i + 1);
  }
  auto listed = s.list("/a");
  REQUIRE_OK(listed);
  REQUIRE(listed->items.size() == 1);
  CHECK(listed->items[0] == KeyValue{"/a", "5", 2, 6, 5});
}

TEST_CASE_TEMPLATE("list reads a snapshot and returns its revision", F, STORE_FIXTURES) {
  F f;
  Store& s = f.store();
  auto empty = s.list("");
  REQUIRE_OK(empty);
  CHECK(empty->items.empty());
  CHECK(empty->revision == 0);
  CHECK(empty->count == 0);
  CHECK_FALSE(empty->more);

  put(s, "/p/c", "3");
  put(s, "/p/a", "1");
  put(s, "/p/b", "2");
  put(s, "/q/a", "x");
  auto listed = s.list("/p/");
  REQUIRE_OK(listed);
  CHECK(listed->revision == 4);  // the store's revision, not the newest item's
  CHECK(keys_of(listed->items) == std::vector<std::string>{"/p/a", "/p/b", "/p/c"});
  CHECK(listed->count == 3);
  CHECK_FALSE(listed->more);

  auto counted = s.list("/p/", count_only());
  REQUIRE_OK(counted);
  CHECK(counted->items.empty());
  CHECK(counted->count == 3);

  auto all = s.list("");
  REQUIRE_OK(all);
  CHECK(all->count == 4);
}

TEST_CASE_TEMPLATE("list at an older revision", F, STORE_FIXTURES) {
  F f;
  Store& s = f.store();
  put(s, "/h/a", "a1");  // 1
  put(s, "/h/b", "b1");  // 2
  const Revision r2 = current(s);
  put(s, "/h/a", "a2");             // 3
  REQUIRE_OK(s.remove("/h/b", 0));  // 4
  put(s, "/h/c", "c1");             // 5
  REQUIRE_OK(s.remove("/h/c", 0));  // 6
  put(s, "/h/c", "c2");             // 7

  auto old = s.list("/h/", at(r2));
  REQUIRE_OK(old);
  CHECK(old->revision == r2);
  REQUIRE(old->items.size() == 2);
  CHECK(old->items[0] == KeyValue{"/h/a", "a1", 1, 1, 1});
  CHECK(old->items[1] == KeyValue{"/h/b", "b1", 2, 2, 1});

  auto at5 = s.list("/h/", at(5));
  REQUIRE_OK(at5);
  CHECK(keys_of(at5->items) == std::vector<std::string>{"/h/a", "/h/c"});
  CHECK(at5->items[0] == KeyValue{"/h/a", "a2", 1, 3, 2});
  CHECK(at5->items[1] == KeyValue{"/h/c", "c1", 5, 5, 1});
  CHECK(at5->count == 2);

  auto at6 = s.list("/h/", at(6));
  REQUIRE_OK(at6);
  CHECK(keys_of(at6->items) == std::vector<std::string>{"/h/a"});

  auto now = s.list("/h/", at(7));
  REQUIRE_OK(now);
  CHECK(now->items[1] == KeyValue{"/h/c", "c2", 7, 7, 1});

  CHECK(code_of(s.list("/h/", at(8))) == Code::kOutOfRange);
  CHECK(code_of(s.list("/h/", at(-1))) == Code::kInvalidArgument);
}

TEST_CASE_TEMPLATE("paging with limit, start_key, more and count", F, STORE_FIXTURES) {
  F f;
  Store& s = f.store();
  for (const char* k : {"/pods/default/a", "/pods/default/b", "/pods/kube-system/c"}) {
    put(s, k, "v");
  }
  put(s, "/pods0", "outside");
  put(s, "/pod", "outside");

  auto page1 = s.list("/pods/", paged(0, 1));
  REQUIRE_OK(page1);
  CHECK(keys_of(page1->items) == std::vector<std::string>{"/pods/default/a"});
  CHECK(page1->more);
  CHECK(page1->count == 3);
  const Revision pinned = page1->revision;

  // Writes between pages do not show: the pages are pinned to the first page's revision.
  put(s, "/pods/default/aa", "new");
  REQUIRE_OK(s.remove("/pods/default/b", 0));

  auto page2 = s.list("/pods/", paged(pinned, 1, page1->items.back().key + '\0'));
  REQUIRE_OK(page2);
  CHECK(page2->revision == pinned);
  CHECK(keys_of(page2->items) == std::vector<std::string>{"/pods/default/b"});
  CHECK(page2->more);
  CHECK(page2->count == 2);  // as etcd: remaining from the start key, not the total

  auto page3 = s.list("/pods/", paged(pinned, 5, page2->items.back().key + '\0'));
  REQUIRE_OK(page3);
  CHECK(keys_of(page3->items) == std::vector<std::string>{"/pods/kube-system/c"});
  CHECK_FALSE(page3->more);
  CHECK(page3->count == 1);

  // Paging the current state walks every key exactly once.
  std::vector<std::string> seen;
  ListOptions opts = paged(0, 2);
  for (;;) {
    auto page = s.list("/pods/", opts);
    REQUIRE_OK(page);
    for (const auto& kv : page->items) seen.push_back(kv.key);
    if (!page->more) break;
    opts.revision = page->revision;
    opts.start_key = page->items.back().key + '\0';
  }
  CHECK(seen ==
        std::vector<std::string>{"/pods/default/a", "/pods/default/aa", "/pods/kube-system/c"});

  // A start key below the prefix does not leak keys from outside it.
  auto low = s.list("/pods/", paged(0, 0, "/a"));
  REQUIRE_OK(low);
  CHECK(low->count == 3);
}

TEST_CASE_TEMPLATE("prefixes are isolated", F, STORE_FIXTURES) {
  F f;
  Store& s = f.store();
  auto watch_a = live_watch(s, "/a/", 0);
  for (const char* k : {"/a", "/a/", "/a/x", "/a/y/z", "/ab", "/ab/x", "/a0", "/b/x"}) {
    put(s, k, "v");
  }
  put(s, std::string("/a/\xff", 4), "high");
  put(s, std::string("/a\xff", 3), "outside");
  auto listed = s.list("/a/");
  REQUIRE_OK(listed);
  CHECK(keys_of(listed->items) ==
        std::vector<std::string>{"/a/", "/a/x", "/a/y/z", std::string("/a/\xff", 4)});
  auto got = collect(*watch_a, 4, 5s);
  REQUIRE(got.events.size() == 4);
  CHECK(got.events[0].kv.key == "/a/");
  CHECK(got.events[3].kv.key == std::string("/a/\xff", 4));
  auto rest = drain(*watch_a, 100ms);
  CHECK(rest.events.empty());
}

TEST_CASE_TEMPLATE("watch from 0 and from a list's revision", F, STORE_FIXTURES) {
  F f;
  Store& s = f.store();
  put(s, "/w/a", "1");
  put(s, "/w/b", "1");
  put(s, "/w/a", "2");

  auto from0 = live_watch(s, "/w/", 0);
  auto history = collect(*from0, 3, 5s);
  REQUIRE(history.events.size() == 3);
  CHECK(history.events[0].is_create());
  CHECK(history.events[0].kv == KeyValue{"/w/a", "1", 1, 1, 1});
  CHECK(history.events[2].kv == KeyValue{"/w/a", "2", 1, 3, 2});
  REQUIRE(history.events[2].prev.has_value());
  CHECK(*history.events[2].prev == KeyValue{"/w/a", "1", 1, 1, 1});
  CHECK(from0->resume_revision() == 3);

  auto listed = s.list("/w/");
  REQUIRE_OK(listed);
  auto after_list = live_watch(s, "/w/", listed->revision);
  put(s, "/w/c", "1");
  put(s, "/w/a", "3");
  auto got = collect(*after_list, 2, 5s);
  REQUIRE(got.events.size() == 2);
  CHECK(got.events[0].kv.key == "/w/c");
  CHECK(got.events[0].revision() == listed->revision + 1);
  CHECK(got.events[1].kv == KeyValue{"/w/a", "3", 1, 5, 3});
  CHECK(after_list->resume_revision() == 5);

  // The first watch goes on live after its catch-up.
  auto live = collect(*from0, 2, 5s);
  REQUIRE(live.events.size() == 2);
  CHECK(live.events[0].revision() == 4);
  CHECK(live.events[1].revision() == 5);
  CHECK(drain(*from0, 100ms).events.empty());

  // A watch from a future revision waits for it.
  auto future = live_watch(s, "/w/", 6);
  put(s, "/w/x", "6");
  put(s, "/w/y", "7");
  auto fut = collect(*future, 1, 5s);
  REQUIRE(fut.events.size() == 1);
  CHECK(fut.events[0].revision() == 7);

  // A timeout returns an empty batch, not an error.
  auto quiet = live_watch(s, "/nothing/", 0);
  auto idle = quiet->next(10ms);
  REQUIRE_OK(idle);
  CHECK(idle->empty());
}

TEST_CASE_TEMPLATE("delete events carry the deleted value as prev", F, STORE_FIXTURES) {
  F f;
  Store& s = f.store();
  put(s, "/d/a", "1");  // 1
  put(s, "/d/a", "2");  // 2
  auto live = live_watch(s, "/d/", current(s));
  REQUIRE_OK(live->next(10ms));
  REQUIRE_OK(s.remove("/d/a", 2));  // 3
  put(s, "/d/a", "3");              // 4: a new incarnation, a create again

  for (Revision after : {Revision{0}, Revision{2}}) {
    CAPTURE(after);
    auto w = live_watch(s, "/d/", after);
    auto got = collect(*w, after == 0 ? 4 : 2, 5s);
    REQUIRE(got.events.size() == static_cast<std::size_t>(after == 0 ? 4 : 2));
    const Event& del = got.events[got.events.size() - 2];
    CHECK(del.type == EventType::kDelete);
    CHECK(del.kv.key == "/d/a");
    CHECK(del.revision() == 3);
    REQUIRE(del.prev.has_value());
    CHECK(*del.prev == KeyValue{"/d/a", "2", 1, 2, 2});
    CHECK(got.events.back().is_create());
    CHECK(got.events.back().kv == KeyValue{"/d/a", "3", 4, 4, 1});
  }
  auto got = collect(*live, 2, 5s);
  REQUIRE(got.events.size() == 2);
  CHECK(got.events[0].type == EventType::kDelete);
  REQUIRE(got.events[0].prev.has_value());
  CHECK(got.events[0].prev->value == "2");
  CHECK(got.events[1].is_create());
}

TEST_CASE_TEMPLATE("events keep revision order across concurrent writers", F, STORE_FIXTURES) {
  F f;
  Store& s = f.store();
  constexpr int kThreads = 8;
  constexpr int kWrites = 50;
  auto early = live_watch(s, "", 0);
  std::vector<std::thread> threads;
  std::vector<std::vector<KeyValue>> written(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        const std::string key = "/c/" + std::to_string(t) + "/" + std::to_string(i % 5);
        auto got = s.get(key);
        auto kv = got.ok() ? s.update(key, std::to_string(i), got->mod_revision)
                           : s.create(key, std::to_string(i));
        if (kv.ok()) written[t].push_back(*kv);
      }
    });
  }
  auto mid = live_watch(s, "", 0);
  for (auto& th : threads) th.join();
  std::map<Revision, KeyValue> acked;
  for (const auto& w : written) {
    CHECK(w.size() == kWrites);  // each key has one writer: no conflicts
    for (const auto& kv : w) acked[kv.mod_revision] = kv;
  }
  REQUIRE(acked.size() == kThreads * kWrites);
  CHECK(acked.begin()->first == 1);
  CHECK(acked.rbegin()->first == kThreads * kWrites);
  for (auto* w : {early.get(), mid.get()}) {
    auto got = collect(*w, kThreads * kWrites, 10s);
    REQUIRE(got.events.size() == kThreads * kWrites);
    for (std::size_t i = 0; i < got.events.size(); ++i) {
      CHECK(got.events[i].revision() == static_cast<Revision>(i + 1));
      CHECK(got.events[i].kv == acked[got.events[i].revision()]);
    }
    CHECK(drain(*w, 50ms).events.empty());
  }
}

TEST_CASE_TEMPLATE("watches started during concurrent writes miss and repeat nothing", F,
                   STORE_FIXTURES) {
  F f;
  Store& s = f.store();
  constexpr int kThreads = 4;
  constexpr int kWrites = 100;
  constexpr Revision kTotal = kThreads * kWrites;
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kWrites; ++i) {
        (void)s.create("/race/" + std::to_string(t) + "/" + std::to_string(i), "v");
      }
    });
  }
  go = true;
  // Watches from the current revision and from older ones, opened while the writers run.
  struct Started {
    Revision after;
    std::unique_ptr<Watch> watch;
    std::vector<Event> early;  // what a first next() returned while the writers ran
  };
  std::vector<Started> watches;
  for (int i = 0; i < 12; ++i) {
    const Revision now = current(s);
    const Revision after = i % 2 == 0 ? now : now / 2;
    watches.push_back(Started{after, live_watch(s, "/race/", after), {}});
    if (i % 3 == 0) {  // some start catching up at once
      auto first = watches.back().watch->next(1ms);
      REQUIRE_OK(first);
      watches.back().early = std::move(first).value();
    }
    std::this_thread::sleep_for(1ms);
  }
  for (auto& th : threads) th.join();
  REQUIRE(current(s) == kTotal);
  for (auto& [after, w, early] : watches) {
    CAPTURE(after);
    const auto want = static_cast<std::size_t>(kTotal - after);
    auto got = collect(*w, want - early.size(), 10s);
    early.insert(early.end(), got.events.begin(), got.events.end());
    REQUIRE_MESSAGE(early.size() == want, got.end.to_string());
    for (std::size_t i = 0; i < early.size(); ++i) {
      CHECK(early[i].revision() == after + 1 + static_cast<Revision>(i));
    }
    CHECK(drain(*w, 20ms).events.empty());
  }
}

TEST_CASE_TEMPLATE("a watcher that falls behind ends with ResourceExhausted and resumes", F,
                   STORE_FIXTURES) {
  F f;
  Store& s = f.store();
  put(s, "/slow/0", "0");
  auto slow = live_watch(s, "/slow/", current(s), /*buffer=*/4);
  auto fast = live_watch(s, "/slow/", current(s));
  REQUIRE_OK(slow->next(10ms));  // caught up: live from here on
  constexpr int kWrites = 20;
  for (int i = 1; i <= kWrites; ++i) put(s, "/slow/" + std::to_string(i % 3), std::to_string(i));

  // The slow watcher gets what it buffered, then the reason; the writer never waited for it.
  auto got = collect(*slow, kWrites, 5s);
  CHECK(got.end.code() == Code::kResourceExhausted);
  CHECK(got.events.size() == 4);
  const Revision resume = slow->resume_revision();
  CHECK(resume == got.events.back().revision());
  CHECK(code_of(slow->next(10ms)) == Code::kResourceExhausted);  // it stays ended

  // Watching again from the resume revision leaves no gap and repeats nothing.
  auto again = live_watch(s, "/slow/", resume);
  auto rest = collect(*again, kWrites - got.events.size(), 5s);
  std::vector<Event> all = got.events;
  all.insert(all.end(), rest.events.begin(), rest.events.end());
  REQUIRE(all.size() == kWrites);
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].revision() == 2 + Revision(i));

  // Other watchers are not affected.
  auto fast_got = collect(*fast, kWrites, 5s);
  CHECK(fast_got.events.size() == kWrites);
  CHECK(fast_got.end.ok());
}

TEST_CASE_TEMPLATE("compaction: 410 below the compaction point, not at it", F, STORE_FIXTURES) {
  F f;
  Store& s = f.store();
  put(s, "/x/a", "a1");                       // 1
  put(s, "/x/b", "b1");                       // 2
  put(s, "/x/a", "a2");                       // 3
  REQUIRE_OK(s.remove("/x/b", 0));            // 4
  put(s, "/x/c", "c1");                       // 5
  put(s, "/x/a", "a3");                       // 6: exactly at the compaction point
  put(s, "/x/c", "c2");                       // 7
  REQUIRE_OK(s.remove("/x/c", 0));            // 8
  put(s, "/x/d", "d1");                       // 9
  auto open_watch = live_watch(s, "/x/", 2);  // created before, read after compaction

  CHECK(code_of(s.compact(10)) == Code::kOutOfRange);  // future
  CHECK(code_of(s.compact(0)) == Code::kInvalidArgument);
  REQUIRE(s.compact(6).ok());
  CHECK(*s.compacted_revision() == 6);
  CHECK(code_of(s.compact(6)) == Code::kOutOfRange);  // already compacted there (as etcd)
  CHECK(code_of(s.compact(3)) == Code::kOutOfRange);

  // Reads: below 6 are gone, 6 and later are intact.
  CHECK(code_of(s.list("/x/", at(5))) == Code::kOutOfRange);
  auto at6 = s.list("/x/", at(6));
  REQUIRE_OK(at6);
  REQUIRE(at6->items.size() == 2);
  CHECK(at6->items[0] == KeyValue{"/x/a", "a3", 1, 6, 3});
  CHECK(at6->items[1] == KeyValue{"/x/c", "c1", 5, 5, 1});
  auto at8 = s.list("/x/", at(8));
  REQUIRE_OK(at8);
  CHECK(keys_of(at8->items) == std::vector<std::string>{"/x/a"});
  auto now = s.list("/x/");
  REQUIRE_OK(now);
  CHECK(keys_of(now->items) == std::vector<std::string>{"/x/a", "/x/d"});

  // Watches: after_revision >= 5 works (events from 6 on, with their prev); 4 fails.
  CHECK(code_of(s.watch("/x/", 4)) == Code::kOutOfRange);
  auto w5 = live_watch(s, "/x/", 5);
  auto got = collect(*w5, 4, 5s);
  REQUIRE(got.events.size() == 4);
  CHECK(got.events[0].kv == KeyValue{"/x/a", "a3", 1, 6, 3});
  REQUIRE(got.events[0].prev.has_value());
  CHECK(*got.events[0].prev == KeyValue{"/x/a", "a2", 1, 3, 2});
  CHECK(got.events[1].kv == KeyValue{"/x/c", "c2", 5, 7, 2});
  REQUIRE(got.events[1].prev.has_value());
  CHECK(got.events[1].prev->value == "c1");
  CHECK(got.events[2].type == EventType::kDelete);
  CHECK(got.events[2].prev->value == "c2");
  CHECK(got.events[3].is_create());

  // A watch created before the compaction but still catching up below it gets 410.
  auto old = collect(*open_watch, 100, 5s);
  CHECK(old.end.code() == Code::kOutOfRange);

  // Compaction is durable and later compactions keep working.
  f.reopen();
  Store& r = f.store();
  CHECK(*r.compacted_revision() == 6);
  CHECK(code_of(r.list("/x/", at(5))) == Code::kOutOfRange);
  REQUIRE_OK(r.list("/x/", at(6)));
  put(r, "/x/a", "a4");  // 10
  REQUIRE(r.compact(10).ok());
  auto at10 = r.list("/x/", at(10));
  REQUIRE_OK(at10);
  CHECK(keys_of(at10->items) == std::vector<std::string>{"/x/a", "/x/d"});
  auto w9 = live_watch(r, "", 9);
  auto ev10 = collect(*w9, 1, 5s);
  REQUIRE(ev10.events.size() == 1);
  REQUIRE(ev10.events[0].prev.has_value());
  CHECK(ev10.events[0].prev->value == "a3");
}

TEST_CASE_TEMPLATE("a live watch goes on across compaction", F, STORE_FIXTURES) {
  F f;
  Store& s = f.store();
  auto w = live_watch(s, "/live/", 0);
  for (int i = 0; i < 30; ++i) put(s, "/live/" + std::to_string(i % 4), std::to_string(i));
  auto before = collect(*w, 30, 5s);
  REQUIRE(before.events.size() == 30);
  REQUIRE(s.compact(25).ok());
  for (int i = 30; i < 40; ++i) put(s, "/live/" + std::to_string(i % 4), std::to_string(i));
  auto after = collect(*w, 10, 5s);
  REQUIRE(after.events.size() == 10);
  CHECK(after.events.front().revision() == 31);
  CHECK(after.events.back().revision() == 40);
  CHECK(after.end.ok());
}

TEST_CASE_TEMPLATE("concurrent compare-and-swap counter loses no increment", F, STORE_FIXTURES) {
  F f;
  Store& s = f.store();
  REQUIRE_OK(s.create("/counter", "0"));
  constexpr int kThreads = 8;
  constexpr int kIncrements = 25;
  std::atomic<int> conflicts{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        for (int attempt = 0; attempt < 10000; ++attempt) {
          auto got = s.get("/counter");
          if (!got.ok()) {
            ++errors;
            return;
          }
          const int value = std::stoi(got->value);
          auto written = s.update("/counter", std::to_string(value + 1), got->mod_revision);
          if (written.ok()) break;
          if (written.status().code() != Code::kAborted) {
            ++errors;
            return;
          }
          ++conflicts;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(errors.load() == 0);
  auto final_value = s.get("/counter");
  REQUIRE_OK(final_value);
  CHECK(final_value->value == std::to_string(kThreads * kIncrements));
  CHECK(final_value->version == kThreads * kIncrements + 1);
  CHECK(current(s) == kThreads * kIncrements + 1);  // conflicts consumed no revision
  MESSAGE("conflicts retried: " << conflicts.load());
}

TEST_CASE_TEMPLATE("reopen keeps revisions, values and history", F, STORE_FIXTURES) {
  F f;
  std::map<std::string, KeyValue> expected;
  for (int i = 0; i < 20; ++i) {
    const std::string key = "/re/" + std::to_string(i % 7);
    put(f.store(), key, "v" + std::to_string(i));
  }
  REQUIRE_OK(f.store().remove("/re/3", 0));
  auto before = f.store().list("");
  REQUIRE_OK(before);
  const Revision rev = current(f.store());
  f.reopen();
  Store& s = f.store();
  CHECK(current(s) == rev);
  auto after = s.list("");
  REQUIRE_OK(after);
  CHECK(after->revision == before->revision);
  CHECK(after->items == before->items);
  auto w = live_watch(s, "", 0);
  CHECK(collect(*w, static_cast<std::size_t>(rev), 5s).events.size() ==
        static_cast<std::size_t>(rev));
  auto next = s.create("/re/new", "x");
  REQUIRE_OK(next);
  CHECK(next->mod_revision == rev + 1);
}

TEST_CASE_TEMPLATE("closing a watch or the store ends it with Unavailable", F, STORE_FIXTURES) {
  F f;
  auto w = live_watch(f.store(), "", 0);
  w->close();
  CHECK(code_of(w->next(10ms)) == Code::kUnavailable);
  w->close();  // idempotent

  auto blocked = live_watch(f.store(), "", 0);
  REQUIRE_OK(blocked->next(10ms));
  std::thread closer([&] {
    std::this_thread::sleep_for(50ms);
    blocked->close();
  });
  auto woke = blocked->next(10s);
  closer.join();
  CHECK(code_of(woke) == Code::kUnavailable);

  auto orphan = live_watch(f.store(), "", 0);
  f.reopen();  // the store the watch came from is gone
  CHECK(code_of(orphan->next(10ms)) == Code::kUnavailable);
}

}  // namespace
}  // namespace orch::store
