// api_bench: what the HTTP API layer costs over the store it serves.
//
// In one run, for each backend: a SQLite store in a temp dir, then (when etcd is installed) a 1-
// and a 3-member etcd on loopback started by the bench:
//   - creates/s and gets/s through the API server over HTTP/1.1 keep-alive, with 1 and 32
//     concurrent clients, with p50/p99 latency;
//   - the same creates and gets done directly on the store (the peer), and the ratio HTTP/store;
//   - the delay from a write to its event at 100 HTTP watchers (p50/p99);
// and at the end every backend's HTTP rates as ratios to SQLite's.
//
//   api_bench [--ops N] [--watchers N] [--etcd-members 1,3 (0: SQLite only)]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "etcd_processes.hpp"
#include "orch/apiserver/api_server.hpp"
#include "orch/store/sqlite_store.hpp"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using tcp = net::ip::tcp;

struct Stats {
  double per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

Stats summarize(std::vector<double>& lat_ms, double seconds) {
  Stats s;
  if (lat_ms.empty()) return s;
  std::sort(lat_ms.begin(), lat_ms.end());
  s.per_second = static_cast<double>(lat_ms.size()) / seconds;
  s.p50_ms = lat_ms[lat_ms.size() / 2];
  s.p99_ms = lat_ms[std::min(lat_ms.size() - 1, lat_ms.size() * 99 / 100)];
  return s;
}

std::string pod_json(const std::string& name) {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
         R"(","labels":{"app":"bench"}},"spec":{"containers":[{"name":"c","image":"kuard"}]}})";
}

// One keep-alive HTTP connection.
class Conn {
 public:
  explicit Conn(std::uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }
  int request(http::verb verb, const std::string& target, const std::string& body) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(socket_, req);
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res);
    return static_cast<int>(res.result_int());
  }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

template <typename Op>
Stats run_clients(int clients, int ops_per_client, Op op) {
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(clients));
  std::atomic<int> failures{0};
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto& mine = lat[static_cast<std::size_t>(c)];
      mine.reserve(static_cast<std::size_t>(ops_per_client));
      auto state = op.begin(c);
      for (int i = 0; i < ops_per_client; ++i) {
        auto s = Clock::now();
        if (!op.step(state, c, i)) ++failures;
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  if (failures) std::fprintf(stderr, "  (%d operations failed)\n", failures.load());
  return summarize(all, secs);
}

struct HttpCreate {
  std::uint16_t port;
  std::string tag;
  std::unique_ptr<Conn> begin(int) { return std::make_unique<Conn>(port); }
  bool step(std::unique_ptr<Conn>& c, int client, int i) {
    return c->request(http::verb::post, "/api/v1/namespaces/default/pods",
                      pod_json(tag + "-" + std::to_string(client) + "-" + std::to_string(i))) == 201;
  }
};
struct HttpGet {
  std::uint16_t port;
  std::string tag;
  int existing;
  std::unique_ptr<Conn> begin(int) { return std::make_unique<Conn>(port); }
  bool step(std::unique_ptr<Conn>& c, int client, int i) {
    int n = (client * 7919 + i) % existing;
    return c->request(http::verb::get, "/api/v1/namespaces/default/pods/" + tag + "-0-" + std::to_string(n),
                      "") == 200;
  }
};
struct StoreCreate {
  orch::store::Store* store;
  std::string tag;
  int begin(int) { return 0; }
  bool step(int&, int client, int i) {
    std::string name = tag + "-" + std::to_string(client) + "-" + std::to_string(i);
    return store->create("/registry/core/pods/default/" + name, pod_json(name)).ok();
  }
};
struct StoreGet {
  orch::store::Store* store;
  std::string tag;
  int existing;
  int begin(int) { return 0; }
  bool step(int&, int client, int i) {
    int n = (client * 7919 + i) % existing;
    return store->get("/registry/core/pods/default/" + tag + "-0-" + std::to_string(n)).ok();
  }
};

void print_row(const char* what, int clients, const Stats& http_s, const Stats& store_s) {
  std::printf("%-7s %3d clients | http %9.0f/s p50 %7.2f ms p99 %7.2f ms | store %9.0f/s p50 %7.3f ms p99 %7.3f ms | http/store %.2f\n",
              what, clients, http_s.per_second, http_s.p50_ms, http_s.p99_ms, store_s.per_second,
              store_s.p50_ms, store_s.p99_ms,
              store_s.per_second > 0 ? http_s.per_second / store_s.per_second : 0.0);
}

