// Pure functions of the Deployment controller; see deployment_util.hpp. Stateless.
#include "deployment_util.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "json_util.hpp"
#include "orch/api/codec.hpp"

namespace orch::controller::deployment {

namespace json = boost::json;
using SysTime = std::chrono::system_clock::time_point;

// ----------------------------------------------------------------------------- hashing

std::uint32_t fnv32a(std::string_view bytes, std::uint32_t hash) {
  return json_util::fnv32a(bytes, hash);
}

std::string safe_encode_string(std::string_view s) { return json_util::safe_encode(s); }

namespace {

void write_canonical(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      std::vector<const json::key_value_pair*> members;
      members.reserve(o.size());
      for (const auto& kv : o) members.push_back(&kv);
      std::sort(members.begin(), members.end(),
                [](const auto* a, const auto* b) { return a->key() < b->key(); });
      out.push_back('{');
      bool first = true;
      for (const auto* kv : members) {
        if (!first) out.push_back(',');
        first = false;
        out += json::serialize(json::string(kv->key()));
        out.push_back(':');
        write_canonical(kv->value(), out);
      }
      out.push_back('}');
      return;
    }
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        write_canonical(e, out);
      }
      out.push_back(']');
      return;
    }
    default:
      out += json::serialize(v);
  }
}

api::PodTemplateSpec without_hash(api::PodTemplateSpec t) {
  t.metadata.labels.erase(std::string(kPodTemplateHashLabel));
  return t;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::int32_t> int_annotation(const api::ReplicaSet& rs, std::string_view key) {
  auto it = rs.metadata.annotations.find(std::string(key));
  if (it == rs.metadata.annotations.end()) return std::nullopt;
  auto v = parse_int(it->second);
  if (!v || *v < std::numeric_limits<std::int32_t>::min() ||
      *v > std::numeric_limits<std::int32_t>::max()) {
    return std::nullopt;
  }
  return static_cast<std::int32_t>(*v);
}

SysTime creation_of(const api::ReplicaSet& rs) {
  return rs.metadata.creation_timestamp ? rs.metadata.creation_timestamp->value : SysTime{};
}

}  // namespace

std::string canonical_json(const json::value& value) {
  std::string out;
  write_canonical(value, out);
  return out;
}

std::string compute_hash(const api::PodTemplateSpec& tmpl, std::optional<std::int32_t> collision) {
  std::uint32_t h = fnv32a(canonical_json(api::encode(tmpl)));
  if (collision) {
    auto c = static_cast<std::uint32_t>(*collision);
    char bytes[8] = {static_cast<char>(c & 0xff), static_cast<char>((c >> 8) & 0xff),
                     static_cast<char>((c >> 16) & 0xff), static_cast<char>((c >> 24) & 0xff),
                     0, 0, 0, 0};
    h = fnv32a(std::string_view(bytes, sizeof bytes), h);
  }
  return safe_encode_string(std::to_string(h));
}

bool equal_ignore_hash(const api::PodTemplateSpec& a, const api::PodTemplateSpec& b) {
  return api::encode(without_hash(a)) == api::encode(without_hash(b));
}

// ----------------------------------------------------------------------------- surge/unavailable

Result<Fenceposts> resolve_fenceposts(const std::optional<api::IntOrString>& max_surge,
                                      const std::optional<api::IntOrString>& max_unavailable,
                                      std::int32_t desired) {
  api::IntOrString zero(0);
  ORCH_ASSIGN_OR_RETURN(std::int32_t surge, max_surge.value_or(zero).scaled_value(desired, true));
  ORCH_ASSIGN_OR_RETURN(std::int32_t unavailable,
                        max_unavailable.value_or(zero).scaled_value(desired, false));
  if (surge == 0 && unavailable == 0) unavailable = 1;
  return Fenceposts{surge, unavailable};
}

bool is_rolling_update(const api::Deployment& d) { return d.spec.strategy.type == "RollingUpdate"; }

std::int32_t replicas_of(const api::Deployment& d) { return d.spec.replicas.value_or(1); }
std::int32_t replicas_of(const api::ReplicaSet& rs) { return rs.spec.replicas.value_or(1); }

