// Private to lib/controller: reading Kubernetes objects held as JSON (informer caches hand out
// boost::json values), shared by the controllers so each does not carry its own copy.
//
// Every function is pure and inline; a missing field, or one of another JSON type, reads as
// absent (nullptr, "", the fallback), never as an error: objects come from the API server and
// were validated there, and controllers must not crash on what a newer server adds.
#pragma once

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "orch/api/selector.hpp"
#include "orch/api/time.hpp"
#include "orch/status.hpp"

namespace orch::controller::json_util {

namespace json = boost::json;

// The value at `path` (object keys from the root), or nullptr.
inline const json::value* at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto p : path) {
    if (!cur->is_object()) return nullptr;
    cur = cur->get_object().if_contains(p);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

// The string at `path`, "" when absent or not a string. The view points into `v`.
inline std::string_view str_at(const json::value& v,
                               std::initializer_list<std::string_view> path) {
  const json::value* x = at(v, path);
  return x && x->is_string() ? std::string_view(x->get_string()) : std::string_view();
}

// The integer at `path`, `fallback` when absent or not an integer.
inline std::int64_t int_at(const json::value& v, std::initializer_list<std::string_view> path,
                           std::int64_t fallback = 0) {
  const json::value* x = at(v, path);
  if (!x) return fallback;
  if (x->is_int64()) return x->get_int64();
  if (x->is_uint64()) return static_cast<std::int64_t>(x->get_uint64());
  return fallback;
}

// The boolean at `path`, false when absent or not a boolean.
inline bool bool_at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* x = at(v, path);
  return x && x->is_bool() && x->get_bool();
}

// The string members of an object (labels, annotations, nodeSelector, matchLabels).
inline std::map<std::string, std::string> string_map(const json::value* v) {
  std::map<std::string, std::string> out;
  if (!v || !v->is_object()) return out;
  for (const auto& [k, x] : v->get_object()) {
    if (x.is_string()) out.emplace(std::string(k), std::string(x.get_string()));
  }
  return out;
}

// The string elements of an array.
inline std::vector<std::string> strings(const json::value* v) {
  std::vector<std::string> out;
  if (!v || !v->is_array()) return out;
  for (const auto& x : v->get_array()) {
    if (x.is_string()) out.emplace_back(x.get_string());
  }
  return out;
}

inline std::map<std::string, std::string> labels_of(const json::value& obj) {
  return string_map(at(obj, {"metadata", "labels"}));
}

// The selector of a LabelSelector object (matchLabels + matchExpressions). A missing selector
// selects nothing. InvalidArgument for a malformed requirement.
inline Result<api::Selector> label_selector(const json::value* sel) {
  if (!sel || !sel->is_object()) return api::Selector::nothing();
  api::LabelSelector ls;
  ls.match_labels = string_map(sel->get_object().if_contains("matchLabels"));
  if (const auto* exprs = sel->get_object().if_contains("matchExpressions");
      exprs && exprs->is_array()) {
    for (const auto& e : exprs->get_array()) {
      api::LabelSelectorRequirement r;
      r.key = std::string(str_at(e, {"key"}));
      r.operator_ = std::string(str_at(e, {"operator"}));
      r.values = strings(at(e, {"values"}));
      ls.match_expressions.push_back(std::move(r));
    }
  }
  return api::Selector::from(ls);
}

// metadata.deletionTimestamp is set.
inline bool is_deleting(const json::value& obj) {
  const json::value* d = at(obj, {"metadata", "deletionTimestamp"});
  return d && !d->is_null();
}

// metadata.finalizers.
inline std::vector<std::string> finalizers_of(const json::value& obj) {
  return strings(at(obj, {"metadata", "finalizers"}));
}

struct OwnerRef {
  std::string api_version, kind, name, uid;
};

// The ownerReference with controller: true, if any.
inline std::optional<OwnerRef> controller_ref(const json::value& obj) {
  const json::value* refs = at(obj, {"metadata", "ownerReferences"});
  if (!refs || !refs->is_array()) return std::nullopt;
  for (const auto& r : refs->get_array()) {
    if (bool_at(r, {"controller"})) {
      return OwnerRef{std::string(str_at(r, {"apiVersion"})), std::string(str_at(r, {"kind"})),
                      std::string(str_at(r, {"name"})), std::string(str_at(r, {"uid"}))};
    }
  }
  return std::nullopt;
}

// The uid of the controller ownerReference when it is an apps/* `kind` ("StatefulSet"), else "";
// `name` (when not null) gets the owner's name. The views point into `obj`.
inline std::string_view apps_owner_uid(const json::value& obj, std::string_view kind,
                                       std::string_view* name = nullptr) {
  const json::value* refs = at(obj, {"metadata", "ownerReferences"});
  if (!refs || !refs->is_array()) return {};
  for (const auto& r : refs->get_array()) {
    if (bool_at(r, {"controller"}) && str_at(r, {"kind"}) == kind &&
        str_at(r, {"apiVersion"}).starts_with("apps/")) {
      if (name) *name = str_at(r, {"name"});
      return str_at(r, {"uid"});
    }
  }
  return {};
}

