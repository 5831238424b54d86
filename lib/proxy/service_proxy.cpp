// ServiceProxy: informers -> work queue of Service keys -> one worker that diffs each Service's
// wanted listeners and pools against what it programmed before.
#include "orch/proxy/service_proxy.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "orch/client/informer.hpp"
#include "orch/client/informer_factory.hpp"
#include "orch/client/resource.hpp"
#include "orch/client/work_queue.hpp"
#include "metrics_server.hpp"
#include "orch/util/log.hpp"

namespace orch::proxy {
namespace {

namespace json = boost::json;
using client::SharedObject;

const json::value* at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto k : path) {
    const auto* o = cur->if_object();
    if (!o) return nullptr;
    cur = o->if_contains(k);
    if (!cur) return nullptr;
  }
  return cur;
}

std::string str(const json::value& v, std::initializer_list<std::string_view> path) {
  const auto* x = at(v, path);
  return x && x->is_string() ? std::string(x->get_string()) : std::string();
}

std::int64_t num(const json::value& v, std::initializer_list<std::string_view> path) {
  const auto* x = at(v, path);
  return x && x->is_int64() ? x->get_int64() : 0;
}

struct Listen {
  std::string host;
  std::uint16_t port = 0;
  auto operator<=>(const Listen&) const = default;
};

// What one Service wants programmed.
struct Wanted {
  std::map<std::string, PoolConfig> pools;
  std::map<Listen, std::string> listens;  // -> pool
};

Wanted wanted_for(const std::string& key, const json::value* svc, const json::value* ep,
                  const ServiceProxyOptions& options) {
  Wanted w;
  if (!svc || str(*svc, {"spec", "type"}) == "ExternalName") return w;
  const std::string cluster_ip = str(*svc, {"spec", "clusterIP"});
  const bool affinity = str(*svc, {"spec", "sessionAffinity"}) == "ClientIP";
  std::chrono::seconds affinity_timeout{10800};
  if (auto t = num(*svc, {"spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"}); t > 0) {
    affinity_timeout = std::chrono::seconds(t);
  }
  const auto* ports = at(*svc, {"spec", "ports"});
  if (!ports || !ports->is_array()) return w;
  for (const auto& p : ports->get_array()) {
    const std::string protocol = str(p, {"protocol"}).empty() ? "TCP" : str(p, {"protocol"});
    if (protocol != "TCP") continue;
    const std::string port_name = str(p, {"name"});
    const std::string pool = key + ":" + port_name;
    PoolConfig cfg;
    cfg.client_ip_affinity = affinity;
    cfg.affinity_timeout = affinity_timeout;
    if (ep) {
      if (const auto* subsets = at(*ep, {"subsets"}); subsets && subsets->is_array()) {
        for (const auto& s : subsets->get_array()) {
          std::int64_t target = 0;
          if (const auto* eps = at(s, {"ports"}); eps && eps->is_array()) {
            for (const auto& ep_port : eps->get_array()) {
              if (str(ep_port, {"name"}) == port_name) target = num(ep_port, {"port"});
            }
          }
          if (target <= 0 || target > 65535) continue;
          if (const auto* addrs = at(s, {"addresses"}); addrs && addrs->is_array()) {
            for (const auto& a : addrs->get_array()) {
              const std::string ip = str(a, {"ip"});
              if (!ip.empty()) cfg.backends.push_back({ip, static_cast<std::uint16_t>(target)});
            }
          }
        }
      }
    }
    w.pools[pool] = std::move(cfg);
    const auto port = num(p, {"port"});
    if (options.cluster_ips && !cluster_ip.empty() && cluster_ip != "None" && port > 0 &&
        port <= 65535) {
      w.listens[{cluster_ip, static_cast<std::uint16_t>(port)}] = pool;
    }
    const auto node_port = num(p, {"nodePort"});
    if (!options.node_ip.empty() && node_port > 0 && node_port <= 65535) {
      w.listens[{options.node_ip, static_cast<std::uint16_t>(node_port)}] = pool;
    }
  }
  return w;
}

std::string proxy_log_component(const ServiceProxyOptions& o) {
  return o.node_name.empty() ? "proxy" : "proxy/" + o.node_name;
}

class ServiceProxyImpl final : public ServiceProxy {
 public:
  ServiceProxyImpl(std::shared_ptr<client::Client> client, ServiceProxyOptions options,
                   std::unique_ptr<Forwarder> forwarder)
      : options_(std::move(options)),
        log_(proxy_log_component(options_)),
        forwarder_(std::move(forwarder)),
        informers_(std::move(client)),
        services_(informers_.informer(client::resources::kServices)),
        endpoints_(informers_.informer(client::resources::kEndpoints)),
        queue_(client::WorkQueueOptions{.base_delay = std::chrono::milliseconds(200),
                                        .max_delay = std::chrono::seconds(30)}) {}

