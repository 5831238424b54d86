// The DaemonSet controller's pure parts: node eligibility (selector, affinity, taints with the
// automatic tolerations), the pod built for a node, maxUnavailable and the rolling update's
// choice of pods.
#include <doctest.h>

#include <boost/json.hpp>

#include <string>
#include <vector>

#include "daemonset_controller_util.hpp"

namespace orch::controller::daemonset {
namespace {

namespace json = boost::json;

json::value node(const char* name, const char* labels = "{}", const char* taints = "[]") {
  return json::parse(std::string(R"({"metadata":{"name":")") + name + R"(","labels":)" + labels +
                     R"(},"spec":{"taints":)" + taints + "}}");
}

json::value tmpl(const char* spec) {
  return json::parse(std::string(R"({"metadata":{"labels":{"app":"agent"}},"spec":)") + spec + "}");
}

TEST_CASE("node_fit: selector, affinity and taints decide where a daemon pod runs") {
  struct Case {
    const char* name;
    json::value node;
    json::value tmpl;
    bool should_run;
    bool should_continue;
  };
  const char* plain = R"({"containers":[{"name":"c","image":"i"}]})";
  const std::vector<Case> cases = {
      {"plain node", node("n1"), tmpl(plain), true, true},
      {"nodeSelector matches", node("n1", R"({"disk":"ssd"})"),
       tmpl(R"({"nodeSelector":{"disk":"ssd"}})"), true, true},
      {"nodeSelector mismatch", node("n1", R"({"disk":"hdd"})"),
       tmpl(R"({"nodeSelector":{"disk":"ssd"}})"), false, false},
      {"nodeSelector label missing", node("n1"), tmpl(R"({"nodeSelector":{"disk":"ssd"}})"),
       false, false},
      {"affinity In matches", node("n1", R"({"zone":"a"})"),
       tmpl(R"({"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"In","values":["a","b"]}]}]}}}})"),
       true, true},
      {"affinity NotIn excludes", node("n1", R"({"zone":"a"})"),
       tmpl(R"({"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["a"]}]}]}}}})"),
       false, false},
      {"affinity matchFields by name", node("n2"),
       tmpl(R"({"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]},{"matchFields":[{"key":"metadata.name","operator":"In","values":["n2"]}]}]}}}})"),
       true, true},
      {"untolerated NoSchedule: no new pod, existing stays",
       node("n1", "{}", R"([{"key":"dedicated","value":"db","effect":"NoSchedule"}])"),
       tmpl(plain), false, true},
      {"untolerated NoExecute: neither",
       node("n1", "{}", R"([{"key":"dedicated","value":"db","effect":"NoExecute"}])"),
       tmpl(plain), false, false},
      {"PreferNoSchedule is ignored",
       node("n1", "{}", R"([{"key":"dedicated","value":"db","effect":"PreferNoSchedule"}])"),
       tmpl(plain), true, true},
      {"tolerated by Equal",
       node("n1", "{}", R"([{"key":"dedicated","value":"db","effect":"NoSchedule"}])"),
       tmpl(R"({"tolerations":[{"key":"dedicated","operator":"Equal","value":"db","effect":"NoSchedule"}]})"),
       true, true},
      {"Equal with another value does not tolerate",
       node("n1", "{}", R"([{"key":"dedicated","value":"db","effect":"NoSchedule"}])"),
       tmpl(R"({"tolerations":[{"key":"dedicated","value":"web"}]})"), false, true},
      {"tolerated by Exists without key",
       node("n1", "{}", R"([{"key":"x","effect":"NoExecute"}])"),
       tmpl(R"({"tolerations":[{"operator":"Exists"}]})"), true, true},
      {"automatic: unschedulable",
       node("n1", "{}", R"([{"key":"node.kubernetes.io/unschedulable","effect":"NoSchedule"}])"),
       tmpl(plain), true, true},
      {"automatic: not-ready",
       node("n1", "{}", R"([{"key":"node.kubernetes.io/not-ready","effect":"NoExecute"}])"),
       tmpl(plain), true, true},
      {"automatic: memory-pressure",
       node("n1", "{}", R"([{"key":"node.kubernetes.io/memory-pressure","effect":"NoSchedule"}])"),
       tmpl(plain), true, true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    NodeFit fit = node_fit(c.node, c.tmpl);
    CHECK(fit.should_run == c.should_run);
    CHECK(fit.should_continue_running == c.should_continue);
  }
}

