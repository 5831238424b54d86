// Label selectors (string syntax, LabelSelector objects, matching, validation) and field
// selectors.
#include "orch/api/selector.hpp"

#include <doctest.h>

#include <map>
#include <string>
#include <vector>

namespace orch::api {
namespace {

using Labels = std::map<std::string, std::string>;

TEST_CASE("Selector::parse accepts every operator and prints the canonical form") {
  struct Case {
    std::string input;
    std::string canonical;  // to_string(): sorted by key, values sorted
    std::vector<SelectorOperator> ops;  // in key order
  };
  const std::vector<Case> cases = {
      {"", "", {}},
      {"app=kuard", "app=kuard", {SelectorOperator::Equals}},
      {"x==y", "x==y", {SelectorOperator::DoubleEquals}},
      {"tier!=db", "tier!=db", {SelectorOperator::NotEquals}},
      {"env in (b,a)", "env in (a,b)", {SelectorOperator::In}},
      {"env notin (c)", "env notin (c)", {SelectorOperator::NotIn}},
      {"canary", "canary", {SelectorOperator::Exists}},
      {"!canary", "!canary", {SelectorOperator::DoesNotExist}},
      {"n>3", "n>3", {SelectorOperator::GreaterThan}},
      {"n<5", "n<5", {SelectorOperator::LessThan}},
      {"app=", "app=", {SelectorOperator::Equals}},
      {"  app = kuard ,  tier != db ", "app=kuard,tier!=db",
       {SelectorOperator::Equals, SelectorOperator::NotEquals}},
      {"tier!=db,app=kuard,env in (a,b),!canary",
       "app=kuard,!canary,env in (a,b),tier!=db",
       {SelectorOperator::Equals, SelectorOperator::DoesNotExist, SelectorOperator::In,
        SelectorOperator::NotEquals}},
      {"x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()",
       {SelectorOperator::In, SelectorOperator::Exists, SelectorOperator::NotIn}},
      {"env in (in,notin)", "env in (in,notin)", {SelectorOperator::In}},
      {"example.com/tier=Front_End.1", "example.com/tier=Front_End.1", {SelectorOperator::Equals}},
  };
  for (const auto& c : cases) {
    SUBCASE(c.input.c_str()) {
      Result<Selector> s = Selector::parse(c.input);
      REQUIRE_MESSAGE(s.ok(), s.status().to_string());
      CHECK(s->to_string() == c.canonical);
      std::vector<SelectorOperator> ops;
      for (const auto& r : s->requirements()) ops.push_back(r.op);
      CHECK(ops == c.ops);
      CHECK(s->empty() == c.ops.empty());
      // The canonical form parses back to the same selector.
      Result<Selector> again = Selector::parse(s->to_string());
      REQUIRE(again.ok());
      CHECK(*again == *s);
    }
  }
}

TEST_CASE("Selector::parse rejects bad syntax with the reason and position") {
  const std::string kNamePart =
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
      "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
      "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
  struct Case {
    std::string input;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"app=kuard,", "found '', expected: identifier after ',' at position 10"},
      {",app", "found ',', expected: !, identifier, or 'end of string' at position 0"},
      {"tier!=db,!,x", "unable to parse requirement: found ',', expected: identifier at position 10"},
      {"app kuard", "unable to parse requirement: found 'kuard', expected: in, notin, =, ==, !=, gt, lt at position 4"},
      {"app=kuard tier", "found 'tier', expected: ',' or 'end of string' at position 10"},
      {"env in a", "unable to parse requirement: found 'a' expected: '(' at position 7"},
      {"env in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')' at position 10"},
      {"env in (a", "unable to parse requirement: found '', expected: ',' or ')' at position 9"},
      {"env in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier at position 8"},
      {"app==(", "unable to parse requirement: found '(', expected: identifier at position 5"},
      {"!app=x", "found '=', expected: ',' or 'end of string' at position 4"},
      {"n>x", "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, "
              "the value must be an integer at position 0"},
      {"-app=x", "unable to parse requirement: key: Invalid value: \"-app\": " + kNamePart +
                     " at position 0"},
      {"app=a/b",
       "unable to parse requirement: values[0][app]: Invalid value: \"a/b\": a valid label must "
       "be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
       "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex "
       "used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?') at position 0"},
      {"a=<>", "unable to parse requirement: found '<', expected: identifier at position 2"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.input.c_str()) {
      Result<Selector> s = Selector::parse(c.input);
      REQUIRE_FALSE(s.ok());
      CHECK(s.status().code() == Code::kBadRequest);
      CHECK(s.status().message() == c.message);
    }
  }
}

TEST_CASE("Selector::matches follows Kubernetes semantics") {
  struct Case {
    std::string selector;
    Labels labels;
    bool want;
  };
  const std::vector<Case> cases = {
      {"", {}, true},
      {"", {{"a", "b"}}, true},
      {"app=kuard", {{"app", "kuard"}}, true},
      {"app=kuard", {{"app", "other"}}, false},
      {"app=kuard", {}, false},
      {"app==kuard", {{"app", "kuard"}, {"x", "y"}}, true},
      {"app!=kuard", {{"app", "kuard"}}, false},
      {"app!=kuard", {{"app", "other"}}, true},
      {"app!=kuard", {}, true},  // absent key satisfies !=
      {"env in (a,b)", {{"env", "b"}}, true},
      {"env in (a,b)", {{"env", "c"}}, false},
      {"env in (a,b)", {}, false},
      {"env notin (a,b)", {{"env", "c"}}, true},
      {"env notin (a,b)", {{"env", "a"}}, false},
      {"env notin (a,b)", {}, true},
      {"canary", {{"canary", ""}}, true},
      {"canary", {}, false},
      {"!canary", {}, true},
      {"!canary", {{"canary", "true"}}, false},
      {"app=", {{"app", ""}}, true},
      {"app=", {}, false},
      {"n>3", {{"n", "4"}}, true},
      {"n>3", {{"n", "3"}}, false},
      {"n>3", {{"n", "x"}}, false},
      {"n>3", {}, false},
      {"n<5", {{"n", "-7"}}, true},
      {"n<5", {{"n", "5"}}, false},
      {"app=kuard,tier!=db", {{"app", "kuard"}, {"tier", "web"}}, true},
      {"app=kuard,tier!=db", {{"app", "kuard"}, {"tier", "db"}}, false},
  };
  for (const auto& c : cases) {
    std::string title = c.selector + " vs " + std::to_string(c.labels.size()) + " labels";
    for (const auto& [k, v] : c.labels) title += " " + k + "=" + v;
    SUBCASE(title.c_str()) {
      Result<Selector> s = Selector::parse(c.selector);
      REQUIRE(s.ok());
      CHECK(s->matches(c.labels) == c.want);
    }
  }
}

TEST_CASE("everything, nothing and from_set") {
  CHECK(Selector::everything().empty());
  CHECK(Selector::everything().matches({}));
  CHECK_FALSE(Selector::nothing().empty());
  CHECK_FALSE(Selector::nothing().matches({}));
  CHECK_FALSE(Selector::nothing().matches({{"a", "b"}}));
  CHECK(Selector::nothing().to_string().empty());

  Selector s = Selector::from_set({{"tier", "web"}, {"app", "kuard"}});
  CHECK(s.to_string() == "app=kuard,tier=web");
  CHECK(s.matches({{"app", "kuard"}, {"tier", "web"}, {"extra", "x"}}));
  CHECK_FALSE(s.matches({{"app", "kuard"}}));
  CHECK(Selector::from_set({}).empty());
}

TEST_CASE("Selector::from converts a LabelSelector or says why not") {
  struct Case {
    std::string name;
    LabelSelector in;
    std::string want;  // to_string() on success
    std::string error;  // message on failure
  };
  const std::vector<Case> cases = {
      {"empty matches everything", {}, "", ""},
      {"match labels", {{{"tier", "web"}, {"app", "kuard"}}, {}}, "app=kuard,tier=web", ""},
      {"expressions",
       {{{"app", "kuard"}},
        {{"env", "NotIn", {"prod", "dev"}}, {"canary", "DoesNotExist", {}}, {"zone", "Exists", {}},
         {"env", "In", {"a"}}}},
       "app=kuard,!canary,env notin (dev,prod),env in (a),zone",
       ""},
      {"unknown operator", {{}, {{"env", "Equals", {"a"}}}}, "",
       "\"Equals\" is not a valid label selector operator"},
      {"in without values", {{}, {{"env", "In", {}}}}, "",
       "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"},
      {"exists with values", {{}, {{"env", "Exists", {"a"}}}}, "",
       "values: Invalid value: [\"a\"]: values set must be empty for exists and does not exist"},
      {"bad match label value", {{{"app", "-x-"}}, {}}, "", "values[0][app]: Invalid value: \"-x-\""},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name.c_str()) {
      Result<Selector> s = Selector::from(c.in);
      if (c.error.empty()) {
        REQUIRE_MESSAGE(s.ok(), s.status().to_string());
        CHECK(s->to_string() == c.want);
        CHECK(s->empty() == c.want.empty());
      } else {
        REQUIRE_FALSE(s.ok());
        CHECK(s.status().code() == Code::kInvalidArgument);
        CHECK(s.status().message().substr(0, c.error.size()) == c.error);
      }
    }
  }
}

