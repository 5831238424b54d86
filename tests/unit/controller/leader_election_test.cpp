// LeaderElector on a FakeClock against an in-process API server: the Lease protocol step by step
// (create, renew keeps acquireTime, takeover only after a lease duration of the candidate's own
// observation, leaseTransitions), then the elector's thread: one leader among candidates, release
// on stop hands over at once, expiry hands over after the lease duration, and a leader whose
// renews fail past the renew deadline steps down.
#include <doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "control_plane.hpp"
#include "orch/api/time.hpp"
#include "orch/client/in_process_transport.hpp"
#include "orch/client/resource.hpp"
#include "orch/controller/leader_election.hpp"
#include "orch/util/clock.hpp"

namespace orch::controller {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::kLeases;
using orch::testing::wait_until;

// A transport that fails every request while `fail` is set (a partitioned leader).
class FlakyTransport : public client::Transport {
 public:
  explicit FlakyTransport(std::unique_ptr<client::Transport> inner) : inner_(std::move(inner)) {}
  Result<client::HttpResponse> request(const client::HttpRequest& r) override {
    if (fail.load()) return unavailable("injected failure");
    return inner_->request(r);
  }
  Result<std::unique_ptr<client::ByteStream>> stream(const client::HttpRequest& r) override {
    if (fail.load()) return unavailable("injected failure");
    return inner_->stream(r);
  }
  std::atomic<bool> fail{false};

 private:
  std::unique_ptr<client::Transport> inner_;
};

LeaderElectionOptions options(std::string identity, util::Clock* clock) {
  LeaderElectionOptions o;
  o.lease_namespace = "kube-system";
  o.lease_name = "test-lease";
  o.identity = std::move(identity);
  o.clock = clock;
  o.lease_duration = 15s;
  o.renew_deadline = 10s;
  o.retry_period = 2s;
  return o;
}

json::value lease_of(const client::Client& c) {
  auto l = c.get(kLeases, "kube-system", "test-lease");
  REQUIRE_MESSAGE(l.ok(), l.status().to_string());
  return *l;
}
std::string spec_string(const json::value& lease, std::string_view key) {
  const auto* v = lease.at("spec").as_object().if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}
std::int64_t spec_int(const json::value& lease, std::string_view key) {
  const auto* v = lease.at("spec").as_object().if_contains(key);
  return v ? v->to_number<std::int64_t>() : -1;
}

TEST_CASE("Lease protocol: create, renew, takeover only after the candidate's own lease duration") {
  orch::testing::ControlPlane cp;
  util::FakeClock clock;
  LeaderElector a(cp.client(), options("a", &clock));
  LeaderElector b(cp.client(), options("b", &clock));

  REQUIRE(a.try_acquire_or_renew_for_test());
  auto lease = lease_of(*cp.client());
  CHECK(spec_string(lease, "holderIdentity") == "a");
  CHECK(spec_int(lease, "leaseDurationSeconds") == 15);
  CHECK(spec_int(lease, "leaseTransitions") == 0);
  const std::string acquired = spec_string(lease, "acquireTime");
  CHECK(acquired == api::MicroTime{clock.system_now()}.to_string());
  CHECK(spec_string(lease, "renewTime") == acquired);

  CHECK_FALSE(b.try_acquire_or_renew_for_test());
  CHECK(b.leader() == "a");

  clock.advance(10s);
  REQUIRE(a.try_acquire_or_renew_for_test());  // renew
  lease = lease_of(*cp.client());
  CHECK(spec_string(lease, "acquireTime") == acquired);
  CHECK(spec_string(lease, "renewTime") == api::MicroTime{clock.system_now()}.to_string());
  CHECK(spec_int(lease, "leaseTransitions") == 0);

  // b last saw a change 10 s ago on its clock, but sees the renewal now: the clock restarts.
  clock.advance(10s);
  CHECK_FALSE(b.try_acquire_or_renew_for_test());
  clock.advance(14s);
  CHECK_FALSE(b.try_acquire_or_renew_for_test());
  clock.advance(1s);  // 15 s without a change, by b's observation
  REQUIRE(b.try_acquire_or_renew_for_test());
  lease = lease_of(*cp.client());
  CHECK(spec_string(lease, "holderIdentity") == "b");
  CHECK(spec_int(lease, "leaseTransitions") == 1);
  CHECK(spec_string(lease, "acquireTime") == api::MicroTime{clock.system_now()}.to_string());

  // a sees b's record for the first time: it must wait a whole lease duration itself.
  CHECK_FALSE(a.try_acquire_or_renew_for_test());
  CHECK(a.leader() == "b");
}

TEST_CASE("expiry is judged by the candidate's observation, not the timestamps in the lease") {
  orch::testing::ControlPlane cp;
  util::FakeClock clock;
  // A lease renewed "an hour ago" by a machine whose clock may be off.
  auto old = api::MicroTime{clock.system_now() - 1h}.to_string();
  json::value lease = {{"apiVersion", "coordination.k8s.io/v1"},
                       {"kind", "Lease"},
                       {"metadata", {{"name", "test-lease"}, {"namespace", "kube-system"}}},
                       {"spec",
                        {{"holderIdentity", "elsewhere"},
                         {"leaseDurationSeconds", 15},
                         {"acquireTime", old},
                         {"renewTime", old},
                         {"leaseTransitions", 3}}}};
  REQUIRE(cp.client()->create(kLeases, "kube-system", lease).ok());
  LeaderElector c(cp.client(), options("c", &clock));
  CHECK_FALSE(c.try_acquire_or_renew_for_test());
  clock.advance(14s);
  CHECK_FALSE(c.try_acquire_or_renew_for_test());
  clock.advance(1s);
  REQUIRE(c.try_acquire_or_renew_for_test());
  CHECK(spec_int(lease_of(*cp.client()), "leaseTransitions") == 4);
}

TEST_CASE("bad options are refused") {
  orch::testing::ControlPlane cp;
  util::FakeClock clock;
  struct Case {
    const char* name;
    std::function<void(LeaderElectionOptions&)> change;
  };
  std::vector<Case> cases = {
      {"no lease name", [](auto& o) { o.lease_name.clear(); }},
      {"no identity", [](auto& o) { o.identity.clear(); }},
      {"renew deadline >= lease duration", [](auto& o) { o.renew_deadline = 15s; }},
      {"retry period >= renew deadline", [](auto& o) { o.retry_period = 10s; }},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      auto o = options("x", &clock);
      c.change(o);
      LeaderElector e(cp.client(), o);
      CHECK(e.start().code() == Code::kInvalidArgument);
    }
  }
}

