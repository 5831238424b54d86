// orchctl without a server: flags, JSONPath, tables, JSON, apply's three-way merge, and the
// commands that print before (or instead of) talking to a server.
#include <doctest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "orch/cli/orchctl.hpp"

namespace json = boost::json;
using orch::cli::Args;

namespace {

json::value J(std::string_view text) { return json::parse(text); }

struct Run {
  int rc;
  std::string out, err;
};

Run orchctl(std::vector<std::string> args, std::string stdin_text = "") {
  std::ostringstream out, err;
  std::istringstream in(stdin_text);
  int rc = orch::cli::run_orchctl(args, out, err, in);
  return {rc, out.str(), err.str()};
}

// A kubeconfig pointing at a port nothing listens on.
struct TempKubeconfig {
  std::filesystem::path dir;
  std::string path;
  TempKubeconfig() {
    dir = std::filesystem::temp_directory_path() / ("orchctl-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    path = (dir / "config").string();
    std::ofstream(path) << "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
                           "    server: http://127.0.0.1:1\ncontexts:\n- name: ctx\n  context:\n"
                           "    cluster: c\n    user: u\n    namespace: team\nusers:\n- name: u\n"
                           "  user: {}\ncurrent-context: ctx\n";
  }
  ~TempKubeconfig() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace

TEST_CASE("parse_args: flags anywhere, short and long forms") {
  auto a = orch::cli::parse_args({"get", "-n", "kube-system", "pods", "--output=wide", "-A", "-lapp=web"});
  REQUIRE(a.ok());
  CHECK(a->positional == std::vector<std::string>{"get", "pods"});
  CHECK(a->get("namespace") == "kube-system");
  CHECK(a->get("output") == "wide");
  CHECK(a->flag("all-namespaces"));
  CHECK(a->get("selector") == "app=web");

  auto env = orch::cli::parse_args({"run", "x", "--env", "A=1", "--env=B=2", "--image", "img"});
  REQUIRE(env.ok());
  CHECK(env->all("env") == std::vector<std::string>{"A=1", "B=2"});
  CHECK(env->get("image") == "img");

  auto logs = orch::cli::parse_args({"logs", "-f", "pod", "-c", "main"});
  REQUIRE(logs.ok());
  CHECK(logs->flag("follow"));
  CHECK(logs->get("container") == "main");
  auto apply = orch::cli::parse_args({"apply", "-f", "x.yaml", "-f", "-"});
  REQUIRE(apply.ok());
  CHECK(apply->all("filename") == std::vector<std::string>{"x.yaml", "-"});

  auto wait = orch::cli::parse_args({"delete", "pod", "x", "--wait=false"});
  REQUIRE(wait.ok());
  CHECK_FALSE(wait->flag("wait", true));
  auto dashdash = orch::cli::parse_args({"get", "--", "-x"});
  REQUIRE(dashdash.ok());
  CHECK(dashdash->positional.back() == "-x");
}

TEST_CASE("parse_args: errors in kubectl's wording") {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"get", "--bogus"}, "unknown flag: --bogus"},
      {{"get", "-z"}, "unknown shorthand flag: 'z' in -z"},
      {{"get", "pods", "--namespace"}, "flag needs an argument: --namespace"},
  };
  for (const auto& c : cases) {
    auto a = orch::cli::parse_args(c.args);
    REQUIRE_FALSE(a.ok());
    CHECK(a.status().message() == c.message);
  }
}