TEST_CASE("the pod for a node is pinned to it by matchFields and tolerates node conditions") {
  json::value ds = json::parse(R"({"metadata":{"name":"agent","namespace":"kube-system","uid":"u-9","generation":4},
    "spec":{"template":{"metadata":{"labels":{"app":"agent"}},"spec":{
      "containers":[{"name":"c","image":"i"}],
      "tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute"}],
      "affinity":{"nodeAffinity":{
        "requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"Exists"}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution":[{"weight":1,"preference":{"matchExpressions":[{"key":"a","operator":"Exists"}]}}]}}}}}})");
  json::value pod = build_pod(ds, "h4sh", "node-7");
  const auto& meta = pod.at("metadata");
  CHECK(meta.at("generateName") == "agent-");
  CHECK(meta.at("namespace") == "kube-system");
  CHECK(meta.at("labels").at("app") == "agent");
  CHECK(meta.at("labels").at(kRevisionLabel) == "h4sh");
  CHECK(meta.at("labels").at(kTemplateGenerationLabel) == "4");
  CHECK(meta.at("ownerReferences").at(0).at("kind") == "DaemonSet");
  CHECK(meta.at("ownerReferences").at(0).at("uid") == "u-9");
  const auto& spec = pod.at("spec");
  const auto& terms = spec.at("affinity").at("nodeAffinity")
                          .at("requiredDuringSchedulingIgnoredDuringExecution").at("nodeSelectorTerms");
  REQUIRE(terms.as_array().size() == 1);
  CHECK(terms.at(0).at("matchFields").at(0).at("key") == "metadata.name");
  CHECK(terms.at(0).at("matchFields").at(0).at("values").at(0) == "node-7");
  CHECK(spec.at("affinity").at("nodeAffinity").as_object().contains(
      "preferredDuringSchedulingIgnoredDuringExecution"));
  // The template's not-ready toleration is not duplicated; the other five are added.
  CHECK(spec.at("tolerations").as_array().size() == 6);
  CHECK(pod_node(pod) == "node-7");
  json::value bound = pod;
  bound.as_object()["spec"].as_object()["nodeName"] = "node-8";
  CHECK(pod_node(bound) == "node-8");
  CHECK(pod_node(json::parse(R"({"spec":{}})")).empty());
}

TEST_CASE("template hash is stable and changes with the template") {
  json::value a = tmpl(R"({"containers":[{"name":"c","image":"i:1"}]})");
  json::value b = tmpl(R"({"containers":[{"name":"c","image":"i:2"}]})");
  CHECK(template_hash(a) == template_hash(a));
  CHECK(template_hash(a) != template_hash(b));
  CHECK(!template_hash(a).empty());
}

TEST_CASE("maxUnavailable: int, percentage rounded up, default 1, never 0") {
  struct Case {
    const char* value;  // JSON, or nullptr for absent
    int desired;
    int want;
  };
  const std::vector<Case> cases = {{nullptr, 10, 1}, {"3", 10, 3},   {R"("25%")", 10, 3},
                                   {R"("50%")", 3, 2}, {R"("0%")", 10, 1}, {"0", 10, 1},
                                   {R"("100%")", 4, 4}, {R"("2")", 10, 2}};
  for (const auto& c : cases) {
    CAPTURE(c.value ? c.value : "absent");
    CAPTURE(c.desired);
    if (c.value) {
      json::value v = json::parse(c.value);
      CHECK(max_unavailable(&v, c.desired) == c.want);
    } else {
      CHECK(max_unavailable(nullptr, c.desired) == c.want);
    }
  }
}

TEST_CASE("rolling update deletes unavailable old pods freely and available ones within budget") {
  struct Case {
    const char* name;
    std::vector<NodePod> pods;
    int unavailable;
    int max_unavailable;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"one at a time", {{"a", "p-a", true, true}, {"b", "p-b", true, true}, {"c", "p-c", true, true}},
       0, 1, {"p-a"}},
      {"budget of two", {{"a", "p-a", true, true}, {"b", "p-b", true, true}, {"c", "p-c", true, true}},
       0, 2, {"p-a", "p-b"}},
      {"budget used by a missing pod", {{"a", "p-a", true, true}, {"b", "p-b", true, true}}, 1, 1, {}},
      {"unavailable old pods go regardless", {{"a", "p-a", true, false}, {"b", "p-b", true, true}},
       1, 1, {"p-a"}},
      {"new pods are kept", {{"a", "p-a", false, true}, {"b", "p-b", false, false}}, 1, 1, {}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(rolling_update_deletes(c.pods, c.unavailable, c.max_unavailable) == c.want);
  }
}

}  // namespace
}  // namespace orch::controller::daemonset
