// Kubernetes Status bodies. Thread-safety: stateless.
#include "orch/apiserver/status_body.hpp"

#include <boost/json.hpp>

namespace orch::apiserver {

namespace json = boost::json;

namespace {
json::object details_json(const Status& status, const StatusDetails& d) {
  json::object details;
  if (!d.name.empty()) details["name"] = d.name;
  if (!d.group.empty()) details["group"] = d.group;
  if (!d.kind.empty()) details["kind"] = d.kind;
  if (!status.causes().empty()) {
    json::array causes;
    for (const auto& c : status.causes()) {
      causes.push_back(json::object{{"reason", c.type}, {"message", c.message}, {"field", c.field}});
    }
    details["causes"] = std::move(causes);
  }
  return details;
}
}  // namespace

std::string status_body(const Status& status, const StatusDetails& d) {
  json::object o{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object{}},
                 {"status", "Failure"}, {"message", status.message()},
                 {"reason", std::string(k8s_reason(status.code()))}};
  auto details = details_json(status, d);
  if (!details.empty()) o["details"] = std::move(details);
  o["code"] = http_status(status.code());
  return json::serialize(o);
}

Response status_response(const Status& status, const StatusDetails& details) {
  Response r;
  r.status = http_status(status.code());
  r.body = status_body(status, details);
  return r;
}

std::string success_body(const StatusDetails& d) {
  json::object o{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object{}},
                 {"status", "Success"}};
  auto details = details_json(Status(), d);
  if (!details.empty()) o["details"] = std::move(details);
  o["code"] = 200;
  return json::serialize(o);
}

Status status_from_response(int http, std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.get_object();
    auto str = [&](std::string_view k) -> std::string {
      auto* p = o.if_contains(k);
      return p && p->is_string() ? std::string(p->get_string()) : std::string();
    };
    if (str("kind") == "Status") {
      std::vector<Cause> causes;
      if (auto* det = o.if_contains("details"); det && det->is_object()) {
        if (auto* cs = det->get_object().if_contains("causes"); cs && cs->is_array()) {
          for (const auto& c : cs->get_array()) {
            if (!c.is_object()) continue;
            auto get = [&](std::string_view k) -> std::string {
              auto* p = c.get_object().if_contains(k);
              return p && p->is_string() ? std::string(p->get_string()) : std::string();
            };
            causes.push_back({get("reason"), get("message"), get("field")});
          }
        }
      }
      int code = http;
      if (auto* c = o.if_contains("code"); c && c->is_int64()) code = static_cast<int>(c->get_int64());
      return Status(code_from_http(code, str("reason")), str("message"), std::move(causes));
    }
  }
  std::string text(body.substr(0, 512));
  if (text.empty()) text = "the server answered HTTP " + std::to_string(http);
  return Status(code_from_http(http, ""), std::move(text));
}

}  // namespace orch::apiserver
