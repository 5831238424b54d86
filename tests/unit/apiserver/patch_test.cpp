// PATCH bodies: RFC 7386 and RFC 6902 appendix examples, strategic merge patch semantics (the
// apimachinery behaviours and the real kubectl / Python bodies of kubernetes-api.md §5-6), the
// merge-key table and the Content-Type dispatcher.
#include "orch/apiserver/patch.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <doctest.h>

namespace orch::apiserver {
namespace {

namespace json = boost::json;

json::value parse_json(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  REQUIRE_MESSAGE(!ec, "test JSON does not parse: " << std::string(text));
  return v;
}

// No directive ($patch, $retainKeys, $setElementOrder/..., $deleteFromPrimitiveList/...) or any
// other `$`-key may survive into a stored object.
void check_no_dollar_keys(const json::value& v, const std::string& where = "<root>") {
  if (v.is_object()) {
    for (const auto& [k, child] : v.get_object()) {
      const std::string key(k);
      CHECK_MESSAGE((key.empty() || key.front() != '$'), "'$' key " << key << " at " << where);
      check_no_dollar_keys(child, where + "." + key);
    }
  } else if (v.is_array()) {
    for (const json::value& child : v.get_array()) check_no_dollar_keys(child, where + "[]");
  }
}

struct Case {
  std::string name;
  std::string target;
  std::string patch;
  std::string expected;    // the result; unused when `error` is set
  Code error = Code::kOk;  // kOk: success expected
};

using ApplyFn = std::function<Result<json::value>(const json::value&, const json::value&)>;

void run_case(const Case& c, const ApplyFn& apply) {
  const json::value target = parse_json(c.target);
  const Result<json::value> result = apply(target, parse_json(c.patch));
  if (c.error != Code::kOk) {
    REQUIRE_FALSE_MESSAGE(result.ok(),
                          "expected " << code_name(c.error) << ", got "
                                      << (result.ok() ? json::serialize(*result) : std::string()));
    CHECK_MESSAGE(result.status().code() == c.error, result.status().to_string());
    return;
  }
  REQUIRE_MESSAGE(result.ok(), result.status().to_string());
  CHECK_MESSAGE(*result == parse_json(c.expected),
                "got      " << json::serialize(*result) << "\nexpected " << c.expected);
  check_no_dollar_keys(*result);
}

void run_cases(const std::vector<Case>& cases, const ApplyFn& apply) {
  for (const Case& c : cases) {
    SUBCASE(c.name.c_str()) { run_case(c, apply); }
  }
}

// ---------------------------------------------------------------------------------------------
// RFC 7386

TEST_CASE("json merge patch: RFC 7386 section 3 and appendix A") {
  const std::vector<Case> cases = {
      {"section 3 example",
       R"({"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},
           "tags":["example","sample"],"content":"This will be unchanged"})",
       R"({"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},
           "tags":["example"]})",
       R"({"title":"Hello!","author":{"givenName":"John"},"tags":["example"],
           "content":"This will be unchanged","phoneNumber":"+01-123-456-7890"})"},
      {"A1 replace member", R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {"A2 add member", R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {"A3 null removes", R"({"a":"b"})", R"({"a":null})", R"({})"},
      {"A4 null removes one", R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {"A5 array replaced by string", R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {"A6 string replaced by array", R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {"A7 nested merge", R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})",
       R"({"a":{"b":"d"}})"},
      {"A8 arrays replace", R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {"A9 array patch replaces array", R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {"A10 array patch replaces object", R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {"A11 null patch", R"({"a":"foo"})", R"(null)", R"(null)"},
      {"A12 string patch", R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {"A13 target null member kept", R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {"A14 object patch on array", R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {"A15 nested null dropped", R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  run_cases(cases, apply_json_merge_patch);
}

// ---------------------------------------------------------------------------------------------
// RFC 6902

TEST_CASE("json patch: RFC 6902 appendix A") {
  const std::vector<Case> cases = {
      {"A1 add object member", R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])",
       R"({"baz":"qux","foo":"bar"})"},
      {"A2 add array element", R"({"foo":["bar","baz"]})",
       R"([{"op":"add","path":"/foo/1","value":"qux"}])", R"({"foo":["bar","qux","baz"]})"},
      {"A3 remove object member", R"({"baz":"qux","foo":"bar"})",
       R"([{"op":"remove","path":"/baz"}])", R"({"foo":"bar"})"},
      {"A4 remove array element", R"({"foo":["bar","qux","baz"]})",
       R"([{"op":"remove","path":"/foo/1"}])", R"({"foo":["bar","baz"]})"},
      {"A5 replace", R"({"baz":"qux","foo":"bar"})",
       R"([{"op":"replace","path":"/baz","value":"boo"}])", R"({"baz":"boo","foo":"bar"})"},
      {"A6 move value", R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
       R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
       R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"},
      {"A7 move array element", R"({"foo":["all","grass","cows","eat"]})",
       R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])",
       R"({"foo":["all","cows","eat","grass"]})"},
      {"A8 test success", R"({"baz":"qux","foo":["a",2,"c"]})",
       R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])",
       R"({"baz":"qux","foo":["a",2,"c"]})"},
      {"A9 test failure", R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])", "",
       Code::kInvalidArgument},
      {"A10 add nested member object", R"({"foo":"bar"})",
       R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
       R"({"foo":"bar","child":{"grandchild":{}}})"},
      {"A11 unrecognized members ignored", R"({"foo":"bar"})",
       R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])", R"({"foo":"bar","baz":"qux"})"},
      {"A12 add to nonexistent target", R"({"foo":"bar"})",
       R"([{"op":"add","path":"/baz/bat","value":"qux"}])", "", Code::kInvalidArgument},
      {"A14 ~ escape ordering", R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])",
       R"({"/":9,"~1":10})"},
      {"A15 string is not number", R"({"/":9,"~1":10})",
       R"([{"op":"test","path":"/~01","value":"10"}])", "", Code::kInvalidArgument},
      {"A16 add array value", R"({"foo":["bar"]})",
       R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])",
       R"({"foo":["bar",["abc","def"]]})"},
  };
  run_cases(cases, apply_json_patch);
}

