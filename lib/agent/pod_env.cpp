// A container's environment as the kubelet builds it: service variables, envFrom, env (with
// valueFrom and $(VAR) expansion), then POD_IP, POD_NAME, POD_NAMESPACE, NODE_NAME.
//
// Thread-safety: stateless (reads configMaps and secrets through the given client).
#include <algorithm>

#include <fmt/format.h>

#include "agent_internal.hpp"
#include "orch/api/bytes.hpp"
#include "orch/api/quantity.hpp"
#include "orch/client/resource.hpp"

namespace orch::agent::detail {

namespace {

std::string env_name(std::string_view service) {
  std::string out(service);
  for (char& c : out) {
    c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void service_env(const json::value& svc, std::vector<std::pair<std::string, std::string>>& out) {
  std::string ip = str_at(svc, {"spec", "clusterIP"});
  if (ip.empty() || ip == "None") return;
  const json::array* ports = array_at(svc, {"spec", "ports"});
  if (ports == nullptr || ports->empty()) return;
  std::string name = env_name(str_at(svc, {"metadata", "name"}));
  auto port_of = [](const json::value& p) { return int_at(p, {"port"}, 0); };
  auto proto_of = [](const json::value& p) {
    std::string pr = str_at(p, {"protocol"});
    return pr.empty() ? std::string("TCP") : pr;
  };
  const json::value& first = ports->front();
  out.emplace_back(name + "_SERVICE_HOST", ip);
  out.emplace_back(name + "_SERVICE_PORT", std::to_string(port_of(first)));
  for (const auto& p : *ports) {
    std::string pn = str_at(p, {"name"});
    if (!pn.empty()) {
      out.emplace_back(name + "_SERVICE_PORT_" + env_name(pn), std::to_string(port_of(p)));
    }
  }
  out.emplace_back(name + "_PORT",
                   fmt::format("{}://{}:{}", lower(proto_of(first)), ip, port_of(first)));
  for (const auto& p : *ports) {
    std::string proto = proto_of(p);
    std::string prefix = fmt::format("{}_PORT_{}_{}", name, port_of(p), proto);
    out.emplace_back(prefix, fmt::format("{}://{}:{}", lower(proto), ip, port_of(p)));
    out.emplace_back(prefix + "_PROTO", lower(proto));
    out.emplace_back(prefix + "_PORT", std::to_string(port_of(p)));
    out.emplace_back(prefix + "_ADDR", ip);
  }
}

// metadata.labels['x'] -> ("labels", "x").
bool subscript(std::string_view path, std::string_view field, std::string& key) {
  std::string prefix = fmt::format("metadata.{}['", field);
  if (path.rfind(prefix, 0) != 0 || path.size() < prefix.size() + 2 ||
      path.substr(path.size() - 2) != "']") {
    return false;
  }
  key = std::string(path.substr(prefix.size(), path.size() - prefix.size() - 2));
  return true;
}

Result<std::string> field_ref(const EnvContext& ctx, std::string_view fp) {
  const json::value& pod = *ctx.pod;
  std::string key;
  if (fp == "metadata.name") return str_at(pod, {"metadata", "name"});
  if (fp == "metadata.namespace") return str_at(pod, {"metadata", "namespace"});
  if (fp == "metadata.uid") return str_at(pod, {"metadata", "uid"});
  if (fp == "spec.nodeName") return ctx.node_name;
  if (fp == "spec.serviceAccountName") {
    std::string sa = str_at(pod, {"spec", "serviceAccountName"});
    return sa.empty() ? std::string("default") : sa;
  }
  if (fp == "status.podIP" || fp == "status.podIPs") return ctx.pod_ip;
  if (fp == "status.hostIP" || fp == "status.hostIPs") return ctx.host_ip;
  if (subscript(fp, "labels", key)) return str_at(pod, {"metadata", "labels", key});
  if (subscript(fp, "annotations", key)) return str_at(pod, {"metadata", "annotations", key});
  if (fp == "metadata.labels" || fp == "metadata.annotations") {
    const json::value* m = path(pod, {"metadata", fp == "metadata.labels" ? "labels" : "annotations"});
    std::string out;
    if (m && m->is_object()) {
      for (const auto& kv : m->as_object()) {
        if (!out.empty()) out += "\n";
        out += fmt::format("{}=\"{}\"", std::string(kv.key()),
                           kv.value().is_string() ? std::string(kv.value().as_string()) : "");
      }
    }
    return out;
  }
  return invalid_argument(fmt::format("unsupported fieldRef fieldPath {:?}", fp));
}

Result<std::string> resource_ref(const EnvContext& ctx, const json::value& container,
                                 const json::value& ref) {
  std::string resource = str_at(ref, {"resource"});
  std::string cname = str_at(ref, {"containerName"});
  const json::value* c = &container;
  if (!cname.empty()) {
    c = nullptr;
    if (const auto* cs = array_at(*ctx.pod, {"spec", "containers"})) {
      for (const auto& x : *cs) {
        if (str_at(x, {"name"}) == cname) c = &x;
      }
    }
    if (c == nullptr) return invalid_argument(fmt::format("container {:?} not found", cname));
  }
  auto dot = resource.find('.');
  if (dot == std::string::npos) return invalid_argument("unsupported resource " + resource);
  std::string kind = resource.substr(0, dot);  // limits / requests
  std::string res = resource.substr(dot + 1);
  std::string qtext = str_at(*c, {"resources", kind, res});
  if (qtext.empty() && kind == "requests") qtext = str_at(*c, {"resources", "limits", res});
  if (qtext.empty()) {
    auto it = ctx.node_allocatable.find(res);
    qtext = it != ctx.node_allocatable.end() ? it->second : "0";
  }
  auto q = api::Quantity::parse(qtext);
  if (!q.ok()) return q.status();
  std::string dtext = str_at(ref, {"divisor"});
  auto d = api::Quantity::parse(dtext.empty() || dtext == "0" ? "1" : dtext);
  if (!d.ok()) return d.status();
  if (res == "cpu") {
    std::int64_t dm = std::max<std::int64_t>(1, d->milli_value());
    return std::to_string((q->milli_value() + dm - 1) / dm);
  }
  std::int64_t dv = std::max<std::int64_t>(1, d->value());
  return std::to_string((q->value() + dv - 1) / dv);
}

// The data of a configMap / secret (secret values decoded). NotFound passes through.
Result<std::map<std::string, std::string>> source_data(const EnvContext& ctx, bool secret,
                                                       std::string_view name) {
  if (ctx.client == nullptr) return not_found("no client to read " + std::string(name));
  std::string ns = str_at(*ctx.pod, {"metadata", "namespace"});
  auto obj = ctx.client->get(secret ? client::resources::kSecrets : client::resources::kConfigMaps,
                             ns, name);
  if (!obj.ok()) return obj.status();
  std::map<std::string, std::string> out;
  if (const auto* data = path(*obj, {"data"}); data && data->is_object()) {
    for (const auto& kv : data->as_object()) {
      if (!kv.value().is_string()) continue;
      std::string v(kv.value().as_string());
      if (secret) {
        auto dec = api::base64_decode(v);
        if (!dec.ok()) continue;
        v = std::move(dec).value();
      }
      out[std::string(kv.key())] = std::move(v);
    }
  }
  if (secret) {
    if (const auto* sd = path(*obj, {"stringData"}); sd && sd->is_object()) {
      for (const auto& kv : sd->as_object()) {
        if (kv.value().is_string()) out[std::string(kv.key())] = std::string(kv.value().as_string());
      }
    }
  }
  return out;
}

}  // namespace

std::string expand_vars(std::string_view in, const std::map<std::string, std::string>& vars) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '$' || i + 1 >= in.size()) {
      out += in[i];
      continue;
    }
    char next = in[i + 1];
    if (next == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (next == '(') {
      auto close = in.find(')', i + 2);
      if (close != std::string_view::npos) {
        std::string name(in.substr(i + 2, close - i - 2));
        auto it = vars.find(name);
        if (it != vars.end()) {
          out += it->second;
        } else {
          out.append(in.substr(i, close - i + 1));
        }
        i = close;
        continue;
      }
    }
    out += in[i];
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> container_env(
    const EnvContext& ctx, const json::value& container) {
  std::vector<std::pair<std::string, std::string>> out;
  std::map<std::string, std::string> vars;
  auto set = [&](std::string name, std::string value) {
    vars[name] = value;
    out.emplace_back(std::move(name), std::move(value));
  };
  // Service variables (enableServiceLinks, default true), then the kubernetes service.
  std::vector<std::pair<std::string, std::string>> svc_vars;
  const json::value* links = path(*ctx.pod, {"spec", "enableServiceLinks"});
  bool service_links = !(links && links->is_bool() && !links->as_bool());
  if (service_links) {
    std::vector<client::SharedObject> sorted = ctx.services;
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
      return str_at(*a, {"metadata", "name"}) < str_at(*b, {"metadata", "name"});
    });
    for (const auto& s : sorted) {
      if (s) service_env(*s, svc_vars);
    }
  }
  if (ctx.kubernetes_service) service_env(*ctx.kubernetes_service, svc_vars);
  for (auto& [k, v] : svc_vars) set(k, v);

