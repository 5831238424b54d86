// Base64 for Bytes fields, matching Go's encoding/base64 StdEncoding (as encoding/json uses it
// for []byte). Thread-safety: stateless.
#include "orch/api/bytes.hpp"

#include <array>

namespace orch::api {

namespace {
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int, 256> make_reverse() {
  std::array<int, 256> table{};
  for (auto& v : table) v = -1;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
  }
  return table;
}
constexpr std::array<int, 256> kReverse = make_reverse();

Status illegal(std::size_t offset) {
  return bad_request("illegal base64 data at input byte " + std::to_string(offset));
}
}  // namespace

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                       (static_cast<unsigned char>(data[i + 1]) << 8) |
                       static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = data.size() - i;
  if (rest == 1) {
    const unsigned v = static_cast<unsigned char>(data[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    const unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                       (static_cast<unsigned char>(data[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  // Collect the significant characters with their offsets in the input (Go reports offsets in
  // the original text, newlines included).
  std::string out;
  out.reserve(text.size() / 4 * 3);
  unsigned acc = 0;
  int have = 0;         // sextets in the current quantum
  int padding = 0;      // '=' seen in the current quantum
  std::size_t quantum_start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' || c == '\n') continue;
    if (have == 0 && padding == 0) quantum_start = i;
    if (c == '=') {
      // Padding is only valid in positions 3 and 4 of a quantum.
      if (have < 2) return illegal(i);
      ++padding;
      if (have + padding == 4) {
        if (have == 2) {
          out += static_cast<char>((acc >> 4) & 0xff);
        } else {
          out += static_cast<char>((acc >> 10) & 0xff);
          out += static_cast<char>((acc >> 2) & 0xff);
        }
        // Nothing but newlines may follow the padding.
        for (std::size_t j = i + 1; j < text.size(); ++j) {
          if (text[j] != '\r' && text[j] != '\n') return illegal(j);
        }
        return out;
      }
      continue;
    }
    if (padding > 0) return illegal(i);
    const int v = kReverse[static_cast<unsigned char>(c)];
    if (v < 0) return illegal(i);
    acc = (acc << 6) | static_cast<unsigned>(v);
    if (++have == 4) {
      out += static_cast<char>((acc >> 16) & 0xff);
      out += static_cast<char>((acc >> 8) & 0xff);
      out += static_cast<char>(acc & 0xff);
      acc = 0;
      have = 0;
    }
  }
  if (have != 0 || padding != 0) return illegal(have == 0 ? text.size() : quantum_start);
  return out;
}

Result<Bytes> Bytes::parse(std::string_view text) {
  ORCH_ASSIGN_OR_RETURN(std::string data, base64_decode(text));
  return Bytes(std::move(data));
}

}  // namespace orch::api
