// Server-side printing (meta.k8s.io Table): the column set of every printed resource, the exact
// cells kubectl would show for realistic stored objects, the Table envelope, and the Accept-header
// test. Objects are written the way a real cluster stores them; ages are measured from kNow.
//
// Thread-safety: single-threaded doctest cases.
#include "orch/apiserver/table.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <doctest.h>

namespace orch::apiserver {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// 2024-05-01T12:00:00Z. Timestamps in the objects below are written relative to it.
const std::chrono::system_clock::time_point kNow =
    std::chrono::sys_days{std::chrono::year{2024} / 5 / 1} + 12h;

json::object parse_object(std::string_view text) {
  json::value v = json::parse(text);
  REQUIRE(v.is_object());
  return v.as_object();
}

// The cells as compact JSON text, so a failure prints both rows side by side.
std::string cells_text(std::string_view group, std::string_view resource, std::string_view obj) {
  std::vector<json::value> cells = table_cells(group, resource, parse_object(obj), kNow);
  return json::serialize(json::array(cells.begin(), cells.end()));
}

std::string normalized(std::string_view json_text) {
  return json::serialize(json::parse(json_text));
}

struct CellCase {
  std::string name;
  std::string group;
  std::string resource;
  std::string object;    // the stored object, JSON
  std::string expected;  // the cells, JSON array
};

void check_cells(const std::vector<CellCase>& cases) {
  for (const CellCase& c : cases) {
    SUBCASE(c.name.c_str()) {
      CHECK(cells_text(c.group, c.resource, c.object) == normalized(c.expected));
      // Every row has exactly one cell per column.
      CHECK(table_cells(c.group, c.resource, parse_object(c.object), kNow).size() ==
            table_columns(c.group, c.resource).size());
    }
  }
}

// A pod named kuard created five minutes before kNow, with the given extra metadata fields
// (leading comma included), spec and status.
std::string pod(std::string_view extra_metadata, std::string_view spec, std::string_view status) {
  return std::string(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"kuard",)"
                     R"("namespace":"default","uid":"3b3b8c2e-1f0e-4a43-9f62-0c0b5f1f6d4a",)"
                     R"("resourceVersion":"107","creationTimestamp":"2024-05-01T11:55:00Z",)"
                     R"("labels":{"run":"kuard"})") +
         std::string(extra_metadata) + R"(},"spec":)" + std::string(spec) + R"(,"status":)" +
         std::string(status) + "}";
}

constexpr std::string_view kKuardSpec =
    R"({"containers":[{"name":"kuard","image":"gcr.io/kuar-demo/kuard-amd64:blue",)"
    R"("imagePullPolicy":"IfNotPresent","resources":{},"terminationMessagePath":)"
    R"("/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst",)"
    R"("nodeName":"node-1","restartPolicy":"Always","schedulerName":"default-scheduler",)"
    R"("serviceAccountName":"default","terminationGracePeriodSeconds":30})";

constexpr std::string_view kReadyConditions =
    R"("conditions":[)"
    R"({"type":"Initialized","status":"True","lastProbeTime":null,"lastTransitionTime":"2024-05-01T11:55:01Z"},)"
    R"({"type":"Ready","status":"True","lastProbeTime":null,"lastTransitionTime":"2024-05-01T11:55:04Z"},)"
    R"({"type":"ContainersReady","status":"True","lastProbeTime":null,"lastTransitionTime":"2024-05-01T11:55:04Z"},)"
    R"({"type":"PodScheduled","status":"True","lastProbeTime":null,"lastTransitionTime":"2024-05-01T11:55:00Z"}])";

std::string running_status(std::string_view container_statuses) {
  return std::string(R"({"phase":"Running","hostIP":"10.0.0.10","podIP":"10.244.0.5",)"
                     R"("podIPs":[{"ip":"10.244.0.5"}],"startTime":"2024-05-01T11:55:01Z",)"
                     R"("qosClass":"BestEffort",)") +
         std::string(kReadyConditions) + R"(,"containerStatuses":)" +
         std::string(container_statuses) + "}";
}

constexpr std::string_view kRunningKuard =
    R"([{"name":"kuard","image":"gcr.io/kuar-demo/kuard-amd64:blue","imageID":)"
    R"("gcr.io/kuar-demo/kuard-amd64@sha256:1ecc9fb2c871302fdb57a25e0c076311b7b352b0a9246d442940ca8fb4efe229",)"
    R"("containerID":"containerd://4a1f0c","ready":true,"started":true,"restartCount":0,)"
    R"("state":{"running":{"startedAt":"2024-05-01T11:55:03Z"}},"lastState":{}}])";

