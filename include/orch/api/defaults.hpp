// Defaulting as the Kubernetes API server does it on every write (pkg/apis/core/v1/defaults.go,
// apps/v1, storage/v1, discovery/v1 defaults, plus the few fields Kubernetes fills in its
// registry strategies: Namespace finalizers, Secret stringData). Only unset fields are filled;
// defaulting twice changes nothing.
//
// Highlights (each kind's overload lists the rest):
//   PodSpec:    restartPolicy Always, terminationGracePeriodSeconds 30, dnsPolicy ClusterFirst,
//               schedulerName default-scheduler, securityContext {},
//               containers: imagePullPolicy Always for ":latest" or no tag else IfNotPresent,
//               terminationMessagePath /dev/termination-log, terminationMessagePolicy File,
//               port protocol TCP, probes timeout 1 / period 10 / success 1 / failure 3,
//               httpGet path "/" scheme HTTP, fieldRef apiVersion v1, volumes without a source
//               get emptyDir {}, configMap/secret defaultMode 0644 (420), hostPath type ""
//   Pod only:   enableServiceLinks true, requests copied from limits when unset, hostPort =
//               containerPort with hostNetwork (templates do not get these, as in Kubernetes)
//   Deployment: replicas 1, strategy RollingUpdate 25%/25%, revisionHistoryLimit 10,
//               progressDeadlineSeconds 600, template as a pod spec
//   ...
// Thread-safety: stateless; each call mutates only its argument.
#pragma once

#include "orch/api/types.hpp"

namespace orch::api {

// The pod-spec defaults shared by Pod and every template.
void set_defaults(PodSpec& spec);
void set_defaults(PodTemplateSpec& tmpl);

// PodSpec defaults, plus enableServiceLinks true, requests copied from limits for each
// container resource that has a limit but no request, and hostPort = containerPort for
// hostNetwork pods.
void set_defaults(Pod& pod);
// status.phase Active; spec.finalizers ["kubernetes"] when empty.
void set_defaults(Namespace& ns);
// status.allocatable = status.capacity when allocatable is empty.
void set_defaults(Node& node);
// type ClusterIP, sessionAffinity None (ClientIP gets sessionAffinityConfig.clientIP
// timeoutSeconds 10800), ports protocol TCP and targetPort = port when unset,
// internalTrafficPolicy Cluster (not for ExternalName), externalTrafficPolicy Cluster for
// NodePort/LoadBalancer, allocateLoadBalancerNodePorts true and status ingress ipMode VIP for
// LoadBalancer.
void set_defaults(Service& svc);
// Ports protocol TCP.
void set_defaults(Endpoints& ep);
// Nothing to default; present so generic code can call set_defaults on every kind.
void set_defaults(Event& event);
void set_defaults(ConfigMap& cm);
// type Opaque; string_data merged into data (string_data wins) and cleared.
void set_defaults(Secret& secret);
// persistentVolumeReclaimPolicy Retain, volumeMode Filesystem, status.phase Pending.
void set_defaults(PersistentVolume& pv);
// volumeMode Filesystem, status.phase Pending.
void set_defaults(PersistentVolumeClaim& pvc);
// replicas 1; strategy RollingUpdate with maxUnavailable 25% and maxSurge 25%;
// revisionHistoryLimit 10; progressDeadlineSeconds 600; template defaults.
void set_defaults(Deployment& d);
// replicas 1; template defaults.
void set_defaults(ReplicaSet& rs);
// replicas 1; podManagementPolicy OrderedReady; updateStrategy RollingUpdate with partition 0;
// revisionHistoryLimit 10; persistentVolumeClaimRetentionPolicy Retain/Retain; template and
// volumeClaimTemplates defaults.
void set_defaults(StatefulSet& sts);
// updateStrategy RollingUpdate with maxUnavailable 1, maxSurge 0; revisionHistoryLimit 10;
// template defaults.
void set_defaults(DaemonSet& ds);
void set_defaults(ControllerRevision& cr);
void set_defaults(Lease& lease);
// reclaimPolicy Delete, volumeBindingMode Immediate.
void set_defaults(StorageClass& sc);
// ports name "" and protocol TCP.
void set_defaults(EndpointSlice& slice);

// The image pull policy Kubernetes picks for `image`: Always when the tag is "latest" or absent
// (a digest counts as a tag), else IfNotPresent.
std::string default_image_pull_policy(std::string_view image);

}  // namespace orch::api
