// VolumeBinding: places pods whose claims wait for their first consumer (StorageClass
// volumeBindingMode WaitForFirstConsumer) on a node where such a claim can be satisfied, and tells
// the PersistentVolume binder and the provisioner which node was chosen (the claim's
// volume.kubernetes.io/selected-node annotation, as kube-scheduler's VolumeBinding PreBind does).
// The rules of which volume fits which claim are the binder's (orch/controller/volume_binding.hpp).
// Thread-safety: pre_filter and filter run on the scheduling thread (filter possibly on several
// at once, read-only); bind on a binder thread. The plugin keeps no state of its own.
#include <fmt/format.h>

#include "orch/controller/volume_binding.hpp"
#include "orch/scheduler/plugins.hpp"

namespace orch::scheduler {

namespace {

namespace json = boost::json;
namespace vol = controller::volume;

constexpr const char* kStateKey = "VolumeBinding";

// One claim waiting for its first consumer.
struct WaitingClaim {
  client::SharedObject claim;
  std::string klass;
  std::string provisioner;
};

struct State {
  std::vector<WaitingClaim> claims;
  std::vector<client::SharedObject> volumes;
};

// The string at `path`, "" when absent.
std::string_view str(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto key : path) {
    const auto* o = cur->if_object();
    if (!o || !(cur = o->if_contains(key))) return {};
  }
  return cur->is_string() ? std::string_view(cur->get_string()) : std::string_view();
}

}  // namespace

PluginStatus VolumeBinding::pre_filter(CycleState& state, const PodInfo& pod) {
  if (pod.claims.empty()) return PluginStatus::skip();
  State s;
  std::vector<client::SharedObject> classes;
  bool classes_read = false;
  for (const auto& name : pod.claims) {
    client::SharedObject claim = source_.claim(pod.ns, name);
    if (!claim) continue;  // VolumeNodeAffinity reports it
    if (!str(*claim, {"spec", "volumeName"}).empty()) continue;  // bound: VolumeNodeAffinity
    if (!classes_read) {
      classes = source_.classes();
      classes_read = true;
    }
    std::optional<std::string> klass = vol::claim_class(*claim);
    const json::value* sc = nullptr;
    if (!klass) {
      std::vector<const json::value*> ptrs;
      for (const auto& c : classes) ptrs.push_back(c.get());
      sc = vol::default_class(ptrs);
      klass = sc ? std::string(str(*sc, {"metadata", "name"})) : std::string();
    } else {
      for (const auto& c : classes) {
        if (str(*c, {"metadata", "name"}) == *klass) sc = c.get();
      }
    }
    if (!sc || str(*sc, {"volumeBindingMode"}) != "WaitForFirstConsumer") {
      return PluginStatus::unresolvable({std::string(kImmediateReason)});
    }
    s.claims.push_back({claim, *klass, std::string(str(*sc, {"provisioner"}))});
  }
  if (s.claims.empty()) return PluginStatus::skip();
  s.volumes = source_.volumes();
  state.write(kStateKey, std::move(s));
  return PluginStatus::success();
}

PluginStatus VolumeBinding::filter(const CycleState& state, const PodInfo&,
                                   const NodeInfo& node) const {
  const auto* s = state.read<State>(kStateKey);
  if (!s) return PluginStatus::success();
  vol::NodeCheck admits = [&node](const json::value* required) {
    if (!required) return true;
    auto sel = parse_node_selector(*required);
    return sel && matches(*sel, node.labels, node.name);
  };
  std::vector<const json::value*> free;
  for (const auto& v : s->volumes) free.push_back(v.get());
  for (const auto& w : s->claims) {
    const json::value* pv = vol::best_volume(*w.claim, w.klass, free, admits);
    if (pv) {
      std::erase(free, pv);  // two claims of one pod never share a volume
      continue;
    }
    if (w.provisioner == vol::kLocalPathProvisioner) {
      client::SharedObject n = source_.node(node.name);
      if (n && !str(*n, {"metadata", "annotations", vol::kNodeVolumeDirAnnotation}).empty()) {
        continue;
      }
      return PluginStatus::unschedulable({std::string(kReason)});
    }
    // Another provisioner is trusted to provision anywhere; without one, nothing can.
    if (w.provisioner.empty() || w.provisioner == "kubernetes.io/no-provisioner") {
      return PluginStatus::unschedulable({std::string(kReason)});
    }
  }
  return PluginStatus::success();
}

PluginStatus VolumeBinding::bind(const PodInfo& pod, const std::string& node) {
  if (!client_) return PluginStatus::skip();
  for (const auto& name : pod.claims) {
    // A few attempts: the binder may write the claim at the same moment.
    for (int attempt = 0;; ++attempt) {
      auto claim = client_->get(client::resources::kPersistentVolumeClaims, pod.ns, name);
      if (!claim.ok()) {
        if (claim.status().code() == Code::kNotFound) break;
        return PluginStatus::error(claim.status().message());
      }
      if (!str(*claim, {"spec", "volumeName"}).empty()) break;
      if (str(*claim, {"metadata", "annotations", vol::kSelectedNodeAnnotation}) == node) break;
      auto& m = claim->as_object()["metadata"].as_object();
      auto& ann = m["annotations"];
      if (!ann.is_object()) ann = json::object();
      ann.as_object()[vol::kSelectedNodeAnnotation] = node;
      auto w = client_->update(client::resources::kPersistentVolumeClaims, pod.ns, *claim);
      if (w.ok()) break;
      if (w.status().code() != Code::kAborted || attempt >= 4) {
        return PluginStatus::error(fmt::format("cannot select node {} for claim {}: {}", node,
                                               name, w.status().message()));
      }
    }
  }
  return PluginStatus::skip();
}

}  // namespace orch::scheduler
