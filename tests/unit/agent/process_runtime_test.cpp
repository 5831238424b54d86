// ProcessRuntime: kuard and busybox containers as real processes under a temp root: start, exit
// codes and reasons, SIGTERM/SIGKILL stops, exec, env and working directory, shared emptyDir,
// CRI log files and rotation, limits, imported images, adoption by a new runtime object, unknown
// images. Every test removes its pods and checks that no process of ours is left.
#include "orch/agent/process_runtime.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <dirent.h>
#include <doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using orch::Code;
using orch::agent::ContainerConfig;
using orch::agent::ContainerInfo;
using orch::agent::ContainerState;
using orch::agent::PodSandboxConfig;
using orch::agent::ProcessRuntime;
using orch::agent::ProcessRuntimeOptions;

namespace {

struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "orch-process-runtime-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

std::string random_loopback_ip() {
  std::random_device rd;
  return "127." + std::to_string(1 + rd() % 250) + "." + std::to_string(rd() % 250) + "." +
         std::to_string(2 + rd() % 250);
}

template <typename F>
bool wait_for(F cond, std::chrono::milliseconds timeout = 30s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Processes whose parent is this test process (zombies included).
std::vector<int> our_children() {
  std::vector<int> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = read_file(e.path().string() + "/stat");
    auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(paren + 2));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == ::getpid()) out.push_back(std::stoi(name));
  }
  return out;
}

bool process_exists(int pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM) &&
         read_file("/proc/" + std::to_string(pid) + "/stat").find(") Z") == std::string::npos;
}

