// Resource: which REST collection a request addresses, and the paths built from it.
//
//   core group ("")  /api/v1/pods                               (all namespaces)
//                    /api/v1/namespaces/default/pods/kuard/status
//   named group      /apis/apps/v1/namespaces/default/deployments/kuard/scale
//   cluster-scoped   /api/v1/nodes/node-1          (a namespace argument is ignored)
//
// Plus the well-known resources of ARCHITECTURE.md, and accessors for the metadata every object
// carries (name, namespace, resourceVersion, uid) and the cache key "namespace/name".
//
// Thread-safety: values and pure functions.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

namespace orch::client {

struct Resource {
  std::string group{};    // "" for the core group, "apps", "coordination.k8s.io"
  std::string version{};  // "v1"
  std::string plural{};   // "pods", "deployments"
  bool namespaced = true;

  bool operator==(const Resource&) const = default;
  // "pods" or "deployments.apps", as Kubernetes names a resource in messages.
  std::string qualified_name() const;
};

// The path of a collection, an object, or an object's subresource.
// - `ns` empty on a namespaced resource addresses every namespace (collections only).
// - `name` empty addresses the collection; `subresource` needs a name.
// `ns` is ignored for cluster-scoped resources. No percent-encoding (the transport does it).
std::string resource_path(const Resource& resource, std::string_view ns,
                          std::string_view name = {}, std::string_view subresource = {});

// Well-known resources.
namespace resources {
inline const Resource kNamespaces{"", "v1", "namespaces", false};
inline const Resource kNodes{"", "v1", "nodes", false};
inline const Resource kPods{"", "v1", "pods", true};
inline const Resource kServices{"", "v1", "services", true};
inline const Resource kEndpoints{"", "v1", "endpoints", true};
inline const Resource kEvents{"", "v1", "events", true};
inline const Resource kConfigMaps{"", "v1", "configmaps", true};
inline const Resource kSecrets{"", "v1", "secrets", true};
inline const Resource kPersistentVolumes{"", "v1", "persistentvolumes", false};
inline const Resource kPersistentVolumeClaims{"", "v1", "persistentvolumeclaims", true};
inline const Resource kDeployments{"apps", "v1", "deployments", true};
inline const Resource kReplicaSets{"apps", "v1", "replicasets", true};
inline const Resource kStatefulSets{"apps", "v1", "statefulsets", true};
inline const Resource kDaemonSets{"apps", "v1", "daemonsets", true};
inline const Resource kLeases{"coordination.k8s.io", "v1", "leases", true};
}  // namespace resources

// metadata.name / namespace / resourceVersion / uid of `object`, or "" when absent or not a
// string. Never throws.
std::string_view object_name(const boost::json::value& object);
std::string_view object_namespace(const boost::json::value& object);
std::string_view object_resource_version(const boost::json::value& object);
std::string_view object_uid(const boost::json::value& object);
// client-go's MetaNamespaceKeyFunc: "namespace/name", or "name" for a cluster-scoped object.
std::string object_key(const boost::json::value& object);
// The key of `name` in `ns` (ns empty: cluster-scoped).
std::string make_key(std::string_view ns, std::string_view name);

}  // namespace orch::client
