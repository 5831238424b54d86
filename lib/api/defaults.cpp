// Defaulting of every kind, after Kubernetes' defaults.go files. Thread-safety: stateless.
#include "orch/api/defaults.hpp"

namespace orch::api {

namespace {

constexpr std::int32_t kDefaultModeOctal644 = 0644;  // 420

void set_default(std::string& field, std::string_view value) {
  if (field.empty()) field = value;
}
template <class T, class V>
void set_default(std::optional<T>& field, V value) {
  if (!field) field = T(value);
}

void set_defaults(HttpGetAction& a) {
  set_default(a.path, "/");
  set_default(a.scheme, "HTTP");
}

void set_defaults(LifecycleHandler& h) {
  if (h.http_get) set_defaults(*h.http_get);
}

void set_defaults(Probe& p) {
  if (p.timeout_seconds == 0) p.timeout_seconds = 1;
  if (p.period_seconds == 0) p.period_seconds = 10;
  if (p.success_threshold == 0) p.success_threshold = 1;
  if (p.failure_threshold == 0) p.failure_threshold = 3;
  if (p.http_get) set_defaults(*p.http_get);
}

void set_defaults(Container& c) {
  set_default(c.image_pull_policy, default_image_pull_policy(c.image));
  set_default(c.termination_message_path, "/dev/termination-log");
  set_default(c.termination_message_policy, "File");
  for (auto& port : c.ports) set_default(port.protocol, "TCP");
  for (auto& env : c.env) {
    if (env.value_from && env.value_from->field_ref) {
      set_default(env.value_from->field_ref->api_version, "v1");
    }
  }
  if (c.liveness_probe) set_defaults(*c.liveness_probe);
  if (c.readiness_probe) set_defaults(*c.readiness_probe);
  if (c.startup_probe) set_defaults(*c.startup_probe);
  if (c.lifecycle) {
    if (c.lifecycle->post_start) set_defaults(*c.lifecycle->post_start);
    if (c.lifecycle->pre_stop) set_defaults(*c.lifecycle->pre_stop);
  }
}

void set_defaults(Volume& v) {
  if (v.source_count() == 0) v.empty_dir.emplace();
  if (v.config_map) set_default(v.config_map->default_mode, kDefaultModeOctal644);
  if (v.secret) set_default(v.secret->default_mode, kDefaultModeOctal644);
  if (v.host_path) set_default(v.host_path->type, "");
}

void set_defaults(PersistentVolumeClaimSpec& spec) { set_default(spec.volume_mode, "Filesystem"); }

void set_template_defaults(PodTemplateSpec& t) { set_defaults(t.spec); }

}  // namespace

std::string default_image_pull_policy(std::string_view image) {
  // Kubernetes parses the reference; the tag is what follows the last ':' after the last '/',
  // and a digest ("@sha256:...") counts as pinned.
  if (image.find('@') != std::string_view::npos) return "IfNotPresent";
  const std::size_t slash = image.rfind('/');
  const std::size_t colon = image.rfind(':');
  const bool has_tag =
      colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash);
  if (!has_tag) return "Always";
  return image.substr(colon + 1) == "latest" ? "Always" : "IfNotPresent";
}

void set_defaults(PodSpec& spec) {
  set_default(spec.dns_policy, "ClusterFirst");
  set_default(spec.restart_policy, "Always");
  if (spec.security_context.is_null()) spec.security_context = boost::json::object();
  set_default(spec.termination_grace_period_seconds, 30);
  set_default(spec.scheduler_name, "default-scheduler");
  for (auto& v : spec.volumes) set_defaults(v);
  for (auto& c : spec.init_containers) set_defaults(c);
  for (auto& c : spec.containers) set_defaults(c);
}

void set_defaults(PodTemplateSpec& tmpl) { set_template_defaults(tmpl); }

void set_defaults(Pod& pod) {
  set_defaults(pod.spec);
  // A limit without a request means request == limit (SetDefaults_Pod).
  auto copy_limits = [](Container& c) {
    for (const auto& [name, limit] : c.resources.limits) {
      c.resources.requests.emplace(name, limit);
    }
  };
  for (auto& c : pod.spec.containers) copy_limits(c);
  for (auto& c : pod.spec.init_containers) copy_limits(c);
  set_default(pod.spec.enable_service_links, true);
  // With hostNetwork the container port is the host port (Pods only, not templates).
  if (pod.spec.host_network) {
    for (auto* list : {&pod.spec.init_containers, &pod.spec.containers}) {
      for (auto& c : *list) {
        for (auto& port : c.ports) {
          if (port.host_port == 0) port.host_port = port.container_port;
        }
      }
    }
  }
}

void set_defaults(Namespace& ns) {
  set_default(ns.status.phase, "Active");
  if (ns.spec.finalizers.empty()) ns.spec.finalizers.push_back("kubernetes");
}

