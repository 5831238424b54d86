// proxy_bench: requests/s and latency through our Forwarder (the engine of the service proxy)
// against haproxy in TCP mode and against one backend directly, in the same run, with wrk.
//
//   proxy_bench [--seconds 5] [--connections 32] [--threads 2] [--proxy-threads 0]
//
// --threads is wrk's; --proxy-threads the network threads of our forwarder and of haproxy
// (nbthread), the same for both (0: one per core).
//
// Three kuard backends on 127.0.0.1 (free ports). Each target gets two wrk runs: keep-alive
// (wrk's default) and a new connection per request ("Connection: close"). Prints requests/s,
// p50 and p99 latency, and our ratio to haproxy. Needs wrk, haproxy and the kuard binary
// ($ORCH_KUARD_PATH or found next to the build); a missing tool is reported and skipped.
#include <fcntl.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "orch/agent/image_catalog.hpp"
#include "orch/proxy/forwarder.hpp"
#include "tcp_test_util.hpp"

namespace {

struct Result {
  double rps = 0, p50_ms = 0, p99_ms = 0;
  double cpu_us = 0;  // the proxy's CPU time (user + system) per request, microseconds
  long errors = 0;
  bool ok = false;
};

pid_t spawn(const std::vector<std::string>& argv) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

void stop(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 50; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

double to_ms(const std::string& v, const std::string& unit) {
  double x = std::atof(v.c_str());
  if (unit == "us") return x / 1000;
  if (unit == "s") return x * 1000;
  return x;
}

Result wrk(const std::string& url, int seconds, int connections, int threads, bool close) {
  std::string cmd = fmt::format("wrk --latency -t{} -c{} -d{}s {} {} 2>&1", threads, connections,
                                seconds, close ? "-H 'Connection: close'" : "", url);
  FILE* p = ::popen(cmd.c_str(), "r");
  Result r;
  if (!p) return r;
  std::string out;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), p)) out += buf.data();
  ::pclose(p);
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"(Requests/sec:\s+([\d.]+))"))) {
    r.rps = std::atof(m[1].str().c_str());
    r.ok = true;
  }
  if (std::regex_search(out, m, std::regex(R"(50%\s+([\d.]+)(us|ms|s))"))) r.p50_ms = to_ms(m[1], m[2]);
  if (std::regex_search(out, m, std::regex(R"(99%\s+([\d.]+)(us|ms|s))"))) r.p99_ms = to_ms(m[1], m[2]);
  if (std::regex_search(out, m, std::regex(R"(Non-2xx or 3xx responses:\s+(\d+))"))) r.errors += std::atol(m[1].str().c_str());
  if (std::regex_search(out, m, std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))"))) {
    r.errors += std::atol(m[1].str().c_str()) + std::atol(m[4].str().c_str());
  }
  return r;
}

