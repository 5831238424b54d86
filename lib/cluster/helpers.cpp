// apply / wait_for / events over a client. Thread-safety: stateless (see helpers.hpp).
#include "orch/cluster/helpers.hpp"

#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "orch/api/registry.hpp"
#include "orch/api/yaml.hpp"
#include "orch/client/client.hpp"
#include "orch/client/resource.hpp"

namespace orch::cluster {
namespace {

namespace json = boost::json;

client::Resource to_resource(const api::ResourceInfo& info) {
  return client::Resource{std::string(info.group), std::string(info.version),
                          std::string(info.resource), info.namespaced};
}

Result<client::Resource> resolve(std::string_view name) {
  if (const auto* info = api::find_resource_by_name(name)) return to_resource(*info);
  for (const auto& info : api::all_resources()) {
    if (info.kind == name) return to_resource(info);
  }
  return invalid_argument(fmt::format("the server doesn't have a resource type \"{}\"", name));
}

std::string_view str(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto k : path) {
    const auto* o = cur->if_object();
    if (o == nullptr || (cur = o->if_contains(k)) == nullptr) return {};
  }
  return cur->is_string() ? std::string_view(cur->get_string()) : std::string_view();
}

std::int64_t num(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto k : path) {
    const auto* o = cur->if_object();
    if (o == nullptr || (cur = o->if_contains(k)) == nullptr) return 0;
  }
  return cur->is_int64() ? cur->get_int64() : 0;
}

}  // namespace

Result<std::vector<json::value>> apply(const client::Client& client, std::string_view yaml,
                                       std::string_view default_namespace) {
  ORCH_ASSIGN_OR_RETURN(auto docs, api::parse_yaml(yaml));
  std::vector<json::value> out;
  for (auto& doc : docs) {
    if (!doc.is_object()) return invalid_argument("apply: a document is not an object");
    const auto* info = api::find_kind(str(doc, {"apiVersion"}), str(doc, {"kind"}));
    if (info == nullptr) {
      return invalid_argument(fmt::format("apply: no kind \"{}\" in version \"{}\"",
                                          str(doc, {"kind"}), str(doc, {"apiVersion"})));
    }
    const client::Resource resource = to_resource(*info);
    auto& meta = doc.as_object()["metadata"];
    if (!meta.is_object()) meta = json::object();
    std::string ns;
    if (info->namespaced) {
      ns = std::string(str(doc, {"metadata", "namespace"}));
      if (ns.empty()) ns = std::string(default_namespace);
      meta.as_object()["namespace"] = ns;
    }
    auto created = client.create(resource, ns, doc);
    if (created.ok()) {
      out.push_back(std::move(created).value());
      continue;
    }
    if (created.status().code() != Code::kAlreadyExists) return created.status();
    // Replace, retrying when someone else wrote in between.
    for (int attempt = 0;; ++attempt) {
      auto live = client.get(resource, ns, str(doc, {"metadata", "name"}));
      if (!live.ok()) return live.status();
      json::value next = doc;
      next.as_object()["metadata"].as_object()["resourceVersion"] =
          std::string(str(*live, {"metadata", "resourceVersion"}));
      if (const auto* st = live->as_object().if_contains("status")) next.as_object()["status"] = *st;
      auto updated = client.update(resource, ns, next);
      if (updated.ok()) {
        out.push_back(std::move(updated).value());
        break;
      }
      if (updated.status().code() != Code::kAborted || attempt >= 5) return updated.status();
    }
  }
  return out;
}

Result<json::value> wait_for(const client::Client& client, std::string_view resource_name,
                             std::string_view ns, std::string_view name, ObjectPredicate predicate,
                             std::chrono::milliseconds timeout) {
  ORCH_ASSIGN_OR_RETURN(const client::Resource resource, resolve(resource_name));
  const std::string target_ns = resource.namespaced ? std::string(ns) : std::string();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto matches = [&](const json::value& obj) { return !predicate || predicate(obj); };
  std::string last = "not found";
  client::ListOptions lo;
  lo.field_selector = fmt::format("metadata.name={}", name);
  while (true) {
    // A read, then every change after it: nothing missed between the two.
    auto list = client.list(resource, target_ns, lo);
    if (!list.ok()) return list.status();
    if (const auto* items = list->at("items").if_array(); items && !items->empty()) {
      if (matches(items->front())) return items->front();
      last = json::serialize(items->front().at("status"));
    }
    client::WatchOptions wo;
    wo.resource_version = std::string(str(*list, {"metadata", "resourceVersion"}));
    wo.field_selector = lo.field_selector;
    auto watch = client.watch(resource, target_ns, wo);
    if (!watch.ok() && watch.status().code() != Code::kOutOfRange) return watch.status();
    while (watch.ok()) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      auto batch = (*watch)->next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
      if (!batch.ok()) break;  // expired or closed: read again and watch again
      for (const auto& e : *batch) {
        if (e.type == client::WatchEventType::Deleted) {
          last = "deleted";
        } else if (e.type == client::WatchEventType::Added ||
                   e.type == client::WatchEventType::Modified) {
          if (matches(*e.object)) return *e.object;
          const auto* st = e.object->as_object().if_contains("status");
          last = st ? json::serialize(*st) : "{}";
        }
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status(Code::kDeadlineExceeded,
                    fmt::format("timed out after {} ms waiting for {} {}/{}; last seen: {}",
                                timeout.count(), resource.plural, ns, name, last));
    }
  }
}

ObjectPredicate available(std::int64_t replicas) {
  return [replicas](const json::value& o) {
    const std::int64_t generation = num(o, {"metadata", "generation"});
    return num(o, {"status", "observedGeneration"}) >= generation &&
           num(o, {"status", "replicas"}) == replicas &&
           num(o, {"status", "updatedReplicas"}) == replicas &&
           num(o, {"status", "readyReplicas"}) == replicas &&
           (o.as_object().at("kind") == "StatefulSet" ||
            num(o, {"status", "availableReplicas"}) == replicas);
  };
}

ObjectPredicate pod_ready() {
  return [](const json::value& o) {
    if (str(o, {"status", "phase"}) != "Running") return false;
    const auto* st = o.as_object().if_contains("status");
    const auto* conds = st && st->is_object() ? st->as_object().if_contains("conditions") : nullptr;
    if (conds == nullptr || !conds->is_array()) return false;
    return std::any_of(conds->get_array().begin(), conds->get_array().end(), [](const auto& c) {
      return str(c, {"type"}) == "Ready" && str(c, {"status"}) == "True";
    });
  };
}

Result<std::vector<json::value>> events(const client::Client& client, std::string_view ns,
                                        std::string_view involved_name) {
  ORCH_ASSIGN_OR_RETURN(auto list, client.list_all(client::resources::kEvents, ns));
  std::vector<json::value> out;
  for (auto& e : list.items) {
    if (involved_name.empty() || str(e, {"involvedObject", "name"}) == involved_name) {
      out.push_back(std::move(e));
    }
  }
  auto when = [](const json::value& e) {
    for (auto field : {"lastTimestamp", "eventTime"}) {
      if (auto t = str(e, {field}); !t.empty()) return std::string(t);
    }
    return std::string(str(e, {"metadata", "creationTimestamp"}));
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const json::value& a, const json::value& b) { return when(a) < when(b); });
  return out;
}

}  // namespace orch::cluster
