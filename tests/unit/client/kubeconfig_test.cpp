// Kubeconfig loading (one file, KUBECONFIG lists, ~/.kube/config), client-go's merge rules,
// relative paths, inline data, error texts, writing, and transports from contexts.
#include <doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include "fake_apiserver.hpp"
#include "orch/client/client.hpp"
#include "orch/client/kubeconfig.hpp"
#include "test_http_server.hpp"

namespace orch::client {
namespace {

namespace fs = std::filesystem;

// A temporary directory, removed with everything in it.
struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "orch-kubeconfig-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& rel, const std::string& text) const {
    fs::path p = path / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path path;
};

// Sets (or unsets) an environment variable for one scope.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  const char* name_;
  std::optional<std::string> old_;
};

// "hello\n" and "key\n" in base64.
constexpr const char* kFull = R"j(apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority: certs/ca.pem
- name: inline
  cluster:
    server: https://10.0.0.2:6443
    certificate-authority-data: aGVsbG8K
    insecure-skip-tls-verify: true
users:
- name: alice
  user:
    token: abc
    tokenFile: secrets/token
    client-certificate: /abs/cert.pem
    client-key: certs/key.pem
- name: bob
  user:
    client-certificate-data: aGVsbG8K
    client-key-data: a2V5Cg==
    username: bob
    password: "123"
contexts:
- name: prod-alice
  context:
    cluster: prod
    user: alice
    namespace: team-a
- name: inline-bob
  context:
    cluster: inline
    user: bob
current-context: prod-alice
preferences: {}
)j";

TEST_CASE("load_kubeconfig_file reads every field; relative paths resolve against the file") {
  TempDir dir;
  std::string file = dir.write("sub/config", kFull);
  auto c = load_kubeconfig_file(file);
  REQUIRE_MESSAGE(c.ok(), c.status().to_string());
  std::string base = (dir.path / "sub").string();

  REQUIRE(c->clusters.size() == 2);
  CHECK(c->clusters["prod"].server == "https://10.0.0.1:6443");
  CHECK(c->clusters["prod"].certificate_authority == base + "/certs/ca.pem");
  CHECK(c->clusters["inline"].certificate_authority_data == "hello\n");
  CHECK(c->clusters["inline"].insecure_skip_tls_verify);
  CHECK_FALSE(c->clusters["prod"].insecure_skip_tls_verify);

  REQUIRE(c->users.size() == 2);
  CHECK(c->users["alice"].token == "abc");
  CHECK(c->users["alice"].token_file == base + "/secrets/token");
  CHECK(c->users["alice"].client_certificate == "/abs/cert.pem");  // absolute stays
  CHECK(c->users["alice"].client_key == base + "/certs/key.pem");
  CHECK(c->users["bob"].client_certificate_data == "hello\n");
  CHECK(c->users["bob"].client_key_data == "key\n");
  CHECK(c->users["bob"].username == "bob");
  CHECK(c->users["bob"].password == "123");

  CHECK(c->contexts["prod-alice"] == KubeContext{"prod", "alice", "team-a"});
  CHECK(c->contexts["inline-bob"] == KubeContext{"inline", "bob", ""});
  CHECK(c->current_context == "prod-alice");
}

TEST_CASE("an empty file is an empty config") {
  TempDir dir;
  auto c = load_kubeconfig_file(dir.write("empty", ""));
  REQUIRE(c.ok());
  CHECK(c.value() == Config{});
}

TEST_CASE("loading errors name the file") {
  TempDir dir;
  struct Case {
    const char* what;
    std::string text;  // empty: the file does not exist
    Code code;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {"missing file", "", Code::kNotFound, "no such file or directory"},
      {"not YAML", "clusters: [\n  - {name: a\n", Code::kBadRequest, "yaml"},
      {"clusters not a list", "clusters: 3\n", Code::kBadRequest, "clusters: expected a list"},
      {"entry without name", "clusters:\n- cluster: {server: x}\n", Code::kBadRequest,
       "clusters[0].name: required"},
      {"duplicate name", "users:\n- name: a\n  user: {}\n- name: a\n  user: {}\n",
       Code::kBadRequest, "duplicate name \"a\""},
      {"bad base64", "clusters:\n- name: a\n  cluster: {certificate-authority-data: \"@@@\"}\n",
       Code::kBadRequest, "illegal base64"},
      {"bad bool", "clusters:\n- name: a\n  cluster: {insecure-skip-tls-verify: maybe}\n",
       Code::kBadRequest, "expected true or false"},
      {"top level not a map", "- a\n- b\n", Code::kBadRequest, "expected a map"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.what) {
      std::string path = c.text.empty() ? (dir.path / "nope").string() : dir.write("bad", c.text);
      auto r = load_kubeconfig_file(path);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == c.code);
      std::string msg = r.status().message();
      CHECK_MESSAGE(msg.starts_with("error loading config file \"" + path + "\": "), msg);
      std::string lower_msg = msg;
      for (char& ch : lower_msg) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::string lower_needle = c.needle;
      for (char& ch : lower_needle) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      CHECK_MESSAGE(lower_msg.find(lower_needle) != std::string::npos, msg);
    }
  }
}

