// The test control plane (see control_plane.hpp). Thread-safety: ControlPlane is immutable after
// construction; NodePlayer's worker is the only writer of pod status, mu_ guards its maps.
#include "control_plane.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdlib.h>

#include <boost/json.hpp>
#include <doctest.h>
#include <fmt/format.h>

#include "orch/api/time.hpp"
#include "orch/client/in_process_transport.hpp"
#include "orch/client/resource.hpp"
#include "orch/store/sqlite_store.hpp"

namespace orch::testing {

namespace json = boost::json;
using namespace std::chrono_literals;

bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(interval);
  }
  return predicate();
}

// ----------------------------------------------------------------------------- ControlPlane

ControlPlane::ControlPlane(ControlPlaneOptions options) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                        "/orch-control-plane-XXXXXX";
  char* made = ::mkdtemp(pattern.data());
  REQUIRE_MESSAGE(made != nullptr, "mkdtemp failed");
  dir_ = pattern;

  store::SqliteOptions so;
  so.path = dir_ + "/state.db";
  auto s = store::open_sqlite_store(so);
  REQUIRE_MESSAGE(s.ok(), s.status().to_string());
  store_ = std::move(s).value();

  apiserver::ApiServerOptions ao;
  ao.serve_http = options.serve_http;
  ao.bookmark_interval = options.bookmark_interval;
  if (options.serve_http) ao.http.address = "127.0.0.1";
  auto srv = apiserver::ApiServer::start(*store_, ao);
  REQUIRE_MESSAGE(srv.ok(), srv.status().to_string());
  server_ = std::move(srv).value();
  client_ = new_client();
}

ControlPlane::~ControlPlane() {
  if (server_) server_->stop(2s);
  client_.reset();
  server_.reset();
  store_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::shared_ptr<client::Client> ControlPlane::new_client() const {
  return std::make_shared<client::Client>(
      std::shared_ptr<client::Transport>(client::make_in_process_transport(server_->handler())));
}

Status ControlPlane::add_node(std::string_view name, std::string_view cpu,
                              std::string_view memory,
                              const std::map<std::string, std::string>& labels,
                              const std::vector<NodeTaint>& taints) const {
  json::object label_obj;
  label_obj["kubernetes.io/hostname"] = name;
  label_obj["kubernetes.io/os"] = "linux";
  for (const auto& [k, v] : labels) label_obj[k] = v;
  json::array taint_arr;
  for (const auto& t : taints) {
    json::object o{{"key", t.key}, {"effect", t.effect}};
    if (!t.value.empty()) o["value"] = t.value;
    taint_arr.push_back(std::move(o));
  }
  std::string now = api::Time::now().to_string();
  json::object resources{{"cpu", cpu}, {"memory", memory}, {"pods", "110"}};
  json::object spec;
  if (!taint_arr.empty()) spec["taints"] = std::move(taint_arr);
  json::value node = {
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", {{"name", name}, {"labels", std::move(label_obj)}}},
      {"spec", std::move(spec)},
      {"status",
       {{"capacity", resources},
        {"allocatable", resources},
        {"conditions",
         json::array{json::object{{"type", "Ready"},
                                  {"status", "True"},
                                  {"reason", "KubeletReady"},
                                  {"message", "orch test node is ready"},
                                  {"lastHeartbeatTime", now},
                                  {"lastTransitionTime", now}}}},
        {"addresses", json::array{json::object{{"type", "InternalIP"}, {"address", "127.0.0.1"}},
                                  json::object{{"type", "Hostname"}, {"address", name}}}},
        {"nodeInfo", {{"kubeletVersion", "v1.32.0-orch"}, {"operatingSystem", "linux"},
                      {"architecture", "amd64"}}}}}};
  auto r = client_->create(client::resources::kNodes, "", node);
  return r.ok() ? Status() : r.status();
}

// ----------------------------------------------------------------------------- binding

namespace {

std::string_view str_at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto p : path) {
    if (!cur->is_object()) return {};
    cur = cur->get_object().if_contains(p);
    if (cur == nullptr) return {};
  }
  return cur->is_string() ? std::string_view(cur->get_string()) : std::string_view();
}

