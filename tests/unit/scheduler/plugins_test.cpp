// Table-driven tests of each built-in scheduler plugin, on pods and nodes parsed from JSON.
#include <doctest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "orch/scheduler/framework.hpp"
#include "orch/scheduler/plugins.hpp"
#include "orch/scheduler/types.hpp"

namespace orch::scheduler {
namespace {

namespace json = boost::json;

PodInfoPtr pod_from(const std::string& spec_json, const std::string& meta_extra = "") {
  std::string text = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default")" +
                     meta_extra + R"(},"spec":)" + spec_json + "}";
  auto obj = std::make_shared<const json::value>(json::parse(text));
  auto p = parse_pod(obj);
  REQUIRE_MESSAGE(p.ok(), p.status().to_string());
  return *p;
}

NodeInfo node_from(const std::string& json_text) {
  NodeInfo n;
  auto st = parse_node(json::parse(json_text), n);
  REQUIRE_MESSAGE(st.ok(), st.to_string());
  return n;
}

// A node "n1" with labels, spec and allocatable as given.
NodeInfo node(const std::string& labels = "{}", const std::string& spec = "{}",
              const std::string& allocatable = R"({"cpu":"4","memory":"8Gi","pods":"110"})",
              const std::string& name = "n1") {
  return node_from(R"({"metadata":{"name":")" + name + R"(","labels":)" + labels +
                   R"(},"spec":)" + spec + R"(,"status":{"allocatable":)" + allocatable + "}}");
}

std::string containers(const std::string& requests) {
  return R"([{"name":"c","image":"i","resources":{"requests":)" + requests + "}}]";
}

TEST_CASE("NodeUnschedulable: a cordoned node takes only pods tolerating the unschedulable taint") {
  struct Case {
    const char* name;
    std::string node_spec;
    std::string tolerations;
    bool fits;
  };
  const std::vector<Case> cases = {
      {"schedulable node", "{}", "[]", true},
      {"cordoned node", R"({"unschedulable":true})", "[]", false},
      {"cordoned, tolerated by key", R"({"unschedulable":true})",
       R"([{"key":"node.kubernetes.io/unschedulable","operator":"Exists","effect":"NoSchedule"}])",
       true},
      {"cordoned, tolerate everything", R"({"unschedulable":true})", R"([{"operator":"Exists"}])",
       true},
      {"cordoned, other key", R"({"unschedulable":true})",
       R"([{"key":"other","operator":"Exists"}])", false},
  };
  NodeUnschedulable plugin;
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      auto p = pod_from(R"({"containers":[],"tolerations":)" + c.tolerations + "}");
      auto s = plugin.filter(CycleState{}, *p, node("{}", c.node_spec));
      CHECK(s.ok() == c.fits);
      if (!c.fits) CHECK(s.message() == "node(s) were unschedulable");
    }
  }
}

TEST_CASE("NodeName: only the named node fits") {
  NodeName plugin;
  auto any = pod_from(R"({"containers":[]})");
  auto named = pod_from(R"({"containers":[],"nodeName":"n2"})");
  CHECK(plugin.filter(CycleState{}, *any, node()).ok());
  CHECK(plugin.filter(CycleState{}, *named, node("{}", "{}", R"({"pods":"1"})", "n2")).ok());
  auto s = plugin.filter(CycleState{}, *named, node());
  CHECK(s.is_unschedulable());
  CHECK(s.message() == "node(s) didn't match the requested node name");
}

