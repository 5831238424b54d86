// Pure parts of the DaemonSet controller (see daemonset_controller.hpp): which nodes should run a
// daemon pod, the pod built for one node, the template hash, maxUnavailable, and the rolling
// update's choice of pods to delete. No I/O; unit-tested on their own.
//
// Thread-safety: every function is pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

namespace orch::controller::daemonset {

inline constexpr const char* kRevisionLabel = "controller-revision-hash";
inline constexpr const char* kTemplateGenerationLabel = "pod-template-generation";

// The template hash: FNV-32a of the serialized template spelled in
// "bcdfghjklmnpqrstvwxz2456789". Equal templates give equal hashes.
std::string template_hash(const boost::json::value& pod_template);

// The tolerations Kubernetes adds to every DaemonSet pod (AddOrUpdateDaemonPodTolerations):
// node.kubernetes.io/not-ready and unreachable (Exists, NoExecute), disk-pressure,
// memory-pressure, pid-pressure and unschedulable (Exists, NoSchedule).
boost::json::array daemon_tolerations();
// `tolerations` (a pod's spec.tolerations, may be null) plus daemon_tolerations() not already
// there (same key, operator and effect).
boost::json::array with_daemon_tolerations(const boost::json::value* tolerations);

struct NodeFit {
  bool should_run = false;               // a pod should be created here
  bool should_continue_running = false;  // an existing pod may stay
};
// Kubernetes' NodeShouldRunDaemonPod for `pod_template` (spec.template) on `node`:
// spec.nodeSelector and the required node affinity must match the node (labels, and matchFields
// metadata.name), and every NoSchedule/NoExecute taint must be tolerated (by the template's
// tolerations plus daemon_tolerations()). An untolerated NoSchedule taint: should not run, but an
// existing pod may continue; an untolerated NoExecute taint or a selector mismatch: neither.
NodeFit node_fit(const boost::json::value& node, const boost::json::value& pod_template);

// The pod for `node`: generateName "<ds>-", the template's labels plus controller-revision-hash =
// `hash` and pod-template-generation, the ownerReference, daemon tolerations, and the required
// node affinity replaced by matchFields metadata.name In [node] (the scheduler places it there).
boost::json::value build_pod(const boost::json::value& ds, std::string_view hash,
                             std::string_view node);
// The node a daemon pod is for: spec.nodeName, else the value of the required node affinity's
// matchFields metadata.name In [x]; "" when neither.
std::string pod_node(const boost::json::value& pod);

// rollingUpdate.maxUnavailable (an int or "N%" of `desired`, rounded up); default 1. A result of
// 0 becomes 1 (Kubernetes requires maxSurge or maxUnavailable to be positive; we do not surge).
int max_unavailable(const boost::json::value* value, int desired);

// One node's daemon pod as a rolling update sees it.
struct NodePod {
  std::string node;
  std::string pod;  // pod name
  bool old = false;        // not at the current template hash
  bool available = false;  // Ready for minReadySeconds
};
// Kubernetes' rollingUpdate with maxSurge 0: old pods that are unavailable are deleted at once;
// old available pods are deleted while fewer than `max_unavailable` nodes are unavailable
// (`unavailable` counts desired nodes whose pod is missing or unavailable). Returns pod names.
std::vector<std::string> rolling_update_deletes(const std::vector<NodePod>& pods, int unavailable,
                                                int max_unavailable);

}  // namespace orch::controller::daemonset
