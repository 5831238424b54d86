// orchctl: a kubectl work-alike over liborch's client. Every verb lives here, behind one entry
// point, so the binary (apps/orchctl) is a thin main() and tests drive the CLI in-process.
//
//   std::ostringstream out, err;
//   int rc = orch::cli::run_orchctl({"get", "pods", "-n", "kube-system"}, out, err);
//
// Output and error wording follow kubectl 1.32: server errors print as
// `Error from server (NotFound): pods "x" not found`, client errors as `error: ...`, one line,
// exit code 1. `get` prints the server's Table (Accept: as=Table) the way kubectl's tabwriter does.
//
// The pure parts (argument parsing, JSONPath, table formatting, apply's three-way merge) are
// exposed for unit tests.
//
// Long-running verbs block the caller as kubectl does: `port-forward` until its tunnel ends
// (client::PortForward; its "Handling connection" lines are written to `out` from the tunnel's
// thread meanwhile), `get -w` and `logs -f` until the stream ends, `wait`, `drain`, `delete` and
// `rollout status` until done or --timeout.
//
// Thread-safety: run_orchctl reads the environment (KUBECONFIG, KUBE_EDITOR, EDITOR, HOME) and
// may run an editor; call it from one thread at a time.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <iosfwd>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "orch/status.hpp"

namespace orch::cli {

// Runs one orchctl command (`args` excludes the program name). Returns the exit code.
// `in` is read for `-f -`.
int run_orchctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                std::istream& in);
int run_orchctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// A parsed command line: positional words in order, flags by long name (short forms mapped:
// -n namespace, -o output, -l selector, -f filename (follow for `logs`), -A all-namespaces,
// -w watch, -c container, -R recursive). Flags may appear anywhere; `--x=v`, `--x v`, `-n v`,
// `-nv`; `--` ends flags. A boolean flag stores "true" (or the value after '=').
struct Args {
  std::vector<std::string> positional{};
  std::map<std::string, std::vector<std::string>> flags{};

  bool has(std::string_view name) const;
  // The last value of `name`, or `fallback`.
  std::string get(std::string_view name, std::string fallback = "") const;
  // Every value of a repeatable flag (--env, -f).
  std::vector<std::string> all(std::string_view name) const;
  // A boolean flag: absent -> fallback; "true"/"" -> true; "false" -> false.
  bool flag(std::string_view name, bool fallback = false) const;
};

// BadRequest on an unknown flag (`unknown flag: --x`, `unknown shorthand flag: 'z' in -z`) or a
// value-taking flag without a value (`flag needs an argument: --namespace`). -f means --follow
// when the first positional word is `logs`, --filename otherwise.
Result<Args> parse_args(const std::vector<std::string>& argv);

// kubectl's JSONPath template (`{.items[*].metadata.name}`, `{range .items[*]}{.x}{"\n"}{end}`,
// filters `[?(@.type=="Ready")]`, indices, slices of one index, `*`, `..name` recursion).
// Results of one expression are joined by spaces; strings print raw, maps/lists as JSON.
// BadRequest on a malformed template. A missing field prints nothing (kubectl's default
// --allow-missing-template-keys=true); with `strict` it is NotFound (`x is not found`).
Result<std::string> eval_jsonpath(std::string_view tmpl, const boost::json::value& data,
                                  bool strict = false);

struct TableOptions {
  bool wide = false;          // include priority > 0 columns
  bool no_headers = false;
  bool with_namespace = false;  // a NAMESPACE column first (-A)
  std::string kind_prefix{};    // "deployment.apps/" before every NAME (several kinds)
  bool show_labels = false;     // a LABELS column last
};

// The rows of meta.k8s.io/v1 Table `table` as kubectl prints them (upper-case headers, columns
// padded to their widest cell plus 3 spaces, the last column unpadded).
std::string format_table(const boost::json::value& table, const TableOptions& options);
// The cells format_table aligns: the header (unless no_headers), then one row per table row.
std::vector<std::vector<std::string>> table_rows(const boost::json::value& table,
                                                 const TableOptions& options);
// Rows of several tables aligned as one (kubectl aligns rows of one kind across pages/watch).
std::string format_rows(const std::vector<std::vector<std::string>>& rows, std::size_t padding = 3);

// kubectl's client-side apply patch, as a JSON merge patch: what to send so `current` ends up
// with `modified`'s fields, deleting fields the user removed since `original` (the
// last-applied configuration; null when none). Lists are replaced whole when the user changed
// them or the live list no longer contains what the user wrote (server defaults inside list
// items are kept otherwise). An empty object means "unchanged".
boost::json::value three_way_merge_patch(const boost::json::value& original,
                                         const boost::json::value& modified,
                                         const boost::json::value& current);

// JSON with keys sorted and <, >, & escaped as Go's encoding/json writes them (the form of the
// last-applied-configuration annotation, without its trailing newline).
std::string go_json(const boost::json::value& value);
// JSON indented by 4 spaces, keys sorted, as `kubectl get -o json` prints it.
std::string pretty_json(const boost::json::value& value);

// "5s", "3m", "2d4h" as kubectl prints ages (duration in seconds).
std::string human_duration(long long seconds);

// `explain`: kubectl 1.32's plaintext description of `path` ("pod", "pod.spec.containers",
// "deployments.apps.spec.strategy") from a built-in table of the supported kinds' fields
// (lib/cli/explain.cpp). `recursive` lists the nested field names instead of the descriptions.
// NotFound: `the server doesn't have a resource type "x"`, `field "x" does not exist`.
// BadRequest on an empty path.
Result<std::string> explain(std::string_view path, bool recursive = false);

// kubectl's Go durations for --timeout: "30s", "2m", "1h30m", "500ms", or a bare number of
// seconds; "0" means no limit. BadRequest: `invalid argument "x" for "--timeout" flag: ...`.
Result<std::chrono::milliseconds> parse_timeout(std::string_view text);

// A `wait --for` condition: `delete`, `condition=Ready` (value "True"), `condition=Ready=false`,
// `jsonpath={.status.phase}=Running`. BadRequest: `unrecognized condition: "x"`.
struct WaitFor {
  enum class Kind { kDelete, kCondition, kJsonPath };
  Kind kind = Kind::kDelete;
  std::string name{};   // condition type, or the JSONPath template
  std::string value{};  // wanted status / value (a condition's is compared case-insensitively)
};
Result<WaitFor> parse_wait_for(std::string_view text);

// One step of `rollout status` for a Deployment, StatefulSet or DaemonSet object, in kubectl's
// words (`Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been
// updated...`, `deployment "web" successfully rolled out`). `error` is set (and done) when the
// rollout cannot finish (progress deadline exceeded, OnDelete strategy).
struct RolloutStep {
  std::string message{};
  bool done = false;
  std::string error{};
};
RolloutStep rollout_status(std::string_view kind, const boost::json::value& object);
// Whether `object` meets `w` (kCondition, kJsonPath; kDelete is never met by an object).
bool wait_for_met(const WaitFor& w, const boost::json::value& object);

}  // namespace orch::cli
