// The node lifecycle controller (see node_lifecycle_controller.hpp). Thread-safety: reconcile()
// runs on the controller's workers, several at once for different nodes; informer handlers run
// on the informers' threads. Shared state: the per-node observations (mu_) and the KeySink.
#include "orch/controller/node_lifecycle_controller.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "json_util.hpp"
#include "orch/api/time.hpp"
#include "orch/client/informer.hpp"
#include "orch/client/resource.hpp"

namespace orch::controller {

namespace json = boost::json;
using client::SharedObject;
using client::resources::kLeases;
using client::resources::kNodes;
using client::resources::kPods;
using json_util::at;
using json_util::is_deleting;
using json_util::str_at;
using SysTime = std::chrono::system_clock::time_point;

namespace node_lifecycle {
namespace {

constexpr std::string_view kUnknownReason = "NodeStatusUnknown";
constexpr std::string_view kUnknownMessage = "Kubelet stopped posting node status.";

std::optional<SysTime> parse_time(std::string_view s) {
  if (s.empty()) return std::nullopt;
  auto t = api::Time::parse(s);
  if (!t.ok()) return std::nullopt;
  return t->value;
}

std::string time_string(SysTime t) { return api::Time{t}.to_string(); }

bool is_ours(const json::value& taint) {
  std::string_view key = str_at(taint, {"key"});
  std::string_view effect = str_at(taint, {"effect"});
  if (key == kTaintUnschedulable) return effect == "NoSchedule";
  return (key == kTaintUnreachable || key == kTaintNotReady) &&
         (effect == "NoSchedule" || effect == "NoExecute");
}

}  // namespace

std::string ready_status(const json::value& node) {
  const json::value* conds = at(node, {"status", "conditions"});
  if (!conds || !conds->is_array()) return {};
  for (const auto& c : conds->get_array()) {
    if (str_at(c, {"type"}) == "Ready") return std::string(str_at(c, {"status"}));
  }
  return {};
}

std::optional<json::value> unknown_status(const json::value& node, SysTime now) {
  json::object status;
  if (const auto* s = at(node, {"status"}); s && s->is_object()) status = s->get_object();
  json::array conds;
  if (const auto* c = status.if_contains("conditions"); c && c->is_array()) conds = c->get_array();
  bool changed = false, have_ready = false;
  const std::string stamp = time_string(now);
  for (auto& c : conds) {
    if (!c.is_object()) continue;
    auto& o = c.as_object();
    if (str_at(c, {"type"}) == "Ready") have_ready = true;
    if (str_at(c, {"status"}) == "Unknown") continue;
    o["status"] = "Unknown";
    o["reason"] = kUnknownReason;
    o["message"] = kUnknownMessage;
    o["lastTransitionTime"] = stamp;
    changed = true;
  }
  if (!have_ready) {
    conds.push_back(json::object{{"type", "Ready"},
                                 {"status", "Unknown"},
                                 {"reason", kUnknownReason},
                                 {"message", kUnknownMessage},
                                 {"lastHeartbeatTime", stamp},
                                 {"lastTransitionTime", stamp}});
    changed = true;
  }
  if (!changed) return std::nullopt;
  status["conditions"] = std::move(conds);
  json::value next = node;
  next.as_object()["status"] = std::move(status);
  return next;
}

json::array desired_taints(const json::value& node, std::string_view ready, SysTime now) {
  std::string_view want_key;
  if (ready == "Unknown") want_key = kTaintUnreachable;
  if (ready == "False") want_key = kTaintNotReady;
  // A new NoExecute taint dates from when the node entered this state, if the node says so, so
  // tolerations count from then even when the taint is written later.
  SysTime added = now;
  if (const json::value* conds = at(node, {"status", "conditions"}); conds && conds->is_array()) {
    for (const auto& c : conds->get_array()) {
      if (str_at(c, {"type"}) != "Ready" || str_at(c, {"status"}) != ready) continue;
      if (auto t = parse_time(str_at(c, {"lastTransitionTime"})); t && *t < now) added = *t;
    }
  }
  const bool cordoned = json_util::bool_at(node, {"spec", "unschedulable"});
  json::array out;
  bool have_no_schedule = false, have_no_execute = false, have_cordon = false;
  if (const auto* taints = at(node, {"spec", "taints"}); taints && taints->is_array()) {
    for (const auto& t : taints->get_array()) {
      if (!is_ours(t)) {
        out.push_back(t);
        continue;
      }
      if (str_at(t, {"key"}) == kTaintUnschedulable) {
        if (cordoned && !have_cordon) out.push_back(t);
        have_cordon = true;
        continue;
      }
      if (str_at(t, {"key"}) != want_key) continue;  // the pair of another state: dropped
      bool& have = str_at(t, {"effect"}) == "NoSchedule" ? have_no_schedule : have_no_execute;
      if (have) continue;
      have = true;
      json::value kept = t;
      if (str_at(t, {"effect"}) == "NoExecute" && str_at(t, {"timeAdded"}).empty()) {
        kept.as_object()["timeAdded"] = time_string(added);
      }
      out.push_back(std::move(kept));
    }
  }
  if (cordoned && !have_cordon) {
    out.push_back(json::object{{"key", kTaintUnschedulable}, {"effect", "NoSchedule"}});
  }
  if (!want_key.empty()) {
    if (!have_no_schedule) {
      out.push_back(json::object{{"key", want_key}, {"effect", "NoSchedule"}});
    }
    if (!have_no_execute) {
      out.push_back(json::object{
          {"key", want_key}, {"effect", "NoExecute"}, {"timeAdded", time_string(added)}});
    }
  }
  return out;
}

bool tolerates(const json::value& toleration, const json::value& taint) {
  std::string_view effect = str_at(toleration, {"effect"});
  if (!effect.empty() && effect != str_at(taint, {"effect"})) return false;
  std::string_view key = str_at(toleration, {"key"});
  std::string_view op = str_at(toleration, {"operator"});
  if (op.empty()) op = "Equal";
  if (key.empty()) return op == "Exists";
  if (key != str_at(taint, {"key"})) return false;
  if (op == "Exists") return true;
  return op == "Equal" && str_at(toleration, {"value"}) == str_at(taint, {"value"});
}

std::optional<SysTime> eviction_time(const json::value& pod, const json::value& taints,
                                     SysTime now) {
  if (!taints.is_array()) return std::nullopt;
  const json::value* tols = at(pod, {"spec", "tolerations"});
  std::optional<SysTime> earliest_added;
  std::optional<std::int64_t> min_seconds;
  for (const auto& taint : taints.get_array()) {
    if (str_at(taint, {"effect"}) != "NoExecute") continue;
    bool tolerated = false;
    if (tols && tols->is_array()) {
      for (const auto& tol : tols->get_array()) {
        if (!tolerates(tol, taint)) continue;
        tolerated = true;
        if (const auto* s = at(tol, {"tolerationSeconds"}); s && (s->is_int64() || s->is_uint64())) {
          std::int64_t secs = std::max<std::int64_t>(0, json_util::int_at(tol, {"tolerationSeconds"}));
          min_seconds = min_seconds ? std::min(*min_seconds, secs) : secs;
        }
      }
    }
    if (!tolerated) return now;
    SysTime added = parse_time(str_at(taint, {"timeAdded"})).value_or(now);
    earliest_added = earliest_added ? std::min(*earliest_added, added) : added;
  }
  if (!earliest_added || !min_seconds) return std::nullopt;
  return *earliest_added + std::chrono::seconds(*min_seconds);
}

std::optional<json::value> not_ready_pod(const json::value& pod, SysTime now) {
  std::string_view phase = str_at(pod, {"status", "phase"});
  if (phase == "Succeeded" || phase == "Failed") return std::nullopt;
  if (!json_util::is_ready(pod)) return std::nullopt;
  json::value next = pod;
  for (auto& c : next.as_object()["status"].as_object()["conditions"].as_array()) {
    if (str_at(c, {"type"}) != "Ready") continue;
    auto& o = c.as_object();
    o["status"] = "False";
    o["reason"] = "NodeNotReady";
    o["message"] = "Node is not ready";
    o["lastTransitionTime"] = time_string(now);
  }
  return next;
}

}  // namespace node_lifecycle

namespace {

namespace nl = node_lifecycle;
constexpr std::string_view kLeaseNamespace = "kube-node-lease";

// What the controller saw of one node, on its own clock.
struct Observation {
  util::Clock::TimePoint probe{};  // last time the lease or heartbeat changed
  std::string renew_time;          // the Lease's spec.renewTime then
  std::string heartbeat;           // the Ready condition's lastHeartbeatTime then
};

std::string_view heartbeat_of(const json::value& node) {
  const json::value* conds = at(node, {"status", "conditions"});
  if (!conds || !conds->is_array()) return {};
  for (const auto& c : conds->get_array()) {
    if (str_at(c, {"type"}) == "Ready") return str_at(c, {"lastHeartbeatTime"});
  }
  return {};
}

bool has_our_taint(const json::value& node) {
  const json::value* taints = at(node, {"spec", "taints"});
  if (!taints || !taints->is_array()) return false;
  for (const auto& t : taints->get_array()) {
    std::string_view key = str_at(t, {"key"});
    if (key == nl::kTaintUnreachable || key == nl::kTaintNotReady) return true;
  }
  return false;
}

class NodeLifecycleReconciler final : public Reconciler {
 public:
  NodeLifecycleReconciler(const ControllerContext& ctx, NodeLifecycleControllerOptions options,
                          std::shared_ptr<KeySink> sink)
      : client_(ctx.client),
        events_(ctx.events),
        clock_(ctx.clock ? ctx.clock : &util::real_clock()),
        options_(options),
        sink_(std::move(sink)),
        nodes_(ctx.informers->informer(kNodes)),
        pods_(ctx.informers->informer(kPods)),
        leases_(ctx.informers->informer(
            kLeases, client::InformerOptions{.namespace_ = std::string(kLeaseNamespace)})) {}

