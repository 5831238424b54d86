// Bytes: a Go []byte field (Secret.data, ConfigMap.binaryData), written in JSON as standard
// base64 with padding. It has the parse/to_string shape the generic codec (codec.hpp) uses for
// string-encoded types, so invalid base64 in a request is a decode error (BadRequest), as in
// Kubernetes.
//
// Thread-safety: a value type; const instances may be shared.
#pragma once

#include <string>
#include <string_view>

#include "orch/status.hpp"

namespace orch::api {

// Standard base64 (RFC 4648 §4, with '=' padding) of `data`.
std::string base64_encode(std::string_view data);
// Decodes standard base64 as Go's base64.StdEncoding does (CR and LF are ignored; padding is
// required). BadRequest `illegal base64 data at input byte N` on malformed input.
Result<std::string> base64_decode(std::string_view text);

class Bytes {
 public:
  Bytes() = default;
  // Holds `data` (raw bytes, not base64).
  explicit Bytes(std::string data) : data_(std::move(data)) {}

  // Decodes base64 `text`; BadRequest as base64_decode.
  static Result<Bytes> parse(std::string_view text);
  // The base64 form.
  std::string to_string() const { return base64_encode(data_); }

  // The raw bytes.
  const std::string& data() const { return data_; }
  bool empty() const { return data_.empty(); }
  std::size_t size() const { return data_.size(); }

  bool operator==(const Bytes&) const = default;

 private:
  std::string data_;
};

}  // namespace orch::api
