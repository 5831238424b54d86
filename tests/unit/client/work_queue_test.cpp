// WorkQueue: de-duplication, FIFO, one worker per key, delays and rate limiting on a FakeClock,
// shutdown and drain.
#include <doctest.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "orch/client/work_queue.hpp"
#include "orch/util/clock.hpp"

namespace orch::client {
namespace {

using namespace std::chrono_literals;

TEST_CASE("FakeClock moves only when advanced and calls listeners") {
  util::FakeClock clock;
  auto t0 = clock.now();
  auto s0 = clock.system_now();
  CHECK(clock.now() == t0);
  int calls = 0;
  auto id = clock.add_listener([&] { ++calls; });
  clock.advance(1500ms);
  CHECK(clock.now() - t0 == 1500ms);
  CHECK(clock.system_now() - s0 == 1500ms);
  CHECK(calls == 1);
  clock.remove_listener(id);
  clock.advance(1s);
  CHECK(calls == 1);
  CHECK(clock.listener_count_for_test() == 0);
  // The real clock moves by itself.
  auto r0 = util::real_clock().now();
  std::this_thread::sleep_for(2ms);
  CHECK(util::real_clock().now() > r0);
}

TEST_CASE("WorkQueue is a de-duplicating FIFO") {
  WorkQueue q;
  q.add("a");
  q.add("b");
  q.add("a");
  q.add("c");
  q.add("b");
  CHECK(q.len() == 3);
  std::vector<std::string> got;
  while (auto k = q.get(0ms)) {
    got.push_back(*k);
    q.done(*k);
  }
  CHECK(got == std::vector<std::string>{"a", "b", "c"});
  CHECK(q.len() == 0);
}

TEST_CASE("WorkQueue never hands one key to two workers") {
  WorkQueue q;
  q.add("a");
  auto first = q.get(0ms);
  REQUIRE(first == "a");
  q.add("a");  // while processing: remembered, not queued
  q.add("a");
  CHECK(q.len() == 0);
  CHECK_FALSE(q.get(10ms).has_value());
  q.done("a");  // now queued again, once
  CHECK(q.len() == 1);
  CHECK(q.get(0ms) == "a");
  q.done("a");
  CHECK_FALSE(q.get(0ms).has_value());
}

TEST_CASE("WorkQueue under concurrent workers: every key processed, never twice at once") {
  WorkQueue q;
  constexpr int kKeys = 20;
  std::mutex mu;
  std::set<std::string> in_flight;
  std::atomic<bool> overlap{false};
  std::map<std::string, int> processed;
  std::atomic<bool> producing{true};
  auto worker = [&] {
    while (true) {
      auto k = q.get(50ms);
      if (!k) {
        if (!producing.load() && q.len() == 0) return;
        continue;
      }
      {
        std::lock_guard lock(mu);
        if (!in_flight.insert(*k).second) overlap = true;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      {
        std::lock_guard lock(mu);
        in_flight.erase(*k);
        ++processed[*k];
      }
      q.done(*k);
    }
  };
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) workers.emplace_back(worker);
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) q.add("k" + std::to_string(rng() % kKeys));
  producing = false;
  for (auto& w : workers) w.join();
  CHECK_FALSE(overlap.load());
  CHECK(processed.size() == kKeys);
  CHECK(q.len() == 0);
}

TEST_CASE("add_after waits for the clock") {
  util::FakeClock clock;
  WorkQueue q({.clock = &clock});
  q.add_after("later", 10s);
  q.add_after("now", 0s);
  CHECK(q.len() == 1);
  CHECK(q.num_delayed() == 1);
  CHECK(q.get(0ms) == "now");
  q.done("now");
  CHECK_FALSE(q.get(10ms).has_value());
  clock.advance(9s);
  CHECK(q.len() == 0);
  clock.advance(1s);
  CHECK(q.len() == 1);
  CHECK(q.num_delayed() == 0);
  CHECK(q.get(0ms) == "later");
}

TEST_CASE("a blocked get wakes when the fake clock reaches a delayed key") {
  util::FakeClock clock;
  WorkQueue q({.clock = &clock});
  q.add_after("k", 1h);
  auto start = std::chrono::steady_clock::now();
  auto got = std::async(std::launch::async, [&] { return q.get(10s); });
  std::this_thread::sleep_for(20ms);
  clock.advance(1h);
  REQUIRE(got.wait_for(5s) == std::future_status::ready);
  CHECK(got.get() == "k");
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("add_after keeps the earlier of two times") {
  util::FakeClock clock;
  WorkQueue q({.clock = &clock});
  q.add_after("a", 10s);
  q.add_after("a", 2s);  // earlier: wins
  q.add_after("b", 1s);
  q.add_after("b", 5s);  // later: ignored
  CHECK(q.num_delayed() == 2);
  clock.advance(1s);
  CHECK(q.get(0ms) == "b");
  clock.advance(1s);
  CHECK(q.get(0ms) == "a");
  q.done("a");
  q.done("b");
  clock.advance(10s);
  CHECK(q.len() == 0);  // the stale later entries queue nothing
}

TEST_CASE("add_rate_limited backs off exponentially per key; forget resets") {
  struct Case {
    const char* what;
    std::chrono::nanoseconds base, max;
    std::vector<std::chrono::nanoseconds> delays;
  };
  const std::vector<Case> cases = {
      {"defaults", 5ms, 1000s, {5ms, 10ms, 20ms, 40ms, 80ms}},
      {"capped", 1s, 4s, {1s, 2s, 4s, 4s, 4s}},
  };
  for (const auto& c : cases) {
    SUBCASE(c.what) {
      util::FakeClock clock;
      WorkQueue q({.clock = &clock, .base_delay = c.base, .max_delay = c.max});
      for (std::size_t i = 0; i < c.delays.size(); ++i) {
        CHECK(q.num_requeues("k") == static_cast<int>(i));
        q.add_rate_limited("k");
        clock.advance(c.delays[i] - 1ns);
        CHECK_MESSAGE(q.len() == 0, "attempt " << i);
        clock.advance(1ns);
        CHECK_MESSAGE(q.len() == 1, "attempt " << i);
        REQUIRE(q.get(0ms) == "k");
        q.done("k");
      }
      // Another key has its own backoff.
      q.add_rate_limited("other");
      clock.advance(c.base);
      CHECK(q.get(0ms) == "other");
      q.done("other");
      q.forget("k");
      CHECK(q.num_requeues("k") == 0);
      q.add_rate_limited("k");
      clock.advance(c.base);
      CHECK(q.get(0ms) == "k");
    }
  }
}

TEST_CASE("the default rate limit is 5 ms on the real clock") {
  WorkQueue q;
  auto start = std::chrono::steady_clock::now();
  q.add_rate_limited("k");
  CHECK(q.get(2s) == "k");
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 5ms);
  CHECK(waited < 2s);
}

TEST_CASE("shut_down unblocks get, drops new keys, still hands out queued ones") {
  WorkQueue q;
  auto blocked = std::async(std::launch::async, [&] { return q.get(10s); });
  std::this_thread::sleep_for(20ms);
  q.shut_down();
  REQUIRE(blocked.wait_for(5s) == std::future_status::ready);
  CHECK_FALSE(blocked.get().has_value());
  CHECK(q.shutting_down());

  WorkQueue q2;
  q2.add("queued");
  q2.add_after("delayed", 1ms);
  q2.shut_down();
  q2.add("late");
  CHECK(q2.get(0ms) == "queued");
  CHECK_FALSE(q2.get(20ms).has_value());
}

TEST_CASE("shut_down_with_drain waits for done(), with a timeout") {
  WorkQueue q;
  q.add("a");
  q.add("b");
  auto a = q.get(0ms);
  REQUIRE(a == "a");
  auto drained = std::async(std::launch::async, [&] { return q.shut_down_with_drain(5s); });
  std::this_thread::sleep_for(20ms);
  CHECK(drained.wait_for(0ms) == std::future_status::timeout);
  q.done("a");
  auto b = q.get(1s);  // queued before shutdown: still handed out
  REQUIRE(b == "b");
  q.done("b");
  REQUIRE(drained.wait_for(5s) == std::future_status::ready);
  CHECK(drained.get());

  WorkQueue stuck;
  stuck.add("x");
  REQUIRE(stuck.get(0ms) == "x");
  CHECK_FALSE(stuck.shut_down_with_drain(20ms));
}

TEST_CASE("a destroyed queue unregisters from its clock") {
  util::FakeClock clock;
  {
    WorkQueue q({.clock = &clock});
    CHECK(clock.listener_count_for_test() == 1);
  }
  CHECK(clock.listener_count_for_test() == 0);
  clock.advance(1s);  // nothing to call
}

}  // namespace
}  // namespace orch::client
