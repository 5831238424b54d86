// ProcessRuntime: containers as supervised process groups (see process_runtime.hpp).
//
// Thread-safety: `mu_` guards the container table; the reaper thread waits on an epoll set of
// pidfds (one per running container's shim) and calls the exit callback without holding `mu_`.
// fork() happens without `mu_` held; the forked children only make system calls (spawn.cpp).
#include "orch/agent/process_runtime.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orch/util/log.hpp"
#include "spawn.hpp"

namespace orch::agent {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using process::BindMount;
using process::Report;

constexpr std::size_t kExecOutputLimit = 10 * 1024;
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

int pidfd_open(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); 0 when the process is gone.
std::uint64_t process_start_time(int pid) {
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return 0;
  auto paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(text.substr(paren + 2));
  std::string field;
  // Fields after the command: state is field 3; start time is field 22.
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return 0;
  }
  return std::strtoull(field.c_str(), nullptr, 10);
}

bool same_process(int pid, std::uint64_t start_time) {
  return pid > 0 && start_time != 0 && process_start_time(pid) == start_time;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Concurrent writers of one path each use their own temporary file; the last rename wins.
bool write_file_atomic(const std::string& path, const std::string& text) {
  static std::atomic<std::uint64_t> counter{0};
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(++counter);
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) return false;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  return !ec;
}

// Writes `text` to a cgroup or proc file; on failure errno says why.
bool write_small(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = ::write(fd, text.data(), text.size());
  int saved = errno;
  ::close(fd);
  errno = saved;
  return n == static_cast<ssize_t>(text.size());
}

std::string random_hex(std::size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device rd;
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out += kHex[v >> 4];
    out += kHex[v & 15];
  }
  return out;
}

std::string env_var_name(std::string_view volume) {
  std::string out = "ORCH_VOLUME_";
  for (char c : volume) {
    out += std::isalnum(static_cast<unsigned char>(c)) != 0
               ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
               : '_';
  }
  return out;
}

std::chrono::system_clock::time_point from_unix_ns(std::uint64_t ns) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(ns)));
}