TEST_CASE("NodeResourcesFit: requests against allocatable minus what is on the node") {
  struct Case {
    const char* name;
    std::string spec;
    std::string allocatable;
    Resources already;  // requested by pods on the node
    std::int64_t pods_on_node;
    std::vector<std::string> reasons;  // empty: fits
  };
  const std::string alloc = R"({"cpu":"2","memory":"4Gi","ephemeral-storage":"10Gi","pods":"3"})";
  const std::vector<Case> cases = {
      {"fits", R"({"containers":)" + containers(R"({"cpu":"1","memory":"1Gi"})") + "}", alloc, {}, 0, {}},
      {"exactly fits", R"({"containers":)" + containers(R"({"cpu":"2","memory":"4Gi"})") + "}", alloc, {}, 0, {}},
      {"too much cpu", R"({"containers":)" + containers(R"({"cpu":"2500m"})") + "}", alloc, {}, 0,
       {"Insufficient cpu"}},
      {"cpu taken by others", R"({"containers":)" + containers(R"({"cpu":"1500m"})") + "}", alloc,
       {1000, 0, 0, 0}, 1, {"Insufficient cpu"}},
      {"cpu and memory", R"({"containers":)" + containers(R"({"cpu":"3","memory":"5Gi"})") + "}",
       alloc, {}, 0, {"Insufficient cpu", "Insufficient memory"}},
      {"ephemeral storage", R"({"containers":)" + containers(R"({"ephemeral-storage":"11Gi"})") + "}",
       alloc, {}, 0, {"Insufficient ephemeral-storage"}},
      {"too many pods", R"({"containers":[]})", alloc, {}, 3, {"Too many pods"}},
      {"no requests fit a full node", R"({"containers":[]})", alloc, {2000, 0, 0, 0}, 1, {}},
      {"two containers add up", R"({"containers":[{"name":"a","resources":{"requests":{"cpu":"1"}}},
         {"name":"b","resources":{"requests":{"cpu":"1500m"}}}]})", alloc, {}, 0, {"Insufficient cpu"}},
      {"init container max rule: a big init container counts alone",
       R"({"initContainers":[{"name":"i","resources":{"requests":{"cpu":"3"}}}],
           "containers":[{"name":"a","resources":{"requests":{"cpu":"1"}}}]})", alloc, {}, 0,
       {"Insufficient cpu"}},
      {"init container max rule: init and main are not summed",
       R"({"initContainers":[{"name":"i","resources":{"requests":{"cpu":"2"}}}],
           "containers":[{"name":"a","resources":{"requests":{"cpu":"2"}}}]})", alloc, {}, 0, {}},
      {"limits stand in for missing requests", R"({"containers":[{"name":"a","resources":{"limits":{"cpu":"3"}}}]})",
       alloc, {}, 0, {"Insufficient cpu"}},
      {"overhead counts", R"({"overhead":{"cpu":"500m"},"containers":)" + containers(R"({"cpu":"1800m"})") + "}",
       alloc, {}, 0, {"Insufficient cpu"}},
  };
  NodeResourcesFit plugin;
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      auto p = pod_from(c.spec);
      NodeInfo n = node("{}", "{}", c.allocatable);
      n.requested = c.already;
      n.pod_count = c.pods_on_node;
      auto s = plugin.filter(CycleState{}, *p, n);
      if (c.reasons.empty()) {
        CHECK_MESSAGE(s.ok(), s.message());
      } else {
        CHECK(s.code() == PluginStatus::Code::Unschedulable);
        CHECK(s.reasons() == c.reasons);
      }
    }
  }
}

