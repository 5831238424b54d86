// The load balancer: what a cloud provider does for `type: LoadBalancer` Services, on one machine.
//
// A controller (run by the ControllerManager, so only the leading control plane acts):
// - gives each LoadBalancer Service an external address from a loopback range
//   (status.loadBalancer.ingress[0].ip, ipMode VIP), keeping the one it has across restarts, and
//   frees it when the Service goes or changes type (clearing the status);
// - runs a listener on externalIP:port for each TCP port, spreading connections over every Ready
//   node's InternalIP:nodePort (whose service proxy takes them to a pod), with the Forwarder's
//   skipping of nodes that do not answer;
// - follows nodes joining, leaving and changing readiness;
// - records EnsuringLoadBalancer / EnsuredLoadBalancer / DeletingLoadBalancer events.
//
// Thread-safety: as controller::Controller.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "orch/controller/controller.hpp"
#include "orch/controller/manager.hpp"
#include "orch/status.hpp"

namespace orch::proxy {

struct LoadBalancerOptions {
  // External addresses come from this IPv4 CIDR. Default: "127.240.0.0/16".
  std::string address_range = "127.240.0.0/16";
  // Default: 1 s.
  std::chrono::milliseconds connect_timeout{1000};
};

inline constexpr const char* kLoadBalancerControllerName = "service-lb";
inline constexpr const char* kLoadBalancerControllerComponent = "service-controller";

// InvalidArgument for a bad range or a context without client/informers.
Result<std::unique_ptr<controller::Controller>> new_load_balancer_controller(
    const controller::ControllerContext& ctx, LoadBalancerOptions options = {});

controller::ControllerRegistration load_balancer_controller_registration(
    LoadBalancerOptions options = {});

}  // namespace orch::proxy