namespace {
Fenceposts fenceposts_of(const api::Deployment& d) {
  std::optional<api::IntOrString> surge, unavailable;
  if (d.spec.strategy.rolling_update) {
    surge = d.spec.strategy.rolling_update->max_surge;
    unavailable = d.spec.strategy.rolling_update->max_unavailable;
  }
  // Validation rejects malformed values; treat one that slipped through as 0 (then 0/1).
  return resolve_fenceposts(surge, unavailable, replicas_of(d)).value_or(Fenceposts{0, 1});
}
}  // namespace

std::int32_t max_unavailable(const api::Deployment& d) {
  if (!is_rolling_update(d) || replicas_of(d) == 0) return 0;
  return std::min(fenceposts_of(d).max_unavailable, replicas_of(d));
}

std::int32_t max_surge(const api::Deployment& d) {
  if (!is_rolling_update(d)) return 0;
  return fenceposts_of(d).max_surge;
}

// ----------------------------------------------------------------------------- revisions

std::int64_t revision_of(const api::ObjectMeta& meta) {
  auto it = meta.annotations.find(std::string(kRevisionAnnotation));
  if (it == meta.annotations.end()) return 0;
  return parse_int(it->second).value_or(0);
}

std::int64_t max_revision(const std::vector<const api::ReplicaSet*>& rss) {
  std::int64_t m = 0;
  for (const auto* rs : rss) {
    if (rs) m = std::max(m, revision_of(rs->metadata));
  }
  return m;
}

bool skip_copy_annotation(std::string_view key) {
  return key == kLastAppliedAnnotation || key == kRevisionAnnotation ||
         key == kRevisionHistoryAnnotation || key == kDesiredReplicasAnnotation ||
         key == kMaxReplicasAnnotation || key == kRollbackToAnnotation;
}

bool set_replicas_annotations(api::ReplicaSet& rs, std::int32_t desired, std::int32_t max) {
  bool changed = false;
  auto set = [&](std::string_view key, std::int32_t v) {
    auto& slot = rs.metadata.annotations[std::string(key)];
    std::string s = std::to_string(v);
    if (slot != s) {
      slot = std::move(s);
      changed = true;
    }
  };
  set(kDesiredReplicasAnnotation, desired);
  set(kMaxReplicasAnnotation, max);
  return changed;
}

