// Pure parts of the DaemonSet controller (see daemonset_controller_util.hpp).
#include "daemonset_controller_util.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "json_util.hpp"

namespace orch::controller::daemonset {

namespace json = boost::json;
using namespace json_util;

namespace {

bool tolerates(const json::value& t, std::string_view key, std::string_view value,
               std::string_view effect) {
  std::string_view t_effect = str_at(t, {"effect"});
  std::string_view t_key = str_at(t, {"key"});
  std::string_view op = str_at(t, {"operator"});
  if (!t_effect.empty() && t_effect != effect) return false;
  if (!t_key.empty() && t_key != key) return false;
  if (op == "Exists") return true;
  if (op.empty() || op == "Equal") return !t_key.empty() && str_at(t, {"value"}) == value;
  return false;
}

}  // namespace

std::string template_hash(const json::value& pod_template) { return json_hash(pod_template); }

json::array daemon_tolerations() {
  json::array out;
  auto add = [&](const char* key, const char* effect) {
    out.push_back(json::object{{"key", key}, {"operator", "Exists"}, {"effect", effect}});
  };
  add("node.kubernetes.io/not-ready", "NoExecute");
  add("node.kubernetes.io/unreachable", "NoExecute");
  add("node.kubernetes.io/disk-pressure", "NoSchedule");
  add("node.kubernetes.io/memory-pressure", "NoSchedule");
  add("node.kubernetes.io/pid-pressure", "NoSchedule");
  add("node.kubernetes.io/unschedulable", "NoSchedule");
  return out;
}

json::array with_daemon_tolerations(const json::value* tolerations) {
  json::array out;
  if (tolerations && tolerations->is_array()) out = tolerations->get_array();
  for (const auto& d : daemon_tolerations()) {
    bool present = std::any_of(out.begin(), out.end(), [&](const json::value& t) {
      return str_at(t, {"key"}) == str_at(d, {"key"}) &&
             str_at(t, {"operator"}) == str_at(d, {"operator"}) &&
             str_at(t, {"effect"}) == str_at(d, {"effect"});
    });
    if (!present) out.push_back(d);
  }
  return out;
}

NodeFit node_fit(const json::value& node, const json::value& pod_template) {
  NodeFit fit;
  const std::string_view node_name = str_at(node, {"metadata", "name"});
  const auto labels = string_map(at(node, {"metadata", "labels"}));
  for (const auto& [k, v] : string_map(at(pod_template, {"spec", "nodeSelector"}))) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return fit;
  }
  if (const json::value* terms = at(pod_template, {"spec", "affinity", "nodeAffinity",
                                                   "requiredDuringSchedulingIgnoredDuringExecution",
                                                   "nodeSelectorTerms"});
      terms && terms->is_array()) {
    bool any = false;
    for (const auto& t : terms->get_array()) {
      if (term_matches(t, labels, node_name)) {
        any = true;
        break;
      }
    }
    if (!any) return fit;
  }
  const json::array tolerations = with_daemon_tolerations(at(pod_template, {"spec", "tolerations"}));
  fit.should_run = true;
  fit.should_continue_running = true;
  if (const json::value* taints = at(node, {"spec", "taints"}); taints && taints->is_array()) {
    for (const auto& taint : taints->get_array()) {
      std::string_view effect = str_at(taint, {"effect"});
      if (effect != "NoSchedule" && effect != "NoExecute") continue;
      bool ok = std::any_of(tolerations.begin(), tolerations.end(), [&](const json::value& t) {
        return tolerates(t, str_at(taint, {"key"}), str_at(taint, {"value"}), effect);
      });
      if (ok) continue;
      fit.should_run = false;
      if (effect == "NoExecute") fit.should_continue_running = false;
    }
  }
  return fit;
}

