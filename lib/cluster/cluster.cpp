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
#include "orch/client/in_process_transport.hpp"
#include "orch/client/resource.hpp"
#include "orch/controller/daemonset_controller.hpp"
#include "orch/controller/deployment_controller.hpp"
#include "orch/controller/endpoints_controller.hpp"
#include "orch/controller/garbage_collector.hpp"
#include "orch/controller/manager.hpp"
#include "orch/controller/namespace_controller.hpp"
#include "orch/controller/replicaset_controller.hpp"
#include "orch/controller/statefulset_controller.hpp"
#include "orch/proxy/load_balancer.hpp"
#include "orch/proxy/service_proxy.hpp"
#include "orch/scheduler/scheduler.hpp"
#include "orch/store/etcd_store.hpp"
#include "orch/store/sqlite_store.hpp"

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
    const std::uint32_t block = options_.address_block.value_or(next_block());
    plan_ = address_plan(block, options_.nodes);

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
      ORCH_ASSIGN_OR_RETURN(store_, store::open_sqlite_store(so));
    }

    apiserver::ApiServerOptions ao;
    ao.serve_http = options_.serve_http;
    ao.http.address = options_.http_address;
    ao.http.port = options_.http_port;
    ao.service_cluster_ip_range = plan_.service_cidr;
    ao.node_token = node_token_ = random_hex(24);
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

  agent::AgentOptions agent_options(const Node& n) const {
    agent::AgentOptions ao;
    ao.node_name = n.name;
    ao.node_ip = n.ip;
    ao.pod_cidr = n.pod_cidr;
    ao.data_dir = data_dir_ + "/nodes/" + n.name;
    ao.clock = clock_;
    ao.lease_renew_interval = options_.lease_renew_interval;
    ao.node_server_token = node_token_;
    if (!options_.node_capacity.empty()) ao.capacity = options_.node_capacity;
    return ao;
  }

  Status start_process_node(Node& n, bool fresh) {
    if (!n.runtime) {
      agent::ProcessRuntimeOptions ro;
      ro.root_dir = data_dir_ + "/nodes/" + n.name + "/runtime";
      ro.catalog_dir = data_dir_ + "/images";
      ro.kuard_path = options_.kuard_path;
      ORCH_ASSIGN_OR_RETURN(n.runtime, agent::ProcessRuntime::create(ro));
    }
    (void)fresh;
    n.agent = std::make_unique<agent::Agent>(agent_options(n), client_, *n.runtime);
    ORCH_TRY(n.agent->start());
    ORCH_ASSIGN_OR_RETURN(n.proxy, proxy::ServiceProxy::start(client_, {.node_ip = n.ip}));
    return Status();
  }

  Status write_kubeconfig() {
    const std::string server = api_->url();
    const std::string text = fmt::format(
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        "- name: orch\n"
        "  cluster:\n"
        "    server: {}\n"
        "contexts:\n"
        "- name: orch\n"
        "  context:\n"
        "    cluster: orch\n"
        "    user: admin\n"
        "    namespace: default\n"
        "current-context: orch\n"
        "users:\n"
        "- name: admin\n"
        "  user: {{}}\n",
        server);
    const std::string path = data_dir_ + "/kubeconfig";
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << text;
      if (!out) return Status(Code::kInternal, "cannot write " + tmp);
    }
    ::chmod(tmp.c_str(), 0600);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      return Status(Code::kInternal, "cannot write " + path);
    }
    return Status();
  }

  const ClusterOptions options_;
  util::Clock* clock_ = nullptr;
  std::string data_dir_;
  bool temp_dir_ = false;
  AddressPlan plan_;
  std::string node_token_;

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
  auto c = std::make_unique<ClusterImpl>(std::move(options));
  Status s = c->run();
  if (!s.ok()) {
    c->stop();
    return s;
  }
  return std::unique_ptr<Cluster>(std::move(c));
}

}  // namespace orch::cluster
