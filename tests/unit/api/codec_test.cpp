// The generic JSON codec: the name rule, round trips of every kind, unknown fields, strict
// mode, wrong types with paths, IntOrString, string-encoded members and omitempty rules.
// Thread-safety: single-threaded test code.
#include <doctest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "manifests.hpp"
#include "object_test_util.hpp"
#include "orch/api/codec.hpp"
#include "orch/api/detail/codec_impl.hpp"
#include "orch/api/registry.hpp"
#include "orch/api/types.hpp"

namespace orch::api {
namespace {

using testing::json;

// The JSON keys of an object, in order.
std::vector<std::string> keys(const boost::json::value& v) {
  std::vector<std::string> out;
  for (const auto& kv : v.as_object()) out.emplace_back(kv.key());
  return out;
}

TEST_CASE("json_name maps snake_case members to Kubernetes camelCase") {
  struct Case {
    const char* member;
    const char* json;
  };
  const std::vector<Case> cases = {
      {"name", "name"},
      {"dns_policy", "dnsPolicy"},
      {"pod_ip", "podIP"},
      {"pod_ips", "podIPs"},
      {"host_ip", "hostIP"},
      {"host_ipc", "hostIPC"},
      {"host_pid", "hostPID"},
      {"cluster_ips", "clusterIPs"},
      {"external_ips", "externalIPs"},
      {"pod_cidr", "podCIDR"},
      {"pod_cidrs", "podCIDRs"},
      {"provider_id", "providerID"},
      {"image_id", "imageID"},
      {"container_id", "containerID"},
      {"system_uuid", "systemUUID"},
      {"owner_uid", "ownerUID"},
      {"callback_url", "callbackURL"},
      {"tls_config", "tlsConfig"},
      {"enable_dns", "enableDNS"},
      {"dns", "dns"},
      {"ip", "ip"},
      {"uid", "uid"},
      {"set_hostname_as_fqdn", "setHostnameAsFQDN"},
      {"namespace_", "namespace"},
      {"operator_", "operator"},
      {"continue_", "continue"},
      {"template_", "template"},
      {"termination_grace_period_seconds", "terminationGracePeriodSeconds"},
      {"required_during_scheduling_ignored_during_execution",
       "requiredDuringSchedulingIgnoredDuringExecution"},
      {"qos_class", "qosClass"},
      {"http_get", "httpGet"},
      {"tcp_socket", "tcpSocket"},
  };
  for (const auto& c : cases) {
    SUBCASE(c.member) { CHECK(json_name(c.member) == c.json); }
  }
}

TEST_CASE("per-struct name overrides win over the rule") {
  Node node;
  node.status.daemon_endpoints.kubelet_endpoint.port = 10250;
  const auto v = encode(node);
  CHECK(v.at("status").at("daemonEndpoints").at("kubeletEndpoint") == json(R"({"Port":10250})"));

  Pod pod;
  Volume vol;
  vol.name = "info";
  vol.downward_api = json(R"({"items":[]})");
  vol.scale_io = json(R"({"system":"s"})");
  pod.spec.volumes.push_back(vol);
  const auto pv = encode(pod);
  const auto& enc = pv.at("spec").at("volumes").at(0).as_object();
  CHECK(enc.contains("downwardAPI"));
  CHECK(enc.contains("scaleIO"));
  CHECK(!enc.contains("downwardApi"));
}

TEST_CASE("kubectl's dry-run manifests round-trip exactly") {
  struct Case {
    const char* name;
    std::string_view text;
  };
  for (const Case& c : {Case{"deployment", testing::kKuardDeployment},
                        Case{"pod", testing::kKuardPod}}) {
    SUBCASE(c.name) {
      const auto in = json(c.text);
      const auto* info = find_kind(in.at("apiVersion").as_string(), in.at("kind").as_string());
      REQUIRE(info != nullptr);
      auto out = normalize(*info, in, {.strict = true, .apply_defaults = false});
      REQUIRE_MESSAGE(out.ok(), out.status().to_string());
      CHECK(out->object == in);
      CHECK(out->warnings.empty());
      // Kubernetes' member order: apiVersion, kind, metadata, spec, status.
      CHECK(keys(out->object) ==
            std::vector<std::string>{"apiVersion", "kind", "metadata", "spec", "status"});
    }
  }
}

TEST_CASE("a typed Deployment decodes to the values of the manifest") {
  const auto d = testing::decode_text<Deployment>(testing::kKuardDeployment);
  CHECK(d.metadata.name == "kuard");
  CHECK(!d.metadata.creation_timestamp.has_value());
  REQUIRE(d.spec.replicas.has_value());
  CHECK(*d.spec.replicas == 5);
  REQUIRE(d.spec.selector.has_value());
  CHECK(d.spec.selector->match_labels == StringMap{{"app", "kuard"}});
  REQUIRE(d.spec.template_.spec.containers.size() == 1);
  CHECK(d.spec.template_.spec.containers[0].image == "kuard");
  CHECK(d.spec.strategy.type.empty());
}

TEST_CASE("every kind round-trips through decode and encode") {
  for (const auto& m : testing::all_manifests()) {
    SUBCASE(std::string(m.kind).c_str()) {
      const auto in = json(m.json);
      const auto* info = find_kind(in.at("apiVersion").as_string(), m.kind);
      REQUIRE(info != nullptr);
      auto out = normalize(*info, in, {.strict = true, .apply_defaults = false});
      REQUIRE_MESSAGE(out.ok(), out.status().to_string());
      CHECK_MESSAGE(out->object == in, boost::json::serialize(out->object));
      CHECK(out->warnings.empty());
    }
  }
}

TEST_CASE("the manifests cover every registered kind") {
  for (const auto& info : all_resources()) {
    bool found = false;
    for (const auto& m : testing::all_manifests()) found = found || m.kind == info.kind;
    CHECK_MESSAGE(found, info.kind);
  }
}

TEST_CASE("lists always write items, [] when empty") {
  PodList list;
  list.metadata.resource_version = "42";
  CHECK(encode(list) ==
        json(R"({"apiVersion":"v1","kind":"PodList","metadata":{"resourceVersion":"42"},
                 "items":[]})"));
  auto rt = testing::decode_text<DeploymentList>(
      R"({"apiVersion":"apps/v1","kind":"DeploymentList","metadata":{"continue":"tok",
          "remainingItemCount":3},"items":[{"metadata":{"name":"a"}}]})");
  CHECK(rt.metadata.continue_ == "tok");
  CHECK(rt.metadata.remaining_item_count == 3);
  REQUIRE(rt.items.size() == 1);
  CHECK(rt.items[0].metadata.name == "a");
  CHECK(rt.items[0].kind == "Deployment");
}

