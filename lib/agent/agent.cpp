// Agent: wiring (informers, queues, threads), node registration and lease, adoption, the status
// writer. The per-pod state machine is in pod_worker.cpp.
//
// Threads: the informers' own; `pod_workers` threads on pod_queue (keys: pod uids); one node
// thread on node_queue ("lease", "fence", "unfence", "node", "resync"); one status writer on status_queue (pod uids);
// the prober's workers; short-lived preStop hook threads (joined on stop).
// Locks: PodState::sync_mu (one pod's sync) before Impl::mu (maps, probe results) before
// Impl::status_mu; none is held while calling the API or waiting on a queue.
#include "orch/agent/agent.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "agent_impl.hpp"
#include "orch/agent/node_server.hpp"
#include "orch/api/time.hpp"
#include "orch/client/event_recorder.hpp"
#include "orch/client/resource.hpp"
#include "orch/controller/volume_binding.hpp"
#include "orch/util/log.hpp"

namespace orch::agent {

using namespace detail;

std::string pod_log_dir(std::string_view data_dir, std::string_view ns, std::string_view name,
                        std::string_view uid) {
  return fmt::format("{}/logs/{}_{}_{}", data_dir, ns, name, uid);
}

Agent::Impl::Impl(AgentOptions o, std::shared_ptr<client::Client> c, Runtime& r)
    : options(std::move(o)),
      client(std::move(c)),
      runtime(r),
      clock(options.clock ? options.clock : &util::real_clock()),
      log_name("agent/" + options.node_name),
      pod_queue(client::WorkQueueOptions{.clock = clock,
                                         .base_delay = std::chrono::milliseconds(200),
                                         .max_delay = std::chrono::seconds(30)}),
      node_queue(client::WorkQueueOptions{.clock = clock,
                                          .base_delay = std::chrono::milliseconds(500),
                                          .max_delay = std::chrono::seconds(10)}),
      status_queue(client::WorkQueueOptions{.clock = clock,
                                            .base_delay = std::chrono::milliseconds(100),
                                            .max_delay = std::chrono::seconds(10)}),
      prober(ProberOptions{.clock = clock, .runtime = &r, .workers = options.probe_workers},
             [this](const ProbeUpdate& u) { on_probe(u); }) {}

Agent::Impl::~Impl() = default;

std::string Agent::Impl::now_time() const { return api::Time{clock->system_now()}.to_string(); }

Status Agent::Impl::prepare() {
  if (options.node_name.empty()) return invalid_argument("agent: node_name is required");
  if (options.data_dir.empty()) return invalid_argument("agent: data_dir is required");
  auto alloc = IpAllocator::parse(options.pod_cidr, options.node_ip);
  if (!alloc.ok()) return alloc.status();
  ips = std::move(alloc).value();
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir + "/logs", ec);
  if (ec) return internal_error("agent: cannot create " + options.data_dir + "/logs: " + ec.message());

  MachineInfo m = read_machine_info(options.data_dir);
  node.name = options.node_name;
  node.ip = options.node_ip;
  node.hostname = options.node_name;
  node.pod_cidr = options.pod_cidr;
  node.labels = options.labels;
  node.labels["kubernetes.io/hostname"] = options.node_name;
  node.labels["kubernetes.io/os"] = "linux";
  node.labels["kubernetes.io/arch"] = m.architecture.empty() ? "amd64" : m.architecture;
  node.labels["beta.kubernetes.io/os"] = "linux";
  node.labels["beta.kubernetes.io/arch"] = node.labels["kubernetes.io/arch"];
  node.annotations["node.alpha.kubernetes.io/ttl"] = "0";
  node.annotations[controller::volume::kNodeVolumeDirAnnotation] = local_volume_dir(options.data_dir);
  node.taints = options.taints;
  node.capacity = options.capacity;
  auto def = [&](const char* k, std::string v) {
    if (!node.capacity.count(k)) node.capacity[k] = std::move(v);
  };
  def("cpu", std::to_string(m.cores));
  def("memory", fmt::format("{}Ki", m.memory_bytes / 1024));
  def("pods", "110");
  if (m.disk_bytes > 0) def("ephemeral-storage", fmt::format("{}Ki", m.disk_bytes / 1024));
  node.allocatable = options.allocatable;
  for (const auto& [k, v] : node.capacity) {
    if (!node.allocatable.count(k)) node.allocatable[k] = v;
  }
  json::object info;
  info["machineID"] = m.machine_id;
  info["systemUUID"] = m.system_uuid;
  info["bootID"] = m.boot_id;
  info["kernelVersion"] = m.kernel_version;
  info["osImage"] = m.os_image;
  info["containerRuntimeVersion"] = "orch://" + options.version.substr(options.version.empty() ? 0 : 1);
  info["kubeletVersion"] = options.version;
  info["kubeProxyVersion"] = options.version;
  info["operatingSystem"] = "linux";
  info["architecture"] = node.labels["kubernetes.io/arch"];
  node.node_info = std::move(info);
  node.endpoint_port = options.node_server_port;
  return ok_status();
}

