// The library's one instantiation of the codec for the meta/v1 types every kind embeds.
// Thread-safety: stateless.
#include "codec_instances.hpp"

ORCH_API_INSTANTIATE_CODEC_DETAIL(orch::api::ObjectMeta);
ORCH_API_INSTANTIATE_CODEC_DETAIL(orch::api::ListMeta);
ORCH_API_INSTANTIATE_CODEC_DETAIL(orch::api::ObjectReference);
ORCH_API_INSTANTIATE_CODEC_DETAIL(orch::api::LabelSelector);
