// The per-pod state machine of the agent: one sync_pod() call looks at one pod (its API object,
// its containers in the Runtime, its probe results), does the next steps (pull, sandbox, start,
// restart with backoff, kill, graceful deletion) and computes the status to report.
//
// Thread-safety: sync_pod runs on a pod worker with the pod's sync_mu held; the WorkQueue never
// hands one uid to two workers.
#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "agent_impl.hpp"
#include "orch/api/codec.hpp"
#include "orch/api/time.hpp"
#include "orch/client/resource.hpp"
#include "orch/util/log.hpp"

namespace orch::agent {

using namespace detail;
using std::chrono::nanoseconds;

namespace {

std::string time_string(std::chrono::system_clock::time_point t) {
  if (t == std::chrono::system_clock::time_point{}) return {};
  return api::Time{t}.to_string();
}

const json::value* container_spec(const json::value& pod, const ContainerRecord& rec) {
  const json::array* list = array_at(pod, {"spec", rec.init ? "initContainers" : "containers"});
  if (list == nullptr) return nullptr;
  for (const auto& c : *list) {
    if (str_at(c, {"name"}) == rec.name) return &c;
  }
  return nullptr;
}

std::string restart_policy(const json::value& pod) {
  std::string p = str_at(pod, {"spec", "restartPolicy"});
  return p.empty() ? "Always" : p;
}

bool should_restart(const std::string& policy, std::int32_t exit_code) {
  if (policy == "Always") return true;
  if (policy == "OnFailure") return exit_code != 0;
  return false;
}

std::int64_t pod_grace_seconds(const json::value& pod) {
  std::int64_t g = int_at(pod, {"spec", "terminationGracePeriodSeconds"}, 30);
  return g < 0 ? 0 : g;
}

bool is_running(const ContainerRecord& rec) {
  return !rec.id.empty() && rec.info &&
         (rec.info->state == ContainerState::kRunning || rec.info->state == ContainerState::kCreated);
}

bool is_exited(const ContainerRecord& rec) {
  return !rec.id.empty() && rec.info &&
         (rec.info->state == ContainerState::kExited || rec.info->state == ContainerState::kUnknown);
}

json::object terminated_json(const ContainerInfo& info) {
  json::object t;
  t["exitCode"] = info.exit_code;
  std::string reason = info.reason;
  if (reason.empty()) reason = info.exit_code == 0 ? "Completed" : "Error";
  t["reason"] = reason;
  if (!info.message.empty()) t["message"] = info.message;
  if (auto s = time_string(info.started_at); !s.empty()) t["startedAt"] = s;
  if (auto s = time_string(info.finished_at); !s.empty()) t["finishedAt"] = s;
  t["containerID"] = info.id;
  return t;
}

std::optional<api::Pod> decode_pod(const json::value& pod) {
  api::DecodeContext ctx;
  auto r = api::decode<api::Pod>(pod, ctx);
  if (!r.ok()) return std::nullopt;
  return std::move(r).value();
}

const api::Container* find_container(const api::Pod& pod, const ContainerRecord& rec) {
  const auto& list = rec.init ? pod.spec.init_containers : pod.spec.containers;
  for (const auto& c : list) {
    if (c.name == rec.name) return &c;
  }
  return nullptr;
}

}  // namespace

void Agent::Impl::init_records(PodState& st, const json::value& pod) {
  st.initialized = true;
  auto fill = [&](const char* field, bool init, std::vector<ContainerRecord>& out) {
    if (const auto* list = array_at(pod, {"spec", field})) {
      for (const auto& c : *list) {
        ContainerRecord rec;
        rec.name = str_at(c, {"name"});
        rec.init = init;
        rec.has_readiness = path(c, {"readinessProbe"}) != nullptr;
        rec.has_startup = path(c, {"startupProbe"}) != nullptr;
        out.push_back(std::move(rec));
      }
    }
  };
  fill("initContainers", true, st.init_containers);
  fill("containers", false, st.containers);
  std::string phase = str_at(pod, {"status", "phase"});
  if (phase == "Succeeded" || phase == "Failed") {
    st.terminal = true;
    st.terminal_phase = phase;
  }
  st.start_time = str_at(pod, {"status", "startTime"});
  std::string ip = str_at(pod, {"status", "podIP"});
  if (!ip.empty()) {
    std::lock_guard lock(mu);
    if (ips.reserve(ip)) {
      st.ip = ip;
      st.ip_shadow = ip;
    }
  }
  if (const auto* prev = path(pod, {"status"}); prev && prev->is_object()) {
    st.last_status = prev->as_object();
  }
}

void Agent::Impl::adopt_pod(PodState& st, const std::vector<ContainerInfo>& containers) {
  client::SharedObject pod;
  {
    std::lock_guard lock(mu);
    pod = st.pod;
  }
  if (!pod) return;
  if (!st.initialized) init_records(st, *pod);
  std::vector<ContainerInfo> sorted = containers;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.restart_count < b.restart_count; });
  auto find = [&](const std::string& name) -> ContainerRecord* {
    for (auto& r : st.init_containers) {
      if (r.name == name) return &r;
    }
    for (auto& r : st.containers) {
      if (r.name == name) return &r;
    }
    return nullptr;
  };
  for (const auto& c : sorted) {
    ContainerRecord* rec = find(c.name);
    if (rec == nullptr) {
      runtime.stop_container(c.id, true).ignore();
      continue;
    }
    if (!rec->id.empty() && rec->info) {
      if (rec->last) runtime.remove_container(rec->last->id).ignore();
      rec->last = rec->info;
    }
    rec->id = c.id;
    rec->info = c;
    rec->restart_count = c.restart_count;
    rec->image_id = c.image_id;
  }
  auto steady_of = [&](std::chrono::system_clock::time_point t) {
    if (t == std::chrono::system_clock::time_point{}) return clock->now();
    return clock->now() - (clock->system_now() - t);
  };
  auto decoded = decode_pod(*pod);
  for (auto* list : {&st.init_containers, &st.containers}) {
    for (auto& rec : *list) {
      if (!is_running(rec) || !decoded) continue;
      const api::Container* spec = find_container(*decoded, rec);
      if (spec == nullptr) continue;
      {
        std::lock_guard lock(mu);
        auto& pr = probe_results[st.uid][rec.name];
        pr = ProbeResults{};
        pr.container_id = rec.id;
      }
      ProbeTarget t{st.uid, rec.name, rec.id, st.ip, spec->ports, steady_of(rec.info->started_at)};
      prober.add_container(t, *spec);
    }
  }
}