Status Agent::Impl::start(std::chrono::milliseconds sync_timeout) {
  ORCH_TRY(prepare());
  if (options.recorder == nullptr) {
    own_recorder = std::make_unique<client::EventRecorder>(
        client, client::EventRecorderOptions{.component = "kubelet",
                                             .host = options.node_name,
                                             .clock = clock});
    recorder = own_recorder.get();
  } else {
    recorder = options.recorder;
  }
  if (!options.node_server_token.empty()) {
    NodeServerOptions so;
    so.address = options.node_ip;
    so.port = options.node_server_port;
    so.token = options.node_server_token;
    so.tls_cert_pem = options.node_server_tls_cert_pem;
    so.tls_key_pem = options.node_server_tls_key_pem;
    so.resolve_pod = [this](std::string_view ns, std::string_view name) -> Result<PodLocation> {
      return locate_pod(ns, name);
    };
    auto srv = NodeServer::start(std::move(so));
    if (!srv.ok()) return srv.status();
    node_server = std::move(srv).value();
    node.endpoint_port = node_server->port();
  }
  advertised_port = node.endpoint_port;

  runtime.set_exit_callback([this](const std::string& uid, const std::string&) {
    pod_queue.add(uid);
  });

  auto reg = register_node(*client, node, now_time());
  if (!reg.ok()) return reg.status();
  node_object_cache = std::move(reg).value();
  node_uid = str_at(node_object_cache, {"metadata", "uid"});
  ORCH_LOG(kInfo, log_name, "registered node {} (address {}{})", node.name, options.node_ip,
           node.endpoint_port == 0 ? "" : fmt::format(", node server port {}", node.endpoint_port));
  if (!options.static_components.empty()) {
    MirrorPodsOptions mo;
    mo.node_name = options.node_name;
    mo.node_ip = options.node_ip;
    mo.node_uid = node_uid;
    mo.data_dir = options.data_dir;
    mo.components = options.static_components;
    mo.resync_interval = options.node_status_interval;
    mo.clock = clock;
    mirror_pods = std::make_unique<MirrorPods>(std::move(mo), client);
    ORCH_TRY(mirror_pods->start());
  }
  last_lease_renewal = clock->now();
  auto lease = renew_lease(*client, node.name, node_uid, options.lease_duration.count(),
                           nullptr, api::MicroTime{clock->system_now()}.to_string());
  if (lease.ok()) {
    lease_cache = std::move(lease).value();
    runtime.heartbeat();  // before adopt(): adopted containers' dead-man switches reset
  }

  services = std::make_unique<client::Informer>(client, client::resources::kServices);
  services->add_indexer(std::string(client::kIndexNamespace), client::index_by_namespace());
  client::InformerOptions po;
  po.field_selector = "spec.nodeName=" + options.node_name;
  pods = std::make_unique<client::Informer>(client, client::resources::kPods, po);
  client::EventHandlers h;
  h.on_add = [this](const client::SharedObject& o) { on_pod(o, true); };
  h.on_update = [this](const client::SharedObject&, const client::SharedObject& o) {
    on_pod(o, true);
  };
  h.on_delete = [this](const client::SharedObject& o) { on_pod(o, false); };
  ORCH_TRY(pods->add_event_handler(std::move(h)));
  ORCH_TRY(services->start());
  ORCH_TRY(pods->start());
  volume_cleaner = std::make_unique<LocalVolumeCleaner>(client, options.node_name, options.data_dir);
  ORCH_TRY(volume_cleaner->start());
  if (!services->wait_for_sync(sync_timeout) || !pods->wait_for_sync(sync_timeout)) {
    return Status(Code::kDeadlineExceeded, "agent: pod and service caches did not sync in time");
  }
  adopt();

  prober.start();
  int n = options.pod_workers > 0 ? options.pod_workers : 1;
  for (int i = 0; i < n; ++i) threads.emplace_back([this] { pod_loop(); });
  threads.emplace_back([this] { node_loop(); });
  status_thread = std::thread([this] { status_loop(); });
  node_queue.add_after("lease", options.lease_renew_interval);
  node_queue.add_after("node", options.node_status_interval);
  node_queue.add_after("resync", options.resync_interval);
  return ok_status();
}

