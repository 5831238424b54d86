// Agent: wiring (informers, queues, threads), node registration and lease, adoption, the status
// writer. The per-pod state machine is in pod_worker.cpp.
//
// Threads: the informers' own; `pod_workers` threads on pod_queue (keys: pod uids); one node
// thread on node_queue ("lease", "node", "resync"); one status writer on status_queue (pod uids);
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
  auto lease = renew_lease(*client, node.name, node_uid, options.lease_duration.count(),
                           nullptr, api::MicroTime{clock->system_now()}.to_string());
  if (lease.ok()) lease_cache = std::move(lease).value();

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
  if (!obj) return;
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
    if (!s.ok()) {
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
      auto r = renew_lease(*client, node.name, node_uid, options.lease_duration.count(),
                           lease_cache, api::MicroTime{clock->system_now()}.to_string());
      if (r.ok()) {
        lease_cache = std::move(r).value();
        node_queue.add_after("lease", options.lease_renew_interval);
      } else {
        lease_cache = nullptr;
        node_queue.add_after("lease", std::min<std::chrono::nanoseconds>(
                                          options.lease_renew_interval, std::chrono::seconds(1)));
      }
    } else if (*key == "node") {
      auto r = heartbeat_node(*client, node, node_object_cache, now_time());
      if (!r.ok() && r.status().code() == Code::kNotFound) {
        r = register_node(*client, node, now_time());
        if (r.ok()) {
          node_uid = str_at(*r, {"metadata", "uid"});
          lease_cache = nullptr;
        }
      }
      if (r.ok()) {
        node_object_cache = std::move(r).value();
        node_queue.add_after("node", options.node_status_interval);
      } else {
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
