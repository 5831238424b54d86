// The StatefulSet controller (see statefulset_controller.hpp). Thread-safety: reconcile() runs on
// the controller's workers, several at once for different sets; informer handlers run on the
// informers' threads. Shared state: the template cache (its own mutex) and the KeySink.
#include "orch/controller/statefulset_controller.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "orch/api/time.hpp"
#include "orch/client/informer.hpp"
#include "orch/client/resource.hpp"
#include "json_util.hpp"
#include "statefulset_controller_util.hpp"

namespace orch::controller {

namespace json = boost::json;
using client::SharedObject;
using client::resources::kPersistentVolumeClaims;
using client::resources::kPods;
using client::resources::kStatefulSets;
namespace sts = statefulset;

namespace {

using namespace json_util;

// The uid of the controller ownerReference when it is a StatefulSet, else "".
std::string_view owner_set_uid(const json::value& pod, std::string_view* name = nullptr) {
  return apps_owner_uid(pod, "StatefulSet", name);
}

bool is_running_and_ready(const json::value& pod) {
  return str_at(pod, {"status", "phase"}) == "Running" && is_ready(pod);
}

// Running, and Ready for minReadySeconds.
bool is_running_and_available(const json::value& pod, std::int64_t min_ready_seconds,
                              std::chrono::system_clock::time_point now,
                              std::optional<std::chrono::nanoseconds>* wait) {
  return str_at(pod, {"status", "phase"}) == "Running" &&
         is_available(pod, min_ready_seconds, now, wait);
}

class StatefulSetReconciler final : public Reconciler {
 public:
  StatefulSetReconciler(const ControllerContext& ctx, std::shared_ptr<KeySink> sink)
      : client_(ctx.client),
        events_(ctx.events),
        clock_(ctx.clock ? ctx.clock : &util::real_clock()),
        sink_(std::move(sink)),
        sets_(ctx.informers->informer(kStatefulSets)),
        pods_(ctx.informers->informer(kPods)) {}

  Status register_handlers(const std::shared_ptr<StatefulSetReconciler>& self) {
    pods_.add_indexer(std::string(client::kIndexNamespace), client::index_by_namespace());
    std::weak_ptr<StatefulSetReconciler> weak = self;
    ORCH_TRY(sets_.add_event_handler(
        {.on_add =
             [weak](const SharedObject& o) {
               if (auto r = weak.lock()) r->set_changed(*o);
             },
         .on_update =
             [weak](const SharedObject& old_set, const SharedObject& o) {
               if (auto r = weak.lock()) {
                 r->remember(*old_set);
                 r->set_changed(*o);
               }
             },
         .on_delete =
             [weak](const SharedObject& o) {
               if (auto r = weak.lock()) {
                 r->forget(client::object_key(*o));
                 r->sink_->add(client::object_key(*o));
               }
             }}));
    auto pod_changed = [weak](const SharedObject& o) {
      if (auto r = weak.lock()) r->pod_changed(*o);
    };
    ORCH_TRY(pods_.add_event_handler(
        {.on_add = pod_changed,
         .on_update =
             [weak](const SharedObject& old_pod, const SharedObject& new_pod) {
               if (auto r = weak.lock()) {
                 r->pod_changed(*new_pod);
                 std::string_view a = owner_set_uid(*old_pod), b = owner_set_uid(*new_pod);
                 if (a != b) r->pod_changed(*old_pod);
               }
             },
         .on_delete = pod_changed}));
    return Status();
  }

  Outcome reconcile(const std::string& key) override;