TEST_CASE("KUBECONFIG with several files merges by client-go's rules") {
  TempDir dir;
  std::string first = dir.write("one/config", R"j(
clusters:
- name: shared
  cluster: {server: "https://first:6443", certificate-authority: ca.pem}
- name: only-first
  cluster: {server: "https://only-first"}
contexts:
- name: ctx
  context: {cluster: shared, user: u1}
current-context: ctx
)j");
  std::string second = dir.write("two/config", R"j(
clusters:
- name: shared
  cluster: {server: "https://second:6443", insecure-skip-tls-verify: true}
- name: only-second
  cluster: {server: "https://only-second", certificate-authority: ca.pem}
users:
- name: u1
  user: {token: from-second}
contexts:
- name: ctx
  context: {cluster: only-second, user: u1, namespace: ignored}
- name: ctx2
  context: {cluster: only-second}
current-context: ctx2
)j");
  std::string third = dir.write("three/config", "current-context: ctx3\n");
  std::string missing = (dir.path / "missing").string();
  std::string list = first + "::" + missing + ":" + second + ":" + first + ":" + third;
  ScopedEnv env("KUBECONFIG", list.c_str());
  auto c = load_kubeconfig();
  REQUIRE_MESSAGE(c.ok(), c.status().to_string());

  // The first file to name an entry wins, as a whole (no field-by-field merge).
  CHECK(c->clusters["shared"].server == "https://first:6443");
  CHECK_FALSE(c->clusters["shared"].insecure_skip_tls_verify);
  CHECK(c->clusters["shared"].certificate_authority == (dir.path / "one/ca.pem").string());
  CHECK(c->clusters["only-second"].certificate_authority == (dir.path / "two/ca.pem").string());
  CHECK(c->clusters.contains("only-first"));
  CHECK(c->users["u1"].token == "from-second");
  CHECK(c->contexts["ctx"] == KubeContext{"shared", "u1", ""});
  CHECK(c->contexts.contains("ctx2"));
  // current-context: the first file that sets it.
  CHECK(c->current_context == "ctx");
}

TEST_CASE("merge_kubeconfigs: later files fill what earlier ones leave unset") {
  Config a;
  Config b;
  b.current_context = "from-b";
  b.clusters["x"].server = "https://b";
  Config merged = merge_kubeconfigs({a, b});
  CHECK(merged.current_context == "from-b");
  CHECK(merged.clusters["x"].server == "https://b");
}

TEST_CASE("an explicit path is the only file read, and must exist") {
  TempDir dir;
  std::string env_file = dir.write("env", "current-context: from-env\n");
  std::string explicit_file = dir.write("explicit", "current-context: from-explicit\n");
  ScopedEnv env("KUBECONFIG", env_file.c_str());
  auto c = load_kubeconfig(explicit_file);
  REQUIRE(c.ok());
  CHECK(c->current_context == "from-explicit");
  auto missing = load_kubeconfig((dir.path / "nope").string());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Code::kNotFound);
}

TEST_CASE("without KUBECONFIG, ~/.kube/config; a missing one is an empty config") {
  TempDir dir;
  ScopedEnv unset("KUBECONFIG", nullptr);
  ScopedEnv home("HOME", dir.path.c_str());
  auto empty = load_kubeconfig();
  REQUIRE(empty.ok());
  CHECK(empty.value() == Config{});
  dir.write(".kube/config", "current-context: home\n");
  auto c = load_kubeconfig();
  REQUIRE(c.ok());
  CHECK(c->current_context == "home");
}