TEST_CASE("a LabelSelector and its parsed string select the same label sets") {
  LabelSelector ls{{{"app", "kuard"}}, {{"env", "In", {"a", "b"}}, {"canary", "DoesNotExist", {}}}};
  Result<Selector> from = Selector::from(ls);
  REQUIRE(from.ok());
  Result<Selector> parsed = Selector::parse(from->to_string());
  REQUIRE(parsed.ok());
  const std::vector<Labels> sets = {
      {{"app", "kuard"}, {"env", "a"}},
      {{"app", "kuard"}, {"env", "c"}},
      {{"app", "kuard"}, {"env", "b"}, {"canary", "1"}},
      {{"env", "a"}},
  };
  const std::vector<bool> want = {true, false, false, false};
  for (std::size_t i = 0; i < sets.size(); ++i) {
    CAPTURE(i);
    CHECK(from->matches(sets[i]) == want[i]);
    CHECK(parsed->matches(sets[i]) == want[i]);
  }
}

TEST_CASE("format_label_selector prints kubectl's SELECTOR column") {
  struct Case {
    std::string name;
    LabelSelector in;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"none", {}, "<none>"},
      {"labels", {{{"app", "kuard"}}, {}}, "app=kuard"},
      {"expr", {{}, {{"env", "In", {"b", "a"}}}}, "env in (a,b)"},
      {"error", {{}, {{"env", "Bogus", {}}}}, "<error>"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name.c_str()) { CHECK(format_label_selector(c.in) == c.want); }
  }
}

