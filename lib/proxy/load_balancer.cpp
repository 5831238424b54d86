// LoadBalancer controller: one worker (allocation is then single-threaded), a Forwarder for the
// external listeners. Keys are Service keys.
#include "orch/proxy/load_balancer.hpp"

#include <arpa/inet.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "orch/client/resource.hpp"
#include "orch/proxy/forwarder.hpp"
#include "orch/util/log.hpp"

namespace orch::proxy {
namespace {

namespace json = boost::json;
using client::SharedObject;

constexpr const char* kLog = "load-balancer";  // log component
using controller::Outcome;

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

// The string at `path`; a one-digit element indexes an array ("ingress", "0", "ip").
std::string str(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto k : path) {
    if (const auto* a = cur->if_array()) {
      std::size_t i = static_cast<std::size_t>(k[0] - '0');
      if (i >= a->size()) return {};
      cur = &(*a)[i];
      continue;
    }
    const auto* o = cur->if_object();
    if (!o) return {};
    cur = o->if_contains(k);
    if (!cur) return {};
  }
  return cur->is_string() ? std::string(cur->get_string()) : std::string();
}


std::optional<std::uint32_t> parse_ipv4(const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string format_ipv4(std::uint32_t ip) {
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

bool is_lb(const json::value& svc) { return str(svc, {"spec", "type"}) == "LoadBalancer"; }

// InternalIP of every Ready node.
std::vector<std::string> ready_node_ips(const std::vector<SharedObject>& nodes) {
  std::vector<std::string> out;
  for (const auto& n : nodes) {
    bool ready = false;
    if (const auto* conds = at(*n, {"status", "conditions"}); conds && conds->is_array()) {
      for (const auto& c : conds->get_array()) {
        if (str(c, {"type"}) == "Ready") ready = str(c, {"status"}) == "True";
      }
    }
    if (!ready) continue;
    if (const auto* addrs = at(*n, {"status", "addresses"}); addrs && addrs->is_array()) {
      for (const auto& a : addrs->get_array()) {
        if (str(a, {"type"}) == "InternalIP") {
          out.push_back(str(a, {"address"}));
          break;
        }
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

class KeySink {
 public:
  void attach(controller::Controller* c) {
    std::lock_guard lock(mu_);
    controller_ = c;
  }
  void add(const std::string& key) {
    std::lock_guard lock(mu_);
    if (controller_) controller_->enqueue(key);
  }

 private:
  std::mutex mu_;
  controller::Controller* controller_ = nullptr;
};

class LoadBalancerReconciler final : public controller::Reconciler {
 public:
  LoadBalancerReconciler(const controller::ControllerContext& ctx, std::uint32_t base,
                         std::uint32_t size, std::unique_ptr<Forwarder> forwarder,
                         std::shared_ptr<KeySink> sink)
      : client_(ctx.client),
        events_(ctx.events),
        base_(base),
        size_(size),
        forwarder_(std::move(forwarder)),
        sink_(std::move(sink)),
        services_(ctx.informers->informer(client::resources::kServices)),
        nodes_(ctx.informers->informer(client::resources::kNodes)) {}

  ~LoadBalancerReconciler() override { forwarder_->stop(); }

  Status register_handlers(const std::shared_ptr<LoadBalancerReconciler>& self) {
    std::weak_ptr<LoadBalancerReconciler> weak = self;
    client::EventHandlers svc;
    svc.on_add = [weak](const SharedObject& o) {
      if (auto r = weak.lock()) r->sink_->add(client::object_key(*o));
    };
    svc.on_update = [weak](const SharedObject&, const SharedObject& o) {
      if (auto r = weak.lock()) r->sink_->add(client::object_key(*o));
    };
    svc.on_delete = svc.on_add;
    ORCH_TRY(services_.add_event_handler(std::move(svc)));
    client::EventHandlers node;
    auto all = [weak](const SharedObject&) {
      if (auto r = weak.lock()) r->requeue_all();
    };
    node.on_add = all;
    node.on_update = [weak](const SharedObject& a, const SharedObject& b) {
      if (client::object_resource_version(*a) == client::object_resource_version(*b)) return;
      if (auto r = weak.lock()) r->requeue_all();
    };
    node.on_delete = all;
    return nodes_.add_event_handler(std::move(node));
  }

  Outcome reconcile(const std::string& key) override {
    const auto slash = key.find('/');
    if (slash == std::string::npos) return Outcome::done();
    const std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
    SharedObject svc = services_.get(ns, name);
    if (!svc || !is_lb(*svc)) {
      const bool had = release(key);
      if (svc && at(*svc, {"status", "loadBalancer", "ingress"})) {
        json::value next = *svc;
        next.at("status").as_object()["loadBalancer"] = json::object();
        auto u = client_->update_status(client::resources::kServices, ns, next);
        if (!u.ok() && u.status().code() != Code::kNotFound) return Outcome::retry(u.status());
      }
      if (had && svc && events_) {
        events_->event(*svc, "Normal", "DeletingLoadBalancer", "Deleting load balancer");
      }
      return Outcome::done();
    }

    auto ip = assign(key, *svc);
    if (!ip.ok()) return Outcome::retry(ip.status());
    const bool first_time = !listening_.contains(key);
    if (first_time && events_) {
      events_->event(*svc, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer");
    }

    // Listeners and pools.
    const auto node_ips = ready_node_ips(nodes_.list());
    std::map<std::uint16_t, std::string> want;  // port -> pool
    if (const auto* ports = at(*svc, {"spec", "ports"}); ports && ports->is_array()) {
      for (const auto& p : ports->get_array()) {
        const std::string proto = str(p, {"protocol"}).empty() ? "TCP" : str(p, {"protocol"});
        if (proto != "TCP") continue;
        const auto* port = at(p, {"port"});
        const auto* node_port = at(p, {"nodePort"});
        if (!port || !port->is_int64()) continue;
        const std::string pool = "lb/" + key + ":" + str(p, {"name"});
        PoolConfig cfg;
        if (str(*svc, {"spec", "sessionAffinity"}) == "ClientIP") cfg.client_ip_affinity = true;
        if (node_port && node_port->is_int64() && node_port->get_int64() > 0) {
          for (const auto& n : node_ips) {
            cfg.backends.push_back({n, static_cast<std::uint16_t>(node_port->get_int64())});
          }
        }
        forwarder_->set_pool(pool, std::move(cfg));
        want[static_cast<std::uint16_t>(port->get_int64())] = pool;
      }
    }
    auto& have = listening_[key];
    if (have.ip != *ip) {
      for (const auto& [port, pool] : have.ports) forwarder_->unlisten(have.ip, port);
      have.ports.clear();
      have.ip = *ip;
    }
    for (auto it = have.ports.begin(); it != have.ports.end();) {
      if (!want.contains(it->first)) {
        forwarder_->unlisten(have.ip, it->first);
        ORCH_VLOG(2, kLog, "closed listener {}:{} of {}", have.ip, it->first, key);
        forwarder_->remove_pool(it->second);
        it = have.ports.erase(it);
      } else {
        ++it;
      }
    }
    Status listen_error;
    for (const auto& [port, pool] : want) {
      if (have.ports.contains(port)) continue;
      auto r = forwarder_->listen(*ip, port, pool);
      if (r.ok()) {
        ORCH_VLOG(2, kLog, "opened listener {}:{} for {}", *ip, port, key);
        have.ports[port] = pool;
      } else {
        ORCH_LOG(kWarning, kLog, "service {}: {} (retrying)", key, r.status().to_string());
        if (listen_error.ok()) listen_error = r.status();
      }
    }

    // Status.
    if (str(*svc, {"status", "loadBalancer", "ingress", "0", "ip"}) != *ip ||
        at(*svc, {"status", "loadBalancer", "ingress"}) == nullptr) {
      json::value next = *svc;
      auto& st = next.as_object()["status"];
      if (!st.is_object()) st = json::object();
      st.as_object()["loadBalancer"] =
          json::object{{"ingress", json::array{json::object{{"ip", *ip}, {"ipMode", "VIP"}}}}};
      auto u = client_->update_status(client::resources::kServices, ns, next);
      if (!u.ok()) return Outcome::retry(u.status());
      if (events_) events_->event(*svc, "Normal", "EnsuredLoadBalancer", "Ensured load balancer");
    }
    if (!listen_error.ok()) return Outcome::retry(listen_error);
    return Outcome::done();
  }

 private:
  void requeue_all() {
    for (const auto& s : services_.list()) {
      if (is_lb(*s)) sink_->add(client::object_key(*s));
    }
  }

  // The service's external address: the one it has (when ours and free), else the first free.
  Result<std::string> assign(const std::string& key, const json::value& svc) {
    std::lock_guard lock(mu_);
    if (auto it = by_key_.find(key); it != by_key_.end()) return format_ipv4(base_ + it->second);
    std::optional<std::uint32_t> pick;
    if (auto cur = parse_ipv4(str(svc, {"status", "loadBalancer", "ingress", "0", "ip"}))) {
      if (*cur >= base_ && *cur - base_ < size_ && !used_.contains(*cur - base_)) pick = *cur - base_;
    }
    // Addresses other services' statuses claim (seen before this worker assigned them) are
    // skipped, so a restart never hands one address to two services.
    std::set<std::uint32_t> claimed = used_;
    for (const auto& s : services_.list()) {
      if (client::object_key(*s) == key || !is_lb(*s)) continue;
      if (auto ip = parse_ipv4(str(*s, {"status", "loadBalancer", "ingress", "0", "ip"}))) {
        if (*ip >= base_ && *ip - base_ < size_) claimed.insert(*ip - base_);
      }
    }
    if (pick && claimed.contains(*pick)) pick.reset();
    for (std::uint32_t i = 1; !pick && i + 1 < size_; ++i) {
      if (!claimed.contains(i)) pick = i;
    }
    if (!pick) {
      ORCH_LOG(kWarning, kLog, "no free address for service {}", key);
      return Status(Code::kResourceExhausted, "no free load balancer address");
    }
    used_.insert(*pick);
    by_key_[key] = *pick;
    std::string ip = format_ipv4(base_ + *pick);
    ORCH_LOG(kInfo, kLog, "assigned address {} to service {}", ip, key);
    return ip;
  }

  // Frees the key's address and listeners. True when it had any.
  bool release(const std::string& key) {
    bool had = false;
    {
      std::lock_guard lock(mu_);
      if (auto it = by_key_.find(key); it != by_key_.end()) {
        ORCH_LOG(kInfo, kLog, "released address {} of service {}", format_ipv4(base_ + it->second),
                 key);
        used_.erase(it->second);
        by_key_.erase(it);
        had = true;
      }
    }
    if (auto it = listening_.find(key); it != listening_.end()) {
      for (const auto& [port, pool] : it->second.ports) {
        forwarder_->unlisten(it->second.ip, port);
        forwarder_->remove_pool(pool);
        ORCH_VLOG(2, kLog, "closed listener {}:{} of {}", it->second.ip, port, key);
      }
      listening_.erase(it);
      had = true;
    }
    return had;
  }

  struct Listening {
    std::string ip;
    std::map<std::uint16_t, std::string> ports;  // -> pool
  };

  const std::shared_ptr<client::Client> client_;
  client::EventRecorder* const events_;
  const std::uint32_t base_;
  const std::uint32_t size_;
  const std::unique_ptr<Forwarder> forwarder_;
  const std::shared_ptr<KeySink> sink_;
  client::Informer& services_;
  client::Informer& nodes_;

  std::mutex mu_;  // lock order: leaf
  // Guarded by mu_.
  std::set<std::uint32_t> used_;
  std::map<std::string, std::uint32_t> by_key_;
  // Worker thread only (one worker).
  std::map<std::string, Listening> listening_;
};

class LoadBalancerController final : public controller::Controller {
 public:
  LoadBalancerController(controller::ControllerOptions options,
                         std::shared_ptr<controller::Reconciler> reconciler,
                         std::shared_ptr<KeySink> sink)
      : Controller(std::move(options), std::move(reconciler)), sink_(std::move(sink)) {
    sink_->attach(this);
  }
  ~LoadBalancerController() override {
    sink_->attach(nullptr);
    stop();
  }

 private:
  std::shared_ptr<KeySink> sink_;
};

}  // namespace

Result<std::unique_ptr<controller::Controller>> new_load_balancer_controller(
    const controller::ControllerContext& ctx, LoadBalancerOptions options) {
  if (!ctx.client || !ctx.informers) {
    return Status(Code::kInvalidArgument, "load balancer controller: no client or informers");
  }
  const auto slash = options.address_range.find('/');
  std::optional<std::uint32_t> addr;
  int prefix = -1;
  if (slash != std::string::npos) {
    addr = parse_ipv4(options.address_range.substr(0, slash));
    prefix = std::atoi(options.address_range.c_str() + slash + 1);
  }
  if (!addr || prefix < 8 || prefix > 30) {
    return Status(Code::kInvalidArgument, "load balancer address range \"" +
                                              options.address_range +
                                              "\" must be an IPv4 CIDR with a prefix of 8 to 30");
  }
  const std::uint32_t size = 1U << (32 - prefix);
  const std::uint32_t base = *addr & ~(size - 1);
  ForwarderOptions fo;
  fo.log_component = kLog;
  fo.connect_timeout = options.connect_timeout;
  ORCH_ASSIGN_OR_RETURN(auto forwarder, Forwarder::start(fo));
  auto sink = std::make_shared<KeySink>();
  auto reconciler =
      std::make_shared<LoadBalancerReconciler>(ctx, base, size, std::move(forwarder), sink);
  ORCH_TRY(reconciler->register_handlers(reconciler));
  controller::ControllerOptions co;
  co.name = kLoadBalancerControllerName;
  co.workers = 1;
  co.clock = ctx.clock;
  co.base_delay = std::chrono::milliseconds(100);
  co.max_delay = std::chrono::seconds(30);
  return std::unique_ptr<controller::Controller>(
      std::make_unique<LoadBalancerController>(co, std::move(reconciler), std::move(sink)));
}

controller::ControllerRegistration load_balancer_controller_registration(
    LoadBalancerOptions options) {
  return controller::ControllerRegistration{
      kLoadBalancerControllerName, kLoadBalancerControllerComponent,
      [options](const controller::ControllerContext& ctx) {
        return new_load_balancer_controller(ctx, options);
      }};
}

}  // namespace orch::proxy
