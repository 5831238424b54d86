// FieldError rendering and the Invalid Status, in Kubernetes' wording (apimachinery field/errors.go).
// Thread-safety: stateless.
#include "orch/api/field_error.hpp"

#include <cstdio>

namespace orch::api {

namespace {
std::string_view type_text(FieldErrorType t) {
  switch (t) {
    case FieldErrorType::kRequired: return "Required value";
    case FieldErrorType::kInvalid: return "Invalid value";
    case FieldErrorType::kNotSupported: return "Unsupported value";
    case FieldErrorType::kDuplicate: return "Duplicate value";
    case FieldErrorType::kForbidden: return "Forbidden";
    case FieldErrorType::kTooLong: return "Too long";
    case FieldErrorType::kTooMany: return "Too many";
    case FieldErrorType::kNotFound: return "Not found";
  }
  return "Invalid value";
}
}  // namespace

std::string_view FieldError::cause_type() const {
  switch (type) {
    case FieldErrorType::kRequired: return "FieldValueRequired";
    case FieldErrorType::kInvalid: return "FieldValueInvalid";
    case FieldErrorType::kNotSupported: return "FieldValueNotSupported";
    case FieldErrorType::kDuplicate: return "FieldValueDuplicate";
    case FieldErrorType::kForbidden: return "FieldValueForbidden";
    case FieldErrorType::kTooLong: return "FieldValueTooLong";
    case FieldErrorType::kTooMany: return "FieldValueTooMany";
    case FieldErrorType::kNotFound: return "FieldValueNotFound";
  }
  return "FieldValueInvalid";
}

std::string FieldError::to_string() const {
  std::string out = field;
  out += ": ";
  out += type_text(type);
  // Required, Forbidden, TooLong and TooMany never print the value (it may be huge or secret).
  const bool shows_value = type == FieldErrorType::kInvalid ||
                           type == FieldErrorType::kNotSupported ||
                           type == FieldErrorType::kDuplicate || type == FieldErrorType::kNotFound;
  if (shows_value) {
    out += ": ";
    out += value.empty() ? "\"\"" : value;
  }
  if (!detail.empty()) {
    out += ": ";
    out += detail;
  }
  return out;
}

FieldError required(std::string field, std::string detail) {
  return {FieldErrorType::kRequired, std::move(field), {}, std::move(detail)};
}
FieldError invalid(std::string field, std::string value, std::string detail) {
  return {FieldErrorType::kInvalid, std::move(field), std::move(value), std::move(detail)};
}
FieldError not_supported(std::string field, std::string value,
                         const std::vector<std::string_view>& supported) {
  std::string detail;
  if (!supported.empty()) {
    detail = "supported values: ";
    for (std::size_t i = 0; i < supported.size(); ++i) {
      if (i) detail += ", ";
      detail += quote(supported[i]);
    }
  }
  return {FieldErrorType::kNotSupported, std::move(field), std::move(value), std::move(detail)};
}
FieldError duplicate(std::string field, std::string value) {
  return {FieldErrorType::kDuplicate, std::move(field), std::move(value), {}};
}
FieldError forbidden(std::string field, std::string detail) {
  return {FieldErrorType::kForbidden, std::move(field), {}, std::move(detail)};
}
FieldError not_found_field(std::string field, std::string value) {
  return {FieldErrorType::kNotFound, std::move(field), std::move(value), {}};
}
FieldError too_long(std::string field, std::string value, std::size_t max_length) {
  return {FieldErrorType::kTooLong, std::move(field), std::move(value),
          "may not be more than " + std::to_string(max_length) + " bytes"};
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

Status invalid_status(std::string_view qualified_kind, std::string_view name,
                      const FieldErrors& errors) {
  std::string msg(qualified_kind);
  msg += " ";
  msg += quote(name);
  msg += " is invalid: ";
  std::vector<Cause> causes;
  causes.reserve(errors.size());
  if (errors.size() == 1) {
    msg += errors[0].to_string();
  } else {
    msg += "[";
    for (std::size_t i = 0; i < errors.size(); ++i) {
      if (i) msg += ", ";
      msg += errors[i].to_string();
    }
    msg += "]";
  }
  for (const auto& e : errors) {
    std::string cause_msg = e.to_string().substr(e.field.size() + 2);
    causes.push_back({std::string(e.cause_type()), std::move(cause_msg), e.field});
  }
  return invalid_argument(std::move(msg), std::move(causes));
}

}  // namespace orch::api
