// The generic JSON codec: one declarative mapping between plain C++ structs described with
// BOOST_DESCRIBE_STRUCT and Kubernetes' JSON (Boost.JSON values).
//
// Field names. A member `snake_case` maps to JSON `camelCase` by one rule (json_name below):
// words after the first are capitalized, except the initialisms ip, ips, id, uid, uuid, cidr,
// cidrs, url, ipc, pid, tls, fqdn and dns, which become IP, IPs, ID, UID, UUID, CIDR, CIDRs,
// URL, IPC, PID, TLS, FQDN and DNS; the first word stays as written (`dns_policy` -> dnsPolicy,
// `pod_ip` -> podIP, `host_ipc` -> hostIPC); one trailing '_' is dropped (`namespace_`,
// `operator_`, `continue_`). A struct may override single names with
//   static constexpr JsonNameOverride kJsonNames[] = {{"port", "Port"}};
//
// Member types and their JSON:
//   std::string, bool, std::int32_t, std::int64_t, double
//   std::optional<T>              emitted iff engaged (use it where Kubernetes tells unset from
//                                 zero: replicas, Go pointer fields); null decodes as unset
//   std::vector<T>, std::map<std::string, T>
//   nested described structs      always emitted, like Go's non-pointer structs ("status": {})
//   IntOrString                   a number or a string
//   any T with `static Result<T> parse(std::string_view)` and `std::string to_string() const`
//                                 (Quantity, Time, MicroTime, Bytes) as a JSON string; a JSON
//                                 number is accepted when its text parses (Quantity: `cpu: 1`)
//   boost::json::value            raw passthrough, kept as sent; omitted when null
//   boost::json::object           raw passthrough; omitted when empty
//
// Encode omits plain members that are empty, zero or false (Go's omitempty), except nested
// structs and string-encoded types, which are always written. A struct lists the members
// Kubernetes always writes even when zero (container `name`, `containerPort`,
// ReplicaSetStatus.replicas) as
//   static constexpr std::string_view kAlwaysEmit[] = {"name", "container_port"};
// (C++ member names); an always-emitted std::optional that is unset is written as null, which is
// how Kubernetes writes its value-typed timestamps (`"creationTimestamp": null`). Members are
// written in declaration order, so kinds declare api_version, kind, metadata, spec, status first.
//
// Decode reports the first wrong-typed value as BadRequest naming the path and the expected
// type (`spec.replicas: expected integer, got string`); null means unset; fields the schema does
// not know are collected in the DecodeContext as paths ("spec.foo",
// "spec.template.spec.containers[0].bar") so the API server can return them as Warning headers
// (`unknown field "spec.foo"`) or, with DecodeOptions::strict, reject the request
// (`strict decoding error: unknown field "spec.foo"`).
//
// decode<T>/encode<T> are declared here and defined in detail/codec_impl.hpp, which is heavy
// (Boost.Describe + Mp11 walking every member). The library instantiates them for every kind and
// list kind in types.hpp; code that decodes other described structs includes the detail header
// itself.
//
// Thread-safety: the functions are reentrant; a DecodeContext belongs to one decode at a time.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "orch/status.hpp"

namespace orch::api {

// One per-struct JSON name override (see kJsonNames above).
struct JsonNameOverride {
  std::string_view member;  // the C++ member name, "port"
  std::string_view json;    // the JSON field name, "Port"
};

// The JSON field name for a C++ member name by the rule in the file comment:
// "pod_ip" -> "podIP", "namespace_" -> "namespace", "dns_policy" -> "dnsPolicy".
std::string json_name(std::string_view member);

struct DecodeOptions {
  // Reject unknown fields with BadRequest instead of collecting them as warnings (Kubernetes'
  // fieldValidation=Strict). Default: false.
  bool strict = false;
};

// State of one decode: the options, the current path and the unknown fields met so far.
class DecodeContext {
 public:
  explicit DecodeContext(DecodeOptions options = {}) : options_(options) {}

  const DecodeOptions& options() const { return options_; }

  // Paths of unknown fields, in the order met: "spec.foo", "spec.containers[0].bar".
  const std::vector<std::string>& unknown_fields() const { return unknown_; }
  // Kubernetes' warning text for each unknown field: `unknown field "spec.foo"`.
  std::vector<std::string> warnings() const;
  // OK when no field was unknown, else BadRequest
  // `strict decoding error: unknown field "spec.foo", unknown field "spec.bar"`.
  Status strict_status() const;

  // --- Used by the codec while walking a value (public for detail/codec_impl.hpp). ---
  // The current path ("" at the root).
  const std::string& path() const { return path_; }
  // Appends ".name" (or "name" at the root), "[index]" or "[key]"; returns the length to restore.
  std::size_t push_member(std::string_view name);
  std::size_t push_index(std::size_t index);
  std::size_t push_key(std::string_view key);
  void pop(std::size_t saved_length) { path_.resize(saved_length); }
  // Records the unknown field `name` under the current path.
  void add_unknown(std::string_view name);
  // BadRequest "<path>: expected <expected>, got <kind of value>".
  Status type_error(std::string_view expected, const boost::json::value& got) const;
  // BadRequest "<path>: <message>".
  Status value_error(std::string_view message) const;

 private:
  DecodeOptions options_;
  std::string path_;
  std::vector<std::string> unknown_;
};

// Decodes `value` into a T (see the file comment). BadRequest for a wrong-typed value or an
// unparsable string-encoded value; with options().strict, BadRequest when any field was unknown.
// Unknown fields are also left in `ctx` for the caller to turn into warnings.
template <class T>
Result<T> decode(const boost::json::value& value, DecodeContext& ctx);

// Encodes `value` as Kubernetes writes it (see the file comment). Never fails.
template <class T>
boost::json::value encode(const T& value);

// Parses JSON text. BadRequest naming the byte offset on malformed input.
Result<boost::json::value> parse_json(std::string_view text);

// "string", "number", "boolean", "object", "array" or "null".
std::string_view json_kind_name(const boost::json::value& value);

}  // namespace orch::api
