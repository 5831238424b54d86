// Scheduler: informers -> cache and queue; one scheduling thread; binder threads.
// Thread-safety: see scheduler.hpp. Informer handlers (informer threads) touch only the cache and
// the queue, each behind its own mutex; the scheduling thread holds the cache's mutex for one
// cycle's filter/score/assume; binder threads call the API, then the cache and the queue.
#include "orch/scheduler/scheduler.hpp"

#include <boost/json.hpp>
#include <algorithm>
#include <map>
#include <shared_mutex>

#include "orch/api/time.hpp"
#include "orch/controller/volume_binding.hpp"
#include "orch/scheduler/plugins.hpp"
#include "orch/util/log.hpp"

namespace orch::scheduler {

namespace json = boost::json;
using client::SharedObject;

namespace {

constexpr std::size_t kMinFeasibleNodesToFind = 100;
constexpr int kMinFeasibleNodesPercentageToFind = 5;
constexpr std::chrono::seconds kCleanupInterval{1};
constexpr std::chrono::seconds kSyncTimeout{30};
constexpr const char* kNoNodesAvailable = "no nodes available to schedule pods";
constexpr const char* kLog = "scheduler";  // log component

bool terminal(const PodInfo& p) { return p.phase == "Succeeded" || p.phase == "Failed"; }

api::ObjectReference pod_ref(const PodInfo& p) {
  api::ObjectReference ref;
  ref.kind = "Pod";
  ref.api_version = "v1";
  ref.namespace_ = p.ns;
  ref.name = p.name;
  ref.uid = p.uid;
  return ref;
}

// Whether the pod already carries PodScheduled=False/Unschedulable with this message.
bool has_unschedulable_condition(const PodInfo& p, const std::string& message) {
  if (!p.object) return false;
  const auto* o = p.object->if_object();
  const auto* st = o ? o->if_contains("status") : nullptr;
  const auto* conds = st && st->is_object() ? st->get_object().if_contains("conditions") : nullptr;
  if (!conds || !conds->is_array()) return false;
  for (const auto& c : conds->get_array()) {
    const auto* co = c.if_object();
    if (!co) continue;
    auto str = [&](std::string_view k) -> std::string_view {
      const auto* v = co->if_contains(k);
      return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
    };
    if (str("type") == "PodScheduled") {
      return str("status") == "False" && str("reason") == "Unschedulable" &&
             str("message") == message;
    }
  }
  return false;
}

}  // namespace

// Keeps informer handlers from running into a destroyed Scheduler (shared informers outlive it).
struct HandlerGuard {
  std::shared_mutex mu;
  bool alive = true;
};

std::size_t num_feasible_nodes_to_find(std::size_t all_nodes, int percentage) {
  if (all_nodes < kMinFeasibleNodesToFind || percentage >= 100) return all_nodes;
  std::int64_t adaptive = percentage;
  if (adaptive <= 0) {
    adaptive = 50 - static_cast<std::int64_t>(all_nodes) / 125;
    if (adaptive < kMinFeasibleNodesPercentageToFind) adaptive = kMinFeasibleNodesPercentageToFind;
  }
  std::size_t n = all_nodes * static_cast<std::size_t>(adaptive) / 100;
  return std::max(n, kMinFeasibleNodesToFind);
}

std::string fit_error_message(std::size_t all_nodes, const std::map<std::string, int>& reasons) {
  std::vector<std::string> parts;
  parts.reserve(reasons.size());
  for (const auto& [reason, n] : reasons) parts.push_back(std::to_string(n) + " " + reason);
  std::sort(parts.begin(), parts.end());
  std::string out = "0/" + std::to_string(all_nodes) + " nodes are available: ";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += ", ";
    out += parts[i];
  }
  out += ".";
  return out;
}

Scheduler::Scheduler(std::shared_ptr<client::Client> client, SchedulerOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : util::real_clock()) {
  rng_.seed(options_.random_seed ? options_.random_seed : std::random_device{}());
}

Result<std::unique_ptr<Scheduler>> Scheduler::create(std::shared_ptr<client::Client> client,
                                                     SchedulerOptions options) {
  if (!client) return Status(Code::kInvalidArgument, "scheduler needs a client");
  std::unique_ptr<Scheduler> s(new Scheduler(std::move(client), std::move(options)));
  ORCH_TRY(s->init(nullptr));
  return s;
}

