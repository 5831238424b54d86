// Cluster: composition of the components, in start order; stop is the reverse.
#include "orch/cluster/cluster.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include <boost/json.hpp>

#include "orch/agent/agent.hpp"
#include "orch/agent/process_runtime.hpp"
#include "orch/agent/simulated_nodes.hpp"
#include "orch/apiserver/api_server.hpp"
#include "orch/client/fault_transport.hpp"
#include "orch/client/in_process_transport.hpp"
#include "orch/client/resource.hpp"
#include "orch/controller/daemonset_controller.hpp"
#include "orch/controller/deployment_controller.hpp"
#include "orch/controller/endpoints_controller.hpp"
#include "orch/controller/garbage_collector.hpp"
#include "orch/controller/local_path_provisioner.hpp"
#include "orch/controller/manager.hpp"
#include "orch/controller/namespace_controller.hpp"
#include "orch/controller/persistentvolume_controller.hpp"
#include "orch/controller/node_lifecycle_controller.hpp"
#include "orch/controller/replicaset_controller.hpp"
#include "orch/controller/statefulset_controller.hpp"
#include "orch/proxy/load_balancer.hpp"
#include "orch/proxy/service_proxy.hpp"
#include "orch/scheduler/scheduler.hpp"
#include "orch/store/etcd_store.hpp"
#include "orch/store/sqlite_store.hpp"
#include "security.hpp"

namespace orch::cluster {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::uint32_t next_block() {
  static std::atomic<std::uint32_t> counter{0};
  const std::uint32_t seed = static_cast<std::uint32_t>(::getpid()) * 37U;
  return (seed + counter.fetch_add(1)) % 255U + 1U;
}

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) out += fmt::format("{:02x}", rd() & 0xffU);
  return out;
}

struct Node {
  std::string name;
  std::string ip;
  std::string pod_cidr;
  std::unique_ptr<agent::ProcessRuntime> runtime;
  std::unique_ptr<agent::Agent> agent;
  std::unique_ptr<proxy::ServiceProxy> proxy;
  // The node's own way to the API server (agent and proxy), which partition_node cuts.
  std::shared_ptr<client::FaultTransport> link;
  std::shared_ptr<client::Client> client;
  // Whether the service proxy runs (its mirror pod's health; read by the mirror pods' thread).
  std::shared_ptr<std::atomic<bool>> proxy_up = std::make_shared<std::atomic<bool>>(false);
};

class ClusterImpl final : public Cluster {
 public:
  explicit ClusterImpl(ClusterOptions options) : options_(std::move(options)) {}
  ~ClusterImpl() override { stop(); }

