// pods/{name}/log and pods/{name}/portforward: the API server's side of `kubectl logs` and
// `kubectl port-forward`, proxied to the agent's node server (orch/agent/node_server.hpp) on the
// pod's node. Private to the API server.
//
// The node is found from the pod's spec.nodeName; its address is the Node's first InternalIP in
// status.addresses (else its first address) and its port status.daemonEndpoints.kubeletEndpoint.
// Port. Requests to it carry `Authorization: Bearer <ApiServerOptions::node_token>`.
//
// Both answers are ConnectionTakeovers (lib/apiserver/http/takeover.hpp): the HTTP listener hands
// the client connection over. Port-forward speaks what kubectl sends: a WebSocket upgrade with the
// subprotocol `SPDY/3.1+portforward.k8s.io` (kubectl 1.30+: SPDY tunnelled in binary WebSocket
// messages) or `Upgrade: SPDY/3.1` (kubectl 1.20, and 1.32's fallback); each requestID's data
// stream becomes one node connection `GET /portForward/{ns}/{pod}?port=N` upgraded to a raw byte
// stream.
//
// Thread-safety: the functions are called from handler threads and only build Responses; the
// takeovers then run on the HTTP listener's network thread.
#pragma once

#include <functional>
#include <string>

#include <boost/json/value.hpp>

#include "orch/apiserver/handler.hpp"
#include "orch/status.hpp"

namespace orch::apiserver {

// Reads a Node object by name (NotFound when there is none).
using NodeLookup = std::function<Result<boost::json::value>(const std::string& node_name)>;

// GET pods/{name}/log. BadRequest when the container is missing and the pod has several
// ("a container name must be specified for pod X, choose one of: [a b]"), names none of the
// pod's containers, or the pod has no node yet; the node's errors pass through (NotFound for a
// container without a log, BadRequest for `previous` without an earlier restart).
// With `node_ca_pem`, the node server is reached over HTTPS and its certificate verified against
// that CA and the node's address.
Response pod_log(const Request& request, const boost::json::value& pod, const NodeLookup& nodes,
                 const std::string& node_token, const std::string& node_ca_pem = "");

// pods/{name}/portforward (GET for WebSocket, POST for SPDY). BadRequest without a supported
// upgrade or when the pod has no node.
Response pod_port_forward(const Request& request, const boost::json::value& pod,
                          const NodeLookup& nodes, const std::string& node_token,
                          const std::string& node_ca_pem = "");

}  // namespace orch::apiserver
