// orch-test-logs-harness: an API server, one agent NodeServer and fake pods, for the end-to-end
// tests of `kubectl logs` and `kubectl port-forward` (tests/e2e/test_logs_portforward.py). Not a
// product executable.
//
//   orch-test-logs-harness --data-dir DIR --url-file FILE
//
// Same contract as orch-test-apiserver (URL written to FILE once serving; exits on SIGTERM/SIGINT
// or when stdin closes). Before the URL it writes DIR/harness.json:
//   {"node_port": N, "pod_ip": "...", "http_port": N, "echo_port": N, "log_root": "DIR/pods"}
// and creates, through the API: Node "node-1" (InternalIP 127.0.0.1, kubeletEndpoint.Port = the
// NodeServer's port), Pods "web" (container "web"), "multi" (containers "a", "b"), both Running
// on node-1 with podIP pod_ip, and "pending" (no node). A pod's log directory is
// log_root/<namespace>_<name>; the test writes the CRI log files itself.
//
// Fake pod ports on pod_ip: http_port answers every HTTP request with "hello from pod <n>\n"
// (n counts requests) and closes; echo_port echoes bytes until the client half-closes.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "orch/agent/node_server.hpp"
#include "orch/apiserver/api_server.hpp"
#include "orch/store/sqlite_store.hpp"

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);
constexpr const char* kToken = "harness-node-token";

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

std::atomic<int> g_requests{0};

net::awaitable<void> http_conn(tcp::socket s) {
  std::string req;
  char buf[4096];
  while (req.find("\r\n\r\n") == std::string::npos) {
    auto [ec, n] = co_await s.async_read_some(net::buffer(buf), kTuple);
    if (ec) co_return;
    req.append(buf, n);
  }
  std::string body = "hello from pod " + std::to_string(++g_requests) + "\n";
  std::string res = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  co_await net::async_write(s, net::buffer(res), kTuple);
  boost::system::error_code ignored;
  s.shutdown(tcp::socket::shutdown_send, ignored);
  // Wait for the client to close (or send more), then close.
  co_await s.async_read_some(net::buffer(buf), kTuple);
}

net::awaitable<void> echo_conn(tcp::socket s) {
  char buf[16384];
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(net::buffer(buf), kTuple);
    if (n > 0) {
      auto [wec, wn] = co_await net::async_write(s, net::buffer(buf, n), kTuple);
      if (wec) co_return;
    }
    if (ec) break;
  }
  boost::system::error_code ignored;
  s.shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> accept_loop(tcp::acceptor* a, bool echo) {
  for (;;) {
    auto [ec, s] = co_await a->async_accept(kTuple);
    if (ec) co_return;
    if (echo) net::co_spawn(a->get_executor(), echo_conn(std::move(s)), net::detached);
    else net::co_spawn(a->get_executor(), http_conn(std::move(s)), net::detached);
  }
}

bool call(orch::apiserver::Handler& h, const std::string& method, const std::string& path,
          const std::string& body) {
  orch::apiserver::Request r;
  r.method = method;
  r.path = path;
  r.headers["content-type"] = "application/json";
  r.body = body;
  auto res = h.handle(r);
  if (res.status >= 300) {
    std::fprintf(stderr, "harness: %s %s -> %d %s\n", method.c_str(), path.c_str(), res.status,
                 res.body.c_str());
    return false;
  }
  return true;
}