TEST_CASE("pod rows: READY, STATUS with kubectl's rules, RESTARTS, AGE and the wide columns") {
  const std::vector<CellCase> cases = {
      {"running 1/1", "", "pods", pod("", kKuardSpec, running_status(kRunningKuard)),
       R"(["kuard","1/1","Running","0","5m","10.244.0.5","node-1","<none>","<none>"])"},
      {"CrashLoopBackOff with restarts and time since the last one", "", "pods",
       pod("", kKuardSpec,
           R"({"phase":"Running","podIP":"10.244.0.5","podIPs":[{"ip":"10.244.0.5"}],)"
           R"("conditions":[{"type":"Initialized","status":"True"},{"type":"Ready","status":"False"}],)"
           R"("containerStatuses":[{"name":"kuard","image":"kuard","imageID":"","ready":false,)"
           R"("started":false,"restartCount":5,"state":{"waiting":{"reason":"CrashLoopBackOff",)"
           R"("message":"back-off 2m40s restarting failed container=kuard"}},)"
           R"("lastState":{"terminated":{"exitCode":1,"reason":"Error",)"
           R"("startedAt":"2024-05-01T11:57:50Z","finishedAt":"2024-05-01T11:58:00Z"}}}]})"),
       R"j(["kuard","0/1","CrashLoopBackOff","5 (2m ago)","5m","10.244.0.5","node-1","<none>","<none>"])j"},
      {"ErrImagePull while pending", "", "pods",
       pod("", kKuardSpec,
           R"({"phase":"Pending","hostIP":"10.0.0.10","podIP":"10.244.0.7",)"
           R"("podIPs":[{"ip":"10.244.0.7"}],"conditions":[{"type":"Initialized","status":"True"}],)"
           R"("containerStatuses":[{"name":"kuard","image":"kuard:nope","imageID":"","ready":false,)"
           R"("started":false,"restartCount":0,"state":{"waiting":{"reason":"ErrImagePull",)"
           R"("message":"failed to pull"}},"lastState":{}}]})"),
       R"(["kuard","0/1","ErrImagePull","0","5m","10.244.0.7","node-1","<none>","<none>"])"},
      {"Terminating once deletionTimestamp is set", "", "pods",
       pod(R"(,"deletionTimestamp":"2024-05-01T11:59:30Z","deletionGracePeriodSeconds":30)",
           kKuardSpec, running_status(kRunningKuard)),
       R"(["kuard","1/1","Terminating","0","5m","10.244.0.5","node-1","<none>","<none>"])"},
      {"a finished pod being deleted keeps its phase", "", "pods",
       pod(R"(,"deletionTimestamp":"2024-05-01T11:59:30Z")", kKuardSpec,
           R"({"phase":"Succeeded","containerStatuses":[{"name":"kuard","ready":false,)"
           R"("restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed",)"
           R"("finishedAt":"2024-05-01T11:58:00Z"}}}]})"),
       R"(["kuard","0/1","Completed","0","5m","<none>","node-1","<none>","<none>"])"},
      {"Unknown when deleted on a lost node", "", "pods",
       pod(R"(,"deletionTimestamp":"2024-05-01T11:59:30Z")", kKuardSpec,
           R"({"phase":"Running","reason":"NodeLost","message":"Node node-1 is unreachable"})"),
       R"(["kuard","0/1","Unknown","0","5m","<none>","node-1","<none>","<none>"])"},
      {"Pending and unscheduled", "", "pods",
       pod("", R"({"containers":[{"name":"kuard","image":"kuard"}]})",
           R"({"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False",)"
           R"("reason":"Unschedulable","message":"0/1 nodes are available"}],"qosClass":"BestEffort"})"),
       R"(["kuard","0/1","Pending","0","5m","<none>","<none>","<none>","<none>"])"},
      {"SchedulingGated", "", "pods",
       pod("",
           R"({"containers":[{"name":"kuard","image":"kuard"}],"schedulingGates":[{"name":"x"}]})",
           R"({"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False",)"
           R"("reason":"SchedulingGated"}]})"),
       R"(["kuard","0/1","SchedulingGated","0","5m","<none>","<none>","<none>","<none>"])"},
      {"Init:0/1 while the init container runs", "", "pods",
       pod("",
           R"({"initContainers":[{"name":"setup","image":"busybox"}],)"
           R"("containers":[{"name":"kuard","image":"kuard"}],"nodeName":"node-1"})",
           R"({"phase":"Pending","conditions":[{"type":"Initialized","status":"False",)"
           R"("reason":"ContainersNotInitialized"}],)"
           R"("initContainerStatuses":[{"name":"setup","ready":false,"restartCount":0,)"
           R"("state":{"running":{"startedAt":"2024-05-01T11:55:02Z"}}}],)"
           R"("containerStatuses":[{"name":"kuard","ready":false,"restartCount":0,)"
           R"("state":{"waiting":{"reason":"PodInitializing"}}}]})"),
       R"(["kuard","0/1","Init:0/1","0","5m","<none>","node-1","<none>","<none>"])"},
      {"Init:CrashLoopBackOff", "", "pods",
       pod("",
           R"({"initContainers":[{"name":"setup","image":"busybox"}],)"
           R"("containers":[{"name":"kuard","image":"kuard"}],"nodeName":"node-1"})",
           R"({"phase":"Pending","conditions":[{"type":"Initialized","status":"False"}],)"
           R"("initContainerStatuses":[{"name":"setup","ready":false,"restartCount":3,)"
           R"("state":{"waiting":{"reason":"CrashLoopBackOff"}},)"
           R"("lastState":{"terminated":{"exitCode":1,"reason":"Error","finishedAt":"2024-05-01T11:59:00Z"}}}],)"
           R"("containerStatuses":[{"name":"kuard","ready":false,"restartCount":0,)"
           R"("state":{"waiting":{"reason":"PodInitializing"}}}]})"),
       R"j(["kuard","0/1","Init:CrashLoopBackOff","3 (60s ago)","5m","<none>","node-1","<none>","<none>"])j"},
      {"Init:Error and Init:ExitCode", "", "pods",
       pod("",
           R"({"initContainers":[{"name":"a","image":"busybox"},{"name":"b","image":"busybox"}],)"
           R"("containers":[{"name":"kuard","image":"kuard"}]})",
           R"({"phase":"Pending","initContainerStatuses":[)"
           R"({"name":"a","ready":false,"restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}},)"
           R"({"name":"b","ready":false,"restartCount":0,"state":{"terminated":{"exitCode":2}}}]})"),
       R"(["kuard","0/1","Init:ExitCode:2","0","5m","<none>","<none>","<none>","<none>"])"},
      {"Completed", "", "pods",
       pod("", kKuardSpec,
           R"({"phase":"Succeeded","conditions":[{"type":"Initialized","status":"True"},)"
           R"({"type":"Ready","status":"False","reason":"PodCompleted"}],)"
           R"("containerStatuses":[{"name":"kuard","ready":false,"started":false,"restartCount":0,)"
           R"("state":{"terminated":{"exitCode":0,"reason":"Completed",)"
           R"("startedAt":"2024-05-01T11:55:03Z","finishedAt":"2024-05-01T11:56:00Z"}}}]})"),
       R"(["kuard","0/1","Completed","0","5m","<none>","node-1","<none>","<none>"])"},
      {"a terminated container without a reason shows its exit code or signal", "", "pods",
       pod("",
           R"({"containers":[{"name":"a","image":"x"},{"name":"b","image":"y"}],"nodeName":"node-1"})",
           R"({"phase":"Failed","containerStatuses":[)"
           R"({"name":"a","ready":false,"restartCount":0,"state":{"terminated":{"exitCode":137,"signal":9}}},)"
           R"({"name":"b","ready":false,"restartCount":0,"state":{"terminated":{"exitCode":3}}}]})"),
       R"(["kuard","0/2","Signal:9","0","5m","<none>","node-1","<none>","<none>"])"},
      {"Running again when a completed container has a running sibling", "", "pods",
       pod("",
           R"({"containers":[{"name":"web","image":"nginx"},{"name":"job","image":"busybox"}],"nodeName":"node-1"})",
           std::string(R"({"phase":"Running","podIPs":[{"ip":"10.244.0.9"}],)") +
               std::string(kReadyConditions) +
               R"(,"containerStatuses":[)"
               R"({"name":"web","ready":true,"restartCount":1,"state":{"running":{}},)"
               R"("lastState":{"terminated":{"exitCode":1,"finishedAt":"2024-05-01T07:00:00Z"}}},)"
               R"({"name":"job","ready":false,"restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]})"),
       R"j(["kuard","1/2","Running","1 (5h ago)","5m","10.244.0.9","node-1","<none>","<none>"])j"},
      {"a ready sidecar counts towards READY", "", "pods",
       pod("",
           R"({"initContainers":[{"name":"proxy","image":"envoy","restartPolicy":"Always"}],)"
           R"("containers":[{"name":"kuard","image":"kuard"}],"nodeName":"node-1"})",
           std::string(R"({"phase":"Running","podIPs":[{"ip":"10.244.0.5"}],)") +
               std::string(kReadyConditions) +
               R"(,"initContainerStatuses":[{"name":"proxy","ready":true,"started":true,)"
               R"("restartCount":0,"state":{"running":{}}}],)"
               R"("containerStatuses":[{"name":"kuard","ready":true,"restartCount":0,"state":{"running":{}}}]})"),
       R"(["kuard","2/2","Running","0","5m","10.244.0.5","node-1","<none>","<none>"])"},
      {"nominated node and readiness gates", "", "pods",
       pod("",
           R"({"containers":[{"name":"kuard","image":"kuard"}],)"
           R"("readinessGates":[{"conditionType":"example.com/lb"},{"conditionType":"example.com/dns"}]})",
           R"({"phase":"Pending","nominatedNodeName":"node-2","conditions":[)"
           R"({"type":"example.com/lb","status":"True"},{"type":"example.com/dns","status":"False"}]})"),
       R"(["kuard","0/1","Pending","0","5m","<none>","<none>","node-2","1/2"])"},
  };
  check_cells(cases);
}

