// Kubernetes protobuf bodies -> Kubernetes JSON: a small proto2 wire reader, the declarative schema
// table of the messages liborch accepts, and the one generic decoder that walks it.
//
// Field numbers: every number below was read in the generated.proto files of k8s.io/api and
// k8s.io/apimachinery v0.26 (core/v1, apps/v1, meta/v1, runtime, util/intstr, api/resource); the
// few fields added since (Container resizePolicy = 23, restartPolicy = 24, ContainerResizePolicy)
// in a 1.3x k8s.io/api core/v1 generated.proto, and ObjectMeta.clusterName = 15 (removed in 1.25)
// in a 1.11-era meta/v1 one. Field numbers never change between Kubernetes versions (fields are
// only added or retired), and real kubectl 1.32 bodies decode in the tests.
// Probe embeds ProbeHandler (field 1, `handler`; named Handler before 1.23, same numbers), and
// Lifecycle's postStart/preStop are LifecycleHandler {exec 1, httpGet 2, tcpSocket 3}.
//
// JSON omission: `kOmitEmpty` marks a Go value field whose JSON tag has `omitempty` (Go clients
// always put such fields on the wire, zero or not; encoding/json drops the zero). Fields without it
// are Go pointers or required values and are printed whenever present. These flags follow the
// Go struct tags of k8s.io/api types.go, cross-checked against what kubectl 1.32 puts on the wire
// (only value fields appear when zero).
//
// Thread-safety: the table is constant; its name index is a function-local static (initialised
// once, thread-safely); decoding uses only local state.
#include "orch/apiserver/protobuf.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/string.hpp>

namespace orch::apiserver {
namespace {

namespace json = boost::json;

// ---------------------------------------------------------------------------------------------
// The schema.

// How a field's value is read from the wire and printed in JSON.
enum class Type : std::uint8_t {
  kString,      // wire 2; JSON string (UTF-8 checked)
  kBool,        // wire 0; JSON true/false
  kInt32,       // wire 0; JSON number (low 32 bits, signed)
  kInt64,       // wire 0; JSON number
  kBytes,       // wire 2; JSON string, base64
  kRawJson,     // wire 2; bytes that hold JSON (FieldsV1.Raw); printed as that JSON
  kMessage,     // wire 2; the named message
  kStringMap,   // map<string, string>
  kBytesMap,    // map<string, bytes>: values base64
  kMessageMap,  // map<string, <message>>
};

// Field flags.
enum FieldFlag : std::uint8_t {
  kOmitEmpty = 1,  // Go value field with `omitempty`: a zero scalar is not printed
  kRepeated = 2,   // `repeated`: a JSON array (scalars may come packed or not)
  kInline = 4,     // Go embedded struct (`json:",inline"`): its members go into the parent object
};

struct FieldSpec {
  constexpr FieldSpec(std::uint32_t n, std::string_view json, Type t, std::uint8_t f = 0)
      : number(n), json_name(json), type(t), flags(f) {}
  constexpr FieldSpec(std::uint32_t n, std::string_view json, Type t, std::string_view msg,
                      std::uint8_t f = 0)
      : number(n), json_name(json), type(t), message(msg), flags(f) {}

