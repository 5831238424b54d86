// The two transports the client conformance tests run against, each in front of its own
// FakeApiServer: in-process (Handler called directly) and HTTP (TestHttpServer on 127.0.0.1).
#pragma once

#include <doctest.h>

#include <memory>

#include "fake_apiserver.hpp"
#include "orch/client/client.hpp"
#include "orch/client/http_transport.hpp"
#include "orch/client/in_process_transport.hpp"
#include "test_http_server.hpp"

namespace orch::client::testing {

struct InProcessEnv {
  static constexpr const char* kName = "in-process";
  FakeApiServer server;
  std::shared_ptr<Client> client =
      std::make_shared<Client>(std::shared_ptr<Transport>(make_in_process_transport(server)));
};

struct HttpEnv {
  static constexpr const char* kName = "http";
  HttpEnv() {
    HttpTransportOptions o;
    o.servers = {http.url()};
    auto t = make_http_transport(std::move(o));
    REQUIRE_MESSAGE(t.ok(), t.status().to_string());
    client = std::make_shared<Client>(std::shared_ptr<Transport>(std::move(*t)));
  }
  FakeApiServer server;
  TestHttpServer http{server};
  std::shared_ptr<Client> client;
};

}  // namespace orch::client::testing
