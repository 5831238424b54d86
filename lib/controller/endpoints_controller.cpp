// Endpoints + EndpointSlice reconciler. Keys are Service keys ("namespace/name").
#include "orch/controller/endpoints_controller.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "orch/client/resource.hpp"
#include "json_util.hpp"

namespace orch::controller {
namespace {

namespace json = boost::json;
using client::SharedObject;

const client::Resource kEndpointSlices{"discovery.k8s.io", "v1", "endpointslices", true};
constexpr std::string_view kServiceNameLabel = "kubernetes.io/service-name";
constexpr std::string_view kManagedByLabel = "endpointslice.kubernetes.io/managed-by";
constexpr std::string_view kManagedBy = "endpointslice-controller.k8s.io";
constexpr std::string_view kIndexService = "service";

using json_util::at;
using json_util::string_map;

std::string str(const json::value& v, std::initializer_list<std::string_view> path) {
  return std::string(json_util::str_at(v, path));
}

// The service's selector; empty means "no selector" (endpoints managed by the user).
std::map<std::string, std::string> selector_of(const json::value& svc) {
  return string_map(at(svc, {"spec", "selector"}));
}

bool selects(const std::map<std::string, std::string>& selector, const json::value& pod) {
  if (selector.empty()) return false;
  auto labels = string_map(at(pod, {"metadata", "labels"}));
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

bool pod_ready(const json::value& pod) {
  const auto* conds = at(pod, {"status", "conditions"});
  if (!conds || !conds->is_array()) return false;
  for (const auto& c : conds->get_array()) {
    if (str(c, {"type"}) == "Ready") return str(c, {"status"}) == "True";
  }
  return false;
}

bool terminating(const json::value& pod) { return at(pod, {"metadata", "deletionTimestamp"}); }

bool finished(const json::value& pod) {
  const std::string phase = str(pod, {"status", "phase"});
  return phase == "Succeeded" || phase == "Failed";
}

struct Port {
  std::string name;
  std::int64_t port = 0;
  std::string protocol;
  auto operator<=>(const Port&) const = default;
};

// The pod's port for a service port, or 0 when the pod does not have it.
std::int64_t resolve_target(const json::value& service_port, const json::value& pod) {
  const auto* target = at(service_port, {"targetPort"});
  if (!target) {
    const auto* p = at(service_port, {"port"});
    return p && p->is_int64() ? p->get_int64() : 0;
  }
  if (target->is_int64()) return target->get_int64();
  if (!target->is_string()) return 0;
  const std::string name(target->get_string());
  // A numeric string is a number (IntOrString from YAML may arrive either way).
  if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) return std::stoll(name);
  const auto* containers = at(pod, {"spec", "containers"});
  if (!containers || !containers->is_array()) return 0;
  const std::string protocol = str(service_port, {"protocol"}).empty()
                                   ? std::string("TCP")
                                   : str(service_port, {"protocol"});
  for (const auto& c : containers->get_array()) {
    const auto* ports = at(c, {"ports"});
    if (!ports || !ports->is_array()) continue;
    for (const auto& p : ports->get_array()) {
      std::string proto = str(p, {"protocol"}).empty() ? std::string("TCP") : str(p, {"protocol"});
      if (str(p, {"name"}) == name && proto == protocol) {
        const auto* cp = at(p, {"containerPort"});
        if (cp && cp->is_int64()) return cp->get_int64();
      }
    }
  }
  return 0;
}

struct Member {
  std::string ip;
  std::string node;
  std::string pod_name;
  std::string pod_uid;
  std::string pod_rv;
  bool ready = false;
  bool terminating = false;
  bool operator<(const Member& o) const { return ip != o.ip ? ip < o.ip : pod_name < o.pod_name; }
};

json::object target_ref(const Member& m, std::string_view ns) {
  return json::object{{"kind", "Pod"},
                      {"namespace", ns},
                      {"name", m.pod_name},
                      {"uid", m.pod_uid}};
}

json::array ports_json(const std::vector<Port>& ports) {
  json::array out;
  for (const auto& p : ports) {
    json::object o{{"port", p.port}, {"protocol", p.protocol}};
    if (!p.name.empty()) o["name"] = p.name;
    out.push_back(std::move(o));
  }
  return out;
}

class EndpointsReconciler final : public Reconciler {
 public:
  EndpointsReconciler(const ControllerContext& ctx, std::shared_ptr<KeySink> sink)
      : client_(ctx.client),
        sink_(std::move(sink)),
        services_(ctx.informers->informer(client::resources::kServices)),
        pods_(ctx.informers->informer(client::resources::kPods)),
        slices_(ctx.informers->informer(kEndpointSlices)) {}

