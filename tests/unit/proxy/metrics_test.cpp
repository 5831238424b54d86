// render_prometheus: the exposition a scraper reads, checked line by line on a hand-made snapshot
// (label escaping, histogram buckets cumulative with +Inf, the two rejection reasons, globals).
#include <doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "orch/proxy/service_proxy.hpp"

namespace orch::proxy {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

TEST_CASE("render_prometheus prints every per-port family, the histogram and the globals") {
  ServiceProxyMetrics m;
  ServicePortMetrics p{.ns = "default", .service = "kuard", .port_name = "http", .endpoints = 3,
                       .listeners = 2};
  p.stats.connections = 10;
  p.stats.active = 2;
  p.stats.bytes_to_backend = 1000;
  p.stats.bytes_to_client = 5000;
  p.stats.errors = 3;
  p.stats.no_endpoint = 1;
  p.stats.connect_failures = 4;
  p.stats.connects = 7;
  p.stats.connect_micros = 1500;
  p.stats.connect_latency_buckets[0] = 2;  // <= 100 us
  p.stats.connect_latency_buckets[3] = 4;  // (500 us, 1 ms]
  p.stats.connect_latency_buckets.back() = 1;  // > 1 s
  m.service_ports.push_back(p);
  m.service_ports.push_back({.ns = "odd\"ns", .service = "a\\b", .port_name = ""});
  m.listeners = 2;
  m.listeners_opened = 5;
  m.listeners_closed = 3;
  m.pool_updates = 6;
  m.syncs = 9;
  m.sync_errors = 1;
  const std::string text = render_prometheus(m);
  const std::string l = R"(namespace="default",service="kuard",port="http")";
  for (const std::string& line : std::vector<std::string>{
           "# TYPE orch_proxy_connections_total counter",
           "orch_proxy_connections_total{" + l + "} 10",
           "# TYPE orch_proxy_active_connections gauge",
           "orch_proxy_active_connections{" + l + "} 2",
           "orch_proxy_bytes_total{" + l + R"(,direction="to_backend"} 1000)",
           "orch_proxy_bytes_total{" + l + R"(,direction="to_client"} 5000)",
           "orch_proxy_rejected_connections_total{" + l + R"(,reason="no_endpoint"} 1)",
           "orch_proxy_rejected_connections_total{" + l + R"(,reason="endpoints_failed"} 2)",
           "orch_proxy_backend_connect_failures_total{" + l + "} 4",
           "# TYPE orch_proxy_backend_connect_duration_seconds histogram",
           "orch_proxy_backend_connect_duration_seconds_bucket{" + l + R"(,le="0.0001"} 2)",
           "orch_proxy_backend_connect_duration_seconds_bucket{" + l + R"(,le="0.0005"} 2)",
           "orch_proxy_backend_connect_duration_seconds_bucket{" + l + R"(,le="0.001"} 6)",
           "orch_proxy_backend_connect_duration_seconds_bucket{" + l + R"(,le="1"} 6)",
           "orch_proxy_backend_connect_duration_seconds_bucket{" + l + R"(,le="+Inf"} 7)",
           "orch_proxy_backend_connect_duration_seconds_sum{" + l + "} 0.0015",
           "orch_proxy_backend_connect_duration_seconds_count{" + l + "} 7",
           "orch_proxy_endpoints{" + l + "} 3",
           R"(orch_proxy_connections_total{namespace="odd\"ns",service="a\\b",port=""} 0)",
           "orch_proxy_listeners 2",
           "orch_proxy_listeners_opened_total 5",
           "orch_proxy_listeners_closed_total 3",
           "orch_proxy_pool_updates_total 6",
           "orch_proxy_syncs_total 9",
           "orch_proxy_sync_errors_total 1",
       }) {
    CHECK_MESSAGE(has_line(text, line), line);
  }
  // Every sample line belongs to a family announced by a TYPE line before it.
  std::istringstream in(text);
  std::string family;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("# TYPE ")) {
      family = line.substr(7, line.find(' ', 7) - 7);
      continue;
    }
    if (line.starts_with("#")) continue;
    CHECK_MESSAGE(line.starts_with(family), line);
  }
}

TEST_CASE("an empty proxy renders only the globals") {
  const std::string text = render_prometheus({});
  CHECK(has_line(text, "orch_proxy_listeners 0"));
  CHECK(text.find("orch_proxy_connections_total{") == std::string::npos);
}

}  // namespace
}  // namespace orch::proxy