std::optional<std::string> http_get(const std::string& ip, int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

// A runtime on a temp root with an exit log.
struct Fixture {
  TempDir root;
  TempDir logs;
  std::unique_ptr<ProcessRuntime> rt;
  std::mutex mu;
  std::vector<std::string> exited;  // container ids, guarded by mu
  std::set<std::string> pods;       // pod uids to remove at the end

  explicit Fixture(std::uint64_t log_max_bytes = 10 * 1024 * 1024, bool use_namespaces = true) {
    open(log_max_bytes, use_namespaces);
  }

  void open(std::uint64_t log_max_bytes = 10 * 1024 * 1024, bool use_namespaces = true) {
    ProcessRuntimeOptions opts;
    opts.root_dir = root.path + "/runtime";
    opts.log_max_bytes = log_max_bytes;
    opts.use_namespaces = use_namespaces;
    auto created = ProcessRuntime::create(opts);
    REQUIRE_MESSAGE(created.ok(), created.status().to_string());
    rt = std::move(*created);
    rt->set_exit_callback([this](const std::string&, const std::string& id) {
      std::lock_guard lock(mu);
      exited.push_back(id);
    });
  }

  ~Fixture() {
    if (rt) {
      for (const auto& uid : pods) CHECK(rt->remove_pod(uid).ok());
    }
    rt.reset();
    auto left = our_children();
    CHECK_MESSAGE(left.empty(), "processes left behind: " << left.size());
  }

  bool saw_exit(const std::string& id) {
    std::lock_guard lock(mu);
    return std::find(exited.begin(), exited.end(), id) != exited.end();
  }

  PodSandboxConfig pod(const std::string& name) {
    PodSandboxConfig p;
    p.uid = "uid-" + name;
    p.namespace_ = "default";
    p.name = name;
    p.pod_ip = random_loopback_ip();
    p.node_name = "node-1";
    pods.insert(p.uid);
    return p;
  }

  ContainerConfig container(const PodSandboxConfig& pod, const std::string& name,
                            const std::string& image, std::vector<std::string> command = {},
                            std::vector<std::string> args = {}) {
    ContainerConfig c;
    c.container.name = name;
    c.container.image = image;
    c.container.command = std::move(command);
    c.container.args = std::move(args);
    c.env = {{"POD_IP", pod.pod_ip},
             {"POD_NAME", pod.name},
             {"POD_NAMESPACE", pod.namespace_},
             {"NODE_NAME", pod.node_name}};
    c.log_path =
        logs.path + "/" + pod.namespace_ + "_" + pod.name + "_" + pod.uid + "/" + name + "/0.log";
    return c;
  }

  std::string start(const PodSandboxConfig& pod, const ContainerConfig& c) {
    REQUIRE(rt->run_pod(pod).ok());
    auto id = rt->start_container(pod, c);
    REQUIRE_MESSAGE(id.ok(), id.status().to_string());
    return *id;
  }

  ContainerInfo wait_exited(const std::string& id) {
    bool done = wait_for([&] {
      auto s = rt->container_status(id);
      return s.ok() && s->state == ContainerState::kExited;
    });
    REQUIRE_MESSAGE(done, "container " << id << " did not exit");
    return *rt->container_status(id);
  }
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

const std::regex kCriLine(
    R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z (stdout|stderr) (F|P) .*$)");

}  // namespace

TEST_CASE("kuard runs through the runtime and answers on its pod IP") {
  Fixture f;
  auto pod = f.pod("kuard");
  auto image = f.rt->pull_image("gcr.io/kuar-demo/kuard-amd64:green");
  REQUIRE_MESSAGE(image.ok(), image.status().to_string());
  CHECK(image->id.starts_with("orch://kuard@sha256:"));
  auto c = f.container(pod, "kuard", "gcr.io/kuar-demo/kuard-amd64:green");
  std::string id = f.start(pod, c);
  CHECK(id.starts_with("process://"));
  auto status = f.rt->container_status(id);
  REQUIRE(status.ok());
  CHECK(status->state == ContainerState::kRunning);
  CHECK(status->name == "kuard");
  CHECK(status->pod_uid == pod.uid);
  CHECK(status->image_id == image->id);

  std::optional<std::string> page;
  REQUIRE(wait_for([&] {
    page = http_get(pod.pod_ip, 8080, "/");
    return page.has_value() && page->find("200 OK") != std::string::npos;
  }));
  CHECK(page->find(">green<") != std::string::npos);
  CHECK(page->find(">kuard<") != std::string::npos);
  CHECK(page->find(">" + pod.pod_ip + "<") != std::string::npos);

  // SIGTERM: kuard drains and exits 0.
  REQUIRE(f.rt->stop_container(id, false).ok());
  auto info = f.wait_exited(id);
  CHECK(info.exit_code == 0);
  CHECK(info.reason == "Completed");
  CHECK(wait_for([&] { return f.saw_exit(id); }));
  // Its request log is in the CRI format.
  auto lines = lines_of(read_file(c.log_path));
  REQUIRE(!lines.empty());
  for (const auto& l : lines) CHECK_MESSAGE(std::regex_match(l, kCriLine), l);
  CHECK(read_file(c.log_path).find("stdout F kuard green listening on") != std::string::npos);
  CHECK(f.rt->remove_container(id).ok());
  CHECK(f.rt->container_status(id).status().code() == Code::kNotFound);
}

TEST_CASE("a crashing busybox command reports its exit code, reason and logs") {
  Fixture f;
  auto pod = f.pod("crash");
  auto c = f.container(pod, "main", "busybox",
                       {"sh", "-c", "echo to-stdout; echo to-stderr >&2; printf partial; exit 3"});
  std::string id = f.start(pod, c);
  auto info = f.wait_exited(id);
  CHECK(info.exit_code == 3);
  CHECK(info.reason == "Error");
  CHECK(info.finished_at >= info.started_at);
  CHECK(wait_for([&] { return f.saw_exit(id); }));
  std::string log = read_file(c.log_path);
  auto lines = lines_of(log);
  REQUIRE(lines.size() == 3);
  for (const auto& l : lines) CHECK_MESSAGE(std::regex_match(l, kCriLine), l);
  CHECK(log.find(" stdout F to-stdout\n") != std::string::npos);
  CHECK(log.find(" stderr F to-stderr\n") != std::string::npos);
  CHECK(log.find(" stdout F partial\n") != std::string::npos);

  SUBCASE("a command that exits 0 is Completed") {
    auto ok = f.container(pod, "ok", "busybox:1.36", {"true"});
    auto ok_id = f.start(pod, ok);
    auto ok_info = f.wait_exited(ok_id);
    CHECK(ok_info.exit_code == 0);
    CHECK(ok_info.reason == "Completed");
  }
  SUBCASE("a program that does not exist cannot start") {
    auto bad = f.container(pod, "bad", "busybox", {"no-such-program-orch"});
    auto r = f.rt->start_container(pod, bad);
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message().find("no-such-program-orch") != std::string::npos);
  }
}

