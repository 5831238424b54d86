// Watch streams: the newline-delimited JSON events of `?watch=true` (one
// {"type":"ADDED","object":{...}} per line), decoded into WatchEvents.
//
// - WatchDecoder turns bytes into events, whatever the chunking (a line may span chunks, a chunk
//   may hold many lines, "\r\n" and blank lines are accepted).
// - WatchStream reads a ByteStream through a decoder. A server ERROR event ends the stream with
//   its Status: a 410 Expired ("too old resource version") becomes OutOfRange, which an informer
//   answers by relisting. BOOKMARK events carry only a resourceVersion; they are handed out so the
//   caller can resume from there.
//
// Thread-safety: WatchDecoder and WatchStream are used by one thread at a time, except
// WatchStream::close(), which may be called from any thread. Event objects are immutable and
// shared; copy one before changing it.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orch/client/transport.hpp"
#include "orch/status.hpp"

namespace orch::client {

enum class WatchEventType : std::uint8_t { Added, Modified, Deleted, Bookmark, Error };

// "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR".
std::string_view watch_event_type_name(WatchEventType type);

struct WatchEvent {
  WatchEventType type = WatchEventType::Added;
  // The object (for ERROR: the Status object). Never null in events the decoder produced.
  std::shared_ptr<const boost::json::value> object;
};

class WatchDecoder {
 public:
  // A line longer than `max_line_bytes` is an error (TooLarge). Default: 64 MiB.
  explicit WatchDecoder(std::size_t max_line_bytes = 64 * 1024 * 1024)
      : max_line_bytes_(max_line_bytes) {}

  // Appends `bytes`; every line completed by them is decoded and appended to `out`, in order.
  // Internal: a line that is not a JSON object with a known "type" and an object "object" (the
  // events before it are still in `out`; the decoder should then be dropped). TooLarge: see above.
  Status feed(std::string_view bytes, std::vector<WatchEvent>& out);
  // Bytes of an incomplete last line held back until the rest arrives.
  std::size_t pending_bytes() const { return partial_.size(); }

 private:
  Status decode_line(std::string_view line, std::vector<WatchEvent>& out);

  // Const after construction.
  const std::size_t max_line_bytes_;
  std::string partial_;
};

// The Status an ERROR event's object describes (OutOfRange for code 410).
Status watch_error_status(const boost::json::value& status_object);

class WatchStream {
 public:
  // Reads `body` (the response of a watch request). Owns it.
  explicit WatchStream(std::unique_ptr<ByteStream> body);
  ~WatchStream();
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;

  // The events that arrived, waiting at most `timeout` for the first one. An empty vector means
  // none arrived in time, or the stream has ended (ended() tells which).
  // OutOfRange: the server sent ERROR 410 (resourceVersion too old: relist). Other ERROR events
  // return the Status they carry. Unavailable: the connection broke. Internal: a malformed event.
  // Events decoded before an error are returned first; the error comes on the next call. After
  // an error, ended() is true.
  Result<std::vector<WatchEvent>> next(std::chrono::milliseconds timeout);
  // The server ended the stream (or an error ended it); re-watch from last_resource_version().
  bool ended() const { return ended_; }
  // metadata.resourceVersion of the last ADDED/MODIFIED/DELETED/BOOKMARK event returned; "" before
  // the first.
  const std::string& last_resource_version() const { return last_resource_version_; }
  // Ends the stream and releases its connection. Idempotent; from any thread.
  void close();

 private:
  // Const after construction.
  const std::unique_ptr<ByteStream> body_;
  // Reader's thread only.
  WatchDecoder decoder_;
  std::optional<Status> pending_error_;
  bool ended_ = false;
  std::string last_resource_version_;
};

}  // namespace orch::client
