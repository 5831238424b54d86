// Agent: the node agent (the kubelet's role). One Agent makes one Node of the cluster:
//
// - Registers its Node (create, or update an existing one: labels, capacity, allocatable,
//   addresses InternalIP + Hostname, nodeInfo, daemonEndpoints, conditions Ready /
//   MemoryPressure / DiskPressure / PIDPressure with heartbeat times), renews the Lease
//   kube-node-lease/<node> every `lease_renew_interval` and rewrites the Ready condition every
//   `node_status_interval`. A Node deleted behind its back is registered again.
// - Watches only its own pods (fieldSelector spec.nodeName=<node>) and drives each through the
//   Runtime: image pull (unknown image: ErrImagePull, then ImagePullBackOff with backoff and a
//   Warning Event "Failed"), the sandbox (with a pod IP from `pod_cidr`, released when the pod
//   goes away), init containers in order, then app containers; restartPolicy Always / OnFailure /
//   Never with the kubelet's crash-loop backoff (first restart at once, then 10 s doubling to
//   300 s, reset after 10 minutes of running; waiting reason CrashLoopBackOff); probes
//   (prober.hpp); graceful deletion (preStop exec hook, SIGTERM, SIGKILL after the grace period,
//   remove_pod, then DELETE with gracePeriodSeconds=0 and a uid precondition). A pod that
//   vanishes from the API while it runs is killed and cleaned up.
// - Reports pod status (phase, conditions, IPs, startTime, container statuses) through the
//   status subresource: writes are coalesced per pod (the latest status wins), retried on
//   errors and re-read on 409, so none is lost.
// - Container environment: the pod's env (value, valueFrom fieldRef / resourceFieldRef /
//   configMapKeyRef / secretKeyRef, $(VAR) expansion), envFrom, the service variables of the
//   pod's namespace (<SVC>_SERVICE_HOST/_PORT, docker-link style <SVC>_PORT_...), KUBERNETES_*,
//   plus POD_IP, POD_NAME, POD_NAMESPACE, NODE_NAME.
// - Restart adoption: start() lists the Runtime's containers; those of pods still bound here are
//   adopted (not restarted), ones that died meanwhile are reported terminated and handled by the
//   restart policy, and those of pods no longer here are killed.
// - Fencing: cut off from the API server for too long, it kills the pods the control plane is
//   about to replace, and runs them again only once it has confirmed they are still its own
//   (AgentOptions::node_monitor_grace_period, fence_margin). When the agent itself is dead, the
//   runtime's dead-man switch (ContainerConfig::fence_after, Runtime::heartbeat) does the same.
// - Container log files: `<data_dir>/logs/<ns>_<name>_<uid>/<container>/<restart>.log`.
// - Optionally serves logs and port-forward through a NodeServer (node_server.hpp) and
//   advertises its port in status.daemonEndpoints.kubeletEndpoint.Port.
//
// stop() stops the agent only: containers keep running, so a new Agent over the same Runtime
// adopts them. kill_all_pods() is the explicit "leave nothing behind".
//
// Thread-safety: every public method may be called from any thread. The agent works on its own
// threads (informers, pod workers, a node thread, a status writer, probe workers).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "orch/agent/mirror_pods.hpp"
#include "orch/agent/runtime.hpp"
#include "orch/client/client.hpp"
#include "orch/status.hpp"
#include "orch/util/clock.hpp"

namespace orch::client {
class EventRecorder;
}

