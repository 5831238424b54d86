// AgentProcess: join with a token, then an Agent + ProcessRuntime + ServiceProxy over HTTPS.
// See agent_process.hpp. Thread-safety: stop() is serialized by mu_.
#include "orch/cluster/agent_process.hpp"

#include <atomic>
#include <fmt/format.h>

#include <boost/json.hpp>

#include <mutex>
#include <thread>

#include "orch/agent/agent.hpp"
#include "orch/agent/process_runtime.hpp"
#include "orch/client/client.hpp"
#include "orch/client/http_transport.hpp"
#include "orch/cluster/cluster.hpp"
#include "orch/pki/pki.hpp"
#include "orch/proxy/service_proxy.hpp"

namespace orch::cluster {
namespace {

using std::chrono::milliseconds;

// One GET /cacerts, trusting nothing (the hash check below is the trust).
Result<std::string> get_cacerts(const std::string& server) {
  client::HttpTransportOptions o;
  o.servers = {server};
  o.insecure_skip_tls_verify = true;
  o.timeout = milliseconds(5000);
  o.connect_timeout = milliseconds(2000);
  ORCH_ASSIGN_OR_RETURN(auto transport, client::make_http_transport(o));
  client::HttpRequest r;
  r.path = "/cacerts";
  r.headers["Accept"] = "*/*";
  ORCH_ASSIGN_OR_RETURN(client::HttpResponse res, transport->request(r));
  return res.body;
}

class AgentProcessImpl final : public AgentProcess {
 public:
  explicit AgentProcessImpl(AgentProcessOptions o) : options_(std::move(o)) {}
  ~AgentProcessImpl() override { stop(); }

  Status run() {
    if (options_.servers.empty()) return invalid_argument("no server given (--server)");
    if (options_.node_name.empty()) return invalid_argument("no node name given (--node-name)");
    if (options_.data_dir.empty()) return invalid_argument("no data dir given (--data-dir)");
    ORCH_ASSIGN_OR_RETURN(pki::NodeToken token, pki::parse_node_token(options_.token));
    ORCH_ASSIGN_OR_RETURN(std::string ca, fetch_cluster_ca(options_.servers, options_.token,
                                                           options_.join_timeout));
    const std::uint32_t slot = options_.address_slot.value_or(default_address_slot(options_.node_name));
    if (slot < 1 || slot > 250) return invalid_argument("address slot must be 1..250");
    node_ip_ = options_.node_ip.empty() ? fmt::format("127.0.0.{}", slot + 1) : options_.node_ip;
    pod_cidr_ = options_.pod_cidr.empty() ? fmt::format("127.1.{}.0/24", slot) : options_.pod_cidr;

    client::HttpTransportOptions to;
    to.servers = options_.servers;
    to.ca_data = ca;
    to.bearer_token = token.secret;
    to.user_agent = "orch-agent/" + options_.node_name;
    ORCH_ASSIGN_OR_RETURN(auto transport, client::make_http_transport(to));
    // The token must open the API, not just /cacerts: fail here with the server's 401.
    client::HttpRequest probe;
    probe.path = "/api";
    if (auto r = transport->request(probe); !r.ok()) return r.status();
    // The node server's certificate, signed by the cluster CA, so the API server can verify it.
    client::HttpRequest cert_request;
    cert_request.path = "/v1-orch/node-serving-cert";
    cert_request.query = {{"node", options_.node_name}, {"ip", node_ip_}};
    ORCH_ASSIGN_OR_RETURN(client::HttpResponse cert_response, transport->request(cert_request));
    pki::CertKey serving;
    {
      boost::system::error_code ec;
      auto doc = boost::json::parse(cert_response.body, ec);
      const auto* o = ec ? nullptr : doc.if_object();
      const auto* c = o ? o->if_contains("cert") : nullptr;
      const auto* k = o ? o->if_contains("key") : nullptr;
      if (!c || !k || !c->is_string() || !k->is_string()) {
        return internal_error("the server sent no node serving certificate");
      }
      serving = {std::string(c->get_string()), std::string(k->get_string())};
    }
    client_ = std::make_shared<client::Client>(std::shared_ptr<client::Transport>(std::move(transport)));

    agent::ProcessRuntimeOptions ro;
    ro.root_dir = options_.data_dir + "/runtime";
    ro.log_component = "agent/" + options_.node_name;
    ro.catalog_dir = options_.data_dir + "/images";
    ro.kuard_path = options_.kuard_path;
    ORCH_ASSIGN_OR_RETURN(runtime_, agent::ProcessRuntime::create(ro));

    agent::AgentOptions ao;
    ao.node_name = options_.node_name;
    ao.node_ip = node_ip_;
    ao.pod_cidr = pod_cidr_;
    ao.data_dir = options_.data_dir;
    ao.lease_renew_interval = options_.lease_renew_interval;
    ao.node_server_token = token.secret;
    ao.node_server_tls_cert_pem = serving.cert_pem;
    ao.node_server_tls_key_pem = serving.key_pem;
    if (!options_.node_capacity.empty()) ao.capacity = options_.node_capacity;
    ao.static_components = {
        {.name = "orch-agent", .log_component = "agent/" + options_.node_name},
        {.name = "kube-proxy", .log_component = "proxy/" + options_.node_name,
         .healthy = [up = proxy_up_] { return up->load(); }},
    };
    agent_ = std::make_unique<agent::Agent>(ao, client_, *runtime_);
    ORCH_TRY(agent_->start());
    // Metrics at http://<node ip>:10249/metrics, where kube-proxy serves them.
    ORCH_ASSIGN_OR_RETURN(proxy_, proxy::ServiceProxy::start(
                                      client_, {.node_name = options_.node_name, .node_ip = node_ip_, .metrics_address = node_ip_}));
    proxy_up_->store(true);
    return ok_status();
  }