TEST_CASE("json patch: A13, a duplicate \"op\" member, is refused") {
  // boost::json keeps the last duplicate member, so the operation reads as remove /baz, which
  // does not exist: 422 either way, never a silent add.
  const auto result =
      apply_patch(kJsonPatchType, parse_json(R"({"foo":"bar"})"),
                  R"([{"op":"add","path":"/baz","value":"qux","op":"remove"}])", "Pod");
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == Code::kInvalidArgument);
}

TEST_CASE("json patch: more operations and every error class") {
  const std::vector<Case> cases = {
      {"python client replace", R"({"spec":{"replicas":1,"paused":false}})",
       R"([{"op":"replace","path":"/spec/replicas","value":4}])",
       R"({"spec":{"replicas":4,"paused":false}})"},
      {"operations apply in order", R"({"a":[1]})",
       R"([{"op":"add","path":"/a/-","value":2},{"op":"add","path":"/a/0","value":0},
           {"op":"copy","from":"/a","path":"/b"},{"op":"remove","path":"/a/1"}])",
       R"({"a":[0,2],"b":[0,1,2]})"},
      {"add replaces an existing member", R"({"a":1})", R"([{"op":"add","path":"/a","value":2}])",
       R"({"a":2})"},
      {"add at end index", R"({"a":[1,2]})", R"([{"op":"add","path":"/a/2","value":3}])",
       R"({"a":[1,2,3]})"},
      {"add and replace at the root", R"({"a":1})",
       R"([{"op":"add","path":"","value":{"b":2}},{"op":"replace","path":"","value":{"c":3}}])",
       R"({"c":3})"},
      {"escaped member names", R"({"a/b":1,"m~n":2})",
       R"([{"op":"replace","path":"/a~1b","value":10},{"op":"remove","path":"/m~0n"}])",
       R"({"a/b":10})"},
      {"empty member name", R"({"":1})", R"([{"op":"replace","path":"/","value":2}])", R"({"":2})"},
      {"move to the same place", R"({"a":{"b":1}})",
       R"([{"op":"move","from":"/a/b","path":"/a/b"}])", R"({"a":{"b":1}})"},
      {"move to the end of an array", R"({"a":[1,2,3]})",
       R"([{"op":"move","from":"/a/0","path":"/a/-"}])", R"({"a":[2,3,1]})"},
      {"test compares numbers by value and objects unordered", R"({"n":1,"o":{"x":1,"y":[1,2]}})",
       R"([{"op":"test","path":"/n","value":1.0},
           {"op":"test","path":"/o","value":{"y":[1,2],"x":1}}])",
       R"({"n":1,"o":{"x":1,"y":[1,2]}})"},
      {"test fails on array order", R"({"a":[1,2]})",
       R"([{"op":"test","path":"/a","value":[2,1]}])", "", Code::kInvalidArgument},
      {"test of a missing path", R"({})", R"([{"op":"test","path":"/a","value":null}])", "",
       Code::kInvalidArgument},
      {"unknown op", R"({})", R"([{"op":"merge","path":"/a","value":1}])", "",
       Code::kInvalidArgument},
      {"op missing", R"({})", R"([{"path":"/a","value":1}])", "", Code::kInvalidArgument},
      {"op not a string", R"({})", R"([{"op":1,"path":"/a","value":1}])", "",
       Code::kInvalidArgument},
      {"path missing", R"({})", R"([{"op":"add","value":1}])", "", Code::kInvalidArgument},
      {"value missing", R"({})", R"([{"op":"add","path":"/a"}])", "", Code::kInvalidArgument},
      {"from missing", R"({"a":1})", R"([{"op":"move","path":"/b"}])", "", Code::kInvalidArgument},
      {"pointer without leading slash", R"({"a":1})", R"([{"op":"remove","path":"a"}])", "",
       Code::kInvalidArgument},
      {"bad ~ escape", R"({"a~2":1})", R"([{"op":"remove","path":"/a~2"}])", "",
       Code::kInvalidArgument},
      {"remove a missing member", R"({"a":1})", R"([{"op":"remove","path":"/b"}])", "",
       Code::kInvalidArgument},
      {"replace a missing member", R"({"a":1})", R"([{"op":"replace","path":"/b","value":1}])", "",
       Code::kInvalidArgument},
      {"remove past the end", R"({"a":[1,2]})", R"([{"op":"remove","path":"/a/2"}])", "",
       Code::kInvalidArgument},
      {"add past the end", R"({"a":[1,2]})", R"([{"op":"add","path":"/a/3","value":0}])", "",
       Code::kInvalidArgument},
      {"index with a leading zero", R"({"a":[1,2]})", R"([{"op":"remove","path":"/a/01"}])", "",
       Code::kInvalidArgument},
      {"index not a number", R"({"a":[1,2]})", R"([{"op":"remove","path":"/a/x"}])", "",
       Code::kInvalidArgument},
      {"dash for remove", R"({"a":[1,2]})", R"([{"op":"remove","path":"/a/-"}])", "",
       Code::kInvalidArgument},
      {"add below a scalar", R"({"a":1})", R"([{"op":"add","path":"/a/b","value":1}])", "",
       Code::kInvalidArgument},
      {"move into its own child", R"({"a":{"b":{}}})",
       R"([{"op":"move","from":"/a","path":"/a/b/c"}])", "", Code::kInvalidArgument},
      {"copy from a missing path", R"({"a":1})", R"([{"op":"copy","from":"/x","path":"/b"}])", "",
       Code::kInvalidArgument},
      {"remove the root", R"({"a":1})", R"([{"op":"remove","path":""}])", "",
       Code::kInvalidArgument},
      {"all or nothing: a failing later op fails the patch", R"({"a":1})",
       R"([{"op":"add","path":"/b","value":2},{"op":"test","path":"/a","value":2}])", "",
       Code::kInvalidArgument},
      {"body not an array", R"({"a":1})", R"({"op":"remove","path":"/a"})", "", Code::kBadRequest},
      {"operation not an object", R"({"a":1})", R"([1])", "", Code::kBadRequest},
  };
  run_cases(cases, apply_json_patch);
}

