// Container logs in the CRI format: parsing, options as kubectl sends them, tail, since,
// timestamps, previous, partial lines, rotation, limitBytes, and follow as the file grows.
#include <doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "orch/agent/container_log.hpp"

namespace orch::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using SysTime = std::chrono::system_clock::time_point;

// 2024-01-01T00:00:00Z
const SysTime kT0 = SysTime(std::chrono::seconds(1704067200));

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/orch-logs-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

void append(const std::string& file, const std::string& text) {
  fs::create_directories(fs::path(file).parent_path());
  std::ofstream(file, std::ios::app) << text;
}

std::string line(int second, std::string_view content, bool partial = false,
                 std::string_view stream = "stdout") {
  return format_cri_line(kT0 + std::chrono::seconds(second), stream, partial, content);
}

// Everything a non-following reader returns.
std::string read_all(const std::string& dir, const std::string& container, const LogOptions& o) {
  auto r = ContainerLogReader::open(dir, container, o, "p");
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  std::string out;
  for (int i = 0; i < 1000; ++i) {
    auto chunk = (*r)->read();
    if (!chunk) return out;
    out += *chunk;
  }
  FAIL("reader did not end");
  return out;
}

TEST_CASE("container_log_path and parse_cri_line") {
  CHECK(container_log_path("/var/log/pods/ns_p_uid", "web", 3) ==
        "/var/log/pods/ns_p_uid/web/3.log");
  CHECK(container_log_path("/d/", "c", 0) == "/d/c/0.log");

  auto r = parse_cri_line("2024-01-01T00:00:01.5Z stderr P hello world");
  REQUIRE(r);
  CHECK(r->stream == "stderr");
  CHECK(r->partial);
  CHECK(r->content == "hello world");
  CHECK(r->time == kT0 + 1500ms);
  auto empty = parse_cri_line("2024-01-01T00:00:01Z stdout F");
  REQUIRE(empty);
  CHECK(empty->content.empty());
  for (std::string_view bad : {"", "garbage", "2024-01-01T00:00:01Z stdin F x",
                               "notatime stdout F x", "2024-01-01T00:00:01Z stdout X x"}) {
    CAPTURE(bad);
    CHECK(!parse_cri_line(bad));
  }
  CHECK(format_rfc3339_nano(kT0 + 1500ms) == "2024-01-01T00:00:01.500000000Z");
}

TEST_CASE("parse_log_options reads kubectl's query parameters") {
  auto o = parse_log_options({{"follow", "true"},
                              {"tailLines", "2"},
                              {"timestamps", "true"},
                              {"previous", "false"},
                              {"limitBytes", "10"},
                              {"sinceSeconds", "60"},
                              {"container", "web"}},
                             kT0);
  REQUIRE(o.ok());
  CHECK(o->follow);
  CHECK(o->timestamps);
  CHECK(!o->previous);
  CHECK(o->tail_lines == 2);
  CHECK(o->limit_bytes == 10);
  CHECK(o->since == kT0 - 60s);
  auto t = parse_log_options({{"sinceTime", "2024-01-01T00:00:05Z"}}, kT0);
  REQUIRE(t.ok());
  CHECK(t->since == kT0 + 5s);

  struct Bad {
    std::map<std::string, std::string> q;
  };
  for (const auto& b : std::vector<Bad>{{{{"tailLines", "x"}}},
                                        {{{"tailLines", "-1"}}},
                                        {{{"limitBytes", "0"}}},
                                        {{{"sinceSeconds", "0"}}},
                                        {{{"sinceTime", "yesterday"}}},
                                        {{{"sinceSeconds", "5"}, {"sinceTime", "2024-01-01T00:00:05Z"}}}}) {
    auto r = parse_log_options(b.q, kT0);
    CHECK(r.status().code() == Code::kBadRequest);
  }
}

TEST_CASE("reading a log: tail, since, timestamps, partial lines, limitBytes") {
  TempDir dir;
  const std::string f = container_log_path(dir.path, "web", 0);
  append(f, line(1, "one") + line(2, "two-", true) + line(3, "and-", true) + line(4, "joined") +
                line(5, "err", false, "stderr") + line(6, "six"));
  // A torn record (no CRI header) is skipped; an unterminated last record waits for its end.
  append(f, "not a record\n");

  struct Case {
    const char* name;
    LogOptions options;
    std::string want;
  };
  LogOptions tail2;
  tail2.tail_lines = 2;
  LogOptions tail0;
  tail0.tail_lines = 0;
  LogOptions since;
  since.since = kT0 + 4s;
  LogOptions stamps;
  stamps.timestamps = true;
  stamps.tail_lines = 1;
  LogOptions limit;
  limit.limit_bytes = 6;
  std::vector<Case> cases{
      {"all", LogOptions{}, "one\ntwo-and-joined\nerr\nsix\n"},
      {"tail 2", tail2, "err\nsix\n"},
      {"tail 0", tail0, ""},
      {"since: a joined line carries its first piece's time", since, "err\nsix\n"},
      {"timestamps", stamps, "2024-01-01T00:00:06.000000000Z six\n"},
      {"limitBytes", limit, "one\ntw"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) { CHECK(read_all(dir.path, "web", c.options) == c.want); }
  }
}

