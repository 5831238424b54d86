// The library's instantiations of the generic codec for apps/v1 kinds.
// Thread-safety: stateless.
#include "orch/api/types/apps.hpp"

#include "codec_instances.hpp"

ORCH_API_INSTANTIATE_CODEC(orch::api::Deployment);
ORCH_API_INSTANTIATE_CODEC(orch::api::DeploymentList);
ORCH_API_INSTANTIATE_CODEC(orch::api::ReplicaSet);
ORCH_API_INSTANTIATE_CODEC(orch::api::ReplicaSetList);
ORCH_API_INSTANTIATE_CODEC(orch::api::StatefulSet);
ORCH_API_INSTANTIATE_CODEC(orch::api::StatefulSetList);
ORCH_API_INSTANTIATE_CODEC(orch::api::DaemonSet);
ORCH_API_INSTANTIATE_CODEC(orch::api::DaemonSetList);
ORCH_API_INSTANTIATE_CODEC(orch::api::ControllerRevision);
ORCH_API_INSTANTIATE_CODEC(orch::api::ControllerRevisionList);
