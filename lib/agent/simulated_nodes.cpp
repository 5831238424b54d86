// SimulatedNodes: one pod informer and one WorkQueue (with `workers` threads, default one) for
// every simulated node. Queue keys: "p/<ns>/<name>" (a pod), "l/<slice>" (renew the leases of
// one slice of the nodes), "s/<slice>" (heartbeat the Node objects of one slice).
//
// Thread-safety: Impl::mu guards the node table and the pod bookkeeping (lock order: leaf; never
// held across an API call). A node's node_obj / lease copies are touched only by the worker that
// holds that slice's key (and by add_nodes before the node is published).
#include "orch/agent/simulated_nodes.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "agent_internal.hpp"
#include "orch/api/time.hpp"
#include "orch/client/informer.hpp"
#include "orch/client/resource.hpp"
#include "orch/client/work_queue.hpp"

namespace orch::agent {

using namespace detail;

namespace {
constexpr std::uint32_t kSlices = 16;
constexpr std::string_view kSimulateAnnotation = "orch.dev/simulate";
}  // namespace

struct SimNode {
  std::string name;
  std::uint32_t index = 0;
  NodeDescription desc;
  IpAllocator ips;  // guarded by Impl::mu
  bool stopped = false;
  bool removed = false;
  json::value node_obj;
  json::value lease;
  std::string uid;
};

struct PodRecord {
  std::string uid;
  std::string node;
  std::string ip;
  util::Clock::TimePoint first_seen{};
  std::string fail_reason;  // set by fail_pod
};

struct SimulatedNodes::Impl {
  Impl(std::shared_ptr<client::Client> c, SimulatedNodesOptions o)
      : client(std::move(c)),
        options(std::move(o)),
        clock(options.clock ? options.clock : &util::real_clock()),
        queue(client::WorkQueueOptions{.clock = clock,
                                       .base_delay = std::chrono::milliseconds(100),
                                       .max_delay = std::chrono::seconds(10)}) {}

  std::string now_time() const { return api::Time{clock->system_now()}.to_string(); }

  void run() {
    while (true) {
      auto key = queue.get(std::chrono::milliseconds(500));
      if (!key) {
        if (queue.shutting_down()) return;
        continue;
      }
      Status s = ok_status();
      if (key->rfind("p/", 0) == 0) {
        std::optional<std::chrono::nanoseconds> requeue;
        s = sync_pod(key->substr(2), requeue);
        if (s.ok() && requeue) queue.add_after(*key, *requeue);
      } else if (key->rfind("l/", 0) == 0) {
        renew_slice(static_cast<std::uint32_t>(std::stoul(key->substr(2))));
        queue.add_after(*key, options.lease_renew_interval);
      } else if (key->rfind("s/", 0) == 0) {
        heartbeat_slice(static_cast<std::uint32_t>(std::stoul(key->substr(2))));
        queue.add_after(*key, options.node_status_interval);
      }
      if (s.ok()) {
        queue.forget(*key);
      } else {
        queue.add_rate_limited(*key);
      }
      queue.done(*key);
    }
  }

  std::vector<std::shared_ptr<SimNode>> slice_nodes(std::uint32_t slice) {
    std::vector<std::shared_ptr<SimNode>> out;
    std::lock_guard lock(mu);
    for (const auto& [name, n] : nodes) {
      if (n->index % kSlices == slice && !n->stopped) out.push_back(n);
    }
    return out;
  }

  void renew_one(SimNode& n) {
    auto r = renew_lease(*client, n.name, n.uid, options.lease_duration.count(), n.lease,
                         api::MicroTime{clock->system_now()}.to_string());
    n.lease = r.ok() ? std::move(r).value() : json::value(nullptr);
  }

  void renew_slice(std::uint32_t slice) {
    for (const auto& n : slice_nodes(slice)) renew_one(*n);
  }

  void heartbeat_slice(std::uint32_t slice) {
    for (const auto& n : slice_nodes(slice)) {
      auto r = heartbeat_node(*client, n->desc, n->node_obj, now_time());
      if (!r.ok() && r.status().code() == Code::kNotFound) {
        bool removed;
        {
          std::lock_guard lock(mu);
          removed = n->removed;
        }
        if (!removed) r = register_node(*client, n->desc, now_time());
      }
      n->node_obj = r.ok() ? std::move(r).value() : json::value(nullptr);
    }
  }