TEST_CASE("stop_container sends SIGTERM to the process group, or SIGKILL when forced") {
  Fixture f;
  auto pod = f.pod("stop");
  // The shell and its child `sleep` are one process group: both get the signal.
  auto term = f.container(pod, "term", "busybox", {"sh", "-c", "sleep 1000 & wait"});
  auto kill = f.container(pod, "kill", "busybox", {"sh", "-c", "trap '' TERM; sleep 1000"});
  std::string term_id = f.start(pod, term);
  std::string kill_id = f.start(pod, kill);
  REQUIRE(f.rt->stop_container(term_id, false).ok());
  auto info = f.wait_exited(term_id);
  CHECK(info.exit_code == 128 + SIGTERM);
  CHECK(info.reason == "Error");
  REQUIRE(f.rt->stop_container(kill_id, true).ok());
  info = f.wait_exited(kill_id);
  CHECK(info.exit_code == 128 + SIGKILL);
  // Stopping an exited container is fine; an unknown one is NotFound.
  CHECK(f.rt->stop_container(kill_id, false).ok());
  CHECK(f.rt->stop_container("process://nope", false).code() == Code::kNotFound);
  auto [shim, pid] = f.rt->pids_for_test(term_id);
  CHECK(wait_for([&] { return !process_exists(shim) && !process_exists(pid); }));
}

TEST_CASE("the shim's dead-man switch: a stale heartbeat fences the container, a fresh one keeps it") {
  Fixture f;
  f.rt->heartbeat();
  const std::string heartbeat = f.root.path + "/runtime/heartbeat";
  REQUIRE(fs::exists(heartbeat));
  auto pod = f.pod("fence");
  auto fenced = f.container(pod, "fenced", "busybox", {"sh", "-c", "sleep 1000 & wait"});
  fenced.fence_after = 700ms;
  auto never = f.container(pod, "never", "busybox", {"sleep", "1000"});  // fence_after 0
  std::string fenced_id = f.start(pod, fenced);
  std::string never_id = f.start(pod, never);

  // Heartbeats every 100 ms for twice the deadline: nothing is fenced.
  for (int i = 0; i < 14; ++i) {
    f.rt->heartbeat();
    std::this_thread::sleep_for(100ms);
  }
  CHECK(f.rt->container_status(fenced_id)->state == ContainerState::kRunning);

  // The agent goes silent: the shim kills the whole process group on its own.
  auto silent = std::chrono::steady_clock::now();
  auto info = f.wait_exited(fenced_id);
  auto took = std::chrono::steady_clock::now() - silent;
  CHECK(info.reason == "Fenced");
  CHECK(info.exit_code == 128 + SIGKILL);
  CHECK(info.message.find("heartbeat") != std::string::npos);
  CHECK(took >= 500ms);  // not before the deadline (mtime granularity aside)
  CHECK(took < 3s);
  auto [shim, pid] = f.rt->pids_for_test(fenced_id);
  CHECK(wait_for([&] { return !process_exists(shim) && !process_exists(pid); }));
  CHECK(f.rt->container_status(never_id)->state == ContainerState::kRunning);

  // A new runtime on the same root (a restarted agent) reads the same reason.
  f.rt.reset();
  f.open();
  auto again = f.rt->container_status(fenced_id);
  REQUIRE(again.ok());
  CHECK(again->reason == "Fenced");
}