bool set_new_replica_set_annotations(const api::Deployment& d, api::ReplicaSet& rs,
                                     std::int64_t new_revision, bool exists,
                                     std::size_t history_limit_chars) {
  bool changed = false;
  auto& ann = rs.metadata.annotations;
  for (const auto& [k, v] : d.metadata.annotations) {
    if (skip_copy_annotation(k)) continue;
    auto it = ann.find(k);
    if (it != ann.end() && it->second == v) continue;
    ann[k] = v;
    changed = true;
  }
  auto rit = ann.find(std::string(kRevisionAnnotation));
  bool had = rit != ann.end();
  std::string old_revision = had ? rit->second : std::string();
  std::int64_t old_int = 0;
  if (!old_revision.empty()) {
    auto parsed = parse_int(old_revision);
    if (!parsed) return changed;  // not a number: leave it alone, as Kubernetes does
    old_int = *parsed;
  }
  if (old_int < new_revision) {
    ann[std::string(kRevisionAnnotation)] = std::to_string(new_revision);
    changed = true;
    // A revision that was already set is moving up: this RS is being rolled back to. Keep the
    // old revision in the history (oldest dropped first when it grows past the limit).
    if (had) {
      auto& hist = ann[std::string(kRevisionHistoryAnnotation)];
      if (hist.empty()) {
        hist = old_revision;
      } else {
        std::vector<std::string> parts;
        std::size_t start = 0;
        while (true) {
          auto comma = hist.find(',', start);
          parts.push_back(hist.substr(start, comma - start));
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
        std::size_t total = hist.size() + old_revision.size() + 1;
        std::size_t first = 0;
        while (total > history_limit_chars && first < parts.size()) {
          total -= parts[first].size() + 1;
          ++first;
        }
        if (total <= history_limit_chars) {
          std::string joined;
          for (std::size_t i = first; i < parts.size(); ++i) joined += parts[i] + ",";
          joined += old_revision;
          hist = joined;
        }
      }
    }
  }
  if (!exists && set_replicas_annotations(rs, replicas_of(d), replicas_of(d) + max_surge(d))) {
    changed = true;
  }
  return changed;
}

// ----------------------------------------------------------------------------- selection

bool older(const api::ReplicaSet& a, const api::ReplicaSet& b) {
  auto ta = creation_of(a), tb = creation_of(b);
  if (ta != tb) return ta < tb;
  return a.metadata.name < b.metadata.name;
}

bool lower_revision(const api::ReplicaSet& a, const api::ReplicaSet& b) {
  auto ra = revision_of(a.metadata), rb = revision_of(b.metadata);
  if (ra != rb) return ra < rb;
  return older(a, b);
}

const api::ReplicaSet* find_new_replica_set(const api::Deployment& d,
                                            const std::vector<const api::ReplicaSet*>& rss) {
  const api::ReplicaSet* best = nullptr;
  for (const auto* rs : rss) {
    if (!rs || !equal_ignore_hash(rs->spec.template_, d.spec.template_)) continue;
    // Several RSs with the template (e.g. one created by another controller version): take the
    // oldest, deterministically.
    if (!best || older(*rs, *best)) best = rs;
  }
  return best;
}

std::vector<const api::ReplicaSet*> find_old_replica_sets(
    const std::vector<const api::ReplicaSet*>& rss, const api::ReplicaSet* new_rs) {
  std::vector<const api::ReplicaSet*> out;
  for (const auto* rs : rss) {
    if (rs && rs != new_rs) out.push_back(rs);
  }
  return out;
}

std::vector<const api::ReplicaSet*> filter_active(const std::vector<const api::ReplicaSet*>& rss) {
  std::vector<const api::ReplicaSet*> out;
  for (const auto* rs : rss) {
    if (rs && replicas_of(*rs) > 0) out.push_back(rs);
  }
  return out;
}

const api::ReplicaSet* find_active_or_latest(const api::ReplicaSet* new_rs,
                                             std::vector<const api::ReplicaSet*> old_rss) {
  if (!new_rs && old_rss.empty()) return nullptr;
  std::sort(old_rss.begin(), old_rss.end(),
            [](const auto* a, const auto* b) { return older(*b, *a); });  // newest first
  std::vector<const api::ReplicaSet*> all = old_rss;
  all.push_back(new_rs);
  auto active = filter_active(all);
  if (active.size() == 1) return active[0];
  if (active.empty()) return new_rs ? new_rs : old_rss[0];
  return nullptr;
}

std::int32_t sum_spec_replicas(const std::vector<const api::ReplicaSet*>& rss) {
  std::int32_t n = 0;
  for (const auto* rs : rss) {
    if (rs) n += replicas_of(*rs);
  }
  return n;
}
std::int32_t sum_status_replicas(const std::vector<const api::ReplicaSet*>& rss) {
  std::int32_t n = 0;
  for (const auto* rs : rss) {
    if (rs) n += rs->status.replicas;
  }
  return n;
}
std::int32_t sum_ready_replicas(const std::vector<const api::ReplicaSet*>& rss) {
  std::int32_t n = 0;
  for (const auto* rs : rss) {
    if (rs) n += rs->status.ready_replicas;
  }
  return n;
}
std::int32_t sum_available_replicas(const std::vector<const api::ReplicaSet*>& rss) {
  std::int32_t n = 0;
  for (const auto* rs : rss) {
    if (rs) n += rs->status.available_replicas;
  }
  return n;
}

// ----------------------------------------------------------------------------- scaling

std::int32_t new_rs_new_replicas(const api::Deployment& d,
                                 const std::vector<const api::ReplicaSet*>& all_rss,
                                 const api::ReplicaSet& new_rs) {
  if (!is_rolling_update(d)) return replicas_of(d);
  std::int32_t current = 0;
  bool new_counted = false;
  for (const auto* rs : all_rss) {
    if (!rs) continue;
    if (rs == &new_rs) new_counted = true;
    current += std::max(replicas_of(*rs), rs->status.replicas);
  }
  if (!new_counted) current += std::max(replicas_of(new_rs), new_rs.status.replicas);
  std::int32_t max_total = replicas_of(d) + max_surge(d);
  if (current >= max_total) return replicas_of(new_rs);
  std::int32_t up = std::min(max_total - current, replicas_of(d) - replicas_of(new_rs));
  return replicas_of(new_rs) + std::max(up, 0);
}

bool is_saturated(const api::Deployment& d, const api::ReplicaSet* rs) {
  if (!rs) return false;
  auto desired = int_annotation(*rs, kDesiredReplicasAnnotation);
  if (!desired) return false;
  return replicas_of(*rs) == replicas_of(d) && *desired == replicas_of(d) &&
         rs->status.available_replicas == replicas_of(d);
}

std::int32_t get_proportion(const api::ReplicaSet& rs, const api::Deployment& d,
                            std::int32_t to_add, std::int32_t added,
                            std::int32_t fallback_total) {
  if (replicas_of(rs) == 0 || to_add == 0 || to_add == added) return 0;
  std::int32_t fraction;
  if (replicas_of(d) == 0) {
    fraction = -replicas_of(rs);
  } else {
    std::int32_t deployment_replicas = replicas_of(d) + max_surge(d);
    std::int32_t annotated = int_annotation(rs, kMaxReplicasAnnotation).value_or(fallback_total);
    if (annotated == 0) {
      fraction = 0;
    } else {
      double size = static_cast<double>(replicas_of(rs)) * deployment_replicas / annotated;
      fraction = static_cast<std::int32_t>(std::lround(size)) - replicas_of(rs);
    }
  }
  std::int32_t allowed = to_add - added;
  return to_add > 0 ? std::min(fraction, allowed) : std::max(fraction, allowed);
}

std::map<std::string, std::int32_t> proportional_sizes(const api::Deployment& d,
                                                       std::vector<const api::ReplicaSet*> active) {
  std::map<std::string, std::int32_t> sizes;
  std::int32_t total = sum_spec_replicas(active);
  std::int32_t allowed = replicas_of(d) > 0 ? replicas_of(d) + max_surge(d) : 0;
  std::int32_t to_add = allowed - total;
  if (to_add > 0) {
    // Largest first; among equals the newer first (scale up newer first).
    std::sort(active.begin(), active.end(), [](const auto* a, const auto* b) {
      if (replicas_of(*a) != replicas_of(*b)) return replicas_of(*a) > replicas_of(*b);
      return older(*b, *a);
    });
  } else if (to_add < 0) {
    // Largest first; among equals the older first (scale down older first).
    std::sort(active.begin(), active.end(), [](const auto* a, const auto* b) {
      if (replicas_of(*a) != replicas_of(*b)) return replicas_of(*a) > replicas_of(*b);
      return older(*a, *b);
    });
  }
  std::int32_t added = 0;
  for (const auto* rs : active) {
    if (to_add != 0) {
      std::int32_t p = get_proportion(*rs, d, to_add, added, d.status.replicas);
      sizes[rs->metadata.name] = replicas_of(*rs) + p;
      added += p;
    } else {
      sizes[rs->metadata.name] = replicas_of(*rs);
    }
  }
  if (!active.empty() && to_add != 0) {
    auto& first = sizes[active[0]->metadata.name];
    first += to_add - added;
    if (first < 0) first = 0;
  }
  return sizes;
}

// ----------------------------------------------------------------------------- pods

namespace {
const api::PodCondition* ready_condition(const api::Pod& pod) {
  for (const auto& c : pod.status.conditions) {
    if (c.type == "Ready") return &c;
  }
  return nullptr;
}
}  // namespace

bool pod_ready(const api::Pod& pod) {
  const auto* c = ready_condition(pod);
  return c && c->status == "True";
}

bool pod_available(const api::Pod& pod, std::int32_t min_ready_seconds, SysTime now) {
  const auto* c = ready_condition(pod);
  if (!c || c->status != "True") return false;
  if (min_ready_seconds <= 0) return true;
  if (!c->last_transition_time || c->last_transition_time->is_zero()) return false;
  return c->last_transition_time->value + std::chrono::seconds(min_ready_seconds) <= now;
}

std::optional<SysTime> pod_available_at(const api::Pod& pod, std::int32_t min_ready_seconds,
                                        SysTime now) {
  const auto* c = ready_condition(pod);
  if (!c || c->status != "True" || min_ready_seconds <= 0) return std::nullopt;
  if (!c->last_transition_time || c->last_transition_time->is_zero()) return std::nullopt;
  SysTime at = c->last_transition_time->value + std::chrono::seconds(min_ready_seconds);
  if (at <= now) return std::nullopt;
  return at;
}

// ----------------------------------------------------------------------------- conditions

const api::WorkloadCondition* get_condition(const api::DeploymentStatus& s, std::string_view type) {
  for (const auto& c : s.conditions) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

void remove_condition(api::DeploymentStatus& s, std::string_view type) {
  std::erase_if(s.conditions, [&](const api::WorkloadCondition& c) { return c.type == type; });
}

void set_condition(api::DeploymentStatus& s, api::WorkloadCondition c) {
  const auto* cur = get_condition(s, c.type);
  if (cur && cur->status == c.status && cur->reason == c.reason) return;
  if (cur && cur->status == c.status) c.last_transition_time = cur->last_transition_time;
  remove_condition(s, c.type);
  s.conditions.push_back(std::move(c));
}

api::WorkloadCondition new_condition(std::string_view type, std::string_view status,
                                     std::string_view reason, std::string message, SysTime now) {
  api::WorkloadCondition c;
  c.type = std::string(type);
  c.status = std::string(status);
  c.reason = std::string(reason);
  c.message = std::move(message);
  api::Time t{std::chrono::time_point_cast<std::chrono::seconds>(now)};
  c.last_update_time = t;
  c.last_transition_time = t;
  return c;
}

bool has_progress_deadline(const api::Deployment& d) {
  return d.spec.progress_deadline_seconds &&
         *d.spec.progress_deadline_seconds != std::numeric_limits<std::int32_t>::max();
}

bool has_revision_history_limit(const api::Deployment& d) {
  return d.spec.revision_history_limit &&
         *d.spec.revision_history_limit != std::numeric_limits<std::int32_t>::max();
}

bool deployment_complete(const api::Deployment& d, const api::DeploymentStatus& s) {
  return s.updated_replicas == replicas_of(d) && s.replicas == replicas_of(d) &&
         s.available_replicas == replicas_of(d) && s.observed_generation >= d.metadata.generation;
}

bool deployment_progressing(const api::Deployment& d, const api::DeploymentStatus& s) {
  const auto& old = d.status;
  std::int32_t old_old = old.replicas - old.updated_replicas;
  std::int32_t new_old = s.replicas - s.updated_replicas;
  return s.updated_replicas > old.updated_replicas || new_old < old_old ||
         s.ready_replicas > old.ready_replicas || s.available_replicas > old.available_replicas;
}

bool deployment_timed_out(const api::Deployment& d, const api::DeploymentStatus& s, SysTime now) {
  if (!has_progress_deadline(d)) return false;
  const auto* c = get_condition(s, kConditionProgressing);
  if (!c) return false;
  if (c->reason == kReasonNewRSAvailable) return false;
  if (c->reason == kReasonTimedOut) return true;
  SysTime from = c->last_update_time ? c->last_update_time->value : SysTime{};
  return from + std::chrono::seconds(*d.spec.progress_deadline_seconds) < now;
}

api::DeploymentStatus calculate_status(const api::Deployment& d,
                                       const std::vector<const api::ReplicaSet*>& all_rss,
                                       const api::ReplicaSet* new_rs, SysTime now) {
  api::DeploymentStatus s;
  std::int32_t available = sum_available_replicas(all_rss);
  std::int32_t total = sum_spec_replicas(all_rss);
  s.observed_generation = d.metadata.generation;
  s.replicas = sum_status_replicas(all_rss);
  s.updated_replicas = new_rs ? new_rs->status.replicas : 0;
  s.ready_replicas = sum_ready_replicas(all_rss);
  s.available_replicas = available;
  s.unavailable_replicas = std::max(total - available, 0);
  s.collision_count = d.status.collision_count;
  s.terminating_replicas = d.status.terminating_replicas;
  s.conditions = d.status.conditions;
  if (available >= replicas_of(d) - max_unavailable(d)) {
    set_condition(s, new_condition(kConditionAvailable, "True", kReasonMinimumReplicasAvailable,
                                   "Deployment has minimum availability.", now));
  } else {
    set_condition(s, new_condition(kConditionAvailable, "False", kReasonMinimumReplicasUnavailable,
                                   "Deployment does not have minimum availability.", now));
  }
  return s;
}

api::DeploymentStatus rollout_status(const api::Deployment& d,
                                     const std::vector<const api::ReplicaSet*>& all_rss,
                                     const api::ReplicaSet* new_rs, SysTime now) {
  api::DeploymentStatus s = calculate_status(d, all_rss, new_rs, now);
  if (!has_progress_deadline(d)) remove_condition(s, kConditionProgressing);
  const auto* cur = get_condition(d.status, kConditionProgressing);
  bool complete_before =
      s.replicas == s.updated_replicas && cur && cur->reason == kReasonNewRSAvailable;
  if (has_progress_deadline(d) && !complete_before) {
    if (deployment_complete(d, s)) {
      std::string msg = new_rs ? fmt::format("ReplicaSet \"{}\" has successfully progressed.",
                                             new_rs->metadata.name)
                               : fmt::format("Deployment \"{}\" has successfully progressed.",
                                             d.metadata.name);
      set_condition(s, new_condition(kConditionProgressing, "True", kReasonNewRSAvailable,
                                     std::move(msg), now));
    } else if (deployment_progressing(d, s)) {
      std::string msg =
          new_rs ? fmt::format("ReplicaSet \"{}\" is progressing.", new_rs->metadata.name)
                 : fmt::format("Deployment \"{}\" is progressing.", d.metadata.name);
      auto c = new_condition(kConditionProgressing, "True", kReasonReplicaSetUpdated,
                             std::move(msg), now);
      // Progress moves lastUpdateTime even when the reason stays; the transition time stays
      // while the status stays True.
      if (cur) {
        if (cur->status == "True") c.last_transition_time = cur->last_transition_time;
        remove_condition(s, kConditionProgressing);
      }
      set_condition(s, std::move(c));
    } else if (deployment_timed_out(d, s, now)) {
      std::string msg = new_rs ? fmt::format("ReplicaSet \"{}\" has timed out progressing.",
                                             new_rs->metadata.name)
                               : fmt::format("Deployment \"{}\" has timed out progressing.",
                                             d.metadata.name);
      set_condition(s, new_condition(kConditionProgressing, "False", kReasonTimedOut,
                                     std::move(msg), now));
    }
  }
  // ReplicaFailure conditions of the ReplicaSets (the new one's first) become the deployment's.
  const api::WorkloadCondition* failure = nullptr;
  auto find_failure = [&](const api::ReplicaSet* rs) {
    if (!rs || failure) return;
    for (const auto& c : rs->status.conditions) {
      if (c.type == kConditionReplicaFailure) {
        failure = &c;
        return;
      }
    }
  };
  find_failure(new_rs);
  for (const auto* rs : all_rss) find_failure(rs);
  if (failure) {
    api::WorkloadCondition c = *failure;
    c.last_update_time = c.last_transition_time;
    set_condition(s, std::move(c));
  } else {
    remove_condition(s, kConditionReplicaFailure);
  }
  return s;
}

std::optional<std::chrono::nanoseconds> stuck_requeue_after(const api::Deployment& d,
                                                            const api::DeploymentStatus& new_status,
                                                            SysTime now) {
  const auto* cur = get_condition(d.status, kConditionProgressing);
  if (!has_progress_deadline(d) || !cur) return std::nullopt;
  if (deployment_complete(d, new_status) || cur->reason == kReasonTimedOut) return std::nullopt;
  SysTime from = cur->last_update_time ? cur->last_update_time->value : SysTime{};
  auto after = from + std::chrono::seconds(*d.spec.progress_deadline_seconds) - now;
  if (after < std::chrono::seconds(1)) return std::chrono::nanoseconds(0);
  // A second more, as Kubernetes does, so the deadline has surely passed on the next look.
  return std::chrono::duration_cast<std::chrono::nanoseconds>(after + std::chrono::seconds(1));
}

}  // namespace orch::controller::deployment
