// Label selectors (apimachinery labels/selector.go, metav1 helpers and validation) and field
// selectors (apimachinery fields/selector.go). Parsing follows Kubernetes' lexer and recursive
// descent, with its messages, plus the byte offset of the offending token.
// Thread-safety: stateless functions and value types.
#include "orch/api/selector.hpp"

#include <algorithm>
#include <charconv>
#include <variant>

#include "orch/api/names.hpp"

namespace orch::api {

namespace {

// ---- Label selector lexer ------------------------------------------------------------------

enum class Token : std::uint8_t {
  kError,
  kEndOfString,
  kClosedPar,
  kComma,
  kDoesNotExist,  // "!"
  kDoubleEquals,
  kEquals,
  kGreaterThan,
  kIdentifier,
  kIn,
  kLessThan,
  kNotEquals,
  kNotIn,
  kOpenPar,
};

struct Scanned {
  Token tok;
  std::string literal;
  std::size_t pos;  // byte offset of the token in the input
};

bool is_whitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_special_symbol(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

std::optional<Token> symbol_token(std::string_view s) {
  if (s == ")") return Token::kClosedPar;
  if (s == ",") return Token::kComma;
  if (s == "!") return Token::kDoesNotExist;
  if (s == "==") return Token::kDoubleEquals;
  if (s == "=") return Token::kEquals;
  if (s == ">") return Token::kGreaterThan;
  if (s == "<") return Token::kLessThan;
  if (s == "!=") return Token::kNotEquals;
  if (s == "(") return Token::kOpenPar;
  return std::nullopt;
}

std::vector<Scanned> lex(std::string_view s) {
  std::vector<Scanned> out;
  std::size_t i = 0;
  while (true) {
    while (i < s.size() && is_whitespace(s[i])) ++i;
    const std::size_t start = i;
    if (i >= s.size()) {
      out.push_back({Token::kEndOfString, "", start});
      return out;
    }
    if (is_special_symbol(s[i])) {
      // Longest special-symbol sequence that is a token ("!=" over "!").
      std::optional<Token> last;
      std::size_t last_end = i;
      std::size_t j = i;
      while (j < s.size() && is_special_symbol(s[j])) {
        ++j;
        if (auto t = symbol_token(s.substr(i, j - i))) {
          last = t;
          last_end = j;
        } else if (last) {
          break;
        }
      }
      if (!last) {
        out.push_back(
            {Token::kError, "error expected: keyword found '" + std::string(s.substr(i, j - i)) + "'",
             start});
        i = j;
      } else {
        out.push_back({*last, std::string(s.substr(i, last_end - i)), start});
        i = last_end;
      }
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && !is_special_symbol(s[j]) && !is_whitespace(s[j])) ++j;
    std::string word(s.substr(i, j - i));
    Token tok = word == "in" ? Token::kIn : word == "notin" ? Token::kNotIn : Token::kIdentifier;
    out.push_back({tok, std::move(word), start});
    i = j;
  }
}

// ---- Label selector parser ------------------------------------------------------------------

enum class Context : std::uint8_t { kKeyAndOperator, kValues };

struct ParseError {
  std::string message;
  std::size_t pos;
};

bool parse_int64(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  std::string_view digits = s;
  if (digits.front() == '+') digits.remove_prefix(1);  // Go's ParseInt accepts a '+' sign
  if (digits.empty()) return false;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  return ec == std::errc() && ptr == digits.data() + digits.size();
}

std::string render_values(const std::vector<std::string>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ",";
    out += quote(values[i]);
  }
  return out + "]";
}

// Kubernetes' NewRequirement checks, as FieldErrors with the paths it uses ("key",
// "values[0][env]", ...). Values are deduplicated and sorted on success.
FieldErrors check_requirement(LabelRequirement& r) {
  FieldErrors errs;
  if (auto msgs = is_qualified_name(r.key); !msgs.empty()) {
    std::string joined;
    for (std::size_t i = 0; i < msgs.size(); ++i) joined += (i ? "; " : "") + msgs[i];
    errs.push_back(invalid("key", quote(r.key), std::move(joined)));
  }
  const auto n = r.values.size();
  switch (r.op) {
    case SelectorOperator::In:
    case SelectorOperator::NotIn:
      if (n == 0)
        errs.push_back(invalid("values", render_values(r.values),
                               "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case SelectorOperator::Equals:
    case SelectorOperator::DoubleEquals:
    case SelectorOperator::NotEquals:
      if (n != 1)
        errs.push_back(invalid("values", render_values(r.values),
                               "exact-match compatibility requires one single value"));
      break;
    case SelectorOperator::Exists:
    case SelectorOperator::DoesNotExist:
      if (n != 0)
        errs.push_back(invalid("values", render_values(r.values),
                               "values set must be empty for exists and does not exist"));
      break;
    case SelectorOperator::GreaterThan:
    case SelectorOperator::LessThan:
      if (n != 1)
        errs.push_back(invalid("values", render_values(r.values),
                               "for 'Gt', 'Lt' operators, exactly one value is required"));
      for (std::size_t i = 0; i < n; ++i) {
        std::int64_t ignored = 0;
        if (!parse_int64(r.values[i], ignored))
          errs.push_back(invalid("values[" + std::to_string(i) + "]", quote(r.values[i]),
                                 "for 'Gt', 'Lt' operators, the value must be an integer"));
      }
      break;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (auto msgs = is_valid_label_value(r.values[i]); !msgs.empty()) {
      std::string joined;
      for (std::size_t k = 0; k < msgs.size(); ++k) joined += (k ? "; " : "") + msgs[k];
      errs.push_back(invalid("values[" + std::to_string(i) + "][" + r.key + "]",
                             quote(r.values[i]), std::move(joined)));
    }
  }
  if (errs.empty()) {
    std::sort(r.values.begin(), r.values.end());
    r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
  }
  return errs;
}

// Kubernetes' aggregate error text: the one message, or "[a, b]".
std::string aggregate(const FieldErrors& errs) {
  if (errs.size() == 1) return errs[0].to_string();
  std::string out = "[";
  for (std::size_t i = 0; i < errs.size(); ++i) {
    if (i) out += ", ";
    out += errs[i].to_string();
  }
  return out + "]";
}

class Parser {
 public:
  explicit Parser(std::string_view text) : items_(lex(text)) {}

  // The requirements in input order, or the first error.
  std::variant<std::vector<LabelRequirement>, ParseError> parse() {
    std::vector<LabelRequirement> out;
    while (true) {
      const Scanned& look = lookahead(Context::kValues);
      switch (token(look, Context::kValues)) {
        case Token::kIdentifier:
        case Token::kDoesNotExist: {
          auto r = parse_requirement();
          if (auto* e = std::get_if<ParseError>(&r)) {
            e->message = "unable to parse requirement: " + e->message;
            return *e;
          }
          out.push_back(std::move(std::get<LabelRequirement>(r)));
          const Scanned& next = consume();
          switch (token(next, Context::kValues)) {
            case Token::kEndOfString: return out;
            case Token::kComma: {
              const Scanned& after = lookahead(Context::kValues);
              Token t = token(after, Context::kValues);
              if (t != Token::kIdentifier && t != Token::kDoesNotExist)
                return ParseError{"found '" + after.literal + "', expected: identifier after ','",
                                  after.pos};
              break;
            }
            default:
              return ParseError{"found '" + next.literal + "', expected: ',' or 'end of string'",
                                next.pos};
          }
          break;
        }
        case Token::kEndOfString: return out;
        default:
          return ParseError{
              "found '" + look.literal + "', expected: !, identifier, or 'end of string'",
              look.pos};
      }
    }
  }

 private:
  // In a values context the keywords "in" and "notin" are plain identifiers ("x in (in)").
  static Token token(const Scanned& s, Context ctx) {
    if (ctx == Context::kValues && (s.tok == Token::kIn || s.tok == Token::kNotIn))
      return Token::kIdentifier;
    return s.tok;
  }
  const Scanned& lookahead(Context) const { return items_[pos_]; }
  const Scanned& consume() {
    const Scanned& s = items_[pos_];
    if (pos_ + 1 < items_.size()) ++pos_;  // the end token stays put
    return s;
  }

  std::variant<LabelRequirement, ParseError> parse_requirement() {
    LabelRequirement r;
    bool does_not_exist = false;
    const Scanned* key = &consume();
    if (key->tok == Token::kDoesNotExist) {
      does_not_exist = true;
      key = &consume();
    }
    if (token(*key, Context::kValues) != Token::kIdentifier)
      return ParseError{"found '" + key->literal + "', expected: identifier", key->pos};
    r.key = key->literal;
    const std::size_t key_pos = key->pos;
    if (auto msgs = is_qualified_name(r.key); !msgs.empty()) {
      LabelRequirement probe{r.key, SelectorOperator::Exists, {}};
      return ParseError{aggregate(check_requirement(probe)), key_pos};
    }
    Token next = token(lookahead(Context::kValues), Context::kValues);
    if (does_not_exist || next == Token::kEndOfString || next == Token::kComma) {
      r.op = does_not_exist ? SelectorOperator::DoesNotExist : SelectorOperator::Exists;
      return finish(std::move(r), key_pos);
    }
    const Scanned& op = consume();
    switch (token(op, Context::kKeyAndOperator)) {
      case Token::kIn: r.op = SelectorOperator::In; break;
      case Token::kEquals: r.op = SelectorOperator::Equals; break;
      case Token::kDoubleEquals: r.op = SelectorOperator::DoubleEquals; break;
      case Token::kGreaterThan: r.op = SelectorOperator::GreaterThan; break;
      case Token::kLessThan: r.op = SelectorOperator::LessThan; break;
      case Token::kNotIn: r.op = SelectorOperator::NotIn; break;
      case Token::kNotEquals: r.op = SelectorOperator::NotEquals; break;
      default:
        return ParseError{"found '" + op.literal + "', expected: in, notin, =, ==, !=, gt, lt",
                          op.pos};
    }
    std::optional<ParseError> err;
    if (r.op == SelectorOperator::In || r.op == SelectorOperator::NotIn) {
      err = parse_values(r.values);
    } else {
      err = parse_exact_value(r.values);
    }
    if (err) return *err;
    return finish(std::move(r), key_pos);
  }

  static std::variant<LabelRequirement, ParseError> finish(LabelRequirement r, std::size_t pos) {
    FieldErrors errs = check_requirement(r);
    if (!errs.empty()) return ParseError{aggregate(errs), pos};
    return r;
  }

  // "(" [value {"," value}] ")": empty entries are the empty value ("(a,,b)", "()").
  std::optional<ParseError> parse_values(std::vector<std::string>& values) {
    const Scanned& open = consume();
    if (token(open, Context::kValues) != Token::kOpenPar)
      return ParseError{"found '" + open.literal + "' expected: '('", open.pos};
    const Scanned& first = lookahead(Context::kValues);
    switch (token(first, Context::kValues)) {
      case Token::kIdentifier:
      case Token::kComma: {
        if (auto err = parse_identifiers_list(values)) return err;
        const Scanned& close = consume();
        if (token(close, Context::kValues) != Token::kClosedPar)
          return ParseError{"found '" + close.literal + "', expected: ')'", close.pos};
        return std::nullopt;
      }
      case Token::kClosedPar:
        consume();
        values.push_back("");
        return std::nullopt;
      default:
        return ParseError{"found '" + first.literal + "', expected: ',', ')' or identifier",
                          first.pos};
    }
  }

  std::optional<ParseError> parse_identifiers_list(std::vector<std::string>& values) {
    while (true) {
      const Scanned& s = consume();
      switch (token(s, Context::kValues)) {
        case Token::kIdentifier: {
          values.push_back(s.literal);
          const Scanned& next = lookahead(Context::kValues);
          switch (token(next, Context::kValues)) {
            case Token::kComma: continue;
            case Token::kClosedPar: return std::nullopt;
            default:
              return ParseError{"found '" + next.literal + "', expected: ',' or ')'", next.pos};
          }
        }
        case Token::kComma: {
          if (values.empty()) values.push_back("");  // "(,"
          Token next = token(lookahead(Context::kValues), Context::kValues);
          if (next == Token::kClosedPar) {
            values.push_back("");  // ",)"
            return std::nullopt;
          }
          if (next == Token::kComma) {
            consume();
            values.push_back("");  // ",,"
          }
          break;
        }
        default:
          return ParseError{"found '" + s.literal + "', expected: ',', or identifier", s.pos};
      }
    }
  }

  std::optional<ParseError> parse_exact_value(std::vector<std::string>& values) {
    Token next = token(lookahead(Context::kValues), Context::kValues);
    if (next == Token::kEndOfString || next == Token::kComma) {
      values.push_back("");  // "a=" selects the empty value
      return std::nullopt;
    }
    const Scanned& v = consume();
    if (token(v, Context::kValues) == Token::kIdentifier) {
      values.push_back(v.literal);
      return std::nullopt;
    }
    return ParseError{"found '" + v.literal + "', expected: identifier", v.pos};
  }

  std::vector<Scanned> items_;
  std::size_t pos_ = 0;
};

void sort_by_key(std::vector<LabelRequirement>& reqs) {
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const LabelRequirement& a, const LabelRequirement& b) { return a.key < b.key; });
}

// ---- Field selectors ------------------------------------------------------------------------

std::string escape_field_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == ',' || c == '=') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

// ---- LabelRequirement / Selector ----------------------------------------------------------------

bool LabelRequirement::matches(const std::map<std::string, std::string>& labels) const {
  auto it = labels.find(key);
  const bool has = it != labels.end();
  auto has_value = [&](const std::string& v) {
    return std::find(values.begin(), values.end(), v) != values.end();
  };
  switch (op) {
    case SelectorOperator::In:
    case SelectorOperator::Equals:
    case SelectorOperator::DoubleEquals:
      return has && has_value(it->second);
    case SelectorOperator::NotIn:
    case SelectorOperator::NotEquals:
      return !has || !has_value(it->second);
    case SelectorOperator::Exists: return has;
    case SelectorOperator::DoesNotExist: return !has;
    case SelectorOperator::GreaterThan:
    case SelectorOperator::LessThan: {
      std::int64_t have = 0, want = 0;
      if (!has || values.size() != 1 || !parse_int64(it->second, have) ||
          !parse_int64(values[0], want))
        return false;
      return op == SelectorOperator::GreaterThan ? have > want : have < want;
    }
  }
  return false;
}

std::string LabelRequirement::to_string() const {
  std::string out;
  if (op == SelectorOperator::DoesNotExist) out += "!";
  out += key;
  switch (op) {
    case SelectorOperator::Equals: out += "="; break;
    case SelectorOperator::DoubleEquals: out += "=="; break;
    case SelectorOperator::NotEquals: out += "!="; break;
    case SelectorOperator::In: out += " in "; break;
    case SelectorOperator::NotIn: out += " notin "; break;
    case SelectorOperator::GreaterThan: out += ">"; break;
    case SelectorOperator::LessThan: out += "<"; break;
    case SelectorOperator::Exists:
    case SelectorOperator::DoesNotExist: return out;
  }
  const bool set_based = op == SelectorOperator::In || op == SelectorOperator::NotIn;
  if (set_based) out += "(";
  std::vector<std::string> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (i) out += ",";
    out += sorted[i];
  }
  if (set_based) out += ")";
  return out;
}

