// Pure parts of the StatefulSet controller (see statefulset_controller_util.hpp).
#include "statefulset_controller_util.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "json_util.hpp"

namespace orch::controller::statefulset {

namespace json = boost::json;

using namespace json_util;

std::string pod_name(std::string_view set, int ordinal) {
  return fmt::format("{}-{}", set, ordinal);
}

std::optional<int> parse_ordinal(std::string_view set, std::string_view pod) {
  if (pod.size() <= set.size() + 1 || !pod.starts_with(set) || pod[set.size()] != '-') {
    return std::nullopt;
  }
  std::string_view digits = pod.substr(set.size() + 1);
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  int v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size() || v < 0) return std::nullopt;
  return v;
}

std::string claim_name(std::string_view tmpl, std::string_view set, int ordinal) {
  return fmt::format("{}-{}-{}", tmpl, set, ordinal);
}

std::string revision_of(std::string_view set, const json::value& pod_template) {
  return fmt::format("{}-{}", set, json_hash(pod_template));
}

json::value build_pod(const json::value& set, const json::value& pod_template,
                      std::string_view revision, int ordinal) {
  const std::string set_name(str_at(set, {"metadata", "name"}));
  const std::string name = pod_name(set_name, ordinal);
  json::object meta;
  meta["name"] = name;
  meta["namespace"] = str_at(set, {"metadata", "namespace"});
  json::object labels;
  if (const auto* l = at(pod_template, {"metadata", "labels"}); l && l->is_object()) {
    labels = l->get_object();
  }
  labels[kPodNameLabel] = name;
  labels[kPodIndexLabel] = std::to_string(ordinal);
  labels[kRevisionLabel] = revision;
  meta["labels"] = std::move(labels);
  if (const auto* a = at(pod_template, {"metadata", "annotations"}); a && a->is_object()) {
    meta["annotations"] = *a;
  }
  meta["ownerReferences"] = json::array{json::object{
      {"apiVersion", "apps/v1"},
      {"kind", "StatefulSet"},
      {"name", set_name},
      {"uid", str_at(set, {"metadata", "uid"})},
      {"controller", true},
      {"blockOwnerDeletion", true}}};

  json::object spec;
  if (const auto* s = at(pod_template, {"spec"}); s && s->is_object()) spec = s->get_object();
  spec["hostname"] = name;
  if (std::string_view svc = str_at(set, {"spec", "serviceName"}); !svc.empty()) {
    spec["subdomain"] = svc;
  }
  // Volumes: one per claim template (replacing a template volume of the same name).
  const json::value* claims = at(set, {"spec", "volumeClaimTemplates"});
  if (claims && claims->is_array() && !claims->get_array().empty()) {
    json::array volumes;
    std::map<std::string, std::string> claim_volumes;  // volume name -> claim name
    for (const auto& c : claims->get_array()) {
      std::string tmpl(str_at(c, {"metadata", "name"}));
      if (!tmpl.empty()) claim_volumes[tmpl] = claim_name(tmpl, set_name, ordinal);
    }
    for (const auto& [vol, claim] : claim_volumes) {
      volumes.push_back(json::object{
          {"name", vol}, {"persistentVolumeClaim", json::object{{"claimName", claim}}}});
    }
    if (const auto* old = spec.if_contains("volumes"); old && old->is_array()) {
      for (const auto& v : old->get_array()) {
        if (!claim_volumes.contains(std::string(str_at(v, {"name"})))) volumes.push_back(v);
      }
    }
    spec["volumes"] = std::move(volumes);
  }
  return json::object{{"apiVersion", "v1"},
                      {"kind", "Pod"},
                      {"metadata", std::move(meta)},
                      {"spec", std::move(spec)}};
}

