// The pure parts of orchctl's newer verbs: port-forward's port specs, explain's field table,
// wait's conditions and timeouts, rollout status steps, and their errors before any server.
#include <doctest.h>

#include <boost/json.hpp>
#include <sstream>

#include "orch/cli/orchctl.hpp"
#include "orch/client/port_forward.hpp"

namespace json = boost::json;
using orch::cli::WaitFor;

namespace {

struct Run {
  int rc;
  std::string out, err;
};

Run orchctl(std::vector<std::string> args) {
  std::ostringstream out, err;
  std::istringstream in;
  // No kubeconfig anywhere: these must fail (or succeed) before connecting.
  int rc = orch::cli::run_orchctl(args, out, err, in);
  return {rc, out.str(), err.str()};
}

}  // namespace

TEST_CASE("parse_port_forward_spec: kubectl's forms and errors") {
  struct Case {
    std::string spec;
    int local, remote;  // -1: an error
    std::string error;
  };
  std::vector<Case> cases = {
      {"8080:80", 8080, 80, ""},
      {":80", 0, 80, ""},
      {"80", 80, 80, ""},
      {"0:443", 0, 443, ""},
      {"1:2:3", -1, -1, "invalid port format '1:2:3'"},
      {"abc:80", -1, -1, "error parsing local port 'abc': strconv.ParseUint: parsing \"abc\": invalid syntax"},
      {"99999:80", -1, -1,
       "error parsing local port '99999': strconv.ParseUint: parsing \"99999\": value out of range"},
      {"8080:0", -1, -1, "remote port must be > 0"},
      {"8080:", -1, -1, "error parsing remote port '': strconv.ParseUint: parsing \"\": invalid syntax"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.spec.c_str()) {
      auto r = orch::client::parse_port_forward_spec(c.spec);
      if (c.local < 0) {
        REQUIRE_FALSE(r.ok());
        CHECK(r.status().message() == c.error);
      } else {
        REQUIRE(r.ok());
        CHECK(r->local == c.local);
        CHECK(r->remote == c.remote);
      }
    }
  }
}

TEST_CASE("explain: a kind, nested fields, groups, recursion, errors") {
  auto pod = orch::cli::explain("pod");
  REQUIRE(pod.ok());
  CHECK(pod->starts_with("KIND:       Pod\nVERSION:    v1\n\nDESCRIPTION:\n    Pod is a collection"));
  CHECK(pod->find("FIELDS:\n  apiVersion\t<string>\n") != std::string::npos);
  CHECK(pod->find("  spec\t<PodSpec>\n") != std::string::npos);
  CHECK(pod->find("  status\t<PodStatus>\n") != std::string::npos);
  // Every description line fits kubectl's 80 columns.
  std::istringstream lines(*pod);
  for (std::string line; std::getline(lines, line);) CHECK(line.size() <= 80);

  auto containers = orch::cli::explain("po.spec.containers");
  REQUIRE(containers.ok());
  CHECK(containers->find("FIELD: containers <[]Container>\n") != std::string::npos);
  CHECK(containers->find("  image\t<string>\n") != std::string::npos);
  CHECK(containers->find("  name\t<string> -required-\n") != std::string::npos);

  auto leaf = orch::cli::explain("pods.spec.containers.image");
  REQUIRE(leaf.ok());
  CHECK(leaf->find("FIELD: image <string>") != std::string::npos);
  CHECK(leaf->find("FIELDS:") == std::string::npos);

  auto deploy = orch::cli::explain("deployments.apps.spec.strategy");
  REQUIRE(deploy.ok());
  CHECK(deploy->starts_with("GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n"));
  CHECK(deploy->find("  rollingUpdate\t<RollingUpdateDeployment>") != std::string::npos);

  auto rec = orch::cli::explain("svc", true);
  REQUIRE(rec.ok());
  CHECK(rec->find("  spec\t<ServiceSpec>\n    clusterIP\t<string>\n") != std::string::npos);
  CHECK(rec->find("    ports\t<[]ServicePort>\n      name\t<string>\n") != std::string::npos);

  // Every supported kind of the architecture has a description.
  for (const char* kind : {"Namespace", "Node", "Pod", "Service", "Endpoints", "Event", "ConfigMap",
                           "Secret", "PersistentVolume", "PersistentVolumeClaim", "Deployment",
                           "ReplicaSet", "StatefulSet", "DaemonSet", "Lease"}) {
    CAPTURE(kind);
    CHECK(orch::cli::explain(kind).ok());
  }

  auto missing = orch::cli::explain("pod.spec.nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message() == "field \"nope\" does not exist");
  auto unknown = orch::cli::explain("widgets");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().message() == "the server doesn't have a resource type \"widgets\"");
}

