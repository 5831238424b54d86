// YAML parsing (yaml-cpp, then go-yaml v2 scalar resolution) and a kubectl-compatible emitter
// (the rules of libyaml's emitter as go-yaml v2 drives it). Thread-safety: stateless.
#include "orch/api/yaml.hpp"

#include "orch/api/codec.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_set>

namespace orch::api {

namespace {

// ============================================================================ scalar resolution

enum class ScalarKind { kString, kNull, kBool, kInt, kFloat, kTimestamp };

struct Resolved {
  ScalarKind kind = ScalarKind::kString;
  bool b = false;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  bool is_unsigned = false;
  double f = 0;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Go's strconv.ParseUint(s, base, 64) on digits only (no sign, no prefix).
std::optional<std::uint64_t> parse_digits(std::string_view s, int base) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// Go's strconv.ParseInt/ParseUint with base 0: optional sign (signed only), then 0x/0o/0b or a
// leading 0 (octal) or decimal. Returns false when the text is not an integer or overflows.
bool parse_go_int(std::string_view s, Resolved& out) {
  bool negative = false;
  std::string_view body = s;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body.empty()) return false;
  int base = 10;
  if (body.size() > 1 && body[0] == '0') {
    const char p = body[1];
    if (p == 'x' || p == 'X') {
      base = 16;
      body.remove_prefix(2);
    } else if (p == 'o' || p == 'O') {
      base = 8;
      body.remove_prefix(2);
    } else if (p == 'b' || p == 'B') {
      base = 2;
      body.remove_prefix(2);
    } else {
      base = 8;
      body.remove_prefix(1);
    }
  }
  const auto mag = parse_digits(body, base);
  if (!mag) return false;
  const bool had_sign = s[0] == '+' || s[0] == '-';
  if (negative) {
    if (*mag > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1) {
      return false;
    }
    out.kind = ScalarKind::kInt;
    out.i = *mag == static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1
                ? std::numeric_limits<std::int64_t>::min()
                : -static_cast<std::int64_t>(*mag);
    return true;
  }
  out.kind = ScalarKind::kInt;
  if (*mag > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    if (had_sign) return false;  // ParseUint takes no sign
    out.is_unsigned = true;
    out.u = *mag;
  } else {
    out.i = static_cast<std::int64_t>(*mag);
  }
  return true;
}

// ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
bool is_yaml_float(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    const std::size_t start = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == start) return false;
  } else {
    const std::size_t start = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == start) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && is_digit(s[i])) ++i;
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const std::size_t start = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == start) return false;
  }
  return i == s.size();
}

std::optional<double> parse_double(std::string_view s) {
  std::string text(s);
  if (!text.empty() && text[0] == '+') text.erase(0, 1);
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ptr != text.data() + text.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    // Go returns ±Inf (with an error it then ignores... no: it fails). Treat as not a float.
    return std::nullopt;
  }
  if (ec != std::errc()) return std::nullopt;
  return v;
}

// Go's time.Parse against go-yaml's timestamp layouts: YYYY-M-D, optionally followed by
// [Tt ]H:M:S[.frac] and, after T/t, a zone (Z or ±hh:mm).
bool is_yaml_timestamp(std::string_view s) {
  std::size_t i = 0;
  auto digits = [&](std::size_t min, std::size_t max) {
    const std::size_t start = i;
    while (i < s.size() && is_digit(s[i]) && i - start < max) ++i;
    return i - start >= min;
  };
  if (!digits(4, 4) || i >= s.size() || s[i] != '-') return false;
  ++i;
  if (!digits(1, 2) || i >= s.size() || s[i] != '-') return false;
  ++i;
  if (!digits(1, 2)) return false;
  if (i == s.size()) return true;
  const char sep = s[i];
  if (sep != 'T' && sep != 't' && sep != ' ') return false;
  ++i;
  if (!digits(1, 2) || i >= s.size() || s[i] != ':') return false;
  ++i;
  if (!digits(1, 2) || i >= s.size() || s[i] != ':') return false;
  ++i;
  if (!digits(1, 2)) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits(1, 9)) return false;
  }
  if (sep == ' ') return i == s.size();
  if (i == s.size()) return false;
  if (s[i] == 'Z') return i + 1 == s.size();
  if (s[i] != '+' && s[i] != '-') return false;
  ++i;
  if (!digits(2, 2) || i >= s.size() || s[i] != ':') return false;
  ++i;
  return digits(2, 2) && i == s.size();
}

