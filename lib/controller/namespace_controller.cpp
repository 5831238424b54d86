// The namespace lifecycle controller: the condition logic (ns_deletion::) and the reconciler that
// empties a Terminating namespace, then finalizes it. Thread-safety: handlers queue keys through the
// Core's KeySink (its own lock); reconcile() keeps no state between calls.
#include "orch/controller/namespace_controller.hpp"

#include <boost/json/object.hpp>
#include <algorithm>
#include <mutex>
#include <utility>

#include <fmt/format.h>

#include "orch/api/time.hpp"
#include "orch/client/resource.hpp"
#include "orch/util/clock.hpp"
#include "json_util.hpp"

namespace orch::controller {

namespace json = boost::json;

namespace ns_deletion {

namespace {

struct ConditionType {
  std::string_view type;
  std::string_view ok_reason;
  std::string_view ok_message;
};

// The types the controller maintains, in Kubernetes' order, with their "ok" variants.
constexpr ConditionType kConditionTypes[] = {
    {"NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered",
     "All resources successfully discovered"},
    {"NamespaceDeletionGVParsingFailure", "ParsedGroupVersions",
     "All legacy kube types successfully parsed"},
    {"NamespaceDeletionContentFailure", "ContentDeleted",
     "All content successfully deleted, may be waiting on finalization"},
    {"NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"},
    {"NamespaceFinalizersRemaining", "ContentHasNoFinalizers",
     "All content-preserving finalizers finished"},
};

std::string field(const json::value& o, std::string_view key) {
  return std::string(json_util::str_at(o, {key}));
}

json::value* find_condition(json::array& conditions, std::string_view type) {
  for (auto& c : conditions) {
    if (field(c, "type") == type) return &c;
  }
  return nullptr;
}

const json::value* find_condition(const json::array& conditions, std::string_view type) {
  for (const auto& c : conditions) {
    if (field(c, "type") == type) return &c;
  }
  return nullptr;
}

json::object condition(std::string_view type, std::string_view status, std::string_view reason,
                       std::string message, std::string_view now) {
  return json::object{{"type", type},     {"status", status},
                      {"lastTransitionTime", now},
                      {"reason", reason}, {"message", std::move(message)}};
}

std::string join(std::vector<std::string> parts) {
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += ", ";
    out += p;
  }
  return out;
}

}  // namespace

json::array failing_conditions(const ContentTotals& totals,
                               const std::vector<std::string>& delete_errors,
                               std::string_view now) {
  json::array out;
  if (!delete_errors.empty()) {
    out.push_back(condition("NamespaceDeletionContentFailure", "True", "ContentDeletionFailed",
                            fmt::format("Failed to delete all resource types, {} remaining: {}",
                                        delete_errors.size(), join(delete_errors)),
                            now));
  }
  std::vector<std::string> remaining;
  for (const auto& [gr, n] : totals.remaining) {
    if (n > 0) remaining.push_back(fmt::format("{} has {} resource instances", gr, n));
  }
  if (!remaining.empty()) {
    out.push_back(condition("NamespaceContentRemaining", "True", "SomeResourcesRemain",
                            "Some resources are remaining: " + join(std::move(remaining)), now));
  }
  std::vector<std::string> finalizers;
  for (const auto& [f, n] : totals.finalizers) {
    if (n > 0) finalizers.push_back(fmt::format("{} in {} resource instances", f, n));
  }
  if (!finalizers.empty()) {
    out.push_back(condition("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
                            "Some content in the namespace has finalizers remaining: " +
                                join(std::move(finalizers)),
                            now));
  }
  return out;
}

bool update_conditions(json::value& status, const json::array& failing, std::string_view now) {
  if (!status.is_object()) status = json::object();
  auto& conds = status.as_object()["conditions"];
  if (!conds.is_array()) conds = json::array();
  auto& list = conds.as_array();
  bool changed = false;
  for (const auto& t : kConditionTypes) {
    json::value wanted;
    if (const auto* f = find_condition(failing, t.type)) {
      wanted = *f;
    } else {
      wanted = condition(t.type, "False", t.ok_reason, std::string(t.ok_message), now);
    }
    json::value* old = find_condition(list, t.type);
    if (!old) {
      list.push_back(std::move(wanted));
      changed = true;
      continue;
    }
    if (field(*old, "status") == field(wanted, "status") &&
        field(*old, "reason") == field(wanted, "reason") &&
        field(*old, "message") == field(wanted, "message")) {
      continue;
    }
    auto& o = old->as_object();
    if (field(*old, "status") != field(wanted, "status")) o["lastTransitionTime"] = now;
    o["status"] = field(wanted, "status");
    o["reason"] = field(wanted, "reason");
    o["message"] = field(wanted, "message");
    changed = true;
  }
  return changed;
}

bool awaits_content_removal(const json::value& ns) {
  if (!ns.is_object()) return false;
  const auto* spec = ns.get_object().if_contains("spec");
  if (!spec || !spec->is_object()) return false;
  const auto* f = spec->get_object().if_contains("finalizers");
  if (!f || !f->is_array()) return false;
  for (const auto& x : f->get_array()) {
    if (x.is_string() && x.get_string() == kKubernetesFinalizer) return true;
  }
  return false;
}

}  // namespace ns_deletion