TEST_CASE("validate_label_selector reports each broken rule at its path") {
  struct Case {
    std::string name;
    LabelSelector in;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"valid", {{{"app", "kuard"}}, {{"env", "In", {"a"}}, {"x", "Exists", {}}}}, {}},
      {"in without values",
       {{}, {{"env", "In", {}}}},
       {"spec.selector.matchExpressions[0].values: Required value: must be specified when "
        "`operator` is 'In' or 'NotIn'"}},
      {"exists with values",
       {{}, {{"env", "DoesNotExist", {"a"}}}},
       {"spec.selector.matchExpressions[0].values: Forbidden: may not be specified when "
        "`operator` is 'Exists' or 'DoesNotExist'"}},
      {"bad operator",
       {{}, {{"env", "in", {"a"}}}},
       {"spec.selector.matchExpressions[0].operator: Invalid value: \"in\": not a valid selector "
        "operator"}},
      {"bad match label",
       {{{"app", "a b"}}, {}},
       {"spec.selector.matchLabels[app]: Invalid value: \"a b\": a valid label must be an empty "
        "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end "
        "with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
        "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"}},
      {"bad key and value",
       {{}, {{"", "In", {"ok", "-no"}}}},
       {"spec.selector.matchExpressions[0].key: Invalid value: \"\": name part must be non-empty",
        "spec.selector.matchExpressions[0].key: Invalid value: \"\": name part must consist of "
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
        "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        "spec.selector.matchExpressions[0].values[1]: Invalid value: \"-no\": a valid label must "
        "be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
        "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
        "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"}},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name.c_str()) {
      std::vector<std::string> got;
      for (const auto& e : validate_label_selector(c.in, "spec.selector")) got.push_back(e.to_string());
      CHECK(got == c.want);
    }
  }
}

