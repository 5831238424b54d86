// orch-test-apiserver: an API server on a SQLite store, for the end-to-end suites that drive it
// with real clients (kubectl 1.32 and 1.20, the Python client). Not a product executable: the
// full server with controllers, TLS and tokens is apps/orch-server.
//
//   orch-test-apiserver --data-dir DIR --url-file FILE [--watch-buffer N]
//
// Listens on 127.0.0.1 with a kernel-chosen port, writes its URL to FILE once serving, and exits
// cleanly on SIGTERM/SIGINT or when its standard input closes (so a dead test never leaves it
// running). SIGUSR1 compacts the store to its current revision (for 410 tests).
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "orch/apiserver/api_server.hpp"
#include "orch/store/sqlite_store.hpp"

namespace {
std::atomic<bool> g_stop{false};
std::atomic<bool> g_compact{false};
void on_signal(int) { g_stop = true; }
void on_usr1(int) { g_compact = true; }
}  // namespace

int main(int argc, char** argv) {
  std::string data_dir, url_file;
  std::size_t watch_buffer = 10000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--data-dir") data_dir = next();
    else if (a == "--url-file") url_file = next();
    else if (a == "--watch-buffer") watch_buffer = std::stoul(next());
    else {
      std::fprintf(stderr, "orch-test-apiserver: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (data_dir.empty() || url_file.empty()) {
    std::fprintf(stderr, "usage: orch-test-apiserver --data-dir DIR --url-file FILE\n");
    return 2;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGUSR1, on_usr1);  // tests: compact the store to its current revision

  orch::store::SqliteOptions so;
  so.path = data_dir + "/state.db";
  auto store = orch::store::open_sqlite_store(so);
  if (!store.ok()) {
    std::fprintf(stderr, "orch-test-apiserver: %s\n", store.status().to_string().c_str());
    return 1;
  }
  orch::apiserver::ApiServerOptions ao;
  ao.watch_buffer = watch_buffer;
  auto server = orch::apiserver::ApiServer::start(**store, ao);
  if (!server.ok()) {
    std::fprintf(stderr, "orch-test-apiserver: %s\n", server.status().to_string().c_str());
    return 1;
  }
  {
    std::string tmp = url_file + ".tmp";
    std::ofstream(tmp) << (*server)->url() << "\n";
    std::rename(tmp.c_str(), url_file.c_str());
  }
  std::fprintf(stderr, "orch-test-apiserver: serving %s\n", (*server)->url().c_str());
  while (!g_stop) {
    if (g_compact.exchange(false)) {
      auto rev = (*store)->current_revision();
      if (rev.ok()) (*store)->compact(*rev).ignore();
    }
    pollfd p{0, POLLIN, 0};
    int n = ::poll(&p, 1, 200);
    if (n > 0) {
      char buf[256];
      if (::read(0, buf, sizeof buf) <= 0) break;  // stdin closed: the test is gone
    }
  }
  (*server)->stop();
  server->reset();
  store->reset();
  return 0;
}
