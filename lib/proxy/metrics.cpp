// render_prometheus: ServiceProxyMetrics in the Prometheus text exposition format 0.0.4.
#include <fmt/format.h>

#include <functional>
#include <string>

#include "orch/proxy/service_proxy.hpp"

namespace orch::proxy {
namespace {

// A label value with \, " and newline escaped.
std::string escape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// One sample line per service port: name{namespace,service,port[,extra]} value.
void per_port(std::string& out, const ServiceProxyMetrics& m, std::string_view name,
              std::string_view extra, const std::function<double(const ServicePortMetrics&)>& value) {
  for (const auto& p : m.service_ports) {
    out += fmt::format("{}{{namespace=\"{}\",service=\"{}\",port=\"{}\"{}}} {}\n", name,
                       escape(p.ns), escape(p.service), escape(p.port_name), extra, value(p));
  }
}

}  // namespace

std::string render_prometheus(const ServiceProxyMetrics& m) {
  std::string out;
  auto counter = [&](std::string_view name, std::string_view help,
                     const std::function<double(const ServicePortMetrics&)>& value) {
    header(out, name, "counter", help);
    per_port(out, m, name, "", value);
  };
  counter("orch_proxy_connections_total", "Connections accepted for a service port.",
          [](const auto& p) { return static_cast<double>(p.stats.connections); });
  header(out, "orch_proxy_active_connections", "gauge", "Connections open now.");
  per_port(out, m, "orch_proxy_active_connections", "",
           [](const auto& p) { return static_cast<double>(p.stats.active); });
  header(out, "orch_proxy_bytes_total", "counter",
         "Bytes forwarded: received from clients (to_backend) and from backends (to_client).");
  per_port(out, m, "orch_proxy_bytes_total", ",direction=\"to_backend\"",
           [](const auto& p) { return static_cast<double>(p.stats.bytes_to_backend); });
  per_port(out, m, "orch_proxy_bytes_total", ",direction=\"to_client\"",
           [](const auto& p) { return static_cast<double>(p.stats.bytes_to_client); });
  header(out, "orch_proxy_rejected_connections_total", "counter",
         "Accepted connections reset because no endpoint was ready (no_endpoint) or none "
         "accepted the connect (endpoints_failed).");
  per_port(out, m, "orch_proxy_rejected_connections_total", ",reason=\"no_endpoint\"",
           [](const auto& p) { return static_cast<double>(p.stats.no_endpoint); });
  per_port(out, m, "orch_proxy_rejected_connections_total", ",reason=\"endpoints_failed\"",
           [](const auto& p) { return static_cast<double>(p.stats.errors - p.stats.no_endpoint); });
  counter("orch_proxy_backend_connect_failures_total",
          "Backend connects that were refused or timed out (the next endpoint was tried).",
          [](const auto& p) { return static_cast<double>(p.stats.connect_failures); });

  const std::string_view hist = "orch_proxy_backend_connect_duration_seconds";
  header(out, hist, "histogram", "Time to connect to a backend, successful connects.");
  for (const auto& p : m.service_ports) {
    const std::string labels = fmt::format("namespace=\"{}\",service=\"{}\",port=\"{}\"",
                                           escape(p.ns), escape(p.service), escape(p.port_name));
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kConnectLatencyBounds.size(); ++i) {
      cumulative += p.stats.connect_latency_buckets[i];
      out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", hist, labels, kConnectLatencyBounds[i],
                         cumulative);
    }
    cumulative += p.stats.connect_latency_buckets.back();
    out += fmt::format("{}_bucket{{{},le=\"+Inf\"}} {}\n", hist, labels, cumulative);
    out += fmt::format("{}_sum{{{}}} {}\n", hist, labels,
                       static_cast<double>(p.stats.connect_micros) / 1e6);
    out += fmt::format("{}_count{{{}}} {}\n", hist, labels, p.stats.connects);
  }
  header(out, "orch_proxy_endpoints", "gauge", "Ready endpoints a service port forwards to.");
  per_port(out, m, "orch_proxy_endpoints", "",
           [](const auto& p) { return static_cast<double>(p.endpoints); });

  auto global = [&](std::string_view name, std::string_view type, std::string_view help,
                    std::uint64_t v) {
    header(out, name, type, help);
    out += fmt::format("{} {}\n", name, v);
  };
  global("orch_proxy_listeners", "gauge", "Addresses listened on now.", m.listeners);
  global("orch_proxy_listeners_opened_total", "counter", "Listeners opened since start.",
         m.listeners_opened);
  global("orch_proxy_listeners_closed_total", "counter", "Listeners closed since start.",
         m.listeners_closed);
  global("orch_proxy_pool_updates_total", "counter",
         "Backend sets programmed (only service ports whose endpoints or affinity changed).",
         m.pool_updates);
  global("orch_proxy_syncs_total", "counter",
         "Services reprogrammed (one per change to a Service or its Endpoints).", m.syncs);
  global("orch_proxy_sync_errors_total", "counter", "Syncs that failed and were retried.",
         m.sync_errors);
  return out;
}

}  // namespace orch::proxy
