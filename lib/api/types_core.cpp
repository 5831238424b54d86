// The library's instantiations of the generic codec for core/v1 kinds but Pod (types_pod.cpp),
// and their helpers.
// Thread-safety: stateless.
#include "codec_instances.hpp"

namespace orch::api {

int PersistentVolumeSpec::source_count() const {
  int n = host_path.has_value() + local.has_value();
  for (const boost::json::value* raw :
       {&gce_persistent_disk, &aws_elastic_block_store, &glusterfs, &nfs, &rbd, &iscsi, &cinder,
        &cephfs, &fc, &flocker, &flex_volume, &azure_file, &vsphere_volume, &quobyte,
        &azure_disk, &photon_persistent_disk, &portworx_volume, &scale_io, &storageos, &csi}) {
    n += !raw->is_null();
  }
  return n;
}

}  // namespace orch::api

ORCH_API_INSTANTIATE_CODEC_DETAIL(orch::api::PersistentVolumeClaim);
ORCH_API_INSTANTIATE_CODEC_DETAIL(orch::api::NodeSelector);
ORCH_API_INSTANTIATE_CODEC(orch::api::Namespace);
ORCH_API_INSTANTIATE_CODEC(orch::api::NamespaceList);
ORCH_API_INSTANTIATE_CODEC(orch::api::Node);
ORCH_API_INSTANTIATE_CODEC(orch::api::NodeList);
ORCH_API_INSTANTIATE_CODEC(orch::api::Service);
ORCH_API_INSTANTIATE_CODEC(orch::api::ServiceList);
ORCH_API_INSTANTIATE_CODEC(orch::api::Endpoints);
ORCH_API_INSTANTIATE_CODEC(orch::api::EndpointsList);
ORCH_API_INSTANTIATE_CODEC(orch::api::Event);
ORCH_API_INSTANTIATE_CODEC(orch::api::EventList);
ORCH_API_INSTANTIATE_CODEC(orch::api::ConfigMap);
ORCH_API_INSTANTIATE_CODEC(orch::api::ConfigMapList);
ORCH_API_INSTANTIATE_CODEC(orch::api::Secret);
ORCH_API_INSTANTIATE_CODEC(orch::api::SecretList);
ORCH_API_INSTANTIATE_CODEC(orch::api::PersistentVolume);
ORCH_API_INSTANTIATE_CODEC(orch::api::PersistentVolumeList);
ORCH_API_INSTANTIATE_CODEC(orch::api::PersistentVolumeClaim);
ORCH_API_INSTANTIATE_CODEC(orch::api::PersistentVolumeClaimList);