Result<std::unique_ptr<Scheduler>> Scheduler::create(client::InformerFactory& informers,
                                                     SchedulerOptions options) {
  std::unique_ptr<Scheduler> s(new Scheduler(informers.client(), std::move(options)));
  ORCH_TRY(s->init(&informers));
  return s;
}

Status Scheduler::init(client::InformerFactory* factory) {
  guard_ = std::make_shared<HandlerGuard>();
  cache_ = std::make_unique<SchedulerCache>(clock_, options_.assumed_pod_ttl);
  QueueOptions qo;
  qo.initial_backoff = options_.pod_initial_backoff;
  qo.max_backoff = options_.pod_max_backoff;
  queue_ = std::make_unique<SchedulingQueue>(clock_, qo);
  if (options_.record_events) {
    client::EventRecorderOptions eo;
    eo.component = options_.scheduler_name;
    eo.clock = &clock_;
    recorder_ = std::make_unique<client::EventRecorder>(client_, eo);
  }
  factory_ = factory;
  auto make = [&](const client::Resource& r) -> client::Informer* {
    if (factory) return &factory->informer(r);
    owned_informers_.push_back(std::make_unique<client::Informer>(client_, r));
    return owned_informers_.back().get();
  };
  nodes_ = make(client::resources::kNodes);
  pods_ = make(client::resources::kPods);
  pvs_ = make(client::resources::kPersistentVolumes);
  pvcs_ = make(client::resources::kPersistentVolumeClaims);
  // StorageClasses (VolumeBinding only): a class seen late only delays the pods that need it.
  client::Informer* classes = make(controller::kStorageClassesResource);
  VolumeBindingSource volumes{
      .claim = [this](const std::string& ns,
                      const std::string& name) { return pvcs_->get(ns, name); },
      .volumes = [this] { return pvs_->list(); },
      .classes = [classes] { return classes->list(); },
      .node = [this](const std::string& name) { return nodes_->get("", name); }};
  framework_ = default_framework(
      [this](const std::string& ns, const std::string& claim) { return lookup_claim(ns, claim); },
      client_, std::move(volumes));
  if (options_.configure_framework) options_.configure_framework(framework_);

  // Handlers hold the guard's shared lock while they run; the destructor takes it exclusively.
  std::weak_ptr<HandlerGuard> weak = guard_;
  auto guarded = [weak](auto fn) {
    return [weak, fn](auto&&... args) {
      auto g = weak.lock();
      if (!g) return;
      std::shared_lock lock(g->mu);
      if (!g->alive) return;
      fn(args...);
    };
  };
  client::EventHandlers node_h;
  node_h.on_add = guarded([this](const SharedObject& o) { on_node_add(o); });
  node_h.on_update =
      guarded([this](const SharedObject& a, const SharedObject& b) { on_node_update(a, b); });
  node_h.on_delete = guarded([this](const SharedObject& o) { on_node_delete(o); });
  ORCH_TRY(nodes_->add_event_handler(std::move(node_h)));
  client::EventHandlers pod_h;
  pod_h.on_add = guarded([this](const SharedObject& o) { on_pod_add(o); });
  pod_h.on_update =
      guarded([this](const SharedObject& a, const SharedObject& b) { on_pod_update(a, b); });
  pod_h.on_delete = guarded([this](const SharedObject& o) { on_pod_delete(o); });
  ORCH_TRY(pods_->add_event_handler(std::move(pod_h)));
  for (client::Informer* inf : {pvs_, pvcs_, classes}) {
    client::EventHandlers h;
    h.on_add = guarded([this](const SharedObject&) { on_volume_change(); });
    h.on_update = guarded([this](const SharedObject&, const SharedObject&) { on_volume_change(); });
    h.on_delete = guarded([this](const SharedObject&) { on_volume_change(); });
    ORCH_TRY(inf->add_event_handler(std::move(h)));
  }
  return Status();
}

Scheduler::~Scheduler() {
  stop();
  if (guard_) {
    std::unique_lock lock(guard_->mu);
    guard_->alive = false;
  }
}

bool Scheduler::ours(const PodInfo& pod) const {
  return pod.scheduler_name.empty() || pod.scheduler_name == options_.scheduler_name;
}

// ----------------------------------------------------------------------------- informer events

void Scheduler::on_pod_add(const SharedObject& obj) {
  auto p = parse_pod(obj);
  if (!p.ok()) return;
  const PodInfoPtr& pod = *p;
  if (!pod->node_name.empty()) {
    cache_->add_or_update_pod(pod);
    queue_->remove(pod->key);
    return;
  }
  if (ours(*pod) && !pod->terminating && !terminal(*pod)) queue_->add(pod);
}

