// Validation with Kubernetes' rules and messages, for create and update, through the typed API
// and the registry's type-erased path.
// Thread-safety: single-threaded test code.
#include <doctest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "manifests.hpp"
#include "object_test_util.hpp"
#include "orch/api/defaults.hpp"
#include "orch/api/registry.hpp"
#include "orch/api/types.hpp"
#include "orch/api/validation.hpp"

namespace orch::api {
namespace {

using testing::decode_text;
using testing::json;

// "field: message" for each cause of a validation Status (empty when OK).
std::vector<std::string> cause_strings(const Status& s) {
  std::vector<std::string> out;
  for (const auto& c : s.causes()) out.push_back(c.field + ": " + c.message);
  return out;
}

std::string show(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += "  " + s + "\n";
  return out;
}

// Normalizes (decode + defaults) and validates a create of `text` through the registry.
std::vector<std::string> create_errors(std::string_view text) {
  const auto body = json(text);
  const auto* info = find_kind(body.at("apiVersion").as_string(), body.at("kind").as_string());
  REQUIRE(info != nullptr);
  auto normalized = normalize(*info, body);
  REQUIRE_MESSAGE(normalized.ok(), normalized.status().to_string());
  const Status s = validate_create(*info, normalized->object);
  if (!s.ok()) CHECK(s.code() == Code::kInvalidArgument);
  return cause_strings(s);
}

std::vector<std::string> update_errors(std::string_view updated, std::string_view old) {
  const auto n = json(updated);
  const auto o = json(old);
  const auto* info = find_kind(n.at("apiVersion").as_string(), n.at("kind").as_string());
  REQUIRE(info != nullptr);
  auto nn = normalize(*info, n);
  auto on = normalize(*info, o);
  REQUIRE(nn.ok());
  REQUIRE(on.ok());
  const Status s = validate_update(*info, nn->object, on->object);
  if (!s.ok()) CHECK(s.code() == Code::kInvalidArgument);
  return cause_strings(s);
}

bool has(const std::vector<std::string>& errs, std::string_view expected) {
  for (const auto& e : errs) {
    if (e == expected) return true;
  }
  return false;
}
bool has_prefix(const std::vector<std::string>& errs, std::string_view prefix) {
  for (const auto& e : errs) {
    if (e.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

struct Case {
  const char* name;
  std::string manifest;
  std::vector<std::string> expected;         // exact "field: message" strings
  std::vector<std::string> expected_prefix;  // messages that start with these
};

void run_create_cases(const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      const auto errs = create_errors(c.manifest);
      CHECK_MESSAGE(!errs.empty(), "expected errors");
      for (const auto& e : c.expected) CHECK_MESSAGE(has(errs, e), e << "\n got:\n" << show(errs));
      for (const auto& p : c.expected_prefix) {
        CHECK_MESSAGE(has_prefix(errs, p), p << "\n got:\n" << show(errs));
      }
    }
  }
}

// A pod manifest with `containers` and extra spec fields.
std::string pod(const std::string& containers, const std::string& extra_spec = "",
                const std::string& metadata = R"("name":"p","namespace":"default")") {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{)" + metadata +
         R"(},"spec":{"containers":)" + containers + (extra_spec.empty() ? "" : "," + extra_spec) +
         "}}";
}

// A deployment manifest with `spec` fields around a valid template labeled app=x.
std::string deployment(const std::string& spec_fields, const std::string& template_labels =
                                                           R"({"app":"x"})",
                       const std::string& template_spec_extra = "") {
  return R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"default"},
    "spec":{)" +
         spec_fields + (spec_fields.empty() ? "" : ",") +
         R"("template":{"metadata":{"labels":)" + template_labels +
         R"(},"spec":{"containers":[{"name":"c","image":"i"}])" + template_spec_extra + "}}}}";
}

constexpr const char* kSelX = R"("selector":{"matchLabels":{"app":"x"}})";

TEST_CASE("every realistic manifest is valid, for create and for an unchanged update") {
  for (const auto& m : testing::all_manifests()) {
    SUBCASE(std::string(m.kind).c_str()) {
      const auto errs = create_errors(m.json);
      CHECK_MESSAGE(errs.empty(), show(errs));
      const auto upd = update_errors(m.json, m.json);
      CHECK_MESSAGE(upd.empty(), show(upd));
    }
  }
}

TEST_CASE("object metadata") {
  run_create_cases({
      {"name required", pod(R"([{"name":"c","image":"i"}])", "", R"("namespace":"default")"),
       {"metadata.name: Required value: name or generateName is required"},
       {}},
      {"name syntax", pod(R"([{"name":"c","image":"i"}])", "", R"("name":"Kuard","namespace":"default")"),
       {},
       {R"(metadata.name: Invalid value: "Kuard": a lowercase RFC 1123 subdomain)"}},
      {"namespace required", pod(R"([{"name":"c","image":"i"}])", "", R"("name":"p")"),
       {"metadata.namespace: Required value"},
       {}},
      {"generateName", pod(R"([{"name":"c","image":"i"}])", "",
                           R"("name":"p","generateName":"Bad_","namespace":"default")"),
       {},
       {R"(metadata.generateName: Invalid value: "Bad_": )"}},
      {"labels", pod(R"([{"name":"c","image":"i"}])", "",
                     R"("name":"p","namespace":"default","labels":{"bad key!":"v","k":"bad value!"})"),
       {},
       {R"(metadata.labels: Invalid value: "bad key!": )",
        R"(metadata.labels[k]: Invalid value: "bad value!": )"}},
      {"owner references", pod(R"([{"name":"c","image":"i"}])", "",
                               R"("name":"p","namespace":"default","ownerReferences":[{"kind":"ReplicaSet","name":"rs"}])"),
       {R"(metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty)",
        R"(metadata.ownerReferences.uid: Invalid value: "": uid must not be empty)"},
       {}},
      {"cluster-scoped kinds take no namespace",
       R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"Bad.NS","namespace":"x"}})",
       {"metadata.namespace: Forbidden: not allowed on this type"},
       {R"(metadata.name: Invalid value: "Bad.NS": a lowercase RFC 1123 label)"}},
      {"service names are DNS-1035 labels",
       R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"1svc","namespace":"default"},
           "spec":{"ports":[{"port":80}]}})",
       {},
       {R"(metadata.name: Invalid value: "1svc": a DNS-1035 label must consist of)"}},
  });
}