std::string pod_json(const std::string& name, const std::string& containers,
                     const std::string& node, const std::string& status) {
  std::string spec = "{\"containers\":[" + containers + "]";
  if (!node.empty()) spec += ",\"nodeName\":\"" + node + "\"";
  spec += "}";
  return "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" + name +
         "\",\"namespace\":\"default\"},\"spec\":" + spec + ",\"status\":" + status + "}";
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir, url_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--data-dir") data_dir = next();
    else if (a == "--url-file") url_file = next();
    else {
      std::fprintf(stderr, "orch-test-logs-harness: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (data_dir.empty() || url_file.empty()) {
    std::fprintf(stderr, "usage: orch-test-logs-harness --data-dir DIR --url-file FILE\n");
    return 2;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);

  // Fake pod: two ports on a loopback address of its own when the kernel routes it (Linux routes
  // all of 127.0.0.0/8), else on 127.0.0.1.
  net::io_context pod_ioc{1};
  std::string pod_ip = "127.0.0.2";
  boost::system::error_code ec;
  tcp::acceptor http_acc(pod_ioc), echo_acc(pod_ioc);
  for (std::string ip : {"127.0.0.2", "127.0.0.1"}) {
    http_acc = tcp::acceptor(pod_ioc);
    echo_acc = tcp::acceptor(pod_ioc);
    tcp::endpoint ep(net::ip::make_address(ip), 0);
    http_acc.open(ep.protocol(), ec);
    if (!ec) http_acc.bind(ep, ec);
    if (!ec) http_acc.listen(128, ec);
    if (!ec) echo_acc.open(ep.protocol(), ec);
    if (!ec) echo_acc.bind(ep, ec);
    if (!ec) echo_acc.listen(128, ec);
    if (!ec) {
      pod_ip = ip;
      break;
    }
  }
  if (ec) {
    std::fprintf(stderr, "harness: cannot listen for the fake pod: %s\n", ec.message().c_str());
    return 1;
  }
  net::co_spawn(pod_ioc, accept_loop(&http_acc, false), net::detached);
  net::co_spawn(pod_ioc, accept_loop(&echo_acc, true), net::detached);
  std::thread pod_thread([&] { pod_ioc.run(); });

  const std::string log_root = data_dir + "/pods";
  std::filesystem::create_directories(log_root);

  orch::agent::NodeServerOptions no;
  no.token = kToken;
  no.resolve_pod = [log_root, pod_ip](std::string_view ns, std::string_view name)
      -> orch::Result<orch::agent::PodLocation> {
    if (ns != "default" || (name != "web" && name != "multi")) {
      return orch::not_found("pod " + std::string(ns) + "/" + std::string(name) +
                             " is not on this node");
    }
    orch::agent::PodLocation loc;
    loc.uid = "uid-" + std::string(name);
    loc.pod_ip = pod_ip;
    loc.log_dir = log_root + "/" + std::string(ns) + "_" + std::string(name);
    return loc;
  };
  auto node_server = orch::agent::NodeServer::start(no);
  if (!node_server.ok()) {
    std::fprintf(stderr, "harness: %s\n", node_server.status().to_string().c_str());
    return 1;
  }

  orch::store::SqliteOptions so;
  so.path = data_dir + "/state.db";
  auto store = orch::store::open_sqlite_store(so);
  if (!store.ok()) {
    std::fprintf(stderr, "harness: %s\n", store.status().to_string().c_str());
    return 1;
  }
  orch::apiserver::ApiServerOptions ao;
  ao.node_token = kToken;
  auto server = orch::apiserver::ApiServer::start(**store, ao);
  if (!server.ok()) {
    std::fprintf(stderr, "harness: %s\n", server.status().to_string().c_str());
    return 1;
  }
  auto& h = (*server)->handler();
  const std::string node_port = std::to_string((*node_server)->port());
  const std::string node =
      R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1"},"status":{"addresses":[)"
      R"({"type":"Hostname","address":"node-1"},{"type":"InternalIP","address":"127.0.0.1"}],)"
      R"("daemonEndpoints":{"kubeletEndpoint":{"Port":)" + node_port + R"(}},)"
      R"("conditions":[{"type":"Ready","status":"True"}]}})";
  const std::string running =
      R"({"phase":"Running","podIP":")" + pod_ip + R"(","hostIP":"127.0.0.1"})";
  bool ok = call(h, "POST", "/api/v1/nodes", node) &&
            call(h, "PUT", "/api/v1/nodes/node-1/status", node);
  for (const auto& [name, containers] :
       {std::pair<std::string, std::string>{"web", R"({"name":"web","image":"kuard"})"},
        {"multi", R"({"name":"a","image":"kuard"},{"name":"b","image":"kuard"})"}}) {
    std::string pod = pod_json(name, containers, "node-1", running);
    ok = ok && call(h, "POST", "/api/v1/namespaces/default/pods", pod) &&
         call(h, "PUT", "/api/v1/namespaces/default/pods/" + name + "/status", pod);
  }
  ok = ok && call(h, "POST", "/api/v1/namespaces/default/pods",
                  pod_json("pending", R"({"name":"c","image":"kuard"})", "", "{}"));
  if (!ok) return 1;

  {
    std::ofstream(data_dir + "/harness.json")
        << "{\"node_port\":" << node_port << ",\"pod_ip\":\"" << pod_ip
        << "\",\"http_port\":" << http_acc.local_endpoint().port()
        << ",\"echo_port\":" << echo_acc.local_endpoint().port() << ",\"log_root\":\""
        << log_root << "\"}\n";
    std::string tmp = url_file + ".tmp";
    std::ofstream(tmp) << (*server)->url() << "\n";
    std::rename(tmp.c_str(), url_file.c_str());
  }
  std::fprintf(stderr, "orch-test-logs-harness: serving %s\n", (*server)->url().c_str());
  while (!g_stop) {
    pollfd p{0, POLLIN, 0};
    if (::poll(&p, 1, 200) > 0) {
      char buf[256];
      if (::read(0, buf, sizeof buf) <= 0) break;
    }
  }
  (*server)->stop();
  (*node_server)->stop();
  pod_ioc.stop();
  pod_thread.join();
  return 0;
}