Result<Selector> Selector::parse(std::string_view text) {
  Parser parser(text);
  auto parsed = parser.parse();
  if (auto* e = std::get_if<ParseError>(&parsed))
    return bad_request(e->message + " at position " + std::to_string(e->pos));
  Selector s;
  s.requirements_ = std::move(std::get<std::vector<LabelRequirement>>(parsed));
  sort_by_key(s.requirements_);
  return s;
}

Result<Selector> Selector::from(const LabelSelector& selector) {
  Selector s;
  FieldErrors errs;
  for (const auto& [key, value] : selector.match_labels) {
    LabelRequirement r{key, SelectorOperator::Equals, {value}};
    FieldErrors e = check_requirement(r);
    if (!e.empty()) return invalid_argument(aggregate(e));
    s.requirements_.push_back(std::move(r));
  }
  for (const auto& expr : selector.match_expressions) {
    LabelRequirement r{expr.key, SelectorOperator::Exists, expr.values};
    if (expr.operator_ == "In") {
      r.op = SelectorOperator::In;
    } else if (expr.operator_ == "NotIn") {
      r.op = SelectorOperator::NotIn;
    } else if (expr.operator_ == "Exists") {
      r.op = SelectorOperator::Exists;
    } else if (expr.operator_ == "DoesNotExist") {
      r.op = SelectorOperator::DoesNotExist;
    } else {
      return invalid_argument(quote(expr.operator_) + " is not a valid label selector operator");
    }
    FieldErrors e = check_requirement(r);
    if (!e.empty()) return invalid_argument(aggregate(e));
    s.requirements_.push_back(std::move(r));
  }
  sort_by_key(s.requirements_);
  return s;
}

