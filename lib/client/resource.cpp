// Resource paths and object metadata accessors. Thread-safety: pure functions.
#include "orch/client/resource.hpp"

#include <boost/json.hpp>

namespace orch::client {

namespace json = boost::json;

std::string Resource::qualified_name() const {
  return group.empty() ? plural : plural + "." + group;
}

std::string resource_path(const Resource& r, std::string_view ns, std::string_view name,
                          std::string_view subresource) {
  std::string p = r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
  if (r.namespaced && !ns.empty()) {
    p += "/namespaces/";
    p += ns;
  }
  p += '/';
  p += r.plural;
  if (!name.empty()) {
    p += '/';
    p += name;
    if (!subresource.empty()) {
      p += '/';
      p += subresource;
    }
  }
  return p;
}

namespace {
std::string_view meta_string(const json::value& object, std::string_view field) {
  const auto* o = object.if_object();
  if (!o) return {};
  const auto* meta = o->if_contains("metadata");
  if (!meta || !meta->is_object()) return {};
  const auto* v = meta->get_object().if_contains(field);
  if (!v || !v->is_string()) return {};
  const auto& s = v->get_string();
  return std::string_view(s.data(), s.size());
}
}  // namespace

std::string_view object_name(const json::value& o) { return meta_string(o, "name"); }
std::string_view object_namespace(const json::value& o) { return meta_string(o, "namespace"); }
std::string_view object_resource_version(const json::value& o) {
  return meta_string(o, "resourceVersion");
}
std::string_view object_uid(const json::value& o) { return meta_string(o, "uid"); }

std::string make_key(std::string_view ns, std::string_view name) {
  if (ns.empty()) return std::string(name);
  std::string k;
  k.reserve(ns.size() + 1 + name.size());
  k += ns;
  k += '/';
  k += name;
  return k;
}

std::string object_key(const json::value& o) { return make_key(object_namespace(o), object_name(o)); }

}  // namespace orch::client