TEST_CASE("jsonpath: fields, lists, ranges, filters, literals") {
  json::value list = J(R"({"items":[
      {"metadata":{"name":"a","labels":{"app":"x"}},"status":{"conditions":[{"type":"Ready","status":"True"}],"n":1}},
      {"metadata":{"name":"b"},"status":{"conditions":[{"type":"Ready","status":"False"}],"n":2}}]})");
  struct Case {
    std::string tmpl, want;
  } cases[] = {
      {"{.items[*].metadata.name}", "a b"},
      {"{.items[0].metadata.name}", "a"},
      {"{.items[-1].metadata.name}", "b"},
      {"{.items[0:1].metadata.name}", "a"},
      {"{range .items[*]}{.metadata.name}{\"\\n\"}{end}", "a\nb\n"},
      {"{.items[?(@.metadata.name==\"b\")].status.n}", "2"},
      {"{.items[*].status.conditions[?(@.type==\"Ready\")].status}", "True False"},
      {"{.items[0].metadata.labels}", "{\"app\":\"x\"}"},
      {"{..name}", "a b"},
      {"names: {.items[*].metadata.name}!", "names: a b!"},
      {".items[1].metadata.name", "b"},
      {"{.items[*].missing}", ""},
      {"{range .items[*]}[{.metadata.name}]{end}", "[a][b]"},
      {"{.items[?(@.status.n>1)].metadata.name}", "b"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.tmpl);
    auto r = orch::cli::eval_jsonpath(c.tmpl, list);
    REQUIRE(r.ok());
    CHECK(*r == c.want);
  }
  CHECK_FALSE(orch::cli::eval_jsonpath("{.items[0]", list).ok());
  CHECK_FALSE(orch::cli::eval_jsonpath("{range .items[*]}{.x}", list).ok());
  CHECK_FALSE(orch::cli::eval_jsonpath("{.nope}", list, true).ok());
}

TEST_CASE("format_table: kubectl's columns, padding, wide, namespace, kind prefix, labels") {
  json::value t = J(R"({"kind":"Table","columnDefinitions":[
      {"name":"Name","priority":0},{"name":"Ready","priority":0},{"name":"Restarts","type":"integer","priority":0},
      {"name":"IP","priority":1},{"name":"Age","priority":0}],
    "rows":[{"cells":["kuard","1/1",0,"10.0.0.1","5m"],"object":{"metadata":{"namespace":"default","labels":{"run":"kuard"}}}},
            {"cells":["a-much-longer-name","0/1",12,"<none>","10s"],"object":{"metadata":{"namespace":"kube-system"}}}]})");
  orch::cli::TableOptions o;
  CHECK(orch::cli::format_table(t, o) ==
        "NAME                 READY   RESTARTS   AGE\n"
        "kuard                1/1     0          5m\n"
        "a-much-longer-name   0/1     12         10s\n");
  o.wide = true;
  CHECK(orch::cli::format_table(t, o) ==
        "NAME                 READY   RESTARTS   IP         AGE\n"
        "kuard                1/1     0          10.0.0.1   5m\n"
        "a-much-longer-name   0/1     12         <none>     10s\n");
  o = {};
  o.with_namespace = true;
  o.kind_prefix = "pod/";
  o.no_headers = true;
  o.show_labels = true;
  CHECK(orch::cli::format_table(t, o) ==
        "default       pod/kuard                1/1   0    5m    run=kuard\n"
        "kube-system   pod/a-much-longer-name   0/1   12   10s   <none>\n");
}

TEST_CASE("go_json sorts keys and escapes as Go; pretty_json indents by 4") {
  CHECK(orch::cli::go_json(J(R"({"b":1,"a":{"d":"<x&y>","c":[true,null]}})")) ==
        R"({"a":{"c":[true,null],"d":"\u003cx\u0026y\u003e"},"b":1})");
  CHECK(orch::cli::pretty_json(J(R"({"c":[],"a":[1,{"b":{}}]})")) ==
        "{\n    \"a\": [\n        1,\n        {\n            \"b\": {}\n        }\n    ],\n    \"c\": []\n}");
}

TEST_CASE("human_duration as kubectl's ages") {
  CHECK(orch::cli::human_duration(5) == "5s");
  CHECK(orch::cli::human_duration(119) == "119s");
  CHECK(orch::cli::human_duration(150) == "2m30s");
  CHECK(orch::cli::human_duration(600) == "10m");
  CHECK(orch::cli::human_duration(3 * 3600 + 60) == "3h1m");
  CHECK(orch::cli::human_duration(30 * 3600) == "30h");
  CHECK(orch::cli::human_duration(3 * 86400) == "3d");
}