  std::uint32_t number;
  std::string_view json_name;
  Type type;
  std::string_view message;  // kMessage, kMessageMap: the message's name in kMessages
  std::uint8_t flags = 0;
};

// How a decoded message is printed.
enum class Shape : std::uint8_t {
  kObject,       // a JSON object of its fields
  kTime,         // metav1.Time {seconds, nanos}: RFC 3339, whole seconds; zero = unset, omitted
  kMicroTime,    // metav1.MicroTime: RFC 3339 with 6 fraction digits; zero = unset, omitted
  kQuantity,     // resource.Quantity {string}: the string
  kIntOrString,  // intstr.IntOrString {type, intVal, strVal}: a number (type 0) or string (1)
  kFieldsV1,     // metav1.FieldsV1 {Raw}: the JSON document Raw holds
};

struct MessageSpec {
  std::string_view name;
  Shape shape;
  std::span<const FieldSpec> fields;
};

// A KindSpec api_version that matches every apiVersion.
constexpr std::string_view kAnyApiVersion = "*";

// Which message a runtime.Unknown's apiVersion/kind selects.
struct KindSpec {
  std::string_view api_version;
  std::string_view kind;
  std::string_view message;
};

constexpr Type kStr = Type::kString;
constexpr Type kBool = Type::kBool;
constexpr Type kI32 = Type::kInt32;
constexpr Type kI64 = Type::kInt64;
constexpr Type kMsg = Type::kMessage;
constexpr Type kStrMap = Type::kStringMap;
constexpr Type kBytesMap = Type::kBytesMap;
constexpr Type kMsgMap = Type::kMessageMap;
constexpr std::uint8_t kO = kOmitEmpty;
constexpr std::uint8_t kRep = kRepeated;

// --- k8s.io/apimachinery: runtime, meta/v1, api/resource, util/intstr ---

constexpr FieldSpec kTimeFields[] = {{1, "seconds", kI64}, {2, "nanos", kI32}};
constexpr FieldSpec kQuantityFields[] = {{1, "string", kStr}};
constexpr FieldSpec kIntOrStringFields[] = {
    {1, "type", kI64}, {2, "intVal", kI32}, {3, "strVal", kStr}};
constexpr FieldSpec kFieldsV1Fields[] = {{1, "Raw", Type::kRawJson}};

constexpr FieldSpec kObjectMetaFields[] = {
    {1, "name", kStr, kO},
    {2, "generateName", kStr, kO},
    {3, "namespace", kStr, kO},
    {4, "selfLink", kStr, kO},
    {5, "uid", kStr, kO},
    {6, "resourceVersion", kStr, kO},
    {7, "generation", kI64, kO},
    {8, "creationTimestamp", kMsg, "Time"},
    {9, "deletionTimestamp", kMsg, "Time"},
    {10, "deletionGracePeriodSeconds", kI64},
    {11, "labels", kStrMap},
    {12, "annotations", kStrMap},
    {13, "ownerReferences", kMsg, "OwnerReference", kRep},
    {14, "finalizers", kStr, kRep},
    {15, "clusterName", kStr, kO},  // removed in 1.25; older Go clients still send it (empty)
    {17, "managedFields", kMsg, "ManagedFieldsEntry", kRep},
};
constexpr FieldSpec kOwnerReferenceFields[] = {
    {5, "apiVersion", kStr}, {1, "kind", kStr},        {3, "name", kStr},
    {4, "uid", kStr},        {6, "controller", kBool}, {7, "blockOwnerDeletion", kBool},
};
constexpr FieldSpec kManagedFieldsEntryFields[] = {
    {1, "manager", kStr, kO},     {2, "operation", kStr, kO},  {3, "apiVersion", kStr, kO},
    {4, "time", kMsg, "Time"},    {6, "fieldsType", kStr, kO}, {7, "fieldsV1", kMsg, "FieldsV1"},
    {8, "subresource", kStr, kO},
};
constexpr FieldSpec kLabelSelectorFields[] = {
    {1, "matchLabels", kStrMap},
    {2, "matchExpressions", kMsg, "LabelSelectorRequirement", kRep},
};
constexpr FieldSpec kLabelSelectorRequirementFields[] = {
    {1, "key", kStr}, {2, "operator", kStr}, {3, "values", kStr, kRep}};
// DeleteOptions (sent on DELETE) and policy Eviction (pods/eviction): every DeleteOptions field is
// a Go pointer or slice, so nothing is omitempty. Field 6 (ignoreStoreReadError...) is 1.32's.
constexpr FieldSpec kDeleteOptionsFields[] = {
    {1, "gracePeriodSeconds", kI64},
    {2, "preconditions", kMsg, "Preconditions"},
    {3, "orphanDependents", kBool},
    {4, "propagationPolicy", kStr},
    {5, "dryRun", kStr, kRep},
    {6, "ignoreStoreReadErrorWithClusterBreakingPotential", kBool},
};
constexpr FieldSpec kPreconditionsFields[] = {{1, "uid", kStr}, {2, "resourceVersion", kStr}};
constexpr FieldSpec kEvictionFields[] = {
    {1, "metadata", kMsg, "ObjectMeta"}, {2, "deleteOptions", kMsg, "DeleteOptions"}};
constexpr FieldSpec kConditionFields[] = {
    {1, "type", kStr},
    {2, "status", kStr},
    {3, "observedGeneration", kI64, kO},
    {4, "lastTransitionTime", kMsg, "Time"},
    {5, "reason", kStr},
    {6, "message", kStr},
};

// --- k8s.io/api core/v1: the kinds ---

constexpr FieldSpec kConfigMapFields[] = {
    {1, "metadata", kMsg, "ObjectMeta"},
    {4, "immutable", kBool},
    {2, "data", kStrMap},
    {3, "binaryData", kBytesMap},
};
constexpr FieldSpec kSecretFields[] = {
    {1, "metadata", kMsg, "ObjectMeta"}, {5, "immutable", kBool}, {2, "data", kBytesMap},
    {4, "stringData", kStrMap},          {3, "type", kStr, kO},
};
constexpr FieldSpec kNamespaceFields[] = {
    {1, "metadata", kMsg, "ObjectMeta"},
    {2, "spec", kMsg, "NamespaceSpec"},
    {3, "status", kMsg, "NamespaceStatus"},
};
constexpr FieldSpec kNamespaceSpecFields[] = {{1, "finalizers", kStr, kRep}};
constexpr FieldSpec kNamespaceStatusFields[] = {
    {1, "phase", kStr, kO}, {2, "conditions", kMsg, "NamespaceCondition", kRep}};
constexpr FieldSpec kNamespaceConditionFields[] = {
    {1, "type", kStr},       {2, "status", kStr},      {4, "lastTransitionTime", kMsg, "Time"},
    {5, "reason", kStr, kO}, {6, "message", kStr, kO},
};
constexpr FieldSpec kServiceFields[] = {
    {1, "metadata", kMsg, "ObjectMeta"},
    {2, "spec", kMsg, "ServiceSpec"},
    {3, "status", kMsg, "ServiceStatus"},
};
constexpr FieldSpec kServiceSpecFields[] = {
    {1, "ports", kMsg, "ServicePort", kRep},
    {2, "selector", kStrMap},
    {3, "clusterIP", kStr, kO},
    {18, "clusterIPs", kStr, kRep},
    {4, "type", kStr, kO},
    {5, "externalIPs", kStr, kRep},
    {7, "sessionAffinity", kStr, kO},
    {8, "loadBalancerIP", kStr, kO},
    {9, "loadBalancerSourceRanges", kStr, kRep},
    {10, "externalName", kStr, kO},
    {11, "externalTrafficPolicy", kStr, kO},
    {12, "healthCheckNodePort", kI32, kO},
    {13, "publishNotReadyAddresses", kBool, kO},
    {14, "sessionAffinityConfig", kMsg, "SessionAffinityConfig"},
    {19, "ipFamilies", kStr, kRep},
    {17, "ipFamilyPolicy", kStr},
    {20, "allocateLoadBalancerNodePorts", kBool},
    {21, "loadBalancerClass", kStr},
    {22, "internalTrafficPolicy", kStr},
};
constexpr FieldSpec kServicePortFields[] = {
    {1, "name", kStr, kO},
    {2, "protocol", kStr, kO},
    {6, "appProtocol", kStr},
    {3, "port", kI32},
    {4, "targetPort", kMsg, "IntOrString"},
    {5, "nodePort", kI32, kO},
};
constexpr FieldSpec kSessionAffinityConfigFields[] = {{1, "clientIP", kMsg, "ClientIPConfig"}};
constexpr FieldSpec kClientIPConfigFields[] = {{1, "timeoutSeconds", kI32}};
constexpr FieldSpec kServiceStatusFields[] = {
    {1, "loadBalancer", kMsg, "LoadBalancerStatus"},
    {2, "conditions", kMsg, "Condition", kRep},
};
constexpr FieldSpec kLoadBalancerStatusFields[] = {
    {1, "ingress", kMsg, "LoadBalancerIngress", kRep}};
constexpr FieldSpec kLoadBalancerIngressFields[] = {
    {1, "ip", kStr, kO}, {2, "hostname", kStr, kO}, {4, "ports", kMsg, "PortStatus", kRep}};
constexpr FieldSpec kPortStatusFields[] = {
    {1, "port", kI32}, {2, "protocol", kStr}, {3, "error", kStr}};
constexpr FieldSpec kServiceAccountFields[] = {
    {1, "metadata", kMsg, "ObjectMeta"},
    {2, "secrets", kMsg, "ObjectReference", kRep},
    {3, "imagePullSecrets", kMsg, "LocalObjectReference", kRep},
    {4, "automountServiceAccountToken", kBool},
};
constexpr FieldSpec kObjectReferenceFields[] = {
    {1, "kind", kStr, kO},      {2, "namespace", kStr, kO},  {3, "name", kStr, kO},
    {4, "uid", kStr, kO},       {5, "apiVersion", kStr, kO}, {6, "resourceVersion", kStr, kO},
    {7, "fieldPath", kStr, kO},
};
constexpr FieldSpec kLocalObjectReferenceFields[] = {{1, "name", kStr, kO}};
constexpr FieldSpec kResourceQuotaFields[] = {
    {1, "metadata", kMsg, "ObjectMeta"},
    {2, "spec", kMsg, "ResourceQuotaSpec"},
    {3, "status", kMsg, "ResourceQuotaStatus"},
};
constexpr FieldSpec kResourceQuotaSpecFields[] = {
    {1, "hard", kMsgMap, "Quantity"},
    {2, "scopes", kStr, kRep},
    {3, "scopeSelector", kMsg, "ScopeSelector"},
};
constexpr FieldSpec kScopeSelectorFields[] = {
    {1, "matchExpressions", kMsg, "ScopedResourceSelectorRequirement", kRep}};
constexpr FieldSpec kScopedResourceSelectorRequirementFields[] = {
    {1, "scopeName", kStr}, {2, "operator", kStr}, {3, "values", kStr, kRep}};
constexpr FieldSpec kResourceQuotaStatusFields[] = {{1, "hard", kMsgMap, "Quantity"},
                                                    {2, "used", kMsgMap, "Quantity"}};

// --- k8s.io/api apps/v1 ---

constexpr FieldSpec kDeploymentFields[] = {
    {1, "metadata", kMsg, "ObjectMeta"},
    {2, "spec", kMsg, "DeploymentSpec"},
    {3, "status", kMsg, "DeploymentStatus"},
};
constexpr FieldSpec kDeploymentSpecFields[] = {
    {1, "replicas", kI32},
    {2, "selector", kMsg, "LabelSelector"},
    {3, "template", kMsg, "PodTemplateSpec"},
    {4, "strategy", kMsg, "DeploymentStrategy"},
    {5, "minReadySeconds", kI32, kO},
    {6, "revisionHistoryLimit", kI32},
    {7, "paused", kBool, kO},
    {9, "progressDeadlineSeconds", kI32},
};
constexpr FieldSpec kDeploymentStrategyFields[] = {
    {1, "type", kStr, kO}, {2, "rollingUpdate", kMsg, "RollingUpdateDeployment"}};
constexpr FieldSpec kRollingUpdateDeploymentFields[] = {{1, "maxUnavailable", kMsg, "IntOrString"},
                                                        {2, "maxSurge", kMsg, "IntOrString"}};
constexpr FieldSpec kDeploymentStatusFields[] = {
    {1, "observedGeneration", kI64, kO},
    {2, "replicas", kI32, kO},
    {3, "updatedReplicas", kI32, kO},
    {7, "readyReplicas", kI32, kO},
    {4, "availableReplicas", kI32, kO},
    {5, "unavailableReplicas", kI32, kO},
    {6, "conditions", kMsg, "DeploymentCondition", kRep},
    {8, "collisionCount", kI32},
};
constexpr FieldSpec kDeploymentConditionFields[] = {
    {1, "type", kStr},
    {2, "status", kStr},
    {6, "lastUpdateTime", kMsg, "Time"},
    {7, "lastTransitionTime", kMsg, "Time"},
    {4, "reason", kStr, kO},
    {5, "message", kStr, kO},
};

// --- k8s.io/api core/v1: pods ---

constexpr FieldSpec kPodTemplateSpecFields[] = {{1, "metadata", kMsg, "ObjectMeta"},
                                                {2, "spec", kMsg, "PodSpec"}};
constexpr FieldSpec kPodSpecFields[] = {
    {1, "volumes", kMsg, "Volume", kRep},
    {20, "initContainers", kMsg, "Container", kRep},
    {2, "containers", kMsg, "Container", kRep},
    {3, "restartPolicy", kStr, kO},
    {4, "terminationGracePeriodSeconds", kI64},
    {5, "activeDeadlineSeconds", kI64},
    {6, "dnsPolicy", kStr, kO},
    {7, "nodeSelector", kStrMap},
    {8, "serviceAccountName", kStr, kO},
    {9, "serviceAccount", kStr, kO},
    {21, "automountServiceAccountToken", kBool},
    {10, "nodeName", kStr, kO},
    {11, "hostNetwork", kBool, kO},
    {12, "hostPID", kBool, kO},
    {13, "hostIPC", kBool, kO},
    {27, "shareProcessNamespace", kBool},
    {14, "securityContext", kMsg, "PodSecurityContext"},
    {15, "imagePullSecrets", kMsg, "LocalObjectReference", kRep},
    {16, "hostname", kStr, kO},
    {17, "subdomain", kStr, kO},
    {18, "affinity", kMsg, "Affinity"},
    {19, "schedulerName", kStr, kO},
    {22, "tolerations", kMsg, "Toleration", kRep},
    {23, "hostAliases", kMsg, "HostAlias", kRep},
    {24, "priorityClassName", kStr, kO},
    {25, "priority", kI32},
    {26, "dnsConfig", kMsg, "PodDNSConfig"},
    {28, "readinessGates", kMsg, "PodReadinessGate", kRep},
    {29, "runtimeClassName", kStr},
    {30, "enableServiceLinks", kBool},
    {31, "preemptionPolicy", kStr},
    {32, "overhead", kMsgMap, "Quantity"},
    {33, "topologySpreadConstraints", kMsg, "TopologySpreadConstraint", kRep},
    {35, "setHostnameAsFQDN", kBool},
    {36, "os", kMsg, "PodOS"},
    {37, "hostUsers", kBool},
    {38, "schedulingGates", kMsg, "PodSchedulingGate", kRep},
};
constexpr FieldSpec kContainerFields[] = {
    {1, "name", kStr},
    {2, "image", kStr, kO},
    {3, "command", kStr, kRep},
    {4, "args", kStr, kRep},
    {5, "workingDir", kStr, kO},
    {6, "ports", kMsg, "ContainerPort", kRep},
    {19, "envFrom", kMsg, "EnvFromSource", kRep},
    {7, "env", kMsg, "EnvVar", kRep},
    {8, "resources", kMsg, "ResourceRequirements"},
    {23, "resizePolicy", kMsg, "ContainerResizePolicy", kRep},
    {24, "restartPolicy", kStr},
    {9, "volumeMounts", kMsg, "VolumeMount", kRep},
    {21, "volumeDevices", kMsg, "VolumeDevice", kRep},
    {10, "livenessProbe", kMsg, "Probe"},
    {11, "readinessProbe", kMsg, "Probe"},
    {22, "startupProbe", kMsg, "Probe"},
    {12, "lifecycle", kMsg, "Lifecycle"},
    {13, "terminationMessagePath", kStr, kO},
    {20, "terminationMessagePolicy", kStr, kO},
    {14, "imagePullPolicy", kStr, kO},
    {15, "securityContext", kMsg, "SecurityContext"},
    {16, "stdin", kBool, kO},
    {17, "stdinOnce", kBool, kO},
    {18, "tty", kBool, kO},
};
constexpr FieldSpec kContainerPortFields[] = {
    {1, "name", kStr, kO},     {2, "hostPort", kI32, kO}, {3, "containerPort", kI32},
    {4, "protocol", kStr, kO}, {5, "hostIP", kStr, kO},
};
constexpr FieldSpec kContainerResizePolicyFields[] = {{1, "resourceName", kStr},
                                                      {2, "restartPolicy", kStr}};
constexpr FieldSpec kEnvFromSourceFields[] = {
    {1, "prefix", kStr, kO},
    {2, "configMapRef", kMsg, "ConfigMapEnvSource"},
    {3, "secretRef", kMsg, "SecretEnvSource"},
};
constexpr FieldSpec kConfigMapEnvSourceFields[] = {
    {1, "localObjectReference", kMsg, "LocalObjectReference", kInline}, {2, "optional", kBool}};
constexpr FieldSpec kSecretEnvSourceFields[] = {
    {1, "localObjectReference", kMsg, "LocalObjectReference", kInline}, {2, "optional", kBool}};
constexpr FieldSpec kEnvVarFields[] = {
    {1, "name", kStr}, {2, "value", kStr, kO}, {3, "valueFrom", kMsg, "EnvVarSource"}};
constexpr FieldSpec kEnvVarSourceFields[] = {
    {1, "fieldRef", kMsg, "ObjectFieldSelector"},
    {2, "resourceFieldRef", kMsg, "ResourceFieldSelector"},
    {3, "configMapKeyRef", kMsg, "ConfigMapKeySelector"},
    {4, "secretKeyRef", kMsg, "SecretKeySelector"},
};
constexpr FieldSpec kObjectFieldSelectorFields[] = {{1, "apiVersion", kStr, kO},
                                                    {2, "fieldPath", kStr}};
constexpr FieldSpec kResourceFieldSelectorFields[] = {
    {1, "containerName", kStr, kO}, {2, "resource", kStr}, {3, "divisor", kMsg, "Quantity"}};
constexpr FieldSpec kConfigMapKeySelectorFields[] = {
    {1, "localObjectReference", kMsg, "LocalObjectReference", kInline},
    {2, "key", kStr},
    {3, "optional", kBool},
};
constexpr FieldSpec kSecretKeySelectorFields[] = {
    {1, "localObjectReference", kMsg, "LocalObjectReference", kInline},
    {2, "key", kStr},
    {3, "optional", kBool},
};
constexpr FieldSpec kResourceRequirementsFields[] = {
    {1, "limits", kMsgMap, "Quantity"},
    {2, "requests", kMsgMap, "Quantity"},
    {3, "claims", kMsg, "ResourceClaim", kRep},
};
constexpr FieldSpec kResourceClaimFields[] = {{1, "name", kStr}};
constexpr FieldSpec kVolumeMountFields[] = {
    {1, "name", kStr},        {2, "readOnly", kBool, kO},    {3, "mountPath", kStr},
    {4, "subPath", kStr, kO}, {5, "mountPropagation", kStr}, {6, "subPathExpr", kStr, kO},
};
constexpr FieldSpec kVolumeDeviceFields[] = {{1, "name", kStr}, {2, "devicePath", kStr}};
constexpr FieldSpec kProbeFields[] = {
    {1, "handler", kMsg, "ProbeHandler", kInline},
    {2, "initialDelaySeconds", kI32, kO},
    {3, "timeoutSeconds", kI32, kO},
    {4, "periodSeconds", kI32, kO},
    {5, "successThreshold", kI32, kO},
    {6, "failureThreshold", kI32, kO},
    {7, "terminationGracePeriodSeconds", kI64},
};
constexpr FieldSpec kProbeHandlerFields[] = {
    {1, "exec", kMsg, "ExecAction"},
    {2, "httpGet", kMsg, "HTTPGetAction"},
    {3, "tcpSocket", kMsg, "TCPSocketAction"},
    {4, "grpc", kMsg, "GRPCAction"},
};
constexpr FieldSpec kExecActionFields[] = {{1, "command", kStr, kRep}};
constexpr FieldSpec kHTTPGetActionFields[] = {
    {1, "path", kStr, kO},
    {2, "port", kMsg, "IntOrString"},
    {3, "host", kStr, kO},
    {4, "scheme", kStr, kO},
    {5, "httpHeaders", kMsg, "HTTPHeader", kRep},
};
constexpr FieldSpec kHTTPHeaderFields[] = {{1, "name", kStr}, {2, "value", kStr}};
constexpr FieldSpec kTCPSocketActionFields[] = {{1, "port", kMsg, "IntOrString"},
                                                {2, "host", kStr, kO}};
constexpr FieldSpec kGRPCActionFields[] = {{1, "port", kI32}, {2, "service", kStr}};
constexpr FieldSpec kLifecycleFields[] = {{1, "postStart", kMsg, "LifecycleHandler"},
                                          {2, "preStop", kMsg, "LifecycleHandler"}};
constexpr FieldSpec kLifecycleHandlerFields[] = {
    {1, "exec", kMsg, "ExecAction"},
    {2, "httpGet", kMsg, "HTTPGetAction"},
    {3, "tcpSocket", kMsg, "TCPSocketAction"},
};
constexpr FieldSpec kSecurityContextFields[] = {
    {1, "capabilities", kMsg, "Capabilities"},
    {2, "privileged", kBool},
    {3, "seLinuxOptions", kMsg, "SELinuxOptions"},
    {10, "windowsOptions", kMsg, "WindowsSecurityContextOptions"},
    {4, "runAsUser", kI64},
    {8, "runAsGroup", kI64},
    {5, "runAsNonRoot", kBool},
    {6, "readOnlyRootFilesystem", kBool},
    {7, "allowPrivilegeEscalation", kBool},
    {9, "procMount", kStr},
    {11, "seccompProfile", kMsg, "SeccompProfile"},
};
constexpr FieldSpec kCapabilitiesFields[] = {{1, "add", kStr, kRep}, {2, "drop", kStr, kRep}};
constexpr FieldSpec kSELinuxOptionsFields[] = {
    {1, "user", kStr, kO}, {2, "role", kStr, kO}, {3, "type", kStr, kO}, {4, "level", kStr, kO}};
constexpr FieldSpec kWindowsSecurityContextOptionsFields[] = {
    {1, "gmsaCredentialSpecName", kStr},
    {2, "gmsaCredentialSpec", kStr},
    {3, "runAsUserName", kStr},
    {4, "hostProcess", kBool},
};
constexpr FieldSpec kSeccompProfileFields[] = {{1, "type", kStr}, {2, "localhostProfile", kStr}};
constexpr FieldSpec kPodSecurityContextFields[] = {
    {1, "seLinuxOptions", kMsg, "SELinuxOptions"},
    {8, "windowsOptions", kMsg, "WindowsSecurityContextOptions"},
    {2, "runAsUser", kI64},
    {6, "runAsGroup", kI64},
    {3, "runAsNonRoot", kBool},
    {4, "supplementalGroups", kI64, kRep},
    {5, "fsGroup", kI64},
    {7, "sysctls", kMsg, "Sysctl", kRep},
    {9, "fsGroupChangePolicy", kStr},
    {10, "seccompProfile", kMsg, "SeccompProfile"},
};
constexpr FieldSpec kSysctlFields[] = {{1, "name", kStr}, {2, "value", kStr}};
constexpr FieldSpec kVolumeFields[] = {{1, "name", kStr},
                                       {2, "volumeSource", kMsg, "VolumeSource", kInline}};
constexpr FieldSpec kVolumeSourceFields[] = {
    {1, "hostPath", kMsg, "HostPathVolumeSource"},
    {2, "emptyDir", kMsg, "EmptyDirVolumeSource"},
    {6, "secret", kMsg, "SecretVolumeSource"},
    {7, "nfs", kMsg, "NFSVolumeSource"},
    {10, "persistentVolumeClaim", kMsg, "PersistentVolumeClaimVolumeSource"},
    {16, "downwardAPI", kMsg, "DownwardAPIVolumeSource"},
    {19, "configMap", kMsg, "ConfigMapVolumeSource"},
    {26, "projected", kMsg, "ProjectedVolumeSource"},
};
constexpr FieldSpec kHostPathVolumeSourceFields[] = {{1, "path", kStr}, {2, "type", kStr}};
constexpr FieldSpec kEmptyDirVolumeSourceFields[] = {{1, "medium", kStr, kO},
                                                     {2, "sizeLimit", kMsg, "Quantity"}};
constexpr FieldSpec kSecretVolumeSourceFields[] = {
    {1, "secretName", kStr, kO},
    {2, "items", kMsg, "KeyToPath", kRep},
    {3, "defaultMode", kI32},
    {4, "optional", kBool},
};
constexpr FieldSpec kKeyToPathFields[] = {{1, "key", kStr}, {2, "path", kStr}, {3, "mode", kI32}};
constexpr FieldSpec kNFSVolumeSourceFields[] = {
    {1, "server", kStr}, {2, "path", kStr}, {3, "readOnly", kBool, kO}};
constexpr FieldSpec kPersistentVolumeClaimVolumeSourceFields[] = {{1, "claimName", kStr},
                                                                  {2, "readOnly", kBool, kO}};
constexpr FieldSpec kDownwardAPIVolumeSourceFields[] = {
    {1, "items", kMsg, "DownwardAPIVolumeFile", kRep}, {2, "defaultMode", kI32}};
constexpr FieldSpec kDownwardAPIVolumeFileFields[] = {
    {1, "path", kStr},
    {2, "fieldRef", kMsg, "ObjectFieldSelector"},
    {3, "resourceFieldRef", kMsg, "ResourceFieldSelector"},
    {4, "mode", kI32},
};
constexpr FieldSpec kConfigMapVolumeSourceFields[] = {
    {1, "localObjectReference", kMsg, "LocalObjectReference", kInline},
    {2, "items", kMsg, "KeyToPath", kRep},
    {3, "defaultMode", kI32},
    {4, "optional", kBool},
};
constexpr FieldSpec kProjectedVolumeSourceFields[] = {
    {1, "sources", kMsg, "VolumeProjection", kRep}, {2, "defaultMode", kI32}};
constexpr FieldSpec kVolumeProjectionFields[] = {
    {1, "secret", kMsg, "SecretProjection"},
    {2, "downwardAPI", kMsg, "DownwardAPIProjection"},
    {3, "configMap", kMsg, "ConfigMapProjection"},
    {4, "serviceAccountToken", kMsg, "ServiceAccountTokenProjection"},
};
constexpr FieldSpec kSecretProjectionFields[] = {
    {1, "localObjectReference", kMsg, "LocalObjectReference", kInline},
    {2, "items", kMsg, "KeyToPath", kRep},
    {4, "optional", kBool},
};
constexpr FieldSpec kConfigMapProjectionFields[] = {
    {1, "localObjectReference", kMsg, "LocalObjectReference", kInline},
    {2, "items", kMsg, "KeyToPath", kRep},
    {4, "optional", kBool},
};
constexpr FieldSpec kDownwardAPIProjectionFields[] = {
    {1, "items", kMsg, "DownwardAPIVolumeFile", kRep}};
constexpr FieldSpec kServiceAccountTokenProjectionFields[] = {
    {1, "audience", kStr, kO}, {2, "expirationSeconds", kI64}, {3, "path", kStr}};
constexpr FieldSpec kTolerationFields[] = {
    {1, "key", kStr, kO},    {2, "operator", kStr, kO},      {3, "value", kStr, kO},
    {4, "effect", kStr, kO}, {5, "tolerationSeconds", kI64},
};
constexpr FieldSpec kHostAliasFields[] = {{1, "ip", kStr, kO}, {2, "hostnames", kStr, kRep}};
constexpr FieldSpec kPodDNSConfigFields[] = {
    {1, "nameservers", kStr, kRep},
    {2, "searches", kStr, kRep},
    {3, "options", kMsg, "PodDNSConfigOption", kRep},
};
constexpr FieldSpec kPodDNSConfigOptionFields[] = {{1, "name", kStr, kO}, {2, "value", kStr}};
constexpr FieldSpec kPodReadinessGateFields[] = {{1, "conditionType", kStr}};
constexpr FieldSpec kPodOSFields[] = {{1, "name", kStr}};
constexpr FieldSpec kPodSchedulingGateFields[] = {{1, "name", kStr}};
constexpr FieldSpec kAffinityFields[] = {
    {1, "nodeAffinity", kMsg, "NodeAffinity"},
    {2, "podAffinity", kMsg, "PodAffinity"},
    {3, "podAntiAffinity", kMsg, "PodAntiAffinity"},
};
constexpr FieldSpec kNodeAffinityFields[] = {
    {1, "requiredDuringSchedulingIgnoredDuringExecution", kMsg, "NodeSelector"},
    {2, "preferredDuringSchedulingIgnoredDuringExecution", kMsg, "PreferredSchedulingTerm", kRep},
};
constexpr FieldSpec kNodeSelectorFields[] = {
    {1, "nodeSelectorTerms", kMsg, "NodeSelectorTerm", kRep}};
constexpr FieldSpec kNodeSelectorTermFields[] = {
    {1, "matchExpressions", kMsg, "NodeSelectorRequirement", kRep},
    {2, "matchFields", kMsg, "NodeSelectorRequirement", kRep},
};
constexpr FieldSpec kNodeSelectorRequirementFields[] = {
    {1, "key", kStr}, {2, "operator", kStr}, {3, "values", kStr, kRep}};
constexpr FieldSpec kPreferredSchedulingTermFields[] = {
    {1, "weight", kI32}, {2, "preference", kMsg, "NodeSelectorTerm"}};
constexpr FieldSpec kPodAffinityFields[] = {
    {1, "requiredDuringSchedulingIgnoredDuringExecution", kMsg, "PodAffinityTerm", kRep},
    {2, "preferredDuringSchedulingIgnoredDuringExecution", kMsg, "WeightedPodAffinityTerm", kRep},
};
constexpr FieldSpec kPodAffinityTermFields[] = {
    {1, "labelSelector", kMsg, "LabelSelector"},
    {2, "namespaces", kStr, kRep},
    {3, "topologyKey", kStr},
    {4, "namespaceSelector", kMsg, "LabelSelector"},
};
constexpr FieldSpec kWeightedPodAffinityTermFields[] = {
    {1, "weight", kI32}, {2, "podAffinityTerm", kMsg, "PodAffinityTerm"}};
constexpr FieldSpec kTopologySpreadConstraintFields[] = {
    {1, "maxSkew", kI32},           {2, "topologyKey", kStr},
    {3, "whenUnsatisfiable", kStr}, {4, "labelSelector", kMsg, "LabelSelector"},
    {5, "minDomains", kI32},        {6, "nodeAffinityPolicy", kStr},
    {7, "nodeTaintsPolicy", kStr},  {8, "matchLabelKeys", kStr, kRep},
};

constexpr MessageSpec kMessages[] = {
    // apimachinery
    {"Time", Shape::kTime, kTimeFields},
    {"MicroTime", Shape::kMicroTime, kTimeFields},
    {"Quantity", Shape::kQuantity, kQuantityFields},
    {"IntOrString", Shape::kIntOrString, kIntOrStringFields},
    {"FieldsV1", Shape::kFieldsV1, kFieldsV1Fields},
    {"ObjectMeta", Shape::kObject, kObjectMetaFields},
    {"OwnerReference", Shape::kObject, kOwnerReferenceFields},
    {"ManagedFieldsEntry", Shape::kObject, kManagedFieldsEntryFields},
    {"LabelSelector", Shape::kObject, kLabelSelectorFields},
    {"LabelSelectorRequirement", Shape::kObject, kLabelSelectorRequirementFields},
    {"Condition", Shape::kObject, kConditionFields},
    {"DeleteOptions", Shape::kObject, kDeleteOptionsFields},
    {"Preconditions", Shape::kObject, kPreconditionsFields},
    // policy/v1, policy/v1beta1
    {"Eviction", Shape::kObject, kEvictionFields},
    // core/v1 kinds
    {"ConfigMap", Shape::kObject, kConfigMapFields},
    {"Secret", Shape::kObject, kSecretFields},
    {"Namespace", Shape::kObject, kNamespaceFields},
    {"NamespaceSpec", Shape::kObject, kNamespaceSpecFields},
    {"NamespaceStatus", Shape::kObject, kNamespaceStatusFields},
    {"NamespaceCondition", Shape::kObject, kNamespaceConditionFields},
    {"Service", Shape::kObject, kServiceFields},
    {"ServiceSpec", Shape::kObject, kServiceSpecFields},
    {"ServicePort", Shape::kObject, kServicePortFields},
    {"SessionAffinityConfig", Shape::kObject, kSessionAffinityConfigFields},
    {"ClientIPConfig", Shape::kObject, kClientIPConfigFields},
    {"ServiceStatus", Shape::kObject, kServiceStatusFields},
    {"LoadBalancerStatus", Shape::kObject, kLoadBalancerStatusFields},
    {"LoadBalancerIngress", Shape::kObject, kLoadBalancerIngressFields},
    {"PortStatus", Shape::kObject, kPortStatusFields},
    {"ServiceAccount", Shape::kObject, kServiceAccountFields},
    {"ObjectReference", Shape::kObject, kObjectReferenceFields},
    {"LocalObjectReference", Shape::kObject, kLocalObjectReferenceFields},
    {"ResourceQuota", Shape::kObject, kResourceQuotaFields},
    {"ResourceQuotaSpec", Shape::kObject, kResourceQuotaSpecFields},
    {"ScopeSelector", Shape::kObject, kScopeSelectorFields},
    {"ScopedResourceSelectorRequirement", Shape::kObject, kScopedResourceSelectorRequirementFields},
    {"ResourceQuotaStatus", Shape::kObject, kResourceQuotaStatusFields},
    // apps/v1
    {"Deployment", Shape::kObject, kDeploymentFields},
    {"DeploymentSpec", Shape::kObject, kDeploymentSpecFields},
    {"DeploymentStrategy", Shape::kObject, kDeploymentStrategyFields},
    {"RollingUpdateDeployment", Shape::kObject, kRollingUpdateDeploymentFields},
    {"DeploymentStatus", Shape::kObject, kDeploymentStatusFields},
    {"DeploymentCondition", Shape::kObject, kDeploymentConditionFields},
    // core/v1 pods
    {"PodTemplateSpec", Shape::kObject, kPodTemplateSpecFields},
    {"PodSpec", Shape::kObject, kPodSpecFields},
    {"Container", Shape::kObject, kContainerFields},
    {"ContainerPort", Shape::kObject, kContainerPortFields},
    {"ContainerResizePolicy", Shape::kObject, kContainerResizePolicyFields},
    {"EnvFromSource", Shape::kObject, kEnvFromSourceFields},
    {"ConfigMapEnvSource", Shape::kObject, kConfigMapEnvSourceFields},
    {"SecretEnvSource", Shape::kObject, kSecretEnvSourceFields},
    {"EnvVar", Shape::kObject, kEnvVarFields},
    {"EnvVarSource", Shape::kObject, kEnvVarSourceFields},
    {"ObjectFieldSelector", Shape::kObject, kObjectFieldSelectorFields},
    {"ResourceFieldSelector", Shape::kObject, kResourceFieldSelectorFields},
    {"ConfigMapKeySelector", Shape::kObject, kConfigMapKeySelectorFields},
    {"SecretKeySelector", Shape::kObject, kSecretKeySelectorFields},
    {"ResourceRequirements", Shape::kObject, kResourceRequirementsFields},
    {"ResourceClaim", Shape::kObject, kResourceClaimFields},
    {"VolumeMount", Shape::kObject, kVolumeMountFields},
    {"VolumeDevice", Shape::kObject, kVolumeDeviceFields},
    {"Probe", Shape::kObject, kProbeFields},
    {"ProbeHandler", Shape::kObject, kProbeHandlerFields},
    {"ExecAction", Shape::kObject, kExecActionFields},
    {"HTTPGetAction", Shape::kObject, kHTTPGetActionFields},
    {"HTTPHeader", Shape::kObject, kHTTPHeaderFields},
    {"TCPSocketAction", Shape::kObject, kTCPSocketActionFields},
    {"GRPCAction", Shape::kObject, kGRPCActionFields},
    {"Lifecycle", Shape::kObject, kLifecycleFields},
    {"LifecycleHandler", Shape::kObject, kLifecycleHandlerFields},
    {"SecurityContext", Shape::kObject, kSecurityContextFields},
    {"Capabilities", Shape::kObject, kCapabilitiesFields},
    {"SELinuxOptions", Shape::kObject, kSELinuxOptionsFields},
    {"WindowsSecurityContextOptions", Shape::kObject, kWindowsSecurityContextOptionsFields},
    {"SeccompProfile", Shape::kObject, kSeccompProfileFields},
    {"PodSecurityContext", Shape::kObject, kPodSecurityContextFields},
    {"Sysctl", Shape::kObject, kSysctlFields},
    {"Volume", Shape::kObject, kVolumeFields},
    {"VolumeSource", Shape::kObject, kVolumeSourceFields},
    {"HostPathVolumeSource", Shape::kObject, kHostPathVolumeSourceFields},
    {"EmptyDirVolumeSource", Shape::kObject, kEmptyDirVolumeSourceFields},
    {"SecretVolumeSource", Shape::kObject, kSecretVolumeSourceFields},
    {"KeyToPath", Shape::kObject, kKeyToPathFields},
    {"NFSVolumeSource", Shape::kObject, kNFSVolumeSourceFields},
    {"PersistentVolumeClaimVolumeSource", Shape::kObject, kPersistentVolumeClaimVolumeSourceFields},
    {"DownwardAPIVolumeSource", Shape::kObject, kDownwardAPIVolumeSourceFields},
    {"DownwardAPIVolumeFile", Shape::kObject, kDownwardAPIVolumeFileFields},
    {"ConfigMapVolumeSource", Shape::kObject, kConfigMapVolumeSourceFields},
    {"ProjectedVolumeSource", Shape::kObject, kProjectedVolumeSourceFields},
    {"VolumeProjection", Shape::kObject, kVolumeProjectionFields},
    {"SecretProjection", Shape::kObject, kSecretProjectionFields},
    {"ConfigMapProjection", Shape::kObject, kConfigMapProjectionFields},
    {"DownwardAPIProjection", Shape::kObject, kDownwardAPIProjectionFields},
    {"ServiceAccountTokenProjection", Shape::kObject, kServiceAccountTokenProjectionFields},
    {"Toleration", Shape::kObject, kTolerationFields},
    {"HostAlias", Shape::kObject, kHostAliasFields},
    {"PodDNSConfig", Shape::kObject, kPodDNSConfigFields},
    {"PodDNSConfigOption", Shape::kObject, kPodDNSConfigOptionFields},
    {"PodReadinessGate", Shape::kObject, kPodReadinessGateFields},
    {"PodOS", Shape::kObject, kPodOSFields},
    {"PodSchedulingGate", Shape::kObject, kPodSchedulingGateFields},
    {"Affinity", Shape::kObject, kAffinityFields},
    {"NodeAffinity", Shape::kObject, kNodeAffinityFields},
    {"NodeSelector", Shape::kObject, kNodeSelectorFields},
    {"NodeSelectorTerm", Shape::kObject, kNodeSelectorTermFields},
    {"NodeSelectorRequirement", Shape::kObject, kNodeSelectorRequirementFields},
    {"PreferredSchedulingTerm", Shape::kObject, kPreferredSchedulingTermFields},
    {"PodAffinity", Shape::kObject, kPodAffinityFields},
    {"PodAntiAffinity", Shape::kObject, kPodAffinityFields},
    {"PodAffinityTerm", Shape::kObject, kPodAffinityTermFields},
    {"WeightedPodAffinityTerm", Shape::kObject, kWeightedPodAffinityTermFields},
    {"TopologySpreadConstraint", Shape::kObject, kTopologySpreadConstraintFields},
};

constexpr KindSpec kKinds[] = {
    {"v1", "ConfigMap", "ConfigMap"},           {"v1", "Secret", "Secret"},
    {"v1", "Namespace", "Namespace"},           {"v1", "Service", "Service"},
    {"v1", "ServiceAccount", "ServiceAccount"}, {"v1", "ResourceQuota", "ResourceQuota"},
    {"apps/v1", "Deployment", "Deployment"},
    {"policy/v1", "Eviction", "Eviction"},      {"policy/v1beta1", "Eviction", "Eviction"},
    // Go registers DeleteOptions in every group version: a typed client sends its own ("v1",
    // "apps/v1", "policy/v1", ...), so any apiVersion matches.
    {kAnyApiVersion, "DeleteOptions", "DeleteOptions"},
};

// The name index over kMessages.
const MessageSpec* find_message(std::string_view name) {
  static const std::unordered_map<std::string_view, const MessageSpec*> index = [] {
    std::unordered_map<std::string_view, const MessageSpec*> m;
    for (const MessageSpec& spec : kMessages) m.emplace(spec.name, &spec);
    return m;
  }();
  const auto it = index.find(name);
  return it == index.end() ? nullptr : it->second;
}

const FieldSpec* find_field(const MessageSpec& spec, std::uint32_t number) {
  for (const FieldSpec& field : spec.fields) {
    if (field.number == number) return &field;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// The wire reader (protobuf encoding: varint keys `number << 3 | wire type`).

constexpr std::string_view kMagic{"k8s\0", 4};
constexpr int kMaxDepth = 64;  // the schema nests about 12 deep; anything deeper is hostile

enum class WireType : std::uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLength = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

std::string_view wire_type_name(WireType t) {
  switch (t) {
    case WireType::kVarint:
      return "varint";
    case WireType::kFixed64:
      return "fixed64";
    case WireType::kLength:
      return "length-delimited";
    case WireType::kStartGroup:
      return "start-group";
    case WireType::kEndGroup:
      return "end-group";
    case WireType::kFixed32:
      return "fixed32";
  }
  return "unknown";
}

struct WireField {
  std::uint32_t number = 0;
  WireType type = WireType::kVarint;
  std::uint64_t value = 0;  // kVarint, kFixed64, kFixed32
  std::string_view bytes;   // kLength
};

// Reads one varint at `pos`. Returns the problem, or an empty view on success.
std::string_view read_varint(std::string_view data, std::size_t& pos, std::uint64_t& value) {
  value = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos >= data.size()) return "truncated varint";
    const auto byte = static_cast<std::uint8_t>(data[pos++]);
    // The 10th byte may only carry the top bit of a 64-bit value.
    if (i == 9 && byte > 1) return "varint longer than 64 bits";
    value |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) return {};
  }
  return "varint longer than 64 bits";  // not reached: the 10th byte check above ends it
}

class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  bool done() const { return pos_ >= data_.size(); }