TEST_CASE("exec runs in the container's environment and working directory") {
  Fixture f;
  auto pod = f.pod("exec");
  TempDir work;
  auto c = f.container(pod, "main", "busybox", {"sleep", "1000"});
  c.env.emplace_back("GREETING", "hello from env");
  c.container.working_dir = work.path;
  std::string id = f.start(pod, c);

  auto r = f.rt->exec(id, {"sh", "-c", "echo \"$GREETING\"; pwd; echo oops >&2; exit 4"}, 20s);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  CHECK(r->exit_code == 4);
  CHECK(r->output.find("hello from env\n") != std::string::npos);
  CHECK(r->output.find(fs::canonical(work.path).string() + "\n") != std::string::npos);
  CHECK(r->output.find("oops\n") != std::string::npos);

  auto slow = f.rt->exec(id, {"sleep", "1000"}, 300ms);
  CHECK(slow.status().code() == Code::kDeadlineExceeded);
  auto missing = f.rt->exec(id, {"no-such-program-orch"}, 20s);
  CHECK(missing.status().code() == Code::kInvalidArgument);
  CHECK(f.rt->exec("process://nope", {"true"}, 1s).status().code() == Code::kNotFound);
  REQUIRE(f.rt->stop_container(id, true).ok());
  f.wait_exited(id);
  CHECK(f.rt->exec(id, {"true"}, 1s).status().code() == Code::kUnavailable);
}

TEST_CASE("the container sees its env, its working directory and its own default directory") {
  Fixture f;
  auto pod = f.pod("env");
  TempDir work;
  auto c = f.container(pod, "main", "busybox", {"sh", "-c", "echo \"$POD_NAME $FOO\"; pwd"});
  c.env.emplace_back("FOO", "bar baz");
  c.container.working_dir = work.path;
  std::string id = f.start(pod, c);
  f.wait_exited(id);
  std::string log = read_file(c.log_path);
  CHECK(log.find("stdout F env bar baz\n") != std::string::npos);
  CHECK(log.find("stdout F " + fs::canonical(work.path).string() + "\n") != std::string::npos);

  // Without a workingDir, each container gets its own directory under the pod directory.
  auto d = f.container(pod, "second", "busybox", {"pwd"});
  std::string id2 = f.start(pod, d);
  f.wait_exited(id2);
  std::string log2 = read_file(d.log_path);
  CHECK(log2.find(f.root.path) != std::string::npos);
  CHECK(log2.find("/second\n") != std::string::npos);
}

