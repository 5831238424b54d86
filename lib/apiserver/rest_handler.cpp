// The REST handler: routing, admission and the generic registry for every resource, over the
// Store; and ApiServer, which assembles it with the watch hub and the HTTP listener.
//
// Objects are stored as JSON without resourceVersion (it is the store's mod_revision and is set on
// every read). Keys: /registry/<group or "core">/<resource>/[<namespace>/]<name>.
//
// Thread-safety: ApiHandler::handle runs on many threads at once; it keeps no mutable state of
// its own (the store and the hub are thread-safe).
#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>

#include <boost/json.hpp>

#include "orch/api/selector.hpp"
#include "orch/api/time.hpp"
#include "orch/api/yaml.hpp"
#include "orch/apiserver/api_server.hpp"
#include "orch/apiserver/patch.hpp"
#include "orch/apiserver/protobuf.hpp"
#include "orch/apiserver/status_body.hpp"
#include "orch/apiserver/table.hpp"
#include "orch/api/registry.hpp"
#include "pod_proxy.hpp"
#include "rest_util.hpp"
#include "service_alloc.hpp"
#include "watch_hub.hpp"

namespace orch::apiserver {
namespace {

namespace json = boost::json;

constexpr int kMaxCasRetries = 16;
constexpr std::string_view kServerMinor = "32";

// ---------------------------------------------------------------- small helpers

Response json_response(int status, const json::value& body) {
  Response r;
  r.status = status;
  r.body = json::serialize(body);
  return r;
}

Response text_response(int status, std::string body, std::string content_type = "text/plain") {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

Response not_found_path() {
  return status_response(not_found("the server could not find the requested resource"));
}

Response method_not_allowed() {
  Response r;
  r.status = 405;
  json::object o{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object{}},
                 {"status", "Failure"},
                 {"message", "the server does not allow this method on the requested resource"},
                 {"reason", "MethodNotAllowed"}, {"code", 405}};
  r.body = json::serialize(o);
  return r;
}

Response unsupported_media_type(const std::string& content_type) {
  Response r;
  r.status = 415;
  json::object o{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object{}},
                 {"status", "Failure"},
                 {"message", "the body of the request was in an unknown format - accepted media "
                             "types include: application/json-patch+json, "
                             "application/merge-patch+json, application/strategic-merge-patch+json "
                             "(got \"" + content_type + "\")"},
                 {"reason", "UnsupportedMediaType"}, {"code", 415}};
  r.body = json::serialize(o);
  return r;
}

json::object& obj(json::value& v) { return v.as_object(); }

json::object& meta_of(json::value& v) {
  auto& m = obj(v)["metadata"];
  if (!m.is_object()) m = json::object();
  return m.as_object();
}

const json::object* meta_of(const json::value& v) {
  if (!v.is_object()) return nullptr;
  auto* m = v.get_object().if_contains("metadata");
  return m && m->is_object() ? &m->get_object() : nullptr;
}

std::string meta_str(const json::value& v, std::string_view field) {
  auto* m = meta_of(v);
  if (!m) return {};
  auto* f = m->if_contains(field);
  return f && f->is_string() ? std::string(f->get_string()) : std::string();
}

std::map<std::string, std::string> labels_of(const json::value& v) {
  std::map<std::string, std::string> out;
  auto* m = meta_of(v);
  if (!m) return out;
  auto* l = m->if_contains("labels");
  if (!l || !l->is_object()) return out;
  for (const auto& [k, val] : l->get_object()) {
    if (val.is_string()) out.emplace(std::string(k), std::string(val.get_string()));
  }
  return out;
}

// metadata.finalizers, and for a Namespace also spec.finalizers ("kubernetes", which the namespace
// controller removes through namespaces/<name>/finalize once the namespace is empty): an object
// being deleted stays while either is non-empty.
bool has_finalizers(const json::value& v) {
  auto* m = meta_of(v);
  if (!m) return false;
  auto* f = m->if_contains("finalizers");
  if (f && f->is_array() && !f->get_array().empty()) return true;
  const auto* kind = v.get_object().if_contains("kind");
  if (!kind || !kind->is_string() || kind->get_string() != "Namespace") return false;
  const auto* spec = v.get_object().if_contains("spec");
  const auto* sf = spec && spec->is_object() ? spec->get_object().if_contains("finalizers") : nullptr;
  return sf && sf->is_array() && !sf->get_array().empty();
}

// A namespace's spec.finalizers change only through namespaces/<name>/finalize (Kubernetes'
// namespace strategy): any other write keeps the stored ones, and a finalize keeps what it asked
// for even when that is empty (defaulting would put "kubernetes" back).
void keep_namespace_finalizers(bool finalize, const json::value& current,
                               const json::value& requested, json::value& out) {
  const json::value& from = finalize ? requested : current;
  json::value fin = json::array();
  if (const auto* spec = from.get_object().if_contains("spec"); spec && spec->is_object()) {
    if (const auto* f = spec->get_object().if_contains("finalizers"); f && f->is_array()) fin = *f;
  }
  auto& spec = out.as_object()["spec"];
  if (!spec.is_object()) spec = json::object();
  spec.as_object()["finalizers"] = std::move(fin);
}

std::string now_rfc3339() { return api::Time::now().to_string(); }

// Parses a request body as JSON, or as YAML when the client says so.
Result<json::value> parse_body(const Request& req) {
  std::string_view ct = req.header("content-type");
  if (ct.find("yaml") != std::string_view::npos) {
    ORCH_ASSIGN_OR_RETURN(auto docs, api::parse_yaml(req.body));
    if (docs.size() != 1) return bad_request("expected exactly one YAML document in the body");
    return std::move(docs[0]);
  }
  if (ct.find("protobuf") != std::string_view::npos) {
    // kubectl 1.32's typed commands (create deployment, configmap, namespace, ...) send these.
    return decode_kubernetes_protobuf(req.body);
  }
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec) {
    return bad_request("the body of the request was in an unknown format: " + ec.message());
  }
  return v;
}

std::vector<std::pair<std::string, std::string>> warning_headers(
    const std::vector<std::string>& warnings) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& w : warnings) {
    std::string escaped;
    for (char c : w) {
      if (c == '"' || c == '\\') escaped += '\\';
      escaped += c;
    }
    out.emplace_back("Warning", "299 - \"" + escaped + "\"");
  }
  return out;
}

// ---------------------------------------------------------------- routing

struct Route {
  const api::ResourceInfo* resource = nullptr;
  std::string namespace_;  // "" for cluster-scoped or all namespaces
  std::string name;
  std::string subresource;
};

// ---------------------------------------------------------------- the handler

class ApiHandler final : public Handler {
 public:
  ApiHandler(store::Store& store, std::shared_ptr<WatchHub> hub, const ApiServerOptions& options,
             std::unique_ptr<ServiceAllocator> services)
      : store_(store), hub_(std::move(hub)), options_(options), services_(std::move(services)) {}

  Response handle(const Request& req) override {
    const std::string& p = req.path;
    if (p == "/healthz" || p == "/livez" || p == "/readyz" || p.starts_with("/healthz/") ||
        p.starts_with("/livez/") || p.starts_with("/readyz/")) {
      return text_response(200, "ok");
    }
    if (p == "/version" || p == "/version/") return version();
    if (p == "/openapi/v2") {
      // An empty protobuf Document: kubectl then validates nothing and uses its built-in
      // strategic-merge metadata (reference §2.1).
      return text_response(200, "", "application/octet-stream");
    }
    if (p == "/api" || p == "/api/") return api_versions();
    if (p == "/apis" || p == "/apis/") return api_groups();

    std::vector<std::string_view> seg = split_path(p);
    std::string_view group, version;
    std::size_t i = 0;
    if (seg.size() >= 2 && seg[0] == "api") {
      version = seg[1];
      i = 2;
    } else if (seg.size() >= 3 && seg[0] == "apis") {
      group = seg[1];
      version = seg[2];
      i = 3;
    } else if (seg.size() == 2 && seg[0] == "apis") {
      return api_group(seg[1]);
    } else {
      return not_found_path();
    }
    if (i == seg.size()) return resource_list(group, version);

    Route route;
    std::vector<std::string_view> rest(seg.begin() + static_cast<std::ptrdiff_t>(i), seg.end());
    if (rest.size() >= 3 && rest[0] == "namespaces") {
      const api::ResourceInfo* r = api::find_resource(group, version, rest[2]);
      if (r && r->namespaced) {
        route.resource = r;
        route.namespace_ = std::string(rest[1]);
        rest.erase(rest.begin(), rest.begin() + 3);
      }
    }
    if (!route.resource) {
      route.resource = api::find_resource(group, version, rest[0]);
      if (!route.resource) return not_found_path();
      rest.erase(rest.begin());
    }
    if (!rest.empty()) route.name = std::string(rest[0]);
    if (rest.size() >= 2) route.subresource = std::string(rest[1]);
    if (rest.size() > 2) return not_found_path();
    return dispatch(req, route);
  }