TEST_CASE("workload rows: deployments, replicasets, statefulsets, daemonsets, revisions") {
  const std::vector<CellCase> cases = {
      {"deployment", "apps", "deployments",
       R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"kuard",)"
       R"("namespace":"default","generation":2,"creationTimestamp":"2024-04-29T12:00:00Z",)"
       R"("annotations":{"deployment.kubernetes.io/revision":"1"},"labels":{"app":"kuard"}},)"
       R"("spec":{"replicas":5,"selector":{"matchLabels":{"app":"kuard"}},)"
       R"("template":{"metadata":{"labels":{"app":"kuard"}},"spec":{"containers":[)"
       R"({"name":"kuard","image":"gcr.io/kuar-demo/kuard-amd64:blue"},{"name":"sidecar","image":"busybox:1.36"}]}},)"
       R"("strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}}},)"
       R"("status":{"observedGeneration":2,"replicas":5,"updatedReplicas":3,"readyReplicas":4,)"
       R"("availableReplicas":4,"unavailableReplicas":1}})",
       R"(["kuard","4/5",3,4,"2d","kuard,sidecar","gcr.io/kuar-demo/kuard-amd64:blue,busybox:1.36","app=kuard"])"},
      {"new deployment without status", "apps", "deployments",
       R"({"metadata":{"name":"web","creationTimestamp":"2024-05-01T11:59:50Z"},)"
       R"("spec":{"replicas":2,"selector":{"matchLabels":{"tier":"web","app":"shop"}},)"
       R"("template":{"spec":{"containers":[{"name":"nginx","image":"nginx"}]}}}})",
       R"(["web","0/2",0,0,"10s","nginx","nginx","app=shop,tier=web"])"},
      {"replicaset", "apps", "replicasets",
       R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"kuard-5d8f9c7b4",)"
       R"("namespace":"default","creationTimestamp":"2024-04-29T12:00:00Z",)"
       R"("labels":{"app":"kuard","pod-template-hash":"5d8f9c7b4"},)"
       R"("ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"kuard",)"
       R"("uid":"1","controller":true,"blockOwnerDeletion":true}]},)"
       R"("spec":{"replicas":5,"selector":{"matchLabels":{"app":"kuard","pod-template-hash":"5d8f9c7b4"}},)"
       R"("template":{"metadata":{"labels":{"app":"kuard","pod-template-hash":"5d8f9c7b4"}},)"
       R"("spec":{"containers":[{"name":"kuard","image":"gcr.io/kuar-demo/kuard-amd64:blue"}]}}},)"
       R"("status":{"replicas":5,"fullyLabeledReplicas":5,"readyReplicas":3,"availableReplicas":3,)"
       R"("observedGeneration":1}})",
       R"(["kuard-5d8f9c7b4",5,5,3,"2d","kuard","gcr.io/kuar-demo/kuard-amd64:blue","app=kuard,pod-template-hash=5d8f9c7b4"])"},
      {"statefulset", "apps", "statefulsets",
       R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"web","namespace":"default",)"
       R"("creationTimestamp":"2024-05-01T11:50:00Z"},"spec":{"replicas":3,"serviceName":"web",)"
       R"("selector":{"matchLabels":{"app":"web"}},"template":{"spec":{"containers":[)"
       R"({"name":"nginx","image":"registry.k8s.io/nginx-slim:0.8"}]}}},)"
       R"("status":{"replicas":3,"readyReplicas":2,"currentReplicas":3,"updatedReplicas":3}})",
       R"(["web","2/3","10m","nginx","registry.k8s.io/nginx-slim:0.8"])"},
      {"daemonset", "apps", "daemonsets",
       R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"kube-proxy",)"
       R"("namespace":"kube-system","creationTimestamp":"2024-04-01T12:00:00Z"},)"
       R"("spec":{"selector":{"matchLabels":{"k8s-app":"kube-proxy"},"matchExpressions":[)"
       R"({"key":"tier","operator":"In","values":["node","edge"]},{"key":"canary","operator":"DoesNotExist"}]},)"
       R"("template":{"spec":{"nodeSelector":{"kubernetes.io/os":"linux"},"containers":[)"
       R"({"name":"kube-proxy","image":"registry.k8s.io/kube-proxy:v1.32.4"}]}}},)"
       R"("status":{"currentNumberScheduled":3,"desiredNumberScheduled":3,"numberAvailable":2,)"
       R"("numberMisscheduled":0,"numberReady":2,"observedGeneration":1,"updatedNumberScheduled":3}})",
       R"(["kube-proxy",3,3,2,3,2,"kubernetes.io/os=linux","30d","kube-proxy",)"
       R"j("registry.k8s.io/kube-proxy:v1.32.4","!canary,k8s-app=kube-proxy,tier in (edge,node)"])j"},
      {"daemonset without node selector or selector", "apps", "daemonsets",
       R"({"metadata":{"name":"agent","creationTimestamp":"2024-04-01T12:00:00Z"},)"
       R"("spec":{"template":{"spec":{"containers":[{"name":"a","image":"a:1"}]}}}})",
       R"(["agent",0,0,0,0,0,"<none>","30d","a","a:1","<none>"])"},
      {"controllerrevision", "apps", "controllerrevisions",
       R"({"apiVersion":"apps/v1","kind":"ControllerRevision","metadata":{"name":"web-7b9f6c5d4",)"
       R"("namespace":"default","creationTimestamp":"2024-05-01T11:55:00Z","ownerReferences":[)"
       R"({"apiVersion":"apps/v1","kind":"StatefulSet","name":"web","uid":"u","controller":true}]},)"
       R"("data":{"spec":{}},"revision":2})",
       R"(["web-7b9f6c5d4","statefulset.apps/web",2,"5m"])"},
      {"controllerrevision without a controller", "apps", "controllerrevisions",
       R"({"metadata":{"name":"orphan","creationTimestamp":"2024-05-01T11:55:00Z"},"revision":1})",
       R"(["orphan","<none>",1,"5m"])"},
  };
  check_cells(cases);
}