// go-yaml v2's resolve() for an untagged plain scalar.
Resolved resolve_plain(std::string_view s) {
  Resolved r;
  static const std::pair<std::string_view, int> kWords[] = {
      {"y", 1},     {"Y", 1},     {"yes", 1},   {"Yes", 1},   {"YES", 1},   {"true", 1},
      {"True", 1},  {"TRUE", 1},  {"on", 1},    {"On", 1},    {"ON", 1},    {"n", 0},
      {"N", 0},     {"no", 0},    {"No", 0},    {"NO", 0},    {"false", 0}, {"False", 0},
      {"FALSE", 0}, {"off", 0},   {"Off", 0},   {"OFF", 0},   {"", 2},      {"~", 2},
      {"null", 2},  {"Null", 2},  {"NULL", 2},  {".nan", 3},  {".NaN", 3},  {".NAN", 3},
      {".inf", 4},  {".Inf", 4},  {".INF", 4},  {"+.inf", 4}, {"+.Inf", 4}, {"+.INF", 4},
      {"-.inf", 5}, {"-.Inf", 5}, {"-.INF", 5},
  };
  for (const auto& [word, what] : kWords) {
    if (s != word) continue;
    switch (what) {
      case 0:
      case 1:
        r.kind = ScalarKind::kBool;
        r.b = what == 1;
        return r;
      case 2: r.kind = ScalarKind::kNull; return r;
      case 3:
        r.kind = ScalarKind::kFloat;
        r.f = std::numeric_limits<double>::quiet_NaN();
        return r;
      case 4:
        r.kind = ScalarKind::kFloat;
        r.f = std::numeric_limits<double>::infinity();
        return r;
      default:
        r.kind = ScalarKind::kFloat;
        r.f = -std::numeric_limits<double>::infinity();
        return r;
    }
  }
  const char c = s[0];
  if (c == '.') {
    if (is_yaml_float(s)) {
      if (auto d = parse_double(s)) {
        r.kind = ScalarKind::kFloat;
        r.f = *d;
      }
    }
    return r;
  }
  if (!(c == '+' || c == '-' || is_digit(c))) return r;
  if (is_yaml_timestamp(s)) {
    r.kind = ScalarKind::kTimestamp;
    return r;
  }
  std::string plain;
  plain.reserve(s.size());
  for (char ch : s) {
    if (ch != '_') plain += ch;
  }
  if (parse_go_int(plain, r)) return r;
  r = Resolved{};
  if (is_yaml_float(plain)) {
    if (auto d = parse_double(plain)) {
      r.kind = ScalarKind::kFloat;
      r.f = *d;
      return r;
    }
  }
  return r;
}

// ============================================================================ parsing

constexpr int kMaxDepth = 512;

Status yaml_error(const YAML::Mark& mark, const std::string& msg) {
  if (mark.is_null()) return bad_request("yaml: " + msg);
  return bad_request("yaml: line " + std::to_string(mark.line + 1) + ", column " +
                     std::to_string(mark.column + 1) + ": " + msg);
}

