// Between fork() and exec(): system calls only (see spawn.hpp).
#include "spawn.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace orch::agent::process {
namespace {

constexpr std::size_t kMaxLine = 16 * 1024;  // longer lines become P (partial) records

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void report(int fd, std::int32_t type, std::int32_t value, std::int32_t stage) {
  Report r;
  r.type = type;
  r.value = value;
  r.stage = stage;
  write_all(fd, reinterpret_cast<const char*>(&r), sizeof r);
}

[[noreturn]] void fail(int report_fd, std::int32_t stage) {
  report(report_fd, kReportError, errno, stage);
  ::_exit(127);
}

void reset_signals() {
  sigset_t all;
  sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::sigaction(sig, &dfl, nullptr);
  }
}

// Moves `fds[0..count)` to 3, 4, ... (close-on-exec) and closes every other descriptor >= 3;
// points 0 (and 1, 2 when `null_stdio`) at /dev/null. Returns false on failure.
bool arrange_fds(int* fds, int count, bool null_stdio) {
  int tmp[8];
  for (int i = 0; i < count; ++i) {
    tmp[i] = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 100);
    if (tmp[i] < 0) return false;
  }
  for (int i = 0; i < count; ++i) {
    if (::dup3(tmp[i], 3 + i, O_CLOEXEC) < 0) return false;
    fds[i] = 3 + i;
  }
  ::syscall(SYS_close_range, 3 + count, ~0U, 0);
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) return false;
  ::dup2(null_fd, 0);
  if (null_stdio) {
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
  }
  if (null_fd > 2) ::close(null_fd);
  return true;
}

bool write_file(const char* path, const char* text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = ::write(fd, text, std::strlen(text));
  ::close(fd);
  return n == static_cast<ssize_t>(std::strlen(text));
}

// Appends the decimal form of `v` at `out`; returns the new end.
char* put_uint(char* out, std::uint64_t v, int min_digits = 1) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  while (n < min_digits) digits[n++] = '0';
  while (n > 0) *out++ = digits[--n];
  return out;
}

char* put_str(char* out, const char* s) {
  while (*s != '\0') *out++ = *s++;
  return out;
}

// "2024-01-01T00:00:00.123456789Z" (30 characters) without gmtime (not async-signal-safe).
char* put_timestamp(char* out) {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  std::int64_t secs = ts.tv_sec;
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  // Howard Hinnant's civil_from_days.
  std::int64_t z = days + 719468;
  std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  std::int64_t doe = z - era * 146097;
  std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = yoe + era * 400;
  std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  std::int64_t mp = (5 * doy + 2) / 153;
  std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  out = put_uint(out, static_cast<std::uint64_t>(y), 4);
  *out++ = '-';
  out = put_uint(out, static_cast<std::uint64_t>(m), 2);
  *out++ = '-';
  out = put_uint(out, static_cast<std::uint64_t>(d), 2);
  *out++ = 'T';
  out = put_uint(out, static_cast<std::uint64_t>(rem / 3600), 2);
  *out++ = ':';
  out = put_uint(out, static_cast<std::uint64_t>(rem % 3600 / 60), 2);
  *out++ = ':';
  out = put_uint(out, static_cast<std::uint64_t>(rem % 60), 2);
  *out++ = '.';
  out = put_uint(out, static_cast<std::uint64_t>(ts.tv_nsec), 9);
  *out++ = 'Z';
  return out;
}

struct Log {
  const ShimRequest* req;
  int fd = -1;
  std::uint64_t size = 0;

  void open(bool truncate) {
    fd = ::open(req->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0),
                0644);
    struct stat st {};
    size = (fd >= 0 && ::fstat(fd, &st) == 0) ? static_cast<std::uint64_t>(st.st_size) : 0;
  }

  void emit(const char* stream, char tag, const char* data, std::size_t n) {
    if (fd < 0) return;
    char head[64];
    char* p = put_timestamp(head);
    *p++ = ' ';
    p = put_str(p, stream);
    *p++ = ' ';
    *p++ = tag;
    *p++ = ' ';
    char nl = '\n';
    iovec iov[3] = {
        {head, static_cast<std::size_t>(p - head)}, {const_cast<char*>(data), n}, {&nl, 1}};
    ssize_t w = ::writev(fd, iov, 3);
    if (w > 0) size += static_cast<std::uint64_t>(w);
    if (req->log_max_bytes > 0 && size >= req->log_max_bytes) {
      ::close(fd);
      ::rename(req->log_path, req->log_path_rotated);
      open(true);
    }
  }
};

struct Stream {
  int fd = -1;
  const char* name = "";
  char line[kMaxLine];
  std::size_t len = 0;

  void feed(Log& log, const char* p, std::size_t n) {
    while (n > 0) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', n));
      std::size_t take = nl != nullptr ? static_cast<std::size_t>(nl - p) : n;
      std::size_t room = kMaxLine - len;
      if (take > room) {
        std::memcpy(line + len, p, room);
        log.emit(name, 'P', line, kMaxLine);
        len = 0;
        p += room;
        n -= room;
        continue;
      }
      std::memcpy(line + len, p, take);
      len += take;
      p += take;
      n -= take;
      if (nl != nullptr) {
        log.emit(name, 'F', line, len);
        len = 0;
        ++p;
        --n;
      }
    }
  }
  void finish(Log& log) {
    if (len > 0) log.emit(name, 'F', line, len);
    len = 0;
  }
};

