// ControllerManager (see manager.hpp). Thread-safety: the manager's thread builds, starts and
// stops controllers; mu_ guards the registrations and the flags the elector's callbacks and
// stop() set, and is the condition variable's mutex; lifecycle_mu_ serializes start()/stop().
#include "orch/controller/manager.hpp"
#include "orch/util/log.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include <fmt/format.h>

namespace orch::controller {

namespace {

std::string default_identity() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof(host), "orch");
  }
  std::random_device rd;
  return fmt::format("{}_{:08x}{:08x}", host, rd(), rd());
}

void log_line(const std::string& line) { ORCH_LOG(kWarning, "controller-manager", "{}", line); }

std::mutex& registry_mu() {
  static std::mutex mu;
  return mu;
}
std::vector<ControllerRegistration>& registry() {
  static std::vector<ControllerRegistration> r;
  return r;
}

}  // namespace

void register_default_controller(ControllerRegistration registration) {
  std::lock_guard lock(registry_mu());
  auto& r = registry();
  auto it = std::find_if(r.begin(), r.end(),
                         [&](const auto& x) { return x.name == registration.name; });
  if (it != r.end()) {
    *it = std::move(registration);
  } else {
    r.push_back(std::move(registration));
  }
}

std::vector<ControllerRegistration> default_controllers() {
  std::lock_guard lock(registry_mu());
  return registry();
}

ControllerManager::ControllerManager(std::shared_ptr<client::Client> client,
                                     ControllerManagerOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      identity_(options_.identity.empty() ? default_identity() : options_.identity),
      clock_(options_.clock ? options_.clock : &util::real_clock()),
      informers_(std::make_unique<client::InformerFactory>(client_, options_.informer_defaults)) {
  ORCH_CHECK(client_ != nullptr);
}

ControllerManager::~ControllerManager() { stop(); }

Status ControllerManager::add(ControllerRegistration registration) {
  if (registration.name.empty()) return invalid_argument("a controller needs a name");
  if (!registration.factory) {
    return invalid_argument(fmt::format("controller {} has no factory", registration.name));
  }
  if (registration.component.empty()) registration.component = registration.name + "-controller";
  std::lock_guard lock(mu_);
  if (started_) {
    return invalid_argument(
        fmt::format("controller {} added after the manager started", registration.name));
  }
  for (const auto& r : registrations_) {
    if (r.name == registration.name) {
      return invalid_argument(fmt::format("controller {} added twice", registration.name));
    }
  }
  registrations_.push_back(std::move(registration));
  return Status();
}

Status ControllerManager::add(std::string name, std::string component, ControllerFactory factory) {
  return add(ControllerRegistration{std::move(name), std::move(component), std::move(factory)});
}

Status ControllerManager::add_default_controllers() {
  for (auto& r : default_controllers()) ORCH_TRY(add(std::move(r)));
  return Status();
}

std::vector<std::string> ControllerManager::controller_names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& r : registrations_) out.push_back(r.name);
  return out;
}

Controller* ControllerManager::controller(std::string_view name) {
  std::lock_guard lock(mu_);
  for (auto& b : built_) {
    if (b.name == name) return b.controller.get();
  }
  return nullptr;
}

bool ControllerManager::is_leader() const {
  State s = state();
  if (s != State::kStarting && s != State::kRunning) return false;
  if (!options_.leader_election) return true;
  std::lock_guard lock(mu_);
  return leading_;
}

Status ControllerManager::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

Status ControllerManager::start() {
  std::lock_guard lifecycle(lifecycle_mu_);
  {
    std::lock_guard lock(mu_);
    if (started_) return invalid_argument("controller manager already started");
    started_ = true;
    if (stopping_) return Status();
  }
  if (options_.leader_election) {
    LeaderElectionOptions eo;
    eo.lease_namespace = options_.lease_namespace;
    eo.lease_name = options_.lease_name;
    eo.identity = identity_;
    eo.lease_duration = options_.lease_duration;
    eo.renew_deadline = options_.renew_deadline;
    eo.retry_period = options_.retry_period;
    eo.release_on_cancel = true;
    eo.clock = clock_;
    eo.on_started_leading = [this] {
      std::lock_guard lock(mu_);
      leading_ = true;
      cv_.notify_all();
    };
    eo.on_stopped_leading = [this] {
      std::lock_guard lock(mu_);
      if (leading_) lost_ = true;
      leading_ = false;
      cv_.notify_all();
    };
    elector_ = std::make_unique<LeaderElector>(client_, std::move(eo));
    state_.store(State::kCampaigning);
    Status s = elector_->start();
    if (!s.ok()) {
      std::lock_guard lock(mu_);
      last_error_ = s;
      state_.store(State::kFailed);
      return s;
    }
  }
  thread_ = std::thread([this] { run(); });
  return Status();
}

