// Container log files in the CRI log format, and reading them the way `kubectl logs` asks.
//
// Layout (written by the runtime, read here): one directory per pod, one sub-directory per
// container, one file per restart:
//
//   <pod_log_dir>/<container>/<restart_count>.log      the live file of that restart
//   <pod_log_dir>/<container>/<restart_count>.log.1    the same restart's rotated, older part
//
// Every line is `<RFC3339Nano time> <stdout|stderr> <F|P> <content>`: F ends a line, P is a
// partial line whose content continues in the next record (the reader joins them; the joined
// line carries the first piece's time).
//
// Reading: LogOptions carries kubectl's query parameters (container is chosen by the caller),
// ContainerLogReader turns the files into the bytes the API server sends: the content lines
// (each ending '\n'), optionally prefixed with their time, filtered by since, cut to the last
// tailLines and to limitBytes. With follow, read() keeps returning what is appended, across a
// rotation of the file, until a later restart's file appears (the container was restarted), the
// file is removed, or the caller stops asking.
//
// Thread-safety: ContainerLogReader is used by one thread at a time; the free functions are
// stateless.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orch/status.hpp"

namespace orch::agent {

// "<pod_log_dir>/<container>/<restart_count>.log".
std::string container_log_path(std::string_view pod_log_dir, std::string_view container,
                               std::uint32_t restart_count);

// kubectl's log options (PodLogOptions), minus the container.
struct LogOptions {
  bool follow = false;                       // follow=true
  std::optional<std::int64_t> tail_lines;    // tailLines=N: only the last N lines (0 = none)
  // sinceSeconds=N / sinceTime=RFC3339: only lines at or after this instant.
  std::optional<std::chrono::system_clock::time_point> since;
  bool timestamps = false;                   // timestamps=true: "<RFC3339Nano> " before each line
  bool previous = false;                     // previous=true: the restart before the current one
  std::optional<std::int64_t> limit_bytes;   // limitBytes=N: stop after N bytes of output
};

// Reads LogOptions from a request's query (follow, tailLines, sinceSeconds, sinceTime,
// timestamps, previous, limitBytes); `now` turns sinceSeconds into an instant. BadRequest for a
// malformed or negative number, a bad time, or both sinceSeconds and sinceTime (as Kubernetes).
// Unknown parameters (container, pretty, ...) are ignored.
Result<LogOptions> parse_log_options(const std::map<std::string, std::string>& query,
                                     std::chrono::system_clock::time_point now);

// One CRI log record.
struct CriRecord {
  std::chrono::system_clock::time_point time;
  std::string_view time_text;  // the record's own RFC3339Nano text
  std::string_view stream;     // "stdout" or "stderr"
  bool partial = false;        // P
  std::string_view content;    // without the trailing newline
};
// Parses one line (without its '\n'); nullopt when it is not a CRI record.
std::optional<CriRecord> parse_cri_line(std::string_view line);
// "2024-01-01T00:00:00.123456789Z": UTC, nine fractional digits as the CRI writes them.
std::string format_rfc3339_nano(std::chrono::system_clock::time_point t);
// Formats one CRI record (for writers and tests): "<time> <stream> <F|P> <content>\n".
std::string format_cri_line(std::chrono::system_clock::time_point t, std::string_view stream,
                            bool partial, std::string_view content);

// The restart counts that have a log file for `container`, ascending. Empty when none.
std::vector<std::uint32_t> container_log_restarts(std::string_view pod_log_dir,
                                                  std::string_view container);

class ContainerLogReader {
 public:
  // Opens the newest restart's log (options.previous: the one before it). NotFound when the
  // container has no log yet; BadRequest ("previous terminated container \"c\" in pod \"p\" not
  // found", Kubernetes' wording with the pod name given by the caller) when previous is asked
  // and there is no earlier restart.
  static Result<std::unique_ptr<ContainerLogReader>> open(std::string_view pod_log_dir,
                                                          std::string_view container,
                                                          const LogOptions& options,
                                                          std::string_view pod_name = "");
  ~ContainerLogReader();
  ContainerLogReader(const ContainerLogReader&) = delete;
  ContainerLogReader& operator=(const ContainerLogReader&) = delete;

  // The output available now (never blocks): a non-empty string of whole lines; "" when there is
  // nothing yet (only while following: call again later, e.g. after 100 ms); nullopt once the
  // log has ended (not following and all read, the limit reached, or the followed file
  // superseded by a later restart or removed).
  std::optional<std::string> read();
  // Ends following: the next read() returns what is left in the file, and the one after it
  // nullopt. For a container that has exited (Kubernetes ends `logs -f` then).
  void stop_following();

 private:
  struct Impl;
  explicit ContainerLogReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace orch::agent
