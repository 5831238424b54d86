// Helper process for the SQLite store integration tests (store_integration_test.cpp). Modes:
//
//   store_child write <db> <ack-file> <threads> [<compact-every-ms> <history-window>]
//     Opens the store and writes as fast as it can from <threads> threads (creates, CAS and
//     unconditional updates, deletes), appending one line per acknowledged write to <ack-file>
//     with a single write(2) each, right after the store returned:
//       P <key> <revision> <value>      (create or update)
//       D <key> <revision>              (delete)
//     Runs until killed. With the optional arguments, automatic compaction runs too.
//   store_child hold <db>
//     Opens the store, prints "ready <pid>" on stdout, and keeps it open until stdin closes.
//   store_child try-open <db>
//     Drops root privileges (to uid/gid 65534) if it has them, tries to open the store, and
//     prints "<code name>|<message>" ("OK|" on success) on stdout.
//
// Exit status: 0 on the normal end of a mode, 2 on bad usage, 3 when the store fails to open.
// Thread-safety: the write mode's threads share only the store and the ack fd.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "orch/store/sqlite_store.hpp"

namespace {

using orch::store::Revision;
using orch::store::SqliteOptions;
using orch::store::Store;

int usage() {
  std::fprintf(stderr,
               "usage: store_child write <db> <ack-file> <threads> [<compact-ms> <window>]\n"
               "       store_child hold <db>\n"
               "       store_child try-open <db>\n");
  return 2;
}

// One line, one write(2): a reader never sees half a line from a completed call.
void write_line(int fd, const std::string& line) {
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n <= 0) std::abort();  // the test cannot trust anything after a lost ack
    done += static_cast<std::size_t>(n);
  }
}

void writer_thread(Store& store, int ack_fd, int id) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(::getpid()) * 1000003u +
                      static_cast<unsigned>(id));
  constexpr int kKeys = 10;
  // What this thread believes each of its keys is at (0 = absent). Each key has one writer.
  std::vector<Revision> at(kKeys, 0);
  for (int k = 0; k < kKeys; ++k) {
    auto got = store.get("/crash/" + std::to_string(id) + "/" + std::to_string(k));
    if (got.ok()) at[static_cast<std::size_t>(k)] = got->mod_revision;
  }
  for (std::uint64_t n = 0;; ++n) {
    const int k = static_cast<int>(rng() % kKeys);
    const std::string key = "/crash/" + std::to_string(id) + "/" + std::to_string(k);
    const std::string value =
        "t" + std::to_string(id) + "-" + std::to_string(::getpid()) + "-" + std::to_string(n);
    Revision& rev = at[static_cast<std::size_t>(k)];
    const int dice = static_cast<int>(rng() % 10);
    if (rev == 0) {
      auto kv = store.create(key, value);
      if (!kv.ok()) std::abort();
      rev = kv->mod_revision;
      write_line(ack_fd, "P " + key + " " + std::to_string(rev) + " " + value + "\n");
    } else if (dice == 0) {
      auto ev = store.remove(key, rev);
      if (!ev.ok()) std::abort();
      write_line(ack_fd, "D " + key + " " + std::to_string(ev->revision()) + "\n");
      rev = 0;
    } else {
      auto kv = store.update(key, value, dice < 5 ? rev : 0);
      if (!kv.ok()) std::abort();
      rev = kv->mod_revision;
      write_line(ack_fd, "P " + key + " " + std::to_string(rev) + " " + value + "\n");
    }
  }
}

int run_write(int argc, char** argv) {
  if (argc != 5 && argc != 7) return usage();
  SqliteOptions options;
  options.path = argv[2];
  options.auto_compaction_interval = std::chrono::milliseconds(0);
  if (argc == 7) {
    options.auto_compaction_interval = std::chrono::milliseconds(std::atoi(argv[5]));
    options.history_window = std::atoll(argv[6]);
    options.compaction_batch = 100;
  }
  const int threads = std::atoi(argv[4]);
  const int ack_fd = ::open(argv[3], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (ack_fd < 0 || threads < 1) return usage();
  auto store = orch::store::open_sqlite_store(options);
  if (!store.ok()) {
    std::fprintf(stderr, "store_child: %s\n", store.status().to_string().c_str());
    return 3;
  }
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] { writer_thread(**store, ack_fd, t); });
  }
  for (auto& w : workers) w.join();  // never: the test kills us
  return 0;
}

int run_hold(int argc, char** argv) {
  if (argc != 3) return usage();
  SqliteOptions options;
  options.path = argv[2];
  auto store = orch::store::open_sqlite_store(options);
  if (!store.ok()) {
    std::fprintf(stderr, "store_child: %s\n", store.status().to_string().c_str());
    return 3;
  }
  std::printf("ready %d\n", static_cast<int>(::getpid()));
  std::fflush(stdout);
  char buf[64];
  while (::read(STDIN_FILENO, buf, sizeof(buf)) > 0) {
  }
  return 0;
}

int run_try_open(int argc, char** argv) {
  if (argc != 3) return usage();
  if (::geteuid() == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
      std::printf("Internal|cannot drop privileges\n");
      return 0;
    }
  }
  SqliteOptions options;
  options.path = argv[2];
  auto store = orch::store::open_sqlite_store(options);
  std::printf("%s|%s\n", std::string(orch::code_name(store.status().code())).c_str(),
              store.status().message().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string mode = argv[1];
  if (mode == "write") return run_write(argc, argv);
  if (mode == "hold") return run_hold(argc, argv);
  if (mode == "try-open") return run_try_open(argc, argv);
  return usage();
}
