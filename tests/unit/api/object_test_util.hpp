// Helpers for the object-model tests: JSON literals, decoding with a check, and the realistic
// manifests several test files share. Thread-safety: test code, single-threaded.
#pragma once

#include <doctest.h>

#include <boost/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "orch/api/codec.hpp"
#include "orch/api/field_error.hpp"

namespace orch::api::testing {

// Parses a JSON literal; fails the test on bad JSON.
inline boost::json::value json(std::string_view text) {
  auto r = parse_json(text);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  return std::move(r).value();
}

// Decodes `text` as T, failing the test on error.
template <class T>
T decode_text(std::string_view text) {
  DecodeContext ctx;
  auto r = decode<T>(json(text), ctx);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  return std::move(r).value();
}

// "field: Type..." strings of `errs`, for readable comparisons.
inline std::vector<std::string> messages(const FieldErrors& errs) {
  std::vector<std::string> out;
  for (const auto& e : errs) out.push_back(e.to_string());
  return out;
}

inline bool contains(const FieldErrors& errs, std::string_view message) {
  for (const auto& e : errs) {
    if (e.to_string() == message) return true;
  }
  return false;
}

inline std::string joined(const FieldErrors& errs) {
  std::string out;
  for (const auto& e : errs) out += e.to_string() + "\n";
  return out;
}

// `kubectl create deployment kuard --image=kuard --replicas=5 --dry-run=client -o json`.
inline constexpr std::string_view kKuardDeployment = R"({
  "kind": "Deployment",
  "apiVersion": "apps/v1",
  "metadata": {"name": "kuard", "creationTimestamp": null, "labels": {"app": "kuard"}},
  "spec": {
    "replicas": 5,
    "selector": {"matchLabels": {"app": "kuard"}},
    "template": {
      "metadata": {"creationTimestamp": null, "labels": {"app": "kuard"}},
      "spec": {"containers": [{"name": "kuard", "image": "kuard", "resources": {}}]}
    },
    "strategy": {}
  },
  "status": {}
})";

// `kubectl run kuard --image=kuard --dry-run=client -o json`.
inline constexpr std::string_view kKuardPod = R"({
  "kind": "Pod",
  "apiVersion": "v1",
  "metadata": {"name": "kuard", "creationTimestamp": null, "labels": {"run": "kuard"}},
  "spec": {
    "containers": [{"name": "kuard", "image": "kuard", "resources": {}}],
    "restartPolicy": "Always",
    "dnsPolicy": "ClusterFirst"
  },
  "status": {}
})";

}  // namespace orch::api::testing