Selector Selector::from_set(const std::map<std::string, std::string>& labels) {
  Selector s;
  for (const auto& [key, value] : labels)
    s.requirements_.push_back({key, SelectorOperator::Equals, {value}});
  return s;  // std::map iterates in key order: already sorted
}

Selector Selector::nothing() {
  Selector s;
  s.nothing_ = true;
  return s;
}

bool Selector::matches(const std::map<std::string, std::string>& labels) const {
  if (nothing_) return false;
  for (const auto& r : requirements_)
    if (!r.matches(labels)) return false;
  return true;
}

std::string Selector::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < requirements_.size(); ++i) {
    if (i) out += ",";
    out += requirements_[i].to_string();
  }
  return out;
}

FieldErrors validate_label_selector(const LabelSelector& selector, const std::string& path) {
  FieldErrors errs = validate_labels(selector.match_labels, path + ".matchLabels");
  for (std::size_t i = 0; i < selector.match_expressions.size(); ++i) {
    const auto& expr = selector.match_expressions[i];
    const std::string p = path + ".matchExpressions[" + std::to_string(i) + "]";
    if (expr.operator_ == "In" || expr.operator_ == "NotIn") {
      if (expr.values.empty())
        errs.push_back(
            required(p + ".values", "must be specified when `operator` is 'In' or 'NotIn'"));
    } else if (expr.operator_ == "Exists" || expr.operator_ == "DoesNotExist") {
      if (!expr.values.empty())
        errs.push_back(forbidden(
            p + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    } else {
      errs.push_back(invalid(p + ".operator", quote(expr.operator_), "not a valid selector operator"));
    }
    for (std::string& msg : is_qualified_name(expr.key))
      errs.push_back(invalid(p + ".key", quote(expr.key), std::move(msg)));
    for (std::size_t v = 0; v < expr.values.size(); ++v)
      for (std::string& msg : is_valid_label_value(expr.values[v]))
        errs.push_back(invalid(p + ".values[" + std::to_string(v) + "]", quote(expr.values[v]),
                               std::move(msg)));
  }
  return errs;
}

std::string format_label_selector(const LabelSelector& selector) {
  Result<Selector> s = Selector::from(selector);
  if (!s.ok()) return "<error>";
  std::string out = s->to_string();
  return out.empty() ? "<none>" : out;
}

// ---- FieldSelector ----------------------------------------------------------------------------

Result<FieldSelector> FieldSelector::parse(std::string_view text) {
  // Split on commas that are not escaped.
  std::vector<std::string_view> terms;
  if (!text.empty()) {
    std::size_t start = 0;
    bool in_slash = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (in_slash) {
        in_slash = false;
      } else if (text[i] == '\\') {
        in_slash = true;
      } else if (text[i] == ',') {
        terms.push_back(text.substr(start, i - start));
        start = i + 1;
      }
    }
    terms.push_back(text.substr(start));
  }
  std::sort(terms.begin(), terms.end());  // deterministic order, as Kubernetes

  FieldSelector out;
  for (std::string_view term : terms) {
    if (term.empty()) continue;
    auto cant_understand = [&] {
      return bad_request("invalid selector: '" + std::string(text) + "'; can't understand '" +
                         std::string(term) + "'");
    };
    // The first operator from the left; at one position "!=" before "==" before "=".
    std::size_t op_at = std::string_view::npos, op_len = 0;
    bool equals = true;
    for (std::size_t i = 0; i < term.size() && op_at == std::string_view::npos; ++i) {
      std::string_view rest = term.substr(i);
      if (rest.substr(0, 2) == "!=") {
        op_at = i, op_len = 2, equals = false;
      } else if (rest.substr(0, 2) == "==") {
        op_at = i, op_len = 2;
      } else if (rest.front() == '=') {
        op_at = i, op_len = 1;
      }
    }
    if (op_at == std::string_view::npos || op_at == 0) return cant_understand();
    std::string_view raw = term.substr(op_at + op_len);
    std::string value;
    bool in_slash = false;
    for (char c : raw) {
      if (in_slash) {
        if (c != '\\' && c != ',' && c != '=')
          return bad_request("invalid field selector: invalid escape sequence: \\" +
                             std::string(1, c));
        value += c;
        in_slash = false;
      } else if (c == '\\') {
        in_slash = true;
      } else if (c == ',' || c == '=') {
        return bad_request("invalid field selector: unescaped character in value: " +
                           std::string(1, c));
      } else {
        value += c;
      }
    }
    if (in_slash) return bad_request("invalid field selector: invalid escape sequence: \\");
    out.requirements_.push_back({std::string(term.substr(0, op_at)), equals, std::move(value)});
  }
  return out;
}

bool FieldSelector::matches(
    const std::function<std::optional<std::string>(std::string_view field)>& get) const {
  for (const auto& r : requirements_) {
    std::optional<std::string> have = get(r.field);
    if (!have) return false;
    if ((*have == r.value) != r.equals) return false;
  }
  return true;
}

std::string FieldSelector::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < requirements_.size(); ++i) {
    if (i) out += ",";
    out += requirements_[i].field;
    out += requirements_[i].equals ? "=" : "!=";
    out += escape_field_value(requirements_[i].value);
  }
  return out;
}

}  // namespace orch::api
