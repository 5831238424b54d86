// The pure parts of orchctl: argument parsing, JSONPath, table and JSON printing, apply's merge.
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <optional>
#include <set>
#include <sstream>

#include "orch/api/time.hpp"
#include "orch/cli/orchctl.hpp"

namespace orch::cli {

namespace json = boost::json;

// ---------------------------------------------------------------------------------------------
// Arguments

bool Args::has(std::string_view name) const { return flags.find(std::string(name)) != flags.end(); }

std::string Args::get(std::string_view name, std::string fallback) const {
  auto it = flags.find(std::string(name));
  if (it == flags.end() || it->second.empty()) return fallback;
  return it->second.back();
}

std::vector<std::string> Args::all(std::string_view name) const {
  auto it = flags.find(std::string(name));
  return it == flags.end() ? std::vector<std::string>{} : it->second;
}

bool Args::flag(std::string_view name, bool fallback) const {
  if (!has(name)) return fallback;
  std::string v = get(name, "true");
  return v != "false" && v != "0";
}

namespace {

// Long flags taking a value.
const std::set<std::string, std::less<>> kValueFlags = {
    "kubeconfig", "context",  "namespace",     "output",     "selector",     "filename",
    "image",      "port",     "labels",        "env",        "replicas",     "dry-run",
    "type",       "target-port", "name",       "container",  "tail",         "to-revision",
    "field-selector", "timeout", "grace-period", "protocol", "cluster-ip",   "generator",
    "restart",    "revision", "cascade",       "current-replicas", "external-ip", "since",
    "label-columns", "sort-by", "chunk-size", "request-timeout", "server", "user", "cluster",
    "limit-bytes", "field-manager", "validate", "pod-running-timeout", "session-affinity",
    "for", "address", "pod-selector", "api-version", "skip-wait-for-delete-timeout",
};
// Long boolean flags.
const std::set<std::string, std::less<>> kBoolFlags = {
    "all-namespaces", "watch", "all", "previous", "follow", "overwrite", "record", "wait",
    "show-labels", "no-headers", "force", "local", "recursive", "stdin", "tty", "rm",
    "minify", "raw", "help", "watch-only", "ignore-not-found", "short", "client", "timestamps",
    "now", "ignore-daemonsets", "delete-emptydir-data", "flatten", "save-config", "windows-line-endings",
    "allow-missing-template-keys", "namespaced", "no-headers", "show-managed-fields",
    "disable-eviction", "delete-local-data", "command",
};

std::string short_to_long(char c, bool logs) {
  switch (c) {
    case 'n': return "namespace";
    case 'o': return "output";
    case 'l': return "selector";
    case 'f': return logs ? "follow" : "filename";
    case 'A': return "all-namespaces";
    case 'w': return "watch";
    case 'c': return "container";
    case 'R': return "recursive";
    case 'i': return "stdin";
    case 't': return "tty";
    case 'p': return "previous";
    case 'L': return "label-columns";
    case 'h': return "help";
    default: return {};
  }
}

}  // namespace

Result<Args> parse_args(const std::vector<std::string>& argv) {
  Args args;
  bool logs = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      for (++i; i < argv.size(); ++i) args.positional.push_back(argv[i]);
      break;
    }
    if (a.size() > 2 && a.starts_with("--")) {
      std::string name = a.substr(2), value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      if (kValueFlags.count(name)) {
        if (!has_value) {
          if (i + 1 >= argv.size()) return bad_request("flag needs an argument: --" + name);
          value = argv[++i];
        }
      } else if (kBoolFlags.count(name)) {
        if (!has_value) value = "true";
      } else {
        return bad_request("unknown flag: --" + name);
      }
      args.flags[name].push_back(value);
      continue;
    }
    if (a.size() > 1 && a[0] == '-' && a != "-") {
      // One or more short flags: -A, -wA, -nkube-system, -n kube-system.
      for (std::size_t j = 1; j < a.size(); ++j) {
        std::string name = short_to_long(a[j], logs);
        if (name.empty()) return bad_request(std::string("unknown shorthand flag: '") + a[j] + "' in " + a);
        if (kValueFlags.count(name)) {
          std::string value = a.substr(j + 1);
          if (!value.empty() && value[0] == '=') value = value.substr(1);
          if (value.empty()) {
            if (i + 1 >= argv.size()) return bad_request("flag needs an argument: '" + std::string(1, a[j]) + "' in " + a);
            value = argv[++i];
          }
          args.flags[name].push_back(value);
          break;
        }
        args.flags[name].push_back("true");
      }
      continue;
    }
    if (args.positional.empty() && a == "logs") logs = true;
    args.positional.push_back(a);
  }
  return args;
}

