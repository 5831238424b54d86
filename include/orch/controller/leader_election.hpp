// LeaderElector: leader election on a coordination.k8s.io/v1 Lease, with client-go's
// leaderelection semantics, so several control planes (or schedulers) can run with one active.
//
// - The Lease's spec holds holderIdentity, leaseDurationSeconds, acquireTime, renewTime and
//   leaseTransitions (MicroTime timestamps from the elector's Clock).
// - Candidates try every retry_period (times a jitter in [1, 1.2)). A candidate takes the lease
//   when it does not exist, when its holder is empty (released), or when the lease has not
//   changed for lease_duration as measured by the candidate's own observation: the time on ITS
//   clock when it last saw the lease record change (client-go's observedTime), never the
//   timestamps another machine wrote. Taking it over from another holder increments
//   leaseTransitions and sets acquireTime. Every write is compare-and-swap on resourceVersion.
// - The leader renews every retry_period. When no renew succeeded for renew_deadline it gives up
//   leadership (on_stopped_leading) and the elector ends, as client-go's Run returns; a new
//   LeaderElector is needed to campaign again.
// - stop() of a leader releases the lease (release_on_cancel: holderIdentity "",
//   leaseDurationSeconds 1) so that a standby takes over at its next retry instead of waiting for
//   the lease to expire.
//
// Callbacks run on the elector's thread, in order, never concurrently: on_started_leading once
// the lease is held; on_stopped_leading when leadership ends (lost, or stop() of a leader; not
// called when it never led); on_new_leader when the observed holder changes (including to itself).
// They must return quickly (hand long work to another thread): the elector renews only between
// them. A callback must not call stop() of its own elector (stop joins the elector's thread).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <boost/json/value.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "orch/client/client.hpp"
#include "orch/status.hpp"
#include "orch/util/clock.hpp"

namespace orch::controller {

struct LeaderElectionOptions {
  // Where the Lease lives. Default: "kube-system".
  std::string lease_namespace = "kube-system";
  // Required.
  std::string lease_name{};
  // This candidate's identity, unique among candidates (e.g. "<host>_<uuid>"). Required.
  std::string identity{};
  // How long a lease is valid without renewal, from a candidate's observation. Default: 15 s.
  std::chrono::nanoseconds lease_duration = std::chrono::seconds(15);
  // How long a leader keeps retrying a failed renew before it gives up. Must be less than
  // lease_duration. Default: 10 s.
  std::chrono::nanoseconds renew_deadline = std::chrono::seconds(10);
  // Interval between attempts (acquire or renew). Must be less than renew_deadline. Default: 2 s.
  std::chrono::nanoseconds retry_period = std::chrono::seconds(2);
  // Release the lease on stop() so a standby takes over at once. Default: true.
  bool release_on_cancel = true;
  // Time of observation, expiry and the Lease's timestamps. Not owned. Default: real_clock().
  util::Clock* clock = nullptr;
  std::function<void()> on_started_leading{};
  std::function<void()> on_stopped_leading{};
  std::function<void(const std::string& identity)> on_new_leader{};
};

class LeaderElector {
 public:
  enum class State : std::uint8_t {
    kIdle,       // not started
    kCandidate,  // trying to acquire
    kLeading,    // holds the lease
    kLost,       // led, then failed to renew within renew_deadline; the elector has ended
    kStopped,    // stop() was called
  };

  LeaderElector(std::shared_ptr<client::Client> client, LeaderElectionOptions options);
  // stop()s.
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Starts campaigning on the elector's thread. InvalidArgument when already started or the
  // options are invalid (no lease name or identity, durations out of order).
  Status start();
  // Ends the campaign: a leader releases the lease (when release_on_cancel) and gets
  // on_stopped_leading. Joins the thread. Idempotent.
  void stop();

  bool is_leader() const { return state() == State::kLeading; }
  State state() const { return state_.load(); }
  // The holder this elector last observed ("" when none or unknown).
  std::string leader() const;
  const std::string& identity() const { return options_.identity; }

  // One acquire-or-renew attempt now, on the caller's thread (what the loop does every retry
  // period). True when this elector holds the lease afterwards. For tests of the protocol without
  // the thread; do not mix with start().
  bool try_acquire_or_renew_for_test() { return try_acquire_or_renew(); }

 private:
  void run();
  bool try_acquire_or_renew();
  void release();
  // Waits `d` on the clock (woken early by stop() or a fake clock's jump). False when stopping.
  bool sleep_for(std::chrono::nanoseconds d);
  void set_state(State s);
  void observe(const boost::json::value& lease);

  // Const after construction.
  const std::shared_ptr<client::Client> client_;
  const LeaderElectionOptions options_;
  util::Clock* const clock_;
  std::uint64_t listener_id_ = 0;

  std::atomic<State> state_{State::kIdle};
  std::atomic<bool> stopping_{false};

  std::mutex lifecycle_mu_;  // lock order: before mu_; serializes start() and stop()
  // Guarded by lifecycle_mu_.
  std::thread thread_;
  bool started_ = false;

  mutable std::mutex mu_;  // lock order: after the clock's listener mutex; leaf otherwise
  std::condition_variable cv_;
  // Guarded by mu_: what this elector last saw of the lease.
  std::string observed_holder_;
  std::string observed_record_;  // serialized spec, to notice any change
  std::string observed_rv_;
  util::Clock::TimePoint observed_time_{};
  std::int64_t observed_transitions_ = 0;
  std::string observed_acquire_time_;
  bool have_observation_ = false;
};

}  // namespace orch::controller
