// scheduler_bench: how fast does the scheduler bind pods, in the shape of Kubernetes'
// scheduler_perf SchedulingBasic? In-process API server on a SQLite store in a temp dir, N Node
// objects (no agents), then M pods created by a few client threads; a separate pod informer (a
// watch) records when each pod shows up bound.
//
// Prints per shape: pods/s from the first creation to the last binding, p50/p99/max of per-pod
// latency (creation sent -> binding seen in the watch), scheduling attempts, peak RSS; beside it
// the published scheduler_perf figure (SchedulingBasic, 5,000 nodes: 680-810 pods/s) and the
// store's raw write rate measured in the same run (N sequential Store::create calls of pod-sized
// values on a fresh SQLite store in the same temp dir), since every binding is one such write
// and so is every pod creation.
//
// Flags:
//   --shape NxM     nodes x pods, repeatable (e.g. --shape 5000x50000). Default: 100x10000.
//   --all           the scheduler_perf shapes 100x10000, 1000x10000, 5000x10000, 5000x50000.
//   --binders K     binder threads. Default: 16.
//   --creators C    pod-creating client threads. Default: 16.
//   --precreate     create every pod before the scheduler starts, so pods/s is the scheduler's
//                   own rate (scheduling + binding writes), not the creation rate; latency is
//                   then from the scheduler's start. Default: off (scheduler_perf's way).
//   --percentage P  percentageOfNodesToScore (0: adaptive). Default: 0.
//   --store-writes W  sequential creates for the raw write rate. Default: 5000.
//   --dir DIR       where temp dirs go. Default: $TMPDIR or /tmp.
//   --timeout S     per shape. Default: 600.
//
// Thread-safety: main thread plus the threads each shape starts and joins.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <stdlib.h>

#include "orch/apiserver/api_server.hpp"
#include "orch/client/client.hpp"
#include "orch/client/in_process_transport.hpp"
#include "orch/client/informer.hpp"
#include "orch/scheduler/scheduler.hpp"
#include "orch/store/sqlite_store.hpp"

namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using orch::client::Client;

struct Shape {
  int nodes;
  int pods;
};

struct Flags {
  std::vector<Shape> shapes;
  int binders = 16;
  int creators = 16;
  bool precreate = false;
  int percentage = 0;
  int store_writes = 5000;
  std::string dir;
  int timeout_s = 600;
};

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "scheduler_bench: %s\n", why.c_str());
  std::exit(1);
}

Flags parse_flags(int argc, char** argv) {
  Flags f;
  const char* tmp = std::getenv("TMPDIR");
  f.dir = tmp && *tmp ? tmp : "/tmp";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--shape") {
      std::string v = val();
      auto x = v.find('x');
      if (x == std::string::npos) die("--shape wants NxM");
      f.shapes.push_back({std::atoi(v.substr(0, x).c_str()), std::atoi(v.substr(x + 1).c_str())});
    } else if (a == "--all") {
      f.shapes = {{100, 10000}, {1000, 10000}, {5000, 10000}, {5000, 50000}};
    } else if (a == "--precreate") {
      f.precreate = true;
    } else if (a == "--binders") {
      f.binders = std::atoi(val().c_str());
    } else if (a == "--creators") {
      f.creators = std::atoi(val().c_str());
    } else if (a == "--percentage") {
      f.percentage = std::atoi(val().c_str());
    } else if (a == "--store-writes") {
      f.store_writes = std::atoi(val().c_str());
    } else if (a == "--dir") {
      f.dir = val();
    } else if (a == "--timeout") {
      f.timeout_s = std::atoi(val().c_str());
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "scheduler_bench [--shape NxM]... [--all] [--binders K] [--creators C] [--percentage P]\n"
          "                [--store-writes W] [--dir DIR] [--timeout S]\n");
      std::exit(0);
    } else {
      die("unknown flag " + a);
    }
  }
  if (f.shapes.empty()) f.shapes = {{100, 10000}};
  return f;
}

class TempDir {
 public:
  explicit TempDir(const std::string& base) {
    std::string pattern = base + "/orch-scheduler-bench-XXXXXX";
    if (!::mkdtemp(pattern.data())) die("mkdtemp failed in " + base);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

long peak_rss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

json::value node_object(int i) {
  std::string name = "node-" + std::to_string(i);
  json::object res{{"cpu", "32"}, {"memory", "128Gi"}, {"pods", "110"}};
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", json::object{{"name", name},
                                {"labels", json::object{{"kubernetes.io/hostname", name},
                                                        {"topology.kubernetes.io/zone",
                                                         "zone-" + std::to_string(i % 3)}}}}},
      {"spec", json::object{}},
      {"status", json::object{{"capacity", res},
                              {"allocatable", res},
                              {"conditions", json::array{json::object{{"type", "Ready"},
                                                                      {"status", "True"}}}}}}};
}

