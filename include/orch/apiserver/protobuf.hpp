// Kubernetes protobuf request bodies (`Content-Type: application/vnd.kubernetes.protobuf`) turned
// into the Kubernetes JSON object the same request would have carried as application/json, so the
// API server handles both alike. kubectl 1.32 sends its typed `create` subcommands this way
// (`create configmap|secret|namespace|deployment|service|serviceaccount|quota ...`), and `kubectl
// drain` its policy/v1 Eviction (pods/eviction) and DeleteOptions (DELETE) bodies.
//
// The wire format (k8s.io/apimachinery pkg/runtime/serializer/protobuf): the 4-byte magic "k8s\0",
// then a runtime.Unknown message {typeMeta{apiVersion, kind}, raw, contentEncoding, contentType}
// whose `raw` is the object itself, encoded per the kind's generated.proto (proto2). The field
// numbers come from those generated.proto files; the decoder is generic and driven by one
// declarative schema table (lib/apiserver/protobuf.cpp), one entry per message.
//
// JSON shape: what Go's encoding/json prints for the decoded Go object, so the result equals
// kubectl's own JSON body for the same command:
//   * Go clients put every value (non-pointer) field on the wire, zero or not, and pointer fields
//     only when set. A zero value field whose Go JSON tag has `omitempty` is therefore omitted
//     (`generateName: ""`, `hostNetwork: false`, `minReadySeconds: 0` disappear); a pointer field
//     that is present is kept even when zero (`replicas: 0` stays 0); a required field without
//     `omitempty` is kept (`containerPort: 0`).
//   * A message that is present is emitted even when empty (`resources: {}`, `strategy: {}`,
//     `status: {}`); repeated fields and maps only when they have entries.
//   * metav1.Time -> "2024-01-01T00:00:00Z" (RFC 3339, whole seconds, UTC); MicroTime -> six
//     fraction digits; a Time with seconds 0 and nanos 0 (or no fields) is unset and omitted
//     (Go prints `null`; liborch accepts both). resource.Quantity -> its string. IntOrString ->
//     a JSON number or string by its type. bytes -> base64 (standard, padded). FieldsV1 -> the
//     JSON it carries. Embedded Go structs (`json:",inline"`: Probe's handler, Volume's source,
//     the LocalObjectReference in key selectors and ConfigMap/Secret sources) merge their members
//     into the parent object.
//
// Nothing is dropped silently: any field number the schema does not list is an error.
//
// Thread-safety: stateless apart from an immutable table built on first use (thread-safe static
// initialisation); every function may be called from any thread at once.
#pragma once

#include <string_view>

#include <boost/json/value.hpp>

#include "orch/status.hpp"

namespace orch::apiserver {

// The media type kubectl uses for protobuf bodies (it may carry parameters after a ';').
inline constexpr std::string_view kKubernetesProtobufType = "application/vnd.kubernetes.protobuf";

// Decodes one protobuf request body into the equivalent Kubernetes JSON object, with `apiVersion`
// and `kind` set from the envelope. Supported kinds: v1 ConfigMap, Secret, Namespace, Service,
// ServiceAccount, ResourceQuota, apps/v1 Deployment (with PodTemplateSpec / PodSpec), policy/v1
// and policy/v1beta1 Eviction, and DeleteOptions under any apiVersion (Go registers it in every
// group version; a typed client uses its own).
// Codes (all BadRequest, 400; the message says what is wrong and where, as a JSON path):
//   * the body does not start with the magic "k8s\0";
//   * truncated or malformed wire data (a varint running past the end or over 10 bytes, a length
//     past the end, an unknown or group wire type, field number 0, a wire type that does not fit
//     the field, a string that is not UTF-8, a Time or IntOrString out of range);
//   * the envelope lacks apiVersion/kind, or uses a contentEncoding or a non-protobuf contentType;
//   * a kind not listed above: "protobuf bodies for <kind> (<apiVersion>) are not supported; send
//     application/json";
//   * a field the schema does not list: "unsupported protobuf field <n> in <Message> at <path>".
Result<boost::json::value> decode_kubernetes_protobuf(std::string_view body);

// Test hook: decodes `raw` as the schema message named `message` ("Time", "IntOrString",
// "Container", ...) with the rules above, at the top level. A value the rules omit (an unset Time)
// comes back as JSON null. Codes: as decode_kubernetes_protobuf; NotFound for an unknown name.
Result<boost::json::value> decode_protobuf_message_for_test(std::string_view message,
                                                            std::string_view raw);

// Test hook: checks the schema table is consistent (every referenced message exists, field
// numbers and JSON names are unique per message, special shapes have the fields they need).
// Returns Internal naming the first problem.
Status validate_protobuf_schema_for_test();

}  // namespace orch::apiserver
