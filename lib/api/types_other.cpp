// The library's instantiations of the generic codec for coordination.k8s.io, storage.k8s.io
// and discovery.k8s.io kinds. Thread-safety: stateless.
#include "codec_instances.hpp"
#include "orch/api/types/coordination.hpp"
#include "orch/api/types/discovery.hpp"
#include "orch/api/types/storage.hpp"

ORCH_API_INSTANTIATE_CODEC(orch::api::Lease);
ORCH_API_INSTANTIATE_CODEC(orch::api::LeaseList);
ORCH_API_INSTANTIATE_CODEC(orch::api::StorageClass);
ORCH_API_INSTANTIATE_CODEC(orch::api::StorageClassList);
ORCH_API_INSTANTIATE_CODEC(orch::api::EndpointSlice);
ORCH_API_INSTANTIATE_CODEC(orch::api::EndpointSliceList);