std::vector<json::value> build_claims(const json::value& set, int ordinal) {
  std::vector<json::value> out;
  const json::value* claims = at(set, {"spec", "volumeClaimTemplates"});
  if (!claims || !claims->is_array()) return out;
  const std::string set_name(str_at(set, {"metadata", "name"}));
  for (const auto& c : claims->get_array()) {
    std::string tmpl(str_at(c, {"metadata", "name"}));
    if (tmpl.empty()) continue;
    json::object labels;
    if (const auto* l = at(c, {"metadata", "labels"}); l && l->is_object()) {
      labels = l->get_object();
    }
    if (const auto* ml = at(set, {"spec", "selector", "matchLabels"}); ml && ml->is_object()) {
      for (const auto& [k, v] : ml->get_object()) labels[k] = v;
    }
    json::object meta{{"name", claim_name(tmpl, set_name, ordinal)},
                      {"namespace", str_at(set, {"metadata", "namespace"})}};
    if (!labels.empty()) meta["labels"] = std::move(labels);
    if (const auto* a = at(c, {"metadata", "annotations"}); a && a->is_object()) {
      meta["annotations"] = *a;
    }
    json::object claim{{"apiVersion", "v1"},
                       {"kind", "PersistentVolumeClaim"},
                       {"metadata", std::move(meta)}};
    if (const auto* s = at(c, {"spec"}); s && s->is_object()) claim["spec"] = *s;
    out.emplace_back(std::move(claim));
  }
  return out;
}

std::vector<Action> plan(const SetSpec& spec, const std::vector<PodState>& pods) {
  std::vector<Action> out;
  const bool monotonic = !spec.parallel;
  std::map<int, const PodState*> by_ordinal;
  std::vector<const PodState*> condemned;
  for (const auto& p : pods) {
    if (p.ordinal < 0) continue;
    if (p.ordinal < spec.replicas) {
      by_ordinal[p.ordinal] = &p;
    } else {
      condemned.push_back(&p);
    }
  }
  std::sort(condemned.begin(), condemned.end(),
            [](const PodState* a, const PodState* b) { return a->ordinal > b->ordinal; });
  auto revision_for = [&](int ordinal) {
    if (!spec.on_delete && ordinal < spec.partition) return spec.current_revision;
    return spec.update_revision;
  };

  // 1. Replicas in [0, replicas).
  for (int i = 0; i < spec.replicas; ++i) {
    auto it = by_ordinal.find(i);
    if (it == by_ordinal.end()) {
      out.push_back({Action::Kind::kCreate, i, revision_for(i)});
      if (monotonic) return out;
      continue;
    }
    const PodState& p = *it->second;
    if (p.terminating) {
      if (monotonic) return out;
      continue;
    }
    if (p.finished) {
      out.push_back({Action::Kind::kDelete, i, {}});
      if (monotonic) return out;
      continue;
    }
    if (!p.healthy && monotonic) return out;
  }

  // 2. Condemned pods, highest ordinal first.
  for (std::size_t k = 0; k < condemned.size(); ++k) {
    const PodState& p = *condemned[k];
    if (p.terminating) {
      if (monotonic) return out;
      continue;
    }
    if (monotonic) {
      // Only the first unhealthy pod (lowest ordinal) may go while others are unhealthy.
      bool lower_unhealthy = std::any_of(condemned.begin() + static_cast<std::ptrdiff_t>(k) + 1,
                                         condemned.end(),
                                         [](const PodState* q) { return !q->healthy; });
      if (lower_unhealthy) return out;
    }
    out.push_back({Action::Kind::kDelete, p.ordinal, {}});
    if (monotonic) return out;
  }

  // 3. Rolling update, highest ordinal first, down to the partition.
  if (spec.on_delete) return out;
  if (spec.parallel && !out.empty()) return out;  // let creates and deletes settle first
  for (int i = spec.replicas - 1; i >= std::max(0, spec.partition); --i) {
    auto it = by_ordinal.find(i);
    if (it == by_ordinal.end()) return out;  // being recreated
    const PodState& p = *it->second;
    if (p.revision != spec.update_revision && !p.terminating) {
      out.push_back({Action::Kind::kDelete, i, {}});
      return out;
    }
    if (!p.healthy || p.terminating) return out;
  }
  return out;
}

}  // namespace orch::controller::statefulset
