// The garbage collector: completes what the API server starts on delete, following
// metadata.ownerReferences (Kubernetes' pkg/controller/garbagecollector).
//
// It keeps a graph of every object of every resource (shared informers on each kind of the
// registry: api::all_resources()), with edges from each owner uid to its dependents, and acts on
// three kinds of work:
//
// - Background (the default propagation): the API server deletes the owner at once. A dependent
//   whose owners are all gone (absent, or present with another uid: verified by a live GET of the
//   owner) is deleted with propagation Background (or with the dependent's own orphan /
//   foregroundDeletion finalizer's policy). A dependent with at least one live owner lives on, but
//   its references to the gone owners are removed.
// - Foreground: the owner stays, with a deletionTimestamp and the `foregroundDeletion` finalizer.
//   Its dependents are deleted (Foreground themselves when they have dependents, so a chain
//   Deployment -> ReplicaSet -> pods goes bottom-up); dependents whose reference to the owner has
//   blockOwnerDeletion=true block it. When none blocking remain (gracefully deleted pods count
//   until they are really gone), the finalizer is removed and the API server deletes the owner.
//   A dependent with another live owner only loses its reference to the deleting owner.
// - Orphan: the owner stays with the `orphan` finalizer until every dependent the graph knows no
//   longer references it; then the finalizer is removed.
//
// Writes go through the client: DELETE with a uid precondition, and JSON merge patches of
// metadata.ownerReferences / metadata.finalizers pinned to the resourceVersion just read (a lost
// race is retried with backoff).
//
// The graph logic (gc::Graph, gc::decide_dependent, the patch builders) is pure and exposed for
// unit tests; GarbageCollector wires it to informers and a Controller.
//
//   controller::GarbageCollector::create(ctx) -> unique_ptr<GarbageCollector> (a Controller):
//   create it before ctx.informers starts, start() it once the informers synced.
//
// Thread-safety: gc:: functions are pure; gc::Graph is not thread-safe (GarbageCollector guards
// it with a mutex). GarbageCollector is a Controller (any thread).
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "orch/api/registry.hpp"
#include "orch/controller/controller.hpp"
#include "orch/controller/manager.hpp"
#include "orch/status.hpp"

namespace orch::controller {

namespace gc {

inline constexpr std::string_view kForegroundDeletionFinalizer = "foregroundDeletion";
inline constexpr std::string_view kOrphanFinalizer = "orphan";

// One metadata.ownerReferences entry.
struct OwnerRef {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  bool controller = false;
  bool block_owner_deletion = false;
  bool operator==(const OwnerRef&) const = default;
};

// metadata.ownerReferences of `object` (entries without a uid are skipped). Never throws.
std::vector<OwnerRef> owner_references(const boost::json::value& object);
// metadata.finalizers contains `finalizer`.
bool has_finalizer(const boost::json::value& object, std::string_view finalizer);
// metadata.deletionTimestamp is set.
bool being_deleted(const boost::json::value& object);
// Being deleted with the foregroundDeletion finalizer: waits for its dependents.
bool deleting_dependents(const boost::json::value& object);
// Being deleted with the orphan finalizer: its dependents are to be released.
bool orphaning_dependents(const boost::json::value& object);

// What a live look at an owner found (Kubernetes' classifyReferences).
enum class OwnerState : std::uint8_t {
  kSolid,                         // exists with the referenced uid, not deleting its dependents
  kDangling,                      // absent, or the name now has another uid
  kWaitingForDependentsDeletion,  // exists, being deleted in the foreground
};

struct ClassifiedOwner {
  OwnerRef ref;
  OwnerState state = OwnerState::kSolid;
};

// What to do with a dependent (Kubernetes' attemptToDeleteItem after classification).
struct DependentDecision {
  enum class Action : std::uint8_t {
    kNothing,                // no owner reference, or every owner solid
    kRemoveOwnerReferences,  // a solid owner remains: drop the references in remove_owner_uids
    kDelete,                 // no solid owner: delete with `propagation`
  };
  Action action = Action::kNothing;
  std::vector<std::string> remove_owner_uids{};
  // "Background", "Foreground" or "Orphan" (kDelete only).
  std::string propagation{};
  // kDelete only: first set blockOwnerDeletion=false on the dependent's references, because one
  // of its own dependents waits for it in the foreground (a cycle would block both).
  bool unblock_owner_references = false;

