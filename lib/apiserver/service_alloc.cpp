// ServiceAllocator: two bitmaps in the store, changed with compare-and-swap.
#include "service_alloc.hpp"

#include <arpa/inet.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "orch/api/bytes.hpp"
#include "orch/api/field_error.hpp"

namespace orch::apiserver {
namespace json = boost::json;

namespace {

constexpr int kMaxCasRetries = 64;
constexpr std::string_view kIpKey = "/registry/ranges/serviceips";
constexpr std::string_view kPortKey = "/registry/ranges/servicenodeports";
constexpr std::string_view kServicesPrefix = "/registry/core/services/";

std::uint32_t random_below(std::uint32_t n) {
  thread_local std::mt19937 engine{std::random_device{}()};
  return std::uniform_int_distribution<std::uint32_t>(0, n - 1)(engine);
}

// A bitmap of `size` items kept under one store key.
class StoredBitmap {
 public:
  StoredBitmap(store::Store& store, std::string key, std::string label, std::uint32_t size)
      : store_(store), key_(std::move(key)), label_(std::move(label)), size_(size) {}

  std::uint32_t size() const { return size_; }

  // Sets item `i`. AlreadyExists when it is set.
  Status allocate(std::uint32_t i) {
    return modify([&](std::string& bits) -> Result<bool> {
      if (test(bits, i)) return Status(Code::kAlreadyExists, "already allocated");
      set(bits, i, true);
      return true;
    });
  }

  // Sets a free item in [first, last], scanning from a random start. ResourceExhausted when none.
  Result<std::uint32_t> allocate_next(std::uint32_t first, std::uint32_t last) {
    std::uint32_t got = 0;
    ORCH_TRY(modify([&](std::string& bits) -> Result<bool> {
      const std::uint32_t span = last - first + 1;
      const std::uint32_t start = random_below(span);
      for (std::uint32_t k = 0; k < span; ++k) {
        const std::uint32_t i = first + (start + k) % span;
        if (!test(bits, i)) {
          set(bits, i, true);
          got = i;
          return true;
        }
      }
      return Status(Code::kResourceExhausted, "range is full");
    }));
    return got;
  }

  void release(std::uint32_t i) {
    (void)modify([&](std::string& bits) -> Result<bool> {
      if (!test(bits, i)) return false;
      set(bits, i, false);
      return true;
    });
  }

  Status reset(const std::set<std::uint32_t>& used) {
    return modify([&](std::string& bits) -> Result<bool> {
      std::string fresh((size_ + 7) / 8, '\0');
      for (std::uint32_t i : used) {
        if (i < size_) set(fresh, i, true);
      }
      if (fresh == bits) return false;
      bits = std::move(fresh);
      return true;
    });
  }

 private:
  static bool test(const std::string& bits, std::uint32_t i) {
    return (static_cast<unsigned char>(bits[i / 8]) >> (i % 8)) & 1U;
  }
  static void set(std::string& bits, std::uint32_t i, bool on) {
    auto b = static_cast<unsigned char>(bits[i / 8]);
    b = on ? (b | (1U << (i % 8))) : (b & ~(1U << (i % 8)));
    bits[i / 8] = static_cast<char>(b);
  }

  // Read, change, compare-and-swap; again when another writer won. Writers of this process take
  // turns (so concurrent creates through one API server never exhaust the retries); the
  // compare-and-swap guards against other API servers sharing the store, which back off a little
  // more on each lost race.
  Status modify(const std::function<Result<bool>(std::string&)>& change) {
    std::lock_guard lock(modify_mu_);
    for (int attempt = 0; attempt < kMaxCasRetries; ++attempt) {
      if (attempt > 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(random_below(200U * std::min(attempt, 50))));
      }
      auto kv = store_.get(key_);
      if (!kv.ok() && kv.status().code() != Code::kNotFound) return kv.status();
      std::string bits((size_ + 7) / 8, '\0');
      store::Revision rev = 0;
      if (kv.ok()) {
        rev = kv->mod_revision;
        std::error_code ec;
        json::value v = json::parse(kv->value, ec);
        // A different range (the server was restarted with other flags) starts empty: repair()
        // refills it from the Services.
        if (!ec && v.is_object() && v.as_object().contains("range") &&
            v.at("range") == json::value(label_) && v.as_object().contains("data") &&
            v.at("data").is_string()) {
          auto raw = api::base64_decode(v.at("data").as_string());
          if (raw.ok() && raw->size() == bits.size()) bits = std::move(raw).value();
        }
      }
      ORCH_ASSIGN_OR_RETURN(bool changed, change(bits));
      if (!changed) return Status();
      std::string value =
          json::serialize(json::object{{"range", label_}, {"data", api::base64_encode(bits)}});
      auto w = kv.ok() ? store_.update(key_, std::move(value), rev)
                       : store_.create(key_, std::move(value));
      if (w.ok()) return Status();
      if (w.status().code() != Code::kAborted && w.status().code() != Code::kAlreadyExists &&
          w.status().code() != Code::kNotFound) {
        return w.status();
      }
    }
    return Status(Code::kAborted, "too many concurrent allocations of " + key_ + "; try again");
  }

