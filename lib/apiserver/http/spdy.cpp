// SPDY/3.1 framing and header compression (see spdy.hpp). The dictionary is the one the SPDY/3
// draft defines: 65 length-prefixed header names and values, then a block of common text.
#include "spdy.hpp"

#include <zlib.h>

#include <cstring>

namespace orch::apiserver::spdy {
namespace {

constexpr const char* kDictWords[] = {
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
    "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
    "cache-control", "connection", "content-base", "content-encoding", "content-language",
    "content-length", "content-location", "content-md5", "content-range", "content-type", "date",
    "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match",
    "if-range", "if-unmodified-since", "last-modified", "location", "max-forwards", "pragma",
    "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after", "server", "te",
    "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
    "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url",
    "public", "set-cookie", "keep-alive", "origin"};
constexpr const char* kDictTail =
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 "
    "Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 "
    "Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, "
    "Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,"
    "application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch"
    "charset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

std::string build_dictionary() {
  std::string d;
  for (const char* w : kDictWords) {
    put_u32(d, static_cast<std::uint32_t>(std::strlen(w)));
    d += w;
  }
  d += kDictTail;
  return d;
}

}  // namespace

std::uint32_t read_u32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

void put_u32(std::string& out, std::uint32_t v) {
  out += static_cast<char>((v >> 24) & 0xff);
  out += static_cast<char>((v >> 16) & 0xff);
  out += static_cast<char>((v >> 8) & 0xff);
  out += static_cast<char>(v & 0xff);
}

const std::string& dictionary() {
  static const std::string d = build_dictionary();
  return d;
}

FrameHeader parse_frame_header(const unsigned char* p) {
  FrameHeader h;
  h.control = (p[0] & 0x80) != 0;
  if (h.control) {
    h.version = static_cast<std::uint16_t>(((p[0] & 0x7f) << 8) | p[1]);
    h.type = static_cast<std::uint16_t>((p[2] << 8) | p[3]);
  } else {
    h.stream_id = read_u32(p) & 0x7fffffff;
  }
  h.flags = p[4];
  h.length = (std::uint32_t{p[5]} << 16) | (std::uint32_t{p[6]} << 8) | std::uint32_t{p[7]};
  return h;
}

std::string data_frame(std::uint32_t stream_id, std::uint8_t flags, std::string_view data) {
  std::string f;
  f.reserve(kFrameHeaderSize + data.size());
  put_u32(f, stream_id & 0x7fffffff);
  put_u32(f, (std::uint32_t{flags} << 24) | static_cast<std::uint32_t>(data.size() & 0xffffff));
  f += data;
  return f;
}

std::string control_frame(std::uint16_t type, std::uint8_t flags, std::string_view payload) {
  std::string f;
  f.reserve(kFrameHeaderSize + payload.size());
  put_u32(f, (0x8000u | 3u) << 16 | type);
  put_u32(f, (std::uint32_t{flags} << 24) | static_cast<std::uint32_t>(payload.size() & 0xffffff));
  f += payload;
  return f;
}

struct HeaderCodec::Impl {
  z_stream def{};
  z_stream inf{};
  bool def_ok = false;
  bool inf_ok = false;
  ~Impl() {
    if (def_ok) deflateEnd(&def);
    if (inf_ok) inflateEnd(&inf);
  }
};

HeaderCodec::HeaderCodec() : impl_(std::make_unique<Impl>()) {
  const std::string& d = dictionary();
  if (deflateInit(&impl_->def, Z_DEFAULT_COMPRESSION) == Z_OK) {
    impl_->def_ok = deflateSetDictionary(&impl_->def, reinterpret_cast<const Bytef*>(d.data()),
                                         static_cast<uInt>(d.size())) == Z_OK;
  }
  impl_->inf_ok = inflateInit(&impl_->inf) == Z_OK;
}

HeaderCodec::~HeaderCodec() = default;

std::string HeaderCodec::encode(const Headers& headers) {
  std::string raw;
  put_u32(raw, static_cast<std::uint32_t>(headers.size()));
  for (const auto& [k, v] : headers) {
    put_u32(raw, static_cast<std::uint32_t>(k.size()));
    raw += k;
    put_u32(raw, static_cast<std::uint32_t>(v.size()));
    raw += v;
  }
  std::string out;
  if (!impl_->def_ok) return out;
  z_stream& z = impl_->def;
  z.next_in = reinterpret_cast<Bytef*>(raw.data());
  z.avail_in = static_cast<uInt>(raw.size());
  char buf[4096];
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    if (deflate(&z, Z_SYNC_FLUSH) == Z_STREAM_ERROR) return std::string();
    out.append(buf, sizeof buf - z.avail_out);
  } while (z.avail_out == 0);
  return out;
}

Result<Headers> HeaderCodec::decode(std::string_view block) {
  if (!impl_->inf_ok) return internal_error("spdy: zlib inflate unavailable");
  z_stream& z = impl_->inf;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  z.avail_in = static_cast<uInt>(block.size());
  std::string raw;
  char buf[4096];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    int rc = inflate(&z, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      const std::string& d = dictionary();
      if (inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(d.data()),
                               static_cast<uInt>(d.size())) != Z_OK) {
        return bad_request("spdy: header block uses an unknown dictionary");
      }
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) return bad_request("spdy: corrupt header block");
    raw.append(buf, sizeof buf - z.avail_out);
    if (raw.size() > kMaxPayload) return bad_request("spdy: header block too large");
    if (z.avail_in == 0 && z.avail_out != 0) break;
    if (rc == Z_BUF_ERROR && z.avail_out != 0) break;
  }
  Headers headers;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  std::size_t n = raw.size(), pos = 0;
  auto take = [&](std::string& out) {
    if (n - pos < 4) return false;
    std::uint32_t len = read_u32(p + pos);
    pos += 4;
    if (n - pos < len) return false;
    out.assign(raw.data() + pos, len);
    pos += len;
    return true;
  };
  if (n < 4) return bad_request("spdy: short header block");
  std::uint32_t count = read_u32(p);
  pos = 4;
  if (count > 1024) return bad_request("spdy: too many headers");
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string k, v;
    if (!take(k) || !take(v)) return bad_request("spdy: truncated header block");
    for (auto& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    headers.emplace_back(std::move(k), std::move(v));
  }
  return headers;
}

}  // namespace orch::apiserver::spdy
