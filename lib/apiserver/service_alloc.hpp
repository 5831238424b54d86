// Service address allocation, done by the API server as Kubernetes' service REST storage does:
// a Service gets its ClusterIP (from a CIDR of loopback addresses) and its NodePorts (from a port
// range) when it is created or changes type, and gives them back when it is deleted.
//
// - The used sets live in the store, one key per range (/registry/ranges/serviceips and
//   /registry/ranges/servicenodeports, JSON {"range": ..., "data": <base64 bitmap>}), changed with
//   compare-and-swap, so concurrent creates (also from several API servers on one store) never
//   hand out one address twice.
// - A requested address that is out of range or taken is a 422 in Kubernetes' words:
//     spec.clusterIPs: Invalid value: []string{"127.1.2.3"}: failed to allocate IP 127.1.2.3:
//       provided IP is not in the valid range. The range of valid IPs is 127.96.0.0/16
//     spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated
// - repair() rebuilds both bitmaps from the Services in the store (at start: a crash between an
//   allocation and the Service's write would otherwise leak the address).
//
// Thread-safety: every method may be called from any thread (the store serializes).
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orch/status.hpp"
#include "orch/store/store.hpp"

namespace orch::apiserver {

// What one admission allocated, to give back when the write that needed it fails.
struct ServiceAllocation {
  std::vector<std::uint32_t> ips;  // offsets into the CIDR
  std::vector<int> node_ports;
};

class ServiceAllocator {
 public:
  // `cidr` like "127.96.0.0/16" (IPv4, prefix 8..30); ports inclusive. InvalidArgument otherwise.
  static Result<std::unique_ptr<ServiceAllocator>> create(store::Store& store, std::string cidr,
                                                          int node_port_min, int node_port_max);
  ~ServiceAllocator();

  // Fills spec.clusterIP/clusterIPs and the ports' nodePort of a Service about to be created.
  // InvalidArgument (422 with causes) for requested values out of range or taken;
  // ResourceExhausted when a range is full.
  Result<ServiceAllocation> allocate_for_create(boost::json::value& service);
  // The same for an update from `old`: allocates what the new spec needs and old did not have.
  Result<ServiceAllocation> allocate_for_update(const boost::json::value& old,
                                                boost::json::value& service);
  // After an update was written: releases what `old` had and `updated` no longer has.
  void release_dropped(const boost::json::value& old, const boost::json::value& updated);
  // Gives back an allocation (the write that needed it failed).
  void release(const ServiceAllocation& allocation);
  // A Service was deleted.
  void release_service(const boost::json::value& service);
  // Rebuilds the bitmaps from the Services in the store.
  Status repair();

  const std::string& cidr() const;

 private:
  struct Impl;
  explicit ServiceAllocator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace orch::apiserver
