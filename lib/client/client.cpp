// Client: REST verbs over a Transport. Thread-safety: const methods over a thread-safe Transport;
// no state of its own.
#include "orch/client/client.hpp"

#include <boost/json.hpp>

namespace orch::client {

namespace json = boost::json;

std::string_view patch_content_type(PatchType type) {
  switch (type) {
    case PatchType::Strategic: return "application/strategic-merge-patch+json";
    case PatchType::Merge: return "application/merge-patch+json";
    case PatchType::Json: return "application/json-patch+json";
    case PatchType::Apply: return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

namespace {

constexpr std::int64_t kDefaultPageSize = 500;

// The namespace a request goes to: `ns`, else the object's; none for cluster-scoped resources.
Result<std::string> resolve_namespace(const Resource& r, std::string_view ns,
                                      const json::value* object = nullptr) {
  if (!r.namespaced) return std::string();
  if (ns.empty() && object) ns = object_namespace(*object);
  if (ns.empty()) {
    return invalid_argument("a namespace is required for " + r.qualified_name());
  }
  if (ns.find('/') != std::string_view::npos) {
    return invalid_argument("invalid namespace \"" + std::string(ns) + "\"");
  }
  return std::string(ns);
}

Status check_name(const Resource& r, std::string_view name) {
  if (name.empty()) return invalid_argument("a name is required for " + r.qualified_name());
  if (name == "." || name == ".." || name.find('/') != std::string_view::npos) {
    return invalid_argument("invalid name \"" + std::string(name) + "\"");
  }
  return ok_status();
}

void add_write_options(HttpRequest& req, const WriteOptions& o) {
  if (o.dry_run) req.query["dryRun"] = "All";
  if (!o.field_manager.empty()) req.query["fieldManager"] = o.field_manager;
  if (!o.field_validation.empty()) req.query["fieldValidation"] = o.field_validation;
  req.timeout = o.timeout;
}

void add_list_options(HttpRequest& req, const ListOptions& o) {
  if (!o.label_selector.empty()) req.query["labelSelector"] = o.label_selector;
  if (!o.field_selector.empty()) req.query["fieldSelector"] = o.field_selector;
  if (o.limit > 0) req.query["limit"] = std::to_string(o.limit);
  if (!o.continue_token.empty()) req.query["continue"] = o.continue_token;
  if (!o.resource_version.empty()) req.query["resourceVersion"] = o.resource_version;
  req.timeout = o.timeout;
}

// DeleteOptions as query parameters and as the JSON body kubectl sends; nullopt body when every
// option is at its default.
void add_delete_options(HttpRequest& req, const DeleteOptions& o) {
  json::object body{{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  bool any = false;
  if (o.grace_period_seconds) {
    req.query["gracePeriodSeconds"] = std::to_string(*o.grace_period_seconds);
    body["gracePeriodSeconds"] = *o.grace_period_seconds;
    any = true;
  }
  if (!o.propagation_policy.empty()) {
    req.query["propagationPolicy"] = o.propagation_policy;
    body["propagationPolicy"] = o.propagation_policy;
    any = true;
  }
  if (!o.precondition_uid.empty() || !o.precondition_resource_version.empty()) {
    json::object pre;
    if (!o.precondition_uid.empty()) pre["uid"] = o.precondition_uid;
    if (!o.precondition_resource_version.empty()) {
      pre["resourceVersion"] = o.precondition_resource_version;
    }
    body["preconditions"] = std::move(pre);
    any = true;
  }
  if (o.dry_run) {
    req.query["dryRun"] = "All";
    body["dryRun"] = json::array{"All"};
    any = true;
  }
  if (any) req.body = json::serialize(body);
  req.timeout = o.timeout;
}

std::string string_field(const json::value& v, std::string_view a, std::string_view b) {
  const auto* o = v.if_object();
  if (!o) return {};
  const auto* x = o->if_contains(a);
  if (!x || !x->is_object()) return {};
  const auto* y = x->get_object().if_contains(b);
  if (!y || !y->is_string()) return {};
  return std::string(y->get_string());
}

}  // namespace

Client::Client(std::shared_ptr<Transport> transport) : transport_(std::move(transport)) {
  ORCH_CHECK(transport_ != nullptr);
}

Result<json::value> Client::send_json(HttpRequest request) const {
  ORCH_ASSIGN_OR_RETURN(HttpResponse response, transport_->request(request));
  if (response.body.empty()) return json::value();
  boost::system::error_code ec;
  json::value v = json::parse(response.body, ec);
  if (ec) {
    return internal_error("malformed JSON from the server for " + request.method + " " +
                          request.path + ": " + ec.message());
  }
  return v;
}

Result<json::value> Client::get(const Resource& r, std::string_view ns, std::string_view name,
                                const GetOptions& options) const {
  ORCH_ASSIGN_OR_RETURN(std::string n, resolve_namespace(r, ns));
  ORCH_TRY(check_name(r, name));
  HttpRequest req;
  req.path = resource_path(r, n, name);
  if (!options.resource_version.empty()) req.query["resourceVersion"] = options.resource_version;
  req.timeout = options.timeout;
  return send_json(std::move(req));
}

Result<json::value> Client::list(const Resource& r, std::string_view ns,
                                 const ListOptions& options) const {
  HttpRequest req;
  req.path = resource_path(r, ns);
  add_list_options(req, options);
  return send_json(std::move(req));
}

Result<ObjectList> Client::list_all(const Resource& r, std::string_view ns,
                                    ListOptions options) const {
  if (options.limit <= 0) options.limit = kDefaultPageSize;
  ObjectList out;
  bool paged = true;
  while (true) {
    auto page = list(r, ns, options);
    if (!page.ok() && page.status().code() == Code::kOutOfRange && paged &&
        !options.continue_token.empty()) {
      // The continue token expired mid-way: start over with one consistent, unpaged list.
      out.items.clear();
      options.limit = 0;
      options.continue_token.clear();
      paged = false;
      continue;
    }
    if (!page.ok()) return page.status();
    auto* obj = page->if_object();
    if (!obj) return internal_error("list of " + r.qualified_name() + " is not a JSON object");
    if (auto* items = obj->if_contains("items"); items && items->is_array()) {
      auto& arr = items->get_array();
      out.items.reserve(out.items.size() + arr.size());
      for (auto& item : arr) out.items.push_back(std::move(item));
    }
    std::string rv = string_field(*page, "metadata", "resourceVersion");
    if (!rv.empty()) out.resource_version = std::move(rv);
    std::string next = string_field(*page, "metadata", "continue");
    if (next.empty() || !paged) break;
    options.continue_token = std::move(next);
    // The continue token carries the version the first page was read at.
    options.resource_version.clear();
  }
  return out;
}

Result<json::value> Client::create(const Resource& r, std::string_view ns,
                                   const json::value& object, const WriteOptions& options) const {
  ORCH_ASSIGN_OR_RETURN(std::string n, resolve_namespace(r, ns, &object));
  HttpRequest req;
  req.method = "POST";
  req.path = resource_path(r, n);
  req.body = json::serialize(object);
  add_write_options(req, options);
  return send_json(std::move(req));
}

Result<json::value> Client::update(const Resource& r, std::string_view ns,
                                   const json::value& object, const WriteOptions& options) const {
  return update_subresource(r, ns, object_name(object), "", object, options);
}

Result<json::value> Client::update_status(const Resource& r, std::string_view ns,
                                          const json::value& object,
                                          const WriteOptions& options) const {
  return update_subresource(r, ns, object_name(object), "status", object, options);
}

Result<json::value> Client::patch(const Resource& r, std::string_view ns, std::string_view name,
                                  PatchType type, std::string_view patch,
                                  const WriteOptions& options,
                                  std::string_view subresource) const {
  ORCH_ASSIGN_OR_RETURN(std::string n, resolve_namespace(r, ns));
  ORCH_TRY(check_name(r, name));
  if (type == PatchType::Apply && options.field_manager.empty()) {
    return invalid_argument("server-side apply needs a field manager");
  }
  HttpRequest req;
  req.method = "PATCH";
  req.path = resource_path(r, n, name, subresource);
  req.headers["Content-Type"] = std::string(patch_content_type(type));
  req.body = std::string(patch);
  add_write_options(req, options);
  if (type == PatchType::Apply && options.force) req.query["force"] = "true";
  return send_json(std::move(req));
}

Result<json::value> Client::remove(const Resource& r, std::string_view ns, std::string_view name,
                                   const DeleteOptions& options) const {
  ORCH_ASSIGN_OR_RETURN(std::string n, resolve_namespace(r, ns));
  ORCH_TRY(check_name(r, name));
  HttpRequest req;
  req.method = "DELETE";
  req.path = resource_path(r, n, name);
  add_delete_options(req, options);
  return send_json(std::move(req));
}

Result<json::value> Client::remove_collection(const Resource& r, std::string_view ns,
                                              const ListOptions& list_options,
                                              const DeleteOptions& options) const {
  HttpRequest req;
  req.method = "DELETE";
  req.path = resource_path(r, ns);
  add_list_options(req, list_options);
  add_delete_options(req, options);
  if (options.timeout.count() == 0) req.timeout = list_options.timeout;
  return send_json(std::move(req));
}

Result<json::value> Client::get_subresource(const Resource& r, std::string_view ns,
                                            std::string_view name, std::string_view subresource,
                                            const GetOptions& options) const {
  ORCH_ASSIGN_OR_RETURN(std::string n, resolve_namespace(r, ns));
  ORCH_TRY(check_name(r, name));
  HttpRequest req;
  req.path = resource_path(r, n, name, subresource);
  if (!options.resource_version.empty()) req.query["resourceVersion"] = options.resource_version;
  req.timeout = options.timeout;
  return send_json(std::move(req));
}

Result<json::value> Client::write_subresource(std::string method, const Resource& r,
                                              std::string_view ns, std::string_view name,
                                              std::string_view subresource,
                                              const json::value& object,
                                              const WriteOptions& options) const {
  ORCH_ASSIGN_OR_RETURN(std::string n, resolve_namespace(r, ns, &object));
  ORCH_TRY(check_name(r, name));
  HttpRequest req;
  req.method = std::move(method);
  req.path = resource_path(r, n, name, subresource);
  req.body = json::serialize(object);
  add_write_options(req, options);
  return send_json(std::move(req));
}

Result<json::value> Client::update_subresource(const Resource& r, std::string_view ns,
                                               std::string_view name,
                                               std::string_view subresource,
                                               const json::value& object,
                                               const WriteOptions& options) const {
  return write_subresource("PUT", r, ns, name, subresource, object, options);
}

Result<json::value> Client::create_subresource(const Resource& r, std::string_view ns,
                                               std::string_view name,
                                               std::string_view subresource,
                                               const json::value& object,
                                               const WriteOptions& options) const {
  return write_subresource("POST", r, ns, name, subresource, object, options);
}

Status Client::bind(std::string_view ns, std::string_view pod, std::string_view node,
                    const WriteOptions& options) const {
  if (node.empty()) return invalid_argument("a node name is required to bind a pod");
  json::value binding{
      {"apiVersion", "v1"},
      {"kind", "Binding"},
      {"metadata", {{"name", pod}, {"namespace", ns}}},
      {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
  return create_subresource(resources::kPods, ns, pod, "binding", binding, options).status();
}

Result<std::unique_ptr<WatchStream>> Client::watch(const Resource& r, std::string_view ns,
                                                   const WatchOptions& options) const {
  HttpRequest req;
  req.path = resource_path(r, ns);
  req.query["watch"] = "true";
  if (!options.resource_version.empty()) req.query["resourceVersion"] = options.resource_version;
  if (!options.label_selector.empty()) req.query["labelSelector"] = options.label_selector;
  if (!options.field_selector.empty()) req.query["fieldSelector"] = options.field_selector;
  if (options.allow_bookmarks) req.query["allowWatchBookmarks"] = "true";
  if (options.timeout_seconds > 0) {
    req.query["timeoutSeconds"] = std::to_string(options.timeout_seconds);
  }
  req.timeout = options.timeout;
  ORCH_ASSIGN_OR_RETURN(std::unique_ptr<ByteStream> body, transport_->stream(req));
  return std::make_unique<WatchStream>(std::move(body));
}

}  // namespace orch::client