TEST_CASE("NodeAffinity: nodeSelector and required node affinity") {
  const std::string labels = R"({"zone":"a","disk":"ssd","cores":"8"})";
  struct Case {
    const char* name;
    std::string spec_extra;
    bool fits;
  };
  auto req = [](const std::string& terms) {
    return R"(,"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":)" +
           terms + "}}}";
  };
  const std::vector<Case> cases = {
      {"no constraints", "", true},
      {"nodeSelector matches", R"(,"nodeSelector":{"zone":"a"})", true},
      {"nodeSelector value differs", R"(,"nodeSelector":{"zone":"b"})", false},
      {"nodeSelector key missing", R"(,"nodeSelector":{"gpu":"yes"})", false},
      {"In", req(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["a","b"]}]}])"), true},
      {"In, no match", req(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["c"]}]}])"), false},
      {"NotIn", req(R"([{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["c"]}]}])"), true},
      {"NotIn, excluded", req(R"([{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["a"]}]}])"), false},
      {"NotIn, label absent", req(R"([{"matchExpressions":[{"key":"gpu","operator":"NotIn","values":["x"]}]}])"), true},
      {"Exists", req(R"([{"matchExpressions":[{"key":"disk","operator":"Exists"}]}])"), true},
      {"Exists, absent", req(R"([{"matchExpressions":[{"key":"gpu","operator":"Exists"}]}])"), false},
      {"DoesNotExist", req(R"([{"matchExpressions":[{"key":"gpu","operator":"DoesNotExist"}]}])"), true},
      {"DoesNotExist, present", req(R"([{"matchExpressions":[{"key":"disk","operator":"DoesNotExist"}]}])"), false},
      {"Gt", req(R"([{"matchExpressions":[{"key":"cores","operator":"Gt","values":["4"]}]}])"), true},
      {"Gt, not greater", req(R"([{"matchExpressions":[{"key":"cores","operator":"Gt","values":["8"]}]}])"), false},
      {"Lt", req(R"([{"matchExpressions":[{"key":"cores","operator":"Lt","values":["16"]}]}])"), true},
      {"Lt, not an integer label", req(R"([{"matchExpressions":[{"key":"zone","operator":"Lt","values":["16"]}]}])"), false},
      {"expressions of a term are ANDed",
       req(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]},{"key":"disk","operator":"In","values":["hdd"]}]}])"),
       false},
      {"terms are ORed",
       req(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["x"]}]},{"matchExpressions":[{"key":"disk","operator":"In","values":["ssd"]}]}])"),
       true},
      {"an empty term matches nothing", req(R"([{}])"), false},
      {"matchFields metadata.name In", req(R"([{"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]}])"), true},
      {"matchFields metadata.name NotIn", req(R"([{"matchFields":[{"key":"metadata.name","operator":"NotIn","values":["n1"]}]}])"), false},
      {"nodeSelector and affinity both apply",
       R"(,"nodeSelector":{"zone":"b"})" + req(R"([{"matchExpressions":[{"key":"zone","operator":"Exists"}]}])"),
       false},
  };
  NodeAffinity plugin;
  NodeInfo n = node(labels);
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      auto p = pod_from(R"({"containers":[])" + c.spec_extra + "}");
      auto s = plugin.filter(CycleState{}, *p, n);
      CHECK(s.ok() == c.fits);
      if (!c.fits) CHECK(s.message() == "node(s) didn't match Pod's node affinity/selector");
    }
  }
}

TEST_CASE("NodeAffinity: preferred terms score by weight") {
  NodeAffinity plugin;
  auto p = pod_from(R"({"containers":[],"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[
      {"weight":10,"preference":{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}},
      {"weight":30,"preference":{"matchExpressions":[{"key":"disk","operator":"In","values":["ssd"]}]}}]}}})");
  std::vector<std::int64_t> scores = {
      plugin.score(CycleState{}, *p, node(R"({"zone":"a"})")),
      plugin.score(CycleState{}, *p, node(R"({"zone":"a","disk":"ssd"})")),
      plugin.score(CycleState{}, *p, node(R"({})")),
  };
  CHECK(scores == std::vector<std::int64_t>{10, 40, 0});
  plugin.normalize_scores(CycleState{}, *p, scores);
  CHECK(scores == std::vector<std::int64_t>{25, 100, 0});
}

