// Kubeconfig loading, merging, writing, and transports from contexts. yaml-cpp exceptions are
// caught here and become Statuses. Thread-safety: no shared state (reads the environment).
#include "orch/client/kubeconfig.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "orch/api/bytes.hpp"

namespace orch::client {

namespace fs = std::filesystem;

namespace {

std::string file_error_prefix(std::string_view source) {
  return "error loading config file \"" + std::string(source) + "\": ";
}

// Thrown inside the parser only, caught in parse_kubeconfig.
struct ShapeError {
  std::string message;
};

std::string scalar(const YAML::Node& parent, const char* key, const std::string& where) {
  YAML::Node n = parent[key];
  if (!n || n.IsNull()) return {};
  if (!n.IsScalar()) throw ShapeError{where + "." + key + ": expected a string"};
  return n.Scalar();
}

bool boolean(const YAML::Node& parent, const char* key, const std::string& where) {
  YAML::Node n = parent[key];
  if (!n || n.IsNull()) return false;
  bool b = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, b)) {
    throw ShapeError{where + "." + key + ": expected true or false"};
  }
  return b;
}

std::string data_field(const YAML::Node& parent, const char* key, const std::string& where) {
  std::string text = scalar(parent, key, where);
  if (text.empty()) return {};
  auto decoded = api::base64_decode(text);
  if (!decoded) throw ShapeError{where + "." + key + ": illegal base64 data"};
  return *decoded;
}

std::string resolve(const std::string& path, std::string_view base_dir) {
  if (path.empty() || base_dir.empty()) return path;
  fs::path p(path);
  if (p.is_absolute()) return path;
  return (fs::path(base_dir) / p).lexically_normal().string();
}

// Calls fn(name, body) for each entry of a named list ("clusters: [{name: x, cluster: {...}}]").
template <typename Fn>
void for_each_named(const YAML::Node& root, const char* list_key, const char* body_key, Fn fn) {
  YAML::Node list = root[list_key];
  if (!list || list.IsNull()) return;
  if (!list.IsSequence()) throw ShapeError{std::string(list_key) + ": expected a list"};
  std::set<std::string> seen;
  for (std::size_t i = 0; i < list.size(); ++i) {
    YAML::Node entry = list[i];
    std::string where = std::string(list_key) + "[" + std::to_string(i) + "]";
    if (!entry.IsMap()) throw ShapeError{where + ": expected a map"};
    std::string name = scalar(entry, "name", where);
    if (name.empty()) throw ShapeError{where + ".name: required"};
    if (!seen.insert(name).second) {
      throw ShapeError{where + ": duplicate name \"" + name + "\""};
    }
    YAML::Node body = entry[body_key];
    if (body && !body.IsNull() && !body.IsMap()) {
      throw ShapeError{where + "." + body_key + ": expected a map"};
    }
    fn(name, (body && body.IsMap()) ? body : YAML::Node(YAML::NodeType::Map), where + "." + body_key);
  }
}

// Strings YAML would read as something else (a bool, a number, null) are quoted.
bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  static const std::set<std::string> kSpecial = {
      "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
      "True", "False", "Yes", "No", "On", "Off", "Y", "N", "Null", "NULL",
      "TRUE", "FALSE", "YES", "NO", "ON", "OFF"};
  if (kSpecial.contains(s)) return true;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  if (end && *end == '\0') return true;
  return s.front() == ' ' || s.back() == ' ';
}

void emit_scalar(YAML::Emitter& out, const std::string& value) {
  if (needs_quotes(value)) {
    out << YAML::DoubleQuoted << value;
  } else {
    out << value;
  }
}

void emit_string(YAML::Emitter& out, const char* key, const std::string& value) {
  if (value.empty()) return;
  out << YAML::Key << key << YAML::Value;
  emit_scalar(out, value);
}

Result<std::string> context_name(const Config& config, std::string_view context) {
  std::string name(context.empty() ? std::string_view(config.current_context) : context);
  if (name.empty()) {
    return invalid_argument("invalid configuration: no context chosen (current-context is not set)");
  }
  return name;
}

}  // namespace