  Status register_handlers(const std::shared_ptr<EndpointsReconciler>& self) {
    services_.add_indexer(std::string(client::kIndexNamespace), client::index_by_namespace());
    pods_.add_indexer(std::string(client::kIndexNamespace), client::index_by_namespace());
    slices_.add_indexer(std::string(kIndexService), [](const json::value& o) {
      std::string svc = str(o, {"metadata", "labels", kServiceNameLabel});
      if (svc.empty()) return std::vector<std::string>{};
      return std::vector<std::string>{client::make_key(client::object_namespace(o), svc)};
    });
    std::weak_ptr<EndpointsReconciler> weak = self;
    client::EventHandlers svc;
    svc.on_add = [weak](const SharedObject& o) {
      if (auto r = weak.lock()) r->sink_->add(client::object_key(*o));
    };
    svc.on_update = [weak](const SharedObject&, const SharedObject& o) {
      if (auto r = weak.lock()) r->sink_->add(client::object_key(*o));
    };
    svc.on_delete = svc.on_add;
    ORCH_TRY(services_.add_event_handler(std::move(svc)));
    client::EventHandlers pod;
    pod.on_add = [weak](const SharedObject& o) {
      if (auto r = weak.lock()) r->pod_changed(nullptr, *o);
    };
    pod.on_update = [weak](const SharedObject& old_pod, const SharedObject& new_pod) {
      if (auto r = weak.lock()) r->pod_changed(old_pod.get(), *new_pod);
    };
    pod.on_delete = [weak](const SharedObject& o) {
      if (auto r = weak.lock()) r->pod_changed(nullptr, *o);
    };
    ORCH_TRY(pods_.add_event_handler(std::move(pod)));
    client::EventHandlers slice;
    // A slice changed by someone else (or deleted) is put back.
    slice.on_update = [weak](const SharedObject&, const SharedObject& o) {
      if (auto r = weak.lock()) r->slice_changed(*o);
    };
    slice.on_delete = [weak](const SharedObject& o) {
      if (auto r = weak.lock()) r->slice_changed(*o);
    };
    return slices_.add_event_handler(std::move(slice));
  }

  Outcome reconcile(const std::string& key) override {
    const auto slash = key.find('/');
    if (slash == std::string::npos) return Outcome::terminal(Status(Code::kInvalidArgument, "bad key " + key));
    const std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
    SharedObject svc = services_.get(ns, name);
    if (!svc) return cleanup(ns, name);
    auto selector = selector_of(*svc);
    if (selector.empty()) return Outcome::done();

    // Members grouped by their resolved port list.
    std::map<std::vector<Port>, std::vector<Member>> groups;
    auto pods = pods_.by_index(client::kIndexNamespace, ns);
    if (!pods.ok()) return Outcome::retry(pods.status());
    const auto* svc_ports = at(*svc, {"spec", "ports"});
    const bool publish_not_ready =
        at(*svc, {"spec", "publishNotReadyAddresses"}) &&
        at(*svc, {"spec", "publishNotReadyAddresses"})->is_bool() &&
        at(*svc, {"spec", "publishNotReadyAddresses"})->get_bool();
    for (const auto& pod : *pods) {
      if (!selects(selector, *pod) || finished(*pod)) continue;
      const std::string ip = str(*pod, {"status", "podIP"});
      if (ip.empty()) continue;
      std::vector<Port> ports;
      if (svc_ports && svc_ports->is_array()) {
        for (const auto& sp : svc_ports->get_array()) {
          std::int64_t target = resolve_target(sp, *pod);
          if (target == 0) continue;
          std::string proto = str(sp, {"protocol"}).empty() ? std::string("TCP") : str(sp, {"protocol"});
          ports.push_back(Port{str(sp, {"name"}), target, proto});
        }
      }
      std::sort(ports.begin(), ports.end());
      Member m{ip,
               str(*pod, {"spec", "nodeName"}),
               std::string(client::object_name(*pod)),
               std::string(client::object_uid(*pod)),
               std::string(client::object_resource_version(*pod)),
               publish_not_ready || pod_ready(*pod),
               terminating(*pod)};
      groups[ports].push_back(std::move(m));
    }
    for (auto& [ports, members] : groups) std::sort(members.begin(), members.end());

    if (auto s = write_endpoints(*svc, ns, name, groups); !s.ok()) return Outcome::retry(s);
    if (auto s = write_slices(*svc, ns, name, groups); !s.ok()) return Outcome::retry(s);
    return Outcome::done();
  }

