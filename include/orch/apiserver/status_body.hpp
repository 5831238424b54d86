// Kubernetes `Status` bodies (metav1.Status) to and from orch::Status, through the one code table
// in status.hpp. Every error the API server answers is one of these.
//
//   {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
//    "message":"pods \"kuard\" not found","reason":"NotFound",
//    "details":{"name":"kuard","kind":"pods"},"code":404}
//
// Thread-safety: stateless.
#pragma once

#include <string>
#include <string_view>

#include "orch/apiserver/handler.hpp"
#include "orch/status.hpp"

namespace orch::apiserver {

// Optional details: the object's name, its resource ("pods") and group.
struct StatusDetails {
  std::string name;
  std::string group;
  std::string kind;
};

// The JSON text of a Failure Status for `status` (causes included).
std::string status_body(const Status& status, const StatusDetails& details = {});
// A whole Response: HTTP code from the table, JSON content type, the body above.
Response status_response(const Status& status, const StatusDetails& details = {});
// A Success Status body ({"status":"Success",...,"code":200}), as DELETE may answer.
std::string success_body(const StatusDetails& details = {});
// Reads an error answer as an orch::Status: the body's reason and message when it is a Status,
// otherwise the HTTP code and the body text.
Status status_from_response(int http_status, std::string_view body);

}  // namespace orch::apiserver
