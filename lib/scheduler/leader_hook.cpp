// lease_leader_hook: the scheduler's LeaderHook on controller::LeaderElector.
// Thread-safety: the hook's start/stop are called by Scheduler::start/stop; callbacks run on the
// elector's thread.
#include <memory>

#include "orch/controller/leader_election.hpp"
#include "orch/scheduler/scheduler.hpp"

namespace orch::scheduler {

LeaderHook lease_leader_hook(std::shared_ptr<client::Client> client, std::string identity,
                             util::Clock* clock, std::chrono::nanoseconds retry_period) {
  struct Holder {
    std::unique_ptr<controller::LeaderElector> elector;
  };
  auto holder = std::make_shared<Holder>();
  LeaderHook hook;
  hook.start = [holder, client = std::move(client), identity = std::move(identity), clock,
                retry_period](std::function<void()> started, std::function<void()> stopped) {
    controller::LeaderElectionOptions o;
    o.lease_namespace = "kube-system";
    o.lease_name = "orch-scheduler";
    o.identity = identity;
    o.clock = clock;
    o.retry_period = retry_period;
    if (o.renew_deadline <= o.retry_period) o.renew_deadline = 5 * o.retry_period;
    if (o.lease_duration <= o.renew_deadline) o.lease_duration = o.renew_deadline * 3 / 2;
    o.on_started_leading = std::move(started);
    o.on_stopped_leading = std::move(stopped);
    holder->elector = std::make_unique<controller::LeaderElector>(client, std::move(o));
    return holder->elector->start();
  };
  hook.stop = [holder] {
    if (holder->elector) holder->elector->stop();
  };
  return hook;
}

}  // namespace orch::scheduler