 private:
  void set_changed(const json::value& set) {
    remember(set);
    sink_->add(client::object_key(set));
  }
  void pod_changed(const json::value& pod) {
    std::string_view name;
    if (owner_set_uid(pod, &name).empty()) return;
    sink_->add(client::make_key(client::object_namespace(pod), name));
  }
  // Keeps the set's template by revision, so pods below a partition can be recreated at the
  // current revision.
  void remember(const json::value& set) {
    const json::value* tmpl = at(set, {"spec", "template"});
    if (!tmpl) return;
    std::string rev = sts::revision_of(client::object_name(set), *tmpl);
    std::lock_guard lock(mu_);
    auto& revs = templates_[client::object_key(set)];
    revs[rev] = *tmpl;
    // Keep a handful: the current and update revisions are always among the newest.
    while (revs.size() > 8) revs.erase(revs.begin());
  }
  std::optional<json::value> template_of(const std::string& key, const std::string& rev) {
    std::lock_guard lock(mu_);
    auto it = templates_.find(key);
    if (it == templates_.end()) return std::nullopt;
    auto r = it->second.find(rev);
    if (r == it->second.end()) return std::nullopt;
    return r->second;
  }
  void forget(const std::string& key) {
    std::lock_guard lock(mu_);
    templates_.erase(key);
  }

  void event(const json::value& set, std::string_view type, std::string_view reason,
             std::string_view message) {
    if (events_) events_->event(set, type, reason, message);
  }

  Status create_pod(const json::value& set, const std::string& key, int ordinal,
                    const std::string& revision, const std::string& update_revision);
  Status delete_pod(const json::value& set, const json::value& pod);
  Status update_status(const json::value& set, const std::vector<SharedObject>& pods,
                       const std::string& current_revision, const std::string& update_revision,
                       std::optional<std::chrono::nanoseconds>* wait);

  const std::shared_ptr<client::Client> client_;
  client::EventRecorder* const events_;
  util::Clock* const clock_;
  const std::shared_ptr<KeySink> sink_;
  client::Informer& sets_;
  client::Informer& pods_;