  // What the annotation (or fail_pod) asks for: "", "fail", "succeed", "not-ready".
  static std::string mode_of(const json::value& pod) {
    return str_at(pod, {"metadata", "annotations", std::string(kSimulateAnnotation)});
  }

  static json::array statuses_for(const json::value& pod, const char* field,
                                  const std::string& uid, const std::string& mode, int exit_code,
                                  const std::string& reason, bool ready, const std::string& at) {
    json::array out;
    const json::array* list = array_at(pod, {"spec", field});
    if (list == nullptr) return out;
    for (const auto& c : *list) {
      std::string name = str_at(c, {"name"});
      std::string image = str_at(c, {"image"});
      std::string id = fmt::format("sim://{}/{}", uid, name);
      json::object cs{{"name", name},
                      {"image", image},
                      {"imageID", "sim://" + image},
                      {"containerID", id},
                      {"restartCount", 0},
                      {"lastState", json::object{}}};
      json::object state;
      if (mode == "running") {
        state["running"] = json::object{{"startedAt", at}};
        cs["ready"] = ready;
        cs["started"] = true;
      } else {
        state["terminated"] = json::object{{"exitCode", exit_code},
                                           {"reason", reason},
                                           {"startedAt", at},
                                           {"finishedAt", at},
                                           {"containerID", id}};
        cs["ready"] = ready;
        cs["started"] = false;
      }
      cs["state"] = std::move(state);
      out.push_back(std::move(cs));
    }
    return out;
  }

  Status sync_pod(const std::string& key, std::optional<std::chrono::nanoseconds>& requeue) {
    auto slash = key.find('/');
    if (slash == std::string::npos || !pods) return ok_status();
    std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
    client::SharedObject obj = pods->get(ns, name);
    if (!obj) {
      release(key, "");
      return ok_status();
    }
    const json::value& pod = *obj;
    std::string uid = str_at(pod, {"metadata", "uid"});
    std::string node_name = str_at(pod, {"spec", "nodeName"});
    std::shared_ptr<SimNode> node;
    std::string ip, fail_reason;
    util::Clock::TimePoint first_seen;
    {
      std::lock_guard lock(mu);
      auto it = nodes.find(node_name);
      if (it == nodes.end() || it->second->stopped) return ok_status();
      node = it->second;
      auto& rec = pod_records[key];
      if (rec.uid != uid) {
        if (!rec.ip.empty()) release_locked(rec);
        rec = PodRecord{};
        rec.uid = uid;
        rec.node = node_name;
        rec.first_seen = clock->now();
      }
      fail_reason = rec.fail_reason;
      first_seen = rec.first_seen;
      if (rec.ip.empty() && path(pod, {"metadata", "deletionTimestamp"}) == nullptr) {
        std::string existing = str_at(pod, {"status", "podIP"});
        if (!existing.empty() && node->ips.reserve(existing)) {
          rec.ip = existing;
        } else if (auto a = node->ips.allocate(); a.ok()) {
          rec.ip = *a;
        }
      }
      ip = rec.ip;
    }
    if (path(pod, {"metadata", "deletionTimestamp"}) != nullptr) {
      client::DeleteOptions d;
      d.grace_period_seconds = 0;
      d.precondition_uid = uid;
      auto r = client->remove(client::resources::kPods, ns, name, d);
      if (!r.ok() && r.status().code() != Code::kNotFound && r.status().code() != Code::kAborted) {
        return r.status();
      }
      release(key, uid);
      return ok_status();
    }
    std::string cur_phase = str_at(pod, {"status", "phase"});
    if (cur_phase == "Succeeded" || cur_phase == "Failed") return ok_status();

    std::string mode = mode_of(pod);
    if (!fail_reason.empty()) mode = "fail";
    if (mode != "fail" && mode != "succeed" && options.pod_ready_delay.count() > 0) {
      auto due = first_seen + options.pod_ready_delay;
      auto now = clock->now();
      if (now < due) {
        requeue = due - now;
        return ok_status();
      }
    }
    std::string phase = "Running";
    bool ready = true;
    std::string container_mode = "running";
    int exit_code = 0;
    std::string reason;
    if (mode == "fail") {
      phase = "Failed";
      ready = false;
      container_mode = "terminated";
      exit_code = 1;
      reason = fail_reason.empty() ? "Error" : fail_reason;
    } else if (mode == "succeed") {
      phase = "Succeeded";
      ready = false;
      container_mode = "terminated";
      reason = "Completed";
    } else if (mode == "not-ready") {
      ready = false;
    }
    // Already as wanted: nothing to write.
    if (cur_phase == phase && str_at(pod, {"status", "podIP"}) == ip) {
      bool cur_ready = false;
      if (const auto* conds = array_at(pod, {"status", "conditions"})) {
        for (const auto& c : *conds) {
          if (str_at(c, {"type"}) == "Ready") cur_ready = str_at(c, {"status"}) == "True";
        }
      }
      if (cur_ready == ready) return ok_status();
    }
    std::string now = now_time();
    std::string start = str_at(pod, {"status", "startTime"});
    if (start.empty()) start = now;
    auto cond = [&](const char* type, bool v, const char* why) {
      json::object c{{"type", type},
                     {"status", v ? "True" : "False"},
                     {"lastProbeTime", nullptr},
                     {"lastTransitionTime", now}};
      if (!v && why[0] != '\0') c["reason"] = why;
      return c;
    };
    const char* not_ready = phase == "Succeeded" ? "PodCompleted" : "ContainersNotReady";
    json::object status;
    status["phase"] = phase;
    status["hostIP"] = node->desc.ip;
    status["hostIPs"] = json::array{json::object{{"ip", node->desc.ip}}};
    status["podIP"] = ip;
    status["podIPs"] = json::array{json::object{{"ip", ip}}};
    status["startTime"] = start;
    status["conditions"] = json::array{cond("Initialized", true, ""), cond("Ready", ready, not_ready),
                                       cond("ContainersReady", ready, not_ready),
                                       cond("PodScheduled", true, "")};
    if (array_at(pod, {"spec", "initContainers"}) != nullptr) {
      status["initContainerStatuses"] =
          statuses_for(pod, "initContainers", uid, "terminated", 0, "Completed", true, start);
    }
    status["containerStatuses"] =
        statuses_for(pod, "containers", uid, container_mode, exit_code, reason, ready, start);
    json::object body{{"metadata", json::object{{"uid", uid}}}, {"status", std::move(status)}};
    auto r = client->patch(client::resources::kPods, ns, name, client::PatchType::Merge,
                           json::serialize(body), {}, "status");
    if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
    return ok_status();
  }