// Counts callbacks of one elector.
struct Calls {
  std::atomic<int> started{0}, stopped{0};
  void wire(LeaderElectionOptions& o) {
    o.on_started_leading = [this] { ++started; };
    o.on_stopped_leading = [this] { ++stopped; };
  }
};

int count_leaders(const std::vector<std::unique_ptr<LeaderElector>>& es) {
  int n = 0;
  for (const auto& e : es) n += e->is_leader() ? 1 : 0;
  return n;
}

TEST_CASE("one leader among candidates; stopping it releases the lease to a standby at once") {
  orch::testing::ControlPlane cp;
  util::FakeClock clock;
  std::vector<Calls> calls(3);
  std::vector<std::unique_ptr<LeaderElector>> es;
  for (int i = 0; i < 3; ++i) {
    auto o = options("e" + std::to_string(i), &clock);
    calls[i].wire(o);
    es.push_back(std::make_unique<LeaderElector>(cp.client(), o));
  }
  for (auto& e : es) REQUIRE(e->start().ok());
  REQUIRE(wait_until([&] { return count_leaders(es) == 1; }));
  int leader = es[0]->is_leader() ? 0 : es[1]->is_leader() ? 1 : 2;
  // After a retry period everyone has looked at the lease (a candidate that lost the race to
  // create it learns nothing until its next attempt): each knows who leads. Time moves in small
  // steps while waiting, since a thread may not be asleep yet when the clock jumps.
  REQUIRE(wait_until([&] {
    for (auto& e : es) {
      if (e->leader() != es[leader]->identity()) {
        clock.advance(100ms);
        return false;
      }
    }
    return true;
  }));
  // Time passes; the leader renews, nobody else takes over.
  for (int i = 0; i < 10; ++i) {
    std::string before = spec_string(lease_of(*cp.client()), "renewTime");
    bool renewed = wait_until([&] {
      if (spec_string(lease_of(*cp.client()), "renewTime") != before) return true;
      clock.advance(100ms);
      return false;
    });
    REQUIRE_MESSAGE(renewed, json::serialize(lease_of(*cp.client())), " round ", i);
    CHECK(count_leaders(es) == 1);
    CHECK(es[leader]->is_leader());
  }
  CHECK(calls[leader].started.load() == 1);

  es[leader]->stop();
  CHECK(calls[leader].stopped.load() == 1);
  CHECK(es[leader]->state() == LeaderElector::State::kStopped);
  auto lease = lease_of(*cp.client());
  CHECK(spec_string(lease, "holderIdentity").empty());
  CHECK(spec_int(lease, "leaseDurationSeconds") == 1);
  // A standby takes over at its next retry, long before the 15 s lease duration.
  REQUIRE(wait_until([&] {
    if (count_leaders(es) == 1) return true;
    clock.advance(100ms);
    return false;
  }));
  CHECK_FALSE(es[leader]->is_leader());
  CHECK(spec_int(lease_of(*cp.client()), "leaseTransitions") == 1);
  for (auto& e : es) e->stop();
  int started = 0, stopped = 0;
  for (auto& c : calls) {
    started += c.started.load();
    stopped += c.stopped.load();
  }
  CHECK(started == 2);
  CHECK(stopped == 2);
}

