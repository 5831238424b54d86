// Node registration, node status, Lease renewal, machine facts, pod IP ranges and JSON helpers
// shared by the agent and the simulated nodes.
//
// Thread-safety: stateless functions; IpAllocator is owned and locked by its user.
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "agent_internal.hpp"
#include "orch/client/resource.hpp"

namespace orch::agent::detail {

const json::value* path(const json::value& v, std::initializer_list<std::string_view> keys) {
  const json::value* cur = &v;
  for (auto k : keys) {
    if (!cur->is_object()) return nullptr;
    cur = cur->as_object().if_contains(k);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

std::string str_at(const json::value& v, std::initializer_list<std::string_view> keys) {
  const json::value* p = path(v, keys);
  if (p == nullptr || !p->is_string()) return {};
  return std::string(p->as_string());
}

std::int64_t int_at(const json::value& v, std::initializer_list<std::string_view> keys,
                    std::int64_t fallback) {
  const json::value* p = path(v, keys);
  if (p == nullptr) return fallback;
  if (p->is_int64()) return p->as_int64();
  if (p->is_uint64()) return static_cast<std::int64_t>(p->as_uint64());
  if (p->is_double()) return static_cast<std::int64_t>(p->as_double());
  return fallback;
}

const json::array* array_at(const json::value& v, std::initializer_list<std::string_view> keys) {
  const json::value* p = path(v, keys);
  if (p == nullptr || !p->is_array()) return nullptr;
  return &p->as_array();
}

std::uint64_t rv_number(const json::value& object) {
  std::string rv = str_at(object, {"metadata", "resourceVersion"});
  if (rv.empty() || rv.size() > 19 || rv.find_first_not_of("0123456789") != std::string::npos) {
    return 0;
  }
  return std::stoull(rv);
}

// ---- IPs ----

std::optional<std::uint32_t> parse_ipv4(std::string_view ip) {
  std::uint32_t out = 0;
  int parts = 0;
  std::size_t i = 0;
  while (parts < 4) {
    if (i >= ip.size() || ip[i] < '0' || ip[i] > '9') return std::nullopt;
    std::uint32_t v = 0;
    std::size_t digits = 0;
    while (i < ip.size() && ip[i] >= '0' && ip[i] <= '9' && digits < 4) {
      v = v * 10 + static_cast<std::uint32_t>(ip[i] - '0');
      ++i;
      ++digits;
    }
    if (v > 255) return std::nullopt;
    out = (out << 8) | v;
    ++parts;
    if (parts < 4) {
      if (i >= ip.size() || ip[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (i != ip.size()) return std::nullopt;
  return out;
}

std::string format_ipv4(std::uint32_t ip) {
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

Result<IpAllocator> IpAllocator::parse(std::string_view cidr, std::string_view exclude) {
  auto slash = cidr.find('/');
  if (slash == std::string_view::npos) {
    return invalid_argument(fmt::format("invalid pod CIDR {:?}: no prefix length", cidr));
  }
  auto base = parse_ipv4(cidr.substr(0, slash));
  std::string_view len_text = cidr.substr(slash + 1);
  int len = 0;
  for (char c : len_text) {
    if (c < '0' || c > '9') return invalid_argument(fmt::format("invalid pod CIDR {:?}", cidr));
    len = len * 10 + (c - '0');
    if (len > 32) break;
  }
  if (!base || len_text.empty() || len < 8 || len > 30) {
    return invalid_argument(fmt::format("invalid pod CIDR {:?}: want a.b.c.d/8..30", cidr));
  }
  IpAllocator a;
  std::uint32_t mask = len == 0 ? 0 : ~((1u << (32 - len)) - 1);
  a.base_ = *base & mask;
  a.size_ = 1u << (32 - len);
  if (auto ex = parse_ipv4(exclude)) a.exclude_ = *ex;
  return a;
}

Result<std::string> IpAllocator::allocate() {
  // Hosts 1 .. size-2; round robin from next_ so a released address is not reused at once.
  std::uint32_t hosts = size_ - 2;
  for (std::uint32_t i = 0; i < hosts; ++i) {
    std::uint32_t off = ((next_ - 1 + i) % hosts) + 1;
    std::uint32_t ip = base_ + off;
    if (ip == exclude_ || used_.count(ip)) continue;
    used_.insert(ip);
    next_ = off + 1 > hosts ? 1 : off + 1;
    return format_ipv4(ip);
  }
  return Status(Code::kResourceExhausted, "no pod IP left in the node's pod CIDR");
}

bool IpAllocator::reserve(std::string_view ip) {
  auto v = parse_ipv4(ip);
  if (!v || *v <= base_ || *v >= base_ + size_ - 1) return false;
  return used_.insert(*v).second;
}

void IpAllocator::release(std::string_view ip) {
  if (auto v = parse_ipv4(ip)) used_.erase(*v);
}

// ---- Machine ----

namespace {
std::string read_first_line(const char* file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}
}  // namespace

std::string go_arch(std::string_view machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine == "i686" || machine == "i386") return "386";
  if (machine.rfind("armv", 0) == 0) return "arm";
  return std::string(machine);
}

MachineInfo read_machine_info(const std::string& data_dir) {
  MachineInfo m;
  unsigned hc = std::thread::hardware_concurrency();
  m.cores = hc > 0 ? static_cast<int>(hc) : 1;
  {
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::uint64_t kb = 0;
    std::string unit;
    while (in >> key >> kb >> unit) {
      if (key == "MemTotal:") {
        m.memory_bytes = kb * 1024;
        break;
      }
    }
  }
  struct statvfs vfs{};
  if (!data_dir.empty() && ::statvfs(data_dir.c_str(), &vfs) == 0) {
    m.disk_bytes = static_cast<std::uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  }
  m.machine_id = read_first_line("/etc/machine-id");
  m.boot_id = read_first_line("/proc/sys/kernel/random/boot_id");
  m.system_uuid = m.machine_id;
  struct utsname u{};
  if (::uname(&u) == 0) {
    m.kernel_version = u.release;
    m.architecture = go_arch(u.machine);
    m.hostname = u.nodename;
  }
  {
    std::ifstream in("/etc/os-release");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("PRETTY_NAME=", 0) == 0) {
        std::string v = line.substr(12);
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        m.os_image = v;
      }
    }
  }
  if (m.os_image.empty()) m.os_image = "Linux";
  return m;
}

// ---- Node ----

namespace {

json::object string_map(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

struct CondDef {
  const char* type;
  const char* status;
  const char* reason;
  const char* message;
};
constexpr CondDef kNodeConditions[] = {
    {"MemoryPressure", "False", "KubeletHasSufficientMemory",
     "kubelet has sufficient memory available"},
    {"DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
    {"PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
    {"Ready", "True", "KubeletReady", "kubelet is posting ready status"},
};

}  // namespace

json::value node_object(const NodeDescription& d) {
  json::object meta;
  meta["name"] = d.name;
  meta["labels"] = string_map(d.labels);
  if (!d.annotations.empty()) meta["annotations"] = string_map(d.annotations);
  json::object spec;
  if (!d.pod_cidr.empty()) {
    spec["podCIDR"] = d.pod_cidr;
    spec["podCIDRs"] = json::array{json::value(d.pod_cidr)};
  }
  if (!d.taints.empty()) {
    json::array taints;
    for (const auto& t : d.taints) {
      json::object o;
      o["key"] = t.key;
      if (!t.value.empty()) o["value"] = t.value;
      o["effect"] = t.effect;
      taints.push_back(std::move(o));
    }
    spec["taints"] = std::move(taints);
  }
  json::object node;
  node["apiVersion"] = "v1";
  node["kind"] = "Node";
  node["metadata"] = std::move(meta);
  node["spec"] = std::move(spec);
  return node;
}

json::value node_status(const NodeDescription& d, std::string_view now,
                        const json::value* previous_status) {
  json::object status;
  if (previous_status && previous_status->is_object()) status = previous_status->as_object();
  status["capacity"] = string_map(d.capacity);
  status["allocatable"] = string_map(d.allocatable);
  status["addresses"] = json::array{
      json::object{{"type", "InternalIP"}, {"address", d.ip}},
      json::object{{"type", "Hostname"}, {"address", d.hostname.empty() ? d.name : d.hostname}}};
  status["nodeInfo"] = d.node_info;
  status["daemonEndpoints"] =
      json::object{{"kubeletEndpoint", json::object{{"Port", static_cast<int>(d.endpoint_port)}}}};
  status["phase"] = "Running";
  json::array conds;
  for (const auto& c : kNodeConditions) {
    std::string transition(now);
    if (previous_status) {
      if (const auto* prev = array_at(*previous_status, {"conditions"})) {
        for (const auto& pc : *prev) {
          if (str_at(pc, {"type"}) == c.type && str_at(pc, {"status"}) == c.status) {
            std::string t = str_at(pc, {"lastTransitionTime"});
            if (!t.empty()) transition = t;
          }
        }
      }
    }
    conds.push_back(json::object{{"type", c.type},
                                 {"status", c.status},
                                 {"lastHeartbeatTime", now},
                                 {"lastTransitionTime", transition},
                                 {"reason", c.reason},
                                 {"message", c.message}});
  }
  status["conditions"] = std::move(conds);
  return status;
}

namespace {

Result<json::value> write_node_status(const client::Client& client, const NodeDescription& d,
                                      json::value node, std::string_view now) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    const json::value* prev = path(node, {"status"});
    json::value st = node_status(d, now, prev);
    node.as_object()["status"] = std::move(st);
    auto r = client.update_status(client::resources::kNodes, "", node);
    if (r.ok()) return r;
    if (r.status().code() != Code::kAborted) return r.status();
    auto fresh = client.get(client::resources::kNodes, "", d.name);
    if (!fresh.ok()) return fresh.status();
    node = std::move(fresh).value();
  }
  return aborted(fmt::format("node {:?}: status kept conflicting", d.name));
}

}  // namespace

Result<json::value> register_node(const client::Client& client, const NodeDescription& d,
                                  std::string_view now) {
  json::value obj = node_object(d);
  obj.as_object()["status"] = node_status(d, now, nullptr);
  auto created = client.create(client::resources::kNodes, "", obj);
  json::value node;
  if (created.ok()) {
    node = std::move(created).value();
  } else if (created.status().code() == Code::kAlreadyExists) {
    for (int attempt = 0;; ++attempt) {
      auto got = client.get(client::resources::kNodes, "", d.name);
      if (!got.ok()) return got.status();
      node = std::move(got).value();
      json::object& meta = node.as_object()["metadata"].as_object();
      json::value& labels = meta["labels"];
      if (!labels.is_object()) labels = json::object{};
      bool changed = false;
      for (const auto& [k, v] : d.labels) {
        auto* cur = labels.as_object().if_contains(k);
        if (!cur || !cur->is_string() || cur->as_string() != v) {
          labels.as_object()[k] = v;
          changed = true;
        }
      }
      json::object& spec = node.as_object()["spec"].is_object()
                               ? node.as_object()["spec"].as_object()
                               : (node.as_object()["spec"] = json::object{}).as_object();
      if (!d.pod_cidr.empty() && str_at(node, {"spec", "podCIDR"}).empty()) {
        spec["podCIDR"] = d.pod_cidr;
        spec["podCIDRs"] = json::array{json::value(d.pod_cidr)};
        changed = true;
      }
      if (!changed) break;
      auto upd = client.update(client::resources::kNodes, "", node);
      if (upd.ok()) {
        node = std::move(upd).value();
        break;
      }
      if (upd.status().code() != Code::kAborted || attempt >= 5) return upd.status();
    }
  } else {
    return created.status();
  }
  return write_node_status(client, d, std::move(node), now);
}

Result<json::value> heartbeat_node(const client::Client& client, const NodeDescription& d,
                                   json::value node, std::string_view now) {
  if (!node.is_object()) {
    auto got = client.get(client::resources::kNodes, "", d.name);
    if (!got.ok()) return got.status();
    node = std::move(got).value();
  }
  return write_node_status(client, d, std::move(node), now);
}

Result<json::value> renew_lease(const client::Client& client, std::string_view node,
                                std::string_view node_uid, std::int64_t duration_seconds,
                                const json::value& lease, std::string_view now_micro) {
  json::value cur = lease;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (!cur.is_object()) {
      auto got = client.get(client::resources::kLeases, "kube-node-lease", node);
      if (got.ok()) {
        cur = std::move(got).value();
      } else if (got.status().code() == Code::kNotFound) {
        json::object meta{{"name", node}, {"namespace", "kube-node-lease"}};
        if (!node_uid.empty()) {
          meta["ownerReferences"] = json::array{json::object{
              {"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}, {"uid", node_uid}}};
        }
        json::object obj{{"apiVersion", "coordination.k8s.io/v1"},
                         {"kind", "Lease"},
                         {"metadata", std::move(meta)},
                         {"spec", json::object{{"holderIdentity", node},
                                               {"leaseDurationSeconds", duration_seconds},
                                               {"renewTime", now_micro}}}};
        auto created = client.create(client::resources::kLeases, "kube-node-lease", obj);
        if (created.ok() || created.status().code() != Code::kAlreadyExists) return created;
        continue;
      } else {
        return got.status();
      }
    }
    json::value next = cur;
    json::value& spec = next.as_object()["spec"];
    if (!spec.is_object()) spec = json::object{};
    spec.as_object()["holderIdentity"] = node;
    spec.as_object()["leaseDurationSeconds"] = duration_seconds;
    spec.as_object()["renewTime"] = now_micro;
    auto r = client.update(client::resources::kLeases, "kube-node-lease", next);
    if (r.ok()) return r;
    if (r.status().code() != Code::kAborted && r.status().code() != Code::kNotFound) {
      return r.status();
    }
    cur = nullptr;  // re-read (or create) and try again
  }
  return aborted(fmt::format("lease {:?}: kept conflicting", node));
}

}  // namespace orch::agent::detail