TEST_CASE("pod spec") {
  run_create_cases({
      {"containers required", pod("[]"), {"spec.containers: Required value"}, {}},
      {"name and image required", pod("[{}]"),
       {"spec.containers[0].name: Required value", "spec.containers[0].image: Required value"},
       {}},
      {"container name syntax", pod(R"([{"name":"Web_1","image":"i"}])"),
       {},
       {R"(spec.containers[0].name: Invalid value: "Web_1": a lowercase RFC 1123 label)"}},
      {"duplicate container names", pod(R"([{"name":"web","image":"i"},{"name":"web","image":"i"}])",
                                        R"("initContainers":[{"name":"web","image":"i"}])"),
       {R"(spec.containers[1].name: Duplicate value: "web")",
        R"(spec.initContainers[0].name: Duplicate value: "web")"},
       {}},
      {"ports", pod(R"([{"name":"c","image":"i","ports":[{"containerPort":0},
                      {"containerPort":70000,"hostPort":-1},{"containerPort":80,"protocol":"HTTP"},
                      {"name":"http","containerPort":81},{"name":"http","containerPort":82},
                      {"name":"Not_Valid","containerPort":83}]}])"),
       {"spec.containers[0].ports[0].containerPort: Required value",
        "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and "
        "65535, inclusive",
        "spec.containers[0].ports[1].hostPort: Invalid value: -1: must be between 1 and 65535, "
        "inclusive",
        R"(spec.containers[0].ports[2].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP")",
        R"(spec.containers[0].ports[4].name: Duplicate value: "http")"},
       {R"(spec.containers[0].ports[5].name: Invalid value: "Not_Valid": )"}},
      {"restart and pull policies",
       pod(R"([{"name":"c","image":"i","imagePullPolicy":"Sometimes"}])",
           R"("restartPolicy":"Sometimes","dnsPolicy":"Weird")"),
       {R"(spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never")",
        R"(spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never")",
        R"(spec.dnsPolicy: Unsupported value: "Weird": supported values: "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")"},
       {}},
      {"env", pod(R"([{"name":"c","image":"i","env":[{"name":"1BAD"},{"name":"A","value":"v",
                     "valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},{"name":""},
                     {"name":"B","valueFrom":{}}]}])"),
       {"spec.containers[0].env[1].valueFrom: Invalid value: \"\": may not be specified when "
        "`value` is not empty",
        "spec.containers[0].env[2].name: Required value",
        "spec.containers[0].env[3].valueFrom: Invalid value: \"\": must specify one of: "
        "`fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"},
       {R"(spec.containers[0].env[0].name: Invalid value: "1BAD": )"}},
      {"volumes and mounts",
       pod(R"([{"name":"c","image":"i","volumeMounts":[{"name":"missing","mountPath":"/a"},
             {"name":"data","mountPath":"/a"},{"name":"data"}]}])",
           R"("volumes":[{"name":"data","emptyDir":{}},{"name":"data","emptyDir":{}},
             {"name":"two","emptyDir":{},"hostPath":{"path":"/x"}},
             {"name":"cm","configMap":{"name":"c","defaultMode":1000}}])"),
       {R"(spec.volumes[1].name: Duplicate value: "data")",
        "spec.volumes[2]: Forbidden: may not specify more than 1 volume type",
        "spec.volumes[3].configMap.defaultMode: Invalid value: 1000: must be a number between 0 "
        "and 0777 (octal), both inclusive",
        R"(spec.containers[0].volumeMounts[0].name: Not found: "missing")",
        R"(spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/a": must be unique)",
        "spec.containers[0].volumeMounts[2].mountPath: Required value"},
       {}},
      {"resources",
       pod(R"([{"name":"c","image":"i","resources":{"limits":{"cpu":"1","gpu":"1",
             "memory":"-1"},"requests":{"cpu":"2"}}}])"),
       {R"(spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1)",
        R"(spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource type or fully qualified)",
        R"(spec.containers[0].resources.limits[memory]: Invalid value: "-1": must be greater than or equal to 0)"},
       {}},
      {"probes",
       pod(R"([{"name":"c","image":"i","livenessProbe":{"successThreshold":2},
             "readinessProbe":{"httpGet":{"port":0},"exec":{"command":["x"]}},
             "startupProbe":{"tcpSocket":{"port":"Bad_Port"},"periodSeconds":-1}}])"),
       {"spec.containers[0].livenessProbe: Required value: must specify a handler type",
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        "spec.containers[0].readinessProbe: Forbidden: may not specify more than 1 handler type",
        "spec.containers[0].readinessProbe.httpGet.port: Invalid value: 0: must be between 1 and "
        "65535, inclusive",
        "spec.containers[0].startupProbe.periodSeconds: Invalid value: -1: must be greater than "
        "or equal to 0"},
       {R"(spec.containers[0].startupProbe.tcpSocket.port: Invalid value: "Bad_Port": )"}},
      {"init containers may not have probes",
       pod(R"([{"name":"c","image":"i"}])",
           R"("initContainers":[{"name":"init","image":"i","readinessProbe":{"exec":{"command":["x"]}}}])"),
       {"spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers "
        "without restartPolicy=Always"},
       {}},
      {"scheduling fields",
       pod(R"([{"name":"c","image":"i"}])",
           R"("activeDeadlineSeconds":0,"nodeName":"Bad_Node","nodeSelector":{"k":"bad value!"},
             "tolerations":[{"operator":"Exists","value":"v"},{"key":"k","effect":"Sometimes"}],
             "affinity":{"nodeAffinity":{
               "requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[]},
               "preferredDuringSchedulingIgnoredDuringExecution":[{"weight":0,"preference":{
                 "matchExpressions":[{"key":"k","operator":"Maybe"}]}}]}},
             "topologySpreadConstraints":[{"maxSkew":0,"topologyKey":"","whenUnsatisfiable":"Never"}])"),
       {"spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
        R"(spec.tolerations[0].operator: Invalid value: "v": value must be empty when `operator` is 'Exists')",
        R"(spec.tolerations[1].effect: Unsupported value: "Sometimes": supported values: "NoExecute", "NoSchedule", "PreferNoSchedule")",
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
        "nodeSelectorTerms: Required value: must have at least one node selector term",
        "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: "
        "Invalid value: 0: must be in the range 1-100",
        "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference."
        "matchExpressions[0].operator: Invalid value: \"Maybe\": not a valid selector operator",
        "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
        "spec.topologySpreadConstraints[0].topologyKey: Required value: can not be empty",
        R"(spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: "Never": supported values: "DoNotSchedule", "ScheduleAnyway")"},
       {R"(spec.nodeName: Invalid value: "Bad_Node": )",
        R"(spec.nodeSelector[k]: Invalid value: "bad value!": )"}},
  });
}