  Status run() {
    clock_ = options_.clock ? options_.clock : &util::real_clock();
    if (options_.data_dir.empty()) {
      std::string tmpl = (fs::temp_directory_path() / "orch-cluster-XXXXXX").string();
      if (::mkdtemp(tmpl.data()) == nullptr) {
        return Status(Code::kInternal, "cannot create a temp directory: " + std::string(strerror(errno)));
      }
      data_dir_ = tmpl;
      temp_dir_ = true;
    } else {
      data_dir_ = options_.data_dir;
      std::error_code ec;
      fs::create_directories(data_dir_, ec);
      if (ec) return Status(Code::kInvalidArgument, "cannot create " + data_dir_ + ": " + ec.message());
    }
    block_ = options_.address_block.value_or(next_block());
    plan_ = address_plan(block_, options_.nodes);

    if (!options_.etcd_endpoints.empty()) {
      store::EtcdOptions eo;
      eo.endpoints = options_.etcd_endpoints;
      eo.ca_file = options_.etcd_ca_file;
      eo.cert_file = options_.etcd_cert_file;
      eo.key_file = options_.etcd_key_file;
      ORCH_ASSIGN_OR_RETURN(store_, store::open_etcd_store(eo));
    } else {
      store::SqliteOptions so;
      so.path = data_dir_ + "/state.db";
      if (options_.restore_from) {
        ORCH_TRY(store::write_sqlite_image(so.path, options_.restore_from->store_image));
      }
      ORCH_ASSIGN_OR_RETURN(store_, store::open_sqlite_store(so));
    }

    apiserver::ApiServerOptions ao;
    ao.serve_http = options_.serve_http;
    ao.http.address = options_.http_address;
    ao.http.port = options_.http_port;
    ao.service_cluster_ip_range = plan_.service_cidr;
    ao.node_token = node_token_ = random_hex(24);
    if (options_.serve_http && options_.secure) {
      ORCH_ASSIGN_OR_RETURN(security_, load_server_security(data_dir_, options_.http_address));
      apply_server_security(*security_, ao.http);
      ao.node_token = node_token_ = security_->node_secret;
      ao.node_ca_pem = security_->ca.cert_pem;
    }
    ao.default_not_ready_toleration_seconds = options_.default_toleration_seconds;
    ao.default_unreachable_toleration_seconds = options_.default_toleration_seconds;
    ORCH_ASSIGN_OR_RETURN(api_, apiserver::ApiServer::start(*store_, ao));
    client_ = std::make_shared<client::Client>(
        std::shared_ptr<client::Transport>(client::make_in_process_transport(api_->handler())));

    controller::ControllerManagerOptions mo;
    mo.leader_election = options_.leader_election;
    mo.clock = clock_;
    manager_ = std::make_unique<controller::ControllerManager>(client_, mo);
    ORCH_TRY(manager_->add(controller::replicaset_controller_registration()));
    ORCH_TRY(manager_->add(controller::deployment_controller_registration()));
    ORCH_TRY(manager_->add(controller::statefulset_controller_registration()));
    ORCH_TRY(manager_->add(controller::daemonset_controller_registration()));
    ORCH_TRY(manager_->add(controller::garbage_collector_registration()));
    ORCH_TRY(manager_->add(controller::namespace_controller_registration()));
    ORCH_TRY(manager_->add(controller::endpoints_controller_registration()));
    ORCH_TRY(manager_->add(controller::persistentvolume_controller_registration()));
    ORCH_TRY(manager_->add(controller::local_path_provisioner_registration()));
    ORCH_TRY(controller::ensure_local_path_class(*client_));
    ORCH_TRY(manager_->add(controller::node_lifecycle_controller_registration(
        {.grace_period = options_.node_monitor_grace_period})));
    ORCH_TRY(manager_->add(
        proxy::load_balancer_controller_registration({.address_range = plan_.load_balancer_cidr})));
    ORCH_TRY(manager_->start());

    scheduler::SchedulerOptions sched;
    sched.clock = clock_;
    if (options_.leader_election) {
      sched.leader_election = scheduler::lease_leader_hook(client_, "scheduler-" + random_hex(4), clock_);
    }
    ORCH_ASSIGN_OR_RETURN(scheduler_, scheduler::Scheduler::create(client_, sched));
    ORCH_TRY(scheduler_->start());

    for (std::size_t i = 0; i < options_.nodes; ++i) {
      Node n;
      n.name = i < options_.node_names.size() && !options_.node_names[i].empty()
                   ? options_.node_names[i]
                   : fmt::format("{}{}", options_.node_name_prefix, i + 1);
      n.ip = plan_.node_ips[i];
      n.pod_cidr = plan_.pod_cidrs[i];
      nodes_.push_back(std::move(n));
    }
    if (options_.runtime == RuntimeKind::kSimulated) {
      if (options_.nodes > 0) {
        agent::SimulatedNodesOptions sim;
        sim.clock = clock_;
        sim.lease_renew_interval = options_.lease_renew_interval;
        sim.name_prefix = options_.node_name_prefix;
        if (!options_.node_capacity.empty()) sim.capacity = options_.node_capacity;
        simulated_ = std::make_unique<agent::SimulatedNodes>(client_, sim);
        ORCH_TRY(simulated_->start());
        ORCH_ASSIGN_OR_RETURN(auto names, simulated_->add_nodes(options_.nodes));
        for (std::size_t i = 0; i < names.size() && i < nodes_.size(); ++i) nodes_[i].name = names[i];
      }
    } else {
      for (auto& n : nodes_) ORCH_TRY(start_process_node(n, /*fresh=*/true));
    }
    if (options_.serve_http) ORCH_TRY(write_kubeconfig());
    return Status();
  }

