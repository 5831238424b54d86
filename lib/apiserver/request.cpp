// Request accessors. Thread-safety: values.
#include "orch/apiserver/handler.hpp"

namespace orch::apiserver {

std::string_view Request::header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string_view() : std::string_view(it->second);
}

std::optional<std::string_view> Request::param(std::string_view name) const {
  auto it = query.find(std::string(name));
  if (it == query.end()) return std::nullopt;
  return std::string_view(it->second);
}

}  // namespace orch::apiserver