// ---- Field selectors -------------------------------------------------------------------------

TEST_CASE("FieldSelector::parse splits terms and normalizes them") {
  struct Case {
    std::string input;
    std::vector<FieldRequirement> want;  // sorted by raw term
    std::string canonical;
  };
  const std::vector<Case> cases = {
      {"", {}, ""},
      {"metadata.name=x", {{"metadata.name", true, "x"}}, "metadata.name=x"},
      {"metadata.name==x", {{"metadata.name", true, "x"}}, "metadata.name=x"},
      {"status.phase!=Running", {{"status.phase", false, "Running"}}, "status.phase!=Running"},
      {"spec.nodeName=", {{"spec.nodeName", true, ""}}, "spec.nodeName="},
      {"status.phase!=Running,metadata.name=x",
       {{"metadata.name", true, "x"}, {"status.phase", false, "Running"}},
       "metadata.name=x,status.phase!=Running"},
      {"a=x\\,y\\=z\\\\", {{"a", true, "x,y=z\\"}}, "a=x\\,y\\=z\\\\"},
      {"a=1,,b=2", {{"a", true, "1"}, {"b", true, "2"}}, "a=1,b=2"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.input.c_str()) {
      Result<FieldSelector> s = FieldSelector::parse(c.input);
      REQUIRE_MESSAGE(s.ok(), s.status().to_string());
      CHECK(s->requirements() == c.want);
      CHECK(s->to_string() == c.canonical);
      CHECK(s->empty() == c.want.empty());
      Result<FieldSelector> again = FieldSelector::parse(s->to_string());
      REQUIRE(again.ok());
      CHECK(*again == *s);
    }
  }
}

TEST_CASE("FieldSelector::parse rejects malformed terms") {
  struct Case {
    std::string input;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"},
      {"a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"},
      {"=x", "invalid selector: '=x'; can't understand '=x'"},
      {"a=b=c", "invalid field selector: unescaped character in value: ="},
      {"a=b\\x", "invalid field selector: invalid escape sequence: \\x"},
      {"a=b\\", "invalid field selector: invalid escape sequence: \\"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.input.c_str()) {
      Result<FieldSelector> s = FieldSelector::parse(c.input);
      REQUIRE_FALSE(s.ok());
      CHECK(s.status().code() == Code::kBadRequest);
      CHECK(s.status().message() == c.message);
    }
  }
}

TEST_CASE("FieldSelector::matches uses the getter; unknown fields never match") {
  const std::map<std::string, std::string, std::less<>> pod = {
      {"metadata.name", "web-1"}, {"spec.nodeName", ""}, {"status.phase", "Running"}};
  auto get = [&](std::string_view field) -> std::optional<std::string> {
    auto it = pod.find(field);
    if (it == pod.end()) return std::nullopt;
    return it->second;
  };
  struct Case {
    std::string selector;
    bool want;
  };
  const std::vector<Case> cases = {
      {"", true},
      {"metadata.name=web-1", true},
      {"metadata.name=web-2", false},
      {"metadata.name!=web-2", true},
      {"spec.nodeName=", true},
      {"spec.nodeName!=", false},
      {"status.phase!=Running", false},
      {"metadata.name=web-1,status.phase=Running", true},
      {"metadata.name=web-1,status.phase=Pending", false},
      {"spec.unknown=x", false},
      {"spec.unknown!=x", false},
  };
  for (const auto& c : cases) {
    SUBCASE(c.selector.c_str()) {
      Result<FieldSelector> s = FieldSelector::parse(c.selector);
      REQUIRE(s.ok());
      CHECK(s->matches(get) == c.want);
    }
  }
}

}  // namespace
}  // namespace orch::api