TEST_CASE("service rows: TYPE, CLUSTER-IP, EXTERNAL-IP and PORT(S) as kubectl prints them") {
  const std::vector<CellCase> cases = {
      {"the kubernetes service", "", "services",
       R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"kubernetes","namespace":"default",)"
       R"("creationTimestamp":"2024-04-01T12:00:00Z","labels":{"component":"apiserver","provider":"kubernetes"}},)"
       R"("spec":{"type":"ClusterIP","clusterIP":"10.96.0.1","clusterIPs":["10.96.0.1"],)"
       R"("ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","sessionAffinity":"None",)"
       R"("ports":[{"name":"https","port":443,"protocol":"TCP","targetPort":6443}]},)"
       R"("status":{"loadBalancer":{}}})",
       R"(["kubernetes","ClusterIP","10.96.0.1","<none>","443/TCP","30d","<none>"])"},
      {"LoadBalancer without ingress is pending", "", "services",
       R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"kuard","namespace":"default",)"
       R"("creationTimestamp":"2024-05-01T11:55:00Z"},"spec":{"type":"LoadBalancer",)"
       R"("clusterIP":"10.96.12.34","clusterIPs":["10.96.12.34"],"externalTrafficPolicy":"Cluster",)"
       R"("ports":[{"port":80,"protocol":"TCP","targetPort":8080,"nodePort":31234}],)"
       R"("selector":{"app":"kuard"}},"status":{"loadBalancer":{}}})",
       R"(["kuard","LoadBalancer","10.96.12.34","<pending>","80:31234/TCP","5m","app=kuard"])"},
      {"LoadBalancer with ingress lists sorted IPs and hostnames, then externalIPs", "", "services",
       R"({"metadata":{"name":"kuard","creationTimestamp":"2024-05-01T11:55:00Z"},)"
       R"("spec":{"type":"LoadBalancer","clusterIP":"10.96.12.34","clusterIPs":["10.96.12.34"],)"
       R"("externalIPs":["192.0.2.50"],"ports":[{"name":"http","port":80,"protocol":"TCP",)"
       R"("targetPort":8080,"nodePort":31234},{"name":"dns","port":53,"protocol":"UDP","nodePort":30053}],)"
       R"("selector":{"app":"kuard","tier":"front"}},)"
       R"("status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.9"},{"hostname":"lb.example.com"},)"
       R"({"ip":"203.0.113.10"},{"ip":"203.0.113.9"}]}}})",
       R"(["kuard","LoadBalancer","10.96.12.34","203.0.113.10,203.0.113.9,lb.example.com,192.0.2.50",)"
       R"("80:31234/TCP,53:30053/UDP","5m","app=kuard,tier=front"])"},
      {"NodePort with externalIPs", "", "services",
       R"({"metadata":{"name":"np","creationTimestamp":"2024-05-01T11:55:00Z"},)"
       R"("spec":{"type":"NodePort","clusterIP":"10.96.1.2","externalIPs":["198.51.100.1","198.51.100.2"],)"
       R"("ports":[{"port":8080,"nodePort":30080}]}})",
       R"(["np","NodePort","10.96.1.2","198.51.100.1,198.51.100.2","8080:30080/TCP","5m","<none>"])"},
      {"headless with no ports", "", "services",
       R"({"metadata":{"name":"web","creationTimestamp":"2024-05-01T11:55:00Z"},)"
       R"("spec":{"type":"ClusterIP","clusterIP":"None","clusterIPs":["None"],"selector":{"app":"web"}}})",
       R"(["web","ClusterIP","None","<none>","<none>","5m","app=web"])"},
      {"ExternalName", "", "services",
       R"({"metadata":{"name":"db","creationTimestamp":"2024-05-01T11:55:00Z"},)"
       R"("spec":{"type":"ExternalName","externalName":"db.example.com"}})",
       R"(["db","ExternalName","<none>","db.example.com","<none>","5m","<none>"])"},
  };
  check_cells(cases);
}

TEST_CASE("endpoints and endpointslice rows") {
  const std::vector<CellCase> cases = {
      {"more than three endpoints", "", "endpoints",
       R"({"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"kuard","namespace":"default",)"
       R"("creationTimestamp":"2024-05-01T11:55:00Z"},"subsets":[{"addresses":[)"
       R"({"ip":"10.0.0.1","nodeName":"node-1","targetRef":{"kind":"Pod","name":"kuard-1"}},)"
       R"({"ip":"10.0.0.2"},{"ip":"10.0.0.3"},{"ip":"10.0.0.4"},{"ip":"10.0.0.5"}],)"
       R"("ports":[{"port":8080,"protocol":"TCP"}]}]})",
       R"(["kuard","10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 2 more...","5m"])"},
      {"two ports, not-ready addresses ignored", "", "endpoints",
       R"({"metadata":{"name":"web","creationTimestamp":"2024-05-01T11:55:00Z"},"subsets":[)"
       R"({"addresses":[{"ip":"10.0.0.1"}],"notReadyAddresses":[{"ip":"10.0.0.9"}],)"
       R"("ports":[{"name":"http","port":80},{"name":"https","port":443}]}]})",
       R"(["web","10.0.0.1:80,10.0.0.1:443","5m"])"},
      {"IPv6 and a port-less subset", "", "endpoints",
       R"({"metadata":{"name":"v6","creationTimestamp":"2024-05-01T11:55:00Z"},"subsets":[)"
       R"({"addresses":[{"ip":"fd00::1"}],"ports":[{"port":80}]},{"addresses":[{"ip":"10.0.0.7"}]}]})",
       R"(["v6","[fd00::1]:80,10.0.0.7","5m"])"},
      {"no subsets", "", "endpoints",
       R"({"metadata":{"name":"empty","creationTimestamp":"2024-05-01T11:55:00Z"}})",
       R"(["empty","<none>","5m"])"},
      {"endpointslice", "discovery.k8s.io", "endpointslices",
       R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"kuard-x7k2p",)"
       R"("namespace":"default","creationTimestamp":"2024-05-01T11:55:00Z",)"
       R"("labels":{"kubernetes.io/service-name":"kuard"}},"addressType":"IPv4",)"
       R"("endpoints":[{"addresses":["10.244.0.5"],"conditions":{"ready":true}},)"
       R"({"addresses":["10.244.0.6"],"conditions":{"ready":true}}],)"
       R"("ports":[{"name":"","port":8080,"protocol":"TCP"}]})",
       R"(["kuard-x7k2p","IPv4","8080","10.244.0.5,10.244.0.6","5m"])"},
      {"endpointslice with many ports and no endpoints", "discovery.k8s.io", "endpointslices",
       R"({"metadata":{"name":"s","creationTimestamp":"2024-05-01T11:55:00Z"},"addressType":"IPv6",)"
       R"("endpoints":null,"ports":[{"port":1},{"name":"metrics"},{},{"port":4},{"port":5}]})",
       R"(["s","IPv6","1,metrics,* + 2 more...","<unset>","5m"])"},
  };
  check_cells(cases);
}

