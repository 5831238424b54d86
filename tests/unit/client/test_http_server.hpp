// TestHttpServer: a small HTTP/1.1 server (Boost.Beast, C++20 coroutines, one thread) for the
// client tests. It answers every request from an apiserver::Handler: whole bodies with
// Content-Length, ResponseStream bodies chunked (one HTTP chunk per stream chunk). Keep-alive.
// Optional TLS (server certificate, and optionally a required client certificate).
// Binds 127.0.0.1 port 0.
//
// Test certificates: make_ca / make_cert build an EC P-256 CA and certificates it signs (with
// subjectAltName IP:127.0.0.1 for servers), as PEM text.
//
// Thread-safety: the constructor starts the server thread; stop() (and the destructor) close
// everything and join it. Counters may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "orch/apiserver/handler.hpp"

namespace orch::client::testing {

struct Pem {
  std::string cert;
  std::string key;
};

// A self-signed CA.
Pem make_ca(const std::string& common_name);
// A certificate signed by `ca`: with `server` = true, for 127.0.0.1 (SAN IP and DNS localhost).
Pem make_cert(const Pem& ca, const std::string& common_name, bool server);

struct TestTls {
  Pem server;
  // When set, clients must present a certificate signed by this CA (PEM).
  std::string client_ca;
};

class TestHttpServer {
 public:
  explicit TestHttpServer(apiserver::Handler& handler, std::optional<TestTls> tls = std::nullopt);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  std::uint16_t port() const;
  // "http://127.0.0.1:PORT" or "https://..."
  std::string url() const;
  // Connections accepted so far.
  int connections() const;
  // Requests answered so far.
  int requests() const;
  // The common name of the last client certificate seen ("" if none).
  std::string last_client_cn() const;
  // Closes every open connection (the listener stays).
  void drop_connections();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orch::client::testing