void ControllerManager::stop() {
  std::lock_guard lifecycle(lifecycle_mu_);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  // Controllers stop first (on the manager's thread), then the lease is released, so two
  // managers never act at once.
  if (thread_.joinable()) thread_.join();
  if (elector_) elector_->stop();
  informers_->stop();
  State s = state();
  if (s != State::kLostLeadership && s != State::kFailed) state_.store(State::kStopped);
}

bool ControllerManager::wait_for(const std::function<bool()>& pred) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return stopping_ || pred(); });
  return !stopping_;
}

void ControllerManager::run() {
  if (options_.leader_election) {
    if (!wait_for([this] { return leading_ || lost_; })) return;
  }
  state_.store(State::kStarting);
  Status s = run_controllers();
  if (!s.ok()) {
    log_line(fmt::format("controller manager {}: {}", identity_, s.to_string()));
    stop_controllers();
    {
      std::lock_guard lock(mu_);
      last_error_ = s;
    }
    state_.store(State::kFailed);
    // A manager that cannot run must not sit on the lease: release it for a standby.
    if (elector_) elector_->stop();
    return;
  }
  bool lost = false;
  {
    std::unique_lock lock(mu_);
    if (!stopping_) state_.store(State::kRunning);
    cv_.wait(lock, [&] { return stopping_ || lost_; });
    lost = lost_ && !stopping_;
  }
  stop_controllers();
  if (lost) {
    log_line(fmt::format("controller manager {}: lost the lease {}/{}; controllers stopped",
                         identity_, options_.lease_namespace, options_.lease_name));
    state_.store(State::kLostLeadership);
    if (options_.on_leadership_lost) options_.on_leadership_lost();
  }
}

Status ControllerManager::run_controllers() {
  std::vector<ControllerRegistration> regs;
  {
    std::lock_guard lock(mu_);
    regs = registrations_;
  }
  auto stopping = [this] {
    std::lock_guard lock(mu_);
    return stopping_ || lost_;
  };
  for (const auto& reg : regs) {
    if (stopping()) return Status();
    client::EventRecorderOptions ro;
    ro.component = reg.component;
    ro.clock = clock_;
    Built b;
    b.name = reg.name;
    b.events = std::make_unique<client::EventRecorder>(client_, ro);
    ControllerContext ctx;
    ctx.client = client_;
    ctx.informers = informers_.get();
    ctx.events = b.events.get();
    ctx.clock = clock_;
    auto c = reg.factory(ctx);
    if (!c.ok()) {
      return Status(c.status().code(),
                    fmt::format("controller {}: {}", reg.name, c.status().message()));
    }
    if (!*c) return internal_error(fmt::format("controller {}: the factory built nothing", reg.name));
    b.controller = std::move(c).value();
    std::lock_guard lock(mu_);
    built_.push_back(std::move(b));
  }
  if (stopping()) return Status();
  ORCH_TRY(informers_->start());
  const auto deadline = std::chrono::steady_clock::now() + options_.cache_sync_timeout;
  bool synced = false;
  while (!stopping() && !(synced = informers_->wait_for_sync(std::chrono::milliseconds(100)))) {
    if (std::chrono::steady_clock::now() >= deadline) {
      log_line(fmt::format("controller manager {}: caches not synced after {} ms; starting anyway",
                           identity_, options_.cache_sync_timeout.count()));
      break;
    }
  }
  std::vector<Controller*> to_start;
  {
    std::lock_guard lock(mu_);
    for (auto& b : built_) to_start.push_back(b.controller.get());
  }
  for (Controller* c : to_start) {
    if (stopping()) return Status();
    Status s = c->start();
    if (!s.ok()) return Status(s.code(), fmt::format("controller {}: {}", c->name(), s.message()));
  }
  return Status();
}

void ControllerManager::stop_controllers() {
  std::vector<Built> built;
  {
    std::lock_guard lock(mu_);
    built.swap(built_);
  }
  for (auto it = built.rbegin(); it != built.rend(); ++it) it->controller->stop();
  informers_->stop();
  // Controllers (which may reference the informers and recorders) go first, then the recorders
  // flush what the controllers recorded.
  for (auto& b : built) b.controller.reset();
  built.clear();
}

}  // namespace orch::controller
