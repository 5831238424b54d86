// The Deployment controller; see include/orch/controller/deployment_controller.hpp. Modelled on
// Kubernetes' pkg/controller/deployment (deployment_controller.go, sync.go, rolling.go,
// recreate.go, progress.go); the arithmetic lives in deployment_util.cpp.
//
// Thread-safety: reconcile() runs on the Controller's workers, never twice at once for one
// Deployment; state shared between workers is the informers (thread-safe) and `written_`
// (guarded by written_mu_). Informer handlers reach the queue through a KeySink that the
// controller detaches before it is destroyed.
#include "orch/controller/deployment_controller.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "deployment_util.hpp"
#include "orch/api/codec.hpp"
#include "orch/api/selector.hpp"
#include "orch/api/types/apps.hpp"
#include "orch/api/types/core.hpp"
#include "orch/client/informer.hpp"
#include "orch/client/resource.hpp"

namespace orch::controller {

namespace json = boost::json;
namespace du = deployment;
using client::resources::kDeployments;
using client::resources::kPods;
using client::resources::kReplicaSets;

namespace {

constexpr const char* kFieldManager = "deployment-controller";
// Objects this controller wrote are remembered this long, to read past a lagging cache.
constexpr auto kWrittenTtl = std::chrono::minutes(2);

std::optional<std::int64_t> parse_rv(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

template <class T>
Result<T> decode_as(const json::value& v) {
  api::DecodeContext ctx;
  return api::decode<T>(v, ctx);
}

const api::OwnerReference* controller_ref(const api::ObjectMeta& m) {
  for (const auto& r : m.owner_references) {
    if (r.controller.value_or(false)) return &r;
  }
  return nullptr;
}

// The controller ownerReference of a JSON object: (kind, name, uid), or nullopt.
struct JsonRef {
  std::string kind, name, uid;
};
std::optional<JsonRef> json_controller_ref(const json::value& o) {
  const auto* obj = o.if_object();
  if (!obj) return std::nullopt;
  const auto* meta = obj->if_contains("metadata");
  if (!meta || !meta->is_object()) return std::nullopt;
  const auto* refs = meta->get_object().if_contains("ownerReferences");
  if (!refs || !refs->is_array()) return std::nullopt;
  for (const auto& r : refs->get_array()) {
    const auto* ro = r.if_object();
    if (!ro) continue;
    const auto* ctl = ro->if_contains("controller");
    if (!ctl || !ctl->is_bool() || !ctl->get_bool()) continue;
    JsonRef out;
    auto str = [&](const char* k) {
      const auto* v = ro->if_contains(k);
      return v && v->is_string() ? std::string(v->get_string()) : std::string();
    };
    out.kind = str("kind");
    out.name = str("name");
    out.uid = str("uid");
    return out;
  }
  return std::nullopt;
}

std::map<std::string, std::string> json_labels(const json::value& o) {
  std::map<std::string, std::string> out;
  const auto* obj = o.if_object();
  if (!obj) return out;
  const auto* meta = obj->if_contains("metadata");
  if (!meta || !meta->is_object()) return out;
  const auto* labels = meta->get_object().if_contains("labels");
  if (!labels || !labels->is_object()) return out;
  for (const auto& kv : labels->get_object()) {
    if (kv.value().is_string()) out.emplace(kv.key(), kv.value().get_string());
  }
  return out;
}

bool selector_is_empty(const std::optional<api::LabelSelector>& s) {
  return !s || (s->match_labels.empty() && s->match_expressions.empty());
}

// One reconcile's view of a Deployment and what it owns. ReplicaSets live in unique_ptrs so
// pointers into `rss` stay valid as ReplicaSets are added.
struct Sync {
  std::string ns, name;
  json::value obj;  // the Deployment as last read or written (for events)
  api::Deployment d;
  std::vector<std::unique_ptr<api::ReplicaSet>> rss;
  // Pods owned by each owned ReplicaSet (by RS uid), terminating ones included.
  std::map<std::string, std::vector<api::Pod>> pods;
  // Earliest time a ready pod becomes available (minReadySeconds), to look again then.
  std::optional<std::chrono::system_clock::time_point> next_available;
  std::optional<std::chrono::nanoseconds> requeue;

  std::vector<const api::ReplicaSet*> all() const {
    std::vector<const api::ReplicaSet*> out;
    for (const auto& rs : rss) out.push_back(rs.get());
    return out;
  }
  api::ReplicaSet* find(const api::ReplicaSet* p) {
    for (auto& rs : rss) {
      if (rs.get() == p) return rs.get();
    }
    return nullptr;
  }
  void requeue_after(std::chrono::nanoseconds d) {
    if (d < std::chrono::nanoseconds(0)) d = std::chrono::nanoseconds(0);
    if (!requeue || d < *requeue) requeue = d;
  }
};

class DeploymentReconciler final : public Reconciler {
 public:
  DeploymentReconciler(ControllerContext ctx, client::Informer& deployments,
                       client::Informer& replica_sets, client::Informer& pods)
      : ctx_(std::move(ctx)),
        clock_(ctx_.clock ? ctx_.clock : &util::real_clock()),
        deployments_(deployments),
        replica_sets_(replica_sets),
        pods_(pods) {}

  Outcome reconcile(const std::string& key) override;

 private:
  // --- reading ---
  // The newer of the cached object and the last one this controller wrote with that uid.
  json::value fresh(const json::value& cached);
  void remember(const json::value& written);
  void prune_written();
  Status claim_replica_sets(Sync& s, const api::Selector& selector);
  void count_pods(Sync& s, api::ReplicaSet& rs);

  // --- writing ---
  Status update_rs(Sync& s, api::ReplicaSet& rs);
  Status update_status(Sync& s);
  void event(const Sync& s, std::string_view type, std::string_view reason,
             const std::string& message);

  // --- sync.go ---
  struct Split {
    api::ReplicaSet* new_rs = nullptr;
    std::vector<const api::ReplicaSet*> old_rss;
    std::vector<const api::ReplicaSet*> all() const {
      auto out = old_rss;
      if (new_rs) out.push_back(new_rs);
      return out;
    }
  };
  Result<Split> get_all_replica_sets(Sync& s, bool create);
  Result<api::ReplicaSet*> get_new_replica_set(Sync& s, const std::vector<const api::ReplicaSet*>& old,
                                               bool create);
  Status sync(Sync& s);
  Status sync_status_only(Sync& s);
  Status scale(Sync& s, api::ReplicaSet* new_rs, const std::vector<const api::ReplicaSet*>& old);
  Result<bool> scale_rs_and_record(Sync& s, const api::ReplicaSet* rs, std::int32_t new_scale);
  Status scale_rs(Sync& s, const api::ReplicaSet* rs, std::int32_t new_scale,
                  std::string_view operation, bool* scaled = nullptr);
  Status cleanup(Sync& s, const std::vector<const api::ReplicaSet*>& old);
  Status sync_deployment_status(Sync& s, const api::ReplicaSet* new_rs);
  Status check_paused_conditions(Sync& s);
  Result<bool> is_scaling_event(Sync& s);

  // --- rolling.go / recreate.go / progress.go ---
  Status rollout_rolling(Sync& s);
  Result<bool> reconcile_new_replica_set(Sync& s, const Split& split);
  Result<bool> reconcile_old_replica_sets(Sync& s, const Split& split);
  Status rollout_recreate(Sync& s);
  bool old_pods_running(const Sync& s, const Split& split) const;
  Status sync_rollout_status(Sync& s, const api::ReplicaSet* new_rs);

  std::chrono::system_clock::time_point now() const { return clock_->system_now(); }

  // Const after construction.
  const ControllerContext ctx_;
  util::Clock* const clock_;
  client::Informer& deployments_;
  client::Informer& replica_sets_;
  client::Informer& pods_;

  struct Written {
    std::int64_t rv = 0;
    json::value object;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex written_mu_;  // lock order: leaf
  // Guarded by written_mu_: uid -> the object as the API answered our last write of it.
  std::unordered_map<std::string, Written> written_;
};

// ============================================================================ reading

json::value DeploymentReconciler::fresh(const json::value& cached) {
  std::string uid(client::object_uid(cached));
  auto cached_rv = parse_rv(client::object_resource_version(cached));
  std::lock_guard lock(written_mu_);
  auto it = written_.find(uid);
  if (it == written_.end()) return cached;
  if (cached_rv && *cached_rv >= it->second.rv) {
    written_.erase(it);  // the cache caught up
    return cached;
  }
  return it->second.object;
}

void DeploymentReconciler::remember(const json::value& written) {
  auto rv = parse_rv(client::object_resource_version(written));
  std::string uid(client::object_uid(written));
  if (!rv || uid.empty()) return;
  std::lock_guard lock(written_mu_);
  auto& w = written_[uid];
  if (*rv >= w.rv) w = Written{*rv, written, std::chrono::steady_clock::now()};
}

void DeploymentReconciler::prune_written() {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(written_mu_);
  std::erase_if(written_, [&](const auto& kv) { return now - kv.second.at > kWrittenTtl; });
}

void DeploymentReconciler::count_pods(Sync& s, api::ReplicaSet& rs) {
  // Pod counts from the pods themselves (see the header): replicas = pods not terminating,
  // available capped at spec.replicas, so pods of a scale-down still in flight never count as
  // available twice.
  std::int32_t active = 0, ready = 0, available = 0;
  auto now_t = now();
  std::int32_t min_ready = s.d.spec.min_ready_seconds;
  auto& list = s.pods[rs.metadata.uid];
  list.clear();
  auto owned = pods_.by_index(client::kIndexControllerUid, rs.metadata.uid);
  if (owned.ok()) {
    for (const auto& p : *owned) {
      if (client::object_namespace(*p) != s.ns) continue;
      auto pod = decode_as<api::Pod>(*p);
      if (!pod.ok()) continue;
      list.push_back(*pod);
      const auto& pd = list.back();
      if (pd.metadata.deletion_timestamp) continue;
      if (pd.status.phase == "Succeeded" || pd.status.phase == "Failed") continue;
      ++active;
      if (du::pod_ready(pd)) ++ready;
      if (du::pod_available(pd, min_ready, now_t)) {
        ++available;
      } else if (auto at = du::pod_available_at(pd, min_ready, now_t)) {
        if (!s.next_available || *at < *s.next_available) s.next_available = at;
      }
    }
  }
  rs.status.replicas = active;
  rs.status.ready_replicas = ready;
  rs.status.available_replicas = std::min(available, du::replicas_of(rs));
}

Status DeploymentReconciler::claim_replica_sets(Sync& s, const api::Selector& selector) {
  auto in_ns = replica_sets_.by_index(client::kIndexNamespace, s.ns);
  if (!in_ns.ok()) return in_ns.status();
  bool deleting = s.d.metadata.deletion_timestamp.has_value();
  bool can_adopt_checked = false, can_adopt = false;
  for (const auto& cached : *in_ns) {
    auto decoded = decode_as<api::ReplicaSet>(fresh(*cached));
    if (!decoded.ok()) continue;
    auto rs = std::make_unique<api::ReplicaSet>(std::move(decoded).value());
    const auto* ref = controller_ref(rs->metadata);
    bool matches = selector.matches(rs->metadata.labels);
    if (ref) {
      if (ref->uid != s.d.metadata.uid) continue;
      if (matches) {
        s.rss.push_back(std::move(rs));
        continue;
      }
      if (deleting) continue;
      // Release: it no longer matches our selector.
      std::erase_if(rs->metadata.owner_references, [&](const api::OwnerReference& r) {
        return r.uid == s.d.metadata.uid;
      });
      Status st = update_rs(s, *rs);
      if (!st.ok() && st.code() != Code::kNotFound) return st;
      continue;
    }
    if (!matches || deleting || rs->metadata.deletion_timestamp) continue;
    if (!can_adopt_checked) {
      // Kubernetes re-reads the Deployment before adopting, so a Deployment deleted and
      // re-created with the same name does not take the old one's ReplicaSets.
      can_adopt_checked = true;
      auto live = ctx_.client->get(kDeployments, s.ns, s.name);
      if (!live.ok()) return live.status();
      can_adopt = client::object_uid(*live) == s.d.metadata.uid &&
                  !live->as_object().at("metadata").as_object().contains("deletionTimestamp");
    }
    if (!can_adopt) continue;
    api::OwnerReference owner;
    owner.api_version = "apps/v1";
    owner.kind = "Deployment";
    owner.name = s.d.metadata.name;
    owner.uid = s.d.metadata.uid;
    owner.controller = true;
    owner.block_owner_deletion = true;
    rs->metadata.owner_references.push_back(owner);
    Status st = update_rs(s, *rs);
    if (st.code() == Code::kNotFound) continue;
    if (!st.ok()) return st;
    s.rss.push_back(std::move(rs));
  }
  for (auto& rs : s.rss) count_pods(s, *rs);
  return Status();
}

// ============================================================================ writing

Status DeploymentReconciler::update_rs(Sync& s, api::ReplicaSet& rs) {
  client::WriteOptions wo;
  wo.field_manager = kFieldManager;
  auto res = ctx_.client->update(kReplicaSets, s.ns, api::encode(rs), wo);
  if (!res.ok()) return res.status();
  remember(*res);
  auto updated = decode_as<api::ReplicaSet>(*res);
  if (!updated.ok()) return updated.status();
  // Keep the pod-derived status; take everything else from the answer.
  api::ReplicaSetStatus counted = rs.status;
  rs = std::move(updated).value();
  rs.status.replicas = counted.replicas;
  rs.status.ready_replicas = counted.ready_replicas;
  rs.status.available_replicas = std::min(counted.available_replicas, du::replicas_of(rs));
  return Status();
}

Status DeploymentReconciler::update_status(Sync& s) {
  client::WriteOptions wo;
  wo.field_manager = kFieldManager;
  auto res = ctx_.client->update_status(kDeployments, s.ns, api::encode(s.d), wo);
  if (!res.ok()) return res.status();
  remember(*res);
  auto updated = decode_as<api::Deployment>(*res);
  if (!updated.ok()) return updated.status();
  s.obj = *res;
  s.d = std::move(updated).value();
  return Status();
}

void DeploymentReconciler::event(const Sync& s, std::string_view type, std::string_view reason,
                                 const std::string& message) {
  if (ctx_.events) ctx_.events->event(s.obj, type, reason, message);
}

// ============================================================================ sync.go

Result<DeploymentReconciler::Split> DeploymentReconciler::get_all_replica_sets(Sync& s,
                                                                                bool create) {
  auto all = s.all();
  const auto* existing = du::find_new_replica_set(s.d, all);
  auto old = du::find_old_replica_sets(all, existing);
  ORCH_ASSIGN_OR_RETURN(api::ReplicaSet* new_rs, get_new_replica_set(s, old, create));
  Split out;
  out.new_rs = new_rs;
  out.old_rss = du::find_old_replica_sets(s.all(), new_rs);
  return out;
}

Result<api::ReplicaSet*> DeploymentReconciler::get_new_replica_set(
    Sync& s, const std::vector<const api::ReplicaSet*>& old, bool create) {
  const auto* existing_c = du::find_new_replica_set(s.d, s.all());
  std::int64_t new_revision = du::max_revision(old) + 1;
  auto now_t = now();

  if (existing_c) {
    api::ReplicaSet* existing = s.find(existing_c);
    api::ReplicaSet copy = *existing;
    bool annotations_changed = du::set_new_replica_set_annotations(s.d, copy, new_revision, true);
    bool min_ready_changed = copy.spec.min_ready_seconds != s.d.spec.min_ready_seconds;
    if (annotations_changed || min_ready_changed) {
      copy.spec.min_ready_seconds = s.d.spec.min_ready_seconds;
      ORCH_TRY(update_rs(s, copy));
      *existing = std::move(copy);
      return existing;
    }
    // The Deployment's revision follows its new ReplicaSet's.
    bool needs_update = false;
    std::string rev(std::to_string(du::revision_of(existing->metadata)));
    auto& ann = s.d.metadata.annotations[std::string(du::kRevisionAnnotation)];
    if (ann != rev) {
      ann = rev;
      needs_update = true;
    }
    if (du::has_progress_deadline(s.d) &&
        !du::get_condition(s.d.status, du::kConditionProgressing)) {
      du::set_condition(s.d.status,
                        du::new_condition(du::kConditionProgressing, "True", du::kReasonFoundNewRS,
                                          fmt::format("Found new replica set \"{}\"",
                                                      existing->metadata.name),
                                          now_t));
      needs_update = true;
    }
    if (needs_update) ORCH_TRY(update_status(s));
    return existing;
  }
  if (!create) return static_cast<api::ReplicaSet*>(nullptr);

  // A new ReplicaSet: the template with the hash label, the selector with it too.
  std::string hash = du::compute_hash(s.d.spec.template_, s.d.status.collision_count);
  auto rs = std::make_unique<api::ReplicaSet>();
  rs->spec.template_ = s.d.spec.template_;
  rs->spec.template_.metadata.labels[std::string(du::kPodTemplateHashLabel)] = hash;
  rs->spec.selector = s.d.spec.selector.value_or(api::LabelSelector{});
  rs->spec.selector->match_labels[std::string(du::kPodTemplateHashLabel)] = hash;
  rs->spec.min_ready_seconds = s.d.spec.min_ready_seconds;
  rs->metadata.name = s.d.metadata.name + "-" + hash;
  rs->metadata.namespace_ = s.ns;
  rs->metadata.labels = rs->spec.template_.metadata.labels;
  api::OwnerReference owner;
  owner.api_version = "apps/v1";
  owner.kind = "Deployment";
  owner.name = s.d.metadata.name;
  owner.uid = s.d.metadata.uid;
  owner.controller = true;
  owner.block_owner_deletion = true;
  rs->metadata.owner_references.push_back(owner);
  rs->spec.replicas = 0;
  auto all = old;
  all.push_back(rs.get());
  std::int32_t new_replicas = du::new_rs_new_replicas(s.d, all, *rs);
  rs->spec.replicas = new_replicas;
  du::set_new_replica_set_annotations(s.d, *rs, new_revision, false);

  client::WriteOptions wo;
  wo.field_manager = kFieldManager;
  bool already_exists = false;
  auto created = ctx_.client->create(kReplicaSets, s.ns, api::encode(*rs), wo);
  if (created.ok()) {
    remember(*created);
    auto decoded = decode_as<api::ReplicaSet>(*created);
    if (!decoded.ok()) return decoded.status();
    *rs = std::move(decoded).value();
  } else if (created.status().code() == Code::kAlreadyExists) {
    // A slow cache, or a hash collision: ours only when we own it and the template is ours.
    auto live = ctx_.client->get(kReplicaSets, s.ns, rs->metadata.name);
    if (!live.ok()) return live.status();
    auto decoded = decode_as<api::ReplicaSet>(*live);
    if (!decoded.ok()) return decoded.status();
    const auto* ref = controller_ref(decoded->metadata);
    if (ref && ref->uid == s.d.metadata.uid &&
        du::equal_ignore_hash(s.d.spec.template_, decoded->spec.template_)) {
      already_exists = true;
      *rs = std::move(decoded).value();
    } else {
      s.d.status.collision_count = s.d.status.collision_count.value_or(0) + 1;
      Status st = update_status(s);
      (void)st;  // the create error below makes the key retry either way
      return created.status();
    }
  } else {
    std::string msg =
        fmt::format("Failed to create new replica set \"{}\": {}", rs->metadata.name,
                    created.status().message());
    if (du::has_progress_deadline(s.d)) {
      du::set_condition(s.d.status, du::new_condition(du::kConditionProgressing, "False",
                                                      du::kReasonFailedRSCreate, msg, now_t));
      update_status(s).ignore();
    }
    event(s, "Warning", du::kReasonFailedRSCreate, msg);
    return created.status();
  }
  if (!already_exists && new_replicas > 0) {
    event(s, "Normal", "ScalingReplicaSet",
          fmt::format("Scaled up replica set {} to {}", rs->metadata.name, new_replicas));
  }
  bool needs_update = false;
  auto& ann = s.d.metadata.annotations[std::string(du::kRevisionAnnotation)];
  std::string rev = std::to_string(new_revision);
  if (ann != rev) {
    ann = rev;
    needs_update = true;
  }
  if (!already_exists && du::has_progress_deadline(s.d)) {
    du::set_condition(s.d.status,
                      du::new_condition(du::kConditionProgressing, "True", du::kReasonNewReplicaSet,
                                        fmt::format("Created new replica set \"{}\"",
                                                    rs->metadata.name),
                                        now_t));
    needs_update = true;
  }
  count_pods(s, *rs);
  s.rss.push_back(std::move(rs));
  api::ReplicaSet* out = s.rss.back().get();
  if (needs_update) ORCH_TRY(update_status(s));
  return out;
}

Result<bool> DeploymentReconciler::scale_rs_and_record(Sync& s, const api::ReplicaSet* rs,
                                                        std::int32_t new_scale) {
  if (du::replicas_of(*rs) == new_scale) return false;
  bool scaled = false;
  ORCH_TRY(scale_rs(s, rs, new_scale, du::replicas_of(*rs) < new_scale ? "up" : "down", &scaled));
  return scaled;
}

Status DeploymentReconciler::scale_rs(Sync& s, const api::ReplicaSet* rs_c, std::int32_t new_scale,
                                      std::string_view operation, bool* scaled) {
  api::ReplicaSet* rs = s.find(rs_c);
  if (!rs) return internal_error("scale of a ReplicaSet not in the sync");
  std::int32_t old_scale = du::replicas_of(*rs);
  bool size_changed = old_scale != new_scale;
  api::ReplicaSet copy = *rs;
  bool annotations_changed = du::set_replicas_annotations(
      copy, du::replicas_of(s.d), du::replicas_of(s.d) + du::max_surge(s.d));
  if (!size_changed && !annotations_changed) return Status();
  copy.spec.replicas = new_scale;
  ORCH_TRY(update_rs(s, copy));
  *rs = std::move(copy);
  if (size_changed) {
    if (scaled) *scaled = true;
    event(s, "Normal", "ScalingReplicaSet",
          fmt::format("Scaled {} replica set {} to {} from {}", operation, rs->metadata.name,
                      new_scale, old_scale));
  }
  return Status();
}

Status DeploymentReconciler::scale(Sync& s, api::ReplicaSet* new_rs,
                                   const std::vector<const api::ReplicaSet*>& old) {
  // One active ReplicaSet (or none: the newest) takes the whole count.
  if (const auto* target = du::find_active_or_latest(new_rs, old)) {
    if (du::replicas_of(*target) == du::replicas_of(s.d)) return Status();
    auto r = scale_rs_and_record(s, target, du::replicas_of(s.d));
    return r.status();
  }
  // A saturated new ReplicaSet: the old ones go to zero.
  if (du::is_saturated(s.d, new_rs)) {
    for (const auto* rs : du::filter_active(old)) {
      auto r = scale_rs_and_record(s, rs, 0);
      if (!r.ok()) return r.status();
    }
    return Status();
  }
  // Several active ReplicaSets mid-rollout: scale them all in proportion.
  if (du::is_rolling_update(s.d)) {
    auto all = old;
    if (new_rs) all.push_back(new_rs);
    auto active = du::filter_active(all);
    std::int32_t allowed =
        du::replicas_of(s.d) > 0 ? du::replicas_of(s.d) + du::max_surge(s.d) : 0;
    std::int32_t to_add = allowed - du::sum_spec_replicas(active);
    std::string_view op = to_add > 0 ? "up" : "down";
    auto sizes = du::proportional_sizes(s.d, active);
    for (const auto* rs : active) {
      ORCH_TRY(scale_rs(s, rs, sizes[rs->metadata.name], op));
    }
  }
  return Status();
}

Status DeploymentReconciler::cleanup(Sync& s, const std::vector<const api::ReplicaSet*>& old) {
  if (!du::has_revision_history_limit(s.d)) return Status();
  std::vector<const api::ReplicaSet*> cleanable;
  for (const auto* rs : old) {
    if (rs && !rs->metadata.deletion_timestamp) cleanable.push_back(rs);
  }
  std::int64_t diff = static_cast<std::int64_t>(cleanable.size()) - *s.d.spec.revision_history_limit;
  if (diff <= 0) return Status();
  std::sort(cleanable.begin(), cleanable.end(),
            [](const auto* a, const auto* b) { return du::lower_revision(*a, *b); });
  Status first_error;
  for (std::int64_t i = 0; i < diff; ++i) {
    const auto* rs = cleanable[static_cast<std::size_t>(i)];
    // Never a ReplicaSet with pods or one whose last change its controller has not seen.
    if (rs->status.replicas != 0 || du::replicas_of(*rs) != 0 ||
        rs->metadata.generation > rs->status.observed_generation) {
      continue;
    }
    client::DeleteOptions opts;
    opts.precondition_uid = rs->metadata.uid;
    auto res = ctx_.client->remove(kReplicaSets, s.ns, rs->metadata.name, opts);
    if (!res.ok() && res.status().code() != Code::kNotFound && first_error.ok()) {
      first_error = res.status();
    }
  }
  return first_error;
}

Status DeploymentReconciler::sync_deployment_status(Sync& s, const api::ReplicaSet* new_rs) {
  std::vector<const api::ReplicaSet*> all = s.all();
  api::DeploymentStatus st = du::calculate_status(s.d, all, new_rs, now());
  if (st == s.d.status) return Status();
  s.d.status = std::move(st);
  return update_status(s);
}

Status DeploymentReconciler::sync(Sync& s) {
  ORCH_ASSIGN_OR_RETURN(Split split, get_all_replica_sets(s, false));
  ORCH_TRY(scale(s, split.new_rs, split.old_rss));
  if (s.d.spec.paused) ORCH_TRY(cleanup(s, split.old_rss));
  return sync_deployment_status(s, split.new_rs);
}

Status DeploymentReconciler::sync_status_only(Sync& s) {
  ORCH_ASSIGN_OR_RETURN(Split split, get_all_replica_sets(s, false));
  return sync_deployment_status(s, split.new_rs);
}

Status DeploymentReconciler::check_paused_conditions(Sync& s) {
  if (!du::has_progress_deadline(s.d)) return Status();
  const auto* cond = du::get_condition(s.d.status, du::kConditionProgressing);
  if (cond && cond->reason == du::kReasonTimedOut) return Status();
  bool paused_exists = cond && cond->reason == du::kReasonPaused;
  if (s.d.spec.paused && !paused_exists) {
    du::set_condition(s.d.status, du::new_condition(du::kConditionProgressing, "Unknown",
                                                    du::kReasonPaused, "Deployment is paused",
                                                    now()));
  } else if (!s.d.spec.paused && paused_exists) {
    du::set_condition(s.d.status, du::new_condition(du::kConditionProgressing, "Unknown",
                                                    du::kReasonResumed, "Deployment is resumed",
                                                    now()));
  } else {
    return Status();
  }
  return update_status(s);
}

Result<bool> DeploymentReconciler::is_scaling_event(Sync& s) {
  ORCH_ASSIGN_OR_RETURN(Split split, get_all_replica_sets(s, false));
  for (const auto* rs : du::filter_active(split.all())) {
    auto it = rs->metadata.annotations.find(std::string(du::kDesiredReplicasAnnotation));
    if (it == rs->metadata.annotations.end()) continue;
    auto desired = parse_rv(it->second);
    if (!desired) continue;
    if (*desired != du::replicas_of(s.d)) return true;
  }
  return false;
}

// ============================================================================ rolling.go

Status DeploymentReconciler::rollout_rolling(Sync& s) {
  ORCH_ASSIGN_OR_RETURN(Split split, get_all_replica_sets(s, true));
  ORCH_ASSIGN_OR_RETURN(bool scaled_up, reconcile_new_replica_set(s, split));
  if (scaled_up) return sync_rollout_status(s, split.new_rs);
  ORCH_ASSIGN_OR_RETURN(bool scaled_down, reconcile_old_replica_sets(s, split));
  if (scaled_down) return sync_rollout_status(s, split.new_rs);
  if (du::deployment_complete(s.d, s.d.status)) ORCH_TRY(cleanup(s, split.old_rss));
  return sync_rollout_status(s, split.new_rs);
}

Result<bool> DeploymentReconciler::reconcile_new_replica_set(Sync& s, const Split& split) {
  const api::ReplicaSet* new_rs = split.new_rs;
  std::int32_t want = du::replicas_of(s.d);
  if (du::replicas_of(*new_rs) == want) return false;
  if (du::replicas_of(*new_rs) > want) return scale_rs_and_record(s, new_rs, want);
  std::int32_t n = du::new_rs_new_replicas(s.d, split.all(), *new_rs);
  return scale_rs_and_record(s, new_rs, n);
}

Result<bool> DeploymentReconciler::reconcile_old_replica_sets(Sync& s, const Split& split) {
  auto old = du::filter_active(split.old_rss);
  if (du::sum_spec_replicas(old) == 0) return false;  // nothing left to scale down
  const api::ReplicaSet* new_rs = split.new_rs;
  std::int32_t all_pods = du::sum_spec_replicas(split.all());
  std::int32_t min_available = du::replicas_of(s.d) - du::max_unavailable(s.d);
  std::int32_t new_unavailable = du::replicas_of(*new_rs) - new_rs->status.available_replicas;
  std::int32_t max_scaled_down = all_pods - min_available - new_unavailable;
  if (max_scaled_down <= 0) return false;

  // First the old ReplicaSets' unhealthy replicas: removing those costs no availability.
  std::sort(old.begin(), old.end(), [](const auto* a, const auto* b) { return du::older(*a, *b); });
  std::int32_t cleaned = 0;
  for (const auto* rs : old) {
    if (cleaned >= max_scaled_down) break;
    std::int32_t spec = du::replicas_of(*rs);
    if (spec == 0 || spec == rs->status.available_replicas) continue;
    std::int32_t n = std::min(max_scaled_down - cleaned, spec - rs->status.available_replicas);
    if (n <= 0) continue;
    auto r = scale_rs_and_record(s, rs, spec - n);
    if (!r.ok()) return r.status();
    cleaned += n;
  }

  // Then as many available ones as maxUnavailable allows.
  std::int32_t available = du::sum_available_replicas(split.all());
  std::int32_t scaled = 0;
  if (available > min_available) {
    std::int32_t total = available - min_available;
    for (const auto* rs : old) {
      if (scaled >= total) break;
      std::int32_t spec = du::replicas_of(*rs);
      if (spec == 0) continue;
      std::int32_t n = std::min(spec, total - scaled);
      auto r = scale_rs_and_record(s, rs, spec - n);
      if (!r.ok()) return r.status();
      scaled += n;
    }
  }
  return cleaned + scaled > 0;
}

// ============================================================================ recreate.go

bool DeploymentReconciler::old_pods_running(const Sync& s, const Split& split) const {
  if (du::sum_status_replicas(split.old_rss) > 0) return true;
  for (const auto& [uid, pods] : s.pods) {
    if (split.new_rs && split.new_rs->metadata.uid == uid) continue;
    for (const auto& p : pods) {
      if (p.status.phase == "Failed" || p.status.phase == "Succeeded") continue;
      return true;  // terminating ones too: Recreate waits for every old pod to be gone
    }
  }
  return false;
}

Status DeploymentReconciler::rollout_recreate(Sync& s) {
  // No new ReplicaSet yet: it is created only once the old pods are gone.
  ORCH_ASSIGN_OR_RETURN(Split split, get_all_replica_sets(s, false));
  bool scaled_down = false;
  for (const auto* rs : du::filter_active(split.old_rss)) {
    auto r = scale_rs_and_record(s, rs, 0);
    if (!r.ok()) return r.status();
    scaled_down = scaled_down || *r;
  }
  if (scaled_down) return sync_rollout_status(s, split.new_rs);
  if (old_pods_running(s, split)) return sync_rollout_status(s, split.new_rs);
  if (!split.new_rs) {
    ORCH_ASSIGN_OR_RETURN(split, get_all_replica_sets(s, true));
  }
  if (du::replicas_of(*split.new_rs) != du::replicas_of(s.d)) {
    auto r = scale_rs_and_record(s, split.new_rs, du::replicas_of(s.d));
    if (!r.ok()) return r.status();
  }
  if (du::deployment_complete(s.d, s.d.status)) ORCH_TRY(cleanup(s, split.old_rss));
  return sync_rollout_status(s, split.new_rs);
}

// ============================================================================ progress.go

Status DeploymentReconciler::sync_rollout_status(Sync& s, const api::ReplicaSet* new_rs) {
  auto now_t = now();
  api::DeploymentStatus st = du::rollout_status(s.d, s.all(), new_rs, now_t);
  if (!(st == s.d.status)) {
    s.d.status = std::move(st);
    ORCH_TRY(update_status(s));
  }
  if (auto after = du::stuck_requeue_after(s.d, s.d.status, now_t)) {
    s.requeue_after(*after == std::chrono::nanoseconds(0) ? std::chrono::milliseconds(200)
                                                          : *after);
  }
  return Status();
}

// ============================================================================ reconcile

Outcome DeploymentReconciler::reconcile(const std::string& key) {
  prune_written();
  auto cached = deployments_.get_by_key(key);
  if (!cached) return Outcome::done();  // deleted: the garbage collector takes its ReplicaSets
  Sync s;
  s.obj = fresh(*cached);
  s.ns = std::string(client::object_namespace(s.obj));
  s.name = std::string(client::object_name(s.obj));
  auto decoded = decode_as<api::Deployment>(s.obj);
  if (!decoded.ok()) return Outcome::terminal(decoded.status());
  s.d = std::move(decoded).value();

  if (selector_is_empty(s.d.spec.selector)) {
    event(s, "Warning", "SelectingAll",
          "This deployment is selecting all pods. A non-empty selector is required.");
    if (s.d.status.observed_generation < s.d.metadata.generation) {
      s.d.status.observed_generation = s.d.metadata.generation;
      Status st = update_status(s);
      if (!st.ok()) return Outcome::retry(st);
    }
    return Outcome::done();
  }
  auto selector = api::Selector::from(*s.d.spec.selector);
  if (!selector.ok()) return Outcome::terminal(selector.status());

  Status st = claim_replica_sets(s, *selector);
  if (st.ok()) {
    if (s.d.metadata.deletion_timestamp) {
      st = sync_status_only(s);
    } else if (st = check_paused_conditions(s); !st.ok()) {
      // retried below
    } else if (s.d.spec.paused) {
      st = sync(s);
    } else {
      auto scaling = is_scaling_event(s);
      if (!scaling.ok()) {
        st = scaling.status();
      } else if (*scaling) {
        st = sync(s);
      } else if (s.d.spec.strategy.type == "Recreate") {
        st = rollout_recreate(s);
      } else if (du::is_rolling_update(s.d)) {
        st = rollout_rolling(s);
      } else {
        return Outcome::terminal(invalid_argument(
            fmt::format("unexpected strategy type: {}", s.d.spec.strategy.type)));
      }
    }
  }
  if (!st.ok()) {
    if (st.code() == Code::kNotFound && !deployments_.get_by_key(key)) return Outcome::done();
    return Outcome::retry(st);
  }
  if (s.next_available) {
    s.requeue_after(std::chrono::duration_cast<std::chrono::nanoseconds>(*s.next_available -
                                                                         now()) +
                    std::chrono::milliseconds(100));
  }
  if (s.requeue) return Outcome::requeue_after(*s.requeue);
  return Outcome::done();
}

// ============================================================================ the controller

// Enqueues the Deployment owning ReplicaSet `rs`, or, for an orphan, every Deployment in its
// namespace whose selector matches it (one of them may adopt it).
void enqueue_for_replica_set(KeySink& h, client::Informer& deployments, const json::value& rs) {
  std::string ns(client::object_namespace(rs));
  if (auto ref = json_controller_ref(rs)) {
    if (ref->kind == "Deployment") h.add(client::make_key(ns, ref->name));
    return;
  }
  auto labels = json_labels(rs);
  auto in_ns = deployments.by_index(client::kIndexNamespace, ns);
  if (!in_ns.ok()) return;
  for (const auto& d : *in_ns) {
    auto decoded = decode_as<api::Deployment>(*d);
    if (!decoded.ok() || selector_is_empty(decoded->spec.selector)) continue;
    auto sel = api::Selector::from(*decoded->spec.selector);
    if (sel.ok() && sel->matches(labels)) h.add(client::object_key(*d));
  }
}

// Enqueues the Deployment that owns the ReplicaSet owning `pod`.
void enqueue_for_pod(KeySink& h, client::Informer& replica_sets, const json::value& pod) {
  auto ref = json_controller_ref(pod);
  if (!ref || ref->kind != "ReplicaSet") return;
  std::string ns(client::object_namespace(pod));
  auto rs = replica_sets.get(ns, ref->name);
  if (!rs || client::object_uid(*rs) != ref->uid) return;
  auto rs_ref = json_controller_ref(*rs);
  if (rs_ref && rs_ref->kind == "Deployment") h.add(client::make_key(ns, rs_ref->name));
}

}  // namespace

Result<std::unique_ptr<Controller>> new_deployment_controller(const ControllerContext& ctx,
                                                              DeploymentControllerOptions options) {
  if (!ctx.client || !ctx.informers) {
    return invalid_argument("deployment controller: the context needs a client and informers");
  }
  client::Informer& deployments = ctx.informers->informer(kDeployments);
  client::Informer& replica_sets = ctx.informers->informer(kReplicaSets);
  client::Informer& pods = ctx.informers->informer(kPods);
  deployments.add_indexer(std::string(client::kIndexNamespace), client::index_by_namespace());
  replica_sets.add_indexer(std::string(client::kIndexNamespace), client::index_by_namespace());
  pods.add_indexer(std::string(client::kIndexControllerUid), client::index_by_controller_uid());

  auto handle = std::make_shared<KeySink>();
  client::EventHandlers dh;
  dh.on_add = [handle](const client::SharedObject& o) { handle->add(client::object_key(*o)); };
  dh.on_update = [handle](const client::SharedObject&, const client::SharedObject& o) {
    handle->add(client::object_key(*o));
  };
  dh.on_delete = dh.on_add;
  ORCH_TRY(deployments.add_event_handler(std::move(dh)));

  client::Informer* dep_inf = &deployments;
  client::EventHandlers rh;
  rh.on_add = [handle, dep_inf](const client::SharedObject& o) {
    enqueue_for_replica_set(*handle, *dep_inf, *o);
  };
  rh.on_update = [handle, dep_inf](const client::SharedObject& old_o,
                                   const client::SharedObject& o) {
    auto old_ref = json_controller_ref(*old_o);
    auto new_ref = json_controller_ref(*o);
    if (old_ref && (!new_ref || new_ref->uid != old_ref->uid)) {
      enqueue_for_replica_set(*handle, *dep_inf, *old_o);
    }
    enqueue_for_replica_set(*handle, *dep_inf, *o);
  };
  rh.on_delete = rh.on_add;
  ORCH_TRY(replica_sets.add_event_handler(std::move(rh)));

  client::Informer* rs_inf = &replica_sets;
  client::EventHandlers ph;
  ph.on_add = [handle, rs_inf](const client::SharedObject& o) {
    enqueue_for_pod(*handle, *rs_inf, *o);
  };
  ph.on_update = [handle, rs_inf](const client::SharedObject& old_o,
                                  const client::SharedObject& o) {
    enqueue_for_pod(*handle, *rs_inf, *o);
    auto a = json_controller_ref(*old_o), b = json_controller_ref(*o);
    if (a && (!b || a->uid != b->uid)) enqueue_for_pod(*handle, *rs_inf, *old_o);
  };
  ph.on_delete = ph.on_add;
  ORCH_TRY(pods.add_event_handler(std::move(ph)));

  auto reconciler = std::make_shared<DeploymentReconciler>(ctx, deployments, replica_sets, pods);
  return std::unique_ptr<Controller>(std::make_unique<SinkController>(
      controller_options(kDeploymentControllerName, options.workers, ctx), std::move(reconciler),
      handle));
}

ControllerRegistration deployment_controller_registration(DeploymentControllerOptions options) {
  ControllerRegistration r;
  r.name = kDeploymentControllerName;
  r.component = kDeploymentControllerComponent;
  r.factory = [options](const ControllerContext& ctx) {
    return new_deployment_controller(ctx, options);
  };
  return r;
}

}  // namespace orch::controller