TEST_CASE("unknown fields are collected with their paths") {
  DecodeContext ctx;
  auto pod = decode<Pod>(json(R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"name":"x","foo":1},
      "spec":{"containers":[{"name":"c","image":"i","bar":true}],"baz":{}},
      "extra":"e"})"),
                         ctx);
  REQUIRE(pod.ok());
  CHECK(ctx.unknown_fields() == std::vector<std::string>{"metadata.foo", "spec.containers[0].bar",
                                                         "spec.baz", "extra"});
  CHECK(ctx.warnings() == std::vector<std::string>{
                              R"(unknown field "metadata.foo")",
                              R"(unknown field "spec.containers[0].bar")",
                              R"(unknown field "spec.baz")", R"(unknown field "extra")"});
  // The known parts were decoded.
  CHECK(pod->spec.containers.at(0).image == "i");
}

TEST_CASE("strict decoding rejects unknown fields") {
  DecodeContext ctx(DecodeOptions{.strict = true});
  auto pod = decode<Pod>(json(R"({"spec":{"foo":1,"containers":[{"name":"c","bar":2}]}})"), ctx);
  REQUIRE(!pod.ok());
  CHECK(pod.status().code() == Code::kBadRequest);
  CHECK(pod.status().message() ==
        R"(strict decoding error: unknown field "spec.containers[0].bar", unknown field "spec.foo")");

  DecodeContext ok_ctx(DecodeOptions{.strict = true});
  CHECK(decode<Pod>(json(testing::kKuardPod), ok_ctx).ok());
}