boost::json::value scalar_to_json(const YAML::Node& node) {
  const std::string& tag = node.Tag();
  const std::string& text = node.Scalar();
  if (tag == "!" || tag == "tag:yaml.org,2002:str" || tag == "tag:yaml.org,2002:binary" ||
      tag == "tag:yaml.org,2002:timestamp") {
    return boost::json::string(text);
  }
  const Resolved r = resolve_plain(text);
  switch (r.kind) {
    case ScalarKind::kNull: return nullptr;
    case ScalarKind::kBool: return r.b;
    case ScalarKind::kInt:
      if (tag == "tag:yaml.org,2002:float") return r.is_unsigned ? double(r.u) : double(r.i);
      if (r.is_unsigned) return r.u;
      return r.i;
    case ScalarKind::kFloat: return r.f;
    case ScalarKind::kString:
    case ScalarKind::kTimestamp: return boost::json::string(text);
  }
  return boost::json::string(text);
}

// The JSON text of a mapping key: its scalar text as written (kubectl turns non-string keys
// into strings).
Result<std::string> key_text(const YAML::Node& key) {
  if (key.IsNull()) return std::string("null");
  if (key.IsScalar()) return key.Scalar();
  return yaml_error(key.Mark(), "mapping keys must be scalars");
}

Result<boost::json::value> node_to_json(const YAML::Node& node, int depth);

Status merge_into(boost::json::object& target, const YAML::Node& source, int depth) {
  auto merge_one = [&](const YAML::Node& n) -> Status {
    if (!n.IsMap()) return yaml_error(n.Mark(), "map merge requires map or sequence of maps");
    ORCH_ASSIGN_OR_RETURN(boost::json::value v, node_to_json(n, depth + 1));
    for (auto& kv : v.get_object()) {
      if (target.find(kv.key()) == target.end()) target.emplace(kv.key(), kv.value());
    }
    return {};
  };
  if (source.IsSequence()) {
    for (const auto& item : source) ORCH_TRY(merge_one(item));
    return {};
  }
  return merge_one(source);
}

Result<boost::json::value> node_to_json(const YAML::Node& node, int depth) {
  if (depth > kMaxDepth) return yaml_error(node.Mark(), "exceeded max depth of 512");
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: return boost::json::value(nullptr);
    case YAML::NodeType::Scalar: return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      boost::json::array arr;
      arr.reserve(node.size());
      for (const auto& item : node) {
        ORCH_ASSIGN_OR_RETURN(boost::json::value v, node_to_json(item, depth + 1));
        arr.push_back(std::move(v));
      }
      return boost::json::value(std::move(arr));
    }
    case YAML::NodeType::Map: {
      boost::json::object obj;
      std::vector<std::pair<std::string, YAML::Mark>> seen;
      std::vector<YAML::Node> merges;
      for (const auto& kv : node) {
        if (kv.first.IsScalar() && kv.first.Tag() == "?" && kv.first.Scalar() == "<<") {
          merges.push_back(kv.second);
          continue;
        }
        ORCH_ASSIGN_OR_RETURN(std::string key, key_text(kv.first));
        if (obj.find(key) != obj.end()) {
          int first_line = 0;
          for (const auto& [k, m] : seen) {
            if (k == key) first_line = m.line + 1;
          }
          return yaml_error(kv.first.Mark(), "mapping key \"" + key +
                                                 "\" already defined at line " +
                                                 std::to_string(first_line));
        }
        seen.emplace_back(key, kv.first.Mark());
        ORCH_ASSIGN_OR_RETURN(boost::json::value v, node_to_json(kv.second, depth + 1));
        obj.emplace(key, std::move(v));
      }
      for (const auto& m : merges) ORCH_TRY(merge_into(obj, m, depth));
      return boost::json::value(std::move(obj));
    }
  }
  return boost::json::value(nullptr);
}

// ============================================================================ emitting

constexpr int kBestWidth = 80;
constexpr int kBestIndent = 2;

// UTF-8 helpers over bytes, as libyaml's macros.
std::size_t utf8_width(unsigned char c) {
  if ((c & 0x80) == 0x00) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}

unsigned char at(std::string_view s, std::size_t i) {
  return i < s.size() ? static_cast<unsigned char>(s[i]) : 0;
}