TEST_CASE("pod errors become one Invalid Status with a cause per field") {
  const auto body = json(pod(R"([{"name":"c"}])"));
  const auto* info = find_kind("v1", "Pod");
  REQUIRE(info != nullptr);
  auto n = normalize(*info, body);
  REQUIRE(n.ok());
  const Status s = validate_create(*info, n->object);
  REQUIRE(!s.ok());
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message() == R"(Pod "p" is invalid: spec.containers[0].image: Required value)");
  REQUIRE(s.causes().size() == 1);
  CHECK(s.causes()[0].type == "FieldValueRequired");
  CHECK(s.causes()[0].field == "spec.containers[0].image");
  CHECK(s.causes()[0].message == "Required value");
}

TEST_CASE("workload selectors and templates") {
  run_create_cases({
      {"negative replicas", deployment(std::string(kSelX) + R"(,"replicas":-1)"),
       {"spec.replicas: Invalid value: -1: must be greater than or equal to 0"},
       {}},
      {"selector required", deployment(""),
       {"spec.selector: Required value",
        R"(spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`)"},
       {}},
      {"selector must match the template",
       deployment(R"("selector":{"matchLabels":{"app":"y"}})", R"({"app":"x","tier":"web"})"),
       {R"(spec.template.metadata.labels: Invalid value: map[string]string{"app":"x", "tier":"web"}: `selector` does not match template `labels`)"},
       {}},
      {"empty selector", deployment(R"("selector":{})"),
       {"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
        "deployment"},
       {}},
      {"selector syntax", deployment(R"("selector":{"matchExpressions":[{"key":"app","operator":"In"}]})"),
       {"spec.selector.matchExpressions[0].values: Required value: must be specified when "
        "`operator` is 'In' or 'NotIn'"},
       {}},
      {"rolling update both zero",
       deployment(std::string(kSelX) + R"(,"strategy":{"rollingUpdate":{"maxUnavailable":0,"maxSurge":"0%"}})"),
       {"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when "
        "`maxSurge` is 0"},
       {}},
      {"rolling update percents",
       deployment(std::string(kSelX) +
                  R"(,"strategy":{"rollingUpdate":{"maxUnavailable":"110%","maxSurge":"abc"}})"),
       {"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 110%: must not be greater "
        "than 100%",
        "spec.strategy.rollingUpdate.maxSurge: Invalid value: abc: a valid percent string must be "
        "a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for "
        "validation is '[0-9]+%')"},
       {}},
      {"recreate with rollingUpdate",
       deployment(std::string(kSelX) +
                  R"(,"strategy":{"type":"Recreate","rollingUpdate":{"maxSurge":1}})"),
       {"spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is "
        "'Recreate'"},
       {}},
      {"template restartPolicy",
       deployment(kSelX, R"({"app":"x"})", R"(,"restartPolicy":"Never","activeDeadlineSeconds":5)"),
       {R"(spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always")",
        "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet "
        "is not Supported"},
       {}},
      {"template pod spec is validated", deployment(kSelX, R"({"app":"x"})",
                                                    R"(,"initContainers":[{"name":"c"}])"),
       {R"(spec.template.spec.initContainers[0].name: Duplicate value: "c")",
        "spec.template.spec.initContainers[0].image: Required value"},
       {}},
      {"progress deadline",
       deployment(std::string(kSelX) + R"(,"minReadySeconds":10,"progressDeadlineSeconds":5)"),
       {"spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"},
       {}},
      {"replicaset empty selector (Kubernetes says deployment)",
       R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"r","namespace":"d"},
           "spec":{"selector":{},"template":{"spec":{"containers":[{"name":"c","image":"i"}]}}}})",
       {"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
        "deployment"},
       {}},
      {"statefulset policies",
       R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"s","namespace":"d"},
           "spec":{"podManagementPolicy":"Sometimes","updateStrategy":{"type":"Never"},
             "selector":{"matchLabels":{"a":"b"}},
             "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}},
             "persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Keep"}}})",
       {R"(spec.podManagementPolicy: Invalid value: "Sometimes": must be 'OrderedReady' or 'Parallel')",
        R"(spec.updateStrategy: Invalid value: "Never": must be 'RollingUpdate' or 'OnDelete')",
        R"(spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": supported values: "Retain", "Delete")"},
       {}},
      {"daemonset both zero",
       R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"ds","namespace":"d"},
           "spec":{"selector":{},"updateStrategy":{"rollingUpdate":{"maxUnavailable":0,"maxSurge":0}},
             "template":{"spec":{"containers":[{"name":"c","image":"i"}]}}}})",
       {"spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when "
        "maxSurge is 0",
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
        "daemonset"},
       {}},
  });
}