TEST_CASE("wrong types are BadRequest naming the path and the expected type") {
  struct Case {
    const char* name;
    const char* body;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"string for int", R"({"spec":{"replicas":"3"}})",
       "spec.replicas: expected integer, got string"},
      {"fraction for int", R"({"spec":{"replicas":1.5}})",
       "spec.replicas: expected integer, got number"},
      {"int32 overflow", R"({"spec":{"replicas":3000000000}})",
       "spec.replicas: value 3000000000 is out of range for int32"},
      {"number for string", R"({"spec":{"template":{"spec":{"containers":[{"name":5}]}}}})",
       "spec.template.spec.containers[0].name: expected string, got number"},
      {"map value", R"({"metadata":{"labels":{"app":true}}})",
       "metadata.labels[app]: expected string, got boolean"},
      {"array for object", R"({"metadata":[]})", "metadata: expected object, got array"},
      {"object for array", R"({"spec":{"template":{"spec":{"containers":{}}}}})",
       "spec.template.spec.containers: expected array, got object"},
      {"string for bool", R"({"spec":{"paused":"true"}})",
       "spec.paused: expected boolean, got string"},
      {"root", R"([])", "expected object, got array"},
      {"bool for IntOrString",
       R"({"spec":{"strategy":{"rollingUpdate":{"maxSurge":true}}}})",
       "spec.strategy.rollingUpdate.maxSurge: expected integer or string, got boolean"},
      {"time", R"({"metadata":{"creationTimestamp":"yesterday"}})", nullptr},
  };
  for (const auto& c : cases) {
    SUBCASE(c.name) {
      DecodeContext ctx;
      auto d = decode<Deployment>(json(c.body), ctx);
      REQUIRE(!d.ok());
      CHECK(d.status().code() == Code::kBadRequest);
      if (c.message != nullptr) {
        CHECK(d.status().message() == c.message);
      } else {
        CHECK(d.status().message().rfind("metadata.creationTimestamp: ", 0) == 0);
      }
    }
  }
}

TEST_CASE("string-encoded members: Quantity, Time, MicroTime, Bytes") {
  SUBCASE("quantities accept JSON numbers and print canonically") {
    const auto node = testing::decode_text<Node>(
        R"({"status":{"capacity":{"cpu":4,"memory":"1.5Gi","ephemeral-storage":0.5}}})");
    CHECK(node.status.capacity.at("cpu") == Quantity::from_value(4));
    const auto enc = encode(node).at("status").at("capacity");
    CHECK(enc == json(R"({"cpu":"4","ephemeral-storage":"500m","memory":"1536Mi"})"));
  }
  SUBCASE("a bad quantity names its path") {
    DecodeContext ctx;
    auto pod = decode<Pod>(
        json(R"({"spec":{"containers":[{"resources":{"limits":{"cpu":"lots"}}}]}})"), ctx);
    REQUIRE(!pod.ok());
    CHECK(pod.status().code() == Code::kBadRequest);
    CHECK(pod.status().message().rfind("spec.containers[0].resources.limits[cpu]: ", 0) == 0);
  }
  SUBCASE("times") {
    const auto lease = testing::decode_text<Lease>(
        R"({"metadata":{"creationTimestamp":"2024-05-01T12:00:00Z"},
            "spec":{"renewTime":"2024-05-01T12:00:00.123456Z"}})");
    REQUIRE(lease.metadata.creation_timestamp.has_value());
    CHECK(lease.metadata.creation_timestamp->to_string() == "2024-05-01T12:00:00Z");
    REQUIRE(lease.spec.renew_time.has_value());
    const auto enc = encode(lease);
    CHECK(enc.at("spec").at("renewTime") == "2024-05-01T12:00:00.123456Z");
    CHECK(enc.at("metadata").at("creationTimestamp") == "2024-05-01T12:00:00Z");
  }
  SUBCASE("a number is not a time") {
    DecodeContext ctx;
    auto lease = decode<Lease>(json(R"({"spec":{"renewTime":12}})"), ctx);
    REQUIRE(!lease.ok());
    CHECK(lease.status().message() == "spec.renewTime: expected string, got number");
  }
  SUBCASE("secret data is base64 on the wire, bytes in memory") {
    const auto secret = testing::decode_text<Secret>(R"({"data":{"k":"aGVsbG8="}})");
    CHECK(secret.data.at("k").data() == "hello");
    CHECK(encode(secret).at("data") == json(R"({"k":"aGVsbG8="})"));
    DecodeContext ctx;
    auto bad = decode<Secret>(json(R"({"data":{"k":"not base64!"}})"), ctx);
    REQUIRE(!bad.ok());
    CHECK(bad.status().message() == "data[k]: illegal base64 data at input byte 3");
  }
}