TEST_CASE("an emptyDir volume is shared by the containers of a pod") {
  bool use_namespaces = true;
  SUBCASE("in a private mount namespace where the kernel allows it") { use_namespaces = true; }
  SUBCASE("through ORCH_VOLUME_<NAME> without namespaces") { use_namespaces = false; }
  Fixture f(10 * 1024 * 1024, use_namespaces);
  if (!use_namespaces) CHECK(f.rt->volume_mode() == orch::agent::VolumeMode::kEnvironment);
  auto pod = f.pod("volumes");
  TempDir mount_point;  // exists on the host, so it can be a mountPath
  orch::api::Volume v;
  v.name = "shared-data";
  v.empty_dir = orch::api::EmptyDirVolumeSource{};
  pod.volumes.push_back(v);
  orch::api::VolumeMount vm;
  vm.name = "shared-data";
  vm.mount_path = mount_point.path;
  bool mounted = f.rt->volume_mode() != orch::agent::VolumeMode::kEnvironment;
  std::string where = mounted ? mount_point.path : "$ORCH_VOLUME_SHARED_DATA";

  auto writer = f.container(pod, "writer", "busybox",
                            {"sh", "-c", "echo written-by-writer > " + where + "/file"});
  writer.container.volume_mounts.push_back(vm);
  auto reader = f.container(pod, "reader", "busybox", {"sh", "-c", "cat " + where + "/file"});
  reader.container.volume_mounts.push_back(vm);

  std::string w = f.start(pod, writer);
  CHECK(f.wait_exited(w).exit_code == 0);
  std::string r = f.start(pod, reader);
  CHECK(f.wait_exited(r).exit_code == 0);
  CHECK(read_file(reader.log_path).find("stdout F written-by-writer\n") != std::string::npos);
  // The data is in the pod's emptyDir, not in the host's directory at the mountPath.
  std::string host_file = f.rt->empty_dir_path(pod.uid, "shared-data") + "/file";
  CHECK(read_file(host_file) == "written-by-writer\n");
  CHECK_FALSE(fs::exists(mount_point.path + "/file"));

  SUBCASE("a mountPath missing on the host falls back to the environment variable") {
    orch::api::VolumeMount missing;
    missing.name = "shared-data";
    missing.mount_path = "/orch-no-such-dir/data";
    auto c = f.container(pod, "fallback", "busybox",
                         {"sh", "-c", "cat \"$ORCH_VOLUME_SHARED_DATA/file\"; sleep 1000"});
    c.container.volume_mounts.push_back(missing);
    std::string id = f.start(pod, c);
    auto st = f.rt->container_status(id);
    REQUIRE(st.ok());
    CHECK(st->message.find("volumes not mounted") != std::string::npos);
    CHECK(st->message.find("ORCH_VOLUME_SHARED_DATA") != std::string::npos);
    CHECK(wait_for(
        [&] { return read_file(c.log_path).find("written-by-writer") != std::string::npos; }));
  }
  SUBCASE("exec sees the volume where the container does") {
    auto c = f.container(pod, "sleeper", "busybox", {"sleep", "1000"});
    c.container.volume_mounts.push_back(vm);
    std::string id = f.start(pod, c);
    // While it runs, its status says when the volume could not be mounted.
    auto info = f.rt->container_status(id);
    REQUIRE(info.ok());
    CHECK((info->message.find("volumes not mounted") != std::string::npos) == !mounted);
    auto r = f.rt->exec(id, {"sh", "-c", "cat " + where + "/file"}, 20s);
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    CHECK(r->output == "written-by-writer\n");
    CHECK(r->exit_code == 0);
  }
  // remove_pod deletes the emptyDir and the pod's logs.
  REQUIRE(f.rt->remove_pod(pod.uid).ok());
  CHECK_FALSE(fs::exists(host_file));
  CHECK_FALSE(fs::exists(reader.log_path));
  CHECK(f.rt->list_containers(pod.uid).empty());
}

TEST_CASE("the log file rotates at its size limit, keeping one rotated file") {
  Fixture f(4096);
  auto pod = f.pod("rotate");
  auto c =
      f.container(pod, "main", "busybox",
                  {"sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); done"});
  std::string id = f.start(pod, c);
  f.wait_exited(id);
  REQUIRE(fs::exists(c.log_path + ".1"));
  CHECK(fs::file_size(c.log_path + ".1") >= 4096);
  CHECK(fs::file_size(c.log_path + ".1") < 4096 + 200);
  CHECK(read_file(c.log_path).find("line-399") != std::string::npos);
  for (const auto& l : lines_of(read_file(c.log_path + ".1"))) {
    CHECK_MESSAGE(std::regex_match(l, kCriLine), l);
  }
}

TEST_CASE("lines longer than 16 KiB become partial records") {
  Fixture f;
  auto pod = f.pod("partial");
  auto c = f.container(pod, "main", "busybox",
                       {"sh", "-c", "head -c 20000 /dev/zero | tr '\\0' x; echo"});
  std::string id = f.start(pod, c);
  f.wait_exited(id);
  auto lines = lines_of(read_file(c.log_path));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find(" stdout P ") != std::string::npos);
  CHECK(lines[1].find(" stdout F ") != std::string::npos);
}

TEST_CASE("a memory limit is enforced (RLIMIT_DATA without a delegated cgroup)") {
  Fixture f;
  auto pod = f.pod("limits");
  auto c = f.container(pod, "main", "busybox",
                       {"sh", "-c", "ulimit -d; cat /proc/self/cgroup | grep '^0::'"});
  c.container.resources.limits["memory"] = *orch::api::Quantity::parse("64Mi");
  std::string id = f.start(pod, c);
  f.wait_exited(id);
  std::string log = read_file(c.log_path);
  if (f.rt->limit_mode() == orch::agent::LimitMode::kRlimit) {
    CHECK(log.find("stdout F 65536\n") != std::string::npos);  // KiB
  } else {
    CHECK(log.find("stdout F 0::/") != std::string::npos);
  }
}

