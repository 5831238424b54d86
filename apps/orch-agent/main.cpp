// orch-agent: a further node of an orch-server cluster. Flags, then orch::cluster::AgentProcess;
// all logic lives in the library.
//
//   orch-agent --server https://127.0.0.1:6443 --token-file <server-data-dir>/node-token
//              --node-name worker-1 --data-dir /tmp/worker-1 [--address-slot N]
//
// SIGINT/SIGTERM stop it cleanly (pods keep running for the next start to adopt unless
// --kill-pods-on-exit); a second signal exits at once.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "orch/util/log.hpp"
#include "orch/cluster/agent_process.hpp"

namespace {

std::atomic<int> g_signals{0};

void on_signal(int) {
  if (g_signals.fetch_add(1) >= 1) _exit(130);  // the second one: now
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"orch-agent: a node that joins an orch-server cluster"};
  orch::cluster::AgentProcessOptions o;
  std::string token_file;
  std::uint32_t slot = 0;
  bool kill_pods = false;
  app.add_option("--server", o.servers, "API server URL(s), comma-separated (first that answers)")
      ->delimiter(',')
      ->required();
  app.add_option("--token", o.token, "join token (the server's <data-dir>/node-token)");
  app.add_option("--token-file", token_file, "file holding the join token");
  app.add_option("--node-name", o.node_name, "this node's name")->required();
  app.add_option("--data-dir", o.data_dir, "this node's state: pods, logs, images")->required();
  app.add_option("--node-ip", o.node_ip, "this node's address (default: 127.0.0.<slot+1>)");
  app.add_option("--pod-cidr", o.pod_cidr, "pod addresses (default: 127.1.<slot>.0/24)");
  app.add_option("--address-slot", slot, "1..250: picks node IP and pod range (default: from the node name)")
      ->check(CLI::Range(1, 250));
  app.add_option("--kuard-path", o.kuard_path, "the kuard binary (default: next to orch-agent)");
  app.add_flag("--kill-pods-on-exit", kill_pods, "stop this node's pods on exit");
  int verbosity = 0;
  app.add_option("-v,--v", verbosity, "log verbosity: 0 (default), 2 (bindings, listeners), 3-5 (more)");
  CLI11_PARSE(app, argc, argv);
  orch::log::set_verbosity(verbosity);
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in || !std::getline(in, o.token)) {
      std::fprintf(stderr, "orch-agent: cannot read --token-file %s\n", token_file.c_str());
      return 2;
    }
  }
  if (o.token.empty()) {
    std::fprintf(stderr, "orch-agent: --token or --token-file is required\n");
    return 2;
  }
  if (slot != 0) o.address_slot = slot;
  o.kill_pods_on_stop = kill_pods;

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto agent = orch::cluster::AgentProcess::start(o);
  if (!agent.ok()) {
    std::fprintf(stderr, "orch-agent: %s\n", agent.status().to_string().c_str());
    return 1;
  }
  std::printf("orch-agent: node %s joined (node IP %s, pods %s)\n", (*agent)->node_name().c_str(),
              (*agent)->node_ip().c_str(), (*agent)->pod_cidr().c_str());
  std::fflush(stdout);
  while (g_signals.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::printf("orch-agent: stopping\n");
  std::fflush(stdout);
  (*agent)->stop();
  return 0;
}
