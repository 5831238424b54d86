// Controller: a WorkQueue and worker threads around one Reconciler. Thread-safety: mu_ guards the
// worker list and the started flag; the queue has its own lock; workers touch nothing else.
#include "orch/controller/controller.hpp"
#include "orch/util/log.hpp"

#include <cstdio>
#include <exception>

#include <fmt/format.h>

namespace orch::controller {

void KeySink::attach(Controller* c) {
  std::lock_guard lock(mu_);
  controller_ = c;
}

void KeySink::add(std::string_view key) {
  std::lock_guard lock(mu_);
  if (controller_) controller_->enqueue(key);
}

void KeySink::add_after(std::string_view key, std::chrono::nanoseconds delay) {
  std::lock_guard lock(mu_);
  if (controller_) controller_->enqueue_after(key, delay);
}


namespace {

client::WorkQueueOptions queue_options(const ControllerOptions& o) {
  client::WorkQueueOptions q;
  q.clock = o.clock;
  q.base_delay = o.base_delay;
  q.max_delay = o.max_delay;
  return q;
}

// One line on stderr: logs of reconcile failures are the operator's only view of them.
void log_line(const std::string& line) { ORCH_LOG(kWarning, "controller-manager", "{}", line); }

}  // namespace

Controller::Controller(ControllerOptions options, std::shared_ptr<Reconciler> reconciler)
    : options_(std::move(options)),
      reconciler_(std::move(reconciler)),
      queue_(queue_options(options_)) {
  ORCH_CHECK(reconciler_ != nullptr);
}

Controller::~Controller() { Controller::stop(); }

void Controller::enqueue(std::string_view key) { queue_.add(key); }

void Controller::enqueue_after(std::string_view key, std::chrono::nanoseconds delay) {
  queue_.add_after(key, delay);
}

Status Controller::start() {
  std::lock_guard lock(mu_);
  if (started_) return invalid_argument(fmt::format("controller {} already started", name()));
  started_ = true;
  if (stopping_.load()) return Status();  // stopped before it started: nothing to run
  int n = options_.workers > 0 ? options_.workers : 1;
  try {
    for (int i = 0; i < n; ++i) workers_.emplace_back([this] { worker(); });
  } catch (const std::exception& e) {
    return internal_error(fmt::format("controller {}: cannot start a worker: {}", name(), e.what()));
  }
  return Status();
}

void Controller::stop() {
  stopping_.store(true);
  queue_.shut_down();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (auto& t : workers) {
    if (t.joinable()) t.join();
  }
}

void Controller::worker() {
  while (true) {
    auto key = queue_.get(std::chrono::milliseconds(500));
    if (!key) {
      if (queue_.shutting_down()) return;
      continue;
    }
    if (stopping_.load()) {  // drop what is still queued: a stopped controller acts no more
      queue_.done(*key);
      continue;
    }
    Outcome outcome = Outcome::done();
    try {
      outcome = reconciler_->reconcile(*key);
    } catch (const std::exception& e) {
      outcome = Outcome::retry(internal_error(std::string("reconcile threw: ") + e.what()));
    } catch (...) {
      outcome = Outcome::retry(internal_error("reconcile threw"));
    }
    switch (outcome.kind()) {
      case Outcome::Kind::kDone:
        queue_.forget(*key);
        break;
      case Outcome::Kind::kRequeueAfter:
        queue_.forget(*key);
        queue_.add_after(*key, outcome.delay());
        break;
      case Outcome::Kind::kRetry: {
        // A lost compare-and-swap (409) is routine between controllers that write one object:
        // retried quietly unless it keeps happening, as Kubernetes logs it only at high verbosity.
        const int attempt = queue_.num_requeues(*key) + 1;
        if (outcome.status().code() != Code::kAborted || attempt >= 5) {
          log_line(fmt::format("controller {}: reconcile {} failed (retry {}): {}", name(), *key,
                               attempt, outcome.status().to_string()));
        }
        queue_.add_rate_limited(*key);
        break;
      }
      case Outcome::Kind::kTerminal:
        log_line(fmt::format("controller {}: reconcile {} failed, not retried: {}", name(), *key,
                             outcome.status().to_string()));
        queue_.forget(*key);
        break;
    }
    queue_.done(*key);
  }
}

SinkController::SinkController(ControllerOptions options, std::shared_ptr<Reconciler> reconciler,
                               std::shared_ptr<KeySink> sink)
    : Controller(std::move(options), std::move(reconciler)), sink_(std::move(sink)) {
  ORCH_CHECK(sink_ != nullptr);
  sink_->attach(this);
}

SinkController::~SinkController() {
  sink_->attach(nullptr);
  Controller::stop();
}

ControllerOptions controller_options(std::string name, int workers, const ControllerContext& ctx) {
  ControllerOptions o;
  o.name = std::move(name);
  o.workers = workers;
  o.clock = ctx.clock;
  return o;
}

}  // namespace orch::controller