// scheduler_perf's pod-default.yaml: one container, 100m cpu and 500Mi memory requested.
json::value pod_object(int i) {
  json::object amounts{{"cpu", "100m"}, {"memory", "500Mi"}};
  json::object container{{"name", "pause"},
                         {"image", "registry.k8s.io/pause:3.9"},
                         {"ports", json::array{json::object{{"containerPort", 80}}}},
                         {"resources", json::object{{"requests", amounts}, {"limits", amounts}}}};
  return json::object{{"apiVersion", "v1"},
                      {"kind", "Pod"},
                      {"metadata", json::object{{"name", "pod-" + std::to_string(i)}}},
                      {"spec", json::object{{"containers", json::array{container}}}}};
}

// Runs `n` jobs over `threads` threads; job(i) for i in [0, n).
template <typename F>
void parallel(int n, int threads, F job) {
  std::atomic<int> next{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < n;) job(i);
    });
  }
  for (auto& t : ts) t.join();
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// N sequential creates of pod-sized values on a fresh store: the raw write rate.
double store_write_rate(const std::string& dir, int writes) {
  orch::store::SqliteOptions so;
  so.path = dir + "/raw.db";
  so.auto_compaction_interval = std::chrono::milliseconds(0);
  auto st = orch::store::open_sqlite_store(so);
  if (!st.ok()) die("open store: " + st.status().to_string());
  std::string value = json::serialize(pod_object(0));
  auto t0 = Clock::now();
  for (int i = 0; i < writes; ++i) {
    auto r = (*st)->create("/registry/core/pods/default/raw-" + std::to_string(i), value);
    if (!r.ok()) die("store create: " + r.status().to_string());
  }
  return writes / std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Result {
  double pods_per_s = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  double create_s = 0, total_s = 0;
  std::uint64_t attempts = 0;
  int bound = 0;
  double cycle_us = 0;  // mean scheduling cycle (filter + score + assume)
  double bind_ms = 0;   // mean binding call
};

Result run_shape(const Flags& flags, const Shape& shape, const std::string& dir) {
  orch::store::SqliteOptions so;
  so.path = dir + "/state.db";
  so.auto_compaction_interval = std::chrono::milliseconds(0);
  auto store = orch::store::open_sqlite_store(so);
  if (!store.ok()) die("open store: " + store.status().to_string());
  orch::apiserver::ApiServerOptions ao;
  ao.serve_http = false;
  ao.watch_buffer = 200000;
  auto server = orch::apiserver::ApiServer::start(**store, ao);
  if (!server.ok()) die("start api server: " + server.status().to_string());
  auto client = std::make_shared<Client>(std::shared_ptr<orch::client::Transport>(
      orch::client::make_in_process_transport((*server)->handler())));

  parallel(shape.nodes, 4, [&](int i) {
    auto r = client->create(orch::client::resources::kNodes, "", node_object(i));
    if (!r.ok()) die("create node: " + r.status().to_string());
  });

  // The observer: a pod informer recording when each pod is first seen bound.
  const int m = shape.pods;
  double r_create_s = 0;
  std::vector<Clock::time_point> created(m), bound(m);
  std::vector<std::atomic<bool>> seen(m);
  std::atomic<int> bound_count{0};
  orch::client::Informer observer(client, orch::client::resources::kPods);
  auto record = [&](const orch::client::SharedObject& o) {
    const auto* spec = o->as_object().if_contains("spec");
    if (!spec) return;
    const auto* nn = spec->as_object().if_contains("nodeName");
    if (!nn || !nn->is_string() || nn->get_string().empty()) return;
    auto name = orch::client::object_name(*o);
    if (name.size() < 5) return;
    int i = std::atoi(std::string(name.substr(4)).c_str());
    if (i < 0 || i >= m) return;
    if (!seen[i].exchange(true)) {
      bound[i] = Clock::now();
      ++bound_count;
    }
  };
  orch::client::EventHandlers h;
  h.on_add = record;
  h.on_update = [&](const orch::client::SharedObject&, const orch::client::SharedObject& n) { record(n); };
  (void)observer.add_event_handler(h);
  if (!observer.start().ok()) die("observer start");
  observer.wait_for_sync(std::chrono::seconds(30));

  auto create_pods = [&] {
    parallel(m, flags.creators, [&](int i) {
      created[i] = Clock::now();
      auto r = client->create(orch::client::resources::kPods, "default", pod_object(i));
      if (!r.ok()) die("create pod: " + r.status().to_string());
    });
  };
  if (flags.precreate) {
    auto p0 = Clock::now();
    create_pods();
    r_create_s = std::chrono::duration<double>(Clock::now() - p0).count();
  }

  orch::scheduler::SchedulerOptions opts;
  opts.binder_threads = flags.binders;
  opts.percentage_of_nodes_to_score = flags.percentage;
  auto sched = orch::scheduler::Scheduler::create(client, opts);
  if (!sched.ok()) die("scheduler: " + sched.status().to_string());
  if (auto s = (*sched)->start(); !s.ok()) die("scheduler start: " + s.to_string());

  const auto t0 = Clock::now();
  if (flags.precreate) {
    std::fill(created.begin(), created.end(), t0);
  } else {
    create_pods();
    r_create_s = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  const auto deadline = t0 + std::chrono::seconds(flags.timeout_s);
  while (bound_count.load() < m && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Result r;
  r.bound = bound_count.load();
  auto st = (*sched)->stats();
  r.attempts = st.attempts;
  if (st.attempts) r.cycle_us = st.cycle_seconds * 1e6 / static_cast<double>(st.attempts);
  if (st.scheduled) r.bind_ms = st.bind_seconds * 1e3 / static_cast<double>(st.scheduled);
  (*sched)->stop();
  observer.stop();
  Clock::time_point last = t0;
  std::vector<double> lat;
  lat.reserve(m);
  for (int i = 0; i < m; ++i) {
    if (!seen[i]) continue;
    last = std::max(last, bound[i]);
    lat.push_back(ms(bound[i] - created[i]));
  }
  std::sort(lat.begin(), lat.end());
  if (!lat.empty()) {
    r.p50_ms = lat[lat.size() / 2];
    r.p99_ms = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)];
    r.max_ms = lat.back();
  }
  r.create_s = r_create_s;
  r.total_s = std::chrono::duration<double>(last - t0).count();
  r.pods_per_s = r.total_s > 0 ? r.bound / r.total_s : 0;
  sched->reset();
  (*server)->stop();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = parse_flags(argc, argv);
  TempDir dir(flags.dir);
  std::filesystem::create_directories(dir.path() + "/raw");
  const double raw = store_write_rate(dir.path() + "/raw", flags.store_writes);
  std::printf("store raw write rate: %.0f sequential creates/s (%d pod-sized values, SQLite, %s)\n",
              raw, flags.store_writes, dir.path().c_str());
  std::printf("published scheduler_perf SchedulingBasic: 680-810 pods/s at 5,000 nodes\n");
  std::printf("binders %d, creators %d, %s, percentageOfNodesToScore %s\n\n", flags.binders,
              flags.creators, flags.precreate ? "pods created before the scheduler starts" : "pods created while scheduling", flags.percentage ? std::to_string(flags.percentage).c_str() : "adaptive");
  std::printf("%-13s %9s %8s %9s %9s %9s %9s %9s %10s %9s %9s %9s\n", "nodes x pods", "pods/s",
              "vs 745", "vs store", "p50 ms", "p99 ms", "max ms", "create s", "attempts",
              "cycle us", "bind ms", "rss MiB");
  for (const auto& shape : flags.shapes) {
    std::string sub = dir.path() + "/shape-" + std::to_string(shape.nodes) + "x" + std::to_string(shape.pods);
    std::filesystem::create_directories(sub);
    Result r = run_shape(flags, shape, sub);
    std::printf("%5dx%-7d %9.0f %7.2fx %8.2fx %9.1f %9.1f %9.1f %9.2f %10llu %9.1f %9.2f %9.0f%s\n",
                shape.nodes, shape.pods, r.pods_per_s, r.pods_per_s / 745.0, r.pods_per_s / raw,
                r.p50_ms, r.p99_ms, r.max_ms, r.create_s,
                static_cast<unsigned long long>(r.attempts), r.cycle_us, r.bind_ms,
                peak_rss_kb() / 1024.0,
                r.bound < shape.pods ? ("  (only " + std::to_string(r.bound) + " bound)").c_str() : "");
    std::fflush(stdout);
    std::filesystem::remove_all(sub);
  }
  return 0;
}