TEST_CASE("parse_timeout: Go durations and bare seconds") {
  CHECK(*orch::cli::parse_timeout("30s") == std::chrono::seconds(30));
  CHECK(*orch::cli::parse_timeout("2m") == std::chrono::minutes(2));
  CHECK(*orch::cli::parse_timeout("1m30s") == std::chrono::seconds(90));
  CHECK(*orch::cli::parse_timeout("500ms") == std::chrono::milliseconds(500));
  CHECK(*orch::cli::parse_timeout("5") == std::chrono::seconds(5));
  CHECK(orch::cli::parse_timeout("0")->count() == 0);
  auto bad = orch::cli::parse_timeout("soon");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().starts_with("invalid argument \"soon\" for \"--timeout\" flag: "));
}

TEST_CASE("wait --for: parsing and matching") {
  json::value pod = json::parse(R"({"status":{"phase":"Running","conditions":[
      {"type":"Ready","status":"True"},{"type":"PodScheduled","status":"True"},
      {"type":"ContainersReady","status":"False"}]}})");
  struct Case {
    std::string spec;
    bool met;
  };
  std::vector<Case> cases = {
      {"condition=Ready", true},
      {"condition=ready", true},
      {"condition=Ready=true", true},
      {"condition=Ready=False", false},
      {"condition=ContainersReady", false},
      {"condition=ContainersReady=false", true},
      {"condition=Missing", false},
      {"jsonpath={.status.phase}=Running", true},
      {"jsonpath={.status.phase}=Pending", false},
      {"jsonpath={.status.phase}", true},
      {"jsonpath={.status.nothing}", false},
  };
  for (const auto& c : cases) {
    SUBCASE(c.spec.c_str()) {
      auto w = orch::cli::parse_wait_for(c.spec);
      REQUIRE(w.ok());
      CHECK(orch::cli::wait_for_met(*w, pod) == c.met);
    }
  }
  auto del = orch::cli::parse_wait_for("delete");
  REQUIRE(del.ok());
  CHECK(del->kind == WaitFor::Kind::kDelete);
  CHECK_FALSE(orch::cli::wait_for_met(*del, pod));
  for (const char* bad : {"", "foo", "condition=", "jsonpath=.status"}) {
    CAPTURE(bad);
    auto w = orch::cli::parse_wait_for(bad);
    REQUIRE_FALSE(w.ok());
    CHECK(w.status().message() == "unrecognized condition: \"" + std::string(bad) + "\"");
  }
}

