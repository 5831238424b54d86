// storage.k8s.io/v1 StorageClass and StorageClassList. Conventions are in types/meta.hpp.
// Thread-safety: plain values.
#pragma once

#include <boost/describe/class.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orch/api/types/meta.hpp"

namespace orch::api {

// StorageClass has no spec: its fields sit beside metadata.
struct StorageClass {
  static constexpr std::string_view kApiVersion = "storage.k8s.io/v1";
  static constexpr std::string_view kKind = "StorageClass";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  std::string provisioner;
  StringMap parameters;
  std::optional<std::string> reclaim_policy;  // "Delete" (default), "Retain"
  std::vector<std::string> mount_options;
  std::optional<bool> allow_volume_expansion;
  std::optional<std::string> volume_binding_mode;  // "Immediate" (default), "WaitForFirstConsumer"
  boost::json::value allowed_topologies;
  static constexpr std::string_view kAlwaysEmit[] = {"provisioner"};
  bool operator==(const StorageClass&) const = default;
};
BOOST_DESCRIBE_STRUCT(StorageClass, (),
                      (api_version, kind, metadata, provisioner, parameters, reclaim_policy,
                       mount_options, allow_volume_expansion, volume_binding_mode,
                       allowed_topologies))
ORCH_API_DECLARE_LIST(StorageClass);

ORCH_API_EXTERN_CODEC(StorageClass);
ORCH_API_EXTERN_CODEC(StorageClassList);

}  // namespace orch::api