TEST_CASE("a leader that vanishes without releasing is replaced once the lease expires") {
  orch::testing::ControlPlane cp;
  util::FakeClock clock;
  auto oa = options("a", &clock);
  oa.release_on_cancel = false;
  LeaderElector a(cp.client(), oa);
  REQUIRE(a.start().ok());
  REQUIRE(wait_until([&] { return a.is_leader(); }));
  LeaderElector b(cp.client(), options("b", &clock));
  REQUIRE(b.start().ok());
  REQUIRE(wait_until([&] { return b.leader() == "a"; }));
  a.stop();
  CHECK(spec_string(lease_of(*cp.client()), "holderIdentity") == "a");
  clock.advance(10s);
  std::this_thread::sleep_for(20ms);
  CHECK_FALSE(b.is_leader());  // not yet: 15 s of b's observation have not passed
  // Step time until b takes over (its thread needs a moment after each jump).
  CHECK(wait_until([&] {
    if (b.is_leader()) return true;
    clock.advance(1s);
    return false;
  }));
  auto lease = lease_of(*cp.client());
  CHECK(spec_string(lease, "holderIdentity") == "b");
  CHECK(spec_int(lease, "leaseTransitions") == 1);
}

TEST_CASE("a leader whose renewals fail past the renew deadline steps down") {
  orch::testing::ControlPlane cp;
  util::FakeClock clock;
  auto flaky = std::make_shared<FlakyTransport>(
      client::make_in_process_transport(cp.server().handler()));
  auto flaky_client = std::make_shared<client::Client>(flaky);
  Calls calls;
  auto o = options("a", &clock);
  calls.wire(o);
  LeaderElector a(flaky_client, o);
  REQUIRE(a.start().ok());
  REQUIRE(wait_until([&] { return a.is_leader(); }));
  flaky->fail = true;
  clock.advance(5s);
  std::this_thread::sleep_for(20ms);
  CHECK(a.is_leader());  // still within the renew deadline
  CHECK(wait_until([&] {
    if (a.state() == LeaderElector::State::kLost) return true;
    clock.advance(1s);
    return false;
  }));
  CHECK(calls.started.load() == 1);
  CHECK(wait_until([&] { return calls.stopped.load() == 1; }));
  CHECK_FALSE(a.is_leader());
  a.stop();
  CHECK(a.state() == LeaderElector::State::kLost);
  CHECK(calls.stopped.load() == 1);
}

}  // namespace
}  // namespace orch::controller
