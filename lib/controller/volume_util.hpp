// Private to lib/controller: what the PersistentVolume binder and the local-path provisioner share
// besides the binding rules (orch/controller/volume_binding.hpp): their work-queue keys, and the
// status writes both make. Thread-safety: pure, or calls through the (thread-safe) client.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "json_util.hpp"
#include "orch/client/client.hpp"
#include "orch/client/informer.hpp"
#include "orch/client/resource.hpp"
#include "orch/controller/controller.hpp"
#include "orch/controller/volume_binding.hpp"
#include "orch/status.hpp"

namespace orch::controller::volume {

// Work-queue keys: "pvc/<namespace>/<name>" for claims, "pv/<name>" for volumes.
inline std::string claim_key(std::string_view ns, std::string_view name) {
  return "pvc/" + client::make_key(ns, name);
}
inline std::string volume_key(std::string_view name) { return "pv/" + std::string(name); }

struct Key {
  bool claim = false;
  std::string ns, name;
};
// nullopt for a key of neither shape.
inline std::optional<Key> parse_key(std::string_view key) {
  if (key.starts_with("pv/")) return Key{false, "", std::string(key.substr(3))};
  if (!key.starts_with("pvc/")) return std::nullopt;
  key.remove_prefix(4);
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  return Key{true, std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

// Sets status.phase (and status.message when not empty) through the status subresource unless
// it already reads so. NotFound and Aborted (a newer object is on its way to the informer, which
// queues another sync) are not errors.
inline Status write_phase(client::Client& c, const client::Resource& r,
                          const boost::json::value& obj, std::string_view phase,
                          std::string_view message = {}) {
  if (json_util::str_at(obj, {"status", "phase"}) == phase &&
      json_util::str_at(obj, {"status", "message"}) == message) {
    return Status();
  }
  boost::json::value next = obj;
  auto& status = next.as_object()["status"];
  if (!status.is_object()) status = boost::json::object();
  status.as_object()["phase"] = phase;
  if (message.empty()) {
    status.as_object().erase("message");
  } else {
    status.as_object()["message"] = message;
  }
  auto w = c.update_status(r, client::object_namespace(obj), next);
  if (!w.ok() && w.status().code() != Code::kNotFound && w.status().code() != Code::kAborted) {
    return w.status();
  }
  return Status();
}

// The objects of an informer as plain pointers (valid while `held` lives).
inline std::vector<const boost::json::value*> pointers(
    const std::vector<client::SharedObject>& held) {
  std::vector<const boost::json::value*> out;
  out.reserve(held.size());
  for (const auto& o : held) out.push_back(o.get());
  return out;
}

// What the binder and the provisioner are built from: the client, events, their KeySink, and the
// caches of volumes, claims, classes and nodes (created on ctx.informers). Const after
// construction; the informers are thread-safe.
struct VolumeContext {
  VolumeContext(const ControllerContext& ctx, std::shared_ptr<KeySink> sink)
      : client(ctx.client),
        events(ctx.events),
        sink(std::move(sink)),
        pvs(ctx.informers->informer(client::resources::kPersistentVolumes)),
        pvcs(ctx.informers->informer(client::resources::kPersistentVolumeClaims)),
        classes(ctx.informers->informer(kStorageClassesResource)),
        nodes(ctx.informers->informer(client::resources::kNodes)) {}

  void event(const boost::json::value& obj, std::string_view type, std::string_view reason,
             std::string_view message) const {
    if (events) events->event(obj, type, reason, message);
  }

  const std::shared_ptr<client::Client> client;
  client::EventRecorder* const events;
  const std::shared_ptr<KeySink> sink;
  client::Informer& pvs;
  client::Informer& pvcs;
  client::Informer& classes;
  client::Informer& nodes;
};

}  // namespace orch::controller::volume
