// The non-template parts of the generic JSON codec: the member-name rule, DecodeContext paths
// and messages, JSON text parsing. Thread-safety: stateless functions; DecodeContext is
// single-owner.
#include "orch/api/codec.hpp"

#include <array>
#include <boost/json/parser.hpp>
#include <cctype>
#include <utility>

namespace orch::api {

namespace {
// Words written as initialisms when they are not the first word of a name.
constexpr std::array<std::pair<std::string_view, std::string_view>, 13> kInitialisms = {{
    {"ip", "IP"},
    {"ips", "IPs"},
    {"id", "ID"},
    {"uid", "UID"},
    {"uuid", "UUID"},
    {"cidr", "CIDR"},
    {"cidrs", "CIDRs"},
    {"url", "URL"},
    {"ipc", "IPC"},
    {"pid", "PID"},
    {"tls", "TLS"},
    {"fqdn", "FQDN"},
    {"dns", "DNS"},
}};
}  // namespace

std::string json_name(std::string_view member) {
  if (!member.empty() && member.back() == '_') member.remove_suffix(1);
  std::string out;
  out.reserve(member.size());
  bool first = true;
  while (!member.empty()) {
    const std::size_t end = member.find('_');
    std::string_view word = member.substr(0, end);
    member = end == std::string_view::npos ? std::string_view() : member.substr(end + 1);
    if (word.empty()) continue;
    if (first) {
      out += word;
      first = false;
      continue;
    }
    bool done = false;
    for (const auto& [lower, initialism] : kInitialisms) {
      if (word == lower) {
        out += initialism;
        done = true;
        break;
      }
    }
    if (!done) {
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
      out += word.substr(1);
    }
  }
  return out;
}

std::vector<std::string> DecodeContext::warnings() const {
  std::vector<std::string> out;
  out.reserve(unknown_.size());
  for (const auto& path : unknown_) out.push_back("unknown field \"" + path + "\"");
  return out;
}

Status DecodeContext::strict_status() const {
  if (unknown_.empty()) return {};
  std::string msg = "strict decoding error: ";
  for (std::size_t i = 0; i < unknown_.size(); ++i) {
    if (i) msg += ", ";
    msg += "unknown field \"" + unknown_[i] + "\"";
  }
  return bad_request(std::move(msg));
}

std::size_t DecodeContext::push_member(std::string_view name) {
  const std::size_t saved = path_.size();
  if (!path_.empty()) path_ += '.';
  path_ += name;
  return saved;
}

std::size_t DecodeContext::push_index(std::size_t index) {
  const std::size_t saved = path_.size();
  path_ += '[';
  path_ += std::to_string(index);
  path_ += ']';
  return saved;
}

std::size_t DecodeContext::push_key(std::string_view key) {
  const std::size_t saved = path_.size();
  path_ += '[';
  path_ += key;
  path_ += ']';
  return saved;
}

void DecodeContext::add_unknown(std::string_view name) {
  std::string path = path_;
  if (!path.empty()) path += '.';
  path += name;
  unknown_.push_back(std::move(path));
}

Status DecodeContext::type_error(std::string_view expected, const boost::json::value& got) const {
  std::string msg;
  if (!path_.empty()) msg = path_ + ": ";
  msg += "expected ";
  msg += expected;
  msg += ", got ";
  msg += json_kind_name(got);
  return bad_request(std::move(msg));
}

Status DecodeContext::value_error(std::string_view message) const {
  std::string msg;
  if (!path_.empty()) msg = path_ + ": ";
  msg += message;
  return bad_request(std::move(msg));
}

std::string_view json_kind_name(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return "number";
    case boost::json::kind::string: return "string";
    case boost::json::kind::array: return "array";
    case boost::json::kind::object: return "object";
  }
  return "value";
}

Result<boost::json::value> parse_json(std::string_view text) {
  boost::system::error_code ec;
  boost::json::parser parser;
  const std::size_t used = parser.write(text.data(), text.size(), ec);
  if (ec) {
    return bad_request("invalid JSON at byte " + std::to_string(used) + ": " + ec.message());
  }
  return parser.release();
}

}  // namespace orch::api