 private:
  void pod_changed(const json::value* old_pod, const json::value& pod) {
    if (old_pod && client::object_resource_version(*old_pod) ==
                       client::object_resource_version(pod)) {
      return;  // resync
    }
    auto services = services_.by_index(client::kIndexNamespace, client::object_namespace(pod));
    if (!services.ok()) return;
    for (const auto& svc : *services) {
      auto selector = selector_of(*svc);
      if (selects(selector, pod) || (old_pod && selects(selector, *old_pod))) {
        sink_->add(client::object_key(*svc));
      }
    }
  }

  void slice_changed(const json::value& slice) {
    if (str(slice, {"metadata", "labels", kManagedByLabel}) != kManagedBy) return;
    std::string svc = str(slice, {"metadata", "labels", kServiceNameLabel});
    if (!svc.empty()) sink_->add(client::make_key(client::object_namespace(slice), svc));
  }

  Outcome cleanup(const std::string& ns, const std::string& name) {
    auto r = client_->remove(client::resources::kEndpoints, ns, name);
    if (!r.ok() && r.status().code() != Code::kNotFound) return Outcome::retry(r.status());
    auto slices = slices_.by_index(kIndexService, client::make_key(ns, name));
    if (slices.ok()) {
      for (const auto& s : *slices) {
        auto d = client_->remove(kEndpointSlices, ns, client::object_name(*s));
        if (!d.ok() && d.status().code() != Code::kNotFound) return Outcome::retry(d.status());
      }
    }
    return Outcome::done();
  }

  Status write_endpoints(const json::value& svc, const std::string& ns, const std::string& name,
                         const std::map<std::vector<Port>, std::vector<Member>>& groups) {
    json::array subsets;
    for (const auto& [ports, members] : groups) {
      if (ports.empty()) continue;
      json::array ready, not_ready;
      for (const auto& m : members) {
        if (m.terminating) continue;
        json::object a{{"ip", m.ip}, {"targetRef", target_ref(m, ns)}};
        if (!m.node.empty()) a["nodeName"] = m.node;
        (m.ready ? ready : not_ready).push_back(std::move(a));
      }
      if (ready.empty() && not_ready.empty()) continue;
      json::object subset;
      if (!ready.empty()) subset["addresses"] = std::move(ready);
      if (!not_ready.empty()) subset["notReadyAddresses"] = std::move(not_ready);
      subset["ports"] = ports_json(ports);
      subsets.push_back(std::move(subset));
    }
    json::object labels;
    if (const auto* l = at(svc, {"metadata", "labels"}); l && l->is_object()) labels = l->get_object();
    if (str(svc, {"spec", "clusterIP"}) == "None") labels["service.kubernetes.io/headless"] = "";

    auto current = client_->get(client::resources::kEndpoints, ns, name);
    if (!current.ok() && current.status().code() != Code::kNotFound) return current.status();
    if (current.ok()) {
      const auto* cur_subsets = at(*current, {"subsets"});
      const json::value empty = json::array();
      const auto* cur_labels = at(*current, {"metadata", "labels"});
      const json::value no_labels = json::object();
      if ((cur_subsets ? *cur_subsets : empty) == json::value(subsets) &&
          (cur_labels ? *cur_labels : no_labels) == json::value(labels)) {
        return Status();
      }
      json::value next = *current;
      next.as_object()["subsets"] = std::move(subsets);
      next.at("metadata").as_object()["labels"] = std::move(labels);
      auto u = client_->update(client::resources::kEndpoints, ns, next);
      return u.ok() ? Status() : u.status();
    }
    json::value obj = json::object{
        {"apiVersion", "v1"},
        {"kind", "Endpoints"},
        {"metadata", json::object{{"name", name}, {"namespace", ns}, {"labels", std::move(labels)}}},
        {"subsets", std::move(subsets)}};
    auto c = client_->create(client::resources::kEndpoints, ns, obj);
    if (!c.ok() && c.status().code() == Code::kAlreadyExists) return Status(Code::kAborted, "raced");
    return c.ok() ? Status() : c.status();
  }