constexpr std::string_view kNodeInfo =
    R"("nodeInfo":{"architecture":"amd64","bootID":"b","containerRuntimeVersion":"containerd://1.7.13",)"
    R"("kernelVersion":"6.1.0-18-amd64","kubeProxyVersion":"v1.32.4","kubeletVersion":"v1.32.4",)"
    R"j("machineID":"m","operatingSystem":"linux","osImage":"Debian GNU/Linux 12 (bookworm)","systemUUID":"s"})j";

TEST_CASE("node and namespace rows") {
  const std::vector<CellCase> cases = {
      {"ready control plane", "", "nodes",
       std::string(
           R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1",)"
           R"("creationTimestamp":"2024-04-01T12:00:00Z","labels":{)"
           R"("kubernetes.io/hostname":"node-1","node-role.kubernetes.io/control-plane":"",)"
           R"("node-role.kubernetes.io/":"","kubernetes.io/os":"linux"}},)"
           R"("spec":{"podCIDR":"10.244.0.0/24"},"status":{"conditions":[)"
           R"({"type":"MemoryPressure","status":"False"},{"type":"DiskPressure","status":"False"},)"
           R"({"type":"Ready","status":"True","reason":"KubeletReady"}],)"
           R"("addresses":[{"type":"InternalIP","address":"10.0.0.10"},{"type":"Hostname","address":"node-1"}],)") +
           std::string(kNodeInfo) + "}}",
       R"(["node-1","Ready","control-plane","30d","v1.32.4","10.0.0.10","<none>",)"
       R"j("Debian GNU/Linux 12 (bookworm)","6.1.0-18-amd64","containerd://1.7.13"])j"},
      {"NotReady,SchedulingDisabled with several roles", "", "nodes",
       std::string(
           R"({"metadata":{"name":"node-2","creationTimestamp":"2024-04-26T12:00:00Z",)"
           R"("labels":{"node-role.kubernetes.io/worker":"","kubernetes.io/role":"edge",)"
           R"("node-role.kubernetes.io/infra":"true"}},)"
           R"("spec":{"unschedulable":true,"taints":[{"key":"node.kubernetes.io/unschedulable","effect":"NoSchedule"}]},)"
           R"("status":{"conditions":[{"type":"Ready","status":"False","reason":"KubeletNotReady"}],)"
           R"("addresses":[{"type":"ExternalIP","address":"203.0.113.7"},{"type":"InternalIP","address":"10.0.0.11"}],)") +
           std::string(kNodeInfo) + "}}",
       R"(["node-2","NotReady,SchedulingDisabled","edge,infra,worker","5d","v1.32.4","10.0.0.11",)"
       R"j("203.0.113.7","Debian GNU/Linux 12 (bookworm)","6.1.0-18-amd64","containerd://1.7.13"])j"},
      {"a node that never reported", "", "nodes",
       R"({"metadata":{"name":"node-3","creationTimestamp":"2024-05-01T11:55:00Z"},"spec":{},"status":{}})",
       R"(["node-3","Unknown","<none>","5m","","<none>","<none>","<unknown>","<unknown>","<unknown>"])"},
      {"Ready condition Unknown", "", "nodes",
       R"({"metadata":{"name":"node-4","creationTimestamp":"2024-05-01T11:55:00Z"},)"
       R"("status":{"conditions":[{"type":"Ready","status":"Unknown","reason":"NodeStatusUnknown"}]}})",
       R"(["node-4","NotReady","<none>","5m","","<none>","<none>","<unknown>","<unknown>","<unknown>"])"},
      {"active namespace", "", "namespaces",
       R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default",)"
       R"("creationTimestamp":"2024-04-01T12:00:00Z","labels":{"kubernetes.io/metadata.name":"default"}},)"
       R"("spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}})",
       R"(["default","Active","30d"])"},
      {"terminating namespace", "", "namespaces",
       R"({"metadata":{"name":"old","creationTimestamp":"2024-05-01T07:00:00Z",)"
       R"("deletionTimestamp":"2024-05-01T11:59:00Z"},"status":{"phase":"Terminating"}})",
       R"(["old","Terminating","5h"])"},
  };
  check_cells(cases);
}

