// Runtime: how an agent runs a pod's containers (the role of the CRI in Kubernetes). The agent
// decides what should run (restart policy, backoff, probes, deletion); a Runtime only does it.
//
// Implementations: the process runtime (lib/agent/runtime/process/: each container a process
// group started from an image of the node's local catalog) and test doubles. The simulated nodes
// (simulated_nodes.hpp) do not use a Runtime at all.
//
// Contract:
// - A pod sandbox is the pod's shared environment: its IP, working directory, volumes (emptyDir,
//   hostPath). run_pod() is idempotent; remove_pod() removes whatever the pod left behind after
//   its containers were stopped.
// - Containers are identified by a runtime-chosen id that stays valid across an agent restart
//   (the process runtime records what it started under the pod directory), so a restarted agent
//   finds them with list_containers() and adopts them.
// - stop_container() is asynchronous: it sends the graceful signal and returns; the agent sends
//   kill after the grace period. A container's exit is reported through the exit callback and
//   visible in container_status().
// - stdout/stderr go to `ContainerConfig::log_path` (one file per container start, in the CRI
//   log format, see container_log.hpp), so logs of the previous start stay readable.
//
// Thread-safety: every method may be called from any thread. The exit callback runs on a runtime
// thread; it must not block.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orch/api/types/core.hpp"
#include "orch/status.hpp"

namespace orch::agent {

// What a pod's containers share.
struct PodSandboxConfig {
  std::string uid;
  std::string namespace_;
  std::string name;
  std::string pod_ip;  // in 127.0.0.0/8
  std::string node_name;
  // The pod's volumes (emptyDir and hostPath are the runtime's; others are resolved by the agent
  // into `host_volumes`).
  std::vector<api::Volume> volumes;
  // Volume name -> host directory the agent prepared (persistent volumes, configMaps, ...).
  std::map<std::string, std::string> host_volumes;
};

// One start of one container.
struct ContainerConfig {
  api::Container container;  // image, command, args, env (already resolved), volumeMounts, ...
  // Final environment: the container's env with valueFrom resolved, plus POD_IP, POD_NAME,
  // POD_NAMESPACE, NODE_NAME and the service variables.
  std::vector<std::pair<std::string, std::string>> env;
  std::uint32_t restart_count = 0;
  bool init_container = false;
  // Where stdout and stderr go (CRI log format).
  std::string log_path;
  // Dead-man switch: the runtime kills the container (reason "Fenced") once the agent has not
  // called Runtime::heartbeat() for this long, even when the agent itself is gone, so a pod the
  // control plane replaces elsewhere never runs beside its replacement. The agent passes its own
  // fence deadline for the pod (AgentOptions fencing). Zero: never. Default: 0.
  std::chrono::milliseconds fence_after{0};
};

enum class ContainerState : std::uint8_t { kCreated, kRunning, kExited, kUnknown };

struct ContainerInfo {
  std::string id;  // runtime-unique, e.g. "process://4711"
  std::string pod_uid;
  std::string name;
  std::uint32_t restart_count = 0;
  ContainerState state = ContainerState::kUnknown;
  std::string image;     // as the pod spec names it
  std::string image_id;  // resolved, e.g. "orch://kuard@sha256:..." 
  std::int32_t exit_code = 0;
  // For kExited: "Completed" (exit 0), "Error", "OOMKilled", "Fenced" (killed by the dead-man
  // switch, ContainerConfig::fence_after); "" otherwise.
  std::string reason;
  std::string message;
  std::chrono::system_clock::time_point started_at{};
  std::chrono::system_clock::time_point finished_at{};
};

struct ImageInfo {
  std::string name;  // as asked for
  std::string id;    // stable id of the resolved image
};

struct ExecResult {
  std::int32_t exit_code = 0;
  std::string output;  // stdout and stderr, truncated to a few KiB
};

class Runtime {
 public:
  virtual ~Runtime() = default;

  // Called with (pod uid, container id) whenever a container exits. Set once, before use.
  virtual void set_exit_callback(std::function<void(const std::string& pod_uid,
                                                    const std::string& container_id)> fn) = 0;

  // Finds `image` in the node's catalog. NotFound (with a message saying so) -> ErrImagePull.
  virtual Result<ImageInfo> pull_image(std::string_view image) = 0;

  // Prepares the sandbox (directories, emptyDir/hostPath volumes). Idempotent.
  virtual Status run_pod(const PodSandboxConfig& pod) = 0;
  // Removes the sandbox's directories and anything still running in it (SIGKILL).
  virtual Status remove_pod(std::string_view pod_uid) = 0;

  // Starts a container in the sandbox (run_pod first). Returns its id. InvalidArgument for a
  // command that cannot be started; NotFound for an image not in the catalog.
  virtual Result<std::string> start_container(const PodSandboxConfig& pod,
                                              const ContainerConfig& config) = 0;
  // Sends the graceful stop signal (SIGTERM) to the container's process group, or SIGKILL when
  // `force`. Returns at once. NotFound for an unknown id; OK for one that already exited.
  virtual Status stop_container(std::string_view container_id, bool force) = 0;
  // Forgets an exited container (its log file stays until the pod is removed).
  virtual Status remove_container(std::string_view container_id) = 0;

  // The container's current state. NotFound for an unknown id.
  virtual Result<ContainerInfo> container_status(std::string_view container_id) = 0;
  // Every container the runtime knows (of one pod when `pod_uid` is set), including ones started
  // before an agent restart.
  virtual std::vector<ContainerInfo> list_containers(std::string_view pod_uid = {}) = 0;

  // The agent is alive and in touch with the control plane (it renewed its Lease just now):
  // restarts the ContainerConfig::fence_after countdown of every container. Cheap (one file
  // timestamp for the process runtime); a runtime without a dead-man switch ignores it.
  virtual void heartbeat() {}

  // Runs `command` inside the container's environment (exec probes, preStop hooks), killing it
  // after `timeout`. DeadlineExceeded on timeout.
  virtual Result<ExecResult> exec(std::string_view container_id,
                                  const std::vector<std::string>& command,
                                  std::chrono::milliseconds timeout) = 0;
};

}  // namespace orch::agent