 private:
  static std::vector<std::string_view> split_path(std::string_view p) {
    std::vector<std::string_view> out;
    while (!p.empty()) {
      auto s = p.find('/');
      if (s == 0) {
        p.remove_prefix(1);
        continue;
      }
      out.push_back(p.substr(0, s));
      if (s == std::string_view::npos) break;
      p.remove_prefix(s + 1);
    }
    return out;
  }

  // ---------------------------------------------------------------- discovery

  Response version() const {
    json::object o{{"major", "1"},
                   {"minor", std::string(kServerMinor)},
                   {"gitVersion", "v1." + std::string(kServerMinor) + ".0-orch"},
                   {"gitCommit", "liborch"},
                   {"gitTreeState", "clean"},
                   {"buildDate", "2026-01-01T00:00:00Z"},
                   {"goVersion", "c++20"},
                   {"compiler", "gc"},
                   {"platform", "linux/amd64"}};
    return json_response(200, o);
  }

  Response api_versions() const {
    json::object o{{"kind", "APIVersions"},
                   {"versions", json::array{"v1"}},
                   {"serverAddressByClientCIDRs",
                    json::array{json::object{{"clientCIDR", "0.0.0.0/0"},
                                             {"serverAddress", server_address()}}}}};
    return json_response(200, o);
  }

  std::string server_address() const {
    return options_.http.address + ":" + std::to_string(port_.load());
  }

  static std::vector<std::string> groups() {
    std::vector<std::string> out;
    for (const auto& r : api::all_resources()) {
      if (!r.group.empty() && std::find(out.begin(), out.end(), r.group) == out.end()) {
        out.push_back(std::string(r.group));
      }
    }
    return out;
  }

  static json::object group_json(const std::string& g) {
    json::object gv{{"groupVersion", g + "/v1"}, {"version", "v1"}};
    return json::object{{"name", g}, {"versions", json::array{gv}}, {"preferredVersion", gv}};
  }

  Response api_groups() const {
    json::array arr;
    for (const auto& g : groups()) arr.push_back(group_json(g));
    json::object o{{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(arr)}};
    return json_response(200, o);
  }

  Response api_group(std::string_view group) const {
    for (const auto& g : groups()) {
      if (g == group) {
        auto o = group_json(g);
        o["kind"] = "APIGroup";
        o["apiVersion"] = "v1";
        return json_response(200, o);
      }
    }
    return not_found_path();
  }