TEST_CASE("event rows: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE and the wide columns") {
  const std::vector<CellCase> cases = {
      {"a scheduler event", "", "events",
       R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"kuard.17c8a3d3b2c1a0f1",)"
       R"("namespace":"default","creationTimestamp":"2024-05-01T11:57:00Z"},)"
       R"("involvedObject":{"kind":"Pod","namespace":"default","name":"kuard","uid":"u",)"
       R"("apiVersion":"v1","resourceVersion":"100"},"reason":"Scheduled",)"
       R"("message":"Successfully assigned default/kuard to node-1","source":{"component":"default-scheduler"},)"
       R"("firstTimestamp":"2024-05-01T11:57:00Z","lastTimestamp":"2024-05-01T11:57:00Z","count":1,)"
       R"("type":"Normal","eventTime":null,"reportingComponent":"","reportingInstance":""})",
       R"(["3m","Normal","Scheduled","pod/kuard","","default-scheduler",)"
       R"("Successfully assigned default/kuard to node-1","3m",1,"kuard.17c8a3d3b2c1a0f1"])"},
      {"a repeated kubelet warning with a subobject", "", "events",
       R"({"metadata":{"name":"kuard.17c8a3d3b2c1a0f9","namespace":"default",)"
       R"("creationTimestamp":"2024-05-01T11:50:00Z"},"involvedObject":{"kind":"Pod","name":"kuard",)"
       R"("fieldPath":"spec.containers{kuard}"},"reason":"BackOff",)"
       R"("message":"Back-off restarting failed container kuard in pod kuard_default(u)\n",)"
       R"("source":{"component":"kubelet","host":"node-1"},"firstTimestamp":"2024-05-01T11:50:00Z",)"
       R"("lastTimestamp":"2024-05-01T11:59:00Z","count":7,"type":"Warning"})",
       R"(["60s","Warning","BackOff","pod/kuard","spec.containers{kuard}","kubelet, node-1",)"
       R"j("Back-off restarting failed container kuard in pod kuard_default(u)","10m",7,"kuard.17c8a3d3b2c1a0f9"])j"},
      {"a new-style event with eventTime and series", "", "events",
       R"({"metadata":{"name":"e1","namespace":"default","creationTimestamp":"2024-05-01T11:50:00Z"},)"
       R"("involvedObject":{"kind":"Node","name":"node-1"},"reason":"NodeReady","message":"ok",)"
       R"("type":"Normal","eventTime":"2024-05-01T11:50:00.000000Z","reportingComponent":"kubelet",)"
       R"("reportingController":"kubelet","reportingInstance":"node-1",)"
       R"("series":{"count":4,"lastObservedTime":"2024-05-01T11:58:00.000000Z"},"source":{}})",
       R"(["2m","Normal","NodeReady","node/node-1","","kubelet, node-1","ok","10m",4,"e1"])"},
      {"an event without timestamps or count", "", "events",
       R"({"metadata":{"name":"e2"},"involvedObject":{"kind":"Deployment"},"reason":"X","message":"m"})",
       R"(["<unknown>","","X","deployment","","","m","<unknown>",1,"e2"])"},
      {"an events.k8s.io/v1 event", "events.k8s.io", "events",
       R"({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"kuard.1",)"
       R"("namespace":"default","creationTimestamp":"2024-05-01T11:57:00Z"},)"
       R"("eventTime":null,"reportingController":"deployment-controller","reportingInstance":"",)"
       R"("action":"","reason":"ScalingReplicaSet","regarding":{"kind":"Deployment","namespace":"default",)"
       R"("name":"kuard"},"note":"Scaled up replica set kuard-5d8f9c7b4 to 5","type":"Normal",)"
       R"("deprecatedSource":{"component":"deployment-controller"},)"
       R"("deprecatedFirstTimestamp":"2024-05-01T11:57:00Z","deprecatedLastTimestamp":"2024-05-01T11:57:00Z",)"
       R"("deprecatedCount":1})",
       R"(["3m","Normal","ScalingReplicaSet","deployment/kuard","","deployment-controller",)"
       R"("Scaled up replica set kuard-5d8f9c7b4 to 5","3m",1,"kuard.1"])"},
  };
  check_cells(cases);
}