const json::value* at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto p : path) {
    if (!cur->is_object()) return nullptr;
    cur = cur->get_object().if_contains(p);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

bool lost_race(const Status& s) {
  return s.code() == Code::kNotFound || s.code() == Code::kAborted ||
         s.code() == Code::kAlreadyExists;
}

}  // namespace

Result<int> bind_pending_pods(const client::Client& client, std::string_view node,
                              std::string_view ns) {
  auto pods = client.list_all(client::resources::kPods, ns);
  if (!pods.ok()) return pods.status();
  int bound = 0;
  for (const auto& pod : pods->items) {
    if (!str_at(pod, {"spec", "nodeName"}).empty()) continue;
    if (at(pod, {"metadata", "deletionTimestamp"}) != nullptr) continue;
    Status s = client.bind(client::object_namespace(pod), client::object_name(pod), node);
    if (s.ok()) {
      ++bound;
    } else if (!lost_race(s)) {
      return s;
    }
  }
  return bound;
}

// ----------------------------------------------------------------------------- NodePlayer

namespace {

client::WorkQueueOptions player_queue_options() {
  client::WorkQueueOptions o;
  o.base_delay = 5ms;
  o.max_delay = 1s;
  return o;
}

}  // namespace

NodePlayer::NodePlayer(std::shared_ptr<client::Client> client, NodePlayerOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : &util::real_clock()),
      queue_(player_queue_options()) {
  client::InformerOptions io;
  io.backoff_initial = 50ms;
  io.backoff_max = 1s;
  informer_ = std::make_unique<client::Informer>(client_, client::resources::kPods, io);
  auto enqueue = [this](const client::SharedObject& o) { queue_.add(client::object_key(*o)); };
  Status s = informer_->add_event_handler(
      {.on_add = enqueue,
       .on_update = [this](const client::SharedObject&,
                           const client::SharedObject& o) { queue_.add(client::object_key(*o)); },
       .on_delete =
           [this](const client::SharedObject& o) {
             std::string key = client::object_key(*o);
             std::lock_guard lock(mu_);
             first_seen_bound_.erase(key);
           }});
  REQUIRE_MESSAGE(s.ok(), s.to_string());
  s = informer_->start();
  REQUIRE_MESSAGE(s.ok(), s.to_string());
  worker_ = std::thread([this] { run(); });
}

NodePlayer::~NodePlayer() { stop(); }

void NodePlayer::stop() {
  if (stopped_.exchange(true)) return;
  queue_.shut_down();
  if (worker_.joinable()) worker_.join();
  informer_->stop();
}

void NodePlayer::set_ready(std::string_view ns, std::string_view name, bool ready) {
  std::string key = client::make_key(ns, name);
  {
    std::lock_guard lock(mu_);
    ready_override_[key] = ready;
  }
  queue_.add(key);
}

std::string NodePlayer::pod_ip_for(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = pod_ips_.find(key);
  if (it != pod_ips_.end()) return it->second;
  std::uint32_t n = next_ip_++;
  std::string ip = fmt::format("127.100.{}.{}", (n / 250) % 256, n % 250 + 1);
  pod_ips_[key] = ip;
  return ip;
}

void NodePlayer::run() {
  while (true) {
    auto key = queue_.get(200ms);
    if (!key) {
      if (queue_.shutting_down()) return;
      continue;
    }
    std::chrono::nanoseconds requeue{0};
    Status s = play(*key, requeue);
    if (!s.ok()) {
      queue_.add_rate_limited(*key);
    } else {
      queue_.forget(*key);
      if (requeue.count() > 0) queue_.add_after(*key, requeue);
    }
    queue_.done(*key);
  }
}

