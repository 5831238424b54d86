// The garbage collector: the pure graph and decisions (gc::), and the Controller that wires them
// to informers and the API. Thread-safety: Core::mu_ guards the graph (keys are queued through the
// Core's KeySink while it is held, so the queue sees the graph's order); it is held only to read or change the graph and to enqueue (never across a call to
// the API).
#include "orch/controller/garbage_collector.hpp"

#include <boost/json/serialize.hpp>
#include <mutex>
#include <utility>

#include <fmt/format.h>

#include "orch/client/resource.hpp"
#include "json_util.hpp"

namespace orch::controller {

namespace json = boost::json;

namespace gc {

namespace {

using namespace json_util;

// A merge patch of metadata.<field> = value (null when empty), pinned to the resourceVersion.
std::string metadata_patch(const json::value& object, std::string_view field, json::array value) {
  json::object meta;
  if (auto rv = str_at(object, {"metadata", "resourceVersion"}); !rv.empty()) {
    meta["resourceVersion"] = rv;
  }
  if (value.empty()) {
    meta[field] = nullptr;
  } else {
    meta[field] = std::move(value);
  }
  return json::serialize(json::object{{"metadata", std::move(meta)}});
}

const json::array* owner_reference_array(const json::value& object) {
  const auto* refs = at(object, {"metadata", "ownerReferences"});
  return refs && refs->is_array() ? &refs->get_array() : nullptr;
}

}  // namespace

std::vector<OwnerRef> owner_references(const json::value& object) {
  std::vector<OwnerRef> out;
  const auto* refs = owner_reference_array(object);
  if (!refs) return out;
  for (const auto& r : *refs) {
    if (!r.is_object()) continue;
    OwnerRef ref;
    ref.api_version = str_at(r, {"apiVersion"});
    ref.kind = str_at(r, {"kind"});
    ref.name = str_at(r, {"name"});
    ref.uid = str_at(r, {"uid"});
    ref.controller = bool_at(r, {"controller"});
    ref.block_owner_deletion = bool_at(r, {"blockOwnerDeletion"});
    if (ref.uid.empty()) continue;
    out.push_back(std::move(ref));
  }
  return out;
}

bool has_finalizer(const json::value& object, std::string_view finalizer) {
  const auto* f = at(object, {"metadata", "finalizers"});
  if (!f || !f->is_array()) return false;
  for (const auto& x : f->get_array()) {
    if (x.is_string() && x.get_string() == finalizer) return true;
  }
  return false;
}

bool being_deleted(const json::value& object) { return is_deleting(object); }

bool deleting_dependents(const json::value& object) {
  return being_deleted(object) && has_finalizer(object, kForegroundDeletionFinalizer);
}

bool orphaning_dependents(const json::value& object) {
  return being_deleted(object) && has_finalizer(object, kOrphanFinalizer);
}

DependentDecision decide_dependent(const json::value& dependent,
                                   const std::vector<ClassifiedOwner>& owners, bool has_dependents,
                                   bool a_dependent_deletes_its_dependents) {
  DependentDecision d;
  if (owners.empty()) return d;
  bool any_solid = false;
  bool any_waiting = false;
  std::vector<std::string> not_solid;
  for (const auto& o : owners) {
    switch (o.state) {
      case OwnerState::kSolid:
        any_solid = true;
        break;
      case OwnerState::kWaitingForDependentsDeletion:
        any_waiting = true;
        not_solid.push_back(o.ref.uid);
        break;
      case OwnerState::kDangling:
        not_solid.push_back(o.ref.uid);
        break;
    }
  }
  if (any_solid) {
    // A live owner keeps the dependent; references to gone owners (and to owners waiting for
    // their dependents, which this one must not block) are dropped.
    if (not_solid.empty()) return d;
    d.action = DependentDecision::Action::kRemoveOwnerReferences;
    d.remove_owner_uids = std::move(not_solid);
    return d;
  }
  d.action = DependentDecision::Action::kDelete;
  if (any_waiting && has_dependents) {
    // An owner waits in the foreground: delete this one in the foreground too, so its own
    // dependents go first.
    d.propagation = "Foreground";
    d.unblock_owner_references = a_dependent_deletes_its_dependents;
    return d;
  }
  if (has_finalizer(dependent, kOrphanFinalizer)) {
    d.propagation = "Orphan";
  } else if (has_finalizer(dependent, kForegroundDeletionFinalizer)) {
    d.propagation = "Foreground";
  } else {
    d.propagation = "Background";
  }
  return d;
}

std::optional<std::string> remove_owner_references_patch(const json::value& object,
                                                         const std::set<std::string>& uids) {
  const auto* refs = owner_reference_array(object);
  if (!refs) return std::nullopt;
  json::array kept;
  bool removed = false;
  for (const auto& r : *refs) {
    if (r.is_object() && uids.contains(std::string(str_at(r, {"uid"})))) {
      removed = true;
      continue;
    }
    kept.push_back(r);
  }
  if (!removed) return std::nullopt;
  return metadata_patch(object, "ownerReferences", std::move(kept));
}

std::optional<std::string> unblock_owner_references_patch(const json::value& object) {
  const auto* refs = owner_reference_array(object);
  if (!refs) return std::nullopt;
  json::array out;
  bool changed = false;
  for (const auto& r : *refs) {
    json::value copy = r;
    if (copy.is_object() && bool_at(copy, {"blockOwnerDeletion"})) {
      copy.as_object()["blockOwnerDeletion"] = false;
      changed = true;
    }
    out.push_back(std::move(copy));
  }
  if (!changed) return std::nullopt;
  return metadata_patch(object, "ownerReferences", std::move(out));
}

std::optional<std::string> remove_finalizer_patch(const json::value& object,
                                                  std::string_view finalizer) {
  const auto* f = at(object, {"metadata", "finalizers"});
  if (!f || !f->is_array()) return std::nullopt;
  json::array kept;
  bool removed = false;
  for (const auto& x : f->get_array()) {
    if (x.is_string() && x.get_string() == finalizer) {
      removed = true;
      continue;
    }
    kept.push_back(x);
  }
  if (!removed) return std::nullopt;
  return metadata_patch(object, "finalizers", std::move(kept));
}

std::string work_key(const WorkItem& item) {
  return (item.kind == WorkItem::Kind::kAttemptToOrphan ? "orphan/" : "delete/") + item.uid;
}

std::optional<WorkItem> parse_work_key(std::string_view key) {
  auto slash = key.find('/');
  if (slash == std::string_view::npos || slash + 1 == key.size()) return std::nullopt;
  std::string_view kind = key.substr(0, slash);
  WorkItem item;
  item.uid = std::string(key.substr(slash + 1));
  if (kind == "delete") {
    item.kind = WorkItem::Kind::kAttemptToDelete;
  } else if (kind == "orphan") {
    item.kind = WorkItem::Kind::kAttemptToOrphan;
  } else {
    return std::nullopt;
  }
  return item;
}

// ------------------------------------------------------------------------------------ Graph

void Graph::link(const std::string& uid, const std::vector<OwnerRef>& owners) {
  for (const auto& o : owners) dependents_[o.uid].insert(uid);
}

void Graph::unlink(const std::string& uid, const std::vector<OwnerRef>& owners) {
  for (const auto& o : owners) {
    auto it = dependents_.find(o.uid);
    if (it == dependents_.end()) continue;
    it->second.erase(uid);
    if (it->second.empty()) dependents_.erase(it);
  }
}

std::vector<WorkItem> Graph::observe(const api::ResourceInfo& resource, const json::value& object) {
  const std::string uid(client::object_uid(object));
  if (uid.empty()) return {};
  std::set<WorkItem> work;
  auto del = [&](const std::string& u) { work.insert({WorkItem::Kind::kAttemptToDelete, u}); };
  std::vector<OwnerRef> owners = owner_references(object);
  const bool dd = deleting_dependents(object);
  const bool od = orphaning_dependents(object);
  const std::string_view ns = client::object_namespace(object);
  // An owner the graph lacks, one deleting its dependents, or one in another namespace (not the
  // owner a namespaced dependent can have): the dependent needs a look.
  auto owner_calls_for_look = [&](const OwnerRef& ref) {
    const Node* owner = find(ref.uid);
    return owner == nullptr || owner->deleting_dependents ||
           (owner->resource->namespaced && owner->ns != ns);
  };

  auto it = nodes_.find(uid);
  bool was_deleting_dependents = false;
  bool was_orphaning = false;
  if (it == nodes_.end()) {
    for (const auto& ref : owners) {
      if (owner_calls_for_look(ref)) del(uid);
    }
    link(uid, owners);
    Node n;
    n.resource = &resource;
    n.ns = std::string(ns);
    n.name = std::string(client::object_name(object));
    n.uid = uid;
    it = nodes_.emplace(uid, std::move(n)).first;
  } else {
    Node& n = it->second;
    was_deleting_dependents = n.deleting_dependents;
    was_orphaning = n.orphaning_dependents;
    std::map<std::string, const OwnerRef*> before, after;
    for (const auto& r : n.owners) before[r.uid] = &r;
    for (const auto& r : owners) after[r.uid] = &r;
    for (const auto& [u, ref] : after) {
      auto b = before.find(u);
      if (b == before.end()) {
        if (owner_calls_for_look(*ref)) del(uid);
      } else if (b->second->block_owner_deletion && !ref->block_owner_deletion) {
        // No longer blocks its owner: the owner may be able to go now.
        const Node* owner = find(u);
        if (owner && owner->deleting_dependents) del(u);
      }
    }
    for (const auto& [u, ref] : before) {
      if (after.contains(u)) continue;
      const Node* owner = find(u);
      if (owner && owner->deleting_dependents) del(u);
    }
    unlink(uid, n.owners);
    link(uid, owners);
  }
  Node& n = it->second;
  n.owners = std::move(owners);
  n.being_deleted = being_deleted(object);
  n.deleting_dependents = dd;
  n.orphaning_dependents = od;
  if (od && !was_orphaning) work.insert({WorkItem::Kind::kAttemptToOrphan, uid});
  if (dd && !was_deleting_dependents) {
    del(uid);
    for (const auto& dep : dependents(uid)) del(dep);
  }
  return {work.begin(), work.end()};
}

std::vector<WorkItem> Graph::forget(std::string_view uid_view) {
  const std::string uid(uid_view);
  std::set<WorkItem> work;
  for (const auto& dep : dependents(uid)) work.insert({WorkItem::Kind::kAttemptToDelete, dep});
  auto it = nodes_.find(uid);
  if (it != nodes_.end()) {
    for (const auto& ref : it->second.owners) {
      const Node* owner = find(ref.uid);
      if (owner && owner->deleting_dependents) {
        work.insert({WorkItem::Kind::kAttemptToDelete, ref.uid});
      }
    }
    unlink(uid, it->second.owners);
    nodes_.erase(it);
  }
  return {work.begin(), work.end()};
}

const Graph::Node* Graph::find(std::string_view uid) const {
  auto it = nodes_.find(std::string(uid));
  return it == nodes_.end() ? nullptr : &it->second;
}

std::vector<std::string> Graph::dependents(std::string_view owner_uid) const {
  auto it = dependents_.find(std::string(owner_uid));
  if (it == dependents_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

std::vector<std::string> Graph::blocking_dependents(std::string_view owner_uid) const {
  std::vector<std::string> out;
  for (const auto& dep : dependents(owner_uid)) {
    const Node* n = find(dep);
    if (!n) continue;
    for (const auto& ref : n->owners) {
      if (ref.uid == owner_uid && ref.block_owner_deletion) {
        out.push_back(dep);
        break;
      }
    }
  }
  return out;
}

}  // namespace gc

// -------------------------------------------------------------------------- GarbageCollector

namespace {

client::Resource client_resource(const api::ResourceInfo& info) {
  return client::Resource{std::string(info.group), std::string(info.version),
                          std::string(info.resource), info.namespaced};
}

}  // namespace

struct GarbageCollector::Core : Reconciler {
  explicit Core(std::shared_ptr<client::Client> c) : client(std::move(c)) {}

  // Const after construction.
  const std::shared_ptr<client::Client> client;

  mutable std::mutex mu;  // lock order: before the work queue's lock
  // Guarded by mu.
  gc::Graph graph;
  // Where handlers queue keys; const after construction (KeySink has its own lock).
  const std::shared_ptr<KeySink> sink = std::make_shared<KeySink>();

  // A copy of what reconcile needs from a graph node.
  struct NodeView {
    gc::Graph::Node node;
    bool has_dependents = false;
    bool a_dependent_deletes_its_dependents = false;
  };

  void enqueue_locked(const std::vector<gc::WorkItem>& work) {
    for (const auto& w : work) sink->add(gc::work_key(w));
  }

  void on_observe(const api::ResourceInfo& info, const json::value& object) {
    std::lock_guard lock(mu);
    enqueue_locked(graph.observe(info, object));
  }

  void on_forget(const json::value& object) {
    std::lock_guard lock(mu);
    enqueue_locked(graph.forget(client::object_uid(object)));
  }

  std::optional<NodeView> view(const std::string& uid) const {
    std::lock_guard lock(mu);
    const auto* n = graph.find(uid);
    if (!n) return std::nullopt;
    NodeView v;
    v.node = *n;
    for (const auto& dep : graph.dependents(uid)) {
      v.has_dependents = true;
      const auto* d = graph.find(dep);
      if (d && d->deleting_dependents) v.a_dependent_deletes_its_dependents = true;
    }
    return v;
  }

  Outcome reconcile(const std::string& key) override {
    auto item = gc::parse_work_key(key);
    if (!item) return Outcome::terminal(invalid_argument("bad garbage collector key: " + key));
    if (item->kind == gc::WorkItem::Kind::kAttemptToOrphan) return orphan_dependents(item->uid);
    return attempt_to_delete(item->uid);
  }

  // The latest state of a graph node: nullopt when it is gone (or replaced by another uid).
  Result<std::optional<json::value>> latest(const gc::Graph::Node& n) const {
    auto got = client->get(client_resource(*n.resource), n.ns, n.name);
    if (!got.ok()) {
      if (got.status().code() == Code::kNotFound) return std::optional<json::value>();
      return got.status();
    }
    if (client::object_uid(*got) != n.uid) return std::optional<json::value>();
    return std::optional<json::value>(std::move(got).value());
  }

  // Kubernetes' isDangling: the graph first (an observed owner is solid or waiting), then a live
  // GET for an owner the graph lacks.
  Result<gc::OwnerState> classify(const gc::Graph::Node& dependent, const gc::OwnerRef& ref) const {
    {
      std::lock_guard lock(mu);
      const auto* owner = graph.find(ref.uid);
      // A namespaced owner lives in its dependent's namespace; one elsewhere with that uid is
      // not it (the live GET below then looks in the right namespace).
      if (owner && (!owner->resource->namespaced || owner->ns == dependent.ns)) {
        return owner->deleting_dependents ? gc::OwnerState::kWaitingForDependentsDeletion
                                          : gc::OwnerState::kSolid;
      }
    }
    const api::ResourceInfo* info = api::find_kind(ref.api_version, ref.kind);
    // An owner of a kind we do not serve, or a namespaced owner of a cluster-scoped object,
    // cannot be resolved: such a reference keeps the dependent (as Kubernetes does).
    if (!info || (info->namespaced && !dependent.resource->namespaced)) {
      return gc::OwnerState::kSolid;
    }
    auto got = client->get(client_resource(*info), info->namespaced ? dependent.ns : "", ref.name);
    if (!got.ok()) {
      if (got.status().code() == Code::kNotFound) return gc::OwnerState::kDangling;
      return got.status();
    }
    if (client::object_uid(*got) != ref.uid) return gc::OwnerState::kDangling;
    return gc::deleting_dependents(*got) ? gc::OwnerState::kWaitingForDependentsDeletion
                                         : gc::OwnerState::kSolid;
  }

  // A merge patch of `n`; NotFound counts as done.
  Status patch(const gc::Graph::Node& n, const std::string& body) const {
    auto r = client->patch(client_resource(*n.resource), n.ns, n.name, client::PatchType::Merge,
                           body);
    if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
    return Status();
  }

  // Applies `make` to the latest state of `n` and patches, re-reading on a lost race a few times
  // (status writers such as agents race these metadata patches). Gone counts as done.
  template <class MakePatch>
  Status patch_latest(const gc::Graph::Node& n, MakePatch make) const {
    for (int attempt = 0;; ++attempt) {
      auto got = latest(n);
      if (!got.ok()) return got.status();
      if (!got->has_value()) return Status();
      std::optional<std::string> body = make(**got);
      if (!body) return Status();
      Status s = patch(n, *body);
      if (s.ok() || s.code() != Code::kAborted || attempt >= kPatchAttempts) return s;
    }
  }
  static constexpr int kPatchAttempts = 5;

  static Outcome failed(const Status& s) { return Outcome::retry(s); }

  Outcome attempt_to_delete(const std::string& uid) {
    auto v = view(uid);
    if (!v) return Outcome::done();
    const gc::Graph::Node& n = v->node;
    if (n.being_deleted && !n.deleting_dependents) return Outcome::done();
    auto got = latest(n);
    if (!got.ok()) return failed(got.status());
    if (!got->has_value()) return Outcome::done();
    const json::value& object = **got;
    if (gc::deleting_dependents(object)) return process_deleting_dependents(n, object);
    if (gc::being_deleted(object)) return Outcome::done();
    auto refs = gc::owner_references(object);
    if (refs.empty()) return Outcome::done();
    std::vector<gc::ClassifiedOwner> owners;
    for (auto& ref : refs) {
      auto state = classify(n, ref);
      if (!state.ok()) return failed(state.status());
      owners.push_back({std::move(ref), *state});
    }
    auto d = gc::decide_dependent(object, owners, v->has_dependents,
                                  v->a_dependent_deletes_its_dependents);
    switch (d.action) {
      case gc::DependentDecision::Action::kNothing:
        return Outcome::done();
      case gc::DependentDecision::Action::kRemoveOwnerReferences: {
        auto body = gc::remove_owner_references_patch(
            object, std::set<std::string>(d.remove_owner_uids.begin(), d.remove_owner_uids.end()));
        if (!body) return Outcome::done();
        if (auto s = patch(n, *body); !s.ok()) return failed(s);
        return Outcome::done();
      }
      case gc::DependentDecision::Action::kDelete: {
        if (d.unblock_owner_references) {
          if (auto body = gc::unblock_owner_references_patch(object)) {
            if (auto s = patch(n, *body); !s.ok()) return failed(s);
          }
        }
        client::DeleteOptions opts;
        opts.propagation_policy = d.propagation;
        opts.precondition_uid = uid;
        auto r = client->remove(client_resource(*n.resource), n.ns, n.name, opts);
        if (!r.ok() && r.status().code() != Code::kNotFound) return failed(r.status());
        return Outcome::done();
      }
    }
    return Outcome::done();
  }

  // An owner deleting its dependents in the foreground: it goes once none blocks it.
  Outcome process_deleting_dependents(const gc::Graph::Node& n, const json::value& object) {
    std::vector<std::string> blocking, to_look_at;
    {
      std::lock_guard lock(mu);
      blocking = graph.blocking_dependents(n.uid);
      for (const auto& dep : blocking) {
        const auto* d = graph.find(dep);
        if (d && !d->deleting_dependents) to_look_at.push_back(dep);
      }
      std::vector<gc::WorkItem> work;
      for (const auto& dep : to_look_at) work.push_back({gc::WorkItem::Kind::kAttemptToDelete, dep});
      enqueue_locked(work);
    }
    if (!blocking.empty() || !gc::has_finalizer(object, gc::kForegroundDeletionFinalizer)) {
      return Outcome::done();
    }
    if (auto s = patch_latest(n,
                              [](const json::value& o) {
                                return gc::remove_finalizer_patch(
                                    o, gc::kForegroundDeletionFinalizer);
                              });
        !s.ok()) {
      return failed(s);
    }
    return Outcome::done();
  }

  // An owner deleted with propagation Orphan: release every dependent, then let it go.
  Outcome orphan_dependents(const std::string& uid) {
    auto v = view(uid);
    if (!v) return Outcome::done();
    std::vector<gc::Graph::Node> deps;
    {
      std::lock_guard lock(mu);
      for (const auto& dep : graph.dependents(uid)) {
        if (const auto* d = graph.find(dep)) deps.push_back(*d);
      }
    }
    auto owner = latest(v->node);
    if (!owner.ok()) return failed(owner.status());
    if (!owner->has_value() || !gc::orphaning_dependents(**owner)) return Outcome::done();
    const std::set<std::string> owner_uid{uid};
    for (const auto& dep : deps) {
      if (auto s = patch_latest(dep,
                                [&](const json::value& o) {
                                  return gc::remove_owner_references_patch(o, owner_uid);
                                });
          !s.ok()) {
        return failed(s);
      }
    }
    if (auto s = patch_latest(v->node,
                              [](const json::value& o) {
                                return gc::remove_finalizer_patch(o, gc::kOrphanFinalizer);
                              });
        !s.ok()) {
      return failed(s);
    }
    return Outcome::done();
  }
};

GarbageCollector::GarbageCollector(ControllerOptions options, std::shared_ptr<Core> core)
    : SinkController(std::move(options), core, core->sink), core_(std::move(core)) {}

GarbageCollector::~GarbageCollector() = default;

Result<std::unique_ptr<GarbageCollector>> GarbageCollector::create(
    const ControllerContext& ctx, GarbageCollectorOptions options) {
  if (!ctx.client || !ctx.informers) {
    return invalid_argument("garbage collector: the context needs a client and informers");
  }
  auto core = std::make_shared<Core>(ctx.client);
  std::unique_ptr<GarbageCollector> gc(
      new GarbageCollector(controller_options(kGarbageCollectorName, options.workers, ctx), core));
  std::vector<const api::ResourceInfo*> resources = options.resources;
  if (resources.empty()) {
    for (const auto& info : api::all_resources()) resources.push_back(&info);
  }
  for (const api::ResourceInfo* info : resources) {
    client::EventHandlers h;
    h.on_add = [core, info](const client::SharedObject& o) { core->on_observe(*info, *o); };
    h.on_update = [core, info](const client::SharedObject&, const client::SharedObject& o) {
      core->on_observe(*info, *o);
    };
    h.on_delete = [core](const client::SharedObject& o) { core->on_forget(*o); };
    auto s = ctx.informers->informer(client_resource(*info)).add_event_handler(std::move(h));
    if (!s.ok()) {
      return invalid_argument(fmt::format("garbage collector: cannot watch {}: {}",
                                          info->qualified_resource(), s.message()));
    }
  }
  return gc;
}

Result<std::unique_ptr<Controller>> new_garbage_collector(const ControllerContext& ctx) {
  return garbage_collector_registration().factory(ctx);
}

ControllerRegistration garbage_collector_registration(GarbageCollectorOptions options) {
  ControllerRegistration r;
  r.name = kGarbageCollectorName;
  r.component = kGarbageCollectorComponent;
  r.factory = [options](const ControllerContext& ctx) -> Result<std::unique_ptr<Controller>> {
    ORCH_ASSIGN_OR_RETURN(auto gc, GarbageCollector::create(ctx, options));
    return std::unique_ptr<Controller>(std::move(gc));
  };
  return r;
}

std::size_t GarbageCollector::graph_size_for_test() const {
  std::lock_guard lock(core_->mu);
  return core_->graph.size();
}

bool GarbageCollector::in_graph_for_test(std::string_view uid) const {
  std::lock_guard lock(core_->mu);
  return core_->graph.find(uid) != nullptr;
}

}  // namespace orch::controller
