// Persistent volumes on this node (see local_volumes.hpp).
#include "local_volumes.hpp"

#include <cstdio>
#include <filesystem>
#include <system_error>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "orch/client/resource.hpp"
#include "orch/controller/volume_binding.hpp"

namespace orch::agent {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace vol = controller::volume;

namespace {

const json::value* find(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto key : path) {
    const auto* o = cur->if_object();
    if (!o || !(cur = o->if_contains(key))) return nullptr;
  }
  return cur;
}

std::string text(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* x = find(v, path);
  return x && x->is_string() ? std::string(x->get_string()) : std::string();
}

// `path` lies strictly below `root` (both made absolute and normal).
bool below(const std::string& path, const std::string& root) {
  fs::path p = fs::path(path).lexically_normal();
  fs::path r = fs::path(root).lexically_normal();
  if (!p.is_absolute() || !r.is_absolute()) return false;
  auto rel = p.lexically_relative(r);
  return !rel.empty() && *rel.begin() != ".." && rel != ".";
}

}  // namespace

std::string local_volume_dir(const std::string& data_dir) { return data_dir + "/volumes"; }

Result<std::optional<std::map<std::string, std::string>>> resolve_claim_volumes(
    client::Client& client, const std::string& ns, const std::vector<api::Volume>& volumes,
    const std::string& node_name, const std::string& data_dir, std::string* waiting) {
  std::map<std::string, std::string> out;
  for (const auto& v : volumes) {
    if (!v.persistent_volume_claim) continue;
    const std::string& claim_name = v.persistent_volume_claim->claim_name;
    auto claim = client.get(client::resources::kPersistentVolumeClaims, ns, claim_name);
    if (!claim.ok()) {
      if (claim.status().code() == Code::kNotFound) {
        return not_found(fmt::format("persistentvolumeclaim {:?} not found", claim_name));
      }
      return claim.status();
    }
    const std::string pv_name = text(*claim, {"spec", "volumeName"});
    if (pv_name.empty() || text(*claim, {"status", "phase"}) != "Bound") {
      if (waiting) *waiting = fmt::format("persistentvolumeclaim {:?} is not bound", claim_name);
      return std::optional<std::map<std::string, std::string>>();
    }
    auto pv = client.get(client::resources::kPersistentVolumes, "", pv_name);
    if (!pv.ok()) {
      if (pv.status().code() == Code::kNotFound) {
        return not_found(fmt::format("persistentvolume {:?} not found", pv_name));
      }
      return pv.status();
    }
    std::string path = text(*pv, {"spec", "local", "path"});
    if (path.empty()) path = text(*pv, {"spec", "hostPath", "path"});
    if (path.empty()) {
      return invalid_argument(
          fmt::format("persistentvolume {:?} has no local or hostPath source", pv_name));
    }
    std::error_code ec;
    if (text(*pv, {"metadata", "labels", vol::kVolumeNodeLabel}) == node_name &&
        below(path, local_volume_dir(data_dir))) {
      fs::create_directories(path, ec);
      if (ec) return internal_error(fmt::format("cannot create {}: {}", path, ec.message()));
    } else if (!fs::is_directory(path, ec)) {
      return not_found(fmt::format("path {:?} of persistentvolume {:?} does not exist on node {}",
                                   path, pv_name, node_name));
    }
    out[v.name] = path;
  }
  return std::optional<std::map<std::string, std::string>>(std::move(out));
}

LocalVolumeCleaner::LocalVolumeCleaner(std::shared_ptr<client::Client> client,
                                       std::string node_name, std::string data_dir)
    : client_(std::move(client)),
      node_name_(std::move(node_name)),
      root_(local_volume_dir(data_dir)) {}

LocalVolumeCleaner::~LocalVolumeCleaner() { stop(); }

Status LocalVolumeCleaner::start() {
  client::InformerOptions o;
  o.label_selector = fmt::format("{}={}", vol::kVolumeNodeLabel, node_name_);
  volumes_ = std::make_unique<client::Informer>(client_, client::resources::kPersistentVolumes, o);
  client::EventHandlers h;
  h.on_add = [this](const client::SharedObject& pv) { on_volume(*pv); };
  h.on_update = [this](const client::SharedObject&, const client::SharedObject& pv) {
    on_volume(*pv);
  };
  ORCH_TRY(volumes_->add_event_handler(std::move(h)));
  return volumes_->start();
}

void LocalVolumeCleaner::stop() {
  if (volumes_) volumes_->stop();
}

void LocalVolumeCleaner::on_volume(const json::value& pv) {
  const json::value* deleting = find(pv, {"metadata", "deletionTimestamp"});
  if (!deleting || deleting->is_null()) return;
  const json::value* fins = find(pv, {"metadata", "finalizers"});
  if (!fins || !fins->is_array()) return;
  json::array kept;
  bool ours = false;
  for (const auto& f : fins->get_array()) {
    if (f.is_string() && f.get_string() == vol::kCleanupFinalizer) {
      ours = true;
    } else {
      kept.push_back(f);
    }
  }
  if (!ours) return;
  const std::string path = text(pv, {"spec", "local", "path"});
  if (below(path, root_)) {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) {
      std::fprintf(stderr, "agent %s: cannot delete volume directory %s: %s\n",
                   node_name_.c_str(), path.c_str(), ec.message().c_str());
      return;  // the finalizer stays; the next update (or a resync) tries again
    }
  }
  json::value next = pv;
  next.as_object()["metadata"].as_object()["finalizers"] = std::move(kept);
  auto w = client_->update(client::resources::kPersistentVolumes, "", next);
  (void)w;  // Aborted/NotFound: a newer version comes through the informer (or it is gone)
}

}  // namespace orch::agent