TEST_CASE("config, secret, storage and lease rows") {
  const std::vector<CellCase> cases = {
      {"configmap counts data and binaryData", "", "configmaps",
       R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-root-ca.crt",)"
       R"("namespace":"default","creationTimestamp":"2024-04-01T12:00:00Z"},)"
       R"("data":{"ca.crt":"-----BEGIN CERTIFICATE-----","extra":"x"},"binaryData":{"blob":"AAEC"}})",
       R"(["kube-root-ca.crt",3,"30d"])"},
      {"empty configmap", "", "configmaps",
       R"({"metadata":{"name":"empty","creationTimestamp":"2024-05-01T11:55:00Z"}})",
       R"(["empty",0,"5m"])"},
      {"secret", "", "secrets",
       R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"db-pass","namespace":"default",)"
       R"("creationTimestamp":"2024-05-01T11:55:00Z"},"type":"Opaque",)"
       R"("data":{"username":"YWRtaW4=","password":"czNjcjN0"}})",
       R"(["db-pass","Opaque",2,"5m"])"},
      {"bound persistent volume", "", "persistentvolumes",
       R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"pv-1",)"
       R"("creationTimestamp":"2024-04-26T12:00:00Z"},"spec":{"capacity":{"storage":"10Gi"},)"
       R"("accessModes":["ReadWriteMany","ReadWriteOnce","ReadWriteOnce"],)"
       R"("persistentVolumeReclaimPolicy":"Retain","storageClassName":"standard","volumeMode":"Filesystem",)"
       R"("claimRef":{"kind":"PersistentVolumeClaim","namespace":"default","name":"data-web-0","uid":"u"},)"
       R"("hostPath":{"path":"/data/pv-1"}},"status":{"phase":"Bound"}})",
       R"(["pv-1","10Gi","RWO,RWX","Retain","Bound","default/data-web-0","standard","<unset>","","5d","Filesystem"])"},
      {"released persistent volume being deleted, capacity canonicalized", "", "persistentvolumes",
       R"({"metadata":{"name":"pv-2","creationTimestamp":"2024-04-26T12:00:00Z",)"
       R"("deletionTimestamp":"2024-05-01T11:59:00Z","annotations":{"volume.beta.kubernetes.io/storage-class":"slow"}},)"
       R"("spec":{"capacity":{"storage":"1.5Gi"},"accessModes":["ReadOnlyMany","ReadWriteOncePod"],)"
       R"("persistentVolumeReclaimPolicy":"Delete","storageClassName":"fast",)"
       R"("volumeAttributesClassName":"gold"},"status":{"phase":"Failed","reason":"VolumeFailedDelete"}})",
       R"(["pv-2","1536Mi","ROX,RWOP","Delete","Terminating","","slow","gold","VolumeFailedDelete","5d","<unset>"])"},
      {"bound claim", "", "persistentvolumeclaims",
       R"({"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data-web-0",)"
       R"("namespace":"default","creationTimestamp":"2024-05-01T11:55:00Z"},)"
       R"("spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}},)"
       R"("storageClassName":"standard","volumeMode":"Filesystem","volumeName":"pv-1"},)"
       R"("status":{"phase":"Bound","accessModes":["ReadWriteOnce"],"capacity":{"storage":"10Gi"}}})",
       R"(["data-web-0","Bound","pv-1","10Gi","RWO","standard","<unset>","5m","Filesystem"])"},
      {"pending claim shows no capacity or access modes", "", "persistentvolumeclaims",
       R"({"metadata":{"name":"data-web-1","creationTimestamp":"2024-05-01T11:55:00Z"},)"
       R"("spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}},)"
       R"("storageClassName":"standard"},"status":{"phase":"Pending"}})",
       R"(["data-web-1","Pending","","","","standard","<unset>","5m","<unset>"])"},
      {"default storage class", "storage.k8s.io", "storageclasses",
       R"({"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"standard",)"
       R"("creationTimestamp":"2024-04-26T12:00:00Z",)"
       R"("annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},)"
       R"("provisioner":"rancher.io/local-path","reclaimPolicy":"Delete",)"
       R"("volumeBindingMode":"WaitForFirstConsumer"})",
       R"j(["standard (default)","rancher.io/local-path","Delete","WaitForFirstConsumer",false,"5d"])j"},
      {"storage class with defaults left out", "storage.k8s.io", "storageclasses",
       R"({"metadata":{"name":"fast","creationTimestamp":"2024-04-26T12:00:00Z"},)"
       R"("provisioner":"ebs.csi.aws.com","allowVolumeExpansion":true})",
       R"(["fast","ebs.csi.aws.com","Delete","Immediate",true,"5d"])"},
      {"lease", "coordination.k8s.io", "leases",
       R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"kube-controller-manager",)"
       R"("namespace":"kube-system","creationTimestamp":"2024-05-01T07:00:00Z"},)"
       R"("spec":{"holderIdentity":"node-1_5f0d7c1e","leaseDurationSeconds":15,)"
       R"("acquireTime":"2024-05-01T07:00:01.000000Z","renewTime":"2024-05-01T11:59:58.000000Z","leaseTransitions":0}})",
       R"(["kube-controller-manager","node-1_5f0d7c1e","5h"])"},
      {"lease without holder", "coordination.k8s.io", "leases",
       R"({"metadata":{"name":"free","creationTimestamp":"2024-05-01T11:55:00Z"},"spec":{}})",
       R"(["free","","5m"])"},
      {"any other resource: name and age", "rbac.authorization.k8s.io", "roles",
       R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"pod-reader",)"
       R"("namespace":"default","creationTimestamp":"2024-05-01T11:55:00Z"},"rules":[]})",
       R"(["pod-reader","5m"])"},
      {"missing creationTimestamp", "", "serviceaccounts", R"({"metadata":{"name":"default"}})",
       R"(["default","<unknown>"])"},
  };
  check_cells(cases);
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("table_columns: names, order and priorities per resource, as the real server") {
  struct Case {
    std::string group;
    std::string resource;
    std::vector<std::pair<std::string, int>> columns;
  };
  const std::vector<Case> cases = {
      {"",
       "pods",
       {{"Name", 0},
        {"Ready", 0},
        {"Status", 0},
        {"Restarts", 0},
        {"Age", 0},
        {"IP", 1},
        {"Node", 1},
        {"Nominated Node", 1},
        {"Readiness Gates", 1}}},
      {"apps",
       "deployments",
       {{"Name", 0},
        {"Ready", 0},
        {"Up-to-date", 0},
        {"Available", 0},
        {"Age", 0},
        {"Containers", 1},
        {"Images", 1},
        {"Selector", 1}}},
      {"apps",
       "replicasets",
       {{"Name", 0},
        {"Desired", 0},
        {"Current", 0},
        {"Ready", 0},
        {"Age", 0},
        {"Containers", 1},
        {"Images", 1},
        {"Selector", 1}}},
      {"apps",
       "statefulsets",
       {{"Name", 0}, {"Ready", 0}, {"Age", 0}, {"Containers", 1}, {"Images", 1}}},
      {"apps",
       "daemonsets",
       {{"Name", 0},
        {"Desired", 0},
        {"Current", 0},
        {"Ready", 0},
        {"Up-to-date", 0},
        {"Available", 0},
        {"Node Selector", 0},
        {"Age", 0},
        {"Containers", 1},
        {"Images", 1},
        {"Selector", 1}}},
      {"apps",
       "controllerrevisions",
       {{"Name", 0}, {"Controller", 0}, {"Revision", 0}, {"Age", 0}}},
      {"",
       "services",
       {{"Name", 0},
        {"Type", 0},
        {"Cluster-IP", 0},
        {"External-IP", 0},
        {"Port(s)", 0},
        {"Age", 0},
        {"Selector", 1}}},
      {"", "endpoints", {{"Name", 0}, {"Endpoints", 0}, {"Age", 0}}},
      {"discovery.k8s.io",
       "endpointslices",
       {{"Name", 0}, {"AddressType", 0}, {"Ports", 0}, {"Endpoints", 0}, {"Age", 0}}},
      {"",
       "nodes",
       {{"Name", 0},
        {"Status", 0},
        {"Roles", 0},
        {"Age", 0},
        {"Version", 0},
        {"Internal-IP", 1},
        {"External-IP", 1},
        {"OS-Image", 1},
        {"Kernel-Version", 1},
        {"Container-Runtime", 1}}},
      {"", "namespaces", {{"Name", 0}, {"Status", 0}, {"Age", 0}}},
      {"",
       "events",
       {{"Last Seen", 0},
        {"Type", 0},
        {"Reason", 0},
        {"Object", 0},
        {"Subobject", 1},
        {"Source", 1},
        {"Message", 0},
        {"First Seen", 1},
        {"Count", 1},
        {"Name", 1}}},
      {"events.k8s.io",
       "events",
       {{"Last Seen", 0},
        {"Type", 0},
        {"Reason", 0},
        {"Object", 0},
        {"Subobject", 1},
        {"Source", 1},
        {"Message", 0},
        {"First Seen", 1},
        {"Count", 1},
        {"Name", 1}}},
      {"", "configmaps", {{"Name", 0}, {"Data", 0}, {"Age", 0}}},
      {"", "secrets", {{"Name", 0}, {"Type", 0}, {"Data", 0}, {"Age", 0}}},
      {"",
       "persistentvolumes",
       {{"Name", 0},
        {"Capacity", 0},
        {"Access Modes", 0},
        {"Reclaim Policy", 0},
        {"Status", 0},
        {"Claim", 0},
        {"StorageClass", 0},
        {"VolumeAttributesClass", 0},
        {"Reason", 0},
        {"Age", 0},
        {"VolumeMode", 1}}},
      {"",
       "persistentvolumeclaims",
       {{"Name", 0},
        {"Status", 0},
        {"Volume", 0},
        {"Capacity", 0},
        {"Access Modes", 0},
        {"StorageClass", 0},
        {"VolumeAttributesClass", 0},
        {"Age", 0},
        {"VolumeMode", 1}}},
      {"storage.k8s.io",
       "storageclasses",
       {{"Name", 0},
        {"Provisioner", 0},
        {"ReclaimPolicy", 0},
        {"VolumeBindingMode", 0},
        {"AllowVolumeExpansion", 0},
        {"Age", 0}}},
      {"coordination.k8s.io", "leases", {{"Name", 0}, {"Holder", 0}, {"Age", 0}}},
      {"core",
       "pods",
       {{"Name", 0},
        {"Ready", 0},
        {"Status", 0},
        {"Restarts", 0},
        {"Age", 0},
        {"IP", 1},
        {"Node", 1},
        {"Nominated Node", 1},
        {"Readiness Gates", 1}}},
      {"batch", "jobs", {{"Name", 0}, {"Age", 0}}},
      {"apps", "pods", {{"Name", 0}, {"Age", 0}}},  // wrong group: not the pod printer
  };
  for (const Case& c : cases) {
    SUBCASE((c.group + "/" + c.resource).c_str()) {
      std::vector<std::pair<std::string, int>> got;
      for (const TableColumn& col : table_columns(c.group, c.resource)) {
        got.emplace_back(col.name, col.priority);
        CHECK_MESSAGE(!col.description.empty(), col.name);
        CHECK_MESSAGE((col.type == "string" || col.type == "integer"), col.name);
        // Exactly the name column is formatted as a name.
        CHECK_MESSAGE((col.format == "name") == (col.name == "Name"), col.name);
      }
      CHECK(got == c.columns);
    }
  }
}