  // envFrom
  if (const auto* ef = array_at(container, {"envFrom"})) {
    for (const auto& src : *ef) {
      bool secret = path(src, {"secretRef"}) != nullptr;
      const char* ref = secret ? "secretRef" : "configMapRef";
      std::string name = str_at(src, {ref, "name"});
      const json::value* opt = path(src, {ref, "optional"});
      bool optional = opt && opt->is_bool() && opt->as_bool();
      auto data = source_data(ctx, secret, name);
      if (!data.ok()) {
        if (optional) continue;
        return invalid_argument(fmt::format("{} {:?} not found", secret ? "secret" : "configmap",
                                            name));
      }
      std::string prefix = str_at(src, {"prefix"});
      for (const auto& [k, v] : *data) set(prefix + k, v);
    }
  }

  // env
  if (const auto* env = array_at(container, {"env"})) {
    for (const auto& e : *env) {
      std::string name = str_at(e, {"name"});
      if (name.empty()) continue;
      const json::value* from = path(e, {"valueFrom"});
      if (from == nullptr) {
        set(name, expand_vars(str_at(e, {"value"}), vars));
        continue;
      }
      if (const auto* fr = path(*from, {"fieldRef"})) {
        auto v = field_ref(ctx, str_at(*fr, {"fieldPath"}));
        if (!v.ok()) return v.status();
        set(name, *v);
      } else if (const auto* rr = path(*from, {"resourceFieldRef"})) {
        auto v = resource_ref(ctx, container, *rr);
        if (!v.ok()) return v.status();
        set(name, *v);
      } else if (const auto* cm = path(*from, {"configMapKeyRef"})) {
        const json::value* opt = path(*cm, {"optional"});
        bool optional = opt && opt->is_bool() && opt->as_bool();
        std::string src = str_at(*cm, {"name"}), key = str_at(*cm, {"key"});
        auto data = source_data(ctx, false, src);
        if (data.ok() && data->count(key)) {
          set(name, data->at(key));
        } else if (!optional) {
          return invalid_argument(
              data.ok() ? fmt::format("couldn't find key {} in ConfigMap {}", key, src)
                        : fmt::format("configmap {:?} not found", src));
        }
      } else if (const auto* sk = path(*from, {"secretKeyRef"})) {
        const json::value* opt = path(*sk, {"optional"});
        bool optional = opt && opt->is_bool() && opt->as_bool();
        std::string src = str_at(*sk, {"name"}), key = str_at(*sk, {"key"});
        auto data = source_data(ctx, true, src);
        if (data.ok() && data->count(key)) {
          set(name, data->at(key));
        } else if (!optional) {
          return invalid_argument(
              data.ok() ? fmt::format("couldn't find key {} in Secret {}", key, src)
                        : fmt::format("secret {:?} not found", src));
        }
      }
    }
  }
  // The agent's own variables, unless the pod set them.
  auto add_default = [&](const char* name, const std::string& value) {
    if (!vars.count(name)) set(name, value);
  };
  add_default("POD_IP", ctx.pod_ip);
  add_default("POD_NAME", str_at(*ctx.pod, {"metadata", "name"}));
  add_default("POD_NAMESPACE", str_at(*ctx.pod, {"metadata", "namespace"}));
  add_default("NODE_NAME", ctx.node_name);
  // Later entries win: keep the last of each name, in first-seen order.
  std::vector<std::pair<std::string, std::string>> dedup;
  std::map<std::string, std::size_t> index;
  for (auto& [k, v] : out) {
    auto it = index.find(k);
    if (it == index.end()) {
      index[k] = dedup.size();
      dedup.emplace_back(k, v);
    } else {
      dedup[it->second].second = v;
    }
  }
  return dedup;
}

}  // namespace orch::agent::detail
