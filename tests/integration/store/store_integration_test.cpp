// Integration tests of the SQLite store with real processes and files:
// - crash: a child (store_child write) writes from several threads and logs every acknowledged
//   write; it is SIGKILLed at random moments, round after round; after each kill the store is
//   reopened and every acknowledged write must be there at its revision, with revisions
//   contiguous from the compaction point to the current revision. Later rounds run automatic
//   compaction in the child, so interrupted compactions are recovered too.
// - open errors: a corrupt or foreign file, a store held by another process, an unwritable
//   directory: each a clear Status, never a crash.
//
// The helper's path comes from $ORCH_STORE_CHILD (set by meson). Every wait has a deadline, every
// child is reaped, every temp dir is removed.
//
// Thread-safety: single-threaded (the children are processes).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orch/store/sqlite_store.hpp"
#include "store_test_util.hpp"

extern char** environ;

namespace orch::store {
namespace {

using namespace std::chrono_literals;
using testing::collect;
using testing::TempDir;

std::string child_path() {
  const char* path = std::getenv("ORCH_STORE_CHILD");
  REQUIRE_MESSAGE(path != nullptr, "ORCH_STORE_CHILD is not set (run through meson test)");
  return path;
}

// A child process, killed and reaped on destruction if still running.
class Child {
 public:
  // Starts `args` (argv[0] is the program). With `pipes`, the child's stdin and stdout are pipes.
  Child(const std::vector<std::string>& args, bool pipes) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    int in[2] = {-1, -1};
    int out[2] = {-1, -1};
    if (pipes) {
      REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
      REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
      posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
      posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    }
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (pipes) {
      ::close(in[0]);
      ::close(out[1]);
      stdin_ = in[1];
      stdout_ = out[0];
    }
    REQUIRE_MESSAGE(rc == 0, "posix_spawn failed: " << rc);
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      (void)wait(10s);
    }
    if (stdin_ >= 0) ::close(stdin_);
    if (stdout_ >= 0) ::close(stdout_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  void kill_hard() { ::kill(pid_, SIGKILL); }
  void close_stdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }

  // Waits for the child to exit; returns its wait status, or -1 after `timeout`.
  int wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return status;
      }
      if (std::chrono::steady_clock::now() >= deadline) return -1;
      std::this_thread::sleep_for(5ms);
    }
  }

  // Reads the child's stdout until it closes or `timeout` passes.
  std::string read_line(std::chrono::milliseconds timeout) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (line.empty() || line.back() != '\n') {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{stdout_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char c = 0;
      if (::read(stdout_, &c, 1) != 1) break;
      line.push_back(c);
    }
    return line;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
};

std::unique_ptr<Store> open_store(const std::string& path) {
  SqliteOptions options;
  options.path = path;
  options.auto_compaction_interval = 0ms;
  auto opened = open_sqlite_store(options);
  REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
  return std::move(opened).value();
}

struct Ack {
  bool put = true;
  std::string key;
  Revision revision = 0;
  std::string value;
};

