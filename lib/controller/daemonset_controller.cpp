// The DaemonSet controller (see daemonset_controller.hpp). Thread-safety: reconcile() runs on the
// controller's workers, several at once for different DaemonSets; informer handlers run on the
// informers' threads. Shared state: Expectations (its own mutex) and the KeySink.
#include "orch/controller/daemonset_controller.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "daemonset_controller_util.hpp"
#include "expectations.hpp"
#include "json_util.hpp"
#include "orch/api/time.hpp"
#include "orch/client/informer.hpp"
#include "orch/client/resource.hpp"

namespace orch::controller {

namespace json = boost::json;
using client::SharedObject;
using client::resources::kDaemonSets;
using client::resources::kNodes;
using client::resources::kPods;
namespace ds_util = daemonset;

namespace {

using namespace json_util;

// The controller ownerReference's uid and name when it is a DaemonSet.
std::string_view owner_ds_uid(const json::value& pod, std::string_view* name = nullptr) {
  return apps_owner_uid(pod, "DaemonSet", name);
}

bool is_failed(const json::value& pod) { return str_at(pod, {"status", "phase"}) == "Failed"; }

class DaemonSetReconciler final : public Reconciler {
 public:
  DaemonSetReconciler(const ControllerContext& ctx, std::shared_ptr<KeySink> sink)
      : client_(ctx.client),
        events_(ctx.events),
        clock_(ctx.clock ? ctx.clock : &util::real_clock()),
        sink_(std::move(sink)),
        expectations_(clock_),
        sets_(ctx.informers->informer(kDaemonSets)),
        pods_(ctx.informers->informer(kPods)),
        nodes_(ctx.informers->informer(kNodes)) {}

  Status register_handlers(const std::shared_ptr<DaemonSetReconciler>& self) {
    pods_.add_indexer(std::string(client::kIndexNamespace), client::index_by_namespace());
    std::weak_ptr<DaemonSetReconciler> weak = self;
    auto ds_changed = [weak](const SharedObject& o) {
      if (auto r = weak.lock()) r->sink_->add(client::object_key(*o));
    };
    ORCH_TRY(sets_.add_event_handler(
        {.on_add = ds_changed,
         .on_update = [weak](const SharedObject&,
                             const SharedObject& o) {
           if (auto r = weak.lock()) r->sink_->add(client::object_key(*o));
         },
         .on_delete =
             [weak](const SharedObject& o) {
               if (auto r = weak.lock()) {
                 r->expectations_.remove(client::object_key(*o));
                 r->sink_->add(client::object_key(*o));
               }
             }}));
    ORCH_TRY(pods_.add_event_handler(
        {.on_add =
             [weak](const SharedObject& o) {
               if (auto r = weak.lock()) {
                 if (is_deleting(*o)) {
                   r->pod_deleted(*o);
                 } else if (auto key = r->owner_key(*o)) {
                   r->expectations_.creation_observed(*key);
                   r->sink_->add(*key);
                 }
               }
             },
         .on_update =
             [weak](const SharedObject& old_pod, const SharedObject& new_pod) {
               if (auto r = weak.lock()) {
                 if (is_deleting(*new_pod) && !is_deleting(*old_pod)) {
                   r->pod_deleted(*new_pod);
                   return;
                 }
                 if (auto key = r->owner_key(*new_pod)) r->sink_->add(*key);
                 if (auto key = r->owner_key(*old_pod)) r->sink_->add(*key);
               }
             },
         .on_delete =
             [weak](const SharedObject& o) {
               if (auto r = weak.lock()) r->pod_deleted(*o);
             }}));
    auto all = [weak](const SharedObject&) {
      if (auto r = weak.lock()) r->enqueue_all();
    };
    ORCH_TRY(nodes_.add_event_handler(
        {.on_add = all,
         .on_update =
             [weak](const SharedObject& a, const SharedObject& b) {
               auto r = weak.lock();
               if (!r) return;
               // Only what decides placement: labels and taints (not heartbeats).
               const json::value* la = at(*a, {"metadata", "labels"});
               const json::value* lb = at(*b, {"metadata", "labels"});
               const json::value* ta = at(*a, {"spec", "taints"});
               const json::value* tb = at(*b, {"spec", "taints"});
               auto differ = [](const json::value* x, const json::value* y) {
                 if (!x || !y) return x != y;
                 return *x != *y;
               };
               if (differ(la, lb) || differ(ta, tb)) r->enqueue_all();
             },
         .on_delete = all}));
    return Status();
  }

