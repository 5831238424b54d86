// YAML parsing (multi-document, scalar typing, errors) and kubectl-style printing.
// Thread-safety: single-threaded test code.
#include <doctest.h>

#include <boost/json.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "manifests.hpp"
#include "object_test_util.hpp"
#include "orch/api/registry.hpp"
#include "orch/api/types.hpp"
#include "orch/api/yaml.hpp"

namespace orch::api {
namespace {

using testing::json;

boost::json::value parse_one(const std::string& text) {
  auto docs = parse_yaml(text);
  REQUIRE_MESSAGE(docs.ok(), docs.status().to_string());
  REQUIRE(docs->size() == 1);
  return docs->front();
}

TEST_CASE("multi-document streams skip empty documents") {
  auto docs = parse_yaml(
      "---\n"
      "# a comment-only document\n"
      "---\n"
      "apiVersion: v1\n"
      "kind: ConfigMap\n"
      "---\n"
      "---\n"
      "null\n"
      "---\n"
      "{\"apiVersion\": \"v1\", \"kind\": \"Secret\"}\n"
      "...\n");
  REQUIRE_MESSAGE(docs.ok(), docs.status().to_string());
  REQUIRE(docs->size() == 2);
  CHECK((*docs)[0] == json(R"({"apiVersion":"v1","kind":"ConfigMap"})"));
  CHECK((*docs)[1] == json(R"({"apiVersion":"v1","kind":"Secret"})"));
  auto tabs = parse_yaml("{\t\"a\":\t[1,\t2]}\n");
  REQUIRE_MESSAGE(tabs.ok(), tabs.status().to_string());
  CHECK(*tabs == std::vector<boost::json::value>{json(R"({"a":[1,2]})")});
  auto flow = parse_yaml("{a: 1, b: [x, 'y']}");
  REQUIRE(flow.ok());
  CHECK(flow->front() == json(R"({"a":1,"b":["x","y"]})"));
  auto empty = parse_yaml("");
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}

TEST_CASE("plain scalars are typed as kubectl types them; quoted ones stay strings") {
  struct Case {
    const char* yaml;
    boost::json::value expected;
  };
  const std::vector<Case> cases = {
      {"123", 123},
      {"-5", -5},
      {"+7", 7},
      {"0x1F", 31},
      {"0o17", 15},
      {"0777", 511},  // YAML 1.1 octal, as kubectl reads defaultMode: 0777
      {"1_000", 1000},
      {"9223372036854775808", std::uint64_t{9223372036854775808ull}},
      {"1.5", 1.5},
      {".5", 0.5},
      {"1e3", 1000.0},
      {"-2.5e-3", -0.0025},
      {"08", 8.0},
      {"true", true},
      {"False", false},
      {"yes", true},
      {"on", true},
      {"OFF", false},
      {"n", false},
      {"null", nullptr},
      {"~", nullptr},
      {"", nullptr},
      {"'123'", "123"},
      {"\"true\"", "true"},
      {"'null'", "null"},
      {"!!str 5", "5"},
      {"2024-01-01", "2024-01-01"},
      {"2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"},
      {"1.2.3", "1.2.3"},
      {"12:30", "12:30"},
      {"abc", "abc"},
      {"-x", "-x"},
      {"kuard:v1", "kuard:v1"},
      {"|\n  line1\n  line2\n", "line1\nline2\n"},
      {">-\n  folded\n  text\n", "folded text"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.yaml) {
      const auto v = parse_one(std::string("v: ") + c.yaml + "\n");
      CHECK_MESSAGE(v.at("v") == c.expected, boost::json::serialize(v));
    }
  }
  SUBCASE(".inf and .nan") {
    const auto v = parse_one("a: .inf\nb: -.Inf\nc: .NaN\n");
    CHECK(std::isinf(v.at("a").as_double()));
    CHECK(v.at("b").as_double() < 0);
    CHECK(std::isnan(v.at("c").as_double()));
  }
}

TEST_CASE("keys, anchors, aliases and merge keys") {
  const auto v = parse_one(
      "base: &base\n"
      "  a: 1\n"
      "  b: 2\n"
      "derived:\n"
      "  <<: *base\n"
      "  b: 3\n"
      "list: [*base]\n"
      "1: numeric key\n"
      "true: bool key\n");
  CHECK(v.at("derived") == json(R"({"a":1,"b":3})"));
  CHECK(v.at("list") == json(R"([{"a":1,"b":2}])"));
  CHECK(v.at("1") == "numeric key");
  CHECK(v.at("true") == "bool key");
}

TEST_CASE("errors name the line and column") {
  struct Case {
    const char* name;
    const char* yaml;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"map value in a scalar", "a: b: c\n", "yaml: line 1, column 5: illegal map value"},
      {"unclosed flow sequence", "a:\n  b: [1, 2\n",
       "yaml: line 3, column 1: end of sequence flow not found"},
      {"duplicate key", "a: 1\nb: 2\na: 3\n",
       "yaml: line 3, column 1: mapping key \"a\" already defined at line 1"},
      {"bad indentation", "a:\n  b: 1\n c: 2\n", nullptr},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      auto r = parse_yaml(c.yaml);
      REQUIRE(!r.ok());
      CHECK(r.status().code() == Code::kBadRequest);
      if (c.message != nullptr) {
        CHECK(r.status().message() == c.message);
      } else {
        CHECK(r.status().message().rfind("yaml: line ", 0) == 0);
      }
    }
  }
}

