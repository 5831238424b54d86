// Container log files (CRI format): paths, parsing, and the reader behind `kubectl logs`.
//
// The reader keeps the live file open and remembers its inode: after a rotation (the live file
// renamed to <n>.log.1 and a new <n>.log created) it drains the old descriptor, then opens the
// new file from its start. Thread-safety: see the header.
#include "orch/agent/container_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fmt/format.h>

#include "orch/api/time.hpp"

namespace orch::agent {
namespace {

namespace fs = std::filesystem;
using SysTime = std::chrono::system_clock::time_point;

constexpr std::size_t kReadChunk = 64 * 1024;
// Longest single line kept while waiting for its end; beyond this it is cut and emitted.
constexpr std::size_t kMaxLine = 16 * 1024 * 1024;

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool truthy(std::string_view s) { return s == "true" || s == "True" || s == "1"; }

struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};

std::optional<FileId> id_of_path(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

std::optional<FileId> id_of_fd(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

// Reads from `fd` until EOF into `out`; false on a read error.
bool read_all(int fd, std::string& out) {
  char buf[kReadChunk];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) return true;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

std::string container_log_path(std::string_view pod_log_dir, std::string_view container,
                               std::uint32_t restart_count) {
  std::string p(pod_log_dir);
  if (!p.empty() && p.back() != '/') p += '/';
  p += container;
  p += '/';
  p += std::to_string(restart_count);
  p += ".log";
  return p;
}

std::string format_rfc3339_nano(SysTime t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  std::int64_t secs = ns / 1'000'000'000;
  std::int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    secs -= 1;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

std::string format_cri_line(SysTime t, std::string_view stream, bool partial,
                            std::string_view content) {
  std::string out = format_rfc3339_nano(t);
  out += ' ';
  out += stream;
  out += partial ? " P " : " F ";
  out += content;
  out += '\n';
  return out;
}

std::optional<CriRecord> parse_cri_line(std::string_view line) {
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return std::nullopt;
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return std::nullopt;
  CriRecord r;
  r.time_text = line.substr(0, sp1);
  r.stream = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (r.stream != "stdout" && r.stream != "stderr") return std::nullopt;
  auto t = api::Time::parse(r.time_text);
  if (!t.ok()) return std::nullopt;
  r.time = t->value;
  std::string_view rest = line.substr(sp2 + 1);
  // "<F|P> <content>"; an empty content may lose its separating space.
  if (rest.empty() || (rest[0] != 'F' && rest[0] != 'P')) return std::nullopt;
  if (rest.size() > 1 && rest[1] != ' ') return std::nullopt;
  r.partial = rest[0] == 'P';
  r.content = rest.size() > 2 ? rest.substr(2) : std::string_view();
  return r;
}

Result<LogOptions> parse_log_options(const std::map<std::string, std::string>& query, SysTime now) {
  LogOptions o;
  auto get = [&](const char* k) -> const std::string* {
    auto it = query.find(k);
    return it == query.end() ? nullptr : &it->second;
  };
  auto number = [&](const char* k, std::int64_t min) -> Result<std::optional<std::int64_t>> {
    const std::string* v = get(k);
    if (!v || v->empty()) return std::optional<std::int64_t>();
    auto n = parse_int(*v);
    if (!n) return bad_request(fmt::format("{}: invalid value \"{}\"", k, *v));
    if (*n < min) return bad_request(fmt::format("{}: must be greater than or equal to {}", k, min));
    return std::optional<std::int64_t>(*n);
  };
  if (auto* v = get("follow")) o.follow = truthy(*v);
  if (auto* v = get("timestamps")) o.timestamps = truthy(*v);
  if (auto* v = get("previous")) o.previous = truthy(*v);
  ORCH_ASSIGN_OR_RETURN(o.tail_lines, number("tailLines", 0));
  ORCH_ASSIGN_OR_RETURN(o.limit_bytes, number("limitBytes", 1));
  ORCH_ASSIGN_OR_RETURN(auto since_seconds, number("sinceSeconds", 1));
  const std::string* since_time = get("sinceTime");
  if (since_seconds && since_time && !since_time->empty()) {
    return bad_request("at most one of sinceTime or sinceSeconds may be specified");
  }
  if (since_seconds) o.since = now - std::chrono::seconds(*since_seconds);
  if (since_time && !since_time->empty()) {
    auto t = api::Time::parse(*since_time);
    if (!t.ok()) return bad_request("sinceTime: " + t.status().message());
    o.since = t->value;
  }
  return o;
}

std::vector<std::uint32_t> container_log_restarts(std::string_view pod_log_dir,
                                                  std::string_view container) {
  std::vector<std::uint32_t> out;
  std::error_code ec;
  fs::path dir = fs::path(std::string(pod_log_dir)) / std::string(container);
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::string_view base = name;
    if (base.ends_with(".log.1")) base.remove_suffix(6);
    else if (base.ends_with(".log")) base.remove_suffix(4);
    else continue;
    std::uint32_t n = 0;
    auto [p, pec] = std::from_chars(base.data(), base.data() + base.size(), n);
    if (pec != std::errc() || p != base.data() + base.size() || base.empty()) continue;
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

struct ContainerLogReader::Impl {
  std::string pod_log_dir;
  std::string container;
  LogOptions options;
  std::uint32_t restart = 0;
  std::string path;  // <restart>.log

  int fd = -1;
  std::optional<FileId> fd_id;
  bool started = false;
  bool ended = false;
  std::int64_t emitted = 0;

  std::string carry;          // bytes after the last '\n' read so far
  std::string joined;         // content of P records waiting for their F
  std::string joined_time;    // the first piece's time text
  std::optional<SysTime> joined_tp;

  ~Impl() {
    if (fd >= 0) ::close(fd);
  }

  // One whole (joined) line: formatted into `out` when it passes the since filter.
  void emit_line(std::string_view time_text, SysTime t, std::string_view content,
                 std::deque<std::string>& out) const {
    if (options.since && t < *options.since) return;
    std::string line;
    if (options.timestamps) {
      line = format_rfc3339_nano(t);
      line += ' ';
    }
    (void)time_text;
    line += content;
    line += '\n';
    out.push_back(std::move(line));
  }

  // Splits `data` (appended to the carry) into records; whole lines go to `out`.
  void consume(std::string_view data, std::deque<std::string>& out) {
    carry.append(data);
    std::size_t start = 0;
    for (;;) {
      auto nl = carry.find('\n', start);
      if (nl == std::string::npos) break;
      std::string_view line(carry.data() + start, nl - start);
      start = nl + 1;
      auto rec = parse_cri_line(line);
      if (!rec) continue;  // not a CRI record (a torn write): skip, as the kubelet does
      if (joined.empty() && !joined_tp) {
        joined_time = std::string(rec->time_text);
        joined_tp = rec->time;
      }
      if (rec->partial && joined.size() + rec->content.size() < kMaxLine) {
        joined.append(rec->content);
        continue;
      }
      joined.append(rec->content);
      emit_line(joined_time, *joined_tp, joined, out);
      joined.clear();
      joined_tp.reset();
    }
    carry.erase(0, start);
    if (carry.size() > kMaxLine) carry.clear();  // a runaway line without records
  }

  Status open_live() {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return not_found("log file " + path + " not found");
    fd_id = id_of_fd(fd);
    return Status();
  }

  // The first output: both parts of the restart, filtered, then the tail.
  std::string initial() {
    std::deque<std::string> lines;
    std::string rotated;
    int rfd = ::open((path + ".1").c_str(), O_RDONLY | O_CLOEXEC);
    if (rfd >= 0 && fd_id && id_of_fd(rfd) == fd_id) {
      ::close(rfd);  // the live descriptor is the rotated file itself
      rfd = -1;
    }
    if (rfd >= 0) {
      read_all(rfd, rotated);
      ::close(rfd);
      consume(rotated, lines);
    }
    std::string live;
    read_all(fd, live);
    consume(live, lines);
    if (options.tail_lines) {
      auto keep = static_cast<std::size_t>(*options.tail_lines);
      while (lines.size() > keep) lines.pop_front();
    }
    std::string out;
    for (auto& l : lines) out += l;
    return out;
  }

  // Applies limitBytes to `out`; ends the log once it is reached.
  std::string limit(std::string out) {
    if (options.limit_bytes) {
      std::int64_t left = *options.limit_bytes - emitted;
      if (static_cast<std::int64_t>(out.size()) >= left) {
        out.resize(static_cast<std::size_t>(std::max<std::int64_t>(0, left)));
        ended = true;
      }
    }
    emitted += static_cast<std::int64_t>(out.size());
    return out;
  }

  // Whether the followed file has been superseded by a later restart or removed.
  bool superseded() const {
    auto restarts = container_log_restarts(pod_log_dir, container);
    if (!restarts.empty() && restarts.back() > restart) return true;
    if (id_of_path(path)) return false;
    // The live file is gone: a rotation in progress keeps it as <n>.log.1.
    auto rotated = id_of_path(path + ".1");
    return !(rotated && fd_id && *rotated == *fd_id);
  }

  std::optional<std::string> next() {
    if (ended) return std::nullopt;
    std::deque<std::string> lines;
    std::string data;
    read_all(fd, data);
    consume(data, lines);
    if (data.empty()) {
      auto now_id = id_of_path(path);
      if (now_id && fd_id && !(*now_id == *fd_id)) {
        // Rotated: the old descriptor is drained; continue with the new file from its start.
        ::close(fd);
        fd = -1;
        if (!open_live().ok()) {
          ended = true;
          return std::nullopt;
        }
        read_all(fd, data);
        consume(data, lines);
      } else if (superseded()) {
        // One last drain, then the end.
        read_all(fd, data);
        consume(data, lines);
        ended = true;
      }
    }
    if (!options.follow) ended = true;  // stop_following(): this drain was the last read
    std::string out;
    for (auto& l : lines) out += l;
    bool was_ended = ended;
    out = limit(std::move(out));
    if (out.empty() && (was_ended || ended)) return std::nullopt;
    return out;
  }
};

ContainerLogReader::ContainerLogReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ContainerLogReader::~ContainerLogReader() = default;

Result<std::unique_ptr<ContainerLogReader>> ContainerLogReader::open(std::string_view pod_log_dir,
                                                                     std::string_view container,
                                                                     const LogOptions& options,
                                                                     std::string_view pod_name) {
  auto restarts = container_log_restarts(pod_log_dir, container);
  auto impl = std::make_unique<Impl>();
  impl->pod_log_dir = std::string(pod_log_dir);
  impl->container = std::string(container);
  impl->options = options;
  if (options.previous) {
    if (restarts.size() < 2) {
      return bad_request(fmt::format("previous terminated container \"{}\" in pod \"{}\" not found",
                                     container, pod_name));
    }
    impl->restart = restarts[restarts.size() - 2];
    impl->options.follow = false;  // a previous container's log no longer grows
  } else {
    if (restarts.empty()) {
      return not_found(fmt::format("container \"{}\" in pod \"{}\" has no log yet", container,
                                   pod_name));
    }
    impl->restart = restarts.back();
  }
  impl->path = container_log_path(pod_log_dir, container, impl->restart);
  if (!impl->open_live().ok()) {
    // Only the rotated part exists (a rotation in progress): read that one.
    impl->path += ".1";
    ORCH_TRY(impl->open_live());
    impl->path.resize(impl->path.size() - 2);
  }
  return std::unique_ptr<ContainerLogReader>(new ContainerLogReader(std::move(impl)));
}

std::optional<std::string> ContainerLogReader::read() {
  Impl& s = *impl_;
  if (!s.started) {
    s.started = true;
    std::string out = s.limit(s.initial());
    if (!s.options.follow) s.ended = true;
    if (out.empty() && s.ended) return std::nullopt;
    return out;
  }
  return s.next();
}

void ContainerLogReader::stop_following() { impl_->options.follow = false; }

}  // namespace orch::agent
