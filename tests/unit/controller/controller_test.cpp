// Controller: each Outcome's effect on the queue (done forgets, requeue_after waits on the clock,
// retry backs off exponentially, terminal is not retried), no two workers on one key, keys queued
// before start, stop joins the workers and is idempotent.
#include <doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "orch/controller/controller.hpp"
#include "orch/util/clock.hpp"

namespace orch::controller {
namespace {

using namespace std::chrono_literals;

// Polls `pred` until true or 30 s (real time) pass.
bool eventually(const std::function<bool()>& pred) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

// A reconciler answering from a script: `decide(key, call_number)`; counts calls per key.
class ScriptedReconciler : public Reconciler {
 public:
  explicit ScriptedReconciler(std::function<Outcome(const std::string&, int)> decide)
      : decide_(std::move(decide)) {}
  Outcome reconcile(const std::string& key) override {
    int n;
    {
      std::lock_guard lock(mu_);
      n = ++calls_[key];
    }
    return decide_(key, n);
  }
  int calls(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = calls_.find(key);
    return it == calls_.end() ? 0 : it->second;
  }

 private:
  std::function<Outcome(const std::string&, int)> decide_;
  std::mutex mu_;
  std::map<std::string, int> calls_;
};

ControllerOptions options_on(util::Clock* clock, int workers = 2) {
  ControllerOptions o;
  o.name = "test";
  o.workers = workers;
  o.clock = clock;
  o.base_delay = 1s;
  o.max_delay = 8s;
  return o;
}

TEST_CASE("Outcome::done reconciles once and forgets the key's backoff") {
  util::FakeClock clock;
  auto r = std::make_shared<ScriptedReconciler>([](auto&, int) { return Outcome::done(); });
  Controller c(options_on(&clock), r);
  c.queue().add_rate_limited("ns/a");  // a backoff from earlier failures
  clock.advance(1s);
  REQUIRE(c.start().ok());
  REQUIRE(eventually([&] { return r->calls("ns/a") == 1; }));
  REQUIRE(eventually([&] { return c.queue().num_requeues("ns/a") == 0; }));
  clock.advance(1h);
  std::this_thread::sleep_for(20ms);
  CHECK(r->calls("ns/a") == 1);
  c.stop();
}

TEST_CASE("Outcome::requeue_after looks again once the delay passed on the clock") {
  util::FakeClock clock;
  auto r = std::make_shared<ScriptedReconciler>([](auto&, int n) {
    return n == 1 ? Outcome::requeue_after(10s) : Outcome::done();
  });
  Controller c(options_on(&clock), r);
  REQUIRE(c.start().ok());
  c.enqueue("ns/a");
  REQUIRE(eventually([&] { return c.queue().num_delayed() == 1; }));
  CHECK(r->calls("ns/a") == 1);
  clock.advance(9s);
  std::this_thread::sleep_for(20ms);
  CHECK(r->calls("ns/a") == 1);
  clock.advance(1s);
  CHECK(eventually([&] { return r->calls("ns/a") == 2; }));
  CHECK(c.queue().num_requeues("ns/a") == 0);
}

TEST_CASE("Outcome::retry backs off exponentially until success, then forgets") {
  util::FakeClock clock;
  auto r = std::make_shared<ScriptedReconciler>([](auto&, int n) {
    return n <= 3 ? Outcome::retry(unavailable("flaky")) : Outcome::done();
  });
  Controller c(options_on(&clock), r);
  REQUIRE(c.start().ok());
  c.enqueue("ns/a");
  // Delays 1 s, 2 s, 4 s (base 1 s doubling).
  const std::chrono::seconds delays[] = {1s, 2s, 4s};
  for (int i = 0; i < 3; ++i) {
    REQUIRE(eventually([&] { return r->calls("ns/a") == i + 1 && c.queue().num_delayed() == 1; }));
    CHECK(c.queue().num_requeues("ns/a") == i + 1);
    clock.advance(delays[i] - 1ms);
    std::this_thread::sleep_for(10ms);
    CHECK(r->calls("ns/a") == i + 1);
    clock.advance(1ms);
  }
  REQUIRE(eventually([&] { return r->calls("ns/a") == 4; }));
  CHECK(eventually([&] { return c.queue().num_requeues("ns/a") == 0; }));
}

TEST_CASE("Outcome::terminal is not retried") {
  util::FakeClock clock;
  auto r = std::make_shared<ScriptedReconciler>(
      [](auto&, int) { return Outcome::terminal(invalid_argument("bad spec")); });
  Controller c(options_on(&clock), r);
  REQUIRE(c.start().ok());
  c.enqueue("ns/a");
  REQUIRE(eventually([&] { return r->calls("ns/a") == 1; }));
  clock.advance(1h);
  std::this_thread::sleep_for(20ms);
  CHECK(r->calls("ns/a") == 1);
  CHECK(c.queue().num_delayed() == 0);
  CHECK(c.queue().num_requeues("ns/a") == 0);
}

TEST_CASE("never two workers on one key; different keys run in parallel") {
  std::mutex mu;
  std::set<std::string> active;
  std::atomic<bool> overlap{false};
  std::atomic<int> max_parallel{0};
  std::atomic<int> total{0};
  auto r = std::make_shared<ScriptedReconciler>([&](const std::string& key, int) {
    {
      std::lock_guard lock(mu);
      if (!active.insert(key).second) overlap = true;
      int n = static_cast<int>(active.size());
      if (n > max_parallel) max_parallel = n;
    }
    std::this_thread::sleep_for(1ms);
    {
      std::lock_guard lock(mu);
      active.erase(key);
    }
    ++total;
    return Outcome::done();
  });
  ControllerOptions o;
  o.name = "parallel";
  o.workers = 4;
  Controller c(o, r);
  REQUIRE(c.start().ok());
  // Keep re-adding the same few keys while workers hold them.
  for (int round = 0; round < 200; ++round) {
    for (int k = 0; k < 4; ++k) c.enqueue("ns/k" + std::to_string(k));
    if (round % 20 == 0) std::this_thread::sleep_for(1ms);
  }
  REQUIRE(eventually([&] { return c.queue().len() == 0 && total.load() >= 4; }));
  c.stop();
  CHECK_FALSE(overlap.load());
  CHECK(max_parallel.load() >= 1);
}

TEST_CASE("keys queued before start wait for the workers; start twice is refused") {
  auto r = std::make_shared<ScriptedReconciler>([](auto&, int) { return Outcome::done(); });
  Controller c(ControllerOptions{.name = "early"}, r);
  c.enqueue("ns/a");
  c.enqueue_after("ns/b", 0ms);
  std::this_thread::sleep_for(10ms);
  CHECK(r->calls("ns/a") == 0);
  REQUIRE(c.start().ok());
  CHECK(eventually([&] { return r->calls("ns/a") == 1 && r->calls("ns/b") == 1; }));
  Status again = c.start();
  CHECK(again.code() == Code::kInvalidArgument);
}

TEST_CASE("stop lets the current reconcile finish, joins the workers and is idempotent") {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  std::atomic<bool> finished{false};
  auto r = std::make_shared<ScriptedReconciler>([&](const std::string& key, int) {
    if (key == "ns/slow") {
      std::unique_lock lock(mu);
      entered = true;
      cv.notify_all();
      cv.wait_for(lock, 30s, [&] { return release; });
      finished = true;
    }
    return Outcome::done();
  });
  Controller c(ControllerOptions{.name = "stopper", .workers = 1}, r);
  REQUIRE(c.start().ok());
  c.enqueue("ns/slow");
  c.enqueue("ns/after");
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, 30s, [&] { return entered; }));
  }
  std::thread releaser([&] {
    std::this_thread::sleep_for(20ms);
    std::lock_guard lock(mu);
    release = true;
    cv.notify_all();
  });
  c.stop();  // waits for the slow reconcile
  CHECK(finished.load());
  // A key still queued at stop is not reconciled by a stopped controller.
  CHECK(r->calls("ns/after") == 0);
  c.stop();
  releaser.join();
  c.enqueue("ns/late");  // ignored after stop
  std::this_thread::sleep_for(10ms);
  CHECK(r->calls("ns/late") == 0);
}

TEST_CASE("a reconciler that throws is retried, never kills the worker") {
  auto r = std::make_shared<ScriptedReconciler>([](auto&, int n) -> Outcome {
    if (n == 1) throw std::runtime_error("boom");
    return Outcome::done();
  });
  ControllerOptions o;
  o.name = "thrower";
  o.base_delay = 1ms;
  Controller c(o, r);
  REQUIRE(c.start().ok());
  c.enqueue("ns/a");
  CHECK(eventually([&] { return r->calls("ns/a") == 2; }));
}

}  // namespace
}  // namespace orch::controller