TEST_CASE("TaintToleration: NoSchedule and NoExecute filter, PreferNoSchedule scores") {
  struct Case {
    const char* name;
    std::string taints;
    std::string tolerations;
    bool fits;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"no taints", "[]", "[]", true, ""},
      {"NoSchedule untolerated", R"([{"key":"k","value":"v","effect":"NoSchedule"}])", "[]", false,
       "node(s) had untolerated taint {k: v}"},
      {"NoExecute untolerated", R"([{"key":"k","effect":"NoExecute"}])", "[]", false,
       "node(s) had untolerated taint {k: }"},
      {"PreferNoSchedule does not filter", R"([{"key":"k","effect":"PreferNoSchedule"}])", "[]", true, ""},
      {"Equal toleration", R"([{"key":"k","value":"v","effect":"NoSchedule"}])",
       R"([{"key":"k","operator":"Equal","value":"v","effect":"NoSchedule"}])", true, ""},
      {"Equal with another value", R"([{"key":"k","value":"v","effect":"NoSchedule"}])",
       R"([{"key":"k","operator":"Equal","value":"w"}])", false, "node(s) had untolerated taint {k: v}"},
      {"default operator is Equal", R"([{"key":"k","value":"v","effect":"NoSchedule"}])",
       R"([{"key":"k","value":"v"}])", true, ""},
      {"Exists ignores the value", R"([{"key":"k","value":"v","effect":"NoSchedule"}])",
       R"([{"key":"k","operator":"Exists"}])", true, ""},
      {"other effect is not tolerated", R"([{"key":"k","value":"v","effect":"NoSchedule"}])",
       R"([{"key":"k","operator":"Exists","effect":"NoExecute"}])", false,
       "node(s) had untolerated taint {k: v}"},
      {"empty key with Exists tolerates all", R"([{"key":"a","effect":"NoSchedule"},{"key":"b","effect":"NoExecute"}])",
       R"([{"operator":"Exists"}])", true, ""},
  };
  TaintToleration plugin;
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      auto p = pod_from(R"({"containers":[],"tolerations":)" + c.tolerations + "}");
      auto s = plugin.filter(CycleState{}, *p, node("{}", R"({"taints":)" + c.taints + "}"));
      CHECK(s.ok() == c.fits);
      if (!c.fits) CHECK(s.message() == c.reason);
    }
  }
  SUBCASE("score: fewer untolerated PreferNoSchedule taints score higher") {
    auto p = pod_from(R"({"containers":[],"tolerations":[{"key":"ok","operator":"Exists","effect":"PreferNoSchedule"}]})");
    std::vector<std::int64_t> scores = {
        plugin.score(CycleState{}, *p, node("{}", R"({"taints":[]})")),
        plugin.score(CycleState{}, *p, node("{}", R"({"taints":[{"key":"x","effect":"PreferNoSchedule"}]})")),
        plugin.score(CycleState{}, *p, node("{}", R"({"taints":[{"key":"ok","effect":"PreferNoSchedule"}]})")),
        plugin.score(CycleState{}, *p, node("{}", R"({"taints":[{"key":"x","effect":"PreferNoSchedule"},{"key":"y","effect":"PreferNoSchedule"}]})")),
    };
    CHECK(scores == std::vector<std::int64_t>{0, 1, 0, 2});
    plugin.normalize_scores(CycleState{}, *p, scores);
    CHECK(scores == std::vector<std::int64_t>{100, 50, 100, 0});
  }
}

TEST_CASE("NodePorts: host ports must be free") {
  struct Case {
    const char* name;
    std::string used;    // ports of a pod already on the node
    std::string wanted;  // ports of the new pod
    bool fits;
  };
  auto ports = [](const std::string& p) {
    return R"({"containers":[{"name":"c","ports":)" + p + "}]}";
  };
  const std::vector<Case> cases = {
      {"no host ports", R"([{"containerPort":80,"hostPort":80}])", R"([{"containerPort":80}])", true},
      {"same port", R"([{"containerPort":80,"hostPort":80}])", R"([{"containerPort":8080,"hostPort":80}])", false},
      {"other port", R"([{"containerPort":80,"hostPort":80}])", R"([{"containerPort":80,"hostPort":81}])", true},
      {"other protocol", R"([{"containerPort":53,"hostPort":53,"protocol":"UDP"}])",
       R"([{"containerPort":53,"hostPort":53}])", true},
      {"different IPs", R"([{"containerPort":80,"hostPort":80,"hostIP":"127.0.0.1"}])",
       R"([{"containerPort":80,"hostPort":80,"hostIP":"127.0.0.2"}])", true},
      {"wildcard against a specific IP", R"([{"containerPort":80,"hostPort":80,"hostIP":"127.0.0.1"}])",
       R"([{"containerPort":80,"hostPort":80}])", false},
  };
  NodePorts plugin;
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      NodeInfo n = node();
      n.add_pod(*pod_from(ports(c.used)));
      auto s = plugin.filter(CycleState{}, *pod_from(ports(c.wanted)), n);
      CHECK(s.ok() == c.fits);
      if (!c.fits) CHECK(s.message() == "node(s) didn't have free ports for the requested pod ports");
    }
  }
  SUBCASE("a port is free again when its pod goes") {
    NodeInfo n = node();
    auto a = pod_from(ports(R"([{"containerPort":80,"hostPort":80}])"));
    n.add_pod(*a);
    n.remove_pod(*a);
    CHECK(plugin.filter(CycleState{}, *a, n).ok());
  }
}