// ----------------------------------------------------------------------- NamespaceController

namespace {

client::Resource client_resource(const api::ResourceInfo& info) {
  return client::Resource{std::string(info.group), std::string(info.version),
                          std::string(info.resource), info.namespaced};
}

using json_util::finalizers_of;

bool being_deleted(const json::value& object) { return json_util::is_deleting(object); }

bool has_verb(const api::ResourceInfo& info, std::string_view verb) {
  return std::find(info.verbs.begin(), info.verbs.end(), verb) != info.verbs.end();
}

}  // namespace

struct NamespaceController::Core : Reconciler {
  Core(std::shared_ptr<client::Client> c, util::Clock* clk, NamespaceControllerOptions o)
      : client(std::move(c)), clock(clk ? clk : &util::real_clock()), options(std::move(o)) {
    if (options.resources.empty()) {
      for (const auto& info : api::all_resources()) {
        if (info.namespaced) options.resources.push_back(&info);
      }
    }
  }

  // Const after construction.
  const std::shared_ptr<client::Client> client;
  util::Clock* const clock;
  NamespaceControllerOptions options;

  // Where handlers queue keys (KeySink has its own lock).
  const std::shared_ptr<KeySink> sink = std::make_shared<KeySink>();

  void on_change(const json::value& ns) {
    if (!being_deleted(ns)) return;
    sink->add(client::object_name(ns));
  }

  std::string now() const {
    api::Time t;
    t.value = std::chrono::time_point_cast<std::chrono::seconds>(clock->system_now());
    return t.to_string();
  }

  // Deletes what `info` has in `ns`, then counts what is left. Errors go to `errors`.
  void delete_content(const api::ResourceInfo& info, const std::string& ns,
                      ns_deletion::ContentTotals& totals, std::vector<std::string>& errors) {
    const client::Resource res = client_resource(info);
    client::DeleteOptions background;
    background.propagation_policy = "Background";
    if (has_verb(info, "deletecollection")) {
      auto r = client->remove_collection(res, ns, {}, background);
      if (!r.ok() && r.status().code() != Code::kNotFound) {
        errors.push_back(fmt::format("{}: {}", info.qualified_resource(), r.status().message()));
      }
    } else {
      auto list = client->list_all(res, ns);
      if (!list.ok()) {
        errors.push_back(fmt::format("{}: {}", info.qualified_resource(), list.status().message()));
        return;
      }
      for (const auto& item : list->items) {
        if (being_deleted(item)) continue;
        auto r = client->remove(res, ns, client::object_name(item), background);
        if (!r.ok() && r.status().code() != Code::kNotFound) {
          errors.push_back(fmt::format("{} \"{}\": {}", info.qualified_resource(),
                                       client::object_name(item), r.status().message()));
        }
      }
    }
    auto left = client->list_all(res, ns);
    if (!left.ok()) {
      errors.push_back(fmt::format("{}: {}", info.qualified_resource(), left.status().message()));
      return;
    }
    if (left->items.empty()) return;
    totals.remaining[fmt::format("{}.{}", info.resource, info.group)] +=
        static_cast<int>(left->items.size());
    for (const auto& item : left->items) {
      for (const auto& f : finalizers_of(item)) ++totals.finalizers[f];
    }
  }