  const std::string& node_name() const override { return options_.node_name; }
  const std::string& node_ip() const override { return node_ip_; }
  const std::string& pod_cidr() const override { return pod_cidr_; }

  void stop() override {
    std::lock_guard lock(mu_);
    proxy_up_->store(false);
    if (proxy_) proxy_->stop();
    if (agent_) {
      if (options_.kill_pods_on_stop) agent_->kill_all_pods(std::chrono::seconds(2));
      agent_->stop();
    }
    proxy_.reset();
    agent_.reset();
    runtime_.reset();
    client_.reset();
  }

 private:
  // Const after run().
  const AgentProcessOptions options_;
  std::string node_ip_;
  std::string pod_cidr_;

  std::mutex mu_;  // serializes stop()
  std::shared_ptr<client::Client> client_;
  std::unique_ptr<agent::ProcessRuntime> runtime_;
  std::unique_ptr<agent::Agent> agent_;
  std::unique_ptr<proxy::ServiceProxy> proxy_;
  // Whether the proxy runs: the kube-proxy mirror pod's health (read on the mirror pods' thread).
  std::shared_ptr<std::atomic<bool>> proxy_up_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace

std::uint32_t default_address_slot(const std::string& node_name) {
  std::uint32_t h = 2166136261U;  // FNV-1a
  for (unsigned char c : node_name) h = (h ^ c) * 16777619U;
  return 2 + h % 249;
}

Result<std::string> fetch_cluster_ca(const std::vector<std::string>& servers,
                                     const std::string& token, milliseconds timeout) {
  ORCH_ASSIGN_OR_RETURN(pki::NodeToken parsed, pki::parse_node_token(token));
  if (servers.empty()) return invalid_argument("no server given");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Status last = unavailable("no server answered");
  for (;;) {
    for (const auto& server : servers) {
      auto ca = get_cacerts(server);
      if (!ca.ok()) {
        last = ca.status();
        continue;
      }
      if (!parsed.ca_hash.empty() && pki::sha256_hex(*ca) != parsed.ca_hash) {
        return Status(Code::kUnauthenticated,
                      "the CA served by " + server + " does not match the token's hash");
      }
      return ca;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status(Code::kDeadlineExceeded, "cannot fetch the cluster CA: " + last.message());
    }
    std::this_thread::sleep_for(milliseconds(500));
  }
}

Result<std::unique_ptr<AgentProcess>> AgentProcess::start(AgentProcessOptions options) {
  auto p = std::make_unique<AgentProcessImpl>(std::move(options));
  Status s = p->run();
  if (!s.ok()) {
    p->stop();
    return s;
  }
  return std::unique_ptr<AgentProcess>(std::move(p));
}

}  // namespace orch::cluster