std::int64_t monotonic_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::int64_t realtime_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// The dead-man switch's countdown: how many ms are left before the container is fenced (<= 0:
// now). The heartbeat is the file's mtime, in real time (the agent's injectable clock does not
// reach a separate process); a missing file counts as a heartbeat at `started_ms`.
std::int64_t fence_remaining_ms(const ShimRequest& r, std::int64_t started_ms) {
  std::int64_t last = started_ms;
  struct stat st {};
  if (::stat(r.heartbeat_path, &st) == 0) {
    last = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
  }
  return last + r.fence_after_ms - realtime_ms();
}

bool oom_killed(const char* events_path) {
  if (events_path == nullptr || events_path[0] == '\0') return false;
  int fd = ::open(events_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* key = "oom_kill ";
  for (const char* p = buf; (p = std::strstr(p, key)) != nullptr; p += std::strlen(key)) {
    if (p != buf && p[-1] != '\n') continue;
    const char* v = p + std::strlen(key);
    return *v >= '1' && *v <= '9';
  }
  return false;
}

[[noreturn]] void run_container(const ShimRequest& r, int out_w, int err_w) {
  ::setsid();
  if (r.cgroup_procs[0] != '\0' && !write_file(r.cgroup_procs, "0")) fail(3, kStageCgroup);
  if (r.ns_flags != 0) {
    if (::unshare(r.ns_flags) != 0) fail(3, kStageNamespace);
    if ((r.ns_flags & CLONE_NEWUSER) != 0) {
      write_file("/proc/self/setgroups", "deny");
      if (!write_file("/proc/self/uid_map", r.uid_map) ||
          !write_file("/proc/self/gid_map", r.gid_map)) {
        fail(3, kStageNamespace);
      }
    }
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail(3, kStageMount);
    for (int i = 0; i < r.mount_count; ++i) {
      const BindMount& m = r.mounts[i];
      if (::mount(m.source, m.target, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        fail(3, kStageMount);
      }
      if (m.read_only) {
        // Best effort: a user namespace may refuse to change locked flags.
        ::mount(nullptr, m.target, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr);
      }
    }
    if ((r.ns_flags & CLONE_NEWUTS) != 0) ::sethostname(r.hostname, std::strlen(r.hostname));
  }
  if (r.rlimit_data >= 0) {
    rlimit lim{static_cast<rlim_t>(r.rlimit_data), static_cast<rlim_t>(r.rlimit_data)};
    ::setrlimit(RLIMIT_DATA, &lim);
  }
  if (::chdir(r.cwd) != 0) fail(3, kStageChdir);
  ::dup2(out_w, 1);
  ::dup2(err_w, 2);
  ::execve(r.path, r.argv, r.envp);
  fail(3, kStageExec);
}

}  // namespace

const char* stage_name(std::int32_t stage) {
  switch (stage) {
    case kStageShim:
      return "start the supervisor";
    case kStageCgroup:
      return "join the container's cgroup";
    case kStageNamespace:
      return "create the mount namespace";
    case kStageMount:
      return "mount a volume";
    case kStageChdir:
      return "enter the working directory";
    case kStageExec:
      return "exec";
    default:
      return "start";
  }
}

void run_shim(const ShimRequest& r) {
  ::setsid();
  reset_signals();
  int fds[1] = {r.report_fd};
  if (!arrange_fds(fds, 1, true)) ::_exit(126);
  // Now: 0-2 /dev/null, 3 the report pipe, nothing else.
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) fail(3, kStageShim);
  Log log;
  log.req = &r;
  log.open(false);
  pid_t child = ::fork();
  if (child < 0) fail(3, kStageShim);
  if (child == 0) run_container(r, out[1], err[1]);
  ::close(out[1]);
  ::close(err[1]);
  ::signal(SIGPIPE, SIG_IGN);
  report(3, kReportPid, child, 0);
  ::close(3);
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));

  Stream streams[2];
  streams[0].fd = out[0];
  streams[0].name = "stdout";
  streams[1].fd = err[0];
  streams[1].name = "stderr";
  bool open_streams[2] = {true, true};
  int status = 0;
  bool exited = false;
  std::int64_t drain_deadline = 0;
  const bool fencing =
      r.fence_after_ms > 0 && r.heartbeat_path != nullptr && r.heartbeat_path[0] != '\0';
  const std::int64_t started_ms = realtime_ms();
  bool fenced = false;
  char buf[32 * 1024];
  while (open_streams[0] || open_streams[1] || !exited) {
    // Checked at most once a second, and exactly at the deadline the last heartbeat gives.
    int fence_timeout = -1;
    if (fencing && !exited && !fenced) {
      std::int64_t left = fence_remaining_ms(r, started_ms);
      if (left <= 0) {
        // The agent is gone (or cut off) for too long: the control plane may start this pod
        // elsewhere now. Kill it as the agent's own fence would; the exit below records why.
        fenced = true;
        ::kill(-child, SIGKILL);
      } else {
        fence_timeout = static_cast<int>(std::min<std::int64_t>(left + 1, 1000));
      }
    }
    if (!exited) {
      int w = ::waitpid(child, &status, WNOHANG);
      if (w == child || (w < 0 && errno == ECHILD)) {
        exited = true;
        // Like a container's PID namespace: when its main process ends, the rest goes too.
        ::kill(-child, SIGKILL);
        drain_deadline = monotonic_ms() + 2000;
      }
    }
    if (exited && !(open_streams[0] || open_streams[1])) break;
    pollfd p[3];
    int n = 0;
    int index[2] = {-1, -1};
    for (int i = 0; i < 2; ++i) {
      if (open_streams[i]) {
        index[i] = n;
        p[n++] = {streams[i].fd, POLLIN, 0};
      }
    }
    int pid_index = -1;
    if (!exited && pidfd >= 0) {
      pid_index = n;
      p[n++] = {pidfd, POLLIN, 0};
    }
    int timeout = -1;
    if (exited) {
      timeout = static_cast<int>(drain_deadline - monotonic_ms());
      if (timeout <= 0) break;
    } else if (pidfd < 0) {
      timeout = 100;
    }
    if (fence_timeout >= 0 && (timeout < 0 || fence_timeout < timeout)) timeout = fence_timeout;
    int ready = ::poll(p, static_cast<nfds_t>(n), timeout);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (index[i] < 0 || p[index[i]].revents == 0) continue;
      ssize_t got = ::read(streams[i].fd, buf, sizeof buf);
      if (got > 0) {
        streams[i].feed(log, buf, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        open_streams[i] = false;
        streams[i].finish(log);
      }
    }
    (void)pid_index;
  }
  streams[0].finish(log);
  streams[1].finish(log);
  if (log.fd >= 0) ::close(log.fd);

  int code = 137;
  int sig = 0;
  if (WIFEXITED(status)) {
    code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    sig = WTERMSIG(status);
    code = 128 + sig;
  }
  bool oom = oom_killed(r.cgroup_events);
  if (r.cgroup_dir[0] != '\0') ::rmdir(r.cgroup_dir);

  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  char text[128];
  char* p = put_uint(text, static_cast<std::uint64_t>(code));
  *p++ = ' ';
  p = put_uint(p, static_cast<std::uint64_t>(sig));
  *p++ = ' ';
  *p++ = oom ? '1' : '0';
  *p++ = ' ';
  p = put_uint(p, static_cast<std::uint64_t>(now.tv_sec) * 1000000000ULL +
                      static_cast<std::uint64_t>(now.tv_nsec));
  *p++ = ' ';
  *p++ = fenced ? '1' : '0';
  *p++ = '\n';
  int fd = ::open(r.status_tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    write_all(fd, text, static_cast<std::size_t>(p - text));
    ::close(fd);
    ::rename(r.status_tmp_path, r.status_path);
  }
  ::_exit(0);
}