TEST_CASE("to_yaml prints a Deployment exactly as kubectl -o yaml") {
  const auto d = testing::decode_text<Deployment>(testing::kKuardDeployment);
  CHECK(to_yaml(encode(d)) ==
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        "  creationTimestamp: null\n"
        "  labels:\n"
        "    app: kuard\n"
        "  name: kuard\n"
        "spec:\n"
        "  replicas: 5\n"
        "  selector:\n"
        "    matchLabels:\n"
        "      app: kuard\n"
        "  strategy: {}\n"
        "  template:\n"
        "    metadata:\n"
        "      creationTimestamp: null\n"
        "      labels:\n"
        "        app: kuard\n"
        "    spec:\n"
        "      containers:\n"
        "      - image: kuard\n"
        "        name: kuard\n"
        "        resources: {}\n"
        "status: {}\n");
}

TEST_CASE("to_yaml prints a Service with nested lists as kubectl does") {
  const auto v = json(R"({"apiVersion":"v1","kind":"Service",
    "metadata":{"creationTimestamp":"2024-05-01T12:00:00Z","name":"kuard"},
    "spec":{"ports":[{"port":80,"protocol":"TCP","targetPort":8080}],"selector":{"app":"kuard"},
            "type":"LoadBalancer"},
    "status":{"loadBalancer":{"ingress":[{"ip":"127.0.2.1"}]}}})");
  CHECK(to_yaml(v) ==
        "apiVersion: v1\n"
        "kind: Service\n"
        "metadata:\n"
        "  creationTimestamp: \"2024-05-01T12:00:00Z\"\n"
        "  name: kuard\n"
        "spec:\n"
        "  ports:\n"
        "  - port: 80\n"
        "    protocol: TCP\n"
        "    targetPort: 8080\n"
        "  selector:\n"
        "    app: kuard\n"
        "  type: LoadBalancer\n"
        "status:\n"
        "  loadBalancer:\n"
        "    ingress:\n"
        "    - ip: 127.0.2.1\n");
}