  std::mutex mu_;  // lock order: leaf
  // Guarded by mu_. Set key -> revision -> template.
  std::map<std::string, std::map<std::string, json::value>> templates_;
};

Outcome StatefulSetReconciler::reconcile(const std::string& key) {
  SharedObject cached = sets_.get_by_key(key);
  if (!cached) return Outcome::done();
  const json::value& set = *cached;
  const std::string_view ns = client::object_namespace(set);
  const std::string set_name(client::object_name(set));
  const std::string_view uid = client::object_uid(set);

  const json::value* tmpl = at(set, {"spec", "template"});
  const json::value empty_template = json::object();
  if (!tmpl) tmpl = &empty_template;
  remember(set);
  const std::string update_revision = sts::revision_of(set_name, *tmpl);
  std::string current_revision(str_at(set, {"status", "currentRevision"}));
  if (current_revision.empty()) current_revision = update_revision;

  // The pods this set owns (by controller ownerReference), by ordinal.
  auto all = pods_.by_index(client::kIndexNamespace, ns);
  if (!all.ok()) return Outcome::retry(all.status());
  std::vector<SharedObject> owned;
  std::vector<sts::PodState> states;
  std::map<int, SharedObject> by_ordinal;
  for (const auto& p : *all) {
    if (owner_set_uid(*p) != uid) continue;
    auto ord = sts::parse_ordinal(set_name, client::object_name(*p));
    if (!ord) continue;
    owned.push_back(p);
    by_ordinal[*ord] = p;
    std::string_view phase = str_at(*p, {"status", "phase"});
    states.push_back(sts::PodState{
        .ordinal = *ord,
        .terminating = is_deleting(*p),
        .finished = phase == "Succeeded" || phase == "Failed",
        .healthy = !is_deleting(*p) && is_running_and_ready(*p),
        .revision = std::string(str_at(*p, {"metadata", "labels", sts::kRevisionLabel}))});
  }

  Status error;
  if (!is_deleting(set)) {
    sts::SetSpec spec;
    spec.replicas = static_cast<int>(std::max<std::int64_t>(0, int_at(set, {"spec", "replicas"}, 1)));
    spec.parallel = str_at(set, {"spec", "podManagementPolicy"}) == "Parallel";
    spec.on_delete = str_at(set, {"spec", "updateStrategy", "type"}) == "OnDelete";
    spec.partition = static_cast<int>(
        int_at(set, {"spec", "updateStrategy", "rollingUpdate", "partition"}, 0));
    spec.current_revision = current_revision;
    spec.update_revision = update_revision;
    for (const auto& action : sts::plan(spec, states)) {
      Status s;
      if (action.kind == sts::Action::Kind::kCreate) {
        s = create_pod(set, key, action.ordinal, action.revision, update_revision);
      } else {
        s = delete_pod(set, *by_ordinal[action.ordinal]);
      }
      if (!s.ok()) {
        error = s;
        break;
      }
    }
  }

  std::optional<std::chrono::nanoseconds> wait;
  Status st = update_status(set, owned, current_revision, update_revision, &wait);
  if (!error.ok()) return Outcome::retry(error);
  if (!st.ok()) return Outcome::retry(st);
  if (wait) return Outcome::requeue_after(*wait);
  return Outcome::done();
}

Status StatefulSetReconciler::create_pod(const json::value& set, const std::string& key,
                                         int ordinal, const std::string& revision,
                                         const std::string& update_revision) {
  const std::string_view ns = client::object_namespace(set);
  const std::string set_name(client::object_name(set));
  const std::string name = sts::pod_name(set_name, ordinal);
  // Claims first: the pod never starts without its storage.
  for (const auto& claim : sts::build_claims(set, ordinal)) {
    std::string claim_name(client::object_name(claim));
    auto existing = client_->get(kPersistentVolumeClaims, ns, claim_name);
    if (existing.ok()) continue;
    if (existing.status().code() != Code::kNotFound) return existing.status();
    auto created = client_->create(kPersistentVolumeClaims, ns, claim);
    if (created.ok()) {
      event(set, "Normal", "SuccessfulCreate",
            fmt::format("create Claim {} Pod {} in StatefulSet {} success", claim_name, name,
                        set_name));
    } else if (created.status().code() != Code::kAlreadyExists) {
      event(set, "Warning", "FailedCreate",
            fmt::format("create Claim {} for Pod {} in StatefulSet {} failed error: {}",
                        claim_name, name, set_name, created.status().message()));
      return created.status();
    }
  }
  std::string rev = revision;
  std::optional<json::value> tmpl = template_of(key, rev);
  if (!tmpl) {  // the current template is unknown (e.g. after a restart): use the update one
    rev = update_revision;
    const json::value* t = at(set, {"spec", "template"});
    tmpl = t ? *t : json::value(json::object());
  }
  json::value pod = sts::build_pod(set, *tmpl, rev, ordinal);
  auto created = client_->create(kPods, ns, pod);
  if (created.ok()) {
    event(set, "Normal", "SuccessfulCreate",
          fmt::format("create Pod {} in StatefulSet {} successful", name, set_name));
    return Status();
  }
  // AlreadyExists: the cache is behind (or the old pod is still going); the informer catches up.
  if (created.status().code() == Code::kAlreadyExists) return Status();
  event(set, "Warning", "FailedCreate",
        fmt::format("create Pod {} in StatefulSet {} failed error: {}", name, set_name,
                    created.status().message()));
  return created.status();
}

Status StatefulSetReconciler::delete_pod(const json::value& set, const json::value& pod) {
  const std::string name(client::object_name(pod));
  client::DeleteOptions options;
  options.precondition_uid = std::string(client::object_uid(pod));
  auto removed = client_->remove(kPods, client::object_namespace(pod), name, options);
  if (removed.ok()) {
    event(set, "Normal", "SuccessfulDelete",
          fmt::format("delete Pod {} in StatefulSet {} successful", name,
                      client::object_name(set)));
    return Status();
  }
  // Gone or replaced already: the informer catches up.
  if (removed.status().code() == Code::kNotFound || removed.status().code() == Code::kAborted) {
    return Status();
  }
  event(set, "Warning", "FailedDelete",
        fmt::format("delete Pod {} in StatefulSet {} failed error: {}", name,
                    client::object_name(set), removed.status().message()));
  return removed.status();
}

Status StatefulSetReconciler::update_status(const json::value& set,
                                            const std::vector<SharedObject>& pods,
                                            const std::string& current_revision,
                                            const std::string& update_revision,
                                            std::optional<std::chrono::nanoseconds>* wait) {
  const std::int64_t min_ready = int_at(set, {"spec", "minReadySeconds"});
  const auto now = clock_->system_now();
  std::int64_t replicas = 0, ready = 0, available = 0, current = 0, updated = 0;
  for (const auto& p : pods) {
    if (is_deleting(*p)) continue;
    ++replicas;
    if (is_running_and_ready(*p)) ++ready;
    if (is_running_and_available(*p, min_ready, now, wait)) ++available;
    std::string_view rev = str_at(*p, {"metadata", "labels", sts::kRevisionLabel});
    if (rev == current_revision) ++current;
    if (rev == update_revision) ++updated;
  }
  std::string cur = current_revision;
  const std::int64_t want = std::max<std::int64_t>(0, int_at(set, {"spec", "replicas"}, 1));
  // Kubernetes' completeRollingUpdate.
  if (str_at(set, {"spec", "updateStrategy", "type"}) != "OnDelete" && updated == want &&
      ready == want && replicas == want) {
    cur = update_revision;
    current = updated;
  }
  const std::int64_t generation = int_at(set, {"metadata", "generation"});
  const std::int64_t collisions = int_at(set, {"status", "collisionCount"}, 0);
  bool same = int_at(set, {"status", "observedGeneration"}, 0) == generation &&
              int_at(set, {"status", "replicas"}, 0) == replicas &&
              int_at(set, {"status", "readyReplicas"}, 0) == ready &&
              int_at(set, {"status", "availableReplicas"}, 0) == available &&
              int_at(set, {"status", "currentReplicas"}, 0) == current &&
              int_at(set, {"status", "updatedReplicas"}, 0) == updated &&
              str_at(set, {"status", "currentRevision"}) == cur &&
              str_at(set, {"status", "updateRevision"}) == update_revision;
  if (same) return Status();
  json::value next = set;
  json::object status;
  if (const auto* old = at(set, {"status"}); old && old->is_object()) status = old->get_object();
  status["observedGeneration"] = generation;
  status["replicas"] = replicas;
  status["readyReplicas"] = ready;
  status["availableReplicas"] = available;
  status["currentReplicas"] = current;
  status["updatedReplicas"] = updated;
  status["currentRevision"] = cur;
  status["updateRevision"] = update_revision;
  status["collisionCount"] = collisions;
  next.as_object()["status"] = std::move(status);
  auto r = client_->update_status(kStatefulSets, client::object_namespace(set), next);
  // Aborted: the set changed meanwhile; its update event queues another sync.
  if (!r.ok() && r.status().code() != Code::kNotFound && r.status().code() != Code::kAborted) {
    return r.status();
  }
  return Status();
}

}  // namespace

Result<std::unique_ptr<Controller>> new_statefulset_controller(
    const ControllerContext& ctx, StatefulSetControllerOptions options) {
  if (!ctx.client) return invalid_argument("statefulset controller: no client");
  if (!ctx.informers) return invalid_argument("statefulset controller: no informers");
  return make_sink_controller(
      controller_options(kStatefulSetControllerName, options.workers, ctx),
      [&ctx](std::shared_ptr<KeySink> sink) {
        return std::make_shared<StatefulSetReconciler>(ctx, std::move(sink));
      });
}

ControllerRegistration statefulset_controller_registration(StatefulSetControllerOptions options) {
  return ControllerRegistration{
      kStatefulSetControllerName, kStatefulSetControllerComponent,
      [options](const ControllerContext& ctx) { return new_statefulset_controller(ctx, options); }};
}

}  // namespace orch::controller
