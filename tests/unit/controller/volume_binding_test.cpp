// Kubernetes' PersistentVolume binding rules (orch/controller/volume_binding.hpp): which volume
// fits which claim, which one the binder picks, and how a claim's class is resolved.
#include <doctest.h>

#include <boost/json.hpp>

#include <string>
#include <vector>

#include "orch/controller/volume_binding.hpp"

namespace orch::controller::volume {
namespace {

namespace json = boost::json;

json::value claim(const std::string& extra_spec = "") {
  return json::parse(R"({"metadata":{"name":"data","namespace":"default","uid":"c-1"},
    "spec":{"accessModes":["ReadWriteOnce"],"storageClassName":"fast",
            "resources":{"requests":{"storage":"1Gi"}})" +
                     extra_spec + "}}");
}

// A volume named `name` of `size` in class "fast" offering RWO and ROX, labelled tier=db; `spec`
// and `meta` are spliced into its spec and metadata.
json::value pv(const std::string& name, const std::string& size, const std::string& spec = "",
               const std::string& meta = "") {
  return json::parse(R"({"metadata":{"name":")" + name + R"(","labels":{"tier":"db"})" + meta +
                     R"(},"spec":{"capacity":{"storage":")" + size +
                     R"("},"accessModes":["ReadWriteOnce","ReadOnlyMany"],"storageClassName":"fast",
                     "local":{"path":"/v"})" +
                     spec + R"(},"status":{"phase":"Available"}})");
}