TEST_CASE("an imported directory image runs with its entrypoint, cmd, env and workingDir") {
  Fixture f;
  TempDir image_dir;
  fs::create_directories(image_dir.path + "/data");
  {
    std::ofstream(image_dir.path + "/run.sh") << "#!/bin/sh\necho \"$GREETING $1 $(pwd)\"\n";
    fs::permissions(image_dir.path + "/run.sh", fs::perms::owner_all);
    std::ofstream(image_dir.path + "/image.json")
        << R"({"entrypoint":["./run.sh"],"cmd":["default-arg"],"env":["GREETING=hi"],)"
        << R"("workingDir":"data"})";
  }
  REQUIRE(f.rt->import_image("example.com/tools/greeter:1.0", image_dir.path).ok());
  auto pod = f.pod("imported");
  auto c = f.container(pod, "main", "example.com/tools/greeter:1.0");
  std::string id = f.start(pod, c);
  CHECK(f.wait_exited(id).exit_code == 0);
  std::string data_dir = fs::canonical(image_dir.path + "/data").string();
  CHECK(read_file(c.log_path).find("stdout F hi default-arg " + data_dir + "\n") !=
        std::string::npos);
  // args replace the image's cmd.
  auto d = f.container(pod, "args", "example.com/tools/greeter:1.0", {}, {"given"});
  std::string id2 = f.start(pod, d);
  f.wait_exited(id2);
  CHECK(read_file(d.log_path).find("stdout F hi given ") != std::string::npos);
  // The import survives a new runtime on the same root.
  f.open();
  CHECK(f.rt->pull_image("example.com/tools/greeter:1.0").ok());
  CHECK(f.rt->import_image("bad", "/orch-no-such-dir").code() == Code::kInvalidArgument);
}

TEST_CASE("an unknown image is NotFound") {
  Fixture f;
  auto r = f.rt->pull_image("foo:1");
  CHECK(r.status().code() == Code::kNotFound);
  CHECK(r.status().message() == "image \"foo:1\" not found in the node's image catalog");
  CHECK(f.rt->pull_image("kuard:no-such-tag").status().code() == Code::kNotFound);
  auto pod = f.pod("unknown");
  auto c = f.container(pod, "main", "foo:1");
  CHECK(f.rt->start_container(pod, c).status().code() == Code::kNotFound);
  CHECK(f.rt->pull_image("docker.io/library/busybox:1.36").ok());
  CHECK(f.rt->pull_image("kuard").ok());
}

TEST_CASE("a new runtime on the same root adopts running containers and sees dead ones") {
  Fixture f;
  auto pod = f.pod("adopt");
  auto keep = f.container(pod, "keep", "busybox", {"sh", "-c", "echo before; sleep 1000"});
  auto die = f.container(pod, "die", "busybox", {"sleep", "1000"});
  auto done = f.container(pod, "done", "busybox", {"sh", "-c", "exit 7"});
  std::string keep_id = f.start(pod, keep);
  std::string die_id = f.start(pod, die);
  std::string done_id = f.start(pod, done);
  f.wait_exited(done_id);
  auto [die_shim, die_pid] = f.rt->pids_for_test(die_id);
  auto [keep_shim, keep_pid] = f.rt->pids_for_test(keep_id);
  REQUIRE(die_pid > 0);
  REQUIRE(keep_pid > 0);

  // The agent goes away; one container dies while no runtime watches.
  f.rt.reset();
  REQUIRE(::kill(die_pid, SIGKILL) == 0);
  REQUIRE(wait_for([&] {
    return fs::exists(f.root.path + "/runtime/pods/" + pod.uid + "/containers/" +
                      die_id.substr(std::string("process://").size()) + "/exit");
  }));
  CHECK(process_exists(keep_pid));

  f.open();
  auto all = f.rt->list_containers(pod.uid);
  CHECK(all.size() == 3);
  auto keep_info = f.rt->container_status(keep_id);
  REQUIRE(keep_info.ok());
  CHECK(keep_info->state == ContainerState::kRunning);
  CHECK(keep_info->name == "keep");
  auto die_info = f.rt->container_status(die_id);
  REQUIRE(die_info.ok());
  CHECK(die_info->state == ContainerState::kExited);
  CHECK(die_info->exit_code == 137);
  CHECK(die_info->reason == "Error");
  auto done_info = f.rt->container_status(done_id);
  REQUIRE(done_info.ok());
  CHECK(done_info->exit_code == 7);

  // The adopted container still logs, is stopped by the new runtime, and its exit is reported.
  auto r = f.rt->exec(keep_id, {"sh", "-c", "echo exec-ok"}, 20s);
  REQUIRE(r.ok());
  CHECK(r->output == "exec-ok\n");
  REQUIRE(f.rt->stop_container(keep_id, false).ok());
  auto info = f.wait_exited(keep_id);
  CHECK(info.exit_code == 128 + SIGTERM);
  CHECK(wait_for([&] { return f.saw_exit(keep_id); }));
  CHECK(read_file(keep.log_path).find("stdout F before\n") != std::string::npos);
  CHECK(wait_for([&] { return !process_exists(keep_shim) && !process_exists(keep_pid); }));
  CHECK_FALSE(process_exists(die_shim));
}

