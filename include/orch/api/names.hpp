// Name and label syntax checks with Kubernetes' exact wording (apimachinery util/validation), and
// the FieldErrors helpers object validation builds on (metadata.name, labels, annotations).
//
// The is_* checks return the list of problems, each a sentence as Kubernetes prints it; an empty
// list means the value is valid. They never fail otherwise and never throw.
//
//   is_dns1123_label("My_Name") ->
//     {"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and
//       must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex
//       used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"}
//
// Thread-safety: stateless; call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "orch/api/field_error.hpp"

namespace orch::api {

inline constexpr std::size_t kDns1123LabelMaxLength = 63;
inline constexpr std::size_t kDns1123SubdomainMaxLength = 253;
inline constexpr std::size_t kDns1035LabelMaxLength = 63;
inline constexpr std::size_t kQualifiedNameMaxLength = 63;  // the name part, after any prefix
inline constexpr std::size_t kLabelValueMaxLength = 63;
inline constexpr std::size_t kPortNameMaxLength = 15;
// Sum of the lengths of all annotation keys and values (Kubernetes TotalAnnotationSizeLimitB).
inline constexpr std::size_t kTotalAnnotationSizeLimit = 256 * 1024;

// RFC 1123 label: at most 63 of [a-z0-9-], starting and ending alphanumeric ("my-name").
// Namespace names, container names, node-local names. A valid subdomain with dots gets
// "must not contain dots" instead of the regex message.
std::vector<std::string> is_dns1123_label(std::string_view value);

// RFC 1123 subdomain: at most 253 characters, dot-separated RFC 1123 labels ("example.com").
// Most object names (Pod, Deployment, ConfigMap, ...).
std::vector<std::string> is_dns1123_subdomain(std::string_view value);

// RFC 1035 label: at most 63 of [a-z0-9-], starting with a letter, ending alphanumeric.
// Service names.
std::vector<std::string> is_dns1035_label(std::string_view value);

// Qualified name, the syntax of label and annotation keys: an optional DNS-1123 subdomain prefix
// and '/', then a name of at most 63 of [A-Za-z0-9_.-] starting and ending alphanumeric
// ("app", "example.com/MyName"). Messages about the prefix start "prefix part ", about the name
// "name part ".
std::vector<std::string> is_qualified_name(std::string_view value);

// Label value: empty, or at most 63 of [A-Za-z0-9_.-] starting and ending alphanumeric.
std::vector<std::string> is_valid_label_value(std::string_view value);

// C identifier: [A-Za-z_][A-Za-z0-9_]*.
std::vector<std::string> is_c_identifier(std::string_view value);

// Environment variable name as Kubernetes accepts it: [-._a-zA-Z][-._a-zA-Z0-9]*, and not ".",
// ".." or starting with "..".
std::vector<std::string> is_env_var_name(std::string_view value);

// Port number: 1..65535 inclusive ("must be between 1 and 65535, inclusive").
std::vector<std::string> is_valid_port_num(std::int64_t port);

// Port name (IANA_SVC_NAME): at most 15 of [a-z0-9-], at least one letter, no "--", and not
// starting or ending with '-'. Each broken rule is its own message.
std::vector<std::string> is_valid_port_name(std::string_view value);

// Labels of an object at `path` (e.g. "metadata.labels"): each key must be a qualified name
// (Invalid at `path`, value the quoted key) and each value a valid label value (Invalid at
// `path[key]`, value the quoted label value). One FieldError per message; empty when valid.
FieldErrors validate_labels(const std::map<std::string, std::string>& labels,
                            const std::string& path);

// Annotations at `path` (e.g. "metadata.annotations"): each key, lower-cased, must be a qualified
// name (Invalid at `path`, value the quoted key); the total size of keys and values must not
// exceed kTotalAnnotationSizeLimit (TooLong at `path`).
FieldErrors validate_annotations(const std::map<std::string, std::string>& annotations,
                                 const std::string& path);

// An object's name at `path` (e.g. "metadata.name"): Required when empty ("name or generateName
// is required"), otherwise one Invalid per message of is_dns1123_subdomain, or of
// is_dns1123_label when `dns_label` (namespaces). Empty when valid.
FieldErrors validate_object_name(std::string_view name, const std::string& path,
                                 bool dns_label = false);

}  // namespace orch::api