void Scheduler::on_pod_update(const SharedObject& old_obj, const SharedObject& new_obj) {
  auto p = parse_pod(new_obj);
  if (!p.ok()) return;
  const PodInfoPtr& pod = *p;
  if (!pod->node_name.empty()) {
    cache_->add_or_update_pod(pod);
    queue_->remove(pod->key);
    if (terminal(*pod)) queue_->move_all_to_active_or_backoff();
    return;
  }
  if (!ours(*pod) || pod->terminating || terminal(*pod)) {
    queue_->remove(pod->key);
    return;
  }
  bool relevant = true;
  if (old_obj) {
    auto old = parse_pod(old_obj);
    if (old.ok()) relevant = (*old)->spec_hash != pod->spec_hash;
  }
  queue_->update(pod, relevant);
}

void Scheduler::on_pod_delete(const SharedObject& obj) {
  auto p = parse_pod(obj);
  if (!p.ok()) return;
  const std::string& key = (*p)->key;
  queue_->remove(key);
  const bool had = cache_->contains(key);
  cache_->remove_pod(key);
  if (had) queue_->move_all_to_active_or_backoff();
}

void Scheduler::on_node_add(const SharedObject& obj) {
  if (cache_->add_or_update_node(*obj)) queue_->move_all_to_active_or_backoff();
}

void Scheduler::on_node_update(const SharedObject&, const SharedObject& new_obj) {
  if (cache_->add_or_update_node(*new_obj)) queue_->move_all_to_active_or_backoff();
}

void Scheduler::on_node_delete(const SharedObject& obj) {
  cache_->remove_node(std::string(client::object_name(*obj)));
}

void Scheduler::on_volume_change() { queue_->move_all_to_active_or_backoff(); }

ClaimLookup Scheduler::lookup_claim(const std::string& ns, const std::string& claim) const {
  ClaimLookup out;
  auto pvc = pvcs_->get(ns, claim);
  if (!pvc) return out;
  const auto* spec = pvc->is_object() ? pvc->get_object().if_contains("spec") : nullptr;
  const auto* vn = spec && spec->is_object() ? spec->get_object().if_contains("volumeName") : nullptr;
  if (!vn || !vn->is_string() || vn->get_string().empty()) {
    out.state = ClaimLookup::State::kUnbound;
    return out;
  }
  out.volume_name = std::string(vn->get_string());
  auto pv = pvs_->get("", out.volume_name);
  if (!pv) {
    out.state = ClaimLookup::State::kMissingVolume;
    return out;
  }
  out.state = ClaimLookup::State::kBound;
  const auto* pspec = pv->is_object() ? pv->get_object().if_contains("spec") : nullptr;
  const auto* na = pspec && pspec->is_object() ? pspec->get_object().if_contains("nodeAffinity") : nullptr;
  const auto* req = na && na->is_object() ? na->get_object().if_contains("required") : nullptr;
  if (req) out.node_affinity = parse_node_selector(*req);
  return out;
}

// ----------------------------------------------------------------------------- lifecycle

Status Scheduler::start() {
  {
    std::lock_guard lock(lifecycle_mu_);
    if (started_) return Status(Code::kInvalidArgument, "scheduler already started");
    started_ = true;
  }
  if (factory_) {
    ORCH_TRY(factory_->start());
  } else {
    for (auto& inf : owned_informers_) ORCH_TRY(inf->start());
  }
  for (client::Informer* inf : {nodes_, pods_, pvs_, pvcs_}) {
    if (!inf->wait_for_sync(kSyncTimeout)) {
      return Status(Code::kUnavailable, "scheduler informers did not sync: " +
                                            inf->last_error().to_string());
    }
  }
  if (options_.leader_election) {
    return options_.leader_election->start([this] { start_loops(); }, [this] { stop_loops(); });
  }
  start_loops();
  return Status();
}

void Scheduler::stop() {
  {
    std::lock_guard lock(lifecycle_mu_);
    if (stopped_ || !started_) {
      stopped_ = true;
      return;
    }
    stopped_ = true;
  }
  if (options_.leader_election && options_.leader_election->stop) options_.leader_election->stop();
  stop_loops();
  for (auto& inf : owned_informers_) inf->stop();
  if (recorder_) (void)recorder_->flush(std::chrono::seconds(2));
}

