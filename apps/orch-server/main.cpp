// orch-server: a single-machine cluster in one process — API server, controller manager,
// scheduler, load balancer, and (unless --disable-agent) a local node with the process runtime
// and the service proxy. Flags, then orch::cluster::Cluster; all logic lives in the library.
//
//   orch-server [--data-dir DIR] [--listen 127.0.0.1:6443] [--node-name NAME] [--disable-agent]
//               [--store sqlite|etcd --etcd-endpoints URL,URL]
//
// Secure by default: HTTPS with a cluster CA generated into <data-dir>/tls, an admin token in
// <data-dir>/kubeconfig and a join token for orch-agent in <data-dir>/node-token (both 0600);
// --insecure-plain-http serves plain HTTP without authentication instead (local experiments only).
// Every start writes <data-dir>/kubeconfig and prints how to use it. SIGINT/SIGTERM stop it
// cleanly (pods keep running and are adopted by the next start unless --kill-pods-on-exit);
// a second signal exits at once.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "orch/util/log.hpp"
#include "orch/cluster/cluster.hpp"

namespace {

std::atomic<int> g_signals{0};

void on_signal(int) {
  if (g_signals.fetch_add(1) >= 1) _exit(130);  // the second one: now
}

std::string default_data_dir() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return std::string(xdg) + "/orch";
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.local/share/orch";
  }
  return "/var/lib/orch";
}

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "node-1";
  std::string h(buf);
  for (auto& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"orch-server: a Kubernetes-compatible single-machine cluster"};
  std::string data_dir = default_data_dir();
  std::string listen = "127.0.0.1:6443";
  std::string node_name = hostname();
  bool disable_agent = false;
  bool kill_pods = false;
  bool plain_http = false;
  std::string kuard_path;
  std::string store = "sqlite";
  std::vector<std::string> etcd_endpoints;
  std::string etcd_ca, etcd_cert, etcd_key;
  app.add_option("--data-dir", data_dir, "state: store, pods, logs, kubeconfig")->capture_default_str();
  app.add_option("--listen", listen, "API address ADDR:PORT (port 0 picks one)")->capture_default_str();
  app.add_option("--node-name", node_name, "name of the local node")->capture_default_str();
  app.add_flag("--disable-agent", disable_agent, "run no local node (control plane only)");
  int verbosity = 0;
  app.add_option("-v,--v", verbosity, "log verbosity: 0 (default), 2 (bindings, listeners), 3-5 (more)");
  app.add_flag("--kill-pods-on-exit", kill_pods, "stop every pod on exit instead of leaving them to the next start");
  app.add_flag("--insecure-plain-http", plain_http,
               "serve plain HTTP without TLS or authentication (never on a shared machine)");
  app.add_option("--kuard-path", kuard_path, "the kuard binary (default: next to orch-server)");
  app.add_option("--store", store, "where objects live: sqlite (in the data dir) or etcd")
      ->check(CLI::IsMember({"sqlite", "etcd"}))
      ->capture_default_str();
  app.add_option("--etcd-endpoints", etcd_endpoints, "etcd client URLs (with --store=etcd)")
      ->delimiter(',');
  app.add_option("--etcd-cafile", etcd_ca, "CA certificate of the etcd members");
  app.add_option("--etcd-certfile", etcd_cert, "client certificate for etcd");
  app.add_option("--etcd-keyfile", etcd_key, "client key for etcd");
  CLI11_PARSE(app, argc, argv);
  orch::log::set_verbosity(verbosity);
  if (store == "etcd" && etcd_endpoints.empty()) {
    std::fprintf(stderr, "orch-server: --store=etcd needs --etcd-endpoints URL[,URL...]\n");
    return 2;
  }

  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "orch-server: --listen %s: want ADDR:PORT\n", listen.c_str());
    return 2;
  }
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "orch-server: --listen %s: bad port\n", listen.c_str());
    return 2;
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  orch::cluster::ClusterOptions o;
  o.nodes = disable_agent ? 0 : 1;
  o.node_names = {node_name};
  o.data_dir = data_dir;
  o.serve_http = true;
  o.secure = !plain_http;
  o.http_address = listen.substr(0, colon);
  o.http_port = static_cast<std::uint16_t>(port);
  o.address_block = 0;
  o.leader_election = true;
  o.keep_pods_on_stop = !kill_pods;
  o.mirror_pods = true;
  o.kuard_path = kuard_path;
  if (store == "etcd") {
    o.etcd_endpoints = etcd_endpoints;
    o.etcd_ca_file = etcd_ca;
    o.etcd_cert_file = etcd_cert;
    o.etcd_key_file = etcd_key;
  }
  auto cluster = orch::cluster::Cluster::start(o);
  if (!cluster.ok()) {
    std::fprintf(stderr, "orch-server: %s\n", cluster.status().to_string().c_str());
    return 1;
  }
  std::printf("orch-server: serving %s (data in %s)\n", (*cluster)->url().c_str(), data_dir.c_str());
  std::printf("  export KUBECONFIG=%s\n", (*cluster)->kubeconfig_path().c_str());
  std::printf("  kubectl get nodes\n");
  if (!plain_http) {
    std::printf("  join another node (the token is a secret; it also pins the cluster CA):\n");
    std::printf("  orch-agent --server %s --token-file %s/node-token --node-name NAME --data-dir DIR\n",
                (*cluster)->url().c_str(), data_dir.c_str());
  }
  std::fflush(stdout);
  while (g_signals.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::printf("orch-server: stopping\n");
  std::fflush(stdout);
  (*cluster)->stop();
  return 0;
}