  Status register_handlers(const std::shared_ptr<NodeLifecycleReconciler>& self) {
    pods_.add_indexer(std::string(client::kIndexNodeName), client::index_by_node_name());
    std::weak_ptr<NodeLifecycleReconciler> weak = self;
    ORCH_TRY(nodes_.add_event_handler(
        {.on_add =
             [weak](const SharedObject& o) {
               if (auto r = weak.lock()) r->node_seen(*o);
             },
         .on_update =
             [weak](const SharedObject&, const SharedObject& o) {
               if (auto r = weak.lock()) r->node_seen(*o);
             },
         .on_delete =
             [weak](const SharedObject& o) {
               if (auto r = weak.lock()) r->node_deleted(*o);
             }}));
    auto lease_changed = [weak](const SharedObject& o) {
      if (auto r = weak.lock()) r->lease_seen(*o);
    };
    ORCH_TRY(leases_.add_event_handler(
        {.on_add = lease_changed,
         .on_update = [lease_changed](const SharedObject&,
                                      const SharedObject& o) { lease_changed(o); },
         .on_delete = nullptr}));
    auto pod_changed = [weak](const SharedObject& o) {
      if (auto r = weak.lock()) r->pod_seen(*o);
    };
    ORCH_TRY(pods_.add_event_handler(
        {.on_add = pod_changed,
         .on_update = [pod_changed](const SharedObject&, const SharedObject& o) { pod_changed(o); },
         .on_delete = nullptr}));
    return Status();
  }