  std::shared_ptr<client::Client> client() const override { return client_; }
  std::string url() const override { return api_ ? api_->url() : std::string(); }
  std::string kubeconfig_path() const override {
    return options_.serve_http ? data_dir_ + "/kubeconfig" : std::string();
  }
  const std::string& data_dir() const override { return data_dir_; }
  const AddressPlan& addresses() const override { return plan_; }
  std::vector<std::string> node_names() const override {
    std::vector<std::string> out;
    for (const auto& n : nodes_) out.push_back(n.name);
    return out;
  }
  apiserver::ApiServer& api_server() override { return *api_; }

  Status wait_ready(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto list = client_->list_all(client::resources::kNodes, "");
      std::size_t ready = 0;
      if (list.ok()) {
        for (const auto& node : list->items) {
          const auto* conds = node.at("status").as_object().if_contains("conditions");
          if (!conds || !conds->is_array()) continue;
          for (const auto& c : conds->get_array()) {
            if (c.at("type") == "Ready" && c.at("status") == "True") ++ready;
          }
        }
      }
      if (ready >= nodes_.size()) return Status();
      if (std::chrono::steady_clock::now() >= deadline) {
        return Status(Code::kDeadlineExceeded,
                      fmt::format("{} of {} nodes Ready", ready, nodes_.size()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  Status stop_node(const std::string& name) override {
    std::lock_guard lock(mu_);
    if (simulated_) return simulated_->stop_node(name);
    Node* n = find(name);
    if (!n) return Status(Code::kNotFound, "no node " + name);
    n->proxy_up->store(false);
    if (n->proxy) n->proxy->stop();
    if (n->agent) n->agent->stop();
    n->agent.reset();
    n->proxy.reset();
    return Status();
  }

  Status start_node(const std::string& name) override {
    std::lock_guard lock(mu_);
    if (simulated_) return simulated_->resume_node(name);
    Node* n = find(name);
    if (!n) return Status(Code::kNotFound, "no node " + name);
    if (n->agent) return Status();
    return start_process_node(*n, /*fresh=*/false);
  }

  Status partition_node(const std::string& name) override { return set_partitioned(name, true); }
  Status heal_node(const std::string& name) override { return set_partitioned(name, false); }

  Result<std::vector<std::pair<std::string, std::string>>> running_containers(
      const std::string& name) override {
    std::lock_guard lock(mu_);
    if (simulated_) return Status(Code::kInvalidArgument, "simulated nodes run no containers");
    Node* n = find(name);
    if (!n) return Status(Code::kNotFound, "no node " + name);
    std::vector<std::pair<std::string, std::string>> out;
    if (!n->runtime) return out;
    for (const auto& c : n->runtime->list_containers()) {
      if (c.state == agent::ContainerState::kRunning || c.state == agent::ContainerState::kCreated) {
        out.emplace_back(c.pod_uid, c.name);
      }
    }
    return out;
  }

  Result<std::shared_ptr<const Snapshot>> snapshot() const override {
    if (!options_.etcd_endpoints.empty()) {
      return Status(Code::kInvalidArgument, "snapshot: an etcd-backed cluster has no store image");
    }
    if (!store_) return Status(Code::kUnavailable, "snapshot: the cluster is stopped");
    auto snap = std::make_shared<Snapshot>();
    ORCH_ASSIGN_OR_RETURN(snap->store_image, store::read_sqlite_image(data_dir_ + "/state.db"));
    snap->address_block = block_;
    snap->nodes = nodes_.size();
    snap->runtime = options_.runtime;
    snap->node_names = node_names();
    return std::shared_ptr<const Snapshot>(std::move(snap));
  }

  void stop() override {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& n : nodes_) {
      if (n.proxy) n.proxy->stop();
    }
    if (simulated_) simulated_->stop();
    for (auto& n : nodes_) {
      if (!n.agent && n.runtime && !options_.keep_pods_on_stop) {
        // A stopped node's pods still run: a fresh agent over the runtime kills them.
        agent::AgentOptions ao = agent_options(n);
        n.agent = std::make_unique<agent::Agent>(ao, client_, *n.runtime);
      }
      if (n.agent) {
        if (!options_.keep_pods_on_stop) n.agent->kill_all_pods(std::chrono::seconds(2));
        n.agent->stop();
      }
    }
    if (scheduler_) scheduler_->stop();
    if (manager_) manager_->stop();
    nodes_.clear();
    simulated_.reset();
    scheduler_.reset();
    manager_.reset();
    if (api_) api_->stop();
    client_.reset();
    api_.reset();
    store_.reset();
    if (temp_dir_) {
      std::error_code ec;
      fs::remove_all(data_dir_, ec);
    }
  }

 private:
  Node* find(const std::string& name) {
    for (auto& n : nodes_) {
      if (n.name == name) return &n;
    }
    return nullptr;
  }

  // The components node `n` runs outside pods, for its mirror pods; their log components are
  // the names the components log under.
  std::vector<agent::StaticComponent> static_components(const Node& n) const {
    std::vector<agent::StaticComponent> out;
    if (&n == &nodes_.front()) {
      out.push_back({.name = "kube-apiserver", .log_component = "apiserver"});
      out.push_back({.name = "kube-controller-manager", .log_component = "controller-manager"});
      out.push_back({.name = "kube-scheduler", .log_component = "scheduler"});
      out.push_back({.name = "orch-load-balancer", .log_component = "load-balancer"});
    }
    out.push_back({.name = "orch-agent", .log_component = "agent/" + n.name});
    out.push_back({.name = "kube-proxy",
                   .log_component = "proxy/" + n.name,
                   .healthy = [up = n.proxy_up] { return up->load(); }});
    return out;
  }

  agent::AgentOptions agent_options(const Node& n) const {
    agent::AgentOptions ao;
    ao.node_name = n.name;
    ao.node_ip = n.ip;
    ao.pod_cidr = n.pod_cidr;
    ao.data_dir = data_dir_ + "/nodes/" + n.name;
    ao.clock = clock_;
    ao.lease_renew_interval = options_.lease_renew_interval;
    ao.node_monitor_grace_period = options_.node_monitor_grace_period;
    ao.fence_margin = std::min<std::chrono::milliseconds>(std::chrono::seconds(5),
                                                          options_.node_monitor_grace_period / 2);
    ao.node_server_token = node_token_;
    if (options_.mirror_pods) ao.static_components = static_components(n);
    if (security_) {
      // The API server reaches node servers over HTTPS (ApiServerOptions::node_ca_pem).
      if (auto cert = issue_node_cert(*security_, n.name, n.ip); cert.ok()) {
        ao.node_server_tls_cert_pem = cert->cert_pem;
        ao.node_server_tls_key_pem = cert->key_pem;
      }
    }
    if (!options_.node_capacity.empty()) ao.capacity = options_.node_capacity;
    return ao;
  }

  Status start_process_node(Node& n, bool fresh) {
    if (!n.runtime) {
      agent::ProcessRuntimeOptions ro;
      ro.root_dir = data_dir_ + "/nodes/" + n.name + "/runtime";
      ro.log_component = "agent/" + n.name;
      ro.catalog_dir = data_dir_ + "/images";
      ro.kuard_path = options_.kuard_path;
      ORCH_ASSIGN_OR_RETURN(n.runtime, agent::ProcessRuntime::create(ro));
    }
    (void)fresh;
    if (!n.client) {
      n.link = std::make_shared<client::FaultTransport>(
          std::shared_ptr<client::Transport>(client::make_in_process_transport(api_->handler())));
      n.client = std::make_shared<client::Client>(n.link);
    }
    n.agent = std::make_unique<agent::Agent>(agent_options(n), n.client, *n.runtime);
    ORCH_TRY(n.agent->start());
    // Metrics at http://<node ip>:10249/metrics, where kube-proxy serves them.
    ORCH_ASSIGN_OR_RETURN(n.proxy, proxy::ServiceProxy::start(
                                       n.client, {.node_name = n.name, .node_ip = n.ip, .metrics_address = n.ip}));
    n.proxy_up->store(true);
    return Status();
  }

  Status set_partitioned(const std::string& name, bool partitioned) {
    std::lock_guard lock(mu_);
    if (simulated_) return Status(Code::kInvalidArgument, "simulated nodes cannot be partitioned");
    Node* n = find(name);
    if (!n) return Status(Code::kNotFound, "no node " + name);
    if (n->link) n->link->set_partitioned(partitioned);
    return Status();
  }

  Status write_kubeconfig() {
    return write_admin_kubeconfig(data_dir_ + "/kubeconfig", api_->url(),
                                  security_ ? &*security_ : nullptr);
  }

  const ClusterOptions options_;
  util::Clock* clock_ = nullptr;
  std::string data_dir_;
  bool temp_dir_ = false;
  std::uint32_t block_ = 0;
  AddressPlan plan_;
  std::string node_token_;
  std::optional<ServerSecurity> security_;  // with serve_http && secure

  std::recursive_mutex mu_;  // serializes stop/stop_node/start_node
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<apiserver::ApiServer> api_;
  std::shared_ptr<client::Client> client_;
  std::unique_ptr<controller::ControllerManager> manager_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<agent::SimulatedNodes> simulated_;
  std::vector<Node> nodes_;
  bool stopped_ = false;
};

}  // namespace

AddressPlan address_plan(std::uint32_t block, std::size_t nodes) {
  AddressPlan p;
  if (block == 0) {
    p.service_cidr = "127.96.0.0/16";
    p.load_balancer_cidr = "127.240.0.0/16";
    for (std::size_t i = 0; i < nodes; ++i) {
      p.node_ips.push_back(fmt::format("127.0.0.{}", i + 1));
      p.pod_cidrs.push_back(fmt::format("127.1.{}.0/24", i));
    }
    return p;
  }
  block = (block - 1) % 255 + 1;
  p.service_cidr = fmt::format("127.{}.{}.0/20", 96 + block / 16, (block % 16) * 16);
  p.load_balancer_cidr = fmt::format("127.{}.{}.0/20", 240 + block / 16, (block % 16) * 16);
  for (std::size_t i = 0; i < nodes; ++i) {
    p.node_ips.push_back(fmt::format("127.64.{}.{}", block, i % 254 + 1));
    p.pod_cidrs.push_back(fmt::format("127.{}.{}.0/24", 2 + block % 60, i % 256));
  }
  return p;
}

Result<std::unique_ptr<Cluster>> Cluster::start(ClusterOptions options) {
  if (const auto& snap = options.restore_from) {
    if (!options.etcd_endpoints.empty()) {
      return Status(Code::kInvalidArgument, "restore_from: only an SQLite store can be restored");
    }
    options.address_block = snap->address_block;
    options.nodes = snap->nodes;
    options.node_names = snap->node_names;
    options.runtime = snap->runtime;
  }
  auto c = std::make_unique<ClusterImpl>(std::move(options));
  Status s = c->run();
  if (!s.ok()) {
    c->stop();
    return s;
  }
  return std::unique_ptr<Cluster>(std::move(c));
}

}  // namespace orch::cluster