json::value build_pod(const json::value& ds, std::string_view hash, std::string_view node) {
  const json::value empty = json::object();
  const json::value* tmpl = at(ds, {"spec", "template"});
  if (!tmpl) tmpl = &empty;
  json::object meta;
  meta["generateName"] = fmt::format("{}-", str_at(ds, {"metadata", "name"}));
  meta["namespace"] = str_at(ds, {"metadata", "namespace"});
  json::object labels;
  if (const auto* l = at(*tmpl, {"metadata", "labels"}); l && l->is_object()) {
    labels = l->get_object();
  }
  labels[kRevisionLabel] = hash;
  if (const auto* g = at(ds, {"metadata", "generation"}); g && g->is_number()) {
    labels[kTemplateGenerationLabel] = std::to_string(g->to_number<std::int64_t>());
  }
  meta["labels"] = std::move(labels);
  if (const auto* a = at(*tmpl, {"metadata", "annotations"}); a && a->is_object()) {
    meta["annotations"] = *a;
  }
  meta["ownerReferences"] = json::array{json::object{{"apiVersion", "apps/v1"},
                                                     {"kind", "DaemonSet"},
                                                     {"name", str_at(ds, {"metadata", "name"})},
                                                     {"uid", str_at(ds, {"metadata", "uid"})},
                                                     {"controller", true},
                                                     {"blockOwnerDeletion", true}}};
  json::object spec;
  if (const auto* s = at(*tmpl, {"spec"}); s && s->is_object()) spec = s->get_object();
  spec["tolerations"] = with_daemon_tolerations(spec.if_contains("tolerations"));
  // Kubernetes' ReplaceDaemonSetPodNodeNameNodeAffinity: the node already matched the template's
  // required terms, so one term naming the node replaces them; preferred terms stay.
  json::object affinity;
  if (const auto* a = spec.if_contains("affinity"); a && a->is_object()) affinity = a->get_object();
  json::object node_affinity;
  if (const auto* na = affinity.if_contains("nodeAffinity"); na && na->is_object()) {
    node_affinity = na->get_object();
  }
  node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = json::object{
      {"nodeSelectorTerms",
       json::array{json::object{
           {"matchFields", json::array{json::object{{"key", "metadata.name"},
                                                    {"operator", "In"},
                                                    {"values", json::array{node}}}}}}}}};
  affinity["nodeAffinity"] = std::move(node_affinity);
  spec["affinity"] = std::move(affinity);
  return json::object{{"apiVersion", "v1"},
                      {"kind", "Pod"},
                      {"metadata", std::move(meta)},
                      {"spec", std::move(spec)}};
}

std::string pod_node(const json::value& pod) {
  if (std::string_view n = str_at(pod, {"spec", "nodeName"}); !n.empty()) return std::string(n);
  const json::value* terms =
      at(pod, {"spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
               "nodeSelectorTerms"});
  if (!terms || !terms->is_array()) return {};
  for (const auto& t : terms->get_array()) {
    const json::value* fields = at(t, {"matchFields"});
    if (!fields || !fields->is_array()) continue;
    for (const auto& f : fields->get_array()) {
      if (str_at(f, {"key"}) != "metadata.name" || str_at(f, {"operator"}) != "In") continue;
      auto vals = strings(at(f, {"values"}));
      if (vals.size() == 1) return vals[0];
    }
  }
  return {};
}

int max_unavailable(const json::value* value, int desired) {
  int n = 1;
  if (value && value->is_number()) {
    n = static_cast<int>(value->to_number<std::int64_t>());
  } else if (value && value->is_string()) {
    std::string_view s = value->get_string();
    std::int64_t v = 0;
    if (s.ends_with('%') && parse_int(s.substr(0, s.size() - 1), v)) {
      n = static_cast<int>((v * desired + 99) / 100);
    } else if (parse_int(s, v)) {
      n = static_cast<int>(v);
    }
  }
  return std::max(1, n);
}

std::vector<std::string> rolling_update_deletes(const std::vector<NodePod>& pods, int unavailable,
                                                int max_unavailable) {
  std::vector<std::string> out;
  // Unavailable old pods first: deleting them costs no availability.
  for (const auto& p : pods) {
    if (p.old && !p.available) out.push_back(p.pod);
  }
  std::vector<const NodePod*> candidates;
  for (const auto& p : pods) {
    if (p.old && p.available) candidates.push_back(&p);
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const NodePod* a, const NodePod* b) { return a->node < b->node; });
  for (const NodePod* p : candidates) {
    if (unavailable >= max_unavailable) break;
    out.push_back(p->pod);
    ++unavailable;
  }
  return out;
}

}  // namespace orch::controller::daemonset
