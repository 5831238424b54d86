// Name and label syntax checks: Kubernetes' exact messages, and the FieldErrors helpers for
// object metadata.
#include "orch/api/names.hpp"

#include <doctest.h>

#include <functional>
#include <string>
#include <vector>

namespace orch::api {
namespace {

using Messages = std::vector<std::string>;

const std::string kLabelRegex =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const std::string kSubdomainRegex =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const std::string kDns1035Regex =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const std::string kNameRegex =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const std::string kLabelValueRegex =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  "
    "or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const std::string kCIdentRegex =
    "a valid C identifier must start with alphabetic character or '_', followed by a string of "
    "alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName', regex used for "
    "validation is '[A-Za-z_][A-Za-z0-9_]*')";
const std::string kEnvRegex =
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', "
    "or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or "
    "'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";

struct Case {
  std::string name;   // subcase title
  std::function<Messages(std::string_view)> check;
  std::string input;
  Messages want;
};

TEST_CASE("name checks return Kubernetes' messages, empty when valid") {
  const std::string l63(63, 'a'), l64(64, 'a');
  const std::string sub253 = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                             std::string(63, 'c') + "." + std::string(61, 'd');
  REQUIRE(sub253.size() == 253);
  const std::vector<Case> cases = {
      {"label ok", is_dns1123_label, "my-name", {}},
      {"label digits first ok", is_dns1123_label, "123-abc", {}},
      {"label 63 ok", is_dns1123_label, l63, {}},
      {"label 64", is_dns1123_label, l64, {"must be no more than 63 characters"}},
      {"label upper", is_dns1123_label, "My-Name", {kLabelRegex}},
      {"label empty", is_dns1123_label, "", {kLabelRegex}},
      {"label trailing dash", is_dns1123_label, "abc-", {kLabelRegex}},
      {"label with dots", is_dns1123_label, "a.b", {"must not contain dots"}},
      {"label 64 upper", is_dns1123_label, std::string(64, 'A'),
       {"must be no more than 63 characters", kLabelRegex}},
      {"subdomain ok", is_dns1123_subdomain, "example.com", {}},
      {"subdomain 253 ok", is_dns1123_subdomain, sub253, {}},
      {"subdomain 254", is_dns1123_subdomain, sub253 + "e",
       {"must be no more than 253 characters"}},
      {"subdomain empty part", is_dns1123_subdomain, "a..b", {kSubdomainRegex}},
      {"subdomain underscore", is_dns1123_subdomain, "my_name", {kSubdomainRegex}},
      {"subdomain leading dot", is_dns1123_subdomain, ".a", {kSubdomainRegex}},
      {"dns1035 ok", is_dns1035_label, "my-svc", {}},
      {"dns1035 digit first", is_dns1035_label, "1svc", {kDns1035Regex}},
      {"dns1035 64", is_dns1035_label, l64, {"must be no more than 63 characters"}},
      {"qualified plain", is_qualified_name, "app", {}},
      {"qualified mixed case", is_qualified_name, "My.Name_1", {}},
      {"qualified prefixed", is_qualified_name, "example.com/MyName", {}},
      {"qualified k8s prefix", is_qualified_name, "app.kubernetes.io/name", {}},
      {"qualified empty", is_qualified_name, "", {"name part must be non-empty", kNameRegex}},
      {"qualified bad start", is_qualified_name, "-app", {kNameRegex}},
      {"qualified name 64", is_qualified_name, l64, {"name part must be no more than 63 characters"}},
      {"qualified empty prefix", is_qualified_name, "/a", {"prefix part must be non-empty"}},
      {"qualified bad prefix", is_qualified_name, "Example.com/a", {"prefix part " + kSubdomainRegex}},
      {"qualified empty name", is_qualified_name, "example.com/",
       {"name part must be non-empty", kNameRegex}},
      {"qualified two slashes", is_qualified_name, "a/b/c",
       {"a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start "
        "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
        "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an "
        "optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"}},
      {"label value empty ok", is_valid_label_value, "", {}},
      {"label value ok", is_valid_label_value, "v1.2_beta-3", {}},
      {"label value slash", is_valid_label_value, "a/b", {kLabelValueRegex}},
      {"label value trailing dot", is_valid_label_value, "abc.", {kLabelValueRegex}},
      {"label value 64", is_valid_label_value, l64, {"must be no more than 63 characters"}},
      {"c identifier ok", is_c_identifier, "_my_Var1", {}},
      {"c identifier digit", is_c_identifier, "1abc", {kCIdentRegex}},
      {"c identifier dash", is_c_identifier, "a-b", {kCIdentRegex}},
      {"c identifier empty", is_c_identifier, "", {kCIdentRegex}},
      {"env ok", is_env_var_name, "MY_ENV.NAME-1", {}},
      {"env digit", is_env_var_name, "1ABC", {kEnvRegex}},
      {"env equals", is_env_var_name, "A=B", {kEnvRegex}},
      {"env dot", is_env_var_name, ".", {"must not be '.'"}},
      {"env dotdot", is_env_var_name, "..", {"must not be '..'"}},
      {"env dotdot prefix", is_env_var_name, "..a", {"must not start with '..'"}},
      {"port name ok", is_valid_port_name, "http-metrics", {}},
      {"port name 15 ok", is_valid_port_name, "abcdefghijklmno", {}},
      {"port name 16", is_valid_port_name, "abcdefghijklmnop", {"must be no more than 15 characters"}},
      {"port name upper", is_valid_port_name, "HTTP",
       {"must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        "must contain at least one letter (a-z)"}},
      {"port name digits", is_valid_port_name, "8080", {"must contain at least one letter (a-z)"}},
      {"port name double dash", is_valid_port_name, "a--b", {"must not contain consecutive hyphens"}},
      {"port name edge dash", is_valid_port_name, "-web", {"must not begin or end with a hyphen"}},
      {"port name empty", is_valid_port_name, "",
       {"must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        "must contain at least one letter (a-z)"}},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name.c_str()) { CHECK(c.check(c.input) == c.want); }
  }
}

TEST_CASE("is_valid_port_num accepts 1..65535") {
  struct PortCase {
    std::int64_t port;
    bool ok;
  };
  const std::vector<PortCase> cases = {{0, false}, {1, true},      {80, true},
                                       {65535, true}, {65536, false}, {-1, false}};
  for (const auto& c : cases) {
    SUBCASE(std::to_string(c.port).c_str()) {
      Messages got = is_valid_port_num(c.port);
      if (c.ok) {
        CHECK(got.empty());
      } else {
        CHECK(got == Messages{"must be between 1 and 65535, inclusive"});
      }
    }
  }
}

TEST_CASE("validate_labels reports bad keys at the path and bad values at path[key]") {
  struct LabelsCase {
    std::string name;
    std::map<std::string, std::string> labels;
    std::vector<std::string> want;  // FieldError::to_string()
  };
  const std::vector<LabelsCase> cases = {
      {"valid", {{"app", "kuard"}, {"app.kubernetes.io/name", ""}}, {}},
      {"bad key",
       {{"-app", "x"}},
       {"metadata.labels: Invalid value: \"-app\": " + kNameRegex}},
      {"bad value",
       {{"app", "a b"}},
       {"metadata.labels[app]: Invalid value: \"a b\": " + kLabelValueRegex}},
      {"long value",
       {{"tier", std::string(64, 'x')}},
       {"metadata.labels[tier]: Invalid value: \"" + std::string(64, 'x') +
        "\": must be no more than 63 characters"}},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name.c_str()) {
      FieldErrors errs = validate_labels(c.labels, "metadata.labels");
      std::vector<std::string> got;
      for (const auto& e : errs) got.push_back(e.to_string());
      CHECK(got == c.want);
      for (const auto& e : errs) CHECK(e.type == FieldErrorType::kInvalid);
    }
  }
}

TEST_CASE("validate_annotations checks keys case-insensitively and caps the total size") {
  CHECK(validate_annotations({{"Example.COM/Owner", "x"}, {"note", "anything goes: {}"}},
                             "metadata.annotations")
            .empty());

  FieldErrors bad = validate_annotations({{"a b", "x"}}, "metadata.annotations");
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].field == "metadata.annotations");
  CHECK(bad[0].value == "\"a b\"");

  // 262144 bytes in total is the limit: exactly at it passes, one byte more fails.
  std::map<std::string, std::string> at_limit = {{"k", std::string(kTotalAnnotationSizeLimit - 1, 'v')}};
  CHECK(validate_annotations(at_limit, "metadata.annotations").empty());
  at_limit["k"] += "v";
  FieldErrors big = validate_annotations(at_limit, "metadata.annotations");
  REQUIRE(big.size() == 1);
  CHECK(big[0].type == FieldErrorType::kTooLong);
  CHECK(big[0].to_string() == "metadata.annotations: Too long: may not be more than 262144 bytes");
}

TEST_CASE("validate_object_name: required, subdomain by default, label when asked") {
  struct NameCase {
    std::string name;
    bool dns_label;
    std::vector<std::string> want;
  };
  const std::vector<NameCase> cases = {
      {"web-1", false, {}},
      {"web.example", false, {}},
      {"web.example", true, {"metadata.name: Invalid value: \"web.example\": must not contain dots"}},
      {"", false, {"metadata.name: Required value: name or generateName is required"}},
      {"Web", false, {"metadata.name: Invalid value: \"Web\": " + kSubdomainRegex}},
      {"Web", true, {"metadata.name: Invalid value: \"Web\": " + kLabelRegex}},
  };
  for (const auto& c : cases) {
    SUBCASE((c.name + (c.dns_label ? " (label)" : " (subdomain)")).c_str()) {
      std::vector<std::string> got;
      for (const auto& e : validate_object_name(c.name, "metadata.name", c.dns_label))
        got.push_back(e.to_string());
      CHECK(got == c.want);
    }
  }
}

}  // namespace
}  // namespace orch::api
