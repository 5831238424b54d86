// discovery.k8s.io/v1 EndpointSlice and EndpointSliceList. Its nested types are prefixed
// Discovery* to keep them apart from core/v1's Endpoints types. Conventions are in
// types/meta.hpp. Thread-safety: plain values.
#pragma once

#include <boost/describe/class.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orch/api/types/meta.hpp"

namespace orch::api {

struct DiscoveryEndpointConditions {
  std::optional<bool> ready;
  std::optional<bool> serving;
  std::optional<bool> terminating;
  bool operator==(const DiscoveryEndpointConditions&) const = default;
};
BOOST_DESCRIBE_STRUCT(DiscoveryEndpointConditions, (), (ready, serving, terminating))

struct DiscoveryEndpoint {
  std::vector<std::string> addresses;
  DiscoveryEndpointConditions conditions;
  std::optional<std::string> hostname;
  std::optional<ObjectReference> target_ref;
  StringMap deprecated_topology;
  std::optional<std::string> node_name;
  std::optional<std::string> zone;
  boost::json::value hints;
  static constexpr std::string_view kAlwaysEmit[] = {"addresses"};
  bool operator==(const DiscoveryEndpoint&) const = default;
};
BOOST_DESCRIBE_STRUCT(DiscoveryEndpoint, (),
                      (addresses, conditions, hostname, target_ref, deprecated_topology,
                       node_name, zone, hints))

struct DiscoveryEndpointPort {
  std::optional<std::string> name;
  std::optional<std::string> protocol;
  std::optional<std::int32_t> port;
  std::optional<std::string> app_protocol;
  bool operator==(const DiscoveryEndpointPort&) const = default;
};
BOOST_DESCRIBE_STRUCT(DiscoveryEndpointPort, (), (name, protocol, port, app_protocol))

// EndpointSlice has no spec: its fields sit beside metadata.
struct EndpointSlice {
  static constexpr std::string_view kApiVersion = "discovery.k8s.io/v1";
  static constexpr std::string_view kKind = "EndpointSlice";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  std::string address_type;  // "IPv4", "IPv6", "FQDN"
  std::vector<DiscoveryEndpoint> endpoints;
  std::vector<DiscoveryEndpointPort> ports;
  static constexpr std::string_view kAlwaysEmit[] = {"address_type", "endpoints", "ports"};
  bool operator==(const EndpointSlice&) const = default;
};
BOOST_DESCRIBE_STRUCT(EndpointSlice, (),
                      (api_version, kind, metadata, address_type, endpoints, ports))
ORCH_API_DECLARE_LIST(EndpointSlice);

ORCH_API_EXTERN_CODEC(EndpointSlice);
ORCH_API_EXTERN_CODEC(EndpointSliceList);

}  // namespace orch::api