TEST_CASE("statefulset templates may mount their volume claim templates") {
  const auto errs = create_errors(R"({"apiVersion":"apps/v1","kind":"StatefulSet",
    "metadata":{"name":"s","namespace":"d"},
    "spec":{"selector":{"matchLabels":{"a":"b"}},
      "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i",
        "volumeMounts":[{"name":"data","mountPath":"/data"},{"name":"nope","mountPath":"/x"}]}]}},
      "volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],
        "resources":{"requests":{"storage":"1Gi"}}}},{"metadata":{"name":"bad"},"spec":{}}]}})");
  CHECK(errs == std::vector<std::string>{
                    R"(spec.template.spec.containers[0].volumeMounts[1].name: Not found: "nope")",
                    "spec.volumeClaimTemplates[1].spec.accessModes: Required value: at least 1 "
                    "access mode is required",
                    "spec.volumeClaimTemplates[1].spec.resources[storage]: Required value"});
}

TEST_CASE("services") {
  const std::string ok_meta = R"("metadata":{"name":"svc","namespace":"default"})";
  auto svc = [&](const std::string& spec) {
    return R"({"apiVersion":"v1","kind":"Service",)" + ok_meta + R"(,"spec":)" + spec + "}";
  };
  run_create_cases({
      {"ports required", svc(R"({"selector":{"app":"x"}})"), {"spec.ports: Required value"}, {}},
      {"names required with several ports", svc(R"({"ports":[{"port":80},{"port":81}]})"),
       {"spec.ports[0].name: Required value", "spec.ports[1].name: Required value"},
       {}},
      {"duplicate names and port range",
       svc(R"({"ports":[{"name":"http","port":80},{"name":"http","port":0,"targetPort":8080}]})"),
       {R"(spec.ports[1].name: Duplicate value: "http")",
        "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive"},
       {}},
      {"one port and protocol once",
       svc(R"({"ports":[{"name":"a","port":80},{"name":"b","port":80,"targetPort":8080}]})"),
       {R"(spec.ports[1]: Duplicate value: "80/TCP")"},
       {}},
      {"nodePort only for NodePort and LoadBalancer",
       svc(R"({"ports":[{"port":80,"nodePort":30080}]})"),
       {"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"},
       {}},
      {"nodePort range", svc(R"({"type":"NodePort","ports":[{"port":80,"nodePort":70000}]})"),
       {"spec.ports[0].nodePort: Invalid value: 70000: must be between 1 and 65535, inclusive"},
       {}},
      {"type, affinity, IPs, target port",
       svc(R"({"type":"Foo","sessionAffinity":"Sticky","clusterIP":"abc",
               "externalIPs":["1.2.3"],"ports":[{"port":80,"targetPort":"Bad_Name"}]})"),
       {R"(spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort")",
        R"(spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None")",
        R"(spec.clusterIPs[0]: Invalid value: "abc": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff))",
        R"(spec.externalIPs[0]: Invalid value: "1.2.3": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff))"},
       {R"(spec.ports[0].targetPort: Invalid value: "Bad_Name": )"}},
      {"externalTrafficPolicy only for node ports",
       svc(R"({"externalTrafficPolicy":"Local","ports":[{"port":80}]})"),
       {R"(spec.externalTrafficPolicy: Invalid value: "Local": may only be set when `type` is 'NodePort' or 'LoadBalancer')"},
       {}},
      {"ExternalName needs a name", svc(R"({"type":"ExternalName"})"),
       {"spec.externalName: Required value"},
       {}},
  });
}