void Agent::Impl::stop() {
  // The runtime outlives the agent: it must not call into a dead one.
  runtime.set_exit_callback([](const std::string&, const std::string&) {});
  pod_queue.shut_down();
  node_queue.shut_down();
  if (mirror_pods) mirror_pods->stop();
  if (volume_cleaner) volume_cleaner->stop();
  if (pods) pods->stop();
  if (services) services->stop();
  prober.stop();
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  threads.clear();
  std::vector<std::thread> hooks;
  {
    std::lock_guard lock(mu);
    hooks.swap(hook_threads);
  }
  for (auto& t : hooks) {
    if (t.joinable()) t.join();
  }
  status_queue.shut_down();
  if (status_thread.joinable()) status_thread.join();
  // Statuses still waiting for their batch delay: one last attempt each, so a clean stop loses
  // no final state.
  std::vector<std::string> unwritten;
  {
    std::lock_guard lock(status_mu);
    for (const auto& [uid, e] : statuses) {
      if (e.has_desired && e.written_version != e.version) unwritten.push_back(uid);
    }
  }
  for (const auto& uid : unwritten) write_status(uid).ignore();
  if (node_server) node_server->stop();
}

Result<PodLocation> Agent::Impl::locate_pod(std::string_view ns, std::string_view name) {
  std::lock_guard lock(mu);
  auto it = uid_by_name.find(std::string(ns) + "/" + std::string(name));
  if (it == uid_by_name.end() && mirror_pods != nullptr) return mirror_pods->locate(ns, name);
  if (it == uid_by_name.end()) return not_found(fmt::format("pod {}/{} is not on this node", ns, name));
  auto st = pods_by_uid.find(it->second);
  if (st == pods_by_uid.end()) return not_found(fmt::format("pod {}/{} is not on this node", ns, name));
  PodLocation loc;
  loc.uid = it->second;
  loc.pod_ip = st->second->ip_shadow;
  loc.log_dir = pod_log_dir(options.data_dir, ns, name, it->second);
  Runtime* rt = &runtime;
  loc.container_running = [rt, uid = it->second](std::string_view container) {
    for (const auto& c : rt->list_containers(uid)) {
      if (c.name == container &&
          (c.state == ContainerState::kRunning || c.state == ContainerState::kCreated)) {
        return true;
      }
    }
    return false;
  };
  return loc;
}

void Agent::Impl::on_pod(const client::SharedObject& obj, bool present) {
  if (!obj || is_mirror_pod(*obj)) return;  // stands for a component of ours, not run here
  std::string uid = str_at(*obj, {"metadata", "uid"});
  if (uid.empty()) return;
  std::string ns = str_at(*obj, {"metadata", "namespace"});
  std::string name = str_at(*obj, {"metadata", "name"});
  {
    std::lock_guard lock(mu);
    auto it = pods_by_uid.find(uid);
    if (it == pods_by_uid.end()) {
      if (!present) return;
      auto st = std::make_shared<PodState>();
      st->uid = uid;
      st->ns = ns;
      st->name = name;
      it = pods_by_uid.emplace(uid, std::move(st)).first;
      ORCH_VLOG(2, log_name, "pod {}/{} ({}) assigned to this node", ns, name, uid);
    }
    it->second->pod = obj;
    it->second->in_api = present;
    if (present) uid_by_name[ns + "/" + name] = uid;
  }
  pod_queue.add(uid);
}

