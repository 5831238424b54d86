// PortForward: the client side of `kubectl port-forward`. Local TCP listeners whose connections
// are tunnelled to ports of one pod through the API server's `pods/{name}/portforward`.
//
//   auto opts = client::http_options_from_kubeconfig(config);      // server, TLS, credentials
//   auto pf = client::PortForward::start({.connection = *opts, .pod = "kuard",
//                                         .ports = {{.local = 0, .remote = 8080}}});
//   // (*pf)->listeners()[0].local is the port the kernel chose; connect to 127.0.0.1 there.
//   (*pf)->stop();
//
// Protocol (doc/logs_portforward.md, as kubectl 1.32 speaks it): one WebSocket
// (`GET .../portforward`, subprotocol `SPDY/3.1+portforward.k8s.io`, over TLS for https://
// servers with the options' CA, client certificate, bearer token or basic auth) carrying a SPDY/3.1
// session in binary messages. Each accepted local connection gets a request id and two SPDY
// streams: `error` (half-closed at once; the server writes a failure there) and `data` (the bytes,
// both ways). A local EOF half-closes the data stream; the pod side's end closes the local
// connection. A failure on one connection (the pod refused it) is reported through `on_error`
// and the others go on; the tunnel ends when the WebSocket does ("lost connection to pod").
//
// Thread-safety: start() returns an object whose methods may be called from any thread. The
// tunnel runs on its own thread; the callbacks are called there and must not block.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "orch/client/http_transport.hpp"
#include "orch/status.hpp"

namespace orch::client {

struct PortForwardPort {
  // The local port; 0 lets the kernel choose (kubectl's `:REMOTE`). Default: 0.
  std::uint16_t local = 0;
  // The pod's port (> 0). Default: 0.
  std::uint16_t remote = 0;
};

// Parses kubectl's port spec: "8080:80", ":80" (local chosen by the kernel), "80" (the same port
// both sides). BadRequest in kubectl's words: `invalid port format '1:2:3'`, `error parsing local
// port 'x': strconv.ParseUint: parsing "x": invalid syntax`, `remote port must be > 0`.
Result<PortForwardPort> parse_port_forward_spec(std::string_view spec);

struct PortForwardOptions {
  // Where the API server is and how to authenticate: servers.front() is used (no failover), its
  // scheme chooses plain or TLS. Default: none (start() fails).
  HttpTransportOptions connection{};
  // The pod. Default: "default" / "".
  std::string namespace_ = "default";
  std::string pod{};
  // At least one. Default: none.
  std::vector<PortForwardPort> ports{};
  // Addresses to listen on, kubectl's `--address localhost`: every port must be bound on the
  // first; the later ones are skipped where binding fails (no IPv6). A port chosen by the kernel
  // on the first address is reused on the others. Default: 127.0.0.1 and ::1.
  std::vector<std::string> addresses{"127.0.0.1", "::1"};
  // Called on the tunnel's thread for each accepted connection, with kubectl's line
  // (`Handling connection for 8080`). Default: none.
  std::function<void(std::string_view)> on_connection{};
  // Called on the tunnel's thread when one forwarded connection failed, with kubectl's line
  // (`an error occurred forwarding 8080 -> 80: <the server's message>`). Default: none.
  std::function<void(std::string_view)> on_error{};
  // Limit on reaching the server: TCP connect, TLS and WebSocket handshakes. Default: 30 s.
  std::chrono::milliseconds connect_timeout{30'000};
};

struct ForwardedAddress {
  std::string address;  // "127.0.0.1" or "::1"
  std::uint16_t local = 0;
  std::uint16_t remote = 0;
};

class PortForward {
 public:
  // Connects to the API server, upgrades to the tunnel, then binds the listeners; returns when
  // all of that is done. InvalidArgument: no pod, no port, a bad server URL or TLS file.
  // Unavailable: the server cannot be reached (the message names the address). The server's
  // refusal (pod not found, not running, 401/403) comes back as the Status its body describes.
  // Unavailable `unable to listen on any of the requested ports: [{8080 80}]` when a port could
  // not be bound on the first address.
  static Result<std::unique_ptr<PortForward>> start(PortForwardOptions options);
  ~PortForward();
  PortForward(const PortForward&) = delete;
  PortForward& operator=(const PortForward&) = delete;

  // Every bound (address, local port, remote port), in the order of ports x addresses.
  std::vector<ForwardedAddress> listeners() const;
  // Blocks until the tunnel ends or `timeout` passes (zero: no limit). OK after stop();
  // Unavailable `lost connection to pod` when the server ended it; DeadlineExceeded when it
  // still runs.
  Status wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // Closes the listeners, every forwarded connection and the tunnel, and joins its thread.
  // Idempotent.
  void stop();

 private:
  struct Impl;
  explicit PortForward(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace orch::client
