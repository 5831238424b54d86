// Validation of apps/v1 workloads (after pkg/apis/apps/validation) and of the Lease,
// StorageClass and EndpointSlice kinds. Thread-safety: stateless.
#include <boost/json/serialize.hpp>
#include <charconv>

#include "orch/api/selector.hpp"
#include "orch/api/validation.hpp"
#include "validation_internal.hpp"

namespace orch::api {

using namespace detail;  // NOLINT: shared helpers of the validation files

namespace {

constexpr std::string_view kPercentMessage =
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or "
    "'93%', regex used for validation is '[0-9]+%')";

// The number in "25%" or the int; -1 when a string is not a valid percent.
int int_or_percent_value(const IntOrString& v) {
  if (v.is_int()) return v.int_value();
  const std::string& s = v.str_value();
  if (s.size() < 2 || s.back() != '%') return -1;
  int n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size() - 1, n);
  if (ec != std::errc() || ptr != s.data() + s.size() - 1) return -1;
  return n;
}

void check_positive_int_or_percent(FieldErrors& errs, const std::string& path,
                                   const std::optional<IntOrString>& v) {
  if (!v) return;
  if (v->is_string()) {
    if (int_or_percent_value(*v) < 0) {
      errs.push_back(invalid(path, v->to_string(), std::string(kPercentMessage)));
    }
  } else {
    check_nonnegative(errs, path, v->int_value());
  }
}

void check_not_more_than_100_percent(FieldErrors& errs, const std::string& path,
                                     const std::optional<IntOrString>& v) {
  if (v && v->is_string() && int_or_percent_value(*v) > 100) {
    errs.push_back(invalid(path, v->to_string(), "must not be greater than 100%"));
  }
}

int value_or_zero(const std::optional<IntOrString>& v) {
  return v ? int_or_percent_value(*v) : 0;
}

// The selector and template rules shared by the four workloads (ReplicaSet's wording: "empty
// selector is invalid for deployment", as Kubernetes has it).
void validate_selector_and_template(FieldErrors& errs, const std::optional<LabelSelector>& sel,
                                    const PodTemplateSpec& tmpl, std::string_view kind) {
  if (!sel) {
    errs.push_back(required("spec.selector"));
  } else {
    append(errs, validate_label_selector(*sel, "spec.selector"));
    if (sel->match_labels.empty() && sel->match_expressions.empty()) {
      errs.push_back(invalid("spec.selector", go_label_selector(*sel),
                             "empty selector is invalid for " + std::string(kind)));
    }
  }
  Result<Selector> selector = sel ? Selector::from(*sel) : Result<Selector>(Selector::nothing());
  if (!selector.ok()) {
    errs.push_back(invalid("spec.selector", go_label_selector(*sel), "invalid label selector"));
  } else if (!selector->empty() && !selector->matches(tmpl.metadata.labels)) {
    errs.push_back(invalid("spec.template.metadata.labels", go_string_map(tmpl.metadata.labels),
                           "`selector` does not match template `labels`"));
  }
  append(errs, validate_pod_template(tmpl, "spec.template"));
  if (tmpl.spec.restart_policy != "Always") {
    errs.push_back(not_supported("spec.template.spec.restartPolicy",
                                 quote(tmpl.spec.restart_policy), {"Always"}));
  }
  if (tmpl.spec.active_deadline_seconds) {
    std::string what = kind == "daemonset" ? "DaemonSet"
                       : kind == "statefulset" ? "StatefulSet"
                                               : "ReplicaSet";
    errs.push_back(forbidden("spec.template.spec.activeDeadlineSeconds",
                             "activeDeadlineSeconds in " + what + " is not Supported"));
  }
}

void check_selector_immutable(FieldErrors& errs, const std::optional<LabelSelector>& updated,
                              const std::optional<LabelSelector>& old) {
  if (updated != old) {
    errs.push_back(invalid("spec.selector",
                           updated ? go_label_selector(*updated) : std::string("null"),
                           "field is immutable"));
  }
}

}  // namespace

