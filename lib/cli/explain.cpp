// `orchctl explain`: a built-in description of the supported kinds' fields (the server publishes
// no OpenAPI schema), printed in kubectl 1.32's plaintext layout. The table covers each kind's
// top-level fields and the nested types users reach for (pod spec, containers, probes, selectors,
// service ports, workload specs and statuses); a type the table does not describe is a leaf.
#include <algorithm>
#include <map>
#include <sstream>

#include "orch/api/registry.hpp"
#include "orch/cli/orchctl.hpp"

namespace orch::cli {
namespace {

struct FieldDoc {
  std::string_view name;
  std::string_view type;  // "string", "[]Container", "map[string]string", "PodSpec"
  std::string_view doc;
  bool required = false;
};

struct TypeDoc {
  std::string_view doc;
  std::vector<FieldDoc> fields;
};

constexpr std::string_view kApiVersionDoc =
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values.";
constexpr std::string_view kKindDoc =
    "Kind is a string value representing the REST resource this object represents. Servers "
    "may infer this from the endpoint the client submits requests to. Cannot be updated. In "
    "CamelCase.";
constexpr std::string_view kMetadataDoc =
    "Standard object's metadata: name, namespace, labels, annotations, owner references.";

// apiVersion, kind, metadata, then the kind's own fields.
std::vector<FieldDoc> object(std::vector<FieldDoc> rest) {
  std::vector<FieldDoc> out{{"apiVersion", "string", kApiVersionDoc},
                            {"kind", "string", kKindDoc},
                            {"metadata", "ObjectMeta", kMetadataDoc}};
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

const std::map<std::string_view, TypeDoc>& types() {
  static const std::map<std::string_view, TypeDoc> t = {
      // ------------------------------------------------------------------ kinds
      {"Pod",
       {"Pod is a collection of containers that can run on a host. This resource is created by "
        "clients and scheduled onto hosts.",
        object({{"spec", "PodSpec", "Specification of the desired behavior of the pod."},
                {"status", "PodStatus",
                 "Most recently observed status of the pod. This data may not be up to date. "
                 "Populated by the system. Read-only."}})}},
      {"Deployment",
       {"Deployment enables declarative updates for Pods and ReplicaSets.",
        object({{"spec", "DeploymentSpec", "Specification of the desired behavior of the Deployment."},
                {"status", "DeploymentStatus", "Most recently observed status of the Deployment."}})}},
      {"ReplicaSet",
       {"ReplicaSet ensures that a specified number of pod replicas are running at any given time.",
        object({{"spec", "ReplicaSetSpec", "Spec defines the specification of the desired behavior of the ReplicaSet."},
                {"status", "ReplicaSetStatus",
                 "Status is the most recently observed status of the ReplicaSet. Populated by the "
                 "system. Read-only."}})}},
      {"StatefulSet",
       {"StatefulSet represents a set of pods with consistent identities: stable network names "
        "(ordinal suffixes) and stable storage (one claim per pod from volumeClaimTemplates).",
        object({{"spec", "StatefulSetSpec", "Spec defines the desired identities of pods in this set."},
                {"status", "StatefulSetStatus",
                 "Status is the current status of Pods in this StatefulSet. This data may be out "
                 "of date by some window of time."}})}},
      {"DaemonSet",
       {"DaemonSet represents the configuration of a daemon set: one pod on every eligible node.",
        object({{"spec", "DaemonSetSpec", "The desired behavior of this daemon set."},
                {"status", "DaemonSetStatus",
                 "The current status of this daemon set. This data may be out of date by some "
                 "window of time. Populated by the system. Read-only."}})}},
      {"Service",
       {"Service is a named abstraction of software service (for example, mysql) consisting of "
        "local port (for example 3306) that the proxy listens on, and the selector that "
        "determines which pods will answer requests sent through the proxy.",
        object({{"spec", "ServiceSpec", "Spec defines the behavior of a service."},
                {"status", "ServiceStatus",
                 "Most recently observed status of the service. Populated by the system. "
                 "Read-only."}})}},
      {"ConfigMap",
       {"ConfigMap holds configuration data for pods to consume.",
        object({{"binaryData", "map[string]string",
                 "BinaryData contains the binary data. Each key must consist of alphanumeric "
                 "characters, '-', '_' or '.'. Values are base64-encoded bytes."},
                {"data", "map[string]string",
                 "Data contains the configuration data. Each key must consist of alphanumeric "
                 "characters, '-', '_' or '.'."},
                {"immutable", "boolean",
                 "Immutable, if set to true, ensures that data stored in the ConfigMap cannot be "
                 "updated (only object metadata can be modified)."}})}},
      {"Secret",
       {"Secret holds secret data of a certain type. The total bytes of the values in the Data "
        "field must be less than MaxSecretSize bytes.",
        object({{"data", "map[string]string",
                 "Data contains the secret data. The serialized form of the secret data is a "
                 "base64 encoded string."},
                {"immutable", "boolean",
                 "Immutable, if set to true, ensures that data stored in the Secret cannot be "
                 "updated (only object metadata can be modified)."},
                {"stringData", "map[string]string",
                 "stringData allows specifying non-binary secret data in string form. It is "
                 "provided as a write-only input field for convenience."},
                {"type", "string", "Used to facilitate programmatic handling of secret data."}})}},
      {"Namespace",
       {"Namespace provides a scope for Names. Use of multiple namespaces is optional.",
        object({{"spec", "NamespaceSpec", "Spec defines the behavior of the Namespace."},
                {"status", "NamespaceStatus", "Status describes the current status of a Namespace."}})}},
      {"Node",
       {"Node is a worker node in Kubernetes. Each node will have a unique identifier in the "
        "cache (i.e. in etcd).",
        object({{"spec", "NodeSpec", "Spec defines the behavior of a node."},
                {"status", "NodeStatus",
                 "Most recently observed status of the node. Populated by the system. "
                 "Read-only."}})}},
      {"Endpoints",
       {"Endpoints is a collection of endpoints that implement the actual service.",
        object({{"subsets", "[]EndpointSubset",
                 "The set of all endpoints is the union of all subsets. Addresses are placed "
                 "into subsets according to the IPs they share."}})}},
      {"Event",
       {"Event is a report of an event somewhere in the cluster.",
        object({{"count", "integer", "The number of times this event has occurred."},
                {"firstTimestamp", "string", "The time at which the event was first recorded."},
                {"involvedObject", "ObjectReference", "The object that this event is about.", true},
                {"lastTimestamp", "string", "The time at which the most recent occurrence of this event was recorded."},
                {"message", "string", "A human-readable description of the status of this operation."},
                {"reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."},
                {"source", "EventSource", "The component reporting this event."},
                {"type", "string", "Type of this event (Normal, Warning), new types could be added in the future."}})}},
      {"PersistentVolume",
       {"PersistentVolume (PV) is a storage resource provisioned by an administrator.",
        object({{"spec", "PersistentVolumeSpec", "spec defines a specification of a persistent volume owned by the cluster."},
                {"status", "PersistentVolumeStatus", "status represents the current information/status for the persistent volume."}})}},
      {"PersistentVolumeClaim",
       {"PersistentVolumeClaim is a user's request for and claim to a persistent volume.",
        object({{"spec", "PersistentVolumeClaimSpec", "spec defines the desired characteristics of a volume requested by a pod author."},
                {"status", "PersistentVolumeClaimStatus", "status represents the current information/status of a persistent volume claim."}})}},
      {"Lease",
       {"Lease defines a lease concept.",
        object({{"spec", "LeaseSpec", "spec contains the specification of the Lease."}})}},
      // ------------------------------------------------------------------ shared types
      {"ObjectMeta",
       {"ObjectMeta is metadata that all persisted resources must have, which includes all "
        "objects users must create.",
        {{"annotations", "map[string]string", "Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata."},
         {"creationTimestamp", "string", "CreationTimestamp is a timestamp representing the server time when this object was created. Populated by the system. Read-only."},
         {"deletionGracePeriodSeconds", "integer", "Number of seconds allowed for this object to gracefully terminate before it will be removed from the system."},
         {"deletionTimestamp", "string", "DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted. Set by the server when a graceful deletion is requested."},
         {"finalizers", "[]string", "Must be empty before the object is deleted from the registry."},
         {"generateName", "string", "GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided."},
         {"generation", "integer", "A sequence number representing a specific generation of the desired state. Populated by the system. Read-only."},
         {"labels", "map[string]string", "Map of string keys and values that can be used to organize and categorize (scope and select) objects."},
         {"name", "string", "Name must be unique within a namespace. Cannot be updated."},
         {"namespace", "string", "Namespace defines the space within which each name must be unique. An empty namespace is equivalent to the \"default\" namespace."},
         {"ownerReferences", "[]OwnerReference", "List of objects depended by this object. If ALL objects in the list have been deleted, this object will be garbage collected."},
         {"resourceVersion", "string", "An opaque value that represents the internal version of this object, used for optimistic concurrency and watches. Read-only."},
         {"uid", "string", "UID is the unique in time and space value for this object. Populated by the system. Read-only."}}}},
      {"OwnerReference",
       {"OwnerReference contains enough information to let you identify an owning object.",
        {{"apiVersion", "string", "API version of the referent.", true},
         {"blockOwnerDeletion", "boolean", "If true, the owner cannot be deleted from the key-value store until this reference is removed (foreground deletion)."},
         {"controller", "boolean", "If true, this reference points to the managing controller."},
         {"kind", "string", "Kind of the referent.", true},
         {"name", "string", "Name of the referent.", true},
         {"uid", "string", "UID of the referent.", true}}}},
      {"ObjectReference",
       {"ObjectReference contains enough information to let you inspect or modify the referred object.",
        {{"apiVersion", "string", "API version of the referent."},
         {"kind", "string", "Kind of the referent."},
         {"name", "string", "Name of the referent."},
         {"namespace", "string", "Namespace of the referent."},
         {"uid", "string", "UID of the referent."}}}},
      {"EventSource",
       {"EventSource contains information for an event.",
        {{"component", "string", "Component from which the event is generated."},
         {"host", "string", "Node name on which the event is generated."}}}},
      {"LabelSelector",
       {"A label selector is a label query over a set of resources. The result of matchLabels "
        "and matchExpressions are ANDed. An empty label selector matches all objects.",
        {{"matchExpressions", "[]LabelSelectorRequirement", "matchExpressions is a list of label selector requirements. The requirements are ANDed."},
         {"matchLabels", "map[string]string", "matchLabels is a map of {key,value} pairs, each equivalent to an element of matchExpressions whose operator is \"In\"."}}}},
      {"LabelSelectorRequirement",
       {"A label selector requirement is a selector that contains values, a key, and an operator "
        "that relates the key and values.",
        {{"key", "string", "key is the label key that the selector applies to.", true},
         {"operator", "string", "operator represents a key's relationship to a set of values: In, NotIn, Exists and DoesNotExist.", true},
         {"values", "[]string", "values is an array of string values: non-empty for In and NotIn, empty for Exists and DoesNotExist."}}}},
      {"PodTemplateSpec",
       {"PodTemplateSpec describes the data a pod should have when created from a template.",
        {{"metadata", "ObjectMeta", kMetadataDoc},
         {"spec", "PodSpec", "Specification of the desired behavior of the pod."}}}},
      // ------------------------------------------------------------------ pods
      {"PodSpec",
       {"PodSpec is a description of a pod.",
        {{"activeDeadlineSeconds", "integer", "Optional duration in seconds the pod may be active on the node relative to StartTime before the system will actively try to mark it failed and kill associated containers."},
         {"affinity", "Affinity", "If specified, the pod's scheduling constraints."},
         {"containers", "[]Container", "List of containers belonging to the pod. Containers cannot currently be added or removed. There must be at least one container in a Pod. Cannot be updated.", true},
         {"dnsPolicy", "string", "Set DNS policy for the pod. Defaults to \"ClusterFirst\"."},
         {"hostNetwork", "boolean", "Host networking requested for this pod. Use the host's network namespace."},
         {"hostname", "string", "Specifies the hostname of the Pod. If not specified, the pod's hostname will be set to a system-defined value."},
         {"initContainers", "[]Container", "List of initialization containers belonging to the pod. Init containers are executed in order prior to containers being started."},
         {"nodeName", "string", "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler."},
         {"nodeSelector", "map[string]string", "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node."},
         {"priority", "integer", "The priority value. The higher the value, the higher the priority."},
         {"restartPolicy", "string", "Restart policy for all containers within the pod. One of Always, OnFailure, Never. Default to Always."},
         {"schedulerName", "string", "If specified, the pod will be dispatched by specified scheduler."},
         {"serviceAccountName", "string", "ServiceAccountName is the name of the ServiceAccount to use to run this pod."},
         {"subdomain", "string", "If specified, the fully qualified Pod hostname will be \"<hostname>.<subdomain>.<pod namespace>.svc.<cluster domain>\"."},
         {"terminationGracePeriodSeconds", "integer", "Optional duration in seconds the pod needs to terminate gracefully. Defaults to 30 seconds."},
         {"tolerations", "[]Toleration", "If specified, the pod's tolerations."},
         {"volumes", "[]Volume", "List of volumes that can be mounted by containers belonging to the pod."}}}},
      {"Container",
       {"A single application container that you want to run within a pod.",
        {{"args", "[]string", "Arguments to the entrypoint. The container image's CMD is used if this is not provided."},
         {"command", "[]string", "Entrypoint array. Not executed within a shell. The container image's ENTRYPOINT is used if this is not provided."},
         {"env", "[]EnvVar", "List of environment variables to set in the container. Cannot be updated."},
         {"image", "string", "Container image name. Images come from the node's local image catalog."},
         {"imagePullPolicy", "string", "Image pull policy. One of Always, Never, IfNotPresent."},
         {"lifecycle", "Lifecycle", "Actions that the management system should take in response to container lifecycle events."},
         {"livenessProbe", "Probe", "Periodic probe of container liveness. Container will be restarted if the probe fails."},
         {"name", "string", "Name of the container specified as a DNS_LABEL. Each container in a pod must have a unique name (DNS_LABEL). Cannot be updated.", true},
         {"ports", "[]ContainerPort", "List of ports to expose from the container."},
         {"readinessProbe", "Probe", "Periodic probe of container service readiness. Container will be removed from service endpoints if the probe fails."},
         {"resources", "ResourceRequirements", "Compute Resources required by this container."},
         {"startupProbe", "Probe", "StartupProbe indicates that the Pod has successfully initialized. If specified, no other probes are executed until this completes successfully."},
         {"volumeMounts", "[]VolumeMount", "Pod volumes to mount into the container's filesystem. Cannot be updated."},
         {"workingDir", "string", "Container's working directory. If not specified, the container runtime's default will be used."}}}},
      {"ContainerPort",
       {"ContainerPort represents a network port in a single container.",
        {{"containerPort", "integer", "Number of port to expose on the pod's IP address. This must be a valid port number, 0 < x < 65536.", true},
         {"hostPort", "integer", "Number of port to expose on the host."},
         {"name", "string", "If specified, this must be an IANA_SVC_NAME and unique within the pod. Each named port in a pod must have a unique name."},
         {"protocol", "string", "Protocol for port. Must be UDP, TCP, or SCTP. Defaults to \"TCP\"."}}}},
      {"EnvVar",
       {"EnvVar represents an environment variable present in a Container.",
        {{"name", "string", "Name of the environment variable. Must be a C_IDENTIFIER.", true},
         {"value", "string", "Variable references $(VAR_NAME) are expanded using the previously defined environment variables in the container and any service environment variables."},
         {"valueFrom", "EnvVarSource", "Source for the environment variable's value. Cannot be used if value is not empty."}}}},
      {"ResourceRequirements",
       {"ResourceRequirements describes the compute resource requirements.",
        {{"limits", "map[string]Quantity", "Limits describes the maximum amount of compute resources allowed."},
         {"requests", "map[string]Quantity", "Requests describes the minimum amount of compute resources required."}}}},
      {"Probe",
       {"Probe describes a health check to be performed against a container to determine whether "
        "it is alive or ready to receive traffic.",
        {{"exec", "ExecAction", "Exec specifies the action to take."},
         {"failureThreshold", "integer", "Minimum consecutive failures for the probe to be considered failed after having succeeded. Defaults to 3."},
         {"httpGet", "HTTPGetAction", "HTTPGet specifies the http request to perform."},
         {"initialDelaySeconds", "integer", "Number of seconds after the container has started before liveness probes are initiated."},
         {"periodSeconds", "integer", "How often (in seconds) to perform the probe. Default to 10 seconds."},
         {"successThreshold", "integer", "Minimum consecutive successes for the probe to be considered successful after having failed. Defaults to 1."},
         {"tcpSocket", "TCPSocketAction", "TCPSocket specifies an action involving a TCP port."},
         {"timeoutSeconds", "integer", "Number of seconds after which the probe times out. Defaults to 1 second."}}}},
      {"HTTPGetAction",
       {"HTTPGetAction describes an action based on HTTP Get requests.",
        {{"host", "string", "Host name to connect to, defaults to the pod IP."},
         {"httpHeaders", "[]HTTPHeader", "Custom headers to set in the request. HTTP allows repeated headers."},
         {"path", "string", "Path to access on the HTTP server."},
         {"port", "IntOrString", "Name or number of the port to access on the container.", true},
         {"scheme", "string", "Scheme to use for connecting to the host. Defaults to HTTP."}}}},
      {"TCPSocketAction",
       {"TCPSocketAction describes an action based on opening a socket.",
        {{"host", "string", "Optional: Host name to connect to, defaults to the pod IP."},
         {"port", "IntOrString", "Number or name of the port to access on the container.", true}}}},
      {"ExecAction",
       {"ExecAction describes a \"run in container\" action.",
        {{"command", "[]string", "Command is the command line to execute inside the container. The command is simply exec'd, it is not run inside a shell."}}}},
      {"VolumeMount",
       {"VolumeMount describes a mounting of a Volume within a container.",
        {{"mountPath", "string", "Path within the container at which the volume should be mounted. Must not contain ':'.", true},
         {"name", "string", "This must match the Name of a Volume.", true},
         {"readOnly", "boolean", "Mounted read-only if true, read-write otherwise (false or unspecified). Defaults to false."},
         {"subPath", "string", "Path within the volume from which the container's volume should be mounted."}}}},
      {"Volume",
       {"Volume represents a named volume in a pod that may be accessed by any container in the pod.",
        {{"configMap", "ConfigMapVolumeSource", "configMap represents a configMap that should populate this volume."},
         {"emptyDir", "EmptyDirVolumeSource", "emptyDir represents a temporary directory that shares a pod's lifetime."},
         {"hostPath", "HostPathVolumeSource", "hostPath represents a pre-existing file or directory on the host machine that is directly exposed to the container."},
         {"name", "string", "name of the volume. Must be a DNS_LABEL and unique within the pod.", true},
         {"persistentVolumeClaim", "PersistentVolumeClaimVolumeSource", "persistentVolumeClaimVolumeSource represents a reference to a PersistentVolumeClaim in the same namespace."},
         {"secret", "SecretVolumeSource", "secret represents a secret that should populate this volume."}}}},
      {"Toleration",
       {"The pod this Toleration is attached to tolerates any taint that matches the triple "
        "<key,value,effect> using the matching operator <operator>.",
        {{"effect", "string", "Effect indicates the taint effect to match. Empty means match all taint effects."},
         {"key", "string", "Key is the taint key that the toleration applies to. Empty means match all taint keys."},
         {"operator", "string", "Operator represents a key's relationship to the value. Valid operators are Exists and Equal. Defaults to Equal."},
         {"tolerationSeconds", "integer", "TolerationSeconds represents the period of time the toleration (which must be of effect NoExecute) tolerates the taint."},
         {"value", "string", "Value is the taint value the toleration matches to."}}}},
      {"PodStatus",
       {"PodStatus represents information about the status of a pod.",
        {{"conditions", "[]PodCondition", "Current service state of pod."},
         {"containerStatuses", "[]ContainerStatus", "The list has one entry per container in the manifest."},
         {"hostIP", "string", "hostIP holds the IP address of the host to which the pod is assigned."},
         {"initContainerStatuses", "[]ContainerStatus", "The list has one entry per init container in the manifest."},
         {"message", "string", "A human readable message indicating details about why the pod is in this condition."},
         {"phase", "string", "The phase of a Pod is a simple, high-level summary of where the Pod is in its lifecycle: Pending, Running, Succeeded, Failed, Unknown."},
         {"podIP", "string", "podIP address allocated to the pod. Routable at least within the cluster."},
         {"podIPs", "[]PodIP", "podIPs holds the IP addresses allocated to the pod."},
         {"qosClass", "string", "The Quality of Service (QOS) classification assigned to the pod based on resource requirements."},
         {"reason", "string", "A brief CamelCase message indicating details about why the pod is in this state."},
         {"startTime", "string", "RFC 3339 date and time at which the object was acknowledged by the Kubelet."}}}},
      {"PodCondition",
       {"PodCondition contains details for the current condition of this pod.",
        {{"lastProbeTime", "string", "Last time we probed the condition."},
         {"lastTransitionTime", "string", "Last time the condition transitioned from one status to another."},
         {"message", "string", "Human-readable message indicating details about last transition."},
         {"reason", "string", "Unique, one-word, CamelCase reason for the condition's last transition."},
         {"status", "string", "Status is the status of the condition. Can be True, False, Unknown.", true},
         {"type", "string", "Type is the type of the condition: PodScheduled, Initialized, ContainersReady, Ready.", true}}}},
      {"ContainerStatus",
       {"ContainerStatus contains details for the current status of this container.",
        {{"containerID", "string", "ContainerID is the ID of the container in the format '<type>://<container_id>'."},
         {"image", "string", "Image is the name of container image that the container is running.", true},
         {"imageID", "string", "ImageID is the image ID of the container's image.", true},
         {"lastState", "ContainerState", "LastTerminationState holds the last termination state of the container."},
         {"name", "string", "Name is a DNS_LABEL representing the unique name of the container.", true},
         {"ready", "boolean", "Ready specifies whether the container is currently passing its readiness check.", true},
         {"restartCount", "integer", "RestartCount holds the number of times the container has been restarted.", true},
         {"started", "boolean", "Started indicates whether the container has finished its postStart lifecycle hook and passed its startup probe."},
         {"state", "ContainerState", "State holds details about the container's current condition."}}}},
      // ------------------------------------------------------------------ workloads
      {"DeploymentSpec",
       {"DeploymentSpec is the specification of the desired behavior of the Deployment.",
        {{"minReadySeconds", "integer", "Minimum number of seconds for which a newly created pod should be ready without any of its container crashing, for it to be considered available. Defaults to 0."},
         {"paused", "boolean", "Indicates that the deployment is paused."},
         {"progressDeadlineSeconds", "integer", "The maximum time in seconds for a deployment to make progress before it is considered to be failed. Defaults to 600s."},
         {"replicas", "integer", "Number of desired pods. Defaults to 1."},
         {"revisionHistoryLimit", "integer", "The number of old ReplicaSets to retain to allow rollback. Defaults to 10."},
         {"selector", "LabelSelector", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels.", true},
         {"strategy", "DeploymentStrategy", "The deployment strategy to use to replace existing pods with new ones."},
         {"template", "PodTemplateSpec", "Template describes the pods that will be created. The only allowed template.spec.restartPolicy value is \"Always\".", true}}}},
      {"DeploymentStrategy",
       {"DeploymentStrategy describes how to replace existing pods with new ones.",
        {{"rollingUpdate", "RollingUpdateDeployment", "Rolling update config params. Present only if DeploymentStrategyType = RollingUpdate."},
         {"type", "string", "Type of deployment. Can be \"Recreate\" or \"RollingUpdate\". Default is RollingUpdate."}}}},
      {"RollingUpdateDeployment",
       {"Spec to control the desired behavior of rolling update.",
        {{"maxSurge", "IntOrString", "The maximum number of pods that can be scheduled above the desired number of pods. Value can be an absolute number (ex: 5) or a percentage of desired pods (ex: 10%). Defaults to 25%."},
         {"maxUnavailable", "IntOrString", "The maximum number of pods that can be unavailable during the update. Value can be an absolute number (ex: 5) or a percentage of desired pods (ex: 10%). Defaults to 25%."}}}},
      {"DeploymentStatus",
       {"DeploymentStatus is the most recently observed status of the Deployment.",
        {{"availableReplicas", "integer", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."},
         {"conditions", "[]DeploymentCondition", "Represents the latest available observations of a deployment's current state."},
         {"observedGeneration", "integer", "The generation observed by the deployment controller."},
         {"readyReplicas", "integer", "readyReplicas is the number of pods targeted by this Deployment with a Ready Condition."},
         {"replicas", "integer", "Total number of non-terminated pods targeted by this deployment (their labels match the selector)."},
         {"unavailableReplicas", "integer", "Total number of unavailable pods targeted by this deployment."},
         {"updatedReplicas", "integer", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."}}}},
      {"ReplicaSetSpec",
       {"ReplicaSetSpec is the specification of a ReplicaSet.",
        {{"minReadySeconds", "integer", "Minimum number of seconds for which a newly created pod should be ready without any of its container crashing, for it to be considered available."},
         {"replicas", "integer", "Replicas is the number of desired pods. Defaults to 1."},
         {"selector", "LabelSelector", "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set.", true},
         {"template", "PodTemplateSpec", "Template is the object that describes the pod that will be created if insufficient replicas are detected."}}}},
      {"ReplicaSetStatus",
       {"ReplicaSetStatus represents the current status of a ReplicaSet.",
        {{"availableReplicas", "integer", "The number of available non-terminating pods (ready for at least minReadySeconds) for this replica set."},
         {"fullyLabeledReplicas", "integer", "The number of non-terminating pods that have labels matching the labels of the pod template of the replicaset."},
         {"observedGeneration", "integer", "ObservedGeneration reflects the generation of the most recently observed ReplicaSet."},
         {"readyReplicas", "integer", "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition."},
         {"replicas", "integer", "Replicas is the most recently observed number of non-terminating pods.", true}}}},
      {"StatefulSetSpec",
       {"A StatefulSetSpec is the specification of a StatefulSet.",
        {{"minReadySeconds", "integer", "Minimum number of seconds for which a newly created pod should be ready without any of its container crashing for it to be considered available."},
         {"podManagementPolicy", "string", "podManagementPolicy controls how pods are created during initial scale up, when replacing pods on nodes, or when scaling down: OrderedReady (the default) or Parallel."},
         {"replicas", "integer", "replicas is the desired number of replicas of the given Template. Defaults to 1."},
         {"revisionHistoryLimit", "integer", "revisionHistoryLimit is the maximum number of revisions that will be maintained in the StatefulSet's revision history. Defaults to 10."},
         {"selector", "LabelSelector", "selector is a label query over pods that should match the replica count. It must match the pod template's labels.", true},
         {"serviceName", "string", "serviceName is the name of the service that governs this StatefulSet."},
         {"template", "PodTemplateSpec", "template is the object that describes the pod that will be created if insufficient replicas are detected. Each pod stamped out by the StatefulSet will fulfill this Template, but have a unique identity from the rest of the StatefulSet.", true},
         {"updateStrategy", "StatefulSetUpdateStrategy", "updateStrategy indicates the StatefulSetUpdateStrategy that will be employed to update Pods in the StatefulSet when a revision is made to Template."},
         {"volumeClaimTemplates", "[]PersistentVolumeClaim", "volumeClaimTemplates is a list of claims that pods are allowed to reference. Every claim in this list must have at least one matching (by name) volumeMount in one container in the template."}}}},
      {"StatefulSetStatus",
       {"StatefulSetStatus represents the current state of a StatefulSet.",
        {{"availableReplicas", "integer", "Total number of available pods (ready for at least minReadySeconds) targeted by this statefulset."},
         {"currentReplicas", "integer", "currentReplicas is the number of Pods created by the StatefulSet controller from the StatefulSet version indicated by currentRevision."},
         {"currentRevision", "string", "currentRevision, if not empty, indicates the version of the StatefulSet used to generate Pods in the sequence [0,currentReplicas)."},
         {"observedGeneration", "integer", "observedGeneration is the most recent generation observed for this StatefulSet."},
         {"readyReplicas", "integer", "readyReplicas is the number of pods created for this StatefulSet with a Ready Condition."},
         {"replicas", "integer", "replicas is the number of Pods created by the StatefulSet controller.", true},
         {"updateRevision", "string", "updateRevision, if not empty, indicates the version of the StatefulSet used to generate Pods in the sequence [replicas-updatedReplicas,replicas)."},
         {"updatedReplicas", "integer", "updatedReplicas is the number of Pods created by the StatefulSet controller from the StatefulSet version indicated by updateRevision."}}}},
      {"DaemonSetSpec",
       {"DaemonSetSpec is the specification of a daemon set.",
        {{"minReadySeconds", "integer", "The minimum number of seconds for which a newly created DaemonSet pod should be ready without any of its container crashing, for it to be considered available."},
         {"revisionHistoryLimit", "integer", "The number of old history to retain to allow rollback. Defaults to 10."},
         {"selector", "LabelSelector", "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels.", true},
         {"template", "PodTemplateSpec", "An object that describes the pod that will be created. The DaemonSet will create exactly one copy of this pod on every node that matches the template's node selector (or on every node if no node selector is specified).", true},
         {"updateStrategy", "DaemonSetUpdateStrategy", "An update strategy to replace existing DaemonSet pods with new pods."}}}},
      {"DaemonSetStatus",
       {"DaemonSetStatus represents the current status of a daemon set.",
        {{"currentNumberScheduled", "integer", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.", true},
         {"desiredNumberScheduled", "integer", "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).", true},
         {"numberAvailable", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)."},
         {"numberMisscheduled", "integer", "The number of nodes that are running the daemon pod, but are not supposed to run the daemon pod.", true},
         {"numberReady", "integer", "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.", true},
         {"observedGeneration", "integer", "The most recent generation observed by the daemon set controller."},
         {"updatedNumberScheduled", "integer", "The total number of nodes that are running updated daemon pod."}}}},
      // ------------------------------------------------------------------ services, nodes, ...
      {"ServiceSpec",
       {"ServiceSpec describes the attributes that a user creates on a service.",
        {{"clusterIP", "string", "clusterIP is the IP address of the service and is usually assigned randomly (here from 127.96.0.0/16). \"None\" makes a headless service."},
         {"externalTrafficPolicy", "string", "externalTrafficPolicy describes how nodes distribute service traffic they receive on one of the Service's \"externally-facing\" addresses: Cluster or Local."},
         {"ports", "[]ServicePort", "The list of ports that are exposed by this service."},
         {"selector", "map[string]string", "Route service traffic to pods with label keys and values matching this selector."},
         {"sessionAffinity", "string", "Supports \"ClientIP\" and \"None\". Used to maintain session affinity. Defaults to None."},
         {"type", "string", "type determines how the Service is exposed: ClusterIP (the default), NodePort, LoadBalancer or ExternalName."}}}},
      {"ServicePort",
       {"ServicePort contains information on service's port.",
        {{"name", "string", "The name of this port within the service. This must be a DNS_LABEL. All ports within a ServiceSpec must have unique names."},
         {"nodePort", "integer", "The port on each node on which this service is exposed when type is NodePort or LoadBalancer. Usually assigned by the system (30000-32767)."},
         {"port", "integer", "The port that will be exposed by this service.", true},
         {"protocol", "string", "The IP protocol for this port. Supports \"TCP\", \"UDP\", and \"SCTP\". Default is TCP."},
         {"targetPort", "IntOrString", "Number or name of the port to access on the pods targeted by the service. Defaults to the value of the 'port' field."}}}},
      {"ServiceStatus",
       {"ServiceStatus represents the current status of a service.",
        {{"loadBalancer", "LoadBalancerStatus", "LoadBalancer contains the current status of the load-balancer, if one is present."}}}},
      {"LoadBalancerStatus",
       {"LoadBalancerStatus represents the status of a load-balancer.",
        {{"ingress", "[]LoadBalancerIngress", "Ingress is a list containing ingress points for the load-balancer."}}}},
      {"LoadBalancerIngress",
       {"LoadBalancerIngress represents the status of a load-balancer ingress point.",
        {{"hostname", "string", "Hostname is set for load-balancer ingress points that are DNS based."},
         {"ip", "string", "IP is set for load-balancer ingress points that are IP based (here from 127.240.0.0/16)."}}}},
      {"EndpointSubset",
       {"EndpointSubset is a group of addresses with a common set of ports.",
        {{"addresses", "[]EndpointAddress", "IP addresses which offer the related ports that are marked as ready."},
         {"notReadyAddresses", "[]EndpointAddress", "IP addresses which offer the related ports but are not currently marked as ready."},
         {"ports", "[]EndpointPort", "Port numbers available on the related IP addresses."}}}},
      {"NamespaceSpec",
       {"NamespaceSpec describes the attributes on a Namespace.",
        {{"finalizers", "[]string", "Finalizers is an opaque list of values that must be empty to permanently remove object from storage."}}}},
      {"NamespaceStatus",
       {"NamespaceStatus is information about the current status of a Namespace.",
        {{"conditions", "[]NamespaceCondition", "Represents the latest available observations of a namespace's current state."},
         {"phase", "string", "Phase is the current lifecycle phase of the namespace: Active or Terminating."}}}},
      {"NodeSpec",
       {"NodeSpec describes the attributes that a node is created with.",
        {{"podCIDR", "string", "PodCIDR represents the pod IP range assigned to the node."},
         {"providerID", "string", "ID of the node assigned by the cloud provider."},
         {"taints", "[]Taint", "If specified, the node's taints."},
         {"unschedulable", "boolean", "Unschedulable controls node schedulability of new pods. By default, node is schedulable (see `orchctl cordon`)."}}}},
      {"Taint",
       {"The node this Taint is attached to has the \"effect\" on any pod that does not tolerate the Taint.",
        {{"effect", "string", "Required. The effect of the taint on pods that do not tolerate the taint: NoSchedule, PreferNoSchedule and NoExecute.", true},
         {"key", "string", "Required. The taint key to be applied to a node.", true},
         {"timeAdded", "string", "TimeAdded represents the time at which the taint was added. It is only written for NoExecute taints."},
         {"value", "string", "The taint value corresponding to the taint key."}}}},
      {"NodeStatus",
       {"NodeStatus is information about the current status of a node.",
        {{"addresses", "[]NodeAddress", "List of addresses reachable to the node."},
         {"allocatable", "map[string]Quantity", "Allocatable represents the resources of a node that are available for scheduling. Defaults to Capacity."},
         {"capacity", "map[string]Quantity", "Capacity represents the total resources of a node."},
         {"conditions", "[]NodeCondition", "Conditions is an array of current observed node conditions (Ready, MemoryPressure, ...)."},
         {"daemonEndpoints", "NodeDaemonEndpoints", "Endpoints of daemons running on the Node."},
         {"nodeInfo", "NodeSystemInfo", "Set of ids/uuids to uniquely identify the node."}}}},
      {"PersistentVolumeSpec",
       {"PersistentVolumeSpec is the specification of a persistent volume.",
        {{"accessModes", "[]string", "accessModes contains all ways the volume can be mounted."},
         {"capacity", "map[string]Quantity", "capacity is the description of the persistent volume's resources and capacity."},
         {"claimRef", "ObjectReference", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."},
         {"hostPath", "HostPathVolumeSource", "hostPath represents a directory on the host."},
         {"nodeAffinity", "VolumeNodeAffinity", "nodeAffinity defines constraints that limit what nodes this volume can be accessed from."},
         {"persistentVolumeReclaimPolicy", "string", "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim: Retain, Delete or Recycle."},
         {"storageClassName", "string", "storageClassName is the name of StorageClass to which this persistent volume belongs."}}}},
      {"PersistentVolumeClaimSpec",
       {"PersistentVolumeClaimSpec describes the common attributes of storage devices and allows a Source for provider-specific attributes.",
        {{"accessModes", "[]string", "accessModes contains the desired access modes the volume should have."},
         {"resources", "VolumeResourceRequirements", "resources represents the minimum resources the volume should have."},
         {"selector", "LabelSelector", "selector is a label query over volumes to consider for binding."},
         {"storageClassName", "string", "storageClassName is the name of the StorageClass required by the claim."},
         {"volumeName", "string", "volumeName is the binding reference to the PersistentVolume backing this claim."}}}},
      {"LeaseSpec",
       {"LeaseSpec is a specification of a Lease.",
        {{"acquireTime", "string", "acquireTime is a time when the current lease was acquired."},
         {"holderIdentity", "string", "holderIdentity contains the identity of the holder of a current lease."},
         {"leaseDurationSeconds", "integer", "leaseDurationSeconds is a duration that candidates for a lease need to wait to force acquire it."},
         {"leaseTransitions", "integer", "leaseTransitions is the number of transitions of a lease between holders."},
         {"renewTime", "string", "renewTime is a time when the current holder of a lease has last updated the lease."}}}},
  };
  return t;
}

// "[]Container" -> "Container"; "map[string]X" stays (no fields to walk).
std::string_view element_type(std::string_view type) {
  if (type.starts_with("[]")) type.remove_prefix(2);
  return type;
}

// Words of `text` in lines of at most `width` columns after `indent` spaces.
std::string wrap(std::string_view text, std::size_t indent, std::size_t width = 80) {
  std::string out, line;
  std::istringstream words{std::string(text)};
  std::string w;
  const std::string pad(indent, ' ');
  while (words >> w) {
    if (!line.empty() && indent + line.size() + 1 + w.size() > width) {
      out += pad + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + w;
  }
  if (!line.empty()) out += pad + line + "\n";
  return out;
}

std::string field_line(const FieldDoc& f, std::size_t indent) {
  std::string s(indent, ' ');
  s += std::string(f.name) + "\t<" + std::string(f.type) + ">";
  if (f.required) s += " -required-";
  return s + "\n";
}

void recurse(std::string& out, std::string_view type, std::size_t indent, int depth) {
  auto it = types().find(element_type(type));
  if (it == types().end() || depth > 8) return;
  for (const auto& f : it->second.fields) {
    out += field_line(f, indent);
    recurse(out, f.type, indent + 2, depth + 1);
  }
}

}  // namespace

Result<std::string> explain(std::string_view path, bool recursive) {
  std::vector<std::string> parts;
  {
    std::string cur;
    for (char c : path) {
      if (c == '.') {
        parts.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    parts.push_back(cur);
  }
  if (parts.empty() || parts[0].empty()) return bad_request("You must specify the type of resource to explain.");
  // "deployments.apps.spec": a group qualifier right after the resource.
  const api::ResourceInfo* info = nullptr;
  std::size_t first_field = 1;
  if (parts.size() > 1) {
    info = api::find_resource_by_name(parts[0] + "." + parts[1]);
    if (info) first_field = 2;
  }
  if (!info) info = api::find_resource_by_name(parts[0]);
  if (!info) return not_found("the server doesn't have a resource type \"" + parts[0] + "\"");
  auto type_it = types().find(info->kind);
  if (type_it == types().end())
    return not_found("couldn't find resource for \"" + info->api_version() + ", Kind=" +
                     std::string(info->kind) + "\"");

  std::string out;
  if (!info->group.empty()) out += "GROUP:      " + std::string(info->group) + "\n";
  out += "KIND:       " + std::string(info->kind) + "\n";
  out += "VERSION:    " + std::string(info->version) + "\n\n";

  std::string_view type = info->kind;
  std::string_view doc = type_it->second.doc;
  const FieldDoc* field = nullptr;
  for (std::size_t i = first_field; i < parts.size(); ++i) {
    auto t = types().find(element_type(type));
    const FieldDoc* next = nullptr;
    if (t != types().end())
      for (const auto& f : t->second.fields)
        if (f.name == parts[i]) next = &f;
    if (!next) return not_found("field \"" + parts[i] + "\" does not exist");
    field = next;
    type = next->type;
    doc = next->doc;
  }
  if (field) out += "FIELD: " + std::string(field->name) + " <" + std::string(field->type) + ">\n\n";
  out += "DESCRIPTION:\n" + wrap(doc, 4);
  // A field whose type we describe: that type's own description too, as kubectl does.
  auto t = types().find(element_type(type));
  if (field && t != types().end()) out += "    \n" + wrap(t->second.doc, 4);
  out += "    \n";
  if (t == types().end() || t->second.fields.empty()) return out + "\n";
  out += "FIELDS:\n";
  if (recursive) {
    recurse(out, type, 2, 0);
    return out + "\n";
  }
  for (const auto& f : t->second.fields) {
    out += field_line(f, 2);
    out += wrap(f.doc, 4);
    out += "\n";
  }
  return out + "\n";
}

}  // namespace orch::cli
