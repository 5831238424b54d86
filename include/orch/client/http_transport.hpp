// The HTTP(S) transport, on libcurl.
//
// - Connection reuse: a pool of curl easy handles, each keeping its connections alive between
//   requests; a request takes an idle handle (or makes one) and puts it back afterwards.
// - TLS: the server certificate is verified against `ca_file` / `ca_data` (PEM), or the system
//   store when neither is set, unless `insecure_skip_tls_verify`. Client certificate + key from
//   files or inline PEM (kubeconfig's client-certificate-data). Files are read once, at creation.
// - Authentication: bearer token (inline, or `bearer_token_file` re-read every minute, which
//   wins over the inline token as in client-go), or basic auth (username/password).
// - Failover: `servers` are tried in order; when a server cannot be connected to (refused,
//   unresolvable, TLS handshake failed, connect timeout), the request goes to the next one, and
//   later requests start from the one that worked. A request that reached a server is never
//   resent, so non-idempotent writes are never duplicated.
// - Streams (watch, follow): each stream runs its transfer on its own thread through a curl multi
//   handle, into a bounded buffer; when the buffer is full the transfer pauses (TCP back-pressure)
//   until the reader catches up. close() wakes the thread at once.
//
// Thread-safety: as Transport. The transport must outlive the streams it returned.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "orch/client/transport.hpp"
#include "orch/status.hpp"

namespace orch::client {

struct HttpTransportOptions {
  // Base URLs, "https://10.0.0.1:6443" or "http://127.0.0.1:8080" (a path prefix is kept), tried
  // in order. At least one. Default: none.
  std::vector<std::string> servers{};

  // PEM file of the certificate authorities that sign the server's certificate. Default: "".
  std::string ca_file{};
  // The same as PEM text (kubeconfig certificate-authority-data, decoded). Wins over ca_file.
  // Default: "".
  std::string ca_data{};
  // Skip verifying the server's certificate and host name. Default: false.
  bool insecure_skip_tls_verify = false;

  // Client certificate and key, as files or inline PEM (data wins over file). Both or neither.
  // Default: "".
  std::string client_certificate_file{};
  std::string client_certificate_data{};
  std::string client_key_file{};
  std::string client_key_data{};

  // Sent as "Authorization: Bearer <token>". Default: "".
  std::string bearer_token{};
  // A file holding the token (trailing whitespace trimmed); re-read at most once a minute and
  // preferred over bearer_token. Default: "".
  std::string bearer_token_file{};
  // HTTP basic authentication, used when there is no token. Default: "".
  std::string username{};
  std::string password{};

  // Limit on a whole request/response when HttpRequest::timeout is zero; for streams it limits
  // the wait for the response headers. Zero means none. Default: 60 s.
  std::chrono::milliseconds timeout{60'000};
  // Limit on establishing a connection (TCP + TLS) to one server. Default: 10 s.
  std::chrono::milliseconds connect_timeout{10'000};
  // Idle easy handles (each with its connections) kept for reuse. Default: 16.
  std::size_t max_idle_handles = 16;
  // A stream's buffer; the transfer pauses while this many bytes wait unread. Default: 4 MiB.
  std::size_t stream_buffer_bytes = 4 * 1024 * 1024;
  // The User-Agent header. Default: "liborch-client/0.1".
  std::string user_agent = "liborch-client/0.1";
};

// Validates `options`, reads the certificate/key/CA/token files, and builds the transport.
// InvalidArgument: no server, a server URL that is not http(s)://, a certificate without its key
// (or the reverse), an unreadable file (the message names it).
Result<std::unique_ptr<Transport>> make_http_transport(HttpTransportOptions options);

}  // namespace orch::client