TEST_CASE("json patch never changes its target") {
  const json::value target = parse_json(R"({"a":1})");
  const auto result = apply_json_patch(target, parse_json(R"([{"op":"add","path":"/b","value":2},
                                                            {"op":"test","path":"/a",
                                                            "value":2}])"));
  CHECK_FALSE(result.ok());
  CHECK(target == parse_json(R"({"a":1})"));
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch, generic: apimachinery's test struct (mergingList keyed by name,
// mergingIntList a merging set, everything else replaced).

MergeInfo generic_keys(std::string_view path) {
  const auto last =
      path.substr(path.rfind('.') == std::string_view::npos ? 0 : path.rfind('.') + 1);
  if (last == "mergingList" || last == "retainKeysMergingList") return MergeInfo{"name", false};
  if (last == "mergingIntList") return MergeInfo{"", true};
  return MergeInfo{};
}

Result<json::value> apply_generic_smp(const json::value& target, const json::value& patch) {
  return apply_strategic_merge_patch(target, patch, generic_keys);
}

TEST_CASE("strategic merge patch: maps, nulls, replaced values") {
  const std::vector<Case> cases = {
      {"add a field", R"({"name":1})", R"({"value":1})", R"({"name":1,"value":1})"},
      {"null deletes, unmatched null ignored", R"({"a":1,"b":{"c":2,"d":3}})",
       R"({"a":null,"b":{"d":null},"e":null})", R"({"b":{"c":2}})"},
      {"nested maps merge", R"({"m":{"a":{"x":1},"b":2}})", R"({"m":{"a":{"y":2}}})",
       R"({"m":{"a":{"x":1,"y":2},"b":2}})"},
      {"scalar replaced", R"({"a":"x"})", R"({"a":5})", R"({"a":5})"},
      {"list without strategy replaced", R"({"nonMergingList":[{"name":1},{"name":2}]})",
       R"({"nonMergingList":[{"name":3}]})", R"({"nonMergingList":[{"name":3}]})"},
      {"directive elements stripped from a replaced list", R"({"nonMergingList":[{"name":1}]})",
       R"({"nonMergingList":[{"name":2},{"$patch":"delete","name":3}]})",
       R"({"nonMergingList":[{"name":2}]})"},
      {"kind change: list becomes map", R"({"a":[1,2]})", R"({"a":{"b":1}})", R"({"a":{"b":1}})"},
      {"new nested value: nulls dropped", R"({})", R"({"m":{"a":1,"b":null,"c":{"d":null}}})",
       R"({"m":{"a":1,"c":{}}})"},
      {"new keyed list: delete directive elements vanish", R"({"name":"hi"})",
       R"({"mergingList":[{"name":"hello"},{"$patch":"delete","name":"doesntexist"}]})",
       R"({"name":"hi","mergingList":[{"name":"hello"}]})"},
      {"new keyed list keeps duplicate keys (no merging into nothing)", R"({})",
       R"({"mergingList":[{"name":"a","value":1},{"name":"a","value":2}]})",
       R"({"mergingList":[{"name":"a","value":1},{"name":"a","value":2}]})"},
      {"new map with $patch delete is not added", R"({"a":1})", R"({"m":{"$patch":"delete"}})",
       R"({"a":1})"},
      {"empty patch", R"({"a":1})", R"({})", R"({"a":1})"},
  };
  run_cases(cases, apply_generic_smp);
}

TEST_CASE("strategic merge patch: $patch directives") {
  const std::vector<Case> cases = {
      {"$patch replace on the root map", R"({"name":1,"value":1})", R"({"$patch":"replace"})",
       R"({})"},
      {"$patch replace keeps the patch's keys", R"({"name":1,"value":1})",
       R"({"other":"a","$patch":"replace"})", R"({"other":"a"})"},
      {"$patch replace on a nested map", R"({"m":{"a":1,"b":2},"k":1})",
       R"({"m":{"$patch":"replace","c":3}})", R"({"m":{"c":3},"k":1})"},
      {"$patch delete on a nested map removes it", R"({"simpleMap":{"key1":1,"key2":1},"k":1})",
       R"({"simpleMap":{"$patch":"delete"}})", R"({"k":1})"},
      {"$patch delete on the root map", R"({"a":1})", R"({"$patch":"delete"})", R"({})"},
      {"$patch merge is the default", R"({"m":{"a":1}})", R"({"m":{"$patch":"merge","b":2}})",
       R"({"m":{"a":1,"b":2}})"},
      {"$patch replace on a keyed list", R"({"mergingList":[{"name":1},{"name":2}]})",
       R"({"mergingList":[{"$patch":"replace"},{"name":3,"value":"x"}]})",
       R"({"mergingList":[{"name":3,"value":"x"}]})"},
      {"$patch replace empties a keyed list", R"({"mergingList":[{"name":1},{"name":2}]})",
       R"({"mergingList":[{"$patch":"replace"}]})", R"({"mergingList":[]})"},
      {"$patch delete removes every element with the key",
       R"({"mergingList":[{"name":1},{"name":1},{"name":2,"value":"a"},{"name":3},{"name":3}]})",
       R"({"mergingList":[{"name":1,"$patch":"delete"},{"name":3,"$patch":"delete"}]})",
       R"({"mergingList":[{"name":2,"value":"a"}]})"},
      {"$patch delete of an absent element", R"({"mergingList":[{"name":1}]})",
       R"({"mergingList":[{"name":9,"$patch":"delete"}]})", R"({"mergingList":[{"name":1}]})"},
      {"unknown $patch value in a map", R"({"m":{}})", R"({"m":{"$patch":"remove"}})", "",
       Code::kBadRequest},
      {"unknown $patch value in a list", R"({"mergingList":[{"name":1}]})",
       R"({"mergingList":[{"name":1,"$patch":"drop"}]})", "", Code::kBadRequest},
      {"non-string $patch", R"({})", R"({"$patch":true})", "", Code::kBadRequest},
      {"unknown $-key", R"({})", R"({"$foo":1})", "", Code::kBadRequest},
      {"directive prefix without a field", R"({})", R"({"$setElementOrder/":[]})", "",
       Code::kBadRequest},
      {"delete element without merge key", R"({"mergingList":[{"name":1}]})",
       R"({"mergingList":[{"$patch":"delete"}]})", "", Code::kBadRequest},
  };
  run_cases(cases, apply_generic_smp);
}

TEST_CASE("strategic merge patch: keyed and primitive merging lists") {
  const std::vector<Case> cases = {
      {"merge an element by key", R"({"mergingList":[{"name":1,"value":"a"},{"name":2}]})",
       R"({"mergingList":[{"name":1,"other":"x"}]})",
       R"({"mergingList":[{"name":1,"value":"a","other":"x"},{"name":2}]})"},
      {"null inside an element deletes the field",
       R"({"mergingList":[{"name":"foo","value":"a"},{"name":"bar"}]})",
       R"({"mergingList":[{"name":"foo","value":null}]})",
       R"({"mergingList":[{"name":"foo"},{"name":"bar"}]})"},
      {"a new element goes before unanchored server-only elements (apimachinery order)",
       R"({"mergingList":[{"name":1},{"name":2}]})", R"({"mergingList":[{"name":3}]})",
       R"({"mergingList":[{"name":3},{"name":1},{"name":2}]})"},
      {"patch order wins for named elements",
       R"({"mergingList":[{"name":1},{"name":2,"value":"b"},{"name":3}]})",
       R"({"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"},{"name":2,"other":"x"}]})",
       R"({"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"},
                          {"name":2,"value":"b","other":"x"}]})"},
      {"server-only elements interleave by server position",
       R"({"mergingList":[{"name":1},{"name":2,"value":"b"},{"name":3}]})",
       R"({"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"}]})",
       R"({"mergingList":[{"name":2,"value":"b"},{"name":3,"value":"c"},{"name":1,"value":"a"}]})"},
      {"unique scalars", R"({"mergingIntList":[1,2]})", R"({"mergingIntList":[2,3]})",
       R"({"mergingIntList":[1,2,3]})"},
      {"scalar patch order", R"({"mergingIntList":[1,2,3]})", R"({"mergingIntList":[3,1]})",
       R"({"mergingIntList":[2,3,1]})"},
      {"duplicate merging element in the patch merges twice", R"({"mergingList":[]})",
       R"({"mergingList":[{"name":"a","value":1},{"name":"a","other":2}]})",
       R"({"mergingList":[{"name":"a","value":1,"other":2}]})"},
      {"merge key missing in a patch element", R"({"mergingList":[{"name":1,"value":"a"}]})",
       R"({"mergingList":[{"value":"b"}]})", "", Code::kBadRequest},
      {"objects and scalars mixed", R"({"mergingList":[{"name":1}]})", R"({"mergingList":[2]})", "",
       Code::kBadRequest},
      {"list of lists", R"({"mergingIntList":[[1]]})", R"({"mergingIntList":[[2]]})", "",
       Code::kInvalidArgument},
      {"objects in a set-merged list need a merge key", R"({"mergingIntList":[{"a":1}]})",
       R"({"mergingIntList":[{"a":2}]})", "", Code::kBadRequest},
  };
  run_cases(cases, apply_generic_smp);
}