  Outcome reconcile(const std::string& key) override;

 private:
  std::optional<std::string> owner_key(const json::value& pod) const {
    std::string_view name;
    std::string_view uid = owner_ds_uid(pod, &name);
    if (uid.empty()) return std::nullopt;
    SharedObject ds = sets_.get(client::object_namespace(pod), name);
    if (!ds || client::object_uid(*ds) != uid) return std::nullopt;
    return client::make_key(client::object_namespace(pod), name);
  }
  void pod_deleted(const json::value& pod) {
    if (auto key = owner_key(pod)) {
      expectations_.deletion_observed(*key, client::object_key(pod));
      sink_->add(*key);
    }
  }
  void enqueue_all() {
    for (const auto& k : sets_.list_keys()) sink_->add(k);
  }
  void event(const json::value& ds, std::string_view type, std::string_view reason,
             std::string_view message) {
    if (events_) events_->event(ds, type, reason, message);
  }

  struct Deletion {
    SharedObject pod;
    bool force = false;  // grace 0 (its node is gone)
  };
  Status act(const json::value& ds, const std::string& key, const std::string& hash,
             const std::vector<std::string>& creates, const std::vector<Deletion>& deletes);

  const std::shared_ptr<client::Client> client_;
  client::EventRecorder* const events_;
  util::Clock* const clock_;
  const std::shared_ptr<KeySink> sink_;
  Expectations expectations_;
  client::Informer& sets_;
  client::Informer& pods_;
  client::Informer& nodes_;
};

Outcome DaemonSetReconciler::reconcile(const std::string& key) {
  SharedObject cached = sets_.get_by_key(key);
  if (!cached) {
    expectations_.remove(key);
    return Outcome::done();
  }
  const json::value& ds = *cached;
  const bool needs_sync = expectations_.satisfied(key);
  const json::value empty = json::object();
  const json::value* tmpl = at(ds, {"spec", "template"});
  if (!tmpl) tmpl = &empty;
  const std::string hash = ds_util::template_hash(*tmpl);
  const std::string_view uid = client::object_uid(ds);
  const std::int64_t min_ready = int_at(ds, {"spec", "minReadySeconds"});
  const auto now = clock_->system_now();
  std::optional<std::chrono::nanoseconds> wait;

  // Owned pods by node.
  auto all = pods_.by_index(client::kIndexNamespace, client::object_namespace(ds));
  if (!all.ok()) return Outcome::retry(all.status());
  std::map<std::string, std::vector<SharedObject>> by_node;
  for (const auto& p : *all) {
    if (owner_ds_uid(*p) != uid) continue;
    by_node[ds_util::pod_node(*p)].push_back(p);
  }
  auto oldest_first = [](const SharedObject& a, const SharedObject& b) {
    auto ta = str_at(*a, {"metadata", "creationTimestamp"});
    auto tb = str_at(*b, {"metadata", "creationTimestamp"});
    if (ta != tb) return ta < tb;  // RFC 3339 UTC strings order as times
    return client::object_name(*a) < client::object_name(*b);
  };

  std::vector<std::string> creates;
  std::vector<Deletion> deletes;
  std::set<std::string> node_names;
  std::vector<ds_util::NodePod> node_pods;  // for the rolling update
  std::int64_t desired = 0, current = 0, misscheduled = 0, ready = 0, available = 0, updated = 0;
  int unavailable_nodes = 0;
  for (const auto& node : nodes_.list()) {
    const std::string name(client::object_name(*node));
    node_names.insert(name);
    const ds_util::NodeFit fit = ds_util::node_fit(*node, *tmpl);
    std::vector<SharedObject> active;
    bool terminating = false;
    if (auto it = by_node.find(name); it != by_node.end()) {
      for (const auto& p : it->second) {
        if (is_deleting(*p)) {
          terminating = true;
        } else {
          active.push_back(p);
        }
      }
    }
    std::sort(active.begin(), active.end(), oldest_first);
    // Status (Kubernetes' updateDaemonSetStatus).
    if (fit.should_run) {
      ++desired;
      if (!active.empty()) {
        ++current;
        const json::value& p = *active.front();
        if (is_ready(p)) ++ready;
        bool avail = is_available(p, min_ready, now, &wait);
        if (avail) ++available;
        if (str_at(p, {"metadata", "labels", ds_util::kRevisionLabel}) == hash) ++updated;
      }
    } else if (!active.empty()) {
      ++misscheduled;
    }
    // What to do (Kubernetes' podsShouldBeOnNode).
    if (fit.should_run) {
      std::vector<SharedObject> running;
      bool failed = false;
      for (const auto& p : active) {
        if (is_failed(*p)) {
          deletes.push_back({p, false});
          failed = true;
        } else {
          running.push_back(p);
        }
      }
      if (running.empty()) {
        ++unavailable_nodes;
        // A terminating (or just-deleted failed) pod goes first: one pod per node.
        if (!terminating && !failed) creates.push_back(name);
      } else {
        for (std::size_t i = 1; i < running.size(); ++i) deletes.push_back({running[i], false});
        const json::value& p = *running.front();
        bool avail = is_available(p, min_ready, now, &wait);
        if (!avail) ++unavailable_nodes;
        node_pods.push_back({name, std::string(client::object_name(p)),
                             str_at(p, {"metadata", "labels", ds_util::kRevisionLabel}) != hash,
                             avail});
      }
    } else if (!fit.should_continue_running) {
      for (const auto& p : active) deletes.push_back({p, false});
    }
  }
  // Pods on nodes that are gone: nobody will stop them, delete them outright.
  for (const auto& [node, pods] : by_node) {
    if (node.empty() || node_names.contains(node)) continue;
    for (const auto& p : pods) deletes.push_back({p, true});
  }

  Status error;
  if (needs_sync && !is_deleting(ds)) {
    if (str_at(ds, {"spec", "updateStrategy", "type"}) != "OnDelete") {
      int max_unavailable = ds_util::max_unavailable(
          at(ds, {"spec", "updateStrategy", "rollingUpdate", "maxUnavailable"}),
          static_cast<int>(desired));
      std::set<std::string> already;
      for (const auto& d : deletes) already.insert(std::string(client::object_name(*d.pod)));
      for (const auto& name :
           ds_util::rolling_update_deletes(node_pods, unavailable_nodes, max_unavailable)) {
        if (already.contains(name)) continue;
        for (const auto& np : node_pods) {
          if (np.pod != name) continue;
          for (const auto& p : by_node[np.node]) {
            if (client::object_name(*p) == name) deletes.push_back({p, false});
          }
        }
      }
    }
    if (!creates.empty() || !deletes.empty()) error = act(ds, key, hash, creates, deletes);
  }

  // Status.
  const std::int64_t generation = int_at(ds, {"metadata", "generation"});
  const std::int64_t number_unavailable = std::max<std::int64_t>(0, desired - available);
  bool same = int_at(ds, {"status", "observedGeneration"}, 0) == generation &&
              int_at(ds, {"status", "desiredNumberScheduled"}, 0) == desired &&
              int_at(ds, {"status", "currentNumberScheduled"}, 0) == current &&
              int_at(ds, {"status", "numberMisscheduled"}, 0) == misscheduled &&
              int_at(ds, {"status", "numberReady"}, 0) == ready &&
              int_at(ds, {"status", "updatedNumberScheduled"}, 0) == updated &&
              int_at(ds, {"status", "numberAvailable"}, 0) == available &&
              int_at(ds, {"status", "numberUnavailable"}, 0) == number_unavailable;
  if (!same) {
    json::value next = ds;
    json::object status;
    if (const auto* old = at(ds, {"status"}); old && old->is_object()) status = old->get_object();
    status["observedGeneration"] = generation;
    status["desiredNumberScheduled"] = desired;
    status["currentNumberScheduled"] = current;
    status["numberMisscheduled"] = misscheduled;
    status["numberReady"] = ready;
    status["updatedNumberScheduled"] = updated;
    status["numberAvailable"] = available;
    status["numberUnavailable"] = number_unavailable;
    next.as_object()["status"] = std::move(status);
    auto r = client_->update_status(kDaemonSets, client::object_namespace(ds), next);
    if (!r.ok() && r.status().code() != Code::kNotFound && r.status().code() != Code::kAborted &&
        error.ok()) {
      error = r.status();
    }
  }
  if (!error.ok()) return Outcome::retry(error);
  if (wait) return Outcome::requeue_after(*wait);
  return Outcome::done();
}

Status DaemonSetReconciler::act(const json::value& ds, const std::string& key,
                                const std::string& hash, const std::vector<std::string>& creates,
                                const std::vector<Deletion>& deletes) {
  const std::string_view ns = client::object_namespace(ds);
  std::set<std::string> del_keys;
  for (const auto& d : deletes) del_keys.insert(client::object_key(*d.pod));
  expectations_.expect(key, static_cast<int>(creates.size()), del_keys);
  Status error;
  for (const auto& node : creates) {
    auto created = client_->create(kPods, ns, ds_util::build_pod(ds, hash, node));
    if (created.ok()) {
      event(ds, "Normal", "SuccessfulCreate",
            fmt::format("Created pod: {}", client::object_name(*created)));
      continue;
    }
    expectations_.creation_observed(key);
    event(ds, "Warning", "FailedCreate", fmt::format("Error creating: {}", created.status().message()));
    if (error.ok()) error = created.status();
  }
  for (const auto& d : deletes) {
    const json::value& p = *d.pod;
    client::DeleteOptions options;
    options.precondition_uid = std::string(client::object_uid(p));
    if (d.force) options.grace_period_seconds = 0;
    auto removed = client_->remove(kPods, ns, client::object_name(p), options);
    if (removed.ok()) {
      event(ds, "Normal", "SuccessfulDelete", fmt::format("Deleted pod: {}", client::object_name(p)));
      continue;
    }
    if (removed.status().code() == Code::kNotFound) continue;  // the informer will see it go
    expectations_.deletion_observed(key, client::object_key(p));
    if (removed.status().code() == Code::kAborted) continue;  // replaced meanwhile
    event(ds, "Warning", "FailedDelete",
          fmt::format("Error deleting: {}", removed.status().message()));
    if (error.ok()) error = removed.status();
  }
  return error;
}

}  // namespace

Result<std::unique_ptr<Controller>> new_daemonset_controller(const ControllerContext& ctx,
                                                             DaemonSetControllerOptions options) {
  if (!ctx.client) return invalid_argument("daemonset controller: no client");
  if (!ctx.informers) return invalid_argument("daemonset controller: no informers");
  return make_sink_controller(
      controller_options(kDaemonSetControllerName, options.workers, ctx),
      [&ctx](std::shared_ptr<KeySink> sink) {
        return std::make_shared<DaemonSetReconciler>(ctx, std::move(sink));
      });
}

ControllerRegistration daemonset_controller_registration(DaemonSetControllerOptions options) {
  return ControllerRegistration{
      kDaemonSetControllerName, kDaemonSetControllerComponent,
      [options](const ControllerContext& ctx) { return new_daemonset_controller(ctx, options); }};
}

}  // namespace orch::controller