TEST_CASE("other kinds") {
  run_create_cases({
      {"configmap keys",
       R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"d"},
           "data":{"bad key":"v","ok":"v"},"binaryData":{"ok":"AA=="}})",
       {"data[bad key]: Invalid value: \"bad key\": a valid config key must consist of "
        "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
        "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        R"(binaryData[ok]: Invalid value: "ok": duplicate of key present in data)"},
       {}},
      {"tls secrets need their keys",
       R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"d"},
           "type":"kubernetes.io/tls","data":{"..bad":"AA=="}})",
       {"data[tls.crt]: Required value", "data[tls.key]: Required value",
        R"(data[..bad]: Invalid value: "..bad": must not start with '..')"},
       {}},
      {"pvc", R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c","namespace":"d"},
                  "spec":{"storageClassName":"Bad_Class","resources":{"requests":{"storage":"0"}}}})",
       {"spec.accessModes: Required value: at least 1 access mode is required",
        R"(spec.resources[storage]: Invalid value: "0": must be greater than zero)"},
       {R"(spec.storageClassName: Invalid value: "Bad_Class": )"}},
      {"pv", R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"v"},
                 "spec":{"capacity":{"cpu":"1"},"accessModes":["ReadWriteSometimes"]}})",
       {"spec: Required value: must specify a volume type",
        R"(spec.capacity: Unsupported value: "cpu": supported values: "storage")",
        R"(spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")"},
       {}},
      {"local pv needs node affinity",
       R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"v"},
           "spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],"local":{"path":"/d"}}})",
       {"spec.nodeAffinity: Required value: Local volume requires node affinity"},
       {}},
      {"node taints and cidr",
       R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n"},
           "spec":{"podCIDR":"10.0.0.0/33","taints":[{"key":"k","effect":"Sometimes"},{"effect":"NoSchedule"}]}})",
       {R"(spec.podCIDR: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64))",
        R"(spec.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoExecute", "NoSchedule", "PreferNoSchedule")",
        "spec.taints[1].key: Required value"},
       {}},
      {"endpoints", R"({"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"e","namespace":"d"},
                        "subsets":[{"addresses":[{"ip":"nope"}],"ports":[{"port":0}]},{}]})",
       {R"(subsets[0].addresses[0].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff))",
        "subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        "subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`"},
       {}},
      {"event namespace", R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"e.1","namespace":"a"},
                             "involvedObject":{"kind":"Pod","namespace":"b","name":"p"},"type":"Odd"})",
       {R"(involvedObject.namespace: Invalid value: "b": does not match event.namespace)",
        R"(type: Unsupported value: "Odd": supported values: "Normal", "Warning")"},
       {}},
      {"lease", R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l","namespace":"d"},
                    "spec":{"leaseDurationSeconds":0,"leaseTransitions":-1}})",
       {"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
        "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"},
       {}},
      {"storage class", R"({"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"s"},
                           "reclaimPolicy":"Recycle","volumeBindingMode":"Later"})",
       {"provisioner: Required value",
        R"(reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain")",
        R"(volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer")"},
       {}},
      {"endpoint slice", R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
                            "metadata":{"name":"s","namespace":"d"},"addressType":"IPv4",
                            "endpoints":[{"addresses":["::1"]},{"addresses":[]}],
                            "ports":[{"port":0,"protocol":"ICMP"}]})",
       {R"(endpoints[0].addresses[0]: Invalid value: "::1": must be a valid IPv4 address)",
        "endpoints[1].addresses: Required value: must contain at least 1 address",
        "ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        R"(ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP")"},
       {}},
      {"controller revision", R"({"apiVersion":"apps/v1","kind":"ControllerRevision",
                                 "metadata":{"name":"r","namespace":"d"},"revision":-1})",
       {"data: Required value: data is mandatory",
        "revision: Invalid value: -1: must be greater than or equal to 0"},
       {}},
      {"namespace finalizers", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"n"},
                                  "spec":{"finalizers":["custom"]}})",
       {R"(spec.finalizers[0]: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified)"},
       {}},
  });
}

// ---------------------------------------------------------------------------------- updates

struct UpdateCase {
  const char* name;
  std::string updated;
  std::string old;
  std::vector<std::string> expected;  // exact list; empty means the update is allowed
};

void run_update_cases(const std::vector<UpdateCase>& cases) {
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      const auto errs = update_errors(c.updated, c.old);
      CHECK_MESSAGE(errs == c.expected, "got:\n" << show(errs));
    }
  }
}

std::string running_pod(const std::string& image, const std::string& extra_spec = "",
                        const std::string& extra_container = "",
                        const std::string& node = "node-1") {
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default",
      "uid":"u1","labels":{"app":"x"}},"spec":{"nodeName":")" +
         node + R"(","containers":[{"name":"c","image":")" + image + "\"" + extra_container +
         "}]" + (extra_spec.empty() ? "" : "," + extra_spec) + "}}";
}

constexpr const char* kPodUpdateForbidden =
    "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set "
    "to 1 if it was previously negative)";

TEST_CASE("pod updates") {
  const std::string tol1 = R"("tolerations":[{"key":"a","operator":"Exists"}])";
  const std::string tol2 =
      R"("tolerations":[{"key":"a","operator":"Exists"},{"key":"b","operator":"Exists"}])";
  run_update_cases({
      {"image changes are allowed", running_pod("kuard:v2"), running_pod("kuard:v1"), {}},
      {"labels are metadata and may change",
       running_pod("kuard:v1"),
       R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","uid":"u1"},
           "spec":{"nodeName":"node-1","containers":[{"name":"c","image":"kuard:v1"}]}})",
       {}},
      {"other spec fields are not", running_pod("kuard:v1", "", R"(,"ports":[{"containerPort":80}])"),
       running_pod("kuard:v1"), {kPodUpdateForbidden}},
      {"nodeName is not", running_pod("kuard:v1", "", "", "node-2"),
       running_pod("kuard:v1"), {kPodUpdateForbidden}},
      {"tolerations may be added", running_pod("kuard:v1", tol2), running_pod("kuard:v1", tol1),
       {}},
      {"tolerations may not be removed", running_pod("kuard:v1"), running_pod("kuard:v1", tol1),
       {"spec.tolerations[0]: Forbidden: existing toleration can not be modified except its "
        "tolerationSeconds"}},
      {"activeDeadlineSeconds may be set", running_pod("kuard:v1", R"("activeDeadlineSeconds":100)"),
       running_pod("kuard:v1"), {}},
      {"activeDeadlineSeconds may decrease",
       running_pod("kuard:v1", R"("activeDeadlineSeconds":50)"),
       running_pod("kuard:v1", R"("activeDeadlineSeconds":100)"), {}},
      {"activeDeadlineSeconds may not increase",
       running_pod("kuard:v1", R"("activeDeadlineSeconds":200)"),
       running_pod("kuard:v1", R"("activeDeadlineSeconds":100)"),
       {"spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous "
        "value"}},
      {"containers may not be added",
       R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","uid":"u1"},
           "spec":{"nodeName":"node-1","containers":[{"name":"c","image":"kuard:v1"},
                                                     {"name":"d","image":"x"}]}})",
       running_pod("kuard:v1"), {"spec.containers: Forbidden: pod updates may not add or remove containers"}},
      {"identity is immutable",
       R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","uid":"u2"},
           "spec":{"nodeName":"node-1","containers":[{"name":"c","image":"kuard:v1"}]}})",
       running_pod("kuard:v1"), {R"(metadata.uid: Invalid value: "u2": field is immutable)"}},
  });
}

std::string deploy_with_selector(const std::string& app, int replicas) {
  return R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"n"},
    "spec":{"replicas":)" +
         std::to_string(replicas) + R"(,"selector":{"matchLabels":{"app":")" + app +
         R"("}},"template":{"metadata":{"labels":{"app":")" + app +
         R"("}},"spec":{"containers":[{"name":"c","image":"i"}]}}}})";
}

TEST_CASE("workload updates") {
  const std::string sts_old = R"({"apiVersion":"apps/v1","kind":"StatefulSet",
      "metadata":{"name":"s","namespace":"n"},"spec":{"replicas":1,"serviceName":"a",
      "selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},
      "spec":{"containers":[{"name":"c","image":"i"}]}}}})";
  std::string sts_scaled = sts_old;
  sts_scaled.replace(sts_scaled.find("\"replicas\":1"), 12, "\"replicas\":4");
  std::string sts_renamed = sts_old;
  sts_renamed.replace(sts_renamed.find("\"serviceName\":\"a\""), 17, "\"serviceName\":\"z\"");
  const std::string ds_old = R"({"apiVersion":"apps/v1","kind":"DaemonSet",
      "metadata":{"name":"s","namespace":"n"},"spec":{"selector":{"matchLabels":{"a":"b"}},
      "template":{"metadata":{"labels":{"a":"b","c":"d"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}})";
  std::string ds_new = ds_old;
  ds_new.replace(ds_new.find("\"matchLabels\":{\"a\":\"b\"}"), 23, "\"matchLabels\":{\"c\":\"d\"}");
  run_update_cases({
      {"deployment scale and image are fine", deploy_with_selector("x", 7),
       deploy_with_selector("x", 5), {}},
      {"deployment selector is immutable", deploy_with_selector("y", 5),
       deploy_with_selector("x", 5),
       {"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"y\"}, "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"}},
      {"statefulset replicas may change", sts_scaled, sts_old, {}},
      {"statefulset serviceName may not",
       sts_renamed,
       sts_old,
       {"spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
        "'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
        "'minReadySeconds' are forbidden"}},
      {"daemonset selector is immutable", ds_new, ds_old,
       {"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"c\":\"d\"}, "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"}},
  });
}

TEST_CASE("replicaset selector is immutable through the typed API") {
  ReplicaSet old_rs = decode_text<ReplicaSet>(R"({"metadata":{"name":"r","namespace":"n"},
      "spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b","c":"d"}},
      "spec":{"containers":[{"name":"c","image":"i"}]}}}})");
  set_defaults(old_rs);
  CHECK(validate(old_rs).empty());
  ReplicaSet new_rs = old_rs;
  new_rs.spec.replicas = 3;
  CHECK(validate_update(new_rs, old_rs).empty());
  new_rs.spec.selector->match_labels = {{"c", "d"}};
  const auto errs = validate_update(new_rs, old_rs);
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].field == "spec.selector");
  CHECK(errs[0].detail == "field is immutable");
  CHECK(invalid_status("ReplicaSet.apps", "r", errs).message() ==
        "ReplicaSet.apps \"r\" is invalid: spec.selector: Invalid value: "
        "v1.LabelSelector{MatchLabels:map[string]string{\"c\":\"d\"}, "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable");
}

TEST_CASE("immutable data, services, claims and the rest") {
  const auto cm = [](const std::string& data, const std::string& immutable) {
    return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"n"},)" +
           immutable + R"("data":)" + data + "}";
  };
  const auto secret = [](const std::string& type, const std::string& immutable) {
    return R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"n"},)" +
           immutable + R"("type":")" + type + R"(","data":{"tls.crt":"AA==","tls.key":"AA=="}})";
  };
  const auto service = [](const std::string& ip) {
    return R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s","namespace":"n"},
      "spec":{"clusterIP":")" +
           ip + R"(","ports":[{"port":80}]}})";
  };
  const auto pvc = [](const std::string& storage, const std::string& cls, const std::string& volume,
                      const std::string& phase) {
    return R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"c","namespace":"n"},
      "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":")" +
           storage + R"("}},"storageClassName":")" + cls + R"(","volumeName":")" + volume +
           R"("},"status":{"phase":")" + phase + R"("}})";
  };
  const std::string forbidden = std::string(R"(field is immutable when `immutable` is set)");
  run_update_cases({
      {"mutable configmap", cm(R"({"a":"2"})", ""), cm(R"({"a":"1"})", ""), {}},
      {"immutable configmap data", cm(R"({"a":"2"})", R"("immutable":true,)"),
       cm(R"({"a":"1"})", R"("immutable":true,)"), {"data: Forbidden: " + forbidden}},
      {"immutable configmap flag", cm(R"({"a":"1"})", R"("immutable":false,)"),
       cm(R"({"a":"1"})", R"("immutable":true,)"), {"immutable: Forbidden: " + forbidden}},
      {"secret type", secret("kubernetes.io/tls", ""), secret("Opaque", ""),
       {R"(type: Invalid value: "kubernetes.io/tls": field is immutable)"}},
      {"service clusterIP once set", service("10.96.0.2"), service("10.96.0.1"),
       {R"(spec.clusterIP: Invalid value: "10.96.0.2": field is immutable)"}},
      {"service clusterIP may be allocated", service("10.96.0.2"), service(""), {}},
      {"pvc spec is immutable", pvc("1Gi", "fast", "", "Pending"), pvc("1Gi", "slow", "", "Pending"),
       {"spec: Forbidden: spec is immutable after creation except resources.requests and "
        "volumeAttributesClassName for bound claims"}},
      {"pvc volumeName may be set once", pvc("1Gi", "fast", "pv-1", "Pending"),
       pvc("1Gi", "fast", "", "Pending"), {}},
      {"bound pvc may grow", pvc("2Gi", "fast", "pv-1", "Bound"), pvc("1Gi", "fast", "pv-1", "Bound"),
       {}},
      {"unbound pvc may not resize", pvc("2Gi", "fast", "", "Pending"),
       pvc("1Gi", "fast", "", "Pending"),
       {"spec: Forbidden: spec is immutable after creation except resources.requests and "
        "volumeAttributesClassName for bound claims"}},
      {"bound pvc may not shrink", pvc("1Gi", "fast", "pv-1", "Bound"),
       pvc("2Gi", "fast", "pv-1", "Bound"),
       {"spec.resources.requests.storage: Forbidden: field can not be less than previous value"}},
      {"node podCIDR", R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n"},"spec":{"podCIDR":"10.0.2.0/24"}})",
       R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n"},"spec":{"podCIDR":"10.0.1.0/24"}})",
       {R"(spec.podCIDR: Forbidden: node updates may not change podCIDR except from "" to valid)"}},
      {"storage class", R"({"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"s"},
                           "provisioner":"b","parameters":{"a":"2"}})",
       R"({"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"s"},
           "provisioner":"a","parameters":{"a":"1"}})",
       {"parameters: Forbidden: updates to parameters are forbidden.",
        "provisioner: Forbidden: updates to provisioner are forbidden."}},
      {"endpoint slice address type",
       R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"s","namespace":"n"},"addressType":"IPv6"})",
       R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"s","namespace":"n"},"addressType":"IPv4"})",
       {R"(addressType: Invalid value: "IPv6": field is immutable)"}},
      {"pv volume mode",
       R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"v"},"spec":{"capacity":{"storage":"1Gi"},
           "accessModes":["ReadWriteOnce"],"hostPath":{"path":"/a"},"volumeMode":"Block"}})",
       R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"v"},"spec":{"capacity":{"storage":"1Gi"},
           "accessModes":["ReadWriteOnce"],"hostPath":{"path":"/a"}}})",
       {R"(spec.volumeMode: Invalid value: "Block": field is immutable)"}},
      {"pv source",
       R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"v"},"spec":{"capacity":{"storage":"1Gi"},
           "accessModes":["ReadWriteOnce"],"hostPath":{"path":"/b"}}})",
       R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"v"},"spec":{"capacity":{"storage":"1Gi"},
           "accessModes":["ReadWriteOnce"],"hostPath":{"path":"/a"}}})",
       {"spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after "
        "creation"}},
  });
}

TEST_CASE("Go-style value printing") {
  CHECK(go_string_map({}) == "map[string]string(nil)");
  CHECK(go_string_map({{"b", "2"}, {"a", "x\"y"}}) == R"(map[string]string{"a":"x\"y", "b":"2"})");
  LabelSelector s;
  s.match_expressions.push_back({"env", "In", {"a", "b"}});
  s.match_expressions.push_back({"x", "Exists", {}});
  CHECK(go_label_selector(s) ==
        "v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"env\", "
        "Operator:\"In\", Values:[]string{\"a\", \"b\"}}, v1.LabelSelectorRequirement{Key:\"x\", "
        "Operator:\"Exists\", Values:[]string(nil)}}}");
}

}  // namespace
}  // namespace orch::api