  store::Store& store_;
  const std::string key_;
  const std::string label_;
  const std::uint32_t size_;
  std::mutex modify_mu_;  // lock order: before the store's locks
};

std::optional<std::uint32_t> parse_ipv4(std::string_view s) {
  in_addr a{};
  std::string z(s);
  if (inet_pton(AF_INET, z.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string format_ipv4(std::uint32_t ip) {
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

std::string str_at(const json::value& v, std::string_view a, std::string_view b = {}) {
  const json::value* cur = &v;
  for (std::string_view k : {a, b}) {
    if (k.empty()) break;
    const auto* o = cur->if_object();
    if (o == nullptr) return {};
    cur = o->if_contains(k);
    if (cur == nullptr) return {};
  }
  return cur->is_string() ? std::string(cur->get_string()) : std::string();
}

json::object& spec_of(json::value& svc) {
  auto& spec = svc.as_object()["spec"];
  if (!spec.is_object()) spec = json::object();
  return spec.as_object();
}

bool needs_cluster_ip(const json::value& svc) { return str_at(svc, "spec", "type") != "ExternalName"; }

bool needs_node_ports(const json::value& svc) {
  const std::string type = str_at(svc, "spec", "type");
  if (type == "NodePort") return true;
  if (type != "LoadBalancer") return false;
  const auto* spec = svc.as_object().if_contains("spec");
  if (spec == nullptr || !spec->is_object()) return true;
  const auto* alloc = spec->get_object().if_contains("allocateLoadBalancerNodePorts");
  return alloc == nullptr || !alloc->is_bool() || alloc->get_bool();
}

// The service's primary cluster IP (clusterIP, else clusterIPs[0]).
std::string cluster_ip_of(const json::value& svc) {
  std::string ip = str_at(svc, "spec", "clusterIP");
  if (!ip.empty()) return ip;
  const auto* spec = svc.as_object().if_contains("spec");
  if (spec && spec->is_object()) {
    if (const auto* ips = spec->get_object().if_contains("clusterIPs");
        ips && ips->is_array() && !ips->get_array().empty() && ips->get_array()[0].is_string()) {
      return std::string(ips->get_array()[0].get_string());
    }
  }
  return {};
}

json::array* ports_of(json::value& svc) {
  auto& spec = spec_of(svc);
  auto* p = spec.if_contains("ports");
  return p && p->is_array() ? &p->as_array() : nullptr;
}

std::vector<int> node_ports_of(const json::value& svc) {
  std::vector<int> out;
  const auto* spec = svc.as_object().if_contains("spec");
  if (spec == nullptr || !spec->is_object()) return out;
  const auto* ports = spec->get_object().if_contains("ports");
  if (ports == nullptr || !ports->is_array()) return out;
  for (const auto& p : ports->get_array()) {
    if (!p.is_object()) continue;
    if (const auto* np = p.get_object().if_contains("nodePort"); np && np->is_int64() &&
                                                                    np->get_int64() != 0) {
      out.push_back(static_cast<int>(np->get_int64()));
    }
  }
  return out;
}

std::string ips_value(const std::string& ip) { return "[]string{\"" + ip + "\"}"; }

}  // namespace

struct ServiceAllocator::Impl {
  Impl(store::Store& s, std::string c, std::uint32_t base_ip, std::uint32_t ip_count, int pmin,
       int pmax)
      : store(s),
        cidr(std::move(c)),
        base(base_ip),
        ips(s, std::string(kIpKey), cidr, ip_count),
        port_min(pmin),
        port_max(pmax),
        ports(s, std::string(kPortKey), fmt::format("{}-{}", pmin, pmax),
              static_cast<std::uint32_t>(pmax - pmin + 1)) {}

  store::Store& store;
  const std::string cidr;
  const std::uint32_t base;
  StoredBitmap ips;
  const int port_min;
  const int port_max;
  StoredBitmap ports;

  std::optional<std::uint32_t> ip_offset(const std::string& ip) const {
    auto v = parse_ipv4(ip);
    if (!v || *v < base || *v - base >= ips.size()) return std::nullopt;
    return *v - base;
  }

  // Allocates the cluster IP `svc` asks for (or any). Appends a FieldError on refusal.
  Status cluster_ip(json::value& svc, ServiceAllocation& got, api::FieldErrors& errs) {
    std::string ip = cluster_ip_of(svc);
    auto& spec = spec_of(svc);
    if (ip == "None") {
      spec["clusterIP"] = "None";
      spec["clusterIPs"] = json::array{"None"};
      return Status();
    }
    if (ip.empty()) {
      // The network and broadcast addresses are never handed out.
      auto i = ips.allocate_next(1, ips.size() - 2);
      if (!i.ok()) {
        if (i.status().code() == Code::kResourceExhausted) {
          return Status(Code::kResourceExhausted,
                        "Internal error occurred: failed to allocate a serviceIP: range is full");
        }
        return i.status();
      }
      got.ips.push_back(*i);
      ip = format_ipv4(base + *i);
    } else {
      auto off = ip_offset(ip);
      if (!off) {
        errs.push_back(api::invalid(
            "spec.clusterIPs", ips_value(ip),
            "failed to allocate IP " + ip +
                ": provided IP is not in the valid range. The range of valid IPs is " + cidr));
        return Status();
      }
      Status s = ips.allocate(*off);
      if (s.code() == Code::kAlreadyExists) {
        errs.push_back(api::invalid("spec.clusterIPs", ips_value(ip),
                                    "failed to allocate IP " + ip +
                                        ": provided IP is already allocated"));
        return Status();
      }
      ORCH_TRY(s);
      got.ips.push_back(*off);
    }
    spec["clusterIP"] = ip;
    spec["clusterIPs"] = json::array{json::string(ip)};
    return Status();
  }

  // Allocates node ports for every port of `svc` that lacks one (reusing `keep`'s port of the
  // same port/protocol on updates), and the ones it names that are not in `owned`.
  Status node_ports(json::value& svc, const json::value* old, ServiceAllocation& got,
                    api::FieldErrors& errs) {
    json::array* list = ports_of(svc);
    if (list == nullptr) return Status();
    std::vector<int> owned = old ? node_ports_of(*old) : std::vector<int>{};
    std::set<int> in_this_service;
    std::set<std::pair<std::int64_t, std::string>> with_protocol;  // (nodePort, protocol) seen
    for (std::size_t idx = 0; idx < list->size(); ++idx) {
      if (!(*list)[idx].is_object()) continue;
      auto& port = (*list)[idx].as_object();
      std::string protocol = "TCP";
      if (auto* p = port.if_contains("protocol"); p && p->is_string() && !p->as_string().empty()) {
        protocol = std::string(p->as_string());
      }
      std::int64_t np = 0;
      if (auto* v = port.if_contains("nodePort"); v && v->is_int64()) np = v->get_int64();
      if (np == 0 && old != nullptr) np = previous_node_port(*old, port);
      const std::string field = fmt::format("spec.ports[{}].nodePort", idx);
      if (np != 0) {
        // One nodePort twice for one protocol, as Kubernetes' validation says it.
        if (!with_protocol.insert({np, protocol}).second) {
          errs.push_back(api::duplicate(field, std::to_string(np)));
          continue;
        }
        if (in_this_service.contains(static_cast<int>(np))) {
          port["nodePort"] = np;  // the same port for another protocol of this service
          continue;
        }
        if (std::find(owned.begin(), owned.end(), np) != owned.end()) {
          port["nodePort"] = np;
          in_this_service.insert(static_cast<int>(np));
          continue;
        }
        if (np < port_min || np > port_max) {
          errs.push_back(api::invalid(field, std::to_string(np),
                                      fmt::format("provided port is not in the valid range. The "
                                                  "range of valid ports is {}-{}",
                                                  port_min, port_max)));
          continue;
        }
        Status s = ports.allocate(static_cast<std::uint32_t>(np - port_min));
        if (s.code() == Code::kAlreadyExists) {
          errs.push_back(api::invalid(field, std::to_string(np),
                                      "provided port is already allocated"));
          continue;
        }
        ORCH_TRY(s);
        got.node_ports.push_back(static_cast<int>(np));
        in_this_service.insert(static_cast<int>(np));
        continue;
      }
      auto i = ports.allocate_next(0, ports.size() - 1);
      if (!i.ok()) {
        if (i.status().code() == Code::kResourceExhausted) {
          return Status(Code::kResourceExhausted,
                        "Internal error occurred: failed to allocate a nodePort: range is full");
        }
        return i.status();
      }
      const int allocated = port_min + static_cast<int>(*i);
      got.node_ports.push_back(allocated);
      in_this_service.insert(allocated);
      port["nodePort"] = allocated;
    }
    return Status();
  }

  static std::int64_t previous_node_port(const json::value& old, const json::object& port) {
    const auto* spec = old.as_object().if_contains("spec");
    if (spec == nullptr || !spec->is_object()) return 0;
    const auto* ports = spec->get_object().if_contains("ports");
    if (ports == nullptr || !ports->is_array()) return 0;
    for (const auto& p : ports->get_array()) {
      if (!p.is_object()) continue;
      const auto& o = p.get_object();
      if (o.if_contains("port") && port.if_contains("port") && o.at("port") == port.at("port") &&
          (o.if_contains("protocol") ? o.at("protocol") : json::value("TCP")) ==
              (port.if_contains("protocol") ? port.at("protocol") : json::value("TCP"))) {
        if (const auto* np = o.if_contains("nodePort"); np && np->is_int64()) return np->get_int64();
      }
    }
    return 0;
  }

  void release(const ServiceAllocation& a) {
    for (std::uint32_t i : a.ips) ips.release(i);
    for (int p : a.node_ports) ports.release(static_cast<std::uint32_t>(p - port_min));
  }
};

ServiceAllocator::ServiceAllocator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ServiceAllocator::~ServiceAllocator() = default;

const std::string& ServiceAllocator::cidr() const { return impl_->cidr; }

Result<std::unique_ptr<ServiceAllocator>> ServiceAllocator::create(store::Store& store,
                                                                   std::string cidr,
                                                                   int node_port_min,
                                                                   int node_port_max) {
  const auto slash = cidr.find('/');
  std::optional<std::uint32_t> addr;
  int prefix = -1;
  if (slash != std::string::npos) {
    addr = parse_ipv4(std::string_view(cidr).substr(0, slash));
    try {
      prefix = std::stoi(cidr.substr(slash + 1));
    } catch (...) {
      prefix = -1;
    }
  }
  if (!addr || prefix < 8 || prefix > 30) {
    return Status(Code::kInvalidArgument,
                  "service IP range \"" + cidr + "\" must be an IPv4 CIDR with a prefix of 8 to 30");
  }
  if (node_port_min < 1 || node_port_max > 65535 || node_port_min > node_port_max) {
    return Status(Code::kInvalidArgument, fmt::format("node port range {}-{} is not a valid range",
                                                      node_port_min, node_port_max));
  }
  const std::uint32_t count = 1U << (32 - prefix);
  const std::uint32_t base = *addr & ~(count - 1);
  const std::string label = format_ipv4(base) + "/" + std::to_string(prefix);
  return std::unique_ptr<ServiceAllocator>(new ServiceAllocator(
      std::make_unique<Impl>(store, label, base, count, node_port_min, node_port_max)));
}

Result<ServiceAllocation> ServiceAllocator::allocate_for_create(json::value& service) {
  ServiceAllocation got;
  api::FieldErrors errs;
  Status s;
  if (needs_cluster_ip(service)) s = impl_->cluster_ip(service, got, errs);
  if (s.ok() && needs_node_ports(service)) s = impl_->node_ports(service, nullptr, got, errs);
  if (!s.ok() || !errs.empty()) {
    impl_->release(got);
    if (!s.ok()) return s;
    return api::invalid_status("Service", str_at(service, "metadata", "name"), errs);
  }
  return got;
}

Result<ServiceAllocation> ServiceAllocator::allocate_for_update(const json::value& old,
                                                                json::value& service) {
  ServiceAllocation got;
  api::FieldErrors errs;
  Status s;
  auto& spec = spec_of(service);
  if (needs_cluster_ip(service)) {
    const std::string had = needs_cluster_ip(old) ? cluster_ip_of(old) : std::string();
    if (!had.empty()) {
      // Immutable: an update that leaves the field out keeps it (validation refuses a change).
      if (cluster_ip_of(service).empty()) {
        spec["clusterIP"] = had;
        spec["clusterIPs"] = json::array{json::string(had)};
      }
    } else {
      s = impl_->cluster_ip(service, got, errs);
    }
  }
  if (s.ok()) {
    if (needs_node_ports(service)) {
      s = impl_->node_ports(service, needs_node_ports(old) ? &old : nullptr, got, errs);
    } else if (needs_node_ports(old) && node_ports_of(service) == node_ports_of(old)) {
      // Leaving NodePort/LoadBalancer: the allocated ports go with the type (as Kubernetes
      // drops type-dependent fields the client did not change).
      if (json::array* ports = ports_of(service)) {
        for (auto& p : *ports) {
          if (p.is_object()) p.as_object().erase("nodePort");
        }
      }
    }
    const std::string type = str_at(service, "spec", "type");
    if (type != "NodePort" && type != "LoadBalancer") {
      const auto* old_spec = old.as_object().if_contains("spec");
      for (std::string_view field : {"externalTrafficPolicy", "healthCheckNodePort",
                                     "allocateLoadBalancerNodePorts", "loadBalancerClass"}) {
        const json::value* was = old_spec && old_spec->is_object()
                                     ? old_spec->get_object().if_contains(field)
                                     : nullptr;
        const json::value* now = spec.if_contains(field);
        if (now != nullptr && was != nullptr && *now == *was) spec.erase(field);
      }
    }
  }
  if (!s.ok() || !errs.empty()) {
    impl_->release(got);
    if (!s.ok()) return s;
    return api::invalid_status("Service", str_at(service, "metadata", "name"), errs);
  }
  return got;
}

void ServiceAllocator::release_dropped(const json::value& old, const json::value& updated) {
  const std::string old_ip = needs_cluster_ip(old) ? cluster_ip_of(old) : std::string();
  const std::string new_ip = needs_cluster_ip(updated) ? cluster_ip_of(updated) : std::string();
  if (!old_ip.empty() && old_ip != new_ip) {
    if (auto off = impl_->ip_offset(old_ip)) impl_->ips.release(*off);
  }
  std::vector<int> kept = needs_node_ports(updated) ? node_ports_of(updated) : std::vector<int>{};
  if (needs_node_ports(old)) {
    for (int p : node_ports_of(old)) {
      if (std::find(kept.begin(), kept.end(), p) == kept.end() && p >= impl_->port_min &&
          p <= impl_->port_max) {
        impl_->ports.release(static_cast<std::uint32_t>(p - impl_->port_min));
      }
    }
  }
}

void ServiceAllocator::release(const ServiceAllocation& allocation) { impl_->release(allocation); }

void ServiceAllocator::release_service(const json::value& service) {
  json::value none = json::object{{"spec", json::object{{"type", "ExternalName"}}}};
  release_dropped(service, none);
}

Status ServiceAllocator::repair() {
  ORCH_ASSIGN_OR_RETURN(auto list, impl_->store.list(std::string(kServicesPrefix)));
  std::set<std::uint32_t> ips, ports;
  for (const auto& kv : list.items) {
    std::error_code ec;
    json::value svc = json::parse(kv.value, ec);
    if (ec || !svc.is_object()) continue;
    if (needs_cluster_ip(svc)) {
      if (auto off = impl_->ip_offset(cluster_ip_of(svc))) ips.insert(*off);
    }
    if (needs_node_ports(svc)) {
      for (int p : node_ports_of(svc)) {
        if (p >= impl_->port_min && p <= impl_->port_max) {
          ports.insert(static_cast<std::uint32_t>(p - impl_->port_min));
        }
      }
    }
  }
  ORCH_TRY(impl_->ips.reset(ips));
  return impl_->ports.reset(ports);
}

}  // namespace orch::apiserver