TEST_CASE("strings are quoted when they would read as something else") {
  struct Case {
    const char* value;
    const char* printed;
  };
  const std::vector<Case> cases = {
      {"plain", "plain"},
      {"true", "\"true\""},
      {"yes", "\"yes\""},
      {"n", "\"n\""},
      {"123", "\"123\""},
      {"0777", "\"0777\""},
      {"1e3", "\"1e3\""},
      {"1.5", "\"1.5\""},
      {"null", "\"null\""},
      {"~", "\"~\""},
      {"", "\"\""},
      {"1:20", "\"1:20\""},
      {"2024-01-01", "\"2024-01-01\""},
      {"*", "'*'"},
      {"- a", "'- a'"},
      {"a: b", "'a: b'"},
      {"a:b", "a:b"},
      {"foo:", "'foo:'"},
      {"a #b", "'a #b'"},
      {"a#b", "a#b"},
      {"#x", "'#x'"},
      {"@x", "'@x'"},
      {"{x}", "'{x}'"},
      {" lead", "' lead'"},
      {"trail ", "'trail '"},
      {"it's", "it's"},
      {"'q'", "'''q'''"},
      {"a\tb", "\"a\\tb\""},
      {"bell\x07", "\"bell\\a\""},
      {"caf\xc3\xa9", "caf\xc3\xa9"},
      {"kuard:v1", "kuard:v1"},
      {"/dev/termination-log", "/dev/termination-log"},
      {"50%", "50%"},
      {"---", "'---'"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.value) {
      boost::json::object o;
      o["k"] = c.value;
      CHECK(to_yaml(o) == std::string("k: ") + c.printed + "\n");
      // And it reads back as the same string.
      CHECK(parse_one(to_yaml(o)) == boost::json::value(o));
    }
  }
}

TEST_CASE("multi-line strings are literal blocks with the right chomping") {
  struct Case {
    const char* value;
    const char* printed;
  };
  const std::vector<Case> cases = {
      {"line1\nline2\n", "k: |\n  line1\n  line2\n"},
      {"line1\nline2", "k: |-\n  line1\n  line2\n"},
      {"x\n\n", "k: |+\n  x\n\n"},
      {"a\n\nb\n", "k: |\n  a\n\n  b\n"},
      {" indented\nnext\n", "k: |2\n   indented\n  next\n"},
      {"trailing \nspace\n", "k: \"trailing \\nspace\\n\"\n"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.printed) {
      boost::json::object o;
      o["k"] = c.value;
      CHECK(to_yaml(o) == c.printed);
      CHECK(parse_one(to_yaml(o)) == boost::json::value(o));
    }
  }
  SUBCASE("inside a list item") {
    const auto v = json(R"({"args":["-c","echo hi\necho bye\n"]})");
    CHECK(to_yaml(v) == "args:\n- -c\n- |\n  echo hi\n  echo bye\n");
    CHECK(parse_one(to_yaml(v)) == v);
  }
}

TEST_CASE("keys sort in go-yaml's natural order") {
  const auto v = json(R"({"b":1,"a10":2,"a9":3,"A":4,"_x":5,"a":6})");
  CHECK(to_yaml(v) == "_x: 5\nA: 4\na: 6\na9: 3\na10: 2\nb: 1\n");
}

TEST_CASE("collections, scalars and documents") {
  SUBCASE("nested sequences and maps in sequences") {
    const auto v = json(R"({"a":[[1,2],[3]],"b":[{"y":[],"x":{}}],"c":[],"d":{}})");
    CHECK(to_yaml(v) ==
          "a:\n"
          "- - 1\n"
          "  - 2\n"
          "- - 3\n"
          "b:\n"
          "- x: {}\n"
          "  \"y\": []\n"  // go-yaml v2 reads a bare y as a boolean, so it quotes the key
          "c: []\n"
          "d: {}\n");
    CHECK(parse_one(to_yaml(v)) == v);
  }
  SUBCASE("a map in a map in a list") {
    const auto v = json(R"([{"a":{"b":1},"c":2}])");
    CHECK(to_yaml(v) == "- a:\n    b: 1\n  c: 2\n");
    CHECK(parse_one(to_yaml(v)) == v);
  }
  SUBCASE("root scalars and empties") {
    CHECK(to_yaml(json("\"x\"")) == "x\n");
    CHECK(to_yaml(json("{}")) == "{}\n");
    CHECK(to_yaml(json("[]")) == "[]\n");
    CHECK(to_yaml(json("null")) == "null\n");
  }
  SUBCASE("numbers as Go prints them") {
    const auto v = json(R"({"a":0.5,"b":1000000.0,"c":1.5e-7,"d":123456.0,"e":-3,"f":true})");
    CHECK(to_yaml(v) == "a: 0.5\nb: 1e+06\nc: 1.5e-07\nd: 123456\ne: -3\nf: true\n");
  }
  SUBCASE("several documents") {
    CHECK(to_yaml(std::vector<boost::json::value>{json(R"({"a":1})"), json(R"({"b":2})")}) ==
          "a: 1\n---\nb: 2\n");
  }
}

