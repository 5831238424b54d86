// Kubeconfig: loading, merging and writing kubectl's config files, and building a Transport from
// one of their contexts.
//
// Loading follows client-go's clientcmd:
// - An explicit path (kubectl --kubeconfig) is the only file read; it must exist.
// - Otherwise $KUBECONFIG, a ':'-separated list, is read in order (empty entries and duplicates
//   skipped, missing files ignored); when KUBECONFIG is unset or empty, ~/.kube/config (missing:
//   an empty config).
// - Merging: the first file to set a value wins. Clusters, users and contexts are maps merged by
//   name (a whole entry comes from the first file that names it, never field by field);
//   current-context comes from the first file that sets it.
// - Relative file paths in a file (certificate-authority, client-certificate, client-key,
//   token-file) are resolved against that file's directory.
// - Errors name the file: `error loading config file "/x": <why>`.
//
// *-data fields hold the decoded bytes (PEM text); the YAML holds them base64-encoded.
//
// Thread-safety: values and functions without shared state (load_kubeconfig reads the
// environment).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "orch/client/http_transport.hpp"
#include "orch/client/transport.hpp"
#include "orch/status.hpp"

namespace orch::client {

struct KubeCluster {
  std::string server{};                  // "https://127.0.0.1:6443"
  std::string certificate_authority{};   // a PEM file
  std::string certificate_authority_data{};  // PEM text (decoded from base64)
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name{};
  bool operator==(const KubeCluster&) const = default;
};

struct KubeUser {
  std::string token{};
  std::string token_file{};
  std::string client_certificate{};       // a PEM file
  std::string client_certificate_data{};  // PEM text
  std::string client_key{};               // a PEM file
  std::string client_key_data{};          // PEM text
  std::string username{};
  std::string password{};
  bool operator==(const KubeUser&) const = default;
};

struct KubeContext {
  std::string cluster{};
  std::string user{};
  std::string namespace_{};  // YAML "namespace"
  bool operator==(const KubeContext&) const = default;
};

struct Config {
  std::map<std::string, KubeCluster> clusters{};
  std::map<std::string, KubeUser> users{};
  std::map<std::string, KubeContext> contexts{};
  std::string current_context{};
  bool operator==(const Config&) const = default;

  // The kubeconfig YAML (apiVersion v1, kind Config; lists sorted by name; *-data base64), as
  // kubectl writes it. Loading the result gives back an equal Config.
  std::string to_yaml() const;
};

// Parses kubeconfig YAML. Relative paths are resolved against `base_dir` when it is not empty.
// `source` names the origin in messages (a file name). BadRequest: not YAML, or a field of the
// wrong shape, or *-data that is not base64; the message is
// `error loading config file "<source>": ...`.
Result<Config> parse_kubeconfig(std::string_view yaml, std::string_view source = "<input>",
                                std::string_view base_dir = "");
// Reads one file (relative paths resolved against its directory). NotFound when it does not
// exist; BadRequest as parse_kubeconfig; both messages name the file.
Result<Config> load_kubeconfig_file(const std::string& path);
// Merges `configs` by client-go's rules (first wins; see above).
Config merge_kubeconfigs(const std::vector<Config>& configs);
// Loads like kubectl: `explicit_path` when not empty, else $KUBECONFIG, else ~/.kube/config.
// Errors as load_kubeconfig_file (the first file that fails).
Result<Config> load_kubeconfig(const std::string& explicit_path = "");
// The same with the file list given (what load_kubeconfig derives from $KUBECONFIG): missing
// files skipped, empty entries and repeats ignored.
Result<Config> load_kubeconfig_files(const std::vector<std::string>& paths);

// The options of an HTTP transport for `context` ("" = current-context): its cluster's server
// and TLS settings, its user's credentials (files left as paths for the transport to read).
// InvalidArgument: no context chosen, or the context, its cluster or its user missing, or a
// cluster without a server (client-go's wording, e.g. `context "x" does not exist`).
Result<HttpTransportOptions> http_options_from_kubeconfig(const Config& config,
                                                          std::string_view context = "");
// make_http_transport(http_options_from_kubeconfig(...)). Errors of both.
Result<std::unique_ptr<Transport>> transport_from_kubeconfig(const Config& config,
                                                             std::string_view context = "");
// The namespace `context` ("" = current-context) selects; "default" when it sets none.
// InvalidArgument when the context is missing.
Result<std::string> kubeconfig_namespace(const Config& config, std::string_view context = "");

}  // namespace orch::client