TEST_CASE("VolumeNodeAffinity: a bound claim's volume decides the node") {
  const std::string pv_affinity =
      R"({"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["n1"]}]}]})";
  ClaimLookupFunc lookup = [&](const std::string& ns, const std::string& claim) {
    ClaimLookup l;
    CHECK(ns == "default");
    if (claim == "bound-local") {
      l.state = ClaimLookup::State::kBound;
      l.volume_name = "pv1";
      l.node_affinity = parse_node_selector(json::parse(pv_affinity));
    } else if (claim == "bound-anywhere") {
      l.state = ClaimLookup::State::kBound;
      l.volume_name = "pv2";
    } else if (claim == "unbound") {
      l.state = ClaimLookup::State::kUnbound;
    } else if (claim == "dangling") {
      l.state = ClaimLookup::State::kMissingVolume;
      l.volume_name = "gone";
    }
    return l;
  };
  auto with_claim = [](const std::string& claim) {
    return R"({"containers":[],"volumes":[{"name":"v","persistentVolumeClaim":{"claimName":")" +
           claim + R"("}}]})";
  };
  struct Case {
    const char* name;
    std::string spec;
    PluginStatus::Code pre;
    bool fits_n1, fits_n2;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"no claims", R"({"containers":[]})", PluginStatus::Code::Skip, true, true, ""},
      {"bound to a local volume", with_claim("bound-local"), PluginStatus::Code::Success, true, false,
       "node(s) had volume node affinity conflict"},
      {"bound to a volume without affinity", with_claim("bound-anywhere"), PluginStatus::Code::Skip,
       true, true, ""},
      {"unbound claims do not fail", with_claim("unbound"), PluginStatus::Code::Skip, true, true, ""},
      {"missing claim", with_claim("nope"), PluginStatus::Code::UnschedulableAndUnresolvable, false,
       false, "persistentvolumeclaim \"nope\" not found"},
      {"missing volume", with_claim("dangling"), PluginStatus::Code::UnschedulableAndUnresolvable,
       false, false, "persistentvolume \"gone\" not found"},
  };
  VolumeNodeAffinity plugin(lookup);
  NodeInfo n1 = node(R"({"kubernetes.io/hostname":"n1"})", "{}", R"({"pods":"10"})", "n1");
  NodeInfo n2 = node(R"({"kubernetes.io/hostname":"n2"})", "{}", R"({"pods":"10"})", "n2");
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      auto p = pod_from(c.spec);
      CycleState state;
      auto pre = plugin.pre_filter(state, *p);
      CHECK(pre.code() == c.pre);
      if (pre.is_unschedulable()) {
        CHECK(pre.message() == c.reason);
        continue;
      }
      CHECK(plugin.filter(state, *p, n1).ok() == c.fits_n1);
      auto s2 = plugin.filter(state, *p, n2);
      CHECK(s2.ok() == c.fits_n2);
      if (!c.fits_n2) CHECK(s2.message() == c.reason);
    }
  }
}

TEST_CASE("PodTopologySpread: fewer replicas of the same workload score higher") {
  PodTopologySpread plugin;
  const std::string owner =
      R"(,"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"u1","controller":true}])";
  auto replica = pod_from(R"({"containers":[]})", owner);
  auto other = pod_from(R"({"containers":[]})",
                        R"(,"ownerReferences":[{"kind":"ReplicaSet","name":"x","uid":"u2","controller":true}])");
  NodeInfo a = node("{}", "{}", R"({"pods":"10"})", "a");
  NodeInfo b = node("{}", "{}", R"({"pods":"10"})", "b");
  NodeInfo c = node("{}", "{}", R"({"pods":"10"})", "c");
  a.add_pod(*replica);
  a.add_pod(*replica);
  b.add_pod(*replica);
  c.add_pod(*other);
  c.add_pod(*other);
  std::vector<std::int64_t> scores = {plugin.score(CycleState{}, *replica, a),
                                      plugin.score(CycleState{}, *replica, b),
                                      plugin.score(CycleState{}, *replica, c)};
  CHECK(scores == std::vector<std::int64_t>{2, 1, 0});
  plugin.normalize_scores(CycleState{}, *replica, scores);
  CHECK(scores == std::vector<std::int64_t>{0, 50, 100});

  SUBCASE("pods without an owner spread by their labels") {
    auto x = pod_from(R"({"containers":[]})", R"(,"labels":{"app":"web"})");
    auto y = pod_from(R"({"containers":[]})", R"(,"labels":{"app":"db"})");
    NodeInfo n = node();
    n.add_pod(*x);
    CHECK(plugin.score(CycleState{}, *x, n) == 1);
    CHECK(plugin.score(CycleState{}, *y, n) == 0);
  }
}