TEST_CASE("rollout_status: kubectl's steps for deployments, daemon sets and stateful sets") {
  struct Case {
    std::string name, kind, object, message, error;
    bool done;
  };
  std::vector<Case> cases = {
      {"deployment: spec not observed", "Deployment",
       R"({"metadata":{"name":"web","generation":2},"status":{"observedGeneration":1}})",
       "Waiting for deployment spec update to be observed...", "", false},
      {"deployment: updating", "Deployment",
       R"({"metadata":{"name":"web","generation":2},"spec":{"replicas":3},
           "status":{"observedGeneration":2,"updatedReplicas":1,"replicas":3}})",
       "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated...", "", false},
      {"deployment: old pending termination", "Deployment",
       R"({"metadata":{"name":"web","generation":2},"spec":{"replicas":3},
           "status":{"observedGeneration":2,"updatedReplicas":3,"replicas":4}})",
       "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination...", "", false},
      {"deployment: availability", "Deployment",
       R"({"metadata":{"name":"web","generation":2},"spec":{"replicas":3},
           "status":{"observedGeneration":2,"updatedReplicas":3,"replicas":3,"availableReplicas":2}})",
       "Waiting for deployment \"web\" rollout to finish: 2 of 3 updated replicas are available...", "", false},
      {"deployment: done", "Deployment",
       R"({"metadata":{"name":"web","generation":2},"spec":{"replicas":3},
           "status":{"observedGeneration":2,"updatedReplicas":3,"replicas":3,"availableReplicas":3}})",
       "deployment \"web\" successfully rolled out", "", true},
      {"deployment: deadline", "Deployment",
       R"({"metadata":{"name":"web","generation":2},"spec":{"replicas":3},
           "status":{"observedGeneration":2,"conditions":[{"type":"Progressing","reason":"ProgressDeadlineExceeded"}]}})",
       "", "deployment \"web\" exceeded its progress deadline", true},
      {"daemonset: updating", "DaemonSet",
       R"({"metadata":{"name":"agent","generation":1},"spec":{"updateStrategy":{"type":"RollingUpdate"}},
           "status":{"observedGeneration":1,"desiredNumberScheduled":3,"updatedNumberScheduled":1}})",
       "Waiting for daemon set \"agent\" rollout to finish: 1 out of 3 new pods have been updated...", "", false},
      {"daemonset: done", "DaemonSet",
       R"({"metadata":{"name":"agent","generation":1},"status":{"observedGeneration":1,
           "desiredNumberScheduled":3,"updatedNumberScheduled":3,"numberAvailable":3}})",
       "daemon set \"agent\" successfully rolled out", "", true},
      {"daemonset: OnDelete", "DaemonSet",
       R"({"metadata":{"name":"agent"},"spec":{"updateStrategy":{"type":"OnDelete"}}})",
       "", "rollout status is only available for RollingUpdate strategy type", true},
      {"statefulset: not ready", "StatefulSet",
       R"({"metadata":{"name":"db","generation":1},"spec":{"replicas":3},
           "status":{"observedGeneration":1,"readyReplicas":1}})",
       "Waiting for 2 pods to be ready...", "", false},
      {"statefulset: partitioned", "StatefulSet",
       R"({"metadata":{"name":"db","generation":1},"spec":{"replicas":3,
           "updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":0}}},
           "status":{"observedGeneration":1,"readyReplicas":3,"updatedReplicas":3}})",
       "partitioned roll out complete: 3 new pods have been updated...", "", true},
      {"statefulset: revisions", "StatefulSet",
       R"({"metadata":{"name":"db","generation":1},"spec":{"replicas":3},
           "status":{"observedGeneration":1,"readyReplicas":3,"updatedReplicas":1,"currentReplicas":2,
                     "updateRevision":"db-2","currentRevision":"db-1"}})",
       "waiting for statefulset rolling update to complete 1 pods at revision db-2...", "", false},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name.c_str()) {
      auto step = orch::cli::rollout_status(c.kind, json::parse(c.object));
      CHECK(step.message == c.message);
      CHECK(step.error == c.error);
      CHECK(step.done == c.done);
    }
  }
}

TEST_CASE("new verbs: usage errors before any server, explain without one") {
  struct Case {
    std::vector<std::string> args;
    std::string err;
  };
  std::vector<Case> cases = {
      {{"port-forward", "pod/kuard"}, "error: TYPE/NAME and list of ports are required for port-forward\n"},
      {{"wait", "pod/kuard"}, "error: unrecognized condition: \"\"\n"},
      {{"wait", "--for=bogus", "pod/kuard"}, "error: unrecognized condition: \"bogus\"\n"},
      {{"wait", "--for=delete", "--timeout=soon", "pod/kuard"},
       "error: invalid argument \"soon\" for \"--timeout\" flag: time: invalid duration \"soon\"\n"},
      {{"explain"},
       "error: You must specify the type of resource to explain. Use \"orchctl api-resources\" for a "
       "complete list of supported resources.\n"},
      {{"explain", "pod.spec.bogus"}, "error: field \"bogus\" does not exist\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.args);
    auto r = orchctl(c.args);
    CHECK(r.rc == 1);
    CHECK(r.err == c.err);
  }
  auto r = orchctl({"explain", "deployment.spec.replicas"});
  CHECK(r.rc == 0);
  CHECK(r.out.find("FIELD: replicas <integer>") != std::string::npos);
}

TEST_CASE("run NAME --image -- ARGS puts the words in args (--command: command)") {
  auto r = orchctl({"run", "x", "--image=busybox", "--dry-run=client", "-o", "json", "--", "sh", "-c", "echo hi"});
  REQUIRE(r.rc == 0);
  auto pod = json::parse(r.out);
  const auto& c = pod.at_pointer("/spec/containers/0");
  CHECK(c.at("args") == json::array{"sh", "-c", "echo hi"});
  r = orchctl({"run", "x", "--image=busybox", "--command", "--dry-run=client", "-o", "json", "--", "sleep", "1"});
  REQUIRE(r.rc == 0);
  CHECK(json::parse(r.out).at_pointer("/spec/containers/0/command") == json::array{"sleep", "1"});
}