TEST_CASE("strategic merge patch: $setElementOrder, $deleteFromPrimitiveList, $retainKeys") {
  const std::vector<Case> cases = {
      {"order names an element the list lacks", R"({"mergingList":[{"name":1},{"name":3}]})",
       R"({"$setElementOrder/mergingList":[{"name":3},{"name":2},{"name":1}],
           "mergingList":[{"name":3,"value":3},{"name":1,"value":1}]})",
       R"({"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]})"},
      {"order alone reorders a scalar list", R"({"mergingIntList":[1,3]})",
       R"({"$setElementOrder/mergingIntList":[3,2,1]})", R"({"mergingIntList":[3,1]})"},
      {"order with new elements and server-only ones",
       R"({"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"}]})",
       R"({"$setElementOrder/mergingList":[{"name":4},{"name":1},{"name":2},{"name":3}],
           "mergingList":[{"name":4,"value":4},{"name":3,"value":3}]})",
       R"({"mergingList":[{"name":4,"value":4},{"name":1,"other":"a"},
                          {"name":2,"value":2,"other":"b"},{"name":3,"value":3}]})"},
      {"order with a delete and a server-only element",
       R"({"name":"hi","mergingList":[{"name":"hello2"}]})",
       R"({"$setElementOrder/mergingList":[{"name":"hello"},{"name":"doesntexist"}],
           "mergingList":[{"name":"hello"},{"$patch":"delete","name":"doesntexist"}]})",
       R"({"name":"hi","mergingList":[{"name":"hello"},{"name":"hello2"}]})"},
      {"order contradicting the patch list",
       R"({"mergingList":[{"name":1},{"name":3},{"name":2}]})",
       R"({"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],
           "mergingList":[{"name":3,"value":3},{"name":1,"value":1}]})",
       "", Code::kBadRequest},
      {"scalar order contradicting the patch list", R"({"mergingIntList":[1,3,2]})",
       R"({"$setElementOrder/mergingIntList":[1,2,3],"mergingIntList":[3,1]})", "",
       Code::kBadRequest},
      {"order not a list", R"({"mergingList":[]})", R"({"$setElementOrder/mergingList":{}})", "",
       Code::kBadRequest},
      {"order element without merge key", R"({"mergingList":[{"name":1}]})",
       R"({"$setElementOrder/mergingList":[{"value":1}],"mergingList":[{"name":1}]})", "",
       Code::kBadRequest},
      {"delete from a scalar list", R"({"mergingIntList":[1,2,3]})",
       R"({"$deleteFromPrimitiveList/mergingIntList":[2]})", R"({"mergingIntList":[1,3]})"},
      {"delete a value that is not there", R"({"mergingIntList":[1,2]})",
       R"({"$deleteFromPrimitiveList/mergingIntList":[3]})", R"({"mergingIntList":[1,2]})"},
      {"delete from an absent list adds nothing", R"({"foo":["bar"]})",
       R"({"$deleteFromPrimitiveList/mergingIntList":[3]})", R"({"foo":["bar"]})"},
      {"delete every duplicate", R"({"mergingIntList":[1,2,3,3,4]})",
       R"({"$setElementOrder/mergingIntList":[1,2],"$deleteFromPrimitiveList/mergingIntList":[3]})",
       R"({"mergingIntList":[1,2,4]})"},
      {"delete from a list without merge strategy", R"({"nonMergingIntList":[1,2,3]})",
       R"({"$deleteFromPrimitiveList/nonMergingIntList":[2]})", R"({"nonMergingIntList":[1,3]})"},
      {"add, delete and order together", R"({"mergingIntList":[1,2,3]})",
       R"({"$setElementOrder/mergingIntList":[1,2,4],"$deleteFromPrimitiveList/mergingIntList":[3],
           "mergingIntList":[4]})",
       R"({"mergingIntList":[1,2,4]})"},
      {"delete list not a list", R"({"mergingIntList":[1]})",
       R"({"$deleteFromPrimitiveList/mergingIntList":1})", "", Code::kBadRequest},
      {"retainKeys clears unlisted keys",
       R"({"retainKeysMap":{"name":"foo","value":"a","other":"x"}})",
       R"({"retainKeysMap":{"$retainKeys":["name","value"],"value":"b"}})",
       R"({"retainKeysMap":{"name":"foo","value":"b"}})"},
      {"retainKeys in a keyed list element",
       R"({"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a","other":"o"}]})",
       R"({"retainKeysMergingList":[{"$retainKeys":["name","value"],"name":"foo","value":"b"}]})",
       R"({"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"b"}]})"},
      {"retainKeys ignores null keys in the patch", R"({"m":{"a":1,"b":2,"c":3}})",
       R"({"m":{"$retainKeys":["a"],"b":null}})", R"({"m":{"a":1}})"},
      {"patch key missing from retainKeys", R"({"m":{"a":1}})",
       R"({"m":{"$retainKeys":["a"],"b":2}})", "", Code::kInvalidArgument},
      {"retainKeys not a list", R"({"m":{"a":1}})", R"({"m":{"$retainKeys":"a"}})", "",
       Code::kBadRequest},
  };
  run_cases(cases, apply_generic_smp);
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch with Kubernetes' merge keys: real client bodies.