  Outcome reconcile(const std::string& name) override {
    const client::Resource& nsr = client::resources::kNamespaces;
    auto got = client->get(nsr, "", name);
    if (!got.ok()) {
      if (got.status().code() == Code::kNotFound) return Outcome::done();
      return Outcome::retry(got.status());
    }
    if (!being_deleted(*got) || !ns_deletion::awaits_content_removal(*got)) return Outcome::done();

    ns_deletion::ContentTotals totals;
    std::vector<std::string> errors;
    for (const api::ResourceInfo* info : options.resources) {
      delete_content(*info, name, totals, errors);
    }

    // Conditions, on the latest namespace (a status write races only with the API server's).
    auto latest = client->get(nsr, "", name);
    if (!latest.ok()) {
      if (latest.status().code() == Code::kNotFound) return Outcome::done();
      return Outcome::retry(latest.status());
    }
    json::value ns = std::move(latest).value();
    auto& status = ns.as_object()["status"];
    bool changed = ns_deletion::update_conditions(
        status, ns_deletion::failing_conditions(totals, errors, now()), now());
    if (!status.is_object()) status = json::object();
    if (auto* p = status.as_object().if_contains("phase");
        !p || !p->is_string() || p->get_string() != "Terminating") {
      status.as_object()["phase"] = "Terminating";
      changed = true;
    }
    if (changed) {
      auto written = client->update_status(nsr, "", ns);
      if (!written.ok()) {
        if (written.status().code() == Code::kNotFound) return Outcome::done();
        return Outcome::retry(written.status());
      }
      ns = std::move(written).value();
    }

    if (!errors.empty()) {
      return Outcome::retry(Status(Code::kUnavailable,
                                   fmt::format("namespace {}: {} deletions failed, first: {}",
                                               name, errors.size(), errors.front())));
    }
    if (!totals.remaining.empty()) return Outcome::requeue_after(options.content_recheck);

    // Empty: drop our finalizer; the API server deletes the namespace when none is left.
    json::array kept;
    if (auto* spec = ns.as_object().if_contains("spec"); spec && spec->is_object()) {
      if (auto* f = spec->get_object().if_contains("finalizers"); f && f->is_array()) {
        for (const auto& x : f->get_array()) {
          if (!(x.is_string() && x.get_string() == ns_deletion::kKubernetesFinalizer)) {
            kept.push_back(x);
          }
        }
      }
    }
    auto& spec = ns.as_object()["spec"];
    if (!spec.is_object()) spec = json::object();
    spec.as_object()["finalizers"] = std::move(kept);
    auto fin = client->update_subresource(nsr, "", name, "finalize", ns);
    if (!fin.ok() && fin.status().code() != Code::kNotFound) return Outcome::retry(fin.status());
    return Outcome::done();
  }
};

NamespaceController::NamespaceController(ControllerOptions options, std::shared_ptr<Core> core)
    : SinkController(std::move(options), core, core->sink), core_(std::move(core)) {}

NamespaceController::~NamespaceController() = default;

Result<std::unique_ptr<NamespaceController>> NamespaceController::create(
    const ControllerContext& ctx, NamespaceControllerOptions options) {
  if (!ctx.client || !ctx.informers) {
    return invalid_argument("namespace controller: the context needs a client and informers");
  }
  auto core = std::make_shared<Core>(ctx.client, ctx.clock, std::move(options));
  std::unique_ptr<NamespaceController> c(
      new NamespaceController(
      controller_options(kNamespaceControllerName, core->options.workers, ctx), core));
  client::EventHandlers h;
  h.on_add = [core](const client::SharedObject& o) { core->on_change(*o); };
  h.on_update = [core](const client::SharedObject&, const client::SharedObject& o) {
    core->on_change(*o);
  };
  auto s = ctx.informers->informer(client::resources::kNamespaces).add_event_handler(std::move(h));
  if (!s.ok()) {
    return invalid_argument("namespace controller: cannot watch namespaces: " + s.message());
  }
  return c;
}

Result<std::unique_ptr<Controller>> new_namespace_controller(const ControllerContext& ctx) {
  return namespace_controller_registration().factory(ctx);
}

ControllerRegistration namespace_controller_registration(NamespaceControllerOptions options) {
  ControllerRegistration r;
  r.name = kNamespaceControllerName;
  r.component = kNamespaceControllerComponent;
  r.factory = [options](const ControllerContext& ctx) -> Result<std::unique_ptr<Controller>> {
    ORCH_ASSIGN_OR_RETURN(auto c, NamespaceController::create(ctx, options));
    return std::unique_ptr<Controller>(std::move(c));
  };
  return r;
}

}  // namespace orch::controller
