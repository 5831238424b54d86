// The resource registry: lookups, storage keys, and the type-erased normalize/validate path.
// Thread-safety: single-threaded test code.
#include <doctest.h>

#include <boost/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "object_test_util.hpp"
#include "orch/api/registry.hpp"

namespace orch::api {
namespace {

using testing::json;

TEST_CASE("find_resource by group, version and plural") {
  struct Case {
    const char* group;
    const char* resource;
    const char* kind;
    bool namespaced;
    bool has_status;
    bool has_scale;
    const char* short_name;
  };
  const std::vector<Case> cases = {
      {"", "pods", "Pod", true, true, false, "po"},
      {"", "services", "Service", true, true, false, "svc"},
      {"", "namespaces", "Namespace", false, true, false, "ns"},
      {"", "nodes", "Node", false, true, false, "no"},
      {"", "configmaps", "ConfigMap", true, false, false, "cm"},
      {"", "secrets", "Secret", true, false, false, nullptr},
      {"", "endpoints", "Endpoints", true, false, false, "ep"},
      {"", "events", "Event", true, false, false, "ev"},
      {"", "persistentvolumes", "PersistentVolume", false, true, false, "pv"},
      {"", "persistentvolumeclaims", "PersistentVolumeClaim", true, true, false, "pvc"},
      {"apps", "deployments", "Deployment", true, true, true, "deploy"},
      {"apps", "replicasets", "ReplicaSet", true, true, true, "rs"},
      {"apps", "statefulsets", "StatefulSet", true, true, true, "sts"},
      {"apps", "daemonsets", "DaemonSet", true, true, false, "ds"},
      {"apps", "controllerrevisions", "ControllerRevision", true, false, false, nullptr},
      {"coordination.k8s.io", "leases", "Lease", true, false, false, nullptr},
      {"storage.k8s.io", "storageclasses", "StorageClass", false, false, false, "sc"},
      {"discovery.k8s.io", "endpointslices", "EndpointSlice", true, false, false, nullptr},
  };
  for (const auto& c : cases) {
    SUBCASE(c.resource) {
      const ResourceInfo* info = find_resource(c.group, "v1", c.resource);
      REQUIRE(info != nullptr);
      CHECK(info->kind == c.kind);
      CHECK(info->list_kind == std::string(c.kind) + "List");
      CHECK(info->namespaced == c.namespaced);
      CHECK(info->has_status == c.has_status);
      CHECK(info->has_scale == c.has_scale);
      if (c.short_name != nullptr) {
        REQUIRE(!info->short_names.empty());
        CHECK(info->short_names[0] == c.short_name);
      } else {
        CHECK(info->short_names.empty());
      }
      CHECK(find_kind(info->api_version(), c.kind) == info);
    }
  }
  CHECK(find_resource("", "v1", "deployments") == nullptr);
  CHECK(find_resource("apps", "v2", "deployments") == nullptr);
  CHECK(find_resource("apps", "v1", "Deployment") == nullptr);
  CHECK(find_kind("v1", "Deployment") == nullptr);
  CHECK(find_kind("apps/v1", "Pod") == nullptr);
}

TEST_CASE("names, api versions and verbs") {
  const ResourceInfo* deploy = find_resource("apps", "v1", "deployments");
  REQUIRE(deploy != nullptr);
  CHECK(deploy->api_version() == "apps/v1");
  CHECK(deploy->qualified_kind() == "Deployment.apps");
  CHECK(deploy->qualified_resource() == "deployments.apps");
  CHECK(deploy->singular == "deployment");
  CHECK(deploy->categories == std::vector<std::string_view>{"all"});
  const ResourceInfo* pods = find_resource("", "v1", "pods");
  REQUIRE(pods != nullptr);
  CHECK(pods->api_version() == "v1");
  CHECK(pods->qualified_kind() == "Pod");
  CHECK(pods->qualified_resource() == "pods");
  const ResourceInfo* ns = find_resource("", "v1", "namespaces");
  REQUIRE(ns != nullptr);
  CHECK(std::find(ns->verbs.begin(), ns->verbs.end(), "deletecollection") == ns->verbs.end());

  std::set<std::pair<std::string_view, std::string_view>> resources, kinds;
  for (const auto& info : all_resources()) {
    CHECK_MESSAGE(resources.emplace(info.group, info.resource).second, info.resource);
    CHECK_MESSAGE(kinds.emplace(info.group, info.kind).second, info.kind);
    CHECK(info.ops != nullptr);
    for (std::string_view verb : {"get", "list", "watch", "create", "update", "patch", "delete"}) {
      CHECK_MESSAGE(std::find(info.verbs.begin(), info.verbs.end(), verb) != info.verbs.end(),
                    info.resource << " " << verb);
    }
    CHECK(std::is_sorted(info.verbs.begin(), info.verbs.end()));
  }
  CHECK(all_resources().size() == 18);
}

TEST_CASE("find_resource_by_name takes what a CLI user types") {
  struct Case {
    const char* name;
    const char* kind;  // nullptr: unknown
  };
  const std::vector<Case> cases = {
      {"po", "Pod"},
      {"pods", "Pod"},
      {"Pod", "Pod"},
      {"PODS", "Pod"},
      {"deploy", "Deployment"},
      {"deployment", "Deployment"},
      {"deployments.apps", "Deployment"},
      {"sts", "StatefulSet"},
      {"svc", "Service"},
      {"ev", "Event"},
      {"leases.coordination.k8s.io", "Lease"},
      {"sc", "StorageClass"},
      {"pvc", "PersistentVolumeClaim"},
      {"deployments.core", nullptr},
      {"nope", nullptr},
      {"", nullptr},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      const ResourceInfo* info = find_resource_by_name(c.name);
      if (c.kind == nullptr) {
        CHECK(info == nullptr);
      } else {
        REQUIRE(info != nullptr);
        CHECK(info->kind == c.kind);
      }
    }
  }
}

TEST_CASE("storage keys: /registry/<group or core>/<resource>/[<namespace>/]<name>") {
  const auto& pods = *find_resource("", "v1", "pods");
  const auto& deployments = *find_resource("apps", "v1", "deployments");
  const auto& nodes = *find_resource("", "v1", "nodes");
  const auto& leases = *find_resource("coordination.k8s.io", "v1", "leases");
  CHECK(storage_key(pods, "default", "kuard") == "/registry/core/pods/default/kuard");
  CHECK(storage_key(deployments, "default", "kuard") ==
        "/registry/apps/deployments/default/kuard");
  CHECK(storage_key(nodes, "ignored", "node-1") == "/registry/core/nodes/node-1");
  CHECK(storage_key(leases, "kube-node-lease", "node-1") ==
        "/registry/coordination.k8s.io/leases/kube-node-lease/node-1");
  CHECK(storage_prefix(pods) == "/registry/core/pods/");
  CHECK(storage_prefix(pods, "default") == "/registry/core/pods/default/");
  CHECK(storage_prefix(nodes, "x") == "/registry/core/nodes/");
  // A namespace's prefix never captures another namespace that extends its name.
  CHECK(storage_key(pods, "default2", "a").rfind(storage_prefix(pods, "default"), 0) ==
        std::string::npos);
}

TEST_CASE("normalize fills apiVersion/kind and defaults, as for a Python client's create") {
  const auto& pods = *find_resource("", "v1", "pods");
  auto n = normalize(pods, json(R"({"metadata":{"labels":{"app":"py"},"name":"pyp"},
                                    "spec":{"containers":[{"image":"kuard","name":"c"}]}})"));
  REQUIRE_MESSAGE(n.ok(), n.status().to_string());
  CHECK(n->warnings.empty());
  CHECK(n->object.at("apiVersion") == "v1");
  CHECK(n->object.at("kind") == "Pod");
  CHECK(n->object.at("spec").at("restartPolicy") == "Always");
  CHECK(n->object.at("spec").at("containers").at(0).at("imagePullPolicy") == "Always");
  CHECK(n->object.at("metadata").at("creationTimestamp").is_null());
  CHECK(validate_create(pods, n->object).code() == Code::kInvalidArgument);  // no namespace yet

  auto raw = normalize(pods, json(R"({"spec":{}})"), {.apply_defaults = false});
  REQUIRE(raw.ok());
  CHECK(!raw->object.at("spec").as_object().contains("restartPolicy"));
}

TEST_CASE("normalize drops unknown fields with warnings, or rejects them when strict") {
  const auto& deployments = *find_resource("apps", "v1", "deployments");
  const auto body = json(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
                             "spec":{"replicas":2,"foo":1},"status":{"bar":2}})");
  auto lenient = normalize(deployments, body);
  REQUIRE(lenient.ok());
  CHECK(lenient->warnings ==
        std::vector<std::string>{R"(unknown field "spec.foo")", R"(unknown field "status.bar")"});
  CHECK(!lenient->object.at("spec").as_object().contains("foo"));
  CHECK(lenient->object.at("spec").at("replicas") == 2);

