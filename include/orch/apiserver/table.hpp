// Server-side printing: the `meta.k8s.io/v1 Table` that kubectl's human-readable `get` asks for
// (Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...), built from objects exactly as they
// are stored and served (Kubernetes JSON, boost::json).
//
// For each well-known resource the columns, their order, types and priorities, and the formatting
// of every cell follow the real API server's printers (Kubernetes
// pkg/printers/internalversion/printers.go, release 1.32). Like the real server, a Table always
// carries every column, the wide ones (priority 1) included; kubectl shows priority-1 columns only
// with `-o wide`. Cells are strings, except where Kubernetes puts a JSON number (ReplicaSet
// Desired/Current/Ready, Deployment Up-to-date/Available, ConfigMap/Secret Data, Event Count, ...)
// or a boolean (StorageClass AllowVolumeExpansion). Ages are kubectl's ("5m", "3d4h"), computed
// against the `now` the caller passes, and "<unknown>" when the timestamp is absent.
//
// Resources with their own columns (group "" is the core group; "core" is accepted as an alias):
//   "": pods, services, endpoints, nodes, namespaces, events, configmaps, secrets,
//       persistentvolumes, persistentvolumeclaims
//   apps: deployments, replicasets, statefulsets, daemonsets, controllerrevisions
//   storage.k8s.io: storageclasses;  coordination.k8s.io: leases;
//   discovery.k8s.io: endpointslices;  events.k8s.io: events (read from the events/v1 field names)
// Any other resource gets Name and Age.
//
// Nothing here fails: missing or mistyped fields print as the real server prints the zero value
// ("", 0, "<none>", "<unknown>"). No exception escapes.
//
// Thread-safety: stateless functions on caller-owned values; safe from any thread.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

namespace orch::apiserver {

// One metav1.TableColumnDefinition.
struct TableColumn {
  std::string name;         // "Name", "Ready", "Nominated Node"; kubectl upper-cases it
  std::string type;         // OpenAPI type: "string", "integer", "boolean", "date"
  std::string format;       // "name" for the column that holds the object's name, else ""
  std::string description;  // a sentence for `kubectl explain`-style help
  int priority = 0;         // 0: always shown; 1: shown with `-o wide` only
  bool operator==(const TableColumn&) const = default;
};

// The column definitions for `resource` (lower-case plural, as in the URL) of API `group`
// ("" for core), in the order the cells come. Unknown resources get Name and Age.
std::vector<TableColumn> table_columns(std::string_view group, std::string_view resource);

// The cells of one row for `obj` (a whole stored object: metadata, spec, status), one per entry of
// table_columns(group, resource) and in that order. Ages are measured from `now`.
std::vector<boost::json::value> table_cells(std::string_view group, std::string_view resource,
                                            const boost::json::object& obj,
                                            std::chrono::system_clock::time_point now);

// The whole Table, as the API server answers a list, a single GET (one object) or a watch event
// (one object, usually without column definitions):
//   {"kind":"Table","apiVersion":"meta.k8s.io/v1",
//    "metadata":{"resourceVersion":"107","continue":"..."},
//    "columnDefinitions":[{"name":"Name","type":"string","format":"name","description":"...",
//                          "priority":0}, ...],
//    "rows":[{"cells":[...],
//             "object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1",
//                       "metadata":{...the object's whole metadata...}}}, ...]}
// metadata.resourceVersion and metadata.continue appear only when non-empty (Go's omitempty).
// columnDefinitions is an empty array when `include_column_definitions` is false. Rows follow
// `objects` in order; a pod row whose phase is Succeeded or Failed also carries the real server's
// row condition ({"type":"Completed","status":"True","reason":"Succeeded",...}).
// Preconditions: no pointer in `objects` is null. The objects are only read (copied from).
boost::json::object make_table(std::string_view group, std::string_view resource,
                               const std::vector<const boost::json::object*>& objects,
                               std::string_view resource_version, std::string_view continue_token,
                               bool include_column_definitions,
                               std::chrono::system_clock::time_point now);

// True when an HTTP Accept header accepts a JSON Table: some media range
// `application/json` (or `application/*`, `*/*`) carries the parameters as=Table,
// g=meta.k8s.io and v=v1 or v=v1beta1 (and no q=0), as kubectl sends:
//   application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json
// False for plain `application/json`, for protobuf-only Table asks
// (application/vnd.kubernetes.protobuf;as=Table;...), and for other `as=` kinds.
bool wants_table(std::string_view accept_header);

}  // namespace orch::apiserver
