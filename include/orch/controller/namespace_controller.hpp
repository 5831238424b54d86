// The namespace lifecycle controller (Kubernetes' pkg/controller/namespace): completes the
// deletion of a namespace.
//
// Deleting a namespace leaves it in the API with a deletionTimestamp and status.phase
// "Terminating" while spec.finalizers holds "kubernetes" (the API server's part). For such a
// namespace this controller:
// 1. deletes every object of every namespaced resource in it (api::all_resources(); DELETE of
//    the collection with propagation Background, or of each object where the resource has no
//    deletecollection verb). Pods are deleted gracefully: they stay until their node (an agent,
//    or a test's NodePlayer) finishes them;
// 2. lists again and writes status.conditions as Kubernetes does, so `kubectl get ns -o yaml`
//    shows the progress:
//      NamespaceDeletionDiscoveryFailure  False ResourcesDiscovered
//      NamespaceDeletionGVParsingFailure  False ParsedGroupVersions
//      NamespaceDeletionContentFailure    True  ContentDeletionFailed "Failed to delete all
//                                         resource types, 1 remaining: ..." (else False
//                                         ContentDeleted)
//      NamespaceContentRemaining          True  SomeResourcesRemain "Some resources are
//                                         remaining: pods. has 2 resource instances" (else False
//                                         ContentRemoved)
//      NamespaceFinalizersRemaining       True  SomeFinalizersRemain "Some content in the
//                                         namespace has finalizers remaining: example.com/x in 1
//                                         resource instances" (else False ContentHasNoFinalizers)
// 3. while content remains, looks again after `content_recheck`; once nothing remains, removes
//    "kubernetes" from spec.finalizers through PUT namespaces/<name>/finalize, and the API server
//    deletes the namespace (when no other finalizer remains).
//
//   controller::NamespaceController::create(ctx) -> unique_ptr<NamespaceController> (a
//   Controller): create it before ctx.informers starts, start() it once the informers synced.
//
// Thread-safety: ns_deletion:: functions are pure; NamespaceController is a Controller.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "orch/api/registry.hpp"
#include "orch/controller/controller.hpp"
#include "orch/controller/manager.hpp"
#include "orch/status.hpp"

namespace orch::controller {

namespace ns_deletion {

// The finalizer in spec.finalizers that this controller owns.
inline constexpr std::string_view kKubernetesFinalizer = "kubernetes";

// What is left in a namespace after one deletion pass.
struct ContentTotals {
  // "<resource>.<group>" ("pods.", "deployments.apps") -> objects remaining (0s are ignored).
  std::map<std::string, int> remaining{};
  // metadata finalizer -> objects remaining that carry it.
  std::map<std::string, int> finalizers{};
};

// The conditions the pass found failing (status "True"), stamped `now` (RFC 3339):
// NamespaceContentRemaining, NamespaceFinalizersRemaining and, when `delete_errors` is not
// empty, NamespaceDeletionContentFailure (messages sorted, as Kubernetes does).
boost::json::array failing_conditions(const ContentTotals& totals,
                                      const std::vector<std::string>& delete_errors,
                                      std::string_view now);

// Kubernetes' updateConditions: every condition type the controller maintains ends up in
// status.conditions (`status` is the namespace's status object; made an object if it is not),
// the failing one from `failing` or else its "ok" variant (status "False"); a condition whose
// status flips gets lastTransitionTime `now`. Conditions of other types are kept. Returns whether
// anything changed.
bool update_conditions(boost::json::value& status, const boost::json::array& failing,
                       std::string_view now);

// spec.finalizers of a namespace contains "kubernetes".
bool awaits_content_removal(const boost::json::value& ns);

}  // namespace ns_deletion

struct NamespaceControllerOptions {
  // Worker threads. Default: 2.
  int workers = 2;
  // While content remains (pods terminating, objects with finalizers), look again this often.
  // Default: 1 s.
  std::chrono::milliseconds content_recheck{1000};
  // Namespaced resources whose objects are deleted; empty: every namespaced resource of
  // api::all_resources(). Default: {}.
  std::vector<const api::ResourceInfo*> resources{};
};

class NamespaceController : public SinkController {
 public:
  // Builds the controller and registers its handlers on ctx.informers' namespaces informer
  // (which must not have started yet). InvalidArgument when ctx lacks a client or informers, or
  // a handler cannot be added. Keys are namespace names.
  static Result<std::unique_ptr<NamespaceController>> create(
      const ControllerContext& ctx, NamespaceControllerOptions options = {});
  // stop()s; informer handlers that still fire afterwards do nothing.
  ~NamespaceController() override;

 private:
  struct Core;
  NamespaceController(ControllerOptions options, std::shared_ptr<Core> core);

  // Const after construction.
  const std::shared_ptr<Core> core_;
};

// The name the controller is registered under, also its ControllerOptions name, and its
// component.
inline constexpr const char* kNamespaceControllerName = "namespace";
inline constexpr const char* kNamespaceControllerComponent = "namespace-controller";

// A ControllerFactory (manager.hpp) of the controller with default options.
Result<std::unique_ptr<Controller>> new_namespace_controller(const ControllerContext& ctx);
// {"namespace", "namespace-controller", NamespaceController::create(ctx, options)}, for
// ControllerManager::add and register_default_controller.
ControllerRegistration namespace_controller_registration(NamespaceControllerOptions options = {});

}  // namespace orch::controller
