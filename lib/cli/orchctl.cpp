// orchctl's verbs. See include/orch/cli/orchctl.hpp.
#include "orch/cli/orchctl.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "orch/api/registry.hpp"
#include "orch/api/yaml.hpp"
#include "orch/client/client.hpp"
#include "orch/client/kubeconfig.hpp"
#include "orch/client/port_forward.hpp"
#include "orch/client/resource.hpp"

namespace orch::cli {

namespace json = boost::json;
namespace fs = std::filesystem;
using client::Client;
using client::Resource;

namespace {

constexpr std::string_view kTableAccept =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json";
constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

// A command's failure: what to print (already in kubectl's wording, without "error: ").
struct Failure {
  std::string line;
};

Resource to_resource(const api::ResourceInfo& info) {
  return Resource{std::string(info.group), std::string(info.version), std::string(info.resource),
                  info.namespaced};
}

// "deployment.apps" / "pod": how kubectl names a kind in "<kind>/<name> created".
std::string kind_ref(const api::ResourceInfo& info) {
  std::string k(info.kind);
  for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!info.group.empty()) k += "." + std::string(info.group);
  return k;
}

const json::value* at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto p : path) {
    if (!cur->is_object()) return nullptr;
    cur = cur->get_object().if_contains(p);
    if (!cur) return nullptr;
  }
  return cur;
}

std::string str_at(const json::value& v, std::initializer_list<std::string_view> path,
                   std::string fallback = "") {
  const auto* p = at(v, path);
  if (!p) return fallback;
  if (p->is_string()) return std::string(p->get_string());
  if (p->is_int64()) return std::to_string(p->get_int64());
  if (p->is_uint64()) return std::to_string(p->get_uint64());
  if (p->is_bool()) return p->get_bool() ? "true" : "false";
  return fallback;
}

long long int_at(const json::value& v, std::initializer_list<std::string_view> path, long long fallback = 0) {
  const auto* p = at(v, path);
  if (!p || !p->is_number()) return fallback;
  return p->to_number<long long>();
}

json::object& obj(json::value& v, std::string_view key) {
  auto& o = v.as_object();
  auto* p = o.if_contains(key);
  if (!p || !p->is_object()) o[key] = json::object();
  return o[key].as_object();
}