// CPU seconds (user + system) used so far by process `pid`, or by this process when pid is 0.
double cpu_seconds(pid_t pid) {
  if (pid == 0) {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return tv(ru.ru_utime) + tv(ru.ru_stime);
  }
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close_paren + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {  // fields 14 and 15: utime, stime in clock ticks
    if (i == 14) utime = std::atof(field.c_str());
    if (i == 15) {
      stime = std::atof(field.c_str());
      break;
    }
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// wrk against `url` while measuring the CPU time of the proxy `pid` (0: this process).
Result measured(pid_t pid, const std::string& url, int seconds, int connections, int threads,
                bool close) {
  const double before = cpu_seconds(pid);
  Result r = wrk(url, seconds, connections, threads, close);
  const double used = cpu_seconds(pid) - before;
  if (r.rps > 0) r.cpu_us = used * 1e6 / (r.rps * seconds);
  return r;
}

bool have(const char* tool) {
  return std::system(fmt::format("command -v {} >/dev/null 2>&1", tool).c_str()) == 0;
}

bool wait_listening(std::uint16_t port) {
  for (int i = 0; i < 250; ++i) {
    orch::testing::TcpClient c(port);
    if (c.connected) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 5, connections = 32, threads = 2, proxy_threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--seconds") seconds = std::atoi(argv[i + 1]);
    else if (a == "--connections") connections = std::atoi(argv[i + 1]);
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--proxy-threads") proxy_threads = std::atoi(argv[i + 1]);
  }
  if (!have("wrk")) {
    std::fprintf(stderr, "proxy_bench: wrk is not installed (apt-get install wrk)\n");
    return 1;
  }
  const std::string kuard = orch::agent::find_kuard_binary();
  if (kuard.empty()) {
    std::fprintf(stderr, "proxy_bench: kuard not found (set ORCH_KUARD_PATH)\n");
    return 1;
  }
  std::vector<std::uint16_t> ports;
  std::vector<pid_t> backends;
  for (int i = 0; i < 3; ++i) {
    ports.push_back(orch::testing::unused_port());
    backends.push_back(spawn({kuard, "--address", fmt::format("127.0.0.1:{}", ports.back())}));
  }
  for (auto p : ports) {
    if (!wait_listening(p)) {
      std::fprintf(stderr, "proxy_bench: a kuard backend did not start\n");
      for (auto pid : backends) stop(pid);
      return 1;
    }
  }

  if (proxy_threads <= 0) proxy_threads = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  auto fwd = orch::proxy::Forwarder::start({.threads = static_cast<unsigned>(proxy_threads)});
  if (!fwd.ok()) return 1;
  orch::proxy::PoolConfig pool;
  for (auto p : ports) pool.backends.push_back({"127.0.0.1", p});
  (*fwd)->set_pool("bench", pool);
  auto ours = (*fwd)->listen("127.0.0.1", 0, "bench");
  if (!ours.ok()) return 1;

  pid_t haproxy = -1;
  std::uint16_t haproxy_port = 0;
  std::string cfg_path;
  if (have("haproxy")) {
    haproxy_port = orch::testing::unused_port();
    cfg_path = (std::filesystem::temp_directory_path() / fmt::format("proxy_bench_{}.cfg", ::getpid())).string();
    std::ofstream cfg(cfg_path);
    cfg << "global\n  maxconn 4096\n  nbthread " << proxy_threads << "\ndefaults\n  mode tcp\n  timeout connect 1s\n"
           "  timeout client 30s\n  timeout server 30s\nfrontend fe\n  bind 127.0.0.1:"
        << haproxy_port << "\n  default_backend be\nbackend be\n  balance roundrobin\n";
    for (std::size_t i = 0; i < ports.size(); ++i) cfg << "  server s" << i << " 127.0.0.1:" << ports[i] << "\n";
    cfg.close();
    haproxy = spawn({"haproxy", "-f", cfg_path});
    if (!wait_listening(haproxy_port)) {
      stop(haproxy);
      haproxy = -1;
    }
  }
  if (haproxy < 0) std::fprintf(stderr, "proxy_bench: haproxy not available; its column is empty\n");

  std::printf("proxy_bench: wrk -t%d -c%d -d%ds, GET /version, 3 kuard backends, %d proxy threads\n",
              threads, connections, seconds, proxy_threads);
  std::printf("%-42s %11s %8s %8s %7s %12s %13s\n", "target", "requests/s", "p50 ms", "p99 ms",
              "errors", "proxy CPU us", "ours/haproxy");
  for (bool close : {false, true}) {
    const char* mode = close ? "new connection each" : "keep-alive";
    Result direct = wrk(fmt::format("http://127.0.0.1:{}/version", ports[0]), seconds, connections, threads, close);
    Result hap = haproxy > 0 ? measured(haproxy, fmt::format("http://127.0.0.1:{}/version", haproxy_port), seconds, connections, threads, close) : Result{};
    Result us = measured(0, fmt::format("http://127.0.0.1:{}/version", *ours), seconds, connections, threads, close);
    auto row = [&](const std::string& name, const Result& r, bool ratio) {
      std::string rt = ratio && hap.ok && hap.rps > 0 ? fmt::format("{:.2f}", r.rps / hap.rps) : "";
      std::string cpu = r.cpu_us > 0 ? fmt::format("{:.1f}", r.cpu_us) : "";
      std::printf("%-42s %11.0f %8.2f %8.2f %7ld %12s %13s\n", name.c_str(), r.rps, r.p50_ms,
                  r.p99_ms, r.errors, cpu.c_str(), rt.c_str());
    };
    row(fmt::format("direct, one backend ({})", mode), direct, false);
    if (hap.ok) row(fmt::format("haproxy tcp ({})", mode), hap, false);
    row(fmt::format("orch proxy ({})", mode), us, true);
  }
  (*fwd)->stop();
  stop(haproxy);
  if (!cfg_path.empty()) std::filesystem::remove(cfg_path);
  for (auto pid : backends) stop(pid);
  return 0;
}