  ~ServiceProxyImpl() override { stop(); }

  Status run() {
    client::EventHandlers h;
    h.on_add = [this](const SharedObject& o) { queue_.add(client::object_key(*o)); };
    h.on_update = [this](const SharedObject& old_o, const SharedObject& o) {
      if (client::object_resource_version(*old_o) != client::object_resource_version(*o)) {
        queue_.add(client::object_key(*o));
      }
    };
    h.on_delete = h.on_add;
    ORCH_TRY(services_.add_event_handler(h));
    ORCH_TRY(endpoints_.add_event_handler(h));
    ORCH_TRY(informers_.start());
    worker_ = std::thread([this] { work(); });
    return Status();
  }

  bool wait_for_sync(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!informers_.wait_for_sync(timeout)) return false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (queue_.len() == 0 && busy_.load() == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  PoolStats stats(const std::string& service_port) const override {
    return forwarder_->stats(service_port);
  }
  std::size_t listener_count() const override { return forwarder_->listener_count(); }

  ServiceProxyMetrics metrics() const override {
    ServiceProxyMetrics m;
    {
      std::lock_guard lock(mu_);
      m.service_ports.reserve(ports_.size());
      for (const auto& [pool, info] : ports_) {
        m.service_ports.push_back({.ns = info.ns,
                                   .service = info.service,
                                   .port_name = info.port_name,
                                   .endpoints = info.endpoints,
                                   .listeners = info.listeners,
                                   .stats = forwarder_->stats(pool)});
      }
    }
    std::sort(m.service_ports.begin(), m.service_ports.end(), [](const auto& a, const auto& b) {
      return std::tie(a.ns, a.service, a.port_name) < std::tie(b.ns, b.service, b.port_name);
    });
    m.listeners = forwarder_->listener_count();
    m.listeners_opened = listeners_opened_.load();
    m.listeners_closed = listeners_closed_.load();
    m.pool_updates = pool_updates_.load();
    m.syncs = syncs_.load();
    m.sync_errors = sync_errors_.load();
    return m;
  }

  std::uint16_t metrics_port() const override {
    return metrics_server_ ? metrics_server_->port() : 0;
  }

  // Starts the metrics server when asked; a failure is logged, not fatal.
  void start_metrics() {
    if (options_.metrics_address.empty()) return;
    auto srv = MetricsServer::start(options_.metrics_address, options_.metrics_port,
                                    [this] { return render_prometheus(metrics()); });
    if (!srv.ok()) {
      ORCH_LOG(kWarning, log_, "no metrics server: {}", srv.status().to_string());
      return;
    }
    metrics_server_ = std::move(srv).value();
    ORCH_LOG(kInfo, log_, "serving metrics on {}:{}", options_.metrics_address,
             metrics_server_->port());
  }

  void stop() override {
    if (stopped_.exchange(true)) return;
    if (metrics_server_) metrics_server_->stop();
    queue_.shut_down();
    informers_.stop();
    if (worker_.joinable()) worker_.join();
    forwarder_->stop();
  }

 private:
  void work() {
    while (true) {
      auto key = queue_.get(std::chrono::milliseconds(500));
      if (!key) {
        if (queue_.shutting_down()) return;
        continue;
      }
      busy_.fetch_add(1);
      Status s = sync(*key);
      if (s.ok()) {
        queue_.forget(*key);
      } else {
        sync_errors_.fetch_add(1, std::memory_order_relaxed);
        if (!logged_.contains(*key)) {
          ORCH_LOG(kWarning, log_, "service {}: {} (retrying)", *key, s.to_string());
          logged_.insert(*key);
        }
        queue_.add_rate_limited(*key);
      }
      queue_.done(*key);
      busy_.fetch_sub(1);
    }
  }

  // Worker thread only.
  Status sync(const std::string& key) {
    const auto slash = key.find('/');
    if (slash == std::string::npos) return Status();
    syncs_.fetch_add(1, std::memory_order_relaxed);
    const std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
    SharedObject svc = services_.get(ns, name);
    SharedObject ep = endpoints_.get(ns, name);
    Wanted want = wanted_for(key, svc.get(), ep.get(), options_);
    Programmed& have = programmed_[key];

    // Pools first (a new listener must find its pool), only those that changed.
    for (auto& [pool, cfg] : want.pools) {
      auto it = have.pools.find(pool);
      if (it != have.pools.end() && it->second == cfg) continue;
      forwarder_->set_pool(pool, cfg);
      ORCH_VLOG(3, log_, "service port {} forwards to {} endpoint(s)", pool, cfg.backends.size());
      pool_updates_.fetch_add(1, std::memory_order_relaxed);
      have.pools[pool] = cfg;
    }
    Status first_error;
    // Listeners that go or change pool.
    for (auto it = have.listens.begin(); it != have.listens.end();) {
      auto w = want.listens.find(it->first);
      if (w == want.listens.end()) {
        forwarder_->unlisten(it->first.host, it->first.port);
        ORCH_VLOG(2, log_, "closed listener {}:{} of {}", it->first.host, it->first.port,
                  it->second);
        listeners_closed_.fetch_add(1, std::memory_order_relaxed);
        it = have.listens.erase(it);
        continue;
      }
      if (w->second != it->second) {
        (void)forwarder_->retarget(it->first.host, it->first.port, w->second);
        it->second = w->second;
      }
      ++it;
    }
    for (const auto& [listen, pool] : want.listens) {
      if (have.listens.contains(listen)) continue;
      auto r = forwarder_->listen(listen.host, listen.port, pool);
      if (r.ok()) {
        ORCH_VLOG(2, log_, "opened listener {}:{} for {}", listen.host, listen.port, pool);
        listeners_opened_.fetch_add(1, std::memory_order_relaxed);
        have.listens[listen] = pool;
      } else if (r.status().code() == Code::kAlreadyExists) {
        (void)forwarder_->retarget(listen.host, listen.port, pool);
        have.listens[listen] = pool;
      } else if (first_error.ok()) {
        first_error = r.status();
      }
    }
    for (auto it = have.pools.begin(); it != have.pools.end();) {
      if (want.pools.contains(it->first)) {
        ++it;
        continue;
      }
      forwarder_->remove_pool(it->first);
      it = have.pools.erase(it);
    }
    publish(key, have);
    if (have.pools.empty() && have.listens.empty()) programmed_.erase(key);
    if (first_error.ok()) logged_.erase(key);
    return first_error;
  }

  struct Programmed {
    std::map<std::string, PoolConfig> pools;
    std::map<Listen, std::string> listens;  // -> pool
  };

  // What metrics() reports of one pool.
  struct PortInfo {
    std::string ns, service, port_name;
    std::size_t endpoints = 0, listeners = 0;
  };

  // Copies what Service `key` has programmed into ports_ (for metrics()). Worker thread.
  void publish(const std::string& key, const Programmed& have) {
    std::lock_guard lock(mu_);
    auto& mine = ports_by_service_[key];
    for (const auto& pool : mine) ports_.erase(pool);
    mine.clear();
    const auto slash = key.find('/');
    for (const auto& [pool, cfg] : have.pools) {
      PortInfo info{.ns = key.substr(0, slash),
                    .service = key.substr(slash + 1),
                    .port_name = pool.substr(key.size() + 1),
                    .endpoints = cfg.backends.size()};
      for (const auto& [l, p] : have.listens) info.listeners += p == pool ? 1 : 0;
      ports_[pool] = std::move(info);
      mine.push_back(pool);
    }
    if (mine.empty()) ports_by_service_.erase(key);
  }

  // Const after construction.
  const ServiceProxyOptions options_;
  const std::string log_;  // log component
  const std::unique_ptr<Forwarder> forwarder_;

  client::InformerFactory informers_;
  client::Informer& services_;
  client::Informer& endpoints_;
  client::WorkQueue queue_;
  std::thread worker_;
  std::atomic<bool> stopped_{false};
  std::atomic<int> busy_{0};
  std::unique_ptr<MetricsServer> metrics_server_;
  // Worker thread only.
  std::map<std::string, Programmed> programmed_;
  std::set<std::string> logged_;
  std::atomic<std::uint64_t> listeners_opened_{0}, listeners_closed_{0}, pool_updates_{0},
      syncs_{0}, sync_errors_{0};
  mutable std::mutex mu_;  // lock order: before the forwarder's
  // Guarded by mu_: pool name -> what it serves; Service key -> its pool names.
  std::map<std::string, PortInfo> ports_;
  std::map<std::string, std::vector<std::string>> ports_by_service_;
};

}  // namespace

Result<std::unique_ptr<ServiceProxy>> ServiceProxy::start(std::shared_ptr<client::Client> client,
                                                          ServiceProxyOptions options) {
  if (!client) return Status(Code::kInvalidArgument, "service proxy: no client");
  ForwarderOptions fo;
  fo.log_component = proxy_log_component(options);
  fo.connect_timeout = options.connect_timeout;
  fo.threads = options.threads;
  ORCH_ASSIGN_OR_RETURN(auto forwarder, Forwarder::start(fo));
  auto proxy = std::make_unique<ServiceProxyImpl>(std::move(client), std::move(options),
                                                  std::move(forwarder));
  ORCH_TRY(proxy->run());
  proxy->start_metrics();
  return std::unique_ptr<ServiceProxy>(std::move(proxy));
}

}  // namespace orch::proxy