  // Reads the next field. Returns the problem, or an empty view on success.
  std::string_view next(WireField& field) {
    std::uint64_t key = 0;
    if (auto err = read_varint(data_, pos_, key); !err.empty()) return err;
    const std::uint64_t number = key >> 3;
    if (number == 0) return "field number 0";
    if (number > 0x1fffffff) return "field number above 2^29-1";
    field.number = static_cast<std::uint32_t>(number);
    field.type = static_cast<WireType>(key & 7);
    field.value = 0;
    field.bytes = {};
    switch (field.type) {
      case WireType::kVarint:
        return read_varint(data_, pos_, field.value);
      case WireType::kFixed64:
        return read_fixed(8, field.value);
      case WireType::kFixed32:
        return read_fixed(4, field.value);
      case WireType::kLength: {
        std::uint64_t length = 0;
        if (auto err = read_varint(data_, pos_, length); !err.empty()) return err;
        if (length > data_.size() - pos_) return "truncated length-delimited field";
        field.bytes = data_.substr(pos_, static_cast<std::size_t>(length));
        pos_ += static_cast<std::size_t>(length);
        return {};
      }
      case WireType::kStartGroup:
      case WireType::kEndGroup:
        return "group wire type (unused by Kubernetes)";
    }
    return "invalid wire type";
  }

