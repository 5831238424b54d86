// FaultTransport: requests and watches pass until partitioned; then requests fail with
// Unavailable without reaching the server, open watches break, and new ones cannot open; healing
// lets new requests and watches through.
#include <doctest.h>

#include <boost/json.hpp>

#include <memory>

#include "control_plane.hpp"
#include "orch/client/client.hpp"
#include "orch/client/fault_transport.hpp"
#include "orch/client/in_process_transport.hpp"
#include "orch/client/resource.hpp"

namespace orch::client {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

TEST_CASE("a partition fails requests and breaks watches; healing restores new ones") {
  orch::testing::ControlPlane cp;
  auto link = std::make_shared<FaultTransport>(
      std::shared_ptr<Transport>(make_in_process_transport(cp.server().handler())));
  Client c(link);
  const json::value cm = json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}})");
  REQUIRE(c.create(resources::kConfigMaps, "default", cm).ok());
  auto watch = c.watch(resources::kConfigMaps, "default", {});
  REQUIRE(watch.ok());
  auto first = (*watch)->next(5s);
  REQUIRE(first.ok());
  CHECK(first->size() == 1);  // ADDED a

  link->set_partitioned(true);
  CHECK(link->partitioned());
  CHECK(c.get(resources::kConfigMaps, "default", "a").status().code() == Code::kUnavailable);
  CHECK(c.watch(resources::kConfigMaps, "default", {}).status().code() == Code::kUnavailable);
  // The open watch breaks as a dropped connection does, even with events waiting.
  REQUIRE(cp.client()->remove(resources::kConfigMaps, "default", "a").ok());
  auto broken = (*watch)->next(5s);
  CHECK(broken.status().code() == Code::kUnavailable);
  CHECK((*watch)->ended());

  link->set_partitioned(false);
  CHECK(c.get(resources::kConfigMaps, "default", "a").status().code() == Code::kNotFound);
  auto again = c.watch(resources::kConfigMaps, "default", {});
  CHECK(again.ok());
}

}  // namespace
}  // namespace orch::client