TEST_CASE("IntOrString members") {
  const auto svc = testing::decode_text<Service>(
      R"({"spec":{"ports":[{"port":80,"targetPort":8080},{"port":81,"targetPort":"http"}]}})");
  CHECK(svc.spec.ports[0].target_port.is_int());
  CHECK(svc.spec.ports[0].target_port.int_value() == 8080);
  CHECK(svc.spec.ports[1].target_port.is_string());
  CHECK(svc.spec.ports[1].target_port.str_value() == "http");
  const auto enc = encode(svc).at("spec").at("ports");
  CHECK(enc == json(R"([{"port":80,"targetPort":8080},{"port":81,"targetPort":"http"}])"));

  const auto d = testing::decode_text<Deployment>(
      R"({"spec":{"strategy":{"rollingUpdate":{"maxUnavailable":0,"maxSurge":"25%"}}}})");
  const auto& ru = *d.spec.strategy.rolling_update;
  CHECK(ru.max_unavailable == IntOrString(0));
  CHECK(ru.max_surge == IntOrString("25%"));
  // An optional IntOrString set to 0 is written; a plain one at 0 is not.
  CHECK(encode(d).at("spec").at("strategy") ==
        json(R"({"rollingUpdate":{"maxUnavailable":0,"maxSurge":"25%"}})"));
  ServicePort unset;
  unset.port = 80;
  CHECK(encode(unset) == json(R"({"port":80})"));
}

TEST_CASE("IntOrString scaled values") {
  struct Case {
    IntOrString value;
    int total;
    bool round_up;
    int expected;
  };
  const std::vector<Case> cases = {
      {IntOrString("25%"), 10, true, 3}, {IntOrString("25%"), 10, false, 2},
      {IntOrString(5), 10, true, 5},     {IntOrString("100%"), 7, false, 7},
      {IntOrString("0%"), 7, true, 0},
  };
  for (const auto& c : cases) {
    SUBCASE(c.value.to_string().c_str()) {
      auto r = c.value.scaled_value(c.total, c.round_up);
      REQUIRE(r.ok());
      CHECK(*r == c.expected);
    }
  }
  CHECK(!IntOrString("abc").scaled_value(10, true).ok());
  CHECK(!IntOrString("x%").scaled_value(10, true).ok());
}

TEST_CASE("optional members tell unset from zero; plain members are omitempty") {
  Deployment d;
  d.metadata.name = "d";
  auto enc = encode(d);
  CHECK(!enc.at("spec").as_object().contains("replicas"));
  CHECK(!enc.at("spec").as_object().contains("minReadySeconds"));
  CHECK(enc.at("status") == json("{}"));
  d.spec.replicas = 0;
  d.spec.min_ready_seconds = 0;
  enc = encode(d);
  CHECK(enc.at("spec").at("replicas") == 0);
  CHECK(!enc.at("spec").as_object().contains("minReadySeconds"));
  // Value-typed timestamps are written as null.
  CHECK(enc.at("metadata") == json(R"({"name":"d","creationTimestamp":null})"));

  // Always-emitted fields Kubernetes clients require.
  ReplicaSet rs;
  CHECK(encode(rs).at("status") == json(R"({"replicas":0})"));
  ContainerPort port;
  CHECK(encode(port) == json(R"({"containerPort":0})"));
  Container c;
  CHECK(encode(c) == json(R"({"name":"","resources":{}})"));
  PodCondition cond;
  cond.type = "Ready";
  cond.status = "True";
  CHECK(encode(cond) ==
        json(R"({"type":"Ready","status":"True","lastProbeTime":null,"lastTransitionTime":null})"));
}

