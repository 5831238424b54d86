// The PersistentVolume binder (see persistentvolume_controller.hpp). Thread-safety: reconcile()
// runs on the controller's workers, several at once for different keys; informer handlers run on
// the informers' threads and only queue keys through the KeySink. No state besides the caches.
#include "orch/controller/persistentvolume_controller.hpp"

#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "json_util.hpp"
#include "orch/client/informer.hpp"
#include "orch/controller/volume_binding.hpp"
#include "volume_util.hpp"

namespace orch::controller {

namespace json = boost::json;
using client::SharedObject;
using client::resources::kNodes;
using client::resources::kPersistentVolumeClaims;
using client::resources::kPersistentVolumes;
using namespace json_util;
using namespace volume;

namespace {

// Accepts a volume's nodeAffinity.required when it admits `node` (a Node object; nullptr: no node
// is known, so every volume is acceptable).
NodeCheck admits_node(const json::value* node) {
  if (!node) return {};
  auto labels = labels_of(*node);
  std::string name(str_at(*node, {"metadata", "name"}));
  return [labels = std::move(labels), name = std::move(name)](const json::value* required) {
    return !required || node_selector_matches(*required, labels, name);
  };
}

void set_annotation(json::value& obj, std::string_view key, std::string_view value) {
  auto& meta = obj.as_object()["metadata"];
  if (!meta.is_object()) meta = json::object();
  auto& ann = meta.as_object()["annotations"];
  if (!ann.is_object()) ann = json::object();
  ann.as_object()[key] = value;
}

class PersistentVolumeReconciler final : public Reconciler, private VolumeContext {
 public:
  PersistentVolumeReconciler(const ControllerContext& ctx, std::shared_ptr<KeySink> sink)
      : VolumeContext(ctx, std::move(sink)) {}

  Status register_handlers(const std::shared_ptr<PersistentVolumeReconciler>& self) {
    std::weak_ptr<PersistentVolumeReconciler> weak = self;
    auto claim_changed = [weak](const SharedObject& o) {
      if (auto r = weak.lock()) {
        r->sink->add(claim_key(client::object_namespace(*o), client::object_name(*o)));
        // A deleted or rebound claim releases its volume.
        if (auto v = str_at(*o, {"spec", "volumeName"}); !v.empty()) r->sink->add(volume_key(v));
      }
    };
    ORCH_TRY(pvcs.add_event_handler(
        {.on_add = claim_changed,
         .on_update = [claim_changed](const SharedObject&,
                                      const SharedObject& o) { claim_changed(o); },
         .on_delete = claim_changed}));
    auto volume_changed = [weak](const SharedObject& o) {
      if (auto r = weak.lock()) {
        r->sink->add(volume_key(client::object_name(*o)));
        if (has_claim_ref(*o)) {
          r->sink->add(claim_key(str_at(*o, {"spec", "claimRef", "namespace"}),
                                  str_at(*o, {"spec", "claimRef", "name"})));
        } else {
          r->unbound_claims_changed();  // a new Available volume may fit a waiting claim
        }
      }
    };
    ORCH_TRY(pvs.add_event_handler(
        {.on_add = volume_changed,
         .on_update = [volume_changed](const SharedObject&,
                                       const SharedObject& o) { volume_changed(o); },
         .on_delete = volume_changed}));
    auto class_changed = [weak](const SharedObject&) {
      if (auto r = weak.lock()) r->unbound_claims_changed();
    };
    ORCH_TRY(classes.add_event_handler(
        {.on_add = class_changed,
         .on_update = [class_changed](const SharedObject&,
                                      const SharedObject& o) { class_changed(o); },
         .on_delete = class_changed}));
    return Status();
  }

  Outcome reconcile(const std::string& key) override {
    auto k = parse_key(key);
    if (!k) return Outcome::done();
    Status s = k->claim ? sync_claim(k->ns, k->name) : sync_volume(k->name);
    return s.ok() ? Outcome::done() : Outcome::retry(s);
  }

