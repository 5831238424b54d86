// The ReplicaSet controller (see replicaset_controller.hpp). Thread-safety: reconcile() runs on
// the controller's workers, several at once for different ReplicaSets; informer handlers run on
// the informers' threads. Shared state: Expectations (its own mutex) and the KeySink (its own
// mutex, so handlers stop reaching the controller once it is destroyed).
#include "orch/controller/replicaset_controller.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "orch/api/selector.hpp"
#include "orch/api/time.hpp"
#include "orch/client/informer.hpp"
#include "orch/client/resource.hpp"
#include "expectations.hpp"
#include "json_util.hpp"

namespace orch::controller {

namespace json = boost::json;
using client::SharedObject;
using client::resources::kPods;
using client::resources::kReplicaSets;

namespace {

// Creates of one slow-start batch in flight at once.
constexpr int kMaxParallelCreates = 16;

using namespace json_util;

// The selector of spec.selector (matchLabels + matchExpressions). A missing selector selects
// nothing.
Result<api::Selector> selector_of(const json::value& rs) {
  return label_selector(at(rs, {"spec", "selector"}));
}

bool is_replicaset_ref(const OwnerRef& ref) {
  return ref.kind == "ReplicaSet" && ref.api_version.starts_with("apps/");
}

json::object owner_ref_to(const json::value& rs) {
  return json::object{{"apiVersion", "apps/v1"},
                      {"kind", "ReplicaSet"},
                      {"name", client::object_name(rs)},
                      {"uid", client::object_uid(rs)},
                      {"controller", true},
                      {"blockOwnerDeletion", true}};
}

// Active: not terminating, not finished (Kubernetes' FilterActivePods).
bool is_active(const json::value& pod) {
  std::string_view phase = str_at(pod, {"status", "phase"});
  return phase != "Succeeded" && phase != "Failed" && !is_deleting(pod);
}

std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view s) {
  if (s.empty()) return std::nullopt;
  auto t = api::Time::parse(s);
  if (!t.ok()) return std::nullopt;
  return t->value;
}

// When the pod became Ready (nullopt when not Ready or unknown).
std::optional<std::chrono::system_clock::time_point> ready_since(const json::value& pod) {
  const json::value* c = ready_condition(pod);
  if (!c || str_at(*c, {"status"}) != "True") return std::nullopt;
  return parse_time(str_at(*c, {"lastTransitionTime"}));
}

// ----------------------------------------------------------------------------- scale-down order

int phase_ordinal(std::string_view phase) {
  if (phase == "Unknown") return 1;
  if (phase == "Running") return 2;
  return 0;  // Pending, and what Go's map lookup defaults to
}

std::int64_t deletion_cost(const json::value& pod) {
  std::string_view s = str_at(pod, {"metadata", "annotations", "controller.kubernetes.io/pod-deletion-cost"});
  if (s.empty()) return 0;
  try {
    return std::stoll(std::string(s));
  } catch (...) {
    return 0;
  }
}

std::int64_t max_restarts(const json::value& pod) {
  std::int64_t m = 0;
  const json::value* cs = at(pod, {"status", "containerStatuses"});
  if (cs && cs->is_array()) {
    for (const auto& c : cs->get_array()) m = std::max(m, int_at(c, {"restartCount"}));
  }
  return m;
}

struct Ranked {
  SharedObject pod;
  int rank = 0;  // active pods of this ReplicaSet on the same node
};

// True when `a` should be deleted before `b` (ActivePodsWithRanks.Less).
bool delete_first(const Ranked& ra, const Ranked& rb) {
  const json::value& a = *ra.pod;
  const json::value& b = *rb.pod;
  bool a_unassigned = str_at(a, {"spec", "nodeName"}).empty();
  bool b_unassigned = str_at(b, {"spec", "nodeName"}).empty();
  if (a_unassigned != b_unassigned) return a_unassigned;
  int pa = phase_ordinal(str_at(a, {"status", "phase"}));
  int pb = phase_ordinal(str_at(b, {"status", "phase"}));
  if (pa != pb) return pa < pb;
  bool a_ready = is_ready(a), b_ready = is_ready(b);
  if (a_ready != b_ready) return !a_ready;
  std::int64_t ca = deletion_cost(a), cb = deletion_cost(b);
  if (ca != cb) return ca < cb;
  if (ra.rank != rb.rank) return ra.rank > rb.rank;
  if (a_ready && b_ready) {
    auto ta = ready_since(a), tb = ready_since(b);
    if (ta != tb) {
      if (!ta) return true;  // empty ready time first
      if (!tb) return false;
      return *ta > *tb;  // more recently ready first
    }
  }
  std::int64_t xa = max_restarts(a), xb = max_restarts(b);
  if (xa != xb) return xa > xb;
  auto ka = parse_time(str_at(a, {"metadata", "creationTimestamp"}));
  auto kb = parse_time(str_at(b, {"metadata", "creationTimestamp"}));
  if (ka != kb) {
    if (!ka) return true;
    if (!kb) return false;
    return *ka > *kb;  // newer first
  }
  return client::object_name(a) < client::object_name(b);
}

// ----------------------------------------------------------------------------- reconciler

class ReplicaSetReconciler final : public Reconciler {
 public:
  ReplicaSetReconciler(const ControllerContext& ctx, ReplicaSetControllerOptions options,
                       std::shared_ptr<KeySink> sink)
      : client_(ctx.client),
        events_(ctx.events),
        clock_(ctx.clock ? ctx.clock : &util::real_clock()),
        options_(options),
        sink_(std::move(sink)),
        expectations_(clock_),
        replicasets_(ctx.informers->informer(kReplicaSets)),
        pods_(ctx.informers->informer(kPods)) {}