bool is_printable(std::string_view s, std::size_t i) {
  const unsigned char c = at(s, i);
  const unsigned char c1 = at(s, i + 1);
  const unsigned char c2 = at(s, i + 2);
  return c == 0x0A || (c >= 0x20 && c <= 0x7E) || (c == 0xC2 && c1 >= 0xA0) ||
         (c > 0xC2 && c < 0xED) || (c == 0xED && c1 < 0xA0) || c == 0xEE ||
         (c == 0xEF && !(c1 == 0xBB && c2 == 0xBF) && !(c1 == 0xBF && (c2 == 0xBE || c2 == 0xBF)));
}

bool is_space(std::string_view s, std::size_t i) { return at(s, i) == ' '; }

bool is_break(std::string_view s, std::size_t i) {
  const unsigned char c = at(s, i);
  if (i >= s.size()) return false;
  return c == '\r' || c == '\n' || (c == 0xC2 && at(s, i + 1) == 0x85) ||
         (c == 0xE2 && at(s, i + 1) == 0x80 && (at(s, i + 2) == 0xA8 || at(s, i + 2) == 0xA9));
}

bool is_blankz(std::string_view s, std::size_t i) {
  return i >= s.size() || at(s, i) == ' ' || at(s, i) == '\t' || is_break(s, i);
}

struct Analysis {
  bool multiline = false;
  bool block_plain_allowed = true;
  bool single_quoted_allowed = true;
  bool block_allowed = true;
};

// libyaml's yaml_emitter_analyze_scalar (block context only).
Analysis analyze(std::string_view v) {
  Analysis a;
  if (v.empty()) {
    a.block_plain_allowed = true;
    a.block_allowed = false;
    return a;
  }
  bool block_indicators = false;
  bool special = false, line_breaks = false;
  bool leading_space = false, leading_break = false, trailing_space = false,
       trailing_break = false, break_space = false, space_break = false;
  bool previous_space = false, previous_break = false;
  if (v.substr(0, 3) == "---" || v.substr(0, 3) == "...") block_indicators = true;
  bool preceded_by_whitespace = true;
  bool followed_by_whitespace = is_blankz(v, utf8_width(at(v, 0)));
  std::size_t i = 0;
  while (i < v.size()) {
    const char c = v[i];
    if (i == 0) {
      static constexpr std::string_view kFirst = "#,[]{}&*!|>'\"%@`";
      if (kFirst.find(c) != std::string_view::npos) block_indicators = true;
      if ((c == '?' || c == ':') && followed_by_whitespace) block_indicators = true;
      if (c == '-' && followed_by_whitespace) block_indicators = true;
    } else {
      if (c == ':' && followed_by_whitespace) block_indicators = true;
      if (c == '#' && preceded_by_whitespace) block_indicators = true;
    }
    if (!is_printable(v, i)) special = true;
    if (is_break(v, i)) line_breaks = true;
    const std::size_t w = utf8_width(at(v, i));
    if (is_space(v, i)) {
      if (i == 0) leading_space = true;
      if (i + w == v.size()) trailing_space = true;
      if (previous_break) break_space = true;
      previous_space = true;
      previous_break = false;
    } else if (is_break(v, i)) {
      if (i == 0) leading_break = true;
      if (i + w == v.size()) trailing_break = true;
      if (previous_space) space_break = true;
      previous_space = false;
      previous_break = true;
    } else {
      previous_space = false;
      previous_break = false;
    }
    preceded_by_whitespace = is_blankz(v, i);
    i += w;
    if (i < v.size()) followed_by_whitespace = is_blankz(v, i + utf8_width(at(v, i)));
  }
  a.multiline = line_breaks;
  if (leading_space || leading_break || trailing_space || trailing_break) {
    a.block_plain_allowed = false;
  }
  if (trailing_space) a.block_allowed = false;
  if (break_space) {
    a.block_plain_allowed = false;
    a.single_quoted_allowed = false;
  }
  if (space_break || special) {
    a.block_plain_allowed = false;
    a.single_quoted_allowed = false;
    a.block_allowed = false;
  }
  if (line_breaks) a.block_plain_allowed = false;
  if (block_indicators) a.block_plain_allowed = false;
  return a;
}

