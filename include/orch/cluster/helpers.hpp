// Helpers that replace sleeps in tests and programs that drive a cluster: apply manifests, wait
// for an object to reach a state (driven by watch events, not polling), read Events. They work
// on any client (in-process or HTTP), so on an embedded Cluster and on a remote one alike.
//
//   auto c = orch::cluster::Cluster::start({.nodes = 3});
//   auto client = (*c)->client();
//   ORCH_TRY(orch::cluster::apply(*client, manifest_yaml).status());
//   auto d = orch::cluster::wait_for(*client, "deployments", "default", "web",
//                                    orch::cluster::available(3), 30s);
//
// Thread-safety: stateless; any thread, as the client allows.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/fwd.hpp>

#include "orch/status.hpp"

namespace orch::client {
class Client;
}

namespace orch::cluster {

// Creates each document of a YAML (or JSON) stream, or replaces it when it exists (keeping the
// live resourceVersion and status): kubectl apply without the three-way merge. Namespaced objects
// without metadata.namespace go to `default_namespace`. Returns the objects as stored, in order.
// InvalidArgument for a document of an unknown kind or bad YAML; the API's error otherwise (the
// documents before it are applied).
Result<std::vector<boost::json::value>> apply(const client::Client& client, std::string_view yaml,
                                              std::string_view default_namespace = "default");

using ObjectPredicate = std::function<bool(const boost::json::value&)>;

// Waits until object `ns`/`name` of `resource` (a plural, singular, short name or kind, e.g.
// "deployments", "deploy", "Deployment") exists and `predicate` (null: always) is true of it;
// returns it. Reads once, then follows a watch from that read, so no change is missed and no
// time is spent sleeping. DeadlineExceeded (with the last state seen) when `timeout` passes;
// InvalidArgument for an unknown resource.
Result<boost::json::value> wait_for(const client::Client& client, std::string_view resource,
                                    std::string_view ns, std::string_view name,
                                    ObjectPredicate predicate, std::chrono::milliseconds timeout);

// Predicates for wait_for.
// A Deployment/ReplicaSet/StatefulSet whose status has `replicas` updated, ready and available
// replicas for its current generation.
ObjectPredicate available(std::int64_t replicas);
// A Pod in phase Running whose Ready condition is True.
ObjectPredicate pod_ready();

// The core/v1 Events of `ns` ("" for all namespaces), oldest first; when `involved_name` is not
// empty, only those about an object of that name.
Result<std::vector<boost::json::value>> events(const client::Client& client, std::string_view ns,
                                               std::string_view involved_name = {});

}  // namespace orch::cluster