TEST_CASE("to_yaml round-trips through the loader") {
  Config c;
  c.clusters["local"] = KubeCluster{"http://127.0.0.1:8080", "", "", false, ""};
  c.clusters["tls"] = KubeCluster{"https://10.0.0.1:6443", "/etc/ca.pem",
                                  "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                                  true, "api.local"};
  c.users["admin"].token = "s3cr3t";
  c.users["admin"].client_certificate_data = "cert\n";
  c.users["admin"].client_key_data = "key\n";
  c.users["true"].username = "yes";   // YAML-special strings must stay strings
  c.users["true"].password = "0123";
  c.users["files"].token_file = "/var/run/token";
  c.users["files"].client_certificate = "/c.pem";
  c.users["files"].client_key = "/k.pem";
  c.contexts["default"] = KubeContext{"local", "admin", "kube-system"};
  c.contexts["other"] = KubeContext{"tls", "true", ""};
  c.current_context = "default";

  std::string yaml = c.to_yaml();
  CHECK(yaml.find("apiVersion: v1") != std::string::npos);
  CHECK(yaml.find("kind: Config") != std::string::npos);
  CHECK(yaml.find("certificate-authority-data: ") != std::string::npos);
  CHECK(yaml.find("MIIB") == std::string::npos);  // data is base64, not raw
  auto back = parse_kubeconfig(yaml, "round-trip");
  REQUIRE_MESSAGE(back.ok(), (back.status().to_string() + "\n" + yaml));
  CHECK(back.value() == c);
}

TEST_CASE("http_options_from_kubeconfig picks the context's cluster and user") {
  TempDir dir;
  auto c = load_kubeconfig_file(dir.write("config", kFull));
  REQUIRE(c.ok());

  auto cur = http_options_from_kubeconfig(*c);
  REQUIRE(cur.ok());
  CHECK(cur->servers == std::vector<std::string>{"https://10.0.0.1:6443"});
  CHECK(cur->ca_file == (dir.path / "certs/ca.pem").string());
  CHECK(cur->bearer_token == "abc");
  CHECK(cur->bearer_token_file == (dir.path / "secrets/token").string());
  CHECK(cur->client_key_file == (dir.path / "certs/key.pem").string());
  CHECK(kubeconfig_namespace(*c).value() == "team-a");

  auto other = http_options_from_kubeconfig(*c, "inline-bob");
  REQUIRE(other.ok());
  CHECK(other->ca_data == "hello\n");
  CHECK(other->insecure_skip_tls_verify);
  CHECK(other->client_certificate_data == "hello\n");
  CHECK(other->client_key_data == "key\n");
  CHECK(other->username == "bob");
  CHECK(kubeconfig_namespace(*c, "inline-bob").value() == "default");

  struct Case {
    const char* what;
    std::string context;
    std::string needle;
  };
  Config broken = *c;
  broken.contexts["no-cluster"] = KubeContext{"ghost", "", ""};
  broken.contexts["no-user"] = KubeContext{"prod", "ghost", ""};
  broken.clusters["empty"] = KubeCluster{};
  broken.contexts["no-server"] = KubeContext{"empty", "", ""};
  const std::vector<Case> cases = {
      {"missing context", "nope", "context \"nope\" does not exist"},
      {"missing cluster", "no-cluster", "cluster \"ghost\""},
      {"missing user", "no-user", "user \"ghost\" was not found"},
      {"no server", "no-server", "has no server defined"},
  };
  for (const auto& k : cases) {
    SUBCASE(k.what) {
      auto r = http_options_from_kubeconfig(broken, k.context);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == Code::kInvalidArgument);
      CHECK_MESSAGE(r.status().message().find(k.needle) != std::string::npos,
                    r.status().message());
    }
  }
  SUBCASE("no current context") {
    Config none = *c;
    none.current_context.clear();
    auto r = http_options_from_kubeconfig(none);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("transport_from_kubeconfig talks to the server with the user's token") {
  testing::FakeApiServer fake;
  testing::TestHttpServer http(fake);
  TempDir dir;
  dir.write("token", "file-token\n");
  std::string file = dir.write("config", "clusters:\n- name: c\n  cluster: {server: \"" +
                                             http.url() +
                                             "\"}\nusers:\n- name: u\n  user: {tokenFile: token}\n"
                                             "contexts:\n- name: x\n  context: {cluster: c, user: "
                                             "u, namespace: ns1}\ncurrent-context: x\n");
  auto config = load_kubeconfig_file(file);
  REQUIRE(config.ok());
  auto t = transport_from_kubeconfig(*config);
  REQUIRE_MESSAGE(t.ok(), t.status().to_string());
  Client client(std::shared_ptr<Transport>(std::move(*t)));
  auto ns = kubeconfig_namespace(*config);
  REQUIRE(ns.ok());
  auto list = client.list(resources::kPods, *ns);
  REQUIRE_MESSAGE(list.ok(), list.status().to_string());
  auto reqs = fake.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].path == "/api/v1/namespaces/ns1/pods");
  CHECK(reqs[0].header("authorization") == "Bearer file-token");
}

TEST_CASE("transport_from_kubeconfig reports unreadable files") {
  Config c;
  c.clusters["c"].server = "https://127.0.0.1:1";
  c.clusters["c"].certificate_authority = "/nonexistent/ca.pem";
  c.contexts["x"] = KubeContext{"c", "", ""};
  c.current_context = "x";
  auto t = transport_from_kubeconfig(c);
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == Code::kInvalidArgument);
  CHECK(t.status().message().find("/nonexistent/ca.pem") != std::string::npos);
}

}  // namespace
}  // namespace orch::client