TEST_CASE("volume_fits: capacity, access modes, class, volume mode, selector, claimRef, node") {
  struct Case {
    const char* name;
    json::value claim;
    json::value pv;
    bool fits;
  };
  const std::vector<Case> cases = {
      {"same size", claim(), pv("a", "1Gi"), true},
      {"larger", claim(), pv("a", "10Gi"), true},
      {"smaller", claim(), pv("a", "512Mi"), false},
      {"1Gi is 1073741824 bytes", claim(), pv("a", "1073741824"), true},
      {"missing access mode", claim(R"(,"accessModes":["ReadWriteMany"])"), pv("a", "1Gi"),
       false},
      {"subset of access modes",
       claim(R"(,"accessModes":["ReadOnlyMany","ReadWriteOnce"])"), pv("a", "1Gi"), true},
      {"other class", claim(), pv("a", "1Gi", R"(,"storageClassName":"slow")"), false},
      {"Block volume, Filesystem claim", claim(), pv("a", "1Gi", R"(,"volumeMode":"Block")"),
       false},
      {"explicit Filesystem on both", claim(R"(,"volumeMode":"Filesystem")"),
       pv("a", "1Gi", R"(,"volumeMode":"Filesystem")"), true},
      {"selector matches", claim(R"(,"selector":{"matchLabels":{"tier":"db"}})"), pv("a", "1Gi"),
       true},
      {"selector does not match", claim(R"(,"selector":{"matchLabels":{"tier":"web"}})"),
       pv("a", "1Gi"), false},
      {"selector expression",
       claim(R"(,"selector":{"matchExpressions":[{"key":"tier","operator":"In","values":["db","x"]}]})"),
       pv("a", "1Gi"), true},
      {"bound to another claim", claim(),
       pv("a", "1Gi", R"(,"claimRef":{"namespace":"default","name":"other","uid":"c-2"})"), false},
      {"pre-bound to this claim by name", claim(),
       pv("a", "1Gi", R"(,"claimRef":{"namespace":"default","name":"data"})"), true},
      {"claimRef with another uid (an older claim of the same name)", claim(),
       pv("a", "1Gi", R"(,"claimRef":{"namespace":"default","name":"data","uid":"old"})"), false},
      {"being deleted", claim(),
       pv("a", "1Gi", "", R"(,"deletionTimestamp":"2024-01-01T00:00:00Z")"), false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(volume_fits(c.claim, "fast", c.pv) == c.fits);
  }
}

TEST_CASE("volume_fits asks the node check about the volume's required node affinity") {
  json::value local = pv("a", "1Gi", R"(,"nodeAffinity":{"required":{"nodeSelectorTerms":[
      {"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["n1"]}]}]}})");
  const json::value* seen = nullptr;
  NodeCheck reject = [&](const json::value* required) {
    seen = required;
    return false;
  };
  CHECK_FALSE(volume_fits(claim(), "fast", local, reject));
  REQUIRE(seen != nullptr);
  CHECK(seen->at("nodeSelectorTerms").as_array().size() == 1);
  CHECK(volume_fits(claim(), "fast", local, [](const json::value*) { return true; }));
  // A volume without affinity is offered as nullptr.
  bool null_seen = false;
  CHECK(volume_fits(claim(), "fast", pv("b", "1Gi"), [&](const json::value* r) {
    null_seen = r == nullptr;
    return true;
  }));
  CHECK(null_seen);
}

TEST_CASE("best_volume: pre-bound first, else the smallest Available fit, by name on ties") {
  struct Case {
    const char* name;
    std::vector<json::value> pvs;
    const char* want;  // "" for none
  };
  const std::vector<Case> cases = {
      {"smallest of three", {pv("big", "10Gi"), pv("small", "2Gi"), pv("mid", "5Gi")}, "small"},
      {"too small ones skipped", {pv("tiny", "100Mi"), pv("ok", "3Gi")}, "ok"},
      {"ties by name", {pv("b", "2Gi"), pv("a", "2Gi")}, "a"},
      {"pre-bound wins over smaller",
       {pv("small", "1Gi"),
        pv("mine", "8Gi", R"(,"claimRef":{"namespace":"default","name":"data","uid":"c-1"})")},
       "mine"},
      {"Released is not reused",
       {[] {
          auto v = pv("old", "1Gi");
          v.as_object()["status"].as_object()["phase"] = "Released";
          return v;
        }()},
       ""},
      {"Pending (just created) counts", {[] {
                                           auto v = pv("new", "1Gi");
                                           v.as_object()["status"].as_object()["phase"] = "Pending";
                                           return v;
                                         }()},
       "new"},
      {"nothing fits", {pv("a", "1Mi", R"(,"storageClassName":"slow")")}, ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    std::vector<const json::value*> ptrs;
    for (const auto& v : c.pvs) ptrs.push_back(&v);
    const json::value* got = best_volume(claim(), "fast", ptrs);
    if (*c.want == '\0') {
      CHECK(got == nullptr);
    } else {
      REQUIRE(got != nullptr);
      CHECK(got->at("metadata").at("name") == c.want);
    }
  }
}

TEST_CASE("a claim's class: spec, beta annotation, unset; the newest default class") {
  CHECK(claim_class(claim()) == std::optional<std::string>("fast"));
  CHECK(claim_class(json::parse(R"({"spec":{"storageClassName":""}})")) ==
        std::optional<std::string>(""));
  CHECK(claim_class(json::parse(
            R"({"metadata":{"annotations":{"volume.beta.kubernetes.io/storage-class":"old"}},"spec":{}})")) ==
        std::optional<std::string>("old"));
  CHECK_FALSE(claim_class(json::parse(R"({"spec":{}})")).has_value());

  json::value plain = json::parse(R"({"metadata":{"name":"plain"}})");
  json::value d1 = json::parse(R"({"metadata":{"name":"d1","creationTimestamp":"2024-01-01T00:00:00Z",
      "annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}})");
  json::value d2 = json::parse(R"({"metadata":{"name":"d2","creationTimestamp":"2024-02-01T00:00:00Z",
      "annotations":{"storageclass.beta.kubernetes.io/is-default-class":"true"}}})");
  CHECK(default_class({&plain}) == nullptr);
  CHECK(default_class({&plain, &d1}) == &d1);
  CHECK(default_class({&d1, &d2, &plain}) == &d2);
  CHECK(volume_class(pv("a", "1Gi")) == "fast");
  CHECK(requested_bytes(claim()) == 1073741824);
  CHECK(capacity_bytes(pv("a", "2Gi")) == 2147483648);
}

}  // namespace
}  // namespace orch::controller::volume
