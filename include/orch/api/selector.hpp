// Label and field selectors: metav1.LabelSelector (the JSON shape in Deployment.spec.selector,
// Service-like objects and list options), labels.Selector (the parsed, matchable form and its
// string syntax "app=kuard,env in (a,b),!canary"), and fields.Selector ("metadata.name=x").
//
// Parsing and conversion report failures as a Status (BadRequest for a malformed selector string,
// InvalidArgument for a LabelSelector object that breaks a rule); nothing throws.
//
// Thread-safety: values; a const Selector / FieldSelector may be shared and matched from any
// thread.
#pragma once

#include <boost/describe/class.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orch/api/field_error.hpp"
#include "orch/status.hpp"

namespace orch::api {

// metav1.LabelSelectorRequirement. `operator_` is "In", "NotIn", "Exists" or "DoesNotExist"
// (JSON "operator"); `values` must be non-empty for In/NotIn and empty for Exists/DoesNotExist.
struct LabelSelectorRequirement {
  std::string key;
  std::string operator_;
  std::vector<std::string> values;
  bool operator==(const LabelSelectorRequirement&) const = default;
};
BOOST_DESCRIBE_STRUCT(LabelSelectorRequirement, (), (key, operator_, values))

// metav1.LabelSelector: all of match_labels (key=value) AND all of match_expressions. An empty
// selector matches everything.
struct LabelSelector {
  std::map<std::string, std::string> match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;
  bool operator==(const LabelSelector&) const = default;
};
BOOST_DESCRIBE_STRUCT(LabelSelector, (), (match_labels, match_expressions))

// Operators of a label requirement (selection.Operator), named as the JSON / Go spells them.
enum class SelectorOperator : std::uint8_t {
  Equals,        // "a=b"
  DoubleEquals,  // "a==b"
  NotEquals,     // "a!=b"
  In,            // "a in (b,c)"
  NotIn,         // "a notin (b,c)"
  Exists,        // "a"
  DoesNotExist,  // "!a"
  GreaterThan,   // "a>3" (integer compare; a label that is not an integer never matches)
  LessThan,      // "a<3"
};

// One parsed requirement of a label selector (labels.Requirement).
struct LabelRequirement {
  std::string key;
  SelectorOperator op = SelectorOperator::Exists;
  std::vector<std::string> values;  // sorted, no duplicates

  // Whether `labels` satisfy this requirement. NotEquals/NotIn also match when the key is absent.
  bool matches(const std::map<std::string, std::string>& labels) const;
  // "app=kuard", "env in (a,b)", "!canary", "n>3".
  std::string to_string() const;
  bool operator==(const LabelRequirement&) const = default;
};

// A parsed label selector (labels.Selector): the AND of its requirements, sorted by key.
class Selector {
 public:
  // Matches everything (same as everything()).
  Selector() = default;

  // Parses the string form: comma-joined requirements of `key=value`, `key==value`,
  // `key!=value`, `key in (v1,v2)`, `key notin (v1,v2)`, `key`, `!key`, `key>int`, `key<int`.
  // Whitespace around tokens is ignored; "" gives everything(). Keys must be qualified names and
  // values label values. BadRequest on any syntax or validation error, with Kubernetes' message
  // and the byte offset of the offending token, e.g.
  //   unable to parse requirement: found ',', expected: identifier at position 9
  static Result<Selector> parse(std::string_view text);

  // The selector a metav1.LabelSelector means: match_labels as `=` requirements plus the
  // expressions. An empty LabelSelector gives everything(). InvalidArgument when an operator is
  // unknown ("\"Foo\" is not a valid label selector operator"), In/NotIn have no values,
  // Exists/DoesNotExist have values, or a key or value is malformed.
  static Result<Selector> from(const LabelSelector& selector);

  // The selector with exactly `labels` as `key=value` requirements (labels.SelectorFromSet).
  // Keys and values are not validated: use it for labels already validated on an object.
  static Selector from_set(const std::map<std::string, std::string>& labels);

  // Matches every label set.
  static Selector everything() { return Selector(); }
  // Matches no label set (Kubernetes' labels.Nothing(), what a missing LabelSelector means).
  static Selector nothing();

  // True when the selector matches everything (no requirements and not nothing()).
  bool empty() const { return requirements_.empty() && !nothing_; }
  bool matches(const std::map<std::string, std::string>& labels) const;
  // Canonical string: requirements sorted by key and comma-joined, values sorted;
  // "" for everything() and nothing(). parse(to_string()) gives an equal Selector.
  std::string to_string() const;
  const std::vector<LabelRequirement>& requirements() const { return requirements_; }
  bool operator==(const Selector&) const = default;

 private:
  std::vector<LabelRequirement> requirements_;
  bool nothing_ = false;
};

// Validation of a LabelSelector inside an object at `path` (e.g. "spec.selector"), as Kubernetes'
// ValidateLabelSelector: match labels as validate_labels at path.matchLabels; for each expression
// path.matchExpressions[i]: values Required for In/NotIn, Forbidden for Exists/DoesNotExist,
// operator Invalid when unknown, key Invalid unless a qualified name, each value Invalid unless a
// label value. Empty when valid.
FieldErrors validate_label_selector(const LabelSelector& selector, const std::string& path);

// kubectl's SELECTOR column: the canonical string ("app=kuard,env in (a,b)"), "<none>" when the
// selector is empty, "<error>" when it cannot be converted.
std::string format_label_selector(const LabelSelector& selector);

// One term of a field selector: `field=value` (equals) or `field!=value`.
struct FieldRequirement {
  std::string field;  // "metadata.name", "spec.nodeName"
  bool equals = true;
  std::string value;  // unescaped
  bool operator==(const FieldRequirement&) const = default;
};

// A parsed field selector (fields.Selector): the AND of its terms.
class FieldSelector {
 public:
  // Matches everything.
  FieldSelector() = default;

  // Parses comma-joined terms `field=value`, `field==value`, `field!=value`; a value may be
  // empty ("spec.nodeName="), and may contain '\,', '\=' and '\\' escapes. "" gives a selector
  // that matches everything. BadRequest when a term has no operator or no field name
  // ("invalid selector: 'x'; can't understand 'x'"), or a value has a bad escape or an unescaped
  // ',' / '='.
  static Result<FieldSelector> parse(std::string_view text);

  // Whether every term holds. `get` returns a field's value, or nullopt when the field is unknown
  // for the object; a term on an unknown field never matches (neither = nor !=).
  bool matches(const std::function<std::optional<std::string>(std::string_view field)>& get) const;

  // The terms, sorted as parsed; a server checks each field is one it supports.
  std::vector<FieldRequirement> requirements() const { return requirements_; }
  // True when there are no terms (matches everything).
  bool empty() const { return requirements_.empty(); }
  // Canonical form: "field=value" / "field!=value" joined by ',', values escaped; "" when empty.
  std::string to_string() const;
  bool operator==(const FieldSelector&) const = default;

 private:
  std::vector<FieldRequirement> requirements_;
};

}  // namespace orch::api
