// coordination.k8s.io/v1 Lease and LeaseList: leader election and node heartbeats.
// Conventions are in types/meta.hpp. Thread-safety: plain values.
#pragma once

#include <boost/describe/class.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orch/api/time.hpp"
#include "orch/api/types/meta.hpp"

namespace orch::api {

struct LeaseSpec {
  std::optional<std::string> holder_identity;
  std::optional<std::int32_t> lease_duration_seconds;
  std::optional<MicroTime> acquire_time;
  std::optional<MicroTime> renew_time;
  std::optional<std::int32_t> lease_transitions;
  std::optional<std::string> strategy;
  std::optional<std::string> preferred_holder;
  bool operator==(const LeaseSpec&) const = default;
};
BOOST_DESCRIBE_STRUCT(LeaseSpec, (),
                      (holder_identity, lease_duration_seconds, acquire_time, renew_time,
                       lease_transitions, strategy, preferred_holder))

struct Lease {
  static constexpr std::string_view kApiVersion = "coordination.k8s.io/v1";
  static constexpr std::string_view kKind = "Lease";
  std::string api_version{kApiVersion};
  std::string kind{kKind};
  ObjectMeta metadata;
  LeaseSpec spec;
  bool operator==(const Lease&) const = default;
};
BOOST_DESCRIBE_STRUCT(Lease, (), (api_version, kind, metadata, spec))
ORCH_API_DECLARE_LIST(Lease);

ORCH_API_EXTERN_CODEC(Lease);
ORCH_API_EXTERN_CODEC(LeaseList);

}  // namespace orch::api