  auto strict = normalize(deployments, body, {.strict = true});
  REQUIRE(!strict.ok());
  CHECK(strict.status().code() == Code::kBadRequest);
  CHECK(strict.status().message() ==
        R"(Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.foo", unknown field "status.bar")");
}

TEST_CASE("normalize rejects malformed bodies") {
  const auto& deployments = *find_resource("apps", "v1", "deployments");
  struct Case {
    const char* name;
    const char* body;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"wrong type", R"({"spec":{"replicas":"two"}})",
       R"(Deployment in version "v1" cannot be handled as a Deployment: spec.replicas: expected integer, got string)"},
      {"not an object", R"([1])",
       R"(Deployment in version "v1" cannot be handled as a Deployment: expected object, got array)"},
      {"other api version", R"({"apiVersion":"v1","kind":"Deployment"})",
       "the API version in the data (v1) does not match the expected API version (apps/v1)"},
      {"other kind", R"({"apiVersion":"apps/v1","kind":"ReplicaSet"})",
       "the kind in the data (ReplicaSet) does not match the expected kind (Deployment)"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      auto r = normalize(deployments, json(c.body));
      REQUIRE(!r.ok());
      CHECK(r.status().code() == Code::kBadRequest);
      CHECK(r.status().message() == c.message);
    }
  }
}

