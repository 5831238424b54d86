// The local-path provisioner (see local_path_provisioner.hpp). Thread-safety: reconcile() runs on
// the controller's workers; informer handlers only queue keys through the KeySink.
#include "orch/controller/local_path_provisioner.hpp"

#include <string>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "json_util.hpp"
#include "orch/client/informer.hpp"
#include "orch/controller/persistentvolume_controller.hpp"
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

Status ensure_local_path_class(client::Client& client) {
  json::value sc = json::object{
      {"apiVersion", "storage.k8s.io/v1"},
      {"kind", "StorageClass"},
      {"metadata", json::object{{"name", kLocalPathClass},
                                {"annotations", json::object{{kDefaultClassAnnotation, "true"}}}}},
      {"provisioner", kLocalPathProvisioner},
      {"reclaimPolicy", "Delete"},
      {"volumeBindingMode", "WaitForFirstConsumer"}};
  auto r = client.create(kStorageClassesResource, "", sc);
  if (!r.ok() && r.status().code() != Code::kAlreadyExists) return r.status();
  return Status();
}

namespace {

bool ours(const json::value& pv) {
  return str_at(pv, {"metadata", "annotations", kProvisionedByAnnotation}) == kLocalPathProvisioner;
}

class LocalPathReconciler final : public Reconciler, private VolumeContext {
 public:
  LocalPathReconciler(const ControllerContext& ctx, std::shared_ptr<KeySink> sink)
      : VolumeContext(ctx, std::move(sink)) {}

  Status register_handlers(const std::shared_ptr<LocalPathReconciler>& self) {
    std::weak_ptr<LocalPathReconciler> weak = self;
    auto claim_changed = [weak](const SharedObject& o) {
      if (auto r = weak.lock()) {
        r->sink->add(claim_key(client::object_namespace(*o), client::object_name(*o)));
      }
    };
    ORCH_TRY(pvcs.add_event_handler(
        {.on_add = claim_changed,
         .on_update = [claim_changed](const SharedObject&,
                                      const SharedObject& o) { claim_changed(o); },
         .on_delete = {}}));
    auto volume_changed = [weak](const SharedObject& o) {
      if (auto r = weak.lock(); r && ours(*o)) r->sink->add(volume_key(client::object_name(*o)));
    };
    ORCH_TRY(pvs.add_event_handler(
        {.on_add = volume_changed,
         .on_update = [volume_changed](const SharedObject&,
                                       const SharedObject& o) { volume_changed(o); },
         .on_delete = {}}));
    return Status();
  }

  Outcome reconcile(const std::string& key) override {
    auto k = parse_key(key);
    if (!k) return Outcome::done();
    if (!k->claim) {
      Status s = sync_volume(k->name);
      return s.ok() ? Outcome::done() : Outcome::retry(s);
    }
    return sync_claim(k->ns, k->name);
  }

 private:
  // The node a claim's volume goes to: the scheduler's choice, or for Immediate binding the first
  // node that can hold local-path volumes.
  std::string node_for(const json::value& claim, const json::value& sc) {
    std::string node(str_at(claim, {"metadata", "annotations", kSelectedNodeAnnotation}));
    if (!node.empty() || str_at(sc, {"volumeBindingMode"}) == "WaitForFirstConsumer") return node;
    for (const auto& n : nodes.list()) {
      if (str_at(*n, {"metadata", "annotations", kNodeVolumeDirAnnotation}).empty()) continue;
      std::string name(client::object_name(*n));
      if (node.empty() || name < node) node = name;
    }
    return node;
  }