struct KindCase {
  std::string kind;
  Case c;
};

void run_kind_cases(const std::vector<KindCase>& cases) {
  for (const KindCase& kc : cases) {
    SUBCASE(kc.c.name.c_str()) {
      run_case(kc.c, [&kc](const json::value& target, const json::value& patch) {
        const std::string kind = kc.kind;
        return apply_strategic_merge_patch(target, patch, [kind](std::string_view path) {
          return kubernetes_merge_key(kind, path);
        });
      });
    }
  }
}

constexpr std::string_view kWebDeployment = R"({
  "apiVersion":"apps/v1","kind":"Deployment",
  "metadata":{"name":"web","namespace":"default","annotations":{
    "kubectl.kubernetes.io/last-applied-configuration":"{\"old\":true}\n",
    "deployment.kubernetes.io/revision":"1"}},
  "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
    "template":{"metadata":{"labels":{"app":"web"}},
      "spec":{"containers":[
          {"name":"web","image":"kuard:v1","env":[{"name":"A","value":"1"},{"name":"B",
          "value":"1"}],
           "ports":[{"containerPort":8080,"protocol":"TCP"}]},
          {"name":"sidecar","image":"busybox"}],
        "restartPolicy":"Always"}}},
  "status":{"replicas":2}})";

TEST_CASE(
    "strategic merge patch: kubectl and python bodies (kubernetes-api.md 5, 6.5-6.10, 6.15)") {
  const std::string web(kWebDeployment);
  const std::vector<KindCase> cases = {
      {"Deployment",
       {"kubectl apply 3-way patch: image, replicas, env delete, sidecar delete", web,
        R"({"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{...}\n"}},
            "spec":{"replicas":3,"template":{"spec":{"$setElementOrder/containers":[{"name":"web"}],
              "containers":[{"$setElementOrder/env":[{"name":"B"}],
                             "env":[{"name":"B","value":"2"},{"$patch":"delete","name":"A"}],
                             "image":"kuard:v2","name":"web"},
                            {"$patch":"delete","name":"sidecar"}]}}}})",
        R"({"apiVersion":"apps/v1","kind":"Deployment",
            "metadata":{"name":"web","namespace":"default","annotations":{
              "kubectl.kubernetes.io/last-applied-configuration":"{...}\n",
              "deployment.kubernetes.io/revision":"1"}},
            "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
              "template":{"metadata":{"labels":{"app":"web"}},
                "spec":{"containers":[
                    {"name":"web","image":"kuard:v2","env":[{"name":"B","value":"2"}],
                     "ports":[{"containerPort":8080,"protocol":"TCP"}]}],
                  "restartPolicy":"Always"}}},
            "status":{"replicas":2}})"}},
      {"Deployment",
       {"env delete alone", web,
        R"({"spec":{"template":{"spec":{"containers":[
            {"name":"web","env":[{"$patch":"delete","name":"A"}]}]}}}})",
        R"({"apiVersion":"apps/v1","kind":"Deployment",
            "metadata":{"name":"web","namespace":"default","annotations":{
              "kubectl.kubernetes.io/last-applied-configuration":"{\"old\":true}\n",
              "deployment.kubernetes.io/revision":"1"}},
            "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
              "template":{"metadata":{"labels":{"app":"web"}},
                "spec":{"containers":[
                    {"name":"web","image":"kuard:v1","env":[{"name":"B","value":"1"}],
                     "ports":[{"containerPort":8080,"protocol":"TCP"}]},
                    {"name":"sidecar","image":"busybox"}],
                  "restartPolicy":"Always"}}},
            "status":{"replicas":2}})"}},
      {"Deployment",
       {"sidecar delete with element order", web,
        R"({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"}],
            "containers":[{"$patch":"delete","name":"sidecar"}]}}}})",
        R"({"apiVersion":"apps/v1","kind":"Deployment",
            "metadata":{"name":"web","namespace":"default","annotations":{
              "kubectl.kubernetes.io/last-applied-configuration":"{\"old\":true}\n",
              "deployment.kubernetes.io/revision":"1"}},
            "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
              "template":{"metadata":{"labels":{"app":"web"}},
                "spec":{"containers":[
                    {"name":"web","image":"kuard:v1","env":[{"name":"A","value":"1"},{"name":"B",
                    "value":"1"}],
                     "ports":[{"containerPort":8080,"protocol":"TCP"}]}],
                  "restartPolicy":"Always"}}},
            "status":{"replicas":2}})"}},
      {"Deployment",
       {"kubectl set image",
        R"({"spec":{"template":{"spec":{"containers":[{"name":"kuard","image":"kuard",
            "imagePullPolicy":"Always"}]}}}})",
        R"({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"kuard"}],
            "containers":[{"image":"kuard:v2","name":"kuard"}]}}}})",
        R"({"spec":{"template":{"spec":{"containers":[{"name":"kuard","image":"kuard:v2",
            "imagePullPolicy":"Always"}]}}}})"}},
      {"Deployment",
       {"kubectl edit: status is merged here, the server drops it",
        R"({"spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"kuard",
            "image":"kuard:v3"}]}}},
            "status":{"replicas":1,"readyReplicas":1}})",
        R"({"spec":{"replicas":3,
            "template":{"spec":{"$setElementOrder/containers":[{"name":"kuard"}],
            "containers":[{"image":"kuard:v4","name":"kuard"}]}}},"status":{"replicas":3}})",
        R"({"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"kuard",
            "image":"kuard:v4"}]}}},
            "status":{"replicas":3,"readyReplicas":1}})"}},
      {"Deployment",
       {"python dict patch", R"({"spec":{"replicas":1,"paused":false}})",
        R"({"spec":{"replicas":4}})", R"({"spec":{"replicas":4,"paused":false}})"}},
      {"Scale",
       {"python patch_namespaced_deployment_scale",
        R"({"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"kuard"},
            "spec":{"replicas":5},"status":{"replicas":5,"selector":"app=kuard"}})",
        R"({"spec":{"replicas":1}})",
        R"({"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"kuard"},
            "spec":{"replicas":1},"status":{"replicas":5,"selector":"app=kuard"}})"}},
      {"Deployment",
       {"new container without order lands first",
        R"({"spec":{"template":{"spec":{"containers":[{"name":"patch-demo-ctr",
            "image":"nginx"}]}}}})",
        R"({"spec":{"template":{"spec":{"containers":[{"name":"patch-demo-ctr-2",
            "image":"redis"}]}}}})",
        R"({"spec":{"template":{"spec":{"containers":[{"name":"patch-demo-ctr-2","image":"redis"},
                                                      {"name":"patch-demo-ctr",
                                                      "image":"nginx"}]}}}})"}},
      {"Deployment",
       {"new container with element order is appended",
        R"({"spec":{"template":{"spec":{"containers":[{"name":"web","image":"a"}]}}}})",
        R"({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"},
            {"name":"sidecar"}],
            "containers":[{"name":"sidecar","image":"busybox"}]}}}})",
        R"({"spec":{"template":{"spec":{"containers":[{"name":"web","image":"a"},
                                                      {"name":"sidecar","image":"busybox"}]}}}})"}},
      {"Deployment",
       {"tolerations have no merge key: replaced",
        R"({"spec":{"template":{"spec":{"tolerations":[{"key":"dedicated","value":"test-team",
            "effect":"NoSchedule"}]}}}})",
        R"({"spec":{"template":{"spec":{"tolerations":[{"key":"disktype","value":"ssd",
            "effect":"NoSchedule"}]}}}})",
        R"({"spec":{"template":{"spec":{"tolerations":[{"key":"disktype","value":"ssd",
            "effect":"NoSchedule"}]}}}})"}},
      {"Deployment",
       {"nested container ports merge by containerPort",
        R"({"spec":{"template":{"spec":{"containers":[{"name":"web",
            "ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":443}]}]}}}})",
        R"({"spec":{"template":{"spec":{"containers":[{"name":"web",
            "ports":[{"containerPort":80,"name":"http"}]}]}}}})",
        R"({"spec":{"template":{"spec":{"containers":[{"name":"web",
            "ports":[{"containerPort":80,"protocol":"TCP","name":"http"},
            {"containerPort":443}]}]}}}})"}},
      {"Deployment",
       {"volumes merge by name with $retainKeys (kubectl apply switching a volume source)",
        R"({"spec":{"template":{"spec":{"volumes":[{"name":"v","emptyDir":{}},{"name":"w",
            "emptyDir":{}}]}}}})",
        R"({"spec":{"template":{"spec":{"$setElementOrder/volumes":[{"name":"v"},{"name":"w"}],
            "volumes":[{"$retainKeys":["configMap","name"],"configMap":{"name":"cm"},
            "name":"v"}]}}}})",
        R"({"spec":{"template":{"spec":{"volumes":[{"name":"v","configMap":{"name":"cm"}},
                                                   {"name":"w","emptyDir":{}}]}}}})"}},
      {"Deployment",
       {"strategy $retainKeys drops rollingUpdate",
        R"({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}})",
        R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}})",
        R"({"spec":{"strategy":{"type":"Recreate"}}})"}},
      {"Pod",
       {"finalizers merge as a set", R"({"metadata":{"finalizers":["a","b"]}})",
        R"({"metadata":{"finalizers":["b","c"]}})",
        R"({"metadata":{"finalizers":["a","b","c"]}})"}},
      {"Pod",
       {"a new finalizer goes first (apimachinery order)",
        R"({"metadata":{"finalizers":["a","b"]}})", R"({"metadata":{"finalizers":["c"]}})",
        R"({"metadata":{"finalizers":["c","a","b"]}})"}},
      {"Pod",
       {"finalizer removed by $deleteFromPrimitiveList",
        R"({"metadata":{"finalizers":["a","b","c"]}})",
        R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["b"],
            "$setElementOrder/finalizers":["a","c"]}})",
        R"({"metadata":{"finalizers":["a","c"]}})"}},
      {"Pod",
       {"pod status conditions merge by type",
        R"({"status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"True"},
                                                      {"type":"Ready","status":"False"}]}})",
        R"({"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}})",
        R"({"status":{"phase":"Running","conditions":[{"type":"PodScheduled","status":"True"},
                                                      {"type":"Ready","status":"True"}]}})"}},
      {"ReplicaSet",
       {"ownerReferences merge by uid",
        R"({"metadata":{"ownerReferences":[{"uid":"1","kind":"Deployment","name":"a"}]}})",
        R"({"metadata":{"ownerReferences":[{"uid":"1","controller":true}]}})",
        R"({"metadata":{"ownerReferences":[{"uid":"1","kind":"Deployment","name":"a",
            "controller":true}]}})"}},
      {"Service",
       {"service ports merge by port",
        R"({"spec":{"ports":[{"port":80,"targetPort":8080},{"port":443}]}})",
        R"({"spec":{"ports":[{"port":80,"targetPort":9090}]}})",
        R"({"spec":{"ports":[{"port":80,"targetPort":9090},{"port":443}]}})"}},
      {"Node",
       {"node taints are replaced", R"({"spec":{"taints":[{"key":"a","effect":"NoSchedule"}]}})",
        R"({"spec":{"taints":[{"key":"b","effect":"NoExecute"}]}})",
        R"({"spec":{"taints":[{"key":"b","effect":"NoExecute"}]}})"}},
      {"Endpoints",
       {"endpoints subsets are replaced",
        R"({"subsets":[{"addresses":[{"ip":"10.0.0.1"}],"ports":[{"port":80}]}]})",
        R"({"subsets":[{"addresses":[{"ip":"10.0.0.2"}]}]})",
        R"({"subsets":[{"addresses":[{"ip":"10.0.0.2"}]}]})"}},
  };
  run_kind_cases(cases);
}