Result<Config> parse_kubeconfig(std::string_view yaml, std::string_view source,
                                std::string_view base_dir) {
  Config config;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (!root || root.IsNull()) return config;  // an empty file is an empty config
    if (!root.IsMap()) throw ShapeError{"expected a map at the top level"};
    for_each_named(root, "clusters", "cluster",
                   [&](const std::string& name, const YAML::Node& c, const std::string& where) {
                     KubeCluster k;
                     k.server = scalar(c, "server", where);
                     k.certificate_authority =
                         resolve(scalar(c, "certificate-authority", where), base_dir);
                     k.certificate_authority_data =
                         data_field(c, "certificate-authority-data", where);
                     k.insecure_skip_tls_verify = boolean(c, "insecure-skip-tls-verify", where);
                     k.tls_server_name = scalar(c, "tls-server-name", where);
                     config.clusters.emplace(name, std::move(k));
                   });
    for_each_named(root, "users", "user",
                   [&](const std::string& name, const YAML::Node& u, const std::string& where) {
                     KubeUser k;
                     k.token = scalar(u, "token", where);
                     k.token_file = scalar(u, "tokenFile", where);
                     if (k.token_file.empty()) k.token_file = scalar(u, "token-file", where);
                     k.token_file = resolve(k.token_file, base_dir);
                     k.client_certificate = resolve(scalar(u, "client-certificate", where), base_dir);
                     k.client_certificate_data = data_field(u, "client-certificate-data", where);
                     k.client_key = resolve(scalar(u, "client-key", where), base_dir);
                     k.client_key_data = data_field(u, "client-key-data", where);
                     k.username = scalar(u, "username", where);
                     k.password = scalar(u, "password", where);
                     config.users.emplace(name, std::move(k));
                   });
    for_each_named(root, "contexts", "context",
                   [&](const std::string& name, const YAML::Node& c, const std::string& where) {
                     KubeContext k;
                     k.cluster = scalar(c, "cluster", where);
                     k.user = scalar(c, "user", where);
                     k.namespace_ = scalar(c, "namespace", where);
                     config.contexts.emplace(name, std::move(k));
                   });
    config.current_context = scalar(root, "current-context", "config");
  } catch (const ShapeError& e) {
    return bad_request(file_error_prefix(source) + e.message);
  } catch (const YAML::Exception& e) {
    return bad_request(file_error_prefix(source) + "yaml: " + e.what());
  } catch (const std::exception& e) {
    return bad_request(file_error_prefix(source) + e.what());
  }
  return config;
}

