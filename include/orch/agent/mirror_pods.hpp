// MirrorPods: the parts of the cluster a node runs outside pods (the API server, controller
// manager, scheduler, load balancer, the agent and its service proxy) shown as pods in
// kube-system, as Kubernetes shows its static pods through mirror pods.
//
// For each StaticComponent the node runs, MirrorPods keeps a Pod `<component>-<node>` in
// kube-system: bound to the node, annotated `kubernetes.io/config.mirror`, owned by the Node
// object, tolerating every taint, with one container named after the component. Its status is
// Running, and Ready follows the component's health function, checked every second and written
// when it changes (and every resync interval, so a status someone else rewrote, e.g. the node
// lifecycle controller marking pods of an unreachable node not ready, is put right).
//
// Logs: every log line (orch/util/log.hpp) whose component is the StaticComponent's
// log_component, or starts with it followed by '/', is appended in the CRI format to
// `<data_dir>/logs/kube-system_<pod>_mirror/<container>/0.log`, so `kubectl logs -n kube-system
// <pod>` reads it through the node server like any container's log (locate()).
//
// The agent never runs a mirror pod (is_mirror_pod()); stop() leaves the pods in the API, as the
// kubelet leaves mirror pods when it stops; a Node deleted takes them with it (owner reference).
//
// Thread-safety: start/stop from one thread; locate() and is_mirror_pod() from any thread.
// Health functions are called on MirrorPods' own thread and must be cheap and non-blocking.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/fwd.hpp>

#include "orch/agent/node_server.hpp"
#include "orch/status.hpp"
#include "orch/util/clock.hpp"

namespace orch::client {
class Client;
}

namespace orch::agent {

inline constexpr std::string_view kMirrorAnnotation = "kubernetes.io/config.mirror";

struct StaticComponent {
  // The pod is "<name>-<node>" and its container "<name>". Required.
  std::string name;
  // Log lines of this component (and of "<log_component>/...") go to the pod's log.
  // Default: "" (the pod has an empty log).
  std::string log_component{};
  // Shown as the container's image. Default: "orch/<name>".
  std::string image{};
  // Whether the component is healthy now (the pod's Ready condition). Default: null (always).
  std::function<bool()> healthy{};
};

struct MirrorPodsOptions {
  // Required.
  std::string node_name;
  // hostIP and podIP of every mirror pod. Default: 127.0.0.1.
  std::string node_ip = "127.0.0.1";
  // The Node's uid, for the owner reference. Default: "" (no owner reference).
  std::string node_uid{};
  // Logs live under <data_dir>/logs. Required.
  std::string data_dir;
  std::vector<StaticComponent> components{};
  // How often each pod is read back and repaired. Default: 10 s.
  std::chrono::milliseconds resync_interval{10'000};
  // Not owned. Default: real_clock().
  util::Clock* clock = nullptr;
  // A log file is rotated (to .log.1) when it grows past this. Default: 10 MiB.
  std::size_t max_log_bytes = 10u << 20;
};

// Whether `pod` is a mirror pod (has the kubernetes.io/config.mirror annotation).
bool is_mirror_pod(const boost::json::value& pod);

class MirrorPods {
 public:
  MirrorPods(MirrorPodsOptions options, std::shared_ptr<client::Client> client);
  // stop()s.
  ~MirrorPods();
  MirrorPods(const MirrorPods&) = delete;
  MirrorPods& operator=(const MirrorPods&) = delete;

  // Opens the log files, registers the log sinks, writes every pod once (creating, or replacing
  // one left by an earlier run with another spec) and starts the status thread. A failed write
  // is retried by the thread, so start() fails only for bad options (InvalidArgument) or a log
  // directory it cannot create (Internal).
  Status start();
  // Stops the thread and the log sinks. Idempotent.
  void stop();

  // The log location of mirror pod kube-system/`name`; NotFound for another pod.
  Result<PodLocation> locate(std::string_view ns, std::string_view name) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace orch::agent
