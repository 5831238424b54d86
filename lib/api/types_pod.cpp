// The library's instantiations of the codec for Pod, PodList and PodTemplateSpec (the pod spec
// is the largest type; the workload kinds reuse these instantiations), and Pod helpers.
// Thread-safety: stateless.
#include "codec_instances.hpp"

namespace orch::api {

int Volume::source_count() const {
  int n = 0;
  n += host_path.has_value() + empty_dir.has_value() + secret.has_value() +
       persistent_volume_claim.has_value() + config_map.has_value();
  for (const boost::json::value* raw :
       {&gce_persistent_disk, &aws_elastic_block_store, &git_repo, &nfs, &iscsi, &glusterfs, &rbd,
        &flex_volume, &cinder, &cephfs, &flocker, &downward_api, &fc, &azure_file,
        &vsphere_volume, &quobyte, &azure_disk, &photon_persistent_disk, &projected,
        &portworx_volume, &scale_io, &storageos, &csi, &ephemeral, &image}) {
    n += !raw->is_null();
  }
  return n;
}

}  // namespace orch::api

ORCH_API_INSTANTIATE_CODEC_DETAIL(orch::api::PodSpec);
ORCH_API_INSTANTIATE_CODEC_DETAIL(orch::api::PodTemplateSpec);
ORCH_API_INSTANTIATE_CODEC(orch::api::Pod);
ORCH_API_INSTANTIATE_CODEC(orch::api::PodList);
ORCH_API_INSTANTIATE_CODEC(orch::api::PodTemplateSpec);