  Outcome reconcile(const std::string& key) override;

 private:
  // ---- handlers (informer threads)

  void node_seen(const json::value& node) {
    const std::string name(client::object_name(node));
    {
      std::lock_guard lock(mu_);
      deleted_.erase(name);
      auto& obs = observe_locked(name);
      std::string_view hb = heartbeat_of(node);
      if (!hb.empty() && hb != obs.heartbeat) {
        obs.heartbeat = std::string(hb);
        obs.probe = clock_->now();
      }
    }
    sink_->add(name);
  }
  void node_deleted(const json::value& node) {
    const std::string name(client::object_name(node));
    {
      std::lock_guard lock(mu_);
      deleted_.insert(name);
      observed_.erase(name);
    }
    sink_->add(name);
  }
  void lease_seen(const json::value& lease) {
    const std::string name(client::object_name(lease));
    {
      std::lock_guard lock(mu_);
      auto& obs = observe_locked(name);
      std::string_view rt = str_at(lease, {"spec", "renewTime"});
      if (rt == obs.renew_time) return;
      obs.renew_time = std::string(rt);
      obs.probe = clock_->now();
    }
    sink_->add(name);
  }
  // A pod matters to this controller only when its node is missing or unwell.
  void pod_seen(const json::value& pod) {
    std::string_view node_name = str_at(pod, {"spec", "nodeName"});
    if (node_name.empty()) return;
    SharedObject node = nodes_.get("", node_name);
    if (!node || has_our_taint(*node) || nl::ready_status(*node) != "True") sink_->add(node_name);
  }