namespace orch::agent {

struct NodeTaintSpec {
  std::string key;
  std::string value;
  std::string effect;  // "NoSchedule", "PreferNoSchedule", "NoExecute"
};

struct AgentOptions {
  // The Node's name. Required.
  std::string node_name;
  // The node's InternalIP (pods' hostIP). Default: "127.0.0.1".
  std::string node_ip = "127.0.0.1";
  // Pod IPs are allocated from this IPv4 range (written to spec.podCIDR); never two live pods
  // with one IP. Default: "127.1.0.0/24".
  std::string pod_cidr = "127.1.0.0/24";
  // Resource name -> quantity ("cpu": "4", "memory": "8Gi", "pods": "110"). Missing entries come
  // from the machine (cores, /proc/meminfo, the data dir's file system; pods: 110).
  // Default: {}.
  std::map<std::string, std::string> capacity{};
  // Defaults to capacity for every entry not given. Default: {}.
  std::map<std::string, std::string> allocatable{};
  // Extra labels; kubernetes.io/hostname, kubernetes.io/os and kubernetes.io/arch are always set.
  // Default: {}.
  std::map<std::string, std::string> labels{};
  // Taints written when the agent creates its Node. Default: {}.
  std::vector<NodeTaintSpec> taints{};
  // Logs live under <data_dir>/logs. Required.
  std::string data_dir;
  // Default: 40 s.
  std::chrono::seconds lease_duration{40};
  // Default: 10 s.
  std::chrono::milliseconds lease_renew_interval{10'000};
  // Fencing, the agent's half of "never two copies of one pod". The control plane marks a node
  // unreachable once its Lease has not been renewed for node_monitor_grace_period, then evicts
  // each pod when the pod's toleration of node.kubernetes.io/unreachable:NoExecute runs out (its
  // smallest tolerationSeconds; at once without such a toleration), and a replacement may start
  // elsewhere. So the agent stops a pod first: when the Lease has not been renewed for
  // node_monitor_grace_period + that toleration - fence_margin, it kills the pod's containers
  // (SIGKILL), drops its unwritten status and starts nothing of it until the Lease is renewed
  // and a fresh read shows the pod still bound here and not deleting (a deleted or replaced pod
  // is cleaned up instead). Pods tolerating the taint forever (DaemonSet pods) keep running.
  // A dead agent cannot fence, so the Runtime does it too: each container starts with that same
  // deadline as ContainerConfig::fence_after, and the agent calls Runtime::heartbeat() after
  // every Lease renewal; the process runtime's shims kill a container whose heartbeat is older
  // than its deadline (reason "Fenced"), measured on the real clock, not `clock`. An agent
  // restarted before the deadline adopts its pods as before. Zero node_monitor_grace_period
  // disables both. Default: 40 s and 5 s.
  std::chrono::milliseconds node_monitor_grace_period{40'000};
  std::chrono::milliseconds fence_margin{5'000};
  // How often the Node's conditions (heartbeats) are rewritten. Default: 10 s.
  std::chrono::milliseconds node_status_interval{10'000};
  // A pod's status changes within this window are written as one. Default: 20 ms.
  std::chrono::milliseconds status_batch_interval{20};
  // Every pod is looked at again this often, even without an event. Default: 10 s.
  std::chrono::milliseconds resync_interval{10'000};
  // Crash-loop and image-pull backoff: first delay and cap (the kubelet's 10 s and 300 s).
  std::chrono::milliseconds backoff_initial{10'000};
  std::chrono::milliseconds backoff_max{300'000};
  // Time for backoff, probes, grace periods and timestamps (not owned). Default: real_clock().
  util::Clock* clock = nullptr;
  // Events go here (not owned); null: the agent makes its own (component "kubelet").
  // Default: nullptr.
  client::EventRecorder* recorder = nullptr;
  // Threads syncing pods / running probes. Default: 4, 4.
  int pod_workers = 4;
  int probe_workers = 4;
  // When not empty, the agent starts a NodeServer (logs, port-forward) on node_ip:node_server_port
  // with this bearer token and advertises the bound port. Default: "".
  std::string node_server_token{};
  // The NodeServer serves HTTPS with this certificate (PEM, naming node_ip) and key. Default:
  // none (plain HTTP).
  std::string node_server_tls_cert_pem{};
  std::string node_server_tls_key_pem{};
  // The NodeServer's port (0: any), or, without a token, the port to advertise as
  // daemonEndpoints.kubeletEndpoint.Port (0: none). Default: 0.
  std::uint16_t node_server_port = 0;
  // The kubeletVersion reported in nodeInfo. Default: "v1.32.0".
  std::string version = "v1.32.0";
  // Components this node runs outside pods, shown as mirror pods in kube-system with their logs
  // (mirror_pods.hpp). Default: none.
  std::vector<StaticComponent> static_components{};
};

// "<data_dir>/logs/<ns>_<name>_<uid>": the log directory of one pod.
std::string pod_log_dir(std::string_view data_dir, std::string_view ns, std::string_view name,
                        std::string_view uid);

class Agent {
 public:
  // `client` and `runtime` must outlive the Agent (the client is shared).
  Agent(AgentOptions options, std::shared_ptr<client::Client> client, Runtime& runtime);
  // stop()s.
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Registers the Node and its Lease, syncs the pod and service caches (waits up to
  // `sync_timeout`), adopts the Runtime's containers, then starts syncing pods. InvalidArgument
  // for bad options or a second start; the API's error when the Node cannot be registered;
  // DeadlineExceeded when the caches did not sync in time; Unavailable when the NodeServer cannot
  // bind.
  Status start(std::chrono::milliseconds sync_timeout = std::chrono::seconds(30));
  // Stops every thread (the Node and Lease stay as they are; containers keep running).
  // Idempotent.
  void stop();

  // Kills every container of every pod on this node (SIGTERM, SIGKILL after `grace`) and removes
  // their sandboxes. For shutting a whole cluster down. Works before or after stop().
  void kill_all_pods(std::chrono::milliseconds grace = std::chrono::seconds(2));

  const std::string& node_name() const;
  // The port advertised in daemonEndpoints (the NodeServer's when the agent runs one).
  std::uint16_t node_server_port() const;
  // Pods the agent currently tracks.
  std::size_t pod_count() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace orch::agent