 private:
  std::string_view read_fixed(std::size_t size, std::uint64_t& value) {
    if (size > data_.size() - pos_) return "truncated fixed-width field";
    value = 0;
    for (std::size_t i = 0; i < size; ++i) {
      value |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(data_[pos_ + i])) << (8 * i);
    }
    pos_ += size;
    return {};
  }

  std::string_view data_;
  std::size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Value helpers.

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<std::uint8_t>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<std::uint8_t>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    constexpr std::uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto byte_at = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<std::uint8_t>(in[k]));
  };
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t n = (byte_at(i) << 16) | (byte_at(i + 1) << 8) | byte_at(i + 2);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (const std::size_t rest = in.size() - i; rest > 0) {
    std::uint32_t n = byte_at(i) << 16;
    if (rest == 2) n |= byte_at(i + 1) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// RFC 3339 in UTC, as Go's metav1.Time (whole seconds) and MicroTime (6 fraction digits) print.
// Go refuses years outside [0, 9999]; so does this (empty result).
std::string format_rfc3339(std::int64_t seconds, std::int32_t nanos, bool micro) {
  constexpr std::int64_t kMinSeconds = -62167219200;  // 0000-01-01T00:00:00Z
  constexpr std::int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z
  if (seconds < kMinSeconds || seconds > kMaxSeconds) return {};
  std::int64_t day = seconds / 86400;
  std::int64_t second_of_day = seconds % 86400;
  if (second_of_day < 0) {
    second_of_day += 86400;
    --day;
  }
  const std::chrono::year_month_day date{
      std::chrono::sys_days{std::chrono::days{static_cast<int>(day)}}};
  char buf[40];
  const int hour = static_cast<int>(second_of_day / 3600);
  const int minute = static_cast<int>(second_of_day / 60 % 60);
  const int second = static_cast<int>(second_of_day % 60);
  int n = 0;
  if (micro) {
    n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ",
                      static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                      static_cast<unsigned>(date.day()), hour, minute, second, nanos / 1000);
  } else {
    n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ",
                      static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                      static_cast<unsigned>(date.day()), hour, minute, second);
  }
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// Proto merge of a repeated occurrence of a singular message field: objects merge member by
// member, arrays (repeated fields) concatenate, anything else is replaced.
void merge_json(json::value& dst, json::value&& src) {
  if (dst.is_object() && src.is_object()) {
    json::object& d = dst.get_object();
    for (auto& [key, value] : src.get_object()) {
      if (auto* existing = d.if_contains(key)) {
        merge_json(*existing, std::move(value));
      } else {
        d.emplace(key, std::move(value));
      }
    }
  } else if (dst.is_array() && src.is_array()) {
    for (json::value& v : src.get_array()) dst.get_array().push_back(std::move(v));
  } else {
    dst = std::move(src);
  }
}