void run_exec_child(const ExecRequest& r) {
  ::setsid();
  reset_signals();
  int fds[5];
  int count = 0;
  fds[count++] = r.out_fd;
  fds[count++] = r.report_fd;
  int ns_index[3] = {-1, -1, -1};
  for (int i = 0; i < 3; ++i) {
    if (r.ns_fds[i] >= 0) {
      ns_index[i] = count;
      fds[count++] = r.ns_fds[i];
    }
  }
  if (!arrange_fds(fds, count, false)) ::_exit(126);
  int report_fd = fds[1];
  if (r.cgroup_procs[0] != '\0') write_file(r.cgroup_procs, "0");  // best effort
  static constexpr int kNsTypes[3] = {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWUTS};
  for (int i = 0; i < 3; ++i) {
    if (ns_index[i] >= 0 && ::setns(fds[ns_index[i]], kNsTypes[i]) != 0) {
      fail(report_fd, kStageNamespace);
    }
  }
  if (::chdir(r.cwd) != 0) fail(report_fd, kStageChdir);
  ::dup2(fds[0], 1);
  ::dup2(fds[0], 2);
  ::execve(r.path, r.argv, r.envp);
  fail(report_fd, kStageExec);
}

void run_mount_probe(bool user_ns, const char* uid_map, const char* gid_map, const char* source,
                     const char* target) {
  int flags = CLONE_NEWNS | CLONE_NEWUTS | (user_ns ? CLONE_NEWUSER : 0);
  if (::unshare(flags) != 0) ::_exit(1);
  if (user_ns) {
    write_file("/proc/self/setgroups", "deny");
    if (!write_file("/proc/self/uid_map", uid_map) || !write_file("/proc/self/gid_map", gid_map)) {
      ::_exit(2);
    }
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(3);
  if (::mount(source, target, nullptr, MS_BIND | MS_REC, nullptr) != 0) ::_exit(4);
  ::_exit(0);
}

}  // namespace orch::agent::process
