// Validation of ObjectMeta, PodSpec and the core/v1 kinds, after Kubernetes'
// pkg/apis/core/validation/validation.go. Thread-safety: stateless.
#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <set>

#include "orch/api/selector.hpp"
#include "orch/api/validation.hpp"
#include "validation_internal.hpp"

namespace orch::api {

namespace detail {

void check_enum(FieldErrors& errs, const std::string& path, std::string_view value,
                const std::vector<std::string_view>& supported, bool required_when_empty) {
  if (value.empty()) {
    if (required_when_empty) errs.push_back(required(path));
    return;
  }
  for (std::string_view s : supported) {
    if (s == value) return;
  }
  errs.push_back(not_supported(path, quote(value), supported));
}

void check_nonnegative(FieldErrors& errs, const std::string& path, std::int64_t value) {
  if (value < 0) {
    errs.push_back(invalid(path, std::to_string(value), "must be greater than or equal to 0"));
  }
}

void check_immutable(FieldErrors& errs, const std::string& path, std::string_view updated,
                     std::string_view old) {
  if (updated != old) errs.push_back(invalid(path, quote(updated), "field is immutable"));
}

void add_invalid(FieldErrors& errs, const std::string& path, std::string_view value,
                 const std::vector<std::string>& msgs) {
  for (const auto& msg : msgs) errs.push_back(invalid(path, quote(value), msg));
}

bool is_ipv4(std::string_view s) {
  in_addr a{};
  return inet_pton(AF_INET, std::string(s).c_str(), &a) == 1;
}
bool is_ipv6(std::string_view s) {
  in6_addr a{};
  return inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}
bool is_ip(std::string_view s) { return is_ipv4(s) || is_ipv6(s); }

bool is_cidr(std::string_view s) {
  const std::size_t slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view ip = s.substr(0, slash);
  const std::string_view bits = s.substr(slash + 1);
  int n = -1;
  auto [ptr, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
  if (ec != std::errc() || ptr != bits.data() + bits.size() || bits.empty()) return false;
  if (is_ipv4(ip)) return n >= 0 && n <= 32;
  if (is_ipv6(ip)) return n >= 0 && n <= 128;
  return false;
}

std::vector<std::string> is_config_map_key(std::string_view key) {
  std::vector<std::string> errs;
  if (key.size() > kDns1123SubdomainMaxLength) {
    errs.push_back("must be no more than 253 characters");
  }
  const bool ok = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
  });
  if (!ok) {
    errs.push_back(
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
        "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
        "'[-._a-zA-Z0-9]+')");
  }
  if (key == ".") {
    errs.push_back("must not be '.'");
  } else if (key == "..") {
    errs.push_back("must not be '..'");
  } else if (key.substr(0, 2) == "..") {
    errs.push_back("must not start with '..'");
  }
  return errs;
}

void check_port_num_or_name(FieldErrors& errs, const std::string& path, const IntOrString& port) {
  if (port.is_int()) {
    for (auto& msg : is_valid_port_num(port.int_value())) {
      errs.push_back(invalid(path, std::to_string(port.int_value()), msg));
    }
  } else {
    add_invalid(errs, path, port.str_value(), is_valid_port_name(port.str_value()));
  }
}

namespace {

void validate_node_selector_requirement(FieldErrors& errs, const NodeSelectorRequirement& r,
                                        const std::string& path, bool field) {
  const std::string& op = r.operator_;
  if (op == "In" || op == "NotIn") {
    if (r.values.empty()) {
      errs.push_back(required(child(path, "values"),
                              "must be specified when `operator` is 'In' or 'NotIn'"));
    }
  } else if (op == "Exists" || op == "DoesNotExist") {
    if (!r.values.empty()) {
      errs.push_back(forbidden(child(path, "values"),
                               "may not be specified when `operator` is 'Exists' or "
                               "'DoesNotExist'"));
    }
  } else if (op == "Gt" || op == "Lt") {
    if (r.values.size() != 1) {
      errs.push_back(required(child(path, "values"),
                              "must be specified single value when `operator` is 'Lt' or 'Gt'"));
    }
  } else {
    errs.push_back(invalid(child(path, "operator"), quote(op), "not a valid selector operator"));
  }
  if (field) {
    if (r.key != "metadata.name") {
      errs.push_back(invalid(child(path, "key"), quote(r.key), "not a valid field selector key"));
    }
  } else {
    add_invalid(errs, child(path, "key"), r.key, is_qualified_name(r.key));
  }
}

void validate_node_selector_term(FieldErrors& errs, const NodeSelectorTerm& term,
                                 const std::string& path) {
  for (std::size_t j = 0; j < term.match_expressions.size(); ++j) {
    validate_node_selector_requirement(errs, term.match_expressions[j],
                                       index(child(path, "matchExpressions"), j), false);
  }
  for (std::size_t j = 0; j < term.match_fields.size(); ++j) {
    validate_node_selector_requirement(errs, term.match_fields[j],
                                       index(child(path, "matchFields"), j), true);
  }
}

}  // namespace

FieldErrors validate_node_selector(const NodeSelector& selector, const std::string& path) {
  FieldErrors errs;
  const std::string terms = child(path, "nodeSelectorTerms");
  if (selector.node_selector_terms.empty()) {
    errs.push_back(required(terms, "must have at least one node selector term"));
  }
  for (std::size_t i = 0; i < selector.node_selector_terms.size(); ++i) {
    validate_node_selector_term(errs, selector.node_selector_terms[i], index(terms, i));
  }
  return errs;
}

FieldErrors validate_pod_template(const PodTemplateSpec& tmpl, const std::string& path) {
  FieldErrors errs;
  const std::string meta = child(path, "metadata");
  append(errs, validate_labels(tmpl.metadata.labels, child(meta, "labels")));
  append(errs, validate_annotations(tmpl.metadata.annotations, child(meta, "annotations")));
  append(errs, validate_pod_spec(tmpl.spec, child(path, "spec")));
  return errs;
}

FieldErrors validate_pvc_spec(const PersistentVolumeClaimSpec& spec, const std::string& path) {
  FieldErrors errs;
  const std::string modes = child(path, "accessModes");
  if (spec.access_modes.empty()) {
    errs.push_back(required(modes, "at least 1 access mode is required"));
  }
  for (const auto& m : spec.access_modes) {
    if (!one_of(m, {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"})) {
      errs.push_back(not_supported(
          modes, quote(m), {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"}));
    }
  }
  if (spec.selector) {
    append(errs, validate_label_selector(*spec.selector, child(path, "selector")));
  }
  const std::string storage = key(child(path, "resources"), "storage");
  const auto it = spec.resources.requests.find("storage");
  if (it == spec.resources.requests.end()) {
    errs.push_back(required(storage));
  } else if (it->second.sign() <= 0) {
    errs.push_back(invalid(storage, quote(it->second.to_string()), "must be greater than zero"));
  }
  if (spec.storage_class_name && !spec.storage_class_name->empty()) {
    add_invalid(errs, child(path, "storageClassName"), *spec.storage_class_name,
                is_dns1123_subdomain(*spec.storage_class_name));
  }
  if (spec.volume_mode && !one_of(*spec.volume_mode, {"Block", "Filesystem"})) {
    errs.push_back(not_supported(child(path, "volumeMode"), quote(*spec.volume_mode),
                                 {"Block", "Filesystem"}));
  }
  return errs;
}

}  // namespace detail

using namespace detail;  // NOLINT: this file is the implementation of those helpers' users

// ============================================================================ printing

std::string go_string_map(const StringMap& m) {
  if (m.empty()) return "map[string]string(nil)";
  std::string out = "map[string]string{";
  bool first = true;
  for (const auto& [k, v] : m) {
    if (!first) out += ", ";
    first = false;
    out += quote(k) + ":" + quote(v);
  }
  return out + "}";
}

std::string go_label_selector(const LabelSelector& s) {
  std::string out = "v1.LabelSelector{MatchLabels:" + go_string_map(s.match_labels) +
                    ", MatchExpressions:";
  if (s.match_expressions.empty()) {
    out += "[]v1.LabelSelectorRequirement(nil)";
  } else {
    out += "[]v1.LabelSelectorRequirement{";
    for (std::size_t i = 0; i < s.match_expressions.size(); ++i) {
      const auto& r = s.match_expressions[i];
      if (i) out += ", ";
      out += "v1.LabelSelectorRequirement{Key:" + quote(r.key) + ", Operator:" +
             quote(r.operator_) + ", Values:";
      if (r.values.empty()) {
        out += "[]string(nil)";
      } else {
        out += "[]string{";
        for (std::size_t j = 0; j < r.values.size(); ++j) {
          if (j) out += ", ";
          out += quote(r.values[j]);
        }
        out += "}";
      }
      out += "}";
    }
    out += "}";
  }
  return out + "}";
}

// ============================================================================ ObjectMeta

namespace {

std::vector<std::string> name_messages(std::string_view name, NameRule rule) {
  switch (rule) {
    case NameRule::kDns1123Label: return is_dns1123_label(name);
    case NameRule::kDns1035Label: return is_dns1035_label(name);
    case NameRule::kDns1123Subdomain: break;
  }
  return is_dns1123_subdomain(name);
}

}  // namespace

FieldErrors validate_object_meta(const ObjectMeta& meta, bool namespaced, NameRule rule,
                                 const std::string& path) {
  FieldErrors errs;
  if (!meta.generate_name.empty()) {
    // A prefix: a trailing '-' is allowed (the generated suffix follows it).
    std::string_view prefix = meta.generate_name;
    if (prefix.size() > 1 && prefix.back() == '-') prefix.remove_suffix(1);
    add_invalid(errs, child(path, "generateName"), meta.generate_name,
                name_messages(prefix, rule));
  }
  const std::string name_path = child(path, "name");
  if (meta.name.empty()) {
    errs.push_back(required(name_path, "name or generateName is required"));
  } else {
    add_invalid(errs, name_path, meta.name, name_messages(meta.name, rule));
  }
  const std::string ns_path = child(path, "namespace");
  if (namespaced) {
    if (meta.namespace_.empty()) {
      errs.push_back(required(ns_path));
    } else {
      add_invalid(errs, ns_path, meta.namespace_, is_dns1123_label(meta.namespace_));
    }
  } else if (!meta.namespace_.empty()) {
    errs.push_back(forbidden(ns_path, "not allowed on this type"));
  }
  append(errs, validate_labels(meta.labels, child(path, "labels")));
  append(errs, validate_annotations(meta.annotations, child(path, "annotations")));
  const std::string owners = child(path, "ownerReferences");
  int controllers = 0;
  for (const auto& ref : meta.owner_references) {
    if (ref.api_version.empty() || ref.api_version.back() == '/') {
      errs.push_back(invalid(child(owners, "apiVersion"), quote(ref.api_version),
                             "version must not be empty"));
    }
    if (ref.kind.empty()) {
      errs.push_back(invalid(child(owners, "kind"), quote(ref.kind), "kind must not be empty"));
    }
    if (ref.name.empty()) {
      errs.push_back(invalid(child(owners, "name"), quote(ref.name), "name must not be empty"));
    }
    if (ref.uid.empty()) {
      errs.push_back(invalid(child(owners, "uid"), quote(ref.uid), "uid must not be empty"));
    }
    if (ref.controller.value_or(false)) ++controllers;
  }
  if (controllers > 1) {
    errs.push_back(invalid(owners, std::to_string(controllers) + " controllers",
                           "Only one reference can have Controller set to true"));
  }
  for (const auto& f : meta.finalizers) {
    add_invalid(errs, child(path, "finalizers"), f, is_qualified_name(f));
  }
  return errs;
}

FieldErrors validate_object_meta_update(const ObjectMeta& updated, const ObjectMeta& old,
                                        const std::string& path) {
  FieldErrors errs;
  check_immutable(errs, child(path, "name"), updated.name, old.name);
  check_immutable(errs, child(path, "namespace"), updated.namespace_, old.namespace_);
  check_immutable(errs, child(path, "uid"), updated.uid, old.uid);
  if (updated.creation_timestamp != old.creation_timestamp) {
    const std::string v =
        updated.creation_timestamp ? updated.creation_timestamp->to_string() : "null";
    errs.push_back(invalid(child(path, "creationTimestamp"), quote(v), "field is immutable"));
  }
  return errs;
}

// ============================================================================ PodSpec

namespace {

constexpr std::string_view kHostPathTypes[] = {"",     "DirectoryOrCreate", "Directory",
                                               "FileOrCreate", "File", "Socket",
                                               "CharDevice",   "BlockDevice"};

void check_mode(FieldErrors& errs, const std::string& path, const std::optional<std::int32_t>& mode) {
  if (mode && (*mode < 0 || *mode > 0777)) {
    errs.push_back(invalid(path, std::to_string(*mode),
                           "must be a number between 0 and 0777 (octal), both inclusive"));
  }
}

void check_items(FieldErrors& errs, const std::string& path, const std::vector<KeyToPath>& items) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string p = index(path, i);
    if (items[i].key.empty()) errs.push_back(required(child(p, "key")));
    if (items[i].path.empty()) {
      errs.push_back(required(child(p, "path")));
    } else if (items[i].path[0] == '/') {
      errs.push_back(invalid(child(p, "path"), quote(items[i].path), "must be a relative path"));
    }
    check_mode(errs, child(p, "mode"), items[i].mode);
  }
}

// Returns the names of the valid volumes.
std::set<std::string> validate_volumes(FieldErrors& errs, const std::vector<Volume>& volumes,
                                       const std::string& path) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < volumes.size(); ++i) {
    const Volume& v = volumes[i];
    const std::string p = index(path, i);
    const std::string name_path = child(p, "name");
    if (v.name.empty()) {
      errs.push_back(required(name_path));
    } else {
      add_invalid(errs, name_path, v.name, is_dns1123_label(v.name));
      if (!names.insert(v.name).second) errs.push_back(duplicate(name_path, quote(v.name)));
    }
    const int sources = v.source_count();
    if (sources == 0) {
      errs.push_back(required(p, "must specify a volume type"));
    } else if (sources > 1) {
      errs.push_back(forbidden(p, "may not specify more than 1 volume type"));
    }
    if (v.host_path) {
      const std::string hp = child(p, "hostPath");
      if (v.host_path->path.empty()) errs.push_back(required(child(hp, "path")));
      if (v.host_path->type) {
        const std::string_view t = *v.host_path->type;
        if (std::find(std::begin(kHostPathTypes), std::end(kHostPathTypes), t) ==
            std::end(kHostPathTypes)) {
          errs.push_back(not_supported(child(hp, "type"), quote(t),
                                       std::vector<std::string_view>(kHostPathTypes + 1,
                                                                    std::end(kHostPathTypes))));
        }
      }
    }
    if (v.persistent_volume_claim && v.persistent_volume_claim->claim_name.empty()) {
      errs.push_back(required(child(child(p, "persistentVolumeClaim"), "claimName")));
    }
    if (v.config_map) {
      const std::string cp = child(p, "configMap");
      if (v.config_map->name.empty()) errs.push_back(required(child(cp, "name")));
      check_mode(errs, child(cp, "defaultMode"), v.config_map->default_mode);
      check_items(errs, child(cp, "items"), v.config_map->items);
    }
    if (v.secret) {
      const std::string sp = child(p, "secret");
      if (v.secret->secret_name.empty()) errs.push_back(required(child(sp, "secretName")));
      check_mode(errs, child(sp, "defaultMode"), v.secret->default_mode);
      check_items(errs, child(sp, "items"), v.secret->items);
    }
    if (v.empty_dir && v.empty_dir->size_limit && v.empty_dir->size_limit->sign() < 0) {
      errs.push_back(invalid(child(child(p, "emptyDir"), "sizeLimit"),
                             quote(v.empty_dir->size_limit->to_string()),
                             "must be greater than or equal to 0"));
    }
  }
  return names;
}

bool is_standard_container_resource(std::string_view name) {
  return name == "cpu" || name == "memory" || name == "ephemeral-storage" ||
         name.substr(0, 10) == "hugepages-";
}

void validate_resource_list(FieldErrors& errs, const ResourceList& list, const std::string& path) {
  for (const auto& [name, q] : list) {
    const std::string p = key(path, name);
    if (name.find('/') == std::string::npos) {
      if (!is_standard_container_resource(name)) {
        errs.push_back(
            invalid(p, quote(name), "must be a standard resource type or fully qualified"));
      }
    } else {
      add_invalid(errs, p, name, is_qualified_name(name));
    }
    if (q.sign() < 0) {
      errs.push_back(invalid(p, quote(q.to_string()), "must be greater than or equal to 0"));
    }
  }
}

void validate_resources(FieldErrors& errs, const ResourceRequirements& r, const std::string& path) {
  const std::string limits = child(path, "limits");
  const std::string requests = child(path, "requests");
  validate_resource_list(errs, r.limits, limits);
  validate_resource_list(errs, r.requests, requests);
  for (const auto& [name, q] : r.requests) {
    const auto it = r.limits.find(name);
    if (it != r.limits.end() && q > it->second) {
      errs.push_back(invalid(requests, quote(q.to_string()),
                             "must be less than or equal to " + name + " limit of " +
                                 it->second.to_string()));
    }
  }
}

int handler_count(const std::optional<ExecAction>& exec, const std::optional<HttpGetAction>& http,
                  const std::optional<TcpSocketAction>& tcp, const boost::json::value& extra) {
  return exec.has_value() + http.has_value() + tcp.has_value() + !extra.is_null();
}

void validate_http_get(FieldErrors& errs, const HttpGetAction& a, const std::string& path) {
  check_port_num_or_name(errs, child(path, "port"), a.port);
  if (!one_of(a.scheme, {"HTTP", "HTTPS"})) {
    errs.push_back(not_supported(child(path, "scheme"), quote(a.scheme), {"HTTP", "HTTPS"}));
  }
}

void validate_handlers(FieldErrors& errs, const std::optional<ExecAction>& exec,
                       const std::optional<HttpGetAction>& http,
                       const std::optional<TcpSocketAction>& tcp, const boost::json::value& extra,
                       const std::string& path) {
  const int n = handler_count(exec, http, tcp, extra);
  if (n == 0) errs.push_back(required(path, "must specify a handler type"));
  if (n > 1) errs.push_back(forbidden(path, "may not specify more than 1 handler type"));
  if (exec && exec->command.empty()) errs.push_back(required(child(child(path, "exec"), "command")));
  if (http) validate_http_get(errs, *http, child(path, "httpGet"));
  if (tcp) check_port_num_or_name(errs, child(child(path, "tcpSocket"), "port"), tcp->port);
}

void validate_probe(FieldErrors& errs, const Probe& p, const std::string& path,
                    bool success_must_be_one) {
  validate_handlers(errs, p.exec, p.http_get, p.tcp_socket, p.grpc, path);
  check_nonnegative(errs, child(path, "initialDelaySeconds"), p.initial_delay_seconds);
  check_nonnegative(errs, child(path, "timeoutSeconds"), p.timeout_seconds);
  check_nonnegative(errs, child(path, "periodSeconds"), p.period_seconds);
  check_nonnegative(errs, child(path, "successThreshold"), p.success_threshold);
  check_nonnegative(errs, child(path, "failureThreshold"), p.failure_threshold);
  if (success_must_be_one && p.success_threshold != 1) {
    errs.push_back(invalid(child(path, "successThreshold"), std::to_string(p.success_threshold),
                           "must be 1"));
  }
  if (p.termination_grace_period_seconds && *p.termination_grace_period_seconds <= 0) {
    errs.push_back(invalid(child(path, "terminationGracePeriodSeconds"),
                           std::to_string(*p.termination_grace_period_seconds),
                           "must be greater than 0"));
  }
}

void validate_env(FieldErrors& errs, const Container& c, const std::string& path) {
  for (std::size_t j = 0; j < c.env.size(); ++j) {
    const EnvVar& e = c.env[j];
    const std::string p = index(child(path, "env"), j);
    if (e.name.empty()) {
      errs.push_back(required(child(p, "name")));
    } else {
      add_invalid(errs, child(p, "name"), e.name, is_env_var_name(e.name));
    }
    if (!e.value_from) continue;
    const EnvVarSource& s = *e.value_from;
    const std::string vp = child(p, "valueFrom");
    const int n = s.field_ref.has_value() + s.resource_field_ref.has_value() +
                  s.config_map_key_ref.has_value() + s.secret_key_ref.has_value() +
                  !s.file_key_ref.is_null();
    if (n == 0) {
      errs.push_back(invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
                                     "`configMapKeyRef` or `secretKeyRef`"));
    } else if (n > 1) {
      errs.push_back(invalid(vp, "", "may not have more than one field specified at a time"));
    }
    if (!e.value.empty()) {
      errs.push_back(invalid(vp, "", "may not be specified when `value` is not empty"));
    }
    if (s.field_ref && s.field_ref->field_path.empty()) {
      errs.push_back(required(child(child(vp, "fieldRef"), "fieldPath")));
    }
    if (s.resource_field_ref && s.resource_field_ref->resource.empty()) {
      errs.push_back(required(child(child(vp, "resourceFieldRef"), "resource")));
    }
    if (s.config_map_key_ref && s.config_map_key_ref->key.empty()) {
      errs.push_back(required(child(child(vp, "configMapKeyRef"), "key")));
    }
    if (s.secret_key_ref && s.secret_key_ref->key.empty()) {
      errs.push_back(required(child(child(vp, "secretKeyRef"), "key")));
    }
  }
  for (std::size_t j = 0; j < c.env_from.size(); ++j) {
    const EnvFromSource& f = c.env_from[j];
    const std::string p = index(child(path, "envFrom"), j);
    if (!f.prefix.empty()) add_invalid(errs, child(p, "prefix"), f.prefix, is_env_var_name(f.prefix));
    const int n = f.config_map_ref.has_value() + f.secret_ref.has_value();
    if (n == 0) {
      errs.push_back(invalid(p, "", "must specify one of: `configMapRef` or `secretRef`"));
    } else if (n > 1) {
      errs.push_back(invalid(p, "", "may not have more than one field specified at a time"));
    }
    if (f.config_map_ref && f.config_map_ref->name.empty()) {
      errs.push_back(required(child(child(p, "configMapRef"), "name")));
    }
    if (f.secret_ref && f.secret_ref->name.empty()) {
      errs.push_back(required(child(child(p, "secretRef"), "name")));
    }
  }
}

void validate_container(FieldErrors& errs, const Container& c, const std::string& path,
                        const std::set<std::string>& volumes, std::set<std::string>& names,
                        bool init) {
  const std::string name_path = child(path, "name");
  if (c.name.empty()) {
    errs.push_back(required(name_path));
  } else {
    add_invalid(errs, name_path, c.name, is_dns1123_label(c.name));
    if (!names.insert(c.name).second) errs.push_back(duplicate(name_path, quote(c.name)));
  }
  if (c.image.empty()) {
    errs.push_back(required(child(path, "image")));
  } else if (c.image.front() == ' ' || c.image.back() == ' ') {
    errs.push_back(invalid(child(path, "image"), quote(c.image),
                           "must not have leading or trailing whitespace"));
  }
  // Ports.
  std::set<std::string> port_names;
  for (std::size_t j = 0; j < c.ports.size(); ++j) {
    const ContainerPort& port = c.ports[j];
    const std::string p = index(child(path, "ports"), j);
    if (!port.name.empty()) {
      add_invalid(errs, child(p, "name"), port.name, is_valid_port_name(port.name));
      if (!port_names.insert(port.name).second) {
        errs.push_back(duplicate(child(p, "name"), quote(port.name)));
      }
    }
    if (port.container_port == 0) {
      errs.push_back(required(child(p, "containerPort")));
    } else {
      for (auto& msg : is_valid_port_num(port.container_port)) {
        errs.push_back(invalid(child(p, "containerPort"), std::to_string(port.container_port), msg));
      }
    }
    if (port.host_port != 0) {
      for (auto& msg : is_valid_port_num(port.host_port)) {
        errs.push_back(invalid(child(p, "hostPort"), std::to_string(port.host_port), msg));
      }
    }
    check_enum(errs, child(p, "protocol"), port.protocol, {"SCTP", "TCP", "UDP"});
    if (!port.host_ip.empty() && !is_ip(port.host_ip)) {
      errs.push_back(invalid(child(p, "hostIP"), quote(port.host_ip),
                             "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
    }
  }
  validate_env(errs, c, path);
  // Volume mounts.
  std::set<std::string> mount_paths;
  for (std::size_t j = 0; j < c.volume_mounts.size(); ++j) {
    const VolumeMount& m = c.volume_mounts[j];
    const std::string p = index(child(path, "volumeMounts"), j);
    if (m.name.empty()) {
      errs.push_back(required(child(p, "name")));
    } else if (!volumes.count(m.name)) {
      // Kubernetes reports field.NotFound here ("Not found: \"x\""); FieldError has no such type.
      errs.push_back(not_found_field(child(p, "name"), quote(m.name)));
    }
    if (m.mount_path.empty()) {
      errs.push_back(required(child(p, "mountPath")));
    } else if (!mount_paths.insert(m.mount_path).second) {
      errs.push_back(invalid(child(p, "mountPath"), quote(m.mount_path), "must be unique"));
    }
    if (!m.sub_path.empty()) {
      if (m.sub_path[0] == '/') {
        errs.push_back(invalid(child(p, "subPath"), quote(m.sub_path), "must be a relative path"));
      } else if (m.sub_path == ".." || m.sub_path.find("../") == 0 ||
                 m.sub_path.find("/../") != std::string::npos ||
                 (m.sub_path.size() >= 3 && m.sub_path.substr(m.sub_path.size() - 3) == "/..")) {
        errs.push_back(invalid(child(p, "subPath"), quote(m.sub_path), "must not contain '..'"));
      }
    }
  }
  // Probes and lifecycle.
  const bool sidecar = init && c.restart_policy && *c.restart_policy == "Always";
  const bool probes_allowed = !init || sidecar;
  const std::pair<const std::optional<Probe>*, const char*> probes[] = {
      {&c.liveness_probe, "livenessProbe"},
      {&c.readiness_probe, "readinessProbe"},
      {&c.startup_probe, "startupProbe"}};
  for (const auto& [probe, name] : probes) {
    if (!probe->has_value()) continue;
    if (!probes_allowed) {
      errs.push_back(forbidden(child(path, name),
                               "may not be set for init containers without restartPolicy=Always"));
      continue;
    }
    validate_probe(errs, **probe, child(path, name), std::string_view(name) != "readinessProbe");
  }
  if (c.lifecycle) {
    if (!probes_allowed) {
      errs.push_back(forbidden(child(path, "lifecycle"),
                               "may not be set for init containers without restartPolicy=Always"));
    } else {
      const std::string lp = child(path, "lifecycle");
      if (c.lifecycle->post_start) {
        const auto& h = *c.lifecycle->post_start;
        validate_handlers(errs, h.exec, h.http_get, h.tcp_socket, h.sleep, child(lp, "postStart"));
      }
      if (c.lifecycle->pre_stop) {
        const auto& h = *c.lifecycle->pre_stop;
        validate_handlers(errs, h.exec, h.http_get, h.tcp_socket, h.sleep, child(lp, "preStop"));
      }
    }
  }
  validate_resources(errs, c.resources, child(path, "resources"));
  check_enum(errs, child(path, "terminationMessagePolicy"), c.termination_message_policy,
             {"File", "FallbackToLogsOnError"});
  check_enum(errs, child(path, "imagePullPolicy"), c.image_pull_policy,
             {"Always", "IfNotPresent", "Never"});
  if (c.restart_policy) {
    if (!init) {
      errs.push_back(forbidden(child(path, "restartPolicy"), "may not be set for non-init containers"));
    } else if (*c.restart_policy != "Always") {
      errs.push_back(not_supported(child(path, "restartPolicy"), quote(*c.restart_policy), {"Always"}));
    }
  }
}

void validate_tolerations(FieldErrors& errs, const std::vector<Toleration>& tolerations,
                          const std::string& path) {
  for (std::size_t i = 0; i < tolerations.size(); ++i) {
    const Toleration& t = tolerations[i];
    const std::string p = index(path, i);
    if (!t.key.empty()) add_invalid(errs, child(p, "key"), t.key, is_qualified_name(t.key));
    if (t.key.empty() && t.operator_ != "Exists") {
      errs.push_back(invalid(child(p, "operator"), quote(t.operator_),
                             "operator must be Exists when `key` is empty, which means \"match "
                             "all values and all keys\""));
    }
    if (t.toleration_seconds && t.effect != "NoExecute") {
      errs.push_back(invalid(child(p, "effect"), quote(t.effect),
                             "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    }
    if (t.operator_.empty() || t.operator_ == "Equal") {
      add_invalid(errs, child(p, "value"), t.value, is_valid_label_value(t.value));
    } else if (t.operator_ == "Exists") {
      if (!t.value.empty()) {
        errs.push_back(invalid(child(p, "operator"), quote(t.value),
                               "value must be empty when `operator` is 'Exists'"));
      }
    } else {
      errs.push_back(not_supported(child(p, "operator"), quote(t.operator_), {"Equal", "Exists"}));
    }
    if (!t.effect.empty()) {
      check_enum(errs, child(p, "effect"), t.effect, {"NoExecute", "NoSchedule", "PreferNoSchedule"});
    }
  }
}

}  // namespace

FieldErrors validate_pod_spec(const PodSpec& spec, const std::string& path) {
  FieldErrors errs;
  const std::set<std::string> volumes = validate_volumes(errs, spec.volumes, child(path, "volumes"));
  std::set<std::string> names;
  const std::string containers = child(path, "containers");
  if (spec.containers.empty()) errs.push_back(required(containers));
  for (std::size_t i = 0; i < spec.containers.size(); ++i) {
    validate_container(errs, spec.containers[i], index(containers, i), volumes, names, false);
  }
  const std::string init = child(path, "initContainers");
  for (std::size_t i = 0; i < spec.init_containers.size(); ++i) {
    validate_container(errs, spec.init_containers[i], index(init, i), volumes, names, true);
  }
  check_enum(errs, child(path, "restartPolicy"), spec.restart_policy,
             {"Always", "OnFailure", "Never"});
  check_enum(errs, child(path, "dnsPolicy"), spec.dns_policy,
             {"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"});
  append(errs, validate_labels(spec.node_selector, child(path, "nodeSelector")));
  if (!spec.service_account_name.empty()) {
    add_invalid(errs, child(path, "serviceAccountName"), spec.service_account_name,
                is_dns1123_subdomain(spec.service_account_name));
  }
  if (!spec.node_name.empty()) {
    add_invalid(errs, child(path, "nodeName"), spec.node_name,
                is_dns1123_subdomain(spec.node_name));
  }
  if (spec.active_deadline_seconds) {
    const std::int64_t v = *spec.active_deadline_seconds;
    if (v < 1 || v > std::numeric_limits<std::int32_t>::max()) {
      errs.push_back(invalid(child(path, "activeDeadlineSeconds"), std::to_string(v),
                             "must be between 1 and 2147483647, inclusive"));
    }
  }
  if (!spec.hostname.empty()) {
    add_invalid(errs, child(path, "hostname"), spec.hostname, is_dns1123_label(spec.hostname));
  }
  if (!spec.subdomain.empty()) {
    add_invalid(errs, child(path, "subdomain"), spec.subdomain, is_dns1123_label(spec.subdomain));
  }
  if (!spec.scheduler_name.empty()) {
    add_invalid(errs, child(path, "schedulerName"), spec.scheduler_name,
                is_dns1123_subdomain(spec.scheduler_name));
  }
  if (!spec.priority_class_name.empty()) {
    add_invalid(errs, child(path, "priorityClassName"), spec.priority_class_name,
                is_dns1123_subdomain(spec.priority_class_name));
  }
  validate_tolerations(errs, spec.tolerations, child(path, "tolerations"));
  if (spec.affinity && spec.affinity->node_affinity) {
    const NodeAffinity& na = *spec.affinity->node_affinity;
    const std::string np = child(child(path, "affinity"), "nodeAffinity");
    if (na.required_during_scheduling_ignored_during_execution) {
      append(errs, validate_node_selector(
                       *na.required_during_scheduling_ignored_during_execution,
                       child(np, "requiredDuringSchedulingIgnoredDuringExecution")));
    }
    const std::string pp = child(np, "preferredDuringSchedulingIgnoredDuringExecution");
    for (std::size_t i = 0; i < na.preferred_during_scheduling_ignored_during_execution.size();
         ++i) {
      const auto& term = na.preferred_during_scheduling_ignored_during_execution[i];
      if (term.weight < 1 || term.weight > 100) {
        errs.push_back(invalid(child(index(pp, i), "weight"), std::to_string(term.weight),
                               "must be in the range 1-100"));
      }
      FieldErrors term_errs;
      NodeSelector wrapper{{term.preference}};
      // Validate the single term with the preference path.
      for (auto& e : validate_node_selector(wrapper, "")) {
        const std::string prefix = "nodeSelectorTerms[0]";
        e.field = child(index(pp, i), "preference") + e.field.substr(prefix.size());
        errs.push_back(std::move(e));
      }
    }
  }
  const std::string tp = child(path, "topologySpreadConstraints");
  for (std::size_t i = 0; i < spec.topology_spread_constraints.size(); ++i) {
    const auto& c = spec.topology_spread_constraints[i];
    const std::string p = index(tp, i);
    if (c.max_skew <= 0) {
      errs.push_back(invalid(child(p, "maxSkew"), std::to_string(c.max_skew),
                             "must be greater than zero"));
    }
    if (c.topology_key.empty()) {
      errs.push_back(required(child(p, "topologyKey"), "can not be empty"));
    } else {
      add_invalid(errs, child(p, "topologyKey"), c.topology_key, is_qualified_name(c.topology_key));
    }
    check_enum(errs, child(p, "whenUnsatisfiable"), c.when_unsatisfiable,
               {"DoNotSchedule", "ScheduleAnyway"});
    if (c.label_selector) {
      append(errs, validate_label_selector(*c.label_selector, child(p, "labelSelector")));
    }
  }
  return errs;
}

// ============================================================================ kinds

FieldErrors validate(const Pod& pod) {
  FieldErrors errs =
      validate_object_meta(pod.metadata, true, NameRule::kDns1123Subdomain, "metadata");
  append(errs, validate_pod_spec(pod.spec, "spec"));
  return errs;
}

FieldErrors validate_update(const Pod& updated, const Pod& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  append(errs, validate(updated));
  const PodSpec& n = updated.spec;
  const PodSpec& o = old.spec;
  if (n.containers.size() != o.containers.size()) {
    errs.push_back(forbidden("spec.containers", "pod updates may not add or remove containers"));
    return errs;
  }
  if (n.init_containers.size() != o.init_containers.size()) {
    errs.push_back(
        forbidden("spec.initContainers", "pod updates may not add or remove containers"));
    return errs;
  }
  if (n.active_deadline_seconds) {
    const std::int64_t v = *n.active_deadline_seconds;
    if (o.active_deadline_seconds && *o.active_deadline_seconds < v) {
      errs.push_back(invalid("spec.activeDeadlineSeconds", std::to_string(v),
                             "must be less than or equal to previous value"));
      return errs;
    }
  } else if (o.active_deadline_seconds) {
    errs.push_back(invalid("spec.activeDeadlineSeconds", "null",
                           "must not update from a positive integer to nil value"));
  }
  // Tolerations: every old toleration must still be there (tolerationSeconds may change).
  for (std::size_t i = 0; i < o.tolerations.size(); ++i) {
    const Toleration& ot = o.tolerations[i];
    const bool kept = std::any_of(n.tolerations.begin(), n.tolerations.end(), [&](const auto& t) {
      return t.key == ot.key && t.operator_ == ot.operator_ && t.value == ot.value &&
             t.effect == ot.effect;
    });
    if (!kept) {
      errs.push_back(forbidden(index("spec.tolerations", i),
                               "existing toleration can not be modified except its "
                               "tolerationSeconds"));
    }
  }
  // Everything else must be unchanged: copy the updatable fields from old and compare.
  PodSpec munged = n;
  for (std::size_t i = 0; i < munged.containers.size(); ++i) {
    munged.containers[i].image = o.containers[i].image;
  }
  for (std::size_t i = 0; i < munged.init_containers.size(); ++i) {
    munged.init_containers[i].image = o.init_containers[i].image;
  }
  munged.active_deadline_seconds = o.active_deadline_seconds;
  munged.tolerations = o.tolerations;
  munged.scheduling_gates = o.scheduling_gates;
  if (o.termination_grace_period_seconds && *o.termination_grace_period_seconds < 0 &&
      munged.termination_grace_period_seconds && *munged.termination_grace_period_seconds == 1) {
    munged.termination_grace_period_seconds = o.termination_grace_period_seconds;
  }
  if (!(munged == o)) {
    errs.push_back(forbidden(
        "spec",
        "pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
        "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
        "set to 1 if it was previously negative)"));
  }
  return errs;
}

FieldErrors validate(const Namespace& ns) {
  FieldErrors errs = validate_object_meta(ns.metadata, false, NameRule::kDns1123Label, "metadata");
  for (std::size_t i = 0; i < ns.spec.finalizers.size(); ++i) {
    const std::string& f = ns.spec.finalizers[i];
    const std::string p = index("spec.finalizers", i);
    add_invalid(errs, p, f, is_qualified_name(f));
    if (f.find('/') == std::string::npos && !one_of(f, {"kubernetes", "orphan", "foregroundDeletion"})) {
      errs.push_back(invalid(p, quote(f),
                             "name is neither a standard finalizer name nor is it fully qualified"));
    }
  }
  return errs;
}

FieldErrors validate_update(const Namespace& updated, const Namespace& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  append(errs, validate(updated));
  return errs;
}

FieldErrors validate(const Node& node) {
  FieldErrors errs =
      validate_object_meta(node.metadata, false, NameRule::kDns1123Subdomain, "metadata");
  const auto& spec = node.spec;
  if (!spec.pod_cidr.empty() && !is_cidr(spec.pod_cidr)) {
    errs.push_back(invalid("spec.podCIDR", quote(spec.pod_cidr),
                           "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"));
  }
  for (std::size_t i = 0; i < spec.pod_cidrs.size(); ++i) {
    if (!is_cidr(spec.pod_cidrs[i])) {
      errs.push_back(invalid(index("spec.podCIDRs", i), quote(spec.pod_cidrs[i]),
                             "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"));
    }
  }
  std::set<std::pair<std::string, std::string>> seen;
  for (std::size_t i = 0; i < spec.taints.size(); ++i) {
    const Taint& t = spec.taints[i];
    const std::string p = index("spec.taints", i);
    if (t.key.empty()) {
      errs.push_back(required(child(p, "key")));
    } else {
      add_invalid(errs, child(p, "key"), t.key, is_qualified_name(t.key));
    }
    add_invalid(errs, child(p, "value"), t.value, is_valid_label_value(t.value));
    check_enum(errs, child(p, "effect"), t.effect, {"NoExecute", "NoSchedule", "PreferNoSchedule"});
    if (!seen.emplace(t.key, t.effect).second) {
      errs.push_back(duplicate(p, quote(t.key + ":" + t.effect)));
    }
  }
  return errs;
}

FieldErrors validate_update(const Node& updated, const Node& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  append(errs, validate(updated));
  if (!old.spec.pod_cidrs.empty() && updated.spec.pod_cidrs != old.spec.pod_cidrs) {
    errs.push_back(forbidden("spec.podCIDRs",
                             "node updates may not change podCIDR except from \"\" to valid"));
  } else if (!old.spec.pod_cidr.empty() && updated.spec.pod_cidr != old.spec.pod_cidr) {
    errs.push_back(forbidden("spec.podCIDR",
                             "node updates may not change podCIDR except from \"\" to valid"));
  }
  if (!old.spec.provider_id.empty() && updated.spec.provider_id != old.spec.provider_id) {
    errs.push_back(forbidden("spec.providerID",
                             "node updates may not change providerID except from \"\" to valid"));
  }
  return errs;
}

FieldErrors validate(const Service& svc) {
  FieldErrors errs =
      validate_object_meta(svc.metadata, true, NameRule::kDns1035Label, "metadata");
  const ServiceSpec& spec = svc.spec;
  const bool headless = spec.cluster_ip == "None";
  const bool external_name = spec.type == "ExternalName";
  if (spec.ports.empty() && !headless && !external_name) errs.push_back(required("spec.ports"));
  if (external_name) {
    if (spec.external_name.empty()) {
      errs.push_back(required("spec.externalName"));
    } else {
      add_invalid(errs, "spec.externalName", spec.external_name,
                  is_dns1123_subdomain(spec.external_name));
    }
  }
  std::set<std::string> names;
  std::set<std::pair<std::int32_t, std::string>> port_protocols;  // Kubernetes: one port/protocol once
  const bool require_name = spec.ports.size() > 1;
  const bool node_ports_allowed = spec.type == "NodePort" || spec.type == "LoadBalancer";
  for (std::size_t i = 0; i < spec.ports.size(); ++i) {
    const ServicePort& port = spec.ports[i];
    const std::string p = index("spec.ports", i);
    if (port.name.empty()) {
      if (require_name) errs.push_back(required(child(p, "name")));
    } else {
      add_invalid(errs, child(p, "name"), port.name, is_dns1123_label(port.name));
      if (!names.insert(port.name).second) {
        errs.push_back(duplicate(child(p, "name"), quote(port.name)));
      }
    }
    for (auto& msg : is_valid_port_num(port.port)) {
      errs.push_back(invalid(child(p, "port"), std::to_string(port.port), msg));
    }
    check_enum(errs, child(p, "protocol"), port.protocol, {"SCTP", "TCP", "UDP"});
    if (!port_protocols.emplace(port.port, port.protocol).second) {
      errs.push_back(duplicate(p, quote(std::to_string(port.port) + "/" + port.protocol)));
    }
    check_port_num_or_name(errs, child(p, "targetPort"), port.target_port);
    if (port.node_port != 0) {
      if (!node_ports_allowed) {
        errs.push_back(forbidden(child(p, "nodePort"), "may not be used when `type` is '" +
                                                           spec.type + "'"));
      } else {
        for (auto& msg : is_valid_port_num(port.node_port)) {
          errs.push_back(invalid(child(p, "nodePort"), std::to_string(port.node_port), msg));
        }
      }
    }
  }
  check_enum(errs, "spec.type", spec.type, {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"});
  check_enum(errs, "spec.sessionAffinity", spec.session_affinity, {"ClientIP", "None"});
  static constexpr std::string_view kIpMessage =
      "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
  if (!spec.cluster_ip.empty() && !headless && !is_ip(spec.cluster_ip)) {
    errs.push_back(invalid("spec.clusterIPs[0]", quote(spec.cluster_ip), std::string(kIpMessage)));
  }
  for (std::size_t i = 0; i < spec.cluster_ips.size(); ++i) {
    const std::string& ip = spec.cluster_ips[i];
    if (ip != "None" && !is_ip(ip) && !(i == 0 && ip == spec.cluster_ip)) {
      errs.push_back(invalid(index("spec.clusterIPs", i), quote(ip), std::string(kIpMessage)));
    }
  }
  if (!spec.cluster_ips.empty() && !spec.cluster_ip.empty() && spec.cluster_ips[0] != spec.cluster_ip) {
    errs.push_back(invalid("spec.clusterIPs[0]", quote(spec.cluster_ips[0]),
                           "must be same as clusterIP"));
  }
  for (std::size_t i = 0; i < spec.external_ips.size(); ++i) {
    if (!is_ip(spec.external_ips[i])) {
      errs.push_back(invalid(index("spec.externalIPs", i), quote(spec.external_ips[i]),
                             std::string(kIpMessage)));
    }
  }
  append(errs, validate_labels(spec.selector, "spec.selector"));
  if (!spec.external_traffic_policy.empty()) {
    if (!node_ports_allowed) {
      errs.push_back(invalid("spec.externalTrafficPolicy", quote(spec.external_traffic_policy),
                             "may only be set when `type` is 'NodePort' or 'LoadBalancer'"));
    } else {
      check_enum(errs, "spec.externalTrafficPolicy", spec.external_traffic_policy,
                 {"Cluster", "Local"});
    }
  } else if (node_ports_allowed) {
    errs.push_back(required("spec.externalTrafficPolicy"));
  }
  if (!external_name) {
    if (!spec.internal_traffic_policy) {
      errs.push_back(required("spec.internalTrafficPolicy"));
    } else {
      check_enum(errs, "spec.internalTrafficPolicy", *spec.internal_traffic_policy,
                 {"Cluster", "Local"});
    }
  }
  if (spec.ip_family_policy) {
    check_enum(errs, "spec.ipFamilyPolicy", *spec.ip_family_policy,
               {"PreferDualStack", "RequireDualStack", "SingleStack"});
  }
  for (std::size_t i = 0; i < spec.ip_families.size(); ++i) {
    check_enum(errs, index("spec.ipFamilies", i), spec.ip_families[i], {"IPv4", "IPv6"});
  }
  if (!spec.load_balancer_source_ranges.empty() && spec.type != "LoadBalancer") {
    errs.push_back(forbidden("spec.loadBalancerSourceRanges",
                             "may only be used when `type` is 'LoadBalancer'"));
  }
  return errs;
}

FieldErrors validate_update(const Service& updated, const Service& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  if (updated.spec.type != "ExternalName" && old.spec.type != "ExternalName" &&
      !old.spec.cluster_ip.empty()) {
    check_immutable(errs, "spec.clusterIP", updated.spec.cluster_ip, old.spec.cluster_ip);
  }
  append(errs, validate(updated));
  return errs;
}

FieldErrors validate(const Endpoints& ep) {
  FieldErrors errs =
      validate_object_meta(ep.metadata, true, NameRule::kDns1123Subdomain, "metadata");
  for (std::size_t i = 0; i < ep.subsets.size(); ++i) {
    const EndpointSubset& s = ep.subsets[i];
    const std::string p = index("subsets", i);
    if (s.addresses.empty() && s.not_ready_addresses.empty()) {
      errs.push_back(required(p, "must specify `addresses` or `notReadyAddresses`"));
    }
    auto check_addresses = [&](const std::vector<EndpointAddress>& list, const std::string& lp) {
      for (std::size_t j = 0; j < list.size(); ++j) {
        const EndpointAddress& a = list[j];
        const std::string ap = index(lp, j);
        if (!is_ip(a.ip)) {
          errs.push_back(invalid(child(ap, "ip"), quote(a.ip),
                                 "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
        }
        if (!a.hostname.empty()) {
          add_invalid(errs, child(ap, "hostname"), a.hostname, is_dns1123_label(a.hostname));
        }
        if (a.node_name && !a.node_name->empty()) {
          add_invalid(errs, child(ap, "nodeName"), *a.node_name, is_dns1123_subdomain(*a.node_name));
        }
      }
    };
    check_addresses(s.addresses, child(p, "addresses"));
    check_addresses(s.not_ready_addresses, child(p, "notReadyAddresses"));
    const bool require_name = s.ports.size() > 1;
    for (std::size_t j = 0; j < s.ports.size(); ++j) {
      const EndpointPort& port = s.ports[j];
      const std::string pp = index(child(p, "ports"), j);
      if (port.name.empty()) {
        if (require_name) errs.push_back(required(child(pp, "name")));
      } else {
        add_invalid(errs, child(pp, "name"), port.name, is_dns1123_label(port.name));
      }
      for (auto& msg : is_valid_port_num(port.port)) {
        errs.push_back(invalid(child(pp, "port"), std::to_string(port.port), msg));
      }
      check_enum(errs, child(pp, "protocol"), port.protocol, {"SCTP", "TCP", "UDP"});
    }
  }
  return errs;
}

FieldErrors validate_update(const Endpoints& updated, const Endpoints& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  append(errs, validate(updated));
  return errs;
}

FieldErrors validate(const Event& event) {
  FieldErrors errs =
      validate_object_meta(event.metadata, true, NameRule::kDns1123Subdomain, "metadata");
  const std::string& ns = event.involved_object.namespace_;
  if (!ns.empty() && ns != event.metadata.namespace_) {
    errs.push_back(invalid("involvedObject.namespace", quote(ns), "does not match event.namespace"));
  }
  if (!event.type.empty()) check_enum(errs, "type", event.type, {"Normal", "Warning"});
  return errs;
}

FieldErrors validate_update(const Event& updated, const Event& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  append(errs, validate(updated));
  return errs;
}

namespace {

constexpr std::size_t kMaxDataSize = 1024 * 1024;  // 1 MiB, ConfigMap and Secret

constexpr std::string_view kImmutableMessage = "field is immutable when `immutable` is set";

}  // namespace

FieldErrors validate(const ConfigMap& cm) {
  FieldErrors errs =
      validate_object_meta(cm.metadata, true, NameRule::kDns1123Subdomain, "metadata");
  std::size_t total = 0;
  for (const auto& [k, v] : cm.data) {
    add_invalid(errs, key("data", k), k, is_config_map_key(k));
    total += v.size();
  }
  for (const auto& [k, v] : cm.binary_data) {
    add_invalid(errs, key("binaryData", k), k, is_config_map_key(k));
    if (cm.data.count(k)) {
      errs.push_back(invalid(key("binaryData", k), quote(k), "duplicate of key present in data"));
    }
    total += v.size();
  }
  if (total > kMaxDataSize) errs.push_back(too_long("data", "", kMaxDataSize));
  return errs;
}

FieldErrors validate_update(const ConfigMap& updated, const ConfigMap& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  if (old.immutable.value_or(false)) {
    if (!updated.immutable.value_or(false)) {
      errs.push_back(forbidden("immutable", std::string(kImmutableMessage)));
    }
    if (updated.data != old.data) errs.push_back(forbidden("data", std::string(kImmutableMessage)));
    if (updated.binary_data != old.binary_data) {
      errs.push_back(forbidden("binaryData", std::string(kImmutableMessage)));
    }
  }
  append(errs, validate(updated));
  return errs;
}

FieldErrors validate(const Secret& secret) {
  FieldErrors errs =
      validate_object_meta(secret.metadata, true, NameRule::kDns1123Subdomain, "metadata");
  std::size_t total = 0;
  for (const auto& [k, v] : secret.data) {
    add_invalid(errs, key("data", k), k, is_config_map_key(k));
    total += v.size();
  }
  if (total > kMaxDataSize) errs.push_back(too_long("data", "", kMaxDataSize));
  auto require_key = [&](std::string_view k) {
    if (!secret.data.count(std::string(k))) errs.push_back(required(key("data", k)));
  };
  const std::string& type = secret.type;
  if (type == "kubernetes.io/service-account-token") {
    if (!secret.metadata.annotations.count("kubernetes.io/service-account.name")) {
      errs.push_back(
          required("metadata.annotations[kubernetes.io/service-account.name]"));
    }
  } else if (type == "kubernetes.io/dockercfg") {
    require_key(".dockercfg");
  } else if (type == "kubernetes.io/dockerconfigjson") {
    require_key(".dockerconfigjson");
  } else if (type == "kubernetes.io/basic-auth") {
    if (!secret.data.count("username") && !secret.data.count("password")) {
      require_key("username");
      require_key("password");
    }
  } else if (type == "kubernetes.io/ssh-auth") {
    require_key("ssh-privatekey");
  } else if (type == "kubernetes.io/tls") {
    require_key("tls.crt");
    require_key("tls.key");
  }
  return errs;
}

FieldErrors validate_update(const Secret& updated, const Secret& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  check_immutable(errs, "type", updated.type, old.type);
  if (old.immutable.value_or(false)) {
    if (!updated.immutable.value_or(false)) {
      errs.push_back(forbidden("immutable", std::string(kImmutableMessage)));
    }
    if (updated.data != old.data) errs.push_back(forbidden("data", std::string(kImmutableMessage)));
  }
  append(errs, validate(updated));
  return errs;
}

FieldErrors validate(const PersistentVolume& pv) {
  FieldErrors errs =
      validate_object_meta(pv.metadata, false, NameRule::kDns1123Subdomain, "metadata");
  const PersistentVolumeSpec& spec = pv.spec;
  if (spec.access_modes.empty()) errs.push_back(required("spec.accessModes"));
  for (const auto& m : spec.access_modes) {
    if (!one_of(m, {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"})) {
      errs.push_back(not_supported("spec.accessModes", quote(m),
                                   {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce",
                                    "ReadWriteOncePod"}));
    }
  }
  if (spec.capacity.empty()) {
    errs.push_back(required("spec.capacity"));
  } else {
    for (const auto& [name, q] : spec.capacity) {
      if (name != "storage") {
        errs.push_back(not_supported("spec.capacity", quote(name), {"storage"}));
      } else if (q.sign() < 0) {
        errs.push_back(invalid("spec.capacity[storage]", quote(q.to_string()),
                               "must be greater than or equal to 0"));
      }
    }
  }
  if (!spec.persistent_volume_reclaim_policy.empty()) {
    check_enum(errs, "spec.persistentVolumeReclaimPolicy", spec.persistent_volume_reclaim_policy,
               {"Delete", "Recycle", "Retain"});
  }
  const int sources = spec.source_count();
  if (sources == 0) errs.push_back(required("spec", "must specify a volume type"));
  if (sources > 1) errs.push_back(forbidden("spec", "may not specify more than 1 volume type"));
  if (spec.host_path && spec.host_path->path.empty()) {
    errs.push_back(required("spec.hostPath.path"));
  }
  if (spec.local) {
    if (spec.local->path.empty()) errs.push_back(required("spec.local.path"));
    if (!spec.node_affinity || !spec.node_affinity->required) {
      errs.push_back(required("spec.nodeAffinity", "Local volume requires node affinity"));
    }
  }
  if (spec.node_affinity && spec.node_affinity->required) {
    append(errs, validate_node_selector(*spec.node_affinity->required, "spec.nodeAffinity.required"));
  }
  if (spec.volume_mode) {
    check_enum(errs, "spec.volumeMode", *spec.volume_mode, {"Block", "Filesystem"});
  }
  if (!spec.storage_class_name.empty()) {
    add_invalid(errs, "spec.storageClassName", spec.storage_class_name,
                is_dns1123_subdomain(spec.storage_class_name));
  }
  return errs;
}

FieldErrors validate_update(const PersistentVolume& updated, const PersistentVolume& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  append(errs, validate(updated));
  const auto& n = updated.spec;
  const auto& o = old.spec;
  if (n.volume_mode != o.volume_mode) {
    errs.push_back(invalid("spec.volumeMode", quote(n.volume_mode.value_or("")),
                           "field is immutable"));
  }
  // The volume source: compare everything but the non-source fields.
  PersistentVolumeSpec a = n, b = o;
  for (auto* s : {&a, &b}) {
    s->capacity.clear();
    s->access_modes.clear();
    s->claim_ref.reset();
    s->persistent_volume_reclaim_policy.clear();
    s->storage_class_name.clear();
    s->mount_options.clear();
    s->volume_mode.reset();
    s->node_affinity.reset();
    s->volume_attributes_class_name.reset();
  }
  if (!(a == b)) {
    errs.push_back(forbidden("spec.persistentvolumesource",
                             "spec.persistentvolumesource is immutable after creation"));
  }
  if (o.node_affinity && n.node_affinity != o.node_affinity) {
    errs.push_back(forbidden("spec.nodeAffinity", "field is immutable"));
  }
  return errs;
}

FieldErrors validate(const PersistentVolumeClaim& pvc) {
  FieldErrors errs =
      validate_object_meta(pvc.metadata, true, NameRule::kDns1123Subdomain, "metadata");
  append(errs, validate_pvc_spec(pvc.spec, "spec"));
  return errs;
}

FieldErrors validate_update(const PersistentVolumeClaim& updated,
                            const PersistentVolumeClaim& old) {
  FieldErrors errs = validate_object_meta_update(updated.metadata, old.metadata, "metadata");
  append(errs, validate(updated));
  PersistentVolumeClaimSpec n = updated.spec;
  PersistentVolumeClaimSpec o = old.spec;
  // volumeName may be set once (by the binder).
  if (o.volume_name.empty()) o.volume_name = n.volume_name;
  // An unset storageClassName may be set once (retroactive default class assignment).
  if (!o.storage_class_name) o.storage_class_name = n.storage_class_name;
  // Bound claims may change their requests (expansion).
  const bool bound = updated.status.phase == "Bound";
  if (bound) {
    n.resources.requests = o.resources.requests;
    n.volume_attributes_class_name = o.volume_attributes_class_name;
  }
  if (!(n == o)) {
    errs.push_back(forbidden("spec",
                             "spec is immutable after creation except resources.requests and "
                             "volumeAttributesClassName for bound claims"));
  }
  if (bound) {
    const auto nn = updated.spec.resources.requests.find("storage");
    const auto on = old.spec.resources.requests.find("storage");
    if (nn != updated.spec.resources.requests.end() && on != old.spec.resources.requests.end() &&
        nn->second < on->second) {
      errs.push_back(forbidden("spec.resources.requests.storage",
                               "field can not be less than previous value"));
    }
  }
  return errs;
}

}  // namespace orch::api