  Status write_slices(const json::value& svc, const std::string& ns, const std::string& name,
                      const std::map<std::vector<Port>, std::vector<Member>>& groups) {
    auto existing = slices_.by_index(kIndexService, client::make_key(ns, name));
    std::vector<json::value> slices;
    if (existing.ok()) {
      for (const auto& s : *existing) {
        if (str(*s, {"metadata", "labels", kManagedByLabel}) == kManagedBy) slices.push_back(*s);
      }
    }
    std::vector<bool> used(slices.size(), false);
    const json::object owner{{"apiVersion", "v1"},
                             {"kind", "Service"},
                             {"name", name},
                             {"uid", client::object_uid(svc)},
                             {"controller", true},
                             {"blockOwnerDeletion", true}};
    for (const auto& [ports, members] : groups) {
      json::array endpoints;
      for (const auto& m : members) {
        json::object e{{"addresses", json::array{json::string(m.ip)}},
                       {"conditions", json::object{{"ready", m.ready && !m.terminating},
                                                   {"serving", m.ready},
                                                   {"terminating", m.terminating}}},
                       {"targetRef", target_ref(m, ns)}};
        if (!m.node.empty()) e["nodeName"] = m.node;
        endpoints.push_back(std::move(e));
      }
      const json::value ports_v = ports_json(ports);
      // The existing slice with the same ports, else the first unused one.
      std::size_t pick = slices.size();
      for (std::size_t i = 0; i < slices.size() && pick == slices.size(); ++i) {
        const auto* p = at(slices[i], {"ports"});
        if (!used[i] && p && *p == ports_v) pick = i;
      }
      for (std::size_t i = 0; i < slices.size() && pick == slices.size(); ++i) {
        if (!used[i]) pick = i;
      }
      if (pick < slices.size()) {
        used[pick] = true;
        json::value& cur = slices[pick];
        const auto* ce = at(cur, {"endpoints"});
        if (ce && *ce == json::value(endpoints) && at(cur, {"ports"}) && *at(cur, {"ports"}) == ports_v) {
          continue;
        }
        // The informer's copy may trail our own last write: update the API's current version.
        auto fresh = client_->get(kEndpointSlices, ns, client::object_name(cur));
        if (!fresh.ok()) return fresh.status();
        fresh->as_object()["endpoints"] = std::move(endpoints);
        fresh->as_object()["ports"] = ports_v;
        auto u = client_->update(kEndpointSlices, ns, *fresh);
        if (!u.ok()) return u.status();
        continue;
      }
      json::value obj = json::object{
          {"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           json::object{{"generateName", name + "-"},
                        {"namespace", ns},
                        {"labels", json::object{{kServiceNameLabel, name}, {kManagedByLabel, kManagedBy}}},
                        {"ownerReferences", json::array{owner}}}},
          {"addressType", "IPv4"},
          {"endpoints", std::move(endpoints)},
          {"ports", ports_v}};
      auto c = client_->create(kEndpointSlices, ns, obj);
      if (!c.ok()) return c.status();
    }
    for (std::size_t i = 0; i < slices.size(); ++i) {
      if (used[i]) continue;
      auto d = client_->remove(kEndpointSlices, ns, client::object_name(slices[i]));
      if (!d.ok() && d.status().code() != Code::kNotFound) return d.status();
    }
    return Status();
  }

  const std::shared_ptr<client::Client> client_;
  const std::shared_ptr<KeySink> sink_;
  client::Informer& services_;
  client::Informer& pods_;
  client::Informer& slices_;
};

}  // namespace

Result<std::unique_ptr<Controller>> new_endpoints_controller(const ControllerContext& ctx,
                                                             EndpointsControllerOptions options) {
  if (!ctx.client) return Status(Code::kInvalidArgument, "endpoints controller: no client");
  if (!ctx.informers) return Status(Code::kInvalidArgument, "endpoints controller: no informers");
  return make_sink_controller(
      controller_options(std::string(kEndpointsControllerName), options.workers, ctx),
      [&ctx](std::shared_ptr<KeySink> sink) {
        return std::make_shared<EndpointsReconciler>(ctx, std::move(sink));
      });
}

ControllerRegistration endpoints_controller_registration(EndpointsControllerOptions options) {
  return ControllerRegistration{
      kEndpointsControllerName, kEndpointsControllerComponent,
      [options](const ControllerContext& ctx) { return new_endpoints_controller(ctx, options); }};
}

}  // namespace orch::controller