void Agent::Impl::pod_loop() {
  while (true) {
    auto key = pod_queue.get(std::chrono::milliseconds(500));
    if (!key) {
      if (pod_queue.shutting_down()) return;
      continue;
    }
    std::optional<std::chrono::nanoseconds> requeue;
    Status s = sync_pod(*key, requeue);
    ORCH_VLOG(5, log_name, "synced pod {}: {}", *key, s.to_string());
    if (!s.ok()) {
      ORCH_VLOG(1, log_name, "syncing pod {} failed: {} (retrying)", *key, s.to_string());
      pod_queue.add_rate_limited(*key);
    } else {
      pod_queue.forget(*key);
      if (requeue) pod_queue.add_after(*key, *requeue);
    }
    pod_queue.done(*key);
  }
}

void Agent::Impl::node_loop() {
  while (true) {
    auto key = node_queue.get(std::chrono::milliseconds(500));
    if (!key) {
      if (node_queue.shutting_down()) return;
      continue;
    }
    if (*key == "lease") {
      renew_node_lease();
    } else if (*key == "fence") {
      if (lease_lost) fence_due_pods();
    } else if (*key == "unfence") {
      if (!lease_lost && !unfence_pods()) node_queue.add_after("unfence", std::chrono::seconds(1));
    } else if (*key == "node") {
      auto r = heartbeat_node(*client, node, node_object_cache, now_time());
      if (!r.ok() && r.status().code() == Code::kNotFound) {
        ORCH_LOG(kWarning, log_name, "node {} was deleted from the API: registering it again",
                 node.name);
        r = register_node(*client, node, now_time());
        if (r.ok()) {
          ORCH_LOG(kInfo, log_name, "registered node {} again", node.name);
          node_uid = str_at(*r, {"metadata", "uid"});
          lease_cache = nullptr;
        }
      }
      if (r.ok()) {
        node_object_cache = std::move(r).value();
        node_queue.add_after("node", options.node_status_interval);
      } else {
        if (node_object_cache != nullptr) {
          ORCH_LOG(kWarning, log_name, "node status update failed: {} (retrying)",
                   r.status().to_string());
        }
        node_object_cache = nullptr;
        node_queue.add_after("node", std::min<std::chrono::nanoseconds>(
                                         options.node_status_interval, std::chrono::seconds(1)));
      }
    } else if (*key == "resync") {
      std::vector<std::string> uids;
      {
        std::lock_guard lock(mu);
        for (const auto& [uid, st] : pods_by_uid) uids.push_back(uid);
      }
      for (const auto& u : uids) pod_queue.add(u);
      node_queue.add_after("resync", options.resync_interval);
    }
    node_queue.done(*key);
  }
}

// ---- Lease and fencing ----

namespace {

// How long the control plane leaves `pod` on an unreachable node (see AgentOptions fencing): the
// smallest tolerationSeconds of its tolerations of node.kubernetes.io/unreachable:NoExecute; zero
// without one; nullopt when it tolerates the taint forever.
std::optional<std::chrono::seconds> unreachable_toleration(const json::value& pod) {
  const json::array* tols = array_at(pod, {"spec", "tolerations"});
  bool tolerated = false;
  std::optional<std::int64_t> least;
  for (const auto& t : tols ? *tols : json::array{}) {
    std::string key = str_at(t, {"key"}), op = str_at(t, {"operator"}), effect = str_at(t, {"effect"});
    if (!effect.empty() && effect != "NoExecute") continue;
    if (key.empty() ? op != "Exists" : key != "node.kubernetes.io/unreachable") continue;
    if (!key.empty() && op != "Exists" && !str_at(t, {"value"}).empty()) continue;
    tolerated = true;
    if (path(t, {"tolerationSeconds"}) != nullptr) {
      std::int64_t s = std::max<std::int64_t>(0, int_at(t, {"tolerationSeconds"}, 0));
      least = least ? std::min(*least, s) : s;
    }
  }
  if (!tolerated) return std::chrono::seconds(0);
  if (!least) return std::nullopt;
  return std::chrono::seconds(*least);
}

}  // namespace