  // Registers the informer handlers. Capture only the sink and `this` (kept alive by the
  // shared_ptr the handlers hold).
  Status register_handlers(const std::shared_ptr<ReplicaSetReconciler>& self) {
    replicasets_.add_indexer(std::string(client::kIndexNamespace), client::index_by_namespace());
    pods_.add_indexer(std::string(client::kIndexNamespace), client::index_by_namespace());
    std::weak_ptr<ReplicaSetReconciler> weak = self;
    auto rs_changed = [weak](const SharedObject& o) {
      if (auto r = weak.lock()) r->sink_->add(client::object_key(*o));
    };
    ORCH_TRY(replicasets_.add_event_handler(
        {.on_add = rs_changed,
         .on_update = [weak](const SharedObject&,
                             const SharedObject& o) {
           if (auto r = weak.lock()) r->sink_->add(client::object_key(*o));
         },
         .on_delete =
             [weak](const SharedObject& o) {
               if (auto r = weak.lock()) {
                 std::string key = client::object_key(*o);
                 r->expectations_.remove(key);
                 r->sink_->add(key);
               }
             }}));
    ORCH_TRY(pods_.add_event_handler(
        {.on_add =
             [weak](const SharedObject& o) {
               if (auto r = weak.lock()) r->pod_added(*o);
             },
         .on_update =
             [weak](const SharedObject& old_pod, const SharedObject& new_pod) {
               if (auto r = weak.lock()) r->pod_updated(*old_pod, *new_pod);
             },
         .on_delete =
             [weak](const SharedObject& o) {
               if (auto r = weak.lock()) r->pod_deleted(*o);
             }}));
    return Status();
  }

  Outcome reconcile(const std::string& key) override;

 private:
  // The ReplicaSet key that `ref` (in namespace `ns`) resolves to, when it is one of ours.
  std::optional<std::string> resolve(std::string_view ns, const OwnerRef& ref) const {
    if (!is_replicaset_ref(ref)) return std::nullopt;
    SharedObject rs = replicasets_.get(ns, ref.name);
    if (!rs || client::object_uid(*rs) != ref.uid) return std::nullopt;
    return client::make_key(ns, ref.name);
  }

  // Keys of ReplicaSets (with a non-empty selector) whose selector matches the orphan `pod`.
  std::vector<std::string> matching_replicasets(const json::value& pod) const {
    std::vector<std::string> out;
    auto labels = labels_of(pod);
    auto rss = replicasets_.by_index(client::kIndexNamespace, client::object_namespace(pod));
    if (!rss.ok()) return out;
    for (const auto& rs : *rss) {
      auto sel = selector_of(*rs);
      if (!sel.ok() || sel->empty()) continue;
      if (sel->matches(labels)) out.push_back(client::object_key(*rs));
    }
    return out;
  }

