// Parsing pods and nodes into the scheduler's compact types, node selector matching, tolerations.
// Thread-safety: pure functions; NodeInfo methods need their owner's lock.
#include "orch/scheduler/types.hpp"

#include <boost/json.hpp>
#include <algorithm>
#include <charconv>
#include <functional>

#include "orch/api/quantity.hpp"

namespace orch::scheduler {

namespace json = boost::json;

namespace {

const json::value* at(const json::value& v, std::string_view key) {
  const auto* o = v.if_object();
  return o ? o->if_contains(key) : nullptr;
}
const json::object* obj_at(const json::value& v, std::string_view key) {
  const auto* p = at(v, key);
  return p ? p->if_object() : nullptr;
}
const json::array* arr_at(const json::value& v, std::string_view key) {
  const auto* p = at(v, key);
  return p ? p->if_array() : nullptr;
}
std::string str_at(const json::value& v, std::string_view key) {
  const auto* p = at(v, key);
  return p && p->is_string() ? std::string(p->get_string()) : std::string();
}

std::map<std::string, std::string> string_map(const json::object* o) {
  std::map<std::string, std::string> out;
  if (!o) return out;
  for (const auto& kv : *o) {
    if (kv.value().is_string()) out.emplace(std::string(kv.key()), std::string(kv.value().get_string()));
  }
  return out;
}

// A quantity as int64 milli-units (cpu) or units (the rest). Unparseable: 0.
std::int64_t quantity(const json::value& v, bool milli) {
  if (v.is_string()) {
    auto q = api::Quantity::parse(v.get_string());
    if (!q.ok()) return 0;
    return milli ? q->milli_value() : q->value();
  }
  if (v.is_int64()) return milli ? v.get_int64() * 1000 : v.get_int64();
  if (v.is_uint64()) {
    auto u = static_cast<std::int64_t>(v.get_uint64());
    return milli ? u * 1000 : u;
  }
  if (v.is_double()) return static_cast<std::int64_t>(v.get_double() * (milli ? 1000.0 : 1.0));
  return 0;
}

// Resources of a ResourceList object ({"cpu":"1","memory":"1Gi",...}).
Resources resource_list(const json::object* o) {
  Resources r;
  if (!o) return r;
  for (const auto& kv : *o) {
    if (kv.key() == "cpu") {
      r.milli_cpu = quantity(kv.value(), true);
    } else if (kv.key() == "memory") {
      r.memory = quantity(kv.value(), false);
    } else if (kv.key() == "ephemeral-storage") {
      r.ephemeral_storage = quantity(kv.value(), false);
    } else if (kv.key() == "pods") {
      r.pods = quantity(kv.value(), false);
    }
  }
  return r;
}

// A container's requests (limits where requests are absent, as Kubernetes defaults them).
struct ContainerRequests {
  Resources req;
  Resources non_zero;
};
ContainerRequests container_requests(const json::value& c) {
  ContainerRequests out;
  const json::object* res = obj_at(c, "resources");
  const json::object* requests = nullptr;
  const json::object* limits = nullptr;
  if (res) {
    if (auto* p = res->if_contains("requests")) requests = p->if_object();
    if (auto* p = res->if_contains("limits")) limits = p->if_object();
  }
  Resources req = resource_list(requests);
  Resources lim = resource_list(limits);
  bool has_cpu = requests && requests->contains("cpu");
  bool has_mem = requests && requests->contains("memory");
  bool has_eph = requests && requests->contains("ephemeral-storage");
  if (!has_cpu && limits && limits->contains("cpu")) {
    req.milli_cpu = lim.milli_cpu;
    has_cpu = true;
  }
  if (!has_mem && limits && limits->contains("memory")) {
    req.memory = lim.memory;
    has_mem = true;
  }
  if (!has_eph && limits && limits->contains("ephemeral-storage")) {
    req.ephemeral_storage = lim.ephemeral_storage;
  }
  req.pods = 0;
  out.req = req;
  out.non_zero = req;
  if (!has_cpu) out.non_zero.milli_cpu = kDefaultMilliCpuRequest;
  if (!has_mem) out.non_zero.memory = kDefaultMemoryRequest;
  return out;
}

Resources max_of(const Resources& a, const Resources& b) {
  Resources r;
  r.milli_cpu = std::max(a.milli_cpu, b.milli_cpu);
  r.memory = std::max(a.memory, b.memory);
  r.ephemeral_storage = std::max(a.ephemeral_storage, b.ephemeral_storage);
  return r;
}

NodeSelectorRequirement parse_requirement(const json::value& v) {
  NodeSelectorRequirement r;
  r.key = str_at(v, "key");
  r.op = str_at(v, "operator");
  if (const auto* vals = arr_at(v, "values")) {
    for (const auto& x : *vals) {
      if (x.is_string()) r.values.emplace_back(x.get_string());
    }
  }
  return r;
}

NodeSelectorTerm parse_term(const json::value& v) {
  NodeSelectorTerm t;
  if (const auto* a = arr_at(v, "matchExpressions")) {
    for (const auto& x : *a) t.match_expressions.push_back(parse_requirement(x));
  }
  if (const auto* a = arr_at(v, "matchFields")) {
    for (const auto& x : *a) t.match_fields.push_back(parse_requirement(x));
  }
  return t;
}

bool parse_int(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

void hash_combine(std::size_t& seed, std::size_t v) {
  seed ^= v + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
}

}  // namespace

std::optional<NodeSelector> parse_node_selector(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  NodeSelector s;
  if (const auto* terms = arr_at(v, "nodeSelectorTerms")) {
    for (const auto& t : *terms) s.terms.push_back(parse_term(t));
  }
  return s;
}

Result<PodInfoPtr> parse_pod(std::shared_ptr<const json::value> object) {
  if (!object || !object->is_object()) return Status(Code::kBadRequest, "pod is not an object");
  const json::value& o = *object;
  const json::value* meta = at(o, "metadata");
  if (!meta || !meta->is_object()) return Status(Code::kBadRequest, "pod has no metadata");
  auto p = std::make_shared<PodInfo>();
  p->name = str_at(*meta, "name");
  if (p->name.empty()) return Status(Code::kBadRequest, "pod has no metadata.name");
  p->ns = str_at(*meta, "namespace");
  p->uid = str_at(*meta, "uid");
  p->key = p->ns.empty() ? p->name : p->ns + "/" + p->name;
  p->labels = string_map(obj_at(*meta, "labels"));
  if (const auto* dt = at(*meta, "deletionTimestamp"); dt && !dt->is_null()) p->terminating = true;
  if (const auto* owners = arr_at(*meta, "ownerReferences")) {
    for (const auto& ref : *owners) {
      const auto* c = at(ref, "controller");
      if (c && c->is_bool() && c->get_bool()) {
        p->spread_key = "owner:" + str_at(ref, "uid");
        break;
      }
    }
  }
  if (p->spread_key.empty() && !p->labels.empty()) {
    std::string k = "labels:";
    for (const auto& [lk, lv] : p->labels) {
      k += lk;
      k += '=';
      k += lv;
      k += ',';
    }
    p->spread_key = std::move(k);
  }
  const json::value* spec = at(o, "spec");
  if (spec && spec->is_object()) {
    p->node_name = str_at(*spec, "nodeName");
    p->scheduler_name = str_at(*spec, "schedulerName");
    if (const auto* pr = at(*spec, "priority"); pr && pr->is_int64()) {
      p->priority = static_cast<std::int32_t>(pr->get_int64());
    }
    // Requests: sum of containers (and sidecars), max with each init container.
    Resources sum, sum_nz;
    if (const auto* cs = arr_at(*spec, "containers")) {
      for (const auto& c : *cs) {
        auto r = container_requests(c);
        sum.add(r.req);
        sum_nz.add(r.non_zero);
        if (const auto* ports = arr_at(c, "ports")) {
          for (const auto& port : *ports) {
            const auto* hp = at(port, "hostPort");
            if (!hp || !hp->is_int64() || hp->get_int64() <= 0) continue;
            HostPort h;
            h.port = static_cast<std::int32_t>(hp->get_int64());
            h.protocol = str_at(port, "protocol");
            if (h.protocol.empty()) h.protocol = "TCP";
            h.ip = str_at(port, "hostIP");
            if (h.ip.empty()) h.ip = "0.0.0.0";
            p->host_ports.push_back(std::move(h));
          }
        }
      }
    }
    Resources init_max, init_max_nz, sidecars, sidecars_nz;
    if (const auto* cs = arr_at(*spec, "initContainers")) {
      for (const auto& c : *cs) {
        auto r = container_requests(c);
        if (str_at(c, "restartPolicy") == "Always") {
          sidecars.add(r.req);
          sidecars_nz.add(r.non_zero);
          init_max = max_of(init_max, sidecars);
          init_max_nz = max_of(init_max_nz, sidecars_nz);
        } else {
          Resources x = r.req, xn = r.non_zero;
          x.add(sidecars);
          xn.add(sidecars_nz);
          init_max = max_of(init_max, x);
          init_max_nz = max_of(init_max_nz, xn);
        }
      }
    }
    sum.add(sidecars);
    sum_nz.add(sidecars_nz);
    p->requests = max_of(sum, init_max);
    p->non_zero_requests = max_of(sum_nz, init_max_nz);
    Resources overhead = resource_list(obj_at(*spec, "overhead"));
    p->requests.add(overhead);
    p->non_zero_requests.add(overhead);

    p->node_selector = string_map(obj_at(*spec, "nodeSelector"));
    if (const auto* aff = obj_at(*spec, "affinity")) {
      if (const auto* na = aff->if_contains("nodeAffinity")) {
        if (const auto* req = at(*na, "requiredDuringSchedulingIgnoredDuringExecution")) {
          p->required_affinity = parse_node_selector(*req);
        }
        if (const auto* pref = arr_at(*na, "preferredDuringSchedulingIgnoredDuringExecution")) {
          for (const auto& t : *pref) {
            PreferredTerm pt;
            if (const auto* w = at(t, "weight"); w && w->is_int64()) {
              pt.weight = static_cast<std::int32_t>(w->get_int64());
            }
            if (const auto* pre = at(t, "preference")) pt.term = parse_term(*pre);
            p->preferred_affinity.push_back(std::move(pt));
          }
        }
      }
    }
    if (const auto* ts = arr_at(*spec, "tolerations")) {
      for (const auto& t : *ts) {
        p->tolerations.push_back(
            {str_at(t, "key"), str_at(t, "operator"), str_at(t, "value"), str_at(t, "effect")});
      }
    }
    if (const auto* vols = arr_at(*spec, "volumes")) {
      for (const auto& v : *vols) {
        if (const auto* pvc = obj_at(v, "persistentVolumeClaim")) {
          if (const auto* cn = pvc->if_contains("claimName"); cn && cn->is_string()) {
            p->claims.emplace_back(cn->get_string());
          }
        }
      }
    }
    std::size_t h = std::hash<std::string>()(json::serialize(*spec));
    if (const auto* l = obj_at(*meta, "labels")) hash_combine(h, std::hash<std::string>()(json::serialize(*l)));
    p->spec_hash = h;
  }
  if (const auto* st = at(o, "status")) p->phase = str_at(*st, "phase");
  p->object = std::move(object);
  return PodInfoPtr(std::move(p));
}

Status parse_node(const json::value& object, NodeInfo& info) {
  const json::value* meta = at(object, "metadata");
  std::string name = meta ? str_at(*meta, "name") : std::string();
  if (name.empty()) return Status(Code::kBadRequest, "node has no metadata.name");
  info.name = std::move(name);
  info.labels = string_map(meta ? obj_at(*meta, "labels") : nullptr);
  info.unschedulable = false;
  info.taints.clear();
  std::size_t h = 0;
  if (const auto* spec = at(object, "spec")) {
    if (const auto* u = at(*spec, "unschedulable"); u && u->is_bool()) info.unschedulable = u->get_bool();
    if (const auto* ts = arr_at(*spec, "taints")) {
      for (const auto& t : *ts) {
        info.taints.push_back({str_at(t, "key"), str_at(t, "value"), str_at(t, "effect")});
      }
    }
    h = std::hash<std::string>()(json::serialize(*spec));
  }
  const json::value* status = at(object, "status");
  info.allocatable = resource_list(status ? obj_at(*status, "allocatable") : nullptr);
  if (status) {
    if (const auto* a = obj_at(*status, "allocatable")) hash_combine(h, std::hash<std::string>()(json::serialize(*a)));
  }
  if (meta) {
    if (const auto* l = obj_at(*meta, "labels")) hash_combine(h, std::hash<std::string>()(json::serialize(*l)));
  }
  info.spec_hash = h;
  info.has_node = true;
  return Status();
}

void NodeInfo::add_pod(const PodInfo& pod) {
  requested.add(pod.requests);
  non_zero_requested.add(pod.non_zero_requests);
  ++pod_count;
  for (const auto& hp : pod.host_ports) {
    auto it = std::find_if(used_ports.begin(), used_ports.end(),
                           [&](const auto& e) { return e.first == hp; });
    if (it == used_ports.end()) {
      used_ports.emplace_back(hp, 1);
    } else {
      ++it->second;
    }
  }
  if (!pod.spread_key.empty()) ++spread_counts[pod.spread_key];
}

void NodeInfo::remove_pod(const PodInfo& pod) {
  requested.sub(pod.requests);
  non_zero_requested.sub(pod.non_zero_requests);
  --pod_count;
  for (const auto& hp : pod.host_ports) {
    auto it = std::find_if(used_ports.begin(), used_ports.end(),
                           [&](const auto& e) { return e.first == hp; });
    if (it != used_ports.end() && --it->second <= 0) used_ports.erase(it);
  }
  if (!pod.spread_key.empty()) {
    auto it = spread_counts.find(pod.spread_key);
    if (it != spread_counts.end() && --it->second <= 0) spread_counts.erase(it);
  }
}

bool NodeInfo::port_in_use(const HostPort& port) const {
  for (const auto& [used, n] : used_ports) {
    (void)n;
    if (used.port != port.port || used.protocol != port.protocol) continue;
    if (used.ip == port.ip || used.ip == "0.0.0.0" || port.ip == "0.0.0.0") return true;
  }
  return false;
}

bool matches(const NodeSelectorRequirement& r, const std::map<std::string, std::string>& labels) {
  auto it = labels.find(r.key);
  const bool has = it != labels.end();
  if (r.op == "In") {
    return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
  }
  if (r.op == "NotIn") {
    return !has || std::find(r.values.begin(), r.values.end(), it->second) == r.values.end();
  }
  if (r.op == "Exists") return has;
  if (r.op == "DoesNotExist") return !has;
  if (r.op == "Gt" || r.op == "Lt") {
    if (!has || r.values.size() != 1) return false;
    std::int64_t label = 0, want = 0;
    if (!parse_int(it->second, label) || !parse_int(r.values[0], want)) return false;
    return r.op == "Gt" ? label > want : label < want;
  }
  return false;
}

bool matches(const NodeSelectorTerm& term, const std::map<std::string, std::string>& labels,
             std::string_view node_name) {
  if (term.match_expressions.empty() && term.match_fields.empty()) return false;
  for (const auto& r : term.match_expressions) {
    if (!matches(r, labels)) return false;
  }
  for (const auto& f : term.match_fields) {
    if (f.key != "metadata.name") return false;
    std::map<std::string, std::string> fields{{"metadata.name", std::string(node_name)}};
    if (f.op != "In" && f.op != "NotIn") return false;
    if (!matches(f, fields)) return false;
  }
  return true;
}

bool matches(const NodeSelector& selector, const std::map<std::string, std::string>& labels,
             std::string_view node_name) {
  for (const auto& t : selector.terms) {
    if (matches(t, labels, node_name)) return true;
  }
  return false;
}

bool tolerates(const Toleration& t, const Taint& taint) {
  if (!t.effect.empty() && t.effect != taint.effect) return false;
  if (!t.key.empty() && t.key != taint.key) return false;
  if (t.op == "Exists") return true;
  if (t.op.empty() || t.op == "Equal") return t.value == taint.value;
  return false;
}

bool tolerates_any(const std::vector<Toleration>& ts, const Taint& taint) {
  for (const auto& t : ts) {
    if (tolerates(t, taint)) return true;
  }
  return false;
}

}  // namespace orch::scheduler