// go-yaml's isBase60Float: ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
bool is_base60_float(std::string_view s) {
  if (s.empty()) return false;
  const char c = s[0];
  if (!(c == '+' || c == '-' || is_digit(c)) || s.find(':') == std::string_view::npos) {
    return false;
  }
  std::size_t i = 0;
  if (s[i] == '+' || s[i] == '-') ++i;
  if (i >= s.size() || !is_digit(s[i])) return false;
  while (i < s.size() && (is_digit(s[i]) || s[i] == '_')) ++i;
  int groups = 0;
  while (i < s.size() && s[i] == ':') {
    ++i;
    const std::size_t start = i;
    while (i < s.size() && is_digit(s[i]) && i - start < 2) ++i;
    const std::size_t n = i - start;
    if (n == 0) return false;
    if (n == 2 && s[start] > '5') return false;
    ++groups;
  }
  if (groups == 0) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && (is_digit(s[i]) || s[i] == '_')) ++i;
  }
  return i == s.size();
}

enum class Style { kPlain, kSingle, kDouble, kLiteral };

class Emitter {
 public:
  std::string take() { return std::move(out_); }

  void document(const boost::json::value& v) {
    if (is_block_collection(v)) {
      node(v, 0, Context::kRoot);
    } else {
      // A scalar or empty collection document.
      whitespace_ = true;
      inline_value(v, 0, /*simple_key=*/false);
      newline();
    }
    if (column_ != 0) newline();
  }

 private:
  enum class Context { kRoot, kMappingValue, kSequenceItem };

  static bool is_block_collection(const boost::json::value& v) {
    return (v.is_object() && !v.get_object().empty()) || (v.is_array() && !v.get_array().empty());
  }

  void put(char c) {
    out_ += c;
    if (c == '\n') {
      column_ = 0;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++column_;
    }
  }
  void put(std::string_view s) {
    for (char c : s) put(c);
  }
  void newline() { put('\n'); }

  // A block collection `v` (non-empty) whose parent left us at `indent` in `ctx`.
  void node(const boost::json::value& v, int indent, Context ctx) {
    if (v.is_object()) {
      mapping(v.get_object(), indent, ctx);
    } else {
      sequence(v.get_array(), indent, ctx);
    }
  }

  void mapping(const boost::json::object& obj, int indent, Context ctx) {
    std::vector<const boost::json::key_value_pair*> items;
    items.reserve(obj.size());
    for (const auto& kv : obj) items.push_back(&kv);
    std::sort(items.begin(), items.end(), [](const auto* a, const auto* b) {
      return key_less(a->key(), b->key());
    });
    bool first = true;
    for (const auto* kv : items) {
      // The first key of a mapping that is a sequence item stays on the "- " line.
      if (!(first && ctx == Context::kSequenceItem)) {
        newline_if_needed();
        while (column_ < indent) put(' ');
      }
      first = false;
      whitespace_ = true;
      scalar(kv->key(), indent + kBestIndent, /*simple_key=*/true, requested_style(kv->key()));
      put(':');
      whitespace_ = false;
      const boost::json::value& value = kv->value();
      if (value.is_object() && !value.get_object().empty()) {
        newline();
        mapping(value.get_object(), indent + kBestIndent, Context::kMappingValue);
      } else if (value.is_array() && !value.get_array().empty()) {
        newline();
        sequence(value.get_array(), indent, Context::kMappingValue);  // indentless
      } else {
        inline_value(value, indent + kBestIndent, false);
      }
    }
  }