// Complete lines only: a line without its newline was cut by the kill.
std::vector<Ack> read_acks(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<Ack> acks;
  std::size_t start = 0;
  for (std::size_t nl; (nl = all.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::istringstream line(all.substr(start, nl - start));
    std::string kind;
    Ack ack;
    line >> kind >> ack.key >> ack.revision;
    ack.put = kind == "P";
    if (ack.put) line >> ack.value;
    REQUIRE_MESSAGE((kind == "P" || kind == "D"), "bad ack line");
    acks.push_back(std::move(ack));
  }
  return acks;
}

// Reopens the store and checks every acknowledged write against the history.
void verify(const std::string& db, const std::string& ack_file, int round) {
  CAPTURE(round);
  auto store = open_store(db);
  const Revision current = *store->current_revision();
  const Revision compacted = *store->compacted_revision();
  const std::vector<Ack> acks = read_acks(ack_file);
  Revision max_acked = 0;
  for (const auto& ack : acks) max_acked = std::max(max_acked, ack.revision);
  MESSAGE("round " << round << ": " << acks.size() << " acks, max acked revision " << max_acked
                   << ", store at " << current << ", compacted at " << compacted);
  REQUIRE(current >= max_acked);

  // Every revision from the compaction point on is in the history, once, in order.
  const Revision after = std::max<Revision>(compacted - 1, 0);
  auto watch = store->watch("", after, WatchOptions{static_cast<std::size_t>(current) + 16});
  REQUIRE(watch.ok());
  const auto want = static_cast<std::size_t>(current - after);
  auto got = collect(**watch, want, 60s);
  REQUIRE_MESSAGE(got.events.size() == want, got.end.to_string());
  std::map<Revision, const Event*> by_rev;
  for (std::size_t i = 0; i < got.events.size(); ++i) {
    REQUIRE(got.events[i].revision() == after + 1 + static_cast<Revision>(i));
    by_rev[got.events[i].revision()] = &got.events[i];
  }

  // Every acknowledged write at or after the compaction point is that revision's event.
  std::size_t checked = 0;
  for (const auto& ack : acks) {
    if (ack.revision <= after) continue;
    const Event& ev = *by_rev.at(ack.revision);
    CAPTURE(ack.key);
    CAPTURE(ack.revision);
    CHECK(ev.kv.key == ack.key);
    CHECK(ev.type == (ack.put ? EventType::kPut : EventType::kDelete));
    if (ack.put) CHECK(ev.kv.value == ack.value);
    ++checked;
  }
  // Acknowledged writes below the compaction point: the key's state at the compaction point is
  // that write or a later one.
  if (compacted > 0) {
    ListOptions at;
    at.revision = compacted;
    auto listed = store->list("", at);
    REQUIRE(listed.ok());
    std::map<std::string, KeyValue> state;
    for (const auto& kv : listed->items) state[kv.key] = kv;
    for (const auto& ack : acks) {
      if (ack.revision > after || ack.revision >= compacted) continue;
      auto it = state.find(ack.key);
      if (ack.put && it != state.end()) CHECK(it->second.mod_revision >= ack.revision);
    }
  }
  MESSAGE("round " << round << ": " << checked << " acknowledged writes found at their revision");

  // The current state is the replay of the history onto the state at the compaction point.
  std::map<std::string, KeyValue> state;
  if (compacted > 0) {
    ListOptions base_at;
    base_at.revision = compacted;
    auto base = store->list("", base_at);
    REQUIRE_MESSAGE(base.ok(), base.status().to_string());
    for (const auto& kv : base->items) state[kv.key] = kv;
  }
  for (const auto& ev : got.events) {
    if (ev.revision() <= compacted) continue;
    if (ev.type == EventType::kPut) {
      state[ev.kv.key] = ev.kv;
    } else {
      state.erase(ev.kv.key);
    }
  }
  auto now = store->list("");
  REQUIRE(now.ok());
  std::vector<KeyValue> replayed;
  for (auto& [k, kv] : state) replayed.push_back(kv);
  CHECK(now->items == replayed);
}

TEST_CASE("acknowledged writes survive SIGKILL, round after round") {
  TempDir dir;
  const std::string db = dir.file("store.db");
  const std::string acks = dir.file("acks.log");
  std::mt19937 rng(std::random_device{}());
  constexpr int kRounds = 6;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> args = {child_path(), "write", db, acks, "8"};
    if (round >= kRounds - 2) {
      // Automatic compaction every 20 ms keeping 500 revisions: kills land inside compactions.
      args.push_back("20");
      args.push_back("500");
    }
    Child child(args, /*pipes=*/false);
    // Let it write: wait for the first acks of this round, then a random while more.
    const auto before = std::filesystem::exists(acks) ? std::filesystem::file_size(acks) : 0;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline &&
           (!std::filesystem::exists(acks) || std::filesystem::file_size(acks) == before)) {
      std::this_thread::sleep_for(5ms);
    }
    REQUIRE_MESSAGE(std::filesystem::file_size(acks) > before, "the child wrote nothing");
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 600));
    child.kill_hard();
    const int status = child.wait(10s);
    REQUIRE(status != -1);
    CHECK(WIFSIGNALED(status));
    verify(db, acks, round);
  }
}

