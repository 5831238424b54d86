// SPDY/3.1 framing, as much of it as Kubernetes' port-forward uses (reference §6.13): frame
// headers, SYN_STREAM/SYN_REPLY/RST_STREAM/PING/GOAWAY payloads, and header blocks compressed with
// zlib and the SPDY/3 dictionary (one deflate and one inflate context per connection direction).
//
// Thread-safety: SpdyHeaderCodec is used by one thread at a time; the free functions are
// stateless.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orch/status.hpp"

namespace orch::apiserver::spdy {

enum FrameType : std::uint16_t {
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};
constexpr std::uint8_t kFlagFin = 0x01;
constexpr std::size_t kFrameHeaderSize = 8;
// Largest payload accepted from a peer (the 24-bit length allows 16 MiB; kubectl sends <= 32 KiB).
constexpr std::size_t kMaxPayload = 16u << 20;

using Headers = std::vector<std::pair<std::string, std::string>>;

struct FrameHeader {
  bool control = false;
  std::uint16_t version = 0;  // control frames
  std::uint16_t type = 0;     // control frames
  std::uint32_t stream_id = 0;  // data frames
  std::uint8_t flags = 0;
  std::uint32_t length = 0;
};

// Decodes the 8-byte frame header.
FrameHeader parse_frame_header(const unsigned char* p);

// Whole frames, ready to write.
std::string data_frame(std::uint32_t stream_id, std::uint8_t flags, std::string_view data);
std::string control_frame(std::uint16_t type, std::uint8_t flags, std::string_view payload);

std::uint32_t read_u32(const unsigned char* p);
void put_u32(std::string& out, std::uint32_t v);

// The SPDY/3 header compression dictionary (1423 bytes).
const std::string& dictionary();

// One connection's header compression state: deflate for what we send, inflate for what we read.
class HeaderCodec {
 public:
  HeaderCodec();
  ~HeaderCodec();
  HeaderCodec(const HeaderCodec&) = delete;
  HeaderCodec& operator=(const HeaderCodec&) = delete;
  // Compressed header block for `headers` (names are sent as given; use lower case).
  std::string encode(const Headers& headers);
  // Decodes a compressed header block; BadRequest when it is malformed. Must see every block
  // of the connection in order (the zlib context is shared).
  Result<Headers> decode(std::string_view block);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orch::apiserver::spdy
