// Server-side printing (meta.k8s.io/v1 Table): column definitions and cell formatting per
// resource, following the behaviour of Kubernetes' pkg/printers/internalversion (1.32), written
// against the stored JSON instead of typed objects.
//
// Thread-safety: stateless; every function works on caller-owned values only.
#include "orch/apiserver/table.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "orch/api/quantity.hpp"
#include "orch/api/time.hpp"

namespace orch::apiserver {
namespace {

namespace json = boost::json;
using Clock = std::chrono::system_clock;

// ---------------------------------------------------------------------------------------------
// Which printer a (group, resource) pair uses.

enum class Printer {
  kDefault,
  kPods,
  kDeployments,
  kReplicaSets,
  kStatefulSets,
  kDaemonSets,
  kServices,
  kEndpoints,
  kNodes,
  kNamespaces,
  kEvents,    // core/v1 Event field names
  kEventsV1,  // events.k8s.io/v1 Event field names, same columns
  kConfigMaps,
  kSecrets,
  kPersistentVolumes,
  kPersistentVolumeClaims,
  kStorageClasses,
  kLeases,
  kControllerRevisions,
  kEndpointSlices,
};

Printer printer_for(std::string_view group, std::string_view resource) {
  struct Entry {
    std::string_view group;
    std::string_view resource;
    Printer printer;
  };
  static constexpr Entry kPrinters[] = {
      {"", "pods", Printer::kPods},
      {"", "services", Printer::kServices},
      {"", "endpoints", Printer::kEndpoints},
      {"", "nodes", Printer::kNodes},
      {"", "namespaces", Printer::kNamespaces},
      {"", "events", Printer::kEvents},
      {"", "configmaps", Printer::kConfigMaps},
      {"", "secrets", Printer::kSecrets},
      {"", "persistentvolumes", Printer::kPersistentVolumes},
      {"", "persistentvolumeclaims", Printer::kPersistentVolumeClaims},
      {"apps", "deployments", Printer::kDeployments},
      {"apps", "replicasets", Printer::kReplicaSets},
      {"apps", "statefulsets", Printer::kStatefulSets},
      {"apps", "daemonsets", Printer::kDaemonSets},
      {"apps", "controllerrevisions", Printer::kControllerRevisions},
      {"storage.k8s.io", "storageclasses", Printer::kStorageClasses},
      {"coordination.k8s.io", "leases", Printer::kLeases},
      {"discovery.k8s.io", "endpointslices", Printer::kEndpointSlices},
      {"events.k8s.io", "events", Printer::kEventsV1},
  };
  if (group == "core") group = "";
  for (const Entry& e : kPrinters) {
    if (e.group == group && e.resource == resource) return e.printer;
  }
  return Printer::kDefault;
}

// ---------------------------------------------------------------------------------------------
// Column definitions.

// The API reference's own wording for the two metadata fields every table shows.
constexpr std::string_view kNameDescription =
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name "
    "automatically. Name is primarily intended for creation idempotence and configuration "
    "definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
constexpr std::string_view kAgeDescription =
    "CreationTimestamp is a timestamp representing the server time when this object was "
    "created. It is not guaranteed to be set in happens-before order across separate "
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/"
    "api-conventions.md#metadata";
constexpr std::string_view kContainersDescription = "Names of each container in the template.";
constexpr std::string_view kImagesDescription =
    "Images referenced by each container in the template.";

TableColumn name_column(int priority = 0) {
  return {"Name", "string", "name", std::string(kNameDescription), priority};
}
TableColumn age_column() { return {"Age", "string", "", std::string(kAgeDescription), 0}; }
TableColumn col(std::string_view name, std::string_view type, std::string_view description,
                int priority = 0) {
  return {std::string(name), std::string(type), "", std::string(description), priority};
}
TableColumn str_col(std::string_view name, std::string_view description, int priority = 0) {
  return col(name, "string", description, priority);
}
TableColumn int_col(std::string_view name, std::string_view description, int priority = 0) {
  return col(name, "integer", description, priority);
}

std::vector<TableColumn> columns_for(Printer printer) {
  switch (printer) {
    case Printer::kPods:
      return {
          name_column(),
          str_col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
          str_col("Status", "The aggregate status of the containers in this pod."),
          str_col("Restarts",
                  "The number of times the containers in this pod have been restarted and when "
                  "the last container in this pod has restarted."),
          age_column(),
          str_col("IP", "IP address allocated to the pod. Routable at least within the cluster.",
                  1),
          str_col("Node", "NodeName is the node the pod is scheduled onto.", 1),
          str_col("Nominated Node",
                  "nominatedNodeName is set only when this pod preempts other pods on the node.",
                  1),
          str_col("Readiness Gates",
                  "If specified, all readiness gates will be evaluated for pod readiness.", 1),
      };
    case Printer::kDeployments:
      return {
          name_column(),
          str_col("Ready", "Number of the pod with ready state"),
          str_col("Up-to-date",
                  "Total number of non-terminated pods targeted by this deployment that have the "
                  "desired template spec."),
          str_col("Available",
                  "Total number of available pods (ready for at least minReadySeconds) targeted "
                  "by this deployment."),
          age_column(),
          str_col("Containers", kContainersDescription, 1),
          str_col("Images", kImagesDescription, 1),
          str_col("Selector", "Label selector for pods.", 1),
      };
    case Printer::kReplicaSets:
      return {
          name_column(),
          int_col("Desired", "Replicas is the number of desired replicas."),
          int_col("Current", "Replicas is the most recently observed number of replicas."),
          int_col("Ready", "The number of ready replicas for this replica set."),
          age_column(),
          str_col("Containers", kContainersDescription, 1),
          str_col("Images", kImagesDescription, 1),
          str_col("Selector",
                  "Selector is a label query over pods that should match the replica count.", 1),
      };
    case Printer::kStatefulSets:
      return {
          name_column(),
          str_col("Ready", "Number of the pod with ready state"),
          age_column(),
          str_col("Containers", kContainersDescription, 1),
          str_col("Images", kImagesDescription, 1),
      };
    case Printer::kDaemonSets:
      return {
          name_column(),
          int_col("Desired", "The total number of nodes that should be running the daemon pod."),
          int_col("Current",
                  "The number of nodes that are running at least 1 daemon pod and are supposed "
                  "to run the daemon pod."),
          int_col("Ready",
                  "The number of nodes that should be running the daemon pod and have one or "
                  "more of the daemon pod running with a Ready Condition."),
          int_col("Up-to-date", "The total number of nodes that are running updated daemon pod."),
          int_col("Available",
                  "The number of nodes that should be running the daemon pod and have one or "
                  "more of the daemon pod running and available."),
          str_col("Node Selector",
                  "NodeSelector is a selector which must be true for the pod to fit on a node."),
          age_column(),
          str_col("Containers", kContainersDescription, 1),
          str_col("Images", kImagesDescription, 1),
          str_col("Selector", "A label query over pods that are managed by the daemon set.", 1),
      };
    case Printer::kServices:
      return {
          name_column(),
          str_col("Type", "type determines how the Service is exposed."),
          str_col("Cluster-IP", "clusterIP is the IP address of the service."),
          str_col("External-IP",
                  "externalIPs is a list of IP addresses for which nodes in the cluster will also "
                  "accept traffic for this service."),
          str_col("Port(s)", "The list of ports that are exposed by this service."),
          age_column(),
          str_col("Selector",
                  "Route service traffic to pods with label keys and values matching this "
                  "selector.",
                  1),
      };
    case Printer::kEndpoints:
      return {
          name_column(),
          str_col("Endpoints", "The set of all endpoints is the union of all subsets."),
          age_column(),
      };
    case Printer::kNodes:
      return {
          name_column(),
          str_col("Status", "The status of the node"),
          str_col("Roles", "The roles of the node"),
          age_column(),
          str_col("Version", "Kubelet Version reported by the node."),
          str_col("Internal-IP", "List of addresses reachable to the node.", 1),
          str_col("External-IP", "List of addresses reachable to the node.", 1),
          str_col("OS-Image", "OS Image reported by the node from /etc/os-release.", 1),
          str_col("Kernel-Version", "Kernel Version reported by the node from 'uname -r'.", 1),
          str_col("Container-Runtime",
                  "ContainerRuntime Version reported by the node through runtime remote API.", 1),
      };
    case Printer::kNamespaces:
      return {name_column(), str_col("Status", "The status of the namespace"), age_column()};
    case Printer::kEvents:
    case Printer::kEventsV1:
      return {
          str_col("Last Seen",
                  "The time at which the most recent occurrence of this event was recorded."),
          str_col("Type", "Type of this event (Normal, Warning)."),
          str_col("Reason",
                  "This should be a short, machine understandable string that gives the reason "
                  "for the transition into the object's current status."),
          str_col("Object", "The object that this event is about."),
          str_col("Subobject",
                  "If referring to a piece of an object instead of an entire object, this string "
                  "should contain a valid JSON/Go field access statement.",
                  1),
          str_col("Source", "The component reporting this event.", 1),
          str_col("Message", "A human-readable description of the status of this operation."),
          str_col("First Seen",
                  "The time at which the event was first recorded. (Time of server receipt is in "
                  "TypeMeta.)",
                  1),
          str_col("Count", "The number of times this event has occurred.", 1),
          name_column(1),
      };
    case Printer::kConfigMaps:
      return {name_column(), str_col("Data", "Data contains the configuration data."),
              age_column()};
    case Printer::kSecrets:
      return {name_column(),
              str_col("Type", "Used to facilitate programmatic handling of secret data."),
              str_col("Data", "Data contains the secret data."), age_column()};
    case Printer::kPersistentVolumes:
      return {
          name_column(),
          str_col("Capacity",
                  "capacity is the description of the persistent volume's resources "
                  "and capacity."),
          str_col("Access Modes", "accessModes contains all ways the volume can be mounted."),
          str_col("Reclaim Policy",
                  "persistentVolumeReclaimPolicy defines what happens to a persistent volume "
                  "when released from its claim."),
          str_col("Status",
                  "phase indicates if a volume is available, bound to a claim, or "
                  "released by a claim."),
          str_col("Claim",
                  "claimRef is part of a bi-directional binding between "
                  "PersistentVolume and PersistentVolumeClaim."),
          str_col("StorageClass", "StorageClass of the pv"),
          str_col("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
          str_col("Reason",
                  "reason is a brief CamelCase string that describes any failure and "
                  "is meant for machine parsing and tidy display in the CLI."),
          age_column(),
          str_col("VolumeMode",
                  "volumeMode defines if a volume is intended to be used with a formatted "
                  "filesystem or to remain in raw block state.",
                  1),
      };
    case Printer::kPersistentVolumeClaims:
      return {
          name_column(),
          str_col("Status", "phase represents the current phase of PersistentVolumeClaim."),
          str_col("Volume",
                  "volumeName is the binding reference to the PersistentVolume backing "
                  "this claim."),
          str_col("Capacity",
                  "capacity represents the actual resources of the underlying "
                  "volume."),
          str_col("Access Modes",
                  "accessModes contains the actual access modes the volume "
                  "backing the PVC has."),
          str_col("StorageClass", "StorageClass of the pvc"),
          str_col("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
          age_column(),
          str_col("VolumeMode", "volumeMode defines what type of volume is required by the claim.",
                  1),
      };
    case Printer::kStorageClasses:
      return {
          name_column(),
          str_col("Provisioner", "provisioner indicates the type of the provisioner."),
          str_col("ReclaimPolicy",
                  "reclaimPolicy controls the reclaimPolicy for dynamically "
                  "provisioned PersistentVolumes of this storage class."),
          str_col("VolumeBindingMode",
                  "volumeBindingMode indicates how PersistentVolumeClaims "
                  "should be provisioned and bound."),
          str_col("AllowVolumeExpansion",
                  "allowVolumeExpansion shows whether the storage class allow volume expand."),
          age_column(),
      };
    case Printer::kLeases:
      return {name_column(),
              str_col("Holder",
                      "holderIdentity contains the identity of the holder of a current "
                      "lease."),
              age_column()};
    case Printer::kControllerRevisions:
      return {name_column(), str_col("Controller", "Controller of the object"),
              str_col("Revision",
                      "Revision indicates the revision of the state represented by "
                      "Data."),
              age_column()};
    case Printer::kEndpointSlices:
      return {
          name_column(),
          str_col("AddressType",
                  "addressType specifies the type of address carried by this "
                  "EndpointSlice."),
          str_col("Ports",
                  "ports specifies the list of network ports exposed by each endpoint "
                  "in this slice."),
          str_col("Endpoints", "endpoints is a list of unique endpoints in this slice."),
          age_column(),
      };
    case Printer::kDefault:
      break;
  }
  return {name_column(), age_column()};
}

// ---------------------------------------------------------------------------------------------
// Non-throwing JSON access. Every helper takes a possibly-null object and a path of keys; a
// missing key, a null or a value of the wrong type reads as "absent".

const json::value* find(const json::object* o, std::initializer_list<std::string_view> path) {
  const json::value* v = nullptr;
  for (std::string_view key : path) {
    if (o == nullptr) return nullptr;
    v = o->if_contains(key);
    if (v == nullptr) return nullptr;
    o = v->if_object();
  }
  return v;
}

const json::object* obj_at(const json::object* o, std::initializer_list<std::string_view> path) {
  const json::value* v = find(o, path);
  return v != nullptr ? v->if_object() : nullptr;
}

const json::array* arr_at(const json::object* o, std::initializer_list<std::string_view> path) {
  const json::value* v = find(o, path);
  return v != nullptr ? v->if_array() : nullptr;
}

std::string_view str_of(const json::value* v) {
  if (v == nullptr) return {};
  if (const json::string* s = v->if_string()) return std::string_view(s->data(), s->size());
  return {};
}

std::string_view str_at(const json::object* o, std::initializer_list<std::string_view> path) {
  return str_of(find(o, path));
}

std::optional<std::int64_t> int_of(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<std::int64_t>(v->get_double());
  return std::nullopt;
}

std::int64_t int_at(const json::object* o, std::initializer_list<std::string_view> path,
                    std::int64_t fallback = 0) {
  return int_of(find(o, path)).value_or(fallback);
}

std::optional<bool> bool_at(const json::object* o, std::initializer_list<std::string_view> path) {
  const json::value* v = find(o, path);
  if (v == nullptr || !v->is_bool()) return std::nullopt;
  return v->get_bool();
}

// Calls f(const json::object&) for each object element of the array at `path`.
template <typename F>
void for_each_obj(const json::object* o, std::initializer_list<std::string_view> path, F&& f) {
  if (const json::array* a = arr_at(o, path)) {
    for (const json::value& v : *a) {
      if (const json::object* e = v.if_object()) f(*e);
    }
  }
}

std::size_t size_at(const json::object* o, std::initializer_list<std::string_view> path) {
  const json::value* v = find(o, path);
  if (v == nullptr) return 0;
  if (const json::object* m = v->if_object()) return m->size();
  if (const json::array* a = v->if_array()) return a->size();
  return 0;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i != 0) out += sep;
    out += parts[i];
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Time and shared cell formats.

std::optional<Clock::time_point> time_of(const json::value* v) {
  std::string_view text = str_of(v);
  if (text.empty()) return std::nullopt;
  Result<api::Time> t = api::Time::parse(text);
  if (!t.ok() || t->is_zero()) return std::nullopt;
  return t->value;
}

std::string since(std::optional<Clock::time_point> t, Clock::time_point now) {
  if (!t) return "<unknown>";
  return api::human_age(std::chrono::duration_cast<std::chrono::nanoseconds>(now - *t));
}

std::string age_of(const json::object& obj, Clock::time_point now) {
  return since(time_of(find(&obj, {"metadata", "creationTimestamp"})), now);
}

std::string name_of(const json::object& obj) {
  return std::string(str_at(&obj, {"metadata", "name"}));
}

// labels.FormatLabels: "k1=v1,k2=v2" sorted by key, "<none>" when empty.
std::string format_labels(const json::object* labels) {
  if (labels == nullptr || labels->empty()) return "<none>";
  std::map<std::string, std::string, std::less<>> sorted;
  for (const auto& kv : *labels) {
    sorted.emplace(std::string(kv.key()), std::string(str_of(&kv.value())));
  }
  std::vector<std::string> parts;
  for (const auto& [k, v] : sorted) parts.push_back(k + "=" + v);
  return join(parts, ",");
}

// A metav1.LabelSelector as labels.Selector.String(): requirements sorted by key, "k=v",
// "k in (a,b)", "k notin (a,b)", "k", "!k". "" for a nil or empty selector; nullopt when an
// operator is unknown (the real server fails to convert such a selector).
std::optional<std::string> selector_string(const json::object* selector) {
  if (selector == nullptr) return std::string();
  std::vector<std::pair<std::string, std::string>> reqs;  // key, rendered requirement
  if (const json::object* match = obj_at(selector, {"matchLabels"})) {
    for (const auto& kv : *match) {
      std::string key(kv.key());
      reqs.emplace_back(key, key + "=" + std::string(str_of(&kv.value())));
    }
  }
  bool ok = true;
  for_each_obj(selector, {"matchExpressions"}, [&](const json::object& e) {
    std::string key(str_at(&e, {"key"}));
    std::string_view op = str_at(&e, {"operator"});
    std::set<std::string> values;
    if (const json::array* a = arr_at(&e, {"values"})) {
      for (const json::value& v : *a) values.emplace(str_of(&v));
    }
    std::vector<std::string> sorted(values.begin(), values.end());
    if (op == "In") {
      reqs.emplace_back(key, key + " in (" + join(sorted, ",") + ")");
    } else if (op == "NotIn") {
      reqs.emplace_back(key, key + " notin (" + join(sorted, ",") + ")");
    } else if (op == "Exists") {
      reqs.emplace_back(key, key);
    } else if (op == "DoesNotExist") {
      reqs.emplace_back(key, "!" + key);
    } else {
      ok = false;
    }
  });
  if (!ok) return std::nullopt;
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> parts;
  for (auto& r : reqs) parts.push_back(std::move(r.second));
  return join(parts, ",");
}

// metav1.FormatLabelSelector: "<none>" for an empty selector, "<error>" for a bad one.
std::string format_label_selector(const json::object* selector) {
  std::optional<std::string> s = selector_string(selector);
  if (!s) return "<error>";
  return s->empty() ? "<none>" : *s;
}

// layoutContainerCells: container names and images, comma-joined.
std::pair<std::string, std::string> container_cells(const json::object* pod_spec) {
  std::vector<std::string> names, images;
  for_each_obj(pod_spec, {"containers"}, [&](const json::object& c) {
    names.emplace_back(str_at(&c, {"name"}));
    images.emplace_back(str_at(&c, {"image"}));
  });
  return {join(names, ","), join(images, ",")};
}

// A resource.Quantity in Kubernetes' canonical form ("0" when absent).
std::string quantity_string(const json::value* v) {
  if (v == nullptr) return "0";
  if (std::optional<std::int64_t> n = int_of(v)) {
    return api::Quantity::from_value(*n).to_string();
  }
  std::string_view text = str_of(v);
  if (text.empty()) return "0";
  Result<api::Quantity> q = api::Quantity::parse(text);
  return q.ok() ? q->to_string() : std::string(text);
}

// helper.GetAccessModesAsString: RWO, ROX, RWX, RWOP in that order, duplicates dropped.
std::string access_modes(const json::array* modes) {
  if (modes == nullptr) return "";
  auto has = [&](std::string_view m) {
    return std::any_of(modes->begin(), modes->end(),
                       [&](const json::value& v) { return str_of(&v) == m; });
  };
  std::vector<std::string> out;
  if (has("ReadWriteOnce")) out.emplace_back("RWO");
  if (has("ReadOnlyMany")) out.emplace_back("ROX");
  if (has("ReadWriteMany")) out.emplace_back("RWX");
  if (has("ReadWriteOncePod")) out.emplace_back("RWOP");
  return join(out, ",");
}

bool has_deletion_timestamp(const json::object& obj) {
  const json::value* v = find(&obj, {"metadata", "deletionTimestamp"});
  return v != nullptr && !v->is_null();
}

// "host:port", bracketing IPv6 hosts (net.JoinHostPort).
std::string join_host_port(std::string_view host, std::int64_t port) {
  if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

// listWithMoreString: "a,b,c + 2 more...", "<unset>" when empty.
std::string list_with_more(const std::vector<std::string>& list, bool more, std::size_t count,
                           std::size_t max) {
  std::string ret = join(list, ",");
  if (more) return fmt::format("{} + {} more...", ret, count - max);
  if (ret.empty()) return "<unset>";
  return ret;
}

using Cells = std::vector<json::value>;

// ---------------------------------------------------------------------------------------------
// Pods.

bool condition_true(const json::object* status, std::string_view type) {
  bool result = false;
  for_each_obj(status, {"conditions"}, [&](const json::object& c) {
    if (str_at(&c, {"type"}) == type && str_at(&c, {"status"}) == "True") result = true;
  });
  return result;
}

void later(std::optional<Clock::time_point>& latest, std::optional<Clock::time_point> t) {
  if (t && (!latest || *latest < *t)) latest = t;
}

Cells pod_cells(const json::object& pod, Clock::time_point now) {
  const json::object* spec = obj_at(&pod, {"spec"});
  const json::object* status = obj_at(&pod, {"status"});

  std::int64_t restarts = 0;
  std::int64_t restartable_init_restarts = 0;
  std::int64_t total = static_cast<std::int64_t>(size_at(spec, {"containers"}));
  std::int64_t ready = 0;
  std::optional<Clock::time_point> last_restart;
  std::optional<Clock::time_point> last_restartable_init_restart;

  const std::string_view phase = str_at(status, {"phase"});
  std::string reason(phase);
  if (std::string_view r = str_at(status, {"reason"}); !r.empty()) reason = r;
  for_each_obj(status, {"conditions"}, [&](const json::object& c) {
    if (str_at(&c, {"type"}) == "PodScheduled" && str_at(&c, {"reason"}) == "SchedulingGated") {
      reason = "SchedulingGated";
    }
  });

  // Sidecars: init containers with restartPolicy Always count as regular containers.
  std::set<std::string, std::less<>> restartable_init;
  for_each_obj(spec, {"initContainers"}, [&](const json::object& c) {
    if (str_at(&c, {"restartPolicy"}) == "Always") {
      restartable_init.emplace(str_at(&c, {"name"}));
      ++total;
    }
  });
  const std::size_t init_count = size_at(spec, {"initContainers"});

  bool initializing = false;
  if (const json::array* inits = arr_at(status, {"initContainerStatuses"})) {
    for (std::size_t i = 0; i < inits->size(); ++i) {
      const json::object* cs = (*inits)[i].if_object();
      if (cs == nullptr) continue;
      const std::int64_t rc = int_at(cs, {"restartCount"});
      const auto finished = time_of(find(cs, {"lastState", "terminated", "finishedAt"}));
      const bool restartable = restartable_init.count(str_at(cs, {"name"})) != 0;
      restarts += rc;
      later(last_restart, finished);
      if (restartable) {
        restartable_init_restarts += rc;
        later(last_restartable_init_restart, finished);
      }
      const json::object* terminated = obj_at(cs, {"state", "terminated"});
      const json::object* waiting = obj_at(cs, {"state", "waiting"});
      if (terminated != nullptr && int_at(terminated, {"exitCode"}) == 0) continue;
      if (restartable && bool_at(cs, {"started"}).value_or(false)) {
        if (bool_at(cs, {"ready"}).value_or(false)) ++ready;
        continue;
      }
      if (terminated != nullptr) {
        std::string_view r = str_at(terminated, {"reason"});
        if (!r.empty()) {
          reason = fmt::format("Init:{}", r);
        } else if (std::int64_t sig = int_at(terminated, {"signal"}); sig != 0) {
          reason = fmt::format("Init:Signal:{}", sig);
        } else {
          reason = fmt::format("Init:ExitCode:{}", int_at(terminated, {"exitCode"}));
        }
      } else if (waiting != nullptr && !str_at(waiting, {"reason"}).empty() &&
                 str_at(waiting, {"reason"}) != "PodInitializing") {
        reason = fmt::format("Init:{}", str_at(waiting, {"reason"}));
      } else {
        reason = fmt::format("Init:{}/{}", i, init_count);
      }
      initializing = true;
      break;
    }
  }

  if (!initializing || condition_true(status, "Initialized")) {
    restarts = restartable_init_restarts;
    last_restart = last_restartable_init_restart;
    bool has_running = false;
    if (const json::array* css = arr_at(status, {"containerStatuses"})) {
      // Walk backwards so that the first container's state wins, as kubectl does.
      for (auto it = css->rbegin(); it != css->rend(); ++it) {
        const json::object* cs = it->if_object();
        if (cs == nullptr) continue;
        restarts += int_at(cs, {"restartCount"});
        later(last_restart, time_of(find(cs, {"lastState", "terminated", "finishedAt"})));
        const json::object* waiting = obj_at(cs, {"state", "waiting"});
        const json::object* terminated = obj_at(cs, {"state", "terminated"});
        const bool running = obj_at(cs, {"state", "running"}) != nullptr;
        if (waiting != nullptr && !str_at(waiting, {"reason"}).empty()) {
          reason = str_at(waiting, {"reason"});
        } else if (terminated != nullptr && !str_at(terminated, {"reason"}).empty()) {
          reason = str_at(terminated, {"reason"});
        } else if (terminated != nullptr) {
          if (std::int64_t sig = int_at(terminated, {"signal"}); sig != 0) {
            reason = fmt::format("Signal:{}", sig);
          } else {
            reason = fmt::format("ExitCode:{}", int_at(terminated, {"exitCode"}));
          }
        } else if (bool_at(cs, {"ready"}).value_or(false) && running) {
          has_running = true;
          ++ready;
        }
      }
    }
    // A pod whose main container completed but another still runs is not "Completed".
    if (reason == "Completed" && has_running) {
      reason = condition_true(status, "Ready") ? "Running" : "NotReady";
    }
  }

  if (has_deletion_timestamp(pod) && str_at(status, {"reason"}) == "NodeLost") {
    reason = "Unknown";
  } else if (has_deletion_timestamp(pod) && phase != "Succeeded" && phase != "Failed") {
    reason = "Terminating";
  }

  std::string restarts_cell = std::to_string(restarts);
  if (restarts != 0 && last_restart) {
    restarts_cell = fmt::format("{} ({} ago)", restarts, since(last_restart, now));
  }

  std::string ip;
  if (const json::array* ips = arr_at(status, {"podIPs"}); ips != nullptr && !ips->empty()) {
    ip = str_at((*ips)[0].if_object(), {"ip"});
  }
  if (ip.empty()) ip = str_at(status, {"podIP"});  // objects written before podIPs existed
  if (ip.empty()) ip = "<none>";
  std::string node(str_at(spec, {"nodeName"}));
  if (node.empty()) node = "<none>";
  std::string nominated(str_at(status, {"nominatedNodeName"}));
  if (nominated.empty()) nominated = "<none>";

  std::string gates = "<none>";
  if (const json::array* rg = arr_at(spec, {"readinessGates"}); rg != nullptr && !rg->empty()) {
    std::size_t true_count = 0;
    for (const json::value& g : *rg) {
      std::string_view type = str_at(g.if_object(), {"conditionType"});
      bool found = false;
      for_each_obj(status, {"conditions"}, [&](const json::object& c) {
        if (found || str_at(&c, {"type"}) != type) return;
        found = true;
        if (str_at(&c, {"status"}) == "True") ++true_count;
      });
    }
    gates = fmt::format("{}/{}", true_count, rg->size());
  }

  return {json::value(name_of(pod)),
          json::value(fmt::format("{}/{}", ready, total)),
          json::value(reason),
          json::value(restarts_cell),
          json::value(age_of(pod, now)),
          json::value(ip),
          json::value(node),
          json::value(nominated),
          json::value(gates)};
}

// ---------------------------------------------------------------------------------------------
// Workloads.

Cells deployment_cells(const json::object& d, Clock::time_point now) {
  const json::object* spec = obj_at(&d, {"spec"});
  const json::object* status = obj_at(&d, {"status"});
  auto [names, images] = container_cells(obj_at(spec, {"template", "spec"}));
  std::optional<std::string> selector = selector_string(obj_at(spec, {"selector"}));
  return {json::value(name_of(d)),
          json::value(fmt::format("{}/{}", int_at(status, {"readyReplicas"}),
                                  int_at(spec, {"replicas"}, 1))),
          json::value(int_at(status, {"updatedReplicas"})),
          json::value(int_at(status, {"availableReplicas"})),
          json::value(age_of(d, now)),
          json::value(names),
          json::value(images),
          json::value(selector ? *selector : std::string("<invalid>"))};
}

Cells replica_set_cells(const json::object& rs, Clock::time_point now) {
  const json::object* spec = obj_at(&rs, {"spec"});
  const json::object* status = obj_at(&rs, {"status"});
  auto [names, images] = container_cells(obj_at(spec, {"template", "spec"}));
  return {json::value(name_of(rs)),
          json::value(int_at(spec, {"replicas"}, 1)),
          json::value(int_at(status, {"replicas"})),
          json::value(int_at(status, {"readyReplicas"})),
          json::value(age_of(rs, now)),
          json::value(names),
          json::value(images),
          json::value(format_label_selector(obj_at(spec, {"selector"})))};
}

Cells stateful_set_cells(const json::object& ss, Clock::time_point now) {
  const json::object* spec = obj_at(&ss, {"spec"});
  auto [names, images] = container_cells(obj_at(spec, {"template", "spec"}));
  return {json::value(name_of(ss)),
          json::value(fmt::format("{}/{}", int_at(&ss, {"status", "readyReplicas"}),
                                  int_at(spec, {"replicas"}, 1))),
          json::value(age_of(ss, now)), json::value(names), json::value(images)};
}

Cells daemon_set_cells(const json::object& ds, Clock::time_point now) {
  const json::object* spec = obj_at(&ds, {"spec"});
  const json::object* status = obj_at(&ds, {"status"});
  const json::object* pod_spec = obj_at(spec, {"template", "spec"});
  auto [names, images] = container_cells(pod_spec);
  return {json::value(name_of(ds)),
          json::value(int_at(status, {"desiredNumberScheduled"})),
          json::value(int_at(status, {"currentNumberScheduled"})),
          json::value(int_at(status, {"numberReady"})),
          json::value(int_at(status, {"updatedNumberScheduled"})),
          json::value(int_at(status, {"numberAvailable"})),
          json::value(format_labels(obj_at(pod_spec, {"nodeSelector"}))),
          json::value(age_of(ds, now)),
          json::value(names),
          json::value(images),
          json::value(format_label_selector(obj_at(spec, {"selector"})))};
}

Cells controller_revision_cells(const json::object& cr, Clock::time_point now) {
  std::string controller = "<none>";
  for_each_obj(&cr, {"metadata", "ownerReferences"}, [&](const json::object& ref) {
    if (controller != "<none>" || !bool_at(&ref, {"controller"}).value_or(false)) return;
    std::string_view api_version = str_at(&ref, {"apiVersion"});
    std::string_view group;
    if (std::size_t slash = api_version.find('/'); slash != std::string_view::npos) {
      group = api_version.substr(0, slash);
    }
    std::string_view kind = str_at(&ref, {"kind"});
    std::string name(str_at(&ref, {"name"}));
    if (kind.empty() && group.empty()) {
      controller = name;
    } else if (group.empty()) {
      controller = lower(kind) + "/" + name;
    } else {
      controller = lower(kind) + "." + lower(group) + "/" + name;
    }
  });
  return {json::value(name_of(cr)), json::value(controller), json::value(int_at(&cr, {"revision"})),
          json::value(age_of(cr, now))};
}

// ---------------------------------------------------------------------------------------------
// Services and endpoints.

std::string service_external_ip(const json::object* spec, const json::object* status,
                                std::string_view type) {
  std::vector<std::string> external_ips;
  if (const json::array* a = arr_at(spec, {"externalIPs"})) {
    for (const json::value& v : *a) external_ips.emplace_back(str_of(&v));
  }
  if (type == "ClusterIP" || type == "NodePort") {
    return external_ips.empty() ? "<none>" : join(external_ips, ",");
  }
  if (type == "LoadBalancer") {
    std::set<std::string> ingress;  // sorted and unique, as sets.String.List()
    for_each_obj(status, {"loadBalancer", "ingress"}, [&](const json::object& i) {
      if (std::string_view ip = str_at(&i, {"ip"}); !ip.empty()) {
        ingress.emplace(ip);
      } else if (std::string_view host = str_at(&i, {"hostname"}); !host.empty()) {
        ingress.emplace(host);
      }
    });
    std::vector<std::string> all(ingress.begin(), ingress.end());
    all.insert(all.end(), external_ips.begin(), external_ips.end());
    return all.empty() ? "<pending>" : join(all, ",");
  }
  if (type == "ExternalName") return std::string(str_at(spec, {"externalName"}));
  return "<unknown>";
}

Cells service_cells(const json::object& svc, Clock::time_point now) {
  const json::object* spec = obj_at(&svc, {"spec"});
  const json::object* status = obj_at(&svc, {"status"});
  // An undefaulted object has no type; the API server defaults it to ClusterIP.
  std::string type(str_at(spec, {"type"}));
  if (type.empty()) type = "ClusterIP";

  std::string cluster_ip;
  if (const json::array* ips = arr_at(spec, {"clusterIPs"}); ips != nullptr && !ips->empty()) {
    cluster_ip = str_of(&(*ips)[0]);
  } else {
    cluster_ip = str_at(spec, {"clusterIP"});
  }
  if (cluster_ip.empty()) cluster_ip = "<none>";

  std::vector<std::string> ports;
  for_each_obj(spec, {"ports"}, [&](const json::object& p) {
    std::string_view protocol = str_at(&p, {"protocol"});
    if (protocol.empty()) protocol = "TCP";
    const std::int64_t port = int_at(&p, {"port"});
    const std::int64_t node_port = int_at(&p, {"nodePort"});
    ports.push_back(node_port > 0 ? fmt::format("{}:{}/{}", port, node_port, protocol)
                                  : fmt::format("{}/{}", port, protocol));
  });
  std::string port_cell = ports.empty() ? "<none>" : join(ports, ",");

  return {json::value(name_of(svc)),
          json::value(type),
          json::value(cluster_ip),
          json::value(service_external_ip(spec, status, type)),
          json::value(port_cell),
          json::value(age_of(svc, now)),
          json::value(format_labels(obj_at(spec, {"selector"})))};
}

// formatEndpoints: up to three "ip:port" (or bare ip for port-less subsets), then "+ N more...".
std::string format_endpoints(const json::object& ep) {
  const json::array* subsets = arr_at(&ep, {"subsets"});
  if (subsets == nullptr || subsets->empty()) return "<none>";
  constexpr std::size_t kMax = 3;
  std::vector<std::string> list;
  bool more = false;
  std::size_t count = 0;
  for (const json::value& sv : *subsets) {
    const json::object* ss = sv.if_object();
    if (ss == nullptr) continue;
    std::vector<std::string_view> ips;
    for_each_obj(ss, {"addresses"},
                 [&](const json::object& a) { ips.push_back(str_at(&a, {"ip"})); });
    const std::size_t port_count = size_at(ss, {"ports"});
    if (port_count == 0) {
      count += ips.size();
      for (std::string_view ip : ips) {
        if (list.size() == kMax) {
          more = true;
          break;
        }
        list.emplace_back(ip);
      }
      continue;
    }
    for_each_obj(ss, {"ports"}, [&](const json::object& p) {
      count += ips.size();
      for (std::string_view ip : ips) {
        if (list.size() == kMax) {
          more = true;
          break;
        }
        list.push_back(join_host_port(ip, int_at(&p, {"port"})));
      }
    });
  }
  std::string ret = join(list, ",");
  if (more) return fmt::format("{} + {} more...", ret, count - kMax);
  return ret;
}

Cells endpoints_cells(const json::object& ep, Clock::time_point now) {
  return {json::value(name_of(ep)), json::value(format_endpoints(ep)),
          json::value(age_of(ep, now))};
}

Cells endpoint_slice_cells(const json::object& es, Clock::time_point now) {
  constexpr std::size_t kMax = 3;
  std::vector<std::string> ports;
  bool more_ports = false;
  std::size_t port_count = 0;
  for_each_obj(&es, {"ports"}, [&](const json::object& p) {
    if (ports.size() < kMax) {
      if (std::optional<std::int64_t> n = int_of(find(&p, {"port"}))) {
        ports.push_back(std::to_string(*n));
      } else if (const json::value* name = find(&p, {"name"}); name && name->is_string()) {
        ports.emplace_back(str_of(name));
      } else {
        ports.emplace_back("*");
      }
    } else {
      more_ports = true;
    }
    ++port_count;
  });
  std::vector<std::string> addresses;
  bool more_addresses = false;
  std::size_t address_count = 0;
  for_each_obj(&es, {"endpoints"}, [&](const json::object& e) {
    if (const json::array* a = arr_at(&e, {"addresses"})) {
      for (const json::value& v : *a) {
        if (addresses.size() < kMax) {
          addresses.emplace_back(str_of(&v));
        } else {
          more_addresses = true;
        }
        ++address_count;
      }
    }
  });
  return {json::value(name_of(es)), json::value(str_at(&es, {"addressType"})),
          json::value(list_with_more(ports, more_ports, port_count, kMax)),
          json::value(list_with_more(addresses, more_addresses, address_count, kMax)),
          json::value(age_of(es, now))};
}

// ---------------------------------------------------------------------------------------------
// Nodes and namespaces.

Cells node_cells(const json::object& node, Clock::time_point now) {
  const json::object* status = obj_at(&node, {"status"});
  std::vector<std::string> states;
  // Only the Ready condition counts; the last one listed wins, as in a map keyed by type.
  std::optional<std::string> ready;
  for_each_obj(status, {"conditions"}, [&](const json::object& c) {
    if (str_at(&c, {"type"}) != "Ready") return;
    ready = str_at(&c, {"status"}) == "True" ? "Ready" : "NotReady";
  });
  states.push_back(ready ? *ready : "Unknown");
  if (bool_at(&node, {"spec", "unschedulable"}).value_or(false)) {
    states.emplace_back("SchedulingDisabled");
  }

  constexpr std::string_view kRolePrefix = "node-role.kubernetes.io/";
  std::set<std::string> roles;
  if (const json::object* labels = obj_at(&node, {"metadata", "labels"})) {
    for (const auto& kv : *labels) {
      std::string_view key(kv.key().data(), kv.key().size());
      if (key.substr(0, kRolePrefix.size()) == kRolePrefix) {
        if (key.size() > kRolePrefix.size()) roles.emplace(key.substr(kRolePrefix.size()));
      } else if (key == "kubernetes.io/role") {
        if (std::string_view v = str_of(&kv.value()); !v.empty()) roles.emplace(v);
      }
    }
  }
  std::string role_cell =
      roles.empty() ? "<none>" : join(std::vector<std::string>(roles.begin(), roles.end()), ",");

  auto address = [&](std::string_view type) {
    std::string out = "<none>";
    bool found = false;
    for_each_obj(status, {"addresses"}, [&](const json::object& a) {
      if (!found && str_at(&a, {"type"}) == type) {
        out = str_at(&a, {"address"});
        found = true;
      }
    });
    return out;
  };
  auto info = [&](std::string_view field) {
    std::string v(str_at(status, {"nodeInfo", field}));
    return v.empty() ? std::string("<unknown>") : v;
  };

  return {json::value(name_of(node)),
          json::value(join(states, ",")),
          json::value(role_cell),
          json::value(age_of(node, now)),
          json::value(str_at(status, {"nodeInfo", "kubeletVersion"})),
          json::value(address("InternalIP")),
          json::value(address("ExternalIP")),
          json::value(info("osImage")),
          json::value(info("kernelVersion")),
          json::value(info("containerRuntimeVersion"))};
}

Cells namespace_cells(const json::object& ns, Clock::time_point now) {
  return {json::value(name_of(ns)), json::value(str_at(&ns, {"status", "phase"})),
          json::value(age_of(ns, now))};
}

// ---------------------------------------------------------------------------------------------
// Events (core/v1 and events.k8s.io/v1 spell the same fields differently).

struct EventFields {
  std::string_view involved;  // involvedObject | regarding
  std::string_view message;   // message | note
  std::string_view first;     // firstTimestamp | deprecatedFirstTimestamp
  std::string_view last;      // lastTimestamp | deprecatedLastTimestamp
  std::string_view count;     // count | deprecatedCount
  std::string_view source;    // source | deprecatedSource
};

constexpr EventFields kCoreEvent{"involvedObject", "message", "firstTimestamp",
                                 "lastTimestamp",  "count",   "source"};
constexpr EventFields kEventsV1{"regarding",
                                "note",
                                "deprecatedFirstTimestamp",
                                "deprecatedLastTimestamp",
                                "deprecatedCount",
                                "deprecatedSource"};

Cells event_cells(const json::object& ev, const EventFields& f, Clock::time_point now) {
  std::string first = since(time_of(find(&ev, {f.first})), now);
  if (!time_of(find(&ev, {f.first}))) first = since(time_of(find(&ev, {"eventTime"})), now);
  std::string last = since(time_of(find(&ev, {f.last})), now);
  if (!time_of(find(&ev, {f.last}))) last = first;

  std::int64_t count = int_at(&ev, {f.count});
  if (const json::object* series = obj_at(&ev, {"series"})) {
    last = since(time_of(find(series, {"lastObservedTime"})), now);
    count = int_at(series, {"count"});
  } else if (count == 0) {
    count = 1;  // singleton events of the new API carry no count
  }

  const json::object* involved = obj_at(&ev, {f.involved});
  std::string target = lower(str_at(involved, {"kind"}));
  if (std::string_view name = str_at(involved, {"name"}); !name.empty()) {
    target += "/";
    target += name;
  }

  std::string component(str_at(&ev, {f.source, "component"}));
  if (component.empty()) component = str_at(&ev, {"reportingController"});
  std::string host(str_at(&ev, {f.source, "host"}));
  if (host.empty()) host = str_at(&ev, {"reportingInstance"});
  std::string source = host.empty() ? component : component + ", " + host;

  return {json::value(last),
          json::value(str_at(&ev, {"type"})),
          json::value(str_at(&ev, {"reason"})),
          json::value(target),
          json::value(str_at(involved, {"fieldPath"})),
          json::value(source),
          json::value(trim(str_at(&ev, {f.message}))),
          json::value(first),
          json::value(count),
          json::value(name_of(ev))};
}

// ---------------------------------------------------------------------------------------------
// Config and storage.

Cells config_map_cells(const json::object& cm, Clock::time_point now) {
  return {
      json::value(name_of(cm)),
      json::value(static_cast<std::int64_t>(size_at(&cm, {"data"}) + size_at(&cm, {"binaryData"}))),
      json::value(age_of(cm, now))};
}

Cells secret_cells(const json::object& s, Clock::time_point now) {
  return {json::value(name_of(s)), json::value(str_at(&s, {"type"})),
          json::value(static_cast<std::int64_t>(size_at(&s, {"data"}))),
          json::value(age_of(s, now))};
}

constexpr std::string_view kBetaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class";

std::string optional_or_unset(const json::object* o, std::initializer_list<std::string_view> path) {
  const json::value* v = find(o, path);
  if (v == nullptr || !v->is_string()) return "<unset>";
  return std::string(str_of(v));
}

Cells persistent_volume_cells(const json::object& pv, Clock::time_point now) {
  const json::object* spec = obj_at(&pv, {"spec"});
  std::string claim;
  if (const json::object* ref = obj_at(spec, {"claimRef"})) {
    claim = fmt::format("{}/{}", str_at(ref, {"namespace"}), str_at(ref, {"name"}));
  }
  std::string phase(str_at(&pv, {"status", "phase"}));
  if (has_deletion_timestamp(pv)) phase = "Terminating";
  std::string storage_class;
  if (const json::value* a = find(&pv, {"metadata", "annotations", kBetaStorageClassAnnotation})) {
    storage_class = str_of(a);
  } else {
    storage_class = str_at(spec, {"storageClassName"});
  }
  return {json::value(name_of(pv)),
          json::value(quantity_string(find(spec, {"capacity", "storage"}))),
          json::value(access_modes(arr_at(spec, {"accessModes"}))),
          json::value(str_at(spec, {"persistentVolumeReclaimPolicy"})),
          json::value(phase),
          json::value(claim),
          json::value(storage_class),
          json::value(optional_or_unset(spec, {"volumeAttributesClassName"})),
          json::value(str_at(&pv, {"status", "reason"})),
          json::value(age_of(pv, now)),
          json::value(optional_or_unset(spec, {"volumeMode"}))};
}

Cells persistent_volume_claim_cells(const json::object& pvc, Clock::time_point now) {
  const json::object* spec = obj_at(&pvc, {"spec"});
  const json::object* status = obj_at(&pvc, {"status"});
  std::string phase(str_at(status, {"phase"}));
  if (has_deletion_timestamp(pvc)) phase = "Terminating";
  std::string volume(str_at(spec, {"volumeName"}));
  std::string capacity, modes;
  if (!volume.empty()) {
    modes = access_modes(arr_at(status, {"accessModes"}));
    capacity = quantity_string(find(status, {"capacity", "storage"}));
  }
  std::string storage_class;
  if (const json::value* a = find(&pvc, {"metadata", "annotations", kBetaStorageClassAnnotation})) {
    storage_class = str_of(a);
  } else {
    storage_class = str_at(spec, {"storageClassName"});
  }
  return {json::value(name_of(pvc)),
          json::value(phase),
          json::value(volume),
          json::value(capacity),
          json::value(modes),
          json::value(storage_class),
          json::value(optional_or_unset(spec, {"volumeAttributesClassName"})),
          json::value(age_of(pvc, now)),
          json::value(optional_or_unset(spec, {"volumeMode"}))};
}

Cells storage_class_cells(const json::object& sc, Clock::time_point now) {
  std::string name = name_of(sc);
  const json::object* annotations = obj_at(&sc, {"metadata", "annotations"});
  if (str_at(annotations, {"storageclass.kubernetes.io/is-default-class"}) == "true" ||
      str_at(annotations, {"storageclass.beta.kubernetes.io/is-default-class"}) == "true") {
    name += " (default)";
  }
  std::string reclaim(str_at(&sc, {"reclaimPolicy"}));
  if (reclaim.empty()) reclaim = "Delete";
  std::string binding(str_at(&sc, {"volumeBindingMode"}));
  if (binding.empty()) binding = "Immediate";
  return {json::value(name),
          json::value(str_at(&sc, {"provisioner"})),
          json::value(reclaim),
          json::value(binding),
          json::value(bool_at(&sc, {"allowVolumeExpansion"}).value_or(false)),
          json::value(age_of(sc, now))};
}

Cells lease_cells(const json::object& lease, Clock::time_point now) {
  return {json::value(name_of(lease)), json::value(str_at(&lease, {"spec", "holderIdentity"})),
          json::value(age_of(lease, now))};
}

Cells default_cells(const json::object& obj, Clock::time_point now) {
  return {json::value(name_of(obj)), json::value(age_of(obj, now))};
}

Cells cells_for(Printer printer, const json::object& obj, Clock::time_point now) {
  switch (printer) {
    case Printer::kPods:
      return pod_cells(obj, now);
    case Printer::kDeployments:
      return deployment_cells(obj, now);
    case Printer::kReplicaSets:
      return replica_set_cells(obj, now);
    case Printer::kStatefulSets:
      return stateful_set_cells(obj, now);
    case Printer::kDaemonSets:
      return daemon_set_cells(obj, now);
    case Printer::kServices:
      return service_cells(obj, now);
    case Printer::kEndpoints:
      return endpoints_cells(obj, now);
    case Printer::kNodes:
      return node_cells(obj, now);
    case Printer::kNamespaces:
      return namespace_cells(obj, now);
    case Printer::kEvents:
      return event_cells(obj, kCoreEvent, now);
    case Printer::kEventsV1:
      return event_cells(obj, kEventsV1, now);
    case Printer::kConfigMaps:
      return config_map_cells(obj, now);
    case Printer::kSecrets:
      return secret_cells(obj, now);
    case Printer::kPersistentVolumes:
      return persistent_volume_cells(obj, now);
    case Printer::kPersistentVolumeClaims:
      return persistent_volume_claim_cells(obj, now);
    case Printer::kStorageClasses:
      return storage_class_cells(obj, now);
    case Printer::kLeases:
      return lease_cells(obj, now);
    case Printer::kControllerRevisions:
      return controller_revision_cells(obj, now);
    case Printer::kEndpointSlices:
      return endpoint_slice_cells(obj, now);
    case Printer::kDefault:
      break;
  }
  return default_cells(obj, now);
}

// The real server's row condition for finished pods (metav1.RowCompleted).
std::optional<json::object> pod_row_condition(const json::object& pod) {
  std::string_view phase = str_at(&pod, {"status", "phase"});
  if (phase != "Succeeded" && phase != "Failed") return std::nullopt;
  return json::object{
      {"type", "Completed"},
      {"status", "True"},
      {"reason", phase},
      {"message", phase == "Succeeded" ? "The pod has completed successfully." : "The pod failed."},
  };
}

// ---------------------------------------------------------------------------------------------
// Accept header.

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view unquote(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return v.substr(1, v.size() - 2);
  return v;
}

// One media range "type/subtype;k=v;...": does it accept a JSON meta.k8s.io Table?
bool range_wants_table(std::string_view range) {
  std::size_t semi = range.find(';');
  std::string_view media = trim(range.substr(0, semi));
  if (!iequals(media, "application/json") && !iequals(media, "application/*") && media != "*/*") {
    return false;
  }
  std::string_view as, g, v;
  while (semi != std::string_view::npos) {
    range.remove_prefix(semi + 1);
    semi = range.find(';');
    std::string_view param = range.substr(0, semi);
    std::size_t eq = param.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = trim(param.substr(0, eq));
    std::string_view value = unquote(trim(param.substr(eq + 1)));
    if (iequals(key, "as")) {
      as = value;
    } else if (iequals(key, "g")) {
      g = value;
    } else if (iequals(key, "v")) {
      v = value;
    } else if (iequals(key, "q")) {
      // q=0 (0, 0.0, 0.000) means "not acceptable".
      if (value.find_first_not_of("0.") == std::string_view::npos) return false;
    }
  }
  return as == "Table" && g == "meta.k8s.io" && (v == "v1" || v == "v1beta1");
}

}  // namespace

std::vector<TableColumn> table_columns(std::string_view group, std::string_view resource) {
  return columns_for(printer_for(group, resource));
}

std::vector<json::value> table_cells(std::string_view group, std::string_view resource,
                                     const json::object& obj, Clock::time_point now) {
  return cells_for(printer_for(group, resource), obj, now);
}

json::object make_table(std::string_view group, std::string_view resource,
                        const std::vector<const json::object*>& objects,
                        std::string_view resource_version, std::string_view continue_token,
                        bool include_column_definitions, Clock::time_point now) {
  const Printer printer = printer_for(group, resource);

  json::object metadata;
  if (!resource_version.empty()) metadata["resourceVersion"] = resource_version;
  if (!continue_token.empty()) metadata["continue"] = continue_token;

  json::array columns;
  if (include_column_definitions) {
    for (const TableColumn& c : columns_for(printer)) {
      columns.push_back(json::object{{"name", c.name},
                                     {"type", c.type},
                                     {"format", c.format},
                                     {"description", c.description},
                                     {"priority", c.priority}});
    }
  }

  json::array rows;
  rows.reserve(objects.size());
  for (const json::object* obj : objects) {
    if (obj == nullptr) continue;  // precondition, but never worth a crash
    Cells cells = cells_for(printer, *obj, now);
    json::object row;
    row["cells"] = json::array(cells.begin(), cells.end());
    if (printer == Printer::kPods) {
      if (std::optional<json::object> cond = pod_row_condition(*obj)) {
        row["conditions"] = json::array{std::move(*cond)};
      }
    }
    const json::object* meta = obj_at(obj, {"metadata"});
    row["object"] = json::object{{"kind", "PartialObjectMetadata"},
                                 {"apiVersion", "meta.k8s.io/v1"},
                                 {"metadata", meta != nullptr ? *meta : json::object()}};
    rows.push_back(std::move(row));
  }

  return json::object{{"kind", "Table"},
                      {"apiVersion", "meta.k8s.io/v1"},
                      {"metadata", std::move(metadata)},
                      {"columnDefinitions", std::move(columns)},
                      {"rows", std::move(rows)}};
}

bool wants_table(std::string_view accept_header) {
  while (!accept_header.empty()) {
    std::size_t comma = accept_header.find(',');
    if (range_wants_table(accept_header.substr(0, comma))) return true;
    if (comma == std::string_view::npos) break;
    accept_header.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace orch::apiserver
