// The server's PKI, tokens and kubeconfig. See security.hpp.
#include "security.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>

#include "orch/api/bytes.hpp"
#include "orch/apiserver/status_body.hpp"

namespace orch::cluster {
namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return {};
  return buf;
}

}  // namespace

Result<ServerSecurity> load_server_security(const std::string& data_dir,
                                            const std::string& listen_address) {
  ServerSecurity s;
  const std::string tls_dir = data_dir + "/tls";
  ORCH_ASSIGN_OR_RETURN(s.ca, pki::load_or_create_ca(tls_dir));
  std::vector<std::string> sans = {"127.0.0.1", "::1", "localhost"};
  if (!listen_address.empty() && listen_address != "0.0.0.0" && listen_address != "::") {
    sans.push_back(listen_address);
  }
  if (auto h = host_name(); !h.empty()) sans.push_back(h);
  ORCH_ASSIGN_OR_RETURN(s.serving, pki::load_or_issue_serving_cert(tls_dir, "apiserver", s.ca, sans));

  ORCH_ASSIGN_OR_RETURN(std::string admin, pki::random_hex(32));
  ORCH_ASSIGN_OR_RETURN(s.admin_token, pki::load_or_create_secret(tls_dir + "/admin.token", admin));
  s.admin_token = trimmed(s.admin_token);

  ORCH_ASSIGN_OR_RETURN(std::string secret, pki::random_hex(32));
  ORCH_ASSIGN_OR_RETURN(std::string token,
                        pki::load_or_create_secret(data_dir + "/node-token",
                                                   pki::format_node_token(s.ca.cert_pem, secret) + "\n"));
  ORCH_ASSIGN_OR_RETURN(pki::NodeToken parsed, pki::parse_node_token(token));
  if (!parsed.ca_hash.empty() && parsed.ca_hash != pki::sha256_hex(s.ca.cert_pem)) {
    return invalid_argument(data_dir + "/node-token does not match " + tls_dir +
                            "/ca.crt; remove node-token to make a new one");
  }
  s.node_token = trimmed(token);
  s.node_secret = parsed.secret;
  if (s.admin_token.empty() || s.node_secret.empty()) {
    return invalid_argument("empty token in " + data_dir);
  }
  return s;
}

Result<pki::CertKey> issue_node_cert(const ServerSecurity& security, const std::string& node_name,
                                     const std::string& node_ip) {
  std::vector<std::string> sans = {node_ip};
  if (!node_name.empty()) sans.push_back(node_name);
  return pki::issue_serving_cert(security.ca, "system:node:" + node_name, sans);
}

void apply_server_security(const ServerSecurity& security, apiserver::HttpServerOptions& http) {
  http.tls_cert_pem = security.serving.cert_pem;
  http.tls_key_pem = security.serving.key_pem;
  http.bearer_tokens = {security.admin_token, security.node_secret};
  auto previous = http.pre_handler;
  http.pre_handler = [security, previous](const apiserver::Request& r) -> std::optional<apiserver::Response> {
    if (r.method != "GET" && r.method != "HEAD") return previous ? previous(r) : std::nullopt;
    if (r.path == "/cacerts") {
      apiserver::Response res;
      res.content_type = "text/plain";
      res.body = security.ca.cert_pem;
      return res;
    }
    if (r.path == "/v1-orch/node-serving-cert") {
      // Authenticated already; agents only (the admin has no use for a node's key).
      if (r.header("authorization") != "Bearer " + security.node_secret) {
        return apiserver::status_response(
            Status(Code::kPermissionDenied, "only nodes may ask for a node serving certificate"));
      }
      auto node = r.param("node");
      auto ip = r.param("ip");
      boost::system::error_code ec;
      if (!node || node->empty() || !ip) return apiserver::status_response(bad_request("node and ip are required"));
      boost::asio::ip::make_address(std::string(*ip), ec);
      if (ec) return apiserver::status_response(bad_request("ip: not an IP address"));
      auto cert = issue_node_cert(security, std::string(*node), std::string(*ip));
      if (!cert.ok()) return apiserver::status_response(cert.status());
      apiserver::Response res;
      res.body = boost::json::serialize(boost::json::object{{"cert", cert->cert_pem}, {"key", cert->key_pem}});
      return res;
    }
    return previous ? previous(r) : std::nullopt;
  };
}

Status write_admin_kubeconfig(const std::string& path, const std::string& server_url,
                              const ServerSecurity* security) {
  std::string cluster = fmt::format("    server: {}\n", server_url);
  std::string user = "  user: {}\n";
  if (security) {
    cluster += fmt::format("    certificate-authority-data: {}\n",
                           api::base64_encode(security->ca.cert_pem));
    user = fmt::format("  user:\n    token: {}\n", security->admin_token);
  }
  const std::string text = fmt::format(
      "apiVersion: v1\n"
      "kind: Config\n"
      "clusters:\n"
      "- name: orch\n"
      "  cluster:\n"
      "{}"
      "contexts:\n"
      "- name: orch\n"
      "  context:\n"
      "    cluster: orch\n"
      "    user: admin\n"
      "    namespace: default\n"
      "current-context: orch\n"
      "users:\n"
      "- name: admin\n"
      "{}",
      cluster, user);
  return pki::write_file_atomic(path, text, 0600);
}

}  // namespace orch::cluster
