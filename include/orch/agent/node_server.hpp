// NodeServer: the agent's own authenticated HTTP endpoint, like the kubelet's, through which the
// API server proxies `kubectl logs` and `kubectl port-forward` (pods/log, pods/portforward).
//
// Every request needs `Authorization: Bearer <token>` with NodeServerOptions::token (else 401).
// HTTPS when given a serving certificate (NodeServerOptions::tls_cert_pem; the TLS connection is
// bridged to the plain sessions, orch/pki/tls.hpp), else plain HTTP/1.1.
//
//   GET /containerLogs/{namespace}/{pod}/{container}?follow=&tailLines=&sinceSeconds=&sinceTime=
//       &timestamps=&previous=&limitBytes=
//     200, `Content-Type: text/plain`, chunked: the log as ContainerLogReader reads it
//     (container_log.hpp); with follow=true the response stays open and grows until the
//     container exits (PodLocation::container_running), its log is superseded (restart) or
//     removed, or the client goes away.
//     400 for bad options or no previous restart, 404 for an unknown pod or a container without a
//     log. Error bodies are one line of text.
//
//   GET /portForward/{namespace}/{pod}?port=N
//     with `Connection: Upgrade` and `Upgrade: orch-portforward`: the server connects to
//     pod_ip:N and answers `101 Switching Protocols` (`Upgrade: orch-portforward`); from then on
//     the connection is a raw bidirectional byte stream spliced to the pod's port (half-close
//     passes through). 502 with the dial error when the port refuses, 400 for a missing/bad port
//     or no upgrade, 404 for an unknown pod. One request = one forwarded TCP connection.
//
// Every read has a timeout (request headers: 30 s; an idle port-forward or log connection: 4 h,
// the kubelet's streaming-connection-idle-timeout). stop() closes every session.
//
// Thread-safety: start/port/stop may be called from any thread; stop() is idempotent and blocks
// until the network thread has exited. resolve_pod is called on the server's network thread and
// must not block for long (read a cache, not the API).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "orch/status.hpp"

namespace orch::agent {

// Where a pod's logs and network are.
struct PodLocation {
  std::string uid;
  std::string pod_ip;   // the address port-forward connects to
  std::string log_dir;  // the pod's log directory (container_log.hpp's pod_log_dir)
  // Optional: whether the named container is running now. When set, a followed log ends (after
  // a last read of its file) once it returns false, as `kubectl logs -f` ends when the container
  // exits. Unset: a followed log ends only when a later restart's file appears or the client
  // leaves. Called on the server's network thread, every 100 ms while a followed log is idle.
  std::function<bool(std::string_view container)> container_running;
};

struct NodeServerOptions {
  // Address to bind. Default: 127.0.0.1.
  std::string address = "127.0.0.1";
  // Port; 0 picks a free one (see NodeServer::port()). Default: 0.
  std::uint16_t port = 0;
  // The bearer token every request must carry. Required (InvalidArgument when empty).
  std::string token;
  // Serve HTTPS with this certificate (PEM; its SANs must name `address`) and key. Both or
  // neither (InvalidArgument). Default: none (plain HTTP).
  std::string tls_cert_pem{};
  std::string tls_key_pem{};
  // Finds a pod of this node: NotFound when it is not here. Required.
  std::function<Result<PodLocation>(std::string_view ns, std::string_view name)> resolve_pod;
};

class NodeServer {
 public:
  // Binds and serves. InvalidArgument for an empty token, a missing resolver or a bad address;
  // Unavailable when the address cannot be bound.
  static Result<std::unique_ptr<NodeServer>> start(NodeServerOptions options);
  ~NodeServer();
  NodeServer(const NodeServer&) = delete;
  NodeServer& operator=(const NodeServer&) = delete;

  // The bound port (the real one when options.port was 0).
  std::uint16_t port() const;
  // Stops accepting, closes every session (followed logs, forwarded connections) and joins the
  // network thread. Idempotent; the destructor calls it.
  void stop();

  struct Impl;

 private:
  explicit NodeServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace orch::agent
