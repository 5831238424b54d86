// SchedulerCache (aggregates, assumed pods, expiry), SchedulingQueue (priority, FIFO, backoff,
// unschedulable moves) and the scheduler's message and sampling helpers, on a FakeClock.
#include <doctest.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "orch/scheduler/cache.hpp"
#include "orch/scheduler/queue.hpp"
#include "orch/scheduler/scheduler.hpp"
#include "orch/util/clock.hpp"

namespace orch::scheduler {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

PodInfoPtr pod(const std::string& name, const std::string& node = "", int cpu_milli = 100,
               int priority = 0, const std::string& phase = "Pending") {
  json::object o{
      {"metadata", json::object{{"name", name}, {"namespace", "default"}}},
      {"spec", json::object{{"nodeName", node},
                            {"priority", priority},
                            {"containers", json::array{json::object{
                                               {"name", "c"},
                                               {"resources",
                                                json::object{{"requests",
                                                              json::object{{"cpu", std::to_string(cpu_milli) + "m"}}}}}}}}}},
      {"status", json::object{{"phase", phase}}}};
  auto p = parse_pod(std::make_shared<const json::value>(std::move(o)));
  REQUIRE(p.ok());
  return *p;
}

json::value node(const std::string& name, const std::string& cpu = "4") {
  return json::object{{"metadata", json::object{{"name", name}}},
                      {"status", json::object{{"allocatable", json::object{{"cpu", cpu}, {"pods", "110"}}}}}};
}

std::int64_t requested_cpu(SchedulerCache& c, const std::string& n) {
  NodeInfo info;
  REQUIRE(c.node_for_test(n, info));
  return info.requested.milli_cpu;
}

TEST_CASE("SchedulerCache: informer events keep per-node aggregates") {
  util::FakeClock clock;
  SchedulerCache cache(clock, 30s);
  CHECK(cache.add_or_update_node(node("n1")));
  CHECK_FALSE(cache.add_or_update_node(node("n1")));  // nothing changed
  CHECK(cache.add_or_update_node(node("n1", "8")));   // allocatable changed
  cache.add_or_update_pod(pod("a", "n1", 500));
  cache.add_or_update_pod(pod("b", "n1", 250));
  cache.add_or_update_pod(pod("pending", "", 999));  // unassigned: ignored
  CHECK(requested_cpu(cache, "n1") == 750);
  CHECK(cache.pod_count() == 2);
  cache.add_or_update_pod(pod("a", "n1", 500, 0, "Succeeded"));  // terminal pods free resources
  CHECK(requested_cpu(cache, "n1") == 250);
  cache.remove_pod("default/b");
  CHECK(requested_cpu(cache, "n1") == 0);
  CHECK(cache.pod_count() == 0);

  SUBCASE("pods on an unknown node make a placeholder that is not schedulable") {
    cache.add_or_update_pod(pod("x", "ghost", 100));
    CHECK(cache.node_count() == 1);
    CHECK(requested_cpu(cache, "ghost") == 100);
    cache.add_or_update_node(node("ghost"));
    CHECK(cache.node_count() == 2);
    CHECK(requested_cpu(cache, "ghost") == 100);
    cache.remove_node("ghost");
    CHECK(cache.node_count() == 1);
  }
}

TEST_CASE("SchedulerCache: assumed pods count until confirmed, forgotten or expired") {
  util::FakeClock clock;
  SchedulerCache cache(clock, 30s);
  cache.add_or_update_node(node("n1"));
  auto a = pod("a", "", 1000);
  REQUIRE(cache.assume(a, "n1").ok());
  CHECK(cache.assume(a, "n1").code() == Code::kInvalidArgument);
  CHECK(cache.is_assumed("default/a"));
  CHECK(requested_cpu(cache, "n1") == 1000);

  SUBCASE("the informer confirms it") {
    cache.finish_binding("default/a");
    cache.add_or_update_pod(pod("a", "n1", 1000));
    CHECK_FALSE(cache.is_assumed("default/a"));
    CHECK(requested_cpu(cache, "n1") == 1000);  // counted once
    clock.advance(60s);
    CHECK(cache.cleanup_expired() == 0);
    CHECK(requested_cpu(cache, "n1") == 1000);
  }
  SUBCASE("binding failed: forget") {
    cache.forget("default/a");
    CHECK_FALSE(cache.contains("default/a"));
    CHECK(requested_cpu(cache, "n1") == 0);
  }
  SUBCASE("the binding never shows up: expires ttl after it finished") {
    clock.advance(60s);
    CHECK(cache.cleanup_expired() == 0);  // binding not finished yet: never expires
    cache.finish_binding("default/a");
    clock.advance(29s);
    CHECK(cache.cleanup_expired() == 0);
    clock.advance(2s);
    CHECK(cache.cleanup_expired() == 1);
    CHECK(requested_cpu(cache, "n1") == 0);
  }
  SUBCASE("bound elsewhere than assumed: the informer wins") {
    cache.add_or_update_node(node("n2"));
    cache.add_or_update_pod(pod("a", "n2", 1000));
    CHECK(requested_cpu(cache, "n1") == 0);
    CHECK(requested_cpu(cache, "n2") == 1000);
  }
}

TEST_CASE("SchedulingQueue: priority first, then first in first out") {
  util::FakeClock clock;
  SchedulingQueue q(clock);
  q.add(pod("low1", "", 100, 0));
  clock.advance(1ms);
  q.add(pod("high", "", 100, 100));
  clock.advance(1ms);
  q.add(pod("low2", "", 100, 0));
  std::vector<std::string> order;
  while (auto qp = q.try_pop()) order.push_back(qp->pod->name);
  CHECK(order == std::vector<std::string>{"high", "low1", "low2"});
}

TEST_CASE("SchedulingQueue: backoff doubles from 1 s up to 10 s") {
  util::FakeClock clock;
  SchedulingQueue q(clock);
  CHECK(q.backoff_duration(1) == 1s);
  CHECK(q.backoff_duration(2) == 2s);
  CHECK(q.backoff_duration(3) == 4s);
  CHECK(q.backoff_duration(4) == 8s);
  CHECK(q.backoff_duration(5) == 10s);
  CHECK(q.backoff_duration(50) == 10s);
}

TEST_CASE("SchedulingQueue: unschedulable pods wait for a cluster change, then their backoff") {
  util::FakeClock clock;
  SchedulingQueue q(clock);
  q.add(pod("a"));
  auto qp = q.try_pop();
  REQUIRE(qp);
  CHECK(qp->attempts == 1);
  q.add_unschedulable(*qp);
  CHECK(q.unschedulable_size() == 1);
  clock.advance(20s);
  CHECK_FALSE(q.try_pop());  // no change: stays unschedulable

  SUBCASE("a change after the backoff: straight to active") {
    q.move_all_to_active_or_backoff();
    auto again = q.try_pop();
    REQUIRE(again);
    CHECK(again->attempts == 2);
  }
  SUBCASE("a change during the backoff: backoffQ, then active when it ends") {
    auto again = q.try_pop();
    CHECK_FALSE(again);
    q.move_all_to_active_or_backoff();  // brings it to active (20 s > 1 s)
    auto p2 = q.try_pop();
    REQUIRE(p2);
    q.add_unschedulable(*p2);  // attempts 2: backoff 2 s
    q.move_all_to_active_or_backoff();
    CHECK(q.backoff_size() == 1);
    CHECK_FALSE(q.try_pop());
    clock.advance(2s);
    CHECK(q.try_pop());
  }
  SUBCASE("a relevant update moves it, a status-only one does not") {
    q.update(pod("a"), false);
    CHECK_FALSE(q.try_pop());
    q.update(pod("a"), true);
    CHECK(q.try_pop());
  }
  SUBCASE("removal forgets it") {
    q.remove("default/a");
    q.move_all_to_active_or_backoff();
    CHECK_FALSE(q.try_pop());
    CHECK(q.unschedulable_size() == 0);
  }
}

TEST_CASE("SchedulingQueue: a change during the pod's cycle sends it to backoff, not unschedulable") {
  util::FakeClock clock;
  SchedulingQueue q(clock);
  q.add(pod("a"));
  auto qp = q.try_pop();
  REQUIRE(qp);
  q.move_all_to_active_or_backoff();  // e.g. a node was added while the pod was being scheduled
  q.add_unschedulable(*qp);
  CHECK(q.unschedulable_size() == 0);
  CHECK(q.backoff_size() == 1);
  clock.advance(1s);
  CHECK(q.try_pop());
}

TEST_CASE("SchedulingQueue: a pod deleted during its cycle is not requeued; pop wakes on close") {
  util::FakeClock clock;
  SchedulingQueue q(clock);
  q.add(pod("a"));
  auto qp = q.try_pop();
  REQUIRE(qp);
  q.remove("default/a");
  q.add_backoff(*qp);
  q.add_unschedulable(*qp);
  CHECK(q.backoff_size() == 0);
  CHECK(q.unschedulable_size() == 0);
  std::thread t([&] { q.close(); });
  CHECK_FALSE(q.pop());
  t.join();
}

TEST_CASE("fit_error_message: Kubernetes' FailedScheduling text") {
  CHECK(fit_error_message(3, {{"Insufficient cpu", 3}}) == "0/3 nodes are available: 3 Insufficient cpu.");
  CHECK(fit_error_message(5, {{"node(s) were unschedulable", 1},
                              {"Insufficient cpu", 2},
                              {"node(s) had untolerated taint {k: v}", 2}}) ==
        "0/5 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu, 2 node(s) had "
        "untolerated taint {k: v}.");
}

TEST_CASE("num_feasible_nodes_to_find: Kubernetes' adaptive percentage") {
  struct Case {
    std::size_t nodes;
    int percentage;
    std::size_t want;
  };
  const std::vector<Case> cases = {
      {10, 0, 10},     {99, 0, 99},        {100, 0, 100},     {1000, 0, 420},
      {5000, 0, 500},  {6000, 0, 300},     {10000, 0, 500},   {5000, 100, 5000},
      {5000, 50, 2500}, {1000, 1, 100},
  };
  for (const auto& c : cases) {
    CAPTURE(c.nodes);
    CAPTURE(c.percentage);
    CHECK(num_feasible_nodes_to_find(c.nodes, c.percentage) == c.want);
  }
}

}  // namespace
}  // namespace orch::scheduler