  void sequence(const boost::json::array& arr, int indent, Context ctx) {
    bool first = true;
    for (const auto& item : arr) {
      if (!(first && ctx == Context::kSequenceItem)) {
        newline_if_needed();
        while (column_ < indent) put(' ');
      }
      first = false;
      put('-');
      whitespace_ = false;
      if (is_block_collection(item)) {
        put(' ');
        whitespace_ = true;
        node(item, indent + kBestIndent, Context::kSequenceItem);
      } else {
        inline_value(item, indent + kBestIndent, false);
      }
    }
  }

  void newline_if_needed() {
    if (column_ != 0) newline();
  }

  // A scalar or an empty collection after "key:" or "-" (a space is written first).
  void inline_value(const boost::json::value& v, int indent, bool simple_key) {
    if (!whitespace_) put(' ');
    whitespace_ = true;
    switch (v.kind()) {
      case boost::json::kind::null: put("null"); break;
      case boost::json::kind::bool_: put(v.get_bool() ? "true" : "false"); break;
      case boost::json::kind::int64: put(std::to_string(v.get_int64())); break;
      case boost::json::kind::uint64: put(std::to_string(v.get_uint64())); break;
      case boost::json::kind::double_: put(format_float(v.get_double())); break;
      case boost::json::kind::object: put("{}"); break;
      case boost::json::kind::array: put("[]"); break;
      case boost::json::kind::string: {
        const std::string_view s = v.get_string();
        scalar(s, indent, simple_key, requested_style(s));
        break;
      }
    }
    whitespace_ = false;
  }

  // go-yaml's stringv: quote what would resolve to another type; literal for multi-line.
  static Style requested_style(std::string_view s) {
    const bool resolves_to_string =
        !s.empty() && resolve_plain(s).kind == ScalarKind::kString && !is_base60_float(s);
    if (!resolves_to_string) return Style::kDouble;
    if (s.find('\n') != std::string_view::npos) return Style::kLiteral;
    return Style::kPlain;
  }

  // Writes a string scalar in `style` (adjusted by the analysis, as libyaml's
  // select_scalar_style); `indent` is where continuation lines and block content start.
  void scalar(std::string_view s, int indent, bool simple_key, Style style) {
    if (simple_key && s.empty() && style == Style::kPlain) style = Style::kDouble;
    const Analysis a = analyze(s);
    if (simple_key && a.multiline) style = Style::kDouble;
    if (style == Style::kPlain) {
      if (!a.block_plain_allowed) style = Style::kSingle;
      if (s.empty() && simple_key) style = Style::kSingle;
    }
    if (style == Style::kSingle && !a.single_quoted_allowed) style = Style::kDouble;
    if (style == Style::kLiteral && (!a.block_allowed || simple_key)) style = Style::kDouble;
    const bool allow_breaks = !simple_key;
    switch (style) {
      case Style::kPlain: write_plain(s, indent, allow_breaks); break;
      case Style::kSingle: write_single(s, indent, allow_breaks); break;
      case Style::kDouble: write_double(s, indent, allow_breaks); break;
      case Style::kLiteral: write_literal(s, indent); break;
    }
  }

  void write_indent(int indent) {
    newline();
    while (column_ < indent) put(' ');
  }

  void write_plain(std::string_view s, int indent, bool allow_breaks) {
    bool spaces = false;
    for (std::size_t i = 0; i < s.size();) {
      const std::size_t w = utf8_width(at(s, i));
      if (is_space(s, i)) {
        if (allow_breaks && !spaces && column_ > kBestWidth && !is_space(s, i + 1)) {
          write_indent(indent);
        } else {
          put(s.substr(i, w));
        }
        spaces = true;
      } else {
        put(s.substr(i, w));
        spaces = false;
      }
      i += w;
    }
  }