// ============================================================================ Deployment

FieldErrors validate(const Deployment& d) {
  FieldErrors errs =
      validate_object_meta(d.metadata, true, NameRule::kDns1123Subdomain, "metadata");
  const DeploymentSpec& spec = d.spec;
  check_nonnegative(errs, "spec.replicas", spec.replicas.value_or(0));
  validate_selector_and_template(errs, spec.selector, spec.template_, "deployment");
  const DeploymentStrategy& strategy = spec.strategy;
  if (strategy.type == "Recreate") {
    if (strategy.rolling_update) {
      errs.push_back(forbidden("spec.strategy.rollingUpdate",
                               "may not be specified when strategy `type` is 'Recreate'"));
    }
  } else if (strategy.type == "RollingUpdate") {
    if (!strategy.rolling_update) {
      errs.push_back(required("spec.strategy.rollingUpdate",
                              "this should be defaulted and never be nil"));
    } else {
      const auto& ru = *strategy.rolling_update;
      check_positive_int_or_percent(errs, "spec.strategy.rollingUpdate.maxUnavailable",
                                    ru.max_unavailable);
      check_positive_int_or_percent(errs, "spec.strategy.rollingUpdate.maxSurge", ru.max_surge);
      if (value_or_zero(ru.max_unavailable) == 0 && value_or_zero(ru.max_surge) == 0) {
        errs.push_back(invalid("spec.strategy.rollingUpdate.maxUnavailable",
                               ru.max_unavailable ? ru.max_unavailable->to_string() : "0",
                               "may not be 0 when `maxSurge` is 0"));
      }
      check_not_more_than_100_percent(errs, "spec.strategy.rollingUpdate.maxUnavailable",
                                      ru.max_unavailable);
    }
  } else {
    check_enum(errs, "spec.strategy.type", strategy.type, {"Recreate", "RollingUpdate"});
  }
  check_nonnegative(errs, "spec.minReadySeconds", spec.min_ready_seconds);
  if (spec.revision_history_limit) {
    check_nonnegative(errs, "spec.revisionHistoryLimit", *spec.revision_history_limit);
  }
  if (spec.progress_deadline_seconds) {
    check_nonnegative(errs, "spec.progressDeadlineSeconds", *spec.progress_deadline_seconds);
    if (*spec.progress_deadline_seconds <= spec.min_ready_seconds) {
      errs.push_back(invalid("spec.progressDeadlineSeconds",
                             std::to_string(*spec.progress_deadline_seconds),
                             "must be greater than minReadySeconds"));
    }
  }
  return errs;
}

FieldErrors validate_update(const Deployment& updated, const Deployment& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  append(errs, validate(updated));
  check_selector_immutable(errs, updated.spec.selector, old.spec.selector);
  return errs;
}

// ============================================================================ ReplicaSet

FieldErrors validate(const ReplicaSet& rs) {
  FieldErrors errs =
      validate_object_meta(rs.metadata, true, NameRule::kDns1123Subdomain, "metadata");
  check_nonnegative(errs, "spec.replicas", rs.spec.replicas.value_or(0));
  check_nonnegative(errs, "spec.minReadySeconds", rs.spec.min_ready_seconds);
  validate_selector_and_template(errs, rs.spec.selector, rs.spec.template_, "deployment");
  return errs;
}

FieldErrors validate_update(const ReplicaSet& updated, const ReplicaSet& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  append(errs, validate(updated));
  check_selector_immutable(errs, updated.spec.selector, old.spec.selector);
  return errs;
}

// ============================================================================ StatefulSet