  // The node's observation, created (probe: now) on first sight. mu_ held.
  Observation& observe_locked(const std::string& name) {
    auto [it, fresh] = observed_.try_emplace(name);
    if (fresh) it->second.probe = clock_->now();
    return it->second;
  }

  // ---- reconcile steps (workers)

  Outcome collect_orphans(const std::string& node_name);
  // Whether the node has been silent for the grace period; `wait` gets the time until it will
  // be when not yet. `confirm`: check with the API before saying so (a node not yet Unknown).
  bool silent(const std::string& node_name, bool confirm,
              std::optional<std::chrono::nanoseconds>& wait);
  Status write_unknown(const json::value& node);
  Status write_taints(const json::value& node, const json::array& taints);
  // Marks pods not ready and evicts those whose toleration ran out.
  Status handle_pods(const std::string& node_name, bool node_ready, const json::array& taints,
                     std::optional<std::chrono::nanoseconds>& wait);
  Status evict(const json::value& pod);

  void event(const json::value& obj, std::string_view type, std::string_view reason,
             std::string_view message) {
    if (events_) events_->event(obj, type, reason, message);
  }

  // Const after construction.
  const std::shared_ptr<client::Client> client_;
  client::EventRecorder* const events_;
  util::Clock* const clock_;
  const NodeLifecycleControllerOptions options_;
  const std::shared_ptr<KeySink> sink_;
  client::Informer& nodes_;
  client::Informer& pods_;
  client::Informer& leases_;

  std::mutex mu_;  // lock order: leaf (never held across the API or the sink)
  // Guarded by mu_.
  std::map<std::string, Observation> observed_;
  std::set<std::string> deleted_;  // nodes whose deletion the controller saw
  std::map<std::string, util::Clock::TimePoint> orphan_since_;
};

void shorten(std::optional<std::chrono::nanoseconds>& wait, std::chrono::nanoseconds d) {
  if (d < std::chrono::nanoseconds(0)) d = std::chrono::nanoseconds(0);
  if (!wait || d < *wait) wait = d;
}

Outcome NodeLifecycleReconciler::reconcile(const std::string& key) {
  SharedObject cached = nodes_.get("", key);
  if (!cached) return collect_orphans(key);
  {
    std::lock_guard lock(mu_);
    orphan_since_.erase(key);
  }
  const json::value& node = *cached;
  std::optional<std::chrono::nanoseconds> wait;
  std::string ready = nl::ready_status(node);
  const bool is_silent = silent(key, /*confirm=*/ready != "Unknown", wait);
  if (is_silent && ready != "Unknown") {
    Status s = write_unknown(node);
    if (!s.ok()) return Outcome::retry(s);
    ready = "Unknown";  // the update event brings the new object; act on it now already
  } else if (!is_silent && ready == "Unknown") {
    // Renewed again: the agent's next status write restores its conditions; until then the node
    // counts as Ready, so its taints go and its pods stay.
    ready = "True";
  }
  const auto now = clock_->system_now();
  json::array taints = nl::desired_taints(node, ready, now);
  const json::value* current = at(node, {"spec", "taints"});
  const bool same = current && current->is_array() ? current->get_array() == taints
                                                   : taints.empty();
  if (!same) {
    Status s = write_taints(node, taints);
    if (!s.ok()) return Outcome::retry(s);
  }
  Status s = handle_pods(key, ready == "True" || ready.empty(), taints, wait);
  if (!s.ok()) return Outcome::retry(s);
  if (wait) return Outcome::requeue_after(*wait + std::chrono::milliseconds(1));
  return Outcome::done();
}

bool NodeLifecycleReconciler::silent(const std::string& node_name, bool confirm,
                                     std::optional<std::chrono::nanoseconds>& wait) {
  const auto grace = std::chrono::nanoseconds(options_.grace_period);
  util::Clock::TimePoint probe;
  std::string renew_time;
  {
    std::lock_guard lock(mu_);
    auto& obs = observe_locked(node_name);
    probe = obs.probe;
    renew_time = obs.renew_time;
  }
  auto now = clock_->now();
  if (now - probe < grace) {
    shorten(wait, probe + grace - now);
    return false;
  }
  if (!confirm) return true;
  // About to declare it silent: make sure the cache is not just behind. After a jump of a
  // manual clock every deadline fires at once, and a live agent renews a few real milliseconds
  // later: give it that moment (real time, bounded; this path runs once per failing node).
  std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
      std::chrono::milliseconds(200), options_.grace_period / 10));
  auto lease = client_->get(kLeases, kLeaseNamespace, node_name);
  if (lease.ok()) {
    std::string_view rt = str_at(*lease, {"spec", "renewTime"});
    if (!rt.empty() && rt != renew_time) {
      std::lock_guard lock(mu_);
      auto& obs = observe_locked(node_name);
      obs.renew_time = std::string(rt);
      obs.probe = clock_->now();
      shorten(wait, grace);
      return false;
    }
  }
  return true;
}