void Scheduler::start_loops() {
  std::lock_guard lock(loops_mu_);
  if (loops_started_) return;
  loops_started_ = true;
  active_ = true;
  ORCH_LOG(kInfo, kLog, "scheduling started");
  const int n = std::max(1, options_.binder_threads);
  for (int i = 0; i < n; ++i) binders_.emplace_back([this] { binder_loop(); });
  loop_thread_ = std::thread([this] { run_loop(); });
}

void Scheduler::stop_loops() {
  std::lock_guard lock(loops_mu_);
  if (!loops_started_ || loops_stopped_) return;
  loops_stopped_ = true;
  queue_->close();
  if (loop_thread_.joinable()) loop_thread_.join();
  {
    std::lock_guard b(bind_mu_);
    binders_stop_ = true;
  }
  bind_cv_.notify_all();
  for (auto& t : binders_) {
    if (t.joinable()) t.join();
  }
  active_ = false;
  ORCH_LOG(kInfo, kLog, "scheduling stopped");
}

void Scheduler::post(std::function<void()> task) {
  {
    std::lock_guard lock(bind_mu_);
    bind_tasks_.push_back(std::move(task));
  }
  bind_cv_.notify_one();
}

void Scheduler::binder_loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(bind_mu_);
      bind_cv_.wait(lock, [&] { return binders_stop_ || !bind_tasks_.empty(); });
      if (bind_tasks_.empty()) return;  // stopping and drained
      task = std::move(bind_tasks_.front());
      bind_tasks_.pop_front();
    }
    task();
  }
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats s;
  s.attempts = attempts_.load();
  s.scheduled = scheduled_.load();
  s.unschedulable = unschedulable_.load();
  s.bind_failures = bind_failures_.load();
  s.errors = errors_.load();
  s.cycle_seconds = static_cast<double>(cycle_ns_.load()) / 1e9;
  s.bind_seconds = static_cast<double>(bind_ns_.load()) / 1e9;
  return s;
}

// ----------------------------------------------------------------------------- scheduling

void Scheduler::run_loop() {
  auto last_cleanup = clock_.now();
  while (auto qp = queue_->pop()) {
    const auto t0 = std::chrono::steady_clock::now();
    schedule_one(std::move(*qp));
    cycle_ns_ += static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count());
    if (clock_.now() - last_cleanup >= kCleanupInterval) {
      last_cleanup = clock_.now();
      if (cache_->cleanup_expired() > 0) queue_->move_all_to_active_or_backoff();
    }
  }
}

void Scheduler::schedule_one(QueuedPod qp) {
  const PodInfoPtr pod = qp.pod;
  if (cache_->contains(pod->key)) {  // assumed or bound already
    queue_->done(pod->key);
    return;
  }
  ++attempts_;
  ORCH_VLOG(4, kLog, "attempting to schedule {} (attempt {})", pod->key, qp.attempts);
  auto state = std::make_shared<CycleState>();
  PluginStatus pre = framework_.run_pre_filter(*state, *pod);
  if (pre.code() == PluginStatus::Code::Error) {
    fail(std::move(qp), "running PreFilter plugin \"" + pre.plugin() + "\": " + pre.message(), true);
    return;
  }

  std::string chosen;
  std::string message;
  bool error = false;
  cache_->with_lock([&](const std::vector<NodeInfo*>& nodes) {
    const std::size_t n = nodes.size();
    state->num_all_nodes = n;
    if (n == 0) {
      message = kNoNodesAvailable;
      return;
    }
    std::map<std::string, int> reasons;
    if (!pre.ok()) {
      for (const auto& r : pre.reasons()) reasons[r] += static_cast<int>(n);
      message = fit_error_message(n, reasons);
      return;
    }
    const std::size_t to_find = num_feasible_nodes_to_find(n, options_.percentage_of_nodes_to_score);
    std::vector<const NodeInfo*> feasible;
    feasible.reserve(std::min(to_find, n));
    std::size_t processed = 0;
    const std::size_t start = next_start_node_ % n;
    for (std::size_t i = 0; i < n; ++i) {
      const NodeInfo* node = nodes[(start + i) % n];
      ++processed;
      PluginStatus s = framework_.run_filter(*state, *pod, *node);
      if (s.ok()) {
        feasible.push_back(node);
        if (feasible.size() >= to_find) break;
      } else if (s.is_unschedulable()) {
        for (const auto& r : s.reasons()) ++reasons[r];
      } else {
        error = true;
        message = "running \"" + s.plugin() + "\" filter plugin: " + s.message();
        return;
      }
    }
    next_start_node_ = (start + processed) % n;
    if (feasible.empty()) {
      message = fit_error_message(n, reasons);
      return;
    }
    const NodeInfo* best = feasible.front();
    if (feasible.size() > 1) {
      std::vector<std::int64_t> totals;
      framework_.run_score(*state, *pod, feasible, totals);
      std::int64_t max = -1;
      std::uint64_t ties = 0;
      for (std::size_t i = 0; i < feasible.size(); ++i) {
        if (totals[i] > max) {
          max = totals[i];
          best = feasible[i];
          ties = 1;
        } else if (totals[i] == max) {
          // Reservoir sampling: each of the tied nodes is chosen with equal probability.
          ++ties;
          if (rng_() % ties == 0) best = feasible[i];
        }
      }
    }
    chosen = best->name;
    Status a = cache_->assume_locked(pod, chosen);
    if (!a.ok()) {
      error = true;
      message = a.message();
      chosen.clear();
    }
  });
  if (chosen.empty()) {
    fail(std::move(qp), message, error);
    return;
  }
  PluginStatus r = framework_.run_reserve(*state, *pod, chosen);
  if (!r.ok()) {
    framework_.run_unreserve(*state, *pod, chosen);
    cache_->forget(pod->key);
    fail(std::move(qp), "running Reserve plugin \"" + r.plugin() + "\": " + r.message(),
         r.code() == PluginStatus::Code::Error);
    return;
  }
  bind_async(std::move(qp), std::move(chosen), std::move(state));
}