TEST_CASE("validate_create and validate_update through the registry") {
  const auto& deployments = *find_resource("apps", "v1", "deployments");
  auto created = normalize(deployments, json(R"({"metadata":{"name":"kuard","namespace":"default"},
      "spec":{"template":{"metadata":{"labels":{"app":"kuard"}},
      "spec":{"containers":[{"name":"kuard","image":"kuard"}]}}}})"));
  REQUIRE(created.ok());
  const Status s = validate_create(deployments, created->object);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message() ==
        "Deployment.apps \"kuard\" is invalid: [spec.selector: Required value, "
        "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"kuard\"}: "
        "`selector` does not match template `labels`]");
  REQUIRE(s.causes().size() == 2);
  CHECK(s.causes()[0].field == "spec.selector");
  CHECK(s.causes()[0].type == "FieldValueRequired");
  CHECK(s.causes()[1].field == "spec.template.metadata.labels");
  CHECK(s.causes()[1].type == "FieldValueInvalid");

  auto good = normalize(deployments, json(testing::kKuardDeployment));
  REQUIRE(good.ok());
  auto obj = good->object;
  obj.at("metadata").as_object()["namespace"] = "default";
  CHECK(validate_create(deployments, obj).ok());
  auto changed = obj;
  changed.at("spec").at("selector").at("matchLabels").as_object()["tier"] = "web";
  changed.at("spec").at("template").at("metadata").at("labels").as_object()["tier"] = "web";
  const Status u = validate_update(deployments, changed, obj);
  CHECK(u.code() == Code::kInvalidArgument);
  REQUIRE(u.causes().size() == 1);
  CHECK(u.causes()[0].field == "spec.selector");
  CHECK(u.causes()[0].message ==
        "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"kuard\", "
        "\"tier\":\"web\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is "
        "immutable");
  auto scaled = obj;
  scaled.at("spec").as_object()["replicas"] = 10;
  CHECK(validate_update(deployments, scaled, obj).ok());

  // A body that does not decode is BadRequest, not Invalid.
  CHECK(validate_create(deployments, json(R"({"spec":{"replicas":"x"}})")).code() ==
        Code::kBadRequest);
}

}  // namespace
}  // namespace orch::api