FieldErrors validate(const StatefulSet& sts) {
  FieldErrors errs =
      validate_object_meta(sts.metadata, true, NameRule::kDns1123Subdomain, "metadata");
  const StatefulSetSpec& spec = sts.spec;
  if (spec.pod_management_policy.empty()) {
    errs.push_back(required("spec.podManagementPolicy"));
  } else if (!one_of(spec.pod_management_policy, {"OrderedReady", "Parallel"})) {
    errs.push_back(invalid("spec.podManagementPolicy", quote(spec.pod_management_policy),
                           "must be 'OrderedReady' or 'Parallel'"));
  }
  const auto& us = spec.update_strategy;
  if (us.type.empty()) {
    errs.push_back(required("spec.updateStrategy"));
  } else if (us.type == "OnDelete") {
    if (us.rolling_update) {
      errs.push_back(invalid("spec.updateStrategy.rollingUpdate", "",
                             "only allowed for updateStrategy 'RollingUpdate'"));
    }
  } else if (us.type == "RollingUpdate") {
    if (us.rolling_update) {
      if (us.rolling_update->partition) {
        check_nonnegative(errs, "spec.updateStrategy.rollingUpdate.partition",
                          *us.rolling_update->partition);
      }
      check_positive_int_or_percent(errs, "spec.updateStrategy.rollingUpdate.maxUnavailable",
                                    us.rolling_update->max_unavailable);
    }
  } else {
    errs.push_back(invalid("spec.updateStrategy", quote(us.type),
                           "must be 'RollingUpdate' or 'OnDelete'"));
  }
  if (spec.persistent_volume_claim_retention_policy) {
    const auto& p = *spec.persistent_volume_claim_retention_policy;
    check_enum(errs, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted", p.when_deleted,
               {"Retain", "Delete"});
    check_enum(errs, "spec.persistentVolumeClaimRetentionPolicy.whenScaled", p.when_scaled,
               {"Retain", "Delete"});
  }
  if (spec.ordinals) check_nonnegative(errs, "spec.ordinals.start", spec.ordinals->start);
  check_nonnegative(errs, "spec.replicas", spec.replicas.value_or(0));
  check_nonnegative(errs, "spec.minReadySeconds", spec.min_ready_seconds);
  if (spec.revision_history_limit) {
    check_nonnegative(errs, "spec.revisionHistoryLimit", *spec.revision_history_limit);
  }
  // Containers may mount the claims made from volumeClaimTemplates: validate the template with
  // them as volumes. (Kubernetes skips pod-spec validation for StatefulSet templates entirely.)
  PodTemplateSpec tmpl = spec.template_;
  for (const auto& pvc : spec.volume_claim_templates) {
    Volume v;
    v.name = pvc.metadata.name;
    v.persistent_volume_claim.emplace();
    v.persistent_volume_claim->claim_name = pvc.metadata.name.empty() ? "claim" : pvc.metadata.name;
    tmpl.spec.volumes.push_back(std::move(v));
  }
  validate_selector_and_template(errs, spec.selector, tmpl, "statefulset");
  for (std::size_t i = 0; i < spec.volume_claim_templates.size(); ++i) {
    const auto& pvc = spec.volume_claim_templates[i];
    const std::string p = index("spec.volumeClaimTemplates", i);
    append(errs, validate_labels(pvc.metadata.labels, child(child(p, "metadata"), "labels")));
    append(errs, validate_pvc_spec(pvc.spec, child(p, "spec")));
  }
  return errs;
}

FieldErrors validate_update(const StatefulSet& updated, const StatefulSet& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  append(errs, validate(updated));
  StatefulSetSpec n = updated.spec;
  const StatefulSetSpec& o = old.spec;
  n.replicas = o.replicas;
  n.ordinals = o.ordinals;
  n.template_ = o.template_;
  n.update_strategy = o.update_strategy;
  n.persistent_volume_claim_retention_policy = o.persistent_volume_claim_retention_policy;
  n.min_ready_seconds = o.min_ready_seconds;
  n.revision_history_limit = o.revision_history_limit;
  if (!(n == o)) {
    errs.push_back(forbidden(
        "spec",
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
        "forbidden"));
  }
  return errs;
}

// ============================================================================ DaemonSet