std::int64_t int_member(const json::object& obj, std::string_view name) {
  const json::value* v = obj.if_contains(name);
  return v != nullptr && v->is_int64() ? v->get_int64() : 0;
}

// ---------------------------------------------------------------------------------------------
// The generic decoder.

class Decoder {
 public:
  // Decodes `bytes` as `spec` and applies its shape. nullopt: the value is unset (a zero Time).
  Result<std::optional<json::value>> decode_message(const MessageSpec& spec, std::string_view bytes,
                                                    int depth) {
    json::object obj;
    ORCH_TRY(decode_fields(spec, bytes, obj, depth));
    return finish(spec, std::move(obj));
  }

  // Decodes `bytes` as `spec`, adding its fields to `out` (inline fields merge into it too).
  Status decode_fields(const MessageSpec& spec, std::string_view bytes, json::object& out,
                       int depth) {
    if (depth > kMaxDepth) return malformed(spec.name, "messages nested too deeply");
    WireReader reader(bytes);
    while (!reader.done()) {
      WireField wire;
      if (auto err = reader.next(wire); !err.empty()) return malformed(spec.name, err);
      const FieldSpec* field = find_field(spec, wire.number);
      if (field == nullptr) {
        return bad_request("unsupported protobuf field " + std::to_string(wire.number) + " in " +
                           std::string(spec.name) + at());
      }
      ORCH_TRY(decode_field(spec, *field, wire, out, depth));
    }
    return ok_status();
  }

