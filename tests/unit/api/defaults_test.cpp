// Defaulting as the Kubernetes API server does it.
// Thread-safety: single-threaded test code.
#include <doctest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "object_test_util.hpp"
#include "orch/api/defaults.hpp"
#include "orch/api/types.hpp"

namespace orch::api {
namespace {

using testing::decode_text;
using testing::json;

template <class T>
boost::json::value defaulted(std::string_view text) {
  T obj = decode_text<T>(text);
  set_defaults(obj);
  return encode(obj);
}

TEST_CASE("image pull policy follows the tag") {
  struct Case {
    const char* image;
    const char* policy;
  };
  const std::vector<Case> cases = {
      {"nginx", "Always"},
      {"nginx:latest", "Always"},
      {"nginx:1.25", "IfNotPresent"},
      {"localhost:5000/nginx", "Always"},
      {"localhost:5000/nginx:1", "IfNotPresent"},
      {"registry.k8s.io/pause:3.9", "IfNotPresent"},
      {"nginx@sha256:0123456789abcdef", "IfNotPresent"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.image) { CHECK(default_image_pull_policy(c.image) == c.policy); }
  }
}

TEST_CASE("a Deployment gets the defaults a real API server returns") {
  const auto v = defaulted<Deployment>(testing::kKuardDeployment);
  CHECK(v.at("spec") == json(R"({
    "replicas": 5,
    "selector": {"matchLabels": {"app": "kuard"}},
    "template": {
      "metadata": {"creationTimestamp": null, "labels": {"app": "kuard"}},
      "spec": {
        "containers": [{"name": "kuard", "image": "kuard", "resources": {},
          "terminationMessagePath": "/dev/termination-log",
          "terminationMessagePolicy": "File", "imagePullPolicy": "Always"}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst", "securityContext": {},
        "schedulerName": "default-scheduler"}},
    "strategy": {"type": "RollingUpdate",
                 "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
    "revisionHistoryLimit": 10,
    "progressDeadlineSeconds": 600})"));
}

TEST_CASE("a Pod gets PodSpec defaults plus the Pod-only ones") {
  const auto v = defaulted<Pod>(testing::kKuardPod);
  CHECK(v.at("spec") == json(R"({
    "containers": [{"name": "kuard", "image": "kuard", "resources": {},
      "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
      "imagePullPolicy": "Always"}],
    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
    "dnsPolicy": "ClusterFirst", "securityContext": {}, "schedulerName": "default-scheduler",
    "enableServiceLinks": true})"));
}

// One table over every kind: the manifest before, and JSON pointers with the value expected
// after set_defaults().
struct Expectation {
  const char* pointer;
  boost::json::value value;
};
struct DefaultCase {
  const char* name;
  const char* kind;
  const char* manifest;
  std::vector<Expectation> expected;
};

boost::json::value defaulted_any(const char* kind, const char* text) {
  const std::string k = kind;
  if (k == "Pod") return defaulted<Pod>(text);
  if (k == "Deployment") return defaulted<Deployment>(text);
  if (k == "ReplicaSet") return defaulted<ReplicaSet>(text);
  if (k == "StatefulSet") return defaulted<StatefulSet>(text);
  if (k == "DaemonSet") return defaulted<DaemonSet>(text);
  if (k == "Service") return defaulted<Service>(text);
  if (k == "Secret") return defaulted<Secret>(text);
  if (k == "Namespace") return defaulted<Namespace>(text);
  if (k == "Node") return defaulted<Node>(text);
  if (k == "PersistentVolume") return defaulted<PersistentVolume>(text);
  if (k == "PersistentVolumeClaim") return defaulted<PersistentVolumeClaim>(text);
  if (k == "StorageClass") return defaulted<StorageClass>(text);
  if (k == "EndpointSlice") return defaulted<EndpointSlice>(text);
  if (k == "Endpoints") return defaulted<Endpoints>(text);
  FAIL("unknown kind " << k);
  return nullptr;
}

TEST_CASE("defaults of every kind") {
  const std::vector<DefaultCase> cases = {
      {"pod probes, ports, env, volumes", "Pod",
       R"({"spec":{"containers":[{"name":"c","image":"app:1",
          "ports":[{"containerPort":80}],
          "env":[{"name":"N","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}],
          "livenessProbe":{"httpGet":{"port":80}},
          "readinessProbe":{"exec":{"command":["true"]}, "periodSeconds":3},
          "lifecycle":{"preStop":{"httpGet":{"port":8080}}}}],
          "volumes":[{"name":"scratch"},{"name":"cfg","configMap":{"name":"c"}},
                     {"name":"s","secret":{"secretName":"s"}},
                     {"name":"h","hostPath":{"path":"/tmp"}}]}})",
       {{"/spec/containers/0/ports/0/protocol", "TCP"},
        {"/spec/containers/0/ports/0/hostPort", nullptr},
        {"/spec/containers/0/imagePullPolicy", "IfNotPresent"},
        {"/spec/containers/0/env/0/valueFrom/fieldRef/apiVersion", "v1"},
        {"/spec/containers/0/livenessProbe/timeoutSeconds", 1},
        {"/spec/containers/0/livenessProbe/periodSeconds", 10},
        {"/spec/containers/0/livenessProbe/successThreshold", 1},
        {"/spec/containers/0/livenessProbe/failureThreshold", 3},
        {"/spec/containers/0/livenessProbe/httpGet/path", "/"},
        {"/spec/containers/0/livenessProbe/httpGet/scheme", "HTTP"},
        {"/spec/containers/0/readinessProbe/periodSeconds", 3},
        {"/spec/containers/0/lifecycle/preStop/httpGet/scheme", "HTTP"},
        {"/spec/volumes/0/emptyDir", json("{}")},
        {"/spec/volumes/1/configMap/defaultMode", 420},
        {"/spec/volumes/2/secret/defaultMode", 420},
        {"/spec/volumes/3/hostPath/type", ""}}},
      {"pod requests default to limits", "Pod",
       R"({"spec":{"containers":[{"name":"c","image":"i",
          "resources":{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"500m"}}}],
          "initContainers":[{"name":"i","image":"i","resources":{"limits":{"cpu":"2"}}}]}})",
       {{"/spec/containers/0/resources/requests", json(R"({"cpu":"500m","memory":"1Gi"})")},
        {"/spec/initContainers/0/resources/requests", json(R"({"cpu":"2"})")}}},
      {"pod hostNetwork ports", "Pod",
       R"({"spec":{"hostNetwork":true,"containers":[{"name":"c","image":"i",
          "ports":[{"containerPort":8080}]}]}})",
       {{"/spec/containers/0/ports/0/hostPort", 8080}}},
      {"explicit values are kept", "Pod",
       R"({"spec":{"restartPolicy":"Never","dnsPolicy":"Default",
          "terminationGracePeriodSeconds":0,"enableServiceLinks":false,"schedulerName":"mine",
          "containers":[{"name":"c","image":"i","imagePullPolicy":"Never"}]}})",
       {{"/spec/restartPolicy", "Never"},
        {"/spec/dnsPolicy", "Default"},
        {"/spec/terminationGracePeriodSeconds", 0},
        {"/spec/enableServiceLinks", false},
        {"/spec/schedulerName", "mine"},
        {"/spec/containers/0/imagePullPolicy", "Never"}}},
      {"deployment replicas 0 stays 0, template limits are not copied", "Deployment",
       R"({"spec":{"replicas":0,"template":{"spec":{"containers":[{"name":"c","image":"i",
          "resources":{"limits":{"cpu":"1"}}}]}}}})",
       {{"/spec/replicas", 0},
        {"/spec/template/spec/containers/0/resources", json(R"({"limits":{"cpu":"1"}})")},
        {"/spec/template/spec/enableServiceLinks", nullptr}}},
      {"deployment Recreate gets no rollingUpdate", "Deployment",
       R"({"spec":{"strategy":{"type":"Recreate"}}})",
       {{"/spec/strategy", json(R"({"type":"Recreate"})")}, {"/spec/replicas", 1}}},
      {"deployment partial rollingUpdate", "Deployment",
       R"({"spec":{"strategy":{"rollingUpdate":{"maxSurge":1}}}})",
       {{"/spec/strategy",
         json(R"({"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":1}})")}}},
      {"replicaset", "ReplicaSet", R"({"spec":{"template":{"spec":{"containers":[]}}}})",
       {{"/spec/replicas", 1}, {"/spec/template/spec/restartPolicy", "Always"}}},
      {"statefulset", "StatefulSet",
       R"({"spec":{"volumeClaimTemplates":[{"metadata":{"name":"d"},
          "spec":{"accessModes":["ReadWriteOnce"]}}]}})",
       {{"/spec/replicas", 1},
        {"/spec/podManagementPolicy", "OrderedReady"},
        {"/spec/updateStrategy", json(R"({"type":"RollingUpdate","rollingUpdate":{"partition":0}})")},
        {"/spec/revisionHistoryLimit", 10},
        {"/spec/persistentVolumeClaimRetentionPolicy",
         json(R"({"whenDeleted":"Retain","whenScaled":"Retain"})")},
        {"/spec/volumeClaimTemplates/0/spec/volumeMode", "Filesystem"},
        {"/spec/volumeClaimTemplates/0/status/phase", "Pending"},
        {"/spec/template/spec/dnsPolicy", "ClusterFirst"}}},
      {"statefulset OnDelete", "StatefulSet", R"({"spec":{"updateStrategy":{"type":"OnDelete"}}})",
       {{"/spec/updateStrategy", json(R"({"type":"OnDelete"})")}}},
      {"daemonset", "DaemonSet", R"({"spec":{}})",
       {{"/spec/updateStrategy",
         json(R"({"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":0}})")},
        {"/spec/revisionHistoryLimit", 10}}},
      {"service ClusterIP", "Service",
       R"({"spec":{"ports":[{"port":80},{"port":443,"targetPort":"https","protocol":"UDP"}]}})",
       {{"/spec/type", "ClusterIP"},
        {"/spec/sessionAffinity", "None"},
        {"/spec/ports/0/protocol", "TCP"},
        {"/spec/ports/0/targetPort", 80},
        {"/spec/ports/1/protocol", "UDP"},
        {"/spec/ports/1/targetPort", "https"},
        {"/spec/internalTrafficPolicy", "Cluster"},
        {"/spec/externalTrafficPolicy", nullptr},
        {"/spec/allocateLoadBalancerNodePorts", nullptr}}},
      {"service LoadBalancer", "Service",
       R"({"spec":{"type":"LoadBalancer","sessionAffinity":"ClientIP","ports":[{"port":80}]},
          "status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"},{"hostname":"lb"}]}}})",
       {{"/spec/externalTrafficPolicy", "Cluster"},
        {"/spec/allocateLoadBalancerNodePorts", true},
        {"/spec/sessionAffinityConfig", json(R"({"clientIP":{"timeoutSeconds":10800}})")},
        {"/status/loadBalancer/ingress/0/ipMode", "VIP"},
        {"/status/loadBalancer/ingress/1/ipMode", nullptr}}},
      {"service ExternalName", "Service",
       R"({"spec":{"type":"ExternalName","externalName":"example.com"}})",
       {{"/spec/internalTrafficPolicy", nullptr}, {"/spec/externalTrafficPolicy", nullptr}}},
      {"secret stringData merges into data", "Secret",
       R"({"data":{"a":"b2xk","b":"Yg=="},"stringData":{"a":"new","c":"c"}})",
       {{"/type", "Opaque"},
        {"/data", json(R"({"a":"bmV3","b":"Yg==","c":"Yw=="})")},
        {"/stringData", nullptr}}},
      {"namespace", "Namespace", R"({"metadata":{"name":"ns"}})",
       {{"/spec/finalizers", json(R"(["kubernetes"])")}, {"/status/phase", "Active"}}},
      {"node allocatable", "Node", R"({"status":{"capacity":{"cpu":"2"}}})",
       {{"/status/allocatable", json(R"({"cpu":"2"})")}}},
      {"persistent volume", "PersistentVolume", R"({"spec":{"hostPath":{"path":"/x"}}})",
       {{"/spec/persistentVolumeReclaimPolicy", "Retain"},
        {"/spec/volumeMode", "Filesystem"},
        {"/status/phase", "Pending"}}},
      {"persistent volume claim", "PersistentVolumeClaim", R"({"spec":{}})",
       {{"/spec/volumeMode", "Filesystem"},
        {"/status/phase", "Pending"},
        {"/spec/storageClassName", nullptr}}},
      {"storage class", "StorageClass", R"({"provisioner":"p"})",
       {{"/reclaimPolicy", "Delete"}, {"/volumeBindingMode", "Immediate"}}},
      {"endpoint slice", "EndpointSlice", R"({"addressType":"IPv4","ports":[{"port":80}]})",
       {{"/ports/0", json(R"({"name":"","protocol":"TCP","port":80})")}}},
      {"endpoints", "Endpoints", R"({"subsets":[{"ports":[{"port":80}]}]})",
       {{"/subsets/0/ports/0/protocol", "TCP"}}},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      const auto v = defaulted_any(c.kind, c.manifest);
      for (const auto& e : c.expected) {
        boost::system::error_code ec;
        const boost::json::value* got = v.find_pointer(e.pointer, ec);
        if (e.value.is_null()) {
          CHECK_MESSAGE(got == nullptr, e.pointer << " = " << (got ? serialize(*got) : ""));
        } else {
          REQUIRE_MESSAGE(got != nullptr, e.pointer << " missing in " << serialize(v));
          CHECK_MESSAGE(*got == e.value, e.pointer << " = " << serialize(*got));
        }
      }
    }
  }
}

TEST_CASE("defaulting is idempotent") {
  Deployment d = decode_text<Deployment>(testing::kKuardDeployment);
  set_defaults(d);
  const Deployment once = d;
  set_defaults(d);
  CHECK(d == once);
  Secret s = decode_text<Secret>(R"({"stringData":{"a":"x"}})");
  set_defaults(s);
  const Secret once_s = s;
  set_defaults(s);
  CHECK(s == once_s);
}

}  // namespace
}  // namespace orch::api