TEST_CASE("table_columns: types where kubectl relies on them") {
  auto type_of = [](std::string_view group, std::string_view resource, std::string_view name) {
    for (const TableColumn& c : table_columns(group, resource)) {
      if (c.name == name) return c.type;
    }
    return std::string("missing");
  };
  CHECK(type_of("", "pods", "Restarts") == "string");  // "5 (2m ago)" since Kubernetes 1.22
  CHECK(type_of("apps", "replicasets", "Desired") == "integer");
  CHECK(type_of("apps", "daemonsets", "Available") == "integer");
  CHECK(type_of("apps", "deployments", "Up-to-date") == "string");
  CHECK(type_of("", "pods", "Age") == "string");
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("wants_table follows the Accept header kubectl sends") {
  struct Case {
    std::string accept;
    bool want;
  };
  const std::vector<Case> cases = {
      {"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
       "g=meta.k8s.io,application/json",
       true},
      {"application/json;as=Table;v=v1beta1;g=meta.k8s.io", true},
      {"application/json; as=Table; v=v1; g=meta.k8s.io", true},
      {"Application/JSON;AS=Table;V=v1;G=meta.k8s.io", true},
      {"application/yaml,application/json;as=Table;v=v1;g=meta.k8s.io", true},
      {"application/json", false},
      {"", false},
      {"*/*", false},
      {"application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io", false},
      {"application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json", false},
      {"application/vnd.kubernetes.protobuf,application/json", false},
      {"application/json;as=Table;v=v2;g=meta.k8s.io", false},
      {"application/json;as=Table;v=v1", false},
      {"application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", false},
      {"application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io,application/json",
       false},
      {"application/json;as=Table;v=v1;g=meta.k8s.io;q=0,application/json", false},
  };
  for (const Case& c : cases) {
    SUBCASE(c.accept.c_str()) { CHECK(wants_table(c.accept) == c.want); }
  }
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("make_table: the Table envelope kubectl reads") {
  const json::object running = parse_object(pod("", kKuardSpec, running_status(kRunningKuard)));
  json::object finished = parse_object(pod(
      "", kKuardSpec,
      R"({"phase":"Succeeded","containerStatuses":[{"name":"kuard","ready":false,"restartCount":0,)"
      R"("state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]})"));
  finished["metadata"].as_object()["name"] = "job-pod";
  finished["metadata"].as_object()["namespace"] = "batch";

  SUBCASE("list with resourceVersion, no continue, columns and rows") {
    const json::object t = make_table("", "pods", {&running, &finished}, "107", "", true, kNow);
    CHECK(t.at("kind") == "Table");
    CHECK(t.at("apiVersion") == "meta.k8s.io/v1");
    const json::object& meta = t.at("metadata").as_object();
    CHECK(meta.at("resourceVersion") == "107");
    CHECK(meta.if_contains("continue") == nullptr);

    const json::array& cols = t.at("columnDefinitions").as_array();
    REQUIRE(cols.size() == 9);
    const json::object& name_col = cols[0].as_object();
    CHECK(name_col.size() == 5);
    CHECK(name_col.at("name") == "Name");
    CHECK(name_col.at("type") == "string");
    CHECK(name_col.at("format") == "name");
    CHECK(name_col.at("priority") == 0);
    CHECK(name_col.at("description").as_string().size() > 10);
    CHECK(cols[3].as_object().at("name") == "Restarts");
    CHECK(cols[3].as_object().at("format") == "");
    CHECK(cols[5].as_object().at("name") == "IP");
    CHECK(cols[5].as_object().at("priority") == 1);

    const json::array& rows = t.at("rows").as_array();
    REQUIRE(rows.size() == 2);
    const json::object& row0 = rows[0].as_object();
    CHECK(json::serialize(row0.at("cells")) ==
          normalized(
              R"(["kuard","1/1","Running","0","5m","10.244.0.5","node-1","<none>","<none>"])"));
    CHECK(row0.if_contains("conditions") == nullptr);
    const json::object& obj0 = row0.at("object").as_object();
    CHECK(obj0.at("kind") == "PartialObjectMetadata");
    CHECK(obj0.at("apiVersion") == "meta.k8s.io/v1");
    CHECK(obj0.size() == 3);
    CHECK(obj0.at("metadata").at("namespace") == "default");
    CHECK(obj0.at("metadata").at("labels") == json::object{{"run", "kuard"}});
    CHECK(obj0.at("metadata") == running.at("metadata"));  // the whole metadata, unchanged

    const json::object& row1 = rows[1].as_object();
    CHECK(row1.at("cells").as_array()[0] == "job-pod");
    CHECK(row1.at("object").at("metadata").at("namespace") == "batch");
    REQUIRE(row1.if_contains("conditions") != nullptr);
    const json::object& cond = row1.at("conditions").as_array().at(0).as_object();
    CHECK(cond.at("type") == "Completed");
    CHECK(cond.at("status") == "True");
    CHECK(cond.at("reason") == "Succeeded");
  }

  SUBCASE("a page carries its continue token") {
    const json::object t =
        make_table("", "pods", {&running}, "107", "eyJ2IjoibWV0YSJ9", true, kNow);
    CHECK(t.at("metadata").at("continue") == "eyJ2IjoibWV0YSJ9");
    CHECK(t.at("metadata").at("resourceVersion") == "107");
  }

  SUBCASE("a watch event table: one row, no column definitions, no resourceVersion") {
    const json::object t = make_table("", "pods", {&running}, "", "", false, kNow);
    CHECK(t.at("columnDefinitions").as_array().empty());
    CHECK(t.at("metadata").as_object().empty());
    CHECK(t.at("rows").as_array().size() == 1);
  }

  SUBCASE("an empty list still has rows and columns") {
    const json::object t = make_table("apps", "deployments", {}, "9", "", true, kNow);
    CHECK(t.at("rows").as_array().empty());
    CHECK(t.at("columnDefinitions").as_array().size() == 8);
  }

  SUBCASE("an object without metadata gets empty metadata, not a crash") {
    const json::object bare;
    const json::object t = make_table("", "configmaps", {&bare}, "1", "", true, kNow);
    const json::object& row = t.at("rows").as_array().at(0).as_object();
    CHECK(row.at("object").at("metadata").as_object().empty());
    CHECK(json::serialize(row.at("cells")) == R"(["",0,"<unknown>"])");
  }
}

}  // namespace
}  // namespace orch::apiserver