std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view s) {
  std::tm tm{};
  std::string str(s);
  if (strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string age_of(std::string_view timestamp) {
  auto t = parse_time(timestamp);
  if (!t) return "<unknown>";
  return human_duration(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - *t).count());
}

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    auto p = s.find(sep, start);
    out.emplace_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

std::string server_error(const Status& st) {
  if (st.code() == Code::kInvalidArgument) return "The " + st.message();
  return "Error from server (" + std::string(k8s_reason(st.code())) + "): " + st.message();
}

class Orchctl {
 public:
  Orchctl(Args args, std::ostream& out, std::ostream& err, std::istream& in)
      : a_(std::move(args)), out_(out), err_(err), in_(in) {}

  int run();

 private:
  // Connection --------------------------------------------------------------------------------
  Status load_config();
  Status connect();
  // Prints a client Status from talking to the server.
  int fail(const Status& st);
  int fail(const std::string& line) {
    err_ << line << "\n";
    return 1;
  }
  std::string ns() const { return ns_; }

  // Verbs -------------------------------------------------------------------------------------
  int cmd_get();
  int cmd_run();
  int cmd_create();
  int cmd_apply();
  int cmd_delete();
  int cmd_scale();
  int cmd_expose();
  int cmd_set();
  int cmd_rollout();
  int cmd_logs();
  int cmd_describe();
  int cmd_label(bool annotate);
  int cmd_cordon(bool cordon);
  int cmd_edit();
  int cmd_config();
  int cmd_version();
  int cmd_api_resources();
  int cmd_port_forward();
  int cmd_drain();
  int cmd_wait();
  int cmd_explain();

  // Helpers -----------------------------------------------------------------------------------
  // "deploy/web" or ("deploy", "web") -> resource and name.
  Result<std::pair<const api::ResourceInfo*, std::string>> resolve_one(std::size_t first);
  const api::ResourceInfo* find_type(std::string_view name, std::string& error);
  Result<std::vector<json::value>> read_files();
  int print_objects(const std::vector<json::value>& objects, const std::string& output, bool as_list);
  int create_object(json::value object, const std::string& verb_output);
  // Polls until the object is gone. After a second, prints `what` (when not empty) on stderr
  // once. DeadlineExceeded after `timeout` (zero: no limit).
  Status wait_deleted(const Resource& r, const std::string& ns, const std::string& name,
                      const std::string& what, std::chrono::milliseconds timeout);
  Result<json::value> table(const api::ResourceInfo& info, const std::string& ns, const std::string& name,
                            const std::string& selector);
  json::value pod_document(const std::string& name);
  json::value deployment_document(const std::string& name, const std::string& image, long long replicas,
                                  bool run_labels);
  std::string events_for(const json::value& object);
  // cordon/uncordon one node, printing kubectl's line. 0 or 1 (after printing the error).
  int set_unschedulable(const std::string& name, bool cordon);
  // The pod a workload or service selects (kubectl's choice: Running and Ready first, then the
  // oldest), waiting up to --pod-running-timeout for one to exist.
  Result<json::value> pod_for(const api::ResourceInfo& info, const json::value& object);

  Args a_;
  std::ostream& out_;
  std::ostream& err_;
  std::istream& in_;
  client::Config config_{};
  std::string context_{};
  std::string server_{};
  std::string ns_ = "default";
  bool all_ns_ = false;
  std::shared_ptr<Client> client_{};
  client::HttpTransportOptions http_options_{};
};

Status Orchctl::load_config() {
  std::string explicit_path = a_.get("kubeconfig");
  if (!explicit_path.empty() && !fs::exists(explicit_path))
    return not_found("stat " + explicit_path + ": no such file or directory");
  ORCH_ASSIGN_OR_RETURN(config_, client::load_kubeconfig(explicit_path));
  context_ = a_.get("context");
  std::string ctx = context_.empty() ? config_.current_context : context_;
  if (!ctx.empty() && config_.contexts.count(ctx)) {
    auto n = client::kubeconfig_namespace(config_, ctx);
    if (n.ok()) ns_ = *n;
  }
  if (a_.has("namespace")) ns_ = a_.get("namespace");
  all_ns_ = a_.flag("all-namespaces");
  return ok_status();
}

Status Orchctl::connect() {
  if (client_) return ok_status();
  std::string ctx = context_.empty() ? config_.current_context : context_;
  if (ctx.empty()) {
    std::string where = a_.get("kubeconfig");
    if (where.empty()) {
      const char* env = std::getenv("KUBECONFIG");
      where = env && *env ? env : "~/.kube/config";
    }
    return invalid_argument("no context is set in kubeconfig \"" + where +
                            "\": the connection to the server localhost:8080 was refused - did you "
                            "specify the right host or port?");
  }
  auto opts = client::http_options_from_kubeconfig(config_, ctx);
  if (!opts.ok()) return opts.status();
  if (!opts->servers.empty()) server_ = opts->servers.front();
  http_options_ = *opts;
  auto transport = client::make_http_transport(*opts);
  if (!transport.ok()) return transport.status();
  client_ = std::make_shared<Client>(std::shared_ptr<client::Transport>(std::move(*transport)));
  return ok_status();
}

int Orchctl::fail(const Status& st) {
  if (st.code() == Code::kUnavailable || st.code() == Code::kDeadlineExceeded) {
    std::string host = server_;
    if (auto p = host.find("://"); p != std::string::npos) host = host.substr(p + 3);
    while (!host.empty() && host.back() == '/') host.pop_back();
    return fail("The connection to the server " + host +
                " was refused - did you specify the right host or port?");
  }
  return fail(server_error(st));
}

const api::ResourceInfo* Orchctl::find_type(std::string_view name, std::string& error) {
  const auto* info = api::find_resource_by_name(name);
  if (!info) error = "error: the server doesn't have a resource type \"" + std::string(name) + "\"";
  return info;
}

Result<std::pair<const api::ResourceInfo*, std::string>> Orchctl::resolve_one(std::size_t first) {
  const auto& p = a_.positional;
  if (p.size() <= first) return bad_request("error: you must specify the type of resource");
  std::string type = p[first], name;
  if (auto slash = type.find('/'); slash != std::string::npos) {
    name = type.substr(slash + 1);
    type = type.substr(0, slash);
  } else if (p.size() > first + 1) {
    name = p[first + 1];
  }
  std::string error;
  const auto* info = find_type(type, error);
  if (!info) return bad_request(error);
  if (name.empty()) return bad_request("error: resource name may not be empty");
  return std::make_pair(info, name);
}

// ---------------------------------------------------------------------------------------------
// get

Result<json::value> Orchctl::table(const api::ResourceInfo& info, const std::string& ns,
                                   const std::string& name, const std::string& selector) {
  client::HttpRequest req;
  req.path = client::resource_path(to_resource(info), ns, name);
  req.headers["Accept"] = std::string(kTableAccept);
  if (name.empty()) {
    if (!selector.empty()) req.query["labelSelector"] = selector;
    if (a_.has("field-selector")) req.query["fieldSelector"] = a_.get("field-selector");
  }
  ORCH_ASSIGN_OR_RETURN(auto resp, client_->transport().request(req));
  boost::system::error_code ec;
  json::value v = json::parse(resp.body, ec);
  if (ec) return internal_error("the server sent a body that is not JSON");
  return v;
}

int Orchctl::print_objects(const std::vector<json::value>& objects, const std::string& output, bool as_list) {
  json::value doc;
  if (as_list) {
    json::array items;
    for (const auto& o : objects) items.push_back(o);
    doc = json::object{{"apiVersion", "v1"}, {"items", std::move(items)}, {"kind", "List"},
                       {"metadata", json::object{{"resourceVersion", ""}}}};
  } else if (!objects.empty()) {
    doc = objects.front();
  }
  if (output == "yaml") {
    out_ << api::to_yaml(doc);
  } else if (output == "json") {
    out_ << pretty_json(doc) << "\n";
  } else if (output == "name") {
    for (const auto& o : objects) {
      const auto* info = api::find_kind(str_at(o, {"apiVersion"}), str_at(o, {"kind"}));
      out_ << (info ? kind_ref(*info) : str_at(o, {"kind"})) << "/" << client::object_name(o) << "\n";
    }
  } else if (output.starts_with("jsonpath=") || output.starts_with("jsonpath-as-json=")) {
    auto r = eval_jsonpath(output.substr(output.find('=') + 1), doc);
    if (!r.ok()) return fail("error: " + r.status().message());
    out_ << *r;
  } else if (output.starts_with("custom-columns=")) {
    std::vector<std::vector<std::string>> rows;
    auto specs = split(output.substr(15), ',');
    std::vector<std::string> header;
    for (const auto& s : specs) header.push_back(s.substr(0, s.find(':')));
    rows.push_back(header);
    for (const auto& o : objects) {
      std::vector<std::string> row;
      for (const auto& s : specs) {
        auto colon = s.find(':');
        auto r = eval_jsonpath(colon == std::string::npos ? "" : s.substr(colon + 1), o);
        row.push_back(r.ok() && !r->empty() ? *r : "<none>");
      }
      rows.push_back(row);
    }
    out_ << format_rows(rows);
  } else {
    return fail("error: unable to match a printer suitable for the output format \"" + output +
                "\", allowed formats are: custom-columns,json,jsonpath,name,wide,yaml");
  }
  return 0;
}

int Orchctl::cmd_get() {
  const auto& p = a_.positional;
  if (p.size() < 2) {
    return fail(
        "You must specify the type of resource to get. Use \"orchctl api-resources\" for a complete "
        "list of supported resources.\n\nerror: Required resource not specified.");
  }
  // Groups of (resource, names) in the order given.
  std::vector<std::pair<const api::ResourceInfo*, std::vector<std::string>>> groups;
  bool show_kind = false;
  std::string error;
  auto add_type = [&](std::string_view t) -> bool {
    if (t == "all") {
      show_kind = true;
      for (const auto& r : api::all_resources())
        if (std::find(r.categories.begin(), r.categories.end(), "all") != r.categories.end())
          groups.push_back({&r, {}});
      return true;
    }
    const auto* info = find_type(t, error);
    if (!info) return false;
    groups.push_back({info, {}});
    return true;
  };
  if (p[1].find('/') != std::string::npos) {
    std::set<const api::ResourceInfo*> kinds;
    for (std::size_t i = 1; i < p.size(); ++i) {
      auto slash = p[i].find('/');
      if (slash == std::string::npos)
        return fail("error: there is no need to specify a resource type as a separate argument when passing arguments in resource/name form");
      const auto* info = find_type(p[i].substr(0, slash), error);
      if (!info) return fail(error);
      kinds.insert(info);
      if (!groups.empty() && groups.back().first == info) groups.back().second.push_back(p[i].substr(slash + 1));
      else groups.push_back({info, {p[i].substr(slash + 1)}});
    }
    show_kind = kinds.size() > 1;
  } else {
    auto types = split(p[1], ',');
    if (types.size() > 1) show_kind = true;
    for (const auto& t : types)
      if (!add_type(t)) return fail(error);
    if (p.size() > 2) {
      if (groups.size() > 1) return fail("error: arguments in resource/name form must have a single resource and name");
      groups.front().second.assign(p.begin() + 2, p.end());
    }
  }
  if (auto st = connect(); !st.ok()) return fail(st);
  std::string output = a_.get("output");
  std::string selector = a_.get("selector");
  std::string list_ns = all_ns_ ? "" : ns_;
  int rc = 0;

  if (!output.empty() && output != "wide") {
    std::vector<json::value> objects;
    bool single = groups.size() == 1 && groups[0].second.size() == 1;
    for (auto& [info, names] : groups) {
      Resource r = to_resource(*info);
      auto fill = [&](json::value o) {
        if (o.is_object()) {
          auto& m = o.as_object();
          if (!m.contains("apiVersion")) m["apiVersion"] = info->api_version();
          if (!m.contains("kind")) m["kind"] = info->kind;
        }
        objects.push_back(std::move(o));
      };
      if (names.empty()) {
        client::ListOptions lo;
        lo.label_selector = selector;
        lo.field_selector = a_.get("field-selector");
        auto list = client_->list_all(r, list_ns, lo);
        if (!list.ok()) return fail(list.status());
        for (auto& o : list->items) fill(std::move(o));
      } else {
        for (const auto& n : names) {
          auto o = client_->get(r, ns_, n);
          if (!o.ok()) {
            fail(o.status());
            rc = 1;
            continue;
          }
          fill(std::move(*o));
        }
      }
    }
    if (single && objects.empty()) return rc;
    int prc = print_objects(objects, output, !single);
    return prc ? prc : rc;
  }

  TableOptions opts;
  opts.wide = output == "wide";
  opts.no_headers = a_.flag("no-headers");
  opts.show_labels = a_.flag("show-labels");
  bool printed_any = false;
  std::string last_rv;
  json::value last_table;
  for (auto& [info, names] : groups) {
    opts.with_namespace = all_ns_ && info->namespaced;
    opts.kind_prefix = show_kind ? kind_ref(*info) + "/" : "";
    json::value merged;
    if (names.empty()) {
      auto t = table(*info, list_ns, "", selector);
      if (!t.ok()) {
        if (groups.size() > 1 && t.status().code() == Code::kNotFound) continue;
        return fail(t.status());
      }
      merged = std::move(*t);
      last_rv = str_at(merged, {"metadata", "resourceVersion"});
    } else {
      json::array rows;
      for (const auto& n : names) {
        auto t = table(*info, ns_, n, "");
        if (!t.ok()) {
          fail(t.status());
          rc = 1;
          continue;
        }
        if (merged.is_null()) merged = *t;
        if (const auto* r = at(*t, {"rows"}); r && r->is_array())
          for (const auto& row : r->get_array()) rows.push_back(row);
      }
      if (merged.is_null()) continue;
      merged.as_object()["rows"] = std::move(rows);
    }
    const auto* rows = at(merged, {"rows"});
    if (!rows || !rows->is_array() || rows->get_array().empty()) {
      last_table = merged;
      continue;
    }
    if (printed_any) out_ << "\n";
    out_ << format_table(merged, opts);
    printed_any = true;
    last_table = merged;
  }
  bool watch = a_.flag("watch");
  if (!printed_any && rc == 0 && !watch) {
    if (all_ns_ || (groups.size() == 1 && !groups[0].first->namespaced)) err_ << "No resources found\n";
    else err_ << "No resources found in " << ns_ << " namespace.\n";
  }
  out_.flush();
  if (watch && groups.size() == 1) {
    const auto* info = groups[0].first;
    client::HttpRequest req;
    req.path = client::resource_path(to_resource(*info), list_ns);
    req.headers["Accept"] = std::string(kTableAccept);
    req.query["watch"] = "true";
    req.query["resourceVersion"] = last_rv;
    if (!selector.empty()) req.query["labelSelector"] = selector;
    if (groups[0].second.size() == 1) req.query["fieldSelector"] = "metadata.name=" + groups[0].second[0];
    auto stream = client_->transport().stream(req);
    if (!stream.ok()) return fail(stream.status());
    std::string buffer;
    bool headers = printed_any;
    // Rows shown so far: later rows keep at least the widths of earlier ones.
    std::vector<std::vector<std::string>> shown;
    if (printed_any && last_table.is_object()) shown = table_rows(last_table, opts);
    while (true) {
      auto chunk = (*stream)->read(std::chrono::milliseconds(1000));
      if (!chunk.ok()) return fail(chunk.status());
      if (!chunk->has_value()) break;
      buffer += **chunk;
      std::size_t nl;
      while ((nl = buffer.find('\n')) != std::string::npos) {
        std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        boost::system::error_code ec;
        json::value ev = json::parse(line, ec);
        if (ec) continue;
        std::string type = str_at(ev, {"type"});
        if (type == "BOOKMARK") continue;
        if (type == "ERROR") return fail("error: " + str_at(ev, {"object", "message"}));
        json::value t = at(ev, {"object"}) ? *at(ev, {"object"}) : json::value();
        if (!at(t, {"columnDefinitions"}) && last_table.is_object() && t.is_object())
          t.as_object()["columnDefinitions"] = last_table.as_object()["columnDefinitions"];
        if (!at(t, {"columnDefinitions"}) || !at(t, {"columnDefinitions"})->is_array() ||
            at(t, {"columnDefinitions"})->get_array().empty()) {
          if (last_table.is_object()) t.as_object()["columnDefinitions"] = last_table.as_object()["columnDefinitions"];
        }
        TableOptions wopts = opts;
        wopts.no_headers = headers || opts.no_headers;
        wopts.with_namespace = all_ns_ && info->namespaced;
        auto rows = table_rows(t, wopts);
        std::size_t before = shown.size();
        shown.insert(shown.end(), rows.begin(), rows.end());
        std::string text = format_rows(shown);
        std::size_t skip = 0, lines = 0;
        while (lines < before && skip < text.size()) {
          skip = text.find('\n', skip) + 1;
          ++lines;
        }
        out_ << text.substr(skip);
        out_.flush();
        headers = true;
      }
    }
  }
  return rc;
}

// ---------------------------------------------------------------------------------------------
// run / create

json::value Orchctl::pod_document(const std::string& name) {
  json::object labels;
  if (a_.has("labels")) {
    for (const auto& kv : split(a_.get("labels"), ',')) {
      auto eq = kv.find('=');
      labels[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
    }
  } else {
    labels["run"] = name;
  }
  json::object container{{"image", a_.get("image")}, {"name", name}};
  json::array env;
  for (const auto& e : a_.all("env")) {
    auto eq = e.find('=');
    env.push_back(json::object{{"name", e.substr(0, eq)}, {"value", eq == std::string::npos ? "" : e.substr(eq + 1)}});
  }
  if (!env.empty()) container["env"] = std::move(env);
  // `run NAME --image=X -- ARG...`: the container's args (its command with --command).
  if (a_.positional.size() > 2) {
    json::array words;
    for (std::size_t i = 2; i < a_.positional.size(); ++i) words.push_back(json::string(a_.positional[i]));
    container[a_.flag("command") ? "command" : "args"] = std::move(words);
  }
  if (a_.has("port")) {
    json::object port;
    try {
      port["containerPort"] = std::stoll(a_.get("port"));
    } catch (...) {
      port["containerPort"] = 0;
    }
    container["ports"] = json::array{port};
  }
  container["resources"] = json::object();
  std::string restart = a_.get("restart", "Always");
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", json::object{{"creationTimestamp", nullptr}, {"labels", labels}, {"name", name}}},
      {"spec", json::object{{"containers", json::array{container}},
                            {"dnsPolicy", "ClusterFirst"},
                            {"restartPolicy", restart}}},
      {"status", json::object()}};
}

json::value Orchctl::deployment_document(const std::string& name, const std::string& image, long long replicas,
                                         bool run_labels) {
  std::string key = run_labels ? "run" : "app";
  json::object labels{{key, name}};
  std::string cname = image;
  if (!run_labels) {
    // kubectl names the container after the image's last path element, without tag/digest.
    if (auto s = cname.rfind('/'); s != std::string::npos) cname = cname.substr(s + 1);
    if (auto c = cname.find_first_of(":@"); c != std::string::npos) cname = cname.substr(0, c);
  } else {
    cname = name;
  }
  json::object container{{"image", image}, {"name", cname}};
  if (a_.has("port")) {
    try {
      container["ports"] = json::array{json::object{{"containerPort", std::stoll(a_.get("port"))}}};
    } catch (...) {
    }
  }
  container["resources"] = json::object();
  return json::object{
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", json::object{{"creationTimestamp", nullptr}, {"labels", labels}, {"name", name}}},
      {"spec", json::object{{"replicas", replicas},
                            {"selector", json::object{{"matchLabels", labels}}},
                            {"strategy", json::object()},
                            {"template", json::object{{"metadata", json::object{{"creationTimestamp", nullptr},
                                                                                {"labels", labels}}},
                                                      {"spec", json::object{{"containers", json::array{container}}}}}}}},
      {"status", json::object()}};
}

int Orchctl::create_object(json::value object, const std::string& suffix) {
  std::string dry = a_.get("dry-run", "none");
  std::string output = a_.get("output");
  if (dry == "client" || dry == "true") {
    if (output.empty()) {
      const auto* info = api::find_kind(str_at(object, {"apiVersion"}), str_at(object, {"kind"}));
      out_ << (info ? kind_ref(*info) : "") << "/" << client::object_name(object) << " " << suffix
           << " (dry run)\n";
      return 0;
    }
    return print_objects({object}, output, false);
  }
  if (auto st = connect(); !st.ok()) return fail(st);
  const auto* info = api::find_kind(str_at(object, {"apiVersion"}), str_at(object, {"kind"}));
  if (!info) return fail("error: resource mapping not found for kind \"" + str_at(object, {"kind"}) + "\"");
  // What the server should not see from a client-side document.
  if (auto* md = object.as_object().if_contains("metadata"); md && md->is_object())
    md->as_object().erase("creationTimestamp");
  object.as_object().erase("status");
  client::WriteOptions wo;
  wo.dry_run = dry == "server";
  auto created = client_->create(to_resource(*info), info->namespaced ? ns_ : "", object, wo);
  if (!created.ok()) return fail(created.status());
  if (!output.empty()) return print_objects({*created}, output, false);
  out_ << kind_ref(*info) << "/" << client::object_name(*created) << " " << suffix
       << (wo.dry_run ? " (server dry run)" : "") << "\n";
  return 0;
}

int Orchctl::cmd_run() {
  const auto& p = a_.positional;
  if (p.size() < 2) return fail("error: NAME is required for run");
  std::string name = p[1];
  if (!a_.has("image")) return fail("error: --image is required");
  if (a_.has("replicas")) {
    long long n = 1;
    try {
      n = std::stoll(a_.get("replicas"));
    } catch (...) {
      return fail("error: invalid argument \"" + a_.get("replicas") + "\" for \"--replicas\" flag");
    }
    err_ << "note: kubectl no longer creates a Deployment from `run --replicas`; orchctl made "
            "deployment.apps/" << name << " with " << n << " replicas (use `create deployment`)\n";
    json::value d = deployment_document(name, a_.get("image"), n, true);
    // The pod template's container gets --env too.
    auto& c = d.as_object()["spec"].as_object()["template"].as_object()["spec"].as_object()["containers"].as_array()[0].as_object();
    json::array env;
    for (const auto& e : a_.all("env")) {
      auto eq = e.find('=');
      env.push_back(json::object{{"name", e.substr(0, eq)}, {"value", eq == std::string::npos ? "" : e.substr(eq + 1)}});
    }
    if (!env.empty()) c["env"] = std::move(env);
    return create_object(std::move(d), "created");
  }
  return create_object(pod_document(name), "created");
}

Result<std::vector<json::value>> Orchctl::read_files() {
  std::vector<json::value> docs;
  auto files = a_.all("filename");
  if (files.empty()) return bad_request("error: must specify one of -f and -k");
  auto read_text = [&](const std::string& text, const std::string& source) -> Status {
    auto parsed = api::parse_yaml(text);
    if (!parsed.ok()) return bad_request("error: error parsing " + source + ": " + parsed.status().message());
    for (auto& d : *parsed) {
      if (d.is_object() && str_at(d, {"kind"}) == "List" && at(d, {"items"}) && at(d, {"items"})->is_array()) {
        for (const auto& item : at(d, {"items"})->get_array()) docs.push_back(item);
      } else {
        docs.push_back(std::move(d));
      }
    }
    return ok_status();
  };
  for (const auto& f : files) {
    if (f == "-") {
      std::stringstream ss;
      ss << in_.rdbuf();
      ORCH_TRY(read_text(ss.str(), "STDIN"));
      continue;
    }
    std::error_code ec;
    if (fs::is_directory(f, ec)) {
      std::vector<fs::path> paths;
      auto add = [&](const fs::path& path) {
        auto ext = path.extension().string();
        if (ext == ".yaml" || ext == ".yml" || ext == ".json") paths.push_back(path);
      };
      if (a_.flag("recursive")) {
        for (const auto& e : fs::recursive_directory_iterator(f, ec))
          if (e.is_regular_file()) add(e.path());
      } else {
        for (const auto& e : fs::directory_iterator(f, ec))
          if (e.is_regular_file()) add(e.path());
      }
      std::sort(paths.begin(), paths.end());
      for (const auto& path : paths) {
        std::ifstream is(path);
        std::stringstream ss;
        ss << is.rdbuf();
        ORCH_TRY(read_text(ss.str(), path.string()));
      }
      continue;
    }
    std::ifstream is(f);
    if (!is) return not_found("error: the path \"" + f + "\" does not exist");
    std::stringstream ss;
    ss << is.rdbuf();
    ORCH_TRY(read_text(ss.str(), f));
  }
  return docs;
}

int Orchctl::cmd_create() {
  const auto& p = a_.positional;
  if (p.size() >= 2 && (p[1] == "deployment" || p[1] == "deploy")) {
    if (p.size() < 3) return fail("error: exactly one NAME is required, got 0");
    if (!a_.has("image")) return fail("error: required flag(s) \"image\" not set");
    long long replicas = 1;
    try {
      replicas = std::stoll(a_.get("replicas", "1"));
    } catch (...) {
      return fail("error: invalid argument \"" + a_.get("replicas") + "\" for \"--replicas\" flag");
    }
    return create_object(deployment_document(p[2], a_.get("image"), replicas, false), "created");
  }
  if (p.size() >= 2 && (p[1] == "namespace" || p[1] == "ns")) {
    if (p.size() < 3) return fail("error: exactly one NAME is required, got 0");
    return create_object(json::object{{"apiVersion", "v1"}, {"kind", "Namespace"},
                                      {"metadata", json::object{{"name", p[2]}}}, {"spec", json::object()},
                                      {"status", json::object()}},
                         "created");
  }
  if (!a_.has("filename")) return fail("error: must specify one of -f and -k");
  auto docs = read_files();
  if (!docs.ok()) return fail(docs.status().message());
  int rc = 0;
  for (auto& d : *docs)
    if (create_object(std::move(d), "created") != 0) rc = 1;
  return rc;
}

// ---------------------------------------------------------------------------------------------
// apply

int Orchctl::cmd_apply() {
  if (!a_.has("filename")) return fail("error: must specify one of -f and -k");
  auto docs = read_files();
  if (!docs.ok()) return fail(docs.status().message());
  if (auto st = connect(); !st.ok()) return fail(st);
  int rc = 0;
  for (auto& d : *docs) {
    const auto* info = api::find_kind(str_at(d, {"apiVersion"}), str_at(d, {"kind"}));
    if (!info) {
      rc = fail("error: resource mapping not found for name: \"" + std::string(client::object_name(d)) +
                "\" namespace: \"\" from \"" + a_.get("filename") + "\": no matches for kind \"" +
                str_at(d, {"kind"}) + "\" in version \"" + str_at(d, {"apiVersion"}) + "\"");
      continue;
    }
    std::string ns = info->namespaced ? str_at(d, {"metadata", "namespace"}, ns_) : "";
    if (info->namespaced && !a_.get("namespace").empty() && !str_at(d, {"metadata", "namespace"}).empty() &&
        str_at(d, {"metadata", "namespace"}) != a_.get("namespace")) {
      rc = fail("error: the namespace from the provided object \"" + str_at(d, {"metadata", "namespace"}) +
                "\" does not match the namespace \"" + a_.get("namespace") + "\". You must pass '--namespace=" +
                str_at(d, {"metadata", "namespace"}) + "' to perform this operation.");
      continue;
    }
    if (info->namespaced) obj(d, "metadata")["namespace"] = ns;
    // The modified configuration: the document with the annotation (computed without it).
    auto& ann = obj(d, "metadata").contains("annotations") && obj(d, "metadata")["annotations"].is_object()
                    ? obj(d, "metadata")["annotations"].as_object()
                    : (obj(d, "metadata")["annotations"] = json::object()).as_object();
    ann.erase(kLastApplied);
    std::string applied = go_json(d) + "\n";
    ann[kLastApplied] = applied;
    Resource r = to_resource(*info);
    std::string name(client::object_name(d));
    std::string ref = kind_ref(*info) + "/" + name;
    auto current = client_->get(r, ns, name);
    if (!current.ok() && current.status().code() == Code::kNotFound) {
      auto created = client_->create(r, ns, d);
      if (!created.ok()) {
        rc = fail(created.status());
        continue;
      }
      out_ << ref << " created\n";
      continue;
    }
    if (!current.ok()) {
      rc = fail(current.status());
      continue;
    }
    json::value original;
    std::string last = str_at(*current, {"metadata", "annotations", kLastApplied});
    if (!last.empty()) {
      boost::system::error_code ec;
      original = json::parse(last, ec);
      if (ec) original = nullptr;
    } else {
      err_ << "Warning: resource " << info->resource << "/" << name
           << " is missing the kubectl.kubernetes.io/last-applied-configuration annotation which is "
              "required by orchctl apply. orchctl apply should only be used on resources created "
              "declaratively by either orchctl create --save-config or orchctl apply. The missing "
              "annotation will be patched automatically.\n";
    }
    json::value patch = three_way_merge_patch(original, d, *current);
    if (patch.as_object().empty()) {
      out_ << ref << " unchanged\n";
      continue;
    }
    auto patched = client_->patch(r, ns, name, client::PatchType::Merge, json::serialize(patch));
    if (!patched.ok()) {
      rc = fail(patched.status());
      continue;
    }
    out_ << ref << " configured\n";
  }
  return rc;
}

// ---------------------------------------------------------------------------------------------
// delete

Status Orchctl::wait_deleted(const Resource& r, const std::string& ns, const std::string& name,
                             const std::string& what, std::chrono::milliseconds timeout) {
  auto start = std::chrono::steady_clock::now();
  bool told = false;
  while (timeout.count() == 0 || std::chrono::steady_clock::now() - start < timeout) {
    auto o = client_->get(r, ns, name);
    if (!o.ok() && o.status().code() == Code::kNotFound) return ok_status();
    if (!o.ok()) return o.status();
    // A long wait says what it waits for (once), on stderr so stdout stays kubectl's.
    if (!told && !what.empty() && std::chrono::steady_clock::now() - start > std::chrono::seconds(1)) {
      err_ << what << "\n";
      err_.flush();
      told = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Status(Code::kDeadlineExceeded, "timed out waiting for the condition on " + r.plural + "/" + name);
}

int Orchctl::cmd_delete() {
  const auto& p = a_.positional;
  std::vector<std::tuple<const api::ResourceInfo*, std::string, std::string>> targets;  // info, ns, name
  if (auto st = connect(); !st.ok() && !a_.has("filename")) return fail(st);
  if (a_.has("filename")) {
    auto docs = read_files();
    if (!docs.ok()) return fail(docs.status().message());
    if (auto st = connect(); !st.ok()) return fail(st);
    for (const auto& d : *docs) {
      const auto* info = api::find_kind(str_at(d, {"apiVersion"}), str_at(d, {"kind"}));
      if (!info) return fail("error: resource mapping not found for kind \"" + str_at(d, {"kind"}) + "\"");
      targets.emplace_back(info, info->namespaced ? str_at(d, {"metadata", "namespace"}, ns_) : "",
                           std::string(client::object_name(d)));
    }
  } else {
    if (p.size() < 2)
      return fail("error: You must provide one or more resources by argument or filename.");
    std::string error;
    if (p[1].find('/') != std::string::npos) {
      for (std::size_t i = 1; i < p.size(); ++i) {
        auto slash = p[i].find('/');
        const auto* info = find_type(p[i].substr(0, slash), error);
        if (!info) return fail(error);
        targets.emplace_back(info, info->namespaced ? ns_ : "", p[i].substr(slash + 1));
      }
    } else {
      for (const auto& t : split(p[1], ',')) {
        const auto* info = find_type(t, error);
        if (!info) return fail(error);
        if (p.size() > 2) {
          for (std::size_t i = 2; i < p.size(); ++i) targets.emplace_back(info, info->namespaced ? ns_ : "", p[i]);
        } else if (a_.has("selector") || a_.flag("all")) {
          client::ListOptions lo;
          lo.label_selector = a_.get("selector");
          auto list = client_->list_all(to_resource(*info), all_ns_ ? "" : (info->namespaced ? ns_ : ""), lo);
          if (!list.ok()) return fail(list.status());
          for (const auto& o : list->items)
            targets.emplace_back(info, std::string(client::object_namespace(o)), std::string(client::object_name(o)));
        } else {
          return fail("error: resource(s) were provided, but no name was specified");
        }
      }
    }
    if (targets.empty()) {
      if (all_ns_) err_ << "No resources found\n";
      else err_ << "No resources found\n";
      return 0;
    }
  }
  client::DeleteOptions dopts;
  dopts.propagation_policy = "Background";
  if (a_.has("cascade")) {
    std::string c = a_.get("cascade");
    dopts.propagation_policy = c == "orphan" || c == "false" ? "Orphan" : c == "foreground" ? "Foreground" : "Background";
  }
  if (a_.has("grace-period")) {
    try {
      dopts.grace_period_seconds = std::stoll(a_.get("grace-period"));
    } catch (...) {
    }
  }
  if (a_.flag("now")) dopts.grace_period_seconds = 1;
  if (a_.flag("force") && !dopts.grace_period_seconds) dopts.grace_period_seconds = 0;
  int rc = 0;
  std::vector<std::tuple<Resource, std::string, std::string>> deleted;
  for (const auto& [info, ns, name] : targets) {
    Resource r = to_resource(*info);
    auto res = client_->remove(r, ns, name, dopts);
    if (!res.ok()) {
      if (res.status().code() == Code::kNotFound && a_.flag("ignore-not-found")) continue;
      rc = fail(res.status());
      continue;
    }
    out_ << kind_ref(*info) << " \"" << name << "\" deleted\n";
    out_.flush();
    deleted.emplace_back(r, ns, name);
  }
  if (a_.flag("wait", true)) {
    std::chrono::milliseconds timeout{0};
    if (a_.has("timeout")) {
      auto t = parse_timeout(a_.get("timeout"));
      if (!t.ok()) return fail("error: " + t.status().message());
      timeout = *t;
    }
    for (const auto& [r, ns, name] : deleted) {
      std::string what = "waiting for " + r.plural + " \"" + name + "\" to be deleted" +
                         (r.plural == "pods" ? " (graceful termination)" : "") + "...";
      auto st = wait_deleted(r, ns, name, what, timeout);
      if (!st.ok()) rc = fail("error: " + st.message());
    }
  }
  return rc;
}

// ---------------------------------------------------------------------------------------------
// scale / expose / set image / label / annotate / cordon

int Orchctl::cmd_scale() {
  if (!a_.has("replicas")) return fail("error: required flag(s) \"replicas\" not set");
  auto target = resolve_one(1);
  if (!target.ok()) return fail(target.status().message());
  auto [info, name] = *target;
  if (!info->has_scale) return fail("error: cannot scale " + std::string(info->resource));
  if (auto st = connect(); !st.ok()) return fail(st);
  long long n = 0;
  try {
    n = std::stoll(a_.get("replicas"));
  } catch (...) {
    return fail("error: invalid argument \"" + a_.get("replicas") + "\" for \"--replicas\" flag");
  }
  json::object patch{{"spec", json::object{{"replicas", n}}}};
  auto r = client_->patch(to_resource(*info), ns_, name, client::PatchType::Merge, json::serialize(patch), {}, "scale");
  if (!r.ok()) return fail(r.status());
  out_ << kind_ref(*info) << "/" << name << " scaled\n";
  return 0;
}

int Orchctl::cmd_expose() {
  auto target = resolve_one(1);
  if (!target.ok()) return fail(target.status().message());
  auto [info, name] = *target;
  if (auto st = connect(); !st.ok()) return fail(st);
  auto o = client_->get(to_resource(*info), ns_, name);
  if (!o.ok()) return fail(o.status());
  json::value selector;
  if (info->kind == "Service") selector = at(*o, {"spec", "selector"}) ? *at(*o, {"spec", "selector"}) : json::value();
  else if (info->kind == "Pod") selector = at(*o, {"metadata", "labels"}) ? *at(*o, {"metadata", "labels"}) : json::value();
  else if (const auto* m = at(*o, {"spec", "selector", "matchLabels"})) selector = *m;
  if (!selector.is_object() || selector.get_object().empty())
    return fail("error: couldn't retrieve selectors via --selector flag or introspection: the " +
                std::string(info->singular) + " has no selector");
  std::string port = a_.get("port");
  if (port.empty()) {
    const json::value* containers = info->kind == "Pod" ? at(*o, {"spec", "containers"})
                                                        : at(*o, {"spec", "template", "spec", "containers"});
    if (containers && containers->is_array())
      for (const auto& c : containers->get_array()) {
        const auto* ps = at(c, {"ports"});
        if (ps && ps->is_array() && !ps->get_array().empty()) {
          port = str_at(ps->get_array()[0], {"containerPort"});
          break;
        }
      }
  }
  if (port.empty())
    return fail("error: couldn't find port via --port flag or introspection");
  json::object sport{{"port", std::stoll(port)}, {"protocol", a_.get("protocol", "TCP")}};
  std::string target_port = a_.get("target-port", port);
  bool numeric = !target_port.empty() && std::all_of(target_port.begin(), target_port.end(), ::isdigit);
  if (numeric) sport["targetPort"] = std::stoll(target_port);
  else sport["targetPort"] = target_port;
  json::object spec{{"ports", json::array{sport}}, {"selector", selector}};
  if (a_.has("type")) spec["type"] = a_.get("type");
  std::string svc_name = a_.get("name", name);
  json::object labels;
  if (const auto* l = at(*o, {"metadata", "labels"}); l && l->is_object()) labels = l->get_object();
  json::value svc = json::object{{"apiVersion", "v1"},
                                 {"kind", "Service"},
                                 {"metadata", json::object{{"creationTimestamp", nullptr}, {"labels", labels}, {"name", svc_name}}},
                                 {"spec", spec},
                                 {"status", json::object{{"loadBalancer", json::object()}}}};
  if (labels.empty()) svc.as_object()["metadata"].as_object().erase("labels");
  return create_object(std::move(svc), "exposed");
}

int Orchctl::cmd_set() {
  const auto& p = a_.positional;
  if (p.size() < 2 || p[1] != "image") return fail("error: unknown command \"" + (p.size() > 1 ? p[1] : "") + "\" for \"orchctl set\"");
  // set image TYPE NAME c=img... or TYPE/NAME c=img...
  if (p.size() < 4) return fail("error: at least one image update is required");
  std::size_t images_from = p[2].find('/') != std::string::npos ? 3 : 4;
  auto target = resolve_one(2);
  if (!target.ok()) return fail(target.status().message());
  auto [info, name] = *target;
  std::map<std::string, std::string> images;
  for (std::size_t i = images_from; i < p.size(); ++i) {
    auto eq = p[i].find('=');
    if (eq == std::string::npos) return fail("error: at least one image update is required");
    images[p[i].substr(0, eq)] = p[i].substr(eq + 1);
  }
  if (images.empty()) return fail("error: at least one image update is required");
  if (auto st = connect(); !st.ok()) return fail(st);
  Resource r = to_resource(*info);
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto o = client_->get(r, ns_, name);
    if (!o.ok()) return fail(o.status());
    json::value obj_v = *o;
    json::value* spec = info->kind == "Pod" ? &obj_v.as_object()["spec"] : nullptr;
    if (!spec) {
      auto* t = obj_v.as_object()["spec"].as_object().if_contains("template");
      if (!t) return fail("error: " + kind_ref(*info) + "/" + name + " has no pod template");
      spec = &t->as_object()["spec"];
    }
    std::size_t matched = 0;
    for (const char* field : {"initContainers", "containers"}) {
      auto* cs = spec->as_object().if_contains(field);
      if (!cs || !cs->is_array()) continue;
      for (auto& c : cs->as_array()) {
        std::string cname = str_at(c, {"name"});
        auto it = images.find(cname);
        if (it == images.end()) it = images.find("*");
        if (it == images.end()) continue;
        c.as_object()["image"] = it->second;
        ++matched;
      }
    }
    for (const auto& [cname, _] : images)
      if (cname != "*") {
        bool found = false;
        for (const char* field : {"initContainers", "containers"})
          if (auto* cs = spec->as_object().if_contains(field); cs && cs->is_array())
            for (auto& c : cs->as_array()) found = found || str_at(c, {"name"}) == cname;
        if (!found) return fail("error: unable to find container named \"" + cname + "\"");
      }
    auto u = client_->update(r, ns_, obj_v);
    if (!u.ok() && u.status().code() == Code::kAborted) continue;
    if (!u.ok()) return fail(u.status());
    out_ << kind_ref(*info) << "/" << name << " image updated\n";
    return 0;
  }
  return fail("error: conflict updating " + kind_ref(*info) + "/" + name);
}

int Orchctl::cmd_label(bool annotate) {
  const auto& p = a_.positional;
  std::string field = annotate ? "annotations" : "labels";
  if (p.size() < 3) return fail(std::string("error: one or more resources must be specified as <resource> <name> or <resource>/<name>"));
  std::size_t kv_from = p[1].find('/') != std::string::npos ? 2 : 3;
  auto target = resolve_one(1);
  if (!target.ok()) return fail(target.status().message());
  auto [info, name] = *target;
  json::object changes;
  for (std::size_t i = kv_from; i < p.size(); ++i) {
    const auto& kv = p[i];
    if (!kv.empty() && kv.back() == '-') {
      changes[kv.substr(0, kv.size() - 1)] = nullptr;
    } else if (auto eq = kv.find('='); eq != std::string::npos) {
      changes[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else {
      return fail("error: invalid " + std::string(annotate ? "annotation" : "label") + " format: " + kv);
    }
  }
  if (changes.empty()) return fail(std::string("error: at least one ") + (annotate ? "annotation" : "label") + " update is required");
  if (auto st = connect(); !st.ok()) return fail(st);
  Resource r = to_resource(*info);
  auto o = client_->get(r, info->namespaced ? ns_ : "", name);
  if (!o.ok()) return fail(o.status());
  if (!a_.flag("overwrite")) {
    for (const auto& kv : changes) {
      if (kv.value().is_null()) continue;
      const auto* cur = at(*o, {"metadata", field, kv.key()});
      if (cur && cur->is_string() && cur->get_string() != kv.value().get_string())
        return fail("error: '" + std::string(kv.key()) + "' already has a value (" + std::string(cur->get_string()) +
                    "), and --overwrite is false");
    }
  }
  json::object patch{{"metadata", json::object{{field, changes}}}};
  auto res = client_->patch(r, info->namespaced ? ns_ : "", name, client::PatchType::Merge, json::serialize(patch));
  if (!res.ok()) return fail(res.status());
  out_ << kind_ref(*info) << "/" << name << (annotate ? " annotated\n" : " labeled\n");
  return 0;
}

int Orchctl::cmd_cordon(bool cordon) {
  const auto& p = a_.positional;
  if (p.size() < 2) return fail("error: USAGE: " + p[0] + " NODE [flags]");
  if (auto st = connect(); !st.ok()) return fail(st);
  std::string name = p[1];
  if (auto s = name.find('/'); s != std::string::npos) name = name.substr(s + 1);
  return set_unschedulable(name, cordon);
}

int Orchctl::set_unschedulable(const std::string& name, bool cordon) {
  auto o = client_->get(client::resources::kNodes, "", name);
  if (!o.ok()) return fail(o.status());
  const auto* u = at(*o, {"spec", "unschedulable"});
  bool is = u && u->is_bool() && u->get_bool();
  if (is == cordon) {
    out_ << "node/" << name << " already " << (cordon ? "cordoned" : "uncordoned") << "\n";
    out_.flush();
    return 0;
  }
  json::object patch{{"spec", json::object{{"unschedulable", cordon ? json::value(true) : json::value(nullptr)}}}};
  auto res = client_->patch(client::resources::kNodes, "", name, client::PatchType::Merge, json::serialize(patch));
  if (!res.ok()) return fail(res.status());
  out_ << "node/" << name << (cordon ? " cordoned\n" : " uncordoned\n");
  out_.flush();
  return 0;
}

// ---------------------------------------------------------------------------------------------
// rollout

int Orchctl::cmd_rollout() {
  const auto& p = a_.positional;
  if (p.size() < 3) return fail("error: required resource not specified");
  std::string sub = p[1];
  auto target = resolve_one(2);
  if (!target.ok()) return fail(target.status().message());
  auto [info, name] = *target;
  bool workload = info->kind == "Deployment" || info->kind == "StatefulSet" || info->kind == "DaemonSet";
  bool deployment_only = sub == "pause" || sub == "resume" || sub == "history" || sub == "undo";
  if (!workload || (deployment_only && info->kind != "Deployment"))
    return fail("error: no " + (sub == "status" ? std::string("status viewer") : sub) +
                " has been implemented for " + kind_ref(*info) + " in orchctl");
  if (auto st = connect(); !st.ok()) return fail(st);
  Resource r = to_resource(*info);
  std::string ref = kind_ref(*info) + "/" + name;
  auto merge = [&](const json::value& patch, const std::string& done) {
    auto res = client_->patch(r, ns_, name, client::PatchType::Merge, json::serialize(patch));
    if (!res.ok()) return fail(res.status());
    out_ << ref << " " << done << "\n";
    return 0;
  };
  if (sub == "status") {
    std::string last;
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (a_.has("timeout")) {
      auto t = parse_timeout(a_.get("timeout"));
      if (!t.ok()) return fail("error: " + t.status().message());
      if (t->count() > 0) deadline = std::chrono::steady_clock::now() + *t;
    }
    while (true) {
      auto o = client_->get(r, ns_, name);
      if (!o.ok()) return fail(o.status());
      RolloutStep step = rollout_status(info->kind, *o);
      if (!step.error.empty()) return fail("error: " + step.error);
      if (step.message != last) {
        out_ << step.message << "\n";
        out_.flush();
        last = step.message;
      }
      if (step.done || !a_.flag("watch", true)) return 0;
      if (deadline && std::chrono::steady_clock::now() > *deadline)
        return fail("error: timed out waiting for the condition");
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  if (sub == "pause") return merge(json::object{{"spec", json::object{{"paused", true}}}}, "paused");
  if (sub == "resume") return merge(json::object{{"spec", json::object{{"paused", nullptr}}}}, "resumed");
  if (sub == "restart")
    return merge(json::object{{"spec", json::object{{"template", json::object{{"metadata", json::object{{"annotations", json::object{{"kubectl.kubernetes.io/restartedAt", now_rfc3339()}}}}}}}}}},
                 "restarted");
  if (sub == "history" || sub == "undo") {
    auto d = client_->get(r, ns_, name);
    if (!d.ok()) return fail(d.status());
    auto rss = client_->list_all(client::resources::kReplicaSets, ns_);
    if (!rss.ok()) return fail(rss.status());
    std::map<long long, json::value> revisions;
    std::string uid(client::object_uid(*d));
    for (const auto& rs : rss->items) {
      bool owned = false;
      if (const auto* refs = at(rs, {"metadata", "ownerReferences"}); refs && refs->is_array())
        for (const auto& ref : refs->get_array()) owned = owned || str_at(ref, {"uid"}) == uid;
      if (!owned) continue;
      long long rev = std::atoll(str_at(rs, {"metadata", "annotations", "deployment.kubernetes.io/revision"}, "0").c_str());
      revisions[rev] = rs;
    }
    if (sub == "history") {
      if (a_.has("revision")) {
        long long want = std::atoll(a_.get("revision").c_str());
        auto it = revisions.find(want);
        if (it == revisions.end()) return fail("error: unable to find the specified revision");
        out_ << ref << " with revision #" << want << "\n";
        json::value tmpl = at(it->second, {"spec", "template"}) ? *at(it->second, {"spec", "template"}) : json::value();
        out_ << api::to_yaml(tmpl);
        return 0;
      }
      out_ << ref << " \n";
      std::vector<std::vector<std::string>> rows{{"REVISION", "CHANGE-CAUSE"}};
      for (const auto& [rev, rs] : revisions)
        rows.push_back({std::to_string(rev), str_at(rs, {"metadata", "annotations", "kubernetes.io/change-cause"}, "<none>")});
      out_ << format_rows(rows, 2) << "\n";
      return 0;
    }
    long long want = a_.has("to-revision") ? std::atoll(a_.get("to-revision").c_str()) : 0;
    const json::value* chosen = nullptr;
    if (want > 0) {
      auto it = revisions.find(want);
      if (it == revisions.end()) return fail("error: unable to find specified revision " + std::to_string(want) + " in history");
      chosen = &it->second;
    } else if (revisions.size() >= 2) {
      chosen = &std::prev(revisions.end(), 2)->second;
    } else {
      return fail("error: no rollout history found for deployment \"" + name + "\"");
    }
    json::value tmpl = *at(*chosen, {"spec", "template"});
    if (auto* l = tmpl.as_object()["metadata"].as_object().if_contains("labels"); l && l->is_object())
      l->as_object().erase("pod-template-hash");
    json::value current_tmpl = *at(*d, {"spec", "template"});
    if (current_tmpl == tmpl) {
      out_ << ref << " skipped rollback (current template already matches revision " << want << ")\n";
      return 0;
    }
    json::value dv = *d;
    dv.as_object()["spec"].as_object()["template"] = tmpl;
    auto u = client_->update(r, ns_, dv);
    if (!u.ok()) return fail(u.status());
    out_ << ref << " rolled back\n";
    return 0;
  }
  return fail("error: unknown command \"" + sub + "\" for \"orchctl rollout\"");
}

// ---------------------------------------------------------------------------------------------
// logs

int Orchctl::cmd_logs() {
  const auto& p = a_.positional;
  if (p.size() < 2) return fail("error: expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.");
  if (auto st = connect(); !st.ok()) return fail(st);
  std::string pod = p[1];
  std::string container = a_.get("container");
  if (p.size() > 2 && container.empty()) container = p[2];
  if (auto s = pod.find('/'); s != std::string::npos) {
    std::string error;
    const auto* info = find_type(pod.substr(0, s), error);
    if (!info) return fail(error);
    std::string name = pod.substr(s + 1);
    if (info->kind == "Pod") {
      pod = name;
    } else {
      auto o = client_->get(to_resource(*info), ns_, name);
      if (!o.ok()) return fail(o.status());
      std::vector<std::string> sel;
      if (const auto* m = at(*o, {"spec", "selector", "matchLabels"}); m && m->is_object())
        for (const auto& kv : m->get_object()) sel.push_back(std::string(kv.key()) + "=" + str_at(kv.value(), {}));
      else if (const auto* m2 = at(*o, {"spec", "selector"}); m2 && m2->is_object())
        for (const auto& kv : m2->get_object()) sel.push_back(std::string(kv.key()) + "=" + str_at(kv.value(), {}));
      client::ListOptions lo;
      lo.label_selector = join(sel, ",");
      auto pods = client_->list_all(client::resources::kPods, ns_, lo);
      if (!pods.ok()) return fail(pods.status());
      if (pods->items.empty()) return fail("error: no pods found for " + kind_ref(*info) + "/" + name);
      pod = client::object_name(pods->items.front());
      if (pods->items.size() > 1) err_ << "Found " << pods->items.size() << " pods, using pod/" << pod << "\n";
    }
  }
  client::HttpRequest req;
  req.path = client::resource_path(client::resources::kPods, ns_, pod, "log");
  req.headers["Accept"] = "*/*";
  if (!container.empty()) req.query["container"] = container;
  if (a_.flag("previous")) req.query["previous"] = "true";
  if (a_.has("tail") && a_.get("tail") != "-1") req.query["tailLines"] = a_.get("tail");
  if (a_.flag("timestamps")) req.query["timestamps"] = "true";
  if (a_.flag("follow")) {
    req.query["follow"] = "true";
    auto s = client_->transport().stream(req);
    if (!s.ok()) return fail(s.status());
    while (true) {
      auto chunk = (*s)->read(std::chrono::milliseconds(1000));
      if (!chunk.ok()) return fail(chunk.status());
      if (!chunk->has_value()) return 0;
      out_ << **chunk;
      out_.flush();
    }
  }
  auto resp = client_->transport().request(req);
  if (!resp.ok()) return fail(resp.status());
  out_ << resp->body;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// describe

std::string Orchctl::events_for(const json::value& object) {
  client::ListOptions lo;
  lo.field_selector = "involvedObject.name=" + std::string(client::object_name(object));
  std::string ns(client::object_namespace(object));
  auto list = client_->list_all(client::resources::kEvents, ns.empty() ? "default" : ns, lo);
  if (!list.ok() || list->items.empty()) return "Events:  <none>\n";
  std::string uid(client::object_uid(object));
  std::vector<std::vector<std::string>> rows{{"  Type", "Reason", "Age", "From", "Message"},
                                             {"  ----", "------", "----", "----", "-------"}};
  std::size_t kept = 0;
  for (const auto& e : list->items) {
    std::string euid = str_at(e, {"involvedObject", "uid"});
    if (!euid.empty() && !uid.empty() && euid != uid) continue;
    std::string last = str_at(e, {"lastTimestamp"});
    if (last.empty()) last = str_at(e, {"eventTime"});
    if (last.empty()) last = str_at(e, {"metadata", "creationTimestamp"});
    std::string age = age_of(last);
    long long count = int_at(e, {"count"}, 1);
    if (count > 1) {
      std::string first = str_at(e, {"firstTimestamp"});
      age += " (x" + std::to_string(count) + " over " + age_of(first.empty() ? last : first) + ")";
    }
    std::string from = str_at(e, {"source", "component"});
    if (from.empty()) from = str_at(e, {"reportingComponent"});
    std::string host = str_at(e, {"source", "host"});
    if (!host.empty()) from += ", " + host;
    rows.push_back({"  " + str_at(e, {"type"}), str_at(e, {"reason"}), age, from, str_at(e, {"message"})});
    ++kept;
  }
  if (kept == 0) return "Events:  <none>\n";
  return "Events:\n" + format_rows(rows, 2);
}

namespace {

std::string labels_block(const json::value& o, std::string_view title, std::initializer_list<std::string_view> path) {
  std::string out;
  std::string pad(title.size() + 2 < 16 ? 16 - title.size() - 1 : 1, ' ');
  const auto* m = at(o, path);
  out += std::string(title) + ":" + pad;
  if (!m || !m->is_object() || m->get_object().empty()) return out + "<none>\n";
  bool first = true;
  for (const auto& kv : m->get_object()) {
    if (!first) out += std::string(16, ' ');
    first = false;
    out += std::string(kv.key()) + "=" + (kv.value().is_string() ? std::string(kv.value().get_string()) : json::serialize(kv.value())) + "\n";
  }
  return out;
}

std::string field(std::string_view name, const std::string& value) {
  std::string label = std::string(name) + ":";
  if (label.size() < 16) label += std::string(16 - label.size(), ' ');
  else label += " ";
  return label + (value.empty() ? "<none>" : value) + "\n";
}

std::string containers_block(const json::value& spec, const json::value* statuses, int indent) {
  std::string pad(static_cast<std::size_t>(indent), ' ');
  std::string out = pad + "Containers:\n";
  const auto* cs = at(spec, {"containers"});
  if (!cs || !cs->is_array()) return out;
  for (const auto& c : cs->get_array()) {
    std::string name = str_at(c, {"name"});
    out += pad + "  " + name + ":\n";
    out += pad + "    Image:      " + str_at(c, {"image"}) + "\n";
    std::vector<std::string> ports;
    if (const auto* ps = at(c, {"ports"}); ps && ps->is_array())
      for (const auto& pt : ps->get_array()) ports.push_back(str_at(pt, {"containerPort"}) + "/" + str_at(pt, {"protocol"}, "TCP"));
    out += pad + "    Port:       " + (ports.empty() ? "<none>" : join(ports, ", ")) + "\n";
    if (statuses && statuses->is_array()) {
      for (const auto& s : statuses->get_array()) {
        if (str_at(s, {"name"}) != name) continue;
        std::string state = "Waiting";
        if (at(s, {"state", "running"})) state = "Running";
        else if (at(s, {"state", "terminated"})) state = "Terminated";
        out += pad + "    State:      " + state + "\n";
        out += pad + "    Ready:      " + str_at(s, {"ready"}, "false") + "\n";
        out += pad + "    Restart Count:  " + str_at(s, {"restartCount"}, "0") + "\n";
      }
    }
    std::string env;
    if (const auto* es = at(c, {"env"}); es && es->is_array())
      for (const auto& e : es->get_array()) env += pad + "      " + str_at(e, {"name"}) + ":  " + str_at(e, {"value"}) + "\n";
    out += pad + "    Environment:" + (env.empty() ? "  <none>\n" : "\n" + env);
  }
  return out;
}

}  // namespace

int Orchctl::cmd_describe() {
  const auto& p = a_.positional;
  if (p.size() < 2) return fail("error: You must specify the type of resource to describe.");
  std::string error;
  std::vector<std::pair<const api::ResourceInfo*, std::string>> targets;
  if (auto st = connect(); !st.ok()) return fail(st);
  std::vector<json::value> objects;
  std::string type = p[1];
  std::vector<std::string> names;
  if (auto s = type.find('/'); s != std::string::npos) {
    names.push_back(type.substr(s + 1));
    type = type.substr(0, s);
  } else {
    names.assign(p.begin() + 2, p.end());
  }
  const auto* info = find_type(type, error);
  if (!info) return fail(error);
  Resource r = to_resource(*info);
  if (names.empty()) {
    client::ListOptions lo;
    lo.label_selector = a_.get("selector");
    auto list = client_->list_all(r, info->namespaced ? (all_ns_ ? "" : ns_) : "", lo);
    if (!list.ok()) return fail(list.status());
    objects = std::move(list->items);
  } else {
    for (const auto& n : names) {
      auto o = client_->get(r, info->namespaced ? ns_ : "", n);
      if (!o.ok()) return fail(o.status());
      objects.push_back(std::move(*o));
    }
  }
  bool first = true;
  for (const auto& o : objects) {
    if (!first) out_ << "\n\n";
    first = false;
    std::string s;
    s += field("Name", std::string(client::object_name(o)));
    if (info->namespaced) s += field("Namespace", std::string(client::object_namespace(o)));
    std::string kind(info->kind);
    if (kind == "Pod") {
      s += field("Priority", str_at(o, {"spec", "priority"}, "0"));
      s += field("Service Account", str_at(o, {"spec", "serviceAccountName"}, "default"));
      s += field("Node", str_at(o, {"spec", "nodeName"}) + (str_at(o, {"status", "hostIP"}).empty() ? "" : "/" + str_at(o, {"status", "hostIP"})));
      s += field("Start Time", str_at(o, {"status", "startTime"}));
      s += labels_block(o, "Labels", {"metadata", "labels"});
      s += labels_block(o, "Annotations", {"metadata", "annotations"});
      s += field("Status", str_at(o, {"metadata", "deletionTimestamp"}).empty() ? str_at(o, {"status", "phase"}) : "Terminating");
      s += field("IP", str_at(o, {"status", "podIP"}));
      s += containers_block(*at(o, {"spec"}), at(o, {"status", "containerStatuses"}), 0);
      if (const auto* conds = at(o, {"status", "conditions"}); conds && conds->is_array()) {
        s += "Conditions:\n";
        std::vector<std::vector<std::string>> rows{{"  Type", "Status"}};
        for (const auto& c : conds->get_array()) rows.push_back({"  " + str_at(c, {"type"}), str_at(c, {"status"})});
        s += format_rows(rows, 2);
      }
    } else if (kind == "Deployment") {
      s += field("CreationTimestamp", str_at(o, {"metadata", "creationTimestamp"}));
      s += labels_block(o, "Labels", {"metadata", "labels"});
      s += labels_block(o, "Annotations", {"metadata", "annotations"});
      std::vector<std::string> sel;
      if (const auto* m = at(o, {"spec", "selector", "matchLabels"}); m && m->is_object())
        for (const auto& kv : m->get_object()) sel.push_back(std::string(kv.key()) + "=" + str_at(kv.value(), {}));
      s += field("Selector", join(sel, ","));
      s += field("Replicas", str_at(o, {"spec", "replicas"}, "1") + " desired | " + str_at(o, {"status", "updatedReplicas"}, "0") +
                                 " updated | " + str_at(o, {"status", "replicas"}, "0") + " total | " +
                                 str_at(o, {"status", "availableReplicas"}, "0") + " available | " +
                                 str_at(o, {"status", "unavailableReplicas"}, "0") + " unavailable");
      s += field("StrategyType", str_at(o, {"spec", "strategy", "type"}, "RollingUpdate"));
      s += field("MinReadySeconds", str_at(o, {"spec", "minReadySeconds"}, "0"));
      s += "Pod Template:\n";
      s += "  " + labels_block(o, "Labels", {"spec", "template", "metadata", "labels"});
      if (const auto* ps = at(o, {"spec", "template", "spec"})) s += containers_block(*ps, nullptr, 2);
      if (const auto* conds = at(o, {"status", "conditions"}); conds && conds->is_array()) {
        s += "Conditions:\n";
        std::vector<std::vector<std::string>> rows{{"  Type", "Status", "Reason"}, {"  ----", "------", "------"}};
        for (const auto& c : conds->get_array())
          rows.push_back({"  " + str_at(c, {"type"}), str_at(c, {"status"}), str_at(c, {"reason"})});
        s += format_rows(rows, 2);
      }
    } else if (kind == "Service") {
      s += labels_block(o, "Labels", {"metadata", "labels"});
      s += labels_block(o, "Annotations", {"metadata", "annotations"});
      std::vector<std::string> sel;
      if (const auto* m = at(o, {"spec", "selector"}); m && m->is_object())
        for (const auto& kv : m->get_object()) sel.push_back(std::string(kv.key()) + "=" + str_at(kv.value(), {}));
      s += field("Selector", join(sel, ","));
      s += field("Type", str_at(o, {"spec", "type"}, "ClusterIP"));
      s += field("IP", str_at(o, {"spec", "clusterIP"}));
      if (const auto* ing = at(o, {"status", "loadBalancer", "ingress"}); ing && ing->is_array())
        for (const auto& i : ing->get_array()) s += field("LoadBalancer Ingress", str_at(i, {"ip"}, str_at(i, {"hostname"})));
      if (const auto* ps = at(o, {"spec", "ports"}); ps && ps->is_array())
        for (const auto& pt : ps->get_array()) {
          s += field("Port", str_at(pt, {"name"}, "<unset>") + "  " + str_at(pt, {"port"}) + "/" + str_at(pt, {"protocol"}, "TCP"));
          s += field("TargetPort", str_at(pt, {"targetPort"}) + "/" + str_at(pt, {"protocol"}, "TCP"));
          if (!str_at(pt, {"nodePort"}).empty())
            s += field("NodePort", str_at(pt, {"name"}, "<unset>") + "  " + str_at(pt, {"nodePort"}) + "/" + str_at(pt, {"protocol"}, "TCP"));
        }
      auto eps = client_->get(client::resources::kEndpoints, ns_, client::object_name(o));
      std::vector<std::string> addrs;
      if (eps.ok())
        if (const auto* subsets = at(*eps, {"subsets"}); subsets && subsets->is_array())
          for (const auto& sub : subsets->get_array()) {
            const auto* as = at(sub, {"addresses"});
            const auto* ps = at(sub, {"ports"});
            std::string port = ps && ps->is_array() && !ps->get_array().empty() ? str_at(ps->get_array()[0], {"port"}) : "";
            if (as && as->is_array())
              for (const auto& ad : as->get_array()) addrs.push_back(str_at(ad, {"ip"}) + (port.empty() ? "" : ":" + port));
          }
      s += field("Endpoints", join(addrs, ","));
      s += field("Session Affinity", str_at(o, {"spec", "sessionAffinity"}, "None"));
    } else if (kind == "Node") {
      s += labels_block(o, "Labels", {"metadata", "labels"});
      s += labels_block(o, "Annotations", {"metadata", "annotations"});
      s += field("CreationTimestamp", str_at(o, {"metadata", "creationTimestamp"}));
      s += field("Unschedulable", str_at(o, {"spec", "unschedulable"}, "false"));
      if (const auto* conds = at(o, {"status", "conditions"}); conds && conds->is_array()) {
        s += "Conditions:\n";
        std::vector<std::vector<std::string>> rows{{"  Type", "Status", "Reason", "Message"}, {"  ----", "------", "------", "-------"}};
        for (const auto& c : conds->get_array())
          rows.push_back({"  " + str_at(c, {"type"}), str_at(c, {"status"}), str_at(c, {"reason"}), str_at(c, {"message"})});
        s += format_rows(rows, 2);
      }
      if (const auto* as = at(o, {"status", "addresses"}); as && as->is_array()) {
        s += "Addresses:\n";
        for (const auto& ad : as->get_array()) s += "  " + str_at(ad, {"type"}) + ":  " + str_at(ad, {"address"}) + "\n";
      }
      for (const char* which : {"capacity", "allocatable"}) {
        if (const auto* c = at(o, {"status", which}); c && c->is_object()) {
          std::string title = which;
          title[0] = static_cast<char>(std::toupper(title[0]));
          s += title + ":\n";
          for (const auto& kv : c->get_object()) s += "  " + std::string(kv.key()) + ":  " + str_at(kv.value(), {}) + "\n";
        }
      }
      // Pods on the node.
      client::ListOptions lo;
      lo.field_selector = "spec.nodeName=" + std::string(client::object_name(o));
      auto pods = client_->list_all(client::resources::kPods, "", lo);
      if (pods.ok()) {
        s += "Non-terminated Pods:          (" + std::to_string(pods->items.size()) + " in total)\n";
        std::vector<std::vector<std::string>> rows{{"  Namespace", "Name", "Age"}, {"  ---------", "----", "---"}};
        for (const auto& pod : pods->items)
          rows.push_back({"  " + std::string(client::object_namespace(pod)), std::string(client::object_name(pod)),
                          age_of(str_at(pod, {"metadata", "creationTimestamp"}))});
        s += format_rows(rows, 2);
      }
    } else {
      s += labels_block(o, "Labels", {"metadata", "labels"});
      s += labels_block(o, "Annotations", {"metadata", "annotations"});
      s += field("API Version", str_at(o, {"apiVersion"}, info->api_version()));
      s += field("Kind", std::string(info->kind));
      json::value rest = o;
      rest.as_object().erase("metadata");
      rest.as_object().erase("apiVersion");
      rest.as_object().erase("kind");
      s += api::to_yaml(rest);
    }
    s += events_for(o);
    out_ << s;
  }
  if (objects.empty()) err_ << "No resources found in " << ns_ << " namespace.\n";
  return 0;
}

// ---------------------------------------------------------------------------------------------
// edit

int Orchctl::cmd_edit() {
  auto target = resolve_one(1);
  if (!target.ok()) return fail(target.status().message());
  auto [info, name] = *target;
  if (auto st = connect(); !st.ok()) return fail(st);
  Resource r = to_resource(*info);
  std::string ns = info->namespaced ? ns_ : "";
  auto o = client_->get(r, ns, name);
  if (!o.ok()) return fail(o.status());
  std::string editor;
  if (const char* e = std::getenv("KUBE_EDITOR"); e && *e) editor = e;
  else if (const char* e2 = std::getenv("EDITOR"); e2 && *e2) editor = e2;
  else editor = "vi";
  std::string header =
      "# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
      "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
      "# reopened with the relevant failures.\n"
      "#\n";
  std::string original_yaml = api::to_yaml(*o);
  std::string content = header + original_yaml;
  auto strip = [](const std::string& text) {
    std::string out;
    std::istringstream is(text);
    std::string line;
    while (std::getline(is, line))
      if (!line.starts_with("#")) out += line + "\n";
    return out;
  };
  fs::path dir = fs::temp_directory_path() / ("orchctl-edit-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::path file = dir / (std::string(info->resource) + "-" + name + ".yaml");
  std::string last_error_body;
  for (int round = 0; round < 5; ++round) {
    {
      std::ofstream os(file);
      os << content;
    }
    std::string cmd = editor + " '" + file.string() + "'";
    int status = std::system(cmd.c_str());
    if (status != 0) {
      fs::remove_all(dir, ec);
      return fail("error: there was a problem with the editor \"" + editor + "\"");
    }
    std::ifstream is(file);
    std::stringstream ss;
    ss << is.rdbuf();
    std::string edited = strip(ss.str());
    if (edited.find_first_not_of(" \n\t") == std::string::npos) {
      fs::remove_all(dir, ec);
      return fail("Edit cancelled, saved file was empty.");
    }
    if (edited == original_yaml) {
      fs::remove_all(dir, ec);
      out_ << "Edit cancelled, no changes made.\n";
      return 0;
    }
    if (round > 0 && edited == last_error_body) {
      fs::remove_all(dir, ec);
      return fail("error: Edit cancelled, no valid changes were saved.");
    }
    std::string why;
    auto docs = api::parse_yaml(edited);
    if (!docs.ok() || docs->size() != 1) {
      why = docs.ok() ? "expected exactly one document" : docs.status().message();
    } else {
      // As kubectl: a patch from what was fetched to what was saved, so changes the server made
      // meanwhile (status, resourceVersion) never conflict with the edit.
      json::value patch = three_way_merge_patch(*o, docs->front(), *o);
      if (patch.is_object() && patch.as_object().empty()) {
        fs::remove_all(dir, ec);
        out_ << "Edit cancelled, no changes made.\n";
        return 0;
      }
      auto u = client_->patch(r, ns, name, client::PatchType::Merge, json::serialize(patch));
      if (u.ok()) {
        fs::remove_all(dir, ec);
        out_ << kind_ref(*info) << "/" << name << " edited\n";
        return 0;
      }
      why = u.status().message();
      for (const auto& c : u.status().causes()) why += "\n* " + c.field + ": " + c.message;
    }
    std::string comment = header + "# " + std::string(info->qualified_resource()) + " \"" + name + "\" was not valid:\n";
    std::istringstream wis(why);
    std::string line;
    while (std::getline(wis, line)) comment += "# " + line + "\n";
    comment += "#\n";
    content = comment + edited;
    last_error_body = edited;
    err_ << "error: " << why.substr(0, why.find('\n')) << "\n";
  }
  fs::remove_all(dir, ec);
  return fail("error: Edit cancelled, no valid changes were saved.");
}

// ---------------------------------------------------------------------------------------------
// port-forward

namespace {

// A pod's container port named `name`; 0 when none.
std::uint16_t named_container_port(const json::value& pod, std::string_view name) {
  for (const char* field : {"containers", "initContainers"}) {
    const auto* cs = at(pod, {"spec", field});
    if (!cs || !cs->is_array()) continue;
    for (const auto& c : cs->get_array()) {
      const auto* ps = at(c, {"ports"});
      if (!ps || !ps->is_array()) continue;
      for (const auto& port : ps->get_array())
        if (str_at(port, {"name"}) == name) return static_cast<std::uint16_t>(int_at(port, {"containerPort"}));
    }
  }
  return 0;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// A label selector string from a workload's spec.selector (matchLabels and matchExpressions) or
// a Service's spec.selector map.
std::string selector_of(const json::value& object, bool service) {
  std::vector<std::string> parts;
  const auto* sel = at(object, {"spec", "selector"});
  if (!sel || !sel->is_object()) return {};
  const auto* labels = service ? sel : sel->get_object().if_contains("matchLabels");
  if (labels && labels->is_object())
    for (const auto& kv : labels->get_object()) parts.push_back(std::string(kv.key()) + "=" + str_at(kv.value(), {}));
  if (const auto* exprs = service ? nullptr : sel->get_object().if_contains("matchExpressions");
      exprs && exprs->is_array()) {
    for (const auto& e : exprs->get_array()) {
      std::string key = str_at(e, {"key"}), op = str_at(e, {"operator"});
      std::vector<std::string> values;
      if (const auto* vs = at(e, {"values"}); vs && vs->is_array())
        for (const auto& v : vs->get_array()) values.push_back(str_at(v, {}));
      if (op == "In") parts.push_back(key + " in (" + join(values, ",") + ")");
      else if (op == "NotIn") parts.push_back(key + " notin (" + join(values, ",") + ")");
      else if (op == "Exists") parts.push_back(key);
      else if (op == "DoesNotExist") parts.push_back("!" + key);
    }
  }
  return join(parts, ",");
}

bool pod_ready(const json::value& pod) {
  if (const auto* conds = at(pod, {"status", "conditions"}); conds && conds->is_array())
    for (const auto& c : conds->get_array())
      if (str_at(c, {"type"}) == "Ready") return str_at(c, {"status"}) == "True";
  return false;
}

}  // namespace

Result<json::value> Orchctl::pod_for(const api::ResourceInfo& info, const json::value& object) {
  std::string selector = selector_of(object, info.kind == "Service");
  if (selector.empty())
    return invalid_argument("error: cannot attach to " + kind_ref(info) + ": selector for " +
                            std::string(client::object_name(object)) + " not implemented");
  std::chrono::milliseconds limit{60'000};
  if (a_.has("pod-running-timeout")) {
    auto t = parse_timeout(a_.get("pod-running-timeout"));
    if (!t.ok()) return bad_request("error: " + t.status().message());
    limit = *t;
  }
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    client::ListOptions lo;
    lo.label_selector = selector;
    auto pods = client_->list_all(client::resources::kPods, ns_, lo);
    if (!pods.ok()) return pods.status();
    std::vector<json::value> items;
    for (auto& pod : pods->items)
      if (str_at(pod, {"metadata", "deletionTimestamp"}).empty()) items.push_back(std::move(pod));
    if (!items.empty()) {
      // kubectl's ByLogging order: scheduled, Running, Ready, then the oldest.
      auto rank = [](const json::value& pod) {
        int r = 0;
        if (str_at(pod, {"spec", "nodeName"}).empty()) r += 4;
        if (str_at(pod, {"status", "phase"}) != "Running") r += 2;
        if (!pod_ready(pod)) r += 1;
        return r;
      };
      std::stable_sort(items.begin(), items.end(), [&](const json::value& x, const json::value& y) {
        if (rank(x) != rank(y)) return rank(x) < rank(y);
        return str_at(x, {"metadata", "creationTimestamp"}) < str_at(y, {"metadata", "creationTimestamp"});
      });
      return items.front();
    }
    if (std::chrono::steady_clock::now() > deadline)
      return Status(Code::kDeadlineExceeded, "error: timed out waiting for the condition");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int Orchctl::cmd_port_forward() {
  const auto& p = a_.positional;
  if (p.size() < 3) return fail("error: TYPE/NAME and list of ports are required for port-forward");
  if (auto st = connect(); !st.ok()) return fail(st);
  std::string type = "pod", name = p[1];
  if (auto s = name.find('/'); s != std::string::npos) {
    type = name.substr(0, s);
    name = name.substr(s + 1);
  }
  std::string error;
  const auto* info = find_type(type, error);
  if (!info) return fail(error);
  auto object = client_->get(to_resource(*info), ns_, name);
  if (!object.ok()) return fail(object.status());
  json::value pod = *object;
  if (info->kind != "Pod") {
    auto chosen = pod_for(*info, *object);
    if (!chosen.ok()) {
      if (chosen.status().message().starts_with("error:")) return fail(chosen.status().message());
      return fail(chosen.status());
    }
    pod = std::move(*chosen);
  }
  std::string pod_name(client::object_name(pod));

  // The ports, with Service ports and named ports translated to the pod's numbers.
  std::vector<client::PortForwardPort> ports;
  for (std::size_t i = 2; i < p.size(); ++i) {
    std::string spec = p[i];
    std::string local, remote = spec;
    bool has_local = false;
    if (auto colon = spec.rfind(':'); colon != std::string::npos) {
      local = spec.substr(0, colon);
      remote = spec.substr(colon + 1);
      has_local = true;
    }
    if (info->kind == "Service") {
      const json::value* chosen_port = nullptr;
      if (const auto* sps = at(*object, {"spec", "ports"}); sps && sps->is_array())
        for (const auto& sp : sps->get_array())
          if ((all_digits(remote) && str_at(sp, {"port"}) == remote) || str_at(sp, {"name"}) == remote)
            chosen_port = &sp;
      if (!chosen_port)
        return fail("error: Service " + name + " does not have a service port " + remote);
      if (!has_local) local = str_at(*chosen_port, {"port"});
      has_local = true;
      const auto* target = at(*chosen_port, {"targetPort"});
      if (target && target->is_string()) {
        auto n = named_container_port(pod, target->get_string());
        if (n == 0)
          return fail("error: Pod '" + pod_name + "' does not have a named port '" +
                      std::string(target->get_string()) + "'");
        remote = std::to_string(n);
      } else if (target && target->is_number() && target->to_number<long long>() > 0) {
        remote = std::to_string(target->to_number<long long>());
      } else {
        remote = str_at(*chosen_port, {"port"});
      }
    } else if (!remote.empty() && !all_digits(remote)) {
      auto n = named_container_port(pod, remote);
      if (n == 0) return fail("error: Pod '" + pod_name + "' does not have a named port '" + remote + "'");
      if (!has_local) local = remote = std::to_string(n);
      remote = std::to_string(n);
    }
    auto parsed = client::parse_port_forward_spec(has_local ? local + ":" + remote : remote);
    if (!parsed.ok()) return fail("error: " + parsed.status().message());
    ports.push_back(*parsed);
  }
  std::string phase = str_at(pod, {"status", "phase"});
  if (phase != "Running")
    return fail("error: unable to forward port because pod is not running. Current status=" + phase);

  client::PortForwardOptions opts;
  opts.connection = http_options_;
  opts.namespace_ = ns_;
  opts.pod = pod_name;
  opts.ports = ports;
  if (a_.has("address")) {
    opts.addresses.clear();
    for (const auto& addr : split(a_.get("address"), ',')) {
      if (addr == "localhost") {
        opts.addresses.push_back("127.0.0.1");
        opts.addresses.push_back("::1");
      } else {
        opts.addresses.push_back(addr);
      }
    }
  }
  opts.on_connection = [this](std::string_view line) {
    out_ << line << "\n";
    out_.flush();
  };
  opts.on_error = [this](std::string_view line) {
    err_ << line << "\n";
    err_.flush();
  };
  auto pf = client::PortForward::start(std::move(opts));
  if (!pf.ok()) {
    if (pf.status().code() == Code::kUnavailable) return fail("error: " + pf.status().message());
    return fail(pf.status());
  }
  for (const auto& l : (*pf)->listeners()) {
    std::string host = l.address.find(':') != std::string::npos ? "[" + l.address + "]" : l.address;
    out_ << "Forwarding from " << host << ":" << l.local << " -> " << l.remote << "\n";
  }
  out_.flush();
  auto st = (*pf)->wait();
  if (!st.ok()) return fail("error: " + st.message());
  return 0;
}

// ---------------------------------------------------------------------------------------------
// drain

int Orchctl::cmd_drain() {
  const auto& p = a_.positional;
  if (p.size() < 2) return fail("error: USAGE: drain NODE [flags]");
  if (auto st = connect(); !st.ok()) return fail(st);
  std::string node = p[1];
  if (auto s = node.find('/'); s != std::string::npos) node = node.substr(s + 1);
  std::chrono::milliseconds timeout{0};
  if (a_.has("timeout")) {
    auto t = parse_timeout(a_.get("timeout"));
    if (!t.ok()) return fail("error: " + t.status().message());
    timeout = *t;
  }
  if (int rc = set_unschedulable(node, true); rc != 0) return rc;

  client::ListOptions lo;
  lo.field_selector = "spec.nodeName=" + node;
  lo.label_selector = a_.get("pod-selector");
  auto pods = client_->list_all(client::resources::kPods, "", lo);
  if (!pods.ok()) return fail(pods.status());

  // kubectl's filters, in its order: DaemonSet, mirror, local storage, unreplicated.
  const bool ignore_ds = a_.flag("ignore-daemonsets");
  const bool force = a_.flag("force");
  const bool emptydir = a_.flag("delete-emptydir-data") || a_.flag("delete-local-data");
  std::map<std::string, std::vector<std::string>> fatal, warning;
  std::vector<json::value> victims;
  for (const auto& pod : pods->items) {
    std::string ref = std::string(client::object_namespace(pod)) + "/" + std::string(client::object_name(pod));
    std::string phase = str_at(pod, {"status", "phase"});
    bool finished = phase == "Succeeded" || phase == "Failed";
    std::string controller_kind;
    if (const auto* refs = at(pod, {"metadata", "ownerReferences"}); refs && refs->is_array())
      for (const auto& r : refs->get_array())
        if (const auto* c = at(r, {"controller"}); c && c->is_bool() && c->get_bool()) controller_kind = str_at(r, {"kind"});
    if (controller_kind == "DaemonSet" && !finished) {
      if (!ignore_ds) fatal["DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"].push_back(ref);
      else warning["ignoring DaemonSet-managed Pods"].push_back(ref);
      continue;
    }
    if (at(pod, {"metadata", "annotations", "kubernetes.io/config.mirror"})) continue;
    bool local_storage = false;
    if (const auto* vols = at(pod, {"spec", "volumes"}); vols && vols->is_array())
      for (const auto& v : vols->get_array()) local_storage = local_storage || at(v, {"emptyDir"});
    bool blocked = false;
    if (local_storage && !finished) {
      if (!emptydir) {
        fatal["Pods with local storage (use --delete-emptydir-data to override)"].push_back(ref);
        blocked = true;
      } else {
        warning["deleting Pods with local storage"].push_back(ref);
      }
    }
    if (controller_kind.empty() && !finished) {
      if (!force) {
        fatal["cannot delete Pods that declare no controller (use --force to override)"].push_back(ref);
        blocked = true;
      } else {
        warning["deleting Pods that declare no controller"].push_back(ref);
      }
    }
    if (!blocked) victims.push_back(pod);
  }
  auto pending = [&](const std::vector<std::string>& errors) {
    std::string all = errors.size() == 1 ? errors[0] : "[" + join(errors, ", ") + "]";
    err_ << "error: unable to drain node \"" << node << "\" due to error: " << all << ", continuing command...\n";
    err_ << "There are pending nodes to be drained:\n " << node << "\n";
    for (const auto& e : errors) err_ << e << "\n";
    return 1;
  };
  if (!fatal.empty()) {
    std::vector<std::string> errors;
    for (const auto& [msg, refs] : fatal) errors.push_back("cannot delete " + msg + ": " + join(refs, ", "));
    return pending(errors);
  }
  if (!warning.empty()) {
    std::vector<std::string> parts;
    for (const auto& [msg, refs] : warning) parts.push_back(msg + ": " + join(refs, ", "));
    err_ << "Warning: " << join(parts, "; ") << "\n";
  }

  // Evict where the server offers it (pods/eviction in discovery), else delete.
  bool eviction = false;
  {
    client::HttpRequest req;
    req.path = "/api/v1";
    auto resp = client_->transport().request(req);
    eviction = resp.ok() && resp->body.find("\"pods/eviction\"") != std::string::npos;
  }
  client::DeleteOptions dopts;
  if (a_.has("grace-period")) {
    try {
      long long g = std::stoll(a_.get("grace-period"));
      if (g >= 0) dopts.grace_period_seconds = g;
    } catch (...) {
      return fail("error: invalid argument \"" + a_.get("grace-period") + "\" for \"--grace-period\" flag");
    }
  }
  std::vector<std::pair<json::value, std::string>> waiting;  // pod, its uid
  std::vector<std::string> errors;
  for (const auto& pod : victims) {
    std::string pns(client::object_namespace(pod)), pname(client::object_name(pod));
    Status st;
    if (eviction) {
      err_ << "evicting pod " << pns << "/" << pname << "\n";
      client::HttpRequest req;
      req.method = "POST";
      req.path = client::resource_path(client::resources::kPods, pns, pname, "eviction");
      json::object body{{"apiVersion", "policy/v1"}, {"kind", "Eviction"},
                        {"metadata", json::object{{"name", pname}, {"namespace", pns}}}};
      if (dopts.grace_period_seconds)
        body["deleteOptions"] = json::object{{"gracePeriodSeconds", *dopts.grace_period_seconds}};
      req.body = json::serialize(body);
      st = client_->transport().request(req).status();
    } else {
      st = client_->remove(client::resources::kPods, pns, pname, dopts).status();
    }
    if (!st.ok() && st.code() != Code::kNotFound) {
      errors.push_back(st.message());
      continue;
    }
    waiting.emplace_back(pod, std::string(client::object_uid(pod)));
  }
  // Wait for each to go (or come back as a new pod of the same name).
  auto start = std::chrono::steady_clock::now();
  while (!waiting.empty()) {
    for (auto it = waiting.begin(); it != waiting.end();) {
      std::string pns(client::object_namespace(it->first)), pname(client::object_name(it->first));
      auto cur = client_->get(client::resources::kPods, pns, pname);
      bool gone = (!cur.ok() && cur.status().code() == Code::kNotFound) ||
                  (cur.ok() && client::object_uid(*cur) != it->second);
      if (gone) {
        out_ << "pod/" << pname << (eviction ? " evicted\n" : " deleted\n");
        out_.flush();
        it = waiting.erase(it);
      } else {
        ++it;
      }
    }
    if (waiting.empty()) break;
    if (timeout.count() > 0 && std::chrono::steady_clock::now() - start > timeout) {
      for (const auto& [pod, uid] : waiting)
        errors.push_back("error when waiting for pod \"" + std::string(client::object_name(pod)) + "\" in namespace \"" +
                         std::string(client::object_namespace(pod)) + "\" to terminate: global timeout reached: " +
                         a_.get("timeout"));
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (!errors.empty()) {
    err_ << "There are pending pods in node \"" << node << "\" when an error occurred: "
         << (errors.size() == 1 ? errors[0] : "[" + join(errors, ", ") + "]") << "\n";
    for (const auto& [pod, uid] : waiting) err_ << "pod/" << client::object_name(pod) << "\n";
    return pending(errors);
  }
  out_ << "node/" << node << " drained\n";
  return 0;
}

// ---------------------------------------------------------------------------------------------
// wait

int Orchctl::cmd_wait() {
  const auto& p = a_.positional;
  auto cond = parse_wait_for(a_.get("for"));
  if (!cond.ok()) return fail("error: " + cond.status().message());
  std::chrono::milliseconds timeout{30'000};
  if (a_.has("timeout")) {
    auto t = parse_timeout(a_.get("timeout"));
    if (!t.ok()) return fail("error: " + t.status().message());
    timeout = *t;
  }
  if (p.size() < 2) return fail("error: resource(s) were provided, but no name was specified");
  if (auto st = connect(); !st.ok()) return fail(st);
  // The objects: TYPE/NAME..., TYPE NAME..., or TYPE with -l / --all.
  std::vector<std::pair<const api::ResourceInfo*, std::string>> targets;
  std::string error;
  if (p[1].find('/') != std::string::npos) {
    for (std::size_t i = 1; i < p.size(); ++i) {
      auto slash = p[i].find('/');
      const auto* info = find_type(p[i].substr(0, slash), error);
      if (!info) return fail(error);
      targets.emplace_back(info, p[i].substr(slash + 1));
    }
  } else {
    const auto* info = find_type(p[1], error);
    if (!info) return fail(error);
    if (p.size() > 2) {
      for (std::size_t i = 2; i < p.size(); ++i) targets.emplace_back(info, p[i]);
    } else if (a_.has("selector") || a_.flag("all")) {
      client::ListOptions lo;
      lo.label_selector = a_.get("selector");
      auto list = client_->list_all(to_resource(*info), info->namespaced ? ns_ : "", lo);
      if (!list.ok()) return fail(list.status());
      for (const auto& o : list->items) targets.emplace_back(info, std::string(client::object_name(o)));
      if (targets.empty()) return fail("error: no matching resources found");
    } else {
      return fail("error: resource(s) were provided, but no name was specified");
    }
  }
  int rc = 0;
  for (const auto& [info, name] : targets) {
    Resource r = to_resource(*info);
    std::string ns = info->namespaced ? ns_ : "";
    std::string ref = kind_ref(*info) + "/" + name;
    std::string want = a_.get("for");
    if (cond->kind == WaitFor::Kind::kDelete) {
      auto first = client_->get(r, ns, name);
      if (!first.ok() && first.status().code() == Code::kNotFound) continue;  // already gone
      auto st = wait_deleted(r, ns, name, "waiting for " + ref + " to be deleted...", timeout);
      if (st.code() == Code::kDeadlineExceeded) {
        rc = fail("error: timed out waiting for the condition on " + r.plural + "/" + name);
        continue;
      }
      if (!st.ok()) {
        rc = fail(st);
        continue;
      }
      out_ << ref << " condition met\n";
      out_.flush();
      continue;
    }
    auto start = std::chrono::steady_clock::now();
    bool told = false, met = false;
    while (true) {
      auto o = client_->get(r, ns, name);
      if (!o.ok()) {
        rc = fail(o.status());
        break;
      }
      if (wait_for_met(*cond, *o)) {
        met = true;
        break;
      }
      auto waited = std::chrono::steady_clock::now() - start;
      if (timeout.count() == 0 || waited > timeout) {
        rc = fail("error: timed out waiting for the condition on " + r.plural + "/" + name);
        break;
      }
      if (!told && waited > std::chrono::seconds(1)) {
        err_ << "waiting for " << ref << ": " << want << "...\n";
        err_.flush();
        told = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (met) {
      out_ << ref << " condition met\n";
      out_.flush();
    }
  }
  return rc;
}

// ---------------------------------------------------------------------------------------------
// explain

int Orchctl::cmd_explain() {
  const auto& p = a_.positional;
  if (p.size() < 2)
    return fail("error: You must specify the type of resource to explain. Use \"orchctl api-resources\" for a "
                "complete list of supported resources.");
  auto text = explain(p[1], a_.flag("recursive"));
  if (!text.ok()) return fail("error: " + text.status().message());
  out_ << *text;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// config / version / api-resources

int Orchctl::cmd_config() {
  const auto& p = a_.positional;
  if (p.size() < 2) return fail("error: specify a config subcommand: view, get-contexts, use-context, current-context");
  const std::string& sub = p[1];
  if (sub == "view") {
    client::Config c = config_;
    if (a_.flag("minify")) {
      std::string ctx = context_.empty() ? c.current_context : context_;
      client::Config m;
      m.current_context = ctx;
      if (c.contexts.count(ctx)) {
        auto kc = c.contexts[ctx];
        m.contexts[ctx] = kc;
        if (c.clusters.count(kc.cluster)) m.clusters[kc.cluster] = c.clusters[kc.cluster];
        if (c.users.count(kc.user)) m.users[kc.user] = c.users[kc.user];
      }
      c = m;
    }
    if (!a_.flag("raw")) {
      for (auto& [_, cl] : c.clusters)
        if (!cl.certificate_authority_data.empty()) cl.certificate_authority_data = "DATA+OMITTED";
      for (auto& [_, u] : c.users) {
        if (!u.client_certificate_data.empty()) u.client_certificate_data = "DATA+OMITTED";
        if (!u.client_key_data.empty()) u.client_key_data = "DATA+OMITTED";
        if (!u.token.empty()) u.token = "REDACTED";
      }
    }
    std::string y = c.to_yaml();
    std::string output = a_.get("output");
    if (output == "json") {
      auto docs = api::parse_yaml(y);
      if (docs.ok() && !docs->empty()) out_ << pretty_json(docs->front()) << "\n";
      return 0;
    }
    out_ << y;
    return 0;
  }
  if (sub == "current-context") {
    if (config_.current_context.empty()) return fail("error: current-context is not set");
    out_ << config_.current_context << "\n";
    return 0;
  }
  if (sub == "get-contexts") {
    std::vector<std::vector<std::string>> rows{{"CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"}};
    for (const auto& [name, c] : config_.contexts) {
      if (p.size() > 2 && p[2] != name) continue;
      rows.push_back({name == config_.current_context ? "*" : "", name, c.cluster, c.user, c.namespace_});
    }
    if (p.size() > 2 && rows.size() == 1) return fail("error: context " + p[2] + " not found");
    out_ << format_rows(rows);
    return 0;
  }
  if (sub == "use-context" || sub == "set-context") {
    if (p.size() < 3 && sub == "use-context") return fail("error: Unexpected args: []");
    // The file to write: --kubeconfig, else the first existing file of $KUBECONFIG, else ~/.kube/config.
    std::string path = a_.get("kubeconfig");
    if (path.empty()) {
      const char* env = std::getenv("KUBECONFIG");
      if (env && *env) {
        for (const auto& f : split(env, ':'))
          if (!f.empty() && fs::exists(f)) {
            path = f;
            break;
          }
      } else if (const char* home = std::getenv("HOME")) {
        path = std::string(home) + "/.kube/config";
      }
    }
    if (path.empty()) return fail("error: no kubeconfig file to write");
    client::Config file_config;
    if (fs::exists(path)) {
      auto c = client::load_kubeconfig_file(path);
      if (!c.ok()) return fail("error: " + c.status().message());
      file_config = *c;
    }
    if (sub == "use-context") {
      if (!config_.contexts.count(p[2])) return fail("error: no context exists with the name: \"" + p[2] + "\"");
      file_config.current_context = p[2];
    } else {
      std::string name = p.size() > 2 ? p[2] : config_.current_context;
      if (a_.flag("current")) name = config_.current_context;
      auto& c = file_config.contexts[name];
      if (config_.contexts.count(name) && c == client::KubeContext{}) c = config_.contexts[name];
      if (a_.has("namespace")) c.namespace_ = a_.get("namespace");
      if (a_.has("cluster")) c.cluster = a_.get("cluster");
      if (a_.has("user")) c.user = a_.get("user");
    }
    std::ofstream os(path);
    if (!os) return fail("error: open " + path + ": cannot write");
    os << file_config.to_yaml();
    if (sub == "use-context") out_ << "Switched to context \"" << p[2] << "\".\n";
    else out_ << "Context \"" << (p.size() > 2 ? p[2] : config_.current_context) << "\" modified.\n";
    return 0;
  }
  return fail("error: unknown command \"" + sub + "\" for \"orchctl config\"");
}

int Orchctl::cmd_version() {
  bool client_only = a_.flag("client");
  std::string output = a_.get("output");
  json::object doc{{"clientVersion", json::object{{"major", "1"}, {"minor", "32"}, {"gitVersion", "v1.32.0-orch"}, {"platform", "linux/amd64"}}}};
  std::string server_version;
  int rc = 0;
  if (!client_only) {
    if (auto st = connect(); !st.ok()) {
      rc = 1;
      err_ << "Client Version: v1.32.0-orch\n";
      return fail(st);
    }
    client::HttpRequest req;
    req.path = "/version";
    auto resp = client_->transport().request(req);
    if (!resp.ok()) {
      out_ << "Client Version: v1.32.0-orch\n";
      return fail(resp.status());
    }
    boost::system::error_code ec;
    json::value v = json::parse(resp->body, ec);
    if (!ec) {
      server_version = str_at(v, {"gitVersion"});
      doc["serverVersion"] = v;
    }
  }
  if (output == "json") {
    out_ << pretty_json(doc) << "\n";
    return rc;
  }
  if (output == "yaml") {
    out_ << api::to_yaml(doc);
    return rc;
  }
  out_ << "Client Version: v1.32.0-orch\n";
  if (!client_only) out_ << "Server Version: " << server_version << "\n";
  return rc;
}

int Orchctl::cmd_api_resources() {
  std::vector<std::vector<std::string>> rows{{"NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"}};
  std::vector<const api::ResourceInfo*> infos;
  for (const auto& r : api::all_resources()) infos.push_back(&r);
  std::stable_sort(infos.begin(), infos.end(), [](const auto* x, const auto* y) {
    if (x->group != y->group) return x->group < y->group;
    return x->resource < y->resource;
  });
  std::string output = a_.get("output");
  bool namespaced_filter = a_.has("namespaced");
  bool want_ns = a_.flag("namespaced");
  for (const auto* r : infos) {
    if (namespaced_filter && r->namespaced != want_ns) continue;
    if (output == "name") {
      out_ << r->resource << (r->group.empty() ? "" : "." + std::string(r->group)) << "\n";
      continue;
    }
    std::vector<std::string> sn(r->short_names.begin(), r->short_names.end());
    rows.push_back({std::string(r->resource), join(sn, ","), r->api_version(), r->namespaced ? "true" : "false",
                    std::string(r->kind)});
  }
  if (output != "name") out_ << format_rows(rows);
  return 0;
}

// ---------------------------------------------------------------------------------------------

constexpr std::string_view kUsage =
    "orchctl controls a liborch (Kubernetes) cluster, as kubectl does.\n\n"
    "Commands:\n"
    "  get, describe, create, apply, delete, run, expose, scale, set image, edit,\n"
    "  rollout (status|history|undo|pause|resume|restart), logs, label, annotate,\n"
    "  cordon, uncordon, drain, port-forward, wait, explain,\n"
    "  config (view|get-contexts|use-context|set-context|current-context), version, api-resources\n\n"
    "Global flags: --kubeconfig FILE, --context NAME, -n/--namespace NS, -A/--all-namespaces\n";

int Orchctl::run() {
  const auto& p = a_.positional;
  if (p.empty() || a_.flag("help")) {
    out_ << kUsage;
    return p.empty() && !a_.flag("help") ? 1 : 0;
  }
  const std::string& verb = p[0];
  static const std::set<std::string, std::less<>> kVerbs = {
      "get", "describe", "create", "apply", "delete", "run", "expose", "scale", "set", "edit", "rollout",
      "logs", "label", "annotate", "cordon", "uncordon", "config", "version", "api-resources",
      "port-forward", "drain", "wait", "explain"};
  if (!kVerbs.count(verb)) return fail("error: unknown command \"" + verb + "\" for \"orchctl\"");
  if (verb == "api-resources") return cmd_api_resources();
  if (verb == "explain") return cmd_explain();
  if (auto st = load_config(); !st.ok()) {
    if (verb == "version" && a_.flag("client")) return cmd_version();
    std::string m = st.message();
    if (!m.starts_with("error")) m = "error: " + m;
    return fail(m);
  }
  if (verb == "get") return cmd_get();
  if (verb == "describe") return cmd_describe();
  if (verb == "create") return cmd_create();
  if (verb == "apply") return cmd_apply();
  if (verb == "delete") return cmd_delete();
  if (verb == "run") return cmd_run();
  if (verb == "expose") return cmd_expose();
  if (verb == "scale") return cmd_scale();
  if (verb == "set") return cmd_set();
  if (verb == "edit") return cmd_edit();
  if (verb == "rollout") return cmd_rollout();
  if (verb == "logs") return cmd_logs();
  if (verb == "label") return cmd_label(false);
  if (verb == "annotate") return cmd_label(true);
  if (verb == "cordon") return cmd_cordon(true);
  if (verb == "uncordon") return cmd_cordon(false);
  if (verb == "config") return cmd_config();
  if (verb == "port-forward") return cmd_port_forward();
  if (verb == "drain") return cmd_drain();
  if (verb == "wait") return cmd_wait();
  return cmd_version();
}

}  // namespace

int run_orchctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, std::istream& in) {
  auto parsed = parse_args(args);
  if (!parsed.ok()) {
    err << "error: " << parsed.status().message() << "\n";
    return 1;
  }
  Orchctl ctl(std::move(*parsed), out, err, in);
  return ctl.run();
}

int run_orchctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  return run_orchctl(args, out, err, std::cin);
}

}  // namespace orch::cli