  bool operator==(const DependentDecision&) const = default;
};

// Decides for `dependent` (its latest state) given its owners' states.
// - `has_dependents`: the graph knows objects that reference the dependent.
// - `a_dependent_deletes_its_dependents`: one of those is itself waiting in the foreground.
DependentDecision decide_dependent(const boost::json::value& dependent,
                                   const std::vector<ClassifiedOwner>& owners, bool has_dependents,
                                   bool a_dependent_deletes_its_dependents);

// JSON merge patches of `object` (its latest state), pinned to its metadata.resourceVersion so a
// concurrent writer makes them fail (Aborted) instead of being overwritten. nullopt when there is
// nothing to change.
// metadata.ownerReferences without the entries whose uid is in `uids`.
std::optional<std::string> remove_owner_references_patch(const boost::json::value& object,
                                                         const std::set<std::string>& uids);
// Every blockOwnerDeletion=true in metadata.ownerReferences set to false.
std::optional<std::string> unblock_owner_references_patch(const boost::json::value& object);
// metadata.finalizers without `finalizer`.
std::optional<std::string> remove_finalizer_patch(const boost::json::value& object,
                                                  std::string_view finalizer);

// A unit of work: look at one object (by uid) as a dependent / foreground owner, or release the
// dependents of an orphaning owner.
struct WorkItem {
  enum class Kind : std::uint8_t { kAttemptToDelete, kAttemptToOrphan };
  Kind kind = Kind::kAttemptToDelete;
  std::string uid;
  bool operator==(const WorkItem&) const = default;
  bool operator<(const WorkItem& o) const {
    return kind != o.kind ? kind < o.kind : uid < o.uid;
  }
};
// Queue keys: "delete/<uid>", "orphan/<uid>".
std::string work_key(const WorkItem& item);
std::optional<WorkItem> parse_work_key(std::string_view key);

// The owner/dependent graph (Kubernetes' GraphBuilder without its queues): nodes are observed
// objects by uid; edges come from their ownerReferences, including references to owners the
// graph has not observed (or no longer has). observe()/forget() return the work a change calls
// for, de-duplicated and sorted.
class Graph {
 public:
  struct Node {
    const api::ResourceInfo* resource = nullptr;
    std::string ns;
    std::string name;
    std::string uid;
    std::vector<OwnerRef> owners;
    bool being_deleted = false;
    bool deleting_dependents = false;
    bool orphaning_dependents = false;
  };

  // An add or update of `object` of `resource`. Objects without a uid are ignored.
  // Work: the object itself when it references an owner the graph lacks or one deleting its
  // dependents; when it starts deleting its dependents, itself and every dependent; when it
  // starts orphaning, an orphan item; owners deleting their dependents whose (blocking)
  // reference it dropped.
  std::vector<WorkItem> observe(const api::ResourceInfo& resource,
                                const boost::json::value& object);
  // A deletion of the object with `uid` (its last state). Work: every dependent, and every owner
  // waiting for its dependents.
  std::vector<WorkItem> forget(std::string_view uid);

  // The node, or null. The pointer is valid until the next observe/forget.
  const Node* find(std::string_view uid) const;
  // Uids of the observed objects that reference `owner_uid`, sorted.
  std::vector<std::string> dependents(std::string_view owner_uid) const;
  // Those whose reference to `owner_uid` has blockOwnerDeletion=true.
  std::vector<std::string> blocking_dependents(std::string_view owner_uid) const;
  std::size_t size() const { return nodes_.size(); }

 private:
  void link(const std::string& uid, const std::vector<OwnerRef>& owners);
  void unlink(const std::string& uid, const std::vector<OwnerRef>& owners);

  std::unordered_map<std::string, Node> nodes_;
  // owner uid -> uids of observed dependents (the owner may be absent from nodes_).
  std::unordered_map<std::string, std::set<std::string>> dependents_;
};

}  // namespace gc

struct GarbageCollectorOptions {
  // Worker threads. Default: 2.
  int workers = 2;
  // Resources whose objects the graph holds; empty: every resource of api::all_resources().
  // Default: {}.
  std::vector<const api::ResourceInfo*> resources{};
};

class GarbageCollector : public SinkController {
 public:
  // Builds the collector and registers its handlers on ctx.informers (one informer per
  // resource), which must not have started yet. InvalidArgument when ctx lacks a client or
  // informers, or a handler cannot be added.
  static Result<std::unique_ptr<GarbageCollector>> create(const ControllerContext& ctx,
                                                          GarbageCollectorOptions options = {});
  // stop()s; informer handlers that still fire afterwards do nothing.
  ~GarbageCollector() override;

  // Objects in the graph; whether the object with `uid` is one of them.
  std::size_t graph_size_for_test() const;
  bool in_graph_for_test(std::string_view uid) const;

 private:
  struct Core;
  GarbageCollector(ControllerOptions options, std::shared_ptr<Core> core);

  // Const after construction.
  const std::shared_ptr<Core> core_;
};

// The name the collector is registered under, also its ControllerOptions name, and its
// component.
inline constexpr const char* kGarbageCollectorName = "garbagecollector";
inline constexpr const char* kGarbageCollectorComponent = "garbage-collector-controller";

// A ControllerFactory (manager.hpp) of the collector with default options.
Result<std::unique_ptr<Controller>> new_garbage_collector(const ControllerContext& ctx);
// {"garbagecollector", "garbage-collector-controller", GarbageCollector::create(ctx, options)},
// for ControllerManager::add and register_default_controller.
ControllerRegistration garbage_collector_registration(GarbageCollectorOptions options = {});

}  // namespace orch::controller