Status Agent::Impl::sync_pod(const std::string& uid, std::optional<nanoseconds>& requeue) {
  std::shared_ptr<PodState> st;
  {
    std::lock_guard lock(mu);
    auto it = pods_by_uid.find(uid);
    if (it == pods_by_uid.end()) return ok_status();
    st = it->second;
  }
  std::lock_guard sync(st->sync_mu);
  client::SharedObject pod;
  bool in_api = true;
  {
    std::lock_guard lock(mu);
    pod = st->pod;
    in_api = st->in_api;
  }
  if (st->removed || !pod) return ok_status();
  if (!st->initialized) init_records(*st, *pod);
  const json::value& p = *pod;
  auto now = clock->now();
  auto want = [&](nanoseconds d) {
    if (d < nanoseconds(0)) d = nanoseconds(0);
    if (!requeue || d < *requeue) requeue = d;
  };

  // Forget the pod: everything it left behind is removed.
  auto forget = [&] {
    prober.remove_pod(uid);
    runtime.remove_pod(uid).ignore();
    st->removed = true;
    {
      std::lock_guard lock(mu);
      pods_by_uid.erase(uid);
      auto n = uid_by_name.find(st->ns + "/" + st->name);
      if (n != uid_by_name.end() && n->second == uid) uid_by_name.erase(n);
      probe_results.erase(uid);
      if (!st->ip.empty()) ips.release(st->ip);
    }
    forget_status(uid);
  };

  // Logs a container seen running before and exited now (once per exit).
  auto log_exit = [&](const ContainerRecord& rec, bool was_running) {
    if (!was_running || !is_exited(rec)) return;
    const ContainerInfo& i = *rec.info;
    ORCH_LOG(kInfo, log_name, "container {} of pod {}/{} exited with code {}{}{}", rec.name,
             st->ns, st->name, i.exit_code, i.reason.empty() ? "" : ": ", i.reason);
  };
  auto refresh = [&] {
    for (auto* list : {&st->init_containers, &st->containers}) {
      for (auto& rec : *list) {
        if (rec.id.empty()) continue;
        const bool was_running = is_running(rec);
        auto info = runtime.container_status(rec.id);
        if (info.ok()) {
          rec.info = std::move(info).value();
        } else if (info.status().code() == Code::kNotFound) {
          ContainerInfo gone = rec.info ? *rec.info : ContainerInfo{};
          gone.id = rec.id;
          if (gone.state != ContainerState::kExited) {
            gone.state = ContainerState::kExited;
            gone.exit_code = 137;
            gone.reason = "ContainerStatusUnknown";
            gone.message = "The container could not be located when the pod was terminated";
            gone.finished_at = clock->system_now();
          }
          rec.info = gone;
        }
        log_exit(rec, was_running);
      }
    }
  };

  // A pod gone from the API while it runs: kill and clean up.
  if (!in_api) {
    ORCH_LOG(kInfo, log_name, "pod {}/{} is gone from the API: killing its containers", st->ns,
             st->name);
    for (auto* list : {&st->init_containers, &st->containers}) {
      for (auto& rec : *list) {
        if (!rec.id.empty()) runtime.stop_container(rec.id, true).ignore();
      }
    }
    forget();
    return ok_status();
  }

  // Graceful deletion.
  if (path(p, {"metadata", "deletionTimestamp"}) != nullptr) {
    refresh();
    if (!st->terminating) {
      st->terminating = true;
      std::int64_t grace = int_at(p, {"metadata", "deletionGracePeriodSeconds"}, pod_grace_seconds(p));
      if (grace < 0) grace = 0;
      st->kill_deadline = now + std::chrono::seconds(grace);
      ORCH_LOG(kInfo, log_name, "pod {}/{} is being deleted: stopping its containers (grace period {}s)",
               st->ns, st->name, grace);
      prober.remove_pod(uid);
      for (auto* list : {&st->containers, &st->init_containers}) {
        for (auto& rec : *list) {
          if (!is_running(rec)) continue;
          event(*st, pod, rec.name, "Normal", "Killing", fmt::format("Stopping container {}", rec.name));
          std::vector<std::string> pre_stop;
          if (const json::value* spec = container_spec(p, rec)) {
            if (const auto* cmd = array_at(*spec, {"lifecycle", "preStop", "exec", "command"})) {
              for (const auto& a : *cmd) {
                if (a.is_string()) pre_stop.emplace_back(a.as_string());
              }
            }
          }
          rec.killing = true;
          if (!pre_stop.empty() && grace > 0) {
            std::string id = rec.id;
            std::lock_guard lock(mu);
            hook_threads.emplace_back([this, id, uid, pre_stop, grace] {
              runtime.exec(id, pre_stop, std::chrono::seconds(grace)).status().ignore();
              runtime.stop_container(id, false).ignore();
              pod_queue.add(uid);
            });
          } else {
            runtime.stop_container(rec.id, grace == 0).ignore();
          }
        }
      }
      refresh();
    }
    bool any_running = false;
    for (auto* list : {&st->init_containers, &st->containers}) {
      for (auto& rec : *list) {
        if (!is_running(rec)) continue;
        any_running = true;
        if (now >= st->kill_deadline && !rec.force_sent) {
          ORCH_LOG(kInfo, log_name, "killing container {} of pod {}/{}: grace period over",
                   rec.name, st->ns, st->name);
          runtime.stop_container(rec.id, true).ignore();
          rec.force_sent = true;
        }
      }
    }
    if (any_running) {
      want(now >= st->kill_deadline ? nanoseconds(std::chrono::seconds(1)) : st->kill_deadline - now);
      return ok_status();
    }
    runtime.remove_pod(uid).ignore();
    client::DeleteOptions d;
    d.grace_period_seconds = 0;
    d.precondition_uid = uid;
    auto r = client->remove(client::resources::kPods, st->ns, st->name, d);
    if (!r.ok() && r.status().code() != Code::kNotFound && r.status().code() != Code::kAborted) {
      return r.status();
    }
    ORCH_VLOG(2, log_name, "pod {}/{} deleted", st->ns, st->name);
    forget();
    return ok_status();
  }

  // Fenced (agent.cpp): the control plane may have replaced the pod; nothing of it starts until
  // the agent confirms it is still ours.
  if (st->fenced) return ok_status();
  if (st->terminal) return ok_status();

  // Pod IP and sandbox.
  if (st->ip.empty()) {
    std::lock_guard lock(mu);
    auto ip = ips.allocate();
    if (!ip.ok()) {
      event(*st, pod, "", "Warning", "FailedCreatePodSandBox", ip.status().message());
      want(std::chrono::seconds(10));
      return ok_status();
    }
    st->ip = *ip;
    st->ip_shadow = *ip;
  }
  if (st->start_time.empty()) st->start_time = now_time();
  std::optional<api::Pod> decoded;
  auto decoded_pod = [&]() -> const api::Pod* {
    if (!decoded) decoded = decode_pod(p);
    return decoded ? &*decoded : nullptr;
  };
  PodSandboxConfig sandbox;
  sandbox.uid = uid;
  sandbox.namespace_ = st->ns;
  sandbox.name = st->name;
  sandbox.pod_ip = st->ip;
  sandbox.node_name = options.node_name;
  if (!st->sandbox_ready) {
    if (const api::Pod* dp = decoded_pod()) sandbox.volumes = dp->spec.volumes;
    // Persistent volumes (local_volumes.hpp): the pod waits, ContainerCreating, until its claims
    // are Bound (the provisioner may still be making the volume).
    std::string unbound;
    auto claims = resolve_claim_volumes(*client, st->ns, sandbox.volumes, options.node_name,
                                        options.data_dir, &unbound);
    if (!claims.ok() || !*claims) {
      if (!claims.ok()) event(*st, pod, "", "Warning", "FailedMount", claims.status().message());
      want(claims.ok() ? nanoseconds(std::chrono::milliseconds(250))
                       : nanoseconds(std::chrono::seconds(2)));
      return ok_status();
    }
    st->claim_volumes = std::move(**claims);
    sandbox.host_volumes = st->claim_volumes;
    Status s = runtime.run_pod(sandbox);
    if (!s.ok()) {
      ORCH_LOG(kWarning, log_name, "cannot create the sandbox of pod {}/{}: {}", st->ns, st->name,
               s.message());
      event(*st, pod, "", "Warning", "FailedCreatePodSandBox",
            "Failed to create pod sandbox: " + s.message());
      return s;
    }
    st->sandbox_ready = true;
  } else if (const api::Pod* dp = decoded_pod()) {
    sandbox.volumes = dp->spec.volumes;
  }
  sandbox.host_volumes = st->claim_volumes;
  refresh();

  const std::string policy = restart_policy(p);
  const std::string log_dir = pod_log_dir(options.data_dir, st->ns, st->name, uid);

  // Starts (or restarts) one container: image, environment, runtime, events, probes.
  auto start_one = [&](ContainerRecord& rec) {
    const json::value* cspec = container_spec(p, rec);
    if (cspec == nullptr) return;
    std::string image = str_at(*cspec, {"image"});
    auto t = clock->now();
    if (rec.pull_failing && t < rec.pull_retry_at) {
      // ErrImagePull stays visible for a moment (until the kubelet's next sync would come).
      auto report_at = rec.pull_failed_at + std::chrono::seconds(1);
      if (t < report_at && !rec.pull_backoff_reported) {
        want(report_at - t);
        return;
      }
      if (!rec.pull_backoff_reported) {
        rec.pull_backoff_reported = true;
        rec.waiting_reason = "ImagePullBackOff";
        rec.waiting_message = fmt::format("Back-off pulling image \"{}\"", image);
        event(*st, pod, rec.name, "Normal", "BackOff", rec.waiting_message);
        event(*st, pod, rec.name, "Warning", "Failed", "Error: ImagePullBackOff");
      }
      want(rec.pull_retry_at - t);
      return;
    }
    auto img = runtime.pull_image(image);
    if (!img.ok()) {
      rec.pull_backoff = rec.pull_backoff == nanoseconds(0)
                             ? nanoseconds(options.backoff_initial)
                             : std::min<nanoseconds>(rec.pull_backoff * 2, options.backoff_max);
      rec.pull_retry_at = t + rec.pull_backoff;
      rec.pull_failed_at = t;
      rec.pull_failing = true;
      rec.pull_backoff_reported = false;
      rec.waiting_reason = "ErrImagePull";
      rec.waiting_message = img.status().message();
      ORCH_LOG(kWarning, log_name, "pulling image \"{}\" for container {} of pod {}/{} failed: {}",
               image, rec.name, st->ns, st->name, rec.waiting_message);
      event(*st, pod, rec.name, "Warning", "Failed",
            fmt::format("Failed to pull image \"{}\": {}", image, img.status().message()));
      event(*st, pod, rec.name, "Warning", "Failed", "Error: ErrImagePull");
      want(std::min<nanoseconds>(std::chrono::seconds(1), rec.pull_backoff));
      return;
    }
    rec.pull_failing = false;
    rec.pull_backoff = nanoseconds(0);
    rec.image_id = img->id;
    event(*st, pod, rec.name, "Normal", "Pulled",
          fmt::format("Container image \"{}\" already present on machine", image));

    EnvContext ctx;
    ctx.pod = &p;
    ctx.pod_ip = st->ip;
    ctx.host_ip = options.node_ip;
    ctx.node_name = options.node_name;
    ctx.client = client.get();
    ctx.node_allocatable = node.allocatable;
    if (services) {
      if (auto in_ns = services->by_index(client::kIndexNamespace, st->ns); in_ns.ok()) {
        ctx.services = std::move(in_ns).value();
      }
      ctx.kubernetes_service = services->get("default", "kubernetes");
    }
    auto env = container_env(ctx, *cspec);
    const api::Pod* dp = decoded_pod();
    const api::Container* c = dp ? find_container(*dp, rec) : nullptr;
    if (!env.ok() || c == nullptr) {
      rec.waiting_reason = "CreateContainerConfigError";
      rec.waiting_message = env.ok() ? "cannot decode the container spec" : env.status().message();
      ORCH_LOG(kWarning, log_name, "container {} of pod {}/{}: {}: {}", rec.name, st->ns,
               st->name, rec.waiting_reason, rec.waiting_message);
      event(*st, pod, rec.name, "Warning", "Failed", "Error: " + rec.waiting_message);
      want(options.backoff_initial);
      return;
    }
    ContainerConfig cfg;
    cfg.container = *c;
    std::map<std::string, std::string> vars(env->begin(), env->end());
    for (auto& a : cfg.container.command) a = expand_vars(a, vars);
    for (auto& a : cfg.container.args) a = expand_vars(a, vars);
    cfg.env = std::move(env).value();
    cfg.init_container = rec.init;
    cfg.restart_count = rec.id.empty() ? rec.restart_count : rec.restart_count + 1;
    std::error_code ec;
    std::filesystem::create_directories(log_dir + "/" + rec.name, ec);
    cfg.log_path = fmt::format("{}/{}/{}.log", log_dir, rec.name, cfg.restart_count);
    // The runtime's half of fencing: it kills the container on the same deadline even when
    // this agent is dead (0 = never; a due-at-once deadline still needs a positive value).
    if (auto deadline = fence_deadline(*pod)) {
      cfg.fence_after = std::max(std::chrono::milliseconds(1),
                                 std::chrono::ceil<std::chrono::milliseconds>(*deadline));
    }
    auto id = runtime.start_container(sandbox, cfg);
    if (!id.ok()) {
      rec.waiting_reason =
          id.status().code() == Code::kInvalidArgument ? "CreateContainerError" : "RunContainerError";
      rec.waiting_message = id.status().message();
      ORCH_LOG(kWarning, log_name, "starting container {} of pod {}/{} failed: {}", rec.name,
               st->ns, st->name, rec.waiting_message);
      event(*st, pod, rec.name, "Warning", "Failed", "Error: " + rec.waiting_message);
      rec.backoff = rec.backoff == nanoseconds(0)
                        ? nanoseconds(options.backoff_initial)
                        : std::min<nanoseconds>(rec.backoff * 2, options.backoff_max);
      rec.backoff_updated = t;
      want(rec.backoff);
      return;
    }
    if (!rec.id.empty()) {
      if (rec.last) runtime.remove_container(rec.last->id).ignore();
      rec.last = rec.info;
    }
    rec.id = *id;
    rec.restart_count = cfg.restart_count;
    rec.waiting_reason.clear();
    rec.waiting_message.clear();
    rec.killing = false;
    rec.force_sent = false;
    auto info = runtime.container_status(rec.id);
    if (info.ok()) {
      rec.info = std::move(info).value();
    } else {
      ContainerInfo ci;
      ci.id = rec.id;
      ci.pod_uid = uid;
      ci.name = rec.name;
      ci.state = ContainerState::kRunning;
      ci.started_at = clock->system_now();
      rec.info = ci;
    }
    ORCH_LOG(kInfo, log_name, "started container {} of pod {}/{} ({}, restart count {})",
             rec.name, st->ns, st->name, rec.id, rec.restart_count);
    event(*st, pod, rec.name, "Normal", "Created", fmt::format("Created container {}", rec.name));
    event(*st, pod, rec.name, "Normal", "Started", fmt::format("Started container {}", rec.name));
    {
      std::lock_guard lock(mu);
      auto& pr = probe_results[uid][rec.name];
      pr = ProbeResults{};
      pr.container_id = rec.id;
    }
    if (!rec.init) {
      ProbeTarget target{uid, rec.name, rec.id, st->ip, c->ports, clock->now()};
      prober.add_container(target, *c);
    }
  };

  // A container that exited and should run again: at once, or after its crash-loop backoff.
  auto restart_with_backoff = [&](ContainerRecord& rec) {
    auto t = clock->now();
    auto finished = rec.info->finished_at == std::chrono::system_clock::time_point{}
                        ? t
                        : t - (clock->system_now() - rec.info->finished_at);
    if (rec.backoff > nanoseconds(0) &&
        finished - rec.backoff_updated > 2 * nanoseconds(options.backoff_max)) {
      rec.backoff = nanoseconds(0);  // it ran long enough: the backoff expired
    }
    if (rec.backoff > nanoseconds(0) && t - finished < rec.backoff) {
      if (rec.waiting_reason != "CrashLoopBackOff") {
        ORCH_LOG(kInfo, log_name, "container {} of pod {}/{} restarts after a back-off of {}",
                 rec.name, st->ns, st->name, api::format_duration(rec.backoff));
        event(*st, pod, rec.name, "Warning", "BackOff",
              fmt::format("Back-off restarting failed container {} in pod {}_{}({})", rec.name,
                          st->name, st->ns, uid));
      }
      rec.waiting_reason = "CrashLoopBackOff";
      rec.waiting_message =
          fmt::format("back-off {} restarting failed container={} pod={}_{}({})",
                      api::format_duration(rec.backoff), rec.name, st->name, st->ns, uid);
      want(finished + rec.backoff - t);
      return;
    }
    rec.backoff = rec.backoff == nanoseconds(0)
                      ? nanoseconds(options.backoff_initial)
                      : std::min<nanoseconds>(rec.backoff * 2, options.backoff_max);
    rec.backoff_updated = t;
    start_one(rec);
  };

  // Liveness / startup failures and kill deadlines of a running container.
  auto check_running = [&](ContainerRecord& rec) {
    ProbeResults pr;
    bool have = false;
    {
      std::lock_guard lock(mu);
      auto pit = probe_results.find(uid);
      if (pit != probe_results.end()) {
        auto cit = pit->second.find(rec.name);
        if (cit != pit->second.end() && cit->second.container_id == rec.id) {
          pr = cit->second;
          have = true;
        }
      }
    }
    if (have && !rec.killing) {
      const char* which = nullptr;
      if (pr.liveness == ProbeResult::kFailure) which = "liveness";
      if (rec.has_startup && pr.startup == ProbeResult::kFailure) which = "startup";
      if (which != nullptr) {
        ORCH_LOG(kInfo, log_name, "killing container {} of pod {}/{}: {} probe failed", rec.name,
                 st->ns, st->name, which);
        event(*st, pod, rec.name, "Normal", "Killing",
              fmt::format("Container {} failed {} probe, will be restarted", rec.name, which));
        std::int64_t grace = pod_grace_seconds(p);
        if (const json::value* cspec = container_spec(p, rec)) {
          const char* probe = std::string_view(which) == "liveness" ? "livenessProbe" : "startupProbe";
          grace = int_at(*cspec, {probe, "terminationGracePeriodSeconds"}, grace);
        }
        prober.remove_container(uid, rec.name);
        runtime.stop_container(rec.id, grace <= 0).ignore();
        rec.killing = true;
        rec.force_sent = grace <= 0;
        rec.kill_deadline = clock->now() + std::chrono::seconds(std::max<std::int64_t>(grace, 0));
      }
    }
    if (rec.killing) {
      auto t = clock->now();
      if (t >= rec.kill_deadline) {
        if (!rec.force_sent) {
          runtime.stop_container(rec.id, true).ignore();
          rec.force_sent = true;
        }
        want(std::chrono::seconds(1));
      } else {
        want(rec.kill_deadline - t);
      }
    }
  };

  // Init containers, in order, each to completion.
  bool init_done = true;
  bool init_failed = false;
  for (auto& rec : st->init_containers) {
    if (is_exited(rec) && rec.info->exit_code == 0) continue;
    init_done = false;
    if (rec.id.empty()) {
      start_one(rec);
    } else if (is_running(rec)) {
      check_running(rec);
    } else if (is_exited(rec)) {
      if (policy == "Never") {
        init_failed = true;
      } else {
        restart_with_backoff(rec);
      }
    }
    break;
  }
  // Then the app containers.
  if (init_done && !init_failed) {
    for (auto& rec : st->containers) {
      if (rec.id.empty()) {
        start_one(rec);
      } else if (is_running(rec)) {
        check_running(rec);
      } else if (is_exited(rec)) {
        if (should_restart(policy, rec.info->exit_code)) {
          restart_with_backoff(rec);
        } else {
          rec.waiting_reason.clear();
          prober.remove_container(uid, rec.name);
        }
      }
    }
  }

  // Phase (the kubelet's getPhase).
  std::string phase;
  if (init_failed) {
    phase = "Failed";
  } else if (!init_done) {
    phase = "Pending";
  } else {
    int running = 0, waiting = 0, stopped = 0, succeeded = 0;
    for (const auto& rec : st->containers) {
      if (rec.id.empty()) {
        if (rec.last) {
          ++stopped;
        } else {
          ++waiting;
        }
      } else if (is_running(rec)) {
        ++running;
      } else if (should_restart(policy, rec.info->exit_code)) {
        ++stopped;  // waiting to restart, with a last termination
      } else {
        ++stopped;
        if (rec.info->exit_code == 0) ++succeeded;
      }
    }
    if (waiting > 0) {
      phase = "Pending";
    } else if (running > 0) {
      phase = "Running";
    } else if (stopped > 0) {
      if (policy == "Always") {
        phase = "Running";
      } else if (stopped == succeeded) {
        phase = "Succeeded";
      } else if (policy == "Never") {
        phase = "Failed";
      } else {
        phase = "Running";
      }
    } else {
      phase = "Pending";
    }
  }
  if (phase == "Succeeded" || phase == "Failed") {
    ORCH_LOG(kInfo, log_name, "pod {}/{} {}", st->ns, st->name, phase);
    st->terminal = true;
    st->terminal_phase = phase;
    prober.remove_pod(uid);
    requeue.reset();
  }

  // Status.
  std::map<std::string, ProbeResults> results;
  {
    std::lock_guard lock(mu);
    auto pit = probe_results.find(uid);
    if (pit != probe_results.end()) results = pit->second;
  }
  auto container_status = [&](const ContainerRecord& rec, bool app_waiting_for_init) {
    json::object cs;
    cs["name"] = rec.name;
    const json::value* cspec = container_spec(p, rec);
    cs["image"] = cspec ? str_at(*cspec, {"image"}) : std::string();
    cs["imageID"] = rec.image_id;
    if (!rec.id.empty()) cs["containerID"] = rec.id;
    bool running = is_running(rec);
    bool started = false, ready = false;
    if (running) {
      auto it = results.find(rec.name);
      bool have = it != results.end() && it->second.container_id == rec.id;
      started = !rec.has_startup || (have && it->second.startup == ProbeResult::kSuccess);
      ready = started && !rec.killing &&
              (!rec.has_readiness || (have && it->second.readiness == ProbeResult::kSuccess));
      if (rec.init) ready = false;
    }
    if (rec.init && is_exited(rec) && rec.info->exit_code == 0) ready = true;
    cs["ready"] = ready;
    cs["started"] = started;
    cs["restartCount"] = rec.restart_count;
    json::object state, last;
    if (rec.id.empty()) {
      json::object w;
      std::string reason = rec.waiting_reason;
      if (reason.empty()) reason = app_waiting_for_init ? "PodInitializing" : "ContainerCreating";
      w["reason"] = reason;
      if (!rec.waiting_message.empty()) w["message"] = rec.waiting_message;
      state["waiting"] = std::move(w);
      if (rec.last) last["terminated"] = terminated_json(*rec.last);
    } else if (running) {
      json::object r;
      r["startedAt"] = time_string(rec.info->started_at);
      state["running"] = std::move(r);
      if (rec.last) last["terminated"] = terminated_json(*rec.last);
    } else if (!rec.waiting_reason.empty()) {
      json::object w;
      w["reason"] = rec.waiting_reason;
      if (!rec.waiting_message.empty()) w["message"] = rec.waiting_message;
      state["waiting"] = std::move(w);
      last["terminated"] = terminated_json(*rec.info);
    } else {
      state["terminated"] = terminated_json(*rec.info);
      if (rec.last) last["terminated"] = terminated_json(*rec.last);
    }
    cs["state"] = std::move(state);
    cs["lastState"] = std::move(last);
    return cs;
  };

  json::object status;
  status["phase"] = phase;
  status["hostIP"] = options.node_ip;
  status["hostIPs"] = json::array{json::object{{"ip", options.node_ip}}};
  status["podIP"] = st->ip;
  status["podIPs"] = json::array{json::object{{"ip", st->ip}}};
  status["startTime"] = st->start_time;
  json::array init_statuses, statuses_json;
  for (const auto& rec : st->init_containers) init_statuses.push_back(container_status(rec, false));
  for (const auto& rec : st->containers) {
    statuses_json.push_back(container_status(rec, !init_done));
  }
  std::vector<std::string> unready, incomplete;
  for (std::size_t i = 0; i < statuses_json.size(); ++i) {
    if (!statuses_json[i].as_object()["ready"].as_bool()) unready.push_back(st->containers[i].name);
  }
  for (const auto& rec : st->init_containers) {
    if (!(is_exited(rec) && rec.info->exit_code == 0)) incomplete.push_back(rec.name);
  }
  if (!st->init_containers.empty()) status["initContainerStatuses"] = std::move(init_statuses);
  status["containerStatuses"] = std::move(statuses_json);

  std::string now_s = now_time();
  auto transition = [&](std::string_view type, std::string_view value) {
    const json::value* prev = st->last_status.if_contains("conditions");
    if (prev != nullptr && prev->is_array()) {
      for (const auto& c : prev->as_array()) {
        if (str_at(c, {"type"}) == type && str_at(c, {"status"}) == value) {
          std::string t = str_at(c, {"lastTransitionTime"});
          if (!t.empty()) return t;
        }
      }
    }
    return now_s;
  };
  auto condition = [&](std::string_view type, bool value, std::string reason, std::string message) {
    std::string v = value ? "True" : "False";
    json::object c;
    c["type"] = type;
    c["status"] = v;
    c["lastProbeTime"] = nullptr;
    c["lastTransitionTime"] = transition(type, v);
    if (!reason.empty()) c["reason"] = reason;
    if (!message.empty()) c["message"] = message;
    return c;
  };
  auto names = [](const std::vector<std::string>& v) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + v[i];
    return out + "]";
  };
  json::array conds;
  bool initialized = incomplete.empty();
  conds.push_back(condition("Initialized", initialized,
                            initialized ? "" : "ContainersNotInitialized",
                            initialized ? "" : "containers with incomplete status: " + names(incomplete)));
  bool all_ready = unready.empty() && !st->containers.empty();
  std::string nr_reason, nr_message;
  if (!all_ready) {
    if (phase == "Succeeded") {
      nr_reason = "PodCompleted";
    } else {
      nr_reason = "ContainersNotReady";
      nr_message = "containers with unready status: " + names(unready);
    }
  }
  conds.push_back(condition("Ready", all_ready, nr_reason, nr_message));
  conds.push_back(condition("ContainersReady", all_ready, nr_reason, nr_message));
  conds.push_back(condition("PodScheduled", true, "", ""));
  status["conditions"] = std::move(conds);

  st->last_status = status;
  set_status(uid, st->ns, st->name, std::move(status));
  return ok_status();
}

void Agent::Impl::kill_all(std::chrono::milliseconds grace) {
  std::vector<ContainerInfo> all = runtime.list_containers();
  std::set<std::string> pods_seen;
  for (const auto& c : all) {
    pods_seen.insert(c.pod_uid);
    if (c.state == ContainerState::kRunning || c.state == ContainerState::kCreated) {
      runtime.stop_container(c.id, false).ignore();
    }
  }
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    bool running = false;
    for (const auto& c : runtime.list_containers()) {
      if (c.state == ContainerState::kRunning || c.state == ContainerState::kCreated) running = true;
    }
    if (!running) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (const auto& c : runtime.list_containers()) {
    pods_seen.insert(c.pod_uid);
    if (c.state == ContainerState::kRunning || c.state == ContainerState::kCreated) {
      runtime.stop_container(c.id, true).ignore();
    }
  }
  {
    std::lock_guard lock(mu);
    for (const auto& [uid, st] : pods_by_uid) pods_seen.insert(uid);
  }
  for (const auto& uid : pods_seen) runtime.remove_pod(uid).ignore();
}

}  // namespace orch::agent