FieldErrors validate(const DaemonSet& ds) {
  FieldErrors errs =
      validate_object_meta(ds.metadata, true, NameRule::kDns1123Subdomain, "metadata");
  const DaemonSetSpec& spec = ds.spec;
  validate_selector_and_template(errs, spec.selector, spec.template_, "daemonset");
  check_nonnegative(errs, "spec.minReadySeconds", spec.min_ready_seconds);
  const auto& us = spec.update_strategy;
  if (us.type == "RollingUpdate") {
    if (!us.rolling_update) {
      errs.push_back(required("spec.updateStrategy.rollingUpdate"));
    } else {
      const auto& ru = *us.rolling_update;
      const std::string p = "spec.updateStrategy.rollingUpdate";
      check_positive_int_or_percent(errs, p + ".maxUnavailable", ru.max_unavailable);
      check_positive_int_or_percent(errs, p + ".maxSurge", ru.max_surge);
      check_not_more_than_100_percent(errs, p + ".maxUnavailable", ru.max_unavailable);
      check_not_more_than_100_percent(errs, p + ".maxSurge", ru.max_surge);
      const bool has_unavailable = value_or_zero(ru.max_unavailable) != 0;
      const bool has_surge = value_or_zero(ru.max_surge) != 0;
      if (has_unavailable && has_surge) {
        errs.push_back(invalid(p + ".maxSurge", ru.max_surge->to_string(),
                               "may not be set when maxUnavailable is non-zero"));
      } else if (!has_unavailable && !has_surge) {
        errs.push_back(required(p + ".maxUnavailable", "cannot be 0 when maxSurge is 0"));
      }
    }
  } else if (us.type != "OnDelete") {
    check_enum(errs, "spec.updateStrategy.type", us.type, {"RollingUpdate", "OnDelete"});
  }
  if (spec.revision_history_limit) {
    check_nonnegative(errs, "spec.revisionHistoryLimit", *spec.revision_history_limit);
  }
  return errs;
}

FieldErrors validate_update(const DaemonSet& updated, const DaemonSet& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  append(errs, validate(updated));
  check_selector_immutable(errs, updated.spec.selector, old.spec.selector);
  return errs;
}

// ============================================================================ ControllerRevision

FieldErrors validate(const ControllerRevision& cr) {
  FieldErrors errs =
      validate_object_meta(cr.metadata, true, NameRule::kDns1123Subdomain, "metadata");
  if (cr.data.is_null()) errs.push_back(required("data", "data is mandatory"));
  check_nonnegative(errs, "revision", cr.revision);
  return errs;
}

FieldErrors validate_update(const ControllerRevision& updated, const ControllerRevision& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  append(errs, validate(updated));
  if (updated.data != old.data) {
    errs.push_back(invalid("data", boost::json::serialize(updated.data), "field is immutable"));
  }
  if (updated.revision != old.revision) {
    errs.push_back(invalid("revision", std::to_string(updated.revision), "field is immutable"));
  }
  return errs;
}

// ============================================================================ Lease

FieldErrors validate(const Lease& lease) {
  FieldErrors errs =
      validate_object_meta(lease.metadata, true, NameRule::kDns1123Subdomain, "metadata");
  if (lease.spec.lease_duration_seconds && *lease.spec.lease_duration_seconds <= 0) {
    errs.push_back(invalid("spec.leaseDurationSeconds",
                           std::to_string(*lease.spec.lease_duration_seconds),
                           "must be greater than 0"));
  }
  if (lease.spec.lease_transitions) {
    check_nonnegative(errs, "spec.leaseTransitions", *lease.spec.lease_transitions);
  }
  return errs;
}

FieldErrors validate_update(const Lease& updated, const Lease& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  append(errs, validate(updated));
  return errs;
}

// ============================================================================ StorageClass