  void write_single(std::string_view s, int indent, bool allow_breaks) {
    put('\'');
    bool spaces = false;
    for (std::size_t i = 0; i < s.size();) {
      const std::size_t w = utf8_width(at(s, i));
      if (is_space(s, i)) {
        if (allow_breaks && !spaces && column_ > kBestWidth && i != 0 && i + w < s.size() &&
            !is_space(s, i + 1)) {
          write_indent(indent);
        } else {
          put(s.substr(i, w));
        }
        spaces = true;
      } else {
        if (s[i] == '\'') put('\'');
        put(s.substr(i, w));
        spaces = false;
      }
      i += w;
    }
    put('\'');
  }

  static std::uint32_t decode_utf8(std::string_view s, std::size_t i, std::size_t w) {
    const unsigned char c = at(s, i);
    std::uint32_t v = w == 1 ? c : w == 2 ? (c & 0x1F) : w == 3 ? (c & 0x0F) : (c & 0x07);
    for (std::size_t k = 1; k < w; ++k) v = (v << 6) | (at(s, i + k) & 0x3F);
    return v;
  }

  void write_double(std::string_view s, int indent, bool allow_breaks) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    put('"');
    bool spaces = false;
    for (std::size_t i = 0; i < s.size();) {
      const std::size_t w = utf8_width(at(s, i));
      const bool bom = at(s, i) == 0xEF && at(s, i + 1) == 0xBB && at(s, i + 2) == 0xBF;
      if (!is_printable(s, i) || bom || is_break(s, i) || s[i] == '"' || s[i] == '\\') {
        const std::uint32_t v = decode_utf8(s, i, w);
        put('\\');
        switch (v) {
          case 0x00: put('0'); break;
          case 0x07: put('a'); break;
          case 0x08: put('b'); break;
          case 0x09: put('t'); break;
          case 0x0A: put('n'); break;
          case 0x0B: put('v'); break;
          case 0x0C: put('f'); break;
          case 0x0D: put('r'); break;
          case 0x1B: put('e'); break;
          case 0x22: put('"'); break;
          case 0x5C: put('\\'); break;
          case 0x85: put('N'); break;
          case 0xA0: put('_'); break;
          case 0x2028: put('L'); break;
          case 0x2029: put('P'); break;
          default: {
            int digits = 2;
            if (v <= 0xFF) {
              put('x');
            } else if (v <= 0xFFFF) {
              put('u');
              digits = 4;
            } else {
              put('U');
              digits = 8;
            }
            for (int k = (digits - 1) * 4; k >= 0; k -= 4) put(kHex[(v >> k) & 0xF]);
          }
        }
        spaces = false;
      } else if (is_space(s, i)) {
        if (allow_breaks && !spaces && column_ > kBestWidth && i != 0 && i + w < s.size()) {
          write_indent(indent);
          if (is_space(s, i + 1)) put('\\');
        } else {
          put(s.substr(i, w));
        }
        spaces = true;
      } else {
        put(s.substr(i, w));
        spaces = false;
      }
      i += w;
    }
    put('"');
  }

  void write_literal(std::string_view s, int indent) {
    put('|');
    if (is_space(s, 0) || is_break(s, 0)) put(static_cast<char>('0' + kBestIndent));
    // Chomping: "-" without a final break, "+" with more than one, none with exactly one.
    if (s.empty() || !is_break(s, s.size() - 1)) {
      put('-');
    } else if (s.size() == 1 || is_break(s, s.size() - 2)) {
      put('+');
    }
    newline();
    bool breaks = true;
    for (std::size_t i = 0; i < s.size();) {
      const std::size_t w = utf8_width(at(s, i));
      if (is_break(s, i)) {
        newline();
        breaks = true;
      } else {
        if (breaks) {
          while (column_ < indent) put(' ');
        }
        put(s.substr(i, w));
        breaks = false;
      }
      i += w;
    }
  }

  // Go's strconv.FormatFloat(f, 'g', -1, 64), with YAML's spellings of the specials.
  static std::string format_float(double f) {
    if (std::isnan(f)) return ".nan";
    if (std::isinf(f)) return f > 0 ? ".inf" : "-.inf";
    char buf[64];
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
    if (ec != std::errc()) return "0";
    std::string sci(buf, ptr);  // "-1.2345e+06"
    const std::size_t e = sci.find('e');
    const int exp = std::stoi(sci.substr(e + 1));
    if (exp < -4 || exp >= 6) return sci;  // shortest 'g' decides with precision 6
    auto [p2, ec2] = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::fixed);
    if (ec2 != std::errc()) return sci;
    return std::string(buf, p2);
  }

  // go-yaml's keyList.Less for string keys.
  static bool key_less(std::string_view a, std::string_view b) {
    std::vector<std::uint32_t> ar = runes(a), br = runes(b);
    auto is_letter = [](std::uint32_t r) {
      return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || r >= 0xAA;
    };
    auto digit = [](std::uint32_t r) { return r >= '0' && r <= '9'; };
    for (std::size_t i = 0; i < ar.size() && i < br.size(); ++i) {
      if (ar[i] == br[i]) continue;
      const bool al = is_letter(ar[i]), bl = is_letter(br[i]);
      if (al && bl) return ar[i] < br[i];
      if (al || bl) return bl;
      std::int64_t an = 0, bn = 0;
      if (ar[i] == '0' || br[i] == '0') {
        for (std::size_t j = i; j-- > 0 && digit(ar[j]);) {
          if (ar[j] != '0') {
            an = 1;
            bn = 1;
            break;
          }
        }
      }
      std::size_t ai = i, bi = i;
      for (; ai < ar.size() && digit(ar[ai]); ++ai) an = an * 10 + (ar[ai] - '0');
      for (; bi < br.size() && digit(br[bi]); ++bi) bn = bn * 10 + (br[bi] - '0');
      if (an != bn) return an < bn;
      if (ai != bi) return ai < bi;
      return ar[i] < br[i];
    }
    return ar.size() < br.size();
  }

  static std::vector<std::uint32_t> runes(std::string_view s) {
    std::vector<std::uint32_t> out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
      const std::size_t w = std::min(utf8_width(at(s, i)), s.size() - i);
      out.push_back(decode_utf8(s, i, w));
      i += w;
    }
    return out;
  }

  std::string out_;
  int column_ = 0;
  bool whitespace_ = true;
};

}  // namespace