TEST_CASE("three_way_merge_patch: kubectl apply's intent") {
  struct Case {
    const char* name;
    const char* original;
    const char* modified;
    const char* current;
    const char* want;
  } cases[] = {
      {"unchanged despite server defaults", R"({"spec":{"replicas":2,"c":[{"name":"a","image":"x"}]}})",
       R"({"spec":{"replicas":2,"c":[{"name":"a","image":"x"}]}})",
       R"({"spec":{"replicas":2,"c":[{"name":"a","image":"x","pull":"Always"}],"strategy":{}},"status":{}})", "{}"},
      {"changed scalar", R"({"spec":{"replicas":2}})", R"({"spec":{"replicas":3}})", R"({"spec":{"replicas":2}})",
       R"({"spec":{"replicas":3}})"},
      {"overwrites a live change to a field the user owns", R"({"spec":{"replicas":2}})", R"({"spec":{"replicas":2}})",
       R"({"spec":{"replicas":9}})", R"({"spec":{"replicas":2}})"},
      {"field removed from the file is deleted", R"({"metadata":{"labels":{"a":"1","b":"2"}}})",
       R"({"metadata":{"labels":{"a":"1"}}})", R"({"metadata":{"labels":{"a":"1","b":"2","c":"3"}}})",
       R"({"metadata":{"labels":{"b":null}}})"},
      {"field set by others is kept", R"({"metadata":{"labels":{"a":"1"}}})", R"({"metadata":{"labels":{"a":"1"}}})",
       R"({"metadata":{"labels":{"a":"1","c":"3"}}})", "{}"},
      {"list edited by the user is replaced", R"({"c":[{"name":"a","image":"x","ports":[1]}]})",
       R"({"c":[{"name":"a","image":"x"}]})", R"({"c":[{"name":"a","image":"x","ports":[1]}]})",
       R"({"c":[{"name":"a","image":"x"}]})"},
      {"live list change is reverted", R"({"c":[{"name":"a","image":"x"}]})", R"({"c":[{"name":"a","image":"x"}]})",
       R"({"c":[{"name":"a","image":"y"}]})", R"({"c":[{"name":"a","image":"x"}]})"},
      {"no original: adds, never deletes", "null", R"({"a":1,"b":{"c":2}})", R"({"a":1,"d":4})", R"({"b":{"c":2}})"},
      {"removed field already gone: nothing", R"({"a":1,"b":2})", R"({"a":1})", R"({"a":1})", "{}"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(orch::cli::three_way_merge_patch(J(c.original), J(c.modified), J(c.current)) == J(c.want));
  }
}

TEST_CASE("run --dry-run=client -o yaml prints kubectl 1.32's document without a server") {
  TempKubeconfig kc;
  auto r = orchctl({"--kubeconfig", kc.path, "run", "kuard", "--image=gcr.io/kuar-demo/kuard-amd64:blue",
                    "--port=8080", "--env=A=b", "--dry-run=client", "-o", "yaml"});
  CHECK(r.rc == 0);
  CHECK(r.out ==
        "apiVersion: v1\n"
        "kind: Pod\n"
        "metadata:\n"
        "  creationTimestamp: null\n"
        "  labels:\n"
        "    run: kuard\n"
        "  name: kuard\n"
        "spec:\n"
        "  containers:\n"
        "  - env:\n"
        "    - name: A\n"
        "      value: b\n"
        "    image: gcr.io/kuar-demo/kuard-amd64:blue\n"
        "    name: kuard\n"
        "    ports:\n"
        "    - containerPort: 8080\n"
        "    resources: {}\n"
        "  dnsPolicy: ClusterFirst\n"
        "  restartPolicy: Always\n"
        "status: {}\n");
  auto d = orchctl({"--kubeconfig", kc.path, "create", "deployment", "web", "--image=nginx", "--replicas=5",
                    "--dry-run=client", "-o", "yaml"});
  CHECK(d.rc == 0);
  CHECK(d.out ==
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  creationTimestamp: null\n  labels:\n    app: web\n"
        "  name: web\nspec:\n  replicas: 5\n  selector:\n    matchLabels:\n      app: web\n  strategy: {}\n"
        "  template:\n    metadata:\n      creationTimestamp: null\n      labels:\n        app: web\n    spec:\n"
        "      containers:\n      - image: nginx\n        name: nginx\n        resources: {}\nstatus: {}\n");
  auto name = orchctl({"--kubeconfig", kc.path, "run", "x", "--image=i", "--dry-run=client"});
  CHECK(name.out == "pod/x created (dry run)\n");
}

TEST_CASE("errors: one line in kubectl's wording, exit 1") {
  TempKubeconfig kc;
  struct Case {
    std::vector<std::string> args;
    std::string err;
  } cases[] = {
      {{"--kubeconfig", "/nonexistent/orchctl-config", "get", "pods"},
       "error: stat /nonexistent/orchctl-config: no such file or directory\n"},
      {{"--kubeconfig", kc.path, "get", "foo"}, "error: the server doesn't have a resource type \"foo\"\n"},
      {{"--kubeconfig", kc.path, "get", "pods"},
       "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?\n"},
      {{"--kubeconfig", kc.path, "frobnicate"}, "error: unknown command \"frobnicate\" for \"orchctl\"\n"},
      {{"--kubeconfig", kc.path, "--context", "nope", "get", "pods"}, ""},
      {{"get", "--bogus"}, "error: unknown flag: --bogus\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.args);
    auto r = orchctl(c.args);
    CHECK(r.rc == 1);
    if (!c.err.empty()) CHECK(r.err == c.err);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}

TEST_CASE("config: current-context, get-contexts, view, use-context over merged KUBECONFIG") {
  TempKubeconfig kc;
  auto second = (kc.dir / "second").string();
  std::ofstream(second) << "apiVersion: v1\nkind: Config\nclusters:\n- name: c2\n  cluster:\n"
                           "    server: http://127.0.0.1:2\ncontexts:\n- name: other\n  context:\n"
                           "    cluster: c2\n    user: u\nusers: []\ncurrent-context: other\n";
  std::string old = std::getenv("KUBECONFIG") ? std::getenv("KUBECONFIG") : "";
  ::setenv("KUBECONFIG", (kc.path + ":" + second).c_str(), 1);
  auto cur = orchctl({"config", "current-context"});
  CHECK(cur.out == "ctx\n");
  auto ctxs = orchctl({"config", "get-contexts"});
  CHECK(ctxs.out ==
        "CURRENT   NAME    CLUSTER   AUTHINFO   NAMESPACE\n"
        "*         ctx     c         u          team\n"
        "          other   c2        u          \n");
  auto use = orchctl({"config", "use-context", "other"});
  CHECK(use.rc == 0);
  CHECK(use.out == "Switched to context \"other\".\n");
  CHECK(orchctl({"config", "current-context"}).out == "other\n");
  CHECK(orchctl({"config", "use-context", "missing"}).rc == 1);
  CHECK(orchctl({"config", "view"}).out.find("server: http://127.0.0.1:2") != std::string::npos);
  // The context's namespace is the default for commands (the dry-run document shows none, but
  // the connection error names the other context's server).
  auto r = orchctl({"get", "pods"});
  CHECK(r.err == "The connection to the server 127.0.0.1:2 was refused - did you specify the right host or port?\n");
  if (old.empty()) ::unsetenv("KUBECONFIG");
  else ::setenv("KUBECONFIG", old.c_str(), 1);
}

TEST_CASE("api-resources lists the registry's kinds") {
  auto r = orchctl({"api-resources"});
  CHECK(r.rc == 0);
  CHECK(r.out.starts_with("NAME"));
  CHECK(r.out.find("deployments ") != std::string::npos);
  CHECK(r.out.find(" deploy ") != std::string::npos);
}
