// ProcessRuntime: the agent's Runtime that runs each container as a local process group started
// from an image of the node's catalog (image_catalog.hpp). No root, no Docker.
//
// How a container runs:
// - Each start forks a small supervisor ("shim", a forked copy of the caller that only makes
//   system calls, in its own session). The shim forks the container process (its own session and
//   process group, its own working directory), pumps its stdout/stderr into
//   ContainerConfig::log_path in the CRI format (`<RFC 3339 nano> stdout|stderr F|P <text>`),
//   rotating at `log_max_bytes` into `<log_path>.1`, and when the container exits kills what is
//   left of its process group and records the exit status in the container's directory. So a
//   container outlives an agent restart with its logs intact, and its exit status is never lost.
// - Volumes (emptyDir: `<root>/pods/<uid>/volumes/<name>`; hostPath; the agent's host_volumes)
//   are bind-mounted at their mountPath in a private mount namespace (directly as root, else in an
//   unprivileged user namespace) when the kernel allows it and the mountPath exists on the host.
//   Every volume's host directory is also in the environment as ORCH_VOLUME_<NAME> (upper case,
//   other characters `_`). When a mount was not possible, ContainerInfo::message says so while the
//   container runs (the agent turns it into an Event).
// - Limits: cgroup v2 (memory.max, cpu.max) under a cgroup the agent may create children in;
//   otherwise RLIMIT_DATA for memory and no CPU limit (a log line at creation says which).
//   OOMKilled when the container cgroup's memory.events counts an oom_kill.
// - State lives under `root_dir`: `pods/<uid>/pod.json`, `pods/<uid>/containers/<id>/
//   {container.json,exit}`; a new ProcessRuntime on the same root adopts running containers
//   (pid + start time from /proc defeat pid reuse) and reports ones that exited meanwhile.
//   Containers that exited while no runtime watched are reported by list_containers(), not via
//   the exit callback.
// - Dead-man switch: heartbeat() touches `<root_dir>/heartbeat`. A container started with
//   ContainerConfig::fence_after > 0 is SIGKILLed (process group) by its shim once that file's
//   mtime is older than fence_after (checked at least once a second, and at the deadline), and its
//   exit is recorded with reason "Fenced". The shim compares the file's mtime with the real clock
//   (CLOCK_REALTIME): it is a separate process, out of reach of the agent's injectable clock. A
//   missing file counts as a heartbeat at the container's start. So pods of an agent that died
//   (SIGKILL) stop on the agent's own fence deadline; an agent restarted in time adopts them.
// - Destroying the ProcessRuntime leaves containers running (for the next agent to adopt);
//   remove_pod() kills and cleans up.
//
// Container ids: "process://<32 hex>". Exit codes: the process's status, or 128+signal.
// Reasons: "Completed", "Error", "OOMKilled", "Fenced".
//
// Codes beyond Runtime's contract: start_container() is InvalidArgument when the program is not
// found ("exec: \"x\": executable file not found in $PATH") or the process could not start (a
// failed chdir or mount; the message says which), NotFound for an unknown image. exec() is
// Unavailable for a container that is not running and InvalidArgument for a missing program.
// remove_container() is InvalidArgument for a running container. run_pod() is InvalidArgument
// when a hostPath of type Directory/File does not exist. remove_pod() also deletes the log files
// of the pod's containers (and their directories when left empty); it waits (up to 20 s) for
// the shims to record the exits, so call it off latency-sensitive threads.
//
// Thread-safety: every method may be called from any thread; the exit callback runs on the
// runtime's reaper thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "orch/agent/image_catalog.hpp"
#include "orch/agent/runtime.hpp"

namespace orch::agent {

struct ProcessRuntimeOptions {
  // Where pods' directories and records live (created when missing). Required.
  std::string root_dir;
  // Where imported images are recorded. Default: <root_dir>/images.
  std::string catalog_dir;
  // The kuard binary for the built-in kuard image. Default: find_kuard_binary().
  std::string kuard_path;
  // Size at which a container's log file rotates (one rotated file, `<log_path>.1`, is kept).
  // Default: 10 MiB.
  std::uint64_t log_max_bytes = 10 * 1024 * 1024;
  // Bind-mount volumes in a private mount namespace where the kernel allows it. Default: true.
  bool use_namespaces = true;
  // Enforce limits with cgroup v2 where possible. Default: true.
  bool use_cgroups = true;
  // A cgroup v2 directory the runtime may create children in. Default: "" (its own cgroup).
  std::string cgroup_parent;
  // With cgroup_parent "", move this process into a leaf `<own cgroup>/orch-agent` when that is
  // what enabling controllers for children needs (cgroup v2's "no internal processes" rule, as
  // in a systemd unit with Delegate=yes). For the agent executable, not for embedders.
  // Default: false.
  bool cgroup_move_self = false;
  // Component of its log lines (orch/util/log.hpp): the agent's, "agent/<node name>", routes
  // them to the node's orch-agent mirror pod. Default: "agent".
  std::string log_component = "agent";
};

// How volumes are made visible, decided once at creation.
enum class VolumeMode : std::uint8_t {
  kEnvironment,     // no mount namespace: only ORCH_VOLUME_<NAME>
  kMountNamespace,  // private mount namespace (root)
  kUserNamespace,   // unprivileged user + mount namespace
};
// How limits are enforced, decided once at creation.
enum class LimitMode : std::uint8_t { kRlimit, kCgroupV2 };

class ProcessRuntime : public Runtime {
 public:
  // Creates the root directory, opens the catalog, detects namespace and cgroup support, adopts
  // the containers recorded under root_dir and starts the reaper thread. InvalidArgument for an
  // empty root_dir; Internal when a directory cannot be created.
  static Result<std::unique_ptr<ProcessRuntime>> create(ProcessRuntimeOptions options);

  // `orchctl images import`: see ImageCatalog::import_image.
  virtual Status import_image(std::string_view name, const std::string& dir) = 0;
  virtual const ImageCatalog& catalog() const = 0;

  virtual VolumeMode volume_mode() const = 0;
  virtual LimitMode limit_mode() const = 0;
  // The directory of a pod's emptyDir volume (whether or not run_pod() was called).
  virtual std::string empty_dir_path(std::string_view pod_uid, std::string_view volume) const = 0;
  // The recorded pids of a container: {shim, container}; {0, 0} for an unknown id. For tests
  // that assert no process is left behind.
  virtual std::pair<int, int> pids_for_test(std::string_view container_id) const = 0;
};

}  // namespace orch::agent
