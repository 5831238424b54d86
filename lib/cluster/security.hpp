// The server side of "secure by default" (private to lib/cluster): the data directory's PKI and
// tokens, the API listener's TLS/authentication settings, the admin kubeconfig and the node
// join token files.
//
// Files (all under the data directory, created on first start, loaded afterwards):
//   tls/ca.crt, tls/ca.key (0600)          the cluster CA
//   tls/apiserver.crt, tls/apiserver.key   the API server's serving certificate
//   tls/admin.token (0600)                 the admin bearer token
//   node-token (0600)                      K10<sha256 of ca.crt>::server:<secret>, for agents
//   kubeconfig (0600)                      rewritten every start (the port may change)
//
// Thread-safety: plain functions and values.
#pragma once

#include <string>
#include <vector>

#include "orch/apiserver/http_server.hpp"
#include "orch/pki/pki.hpp"
#include "orch/status.hpp"

namespace orch::cluster {

struct ServerSecurity {
  pki::CertKey ca;
  pki::CertKey serving;
  std::string admin_token;
  std::string node_secret;  // what agents present (the node token's secret part)
  std::string node_token;   // the whole join token (node-token's content)
};

// Loads or creates everything above for an API server listening on `listen_address` (added to
// the serving certificate's SANs with 127.0.0.1, ::1, localhost and the host name).
Result<ServerSecurity> load_server_security(const std::string& data_dir,
                                            const std::string& listen_address);

// A node server's certificate (SANs: `node_ip` and `node_name`), signed by the cluster CA.
Result<pki::CertKey> issue_node_cert(const ServerSecurity& security, const std::string& node_name,
                                     const std::string& node_ip);

// TLS, the two bearer tokens, and two endpoints outside the Kubernetes API:
//   GET /cacerts   the CA PEM, open (as k3s serves it), for agents to pin against their token;
//   GET /v1-orch/node-serving-cert?node=NAME&ip=IP   with the node token only: a new node
//       server certificate, JSON {"cert": PEM, "key": PEM} (k3s hands agents their kubelet
//       serving certificate the same way).
void apply_server_security(const ServerSecurity& security, apiserver::HttpServerOptions& http);

// The admin kubeconfig for `server_url` (0600, atomically): CA data embedded and the admin token
// when `security` is set; a bare server entry otherwise.
Status write_admin_kubeconfig(const std::string& path, const std::string& server_url,
                              const ServerSecurity* security);

}  // namespace orch::cluster
