// MirrorPods: components shown as pods in kube-system, their health as Ready, their logs.
#include "orch/agent/mirror_pods.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "orch/agent/container_log.hpp"
#include "orch/client/resource.hpp"
#include "orch/util/log.hpp"
#include "control_plane.hpp"

namespace {

namespace json = boost::json;
using orch::testing::wait_until;

// "" while the pod has no status yet (between its create and its status write).
std::string ready_of(const json::value& pod) {
  const auto* status = pod.as_object().if_contains("status");
  if (status == nullptr || !status->is_object()) return "";
  const auto* conds = status->as_object().if_contains("conditions");
  if (conds == nullptr) return "";
  for (const auto& c : conds->as_array()) {
    if (c.at("type").as_string() == "Ready") return std::string(c.at("status").as_string());
  }
  return "";
}

std::string read_file(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Fixture {
  orch::testing::ControlPlane cp;
  std::string dir = cp.dir() + "/node";
  std::atomic<bool> scheduler_healthy{true};

  orch::agent::MirrorPodsOptions options() {
    orch::agent::MirrorPodsOptions o;
    o.node_name = "node-1";
    o.node_ip = "127.0.0.1";
    o.data_dir = dir;
    o.resync_interval = std::chrono::milliseconds(100);
    o.components = {
        {.name = "kube-scheduler", .log_component = "scheduler",
         .healthy = [this] { return scheduler_healthy.load(); }},
        {.name = "kube-apiserver", .log_component = "apiserver"},
    };
    return o;
  }

  orch::Result<json::value> pod(const std::string& name) {
    return cp.client()->get(orch::client::resources::kPods, "kube-system", name);
  }
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "each component is a Running mirror pod whose Ready follows its health") {
  orch::agent::MirrorPods mirror(options(), cp.client());
  REQUIRE(mirror.start().ok());
  auto p = pod("kube-scheduler-node-1");
  REQUIRE(p.ok());
  CHECK(orch::agent::is_mirror_pod(*p));
  CHECK(p->at("spec").at("nodeName").as_string() == "node-1");
  CHECK(p->at("status").at("phase").as_string() == "Running");
  CHECK(ready_of(*p) == "True");
  CHECK(pod("kube-apiserver-node-1").ok());

  scheduler_healthy = false;
  CHECK(wait_until([&] {
    auto q = pod("kube-scheduler-node-1");
    return q.ok() && ready_of(*q) == "False";
  }, std::chrono::seconds(10)));
  scheduler_healthy = true;
  CHECK(wait_until([&] {
    auto q = pod("kube-scheduler-node-1");
    return q.ok() && ready_of(*q) == "True";
  }, std::chrono::seconds(10)));
}

TEST_CASE_FIXTURE(Fixture, "a mirror pod deleted or rewritten by someone else is put back") {
  orch::agent::MirrorPods mirror(options(), cp.client());
  REQUIRE(mirror.start().ok());
  orch::client::DeleteOptions del;
  del.grace_period_seconds = 0;
  REQUIRE(cp.client()->remove(orch::client::resources::kPods, "kube-system", "kube-apiserver-node-1", del).ok());
  CHECK(wait_until([&] {
    auto q = pod("kube-apiserver-node-1");
    return q.ok() && ready_of(*q) == "True";
  }, std::chrono::seconds(10)));

  // What the node lifecycle controller does to pods of an unreachable node.
  auto p = pod("kube-apiserver-node-1");
  REQUIRE(p.ok());
  for (auto& c : p->at("status").at("conditions").as_array()) {
    if (c.at("type").as_string() == "Ready") c.as_object()["status"] = "False";
  }
  REQUIRE(cp.client()->update_status(orch::client::resources::kPods, "kube-system", *p).ok());
  CHECK(wait_until([&] {
    auto q = pod("kube-apiserver-node-1");
    return q.ok() && ready_of(*q) == "True";
  }, std::chrono::seconds(10)));
}

TEST_CASE_FIXTURE(Fixture, "a component's log lines are its mirror pod's container log") {
  orch::agent::MirrorPods mirror(options(), cp.client());
  REQUIRE(mirror.start().ok());
  ORCH_LOG(kInfo, "scheduler", "bound default/web-1 to node-1");
  ORCH_LOG(kWarning, "scheduler/profile", "a sub-component line");
  ORCH_LOG(kInfo, "schedulerx", "not ours");
  auto loc = mirror.locate("kube-system", "kube-scheduler-node-1");
  REQUIRE(loc.ok());
  std::string log = read_file(orch::agent::container_log_path(loc->log_dir, "kube-scheduler", 0));
  CHECK(log.find("I scheduler: bound default/web-1 to node-1") != std::string::npos);
  CHECK(log.find("W scheduler/profile: a sub-component line") != std::string::npos);
  CHECK(log.find("not ours") == std::string::npos);
  auto first = orch::agent::parse_cri_line(log.substr(0, log.find('\n')));
  REQUIRE(first.has_value());
  CHECK(mirror.locate("default", "kube-scheduler-node-1").status().code() == orch::Code::kNotFound);
  CHECK(mirror.locate("kube-system", "nope").status().code() == orch::Code::kNotFound);

  mirror.stop();
  ORCH_LOG(kInfo, "scheduler", "after stop");
  log = read_file(orch::agent::container_log_path(loc->log_dir, "kube-scheduler", 0));
  CHECK(log.find("after stop") == std::string::npos);
}
