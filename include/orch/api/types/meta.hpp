// meta/v1 types every kind embeds: ObjectMeta, ListMeta, OwnerReference; plus the core/v1
// references used across groups (ObjectReference, LocalObjectReference).
//
// All types in orch/api/types/ are plain aggregates described with BOOST_DESCRIBE_STRUCT for the
// generic JSON codec (orch/api/codec.hpp): C++ member `snake_case` is JSON `camelCase`, members
// appear in Kubernetes' field order, std::optional marks fields Kubernetes keeps as pointers
// (unset differs from zero), and boost::json::value members carry parts we store without
// interpreting. Layout of the folder, one header per API group:
//   meta.hpp         ObjectMeta, ListMeta, OwnerReference, ObjectReference
//   core.hpp         core/v1: Namespace, Node, Pod, Service, Endpoints, Event, ConfigMap,
//                    Secret, PersistentVolume, PersistentVolumeClaim
//   apps.hpp         apps/v1: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision
//   coordination.hpp coordination.k8s.io/v1: Lease
//   storage.hpp      storage.k8s.io/v1: StorageClass
//   discovery.hpp    discovery.k8s.io/v1: EndpointSlice
// orch/api/types.hpp includes them all.
//
// Each kind has kApiVersion/kKind constants, api_version/kind members initialized from them, and
// a <Kind>List. decode<T>/encode<T> are instantiated in the library for every kind and list.
//
// Thread-safety: plain values.
#pragma once

#include <boost/describe/class.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orch/api/codec.hpp"
#include "orch/api/time.hpp"

namespace orch::api {

using StringMap = std::map<std::string, std::string>;

// metav1.OwnerReference.
struct OwnerReference {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  std::optional<bool> controller;
  std::optional<bool> block_owner_deletion;
  static constexpr std::string_view kAlwaysEmit[] = {"api_version", "kind", "name", "uid"};
  bool operator==(const OwnerReference&) const = default;
};
BOOST_DESCRIBE_STRUCT(OwnerReference, (),
                      (api_version, kind, name, uid, controller, block_owner_deletion))

// metav1.ObjectMeta. creationTimestamp is written as null when unset, as Kubernetes does.
struct ObjectMeta {
  std::string name;
  std::string generate_name;
  std::string namespace_;
  std::string self_link;
  std::string uid;
  std::string resource_version;
  std::int64_t generation = 0;
  std::optional<Time> creation_timestamp;
  std::optional<Time> deletion_timestamp;
  std::optional<std::int64_t> deletion_grace_period_seconds;
  StringMap labels;
  StringMap annotations;
  std::vector<OwnerReference> owner_references;
  std::vector<std::string> finalizers;
  boost::json::value managed_fields;  // raw: stored, not interpreted
  static constexpr std::string_view kAlwaysEmit[] = {"creation_timestamp"};
  bool operator==(const ObjectMeta&) const = default;
};
BOOST_DESCRIBE_STRUCT(ObjectMeta, (),
                      (name, generate_name, namespace_, self_link, uid, resource_version,
                       generation, creation_timestamp, deletion_timestamp,
                       deletion_grace_period_seconds, labels, annotations, owner_references,
                       finalizers, managed_fields))

// metav1.ListMeta.
struct ListMeta {
  std::string self_link;
  std::string resource_version;
  std::string continue_;
  std::optional<std::int64_t> remaining_item_count;
  bool operator==(const ListMeta&) const = default;
};
BOOST_DESCRIBE_STRUCT(ListMeta, (), (self_link, resource_version, continue_, remaining_item_count))

// core/v1 ObjectReference.
struct ObjectReference {
  std::string kind;
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string api_version;
  std::string resource_version;
  std::string field_path;
  bool operator==(const ObjectReference&) const = default;
};
BOOST_DESCRIBE_STRUCT(ObjectReference, (),
                      (kind, namespace_, name, uid, api_version, resource_version, field_path))

// core/v1 LocalObjectReference.
struct LocalObjectReference {
  std::string name;
  bool operator==(const LocalObjectReference&) const = default;
};
BOOST_DESCRIBE_STRUCT(LocalObjectReference, (), (name))

}  // namespace orch::api

// Declares the <Kind>List type of a kind: apiVersion, kind "<Kind>List", metadata, items (always
// written, `[]` when empty: clients reject `null`).
#define ORCH_API_DECLARE_LIST(Kind)                                                   \
  struct Kind##List {                                                                 \
    static constexpr std::string_view kApiVersion = Kind::kApiVersion;                \
    static constexpr std::string_view kKind = #Kind "List";                           \
    std::string api_version{kApiVersion};                                             \
    std::string kind{kKind};                                                          \
    ::orch::api::ListMeta metadata;                                                   \
    std::vector<Kind> items;                                                          \
    static constexpr std::string_view kAlwaysEmit[] = {"items"};                      \
    bool operator==(const Kind##List&) const = default;                               \
  };                                                                                  \
  BOOST_DESCRIBE_STRUCT(Kind##List, (), (api_version, kind, metadata, items))

// Declares (extern) the library's instantiations of decode/encode for a type.
#define ORCH_API_EXTERN_CODEC(T)                                                      \
  extern template ::orch::Result<T> decode<T>(const boost::json::value&,              \
                                              ::orch::api::DecodeContext&);           \
  extern template boost::json::value encode<T>(const T&)