TEST_CASE("long strings fold at spaces past column 80, as go-yaml does") {
  std::string text;
  for (int i = 0; i < 30; ++i) text += "word ";
  text += "end";
  boost::json::object o;
  o["description"] = text;
  const std::string out = to_yaml(o);
  CHECK(out.find("\n  word") != std::string::npos);
  // Every line but the last ends right after the first space past column 80.
  std::size_t start = 0;
  while (true) {
    const std::size_t nl = out.find('\n', start);
    if (nl == std::string::npos || nl + 1 == out.size()) break;
    CHECK(nl - start > 80);
    CHECK(nl - start <= 86);
    start = nl + 1;
  }
  CHECK(parse_one(out) == boost::json::value(o));
  // A key is never folded.
  boost::json::object k;
  k[text] = 1;
  CHECK(to_yaml(k).find('\n') == to_yaml(k).size() - 1);
}

TEST_CASE("YAML -> JSON -> YAML -> JSON is stable for realistic manifests") {
  const std::string manifest =
      "apiVersion: apps/v1\n"
      "kind: Deployment\n"
      "metadata:\n"
      "  name: web\n"
      "  labels: {app: web, tier: \"frontend\"}\n"
      "  annotations:\n"
      "    note: |\n"
      "      multi\n"
      "      line\n"
      "spec:\n"
      "  replicas: 3\n"
      "  selector:\n"
      "    matchLabels:\n"
      "      app: web\n"
      "  template:\n"
      "    metadata:\n"
      "      labels:\n"
      "        app: web\n"
      "    spec:\n"
      "      containers:\n"
      "        - name: web\n"
      "          image: nginx:1.25\n"
      "          args: [\"--port\", '8080', --verbose]\n"
      "          env:\n"
      "            - name: ENABLED\n"
      "              value: \"true\"\n"
      "            - name: RATIO\n"
      "              value: '0.5'\n"
      "          ports:\n"
      "            - containerPort: 8080\n"
      "          resources:\n"
      "            limits: {cpu: 500m, memory: 128Mi}\n"
      "      volumes:\n"
      "        - name: cfg\n"
      "          configMap: {name: web, defaultMode: 0644}\n"
      "---\n"
      "apiVersion: v1\n"
      "kind: Service\n"
      "metadata: {name: web}\n"
      "spec:\n"
      "  ports: [{port: 80, targetPort: 8080}]\n"
      "  selector: {app: web}\n";
  auto first = parse_yaml(manifest);
  REQUIRE_MESSAGE(first.ok(), first.status().to_string());
  REQUIRE(first->size() == 2);
  CHECK((*first)[0].at("spec").at("template").at("spec").at("volumes").at(0).at("configMap").at(
            "defaultMode") == 420);
  auto second = parse_yaml(to_yaml(*first));
  REQUIRE_MESSAGE(second.ok(), second.status().to_string());
  CHECK(*second == *first);
  // Every kind's realistic manifest survives the trip too.
  for (const auto& m : testing::all_manifests()) {
    const auto v = json(m.json);
    auto back = parse_yaml(to_yaml(v));
    REQUIRE(back.ok());
    REQUIRE(back->size() == 1);
    CHECK_MESSAGE(back->front() == v, m.kind);
  }
}

}  // namespace
}  // namespace orch::api
