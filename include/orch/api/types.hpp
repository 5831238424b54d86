// Every kind liborch serves, as C++ types with Kubernetes' JSON shapes: one include for all of
// orch/api/types/ (see types/meta.hpp for the conventions and the folder layout).
// Thread-safety: plain values.
#pragma once

#include "orch/api/types/apps.hpp"
#include "orch/api/types/coordination.hpp"
#include "orch/api/types/core.hpp"
#include "orch/api/types/discovery.hpp"
#include "orch/api/types/meta.hpp"
#include "orch/api/types/storage.hpp"