Status NodePlayer::play(const std::string& key, std::chrono::nanoseconds& requeue) {
  client::SharedObject pod = informer_->get_by_key(key);
  if (!pod) return Status();
  const json::value& p = *pod;
  std::string ns(client::object_namespace(p)), name(client::object_name(p));

  const bool mine = options_.only_nodes.empty() ||
                    options_.only_nodes.contains(std::string(str_at(p, {"spec", "nodeName"})));
  if (at(p, {"metadata", "deletionTimestamp"}) != nullptr) {
    if (!options_.complete_deletions || !mine) return Status();
    client::DeleteOptions d;
    d.grace_period_seconds = 0;
    d.precondition_uid = std::string(client::object_uid(p));
    auto r = client_->remove(client::resources::kPods, ns, name, d);
    if (!r.ok() && !lost_race(r.status())) return r.status();
    return Status();
  }

  std::string_view node = str_at(p, {"spec", "nodeName"});
  if (node.empty()) {
    if (options_.bind_pending_to.empty()) return Status();
    Status s = client_->bind(ns, name, options_.bind_pending_to);
    return s.ok() || lost_race(s) ? Status() : s;
  }

  if (!mine) return Status();
  std::string_view phase = str_at(p, {"status", "phase"});
  if (phase == "Succeeded" || phase == "Failed") return Status();

  if (options_.ready_delay.count() > 0) {
    auto now = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point first;
    {
      std::lock_guard lock(mu_);
      first = first_seen_bound_.try_emplace(key, now).first->second;
    }
    if (now < first + options_.ready_delay && phase != "Running") {
      requeue = first + options_.ready_delay - now;
      return Status();
    }
  }

  bool ready = options_.ready;
  {
    std::lock_guard lock(mu_);
    auto it = ready_override_.find(key);
    if (it != ready_override_.end()) ready = it->second;
  }
  const char* ready_str = ready ? "True" : "False";

  // Already as wanted?
  std::string_view cur_ready;
  if (const auto* conds = at(p, {"status", "conditions"}); conds && conds->is_array()) {
    for (const auto& c : conds->get_array()) {
      if (str_at(c, {"type"}) == "Ready") cur_ready = str_at(c, {"status"});
    }
  }
  if (phase == "Running" && cur_ready == ready_str && !str_at(p, {"status", "podIP"}).empty()) {
    return Status();
  }

  std::string now = api::Time{clock_->system_now()}.to_string();
  std::string start_time(str_at(p, {"status", "startTime"}));
  if (start_time.empty()) start_time = now;
  std::string ip = pod_ip_for(key);

  // Keep lastTransitionTime of conditions whose status does not change.
  auto condition = [&](std::string_view type, const char* status) {
    std::string ltt = now;
    if (const auto* conds = at(p, {"status", "conditions"}); conds && conds->is_array()) {
      for (const auto& c : conds->get_array()) {
        if (str_at(c, {"type"}) == type && str_at(c, {"status"}) == status) {
          std::string_view old = str_at(c, {"lastTransitionTime"});
          if (!old.empty()) ltt = old;
        }
      }
    }
    return json::object{{"type", type}, {"status", status}, {"lastTransitionTime", ltt}};
  };
  json::array conditions{condition("PodReadyToStartContainers", "True"),
                         condition("Initialized", "True"), condition("Ready", ready_str),
                         condition("ContainersReady", ready_str),
                         condition("PodScheduled", "True")};
  json::array container_statuses;
  if (const auto* cs = at(p, {"spec", "containers"}); cs && cs->is_array()) {
    for (const auto& c : cs->get_array()) {
      std::string cname(str_at(c, {"name"}));
      container_statuses.push_back(json::object{
          {"name", cname},
          {"image", str_at(c, {"image"})},
          {"imageID", ""},
          {"containerID", fmt::format("orch://{}-{}-{}", ns, name, cname)},
          {"ready", ready},
          {"started", true},
          {"restartCount", 0},
          {"state", {{"running", {{"startedAt", start_time}}}}}});
    }
  }
  json::value patch = {
      {"status",
       {{"phase", "Running"},
        {"hostIP", "127.0.0.1"},
        {"hostIPs", json::array{json::object{{"ip", "127.0.0.1"}}}},
        {"podIP", ip},
        {"podIPs", json::array{json::object{{"ip", ip}}}},
        {"startTime", start_time},
        {"conditions", std::move(conditions)},
        {"containerStatuses", std::move(container_statuses)}}}};
  auto r = client_->patch(client::resources::kPods, ns, name, client::PatchType::Merge,
                          json::serialize(patch), {}, "status");
  if (!r.ok() && r.status().code() != Code::kNotFound) return r.status();
  return Status();
}

}  // namespace orch::testing