  Response resource_list(std::string_view group, std::string_view version) const {
    json::array resources;
    bool any = false;
    for (const auto& r : api::all_resources()) {
      if (r.group != group || r.version != version) continue;
      any = true;
      json::array verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update",
                        "watch"};
      json::object e{{"name", r.resource}, {"singularName", r.singular},
                     {"namespaced", r.namespaced}, {"kind", r.kind}, {"verbs", verbs}};
      if (!r.short_names.empty()) {
        json::array sn;
        for (const auto& s : r.short_names) sn.push_back(json::string(s));
        e["shortNames"] = std::move(sn);
      }
      if (!r.categories.empty()) {
        json::array cat;
        for (const auto& s : r.categories) cat.push_back(json::string(s));
        e["categories"] = std::move(cat);
      }
      resources.push_back(std::move(e));
      auto sub = [&](std::string name, std::string kind, json::array v, std::string grp = "",
                     std::string ver = "") {
        json::object s{{"name", std::string(r.resource) + "/" + name}, {"singularName", ""},
                       {"namespaced", r.namespaced}, {"kind", std::move(kind)},
                       {"verbs", std::move(v)}};
        if (!grp.empty()) {
          s["group"] = grp;
          s["version"] = ver;
        }
        resources.push_back(std::move(s));
      };
      if (r.has_status) sub("status", std::string(r.kind), json::array{"get", "patch", "update"});
      if (r.has_scale) {
        sub("scale", "Scale", json::array{"get", "patch", "update"}, "autoscaling", "v1");
      }
      if (r.group.empty() && r.resource == "pods") {
        sub("binding", "Binding", json::array{"create"});
        sub("eviction", "Eviction", json::array{"create"}, "policy", "v1");
        sub("log", "Pod", json::array{"get"});
        sub("portforward", "PodPortForwardOptions", json::array{"create", "get"});
      }
      if (r.group.empty() && r.resource == "namespaces") {
        sub("finalize", "Namespace", json::array{"update"});
      }
    }
    if (!any) return not_found_path();
    json::object o{{"kind", "APIResourceList"},
                   {"apiVersion", "v1"},
                   {"groupVersion", group.empty() ? std::string(version)
                                                  : std::string(group) + "/" + std::string(version)},
                   {"resources", std::move(resources)}};
    return json_response(200, o);
  }

  // ---------------------------------------------------------------- keys and reads

  static std::string prefix_of(const api::ResourceInfo& r) { return api::storage_prefix(r); }
  static std::string key_of(const api::ResourceInfo& r, const std::string& ns, const std::string& name) {
    return api::storage_key(r, ns, name);
  }

  static StatusDetails details(const api::ResourceInfo& r, const std::string& name) {
    return StatusDetails{name, std::string(r.group), std::string(r.resource)};
  }

  static Status not_found_status(const api::ResourceInfo& r, const std::string& name) {
    return not_found(r.qualified_resource() + " \"" + name + "\" not found");
  }
  static Status conflict_status(const api::ResourceInfo& r, const std::string& name) {
    return aborted("Operation cannot be fulfilled on " + r.qualified_resource() + " \"" + name +
                   "\": the object has been modified; please apply your changes to the latest "
                   "version and try again");
  }

  Response error(const Status& s, const api::ResourceInfo& r, const std::string& name) const {
    StatusDetails d = details(r, name);
    // Kubernetes names the kind ("Pod") in Invalid details and the resource ("pods") elsewhere;
    // kubectl prints `The Pod "x" is invalid: ...` from it.
    if (s.code() == Code::kInvalidArgument) d.kind = std::string(r.kind);
    return status_response(s, d);
  }

  struct Current {
    json::value object;  // with resourceVersion set
    store::Revision revision = 0;
  };

  Result<Current> read(const api::ResourceInfo& r, const std::string& ns, const std::string& name) {
    auto kv = store_.get(key_of(r, ns, name));
    if (!kv.ok()) {
      if (kv.status().code() == Code::kNotFound) return not_found_status(r, name);
      return kv.status();
    }
    auto decoded = decode_stored(kv->value, kv->mod_revision);
    if (!decoded) return internal_error("stored object " + kv->key + " is not valid JSON");
    return Current{*decoded, kv->mod_revision};
  }

  // The stored form: no resourceVersion (the store's revision is the truth).
  static std::string stored(json::value v) {
    meta_of(v).erase("resourceVersion");
    return json::serialize(v);
  }

  static json::value with_rv(json::value v, store::Revision rev) {
    meta_of(v)["resourceVersion"] = std::to_string(rev);
    return v;
  }

  // ---------------------------------------------------------------- dispatch

  Response dispatch(const Request& req, const Route& route) {
    const api::ResourceInfo& r = *route.resource;
    const std::string& m = req.method;
    const std::string& sub = route.subresource;
    if (!route.namespace_.empty()) {
      // Namespace names are DNS labels; anything else cannot exist.
      if (route.namespace_.size() > 63) return error(not_found_status(r, route.name), r, route.name);
    }
    if (sub.empty()) {
      if (route.name.empty()) {
        if (m == "GET") return truthy(req.param("watch")) ? watch(req, route) : list(req, route);
        if (m == "POST") return create(req, route);
        if (m == "DELETE") return delete_collection(req, route);
        return method_not_allowed();
      }
      if (m == "GET") return get(req, route);
      if (m == "PUT") return update(req, route, Part::kMain);
      if (m == "PATCH") return patch(req, route, Part::kMain);
      if (m == "DELETE") return remove(req, route);
      return method_not_allowed();
    }
    if (sub == "status" && r.has_status) {
      if (m == "GET") return get(req, route);
      if (m == "PUT") return update(req, route, Part::kStatus);
      if (m == "PATCH") return patch(req, route, Part::kStatus);
      return method_not_allowed();
    }
    if (sub == "finalize" && r.group.empty() && r.resource == "namespaces") {
      if (m == "PUT") return update(req, route, Part::kFinalize);
      return method_not_allowed();
    }
    if (sub == "scale" && r.has_scale) {
      if (m == "GET") return get_scale(route);
      if (m == "PUT") return update_scale(req, route, false);
      if (m == "PATCH") return update_scale(req, route, true);
      return method_not_allowed();
    }
    if (sub == "binding" && r.group.empty() && r.resource == "pods") {
      if (m == "POST") return bind(req, route);
      return method_not_allowed();
    }
    if (sub == "eviction" && r.group.empty() && r.resource == "pods") {
      if (m == "POST") return evict(req, route);
      return method_not_allowed();
    }
    if ((sub == "log" || sub == "portforward") && r.group.empty() && r.resource == "pods") {
      if (sub == "log" ? m != "GET" : (m != "GET" && m != "POST")) return method_not_allowed();
      auto pod = read(r, route.namespace_, route.name);
      if (!pod.ok()) return error(pod.status(), r, route.name);
      NodeLookup nodes = [this](const std::string& node) -> Result<json::value> {
        const api::ResourceInfo* n = api::find_resource("", "v1", "nodes");
        if (!n) return internal_error("no nodes resource");
        ORCH_ASSIGN_OR_RETURN(auto current, read(*n, "", node));
        return std::move(current.object);
      };
      return sub == "log" ? pod_log(req, pod->object, nodes, options_.node_token, options_.node_ca_pem)
                          : pod_port_forward(req, pod->object, nodes, options_.node_token,
                                             options_.node_ca_pem);
    }
    if ((sub == "exec" || sub == "attach") && r.group.empty() && r.resource == "pods") {
      return status_response(
          Status(Code::kUnavailable, "pods/" + sub + " is not supported by liborch yet"),
          details(r, route.name));
    }
    return not_found_path();
  }

  // ---------------------------------------------------------------- get / list

  bool wants_table_for(const Request& req) const { return wants_table(req.header("accept")); }

  Response render_one(const Request& req, const api::ResourceInfo& r, json::value object) const {
    if (wants_table_for(req) && object.is_object()) {
      std::vector<const json::object*> objs{&object.get_object()};
      auto table = make_table(r.group, r.resource, objs, meta_str(object, "resourceVersion"), "",
                              true, std::chrono::system_clock::now());
      return json_response(200, table);
    }
    return json_response(200, object);
  }

  Response get(const Request& req, const Route& route) {
    auto cur = read(*route.resource, route.namespace_, route.name);
    if (!cur.ok()) return error(cur.status(), *route.resource, route.name);
    return render_one(req, *route.resource, std::move(cur->object));
  }

  struct Filter {
    api::Selector labels;
    api::FieldSelector fields;
    std::string namespace_;
    bool operator()(const json::value& v) const {
      if (!labels.empty() && !labels.matches(labels_of(v))) return false;
      if (!fields.empty()) {
        return fields.matches([&](std::string_view f) { return field_value(v, f); });
      }
      return true;
    }
  };

  static const std::set<std::string, std::less<>>& supported_fields(const api::ResourceInfo& r) {
    static const std::map<std::string, std::set<std::string, std::less<>>, std::less<>> kExtra = {
        {"pods",
         {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
          "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"}},
        {"events",
         {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
          "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
          "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"}},
        {"nodes", {"spec.unschedulable"}},
        {"namespaces", {"status.phase"}},
        {"secrets", {"type"}},
        {"replicasets", {"status.replicas"}},
        {"persistentvolumeclaims", {"spec.volumeName"}},
    };
    static const std::set<std::string, std::less<>> kNone;
    auto it = kExtra.find(r.resource);
    return it == kExtra.end() ? kNone : it->second;
  }

  Result<Filter> make_filter(const Request& req, const api::ResourceInfo& r) const {
    Filter f;
    if (auto ls = req.param("labelSelector"); ls && !ls->empty()) {
      ORCH_ASSIGN_OR_RETURN(f.labels, api::Selector::parse(*ls));
    }
    if (auto fs = req.param("fieldSelector"); fs && !fs->empty()) {
      ORCH_ASSIGN_OR_RETURN(f.fields, api::FieldSelector::parse(*fs));
      for (const auto& q : f.fields.requirements()) {
        if (q.field == "metadata.name" || q.field == "metadata.namespace") continue;
        if (!supported_fields(r).contains(q.field)) {
          return bad_request("field label not supported: " + q.field);
        }
      }
    }
    return f;
  }

  std::string list_prefix(const Route& route) const {
    const auto& r = *route.resource;
    return api::storage_prefix(r, r.namespaced ? route.namespace_ : std::string());
  }

  Response list(const Request& req, const Route& route) {
    const api::ResourceInfo& r = *route.resource;
    auto filter = make_filter(req, r);
    if (!filter.ok()) return error(filter.status(), r, "");
    std::int64_t limit = 0;
    if (auto l = req.param("limit"); l && !l->empty()) {
      try {
        limit = std::stoll(std::string(*l));
      } catch (...) {
        return error(bad_request("invalid limit: " + std::string(*l)), r, "");
      }
      if (limit < 0) limit = 0;
    }
    ContinueToken token;
    const std::string prefix = list_prefix(route);
    if (auto c = req.param("continue"); c && !c->empty()) {
      auto t = decode_continue(*c);
      if (!t.ok()) return error(t.status(), r, "");
      token = *t;
      if (!token.start_key.starts_with(prefix)) {
        return error(bad_request("continue key is not valid for this list"), r, "");
      }
    }

    json::array items;
    std::vector<json::value> kept;
    store::Revision revision = token.revision;
    std::string start = token.start_key;
    std::string next_key;
    bool more = false;
    for (;;) {
      store::ListOptions lo;
      lo.revision = revision;
      lo.start_key = start;
      lo.limit = limit ? std::max<std::int64_t>(limit - static_cast<std::int64_t>(kept.size()), 1)
                       : 0;
      auto page = store_.list(prefix, lo);
      if (!page.ok()) {
        if (page.status().code() == Code::kOutOfRange && revision != 0) {
          return error(Status(Code::kOutOfRange,
                              "The provided continue parameter is too old to display a consistent "
                              "list result. You can start a new list without the continue "
                              "parameter."),
                       r, "");
        }
        return error(page.status(), r, "");
      }
      revision = page->revision;
      for (auto& kv : page->items) {
        auto v = decode_stored(kv.value, kv.mod_revision);
        if (!v || !(*filter)(*v)) continue;
        kept.push_back(*v);
      }
      if (!page->more) {
        more = false;
        break;
      }
      start = page->items.back().key + std::string(1, '\0');
      if (limit && static_cast<std::int64_t>(kept.size()) >= limit) {
        more = true;
        next_key = start;
        break;
      }
    }

    std::string cont = more ? encode_continue({revision, next_key}) : std::string();
    if (wants_table_for(req)) {
      std::vector<const json::object*> objs;
      for (auto& v : kept) objs.push_back(&v.get_object());
      auto table = make_table(r.group, r.resource, objs, std::to_string(revision), cont, true,
                              std::chrono::system_clock::now());
      return json_response(200, table);
    }
    for (auto& v : kept) items.push_back(std::move(v));
    json::object meta{{"resourceVersion", std::to_string(revision)}};
    if (!cont.empty()) meta["continue"] = cont;
    json::object o{{"kind", r.list_kind}, {"apiVersion", r.api_version()},
                   {"metadata", std::move(meta)}, {"items", std::move(items)}};
    return json_response(200, o);
  }

  // ---------------------------------------------------------------- watch

  Response watch(const Request& req, const Route& route) {
    const api::ResourceInfo& r = *route.resource;
    auto filter = make_filter(req, r);
    if (!filter.ok()) return error(filter.status(), r, "");
    WatchStreamOptions wo;
    wo.bookmarks = truthy(req.param("allowWatchBookmarks"));
    wo.kind = r.kind;
    wo.api_version = r.api_version();
    wo.bookmark_interval = options_.bookmark_interval;
    auto timeout = options_.max_watch;
    if (auto t = req.param("timeoutSeconds"); t && !t->empty()) {
      try {
        timeout = std::min<std::chrono::seconds>(timeout, std::chrono::seconds(std::stoll(std::string(*t))));
      } catch (...) {
        return error(bad_request("invalid timeoutSeconds: " + std::string(*t)), r, "");
      }
    }
    wo.deadline = std::chrono::steady_clock::now() + timeout;
    if (wants_table_for(req)) {
      std::string group(r.group), resource(r.resource);
      wo.render = [group, resource](const json::value& v) -> json::value {
        std::vector<const json::object*> objs{&v.get_object()};
        return make_table(group, resource, objs, "", "", false, std::chrono::system_clock::now());
      };
    }
    const std::string prefix = list_prefix(route);

    std::optional<store::Revision> from;
    if (auto rv = req.param("resourceVersion"); rv && !rv->empty() && *rv != "0") {
      try {
        from = std::stoll(std::string(*rv));
      } catch (...) {
        return error(bad_request("invalid resourceVersion: " + std::string(*rv)), r, "");
      }
    }
    std::vector<WatchEvent> initial;
    if (!from) {
      // No resourceVersion: the current state as ADDED events, then every change after it.
      auto page = store_.list(prefix);
      if (!page.ok()) return error(page.status(), r, "");
      for (auto& kv : page->items) {
        auto v = decode_stored(kv.value, kv.mod_revision);
        if (!v || !(*filter)(*v)) continue;
        initial.push_back({WatchEvent::Type::kAdded, kv.mod_revision, v, nullptr});
      }
      from = page->revision;
    }
    Response resp;
    auto sub = hub_->subscribe(prefix, *from, *filter);
    if (!sub.ok()) {
      if (sub.status().code() != Code::kOutOfRange) return error(sub.status(), r, "");
      auto current = store_.current_revision();
      Status expired(Code::kOutOfRange,
                     "too old resource version: " + std::to_string(*from) + " (" +
                         std::to_string(current.ok() ? *current : 0) + ")");
      resp.stream = make_watch_stream({}, nullptr, std::move(wo), expired);
      return resp;
    }
    resp.stream = make_watch_stream(std::move(initial), std::move(sub).value(), std::move(wo));
    return resp;
  }

  // ---------------------------------------------------------------- create

  Status check_namespace(const api::ResourceInfo& r, const std::string& ns) {
    if (!r.namespaced) return Status();
    auto kv = store_.get("/registry/core/namespaces/" + ns);
    if (!kv.ok()) {
      if (kv.status().code() == Code::kNotFound) {
        return not_found("namespaces \"" + ns + "\" not found");
      }
      return kv.status();
    }
    auto v = decode_stored(kv->value, kv->mod_revision);
    if (v && !meta_str(*v, "deletionTimestamp").empty()) {
      return Status(Code::kPermissionDenied, "unable to create new content in namespace " + ns +
                                                 " because it is being terminated");
    }
    return Status();
  }

  // Checks and fills apiVersion, kind and namespace of a body against the URL.
  Status admit_identity(const api::ResourceInfo& r, const Route& route, json::value& body) {
    if (!body.is_object()) return bad_request("the body must be a JSON object");
    auto& o = body.as_object();
    auto check = [&](std::string_view field, const std::string& want) -> Status {
      auto* v = o.if_contains(field);
      if (!v || v->is_null() || (v->is_string() && v->get_string().empty())) {
        o[field] = want;
        return Status();
      }
      if (!v->is_string() || v->get_string() != want) {
        return bad_request("the " + std::string(field == "kind" ? "kind" : "API version") +
                           " in the data (" + (v->is_string() ? std::string(v->get_string()) : "?") +
                           ") does not match the expected " +
                           std::string(field == "kind" ? "kind" : "API version") + " (" + want + ")");
      }
      return Status();
    };
    ORCH_TRY(check("apiVersion", r.api_version()));
    ORCH_TRY(check("kind", std::string(r.kind)));
    auto& meta = meta_of(body);
    if (r.namespaced) {
      auto* ns = meta.if_contains("namespace");
      const bool given = ns && ns->is_string() && !ns->get_string().empty();
      if (given && ns->get_string() != route.namespace_) {
        return bad_request(
            "the namespace of the provided object does not match the namespace sent on the "
            "request");
      }
      if (route.namespace_.empty()) return bad_request("a namespace is required to create " + std::string(r.resource));
      meta["namespace"] = route.namespace_;
    } else {
      meta.erase("namespace");
    }
    return Status();
  }

  // Kubernetes' DefaultTolerationSeconds admission (see ApiServerOptions): a pod that tolerates
  // neither node.kubernetes.io/not-ready nor unreachable NoExecute gets them, with seconds.
  void add_default_tolerations(json::value& pod) const {
    auto& spec = pod.as_object()["spec"];
    if (!spec.is_object()) return;
    auto& tols = spec.as_object()["tolerations"];
    if (!tols.is_array()) tols = json::array{};
    auto add = [&](std::string_view key, std::int64_t seconds) {
      if (seconds < 0) return;
      for (const auto& t : tols.as_array()) {
        if (!t.is_object()) continue;
        const auto& o = t.as_object();
        auto field = [&](std::string_view f) {
          const auto* v = o.if_contains(f);
          return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
        };
        // Kubernetes checks for a toleration of this key with effect NoExecute or any effect.
        if ((field("effect").empty() || field("effect") == "NoExecute") &&
            (field("key") == key || (field("key").empty() && field("operator") == "Exists"))) {
          return;
        }
      }
      tols.as_array().push_back(json::object{{"key", key},
                                             {"operator", "Exists"},
                                             {"effect", "NoExecute"},
                                             {"tolerationSeconds", seconds}});
    };
    add("node.kubernetes.io/not-ready", options_.default_not_ready_toleration_seconds);
    add("node.kubernetes.io/unreachable", options_.default_unreachable_toleration_seconds);
    if (tols.as_array().empty()) spec.as_object().erase("tolerations");
  }

  // The status a new object starts with (what Kubernetes' PrepareForCreate does).
  static void reset_status_for_create(const api::ResourceInfo& r, json::value& v) {
    auto& o = v.as_object();
    if (r.group.empty() && r.resource == "nodes") return;  // the agent registers with a status
    if (r.group.empty() && r.resource == "namespaces") {
      o["status"] = json::object{{"phase", "Active"}};
      return;
    }
    if (!r.has_status) return;
    if (r.group.empty() && r.resource == "pods") {
      o["status"] = json::object{{"phase", "Pending"}, {"qosClass", pod_qos(v)}};
    } else if (r.group.empty() &&
               (r.resource == "persistentvolumeclaims" || r.resource == "persistentvolumes")) {
      o["status"] = json::object{{"phase", "Pending"}};
    } else if (r.group.empty() && r.resource == "services") {
      o["status"] = json::object{{"loadBalancer", json::object{}}};
    } else {
      o["status"] = json::object{};
    }
  }

  static std::string pod_qos(const json::value& pod) {
    // Guaranteed: every container has cpu and memory limits equal to its requests.
    // BestEffort: no container has any request or limit. Otherwise Burstable.
    bool any = false, all_guaranteed = true;
    auto* spec = pod.get_object().if_contains("spec");
    if (!spec || !spec->is_object()) return "BestEffort";
    auto* cs = spec->get_object().if_contains("containers");
    if (!cs || !cs->is_array()) return "BestEffort";
    for (const auto& c : cs->get_array()) {
      if (!c.is_object()) continue;
      auto* res = c.get_object().if_contains("resources");
      const json::object* req = nullptr;
      const json::object* lim = nullptr;
      if (res && res->is_object()) {
        if (auto* q = res->get_object().if_contains("requests"); q && q->is_object()) req = &q->get_object();
        if (auto* l = res->get_object().if_contains("limits"); l && l->is_object()) lim = &l->get_object();
      }
      if ((req && !req->empty()) || (lim && !lim->empty())) any = true;
      for (std::string_view k : {"cpu", "memory"}) {
        auto* lv = lim ? lim->if_contains(k) : nullptr;
        auto* rv = req ? req->if_contains(k) : nullptr;
        if (!lv || (rv && *rv != *lv)) all_guaranteed = false;
      }
    }
    if (!any) return "BestEffort";
    return all_guaranteed ? "Guaranteed" : "Burstable";
  }

  static bool dry_run(const Request& req) {
    auto d = req.param("dryRun");
    return d && !d->empty();
  }
  static bool strict(const Request& req) {
    auto f = req.param("fieldValidation");
    return f && *f == "Strict";
  }

  Response create(const Request& req, const Route& route) {
    const api::ResourceInfo& r = *route.resource;
    auto body = parse_body(req);
    if (!body.ok()) return error(body.status(), r, "");
    json::value v = std::move(body).value();
    if (auto s = admit_identity(r, route, v); !s.ok()) return error(s, r, "");
    auto& meta = meta_of(v);
    std::string name = meta_str(v, "name");
    if (name.empty()) {
      std::string gen = meta_str(v, "generateName");
      if (!gen.empty()) {
        if (gen.size() > 58) gen.resize(58);
        name = gen + random_suffix(5);
        meta["name"] = name;
      }
    }
    if (route.resource->namespaced) {
      if (auto s = check_namespace(r, route.namespace_); !s.ok()) return error(s, r, name);
    }
    auto norm = api::normalize(r, v, {.strict = strict(req)});
    if (!norm.ok()) return error(norm.status(), r, name);
    json::value obj = std::move(norm->object);
    {
      auto& m = meta_of(obj);
      m["uid"] = new_uid();
      m["creationTimestamp"] = now_rfc3339();
      m["generation"] = 1;
      m.erase("resourceVersion");
      m.erase("deletionTimestamp");
      m.erase("deletionGracePeriodSeconds");
      m.erase("managedFields");
      m.erase("selfLink");
    }
    reset_status_for_create(r, obj);
    if (r.group.empty() && r.resource == "pods") add_default_tolerations(obj);
    if (auto s = api::validate_create(r, obj); !s.ok()) return error(s, r, name);
    ServiceAllocation allocated;
    if (is_service(r)) {
      auto a = services_->allocate_for_create(obj);
      if (!a.ok()) return error(a.status(), r, name);
      allocated = std::move(a).value();
    }
    Response resp;
    if (dry_run(req)) {
      if (is_service(r)) services_->release(allocated);
      resp = json_response(201, obj);
    } else {
      auto kv = store_.create(key_of(r, route.namespace_, name), stored(obj));
      if (!kv.ok() && is_service(r)) services_->release(allocated);
      if (!kv.ok()) {
        if (kv.status().code() == Code::kAlreadyExists) {
          return error(already_exists(r.qualified_resource() + " \"" + name + "\" already exists"),
                       r, name);
        }
        return error(kv.status(), r, name);
      }
      resp = json_response(201, with_rv(std::move(obj), kv->mod_revision));
    }
    resp.headers = warning_headers(norm->warnings);
    return resp;
  }

  // ---------------------------------------------------------------- update / patch

  enum class Part { kMain, kStatus, kFinalize };

  // Builds the object to store from the client's `incoming` version and the current one.
  Result<json::value> merge_update(const api::ResourceInfo& r, Part part, const json::value& current,
                                   json::value incoming) {
    json::value out;
    if (part == Part::kMain) {
      out = std::move(incoming);
      // Status is written only through /status (reference §5): keep the stored one.
      if (r.has_status) {
        if (auto* st = current.get_object().if_contains("status")) {
          out.as_object()["status"] = *st;
        } else {
          out.as_object().erase("status");
        }
      }
    } else if (part == Part::kStatus) {
      out = current;
      if (auto* st = incoming.as_object().if_contains("status")) {
        out.as_object()["status"] = *st;
      } else {
        out.as_object().erase("status");
      }
      // Labels and annotations may change with status (the node agent relies on it).
      auto& om = meta_of(out);
      auto& im = meta_of(incoming);
      for (std::string_view k : {"labels", "annotations"}) {
        if (auto* x = im.if_contains(k)) om[k] = *x; else om.erase(k);
      }
    } else {  // finalize: only spec.finalizers of a namespace
      out = current;
      auto* spec = incoming.as_object().if_contains("spec");
      json::value fin = json::array();
      if (spec && spec->is_object()) {
        if (auto* f = spec->get_object().if_contains("finalizers")) fin = *f;
      }
      auto& os = out.as_object()["spec"];
      if (!os.is_object()) os = json::object();
      os.as_object()["finalizers"] = fin;
    }
    // Identity and server-owned metadata never change through an update.
    auto& om = meta_of(out);
    const auto* cm = meta_of(current);
    for (std::string_view k : {"uid", "creationTimestamp", "deletionTimestamp",
                               "deletionGracePeriodSeconds", "namespace", "name", "generation"}) {
      if (auto* x = cm->if_contains(k)) om[k] = *x; else om.erase(k);
    }
    om.erase("managedFields");
    om.erase("selfLink");
    // A finalizer once the object is being deleted may be removed, not added.
    if (cm->if_contains("deletionTimestamp")) {
      std::set<std::string> before;
      if (auto* f = cm->if_contains("finalizers"); f && f->is_array()) {
        for (auto& x : f->get_array()) {
          if (x.is_string()) before.insert(std::string(x.get_string()));
        }
      }
      if (auto* f = om.if_contains("finalizers"); f && f->is_array()) {
        for (auto& x : f->get_array()) {
          if (x.is_string() && !before.contains(std::string(x.get_string()))) {
            return Status(Code::kInvalidArgument,
                          r.qualified_kind() + " \"" + meta_str(current, "name") +
                              "\" is invalid: metadata.finalizers: Forbidden: no new finalizers "
                              "can be added if the object is being deleted",
                          {{"FieldValueForbidden",
                            "Forbidden: no new finalizers can be added if the object is being "
                            "deleted",
                            "metadata.finalizers"}});
          }
        }
      }
    }
    return out;
  }

  // Writes `next` (derived from `cur`) with CAS; removes the object when it is being deleted and
  // has no finalizer left. Returns the stored object as the client sees it.
  Result<json::value> commit_update(const api::ResourceInfo& r, const Route& route, const Current& cur,
                                    json::value next, bool dry) {
    // generation moves only with spec.
    auto& nm = meta_of(next);
    std::int64_t gen = 1;
    if (auto* g = meta_of(cur.object)->if_contains("generation"); g && g->is_int64()) gen = g->get_int64();
    if (spec_changed(cur.object, next)) ++gen;
    nm["generation"] = gen;
    nm.erase("resourceVersion");
    if (dry) return with_rv(std::move(next), cur.revision);
    const std::string key = key_of(r, route.namespace_, route.name);
    if (!meta_str(next, "deletionTimestamp").empty() && !has_finalizers(next) &&
        !(r.group.empty() && r.resource == "pods" && graceful_pending(next))) {
      auto ev = store_.remove(key, cur.revision);
      if (!ev.ok()) return ev.status();
      if (is_service(r)) services_->release_service(cur.object);
      return with_rv(std::move(next), ev->revision());
    }
    auto kv = store_.update(key, stored(next), cur.revision);
    if (!kv.ok()) return kv.status();
    return with_rv(std::move(next), kv->mod_revision);
  }

  // A pod marked for graceful deletion waits for its node to stop it (grace > 0 and bound).
  static bool graceful_pending(const json::value& pod) {
    auto* m = meta_of(pod);
    auto* g = m ? m->if_contains("deletionGracePeriodSeconds") : nullptr;
    if (!g || !g->is_int64() || g->get_int64() == 0) return false;
    auto node = field_value(pod, "spec.nodeName");
    return node && !node->empty();
  }

  // Client precondition: a resourceVersion in the body must match the stored one.
  static bool stale(const json::value& incoming, const Current& cur) {
    std::string rv = meta_str(incoming, "resourceVersion");
    return !rv.empty() && rv != std::to_string(cur.revision);
  }

  Response update(const Request& req, const Route& route, Part part) {
    const api::ResourceInfo& r = *route.resource;
    auto body = parse_body(req);
    if (!body.ok()) return error(body.status(), r, route.name);
    json::value in = std::move(body).value();
    if (auto s = admit_identity(r, route, in); !s.ok()) return error(s, r, route.name);
    std::string body_name = meta_str(in, "name");
    if (body_name.empty()) meta_of(in)["name"] = route.name;
    else if (body_name != route.name) {
      return error(bad_request("the name of the object (" + body_name +
                               ") does not match the name on the URL (" + route.name + ")"),
                   r, route.name);
    }
    std::vector<std::string> warnings;
    for (int attempt = 0; attempt < kMaxCasRetries; ++attempt) {
      auto cur = read(r, route.namespace_, route.name);
      if (!cur.ok()) return error(cur.status(), r, route.name);
      if (stale(in, *cur)) return error(conflict_status(r, route.name), r, route.name);
      auto result = write_derived(req, route, part, *cur, in, warnings);
      // Raced with another writer: read again, unless the client asked for this version.
      if (lost_race(result) && meta_str(in, "resourceVersion").empty()) continue;
      return write_response(result, r, route.name, warnings);
    }
    return error(conflict_status(r, route.name), r, route.name);
  }

  static bool lost_race(const Result<json::value>& result) {
    return !result.ok() && result.status().code() == Code::kAborted;
  }

  // The answer to a read-modify-write: the stored object, or the error (a lost compare-and-swap
  // is Kubernetes' Conflict message).
  Response write_response(const Result<json::value>& result, const api::ResourceInfo& r,
                          const std::string& name, const std::vector<std::string>& warnings) const {
    if (lost_race(result)) return error(conflict_status(r, name), r, name);
    if (!result.ok()) return error(result.status(), r, name);
    Response resp = json_response(200, *result);
    resp.headers = warning_headers(warnings);
    return resp;
  }

  // Normalizes, validates and commits `incoming` over `cur` for the given part.
  Result<json::value> write_derived(const Request& req, const Route& route, Part part,
                                    const Current& cur, const json::value& incoming,
                                    std::vector<std::string>& warnings) {
    const api::ResourceInfo& r = *route.resource;
    ORCH_ASSIGN_OR_RETURN(json::value merged, merge_update(r, part, cur.object, incoming));
    ORCH_ASSIGN_OR_RETURN(api::Normalized norm, api::normalize(r, merged, {.strict = strict(req)}));
    warnings = norm.warnings;
    if (r.group.empty() && r.resource == "namespaces") {
      keep_namespace_finalizers(part == Part::kFinalize, cur.object, merged, norm.object);
    }
    if (is_service(r) && part == Part::kMain) {
      // Addresses are allocated before validation, which then sees the complete spec.
      ORCH_ASSIGN_OR_RETURN(ServiceAllocation allocated,
                            services_->allocate_for_update(cur.object, norm.object));
      auto result = [&]() -> Result<json::value> {
        ORCH_TRY(api::validate_update(r, norm.object, cur.object));
        return commit_update(r, route, cur, norm.object, dry_run(req));
      }();
      if (!result.ok() || dry_run(req)) {
        services_->release(allocated);
      } else if (meta_str(*result, "deletionTimestamp").empty() || has_finalizers(*result)) {
        services_->release_dropped(cur.object, *result);
      }
      return result;
    }
    ORCH_TRY(api::validate_update(r, norm.object, cur.object));
    return commit_update(r, route, cur, std::move(norm.object), dry_run(req));
  }

  static bool is_service(const api::ResourceInfo& r) {
    return r.group.empty() && r.resource == "services";
  }

  Response patch(const Request& req, const Route& route, Part part) {
    const api::ResourceInfo& r = *route.resource;
    std::string ct(req.header("content-type"));
    if (auto semi = ct.find(';'); semi != std::string::npos) ct.resize(semi);
    if (!is_supported_patch_type(ct)) return unsupported_media_type(ct);
    std::vector<std::string> warnings;
    for (int attempt = 0; attempt < kMaxCasRetries; ++attempt) {
      auto cur = read(r, route.namespace_, route.name);
      if (!cur.ok()) return error(cur.status(), r, route.name);
      auto patched = apply_patch(ct, cur->object, req.body, r.kind);
      if (!patched.ok()) return error(patched.status(), r, route.name);
      json::value in = std::move(patched).value();
      if (!in.is_object()) return error(bad_request("the patch produced a non-object"), r, route.name);
      if (auto s = admit_identity(r, route, in); !s.ok()) return error(s, r, route.name);
      if (stale(in, *cur)) return error(conflict_status(r, route.name), r, route.name);
      if (meta_str(in, "name") != route.name) {
        return error(invalid_argument("metadata.name: Invalid value: the name cannot be changed by a patch"),
                     r, route.name);
      }
      auto result = write_derived(req, route, part, *cur, in, warnings);
      if (lost_race(result) && !patch_pins_rv(req.body)) continue;
      return write_response(result, r, route.name, warnings);
    }
    return error(conflict_status(r, route.name), r, route.name);
  }

  static bool patch_pins_rv(const std::string& body) {
    return body.find("\"resourceVersion\"") != std::string::npos;
  }

  // ---------------------------------------------------------------- scale

  static json::value scale_of(const json::value& obj) {
    const auto* m = meta_of(obj);
    json::object meta;
    for (std::string_view k : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
      if (auto* x = m->if_contains(k)) meta[k] = *x;
    }
    std::int64_t spec_replicas = 1, status_replicas = 0;
    const auto& o = obj.get_object();
    if (auto* s = o.if_contains("spec"); s && s->is_object()) {
      if (auto* x = s->get_object().if_contains("replicas"); x && x->is_int64()) spec_replicas = x->get_int64();
    }
    if (auto* s = o.if_contains("status"); s && s->is_object()) {
      if (auto* x = s->get_object().if_contains("replicas"); x && x->is_int64()) status_replicas = x->get_int64();
    }
    std::string selector;
    if (auto* s = o.if_contains("spec"); s && s->is_object()) {
      if (auto* sel = s->get_object().if_contains("selector"); sel && sel->is_object()) {
        api::LabelSelector ls;
        if (auto* ml = sel->get_object().if_contains("matchLabels"); ml && ml->is_object()) {
          for (auto& [k, v] : ml->get_object()) {
            if (v.is_string()) ls.match_labels[std::string(k)] = std::string(v.get_string());
          }
        }
        if (auto* me = sel->get_object().if_contains("matchExpressions"); me && me->is_array()) {
          for (auto& e : me->get_array()) {
            if (!e.is_object()) continue;
            api::LabelSelectorRequirement q;
            if (auto* k = e.get_object().if_contains("key"); k && k->is_string()) q.key = k->get_string();
            if (auto* op = e.get_object().if_contains("operator"); op && op->is_string()) q.operator_ = op->get_string();
            if (auto* vs = e.get_object().if_contains("values"); vs && vs->is_array()) {
              for (auto& x : vs->get_array()) {
                if (x.is_string()) q.values.emplace_back(x.get_string());
              }
            }
            ls.match_expressions.push_back(std::move(q));
          }
        }
        auto compiled = api::Selector::from(ls);
        if (compiled.ok()) selector = compiled->to_string();
      }
    }
    json::object status{{"replicas", status_replicas}};
    if (!selector.empty()) status["selector"] = selector;
    return json::object{{"kind", "Scale"},
                        {"apiVersion", "autoscaling/v1"},
                        {"metadata", std::move(meta)},
                        {"spec", json::object{{"replicas", spec_replicas}}},
                        {"status", std::move(status)}};
  }

  Response get_scale(const Route& route) {
    const api::ResourceInfo& r = *route.resource;
    auto cur = read(r, route.namespace_, route.name);
    if (!cur.ok()) return error(cur.status(), r, route.name);
    return json_response(200, scale_of(cur->object));
  }

  Response update_scale(const Request& req, const Route& route, bool is_patch) {
    const api::ResourceInfo& r = *route.resource;
    std::string ct(req.header("content-type"));
    if (auto semi = ct.find(';'); semi != std::string::npos) ct.resize(semi);
    if (is_patch && !is_supported_patch_type(ct)) return unsupported_media_type(ct);
    for (int attempt = 0; attempt < kMaxCasRetries; ++attempt) {
      auto cur = read(r, route.namespace_, route.name);
      if (!cur.ok()) return error(cur.status(), r, route.name);
      json::value scale = scale_of(cur->object);
      json::value wanted;
      if (is_patch) {
        auto patched = apply_patch(ct, scale, req.body, "Scale");
        if (!patched.ok()) return error(patched.status(), r, route.name);
        wanted = std::move(patched).value();
      } else {
        auto body = parse_body(req);
        if (!body.ok()) return error(body.status(), r, route.name);
        wanted = std::move(body).value();
      }
      if (stale(wanted, *cur)) return error(conflict_status(r, route.name), r, route.name);
      std::int64_t replicas = -1;
      if (wanted.is_object()) {
        if (auto* s = wanted.get_object().if_contains("spec"); s && s->is_object()) {
          if (auto* x = s->get_object().if_contains("replicas"); x && x->is_int64()) replicas = x->get_int64();
        }
      }
      if (replicas < 0) {
        return error(invalid_argument("Scale.autoscaling \"" + route.name +
                                          "\" is invalid: spec.replicas: Invalid value: " +
                                          std::to_string(replicas) +
                                          ": must be greater than or equal to 0",
                                      {{"FieldValueInvalid",
                                        "Invalid value: " + std::to_string(replicas) +
                                            ": must be greater than or equal to 0",
                                        "spec.replicas"}}),
                     r, route.name);
      }
      json::value next = cur->object;
      auto& spec = next.as_object()["spec"];
      if (!spec.is_object()) spec = json::object();
      spec.as_object()["replicas"] = replicas;
      std::vector<std::string> warnings;
      auto result = write_derived(req, route, Part::kMain, *cur, next, warnings);
      if (!result.ok() && result.status().code() == Code::kAborted &&
          meta_str(wanted, "resourceVersion").empty()) {
        continue;
      }
      if (!result.ok()) {
        if (result.status().code() == Code::kAborted) return error(conflict_status(r, route.name), r, route.name);
        return error(result.status(), r, route.name);
      }
      return json_response(200, scale_of(*result));
    }
    return error(conflict_status(r, route.name), r, route.name);
  }

  // ---------------------------------------------------------------- binding

  Response bind(const Request& req, const Route& route) {
    const api::ResourceInfo& r = *route.resource;
    auto body = parse_body(req);
    if (!body.ok()) return error(body.status(), r, route.name);
    std::string node;
    if (body->is_object()) {
      if (auto* t = body->get_object().if_contains("target"); t && t->is_object()) {
        if (auto* n = t->get_object().if_contains("name"); n && n->is_string()) node = n->get_string();
      }
    }
    if (node.empty()) {
      return error(invalid_argument("Binding \"" + route.name +
                                        "\" is invalid: target.name: Required value",
                                    {{"FieldValueRequired", "Required value", "target.name"}}),
                   r, route.name);
    }
    for (int attempt = 0; attempt < kMaxCasRetries; ++attempt) {
      auto cur = read(r, route.namespace_, route.name);
      if (!cur.ok()) return error(cur.status(), r, route.name);
      auto assigned = field_value(cur->object, "spec.nodeName");
      if (assigned && !assigned->empty()) {
        return error(aborted("Operation cannot be fulfilled on pods/binding \"" + route.name +
                             "\": pod " + route.name + " is already assigned to node \"" +
                             *assigned + "\""),
                     r, route.name);
      }
      if (!meta_str(cur->object, "deletionTimestamp").empty()) {
        return error(aborted("Operation cannot be fulfilled on pods/binding \"" + route.name +
                             "\": pod " + route.name + " is being deleted, cannot be assigned to a host"),
                     r, route.name);
      }
      json::value next = cur->object;
      auto& spec = next.as_object()["spec"];
      if (!spec.is_object()) spec = json::object();
      spec.as_object()["nodeName"] = node;
      auto& status = next.as_object()["status"];
      if (!status.is_object()) status = json::object();
      auto& conds = status.as_object()["conditions"];
      if (!conds.is_array()) conds = json::array();
      json::array kept;
      for (auto& c : conds.as_array()) {
        if (c.is_object() && field_value(c, "type") == std::optional<std::string>("PodScheduled")) continue;
        kept.push_back(c);
      }
      kept.push_back(json::object{{"type", "PodScheduled"}, {"status", "True"},
                                  {"lastProbeTime", nullptr},
                                  {"lastTransitionTime", now_rfc3339()}});
      conds = std::move(kept);
      if (dry_run(req)) break;
      auto kv = store_.update(key_of(r, route.namespace_, route.name), stored(next), cur->revision);
      if (!kv.ok() && kv.status().code() == Code::kAborted) continue;
      if (!kv.ok()) return error(kv.status(), r, route.name);
      break;
    }
    Response resp;
    resp.status = 201;
    resp.body = success_body(details(r, route.name));
    return resp;
  }

  // ---------------------------------------------------------------- delete

  struct DeleteOptions {
    std::optional<std::int64_t> grace;
    std::string propagation;
    std::string uid;
    std::string resource_version;
    bool dry = false;
  };

  Result<DeleteOptions> delete_options(const Request& req) {
    DeleteOptions d;
    d.dry = dry_run(req);
    if (auto g = req.param("gracePeriodSeconds"); g && !g->empty()) {
      try {
        d.grace = std::stoll(std::string(*g));
      } catch (...) {
        return bad_request("invalid gracePeriodSeconds: " + std::string(*g));
      }
    }
    if (auto p = req.param("propagationPolicy"); p) d.propagation = std::string(*p);
    if (!req.body.empty()) {
      // JSON, or protobuf from Go typed clients (kubectl drain's pod deletes).
      const bool protobuf = req.header("content-type").find("protobuf") != std::string_view::npos;
      json::value v;
      if (protobuf) {
        ORCH_ASSIGN_OR_RETURN(v, decode_kubernetes_protobuf(req.body));
      } else {
        boost::system::error_code ec;
        v = json::parse(req.body, ec);
        if (ec) v = nullptr;
      }
      if (!v.is_object() || (protobuf && v.get_object().at("kind") != "DeleteOptions")) {
        return bad_request("the body of a delete must be DeleteOptions JSON or protobuf");
      }
      read_delete_options(v.get_object(), d);
    }
    return checked_delete_options(std::move(d));
  }

  // Reads a DeleteOptions object (JSON shape) into `d`: a DELETE body or an Eviction's.
  static void read_delete_options(const json::object& o, DeleteOptions& d) {
    if (auto* g = o.if_contains("gracePeriodSeconds"); g && g->is_int64()) d.grace = g->get_int64();
    if (auto* p = o.if_contains("propagationPolicy"); p && p->is_string()) {
      d.propagation = p->get_string();
    }
    if (auto* orphan = o.if_contains("orphanDependents"); orphan && orphan->is_bool()) {
      if (d.propagation.empty()) d.propagation = orphan->get_bool() ? "Orphan" : "Background";
    }
    if (auto* dr = o.if_contains("dryRun"); dr && dr->is_array() && !dr->get_array().empty()) {
      d.dry = true;
    }
    if (auto* pre = o.if_contains("preconditions"); pre && pre->is_object()) {
      if (auto* u = pre->get_object().if_contains("uid"); u && u->is_string()) {
        d.uid = u->get_string();
      }
      if (auto* rv = pre->get_object().if_contains("resourceVersion"); rv && rv->is_string()) {
        d.resource_version = rv->get_string();
      }
    }
  }

  // Validates the propagation policy and clamps a negative grace period to 0.
  static Result<DeleteOptions> checked_delete_options(DeleteOptions d) {
    if (!d.propagation.empty() && d.propagation != "Background" && d.propagation != "Foreground" &&
        d.propagation != "Orphan") {
      return invalid_argument("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"" +
                              d.propagation +
                              "\": supported values: \"Foreground\", \"Background\", \"Orphan\"");
    }
    if (d.grace && *d.grace < 0) d.grace = 0;
    return d;
  }

  Response remove(const Request& req, const Route& route) {
    const api::ResourceInfo& r = *route.resource;
    auto opts = delete_options(req);
    if (!opts.ok()) return error(opts.status(), r, route.name);
    auto result = remove_retrying(r, route.namespace_, route.name, *opts);
    if (!result.ok()) return error(result.status(), r, route.name);
    return json_response(200, *result);
  }

  // remove_one, retried while the object moves under us unless a resourceVersion precondition
  // pins it (then Aborted is the 409 conflict). A failed precondition is final.
  Result<json::value> remove_retrying(const api::ResourceInfo& r, const std::string& ns,
                                      const std::string& name, const DeleteOptions& d) {
    for (int attempt = 0; attempt < kMaxCasRetries; ++attempt) {
      bool precondition_failed = false;
      auto result = remove_one(r, ns, name, d, &precondition_failed);
      if (result.ok() || result.status().code() != Code::kAborted || precondition_failed) {
        return result;
      }
      if (!d.resource_version.empty()) return conflict_status(r, name);
    }
    return conflict_status(r, name);
  }

  // pods/eviction (policy/v1 or v1beta1 Eviction, JSON or protobuf). liborch has no
  // PodDisruptionBudgets, so every eviction is allowed: it deletes the pod with the Eviction's
  // deleteOptions and answers 201 with a Success Status, as Kubernetes does.
  Response evict(const Request& req, const Route& route) {
    const api::ResourceInfo& r = *route.resource;
    auto body = parse_body(req);
    if (!body.ok()) return error(body.status(), r, route.name);
    if (!body->is_object()) {
      return error(bad_request("the body of an eviction must be an Eviction"), r, route.name);
    }
    const json::object& o = body->get_object();
    if (auto* k = o.if_contains("kind"); k && k->is_string() && k->get_string() != "Eviction") {
      return error(bad_request("the body of an eviction must be an Eviction, not " +
                               std::string(k->get_string())),
                   r, route.name);
    }
    const std::string name = meta_str(*body, "name");
    if (!name.empty() && name != route.name) {
      return error(bad_request("name in URL does not match name in Eviction object"), r,
                   route.name);
    }
    DeleteOptions d;
    d.dry = dry_run(req);
    if (auto* opts = o.if_contains("deleteOptions"); opts && opts->is_object()) {
      read_delete_options(opts->get_object(), d);
    }
    auto opts = checked_delete_options(std::move(d));
    if (!opts.ok()) return error(opts.status(), r, route.name);
    auto result = remove_retrying(r, route.namespace_, route.name, *opts);
    if (!result.ok()) return error(result.status(), r, route.name);
    return json_response(201, json::object{{"kind", "Status"}, {"apiVersion", "v1"},
                                           {"metadata", json::object{}}, {"status", "Success"},
                                           {"code", 201}});
  }

  // One delete attempt. Aborted when the object moved under us.
  // A failed uid/resourceVersion precondition is Aborted with Kubernetes' 409 message and sets
  // *precondition_failed when given.
  Result<json::value> remove_one(const api::ResourceInfo& r, const std::string& ns,
                                 const std::string& name, const DeleteOptions& d,
                                 bool* precondition_failed = nullptr) {
    ORCH_ASSIGN_OR_RETURN(Current cur, read(r, ns, name));
    auto failed = [&](const std::string& what, const std::string& want, const std::string& have) {
      if (precondition_failed) *precondition_failed = true;
      return aborted("Operation cannot be fulfilled on " + r.qualified_resource() + " \"" + name +
                     "\": Precondition failed: " + what + " in precondition: " + want + ", " +
                     what + " in object meta: " + have);
    };
    if (!d.uid.empty() && d.uid != meta_str(cur.object, "uid")) {
      return failed("UID", d.uid, meta_str(cur.object, "uid"));
    }
    if (!d.resource_version.empty() && d.resource_version != std::to_string(cur.revision)) {
      return failed("ResourceVersion", d.resource_version, std::to_string(cur.revision));
    }
    const std::string key = key_of(r, ns, name);
    json::value next = cur.object;
    auto& meta = meta_of(next);
    bool changed = false;
    const bool already_deleting = meta.if_contains("deletionTimestamp") != nullptr;

    // Propagation that needs the garbage collector: a finalizer the collector removes.
    auto add_finalizer = [&](std::string_view f) {
      auto& fin = meta["finalizers"];
      if (!fin.is_array()) fin = json::array();
      for (auto& x : fin.as_array()) {
        if (x.is_string() && x.get_string() == f) return;
      }
      fin.as_array().push_back(json::string(f));
      changed = true;
    };
    if (!already_deleting) {
      if (d.propagation == "Foreground") add_finalizer("foregroundDeletion");
      if (d.propagation == "Orphan") add_finalizer("orphan");
    }

    // Graceful pod deletion: mark, let the node stop the containers, then it deletes with grace 0.
    bool graceful = false;
    std::int64_t grace = 0;
    if (r.group.empty() && r.resource == "pods") {
      auto node = field_value(cur.object, "spec.nodeName");
      auto phase = field_value(cur.object, "status.phase");
      const bool terminal = phase && (*phase == "Succeeded" || *phase == "Failed");
      std::int64_t spec_grace = 30;
      if (auto* s = next.as_object().if_contains("spec"); s && s->is_object()) {
        if (auto* g = s->get_object().if_contains("terminationGracePeriodSeconds"); g && g->is_int64()) {
          spec_grace = g->get_int64();
        }
      }
      grace = d.grace.value_or(spec_grace);
      graceful = grace > 0 && node && !node->empty() && !terminal;
      if (already_deleting) {
        // A second delete may only shorten the grace period.
        auto* g = meta.if_contains("deletionGracePeriodSeconds");
        std::int64_t old = g && g->is_int64() ? g->get_int64() : 0;
        if (grace < old) {
          meta["deletionGracePeriodSeconds"] = grace;
          changed = true;
        }
        graceful = grace > 0;
      }
    }

    const bool keep = has_finalizers(next) || graceful;
    if (keep) {
      if (!already_deleting) {
        auto when = std::chrono::system_clock::now() + std::chrono::seconds(graceful ? grace : 0);
        api::Time t;
        t.value = std::chrono::time_point_cast<std::chrono::seconds>(when);
        meta["deletionTimestamp"] = t.to_string();
        meta["deletionGracePeriodSeconds"] = graceful ? grace : 0;
        changed = true;
      }
      if (r.group.empty() && r.resource == "namespaces") {
        auto& st = next.as_object()["status"];
        if (!st.is_object()) st = json::object();
        if (st.as_object()["phase"] != "Terminating") {
          st.as_object()["phase"] = "Terminating";
          changed = true;
        }
      }
      if (!changed || d.dry) return with_rv(std::move(next), cur.revision);
      meta.erase("resourceVersion");
      auto kv = store_.update(key, stored(next), cur.revision);
      if (!kv.ok()) return kv.status();
      return with_rv(std::move(next), kv->mod_revision);
    }
    if (d.dry) return cur.object;
    auto ev = store_.remove(key, cur.revision);
    if (!ev.ok()) return ev.status();
    if (is_service(r)) services_->release_service(cur.object);
    return with_rv(std::move(cur.object), ev->revision());
  }

  Response delete_collection(const Request& req, const Route& route) {
    const api::ResourceInfo& r = *route.resource;
    auto opts = delete_options(req);
    if (!opts.ok()) return error(opts.status(), r, "");
    auto filter = make_filter(req, r);
    if (!filter.ok()) return error(filter.status(), r, "");
    auto page = store_.list(list_prefix(route));
    if (!page.ok()) return error(page.status(), r, "");
    json::array items;
    for (auto& kv : page->items) {
      auto v = decode_stored(kv.value, kv.mod_revision);
      if (!v || !(*filter)(*v)) continue;
      std::string ns = meta_str(*v, "namespace"), name = meta_str(*v, "name");
      if (auto res = remove_retrying(r, ns, name, *opts); res.ok()) {
        items.push_back(std::move(res).value());
      }
    }
    json::object o{{"kind", r.list_kind}, {"apiVersion", r.api_version()},
                   {"metadata", json::object{}}, {"items", std::move(items)}};
    return json_response(200, o);
  }

 public:
  std::atomic<std::uint16_t> port_{0};

 private:
  store::Store& store_;
  std::shared_ptr<WatchHub> hub_;
  const ApiServerOptions options_;
  // ClusterIPs and NodePorts of Services (service_alloc.hpp).
  const std::unique_ptr<ServiceAllocator> services_;
};

