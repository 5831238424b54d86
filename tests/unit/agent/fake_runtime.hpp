// FakeRuntime: an in-memory agent::Runtime for agent tests. Containers "run" until the test
// exits them (exit()), stop_container() exits them (143 / 137) unless told to ignore SIGTERM,
// exec() answers with a scripted exit code per container name, and every call is logged.
//
// Thread-safety: every method may be called from any thread. The exit callback is called
// without the fake's mutex held.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "orch/agent/runtime.hpp"
#include "orch/util/clock.hpp"

namespace orch::agent::testing {

class FakeRuntime : public Runtime {
 public:
  explicit FakeRuntime(util::Clock* clock) : clock_(clock) {}

  struct Container {
    ContainerInfo info;
    ContainerConfig config;
    PodSandboxConfig pod;
  };

  void set_exit_callback(
      std::function<void(const std::string&, const std::string&)> fn) override {
    std::lock_guard lock(mu_);
    exit_cb_ = std::move(fn);
  }

  Result<ImageInfo> pull_image(std::string_view image) override {
    std::lock_guard lock(mu_);
    std::string name(image);
    auto colon = name.find(':');
    std::string base = colon == std::string::npos ? name : name.substr(0, colon);
    if (!images_.count(name) && !images_.count(base)) {
      return not_found("image \"" + name + "\" is not in the node's image catalog");
    }
    return ImageInfo{name, "fake://" + name + "@sha256:0"};
  }

  Status run_pod(const PodSandboxConfig& pod) override {
    std::lock_guard lock(mu_);
    sandboxes_[pod.uid] = pod;
    log_.push_back("run_pod " + pod.name);
    return ok_status();
  }

  Status remove_pod(std::string_view pod_uid) override {
    std::vector<std::string> killed;
    {
      std::lock_guard lock(mu_);
      for (auto it = containers_.begin(); it != containers_.end();) {
        if (it->second.info.pod_uid == pod_uid) {
          it = containers_.erase(it);
        } else {
          ++it;
        }
      }
      std::string name = sandboxes_.count(std::string(pod_uid))
                             ? sandboxes_[std::string(pod_uid)].name
                             : std::string(pod_uid);
      sandboxes_.erase(std::string(pod_uid));
      log_.push_back("remove_pod " + name);
    }
    return ok_status();
  }

  Result<std::string> start_container(const PodSandboxConfig& pod,
                                      const ContainerConfig& config) override {
    std::string id;
    {
      std::lock_guard lock(mu_);
      if (fail_start_.count(config.container.name)) {
        return invalid_argument("exec: \"nope\": executable file not found in $PATH");
      }
      id = "fake://" + std::to_string(next_id_++);
      Container c;
      c.info.id = id;
      c.info.pod_uid = pod.uid;
      c.info.name = config.container.name;
      c.info.restart_count = config.restart_count;
      c.info.state = ContainerState::kRunning;
      c.info.image = config.container.image;
      c.info.image_id = "fake://" + config.container.image + "@sha256:0";
      c.info.started_at = clock_->system_now();
      c.config = config;
      c.pod = pod;
      containers_[id] = std::move(c);
      starts_[config.container.name]++;
      log_.push_back("start " + config.container.name);
    }
    return id;
  }

  Status stop_container(std::string_view container_id, bool force) override {
    std::string name;
    bool exit_now = false;
    {
      std::lock_guard lock(mu_);
      auto it = containers_.find(std::string(container_id));
      if (it == containers_.end()) return not_found("no such container");
      name = it->second.info.name;
      log_.push_back((force ? "kill " : "stop ") + name);
      if (force) kills_[name]++;
      else stops_[name]++;
      exit_now = it->second.info.state == ContainerState::kRunning &&
                 (force || !ignore_term_.count(name));
    }
    if (exit_now) finish(std::string(container_id), force ? 137 : 143);
    return ok_status();
  }

  Status remove_container(std::string_view container_id) override {
    std::lock_guard lock(mu_);
    containers_.erase(std::string(container_id));
    return ok_status();
  }

  Result<ContainerInfo> container_status(std::string_view container_id) override {
    std::lock_guard lock(mu_);
    auto it = containers_.find(std::string(container_id));
    if (it == containers_.end()) return not_found("no such container");
    return it->second.info;
  }

  std::vector<ContainerInfo> list_containers(std::string_view pod_uid = {}) override {
    std::lock_guard lock(mu_);
    std::vector<ContainerInfo> out;
    for (const auto& [id, c] : containers_) {
      if (pod_uid.empty() || c.info.pod_uid == pod_uid) out.push_back(c.info);
    }
    return out;
  }

