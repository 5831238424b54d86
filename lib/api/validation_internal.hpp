// Private helpers shared by the validation files: field paths, common value checks and the
// pieces apps/ kinds reuse from core (templates, PVC specs, node selectors).
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "orch/api/field_error.hpp"
#include "orch/api/names.hpp"
#include "orch/api/types.hpp"
#include "orch/api/validation.hpp"

namespace orch::api::detail {

// "a.b", "a[3]", "a[key]".
inline std::string child(const std::string& path, std::string_view name) {
  std::string out = path;
  if (!out.empty()) out += '.';
  out += name;
  return out;
}
inline std::string index(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}
inline std::string key(const std::string& path, std::string_view k) {
  return path + "[" + std::string(k) + "]";
}

inline void append(FieldErrors& out, FieldErrors more) {
  for (auto& e : more) out.push_back(std::move(e));
}

inline bool one_of(std::string_view v, std::initializer_list<std::string_view> values) {
  for (std::string_view x : values) {
    if (v == x) return true;
  }
  return false;
}

// Required when empty, Unsupported when not one of `supported`.
void check_enum(FieldErrors& errs, const std::string& path, std::string_view value,
                const std::vector<std::string_view>& supported, bool required_when_empty = true);

// "must be greater than or equal to 0" when negative.
void check_nonnegative(FieldErrors& errs, const std::string& path, std::int64_t value);

// "field is immutable" (Invalid, the new value quoted) when the values differ.
void check_immutable(FieldErrors& errs, const std::string& path, std::string_view updated,
                     std::string_view old);

// Invalid per message of `msgs` with `value` rendered as a quoted string.
void add_invalid(FieldErrors& errs, const std::string& path, std::string_view value,
                 const std::vector<std::string>& msgs);

bool is_ip(std::string_view s);
bool is_ipv4(std::string_view s);
bool is_ipv6(std::string_view s);
bool is_cidr(std::string_view s);

// Kubernetes' IsConfigMapKey (Secret and ConfigMap data keys).
std::vector<std::string> is_config_map_key(std::string_view key);

// A port given as a number or a name (probes, Service targetPort).
void check_port_num_or_name(FieldErrors& errs, const std::string& path, const IntOrString& port);

// core/v1 NodeSelector (affinity and PV node affinity) at `path`.
FieldErrors validate_node_selector(const NodeSelector& selector, const std::string& path);

// A pod template at `path` ("spec.template"): metadata labels/annotations and the pod spec.
FieldErrors validate_pod_template(const PodTemplateSpec& tmpl, const std::string& path);

// PersistentVolumeClaimSpec at `path` ("spec", "spec.volumeClaimTemplates[0].spec").
FieldErrors validate_pvc_spec(const PersistentVolumeClaimSpec& spec, const std::string& path);

}  // namespace orch::api::detail