std::uint64_t to_unix_ns(std::chrono::system_clock::time_point t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

// Finds `program` like execvp would, with `path_env` and relative to `cwd`. "" when missing.
std::string resolve_program(const std::string& program, const std::string& path_env,
                            const std::string& cwd) {
  auto executable = [](const std::string& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
  };
  if (program.empty()) return "";
  if (program.find('/') != std::string::npos) {
    std::string p = program[0] == '/' ? program : (fs::path(cwd) / program).string();
    return executable(p) ? p : "";
  }
  std::string_view rest = path_env;
  while (true) {
    auto colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (dir.empty()) dir = cwd;
    std::string p = dir + "/" + program;
    if (executable(p)) return p;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return "";
}

// A NULL-terminated char* array over strings the caller keeps alive.
std::vector<char*> c_array(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Reads report records until EOF or `timeout`. Returns false on timeout.
bool read_reports(int fd, std::vector<Report>& reports, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[sizeof(Report) * 4];
  std::string pending;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    pending.append(buf, static_cast<std::size_t>(n));
    while (pending.size() >= sizeof(Report)) {
      Report rep;
      std::memcpy(&rep, pending.data(), sizeof rep);
      reports.push_back(rep);
      pending.erase(0, sizeof rep);
    }
  }
}

std::string failure_message(const Report& rep, const std::string& program) {
  std::string what = process::stage_name(rep.stage);
  if (rep.stage == process::kStageExec) what = "exec \"" + program + "\"";
  return "failed to " + what + ": " + std::strerror(rep.value);
}

struct ContainerRecord {
  ContainerInfo info;
  std::string dir;  // <root>/pods/<uid>/containers/<hex>
  int shim_pid = 0;
  std::uint64_t shim_start = 0;
  int pid = 0;
  std::uint64_t pid_start = 0;
  std::string cwd;
  std::vector<std::string> env;  // "K=V"
  std::string cgroup_dir;
  int ns_flags = 0;
  std::string log_path;
  int pidfd = -1;
  bool reap_only = false;  // exited before adoption; the pidfd only reaps the shim

  json::value to_json() const {
    json::array e(env.begin(), env.end());
    return json::object{{"id", info.id},
                        {"podUID", info.pod_uid},
                        {"name", info.name},
                        {"restartCount", info.restart_count},
                        {"image", info.image},
                        {"imageID", info.image_id},
                        {"message", info.message},
                        {"startedAt", to_unix_ns(info.started_at)},
                        {"shimPid", shim_pid},
                        {"shimStart", shim_start},
                        {"pid", pid},
                        {"pidStart", pid_start},
                        {"cwd", cwd},
                        {"env", e},
                        {"cgroup", cgroup_dir},
                        {"nsFlags", ns_flags},
                        {"logPath", log_path}};
  }

  bool from_json(const json::value& v) {
    if (!v.is_object()) return false;
    const auto& o = v.as_object();
    auto str = [&](const char* k) -> std::string {
      const auto* f = o.if_contains(k);
      return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
    };
    auto num = [&](const char* k) -> std::uint64_t {
      const auto* f = o.if_contains(k);
      if (f == nullptr) return 0;
      if (f->is_uint64()) return f->as_uint64();
      if (f->is_int64()) return static_cast<std::uint64_t>(f->as_int64());
      return 0;
    };
    info.id = str("id");
    info.pod_uid = str("podUID");
    info.name = str("name");
    info.restart_count = static_cast<std::uint32_t>(num("restartCount"));
    info.image = str("image");
    info.image_id = str("imageID");
    info.message = str("message");
    info.started_at = from_unix_ns(num("startedAt"));
    shim_pid = static_cast<int>(num("shimPid"));
    shim_start = num("shimStart");
    pid = static_cast<int>(num("pid"));
    pid_start = num("pidStart");
    cwd = str("cwd");
    if (const auto* e = o.if_contains("env"); e != nullptr && e->is_array()) {
      for (const auto& s : e->as_array()) {
        if (s.is_string()) env.emplace_back(s.as_string());
      }
    }
    cgroup_dir = str("cgroup");
    ns_flags = static_cast<int>(num("nsFlags"));
    log_path = str("logPath");
    return !info.id.empty() && !info.pod_uid.empty();
  }

  std::string path_env() const {
    for (const auto& kv : env) {
      if (kv.starts_with("PATH=")) return kv.substr(5);
    }
    return kDefaultPath;
  }
};

// Fills `rec`'s exit fields from the shim's status file. False when there is none.
bool read_exit_file(ContainerRecord& rec) {
  std::string text = read_file(rec.dir + "/exit");
  if (text.empty()) return false;
  std::istringstream in(text);
  int code = 0;
  int sig = 0;
  int oom = 0;
  std::uint64_t finished = 0;
  if (!(in >> code >> sig >> oom >> finished)) return false;
  int fenced = 0;
  if (!(in >> fenced)) fenced = 0;  // written by a shim from before the dead-man switch
  rec.info.state = ContainerState::kExited;
  rec.info.exit_code = code;
  rec.info.finished_at = from_unix_ns(finished);
  rec.info.reason = oom != 0      ? "OOMKilled"
                    : fenced != 0 ? "Fenced"
                    : code == 0   ? "Completed"
                                  : "Error";
  rec.info.message = fenced != 0 ? "killed by its supervisor: the node agent's heartbeat stopped "
                                   "for too long (the pod may be replaced elsewhere)"
                                 : "";
  return true;
}

class ProcessRuntimeImpl final : public ProcessRuntime {
 public:
  ~ProcessRuntimeImpl() override {
    std::uint64_t one = 1;
    if (wake_fd_ >= 0) {
      [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
    }
    if (reaper_.joinable()) reaper_.join();
    for (auto& [id, rec] : containers_) {
      if (rec->pidfd >= 0) ::close(rec->pidfd);
    }
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  Status init(ProcessRuntimeOptions options) {
    options_ = std::move(options);
    if (options_.root_dir.empty()) return invalid_argument("process runtime: root_dir is required");
    std::error_code ec;
    fs::create_directories(options_.root_dir + "/pods", ec);
    if (ec) {
      return internal_error("process runtime: cannot create " + options_.root_dir + ": " +
                            ec.message());
    }
    options_.root_dir = fs::canonical(options_.root_dir, ec).string();
    if (options_.catalog_dir.empty()) options_.catalog_dir = options_.root_dir + "/images";
    auto catalog = ImageCatalog::open({options_.catalog_dir, options_.kuard_path});
    ORCH_TRY(catalog);
    catalog_ = std::move(*catalog);

    // Many containers mean many pidfds: use the hard limit of open files.
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
      nofile.rlim_cur = nofile.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &nofile);
    }
    detect_volume_mode();
    detect_limit_mode();

    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epoll_fd_ < 0 || wake_fd_ < 0)
      return internal_error("process runtime: epoll/eventfd failed");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    adopt();
    reaper_ = std::thread([this] { reap_loop(); });
    return ok_status();
  }

  // ------------------------------------------------------------------------------- Runtime

  void set_exit_callback(std::function<void(const std::string&, const std::string&)> fn) override {
    std::lock_guard lock(mu_);
    exit_callback_ = std::move(fn);
  }

  Result<ImageInfo> pull_image(std::string_view image) override {
    auto resolved = catalog_->resolve(image);
    ORCH_TRY(resolved);
    return ImageInfo{std::string(image), resolved->id};
  }

  Status run_pod(const PodSandboxConfig& pod) override {
    if (pod.uid.empty()) return invalid_argument("pod uid is required");
    std::string dir = pod_dir(pod.uid);
    std::error_code ec;
    fs::create_directories(dir + "/containers", ec);
    if (ec) return internal_error("cannot create " + dir + ": " + ec.message());
    for (const auto& v : pod.volumes) {
      if (v.empty_dir) {
        fs::create_directories(empty_dir_path(pod.uid, v.name), ec);
        if (ec) return internal_error("cannot create emptyDir " + v.name + ": " + ec.message());
      } else if (v.host_path) {
        const std::string& path = v.host_path->path;
        std::string type = v.host_path->type.value_or("");
        if (type == "DirectoryOrCreate" || (type.empty() && !fs::exists(path, ec))) {
          // "" does no checks; like Docker, a missing path becomes a directory.
          fs::create_directories(path, ec);
          if (ec) return internal_error("cannot create hostPath " + path + ": " + ec.message());
        } else if (type == "FileOrCreate") {
          if (!fs::exists(path, ec)) std::ofstream(path).flush();
        } else if (type == "Directory" && !fs::is_directory(path, ec)) {
          return invalid_argument("hostPath type check failed: " + path + " is not a directory");
        } else if (type == "File" && !fs::is_regular_file(path, ec)) {
          return invalid_argument("hostPath type check failed: " + path + " is not a file");
        }
      }
    }
    json::object meta{
        {"uid", pod.uid}, {"namespace", pod.namespace_}, {"name", pod.name}, {"podIP", pod.pod_ip}};
    if (!write_file_atomic(dir + "/pod.json", json::serialize(meta))) {
      return internal_error("cannot write " + dir + "/pod.json");
    }
    return ok_status();
  }

  Status remove_pod(std::string_view pod_uid) override {
    std::string uid(pod_uid);
    std::vector<std::shared_ptr<ContainerRecord>> recs;
    {
      std::lock_guard lock(mu_);
      for (auto& [id, rec] : containers_) {
        if (rec->info.pod_uid == uid) recs.push_back(rec);
      }
    }
    for (auto& rec : recs) kill_container(*rec, SIGKILL);
    // Wait for the shims to record the exits (they kill what is left and exit at once).
    {
      std::unique_lock lock(mu_);
      bool done = exited_cv_.wait_for(lock, std::chrono::seconds(20), [&] {
        for (auto& rec : recs) {
          if (rec->info.state != ContainerState::kExited) return false;
        }
        return true;
      });
      if (!done) {
        for (auto& rec : recs) {
          if (rec->info.state != ContainerState::kExited &&
              same_process(rec->shim_pid, rec->shim_start)) {
            ::kill(rec->shim_pid, SIGKILL);
          }
        }
      }
      for (auto& rec : recs) {
        if (rec->pidfd >= 0) {
          ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, rec->pidfd, nullptr);
          ::close(rec->pidfd);
          rec->pidfd = -1;
        }
        ::waitpid(rec->shim_pid, nullptr, WNOHANG);
        containers_.erase(rec->info.id);
      }
    }
    std::error_code ec;
    std::string dir = pod_dir(uid);
    for (const auto& line : split_lines(read_file(dir + "/logs"))) {
      fs::remove(line, ec);
      fs::remove(line + ".1", ec);
      // The agent's per-container and per-pod log directories, when now empty.
      fs::path parent = fs::path(line).parent_path();
      for (int i = 0; i < 2 && !parent.empty(); ++i, parent = parent.parent_path()) {
        if (!fs::is_empty(parent, ec) || ec) break;
        fs::remove(parent, ec);
      }
    }
    for (auto& rec : recs) {
      if (rec->cgroup_dir.empty()) continue;
      write_small(rec->cgroup_dir + "/cgroup.kill", "1");  // what escaped the process group
      ::rmdir(rec->cgroup_dir.c_str());
    }
    fs::remove_all(dir, ec);
    if (ec) return internal_error("cannot remove " + dir + ": " + ec.message());
    return ok_status();
  }

  Result<std::string> start_container(const PodSandboxConfig& pod,
                                      const ContainerConfig& config) override {
    const api::Container& c = config.container;
    auto image = catalog_->resolve(c.image);
    ORCH_TRY(image);
    ORCH_TRY(run_pod(pod));

    // Kubernetes' rule: command replaces the entrypoint (and drops the image's cmd), args
    // replace the cmd.
    std::vector<std::string> argv;
    if (!c.command.empty()) {
      argv = c.command;
      argv.insert(argv.end(), c.args.begin(), c.args.end());
    } else {
      argv = image->entrypoint;
      const auto& tail = c.args.empty() ? image->cmd : c.args;
      argv.insert(argv.end(), tail.begin(), tail.end());
    }
    if (argv.empty()) {
      return invalid_argument("container \"" + c.name + "\": no command specified");
    }

    // Environment: the image's, then the container's (which wins), then the volumes'.
    std::vector<std::pair<std::string, std::string>> env = image->env;
    auto set_env = [&](const std::string& k, const std::string& v) {
      for (auto& kv : env) {
        if (kv.first == k) {
          kv.second = v;
          return;
        }
      }
      env.emplace_back(k, v);
    };
    for (const auto& [k, v] : config.env) set_env(k, v);
    auto has_env = [&](const std::string& k) {
      for (const auto& kv : env) {
        if (kv.first == k) return true;
      }
      return false;
    };
    if (!has_env("PATH")) set_env("PATH", kDefaultPath);
    if (!has_env("HOSTNAME")) set_env("HOSTNAME", pod.name);

    // Volumes.
    std::vector<std::string> mount_sources;
    std::vector<std::string> mount_targets;
    std::vector<bool> mount_ro;
    std::vector<std::string> not_mounted;
    for (const auto& vm : c.volume_mounts) {
      std::string host;
      if (auto it = pod.host_volumes.find(vm.name); it != pod.host_volumes.end()) {
        host = it->second;
      } else {
        for (const auto& v : pod.volumes) {
          if (v.name != vm.name) continue;
          if (v.empty_dir) host = empty_dir_path(pod.uid, v.name);
          if (v.host_path) host = v.host_path->path;
        }
      }
      if (host.empty()) {
        return invalid_argument("container \"" + c.name + "\": volume \"" + vm.name +
                                "\" has no host directory");
      }
      std::error_code ec;
      if (!vm.sub_path.empty()) {
        host = (fs::path(host) / vm.sub_path).string();
        if (!fs::exists(host, ec)) fs::create_directories(host, ec);
      }
      set_env(env_var_name(vm.name), host);
      bool target_ok = !vm.mount_path.empty() && vm.mount_path[0] == '/' &&
                       fs::exists(vm.mount_path, ec) &&
                       fs::is_directory(vm.mount_path, ec) == fs::is_directory(host, ec);
      if (volume_mode_ != VolumeMode::kEnvironment && target_ok) {
        mount_sources.push_back(host);
        mount_targets.push_back(vm.mount_path);
        mount_ro.push_back(vm.read_only);
      } else {
        not_mounted.push_back(vm.name + " (" + vm.mount_path + ") is at $" + env_var_name(vm.name));
      }
    }
    std::string message;
    if (!not_mounted.empty()) {
      message =
          std::string("volumes not mounted (") +
          (volume_mode_ == VolumeMode::kEnvironment ? "no private mount namespace on this node"
                                                    : "mountPath does not exist on the host") +
          "): ";
      for (std::size_t i = 0; i < not_mounted.size(); ++i) {
        message += (i > 0 ? ", " : "") + not_mounted[i];
      }
    }

    std::string id_hex = random_hex(16);
    std::string id = "process://" + id_hex;
    std::string cdir = pod_dir(pod.uid) + "/containers/" + id_hex;
    std::error_code ec;
    fs::create_directories(cdir, ec);
    if (ec) return internal_error("cannot create " + cdir + ": " + ec.message());

    // Working directory: the container's, the image's, or its own under the pod directory.
    std::string cwd = !c.working_dir.empty() ? c.working_dir : image->working_dir;
    if (cwd.empty()) {
      cwd = pod_dir(pod.uid) + "/work/" + c.name;
      fs::create_directories(cwd, ec);
    }
    std::string path_env = kDefaultPath;
    for (const auto& [k, v] : env) {
      if (k == "PATH") path_env = v;
    }
    std::string program = resolve_program(argv[0], path_env, cwd);
    if (program.empty()) {
      fs::remove_all(cdir, ec);
      return invalid_argument("exec: \"" + argv[0] + "\": executable file not found in $PATH");
    }

    std::string log_path = config.log_path.empty() ? cdir + "/container.log" : config.log_path;
    fs::create_directories(fs::path(log_path).parent_path(), ec);
    if (FILE* f = std::fopen((pod_dir(pod.uid) + "/logs").c_str(), "a")) {
      std::fprintf(f, "%s\n", log_path.c_str());
      std::fclose(f);
    }

    // Limits.
    std::int64_t rlimit_data = -1;
    std::string cgroup_dir;
    std::int64_t memory = -1;
    std::int64_t cpu_milli = -1;
    if (auto it = c.resources.limits.find("memory"); it != c.resources.limits.end()) {
      memory = it->second.value();
    }
    if (auto it = c.resources.limits.find("cpu"); it != c.resources.limits.end()) {
      cpu_milli = it->second.milli_value();
    }
    if (limit_mode_ == LimitMode::kCgroupV2) {
      cgroup_dir = cgroup_base_ + "/" + id_hex;
      if (::mkdir(cgroup_dir.c_str(), 0755) != 0) {
        cgroup_dir.clear();
      } else {
        if (memory > 0) write_small(cgroup_dir + "/memory.max", std::to_string(memory));
        if (memory > 0) write_small(cgroup_dir + "/memory.swap.max", "0");
        if (cpu_milli > 0) {
          write_small(cgroup_dir + "/cpu.max", std::to_string(cpu_milli * 100) + " 100000");
        }
      }
    } else if (memory > 0) {
      rlimit_data = memory;
    }

    // Everything the forked children read, prepared here.
    std::vector<std::string> argv_s = argv;
    std::vector<std::string> env_s;
    for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
    auto argv_c = c_array(argv_s);
    auto env_c = c_array(env_s);
    std::vector<BindMount> mounts;
    for (std::size_t i = 0; i < mount_sources.size(); ++i) {
      mounts.push_back({mount_sources[i].c_str(), mount_targets[i].c_str(), mount_ro[i]});
    }
    int ns_flags = 0;
    if (volume_mode_ == VolumeMode::kMountNamespace) ns_flags = CLONE_NEWNS | CLONE_NEWUTS;
    if (volume_mode_ == VolumeMode::kUserNamespace) {
      ns_flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWUSER;
    }
    std::string rotated = log_path + ".1";
    std::string status_path = cdir + "/exit";
    std::string status_tmp = cdir + "/exit.tmp";
    std::string cgroup_procs = cgroup_dir.empty() ? "" : cgroup_dir + "/cgroup.procs";
    std::string cgroup_events = cgroup_dir.empty() ? "" : cgroup_dir + "/memory.events";
    std::string hostname = pod.name.empty() ? "pod" : pod.name;
    process::ShimRequest req{};
    req.path = program.c_str();
    req.argv = argv_c.data();
    req.envp = env_c.data();
    req.cwd = cwd.c_str();
    req.log_path = log_path.c_str();
    req.log_path_rotated = rotated.c_str();
    req.log_max_bytes = options_.log_max_bytes;
    req.status_path = status_path.c_str();
    req.status_tmp_path = status_tmp.c_str();
    req.cgroup_dir = cgroup_dir.c_str();
    req.cgroup_procs = cgroup_procs.c_str();
    req.cgroup_events = cgroup_events.c_str();
    req.ns_flags = ns_flags;
    req.uid_map = uid_map_.c_str();
    req.gid_map = gid_map_.c_str();
    req.hostname = hostname.c_str();
    req.mounts = mounts.data();
    req.mount_count = static_cast<int>(mounts.size());
    req.rlimit_data = rlimit_data;
    std::string heartbeat = heartbeat_path();
    req.heartbeat_path = heartbeat.c_str();
    req.fence_after_ms = std::max<std::int64_t>(0, config.fence_after.count());

    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) {
      fs::remove_all(cdir, ec);
      return internal_error(std::string("pipe: ") + std::strerror(errno));
    }
    req.report_fd = report[1];
    auto started_at = std::chrono::system_clock::now();
    pid_t shim = ::fork();
    if (shim == 0) process::run_shim(req);
    ::close(report[1]);
    if (shim < 0) {
      ::close(report[0]);
      fs::remove_all(cdir, ec);
      return internal_error(std::string("fork: ") + std::strerror(errno));
    }
    std::vector<Report> reports;
    bool complete = read_reports(report[0], reports, std::chrono::seconds(30));
    ::close(report[0]);
    int pid = 0;
    const Report* error = nullptr;
    for (const auto& r : reports) {
      if (r.type == process::kReportPid) pid = r.value;
      if (r.type == process::kReportError && error == nullptr) error = &r;
    }
    if (error != nullptr || pid == 0 || !complete) {
      std::string why = error != nullptr ? failure_message(*error, program)
                        : !complete      ? std::string("timed out starting the container")
                                         : std::string("the supervisor failed to start");
      if (!complete) {
        if (pid > 0) ::kill(-pid, SIGKILL);
        ::kill(shim, SIGKILL);
      }
      ::waitpid(shim, nullptr, 0);
      if (!cgroup_dir.empty()) ::rmdir(cgroup_dir.c_str());
      fs::remove_all(cdir, ec);
      return invalid_argument("container \"" + c.name + "\": " + why);
    }

    auto rec = std::make_shared<ContainerRecord>();
    rec->info.id = id;
    rec->info.pod_uid = pod.uid;
    rec->info.name = c.name;
    rec->info.restart_count = config.restart_count;
    rec->info.state = ContainerState::kRunning;
    rec->info.image = c.image;
    rec->info.image_id = image->id;
    rec->info.message = message;
    rec->info.started_at = started_at;
    rec->dir = cdir;
    rec->shim_pid = shim;
    rec->shim_start = process_start_time(shim);
    rec->pid = pid;
    rec->pid_start = process_start_time(pid);
    rec->cwd = cwd;
    rec->env = env_s;
    rec->cgroup_dir = cgroup_dir;
    rec->ns_flags = ns_flags;
    rec->log_path = log_path;
    if (!write_file_atomic(cdir + "/container.json", json::serialize(rec->to_json()))) {
      kill_container(*rec, SIGKILL);
      ::waitpid(shim, nullptr, 0);
      fs::remove_all(cdir, ec);
      return internal_error("cannot write " + cdir + "/container.json");
    }
    std::lock_guard lock(mu_);
    containers_[id] = rec;
    watch_locked(*rec);
    return id;
  }

  Status stop_container(std::string_view container_id, bool force) override {
    std::shared_ptr<ContainerRecord> rec = find(container_id);
    if (!rec) return not_found("container \"" + std::string(container_id) + "\" not found");
    kill_container(*rec, force ? SIGKILL : SIGTERM);
    return ok_status();
  }

  Status remove_container(std::string_view container_id) override {
    std::lock_guard lock(mu_);
    auto it = containers_.find(std::string(container_id));
    if (it == containers_.end()) {
      return not_found("container \"" + std::string(container_id) + "\" not found");
    }
    if (it->second->info.state != ContainerState::kExited) {
      return invalid_argument("container \"" + std::string(container_id) +
                              "\" is still running; stop it first");
    }
    std::error_code ec;
    fs::remove_all(it->second->dir, ec);
    containers_.erase(it);
    return ok_status();
  }

  Result<ContainerInfo> container_status(std::string_view container_id) override {
    std::lock_guard lock(mu_);
    auto it = containers_.find(std::string(container_id));
    if (it == containers_.end()) {
      return not_found("container \"" + std::string(container_id) + "\" not found");
    }
    return it->second->info;
  }

  std::vector<ContainerInfo> list_containers(std::string_view pod_uid) override {
    std::lock_guard lock(mu_);
    std::vector<ContainerInfo> out;
    for (const auto& [id, rec] : containers_) {
      if (pod_uid.empty() || rec->info.pod_uid == pod_uid) out.push_back(rec->info);
    }
    return out;
  }

  Result<ExecResult> exec(std::string_view container_id, const std::vector<std::string>& command,
                          std::chrono::milliseconds timeout) override {
    std::shared_ptr<ContainerRecord> rec = find(container_id);
    if (!rec) return not_found("container \"" + std::string(container_id) + "\" not found");
    ContainerRecord snapshot;
    {
      std::lock_guard lock(mu_);
      snapshot = *rec;
    }
    if (snapshot.info.state != ContainerState::kRunning) {
      return unavailable("container \"" + std::string(container_id) + "\" is not running");
    }
    if (command.empty()) return invalid_argument("exec: no command");
    std::string program = resolve_program(command[0], snapshot.path_env(), snapshot.cwd);
    if (program.empty()) {
      return invalid_argument("exec: \"" + command[0] + "\": executable file not found in $PATH");
    }
    // The container's namespaces, while its process is the one we started.
    int ns_fds[3] = {-1, -1, -1};
    auto close_ns = [&] {
      for (int& fd : ns_fds) {
        if (fd >= 0) ::close(fd);
        fd = -1;
      }
    };
    if (snapshot.ns_flags != 0) {
      std::string base = "/proc/" + std::to_string(snapshot.pid) + "/ns/";
      if ((snapshot.ns_flags & CLONE_NEWUSER) != 0) {
        ns_fds[0] = ::open((base + "user").c_str(), O_RDONLY | O_CLOEXEC);
      }
      ns_fds[1] = ::open((base + "mnt").c_str(), O_RDONLY | O_CLOEXEC);
      ns_fds[2] = ::open((base + "uts").c_str(), O_RDONLY | O_CLOEXEC);
      if (!same_process(snapshot.pid, snapshot.pid_start)) close_ns();
    }
    std::vector<std::string> argv_s = command;
    std::vector<std::string> env_s = snapshot.env;
    auto argv_c = c_array(argv_s);
    auto env_c = c_array(env_s);
    std::string cgroup_procs =
        snapshot.cgroup_dir.empty() ? "" : snapshot.cgroup_dir + "/cgroup.procs";
    int out[2];
    int report[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
      close_ns();
      return internal_error(std::string("pipe: ") + std::strerror(errno));
    }
    if (::pipe2(report, O_CLOEXEC) != 0) {
      ::close(out[0]);
      ::close(out[1]);
      close_ns();
      return internal_error(std::string("pipe: ") + std::strerror(errno));
    }
    process::ExecRequest req{};
    req.path = program.c_str();
    req.argv = argv_c.data();
    req.envp = env_c.data();
    req.cwd = snapshot.cwd.c_str();
    req.cgroup_procs = cgroup_procs.c_str();
    for (int i = 0; i < 3; ++i) req.ns_fds[i] = ns_fds[i];
    req.out_fd = out[1];
    req.report_fd = report[1];
    pid_t child = ::fork();
    if (child == 0) process::run_exec_child(req);
    ::close(out[1]);
    ::close(report[1]);
    close_ns();
    if (child < 0) {
      ::close(out[0]);
      ::close(report[0]);
      return internal_error(std::string("fork: ") + std::strerror(errno));
    }
    int child_fd = pidfd_open(child);
    std::string output;
    std::string report_bytes;
    bool out_open = true;
    bool report_open = true;
    bool exited = false;
    bool timed_out = false;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[8192];
    while (out_open || report_open) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      pollfd p[3];
      int n = 0;
      int out_i = -1, rep_i = -1, pid_i = -1;
      if (out_open) out_i = n, p[n++] = {out[0], POLLIN, 0};
      if (report_open) rep_i = n, p[n++] = {report[0], POLLIN, 0};
      if (!exited && child_fd >= 0) pid_i = n, p[n++] = {child_fd, POLLIN, 0};
      // After the command exits, wait a moment for what it wrote, not for its background children.
      int wait_ms = exited ? std::min<int>(100, static_cast<int>(left.count()))
                           : static_cast<int>(std::min<std::int64_t>(left.count(), 1000));
      int r = ::poll(p, static_cast<nfds_t>(n), wait_ms);
      if (r < 0 && errno == EINTR) continue;
      if (r == 0 && exited) break;
      if (r <= 0) continue;
      if (out_i >= 0 && p[out_i].revents != 0) {
        ssize_t got = ::read(out[0], buf, sizeof buf);
        if (got <= 0) {
          out_open = false;
        } else if (output.size() < kExecOutputLimit) {
          output.append(buf, std::min<std::size_t>(static_cast<std::size_t>(got),
                                                   kExecOutputLimit - output.size()));
        }
      }
      if (rep_i >= 0 && p[rep_i].revents != 0) {
        ssize_t got = ::read(report[0], buf, sizeof buf);
        if (got <= 0) {
          report_open = false;
        } else {
          report_bytes.append(buf, static_cast<std::size_t>(got));
        }
      }
      if (pid_i >= 0 && p[pid_i].revents != 0) exited = true;
    }
    ::close(out[0]);
    ::close(report[0]);
    if (child_fd >= 0) ::close(child_fd);
    if (timed_out) {
      ::kill(-child, SIGKILL);
      ::kill(child, SIGKILL);
    } else {
      ::kill(-child, SIGKILL);  // what the command left in its session
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) {
      return Status(Code::kDeadlineExceeded, "exec \"" + command[0] + "\" timed out after " +
                                                 std::to_string(timeout.count()) + "ms");
    }
    if (report_bytes.size() >= sizeof(Report)) {
      Report rep;
      std::memcpy(&rep, report_bytes.data(), sizeof rep);
      return invalid_argument("exec: " + failure_message(rep, program));
    }
    ExecResult result;
    result.output = std::move(output);
    result.exit_code = WIFEXITED(status)     ? WEXITSTATUS(status)
                       : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                             : -1;
    return result;
  }

  // Touches <root>/heartbeat; every shim with a fence_after watches its mtime.
  void heartbeat() override {
    std::string path = heartbeat_path();
    if (::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) == 0) return;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::futimens(fd, nullptr);
      ::close(fd);
    } else {
      ORCH_LOG(kWarning, options_.log_component, "cannot write the heartbeat {}: {}", path,
               std::strerror(errno));
    }
  }

  // ------------------------------------------------------------------------ ProcessRuntime

  Status import_image(std::string_view name, const std::string& dir) override {
    return catalog_->import_image(name, dir);
  }
  const ImageCatalog& catalog() const override { return *catalog_; }
  VolumeMode volume_mode() const override { return volume_mode_; }
  LimitMode limit_mode() const override { return limit_mode_; }
  std::string empty_dir_path(std::string_view pod_uid, std::string_view volume) const override {
    return pod_dir(pod_uid) + "/volumes/" + std::string(volume);
  }
  std::pair<int, int> pids_for_test(std::string_view container_id) const override {
    std::lock_guard lock(mu_);
    auto it = containers_.find(std::string(container_id));
    if (it == containers_.end()) return {0, 0};
    return {it->second->shim_pid, it->second->pid};
  }

 private:
  std::string pod_dir(std::string_view uid) const {
    return options_.root_dir + "/pods/" + std::string(uid);
  }
  std::string heartbeat_path() const { return options_.root_dir + "/heartbeat"; }

  static std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) out.push_back(line);
    }
    return out;
  }

  std::shared_ptr<ContainerRecord> find(std::string_view id) {
    std::lock_guard lock(mu_);
    auto it = containers_.find(std::string(id));
    return it == containers_.end() ? nullptr : it->second;
  }

  // Signals the container's process group while its main process is the one we started.
  void kill_container(const ContainerRecord& rec, int sig) {
    {
      std::lock_guard lock(mu_);
      if (rec.info.state == ContainerState::kExited) return;
    }
    if (same_process(rec.pid, rec.pid_start)) {
      ::kill(-rec.pid, sig);
    } else if (same_process(rec.shim_pid, rec.shim_start)) {
      // The main process is gone; the shim is draining and will kill the group itself.
    }
  }

  // Adds a running container's shim to the reaper's epoll set. Requires mu_.
  void watch_locked(ContainerRecord& rec) {
    rec.pidfd = pidfd_open(rec.shim_pid);
    if (rec.pidfd < 0) {
      // Cannot watch it (no pidfd support or gone): settle it now.
      settle_locked(rec);
      return;
    }
    if (!same_process(rec.shim_pid, rec.shim_start)) {
      ::close(rec.pidfd);
      rec.pidfd = -1;
      settle_locked(rec);
      return;
    }
    pidfds_[rec.pidfd] = rec.info.id;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = rec.pidfd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, rec.pidfd, &ev);
  }

  // The shim is gone: read its exit file, or record the exit as lost. Requires mu_.
  void settle_locked(ContainerRecord& rec) {
    // Reaps the shim when it is a child of this process (also one forked by an earlier runtime
    // object in the same process); ECHILD otherwise.
    ::waitpid(rec.shim_pid, nullptr, WNOHANG);
    if (rec.pidfd >= 0) {
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, rec.pidfd, nullptr);
      pidfds_.erase(rec.pidfd);
      ::close(rec.pidfd);
      rec.pidfd = -1;
    }
    if (read_exit_file(rec)) return;
    // The shim died without recording (killed): whatever is left of the container goes too.
    if (same_process(rec.pid, rec.pid_start)) ::kill(-rec.pid, SIGKILL);
    auto now = std::chrono::system_clock::now();
    std::string text = "137 9 0 " + std::to_string(to_unix_ns(now)) + "\n";
    write_file_atomic(rec.dir + "/exit", text);
    rec.info.state = ContainerState::kExited;
    rec.info.exit_code = 137;
    rec.info.reason = "Error";
    rec.info.message = "the container's exit status was lost (its supervisor was killed)";
    rec.info.finished_at = now;
  }

  // Loads every recorded container of a previous runtime on this root.
  void adopt() {
    std::error_code ec;
    std::lock_guard lock(mu_);
    for (const auto& pod : fs::directory_iterator(options_.root_dir + "/pods", ec)) {
      std::error_code ec2;
      for (const auto& cdir : fs::directory_iterator(pod.path() / "containers", ec2)) {
        std::string text = read_file((cdir.path() / "container.json").string());
        boost::system::error_code jec;
        json::value v = json::parse(text, jec);
        auto rec = std::make_shared<ContainerRecord>();
        if (jec || !rec->from_json(v)) continue;
        rec->dir = cdir.path().string();
        if (!read_exit_file(*rec)) {
          rec->info.state = ContainerState::kRunning;
          watch_locked(*rec);
        } else if (same_process(rec->shim_pid, rec->shim_start)) {
          // Exited, but its shim may still be finishing (and may be our child): reap it.
          rec->reap_only = true;
          watch_locked(*rec);
        }
        containers_[rec->info.id] = rec;
      }
    }
  }

  void reap_loop() {
    epoll_event events[64];
    while (true) {
      int n = ::epoll_wait(epoll_fd_, events, 64, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;
      }
      std::vector<std::pair<std::string, std::string>> exited;
      std::function<void(const std::string&, const std::string&)> callback;
      {
        std::lock_guard lock(mu_);
        for (int i = 0; i < n; ++i) {
          int fd = events[i].data.fd;
          if (fd == wake_fd_) return;
          auto it = pidfds_.find(fd);
          if (it == pidfds_.end()) continue;
          auto rec_it = containers_.find(it->second);
          if (rec_it == containers_.end()) {
            ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
            ::close(fd);
            pidfds_.erase(it);
            continue;
          }
          ContainerRecord& rec = *rec_it->second;
          bool report = !rec.reap_only;
          settle_locked(rec);
          ORCH_VLOG(3, options_.log_component, "process runtime: container {} ({}) exited with code {}",
                    rec.info.id, rec.info.name, rec.info.exit_code);
          rec.reap_only = false;
          if (report) exited.emplace_back(rec.info.pod_uid, rec.info.id);
        }
        callback = exit_callback_;
      }
      exited_cv_.notify_all();
      if (callback) {
        for (const auto& [uid, id] : exited) callback(uid, id);
      }
    }
  }

  void detect_volume_mode() {
    volume_mode_ = VolumeMode::kEnvironment;
    uid_map_ = std::to_string(::geteuid()) + " " + std::to_string(::geteuid()) + " 1";
    gid_map_ = std::to_string(::getegid()) + " " + std::to_string(::getegid()) + " 1";
    if (!options_.use_namespaces) {
      ORCH_LOG(kInfo, options_.log_component,
               "process runtime: volumes via environment (namespaces disabled)");
      return;
    }
    std::string probe = options_.root_dir + "/.mount-probe";
    std::error_code ec;
    fs::create_directories(probe + "/a", ec);
    fs::create_directories(probe + "/b", ec);
    std::string a = probe + "/a";
    std::string b = probe + "/b";
    auto try_mode = [&](bool user_ns) {
      pid_t pid = ::fork();
      if (pid == 0)
        process::run_mount_probe(user_ns, uid_map_.c_str(), gid_map_.c_str(), a.c_str(), b.c_str());
      if (pid < 0) return false;
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    };
    if (::geteuid() == 0 && try_mode(false)) {
      volume_mode_ = VolumeMode::kMountNamespace;
    } else if (try_mode(true)) {
      volume_mode_ = VolumeMode::kUserNamespace;
    }
    fs::remove_all(probe, ec);
    if (volume_mode_ == VolumeMode::kEnvironment) {
      ORCH_LOG(kWarning, options_.log_component,
               "process runtime: no private mount namespace on this node; volumes are passed as "
               "ORCH_VOLUME_<NAME>");
    }
  }

  void detect_limit_mode() {
    limit_mode_ = LimitMode::kRlimit;
    std::string why = "disabled";
    if (options_.use_cgroups) why = try_cgroup();
    if (limit_mode_ == LimitMode::kCgroupV2) return;
    static std::atomic<bool> logged{false};
    if (!logged.exchange(true)) {
      ORCH_LOG(kInfo, options_.log_component,
               "process runtime: limits via rlimit (RLIMIT_DATA for memory, no CPU limit): "
               "cgroup v2 {}",
               why);
    }
  }

  // Sets up <parent>/orch-<hash> with the memory (and cpu) controller; returns why not.
  std::string try_cgroup() {
    std::string parent = options_.cgroup_parent;
    if (parent.empty()) {
      std::string mount;
      std::ifstream mi("/proc/self/mountinfo");
      std::string line;
      while (std::getline(mi, line)) {
        auto dash = line.find(" - ");
        if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
        std::istringstream f(line);
        std::string id, pid, dev, root, point;
        f >> id >> pid >> dev >> root >> point;
        mount = point;
        break;
      }
      if (mount.empty()) return "is not mounted";
      std::ifstream cg("/proc/self/cgroup");
      std::string own;
      while (std::getline(cg, line)) {
        if (line.starts_with("0::")) own = line.substr(3);
      }
      parent = mount + (own == "/" ? "" : own);
    }
    std::string controllers = read_file(parent + "/cgroup.controllers");
    if (controllers.find("memory") == std::string::npos) {
      return "has no memory controller at " + parent;
    }
    std::string dir =
        parent + "/orch-" + std::to_string(std::hash<std::string>{}(options_.root_dir) % 1000000);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return "cannot create " + dir + ": " + std::strerror(errno);
    }
    std::string want = controllers.find("cpu ") != std::string::npos ||
                               controllers.find("cpu\n") != std::string::npos
                           ? "+memory +cpu"
                           : "+memory";
    if (!write_small(parent + "/cgroup.subtree_control", want) && errno == EBUSY &&
        options_.cgroup_move_self && options_.cgroup_parent.empty()) {
      // "No internal processes": our own cgroup may only enable controllers for its children
      // once this process has moved into a leaf of its own.
      std::string leaf = parent + "/orch-agent";
      if ((::mkdir(leaf.c_str(), 0755) == 0 || errno == EEXIST) &&
          write_small(leaf + "/cgroup.procs", std::to_string(::getpid()))) {
        write_small(parent + "/cgroup.subtree_control", want);
      }
    }
    if (read_file(dir + "/cgroup.controllers").find("memory") == std::string::npos) {
      ::rmdir(dir.c_str());
      return "is not delegated at " + parent + " (cannot enable the memory controller)";
    }
    if (!write_small(dir + "/cgroup.subtree_control", want)) {
      return "cannot enable controllers in " + dir;
    }
    cgroup_base_ = dir;
    limit_mode_ = LimitMode::kCgroupV2;
    ORCH_LOG(kInfo, options_.log_component, "process runtime: limits via cgroup v2 under {}", dir);
    return "";
  }

  // Const after init().
  ProcessRuntimeOptions options_;
  std::unique_ptr<ImageCatalog> catalog_;
  VolumeMode volume_mode_ = VolumeMode::kEnvironment;
  LimitMode limit_mode_ = LimitMode::kRlimit;
  std::string cgroup_base_;
  std::string uid_map_;
  std::string gid_map_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread reaper_;

  mutable std::mutex mu_;
  std::condition_variable exited_cv_;  // notified (without mu_) after exits are recorded
  std::map<std::string, std::shared_ptr<ContainerRecord>> containers_;  // by id; guarded by mu_
  std::map<int, std::string> pidfds_;  // pidfd -> container id; guarded by mu_
  std::function<void(const std::string&, const std::string&)> exit_callback_;  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<ProcessRuntime>> ProcessRuntime::create(ProcessRuntimeOptions options) {
  auto rt = std::make_unique<ProcessRuntimeImpl>();
  ORCH_TRY(rt->init(std::move(options)));
  return std::unique_ptr<ProcessRuntime>(std::move(rt));
}

}  // namespace orch::agent