// ---------------------------------------------------------------- the server

class ApiServerImpl final : public ApiServer {
 public:
  ApiServerImpl(std::shared_ptr<WatchHub> hub, std::unique_ptr<ApiHandler> handler)
      : hub_(std::move(hub)), handler_(std::move(handler)) {}
  ~ApiServerImpl() override { stop(std::chrono::milliseconds(5000)); }

  Handler& handler() override { return *handler_; }
  std::string url() const override { return http_ ? http_->url() : std::string(); }
  std::uint16_t port() const override { return http_ ? http_->port() : 0; }
  void stop(std::chrono::milliseconds grace) override {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    hub_->stop();  // ends every watch stream, so HTTP can drain
    if (http_) http_->stop(grace);
  }

  std::shared_ptr<WatchHub> hub_;
  std::unique_ptr<ApiHandler> handler_;
  std::unique_ptr<HttpServer> http_;
  std::mutex mu_;
  bool stopped_ = false;
};

Status seed(Handler& h) {
  for (std::string_view ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    Request get;
    get.method = "GET";
    get.path = "/api/v1/namespaces/" + std::string(ns);
    if (h.handle(get).status == 200) continue;
    Request create;
    create.method = "POST";
    create.path = "/api/v1/namespaces";
    create.headers["content-type"] = "application/json";
    create.body = R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" +
                  std::string(ns) + "\"}}";
    auto resp = h.handle(create);
    if (resp.status != 201 && resp.status != 409) {
      return status_from_response(resp.status, resp.body);
    }
  }
  return Status();
}

}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::start(store::Store& store,
                                                    const ApiServerOptions& options) {
  ORCH_ASSIGN_OR_RETURN(auto services,
                        ServiceAllocator::create(store, options.service_cluster_ip_range,
                                                 options.service_node_port_min,
                                                 options.service_node_port_max));
  ORCH_TRY(services->repair());
  ORCH_ASSIGN_OR_RETURN(auto hub, WatchHub::start(store, options.watch_buffer));
  auto handler = std::make_unique<ApiHandler>(store, hub, options, std::move(services));
  ApiHandler* raw = handler.get();
  auto server = std::make_unique<ApiServerImpl>(hub, std::move(handler));
  if (options.seed_namespaces) ORCH_TRY(seed(*raw));
  if (options.serve_http) {
    ORCH_ASSIGN_OR_RETURN(server->http_, HttpServer::start(options.http, *raw));
    raw->port_ = server->http_->port();
  }
  return std::unique_ptr<ApiServer>(std::move(server));
}

}  // namespace orch::apiserver