// Delay from a store write acknowledged by the API to its arrival at `watchers` HTTP watches.
Stats watch_delay(std::uint16_t port, int watchers, int writes) {
  std::vector<std::unique_ptr<tcp::socket>> socks;
  std::vector<std::unique_ptr<net::io_context>> iocs;
  for (int w = 0; w < watchers; ++w) {
    iocs.push_back(std::make_unique<net::io_context>());
    auto s = std::make_unique<tcp::socket>(*iocs.back());
    s->connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    std::string req =
        "GET /api/v1/namespaces/default/configmaps?watch=true HTTP/1.1\r\nHost: x\r\n\r\n";
    net::write(*s, net::buffer(req));
    socks.push_back(std::move(s));
  }
  std::mutex mu;
  std::map<std::string, Clock::time_point> sent;
  std::vector<double> lat;
  std::atomic<int> received{0};
  std::vector<std::thread> readers;
  for (int w = 0; w < watchers; ++w) {
    readers.emplace_back([&, w] {
      std::string buf;
      char chunk[65536];
      while (received.load() < watchers * writes) {
        boost::system::error_code ec;
        std::size_t n = socks[static_cast<std::size_t>(w)]->read_some(net::buffer(chunk), ec);
        if (ec) return;
        auto now = Clock::now();
        buf.append(chunk, n);
        std::size_t pos;
        while ((pos = buf.find("\"name\":\"w-")) != std::string::npos) {
          auto end = buf.find('"', pos + 8);
          if (end == std::string::npos) break;
          std::string name = buf.substr(pos + 8, end - pos - 8);
          buf.erase(0, end);
          std::lock_guard lock(mu);
          auto it = sent.find(name);
          if (it != sent.end()) {
            lat.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
            ++received;
          }
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Conn writer(port);
  auto t0 = Clock::now();
  for (int i = 0; i < writes; ++i) {
    std::string name = "w-" + std::to_string(i);
    {
      std::lock_guard lock(mu);
      sent[name] = Clock::now();
    }
    writer.request(http::verb::post, "/api/v1/namespaces/default/configmaps",
                   R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + R"("}})");
  }
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (received.load() < watchers * writes && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& s : socks) {
    boost::system::error_code ec;
    s->shutdown(tcp::socket::shutdown_both, ec);
    s->close(ec);
  }
  for (auto& t : readers) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::lock_guard lock(mu);
  return summarize(lat, secs);
}

// The figures of one backend: per client count, HTTP and store rates of creates and gets; then
// the watch delay.
struct Figures {
  std::vector<std::pair<Stats, Stats>> creates, gets;  // (http, store), one per client count
  Stats watch;
};

const std::vector<int> kClientCounts = {1, 32};

Figures bench(const std::string& name, orch::store::Store& store, int ops, int watchers) {
  Figures f;
  auto server = orch::apiserver::ApiServer::start(store);
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().to_string().c_str());
    std::exit(1);
  }
  const auto port = (*server)->port();
  std::printf("\n%s\n", name.c_str());
  for (int clients : kClientCounts) {
    int per = std::max(1, ops / clients);
    std::string tag = "c" + std::to_string(clients);
    auto hc = run_clients(clients, per, HttpCreate{port, "h" + tag});
    auto sc = run_clients(clients, per, StoreCreate{&store, "s" + tag});
    print_row("create", clients, hc, sc);
    auto hg = run_clients(clients, per, HttpGet{port, "h" + tag, per});
    auto sg = run_clients(clients, per, StoreGet{&store, "s" + tag, per});
    print_row("get", clients, hg, sg);
    f.creates.emplace_back(hc, sc);
    f.gets.emplace_back(hg, sg);
  }
  f.watch = watch_delay(port, watchers, 200);
  std::printf("watch   %3d watchers | write->event p50 %.2f ms p99 %.2f ms\n", watchers,
              f.watch.p50_ms, f.watch.p99_ms);
  (*server)->stop();
  return f;
}

std::vector<int> parse_members(const std::string& list) {
  std::vector<int> out;
  for (std::size_t start = 0; start < list.size();) {
    std::size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    if (int n = std::stoi(list.substr(start, comma - start)); n > 0) out.push_back(n);
    start = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int ops = 2000, watchers = 100;
  std::vector<int> etcd_members = {1, 3};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--ops") ops = std::stoi(argv[i + 1]);
    if (a == "--watchers") watchers = std::stoi(argv[i + 1]);
    if (a == "--etcd-members") etcd_members = parse_members(argv[i + 1]);
  }
  auto dir = std::filesystem::temp_directory_path() /
             ("orch-api-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::printf("api_bench: %d operations per row; backends: SQLite (synchronous=FULL) in %s",
              ops, dir.c_str());
  if (!orch::bench::etcd_available()) etcd_members.clear();
  for (int m : etcd_members) std::printf(", etcd %d member%s on loopback", m, m == 1 ? "" : "s");
  std::printf("\n");
  std::vector<std::pair<std::string, Figures>> all;
  {
    orch::store::SqliteOptions so;
    so.path = (dir / "state.db").string();
    auto store = orch::store::open_sqlite_store(so);
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
      return 1;
    }
    all.emplace_back("sqlite", bench("SQLite store", **store, ops, watchers));
  }
  for (int members : etcd_members) {
    const auto etcd_dir = dir / ("etcd-" + std::to_string(members));
    std::filesystem::create_directories(etcd_dir);
    orch::bench::EtcdProcesses etcd(etcd_dir.string(), members);
    auto store = etcd.open("");
    const std::string name = "etcd-" + std::to_string(members);
    all.emplace_back(name, bench("etcd store, " + std::to_string(members) + " member" +
                                     (members == 1 ? "" : "s") + " on loopback",
                                 *store, ops, watchers));
  }
  if (all.size() > 1) {
    std::printf("\nHTTP rates of each backend (ratio to SQLite)\n");
    const Figures& base = all.front().second;
    for (std::size_t i = 0; i < kClientCounts.size(); ++i) {
      for (const char* what : {"create", "get"}) {
        const bool create = std::string(what) == "create";
        auto rate = [&](const Figures& f) {
          return (create ? f.creates : f.gets)[i].first.per_second;
        };
        std::printf("%-7s %3d clients |", what, kClientCounts[i]);
        for (const auto& [name, f] : all) {
          std::printf(" %s %8.0f/s (%.3f)", name.c_str(), rate(f),
                      rate(base) > 0 ? rate(f) / rate(base) : 0.0);
        }
        std::printf("\n");
      }
    }
    std::printf("watch p50 delay       |");
    for (const auto& [name, f] : all) {
      std::printf(" %s %.2f ms (%.2f)", name.c_str(), f.watch.p50_ms,
                  base.watch.p50_ms > 0 ? f.watch.p50_ms / base.watch.p50_ms : 0.0);
    }
    std::printf("\n");
  }
  std::filesystem::remove_all(dir);
  return 0;
}