TEST_CASE("strategic merge patch rejects non-object documents") {
  const MergeKeyFn none = [](std::string_view) { return MergeInfo{}; };
  CHECK(apply_strategic_merge_patch(parse_json("{}"), parse_json("[1]"), none).status().code() ==
        Code::kBadRequest);
  CHECK(apply_strategic_merge_patch(parse_json("[1]"), parse_json("{}"), none).status().code() ==
        Code::kBadRequest);
  // A null MergeKeyFn means "no list merges".
  const auto result =
      apply_strategic_merge_patch(parse_json(R"({"l":[1]})"), parse_json(R"({"l":[2]})"), {});
  REQUIRE(result.ok());
  CHECK(*result == parse_json(R"({"l":[2]})"));
}

// ---------------------------------------------------------------------------------------------
// Merge-key table

TEST_CASE("kubernetes_merge_key follows k8s.io/api patch tags") {
  struct Row {
    std::string_view kind;
    std::string_view path;
    MergeInfo want;
  };
  const MergeInfo none{};
  const MergeInfo set{"", true};
  const auto key = [](std::string_view k) { return MergeInfo{std::string(k), false}; };
  const std::vector<Row> rows = {
      {"Pod", "spec.containers", key("name")},
      {"Pod", "spec.initContainers", key("name")},
      {"Pod", "spec.ephemeralContainers", key("name")},
      {"Pod", "spec.containers[].ports", key("containerPort")},
      {"Pod", "spec.initContainers[].env", key("name")},
      {"Pod", "spec.containers[].volumeMounts", key("mountPath")},
      {"Pod", "spec.containers[].volumeDevices", key("devicePath")},
      {"Pod", "spec.containers[].envFrom", none},
      {"Pod", "spec.containers[].command", none},
      {"Pod", "spec.volumes", key("name")},
      {"Pod", "spec.imagePullSecrets", key("name")},
      {"Pod", "spec.hostAliases", key("ip")},
      {"Pod", "spec.topologySpreadConstraints", key("topologyKey")},
      {"Pod", "spec.schedulingGates", key("name")},
      {"Pod", "spec.resourceClaims", key("name")},
      {"Pod", "spec.tolerations", none},
      {"Pod", "spec.readinessGates", none},
      {"Pod", "status.conditions", key("type")},
      {"Pod", "status.podIPs", key("ip")},
      {"Pod", "status.hostIPs", key("ip")},
      {"Pod", "status.containerStatuses", none},
      {"Pod", "metadata.finalizers", set},
      {"Pod", "metadata.ownerReferences", key("uid")},
      {"Deployment", "spec.template.spec.containers", key("name")},
      {"Deployment", "spec.template.spec.containers[].env", key("name")},
      {"Deployment", "spec.template.spec.containers[].ports", key("containerPort")},
      {"Deployment", "spec.template.spec.volumes", key("name")},
      {"Deployment", "spec.template.metadata.finalizers", set},
      {"Deployment", "status.conditions", key("type")},
      {"Deployment", "spec.containers", none},  // not a pod spec path for a Deployment
      {"ReplicaSet", "spec.template.spec.initContainers[].volumeMounts", key("mountPath")},
      {"StatefulSet", "spec.template.spec.containers", key("name")},
      {"StatefulSet", "spec.volumeClaimTemplates", none},
      {"StatefulSet", "spec.volumeClaimTemplates[].metadata.finalizers", set},
      {"DaemonSet", "spec.template.spec.hostAliases", key("ip")},
      {"Job", "spec.template.spec.containers", key("name")},
      {"CronJob", "spec.jobTemplate.spec.template.spec.containers[].env", key("name")},
      {"PodTemplate", "template.spec.containers", key("name")},
      {"Service", "spec.ports", key("port")},
      {"Service", "spec.externalIPs", none},
      {"Node", "spec.taints", none},
      {"Node", "spec.podCIDRs", set},
      {"Node", "status.addresses", key("type")},
      {"Node", "status.conditions", key("type")},
      {"Node", "status.images", none},
      {"Endpoints", "subsets", none},
      {"ServiceAccount", "secrets", key("name")},
      {"ServiceAccount", "imagePullSecrets", none},
      {"ConfigMap", "metadata.finalizers", set},
      {"Pod", "spec.containersX", none},
      {"Pod", "xmetadata.finalizers", none},
  };
  for (const Row& r : rows) {
    const std::string name = std::string(r.kind) + " " + std::string(r.path);
    SUBCASE(name.c_str()) {
      const MergeInfo got = kubernetes_merge_key(r.kind, r.path);
      CHECK(got.merge_key == r.want.merge_key);
      CHECK(got.merge_primitives == r.want.merge_primitives);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Content-Type dispatch

TEST_CASE("is_supported_patch_type") {
  CHECK(is_supported_patch_type("application/json-patch+json"));
  CHECK(is_supported_patch_type("application/merge-patch+json"));
  CHECK(is_supported_patch_type("application/strategic-merge-patch+json"));
  CHECK(is_supported_patch_type("Application/Merge-Patch+JSON; charset=utf-8"));
  CHECK(is_supported_patch_type(" application/strategic-merge-patch+json ;charset=UTF-8"));
  CHECK_FALSE(is_supported_patch_type("application/apply-patch+yaml"));
  CHECK_FALSE(is_supported_patch_type("application/json"));
  CHECK_FALSE(is_supported_patch_type(""));
}

TEST_CASE("apply_patch dispatches on the media type") {
  const json::value deployment = parse_json(R"({"kind":"Deployment","spec":{"replicas":1,
      "template":{"spec":{"containers":[{"name":"a","image":"x"},{"name":"b","image":"y"}]}}}})");
  struct Row {
    std::string name;
    std::string content_type;
    std::string body;
    std::string expected;
    Code error = Code::kOk;
  };
  const std::vector<Row> rows = {
      {"strategic merges containers by name", "application/strategic-merge-patch+json",
       R"({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"z"}]}}}})",
       R"({"kind":"Deployment","spec":{"replicas":1,"template":{"spec":{"containers":[
           {"name":"a","image":"x"},{"name":"b","image":"z"}]}}}})"},
      {"merge patch replaces the list", "application/merge-patch+json; charset=utf-8",
       R"({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"z"}]}}}})",
       R"({"kind":"Deployment","spec":{"replicas":1,"template":{"spec":{"containers":[
           {"name":"b","image":"z"}]}}}})"},
      {"kubectl scale", "application/merge-patch+json", R"({"spec":{"replicas":10}})",
       R"({"kind":"Deployment","spec":{"replicas":10,"template":{"spec":{"containers":[
           {"name":"a","image":"x"},{"name":"b","image":"y"}]}}}})"},
      {"json patch", "application/json-patch+json",
       R"([{"op":"replace","path":"/spec/replicas","value":4}])",
       R"({"kind":"Deployment","spec":{"replicas":4,"template":{"spec":{"containers":[
           {"name":"a","image":"x"},{"name":"b","image":"y"}]}}}})"},
      {"apply patch is not supported here", "application/apply-patch+yaml", "spec: {}", "",
       Code::kBadRequest},
      {"malformed strategic body", "application/strategic-merge-patch+json", R"({"spec":)", "",
       Code::kBadRequest},
      {"malformed json patch body", "application/json-patch+json", R"([{"op":"add",])", "",
       Code::kBadRequest},
      {"empty body", "application/merge-patch+json", "", "", Code::kBadRequest},
      {"trailing garbage", "application/merge-patch+json", R"({"a":1} x)", "", Code::kBadRequest},
      {"strategic body not an object", "application/strategic-merge-patch+json", R"([1])", "",
       Code::kBadRequest},
      {"merge body not an object", "application/merge-patch+json", R"("x")", "", Code::kBadRequest},
      {"json patch body not a list", "application/json-patch+json", R"({"op":"add"})", "",
       Code::kBadRequest},
      {"json patch leaving a non-object", "application/json-patch+json",
       R"([{"op":"replace","path":"","value":5}])", "", Code::kInvalidArgument},
      {"json patch that cannot apply", "application/json-patch+json",
       R"([{"op":"remove","path":"/spec/nope"}])", "", Code::kInvalidArgument},
  };
  for (const Row& r : rows) {
    SUBCASE(r.name.c_str()) {
      const auto result = apply_patch(r.content_type, deployment, r.body, "Deployment");
      if (r.error != Code::kOk) {
        REQUIRE_FALSE(result.ok());
        CHECK_MESSAGE(result.status().code() == r.error, result.status().to_string());
      } else {
        REQUIRE_MESSAGE(result.ok(), result.status().to_string());
        CHECK_MESSAGE(*result == parse_json(r.expected), json::serialize(*result));
        check_no_dollar_keys(*result);
      }
    }
  }
}

TEST_CASE("apply_patch reports the parser's message for malformed JSON") {
  const auto result = apply_patch(kStrategicMergePatchType, parse_json("{}"), "{\"a\":", "Pod");
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == Code::kBadRequest);
  CHECK(result.status().message().rfind("error decoding patch: ", 0) == 0);
  CHECK(result.status().message().size() > std::string_view("error decoding patch: ").size());
}

TEST_CASE("apply_patch refuses a body nested deeper than the limit") {
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 200; ++i) deep += "}";
  const auto result = apply_patch(kMergePatchType, parse_json("{}"), deep, "Pod");
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == Code::kBadRequest);
}

}  // namespace
}  // namespace orch::apiserver