  Outcome sync_claim(const std::string& ns, const std::string& name);
  Status sync_volume(const std::string& name);

};

Outcome LocalPathReconciler::sync_claim(const std::string& ns, const std::string& name) {
  SharedObject cached = pvcs.get(ns, name);
  if (!cached || is_deleting(*cached)) return Outcome::done();
  const json::value& claim = *cached;
  if (!str_at(claim, {"spec", "volumeName"}).empty()) return Outcome::done();
  auto klass = claim_class(claim);
  if (!klass || klass->empty()) return Outcome::done();  // the binder assigns the default first
  SharedObject sc = classes.get("", *klass);
  if (!sc || str_at(*sc, {"provisioner"}) != kLocalPathProvisioner) return Outcome::done();
  // Wait for the binder's verdict that no existing volume fits.
  if (str_at(claim, {"metadata", "annotations", kStorageProvisionerAnnotation}) !=
      kLocalPathProvisioner) {
    return Outcome::done();
  }
  const std::string pv_name = fmt::format("pvc-{}", client::object_uid(claim));
  if (pvs.get("", pv_name)) return Outcome::done();
  const std::string node_name = node_for(claim, *sc);
  if (node_name.empty()) return Outcome::done();
  SharedObject node = nodes.get("", node_name);
  std::string_view dir = node ? str_at(*node, {"metadata", "annotations", kNodeVolumeDirAnnotation})
                              : std::string_view();
  if (dir.empty()) {
    event(claim, "Warning", "ProvisioningFailed",
          fmt::format("node {:?} cannot hold local-path volumes (no {} annotation)", node_name,
                      kNodeVolumeDirAnnotation));
    return Outcome::requeue_after(std::chrono::seconds(10));
  }
  std::string_view storage = str_at(claim, {"spec", "resources", "requests", "storage"});
  std::string_view policy = str_at(*sc, {"reclaimPolicy"});
  json::array modes;
  if (const auto* m = at(claim, {"spec", "accessModes"}); m && m->is_array()) {
    modes = m->get_array();
  }
  json::value pv = json::object{
      {"apiVersion", "v1"},
      {"kind", "PersistentVolume"},
      {"metadata",
       json::object{{"name", pv_name},
                    {"labels", json::object{{kVolumeNodeLabel, node_name}}},
                    {"annotations", json::object{{kProvisionedByAnnotation, kLocalPathProvisioner}}},
                    {"finalizers", json::array{kCleanupFinalizer}}}},
      {"spec",
       json::object{
           {"capacity", json::object{{"storage", storage.empty() ? "1Gi" : storage}}},
           {"accessModes", std::move(modes)},
           {"persistentVolumeReclaimPolicy", policy.empty() ? "Delete" : policy},
           {"storageClassName", *klass},
           {"volumeMode", "Filesystem"},
           {"local", json::object{{"path", fmt::format("{}/{}", dir, pv_name)}}},
           {"nodeAffinity",
            json::object{{"required",
                          json::object{{"nodeSelectorTerms",
                                        json::array{json::object{
                                            {"matchExpressions",
                                             json::array{json::object{
                                                 {"key", "kubernetes.io/hostname"},
                                                 {"operator", "In"},
                                                 {"values", json::array{node_name}}}}}}}}}}}},
           {"claimRef", json::object{{"kind", "PersistentVolumeClaim"},
                                     {"apiVersion", "v1"},
                                     {"namespace", ns},
                                     {"name", name},
                                     {"uid", client::object_uid(claim)}}}}}};
  auto created = client->create(kPersistentVolumes, "", pv);
  if (!created.ok() && created.status().code() != Code::kAlreadyExists) {
    event(claim, "Warning", "ProvisioningFailed",
          fmt::format("failed to provision volume with StorageClass {:?}: {}", *klass,
                      created.status().message()));
    return Outcome::retry(created.status());
  }
  if (created.ok()) {
    event(claim, "Normal", "ProvisioningSucceeded",
          fmt::format("Successfully provisioned volume {}", pv_name));
  }
  return Outcome::done();
}

Status LocalPathReconciler::sync_volume(const std::string& name) {
  SharedObject cached = pvs.get("", name);
  if (!cached || !ours(*cached)) return Status();
  const json::value& pv = *cached;
  if (is_deleting(pv)) {
    // Nobody is left to clean a directory on a node that is gone: drop the finalizer.
    std::string_view node = str_at(pv, {"metadata", "labels", kVolumeNodeLabel});
    if (node.empty() || nodes.get("", node) || client->get(kNodes, "", node).ok()) {
      return Status();
    }
    json::value next = pv;
    json::array kept;
    for (const auto& f : finalizers_of(pv)) {
      if (f != kCleanupFinalizer) kept.emplace_back(f);
    }
    next.as_object()["metadata"].as_object()["finalizers"] = std::move(kept);
    auto w = client->update(kPersistentVolumes, "", next);
    if (!w.ok() && w.status().code() != Code::kNotFound) return w.status();
    return Status();
  }
  if (str_at(pv, {"status", "phase"}) != "Released" ||
      str_at(pv, {"spec", "persistentVolumeReclaimPolicy"}) != "Delete") {
    return Status();
  }
  client::DeleteOptions options;
  options.precondition_uid = std::string(client::object_uid(pv));
  auto removed = client->remove(kPersistentVolumes, "", name, options);
  if (!removed.ok() && removed.status().code() != Code::kNotFound &&
      removed.status().code() != Code::kAborted) {
    return removed.status();
  }
  return Status();
}

}  // namespace

Result<std::unique_ptr<Controller>> new_local_path_provisioner(
    const ControllerContext& ctx, LocalPathProvisionerOptions options) {
  if (!ctx.client) return invalid_argument("local-path provisioner: no client");
  if (!ctx.informers) return invalid_argument("local-path provisioner: no informers");
  return make_sink_controller(
      controller_options(kLocalPathProvisionerName, options.workers, ctx),
      [&ctx](std::shared_ptr<KeySink> sink) {
        return std::make_shared<LocalPathReconciler>(ctx, std::move(sink));
      });
}

ControllerRegistration local_path_provisioner_registration(LocalPathProvisionerOptions options) {
  return ControllerRegistration{kLocalPathProvisionerName, kLocalPathProvisionerComponent,
                                [options](const ControllerContext& ctx) {
                                  return new_local_path_provisioner(ctx, options);
                                }};
}

}  // namespace orch::controller