  std::string at() const { return " at " + (path_.empty() ? std::string("the top level") : path_); }

 private:
  Status malformed(std::string_view message, std::string_view what) const {
    return bad_request("malformed protobuf body: " + std::string(what) + " in " +
                       std::string(message) + at());
  }

  // Enters `json_name` (and an optional index or key) in the path for the life of the guard.
  class PathGuard {
   public:
    PathGuard(std::string& path, std::string_view json_name, std::string_view suffix = {})
        : path_(path), size_(path.size()) {
      if (!path_.empty()) path_ += '.';
      path_ += json_name;
      path_ += suffix;
    }
    ~PathGuard() { path_.resize(size_); }
    PathGuard(const PathGuard&) = delete;
    PathGuard& operator=(const PathGuard&) = delete;

   private:
    std::string& path_;
    std::size_t size_;
  };

  static bool is_varint_type(Type t) {
    return t == Type::kBool || t == Type::kInt32 || t == Type::kInt64;
  }

  Status wrong_wire_type(const MessageSpec& spec, const FieldSpec& field, WireType got) const {
    const std::string_view want = is_varint_type(field.type) ? "varint" : "length-delimited";
    return malformed(spec.name, "field " + std::to_string(field.number) + " (" +
                                    std::string(field.json_name) + ") has wire type " +
                                    std::string(wire_type_name(got)) + ", expected " +
                                    std::string(want));
  }