TEST_CASE("remove_pod kills what still runs and leaves no process") {
  Fixture f;
  auto pod = f.pod("remove");
  auto c = f.container(pod, "main", "busybox", {"sh", "-c", "sleep 1000 & sleep 1000"});
  std::string id = f.start(pod, c);
  auto [shim, pid] = f.rt->pids_for_test(id);
  REQUIRE(f.rt->remove_pod(pod.uid).ok());
  CHECK_FALSE(process_exists(shim));
  CHECK_FALSE(process_exists(pid));
  CHECK(f.rt->list_containers(pod.uid).empty());
  CHECK(f.rt->container_status(id).status().code() == Code::kNotFound);
  CHECK(f.rt->remove_pod(pod.uid).ok());  // idempotent
}

TEST_CASE("image names normalize like Docker's") {
  struct Case {
    std::string name;
    std::string repo;
    std::string tag;
  };
  const std::vector<Case> cases = {
      {"busybox", "busybox", "latest"},
      {"busybox:1.36", "busybox", "1.36"},
      {"docker.io/library/busybox:1.36", "busybox", "1.36"},
      {"library/busybox", "busybox", "latest"},
      {"gcr.io/kuar-demo/kuard-amd64:blue", "gcr.io/kuar-demo/kuard-amd64", "blue"},
      {"kuard:green@sha256:0123", "kuard", "green"},
      {"localhost:5000/app", "localhost:5000/app", "latest"},
      {"localhost:5000/app:2", "localhost:5000/app", "2"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name.c_str()) {
      auto [repo, tag] = orch::agent::normalize_image_name(c.name);
      CHECK(repo == c.repo);
      CHECK(tag == c.tag);
    }
  }
}

TEST_CASE("kuard's tags decide its version; its names resolve to one image per version") {
  Fixture f;
  struct Case {
    std::string name;
    std::string version;
  };
  const std::vector<Case> cases = {
      {"kuard", "blue"},
      {"kuard:blue", "blue"},
      {"kuard:green", "green"},
      {"gcr.io/kuar-demo/kuard-amd64:blue", "blue"},
      {"gcr.io/kuar-demo/kuard-amd64:green", "green"},
      {"gcr.io/kuar-demo/kuard-amd64:2", "green"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name.c_str()) {
      auto image = f.rt->catalog().resolve(c.name);
      REQUIRE_MESSAGE(image.ok(), image.status().to_string());
      REQUIRE(image->env.size() == 1);
      CHECK(image->env[0] == std::pair<std::string, std::string>("KUARD_VERSION", c.version));
      CHECK(image->id == f.rt->catalog().resolve("kuard:" + c.version)->id);
      CHECK(image->entrypoint == std::vector<std::string>{f.rt->catalog().kuard_path()});
    }
  }
  CHECK(f.rt->catalog().resolve("kuard:blue")->id != f.rt->catalog().resolve("kuard:green")->id);
}

