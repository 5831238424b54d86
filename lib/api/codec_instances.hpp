// Which .cpp compiles the codec for the nested types several kinds share; every types_*.cpp
// includes this after detail/codec_impl.hpp so each shared type is instantiated once (the
// biggest, PodSpec, costs about a minute of compile time). Thread-safety: declarations only.
#pragma once

#include "orch/api/detail/codec_impl.hpp"
#include "orch/api/types.hpp"

// types_meta.cpp
ORCH_API_EXTERN_CODEC_DETAIL(orch::api::ObjectMeta);
ORCH_API_EXTERN_CODEC_DETAIL(orch::api::ListMeta);
ORCH_API_EXTERN_CODEC_DETAIL(orch::api::ObjectReference);
ORCH_API_EXTERN_CODEC_DETAIL(orch::api::LabelSelector);
// types_pod.cpp
ORCH_API_EXTERN_CODEC_DETAIL(orch::api::PodTemplateSpec);
ORCH_API_EXTERN_CODEC_DETAIL(orch::api::PodSpec);
// types_core.cpp
ORCH_API_EXTERN_CODEC_DETAIL(orch::api::PersistentVolumeClaim);
ORCH_API_EXTERN_CODEC_DETAIL(orch::api::NodeSelector);