// ----------------------------------------------------------------------------- node selectors

// A decimal int64 spelled exactly (no sign other than '-', no spaces).
inline bool parse_int(std::string_view s, std::int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// A NodeSelectorRequirement (In, NotIn, Exists, DoesNotExist, Gt, Lt) against a key -> value map.
inline bool requirement_matches(const json::value& r,
                                const std::map<std::string, std::string>& values) {
  std::string key(str_at(r, {"key"}));
  std::string_view op = str_at(r, {"operator"});
  auto vals = strings(at(r, {"values"}));
  auto it = values.find(key);
  const bool has = it != values.end();
  if (op == "In") return has && std::find(vals.begin(), vals.end(), it->second) != vals.end();
  if (op == "NotIn") return !has || std::find(vals.begin(), vals.end(), it->second) == vals.end();
  if (op == "Exists") return has;
  if (op == "DoesNotExist") return !has;
  if (op == "Gt" || op == "Lt") {
    std::int64_t label = 0, want = 0;
    if (!has || vals.size() != 1 || !parse_int(it->second, label) || !parse_int(vals[0], want)) {
      return false;
    }
    return op == "Gt" ? label > want : label < want;
  }
  return false;
}

// A NodeSelectorTerm against a node's labels and name (matchFields: metadata.name only). A term
// without requirements matches nothing.
inline bool term_matches(const json::value& term, const std::map<std::string, std::string>& labels,
                         std::string_view node_name) {
  const json::value* exprs = at(term, {"matchExpressions"});
  const json::value* fields = at(term, {"matchFields"});
  bool any = false;
  if (exprs && exprs->is_array()) {
    for (const auto& r : exprs->get_array()) {
      any = true;
      if (!requirement_matches(r, labels)) return false;
    }
  }
  if (fields && fields->is_array()) {
    std::map<std::string, std::string> f{{"metadata.name", std::string(node_name)}};
    for (const auto& r : fields->get_array()) {
      any = true;
      if (str_at(r, {"key"}) != "metadata.name") return false;
      if (!requirement_matches(r, f)) return false;
    }
  }
  return any;
}

// A NodeSelector ({"nodeSelectorTerms": [...]}): any of its terms matches.
inline bool node_selector_matches(const json::value& selector,
                                  const std::map<std::string, std::string>& labels,
                                  std::string_view node_name) {
  const json::value* terms = at(selector, {"nodeSelectorTerms"});
  if (!terms || !terms->is_array()) return false;
  for (const auto& t : terms->get_array()) {
    if (term_matches(t, labels, node_name)) return true;
  }
  return false;
}

// ----------------------------------------------------------------------------- pods

// The pod's Ready condition, if any.
inline const json::value* ready_condition(const json::value& pod) {
  const json::value* conds = at(pod, {"status", "conditions"});
  if (!conds || !conds->is_array()) return nullptr;
  for (const auto& c : conds->get_array()) {
    if (str_at(c, {"type"}) == "Ready") return &c;
  }
  return nullptr;
}

inline bool is_ready(const json::value& pod) {
  const json::value* c = ready_condition(pod);
  return c && str_at(*c, {"status"}) == "True";
}

// Kubernetes' podutil.IsPodAvailable: Ready for at least minReadySeconds. When Ready but not yet
// for long enough and `wait` is not null, *wait gets the least time until one becomes available.
inline bool is_available(const json::value& pod, std::int64_t min_ready_seconds,
                         std::chrono::system_clock::time_point now,
                         std::optional<std::chrono::nanoseconds>* wait) {
  if (!is_ready(pod)) return false;
  if (min_ready_seconds <= 0) return true;
  auto t = api::Time::parse(str_at(*ready_condition(pod), {"lastTransitionTime"}));
  if (!t.ok()) return false;
  auto available_at = t->value + std::chrono::seconds(min_ready_seconds);
  if (available_at <= now) return true;
  if (wait) {
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(available_at - now);
    if (!*wait || left < **wait) *wait = left;
  }
  return false;
}

// ----------------------------------------------------------------------------- hashing

// FNV-1a, 32 bits, continuing from `hash`.
inline constexpr std::uint32_t kFnv32Offset = 2166136261u;
inline std::uint32_t fnv32a(std::string_view bytes, std::uint32_t hash = kFnv32Offset) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 16777619u;
  }
  return hash;
}

// Go's rand.SafeEncodeString: each byte mapped into "bcdfghjklmnpqrstvwxz2456789" (no vowels,
// no look-alike digits), as names derived from hashes are spelled.
inline std::string safe_encode(std::string_view s) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) out.push_back(kAlphabet[c % kAlphabet.size()]);
  return out;
}

// The safe-encoded FNV-32a of `v` serialized: equal values hash equal.
inline std::string json_hash(const json::value& v) {
  return safe_encode(fmt::format("{}", fnv32a(json::serialize(v))));
}

}  // namespace orch::controller::json_util