TEST_CASE("previous reads the restart before the newest; rotated parts come first") {
  TempDir dir;
  append(container_log_path(dir.path, "web", 0) + ".1", line(1, "zero-old"));
  append(container_log_path(dir.path, "web", 0), line(2, "zero-new"));
  append(container_log_path(dir.path, "web", 1), line(3, "one"));
  CHECK(container_log_restarts(dir.path, "web") == std::vector<std::uint32_t>{0, 1});

  CHECK(read_all(dir.path, "web", LogOptions{}) == "one\n");
  LogOptions prev;
  prev.previous = true;
  CHECK(read_all(dir.path, "web", prev) == "zero-old\nzero-new\n");
  prev.tail_lines = 1;
  CHECK(read_all(dir.path, "web", prev) == "zero-new\n");

  SUBCASE("no previous restart is BadRequest in Kubernetes' words") {
    append(container_log_path(dir.path, "solo", 0), line(1, "x"));
    LogOptions p;
    p.previous = true;
    auto r = ContainerLogReader::open(dir.path, "solo", p, "mypod");
    CHECK(r.status().code() == Code::kBadRequest);
    CHECK(r.status().message() == "previous terminated container \"solo\" in pod \"mypod\" not found");
  }
  SUBCASE("a container without a log is NotFound") {
    CHECK(ContainerLogReader::open(dir.path, "nope", LogOptions{}).status().code() ==
          Code::kNotFound);
  }
}

// Reads until `want` has arrived (or the reader ends), polling as the node server does.
std::string follow_until(ContainerLogReader& r, const std::string& want, bool* ended = nullptr) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto chunk = r.read();
    if (!chunk) {
      if (ended) *ended = true;
      return got;
    }
    got += *chunk;
    if (got.size() >= want.size() && !ended) return got;
    if (chunk->empty()) std::this_thread::sleep_for(5ms);
  }
  return got;
}

TEST_CASE("follow returns what is appended, across a rotation, until a restart supersedes it") {
  TempDir dir;
  const std::string f0 = container_log_path(dir.path, "web", 0);
  append(f0, line(1, "a") + line(2, "b"));
  LogOptions o;
  o.follow = true;
  o.tail_lines = 1;
  auto r = ContainerLogReader::open(dir.path, "web", o, "p");
  REQUIRE(r.ok());
  CHECK(follow_until(**r, "b\n") == "b\n");
  CHECK((*r)->read() == std::string());  // nothing new yet, still following

  // A partial record is held until its end arrives.
  append(f0, line(3, "c-", true));
  CHECK((*r)->read() == std::string());
  append(f0, line(3, "done") + line(4, "d"));
  CHECK(follow_until(**r, "c-done\nd\n") == "c-done\nd\n");

  // Rotation: the live file becomes .1, a new live file starts.
  append(f0, line(5, "before-rotation"));
  fs::rename(f0, f0 + ".1");
  append(f0, line(6, "after-rotation"));
  CHECK(follow_until(**r, "before-rotation\nafter-rotation\n") ==
        "before-rotation\nafter-rotation\n");

  // The container restarts: the followed log ends after its last lines.
  append(f0, line(7, "last"));
  append(container_log_path(dir.path, "web", 1), line(8, "next life"));
  bool ended = false;
  CHECK(follow_until(**r, "", &ended) == "last\n");
  CHECK(ended);
}

TEST_CASE("stop_following: the rest of the file, then the end") {
  TempDir dir;
  const std::string f0 = container_log_path(dir.path, "web", 0);
  append(f0, line(1, "a"));
  LogOptions o;
  o.follow = true;
  auto r = ContainerLogReader::open(dir.path, "web", o, "p");
  REQUIRE(r.ok());
  CHECK((*r)->read() == std::string("a\n"));
  CHECK((*r)->read() == std::string());
  append(f0, line(2, "last words"));
  (*r)->stop_following();
  CHECK((*r)->read() == std::string("last words\n"));
  CHECK(!(*r)->read());
}

}  // namespace
}  // namespace orch::agent