std::optional<std::chrono::nanoseconds> Agent::Impl::fence_deadline(const json::value& pod) const {
  if (options.node_monitor_grace_period <= std::chrono::milliseconds(0)) return std::nullopt;
  auto toleration = unreachable_toleration(pod);
  if (!toleration) return std::nullopt;
  return std::chrono::nanoseconds(options.node_monitor_grace_period) + *toleration -
         std::chrono::nanoseconds(options.fence_margin);
}

void Agent::Impl::renew_node_lease() {
  const auto started = clock->now();
  auto r = renew_lease(*client, node.name, node_uid, options.lease_duration.count(), lease_cache,
                       api::MicroTime{clock->system_now()}.to_string());
  if (r.ok()) {
    const auto silent = started - last_lease_renewal;
    lease_cache = std::move(r).value();
    last_lease_renewal = started;
    runtime.heartbeat();  // the shims' dead-man switch (ContainerConfig::fence_after)
    node_queue.add_after("lease", options.lease_renew_interval);
    if (lease_lost) {
      ORCH_LOG(kInfo, log_name, "node lease renewed again, {} ms after the last renewal",
               std::chrono::duration_cast<std::chrono::milliseconds>(silent).count());
      // Back in touch: report at once (the control plane marked the node and its pods not
      // ready meanwhile), and let fenced pods that are still ours run again.
      lease_lost = false;
      node_queue.add("node");
      {
        std::lock_guard lock(status_mu);
        for (auto& [uid, e] : statuses) {
          if (e.has_desired) {
            ++e.version;
            status_queue.add(uid);
          }
        }
      }
      node_queue.add("unfence");
    }
    return;
  }
  if (!lease_lost) {
    ORCH_LOG(kWarning, log_name, "node lease renewal failed: {} (retrying every second)",
             r.status().to_string());
  } else {
    ORCH_VLOG(2, log_name, "node lease renewal failed again: {}", r.status().to_string());
  }
  lease_cache = nullptr;
  lease_lost = true;
  fence_due_pods();
  node_queue.add_after("lease", std::min<std::chrono::nanoseconds>(options.lease_renew_interval,
                                                                   std::chrono::seconds(1)));
}

void Agent::Impl::fence_due_pods() {
  if (options.node_monitor_grace_period <= std::chrono::milliseconds(0)) return;
  const auto silent = clock->now() - last_lease_renewal;
  std::vector<std::shared_ptr<PodState>> due;
  std::optional<std::chrono::nanoseconds> next;
  {
    std::lock_guard lock(mu);
    for (const auto& [uid, st] : pods_by_uid) {
      if (!st->pod) continue;
      auto deadline = fence_deadline(*st->pod);
      if (!deadline) continue;
      const auto after = *deadline;
      if (silent >= after) {
        due.push_back(st);
      } else if (!next || after - silent < *next) {
        next = after - silent;
      }
    }
  }
  for (const auto& st : due) fence_pod(*st);
  if (next) node_queue.add_after("fence", *next);
}

void Agent::Impl::fence_pod(PodState& st) {
  std::lock_guard sync(st.sync_mu);
  if (st.fenced || st.removed) return;
  st.fenced = true;
  prober.remove_pod(st.uid);
  for (auto* list : {&st.init_containers, &st.containers}) {
    for (auto& rec : *list) {
      if (!rec.id.empty()) runtime.stop_container(rec.id, true).ignore();
    }
  }
  forget_status(st.uid);  // a status from before the fence must not say Ready afterwards
  ORCH_LOG(kWarning, log_name,
           "node lease not renewed for too long: fenced pod {}/{} (its containers are killed "
           "until the API confirms the pod is still on this node)",
           st.ns, st.name);
}

bool Agent::Impl::unfence_pods() {
  std::vector<std::shared_ptr<PodState>> fenced;
  {
    std::lock_guard lock(mu);
    for (const auto& [uid, st] : pods_by_uid) fenced.push_back(st);
  }
  bool done = true;
  for (const auto& st : fenced) {
    {
      std::lock_guard sync(st->sync_mu);
      if (!st->fenced || st->removed) continue;
    }
    // A fresh read, not the cache: the pod may have been evicted and replaced meanwhile.
    auto got = client->get(client::resources::kPods, st->ns, st->name);
    if (!got.ok() && got.status().code() != Code::kNotFound) {
      done = false;
      continue;
    }
    // Gone, replaced, deleting or moved: stays fenced; the informer's catching up cleans it up.
    if (!got.ok() || str_at(*got, {"metadata", "uid"}) != st->uid ||
        path(*got, {"metadata", "deletionTimestamp"}) != nullptr ||
        str_at(*got, {"spec", "nodeName"}) != options.node_name) {
      continue;
    }
    {
      std::lock_guard sync(st->sync_mu);
      st->fenced = false;
    }
    ORCH_LOG(kInfo, log_name, "pod {}/{} is still on this node: unfenced", st->ns, st->name);
    pod_queue.add(st->uid);
  }
  return done;
}