TEST_CASE("null means unset") {
  const auto d = testing::decode_text<Deployment>(
      R"({"metadata":{"name":null,"labels":null},"spec":{"replicas":null,"paused":null,
          "template":{"spec":{"containers":[null]}}},"status":null})");
  CHECK(d.metadata.name.empty());
  CHECK(!d.spec.replicas.has_value());
  CHECK(!d.spec.paused);
  REQUIRE(d.spec.template_.spec.containers.size() == 1);
  CHECK(d.spec.template_.spec.containers[0].name.empty());
}

TEST_CASE("raw members pass through unchanged") {
  const char* text = R"({"spec":{"containers":[{"name":"c","image":"i","resources":{},
      "securityContext":{"runAsUser":1000,"capabilities":{"add":["NET_ADMIN"]}}}],
      "securityContext":{"fsGroup":2000},
      "dnsConfig":{"nameservers":["1.1.1.1"],"options":[{"name":"ndots","value":"2"}]},
      "affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
        {"labelSelector":{"matchLabels":{"a":"b"}},"topologyKey":"zone"}]}}}})";
  const auto pod = testing::decode_text<Pod>(text);
  CHECK(pod.spec.security_context == json(R"({"fsGroup":2000})"));
  const auto enc = encode(pod);
  CHECK(enc.at("spec").at("dnsConfig") == json(text).at("spec").at("dnsConfig"));
  CHECK(enc.at("spec").at("affinity") == json(text).at("spec").at("affinity"));
  CHECK(enc.at("spec").at("containers").at(0).at("securityContext") ==
        json(R"({"runAsUser":1000,"capabilities":{"add":["NET_ADMIN"]}})"));
}

TEST_CASE("parse_json reports malformed input as BadRequest") {
  auto bad = parse_json(R"({"a":)");
  REQUIRE(!bad.ok());
  CHECK(bad.status().code() == Code::kBadRequest);
  CHECK(bad.status().message().rfind("invalid JSON at byte ", 0) == 0);
  CHECK(!parse_json("{} {}").ok());
  CHECK(parse_json(" {\"a\":1} ").ok());
}

// A described struct outside types.hpp, decoded through the detail header: the codec is generic.
struct Custom {
  std::string host_ip;
  std::optional<std::int64_t> limit;
  std::vector<IntOrString> ports;
  std::map<std::string, Quantity> sizes;
  double ratio = 0;
  static constexpr JsonNameOverride kJsonNames[] = {{"ratio", "Ratio"}};
  static constexpr std::string_view kAlwaysEmit[] = {"ratio"};
};
BOOST_DESCRIBE_STRUCT(Custom, (), (host_ip, limit, ports, sizes, ratio))

TEST_CASE("the codec works for any described struct") {
  DecodeContext ctx;
  auto c = decode<Custom>(
      json(R"({"hostIP":"1.2.3.4","limit":7,"ports":[80,"http"],"sizes":{"a":"1k"},"Ratio":0.5})"),
      ctx);
  REQUIRE(c.ok());
  CHECK(c->host_ip == "1.2.3.4");
  CHECK(c->limit == 7);
  CHECK(c->ratio == 0.5);
  CHECK(encode(*c) ==
        json(R"({"hostIP":"1.2.3.4","limit":7,"ports":[80,"http"],"sizes":{"a":"1k"},"Ratio":0.5})"));
  CHECK(encode(Custom{}) == json(R"({"Ratio":0.0})"));
}

}  // namespace
}  // namespace orch::api