TEST_CASE("NodeResourcesLeastAllocated: emptier nodes score higher, requests default to 100m/200Mi") {
  NodeResourcesLeastAllocated plugin;
  const std::string alloc = R"({"cpu":"4","memory":"4Gi","pods":"110"})";
  struct Case {
    const char* name;
    std::string requests;
    Resources on_node;
    std::int64_t score;
  };
  const std::vector<Case> cases = {
      {"empty node, 1 cpu 1Gi", R"({"cpu":"1","memory":"1Gi"})", {}, 75},
      {"half used", R"({"cpu":"1","memory":"1Gi"})", {1000, 1024LL * 1024 * 1024, 0, 0}, 50},
      {"over capacity scores 0", R"({"cpu":"5","memory":"5Gi"})", {}, 0},
      {"no requests use the defaults", R"({})", {}, (3900 * 100 / 4000 + (4096 - 200) * 100 / 4096) / 2},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      auto p = pod_from(R"({"containers":)" + containers(c.requests) + "}");
      NodeInfo n = node("{}", "{}", alloc);
      n.non_zero_requested = c.on_node;
      CHECK(plugin.score(CycleState{}, *p, n) == c.score);
    }
  }
}

TEST_CASE("Framework: filters stop at the first failure, scores are weighted and summed") {
  Framework f = default_framework(nullptr, nullptr);
  CHECK(f.find("NodeResourcesFit") != nullptr);
  CHECK_FALSE(f.has_bind_plugin());
  auto p = pod_from(R"({"containers":)" + containers(R"({"cpu":"8"})") + "}");
  CycleState state;
  CHECK(f.run_pre_filter(state, *p).ok());
  // A cordoned node that is also too small reports only the first failing filter.
  NodeInfo n = node("{}", R"({"unschedulable":true})");
  auto s = f.run_filter(state, *p, n);
  CHECK(s.plugin() == "NodeUnschedulable");
  CHECK(s.reasons() == std::vector<std::string>{"node(s) were unschedulable"});
  NodeInfo big = node("{}", "{}", R"({"cpu":"16","memory":"8Gi","pods":"110"})", "big");
  CHECK(f.run_filter(state, *p, big).ok());

  auto small = pod_from(R"({"containers":)" + containers(R"({"cpu":"1","memory":"1Gi"})") + "}");
  NodeInfo empty = node("{}", "{}", R"({"cpu":"4","memory":"4Gi","pods":"110"})", "e");
  NodeInfo busy = node("{}", "{}", R"({"cpu":"4","memory":"4Gi","pods":"110"})", "b");
  busy.non_zero_requested = {2000, 2LL * 1024 * 1024 * 1024, 0, 0};
  std::vector<std::int64_t> totals;
  f.run_score(state, *small, {&empty, &busy}, totals);
  REQUIRE(totals.size() == 2);
  CHECK(totals[0] > totals[1]);
}

TEST_CASE("parse_pod: effective requests with sidecars and init containers") {
  auto p = pod_from(R"({"initContainers":[
      {"name":"side","restartPolicy":"Always","resources":{"requests":{"cpu":"500m"}}},
      {"name":"init","resources":{"requests":{"cpu":"2"}}}],
    "containers":[{"name":"a","resources":{"requests":{"cpu":"1","memory":"128Mi"}}}]})");
  // init phase: 2 + 0.5 (sidecar running) = 2.5; running: 1 + 0.5 = 1.5 -> 2.5 cpu.
  CHECK(p->requests.milli_cpu == 2500);
  CHECK(p->requests.memory == 128LL * 1024 * 1024);
  CHECK(p->key == "default/p");
}

TEST_CASE("default_normalize_score") {
  std::vector<std::int64_t> s = {0, 5, 10};
  default_normalize_score(100, false, s);
  CHECK(s == std::vector<std::int64_t>{0, 50, 100});
  std::vector<std::int64_t> r = {0, 5, 10};
  default_normalize_score(100, true, r);
  CHECK(r == std::vector<std::int64_t>{100, 50, 0});
  std::vector<std::int64_t> z = {0, 0};
  default_normalize_score(100, true, z);
  CHECK(z == std::vector<std::int64_t>{100, 100});
}

}  // namespace
}  // namespace orch::scheduler