  void release_locked(PodRecord& rec) {
    auto it = nodes.find(rec.node);
    if (it != nodes.end() && !rec.ip.empty()) it->second->ips.release(rec.ip);
    rec.ip.clear();
  }

  // Forgets pod `key` (only if it still has `uid`, when given).
  void release(const std::string& key, const std::string& uid) {
    std::lock_guard lock(mu);
    auto it = pod_records.find(key);
    if (it == pod_records.end()) return;
    if (!uid.empty() && it->second.uid != uid) return;
    release_locked(it->second);
    pod_records.erase(it);
  }

  void on_pod(const client::SharedObject& obj, bool deleted) {
    if (!obj) return;
    std::string node = str_at(*obj, {"spec", "nodeName"});
    if (node.empty()) return;
    std::string key = str_at(*obj, {"metadata", "namespace"}) + "/" + str_at(*obj, {"metadata", "name"});
    {
      std::lock_guard lock(mu);
      if (!nodes.count(node)) return;
    }
    if (deleted) {
      release(key, str_at(*obj, {"metadata", "uid"}));
      return;
    }
    queue.add("p/" + key);
  }

  std::shared_ptr<SimNode> make_node(std::uint32_t index) {
    auto n = std::make_shared<SimNode>();
    n->index = index;
    n->name = options.name_prefix + std::to_string(index);
    std::uint32_t j = index + 1;
    std::uint32_t node_ip = (127u << 24) | ((options.node_ip_second_octet + j / 65536) % 256) << 16 |
                            ((j / 256) % 256) << 8 | (j % 256);
    std::uint32_t pod_net = (127u << 24) |
                            ((options.pod_ip_second_octet + index / 256) % 256) << 16 |
                            (index % 256) << 8;
    std::string cidr = format_ipv4(pod_net) + "/24";
    n->ips = IpAllocator::parse(cidr).value();
    NodeDescription& d = n->desc;
    d.name = n->name;
    d.hostname = n->name;
    d.ip = format_ipv4(node_ip);
    d.pod_cidr = cidr;
    d.labels = options.labels;
    d.labels["kubernetes.io/hostname"] = n->name;
    d.labels["kubernetes.io/os"] = "linux";
    d.labels["kubernetes.io/arch"] = "amd64";
    d.labels["type"] = "simulated";
    d.annotations["node.alpha.kubernetes.io/ttl"] = "0";
    d.annotations["orch.dev/simulated"] = "true";
    d.taints = options.taints;
    d.capacity = options.capacity;
    d.allocatable = options.capacity;
    d.node_info = json::object{{"machineID", ""},
                               {"systemUUID", ""},
                               {"bootID", ""},
                               {"kernelVersion", "simulated"},
                               {"osImage", "simulated"},
                               {"containerRuntimeVersion", "sim://0.1"},
                               {"kubeletVersion", "v1.32.0"},
                               {"kubeProxyVersion", "v1.32.0"},
                               {"operatingSystem", "linux"},
                               {"architecture", "amd64"}};
    return n;
  }