  // A scalar from its wire value. `zero` tells whether it is Go's zero value.
  Result<json::value> scalar(const MessageSpec& spec, const FieldSpec& field, std::uint64_t varint,
                             std::string_view bytes, bool& zero) const {
    switch (field.type) {
      case Type::kBool:
        zero = varint == 0;
        return json::value(varint != 0);
      case Type::kInt32: {
        // proto int32: the low 32 bits (negative values arrive sign-extended to 64).
        const auto v = static_cast<std::int32_t>(static_cast<std::uint32_t>(varint));
        zero = v == 0;
        return json::value(static_cast<std::int64_t>(v));
      }
      case Type::kInt64:
        zero = varint == 0;
        return json::value(static_cast<std::int64_t>(varint));
      case Type::kString:
        if (!valid_utf8(bytes)) {
          return malformed(spec.name, "field " + std::to_string(field.number) + " (" +
                                          std::string(field.json_name) + ") is not valid UTF-8");
        }
        zero = bytes.empty();
        return json::value(json::string(bytes));
      case Type::kBytes:
        zero = bytes.empty();
        return json::value(json::string(base64(bytes)));
      case Type::kRawJson: {
        zero = bytes.empty();
        if (bytes.empty()) return json::value(nullptr);
        boost::system::error_code ec;
        json::value v = json::parse(json::string_view(bytes.data(), bytes.size()), ec);
        if (ec) {
          return malformed(spec.name, "field " + std::to_string(field.number) + " (" +
                                          std::string(field.json_name) + ") is not JSON");
        }
        return v;
      }
      default:
        break;
    }
    return internal_error("protobuf schema: field " + std::string(field.json_name) +
                          " is not a scalar");
  }

  Status decode_field(const MessageSpec& spec, const FieldSpec& field, const WireField& wire,
                      json::object& out, int depth) {
    const bool repeated = (field.flags & kRepeated) != 0;
    const json::string_view name(field.json_name.data(), field.json_name.size());

    if (is_varint_type(field.type)) {
      if (wire.type == WireType::kVarint) {
        bool zero = false;
        ORCH_ASSIGN_OR_RETURN(json::value v, scalar(spec, field, wire.value, {}, zero));
        if (repeated) {
          array_member(out, name).push_back(std::move(v));
        } else if (zero && (field.flags & kOmitEmpty) != 0) {
          out.erase(name);
        } else {
          out[name] = std::move(v);
        }
        return ok_status();
      }
      if (wire.type == WireType::kLength && repeated) {  // packed repeated scalars
        json::array& arr = array_member(out, name);
        std::size_t pos = 0;
        while (pos < wire.bytes.size()) {
          std::uint64_t value = 0;
          if (auto err = read_varint(wire.bytes, pos, value); !err.empty()) {
            return malformed(spec.name,
                             std::string(err) + " in packed field " + std::to_string(field.number));
          }
          bool zero = false;
          ORCH_ASSIGN_OR_RETURN(json::value v, scalar(spec, field, value, {}, zero));
          arr.push_back(std::move(v));
        }
        return ok_status();
      }
      return wrong_wire_type(spec, field, wire.type);
    }

    if (wire.type != WireType::kLength) return wrong_wire_type(spec, field, wire.type);

    switch (field.type) {
      case Type::kString:
      case Type::kBytes:
      case Type::kRawJson: {
        bool zero = false;
        ORCH_ASSIGN_OR_RETURN(json::value v, scalar(spec, field, 0, wire.bytes, zero));
        if (repeated) {
          array_member(out, name).push_back(std::move(v));
        } else if (zero && (field.flags & kOmitEmpty) != 0) {
          out.erase(name);
        } else {
          out[name] = std::move(v);
        }
        return ok_status();
      }
      case Type::kMessage: {
        const MessageSpec* sub = find_message(field.message);
        if (sub == nullptr) return unknown_message(field);
        if ((field.flags & kInline) != 0) return decode_fields(*sub, wire.bytes, out, depth + 1);
        if (repeated) {
          json::array& arr = array_member(out, name);
          const std::string index = "[" + std::to_string(arr.size()) + "]";
          PathGuard guard(path_, field.json_name, index);
          ORCH_ASSIGN_OR_RETURN(std::optional<json::value> v,
                                decode_message(*sub, wire.bytes, depth + 1));
          arr.push_back(v ? std::move(*v) : json::value(nullptr));
          return ok_status();
        }
        PathGuard guard(path_, field.json_name);
        ORCH_ASSIGN_OR_RETURN(std::optional<json::value> v,
                              decode_message(*sub, wire.bytes, depth + 1));
        if (!v) {
          out.erase(name);
        } else if (json::value* existing = out.if_contains(name)) {
          merge_json(*existing, std::move(*v));
        } else {
          out.emplace(name, std::move(*v));
        }
        return ok_status();
      }
      case Type::kStringMap:
      case Type::kBytesMap:
      case Type::kMessageMap:
        return decode_map_entry(spec, field, wire.bytes, out, depth);
      default:
        break;
    }
    return internal_error("protobuf schema: field " + std::string(field.json_name) +
                          " has no decoder");
  }

  // One map entry: message {key = 1 (string), value = 2}.
  Status decode_map_entry(const MessageSpec& spec, const FieldSpec& field, std::string_view bytes,
                          json::object& out, int depth) {
    const std::string entry_name = std::string(spec.name) + "." + std::string(field.json_name);
    std::string_view key;
    std::optional<std::string_view> value;
    WireReader reader(bytes);
    while (!reader.done()) {
      WireField wire;
      if (auto err = reader.next(wire); !err.empty()) return malformed(entry_name, err);
      if (wire.number != 1 && wire.number != 2) {
        return bad_request("unsupported protobuf field " + std::to_string(wire.number) +
                           " in map entry " + entry_name + at());
      }
      if (wire.type != WireType::kLength) {
        return malformed(
            entry_name, "map entry field " + std::to_string(wire.number) + " has wire type " +
                            std::string(wire_type_name(wire.type)) + ", expected length-delimited");
      }
      if (wire.number == 1) {
        key = wire.bytes;
      } else {
        value = wire.bytes;
      }
    }
    if (!valid_utf8(key)) return malformed(entry_name, "map key is not valid UTF-8");
    const std::string_view raw = value.value_or(std::string_view());
    json::value decoded;
    switch (field.type) {
      case Type::kStringMap:
        if (!valid_utf8(raw)) return malformed(entry_name, "map value is not valid UTF-8");
        decoded = json::string(raw);
        break;
      case Type::kBytesMap:
        decoded = json::string(base64(raw));
        break;
      default: {
        const MessageSpec* sub = find_message(field.message);
        if (sub == nullptr) return unknown_message(field);
        const std::string suffix = "[" + std::string(key) + "]";
        PathGuard guard(path_, field.json_name, suffix);
        ORCH_ASSIGN_OR_RETURN(std::optional<json::value> v, decode_message(*sub, raw, depth + 1));
        decoded = v ? std::move(*v) : json::value(nullptr);
        break;
      }
    }
    const json::string_view name(field.json_name.data(), field.json_name.size());
    json::value& slot = out[name];
    if (!slot.is_object()) slot = json::object();
    slot.get_object()[json::string_view(key.data(), key.size())] = std::move(decoded);  // last wins
    return ok_status();
  }

  static json::array& array_member(json::object& out, json::string_view name) {
    json::value& slot = out[name];
    if (!slot.is_array()) slot = json::array();
    return slot.get_array();
  }

  static Status unknown_message(const FieldSpec& field) {
    return internal_error("protobuf schema: field " + std::string(field.json_name) +
                          " names unknown message " + std::string(field.message));
  }