FieldErrors validate(const StorageClass& sc) {
  FieldErrors errs =
      validate_object_meta(sc.metadata, false, NameRule::kDns1123Subdomain, "metadata");
  if (sc.provisioner.empty()) {
    errs.push_back(required("provisioner"));
  } else {
    std::string lower = sc.provisioner;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    add_invalid(errs, "provisioner", lower, is_qualified_name(lower));
  }
  if (sc.reclaim_policy) {
    check_enum(errs, "reclaimPolicy", *sc.reclaim_policy, {"Delete", "Retain"});
  }
  if (!sc.volume_binding_mode) {
    errs.push_back(required("volumeBindingMode"));
  } else {
    check_enum(errs, "volumeBindingMode", *sc.volume_binding_mode,
               {"Immediate", "WaitForFirstConsumer"});
  }
  return errs;
}

FieldErrors validate_update(const StorageClass& updated, const StorageClass& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  append(errs, validate(updated));
  if (updated.parameters != old.parameters) {
    errs.push_back(forbidden("parameters", "updates to parameters are forbidden."));
  }
  if (updated.provisioner != old.provisioner) {
    errs.push_back(forbidden("provisioner", "updates to provisioner are forbidden."));
  }
  if (updated.reclaim_policy != old.reclaim_policy) {
    errs.push_back(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."));
  }
  if (updated.volume_binding_mode != old.volume_binding_mode) {
    errs.push_back(invalid("volumeBindingMode", quote(updated.volume_binding_mode.value_or("")),
                           "field is immutable"));
  }
  return errs;
}

// ============================================================================ EndpointSlice

FieldErrors validate(const EndpointSlice& slice) {
  FieldErrors errs =
      validate_object_meta(slice.metadata, true, NameRule::kDns1123Subdomain, "metadata");
  check_enum(errs, "addressType", slice.address_type, {"FQDN", "IPv4", "IPv6"});
  for (std::size_t i = 0; i < slice.endpoints.size(); ++i) {
    const auto& ep = slice.endpoints[i];
    const std::string p = index("endpoints", i);
    const std::string ap = child(p, "addresses");
    if (ep.addresses.empty()) {
      errs.push_back(required(ap, "must contain at least 1 address"));
    } else if (ep.addresses.size() > 100) {
      errs.push_back({FieldErrorType::kTooMany, ap, "", "must have at most 100 items"});
    }
    for (std::size_t j = 0; j < ep.addresses.size(); ++j) {
      const std::string& a = ep.addresses[j];
      if (slice.address_type == "IPv4" && !is_ipv4(a)) {
        errs.push_back(invalid(index(ap, j), quote(a), "must be a valid IPv4 address"));
      } else if (slice.address_type == "IPv6" && !is_ipv6(a)) {
        errs.push_back(invalid(index(ap, j), quote(a), "must be a valid IPv6 address"));
      } else if (slice.address_type == "FQDN") {
        add_invalid(errs, index(ap, j), a, is_dns1123_subdomain(a));
      }
    }
    if (ep.node_name && !ep.node_name->empty()) {
      add_invalid(errs, child(p, "nodeName"), *ep.node_name, is_dns1123_subdomain(*ep.node_name));
    }
    if (ep.hostname && !ep.hostname->empty()) {
      add_invalid(errs, child(p, "hostname"), *ep.hostname, is_dns1123_label(*ep.hostname));
    }
  }
  for (std::size_t i = 0; i < slice.ports.size(); ++i) {
    const auto& port = slice.ports[i];
    const std::string p = index("ports", i);
    if (port.name && !port.name->empty()) {
      add_invalid(errs, child(p, "name"), *port.name, is_dns1123_label(*port.name));
    }
    if (port.protocol) check_enum(errs, child(p, "protocol"), *port.protocol, {"SCTP", "TCP", "UDP"});
    if (port.port) {
      for (auto& msg : is_valid_port_num(*port.port)) {
        errs.push_back(invalid(child(p, "port"), std::to_string(*port.port), msg));
      }
    }
  }
  return errs;
}

FieldErrors validate_update(const EndpointSlice& updated, const EndpointSlice& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  append(errs, validate(updated));
  check_immutable(errs, "addressType", updated.address_type, old.address_type);
  return errs;
}

}  // namespace orch::api