void Scheduler::fail(QueuedPod qp, const std::string& message, bool error) {
  const PodInfoPtr pod = qp.pod;
  if (error) {
    ++errors_;
    ORCH_LOG(kWarning, kLog, "error scheduling {}: {} (retrying with backoff)", pod->key, message);
  } else {
    ++unschedulable_;
    ORCH_LOG(kInfo, kLog, "{} is unschedulable: {}", pod->key, message);
  }
  if (recorder_) recorder_->event(pod_ref(*pod), "Warning", "FailedScheduling", message);
  if (options_.set_unschedulable_condition && !error &&
      !has_unschedulable_condition(*pod, message)) {
    post([this, pod, message] {
      json::object cond{{"type", "PodScheduled"},
                        {"status", "False"},
                        {"reason", "Unschedulable"},
                        {"message", message},
                        {"lastProbeTime", nullptr}};
      api::Time t;
      t.value = std::chrono::time_point_cast<std::chrono::seconds>(clock_.system_now());
      cond["lastTransitionTime"] = t.to_string();
      json::object patch{{"status", json::object{{"conditions", json::array{cond}}}}};
      client::WriteOptions wo;
      wo.field_manager = "orch-scheduler";
      (void)client_->patch(client::resources::kPods, pod->ns, pod->name,
                           client::PatchType::Strategic, json::serialize(patch), wo, "status");
    });
  }
  if (error) {
    queue_->add_backoff(std::move(qp));
  } else {
    queue_->add_unschedulable(std::move(qp));
  }
}

void Scheduler::bind_async(QueuedPod qp, std::string node, std::shared_ptr<CycleState> state) {
  auto shared = std::make_shared<QueuedPod>(std::move(qp));
  post([this, shared, node = std::move(node), state = std::move(state)] {
    const PodInfoPtr pod = shared->pod;
    const auto t0 = std::chrono::steady_clock::now();
    PluginStatus s = framework_.run_bind(*pod, node);
    bind_ns_ += static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count());
    if (s.ok()) {
      cache_->finish_binding(pod->key);
      queue_->done(pod->key);
      ++scheduled_;
      ORCH_VLOG(2, kLog, "bound {} to {}", pod->key, node);
      if (recorder_) {
        recorder_->event(pod_ref(*pod), "Normal", "Scheduled",
                         "Successfully assigned " + pod->key + " to " + node);
      }
      return;
    }
    ++bind_failures_;
    ORCH_LOG(kWarning, kLog, "binding {} to {} failed: {}", pod->key, node, s.message());
    cache_->forget(pod->key);
    framework_.run_unreserve(*state, *pod, node);
    queue_->move_all_to_active_or_backoff();  // the resources it held are free again
    if (recorder_) {
      recorder_->event(pod_ref(*pod), "Warning", "FailedScheduling",
                       "Binding rejected: " + s.message());
    }
    queue_->add_backoff(std::move(*shared));
  });
}

}  // namespace orch::scheduler