TEST_CASE("open fails clearly on a corrupt or foreign file") {
  TempDir dir;
  SqliteOptions options;
  options.auto_compaction_interval = 0ms;

  SUBCASE("a text file") {
    options.path = dir.file("text.db");
    std::ofstream(options.path) << "this is not a database, but it is long enough to look like "
                                   "one would if only it had the right header bytes...\n";
    auto opened = open_sqlite_store(options);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.status().code() == Code::kInvalidArgument);
    CHECK(opened.status().message().find(options.path + ": not a liborch store or corrupt") == 0);
  }
  SUBCASE("a SQLite database of another application") {
    options.path = dir.file("other.db");
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(options.path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", nullptr, nullptr,
                         nullptr) == SQLITE_OK);
    sqlite3_close(db);
    auto opened = open_sqlite_store(options);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.status().code() == Code::kInvalidArgument);
    CHECK(opened.status().message().find("not a liborch store or corrupt") != std::string::npos);
    // The foreign file is untouched.
    REQUIRE(sqlite3_open(options.path.c_str(), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "SELECT x FROM t", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  SUBCASE("a store with a damaged header") {
    options.path = dir.file("store.db");
    {
      auto store = open_store(options.path);
      for (int i = 0; i < 100; ++i) REQUIRE(store->create("/k/" + std::to_string(i), "v").ok());
    }
    {
      // Clobber the header after the magic string, and page 1's b-tree header.
      const int fd = ::open(options.path.c_str(), O_WRONLY);
      REQUIRE(fd >= 0);
      const std::string junk(200, '\xa5');
      REQUIRE(::pwrite(fd, junk.data(), junk.size(), 16) == static_cast<ssize_t>(junk.size()));
      ::close(fd);
      std::filesystem::remove(options.path + "-wal");
      std::filesystem::remove(options.path + "-shm");
    }
    auto opened = open_sqlite_store(options);
    REQUIRE_FALSE(opened.ok());
    MESSAGE(opened.status().to_string());
    CHECK(opened.status().message().find(options.path + ": not a liborch store or corrupt") == 0);
  }
  SUBCASE("a store with damaged pages, found by check_on_open") {
    options.path = dir.file("store.db");
    {
      auto store = open_store(options.path);
      for (int i = 0; i < 500; ++i) {
        REQUIRE(store->create("/k/" + std::to_string(i), std::string(200, 'v')).ok());
      }
    }
    {
      const auto size = std::filesystem::file_size(options.path);
      REQUIRE(size > 16384);
      const int fd = ::open(options.path.c_str(), O_WRONLY);
      REQUIRE(fd >= 0);
      const std::string junk(static_cast<std::size_t>(size / 2), '\x5a');
      REQUIRE(::pwrite(fd, junk.data(), junk.size(), static_cast<off_t>(size / 4)) ==
              static_cast<ssize_t>(junk.size()));
      ::close(fd);
    }
    options.check_on_open = true;
    auto opened = open_sqlite_store(options);
    REQUIRE_FALSE(opened.ok());
    MESSAGE(opened.status().to_string());
    CHECK(opened.status().code() == Code::kInternal);
    CHECK(opened.status().message().find(options.path + ": not a liborch store or corrupt") == 0);
  }
}

TEST_CASE("open fails clearly when another process holds the store") {
  TempDir dir;
  const std::string db = dir.file("store.db");
  Child holder({child_path(), "hold", db}, /*pipes=*/true);
  const std::string ready = holder.read_line(20s);
  REQUIRE_MESSAGE(ready == "ready " + std::to_string(holder.pid()) + "\n", ready);

  SqliteOptions options;
  options.path = db;
  auto opened = open_sqlite_store(options);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.status().code() == Code::kUnavailable);
  CHECK(opened.status().message() ==
        db + " is in use by another process (pid " + std::to_string(holder.pid()) + ")");

  // Once the holder is gone (even killed), the store opens, with what the holder created.
  holder.kill_hard();
  REQUIRE(holder.wait(10s) != -1);
  auto reopened = open_sqlite_store(options);
  REQUIRE_MESSAGE(reopened.ok(), reopened.status().to_string());
  CHECK(*(*reopened)->current_revision() == 0);

  // A second open inside one process is refused too.
  auto twice = open_sqlite_store(options);
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.status().code() == Code::kUnavailable);
}

TEST_CASE("open fails clearly on an unwritable or missing directory") {
  TempDir dir;
  SUBCASE("missing directory") {
    SqliteOptions options;
    options.path = dir.file("no/such/dir/store.db");
    auto opened = open_sqlite_store(options);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.status().code() == Code::kInvalidArgument);
    CHECK(opened.status().message().find("does not exist") != std::string::npos);
  }
  SUBCASE("empty path and bad options") {
    SqliteOptions options;
    CHECK(open_sqlite_store(options).status().code() == Code::kInvalidArgument);
    options.path = dir.file("store.db");
    options.max_batch = 0;
    CHECK(open_sqlite_store(options).status().code() == Code::kInvalidArgument);
  }
  SUBCASE("a directory as the path") {
    SqliteOptions options;
    options.path = dir.path();
    auto opened = open_sqlite_store(options);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.status().code() == Code::kInvalidArgument);
  }
  SUBCASE("read-only directory") {
    const std::string sub = dir.file("ro");
    REQUIRE(::mkdir(sub.c_str(), 0755) == 0);
    const std::string db = sub + "/store.db";
    std::string code;
    std::string message;
    if (::geteuid() == 0) {
      // root writes anywhere: run the open as nobody in a child. It must reach the directory.
      REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
      Child child({child_path(), "try-open", db}, /*pipes=*/true);
      const std::string line = child.read_line(20s);
      REQUIRE(child.wait(10s) != -1);
      const auto bar = line.find('|');
      REQUIRE(bar != std::string::npos);
      code = line.substr(0, bar);
      message = line.substr(bar + 1);
    } else {
      REQUIRE(::chmod(sub.c_str(), 0555) == 0);
      SqliteOptions options;
      options.path = db;
      auto opened = open_sqlite_store(options);
      code = code_name(opened.status().code());
      message = opened.status().message();
      ::chmod(sub.c_str(), 0755);
    }
    MESSAGE(code << ": " << message);
    CHECK(code == "InvalidArgument");
    CHECK(message.find(db + ": cannot open for writing") == 0);
    CHECK(message.find("Permission denied") != std::string::npos);
  }
}

}  // namespace
}  // namespace orch::store