  void pod_added(const json::value& pod) {
    if (is_deleting(pod)) {  // seen for the first time already terminating (after a relist)
      pod_deleted(pod);
      return;
    }
    if (auto ref = controller_ref(pod)) {
      if (auto key = resolve(client::object_namespace(pod), *ref)) {
        expectations_.creation_observed(*key);
        sink_->add(*key);
      }
      return;
    }
    for (const auto& key : matching_replicasets(pod)) sink_->add(key);
  }

  void pod_updated(const json::value& old_pod, const json::value& new_pod) {
    if (client::object_resource_version(old_pod) == client::object_resource_version(new_pod)) {
      return;  // a resync
    }
    std::string_view ns = client::object_namespace(new_pod);
    bool labels_changed = labels_of(old_pod) != labels_of(new_pod);
    if (is_deleting(new_pod) && !is_deleting(old_pod)) {
      // Graceful deletion began: count it as deleted now, as Kubernetes does, so the
      // replacement is created without waiting for the grace period.
      pod_deleted(new_pod);
      if (labels_changed) {
        if (auto ref = controller_ref(old_pod)) {
          if (auto key = resolve(ns, *ref)) sink_->add(*key);
        }
      }
      return;
    }
    auto old_ref = controller_ref(old_pod);
    auto new_ref = controller_ref(new_pod);
    bool ref_changed = old_ref.has_value() != new_ref.has_value() ||
                       (old_ref && new_ref && old_ref->uid != new_ref->uid);
    if (ref_changed && old_ref) {
      if (auto key = resolve(ns, *old_ref)) sink_->add(*key);
    }
    if (new_ref) {
      if (auto key = resolve(ns, *new_ref)) sink_->add(*key);
      return;
    }
    if (labels_changed || ref_changed) {
      for (const auto& key : matching_replicasets(new_pod)) sink_->add(key);
    }
  }

  void pod_deleted(const json::value& pod) {
    auto ref = controller_ref(pod);
    if (!ref) return;
    auto key = resolve(client::object_namespace(pod), *ref);
    if (!key) return;
    expectations_.deletion_observed(*key, client::object_key(pod));
    sink_->add(*key);
  }

  void event(const json::value& rs, std::string_view type, std::string_view reason,
             std::string_view message) {
    if (events_) events_->event(rs, type, reason, message);
  }

  // Adopts orphans that match and releases owned pods that do not. Returns the active pods the
  // ReplicaSet owns afterwards.
  Result<std::vector<SharedObject>> claim_pods(const json::value& rs, const api::Selector& sel);
  // Creates or deletes pods toward spec.replicas.
  Status manage_replicas(const json::value& rs, const std::string& key,
                         const std::vector<SharedObject>& pods);
  Status create_pods(const json::value& rs, const std::string& key, int diff);
  Status delete_pods(const json::value& rs, const std::string& key,
                     const std::vector<SharedObject>& pods, int diff);
  // Writes the status when it changed. Returns when the ReplicaSet should be looked at again
  // (a Ready pod becomes available).
  Result<std::optional<std::chrono::nanoseconds>> update_status(
      const json::value& rs, const std::vector<SharedObject>& pods, const Status& manage_error);