  Status register_one(SimNode& n) {
    auto r = register_node(*client, n.desc, now_time());
    if (!r.ok()) return r.status();
    n.node_obj = std::move(r).value();
    n.uid = str_at(n.node_obj, {"metadata", "uid"});
    auto l = renew_lease(*client, n.name, n.uid, options.lease_duration.count(), nullptr,
                         api::MicroTime{clock->system_now()}.to_string());
    if (!l.ok()) return l.status();
    n.lease = std::move(l).value();
    return ok_status();
  }

  const std::shared_ptr<client::Client> client;
  const SimulatedNodesOptions options;
  util::Clock* const clock;

  client::WorkQueue queue;
  std::unique_ptr<client::Informer> pods;
  std::mutex lifecycle_mu;  // lock order: before mu
  std::vector<std::thread> threads;
  bool started = false;
  bool stopped = false;

  mutable std::mutex mu;  // lock order: leaf
  std::map<std::string, std::shared_ptr<SimNode>> nodes;
  std::uint32_t next_index = 0;
  std::map<std::string, PodRecord> pod_records;  // "ns/name"
};

SimulatedNodes::SimulatedNodes(std::shared_ptr<client::Client> client,
                               SimulatedNodesOptions options)
    : impl_(std::make_unique<Impl>(std::move(client), std::move(options))) {}

SimulatedNodes::~SimulatedNodes() { stop(); }

Status SimulatedNodes::start(std::chrono::milliseconds sync_timeout) {
  std::lock_guard lock(impl_->lifecycle_mu);
  if (impl_->started) return invalid_argument("simulated nodes: already started");
  impl_->started = true;
  impl_->pods = std::make_unique<client::Informer>(impl_->client, client::resources::kPods);
  impl_->pods->add_indexer(std::string(client::kIndexNodeName), client::index_by_node_name());
  client::EventHandlers h;
  Impl* impl = impl_.get();
  h.on_add = [impl](const client::SharedObject& o) { impl->on_pod(o, false); };
  h.on_update = [impl](const client::SharedObject&, const client::SharedObject& o) {
    impl->on_pod(o, false);
  };
  h.on_delete = [impl](const client::SharedObject& o) { impl->on_pod(o, true); };
  ORCH_TRY(impl_->pods->add_event_handler(std::move(h)));
  ORCH_TRY(impl_->pods->start());
  if (!impl_->pods->wait_for_sync(sync_timeout)) {
    return Status(Code::kDeadlineExceeded, "simulated nodes: the pod informer did not sync");
  }
  int n = impl_->options.workers > 0 ? impl_->options.workers : 1;
  for (int i = 0; i < n; ++i) impl_->threads.emplace_back([impl] { impl->run(); });
  for (std::uint32_t s = 0; s < kSlices; ++s) {
    auto offset = impl_->options.lease_renew_interval * (s + 1) / kSlices;
    impl_->queue.add_after("l/" + std::to_string(s), offset);
    auto hoffset = impl_->options.node_status_interval * (s + 1) / kSlices;
    impl_->queue.add_after("s/" + std::to_string(s), hoffset);
  }
  return ok_status();
}

void SimulatedNodes::stop() {
  std::lock_guard lock(impl_->lifecycle_mu);
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  impl_->queue.shut_down();
  if (impl_->pods) impl_->pods->stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
}

Result<std::vector<std::string>> SimulatedNodes::add_nodes(std::size_t count) {
  std::vector<std::shared_ptr<SimNode>> fresh;
  {
    std::lock_guard lock(impl_->mu);
    for (std::size_t i = 0; i < count; ++i) fresh.push_back(impl_->make_node(impl_->next_index++));
  }
  // Register in a few parallel streams: each node is three API writes.
  std::size_t streams = std::min<std::size_t>(4, std::max<std::size_t>(1, fresh.size() / 16));
  std::vector<Status> results(streams);
  std::vector<std::thread> ts;
  for (std::size_t s = 0; s < streams; ++s) {
    ts.emplace_back([this, s, streams, &fresh, &results] {
      for (std::size_t i = s; i < fresh.size(); i += streams) {
        Status st = impl_->register_one(*fresh[i]);
        if (!st.ok()) {
          results[s] = st;
          return;
        }
        std::lock_guard lock(impl_->mu);
        impl_->nodes[fresh[i]->name] = fresh[i];
      }
    });
  }
  for (auto& t : ts) t.join();
  std::vector<std::string> names;
  for (const auto& n : fresh) names.push_back(n->name);
  // Pods bound to these names before they existed.
  if (impl_->pods) {
    for (const auto& name : names) {
      if (auto bound = impl_->pods->by_index(client::kIndexNodeName, name); bound.ok()) {
        for (const auto& p : *bound) impl_->on_pod(p, false);
      }
    }
  }
  for (const auto& r : results) {
    if (!r.ok()) return r;
  }
  return names;
}

Status SimulatedNodes::stop_node(std::string_view name) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->nodes.find(std::string(name));
  if (it == impl_->nodes.end()) return not_found(fmt::format("simulated node {:?} not found", name));
  it->second->stopped = true;
  return ok_status();
}