// ---- Status writer ----

void Agent::Impl::set_status(const std::string& uid, const std::string& ns,
                             const std::string& name, json::object status) {
  std::lock_guard lock(status_mu);
  auto& e = statuses[uid];
  if (e.has_desired && e.desired == status) return;
  e.ns = ns;
  e.name = name;
  e.desired = std::move(status);
  e.has_desired = true;
  ++e.version;
  status_queue.add_after(uid, options.status_batch_interval);
}

void Agent::Impl::forget_status(const std::string& uid) {
  std::lock_guard lock(status_mu);
  statuses.erase(uid);
}

void Agent::Impl::status_loop() {
  while (true) {
    auto key = status_queue.get(std::chrono::milliseconds(500));
    if (!key) {
      if (status_queue.shutting_down()) break;
      continue;
    }
    Status s = write_status(*key);
    if (s.ok()) {
      status_queue.forget(*key);
    } else {
      status_queue.add_rate_limited(*key);
    }
    status_queue.done(*key);
  }
}

Status Agent::Impl::write_status(const std::string& uid) {
  StatusEntry e;
  {
    std::lock_guard lock(status_mu);
    auto it = statuses.find(uid);
    if (it == statuses.end() || !it->second.has_desired) return ok_status();
    if (it->second.written_version == it->second.version) return ok_status();
    e = it->second;
  }
  json::value base = e.base;
  if (pods) {
    if (auto cached = pods->get(e.ns, e.name);
        cached && str_at(*cached, {"metadata", "uid"}) == uid &&
        (!base.is_object() || rv_number(*cached) > rv_number(base))) {
      base = *cached;
    }
  }
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (!base.is_object()) {
      auto got = client->get(client::resources::kPods, e.ns, e.name);
      if (!got.ok()) {
        if (got.status().code() == Code::kNotFound) return ok_status();  // gone: nothing to write
        return got.status();
      }
      base = std::move(got).value();
    }
    if (str_at(base, {"metadata", "uid"}) != uid) return ok_status();  // another pod by now
    json::value obj = base;
    json::value& st = obj.as_object()["status"];
    if (!st.is_object()) st = json::object{};
    for (const auto& kv : e.desired) st.as_object()[kv.key()] = kv.value();
    auto r = client->update_status(client::resources::kPods, e.ns, obj);
    if (r.ok()) {
      std::lock_guard lock(status_mu);
      auto it = statuses.find(uid);
      if (it != statuses.end()) {
        it->second.base = std::move(r).value();
        it->second.written_version = e.version;
        if (it->second.version != e.version) status_queue.add(uid);
      }
      return ok_status();
    }
    if (r.status().code() == Code::kNotFound) return ok_status();
    if (r.status().code() != Code::kAborted) return r.status();
    base = nullptr;  // 409: re-read
  }
  return aborted("pod status kept conflicting");
}

// ---- Events ----

void Agent::Impl::event(const PodState& st, const client::SharedObject& pod,
                        std::string_view container, std::string_view type,
                        std::string_view reason, std::string_view message) {
  if (recorder == nullptr) return;
  api::ObjectReference ref;
  ref.kind = "Pod";
  ref.api_version = "v1";
  ref.namespace_ = st.ns;
  ref.name = st.name;
  ref.uid = st.uid;
  if (pod) ref.resource_version = str_at(*pod, {"metadata", "resourceVersion"});
  if (!container.empty()) {
    bool init = false;
    if (pod) {
      if (const auto* ics = array_at(*pod, {"spec", "initContainers"})) {
        for (const auto& c : *ics) {
          if (str_at(c, {"name"}) == container) init = true;
        }
      }
    }
    ref.field_path = fmt::format("spec.{}{{{}}}", init ? "initContainers" : "containers", container);
  }
  recorder->event(ref, type, reason, message);
}