void set_defaults(Node& node) {
  if (node.status.allocatable.empty()) node.status.allocatable = node.status.capacity;
}

void set_defaults(Service& svc) {
  auto& spec = svc.spec;
  set_default(spec.type, "ClusterIP");
  set_default(spec.session_affinity, "None");
  if (spec.session_affinity == "ClientIP" && spec.session_affinity_config.is_null()) {
    spec.session_affinity_config = {{"clientIP", {{"timeoutSeconds", 10800}}}};
  }
  for (auto& port : spec.ports) {
    set_default(port.protocol, "TCP");
    if (port.target_port.is_zero_int() ||
        (port.target_port.is_string() && port.target_port.str_value().empty())) {
      port.target_port = IntOrString(port.port);
    }
  }
  if (spec.type != "ExternalName") set_default(spec.internal_traffic_policy, "Cluster");
  if ((spec.type == "NodePort" || spec.type == "LoadBalancer") &&
      spec.external_traffic_policy.empty()) {
    spec.external_traffic_policy = "Cluster";
  }
  if (spec.type == "LoadBalancer") {
    set_default(spec.allocate_load_balancer_node_ports, true);
    for (auto& ingress : svc.status.load_balancer.ingress) {
      if (!ingress.ip.empty()) set_default(ingress.ip_mode, "VIP");
    }
  }
}

void set_defaults(Endpoints& ep) {
  for (auto& subset : ep.subsets) {
    for (auto& port : subset.ports) set_default(port.protocol, "TCP");
  }
}

void set_defaults(Event&) {}
void set_defaults(ConfigMap&) {}

void set_defaults(Secret& secret) {
  set_default(secret.type, "Opaque");
  for (auto& [key, value] : secret.string_data) secret.data[key] = Bytes(value);
  secret.string_data.clear();
}

void set_defaults(PersistentVolume& pv) {
  set_default(pv.spec.persistent_volume_reclaim_policy, "Retain");
  set_default(pv.spec.volume_mode, "Filesystem");
  set_default(pv.status.phase, "Pending");
}

void set_defaults(PersistentVolumeClaim& pvc) {
  set_defaults(pvc.spec);
  set_default(pvc.status.phase, "Pending");
}

void set_defaults(Deployment& d) {
  auto& spec = d.spec;
  set_default(spec.replicas, 1);
  set_default(spec.strategy.type, "RollingUpdate");
  if (spec.strategy.type == "RollingUpdate") {
    if (!spec.strategy.rolling_update) spec.strategy.rolling_update.emplace();
    set_default(spec.strategy.rolling_update->max_unavailable, "25%");
    set_default(spec.strategy.rolling_update->max_surge, "25%");
  }
  set_default(spec.revision_history_limit, 10);
  set_default(spec.progress_deadline_seconds, 600);
  set_template_defaults(spec.template_);
}

void set_defaults(ReplicaSet& rs) {
  set_default(rs.spec.replicas, 1);
  set_template_defaults(rs.spec.template_);
}

void set_defaults(StatefulSet& sts) {
  auto& spec = sts.spec;
  set_default(spec.replicas, 1);
  set_default(spec.pod_management_policy, "OrderedReady");
  set_default(spec.update_strategy.type, "RollingUpdate");
  if (spec.update_strategy.type == "RollingUpdate") {
    if (!spec.update_strategy.rolling_update) spec.update_strategy.rolling_update.emplace();
    set_default(spec.update_strategy.rolling_update->partition, 0);
  }
  set_default(spec.revision_history_limit, 10);
  if (!spec.persistent_volume_claim_retention_policy) {
    spec.persistent_volume_claim_retention_policy.emplace();
  }
  set_default(spec.persistent_volume_claim_retention_policy->when_deleted, "Retain");
  set_default(spec.persistent_volume_claim_retention_policy->when_scaled, "Retain");
  for (auto& pvc : spec.volume_claim_templates) set_defaults(pvc);
  set_template_defaults(spec.template_);
}

void set_defaults(DaemonSet& ds) {
  auto& spec = ds.spec;
  set_default(spec.update_strategy.type, "RollingUpdate");
  if (spec.update_strategy.type == "RollingUpdate") {
    if (!spec.update_strategy.rolling_update) spec.update_strategy.rolling_update.emplace();
    set_default(spec.update_strategy.rolling_update->max_unavailable, 1);
    set_default(spec.update_strategy.rolling_update->max_surge, 0);
  }
  set_default(spec.revision_history_limit, 10);
  set_template_defaults(spec.template_);
}

void set_defaults(ControllerRevision&) {}
void set_defaults(Lease&) {}

void set_defaults(StorageClass& sc) {
  set_default(sc.reclaim_policy, "Delete");
  set_default(sc.volume_binding_mode, "Immediate");
}

void set_defaults(EndpointSlice& slice) {
  for (auto& port : slice.ports) {
    set_default(port.name, "");
    set_default(port.protocol, "TCP");
  }
}

}  // namespace orch::api
