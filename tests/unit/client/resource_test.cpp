// Resource paths and object metadata accessors.
#include <doctest.h>

#include <boost/json.hpp>

#include "orch/client/resource.hpp"

namespace orch::client {
namespace {

namespace json = boost::json;

TEST_CASE("resource_path builds core, group, namespaced and cluster-scoped paths") {
  struct Case {
    const char* what;
    Resource resource;
    std::string ns, name, sub;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"core namespaced collection", resources::kPods, "default", "", "",
       "/api/v1/namespaces/default/pods"},
      {"core all namespaces", resources::kPods, "", "", "", "/api/v1/pods"},
      {"core object", resources::kPods, "default", "kuard", "",
       "/api/v1/namespaces/default/pods/kuard"},
      {"core subresource", resources::kPods, "ns1", "kuard", "binding",
       "/api/v1/namespaces/ns1/pods/kuard/binding"},
      {"core cluster-scoped ignores ns", resources::kNodes, "default", "node-1", "",
       "/api/v1/nodes/node-1"},
      {"core cluster-scoped collection", resources::kNodes, "", "", "", "/api/v1/nodes"},
      {"namespaces resource", resources::kNamespaces, "", "kube-system", "",
       "/api/v1/namespaces/kube-system"},
      {"group namespaced", resources::kDeployments, "default", "web", "scale",
       "/apis/apps/v1/namespaces/default/deployments/web/scale"},
      {"group all namespaces", resources::kDeployments, "", "", "", "/apis/apps/v1/deployments"},
      {"dotted group", resources::kLeases, "kube-node-lease", "node-1", "",
       "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1"},
      {"group cluster-scoped", Resource{"storage.k8s.io", "v1", "storageclasses", false}, "x",
       "fast", "", "/apis/storage.k8s.io/v1/storageclasses/fast"},
      {"subresource without name is ignored", resources::kPods, "default", "", "status",
       "/api/v1/namespaces/default/pods"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.what) { CHECK(resource_path(c.resource, c.ns, c.name, c.sub) == c.want); }
  }
}

TEST_CASE("qualified_name") {
  CHECK(resources::kPods.qualified_name() == "pods");
  CHECK(resources::kDeployments.qualified_name() == "deployments.apps");
}

TEST_CASE("object metadata accessors and keys") {
  json::value pod = json::parse(
      R"j({"metadata":{"name":"kuard","namespace":"default","resourceVersion":"42","uid":"u-1"}})j");
  CHECK(object_name(pod) == "kuard");
  CHECK(object_namespace(pod) == "default");
  CHECK(object_resource_version(pod) == "42");
  CHECK(object_uid(pod) == "u-1");
  CHECK(object_key(pod) == "default/kuard");

  json::value node = json::parse(R"j({"metadata":{"name":"node-1"}})j");
  CHECK(object_key(node) == "node-1");
  CHECK(make_key("", "node-1") == "node-1");
  CHECK(make_key("ns", "a") == "ns/a");

  // Wrong shapes never throw.
  for (const char* text : {"null", "[]", "{}", R"j({"metadata":3})j", R"j({"metadata":{"name":7}})j"}) {
    json::value v = json::parse(text);
    CHECK(object_name(v).empty());
    CHECK(object_key(v).empty());
  }
}

}  // namespace
}  // namespace orch::client
