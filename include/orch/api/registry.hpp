// The resource registry: every kind liborch serves, with what discovery needs to know about it
// (group, version, plural resource name, short names, scope, subresources, verbs), and
// type-erased operations on boost::json::value objects, so the API server, the store and the
// CLI handle every kind generically while the typed structs (types.hpp), defaults
// (defaults.hpp) and validation (validation.hpp) do the work underneath.
//
// Storage keys (one scheme for every kind; the store layer treats keys as opaque strings):
//   namespaced:      /registry/<group>/<resource>/<namespace>/<name>
//   cluster-scoped:  /registry/<group>/<resource>/<name>
// where <group> is "core" for the core (legacy, "") group, so every key has the same shape:
//   /registry/core/pods/default/kuard
//   /registry/apps/deployments/default/kuard
//   /registry/core/nodes/node-1
//   /registry/coordination.k8s.io/leases/kube-node-lease/node-1
// A list of one namespace is the prefix "/registry/core/pods/default/"; of all namespaces
// "/registry/core/pods/". Names and namespaces cannot contain '/', so prefixes never overlap.
//
// Thread-safety: the registry is immutable after static initialization; every function may be
// called from any thread.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "orch/api/codec.hpp"
#include "orch/status.hpp"

namespace orch::api {

namespace detail {
struct ResourceOps;
}

// What a server tells clients about one resource (discovery's APIResource) and how to store it.
struct ResourceInfo {
  std::string_view group;     // "" for core, "apps", "coordination.k8s.io"
  std::string_view version;   // "v1"
  std::string_view kind;      // "Deployment"
  std::string_view resource;  // plural, the URL segment: "deployments"
  std::string_view singular;  // "deployment"
  std::vector<std::string_view> short_names;  // {"deploy"}
  bool namespaced = true;
  std::string_view list_kind;  // "DeploymentList"
  bool has_status = false;     // a /status subresource
  bool has_scale = false;      // a /scale subresource (autoscaling/v1 Scale)
  std::vector<std::string_view> verbs;       // discovery verbs, sorted
  std::vector<std::string_view> categories;  // {"all"} for what `kubectl get all` lists
  const detail::ResourceOps* ops = nullptr;  // type-erased operations; use the functions below

  // "v1" or "apps/v1".
  std::string api_version() const;
  // "Pod" or "Deployment.apps": the kind as Invalid Status messages name it.
  std::string qualified_kind() const;
  // "pods" or "deployments.apps": the resource as NotFound/Conflict messages name it.
  std::string qualified_resource() const;
};

// Every resource, core first, then by group; stable order (discovery lists them this way).
const std::vector<ResourceInfo>& all_resources();

// The resource with this group ("" for core), version and plural name; nullptr when unknown.
const ResourceInfo* find_resource(std::string_view group, std::string_view version,
                                  std::string_view resource);
// The resource of `kind` in `api_version` ("v1", "apps/v1"); nullptr when unknown.
const ResourceInfo* find_kind(std::string_view api_version, std::string_view kind);
// What a CLI user may type: plural, singular, short name or kind, case-insensitive, optionally
// qualified by group ("deploy", "Deployment", "deployments.apps", "po"). An unqualified name
// that several groups define resolves to the first in all_resources() order (core first, as
// kubectl prefers). nullptr when unknown.
const ResourceInfo* find_resource_by_name(std::string_view name);

// Storage keys (see the file comment). `ns` is ignored for cluster-scoped resources.
std::string storage_key(const ResourceInfo& info, std::string_view ns, std::string_view name);
// The prefix of every key of `info` in `ns`, or in all namespaces when `ns` is empty; ends in '/'.
std::string storage_prefix(const ResourceInfo& info, std::string_view ns = {});

struct NormalizeOptions {
  // Reject unknown fields (fieldValidation=Strict) instead of returning them as warnings.
  // Default: false.
  bool strict = false;
  // Apply set_defaults() after decoding. Default: true.
  bool apply_defaults = true;
};

// An object as Kubernetes would store it, and what the client should be warned about.
struct Normalized {
  boost::json::value object;          // re-encoded: known fields only, defaults applied
  std::vector<std::string> warnings;  // `unknown field "spec.foo"`, one per dropped field
};

// Decodes `body` as `info`'s kind, applies defaults, and re-encodes it: unknown fields are
// dropped (and reported as warnings, or rejected with strict), apiVersion/kind are filled in
// when absent. BadRequest when `body` is not an object, names another apiVersion or kind
//   the API version in the data (apps/v1) does not match the expected API version (v1)
// or cannot be decoded:
//   Deployment in version "v1" cannot be handled as a Deployment: spec.replicas: expected
//   integer, got string
//   Deployment in version "v1" cannot be handled as a Deployment: strict decoding error:
//   unknown field "spec.foo"
Result<Normalized> normalize(const ResourceInfo& info, const boost::json::value& body,
                             const NormalizeOptions& options = {});

// Validates `object` (normally normalize()'s output) for create. InvalidArgument, with one cause
// per field, from invalid_status(info.qualified_kind(), name, errors):
//   Deployment.apps "x" is invalid: spec.selector: Required value
// BadRequest when `object` cannot be decoded as the kind.
Status validate_create(const ResourceInfo& info, const boost::json::value& object);

// Validates an update of `old_object` to `new_object` (immutable fields, then as for create).
// Codes as validate_create.
Status validate_update(const ResourceInfo& info, const boost::json::value& new_object,
                       const boost::json::value& old_object);

namespace detail {
// The per-kind operations behind a ResourceInfo (one static instance per kind).
struct ResourceOps {
  Result<Normalized> (*normalize)(const ResourceInfo&, const boost::json::value&,
                                  const NormalizeOptions&);
  Status (*validate_create)(const ResourceInfo&, const boost::json::value&);
  Status (*validate_update)(const ResourceInfo&, const boost::json::value&,
                            const boost::json::value&);
};
}  // namespace detail

}  // namespace orch::api