// ---- Probes ----

void Agent::Impl::on_probe(const ProbeUpdate& u) {
  std::shared_ptr<PodState> st;
  client::SharedObject pod;
  {
    std::lock_guard lock(mu);
    auto it = pods_by_uid.find(u.target.pod_uid);
    if (it == pods_by_uid.end()) return;
    st = it->second;
    pod = st->pod;
    auto& pr = probe_results[u.target.pod_uid][u.target.container_name];
    if (pr.container_id != u.target.container_id) {
      pr = ProbeResults{};
      pr.container_id = u.target.container_id;
    }
    if (u.kind == ProbeKind::kLiveness) pr.liveness = u.result;
    if (u.kind == ProbeKind::kReadiness) pr.readiness = u.result;
    if (u.kind == ProbeKind::kStartup) pr.startup = u.result;
    pr.message[static_cast<int>(u.kind)] = u.message;
  }
  if (u.attempt_failed) {
    event(*st, pod, u.target.container_name, "Warning", "Unhealthy",
          fmt::format("{} probe failed: {}", probe_kind_name(u.kind), u.message));
  }
  // Transitions at info (a failing probe is logged once, not at every period), attempts at V3.
  if (u.changed && u.result == ProbeResult::kFailure) {
    ORCH_LOG(kInfo, log_name, "{} probe of container {} in pod {}/{} now fails: {}",
             probe_kind_name(u.kind), u.target.container_name, st->ns, st->name, u.message);
  } else if (u.changed && u.result == ProbeResult::kSuccess) {
    ORCH_LOG(kInfo, log_name, "{} probe of container {} in pod {}/{} now succeeds",
             probe_kind_name(u.kind), u.target.container_name, st->ns, st->name);
  } else if (u.attempt_failed) {
    ORCH_VLOG(3, log_name, "{} probe of container {} in pod {}/{} failed: {}",
              probe_kind_name(u.kind), u.target.container_name, st->ns, st->name, u.message);
  }
  if (u.changed) pod_queue.add(u.target.pod_uid);
}

// ---- Adoption ----

void Agent::Impl::adopt() {
  std::vector<ContainerInfo> all = runtime.list_containers();
  std::map<std::string, std::vector<ContainerInfo>> by_pod;
  for (auto& c : all) by_pod[c.pod_uid].push_back(std::move(c));
  std::vector<std::string> orphans;
  for (auto& [uid, list] : by_pod) {
    std::shared_ptr<PodState> st;
    {
      std::lock_guard lock(mu);
      auto it = pods_by_uid.find(uid);
      if (it != pods_by_uid.end()) st = it->second;
    }
    if (!st) {
      orphans.push_back(uid);
      for (const auto& c : list) runtime.stop_container(c.id, true).ignore();
      continue;
    }
    std::lock_guard sync(st->sync_mu);
    adopt_pod(*st, list);
  }
  for (const auto& uid : orphans) runtime.remove_pod(uid).ignore();
}

// ---- Agent ----

Agent::Agent(AgentOptions options, std::shared_ptr<client::Client> client, Runtime& runtime)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(client), runtime)) {}

Agent::~Agent() { stop(); }

Status Agent::start(std::chrono::milliseconds sync_timeout) {
  {
    std::lock_guard lock(impl_->lifecycle_mu);
    if (impl_->started) return invalid_argument("agent: already started");
    impl_->started = true;
  }
  Status s = impl_->start(sync_timeout);
  if (!s.ok()) {
    std::lock_guard lock(impl_->lifecycle_mu);
    impl_->stopped = true;
    impl_->stop();
  }
  return s;
}

void Agent::stop() {
  std::lock_guard lock(impl_->lifecycle_mu);
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  impl_->stop();
}

void Agent::kill_all_pods(std::chrono::milliseconds grace) {
  stop();
  impl_->kill_all(grace);
}

const std::string& Agent::node_name() const { return impl_->options.node_name; }

std::uint16_t Agent::node_server_port() const { return impl_->advertised_port; }

std::size_t Agent::pod_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->pods_by_uid.size();
}

}  // namespace orch::agent
