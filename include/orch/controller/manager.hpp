// ControllerManager: runs a set of controllers as one unit, the way kube-controller-manager does.
//
//   ControllerManager manager(client, {.identity = "server-1"});
//   manager.add("replicaset", "replicaset-controller",
//               [](const ControllerContext& ctx) { return new_replicaset_controller(ctx); });
//   manager.start();            // returns at once
//   ...                         // manager.state() == State::kRunning once it leads and runs
//   manager.stop();
//
// - Leader election (default on): the manager campaigns for the Lease
//   <lease_namespace>/<lease_name> (LeaderElector). Only once it leads does it build the
//   controllers (each factory gets a ControllerContext: the client, the shared InformerFactory,
//   an EventRecorder whose component is the registration's component, the clock), start the
//   informers, wait for their caches, and start every controller. Several managers against one
//   API: exactly one acts; when it stops it releases the lease and a standby takes over at its
//   next retry.
// - Losing the lease (no renew within renew_deadline) stops every controller and the informers,
//   as Kubernetes does (its process exits); state() becomes kLostLeadership and
//   on_leadership_lost is called. A manager runs at most one term: build a new one to campaign
//   again.
// - Without leader election the manager starts its controllers at once.
// - Default controllers: a process-wide registry (register_default_controller) that
//   add_default_controllers() adds in registration order; the binary that links the controllers
//   registers them once at startup.
//
// Thread-safety: every method may be called from any thread. Controllers are built, started and
// stopped on the manager's own thread. Lock order: mu_ is a leaf (never held while calling a
// factory, a controller, the informers or the elector).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "orch/client/client.hpp"
#include "orch/client/event_recorder.hpp"
#include "orch/client/informer_factory.hpp"
#include "orch/controller/controller.hpp"
#include "orch/controller/leader_election.hpp"
#include "orch/status.hpp"
#include "orch/util/clock.hpp"

namespace orch::controller {

// Builds one controller, registering its informer handlers on ctx.informers (which has not
// started yet). Called on the manager's thread once the manager leads.
using ControllerFactory =
    std::function<Result<std::unique_ptr<Controller>>(const ControllerContext& ctx)>;

struct ControllerRegistration {
  // Unique within a manager ("replicaset").
  std::string name{};
  // The EventRecorder's component ("replicaset-controller"). Default: "<name>-controller".
  std::string component{};
  ControllerFactory factory{};
};

struct ControllerManagerOptions {
  // This manager's identity in the lease. Default: "<hostname>_<random hex>".
  std::string identity{};
  // Campaign for the lease before acting. Default: true.
  bool leader_election = true;
  // Default: "kube-system", "orch-controller-manager".
  std::string lease_namespace = "kube-system";
  std::string lease_name = "orch-controller-manager";
  // Leader election timings (see LeaderElectionOptions). Default: 15 s, 10 s, 2 s.
  std::chrono::nanoseconds lease_duration = std::chrono::seconds(15);
  std::chrono::nanoseconds renew_deadline = std::chrono::seconds(10);
  std::chrono::nanoseconds retry_period = std::chrono::seconds(2);
  // Clock of the controllers, the elector and the recorders. Not owned. Default: real_clock().
  util::Clock* clock = nullptr;
  // Options every shared informer gets. Default: InformerOptions{}.
  client::InformerOptions informer_defaults{};
  // How long to wait for the informers' caches before starting controllers anyway (logged).
  // Default: 60 s.
  std::chrono::milliseconds cache_sync_timeout{60'000};
  // Called (on the manager's thread) after the controllers stopped because the lease was lost.
  // Default: none.
  std::function<void()> on_leadership_lost{};
};

class ControllerManager {
 public:
  enum class State : std::uint8_t {
    kIdle,            // not started
    kCampaigning,     // waiting for the lease
    kStarting,        // leads; building controllers, syncing caches
    kRunning,         // every controller runs
    kLostLeadership,  // lost the lease; controllers stopped
    kFailed,          // a factory or start failed (last_error()); controllers stopped, lease
                      // released
    kStopped,         // stop() was called
  };

  // `client` must not be null.
  ControllerManager(std::shared_ptr<client::Client> client, ControllerManagerOptions options = {});
  // stop()s.
  ~ControllerManager();
  ControllerManager(const ControllerManager&) = delete;
  ControllerManager& operator=(const ControllerManager&) = delete;

  // Registers a controller. InvalidArgument after start(), for an empty or duplicate name, or a
  // null factory.
  Status add(ControllerRegistration registration);
  Status add(std::string name, std::string component, ControllerFactory factory);
  // add()s every registration of the default registry (see register_default_controller), in
  // order. The first error.
  Status add_default_controllers();

  // Starts campaigning (or, without leader election, starting the controllers) on the manager's
  // thread and returns at once. InvalidArgument when already started.
  Status start();
  // Stops the controllers (each finishes its current key), the informers, then releases the
  // lease. Idempotent; safe before start().
  void stop();

  State state() const { return state_.load(); }
  // True while this manager holds the lease (always true while running without election).
  bool is_leader() const;
  // Why the manager failed (kFailed), or OK.
  Status last_error() const;
  const std::string& identity() const { return identity_; }
  // Names of the registered controllers, in order.
  std::vector<std::string> controller_names() const;
  // The running controller `name`, or null (before the manager leads, or unknown name).
  Controller* controller(std::string_view name);
  // The shared informers (valid for the manager's lifetime).
  client::InformerFactory& informers() { return *informers_; }

 private:
  struct Built {
    std::string name;
    std::unique_ptr<client::EventRecorder> events;
    std::unique_ptr<Controller> controller;
  };
  void run();
  // Builds, syncs and starts every controller. Stops early (OK) when stopping.
  Status run_controllers();
  void stop_controllers();
  // Waits until woken with `pred` true, or stopping. False when stopping.
  bool wait_for(const std::function<bool()>& pred);

  // Const after construction.
  const std::shared_ptr<client::Client> client_;
  const ControllerManagerOptions options_;
  const std::string identity_;
  util::Clock* const clock_;
  const std::unique_ptr<client::InformerFactory> informers_;

  std::atomic<State> state_{State::kIdle};
  std::unique_ptr<LeaderElector> elector_;  // set in start(), before the thread runs

  std::mutex lifecycle_mu_;  // lock order: before mu_; serializes start() and stop()
  // Guarded by lifecycle_mu_.
  std::thread thread_;

  mutable std::mutex mu_;  // lock order: leaf
  std::condition_variable cv_;
  // Guarded by mu_.
  std::vector<ControllerRegistration> registrations_;
  bool started_ = false;
  bool stopping_ = false;
  bool leading_ = false;
  bool lost_ = false;
  Status last_error_;
  // Manager thread only (read by controller() under mu_).
  std::vector<Built> built_;
};

// The default registry: controllers every orch control plane runs. Thread-safe.
// Appends `registration` (a later one with the same name replaces the earlier).
void register_default_controller(ControllerRegistration registration);
// Every default registration, in order.
std::vector<ControllerRegistration> default_controllers();

}  // namespace orch::controller