 private:
  void unbound_claims_changed() {
    for (const auto& c : pvcs.list()) {
      if (str_at(*c, {"spec", "volumeName"}).empty()) {
        sink->add(claim_key(client::object_namespace(*c), client::object_name(*c)));
      }
    }
  }

  Status sync_claim(const std::string& ns, const std::string& name);
  Status sync_volume(const std::string& name);
  Status bind(const json::value& pv, const json::value& claim);
  Status finish_claim(const json::value& claim, const json::value& pv);

};

Status PersistentVolumeReconciler::sync_claim(const std::string& ns, const std::string& name) {
  SharedObject cached = pvcs.get(ns, name);
  if (!cached || is_deleting(*cached)) return Status();
  const json::value& claim = *cached;
  std::optional<std::string> klass = claim_class(claim);
  if (!klass) {
    auto all_classes = classes.list();
    if (const json::value* d = default_class(pointers(all_classes))) {
      json::value next = claim;
      next.as_object()["spec"].as_object()["storageClassName"] = str_at(*d, {"metadata", "name"});
      auto w = client->update(kPersistentVolumeClaims, ns, next);
      if (!w.ok() && w.status().code() != Code::kNotFound) return w.status();
      return Status();  // the update's event syncs the claim again
    }
    klass = "";
  }

  const std::string volume_name(str_at(claim, {"spec", "volumeName"}));
  if (!volume_name.empty()) {
    SharedObject pv = pvs.get("", volume_name);
    if (!pv) {
      auto live = client->get(kPersistentVolumes, "", volume_name);
      if (live.ok()) return Status();  // the cache is behind
      if (str_at(claim, {"status", "phase"}) == "Bound") {
        event(claim, "Warning", "ClaimLost",
              fmt::format("Bound claim has lost reference to PersistentVolume. Data on the "
                          "volume is lost!"));
        return write_phase(*client, kPersistentVolumeClaims, claim, "Lost");
      }
      return write_phase(*client, kPersistentVolumeClaims, claim, "Pending");
    }
    if (!has_claim_ref(*pv)) return bind(*pv, claim);  // the user pre-bound the claim
    if (claim_ref_names(*pv, claim)) {
      if (str_at(*pv, {"spec", "claimRef", "uid"}).empty()) return bind(*pv, claim);
      return finish_claim(claim, *pv);
    }
    // The volume belongs to another claim.
    if (str_at(claim, {"status", "phase"}) == "Bound") {
      return write_phase(*client, kPersistentVolumeClaims, claim, "Lost");
    }
    return write_phase(*client, kPersistentVolumeClaims, claim, "Pending");
  }

  // Unbound.
  SharedObject sc = klass->empty() ? nullptr : classes.get("", *klass);
  const bool wait_for_consumer =
      sc && str_at(*sc, {"volumeBindingMode"}) == "WaitForFirstConsumer";
  const std::string node_name(str_at(claim, {"metadata", "annotations", kSelectedNodeAnnotation}));
  if (wait_for_consumer && node_name.empty()) {
    return write_phase(*client, kPersistentVolumeClaims, claim, "Pending");
  }
  SharedObject node = node_name.empty() ? nullptr : nodes.get("", node_name);
  if (!node_name.empty() && !node) {
    auto live = client->get(kNodes, "", node_name);
    if (live.ok()) node = std::make_shared<const json::value>(std::move(*live));
  }
  auto volumes = pvs.list();
  if (const json::value* pv = best_volume(claim, *klass, pointers(volumes), admits_node(node.get()))) {
    return bind(*pv, claim);
  }
  std::string_view provisioner = sc ? str_at(*sc, {"provisioner"}) : std::string_view();
  if (!provisioner.empty() && provisioner != "kubernetes.io/no-provisioner" &&
      str_at(claim, {"metadata", "annotations", kStorageProvisionerAnnotation}) != provisioner) {
    json::value next = claim;
    set_annotation(next, kStorageProvisionerAnnotation, provisioner);
    set_annotation(next, kBetaStorageProvisionerAnnotation, provisioner);
    auto w = client->update(kPersistentVolumeClaims, ns, next);
    if (!w.ok() && w.status().code() != Code::kNotFound) return w.status();
    event(claim, "Normal", "ExternalProvisioning",
          fmt::format("Waiting for a volume to be created either by the external provisioner "
                      "'{}' or manually by the system administrator.",
                      provisioner));
    return Status();
  }
  if (provisioner.empty() || provisioner == "kubernetes.io/no-provisioner") {
    event(claim, "Normal", wait_for_consumer ? "WaitForPodScheduled" : "FailedBinding",
          "no persistent volumes available for this claim and no storage class is set");
  }
  return write_phase(*client, kPersistentVolumeClaims, claim, "Pending");
}

// Volume first (so a crash in between leaves a volume pointing at the claim, which the next sync
// completes), then the claim.
Status PersistentVolumeReconciler::bind(const json::value& pv, const json::value& claim) {
  json::value next = pv;
  auto& spec = next.as_object()["spec"].as_object();
  const bool prebound = has_claim_ref(pv);
  spec["claimRef"] = json::object{{"kind", "PersistentVolumeClaim"},
                                  {"namespace", client::object_namespace(claim)},
                                  {"name", client::object_name(claim)},
                                  {"uid", client::object_uid(claim)},
                                  {"apiVersion", "v1"},
                                  {"resourceVersion", str_at(claim, {"metadata", "resourceVersion"})}};
  if (!prebound) set_annotation(next, kBoundByControllerAnnotation, "yes");
  auto written = client->update(kPersistentVolumes, "", next);
  if (!written.ok()) return written.status();
  ORCH_TRY(write_phase(*client, kPersistentVolumes, *written, "Bound"));
  return finish_claim(claim, *written);
}

Status PersistentVolumeReconciler::finish_claim(const json::value& claim, const json::value& pv) {
  const std::string pv_name(client::object_name(pv));
  json::value current = claim;
  if (str_at(claim, {"spec", "volumeName"}) != pv_name ||
      str_at(claim, {"metadata", "annotations", kBindCompletedAnnotation}) != "yes") {
    json::value next = claim;
    const bool by_us = str_at(claim, {"spec", "volumeName"}).empty();
    next.as_object()["spec"].as_object()["volumeName"] = pv_name;
    set_annotation(next, kBindCompletedAnnotation, "yes");
    if (by_us) set_annotation(next, kBoundByControllerAnnotation, "yes");
    auto w = client->update(kPersistentVolumeClaims, client::object_namespace(claim), next);
    if (!w.ok()) return w.status().code() == Code::kNotFound ? Status() : w.status();
    current = std::move(*w);
  }
  const json::value* modes = at(pv, {"spec", "accessModes"});
  const json::value* capacity = at(pv, {"spec", "capacity"});
  const bool same = str_at(current, {"status", "phase"}) == "Bound" && modes &&
                    at(current, {"status", "accessModes"}) &&
                    *at(current, {"status", "accessModes"}) == *modes && capacity &&
                    at(current, {"status", "capacity"}) &&
                    *at(current, {"status", "capacity"}) == *capacity;
  if (same) return Status();
  json::value next = current;
  auto& status = next.as_object()["status"];
  if (!status.is_object()) status = json::object();
  status.as_object()["phase"] = "Bound";
  if (modes) status.as_object()["accessModes"] = *modes;
  if (capacity) status.as_object()["capacity"] = *capacity;
  auto w = client->update_status(kPersistentVolumeClaims, client::object_namespace(claim), next);
  if (!w.ok() && w.status().code() != Code::kNotFound) return w.status();
  return Status();
}

Status PersistentVolumeReconciler::sync_volume(const std::string& name) {
  SharedObject cached = pvs.get("", name);
  if (!cached || is_deleting(*cached)) return Status();
  const json::value& pv = *cached;
  if (!has_claim_ref(pv)) return write_phase(*client, kPersistentVolumes, pv, "Available");

  const std::string ns(str_at(pv, {"spec", "claimRef", "namespace"}));
  const std::string claim_name(str_at(pv, {"spec", "claimRef", "name"}));
  const std::string_view ref_uid = str_at(pv, {"spec", "claimRef", "uid"});
  SharedObject claim = pvcs.get(ns, claim_name);
  if (!claim) {
    // The cache may be behind a claim created a moment ago: ask the API before releasing.
    auto live = client->get(kPersistentVolumeClaims, ns, claim_name);
    if (live.ok()) {
      claim = std::make_shared<const json::value>(std::move(*live));
    } else if (live.status().code() != Code::kNotFound) {
      return live.status();
    }
  }
  if (claim && (ref_uid.empty() || ref_uid == client::object_uid(*claim))) {
    std::string_view bound_to = str_at(*claim, {"spec", "volumeName"});
    if (bound_to == name) return write_phase(*client, kPersistentVolumes, pv, "Bound");
    if (bound_to.empty()) {
      sink->add(claim_key(ns, claim_name));  // pre-bound volume: the claim's sync binds it
      return write_phase(*client, kPersistentVolumes, pv, ref_uid.empty() ? "Available" : "Bound");
    }
    // The claim went to another volume: a binding we made is undone, the user's is kept.
    if (str_at(pv, {"metadata", "annotations", kBoundByControllerAnnotation}) == "yes") {
      json::value next = pv;
      next.as_object()["spec"].as_object().erase("claimRef");
      next.as_object()["metadata"].as_object()["annotations"].as_object().erase(
          kBoundByControllerAnnotation);
      auto w = client->update(kPersistentVolumes, "", next);
      if (!w.ok() && w.status().code() != Code::kNotFound) return w.status();
      return Status();
    }
    return write_phase(*client, kPersistentVolumes, pv, "Available");
  }
  if (ref_uid.empty()) {
    // Pre-bound to a claim that does not exist yet: waits for it.
    return write_phase(*client, kPersistentVolumes, pv, "Available");
  }
  // The claim is gone: Released, then the reclaim policy.
  const bool was_released = str_at(pv, {"status", "phase"}) == "Released";
  std::string_view policy = str_at(pv, {"spec", "persistentVolumeReclaimPolicy"});
  std::string_view provisioned_by = str_at(pv, {"metadata", "annotations", kProvisionedByAnnotation});
  if (policy == "Delete" && provisioned_by.empty()) {
    if (str_at(pv, {"status", "phase"}) != "Failed") {
      event(pv, "Warning", "VolumeFailedDelete",
            "error getting deleter volume plugin for volume: no deletable volume plugin matched");
    }
    return write_phase(*client, kPersistentVolumes, pv, "Failed",
                       "error getting deleter volume plugin for volume: no deletable volume "
                       "plugin matched");
  }
  if (!was_released && str_at(pv, {"status", "phase"}) != "Failed") {
    ORCH_TRY(write_phase(*client, kPersistentVolumes, pv, "Released"));
    if (policy == "Retain" || policy.empty()) {
      event(pv, "Normal", "VolumeReleased",
            fmt::format("Volume {} released; reclaim policy Retain keeps it and its data", name));
    }
  }
  return Status();
}

}  // namespace

Result<std::unique_ptr<Controller>> new_persistentvolume_controller(
    const ControllerContext& ctx, PersistentVolumeControllerOptions options) {
  if (!ctx.client) return invalid_argument("persistentvolume controller: no client");
  if (!ctx.informers) return invalid_argument("persistentvolume controller: no informers");
  return make_sink_controller(
      controller_options(kPersistentVolumeControllerName, options.workers, ctx),
      [&ctx](std::shared_ptr<KeySink> sink) {
        return std::make_shared<PersistentVolumeReconciler>(ctx, std::move(sink));
      });
}

ControllerRegistration persistentvolume_controller_registration(
    PersistentVolumeControllerOptions options) {
  return ControllerRegistration{kPersistentVolumeControllerName,
                                kPersistentVolumeControllerComponent,
                                [options](const ControllerContext& ctx) {
                                  return new_persistentvolume_controller(ctx, options);
                                }};
}

}  // namespace orch::controller