TEST_CASE("containers start concurrently from many threads") {
  Fixture f;
  auto pod = f.pod("many");
  REQUIRE(f.rt->run_pod(pod).ok());
  constexpr int kThreads = 8;
  std::vector<std::string> ids(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto c = f.container(
          pod, "c" + std::to_string(i), "busybox",
          {"sh", "-c", "echo started-" + std::to_string(i) + "; exit " + std::to_string(i)});
      auto id = f.rt->start_container(pod, c);
      if (id.ok()) {
        ids[i] = *id;
      } else {
        errors[i] = id.status().to_string();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    INFO("container " << i);
    REQUIRE(errors[i].empty());
    auto info = f.wait_exited(ids[i]);
    CHECK(info.exit_code == i);
    CHECK(wait_for([&] { return f.saw_exit(ids[i]); }));
  }
  CHECK(f.rt->list_containers(pod.uid).size() == kThreads);
}

TEST_CASE("a runtime in a new process (a restarted agent) adopts what the old one started") {
  Fixture f;
  auto pod = f.pod("restarted");
  auto c = f.container(pod, "main", "busybox", {"sh", "-c", "echo first-agent; sleep 1000"});
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  // The "old agent": a child process that starts the container and dies without cleaning up.
  pid_t agent = ::fork();
  REQUIRE(agent >= 0);
  if (agent == 0) {
    ::close(pipe_fds[0]);
    ProcessRuntimeOptions opts;
    opts.root_dir = f.root.path + "/runtime";
    auto rt = ProcessRuntime::create(opts);
    std::string out = "error";
    if (rt.ok() && (*rt)->run_pod(pod).ok()) {
      auto id = (*rt)->start_container(pod, c);
      if (id.ok()) {
        auto [shim, pid] = (*rt)->pids_for_test(*id);
        out = *id + " " + std::to_string(shim) + " " + std::to_string(pid);
      }
    }
    [[maybe_unused]] auto n = ::write(pipe_fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string got;
  char buf[256];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buf, sizeof buf)) > 0)
    got.append(buf, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  REQUIRE(::waitpid(agent, &status, 0) == agent);
  std::istringstream in(got);
  std::string id;
  int shim = 0;
  int pid = 0;
  in >> id >> shim >> pid;
  REQUIRE_MESSAGE(id.starts_with("process://"), got);
  CHECK(process_exists(shim));
  CHECK(process_exists(pid));

  // The new agent: a fresh runtime object in this process (the old shim is not our child).
  f.open();
  auto info = f.rt->container_status(id);
  REQUIRE(info.ok());
  CHECK(info->state == ContainerState::kRunning);
  CHECK(info->name == "main");
  REQUIRE(f.rt->stop_container(id, false).ok());
  auto exited = f.wait_exited(id);
  CHECK(exited.exit_code == 128 + SIGTERM);
  CHECK(wait_for([&] { return f.saw_exit(id); }));
  CHECK(wait_for([&] { return !process_exists(shim) && !process_exists(pid); }));
  CHECK(read_file(c.log_path).find("stdout F first-agent\n") != std::string::npos);
}

#if !defined(__SANITIZE_ADDRESS__)  // ASan's shadow memory does not fit under RLIMIT_DATA
TEST_CASE("kuard serves concurrent requests under a 64Mi memory limit") {
  Fixture f;
  auto pod = f.pod("kuard-limited");
  auto c = f.container(pod, "kuard", "kuard:blue");
  c.container.resources.limits["memory"] = *orch::api::Quantity::parse("64Mi");
  std::string id = f.start(pod, c);
  REQUIRE(wait_for([&] {
    auto page = http_get(pod.pod_ip, 8080, "/ready");
    return page.has_value() && page->find("200 OK") != std::string::npos;
  }));
  constexpr int kClients = 16;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&] {
      auto page = http_get(pod.pod_ip, 8080, "/");
      if (page && page->find(">blue<") != std::string::npos) ++ok;
    });
  }
  for (auto& t : clients) t.join();
  CHECK(ok == kClients);
  auto info = f.rt->container_status(id);
  REQUIRE(info.ok());
  CHECK(info->state == ContainerState::kRunning);
}
#endif