Status NodeLifecycleReconciler::write_unknown(const json::value& cached) {
  json::value node = cached;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto next = nl::unknown_status(node, clock_->system_now());
    if (!next) return Status();
    auto r = client_->update_status(kNodes, "", *next);
    if (r.ok()) {
      event(*r, "Normal", "NodeNotReady",
            fmt::format("Node {} status is now: NodeNotReady", client::object_name(*r)));
      return Status();
    }
    if (r.status().code() == Code::kNotFound) return Status();
    if (r.status().code() != Code::kAborted) return r.status();
    auto fresh = client_->get(kNodes, "", client::object_name(cached));
    if (!fresh.ok()) return fresh.status().code() == Code::kNotFound ? Status() : fresh.status();
    node = std::move(fresh).value();
  }
  return aborted("node status kept conflicting");
}

Status NodeLifecycleReconciler::write_taints(const json::value& cached,
                                             const json::array& taints) {
  json::value next = cached;
  json::value& spec = next.as_object()["spec"];
  if (!spec.is_object()) spec = json::object{};
  if (taints.empty()) {
    spec.as_object().erase("taints");
  } else {
    spec.as_object()["taints"] = taints;
  }
  auto r = client_->update(kNodes, "", next);
  // Aborted: the node changed meanwhile; its update event brings it back here.
  if (!r.ok() && r.status().code() != Code::kAborted && r.status().code() != Code::kNotFound) {
    return r.status();
  }
  return Status();
}