Status SimulatedNodes::resume_node(std::string_view name) {
  std::shared_ptr<SimNode> n;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->nodes.find(std::string(name));
    if (it == impl_->nodes.end()) return not_found(fmt::format("simulated node {:?} not found", name));
    n = it->second;
    n->stopped = false;
  }
  impl_->queue.add("l/" + std::to_string(n->index % kSlices));
  impl_->queue.add("s/" + std::to_string(n->index % kSlices));
  if (impl_->pods) {
    if (auto bound = impl_->pods->by_index(client::kIndexNodeName, n->name); bound.ok()) {
      for (const auto& p : *bound) impl_->on_pod(p, false);
    }
  }
  return ok_status();
}

Status SimulatedNodes::remove_node(std::string_view name) {
  std::shared_ptr<SimNode> n;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->nodes.find(std::string(name));
    if (it == impl_->nodes.end()) return not_found(fmt::format("simulated node {:?} not found", name));
    n = it->second;
    n->stopped = true;
    n->removed = true;
    impl_->nodes.erase(it);
  }
  auto l = impl_->client->remove(client::resources::kLeases, "kube-node-lease", n->name);
  if (!l.ok() && l.status().code() != Code::kNotFound) return l.status();
  auto r = impl_->client->remove(client::resources::kNodes, "", n->name);
  if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
  return ok_status();
}

Status SimulatedNodes::fail_pod(std::string_view ns, std::string_view name, std::string_view reason) {
  if (!impl_->pods) return not_found("simulated nodes: not started");
  auto obj = impl_->pods->get(ns, name);
  std::string key = std::string(ns) + "/" + std::string(name);
  if (!obj) return not_found(fmt::format("pod {} not found", key));
  std::string node = str_at(*obj, {"spec", "nodeName"});
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->nodes.find(node);
    if (it == impl_->nodes.end() || it->second->stopped) {
      return not_found(fmt::format("pod {} is not on a live simulated node", key));
    }
    auto& rec = impl_->pod_records[key];
    std::string uid = str_at(*obj, {"metadata", "uid"});
    if (rec.uid != uid) {
      if (!rec.ip.empty()) impl_->release_locked(rec);
      rec = PodRecord{};
      rec.uid = uid;
      rec.node = node;
      rec.first_seen = impl_->clock->now();
    }
    rec.fail_reason = reason.empty() ? "Error" : std::string(reason);
  }
  impl_->queue.add("p/" + key);
  return ok_status();
}

std::vector<std::string> SimulatedNodes::node_names() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [name, n] : impl_->nodes) out.push_back(name);
  return out;
}

std::size_t SimulatedNodes::node_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->nodes.size();
}

std::string SimulatedNodes::pod_ip(std::string_view ns, std::string_view name) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->pod_records.find(std::string(ns) + "/" + std::string(name));
  return it == impl_->pod_records.end() ? std::string() : it->second.ip;
}

}  // namespace orch::agent