Result<std::vector<boost::json::value>> parse_yaml(std::string_view text) {
  // JSON is YAML, but JSON allows tabs where YAML does not, and a JSON parser is faster: take a
  // document that parses as JSON as such (kubectl sniffs JSON the same way).
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (text[first] == '{' || text[first] == '[')) {
    auto as_json = parse_json(text);
    if (as_json.ok()) {
      std::vector<boost::json::value> docs;
      if (!as_json->is_null()) docs.push_back(std::move(as_json).value());
      return docs;
    }
  }
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return yaml_error(e.mark, e.msg);
  } catch (const std::exception& e) {
    return bad_request(std::string("yaml: ") + e.what());
  }
  std::vector<boost::json::value> docs;
  docs.reserve(nodes.size());
  try {
    for (const auto& node : nodes) {
      if (node.IsNull() || !node.IsDefined()) continue;
      ORCH_ASSIGN_OR_RETURN(boost::json::value v, node_to_json(node, 0));
      if (v.is_null()) continue;
      docs.push_back(std::move(v));
    }
  } catch (const YAML::Exception& e) {
    return yaml_error(e.mark, e.msg);
  } catch (const std::exception& e) {
    return bad_request(std::string("yaml: ") + e.what());
  }
  return docs;
}

std::string to_yaml(const boost::json::value& document) {
  Emitter emitter;
  emitter.document(document);
  return emitter.take();
}

std::string to_yaml(const std::vector<boost::json::value>& documents) {
  std::string out;
  for (std::size_t i = 0; i < documents.size(); ++i) {
    if (i) out += "---\n";
    out += to_yaml(documents[i]);
  }
  return out;
}

}  // namespace orch::api