  // Applies a message's JSON shape.
  Result<std::optional<json::value>> finish(const MessageSpec& spec, json::object&& obj) const {
    switch (spec.shape) {
      case Shape::kObject:
        return std::optional<json::value>(json::value(std::move(obj)));
      case Shape::kTime:
      case Shape::kMicroTime: {
        const std::int64_t seconds = int_member(obj, "seconds");
        const std::int64_t nanos = int_member(obj, "nanos");
        if (seconds == 0 && nanos == 0) return std::optional<json::value>();  // unset
        if (nanos < 0 || nanos > 999'999'999) {
          return malformed(spec.name, "nanos " + std::to_string(nanos) + " out of [0, 999999999]");
        }
        std::string text = format_rfc3339(seconds, static_cast<std::int32_t>(nanos),
                                          spec.shape == Shape::kMicroTime);
        if (text.empty()) {
          return malformed(spec.name,
                           "seconds " + std::to_string(seconds) + " outside years 0000-9999");
        }
        return std::optional<json::value>(json::value(json::string(text)));
      }
      case Shape::kQuantity: {
        // A Quantity always prints; an empty message is the zero Quantity, "0".
        if (json::value* s = obj.if_contains("string")) return std::optional<json::value>(*s);
        return std::optional<json::value>(json::value("0"));
      }
      case Shape::kIntOrString: {
        const std::int64_t type = int_member(obj, "type");
        if (type == 0) return std::optional<json::value>(json::value(int_member(obj, "intVal")));
        if (type == 1) {
          const json::value* s = obj.if_contains("strVal");
          return std::optional<json::value>(s != nullptr ? *s : json::value(""));
        }
        return malformed(spec.name,
                         "type " + std::to_string(type) + " is neither 0 (int) nor 1 (string)");
      }
      case Shape::kFieldsV1: {
        if (json::value* raw = obj.if_contains("Raw")) return std::optional<json::value>(*raw);
        return std::optional<json::value>(json::value(nullptr));
      }
    }
    return internal_error("protobuf schema: unknown shape");
  }

  std::string path_;
};

// Reads runtime.TypeMeta {apiVersion = 1, kind = 2} (k8s.io/apimachinery pkg/runtime).
Status read_type_meta(std::string_view bytes, std::string& api_version, std::string& kind) {
  WireReader reader(bytes);
  while (!reader.done()) {
    WireField wire;
    if (auto err = reader.next(wire); !err.empty()) {
      return bad_request("malformed protobuf body: " + std::string(err) + " in runtime.TypeMeta");
    }
    if (wire.number != 1 && wire.number != 2) {
      return bad_request("unsupported protobuf field " + std::to_string(wire.number) +
                         " in runtime.TypeMeta");
    }
    if (wire.type != WireType::kLength || !valid_utf8(wire.bytes)) {
      return bad_request("malformed protobuf body: runtime.TypeMeta field " +
                         std::to_string(wire.number) + " is not a UTF-8 string");
    }
    (wire.number == 1 ? api_version : kind) = std::string(wire.bytes);
  }
  return ok_status();
}

}  // namespace

Result<json::value> decode_kubernetes_protobuf(std::string_view body) {
  if (body.size() < kMagic.size() || body.substr(0, kMagic.size()) != kMagic) {
    return bad_request(
        "protobuf body does not start with the Kubernetes magic \"k8s\\x00\" (is it really "
        "application/vnd.kubernetes.protobuf?)");
  }
  // runtime.Unknown {typeMeta = 1, raw = 2, contentEncoding = 3, contentType = 4}.
  std::string api_version, kind, content_encoding, content_type;
  std::string_view raw;
  WireReader reader(body.substr(kMagic.size()));
  while (!reader.done()) {
    WireField wire;
    if (auto err = reader.next(wire); !err.empty()) {
      return bad_request("malformed protobuf body: " + std::string(err) + " in runtime.Unknown");
    }
    if (wire.number < 1 || wire.number > 4) {
      return bad_request("unsupported protobuf field " + std::to_string(wire.number) +
                         " in runtime.Unknown");
    }
    if (wire.type != WireType::kLength) {
      return bad_request("malformed protobuf body: runtime.Unknown field " +
                         std::to_string(wire.number) + " has wire type " +
                         std::string(wire_type_name(wire.type)) + ", expected length-delimited");
    }
    switch (wire.number) {
      case 1:
        ORCH_TRY(read_type_meta(wire.bytes, api_version, kind));
        break;
      case 2:
        raw = wire.bytes;
        break;
      default: {
        if (!valid_utf8(wire.bytes)) {
          return bad_request("malformed protobuf body: runtime.Unknown field " +
                             std::to_string(wire.number) + " is not valid UTF-8");
        }
        (wire.number == 3 ? content_encoding : content_type) = std::string(wire.bytes);
        break;
      }
    }
  }
  if (api_version.empty() || kind.empty()) {
    return bad_request("protobuf body has no apiVersion/kind in its runtime.Unknown envelope");
  }
  if (!content_encoding.empty()) {
    return bad_request("protobuf contentEncoding \"" + content_encoding +
                       "\" is not supported; send the object unencoded");
  }
  if (!content_type.empty() && content_type != kKubernetesProtobufType) {
    return bad_request("runtime.Unknown contentType \"" + content_type +
                       "\" is not supported in a protobuf body");
  }
  const KindSpec* kind_spec = nullptr;
  for (const KindSpec& k : kKinds) {
    if ((k.api_version == api_version || k.api_version == kAnyApiVersion) && k.kind == kind) {
      kind_spec = &k;
    }
  }
  if (kind_spec == nullptr) {
    return bad_request("protobuf bodies for " + kind + " (" + api_version +
                       ") are not supported; send application/json");
  }
  const MessageSpec* spec = find_message(kind_spec->message);
  if (spec == nullptr) return internal_error("protobuf schema: no message for kind " + kind);

  Decoder decoder;
  json::object out;
  out["kind"] = kind;
  out["apiVersion"] = api_version;
  ORCH_TRY(decoder.decode_fields(*spec, raw, out, 0));
  return json::value(std::move(out));
}

Result<json::value> decode_protobuf_message_for_test(std::string_view message,
                                                     std::string_view raw) {
  const MessageSpec* spec = find_message(message);
  if (spec == nullptr) return not_found("no protobuf schema message " + std::string(message));
  Decoder decoder;
  ORCH_ASSIGN_OR_RETURN(std::optional<json::value> v, decoder.decode_message(*spec, raw, 0));
  return v ? std::move(*v) : json::value(nullptr);
}

Status validate_protobuf_schema_for_test() {
  std::unordered_set<std::string_view> names;
  for (const MessageSpec& spec : kMessages) {
    const std::string where = "protobuf schema message " + std::string(spec.name);
    if (!names.insert(spec.name).second) return internal_error(where + " is listed twice");
    std::unordered_set<std::uint32_t> numbers;
    std::unordered_set<std::string_view> json_names;
    for (const FieldSpec& field : spec.fields) {
      const std::string f = where + " field " + std::to_string(field.number);
      if (field.number == 0 || field.number > 0x1fffffff) return internal_error(f + ": bad number");
      if (!numbers.insert(field.number).second) return internal_error(f + ": number repeated");
      if ((field.flags & kInline) == 0 && !json_names.insert(field.json_name).second) {
        return internal_error(f + ": JSON name " + std::string(field.json_name) + " repeated");
      }
      const bool needs_message = field.type == Type::kMessage || field.type == Type::kMessageMap;
      if (needs_message != !field.message.empty()) {
        return internal_error(f + ": message name present iff the type is a message");
      }
      if (needs_message && find_message(field.message) == nullptr) {
        return internal_error(f + ": unknown message " + std::string(field.message));
      }
      if ((field.flags & kInline) != 0 &&
          (field.type != Type::kMessage || (field.flags & kRepeated) != 0)) {
        return internal_error(f + ": only a singular message can be inline");
      }
      if ((field.flags & kOmitEmpty) != 0 &&
          (field.type == Type::kMessage || (field.flags & kRepeated) != 0)) {
        return internal_error(f + ": omitempty applies to singular scalars only");
      }
    }
    const auto has = [&](std::string_view json_name, Type type) {
      for (const FieldSpec& field : spec.fields) {
        if (field.json_name == json_name && field.type == type) return true;
      }
      return false;
    };
    switch (spec.shape) {
      case Shape::kObject:
        break;
      case Shape::kTime:
      case Shape::kMicroTime:
        if (!has("seconds", Type::kInt64) || !has("nanos", Type::kInt32)) {
          return internal_error(where + ": a Time needs seconds (int64) and nanos (int32)");
        }
        break;
      case Shape::kQuantity:
        if (!has("string", Type::kString)) return internal_error(where + ": needs string");
        break;
      case Shape::kIntOrString:
        if (!has("type", Type::kInt64) || !has("intVal", Type::kInt32) ||
            !has("strVal", Type::kString)) {
          return internal_error(where + ": needs type, intVal and strVal");
        }
        break;
      case Shape::kFieldsV1:
        if (!has("Raw", Type::kRawJson)) return internal_error(where + ": needs Raw");
        break;
    }
  }
  for (const KindSpec& k : kKinds) {
    const MessageSpec* spec = find_message(k.message);
    if (spec == nullptr || spec->shape != Shape::kObject) {
      return internal_error("protobuf schema: kind " + std::string(k.kind) +
                            " has no object message");
    }
  }
  return ok_status();
}

}  // namespace orch::apiserver
