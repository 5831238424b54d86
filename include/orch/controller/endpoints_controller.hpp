// The Endpoints and EndpointSlice controller (Kubernetes' pkg/controller/endpoint and
// endpointslice): for every Service with a selector, the pods that match it, so Service proxies
// know where to send connections.
//
// - Endpoints <svc> (same name and namespace as the Service): subsets grouping pods by their
//   resolved ports; a pod with a podIP that is Ready goes to addresses, one that is not Ready to
//   notReadyAddresses (all to addresses with publishNotReadyAddresses). Terminating pods
//   (deletionTimestamp) and finished pods (Succeeded/Failed) are left out. Each address carries
//   nodeName and a targetRef to its pod.
// - targetPort by number, or by name: the container port of that name in each pod (a pod without
//   it is left out of that port's subset, as Kubernetes does); absent: the service port.
// - EndpointSlice (discovery.k8s.io/v1), one per distinct port set, labelled
//   kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by, owned by the Service,
//   listing terminating pods too with conditions ready/serving/terminating.
// - Writes only on change; a Service without a selector is left alone (its Endpoints are the
//   user's); a deleted Service's Endpoints and slices are deleted.
// - Pods changing readiness requeue the Services that select them, so endpoints follow a
//   readiness change within one reconcile.
//
// Thread-safety: as Controller. Reads the "services", "pods" and "endpointslices" informers.
#pragma once

#include <memory>

#include "orch/controller/controller.hpp"
#include "orch/controller/manager.hpp"
#include "orch/status.hpp"

namespace orch::controller {

struct EndpointsControllerOptions {
  // Worker threads. Default: 5 (kube-controller-manager's --concurrent-endpoint-syncs).
  int workers = 5;
};

inline constexpr const char* kEndpointsControllerName = "endpoints";
inline constexpr const char* kEndpointsControllerComponent = "endpoint-controller";

// Builds the controller on `ctx` and registers its informer handlers (before ctx.informers
// starts). InvalidArgument when ctx has no client or no informers.
Result<std::unique_ptr<Controller>> new_endpoints_controller(
    const ControllerContext& ctx, EndpointsControllerOptions options = {});

ControllerRegistration endpoints_controller_registration(EndpointsControllerOptions options = {});

}  // namespace orch::controller