Result<Config> load_kubeconfig_file(const std::string& path) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (st.type() == fs::file_type::not_found) {
    return not_found(file_error_prefix(path) + "open " + path + ": no such file or directory");
  }
  if (st.type() == fs::file_type::directory) {
    return bad_request(file_error_prefix(path) + "read " + path + ": is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string why = "open " + path + ": " + std::strerror(err);
    if (err == EACCES) return Status(Code::kPermissionDenied, file_error_prefix(path) + why);
    return internal_error(file_error_prefix(path) + why);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return internal_error(file_error_prefix(path) + "read " + path + " failed");
  fs::path abs = fs::absolute(fs::path(path), ec);
  std::string dir = ec ? fs::path(path).parent_path().string() : abs.parent_path().string();
  return parse_kubeconfig(ss.str(), path, dir.empty() ? "." : dir);
}

Config merge_kubeconfigs(const std::vector<Config>& configs) {
  Config out;
  for (const auto& c : configs) {
    // emplace keeps an existing entry: the first file to name it wins, as a whole.
    for (const auto& [name, v] : c.clusters) out.clusters.emplace(name, v);
    for (const auto& [name, v] : c.users) out.users.emplace(name, v);
    for (const auto& [name, v] : c.contexts) out.contexts.emplace(name, v);
    if (out.current_context.empty()) out.current_context = c.current_context;
  }
  return out;
}

Result<Config> load_kubeconfig_files(const std::vector<std::string>& paths) {
  std::vector<Config> configs;
  std::set<std::string> seen;
  for (const auto& p : paths) {
    if (p.empty() || !seen.insert(p).second) continue;
    auto c = load_kubeconfig_file(p);
    if (!c.ok()) {
      if (c.status().code() == Code::kNotFound) continue;  // missing files are skipped
      return c.status();
    }
    configs.push_back(std::move(*c));
  }
  return merge_kubeconfigs(configs);
}

Result<Config> load_kubeconfig(const std::string& explicit_path) {
  if (!explicit_path.empty()) return load_kubeconfig_file(explicit_path);
  std::vector<std::string> paths;
  const char* env = std::getenv("KUBECONFIG");
  if (env && *env) {
    std::string_view rest(env);
    while (true) {
      auto colon = rest.find(':');
      paths.emplace_back(rest.substr(0, colon));
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    paths.push_back((fs::path(home) / ".kube" / "config").string());
  }
  return load_kubeconfig_files(paths);
}

std::string Config::to_yaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "v1";
  out << YAML::Key << "kind" << YAML::Value << "Config";
  out << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq;
  for (const auto& [name, c] : clusters) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value;
    emit_scalar(out, name);
    out << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
    emit_string(out, "server", c.server);
    emit_string(out, "certificate-authority", c.certificate_authority);
    if (!c.certificate_authority_data.empty()) {
      emit_string(out, "certificate-authority-data", api::base64_encode(c.certificate_authority_data));
    }
    if (c.insecure_skip_tls_verify) {
      out << YAML::Key << "insecure-skip-tls-verify" << YAML::Value << true;
    }
    emit_string(out, "tls-server-name", c.tls_server_name);
    out << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq;
  for (const auto& [name, u] : users) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value;
    emit_scalar(out, name);
    out << YAML::Key << "user" << YAML::Value << YAML::BeginMap;
    emit_string(out, "token", u.token);
    emit_string(out, "tokenFile", u.token_file);
    emit_string(out, "client-certificate", u.client_certificate);
    if (!u.client_certificate_data.empty()) {
      emit_string(out, "client-certificate-data", api::base64_encode(u.client_certificate_data));
    }
    emit_string(out, "client-key", u.client_key);
    if (!u.client_key_data.empty()) {
      emit_string(out, "client-key-data", api::base64_encode(u.client_key_data));
    }
    emit_string(out, "username", u.username);
    emit_string(out, "password", u.password);
    out << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq;
  for (const auto& [name, c] : contexts) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value;
    emit_scalar(out, name);
    out << YAML::Key << "context" << YAML::Value << YAML::BeginMap;
    emit_string(out, "cluster", c.cluster);
    emit_string(out, "user", c.user);
    emit_string(out, "namespace", c.namespace_);
    out << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndSeq;
  if (!current_context.empty()) emit_string(out, "current-context", current_context);
  out << YAML::Key << "preferences" << YAML::Value << YAML::BeginMap << YAML::EndMap;
  out << YAML::EndMap;
  std::string s = out.c_str();
  s += '\n';
  return s;
}

Result<HttpTransportOptions> http_options_from_kubeconfig(const Config& config,
                                                          std::string_view context) {
  ORCH_ASSIGN_OR_RETURN(std::string name, context_name(config, context));
  auto ctx = config.contexts.find(name);
  if (ctx == config.contexts.end()) {
    return invalid_argument("context \"" + name + "\" does not exist");
  }
  const KubeContext& c = ctx->second;
  if (c.cluster.empty()) {
    return invalid_argument("context \"" + name + "\" names no cluster");
  }
  auto cl = config.clusters.find(c.cluster);
  if (cl == config.clusters.end()) {
    return invalid_argument("cluster \"" + c.cluster + "\" of context \"" + name +
                            "\" does not exist");
  }
  const KubeCluster& k = cl->second;
  if (k.server.empty()) {
    return invalid_argument("invalid configuration: cluster \"" + c.cluster +
                            "\" has no server defined");
  }
  HttpTransportOptions o;
  o.servers.push_back(k.server);
  o.ca_file = k.certificate_authority;
  o.ca_data = k.certificate_authority_data;
  o.insecure_skip_tls_verify = k.insecure_skip_tls_verify;
  if (!c.user.empty()) {
    auto u = config.users.find(c.user);
    if (u == config.users.end()) {
      return invalid_argument("user \"" + c.user + "\" was not found for context \"" + name + "\"");
    }
    const KubeUser& user = u->second;
    o.bearer_token = user.token;
    o.bearer_token_file = user.token_file;
    o.client_certificate_file = user.client_certificate;
    o.client_certificate_data = user.client_certificate_data;
    o.client_key_file = user.client_key;
    o.client_key_data = user.client_key_data;
    o.username = user.username;
    o.password = user.password;
  }
  return o;
}

Result<std::unique_ptr<Transport>> transport_from_kubeconfig(const Config& config,
                                                             std::string_view context) {
  ORCH_ASSIGN_OR_RETURN(HttpTransportOptions o, http_options_from_kubeconfig(config, context));
  return make_http_transport(std::move(o));
}

Result<std::string> kubeconfig_namespace(const Config& config, std::string_view context) {
  ORCH_ASSIGN_OR_RETURN(std::string name, context_name(config, context));
  auto ctx = config.contexts.find(name);
  if (ctx == config.contexts.end()) {
    return invalid_argument("context \"" + name + "\" does not exist");
  }
  return ctx->second.namespace_.empty() ? std::string("default") : ctx->second.namespace_;
}

}  // namespace orch::client
