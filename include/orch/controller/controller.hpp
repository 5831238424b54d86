// The reconciler framework (controller-runtime's shape, client-go's machinery).
//
// A Reconciler gets a key ("namespace/name"), reads current state from informer caches, writes
// desired state through the API, and returns an Outcome:
//   Outcome::done()                  nothing more to do until something changes
//   Outcome::requeue_after(d)        look again after d (e.g. minReadySeconds, a deadline)
//   Outcome::retry(status)           failed, retry with the key's exponential backoff
//   Outcome::terminal(status)        failed in a way a retry cannot fix (logged, not retried)
// A Controller owns one WorkQueue and `workers` threads that call its Reconciler; the queue
// guarantees no two workers hold one key at once. Event handlers on shared informers feed the
// queue (enqueue(key)), usually mapping a changed object to its owner's key.
//
// A ControllerContext is what every controller is built from: the client, the shared informers
// (InformerFactory: one informer per resource, shared by every controller that asks), an event
// recorder and the clock. Controllers register their informer handlers in their constructor,
// before the factory starts; the ControllerManager (manager.hpp) starts the factory, waits for
// its caches, then starts every controller.
//
// Thread-safety: Controller methods may be called from any thread; reconcile() runs on worker
// threads, possibly several at once for different keys.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "orch/client/client.hpp"
#include "orch/client/event_recorder.hpp"
#include "orch/client/informer_factory.hpp"
#include "orch/client/work_queue.hpp"
#include "orch/status.hpp"
#include "orch/util/clock.hpp"

namespace orch::controller {

class Outcome {
 public:
  enum class Kind : std::uint8_t { kDone, kRequeueAfter, kRetry, kTerminal };

  static Outcome done() { return Outcome(Kind::kDone, {}, Status()); }
  static Outcome requeue_after(std::chrono::nanoseconds d) {
    return Outcome(Kind::kRequeueAfter, d, Status());
  }
  // `status` must not be OK.
  static Outcome retry(Status status) { return Outcome(Kind::kRetry, {}, std::move(status)); }
  static Outcome terminal(Status status) {
    return Outcome(Kind::kTerminal, {}, std::move(status));
  }

  Kind kind() const { return kind_; }
  std::chrono::nanoseconds delay() const { return delay_; }
  const Status& status() const { return status_; }

 private:
  Outcome(Kind kind, std::chrono::nanoseconds delay, Status status)
      : kind_(kind), delay_(delay), status_(std::move(status)) {}
  Kind kind_;
  std::chrono::nanoseconds delay_;
  Status status_;
};

class Reconciler {
 public:
  virtual ~Reconciler() = default;
  // Called on a worker thread; never concurrently for one key.
  virtual Outcome reconcile(const std::string& key) = 0;
};

// Everything a controller is built from. Pointers are not owned and outlive the controllers.
struct ControllerContext {
  std::shared_ptr<client::Client> client;
  client::InformerFactory* informers = nullptr;
  client::EventRecorder* events = nullptr;
  util::Clock* clock = nullptr;  // never null once built by the manager
};

struct ControllerOptions {
  // Names the controller in logs and metrics ("replicaset"). Default: "".
  std::string name{};
  // Worker threads. Default: 2.
  int workers = 2;
  // Backoff of retried keys. Default: 5 ms doubling to 1000 s (client-go's defaults).
  std::chrono::nanoseconds base_delay = std::chrono::milliseconds(5);
  std::chrono::nanoseconds max_delay = std::chrono::seconds(1000);
  // Clock of the queue's delays. Default: real_clock().
  util::Clock* clock = nullptr;
};

// Queue + workers around one Reconciler.
class Controller {
 public:
  // `reconciler` must not be null.
  Controller(ControllerOptions options, std::shared_ptr<Reconciler> reconciler);
  // stop()s.
  virtual ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  const std::string& name() const { return options_.name; }
  // Queues a key (see WorkQueue::add). Safe before start: keys wait for the workers.
  void enqueue(std::string_view key);
  void enqueue_after(std::string_view key, std::chrono::nanoseconds delay);
  client::WorkQueue& queue() { return queue_; }

  // Starts the workers. InvalidArgument when already started.
  virtual Status start();
  // Shuts the queue down and joins the workers (each finishes its current key). Idempotent.
  virtual void stop();

 private:
  void worker();

  // Const after construction.
  const ControllerOptions options_;
  const std::shared_ptr<Reconciler> reconciler_;

  client::WorkQueue queue_;
  std::mutex mu_;  // guards workers_ and started_
  std::vector<std::thread> workers_;
  bool started_ = false;
  std::atomic<bool> stopping_{false};
};


// Where informer handlers send keys. Informer handlers cannot be unregistered and may outlive
// the controller they feed, so they hold a shared KeySink rather than the Controller: the
// controller attaches itself on construction and detaches before it stops, after which add() does
// nothing. Thread-safety: any thread; the sink's mutex is taken before the queue's lock.
class KeySink {
 public:
  // `c` may be null (detach). The caller keeps `c` alive until it detaches it.
  void attach(Controller* c);
  // Queues `key` on the attached controller, if any.
  void add(std::string_view key);
  void add_after(std::string_view key, std::chrono::nanoseconds delay);

 private:
  std::mutex mu_;  // lock order: before the controller's queue lock
  Controller* controller_ = nullptr;  // guarded by mu_
};

// A Controller fed through a KeySink: attaches to `sink` on construction, detaches (then stops)
// on destruction. `sink` must not be null.
class SinkController : public Controller {
 public:
  SinkController(ControllerOptions options, std::shared_ptr<Reconciler> reconciler,
                 std::shared_ptr<KeySink> sink);
  ~SinkController() override;

 private:
  const std::shared_ptr<KeySink> sink_;
};

// The options of a controller named `name` with `workers` workers on ctx.clock.
ControllerOptions controller_options(std::string name, int workers, const ControllerContext& ctx);

// The usual factory body: a KeySink, a reconciler made by `make(sink)` (a
// std::shared_ptr<R>), its informer handlers registered by `reconciler->register_handlers(
// reconciler)` (a Status), and a SinkController around both. Returns what register_handlers
// returns when it fails.
template <class Make>
Result<std::unique_ptr<Controller>> make_sink_controller(ControllerOptions options, Make make) {
  auto sink = std::make_shared<KeySink>();
  auto reconciler = make(sink);
  ORCH_TRY(reconciler->register_handlers(reconciler));
  return std::unique_ptr<Controller>(std::make_unique<SinkController>(
      std::move(options), std::move(reconciler), std::move(sink)));
}

}  // namespace orch::controller
