// PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and Kubernetes strategic merge
// patch (SMP, k8s.io/apimachinery pkg/util/strategicpatch), plus the patch-merge-key table for the
// kinds liborch serves and a dispatcher on the request's Content-Type.
//
// Every function is pure: it reads its arguments and returns a new document. Nothing throws;
// failures are a Status:
//   * BadRequest (400): the body is not JSON, not the shape the patch type needs, or an SMP
//     directive is malformed or unknown. Kubernetes answers these with 400 too (SMP errors it does
//     not classify come back from the real server as 500; we say 400, since the request is at
//     fault).
//   * InvalidArgument (422 Invalid): a well-formed patch that cannot be applied to this object:
//     every RFC 6902 operation failure (unknown op, bad pointer, missing path, index out of range,
//     failed `test`), an SMP patch whose keys are not in its `$retainKeys`, or an SMP list of
//     lists. This is the split the real API server makes (handlers/patch.go: DecodePatch failure ->
//     400, Apply failure -> 422; interpretStrategicMergePatchError).
//
// What this file does not do (the API server's job): resourceVersion preconditions, dropping
// `status` from a main-resource patch, validation and defaulting of the result.
//
// Thread-safety: stateless; every function may be called from any thread at once.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "orch/status.hpp"

namespace orch::apiserver {

// The media types of PATCH bodies.
inline constexpr std::string_view kJsonPatchType = "application/json-patch+json";
inline constexpr std::string_view kMergePatchType = "application/merge-patch+json";
inline constexpr std::string_view kStrategicMergePatchType =
    "application/strategic-merge-patch+json";
inline constexpr std::string_view kApplyPatchType = "application/apply-patch+yaml";

// RFC 7386 JSON merge patch: an object patch merges member by member (null removes the member),
// any other patch replaces the target. Always succeeds; the Result is for symmetry.
Result<boost::json::value> apply_json_merge_patch(const boost::json::value& target,
                                                  const boost::json::value& patch);

// RFC 6902 JSON patch: `patch` is an array of operation objects (add, remove, replace, move,
// copy, test) applied in order, all or nothing. JSON Pointers (RFC 6901) use ~0 / ~1 escapes; "-"
// names the end of an array for `add` (and `move`/`copy` targets). Members other than op, path,
// from and value are ignored (RFC 6902 A.11). `test` compares numbers by value and objects
// regardless of member order.
// Codes: BadRequest when `patch` is not an array of objects; InvalidArgument (422) for any
// operation that cannot be applied: unknown or missing `op`, missing `path`/`from`/`value`, a
// malformed pointer, a path that does not exist (remove/replace/move/copy/test, or the parent of
// an add), an array index out of range or not a number, a move into its own child, a failed test.
Result<boost::json::value> apply_json_patch(const boost::json::value& target,
                                            const boost::json::value& patch);

// How SMP merges one list field (the Go struct tags patchStrategy / patchMergeKey).
struct MergeInfo {
  // Lists of objects merge element by element on this key. Empty: no key.
  std::string merge_key;
  // Lists of scalars merge as sets (patchStrategy "merge" on []string, e.g. `finalizers`).
  bool merge_primitives = false;

  // True when the list merges at all; a list without a strategy is replaced by the patch.
  bool merges() const { return !merge_key.empty() || merge_primitives; }
  bool operator==(const MergeInfo&) const = default;
};

// Answers for a list field given its dotted path from the object root, list elements written
// "[]": "spec.template.spec.containers", "spec.template.spec.containers[].ports", "spec.ports",
// "metadata.finalizers", "status.conditions". Called only for list fields the patch touches.
using MergeKeyFn = std::function<MergeInfo(std::string_view path)>;

// Kubernetes strategic merge patch of `target` (an object) by `patch` (an object):
//   * Maps merge recursively; `key: null` deletes the key; scalars replace.
//   * Lists without a merge strategy (per `merge_key`) are replaced by the patch's list.
//   * Lists of objects with a merge key merge element by element on that key; a patch element
//     with a new key value is added. Order follows apimachinery exactly: elements named in the
//     patch take the patch's order, elements only on the server keep theirs, and the two are
//     interleaved by server position -- so a NEW element lands before the server-only elements
//     that follow nothing it is anchored to (the docs' "patch-demo-ctr-2" lands first), not at
//     the end. kubectl apply/edit/set always send `$setElementOrder`, which decides the order.
//   * Lists of scalars with merge_primitives merge as sets (duplicates dropped), same ordering.
// Directives, all removed from the result:
//   * `$patch: delete` in a keyed-list element deletes every element with that key value; in a
//     map it deletes the map (the key is removed; the root becomes {}). Note: apimachinery leaves
//     `{}` at a nested key, which the typed round trip of the real server then drops for map
//     fields and keeps as {} for struct fields.
//   * `$patch: replace` in a map: the map becomes the patch map; as an element of a keyed list:
//     the list becomes the patch's other elements.
//   * `$patch: merge`: the default, accepted as a no-op. (apimachinery rejects it, 400/500.)
//   * `$retainKeys: [..]`: keys of the target map not listed are removed before merging.
//   * `$setElementOrder/<list>: [..]`: the final order of a merging list; elements it does not
//     name (server-only) keep their relative order, interleaved as above.
//   * `$deleteFromPrimitiveList/<list>: [..]`: removes those values from a scalar list.
// A value added where the target has none (or has a different JSON kind) is cleaned of
// directives as if merged into an empty value: null members are dropped, `$patch: delete`
// elements vanish.
// Codes: BadRequest when target or patch is not an object, a directive's value is not the
// expected type, `$patch` has an unknown value, a `$`-key is not a known directive, a keyed-list
// element lacks its merge key, a merging list mixes objects and scalars, a list of objects merges
// without a merge key, or a `$setElementOrder` list contradicts the order of the patch list.
// InvalidArgument (422) when a patch key is missing from its map's `$retainKeys`, or for a list
// of lists in a merging list.
Result<boost::json::value> apply_strategic_merge_patch(const boost::json::value& target,
                                                       const boost::json::value& patch,
                                                       const MergeKeyFn& merge_key);

// The patchStrategy/patchMergeKey table of k8s.io/api for the kinds liborch serves. `kind` is the
// object's kind ("Pod", "Deployment", ...), `path` as for MergeKeyFn. Pod-spec lists apply under
// the pod spec of each kind: Pod "spec.", Deployment/ReplicaSet/StatefulSet/DaemonSet/Job/
// ReplicationController "spec.template.spec.", PodTemplate "template.spec.", CronJob
// "spec.jobTemplate.spec.template.spec.". Anything not in the table is replaced (MergeInfo{}).
MergeInfo kubernetes_merge_key(std::string_view kind, std::string_view path);

// True for the three patch media types apply_patch handles (parameters such as "; charset=utf-8"
// and letter case are ignored). The API server checks this first and answers anything else,
// including application/apply-patch+yaml (server-side apply), with 415 UnsupportedMediaType.
bool is_supported_patch_type(std::string_view content_type);

// Parses `patch_body` and applies it to `target` as `content_type` says, using
// kubernetes_merge_key(kind, ...) for SMP.
// Codes: BadRequest for an unsupported media type (callers check is_supported_patch_type first to
// answer 415), a body that is not JSON ("error decoding patch: <parser message>"), a merge or
// strategic patch body that is not an object; InvalidArgument when a JSON patch leaves something
// other than an object; and the codes of the apply_* function used.
Result<boost::json::value> apply_patch(std::string_view content_type,
                                       const boost::json::value& target,
                                       std::string_view patch_body, std::string_view kind);

}  // namespace orch::apiserver