  Result<ExecResult> exec(std::string_view container_id, const std::vector<std::string>& command,
                          std::chrono::milliseconds) override {
    std::lock_guard lock(mu_);
    auto it = containers_.find(std::string(container_id));
    if (it == containers_.end()) return not_found("no such container");
    std::string name = it->second.info.name;
    std::string cmd;
    for (const auto& c : command) cmd += (cmd.empty() ? "" : " ") + c;
    log_.push_back("exec " + name + " " + cmd);
    ExecResult r;
    auto e = exec_exit_.find(name);
    r.exit_code = e == exec_exit_.end() ? 0 : e->second;
    if (r.exit_code != 0) r.output = "probe says no";
    return r;
  }

  // ---- Test controls ----

  // Makes the newest running container named `name` exit with `code`. False if none runs.
  bool exit(const std::string& name, int code) {
    std::string id;
    {
      std::lock_guard lock(mu_);
      std::uint32_t best = 0;
      for (const auto& [cid, c] : containers_) {
        if (c.info.name == name && c.info.state == ContainerState::kRunning &&
            (id.empty() || c.info.restart_count >= best)) {
          id = cid;
          best = c.info.restart_count;
        }
      }
    }
    if (id.empty()) return false;
    finish(id, code);
    return true;
  }
  // Exits a container without telling anyone (it died while the agent was down).
  bool exit_silently(const std::string& name, int code) {
    std::lock_guard lock(mu_);
    for (auto& [cid, c] : containers_) {
      if (c.info.name == name && c.info.state == ContainerState::kRunning) {
        c.info.state = ContainerState::kExited;
        c.info.exit_code = code;
        c.info.reason = code == 0 ? "Completed" : "Error";
        c.info.finished_at = clock_->system_now();
        return true;
      }
    }
    return false;
  }
  void add_image(const std::string& image) {
    std::lock_guard lock(mu_);
    images_.insert(image);
  }
  void set_exec_exit(const std::string& container, int code) {
    std::lock_guard lock(mu_);
    exec_exit_[container] = code;
  }
  void ignore_sigterm(const std::string& container) {
    std::lock_guard lock(mu_);
    ignore_term_.insert(container);
  }
  void fail_start(const std::string& container) {
    std::lock_guard lock(mu_);
    fail_start_.insert(container);
  }
  int starts(const std::string& name) const { return get(starts_, name); }
  int stops(const std::string& name) const { return get(stops_, name); }
  int kills(const std::string& name) const { return get(kills_, name); }
  bool running(const std::string& name) const {
    std::lock_guard lock(mu_);
    for (const auto& [id, c] : containers_) {
      if (c.info.name == name && c.info.state == ContainerState::kRunning) return true;
    }
    return false;
  }
  std::size_t sandbox_count() const {
    std::lock_guard lock(mu_);
    return sandboxes_.size();
  }
  std::vector<std::string> log() const {
    std::lock_guard lock(mu_);
    return log_;
  }
  // The config of the newest container named `name`.
  std::optional<Container> newest(const std::string& name) const {
    std::lock_guard lock(mu_);
    std::optional<Container> out;
    for (const auto& [id, c] : containers_) {
      if (c.info.name == name && (!out || c.info.restart_count >= out->info.restart_count)) out = c;
    }
    return out;
  }

 private:
  int get(const std::map<std::string, int>& m, const std::string& k) const {
    std::lock_guard lock(mu_);
    auto it = m.find(k);
    return it == m.end() ? 0 : it->second;
  }
  void finish(const std::string& id, int code) {
    std::function<void(const std::string&, const std::string&)> cb;
    std::string uid;
    {
      std::lock_guard lock(mu_);
      auto it = containers_.find(id);
      if (it == containers_.end() || it->second.info.state != ContainerState::kRunning) return;
      it->second.info.state = ContainerState::kExited;
      it->second.info.exit_code = code;
      it->second.info.reason = code == 0 ? "Completed" : "Error";
      it->second.info.finished_at = clock_->system_now();
      uid = it->second.info.pod_uid;
      cb = exit_cb_;
    }
    if (cb) cb(uid, id);
  }

  util::Clock* const clock_;
  mutable std::mutex mu_;
  std::function<void(const std::string&, const std::string&)> exit_cb_;
  std::map<std::string, Container> containers_;
  std::map<std::string, PodSandboxConfig> sandboxes_;
  std::set<std::string> images_{"busybox", "kuard"};
  std::map<std::string, int> exec_exit_;
  std::set<std::string> ignore_term_;
  std::set<std::string> fail_start_;
  std::map<std::string, int> starts_, stops_, kills_;
  std::vector<std::string> log_;
  int next_id_ = 1;
};

}  // namespace orch::agent::testing
