// harness_bench: what a test harness pays for a real cluster, against the published start times of
// the tools test suites use today.
//
//   harness_bench [--cycles N] [--parallel N] [--idle N]
//
// 1. N cycles (default 50) of: nothing -> a Ready 3-node in-process cluster (process runtime, no
//    socket) -> its first pod (kuard) Running -> destroyed. p50/p99 of each step.
// 2. Clusters per second: --parallel clusters (default 8) started at once from as many threads,
//    from nothing to Ready.
// 3. Memory per idle cluster: RSS growth while --idle 3-node clusters (default 10) sit idle, / N.
// Peers, printed beside ours with the ratio peer/ours: envtest 5 to 15 s (an API server and etcd,
// no pods at all), kind 12 to 17 s, k3s about 50 s — their published start times.
#include <malloc.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "orch/client/resource.hpp"
#include "orch/cluster/cluster.hpp"

namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using orch::cluster::Cluster;
using orch::client::resources::kPods;

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

const json::value kPod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"first"},
  "spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"kuard","image":"kuard"}]}})");

// Starts a Ready 3-node in-process cluster; null on failure (printed).
std::unique_ptr<Cluster> ready_cluster() {
  auto c = Cluster::start({.nodes = 3});
  if (!c.ok() || !(*c)->wait_ready(std::chrono::seconds(30)).ok()) {
    std::fprintf(stderr, "cluster: %s\n", c.ok() ? "not Ready in 30 s" : c.status().to_string().c_str());
    return nullptr;
  }
  return std::move(c).value();
}

bool pod_running(orch::client::Client& c) {
  auto p = c.get(kPods, "default", "first");
  if (!p.ok()) return false;
  const auto* phase = p->at("status").as_object().if_contains("phase");
  return phase && *phase == "Running";
}

struct Peer {
  const char* name;
  double low_s, high_s;
};
constexpr Peer kPeers[] = {{"envtest (API server + etcd, no pods)", 5, 15},
                           {"kind", 12, 17},
                           {"k3s", 50, 50}};

void print_peers(double ours_ms) {
  for (const auto& p : kPeers) {
    if (p.low_s == p.high_s) {
      std::printf("      vs %-38s about %2.0f s: %7.0fx faster\n", p.name, p.low_s, p.low_s * 1000 / ours_ms);
    } else {
      std::printf("      vs %-38s %2.0f to %2.0f s: %5.0fx to %5.0fx faster\n", p.name, p.low_s, p.high_s,
                  p.low_s * 1000 / ours_ms, p.high_s * 1000 / ours_ms);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int cycles = 50, parallel = 8, idle = 10;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : "0";
    if (a == "--cycles") {
      cycles = std::max(1, std::atoi(v)), ++i;
    } else if (a == "--parallel") {
      parallel = std::max(1, std::atoi(v)), ++i;
    } else if (a == "--idle") {
      idle = std::max(1, std::atoi(v)), ++i;
    } else {
      std::fprintf(stderr, "usage: harness_bench [--cycles N] [--parallel N] [--idle N]\n");
      return 2;
    }
  }

  // 1. Cycles.
  std::vector<double> to_ready, to_pod, pod_after_ready, teardown;
  for (int i = 0; i < cycles; ++i) {
    const auto t0 = Clock::now();
    auto cluster = ready_cluster();
    if (!cluster) return 1;
    to_ready.push_back(ms_since(t0));
    auto& c = *cluster->client();
    const auto t1 = Clock::now();
    if (!c.create(kPods, "default", kPod).ok()) return 1;
    while (!pod_running(c)) {
      if (ms_since(t1) > 30'000) {
        std::fprintf(stderr, "the first pod was not Running in 30 s\n");
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    pod_after_ready.push_back(ms_since(t1));
    to_pod.push_back(ms_since(t0));
    const auto t2 = Clock::now();
    cluster.reset();
    teardown.push_back(ms_since(t2));
  }
  std::printf("harness_bench: %d cycles of a 3-node in-process cluster (process runtime)\n", cycles);
  auto line = [](const char* what, const std::vector<double>& v) {
    std::printf("  %-44s p50 %7.1f ms   p99 %7.1f ms\n", what, pct(v, 0.5), pct(v, 0.99));
  };
  line("nothing -> 3 nodes Ready", to_ready);
  print_peers(pct(to_ready, 0.5));
  line("nothing -> first pod (kuard) Running", to_pod);
  print_peers(pct(to_pod, 0.5));
  line("  of which pod create -> Running", pod_after_ready);
  line("teardown (every process, thread, file gone)", teardown);
  std::fflush(stdout);

  // 2. Parallel starts.
  {
    std::vector<std::unique_ptr<Cluster>> clusters(static_cast<std::size_t>(parallel));
    std::vector<std::thread> threads;
    const auto t0 = Clock::now();
    for (int i = 0; i < parallel; ++i) {
      threads.emplace_back([&clusters, i] { clusters[static_cast<std::size_t>(i)] = ready_cluster(); });
    }
    for (auto& t : threads) t.join();
    const double secs = ms_since(t0) / 1000;
    const auto ok = std::count_if(clusters.begin(), clusters.end(), [](auto& c) { return c != nullptr; });
    std::printf("  %d clusters started at once (3 nodes each, to Ready): %.0f ms, %.1f clusters/s\n",
                parallel, secs * 1000, static_cast<double>(ok) / secs);
    const auto t1 = Clock::now();
    threads.clear();
    for (auto& c : clusters) threads.emplace_back([&c] { c.reset(); });
    for (auto& t : threads) t.join();
    std::printf("  ... and stopped at once: %.0f ms\n", ms_since(t1));
  }

  // 3. Memory per idle cluster.
  {
    ::malloc_trim(0);
    const long before = rss_kib();
    std::vector<std::unique_ptr<Cluster>> clusters;
    for (int i = 0; i < idle; ++i) {
      clusters.push_back(ready_cluster());
      if (!clusters.back()) return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const long after = rss_kib();
    std::printf("  memory per idle 3-node cluster: %.1f MiB (RSS growth over %d clusters)\n",
                static_cast<double>(after - before) / 1024.0 / idle, idle);
  }
  return 0;
}