  const std::shared_ptr<client::Client> client_;
  client::EventRecorder* const events_;
  util::Clock* const clock_;
  const ReplicaSetControllerOptions options_;
  const std::shared_ptr<KeySink> sink_;
  Expectations expectations_;
  client::Informer& replicasets_;
  client::Informer& pods_;
};

Outcome ReplicaSetReconciler::reconcile(const std::string& key) {
  SharedObject cached = replicasets_.get_by_key(key);
  if (!cached) {
    expectations_.remove(key);
    return Outcome::done();
  }
  const json::value& rs = *cached;
  // Read the expectations before the pods: a pod event that lands in between then only causes
  // one more sync, never a sync on a stale pod list with satisfied expectations.
  const bool needs_sync = expectations_.satisfied(key);

  auto sel = selector_of(rs);
  if (!sel.ok()) {
    return Outcome::terminal(
        Status(sel.status().code(), fmt::format("replicaset {}: invalid selector: {}", key,
                                                sel.status().message())));
  }
  auto claimed = claim_pods(rs, *sel);
  if (!claimed.ok()) return Outcome::retry(claimed.status());

  Status manage_error;
  if (needs_sync && !is_deleting(rs)) manage_error = manage_replicas(rs, key, *claimed);

  auto again = update_status(rs, *claimed, manage_error);
  if (!manage_error.ok()) return Outcome::retry(manage_error);
  if (!again.ok()) return Outcome::retry(again.status());
  if (*again) return Outcome::requeue_after(**again);
  return Outcome::done();
}

Result<std::vector<SharedObject>> ReplicaSetReconciler::claim_pods(const json::value& rs,
                                                                   const api::Selector& sel) {
  const std::string_view ns = client::object_namespace(rs);
  const std::string_view uid = client::object_uid(rs);
  auto all = pods_.by_index(client::kIndexNamespace, ns);
  if (!all.ok()) return all.status();

  std::vector<SharedObject> owned;
  std::optional<bool> can_adopt;  // checked against the API once, lazily
  Status first_error;
  for (const auto& pod : *all) {
    if (!is_active(*pod)) continue;
    auto labels = labels_of(*pod);
    bool matches = !sel.empty() && sel.matches(labels);
    auto ref = controller_ref(*pod);
    if (ref) {
      if (ref->uid != uid) continue;  // someone else's
      if (matches) {
        owned.push_back(pod);
        continue;
      }
      if (is_deleting(rs)) continue;
      // Release: drop our ownerReference.
      json::array refs;
      if (const auto* rs_refs = at(*pod, {"metadata", "ownerReferences"});
          rs_refs && rs_refs->is_array()) {
        for (const auto& r : rs_refs->get_array()) {
          if (str_at(r, {"uid"}) != uid) refs.push_back(r);
        }
      }
      json::value patch = {
          {"metadata",
           {{"ownerReferences", refs.empty() ? json::value(nullptr) : json::value(refs)},
            {"resourceVersion", client::object_resource_version(*pod)}}}};
      auto r = client_->patch(kPods, ns, client::object_name(*pod), client::PatchType::Merge,
                              json::serialize(patch));
      if (!r.ok() && r.status().code() != Code::kNotFound && first_error.ok()) {
        first_error = r.status();
      }
      continue;
    }
    // An orphan.
    if (!matches || is_deleting(rs)) continue;
    if (!can_adopt) {
      // Kubernetes' RecheckDeletionTimestamp: the cache may be stale; never adopt for a
      // ReplicaSet that was deleted or replaced.
      auto fresh = client_->get(kReplicaSets, ns, client::object_name(rs));
      can_adopt = fresh.ok() && client::object_uid(*fresh) == uid && !is_deleting(*fresh);
      if (!fresh.ok() && fresh.status().code() != Code::kNotFound) return fresh.status();
    }
    if (!*can_adopt) continue;
    json::array refs;
    if (const auto* pod_refs = at(*pod, {"metadata", "ownerReferences"});
        pod_refs && pod_refs->is_array()) {
      refs = pod_refs->get_array();
    }
    refs.push_back(owner_ref_to(rs));
    json::value patch = {{"metadata",
                          {{"ownerReferences", std::move(refs)},
                           {"resourceVersion", client::object_resource_version(*pod)}}}};
    auto r = client_->patch(kPods, ns, client::object_name(*pod), client::PatchType::Merge,
                            json::serialize(patch));
    if (r.ok()) {
      auto adopted = std::make_shared<const json::value>(std::move(r).value());
      if (is_active(*adopted)) owned.push_back(std::move(adopted));
    } else if (r.status().code() != Code::kNotFound && first_error.ok()) {
      first_error = r.status();
    }
  }
  if (!first_error.ok()) return first_error;
  return owned;
}

Status ReplicaSetReconciler::manage_replicas(const json::value& rs, const std::string& key,
                                             const std::vector<SharedObject>& pods) {
  const std::int64_t want = int_at(rs, {"spec", "replicas"}, 1);
  const std::int64_t diff = static_cast<std::int64_t>(pods.size()) - want;
  const int burst = std::max(1, options_.burst_replicas);
  if (diff < 0) return create_pods(rs, key, static_cast<int>(std::min<std::int64_t>(-diff, burst)));
  if (diff > 0) return delete_pods(rs, key, pods, static_cast<int>(std::min<std::int64_t>(diff, burst)));
  return Status();
}

Status ReplicaSetReconciler::create_pods(const json::value& rs, const std::string& key, int diff) {
  const std::string ns(client::object_namespace(rs));
  const std::string name(client::object_name(rs));
  // The pod every create sends (Kubernetes' GetPodFromTemplate).
  json::object meta;
  meta["generateName"] = name + "-";
  meta["namespace"] = ns;
  if (const auto* l = at(rs, {"spec", "template", "metadata", "labels"}); l && l->is_object()) {
    meta["labels"] = *l;
  }
  if (const auto* a = at(rs, {"spec", "template", "metadata", "annotations"});
      a && a->is_object()) {
    meta["annotations"] = *a;
  }
  if (const auto* f = at(rs, {"spec", "template", "metadata", "finalizers"}); f && f->is_array()) {
    meta["finalizers"] = *f;
  }
  meta["ownerReferences"] = json::array{owner_ref_to(rs)};
  json::value pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", std::move(meta)}};
  if (const auto* spec = at(rs, {"spec", "template", "spec"})) {
    pod.as_object()["spec"] = *spec;
  } else {
    pod.as_object()["spec"] = json::object();
  }

  expectations_.expect_creations(key, diff);
  std::atomic<int> succeeded{0};
  std::mutex error_mu;
  Status error;  // guarded by error_mu while a batch runs
  auto create_one = [&] {
    auto created = client_->create(kPods, ns, pod);
    if (created.ok()) {
      ++succeeded;
      event(rs, "Normal", "SuccessfulCreate",
            fmt::format("Created pod: {}", client::object_name(*created)));
      return;
    }
    const Status& s = created.status();
    event(rs, "Warning", "FailedCreate", fmt::format("Error creating: {}", s.message()));
    std::lock_guard lock(error_mu);
    if (error.ok()) error = s;
  };
  // Slow start: batches of 1, 2, 4, ..., each sent concurrently (up to kMaxParallelCreates at
  // once), so that a failing create (quota, a bad template) costs one request instead of `diff`,
  // and a large scale-up shares the store's group commits.
  for (int batch = 1, remaining = diff; remaining > 0; remaining -= batch, batch *= 2) {
    {
      std::lock_guard lock(error_mu);
      if (!error.ok()) break;
    }
    batch = std::min(batch, remaining);
    std::atomic<int> next{0};
    auto drain = [&] {
      while (next.fetch_add(1) < batch) create_one();
    };
    std::vector<std::thread> helpers;
    const int threads = std::min(batch, kMaxParallelCreates) - 1;
    for (int i = 0; i < threads; ++i) {
      try {
        helpers.emplace_back(drain);
      } catch (const std::system_error&) {
        break;  // no thread to spare: this thread does the rest
      }
    }
    drain();
    for (auto& t : helpers) t.join();
  }
  // Creates that failed or were skipped will never be observed.
  if (int unobserved = diff - succeeded.load(); unobserved > 0) {
    expectations_.creation_observed(key, unobserved);
  }
  return error;
}

Status ReplicaSetReconciler::delete_pods(const json::value& rs, const std::string& key,
                                         const std::vector<SharedObject>& pods, int diff) {
  std::map<std::string, int> per_node;
  for (const auto& p : pods) {
    std::string_view node = str_at(*p, {"spec", "nodeName"});
    if (!node.empty()) ++per_node[std::string(node)];
  }
  std::vector<Ranked> ranked;
  for (const auto& p : pods) {
    std::string_view node = str_at(*p, {"spec", "nodeName"});
    ranked.push_back({p, node.empty() ? 0 : per_node[std::string(node)]});
  }
  std::sort(ranked.begin(), ranked.end(), delete_first);
  ranked.resize(std::min<std::size_t>(ranked.size(), static_cast<std::size_t>(diff)));

  std::set<std::string> keys;
  for (const auto& r : ranked) keys.insert(client::object_key(*r.pod));
  expectations_.expect_deletions(key, keys);
  Status error;
  for (const auto& r : ranked) {
    const json::value& p = *r.pod;
    auto removed = client_->remove(kPods, client::object_namespace(p), client::object_name(p));
    if (removed.ok()) {
      event(rs, "Normal", "SuccessfulDelete", fmt::format("Deleted pod: {}", client::object_name(p)));
      continue;
    }
    if (removed.status().code() == Code::kNotFound) continue;  // the informer will see it go
    expectations_.deletion_observed(key, client::object_key(p));
    event(rs, "Warning", "FailedDelete",
          fmt::format("Error deleting: {}", removed.status().message()));
    if (error.ok()) error = removed.status();
  }
  return error;
}

Result<std::optional<std::chrono::nanoseconds>> ReplicaSetReconciler::update_status(
    const json::value& rs, const std::vector<SharedObject>& pods, const Status& manage_error) {
  const std::int64_t min_ready = int_at(rs, {"spec", "minReadySeconds"});
  const auto now = clock_->system_now();
  auto template_labels = string_map(at(rs, {"spec", "template", "metadata", "labels"}));
  std::int64_t fully_labeled = 0, ready = 0, available = 0;
  std::optional<std::chrono::nanoseconds> wait;
  for (const auto& p : pods) {
    auto labels = labels_of(*p);
    bool all = std::all_of(template_labels.begin(), template_labels.end(), [&](const auto& kv) {
      auto it = labels.find(kv.first);
      return it != labels.end() && it->second == kv.second;
    });
    if (all) ++fully_labeled;
    if (is_ready(*p)) ++ready;
    if (is_available(*p, min_ready, now, &wait)) ++available;
  }
  const std::int64_t replicas = static_cast<std::int64_t>(pods.size());
  const std::int64_t generation = int_at(rs, {"metadata", "generation"});

  // Conditions: ReplicaFailure while creates/deletes fail (Kubernetes' calculateStatus).
  json::array conditions;
  const json::value* old_conds = at(rs, {"status", "conditions"});
  const json::value* old_failure = nullptr;
  if (old_conds && old_conds->is_array()) {
    for (const auto& c : old_conds->get_array()) {
      if (str_at(c, {"type"}) == "ReplicaFailure") {
        old_failure = &c;
      } else {
        conditions.push_back(c);
      }
    }
  }
  if (!manage_error.ok()) {
    const std::int64_t want = int_at(rs, {"spec", "replicas"}, 1);
    const char* reason = replicas < want ? "FailedCreate" : "FailedDelete";
    if (old_failure) {
      conditions.push_back(*old_failure);
    } else {
      conditions.push_back(json::object{{"type", "ReplicaFailure"},
                                        {"status", "True"},
                                        {"lastTransitionTime", api::Time{now}.to_string()},
                                        {"reason", reason},
                                        {"message", manage_error.message()}});
    }
  }

  auto same = [&] {
    bool conds_same = (old_conds && old_conds->is_array() ? old_conds->get_array()
                                                           : json::array()) == conditions;
    return int_at(rs, {"status", "replicas"}) == replicas &&
           int_at(rs, {"status", "fullyLabeledReplicas"}) == fully_labeled &&
           int_at(rs, {"status", "readyReplicas"}) == ready &&
           int_at(rs, {"status", "availableReplicas"}) == available &&
           int_at(rs, {"status", "observedGeneration"}) == generation && conds_same;
  };
  if (!same()) {
    json::value next = rs;
    json::object status;
    status["replicas"] = replicas;
    status["fullyLabeledReplicas"] = fully_labeled;
    status["readyReplicas"] = ready;
    status["availableReplicas"] = available;
    status["observedGeneration"] = generation;
    if (!conditions.empty()) status["conditions"] = std::move(conditions);
    next.as_object()["status"] = std::move(status);
    auto r = client_->update_status(kReplicaSets, client::object_namespace(rs), next);
    // Aborted: the ReplicaSet changed meanwhile; its update event queues another sync.
    if (!r.ok() && r.status().code() != Code::kNotFound && r.status().code() != Code::kAborted) {
      return r.status();
    }
  }
  if (wait) return std::optional<std::chrono::nanoseconds>(*wait);
  return std::optional<std::chrono::nanoseconds>();
}

}  // namespace

Result<std::unique_ptr<Controller>> new_replicaset_controller(const ControllerContext& ctx,
                                                              ReplicaSetControllerOptions options) {
  if (!ctx.client) return invalid_argument("replicaset controller: no client");
  if (!ctx.informers) return invalid_argument("replicaset controller: no informers");
  return make_sink_controller(
      controller_options(kReplicaSetControllerName, options.workers, ctx),
      [&ctx, &options](std::shared_ptr<KeySink> sink) {
        return std::make_shared<ReplicaSetReconciler>(ctx, options, std::move(sink));
      });
}

ControllerRegistration replicaset_controller_registration(ReplicaSetControllerOptions options) {
  return ControllerRegistration{
      kReplicaSetControllerName, kReplicaSetControllerComponent,
      [options](const ControllerContext& ctx) { return new_replicaset_controller(ctx, options); }};
}

}  // namespace orch::controller
