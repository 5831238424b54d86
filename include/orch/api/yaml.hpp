// YAML <-> JSON (Boost.JSON values) as kubectl does it (sigs.k8s.io/yaml over go-yaml v2), so a
// manifest means here what it means to kubectl and `-o yaml` output looks the same.
//
// Parsing: multi-document streams; empty documents (nothing, a comment, a bare `---`, `null`)
// are skipped; JSON is valid YAML. Plain (unquoted) scalars are typed by go-yaml v2's rules,
// which are YAML 1.2's core schema plus a few YAML 1.1 forms kubectl also accepts:
//   null:  null Null NULL ~ and the empty value
//   bool:  true/false, also yes/no, on/off, y/n in their lower, Title and UPPER forms
//   int:   123, +1, -1, 0x1F, 0o17, 0b101, 1_000, and 0777 as octal (YAML 1.1, `defaultMode`)
//   float: 1.5, .5, 1e3, .inf, -.inf, .nan
//   anything else, and every quoted or block (| >) scalar, is a string ("2024-01-01" too).
// Merge keys (`<<: *anchor`) are applied; duplicate keys are an error, as in kubectl.
//
// Printing: block style with 2-space indents, sequences inside a mapping at the mapping's
// indent ("- " under the key, as kubectl prints them), keys sorted in go-yaml's natural order
// (digit runs compare as numbers; non-letters sort before letters), strings quoted when they
// would otherwise read as another type ("true", "123", "2024-01-01T00:00:00Z") with double
// quotes, or when they contain YAML indicators (leading "- ", ": ", " #", leading/trailing
// space, "*") with single quotes; strings with newlines as literal blocks (|, |-, |+);
// non-printable characters escaped in double quotes; long plain and quoted strings folded at
// spaces past column 80 as go-yaml does. Known difference: keys over 128 characters are printed
// as simple keys where go-yaml would use the `? key` form.
//
// Thread-safety: stateless; call from any thread.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "orch/status.hpp"

namespace orch::api {

// Every non-empty document of a YAML (or JSON) stream, in order. BadRequest on malformed input,
// naming the position: `yaml: line 3, column 5: illegal map value`, or on a duplicate key:
// `yaml: line 4, column 3: mapping key "name" already defined at line 2`.
Result<std::vector<boost::json::value>> parse_yaml(std::string_view text);

// One document as kubectl -o yaml prints it, ending in a newline.
std::string to_yaml(const boost::json::value& document);
// Several documents joined by "---\n".
std::string to_yaml(const std::vector<boost::json::value>& documents);

}  // namespace orch::api
