// pod_startup: how fast pods start, measured from creation to Ready as a watch sees it (the
// Kubernetes pod startup SLO: p99 <= 5 s with pre-pulled images), on an in-process cluster.
//
//   pod_startup [--pods N[,N...]] [--sim-nodes N] [--sim-pods-per-node N]
//
// 1. kuard pods on one node with the process runtime (default 100; the issue's 1,000 with
//    --pods 100,1000): p50/p99/max of creation -> Ready, and pods/s.
// 2. N simulated nodes with M pods each (default 1000 x 30): time from the first create to all
//    Running, and memory per simulated node (RSS growth while adding them / N).
// The peer printed beside ours is the SLO itself.
#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "orch/client/resource.hpp"
#include "orch/client/watch.hpp"
#include "orch/cluster/cluster.hpp"

namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using orch::client::resources::kPods;

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

json::value pod(const std::string& name, const std::string& image) {
  return json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                     R"(","labels":{"bench":"startup"}},"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"c","image":")" +
                     image + R"("}]}})");
}

bool ready(const json::value& p) {
  const auto* st = p.as_object().if_contains("status");
  if (!st || !st->is_object()) return false;
  const auto* conds = st->as_object().if_contains("conditions");
  if (!conds || !conds->is_array()) return false;
  for (const auto& c : conds->as_array()) {
    if (c.at("type") == "Ready" && c.at("status") == "True") return true;
  }
  return false;
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// Creates `n` pods, returns creation->Ready latencies (ms) seen through a watch.
std::vector<double> start_pods(orch::client::Client& c, int n, const std::string& image,
                               std::chrono::seconds limit, double* seconds) {
  auto list = c.list(kPods, "default");
  std::string rv(list->at("metadata").at("resourceVersion").as_string());
  auto w = c.watch(kPods, "default", {.resource_version = rv});
  if (!w.ok()) return {};
  std::mutex mu;
  std::map<std::string, Clock::time_point> created;
  const auto t0 = Clock::now();
  std::thread creator([&] {
    for (int i = 0; i < n; ++i) {
      std::string name = fmt::format("p-{}", i);
      {
        std::lock_guard lock(mu);
        created[name] = Clock::now();
      }
      (void)c.create(kPods, "default", pod(name, image));
    }
  });
  std::vector<double> lat;
  std::set<std::string> done;
  while (static_cast<int>(done.size()) < n && Clock::now() - t0 < limit) {
    auto events = (*w)->next(std::chrono::milliseconds(500));
    if (!events.ok()) break;
    for (const auto& e : *events) {
      if (!e.object) continue;
      std::string name(orch::client::object_name(*e.object));
      if (done.contains(name) || !ready(*e.object)) continue;
      std::lock_guard lock(mu);
      auto it = created.find(name);
      if (it == created.end()) continue;
      lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - it->second).count());
      done.insert(name);
    }
  }
  *seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  creator.join();
  return lat;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> pod_counts{100};
  std::size_t sim_nodes = 1000, sim_pods = 30;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--pods") {
      pod_counts.clear();
      std::string v = next();
      for (std::size_t p = 0; p < v.size();) {
        auto q = v.find(',', p);
        pod_counts.push_back(std::stoi(v.substr(p, q - p)));
        p = q == std::string::npos ? v.size() : q + 1;
      }
    } else if (a == "--sim-nodes") {
      sim_nodes = std::stoul(next());
    } else if (a == "--sim-pods-per-node") {
      sim_pods = std::stoul(next());
    } else {
      std::fprintf(stderr, "usage: pod_startup [--pods N,N] [--sim-nodes N] [--sim-pods-per-node N]\n");
      return 2;
    }
  }

  std::printf("pod_startup: creation -> Ready through a watch (SLO peer: p99 <= 5000 ms)\n");
  for (int n : pod_counts) {
    auto cluster = orch::cluster::Cluster::start({.nodes = 1, .node_capacity = {{"cpu", "64"}, {"memory", "64Gi"}, {"pods", std::to_string(n + 10)}}});
    if (!cluster.ok()) {
      std::fprintf(stderr, "cluster: %s\n", cluster.status().to_string().c_str());
      return 1;
    }
    (void)(*cluster)->wait_ready(std::chrono::seconds(30));
    double secs = 0;
    auto lat = start_pods(*(*cluster)->client(), n, "kuard", std::chrono::seconds(600), &secs);
    std::printf("  %5d kuard pods, 1 process node: %zu Ready in %.1f s (%.0f pods/s); p50 %.0f ms, p99 %.0f ms, max %.0f ms; p99/SLO %.2f\n",
                n, lat.size(), secs, static_cast<double>(lat.size()) / secs, pct(lat, 0.5),
                pct(lat, 0.99), pct(lat, 1.0), pct(lat, 0.99) / 5000.0);
    std::fflush(stdout);
  }

  const long before = rss_kib();
  auto sim = orch::cluster::Cluster::start({.nodes = sim_nodes, .runtime = orch::cluster::RuntimeKind::kSimulated,
                                            .node_capacity = {{"cpu", "32"}, {"memory", "256Gi"}, {"pods", "110"}}});
  if (!sim.ok()) {
    std::fprintf(stderr, "simulated cluster: %s\n", sim.status().to_string().c_str());
    return 1;
  }
  (void)(*sim)->wait_ready(std::chrono::seconds(120));
  const long after = rss_kib();
  double secs = 0;
  const int total = static_cast<int>(sim_nodes * sim_pods);
  auto lat = start_pods(*(*sim)->client(), total, "kuard", std::chrono::seconds(900), &secs);
  std::printf("  %zu simulated nodes x %zu pods: %zu Running+Ready in %.1f s (%.0f pods/s); p50 %.0f ms, p99 %.0f ms; memory per simulated node %.1f KiB\n",
              sim_nodes, sim_pods, lat.size(), secs, static_cast<double>(lat.size()) / secs,
              pct(lat, 0.5), pct(lat, 0.99),
              static_cast<double>(after - before) / static_cast<double>(sim_nodes));
  return 0;
}
