// The resource table and the type-erased operations behind it. Thread-safety: the table is
// built once (function-local static) and never changes.
#include "orch/api/registry.hpp"

#include <cctype>

#include "orch/api/defaults.hpp"
#include "orch/api/field_error.hpp"
#include "orch/api/types.hpp"
#include "orch/api/validation.hpp"

namespace orch::api {

namespace {

std::string json_string_field(const boost::json::object& obj, std::string_view name) {
  const auto it = obj.find(name);
  if (it == obj.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

Status cannot_handle(const ResourceInfo& info, const Status& cause) {
  return bad_request(std::string(info.kind) + " in version \"" + std::string(info.version) +
                     "\" cannot be handled as a " + std::string(info.kind) + ": " +
                     cause.message());
}

template <class T>
Result<T> decode_as(const ResourceInfo& info, const boost::json::value& value,
                    DecodeContext& ctx) {
  Result<T> decoded = decode<T>(value, ctx);
  if (!decoded.ok()) return cannot_handle(info, decoded.status());
  return decoded;
}

template <class T>
struct OpsFor {
  static Result<Normalized> normalize(const ResourceInfo& info, const boost::json::value& body,
                                      const NormalizeOptions& options) {
    if (!body.is_object()) {
      return cannot_handle(info, bad_request("expected object, got " +
                                             std::string(json_kind_name(body))));
    }
    const auto& obj = body.get_object();
    const std::string api_version = json_string_field(obj, "apiVersion");
    if (!api_version.empty() && api_version != info.api_version()) {
      return bad_request("the API version in the data (" + api_version +
                         ") does not match the expected API version (" + info.api_version() +
                         ")");
    }
    const std::string kind = json_string_field(obj, "kind");
    if (!kind.empty() && kind != info.kind) {
      return bad_request("the kind in the data (" + kind + ") does not match the expected kind (" +
                         std::string(info.kind) + ")");
    }
    DecodeContext ctx(DecodeOptions{options.strict});
    ORCH_ASSIGN_OR_RETURN(T typed, decode_as<T>(info, body, ctx));
    typed.api_version = info.api_version();
    typed.kind = std::string(info.kind);
    if (options.apply_defaults) set_defaults(typed);
    return Normalized{encode(typed), ctx.warnings()};
  }

  static Status validate_create(const ResourceInfo& info, const boost::json::value& object) {
    DecodeContext ctx;
    ORCH_ASSIGN_OR_RETURN(T typed, decode_as<T>(info, object, ctx));
    const FieldErrors errs = validate(typed);
    if (errs.empty()) return {};
    return invalid_status(info.qualified_kind(), typed.metadata.name, errs);
  }

  static Status validate_update(const ResourceInfo& info, const boost::json::value& updated,
                                const boost::json::value& old) {
    DecodeContext ctx;
    ORCH_ASSIGN_OR_RETURN(T typed_new, decode_as<T>(info, updated, ctx));
    ORCH_ASSIGN_OR_RETURN(T typed_old, decode_as<T>(info, old, ctx));
    const FieldErrors errs = orch::api::validate_update(typed_new, typed_old);
    if (errs.empty()) return {};
    return invalid_status(info.qualified_kind(), typed_new.metadata.name, errs);
  }

  static constexpr detail::ResourceOps kOps{&normalize, &validate_create, &validate_update};
};

const std::vector<std::string_view> kAllVerbs = {"create", "delete", "deletecollection", "get",
                                                 "list",   "patch",  "update",           "watch"};
const std::vector<std::string_view> kNoCollectionDelete = {"create", "delete", "get",  "list",
                                                           "patch",  "update", "watch"};

template <class T, class List>
ResourceInfo make(std::string_view group, std::string_view resource, std::string_view singular,
                  std::vector<std::string_view> short_names, bool namespaced, bool has_status,
                  bool has_scale, std::vector<std::string_view> categories = {},
                  const std::vector<std::string_view>& verbs = kAllVerbs) {
  ResourceInfo info;
  info.group = group;
  info.version = "v1";
  info.kind = T::kKind;
  info.resource = resource;
  info.singular = singular;
  info.short_names = std::move(short_names);
  info.namespaced = namespaced;
  info.list_kind = List::kKind;
  info.has_status = has_status;
  info.has_scale = has_scale;
  info.verbs = verbs;
  info.categories = std::move(categories);
  info.ops = &OpsFor<T>::kOps;
  return info;
}

std::vector<ResourceInfo> build_table() {
  std::vector<ResourceInfo> t;
  // core/v1
  t.push_back(make<ConfigMap, ConfigMapList>("", "configmaps", "configmap", {"cm"}, true, false,
                                             false));
  t.push_back(make<Endpoints, EndpointsList>("", "endpoints", "endpoints", {"ep"}, true, false,
                                             false));
  t.push_back(make<Event, EventList>("", "events", "event", {"ev"}, true, false, false));
  t.push_back(make<Namespace, NamespaceList>("", "namespaces", "namespace", {"ns"}, false, true,
                                             false, {}, kNoCollectionDelete));
  t.push_back(make<Node, NodeList>("", "nodes", "node", {"no"}, false, true, false));
  t.push_back(make<PersistentVolumeClaim, PersistentVolumeClaimList>(
      "", "persistentvolumeclaims", "persistentvolumeclaim", {"pvc"}, true, true, false));
  t.push_back(make<PersistentVolume, PersistentVolumeList>(
      "", "persistentvolumes", "persistentvolume", {"pv"}, false, true, false));
  t.push_back(make<Pod, PodList>("", "pods", "pod", {"po"}, true, true, false, {"all"}));
  t.push_back(make<Secret, SecretList>("", "secrets", "secret", {}, true, false, false));
  t.push_back(make<Service, ServiceList>("", "services", "service", {"svc"}, true, true, false,
                                         {"all"}, kNoCollectionDelete));
  // apps/v1
  t.push_back(make<ControllerRevision, ControllerRevisionList>(
      "apps", "controllerrevisions", "controllerrevision", {}, true, false, false));
  t.push_back(make<DaemonSet, DaemonSetList>("apps", "daemonsets", "daemonset", {"ds"}, true, true,
                                             false, {"all"}));
  t.push_back(make<Deployment, DeploymentList>("apps", "deployments", "deployment", {"deploy"},
                                               true, true, true, {"all"}));
  t.push_back(make<ReplicaSet, ReplicaSetList>("apps", "replicasets", "replicaset", {"rs"}, true,
                                               true, true, {"all"}));
  t.push_back(make<StatefulSet, StatefulSetList>("apps", "statefulsets", "statefulset", {"sts"},
                                                 true, true, true, {"all"}));
  // coordination.k8s.io/v1
  t.push_back(make<Lease, LeaseList>("coordination.k8s.io", "leases", "lease", {}, true, false,
                                     false));
  // discovery.k8s.io/v1
  t.push_back(make<EndpointSlice, EndpointSliceList>("discovery.k8s.io", "endpointslices",
                                                     "endpointslice", {}, true, false, false));
  // storage.k8s.io/v1
  t.push_back(make<StorageClass, StorageClassList>("storage.k8s.io", "storageclasses",
                                                   "storageclass", {"sc"}, false, false, false));
  return t;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool matches_name(const ResourceInfo& info, std::string_view name) {
  if (iequals(info.resource, name) || iequals(info.singular, name) || iequals(info.kind, name)) {
    return true;
  }
  for (std::string_view s : info.short_names) {
    if (iequals(s, name)) return true;
  }
  return false;
}

}  // namespace

std::string ResourceInfo::api_version() const {
  if (group.empty()) return std::string(version);
  return std::string(group) + "/" + std::string(version);
}

std::string ResourceInfo::qualified_kind() const {
  if (group.empty()) return std::string(kind);
  return std::string(kind) + "." + std::string(group);
}

std::string ResourceInfo::qualified_resource() const {
  if (group.empty()) return std::string(resource);
  return std::string(resource) + "." + std::string(group);
}

const std::vector<ResourceInfo>& all_resources() {
  static const std::vector<ResourceInfo> table = build_table();
  return table;
}

const ResourceInfo* find_resource(std::string_view group, std::string_view version,
                                  std::string_view resource) {
  for (const auto& info : all_resources()) {
    if (info.group == group && info.version == version && info.resource == resource) return &info;
  }
  return nullptr;
}

const ResourceInfo* find_kind(std::string_view api_version, std::string_view kind) {
  std::string_view group;
  std::string_view version = api_version;
  if (const std::size_t slash = api_version.find('/'); slash != std::string_view::npos) {
    group = api_version.substr(0, slash);
    version = api_version.substr(slash + 1);
  }
  for (const auto& info : all_resources()) {
    if (info.group == group && info.version == version && info.kind == kind) return &info;
  }
  return nullptr;
}

const ResourceInfo* find_resource_by_name(std::string_view name) {
  std::string_view base = name;
  std::string_view group;
  bool qualified = false;
  if (const std::size_t dot = name.find('.'); dot != std::string_view::npos) {
    base = name.substr(0, dot);
    group = name.substr(dot + 1);
    qualified = true;
  }
  for (const auto& info : all_resources()) {
    if (!matches_name(info, base)) continue;
    if (qualified && !iequals(info.group, group)) continue;
    return &info;
  }
  return nullptr;
}

std::string storage_prefix(const ResourceInfo& info, std::string_view ns) {
  std::string key = "/registry/";
  key += info.group.empty() ? std::string_view("core") : info.group;
  key += '/';
  key += info.resource;
  key += '/';
  if (info.namespaced && !ns.empty()) {
    key += ns;
    key += '/';
  }
  return key;
}

std::string storage_key(const ResourceInfo& info, std::string_view ns, std::string_view name) {
  std::string key = storage_prefix(info, info.namespaced ? ns : std::string_view());
  key += name;
  return key;
}

Result<Normalized> normalize(const ResourceInfo& info, const boost::json::value& body,
                             const NormalizeOptions& options) {
  if (info.ops == nullptr) return internal_error("resource has no operations");
  return info.ops->normalize(info, body, options);
}

Status validate_create(const ResourceInfo& info, const boost::json::value& object) {
  if (info.ops == nullptr) return internal_error("resource has no operations");
  return info.ops->validate_create(info, object);
}

Status validate_update(const ResourceInfo& info, const boost::json::value& new_object,
                       const boost::json::value& old_object) {
  if (info.ops == nullptr) return internal_error("resource has no operations");
  return info.ops->validate_update(info, new_object, old_object);
}

}  // namespace orch::api