// ---------------------------------------------------------------------------------------------
// JSON printing

namespace {

void go_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '<': out += "\\u003c"; break;
      case '>': out += "\\u003e"; break;
      case '&': out += "\\u0026"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void go_json_into(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      std::vector<std::string_view> keys;
      for (const auto& kv : o) keys.push_back(kv.key());
      std::sort(keys.begin(), keys.end());
      out += '{';
      bool first = true;
      for (auto k : keys) {
        if (!first) out += ',';
        first = false;
        go_string(out, k);
        out += ':';
        go_json_into(out, o.at(k));
      }
      out += '}';
      break;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        go_json_into(out, e);
      }
      out += ']';
      break;
    }
    case json::kind::string: go_string(out, v.get_string()); break;
    default: out += json::serialize(v);
  }
}

void pretty_into(std::string& out, const json::value& v, int indent) {
  std::string pad(static_cast<std::size_t>(indent + 4), ' ');
  std::string close(static_cast<std::size_t>(indent), ' ');
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      if (o.empty()) { out += "{}"; return; }
      out += "{\n";
      std::vector<std::string_view> keys;
      for (const auto& kv : o) keys.push_back(kv.key());
      std::sort(keys.begin(), keys.end());
      bool first = true;
      for (auto k : keys) {
        if (!first) out += ",\n";
        first = false;
        out += pad;
        go_string(out, k);
        out += ": ";
        pretty_into(out, o.at(k), indent + 4);
      }
      out += "\n" + close + "}";
      return;
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      if (a.empty()) { out += "[]"; return; }
      out += "[\n";
      bool first = true;
      for (const auto& e : a) {
        if (!first) out += ",\n";
        first = false;
        out += pad;
        pretty_into(out, e, indent + 4);
      }
      out += "\n" + close + "]";
      return;
    }
    case json::kind::string: go_string(out, v.get_string()); return;
    default: out += json::serialize(v);
  }
}

}  // namespace

std::string go_json(const json::value& value) {
  std::string out;
  go_json_into(out, value);
  return out;
}

std::string pretty_json(const json::value& value) {
  std::string out;
  pretty_into(out, value, 0);
  return out;
}

std::string human_duration(long long s) {
  if (s < 0) s = 0;
  auto str = [](long long n) { return std::to_string(n); };
  if (s < 120) return str(s) + "s";
  long long m = s / 60;
  if (m < 10) return s % 60 == 0 ? str(m) + "m" : str(m) + "m" + str(s % 60) + "s";
  if (m < 180) return str(m) + "m";
  long long h = s / 3600;
  if (h < 8) return m % 60 == 0 ? str(h) + "h" : str(h) + "h" + str(m % 60) + "m";
  if (h < 48) return str(h) + "h";
  long long d = h / 24;
  if (d < 8) return h % 24 == 0 ? str(d) + "d" : str(d) + "d" + str(h % 24) + "h";
  if (d < 365 * 2) return str(d) + "d";
  long long y = d / 365;
  if (y < 8) return d % 365 == 0 ? str(y) + "y" : str(y) + "y" + str(d % 365) + "d";
  return str(y) + "y";
}

// ---------------------------------------------------------------------------------------------
// Tables

std::string format_rows(const std::vector<std::vector<std::string>>& rows, std::size_t padding) {
  std::vector<std::size_t> widths;
  for (const auto& r : rows)
    for (std::size_t i = 0; i + 1 < r.size(); ++i) {
      if (widths.size() <= i) widths.resize(i + 1, 0);
      widths[i] = std::max(widths[i], r[i].size());
    }
  std::string out;
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(widths[i] - r[i].size() + padding, ' ');
    }
    out += '\n';
  }
  return out;
}