Status NodeLifecycleReconciler::handle_pods(const std::string& node_name, bool node_ready,
                                            const json::array& taints,
                                            std::optional<std::chrono::nanoseconds>& wait) {
  const bool any_no_execute = std::any_of(taints.begin(), taints.end(), [](const json::value& t) {
    return str_at(t, {"effect"}) == "NoExecute";
  });
  if (node_ready && !any_no_execute) return Status();
  auto pods = pods_.by_index(client::kIndexNodeName, node_name);
  if (!pods.ok()) return pods.status();
  Status first_error;
  const json::value taint_list = taints;
  for (const auto& p : *pods) {
    const auto now = clock_->system_now();
    if (!node_ready) {
      if (auto next = nl::not_ready_pod(*p, now)) {
        auto r = client_->update_status(kPods, client::object_namespace(*p), *next);
        if (!r.ok() && r.status().code() != Code::kNotFound &&
            r.status().code() != Code::kAborted && first_error.ok()) {
          first_error = r.status();
        }
      }
    }
    std::string_view phase = str_at(*p, {"status", "phase"});
    if (is_deleting(*p) || phase == "Succeeded" || phase == "Failed") continue;
    auto when = nl::eviction_time(*p, taint_list, now);
    if (!when) continue;
    if (*when > now) {
      shorten(wait, std::chrono::duration_cast<std::chrono::nanoseconds>(*when - now));
      continue;
    }
    Status s = evict(*p);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  return first_error;
}

Status NodeLifecycleReconciler::evict(const json::value& pod) {
  const std::string ns(client::object_namespace(pod));
  const std::string name(client::object_name(pod));
  event(pod, "Normal", "TaintManagerEviction", fmt::format("Marking for deletion Pod {}/{}", ns, name));
  // Kubernetes' DisruptionTarget condition says why the pod went (best effort).
  json::value next = pod;
  json::value& status = next.as_object()["status"];
  if (!status.is_object()) status = json::object{};
  json::value& conds = status.as_object()["conditions"];
  if (!conds.is_array()) conds = json::array{};
  bool present = false;
  for (const auto& c : conds.as_array()) present |= str_at(c, {"type"}) == "DisruptionTarget";
  if (!present) {
    conds.as_array().push_back(
        json::object{{"type", "DisruptionTarget"},
                     {"status", "True"},
                     {"reason", "DeletionByTaintManager"},
                     {"message", "Taint manager: deleting due to NoExecute taint"},
                     {"lastTransitionTime", api::Time{clock_->system_now()}.to_string()}});
    client_->update_status(kPods, ns, next).status().ignore();
  }
  client::DeleteOptions d;
  d.precondition_uid = std::string(client::object_uid(pod));
  auto r = client_->remove(kPods, ns, name, d);
  if (!r.ok() && r.status().code() != Code::kNotFound && r.status().code() != Code::kAborted) {
    return r.status();
  }
  return Status();
}

Outcome NodeLifecycleReconciler::collect_orphans(const std::string& node_name) {
  auto pods = pods_.by_index(client::kIndexNodeName, node_name);
  if (!pods.ok()) return Outcome::retry(pods.status());
  {
    std::lock_guard lock(mu_);
    if (pods->empty()) {
      orphan_since_.erase(node_name);
      return Outcome::done();
    }
    if (!deleted_.count(node_name)) {
      auto [it, fresh] = orphan_since_.try_emplace(node_name, clock_->now());
      auto waited = clock_->now() - it->second;
      auto quarantine = std::chrono::nanoseconds(options_.pod_gc_quarantine);
      if (waited < quarantine) return Outcome::requeue_after(quarantine - waited);
    }
  }
  // The cache says the node is gone: make sure it is.
  auto node = client_->get(kNodes, "", node_name);
  if (node.ok()) return Outcome::done();  // it exists: its add event brings it here again
  if (node.status().code() != Code::kNotFound) return Outcome::retry(node.status());
  Status first_error;
  for (const auto& p : *pods) {
    client::DeleteOptions d;
    d.grace_period_seconds = 0;
    d.precondition_uid = std::string(client::object_uid(*p));
    auto r = client_->remove(kPods, client::object_namespace(*p), client::object_name(*p), d);
    if (!r.ok() && r.status().code() != Code::kNotFound && r.status().code() != Code::kAborted &&
        first_error.ok()) {
      first_error = r.status();
    }
  }
  if (!first_error.ok()) return Outcome::retry(first_error);
  return Outcome::done();
}

}  // namespace

Result<std::unique_ptr<Controller>> new_node_lifecycle_controller(
    const ControllerContext& ctx, NodeLifecycleControllerOptions options) {
  if (!ctx.client) return invalid_argument("node lifecycle controller: no client");
  if (!ctx.informers) return invalid_argument("node lifecycle controller: no informers");
  if (options.grace_period <= std::chrono::milliseconds(0)) {
    return invalid_argument("node lifecycle controller: the grace period must be positive");
  }
  return make_sink_controller(
      controller_options(kNodeLifecycleControllerName, options.workers, ctx),
      [&](std::shared_ptr<KeySink> sink) {
        return std::make_shared<NodeLifecycleReconciler>(ctx, options, std::move(sink));
      });
}

ControllerRegistration node_lifecycle_controller_registration(
    NodeLifecycleControllerOptions options) {
  return ControllerRegistration{kNodeLifecycleControllerName, kNodeLifecycleControllerComponent,
                                [options](const ControllerContext& ctx) {
                                  return new_node_lifecycle_controller(ctx, options);
                                }};
}

}  // namespace orch::controller
