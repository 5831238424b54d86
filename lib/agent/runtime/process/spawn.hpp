// The code that runs between fork() and exec(): the container supervisor ("shim") and the child of
// an exec. It runs in a forked copy of a multithreaded process, so it only makes system calls:
// no allocation, no locks, no C++ library beyond memcpy-like functions. Everything it needs is
// prepared by the parent in the request structs below.
//
// Thread-safety: the functions never return; each runs in its own forked process.
#pragma once

#include <cstdint>

namespace orch::agent::process {

// Messages on the report pipe (parent reads until EOF; EOF after a kPid means exec succeeded).
enum ReportType : std::int32_t { kReportPid = 1, kReportError = 2 };
// Where a start failed (kReportError's `stage`).
enum Stage : std::int32_t {
  kStageShim = 1,
  kStageCgroup,
  kStageNamespace,
  kStageMount,
  kStageChdir,
  kStageExec,
};
struct Report {
  std::int32_t type = 0;
  std::int32_t value = 0;  // pid or errno
  std::int32_t stage = 0;
};
const char* stage_name(std::int32_t stage);

struct BindMount {
  const char* source;
  const char* target;
  bool read_only;
};

struct ShimRequest {
  const char* path;  // absolute program
  char* const* argv;
  char* const* envp;
  const char* cwd;
  const char* log_path;
  const char* log_path_rotated;
  std::uint64_t log_max_bytes;
  const char* status_path;      // "<container dir>/exit"
  const char* status_tmp_path;  // "<container dir>/exit.tmp"
  const char* cgroup_dir;       // "" for none
  const char* cgroup_procs;     // "<cgroup_dir>/cgroup.procs"
  const char* cgroup_events;    // "<cgroup_dir>/memory.events"
  int ns_flags;                 // CLONE_NEW* for unshare(), 0 for none
  const char* uid_map;          // for CLONE_NEWUSER: "<uid> <uid> 1"
  const char* gid_map;
  const char* hostname;  // for CLONE_NEWUTS
  const BindMount* mounts;
  int mount_count;
  std::int64_t rlimit_data;  // bytes, < 0 for none
  // Dead-man switch: when fence_after_ms > 0, the shim SIGKILLs the container's process group
  // once `heartbeat_path`'s mtime (CLOCK_REALTIME; the shim's own start time while the file is
  // missing) is older than fence_after_ms, and records the exit as fenced.
  const char* heartbeat_path;
  std::int64_t fence_after_ms;
  int report_fd;             // write end of the report pipe
};

// Runs the shim: own session, forks and supervises the container, pumps its logs, writes the
// exit status file ("<code> <signal> <oom 0|1> <finished unix ns> <fenced 0|1>\n"), exits.
[[noreturn]] void run_shim(const ShimRequest& req);

struct ExecRequest {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* cwd;
  const char* cgroup_procs;  // "" for none
  int ns_fds[3];             // user, mnt, uts namespace fds to setns() into; -1 to skip
  int out_fd;                // write end: becomes stdout and stderr
  int report_fd;             // write end of the report pipe
};

// The exec child: own session, joins the container's namespaces/cgroup, execs.
[[noreturn]] void run_exec_child(const ExecRequest& req);

// Probes whether this process may create a private mount namespace (with a user namespace when
// `user_ns`) and bind-mount `source` onto `target` in it. Runs in a forked child.
[[noreturn]] void run_mount_probe(bool user_ns, const char* uid_map, const char* gid_map,
                                  const char* source, const char* target);

}  // namespace orch::agent::process