namespace {

std::string cell_text(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string: return std::string(v.get_string());
    case json::kind::null: return "<none>";
    case json::kind::int64: return std::to_string(v.get_int64());
    case json::kind::uint64: return std::to_string(v.get_uint64());
    case json::kind::double_: {
      double d = v.get_double();
      if (d == static_cast<double>(static_cast<long long>(d))) return std::to_string(static_cast<long long>(d));
      return json::serialize(v);
    }
    case json::kind::bool_: return v.get_bool() ? "true" : "false";
    default: return json::serialize(v);
  }
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

const json::value* find_path(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto p : path) {
    if (!cur->is_object()) return nullptr;
    cur = cur->get_object().if_contains(p);
    if (!cur) return nullptr;
  }
  return cur;
}

}  // namespace

std::string format_table(const json::value& table, const TableOptions& options) {
  return format_rows(table_rows(table, options));
}

std::vector<std::vector<std::string>> table_rows(const json::value& table, const TableOptions& options) {
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> keep;
  std::vector<std::string> header;
  if (options.with_namespace) header.push_back("NAMESPACE");
  if (const auto* cols = find_path(table, {"columnDefinitions"}); cols && cols->is_array()) {
    for (const auto& c : cols->get_array()) {
      std::int64_t prio = 0;
      if (const auto* p = find_path(c, {"priority"}); p && p->is_int64()) prio = p->get_int64();
      bool k = prio == 0 || options.wide;
      keep.push_back(k);
      if (k) {
        const auto* n = find_path(c, {"name"});
        header.push_back(upper(n && n->is_string() ? std::string(n->get_string()) : ""));
      }
    }
  }
  if (options.show_labels) header.push_back("LABELS");
  if (!options.no_headers) rows.push_back(header);
  if (const auto* rs = find_path(table, {"rows"}); rs && rs->is_array()) {
    for (const auto& r : rs->get_array()) {
      std::vector<std::string> row;
      if (options.with_namespace) {
        const auto* ns = find_path(r, {"object", "metadata", "namespace"});
        row.push_back(ns && ns->is_string() ? std::string(ns->get_string()) : "");
      }
      if (const auto* cells = find_path(r, {"cells"}); cells && cells->is_array()) {
        std::size_t i = 0;
        for (const auto& c : cells->get_array()) {
          if (i >= keep.size() || keep[i]) {
            std::string text = cell_text(c);
            if (i == 0 && !options.kind_prefix.empty()) text = options.kind_prefix + text;
            row.push_back(text);
          }
          ++i;
        }
      }
      if (options.show_labels) {
        std::string labels;
        if (const auto* l = find_path(r, {"object", "metadata", "labels"}); l && l->is_object()) {
          for (const auto& kv : l->get_object()) {
            if (!labels.empty()) labels += ',';
            labels += std::string(kv.key()) + "=" + cell_text(kv.value());
          }
        }
        row.push_back(labels.empty() ? "<none>" : labels);
      }
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Apply's merge

namespace {

// Does `current` hold everything `want` says (extra fields in objects allowed)?
bool contains(const json::value& current, const json::value& want) {
  if (want.is_object()) {
    if (!current.is_object()) return false;
    for (const auto& kv : want.get_object()) {
      const auto* c = current.get_object().if_contains(kv.key());
      if (!c) {
        if (kv.value().is_null()) continue;
        return false;
      }
      if (!contains(*c, kv.value())) return false;
    }
    return true;
  }
  if (want.is_array()) {
    if (!current.is_array() || current.get_array().size() != want.get_array().size()) return false;
    for (std::size_t i = 0; i < want.get_array().size(); ++i)
      if (!contains(current.get_array()[i], want.get_array()[i])) return false;
    return true;
  }
  if (want.is_number() && current.is_number()) return want.to_number<double>() == current.to_number<double>();
  return current == want;
}

}  // namespace

json::value three_way_merge_patch(const json::value& original, const json::value& modified,
                                  const json::value& current) {
  json::object patch;
  if (!modified.is_object()) return patch;
  const json::object* orig = original.is_object() ? &original.get_object() : nullptr;
  const json::object* cur = current.is_object() ? &current.get_object() : nullptr;
  for (const auto& kv : modified.get_object()) {
    const json::value* c = cur ? cur->if_contains(kv.key()) : nullptr;
    const json::value* o = orig ? orig->if_contains(kv.key()) : nullptr;
    if (!c) {
      if (!kv.value().is_null()) patch[kv.key()] = kv.value();
      continue;
    }
    if (kv.value().is_object() && c->is_object()) {
      json::value sub = three_way_merge_patch(o ? *o : json::value(), kv.value(), *c);
      if (!sub.get_object().empty()) patch[kv.key()] = std::move(sub);
      continue;
    }
    if (kv.value().is_array()) {
      if (!contains(*c, kv.value()) || (o && *o != kv.value())) patch[kv.key()] = kv.value();
      continue;
    }
    if (!contains(*c, kv.value())) patch[kv.key()] = kv.value();
  }
  if (orig) {
    for (const auto& kv : *orig) {
      if (modified.get_object().contains(kv.key())) continue;
      if (cur && cur->contains(kv.key())) patch[kv.key()] = nullptr;
    }
  }
  return patch;
}

// ---------------------------------------------------------------------------------------------
// JSONPath

namespace {

struct JsonPathError {
  std::string message;
};

class JsonPath {
 public:
  JsonPath(std::string_view tmpl, bool strict) : t_(tmpl), strict_(strict) {}

  Result<std::string> run(const json::value& data) {
    std::string out;
    std::size_t pos = 0;
    auto st = render(data, pos, out, false);
    if (!st.ok()) return st;
    return out;
  }

 private:
  // Renders from `pos` until the end or a matching {end} (when `in_range`).
  Status render(const json::value& data, std::size_t& pos, std::string& out, bool in_range) {
    while (pos < t_.size()) {
      if (t_[pos] != '{') {
        out += t_[pos++];
        continue;
      }
      std::size_t close = find_close(pos);
      if (close == std::string::npos) return bad_request("error parsing jsonpath " + std::string(t_) + ", unclosed action");
      std::string expr = trim(std::string(t_.substr(pos + 1, close - pos - 1)));
      pos = close + 1;
      if (expr == "end") {
        if (in_range) return ok_status();
        return bad_request("error parsing jsonpath " + std::string(t_) + ", not in range, nothing to end");
      }
      if (expr.starts_with("range ")) {
        std::vector<const json::value*> items;
        ORCH_TRY(eval(trim(expr.substr(6)), data, items));
        std::size_t body = pos;
        if (items.empty()) {
          // Skip the body.
          std::string sink;
          json::value empty;
          std::size_t p = body;
          ORCH_TRY(skip_range(p));
          pos = p;
          continue;
        }
        for (const auto* item : items) {
          std::size_t p = body;
          ORCH_TRY(render(*item, p, out, true));
          pos = p;
        }
        continue;
      }
      if (expr.size() >= 2 && expr.front() == '"' && expr.back() == '"') {
        out += unquote(expr.substr(1, expr.size() - 2));
        continue;
      }
      std::vector<const json::value*> results;
      ORCH_TRY(eval(expr, data, results));
      bool first = true;
      for (const auto* r : results) {
        if (!first) out += ' ';
        first = false;
        if (r->is_string()) out += r->get_string();
        else if (r->is_object() || r->is_array()) out += go_json(*r);
        else out += cell_text(*r);
      }
    }
    if (in_range) return bad_request("error parsing jsonpath " + std::string(t_) + ", unclosed range");
    return ok_status();
  }

  Status skip_range(std::size_t& pos) {
    int depth = 1;
    while (pos < t_.size()) {
      if (t_[pos] != '{') { ++pos; continue; }
      std::size_t close = find_close(pos);
      if (close == std::string::npos) break;
      std::string expr = trim(std::string(t_.substr(pos + 1, close - pos - 1)));
      pos = close + 1;
      if (expr.starts_with("range ")) ++depth;
      if (expr == "end" && --depth == 0) return ok_status();
    }
    return bad_request("error parsing jsonpath " + std::string(t_) + ", unclosed range");
  }

  std::size_t find_close(std::size_t open) const {
    bool quoted = false;
    for (std::size_t i = open + 1; i < t_.size(); ++i) {
      if (t_[i] == '\\' && quoted) { ++i; continue; }
      if (t_[i] == '"') quoted = !quoted;
      if (t_[i] == '}' && !quoted) return i;
    }
    return std::string::npos;
  }

  static std::string trim(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    return s;
  }

  static std::string unquote(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) {
        char n = s[++i];
        out += n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n;
      } else {
        out += s[i];
      }
    }
    return out;
  }

  static void descend_all(const json::value& v, std::string_view key, std::vector<const json::value*>& out) {
    if (v.is_object()) {
      if (key.empty()) out.push_back(&v);
      for (const auto& kv : v.get_object()) {
        if (!key.empty() && kv.key() == key) out.push_back(&kv.value());
        descend_all(kv.value(), key, out);
      }
    } else if (v.is_array()) {
      for (const auto& e : v.get_array()) descend_all(e, key, out);
    }
  }

  // Evaluates a path expression (".a.b[0]", "@.x", "$.x") against `data`.
  Status eval(std::string expr, const json::value& data, std::vector<const json::value*>& out) {
    std::vector<const json::value*> cur{&data};
    std::size_t i = 0;
    if (!expr.empty() && (expr[0] == '$' || expr[0] == '@')) i = 1;
    while (i < expr.size()) {
      std::vector<const json::value*> next;
      if (expr[i] == '.') {
        bool recursive = i + 1 < expr.size() && expr[i + 1] == '.';
        i += recursive ? 2 : 1;
        std::size_t start = i;
        while (i < expr.size() && expr[i] != '.' && expr[i] != '[') ++i;
        std::string key = expr.substr(start, i - start);
        for (const auto* v : cur) {
          if (recursive) {
            descend_all(*v, key == "*" ? "" : key, next);
          } else if (key.empty()) {
            next.push_back(v);
          } else if (key == "*") {
            if (v->is_object()) for (const auto& kv : v->get_object()) next.push_back(&kv.value());
            else if (v->is_array()) for (const auto& e : v->get_array()) next.push_back(&e);
          } else if (v->is_object()) {
            if (const auto* f = v->get_object().if_contains(key)) next.push_back(f);
            else if (strict_) return not_found(key + " is not found");
          } else if (strict_) {
            return not_found(key + " is not found");
          }
        }
      } else if (expr[i] == '[') {
        std::size_t close = expr.find(']', i);
        if (expr.compare(i, 3, "[?(") == 0) close = expr.find(")]", i) + 1;
        if (close == std::string::npos || close == 0) return bad_request("error parsing jsonpath " + std::string(t_) + ", unterminated array");
        std::string inner = trim(expr.substr(i + 1, close - i - 1));
        i = close + 1;
        for (const auto* v : cur) {
          if (inner.starts_with("?(")) {
            if (!v->is_array()) continue;
            std::string cond = trim(inner.substr(2, inner.size() - 3));
            for (const auto& e : v->get_array()) {
              auto match = filter(cond, e);
              if (!match.ok()) return match.status();
              if (*match) next.push_back(&e);
            }
          } else if (inner == "*") {
            if (v->is_array()) for (const auto& e : v->get_array()) next.push_back(&e);
            else if (v->is_object()) for (const auto& kv : v->get_object()) next.push_back(&kv.value());
          } else if (inner.size() >= 2 && (inner.front() == '\'' || inner.front() == '"')) {
            std::string key = inner.substr(1, inner.size() - 2);
            if (v->is_object())
              if (const auto* f = v->get_object().if_contains(key)) next.push_back(f);
          } else {
            if (!v->is_array()) continue;
            const auto& arr = v->get_array();
            auto n = static_cast<long long>(arr.size());
            if (auto colon = inner.find(':'); colon != std::string::npos) {
              long long a = colon == 0 ? 0 : std::stoll(inner.substr(0, colon));
              std::string rest = inner.substr(colon + 1);
              long long b = rest.empty() ? n : std::stoll(rest);
              if (a < 0) a += n;
              if (b < 0) b += n;
              for (long long k = std::max(0LL, a); k < std::min(n, b); ++k) next.push_back(&arr[static_cast<std::size_t>(k)]);
            } else {
              long long k = 0;
              try { k = std::stoll(inner); } catch (...) { return bad_request("error parsing jsonpath " + std::string(t_) + ", invalid array index " + inner); }
              if (k < 0) k += n;
              if (k >= 0 && k < n) next.push_back(&arr[static_cast<std::size_t>(k)]);
              else return bad_request("array index out of bounds: index " + inner + ", length " + std::to_string(n));
            }
          }
        }
      } else {
        return bad_request("error parsing jsonpath " + std::string(t_) + ", unrecognized character in action: " + std::string(1, expr[i]));
      }
      cur = std::move(next);
    }
    out.insert(out.end(), cur.begin(), cur.end());
    return ok_status();
  }

  Result<bool> filter(const std::string& cond, const json::value& item) {
    static const char* kOps[] = {"==", "!=", "<=", ">=", "<", ">"};
    for (const char* op : kOps) {
      auto at = cond.find(op);
      if (at == std::string::npos) continue;
      std::string lhs = trim(cond.substr(0, at)), rhs = trim(cond.substr(at + std::string(op).size()));
      std::vector<const json::value*> l;
      ORCH_TRY(eval(lhs, item, l));
      if (l.empty()) return false;
      json::value r;
      if (!rhs.empty() && (rhs.front() == '"' || rhs.front() == '\'')) r = rhs.substr(1, rhs.size() - 2);
      else if (rhs.starts_with("@")) {
        std::vector<const json::value*> rv;
        ORCH_TRY(eval(rhs, item, rv));
        if (rv.empty()) return false;
        r = *rv[0];
      } else {
        boost::system::error_code ec;
        r = json::parse(rhs, ec);
        if (ec) r = rhs;
      }
      const json::value& a = *l[0];
      std::string o(op);
      if (a.is_number() && r.is_number()) {
        double x = a.to_number<double>(), y = r.to_number<double>();
        return o == "==" ? x == y : o == "!=" ? x != y : o == "<" ? x < y : o == ">" ? x > y : o == "<=" ? x <= y : x >= y;
      }
      if (o == "==") return a == r;
      if (o == "!=") return a != r;
      if (a.is_string() && r.is_string()) {
        auto x = a.get_string(), y = r.get_string();
        return o == "<" ? x < y : o == ">" ? x > y : o == "<=" ? x <= y : x >= y;
      }
      return false;
    }
    std::vector<const json::value*> l;
    ORCH_TRY(eval(cond, item, l));
    return !l.empty();
  }

  std::string_view t_;
  bool strict_;
};

}  // namespace

Result<std::string> eval_jsonpath(std::string_view tmpl, const json::value& data, bool strict) {
  // kubectl accepts a bare path without braces: -o jsonpath='.items[0]'... only with braces
  // in practice; wrap one that has none.
  std::string t(tmpl);
  if (t.find('{') == std::string::npos) t = "{" + t + "}";
  JsonPath jp(t, strict);
  return jp.run(data);
}

// ---------------------------------------------------------------------------------------------
// wait / timeouts

Result<std::chrono::milliseconds> parse_timeout(std::string_view text) {
  std::string t(text);
  if (!t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    t += "s";
  auto d = api::parse_duration(t);
  if (!d.ok()) {
    return bad_request("invalid argument \"" + std::string(text) + "\" for \"--timeout\" flag: " +
                       d.status().message());
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

Result<WaitFor> parse_wait_for(std::string_view text) {
  WaitFor w;
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  std::string t(text);
  if (lower(t) == "delete") return w;
  if (lower(t).starts_with("condition=")) {
    w.kind = WaitFor::Kind::kCondition;
    std::string rest = t.substr(10);
    auto eq = rest.find('=');
    w.name = rest.substr(0, eq);
    w.value = eq == std::string::npos ? "True" : rest.substr(eq + 1);
    if (w.name.empty()) return bad_request("unrecognized condition: \"" + t + "\"");
    return w;
  }
  if (lower(t).starts_with("jsonpath=")) {
    w.kind = WaitFor::Kind::kJsonPath;
    std::string rest = t.substr(9);
    // The template ends at its last '}'; "=value" may follow.
    auto close = rest.rfind('}');
    if (close == std::string::npos) return bad_request("unrecognized condition: \"" + t + "\"");
    w.name = rest.substr(0, close + 1);
    std::string tail = rest.substr(close + 1);
    if (!tail.empty() && tail[0] == '=') w.value = tail.substr(1);
    else if (!tail.empty()) return bad_request("unrecognized condition: \"" + t + "\"");
    return w;
  }
  return bad_request("unrecognized condition: \"" + t + "\"");
}

bool wait_for_met(const WaitFor& w, const json::value& object) {
  if (w.kind == WaitFor::Kind::kCondition) {
    const auto* status = object.is_object() ? object.get_object().if_contains("status") : nullptr;
    const auto* conds = status && status->is_object() ? status->get_object().if_contains("conditions") : nullptr;
    if (!conds || !conds->is_array()) return false;
    auto iequal = [](std::string_view a, std::string_view b) {
      return a.size() == b.size() &&
             std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
             });
    };
    for (const auto& c : conds->get_array()) {
      if (!c.is_object()) continue;
      const auto* type = c.get_object().if_contains("type");
      const auto* st = c.get_object().if_contains("status");
      if (type && type->is_string() && iequal(type->get_string(), w.name))
        return st && st->is_string() && iequal(st->get_string(), w.value);
    }
    return false;
  }
  if (w.kind == WaitFor::Kind::kJsonPath) {
    auto r = eval_jsonpath(w.name, object);
    if (!r.ok()) return false;
    return w.value.empty() ? !r->empty() : *r == w.value;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// rollout status

namespace {

long long int_field(const json::value& v, std::initializer_list<std::string_view> path, long long fallback) {
  const json::value* cur = &v;
  for (auto p : path) {
    if (!cur->is_object()) return fallback;
    cur = cur->get_object().if_contains(p);
    if (!cur) return fallback;
  }
  return cur->is_number() ? cur->to_number<long long>() : fallback;
}

std::string str_field(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto p : path) {
    if (!cur->is_object()) return {};
    cur = cur->get_object().if_contains(p);
    if (!cur) return {};
  }
  return cur->is_string() ? std::string(cur->get_string()) : std::string();
}

RolloutStep waiting(std::string message) { return RolloutStep{std::move(message), false, ""}; }
RolloutStep finished(std::string message) { return RolloutStep{std::move(message), true, ""}; }

// kubectl's daemon set and stateful set viewers follow only the RollingUpdate strategy.
std::optional<RolloutStep> not_rolling(const json::value& o) {
  std::string strategy = str_field(o, {"spec", "updateStrategy", "type"});
  if (strategy.empty() || strategy == "RollingUpdate") return std::nullopt;
  return RolloutStep{"", true, "rollout status is only available for RollingUpdate strategy type"};
}

bool generation_observed(const json::value& o) {
  return int_field(o, {"metadata", "generation"}, 0) <= int_field(o, {"status", "observedGeneration"}, 0);
}

RolloutStep deployment_step(const json::value& o) {
  std::string name = str_field(o, {"metadata", "name"});
  if (!generation_observed(o)) return waiting("Waiting for deployment spec update to be observed...");
  const json::value* conds = nullptr;
  if (const auto* st = o.get_object().if_contains("status"); st && st->is_object())
    conds = st->get_object().if_contains("conditions");
  if (conds && conds->is_array())
    for (const auto& c : conds->get_array())
      if (str_field(c, {"type"}) == "Progressing" && str_field(c, {"reason"}) == "ProgressDeadlineExceeded")
        return RolloutStep{"", true, "deployment \"" + name + "\" exceeded its progress deadline"};
  long long want = int_field(o, {"spec", "replicas"}, 1);
  long long updated = int_field(o, {"status", "updatedReplicas"}, 0);
  long long replicas = int_field(o, {"status", "replicas"}, 0);
  long long available = int_field(o, {"status", "availableReplicas"}, 0);
  std::string prefix = "Waiting for deployment \"" + name + "\" rollout to finish: ";
  if (updated < want)
    return waiting(prefix + std::to_string(updated) + " out of " + std::to_string(want) +
                   " new replicas have been updated...");
  if (replicas > updated)
    return waiting(prefix + std::to_string(replicas - updated) + " old replicas are pending termination...");
  if (available < updated)
    return waiting(prefix + std::to_string(available) + " of " + std::to_string(updated) +
                   " updated replicas are available...");
  return finished("deployment \"" + name + "\" successfully rolled out");
}

RolloutStep daemonset_step(const json::value& o) {
  if (auto r = not_rolling(o)) return *r;
  std::string name = str_field(o, {"metadata", "name"});
  if (!generation_observed(o)) return waiting("Waiting for daemon set spec update to be observed...");
  long long desired = int_field(o, {"status", "desiredNumberScheduled"}, 0);
  long long updated = int_field(o, {"status", "updatedNumberScheduled"}, 0);
  long long available = int_field(o, {"status", "numberAvailable"}, 0);
  std::string prefix = "Waiting for daemon set \"" + name + "\" rollout to finish: ";
  if (updated < desired)
    return waiting(prefix + std::to_string(updated) + " out of " + std::to_string(desired) +
                   " new pods have been updated...");
  if (available < desired)
    return waiting(prefix + std::to_string(available) + " of " + std::to_string(desired) +
                   " updated pods are available...");
  return finished("daemon set \"" + name + "\" successfully rolled out");
}

RolloutStep statefulset_step(const json::value& o) {
  if (auto r = not_rolling(o)) return *r;
  if (int_field(o, {"status", "observedGeneration"}, 0) == 0 || !generation_observed(o))
    return waiting("Waiting for statefulset spec update to be observed...");
  long long want = int_field(o, {"spec", "replicas"}, 1);
  long long ready = int_field(o, {"status", "readyReplicas"}, 0);
  long long updated = int_field(o, {"status", "updatedReplicas"}, 0);
  if (ready < want) return waiting("Waiting for " + std::to_string(want - ready) + " pods to be ready...");
  long long partition = int_field(o, {"spec", "updateStrategy", "rollingUpdate", "partition"}, -1);
  if (partition >= 0) {
    if (updated < want - partition)
      return waiting("Waiting for partitioned roll out to finish: " + std::to_string(updated) + " out of " +
                     std::to_string(want - partition) + " new pods have been updated...");
    return finished("partitioned roll out complete: " + std::to_string(updated) + " new pods have been updated...");
  }
  std::string update_rev = str_field(o, {"status", "updateRevision"});
  std::string current_rev = str_field(o, {"status", "currentRevision"});
  if (update_rev != current_rev)
    return waiting("waiting for statefulset rolling update to complete " + std::to_string(updated) +
                   " pods at revision " + update_rev + "...");
  return finished("statefulset rolling update complete " +
                  std::to_string(int_field(o, {"status", "currentReplicas"}, 0)) + " pods at revision " +
                  current_rev + "...");
}

}  // namespace

RolloutStep rollout_status(std::string_view kind, const json::value& object) {
  if (!object.is_object()) return RolloutStep{"", true, "not an object"};
  if (kind == "Deployment") return deployment_step(object);
  if (kind == "DaemonSet") return daemonset_step(object);
  if (kind == "StatefulSet") return statefulset_step(object);
  return RolloutStep{"", true, "no status viewer has been implemented for " + std::string(kind)};
}

}  // namespace orch::cli
