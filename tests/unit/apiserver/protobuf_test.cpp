// Kubernetes protobuf bodies -> JSON: real kubectl 1.32 request bodies (captured from the wire)
// against kubectl's own JSON for the same command, bodies built with a test-only encoder for every
// kind and special shape, and every error the decoder reports.
#include "orch/apiserver/protobuf.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <doctest.h>

namespace orch::apiserver {
namespace {

namespace json = boost::json;

json::value parse_json(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
  REQUIRE_MESSAGE(!ec, "test JSON does not parse: " << std::string(text));
  return v;
}

// ---------------------------------------------------------------------------------------------
// A test-only protobuf encoder: each field is described by its number, wire type and value, and
// a message is the concatenation of its fields (the order Go writes them in: by field number).

enum class Wire : std::uint8_t { kVarint = 0, kFixed64 = 1, kLength = 2, kGroup = 3, kFixed32 = 5 };

std::string varint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}

std::string key(std::uint32_t number, Wire wire) {
  return varint((static_cast<std::uint64_t>(number) << 3) | static_cast<std::uint64_t>(wire));
}

// A varint field (int32, int64, bool). Negative int32 values go sign-extended, as Go sends them.
std::string V(std::uint32_t number, std::int64_t value) {
  return key(number, Wire::kVarint) + varint(static_cast<std::uint64_t>(value));
}

// A length-delimited field: string, bytes, or an already encoded message.
std::string S(std::uint32_t number, std::string_view bytes) {
  return key(number, Wire::kLength) + varint(bytes.size()) + std::string(bytes);
}

std::string cat(std::initializer_list<std::string> parts) {
  std::string out;
  for (const std::string& p : parts) out += p;
  return out;
}

// A nested message field.
std::string M(std::uint32_t number, std::initializer_list<std::string> fields) {
  return S(number, cat(fields));
}

// One entry of a map<string, string|bytes> field.
std::string entry(std::uint32_t number, std::string_view k, std::string_view v) {
  return M(number, {S(1, k), S(2, v)});
}

// One entry of a map<string, Message> field.
std::string entry_msg(std::uint32_t number, std::string_view k, std::string value_message) {
  return M(number, {S(1, k), S(2, value_message)});
}

std::string fixed(std::uint32_t number, Wire wire, std::uint64_t value) {
  std::string out = key(number, wire);
  const int size = wire == Wire::kFixed64 ? 8 : 4;
  for (int i = 0; i < size; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

// The "k8s\0" magic and a runtime.Unknown envelope around `raw`, as Go's serializer writes it.
std::string body(std::string_view api_version, std::string_view kind, std::string_view raw) {
  return std::string("k8s\0", 4) + M(1, {S(1, api_version), S(2, kind)}) + S(2, raw) + S(3, "") +
         S(4, "");
}

// Shapes.
std::string quantity(std::string_view q) { return S(1, q); }
std::string int_value(std::int32_t v) { return cat({V(1, 0), V(2, v), S(3, "")}); }
std::string str_value(std::string_view s) { return cat({V(1, 1), V(2, 0), S(3, s)}); }
std::string time_at(std::int64_t seconds, std::int32_t nanos = 0) {
  return cat({V(1, seconds), V(2, nanos)});
}

std::string hex_to_bytes(std::string_view hex) {
  REQUIRE(hex.size() % 2 == 0);
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

std::string bytes_to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out += kDigits[(static_cast<unsigned char>(c) >> 4) & 0xf];
    out += kDigits[static_cast<unsigned char>(c) & 0xf];
  }
  return out;
}

// kubectl prints an unset metav1.Time as `"creationTimestamp": null`; the decoder omits it (both
// mean unset). Removes such null members so kubectl's own JSON can be the expectation.
void drop_null_timestamps(json::value& v) {
  if (v.is_object()) {
    json::object& obj = v.get_object();
    if (const json::value* ts = obj.if_contains("creationTimestamp"); ts && ts->is_null()) {
      obj.erase("creationTimestamp");
    }
    for (auto& member : obj) drop_null_timestamps(member.value());
  } else if (v.is_array()) {
    for (json::value& element : v.get_array()) drop_null_timestamps(element);
  }
}

void check_decodes_to(const std::string& wire, std::string_view expected_json) {
  const Result<json::value> got = decode_kubernetes_protobuf(wire);
  REQUIRE_MESSAGE(got.ok(), got.status().to_string());
  const json::value expected = parse_json(expected_json);
  CHECK_MESSAGE(*got == expected,
                "got      " << json::serialize(*got) << "\nexpected " << json::serialize(expected));
}

// ---------------------------------------------------------------------------------------------
// Real kubectl 1.32.4 bodies. Captured by pointing `kubectl create ... --validate=false` at a
// throwaway HTTP listener that logged each POST body; the JSON is what the same kubectl prints
// for the same command with `--dry-run=client -o json` (the JSON form of the same Go object).

struct RealCase {
  std::string command;
  std::string hex;
  std::string kubectl_json;
};

const std::vector<RealCase>& real_cases() {
  static const std::vector<RealCase> cases =
      {
          {"create deployment kuard --image=kuard --replicas=5",
           "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412b3010a230a056b7561726412001a002"
           "2002a"
           "003200380042005a0c0a0361707012056b75617264127e0805120e0a0c0a0361707012056b756172641a620"
           "a1e0a"
           "0012001a0022002a003200380042005a0c0a0361707012056b75617264124012220a056b7561726412056b7"
           "56172"
           "642a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009"
           "a0100"
           "c2010022020a00280038001a0c0800100018002000280038001a002200",
           R"({"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"kuard","creationTimestamp":null,"labels":{"app":"kuard"}},"spec":{"replicas":5,"selector":{"matchLabels":{"app":"kuard"}},"template":{"metadata":{"creationTimestamp":null,"labels":{"app":"kuard"}},"spec":{"containers":[{"name":"kuard","image":"kuard","resources":{}}]}},"strategy":{}},"status":{}})"},
          {"create deployment zero --image=a --image=b:v2 --replicas=0 --port=8080",
           "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412d5010a210a047a65726f12001a00220"
           "02a00"
           "3200380042005a0b0a0361707012047a65726f12a1010800120d0a0b0a0361707012047a65726f1a85010a1"
           "d0a00"
           "12001a0022002a003200380042005a0b0a0361707012047a65726f126412270a01611201612a00320b0a001"
           "00018"
           "903f22002a0042006a007200800100880100900100a20100121d0a01621204623a76322a0042006a0072008"
           "00100"
           "880100900100a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a0028003"
           "80"
           "01a0c0800100018002000280038001a002200",
           R"({"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"zero","creationTimestamp":null,"labels":{"app":"zero"}},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"zero"}},"template":{"metadata":{"creationTimestamp":null,"labels":{"app":"zero"}},"spec":{"containers":[{"name":"a","image":"a","ports":[{"containerPort":8080}],"resources":{}},{"name":"b","image":"b:v2","resources":{}}]}},"strategy":{}},"status":{}})"},
          {"create configmap cm1 --from-literal=a=1 --from-literal=b= --from-file=bin=bin.dat "
           "--from-file=txt=txt.dat (bin.dat = 00 01 ff fe)",
           "6b3873000a0f0a0276311209436f6e6669674d617012400a130a03636d3112001a0022002a0032003800420"
           "0120"
           "60a016112013112050a01621200120d0a03747874120668656c6c6f0a1a0b0a0362696e12040001fffe1a00"
           "2200",
           R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm1","creationTimestamp":null},"data":{"a":"1","b":"","txt":"hello\n"},"binaryData":{"bin":"AAH//g=="}})"},
          {"create secret generic s1 --from-literal=user=admin --from-file=bin=bin.dat "
           "--type=Opaque",
           "6b3873000a0c0a027631120653656372657412380a120a02733112001a0022002a00320038004200120b0a0"
           "36269"
           "6e12040001fffe120d0a0475736572120561646d696e1a064f70617175651a002200",
           R"({"kind":"Secret","apiVersion":"v1","metadata":{"name":"s1","creationTimestamp":null},"data":{"bin":"AAH//g==","user":"YWRtaW4="},"type":"Opaque"})"},
          {"create secret generic s2 --from-literal=x=y",
           "6b3873000a0c0a0276311206536563726574121e0a120a02733212001a0022002a0032003800420012060a0"
           "17812"
           "01791a001a002200",
           R"({"kind":"Secret","apiVersion":"v1","metadata":{"name":"s2","creationTimestamp":null},"data":{"x":"eQ=="}})"},
          {"create namespace ns1",
           "6b3873000a0f0a02763112094e616d657370616365121b0a130a036e733112001a0022002a0032003800420"
           "0120"
           "01a020a001a002200",
           R"({"kind":"Namespace","apiVersion":"v1","metadata":{"name":"ns1","creationTimestamp":null},"spec":{},"status":{}})"},
          {"create service clusterip svc1 --tcp=80:8080 --tcp=443",
           "6b3873000a0d0a0276311207536572766963651286010a210a047376633112001a0022002a0032003800420"
           "0"
           "5a0b0a03617070120473766331125d0a1b0a0738302d38303830120354435018502207080010903f1a00280"
           "00a18"
           "0a03343433120354435018bb032207080010bb031a002800120b0a036170701204737663311a002209436c7"
           "57374"
           "657249503a00420052005a00600068001a020a001a002200",
           R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"svc1","creationTimestamp":null,"labels":{"app":"svc1"}},"spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080},{"name":"443","protocol":"TCP","port":443,"targetPort":443}],"selector":{"app":"svc1"},"type":"ClusterIP"},"status":{"loadBalancer":{}}})"},
          {"create service nodeport svc2 --tcp=80:http --node-port=30080",
           "6b3873000a0d0a02763112075365727669636512700a210a047376633212001a0022002a003200380042005"
           "a0b0a"
           "0361707012047376633212470a200a0738302d6874747012035443501850220a080110001a0468747470288"
           "0eb01"
           "120b0a036170701204737663321a0022084e6f6465506f72743a00420052005a00600068001a020a001a002"
           "200",
           R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"svc2","creationTimestamp":null,"labels":{"app":"svc2"}},"spec":{"ports":[{"name":"80-http","protocol":"TCP","port":80,"targetPort":"http","nodePort":30080}],"selector":{"app":"svc2"},"type":"NodePort"},"status":{"loadBalancer":{}}})"},
          {"create service loadbalancer svc3 --tcp=5678:8080",
           "6b3873000a0d0a02763112075365727669636512720a210a047376633312001a0022002a003200380042005"
           "a0b0a"
           "0361707012047376633312490a1e0a09353637382d38303830120354435018ae2c2207080010903f1a00280"
           "0120b"
           "0a036170701204737663331a00220c4c6f616442616c616e6365723a00420052005a00600068001a020a001"
           "a0022"
           "00",
           R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"svc3","creationTimestamp":null,"labels":{"app":"svc3"}},"spec":{"ports":[{"name":"5678-8080","protocol":"TCP","port":5678,"targetPort":8080}],"selector":{"app":"svc3"},"type":"LoadBalancer"},"status":{"loadBalancer":{}}})"},
          {"create service externalname svc4 --external-name=example.com",
           "6b3873000a0d0a027631120753657276696365125d0a210a047376633412001a0022002a003200380042005"
           "a0b0a"
           "036170701204737663341234120b0a036170701204737663341a00220c45787465726e616c4e616d653a004"
           "20052"
           "0b6578616d706c652e636f6d5a00600068001a020a001a002200",
           R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"svc4","creationTimestamp":null,"labels":{"app":"svc4"}},"spec":{"selector":{"app":"svc4"},"type":"ExternalName","externalName":"example.com"},"status":{"loadBalancer":{}}})"},
          {"create service clusterip svc5 --clusterip=None",
           "6b3873000a0d0a02763112075365727669636512530a210a047376633512001a0022002a003200380042005"
           "a0b0a"
           "03617070120473766335122a120b0a036170701204737663351a044e6f6e652209436c757374657249503a0"
           "04200"
           "52005a00600068001a020a001a002200",
           R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"svc5","creationTimestamp":null,"labels":{"app":"svc5"}},"spec":{"selector":{"app":"svc5"},"clusterIP":"None","type":"ClusterIP"},"status":{"loadBalancer":{}}})"},
          {"create serviceaccount sa1",
           "6b3873000a140a027631120e536572766963654163636f756e7412150a130a0373613112001a0022002a003"
           "20038"
           "0042001a002200",
           R"({"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"sa1","creationTimestamp":null}})"},
          {"create quota q1 --hard=cpu=1",
           "6b3873000a130a027631120d5265736f7572636551756f746112240a120a02713112001a0022002a0032003"
           "80042"
           "00120c0a0a0a0363707512030a01311a001a002200",
           R"({"kind":"ResourceQuota","apiVersion":"v1","metadata":{"name":"q1","creationTimestamp":null},"spec":{"hard":{"cpu":"1"}},"status":{}})"},
          // The DELETE body of `kubectl drain NODE --force --disable-eviction --grace-period=1`
          // (kubectl -v=9); its Evictions go as JSON.
          {"drain --disable-eviction --grace-period=1 (DELETE pod)",
           "6b3873000a130a027631120d44656c6574654f7074696f6e73120208011a002200",
           R"({"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":1})"},
      };
  return cases;
}

TEST_CASE("real kubectl 1.32 protobuf bodies decode to kubectl's own JSON") {
  for (const RealCase& c : real_cases()) {
    SUBCASE(c.command.c_str()) {
      const Result<json::value> got = decode_kubernetes_protobuf(hex_to_bytes(c.hex));
      REQUIRE_MESSAGE(got.ok(), got.status().to_string());
      json::value expected = parse_json(c.kubectl_json);
      drop_null_timestamps(expected);
      CHECK_MESSAGE(*got == expected, "got      " << json::serialize(*got) << "\nexpected "
                                                  << json::serialize(expected));
    }
  }
}

// Go writes every value field, zero or not; the test encoder reproduces the real body byte for
// byte, which pins down the encoder and the field numbers the other cases rely on.
std::string go_object_meta(std::string_view name, std::string_view app) {
  return cat({S(1, name), S(2, ""), S(3, ""), S(4, ""), S(5, ""), S(6, ""), V(7, 0), S(8, ""),
              entry(11, "app", app)});
}

std::string kubectl_create_deployment_kuard() {
  const std::string container = cat({S(1, "kuard"), S(2, "kuard"), S(5, ""), S(8, ""), S(13, ""),
                                     S(14, ""), V(16, 0), V(17, 0), V(18, 0), S(20, "")});
  const std::string pod_spec =
      cat({M(2, {container}), S(3, ""), S(6, ""), S(8, ""), S(9, ""), S(10, ""), V(11, 0), V(12, 0),
           V(13, 0), S(16, ""), S(17, ""), S(19, ""), S(24, "")});
  const std::string spec = cat({V(1, 5), M(2, {entry(1, "app", "kuard")}),
                                M(3, {S(1, go_object_meta("", "kuard")), S(2, pod_spec)}),
                                M(4, {S(1, "")}), V(5, 0), V(7, 0)});
  const std::string status = cat({V(1, 0), V(2, 0), V(3, 0), V(4, 0), V(5, 0), V(7, 0)});
  return body("apps/v1", "Deployment",
              cat({S(1, go_object_meta("kuard", "kuard")), S(2, spec), S(3, status)}));
}

TEST_CASE("the test encoder reproduces kubectl's create deployment body exactly") {
  CHECK(bytes_to_hex(kubectl_create_deployment_kuard()) == real_cases().front().hex);
  check_decodes_to(kubectl_create_deployment_kuard(),
                   R"({"kind":"Deployment","apiVersion":"apps/v1",
          "metadata":{"name":"kuard","labels":{"app":"kuard"}},
          "spec":{"replicas":5,"selector":{"matchLabels":{"app":"kuard"}},
                  "template":{"metadata":{"labels":{"app":"kuard"}},
                              "spec":{"containers":[{"name":"kuard","image":"kuard","resources":{}}]}},
                  "strategy":{}},
          "status":{}})");
}

// ---------------------------------------------------------------------------------------------
// Bodies built with the encoder.

struct Case {
  std::string name;
  std::string wire;
  std::string expected;
};

std::string rich_deployment() {
  const std::string meta = cat({
      S(1, "web"),
      S(3, "prod"),
      S(5, "u-1"),
      S(6, "42"),
      V(7, 3),
      M(8, {time_at(1704067200)}),       // creationTimestamp 2024-01-01T00:00:00Z
      M(9, {time_at(1704070861, 500)}),  // deletionTimestamp, nanos dropped in JSON
      V(10, 0),                          // deletionGracePeriodSeconds (pointer): 0 kept
      entry(11, "app", "web"),
      entry(11, "tier", "fe"),
      entry(12, "note", "x"),
      M(13, {S(1, "ReplicaSet"), S(3, "rs"), S(4, "u-2"), S(5, "apps/v1"), V(6, 1), V(7, 0)}),
      S(14, "f1"),
      S(14, "f2"),
      M(17, {S(1, "kubectl"), S(2, "Update"), S(3, "apps/v1"), M(4, {time_at(1704067200)}),
             S(6, "FieldsV1"), M(7, {S(1, R"({"f:spec":{"f:replicas":{}}})")}), S(8, "")}),
  });
  const std::string volumes = cat({
      M(1, {S(1, "cfg"),
            M(2, {M(19, {M(1, {S(1, "app-config")}), M(2, {S(1, "a"), S(2, "a.txt"), V(3, 256)}),
                         V(3, 420), V(4, 0)})})}),
      M(1, {S(1, "data"), M(2, {M(2, {S(1, "Memory"), M(2, {quantity("1Gi")})})})}),
      M(1, {S(1, "host"), M(2, {M(1, {S(1, "/var"), S(2, "Directory")})})}),
      M(1, {S(1, "sec"), M(2, {M(6, {S(1, "s"), V(3, 256)})})}),
      M(1, {S(1, "pvc"), M(2, {M(10, {S(1, "c"), V(2, 1)})})}),
  });
  const std::string init =
      M(20, {S(1, "init"), S(2, "busybox"), S(3, "sh"), S(3, "-c"), S(3, "echo hi")});
  const std::string app = M(
      2, {
             S(1, "app"),
             S(2, "nginx:1.25"),
             S(4, "--port"),
             S(4, "8080"),
             S(5, "/app"),
             M(6, {S(1, "http"), V(2, 0), V(3, 8080), S(4, "TCP"), S(5, "")}),
             M(6, {S(1, ""), V(2, 9090), V(3, 9090), S(4, ""), S(5, "0.0.0.0")}),
             M(7, {S(1, "A"), S(2, "1")}),
             M(7, {S(1, "POD"), S(2, ""), M(3, {M(1, {S(1, "v1"), S(2, "metadata.name")})})}),
             M(7, {S(1, "CM"), M(3, {M(3, {M(1, {S(1, "cm")}), S(2, "k")})})}),
             M(7, {S(1, "SEC"), M(3, {M(4, {M(1, {S(1, "s")}), S(2, "p"), V(3, 1)})})}),
             M(8, {entry_msg(1, "cpu", quantity("500m")), entry_msg(1, "memory", quantity("128Mi")),
                   entry_msg(2, "cpu", quantity("250m"))}),
             M(9, {S(1, "cfg"), V(2, 1), S(3, "/etc/cfg"), S(4, "sub")}),
             M(10, {M(1, {M(2, {S(1, "/healthz"), M(2, {str_value("http")}), S(4, "HTTP")})}),
                    V(2, 5), V(4, 10), V(6, 3)}),
             M(11, {M(1, {M(3, {M(1, {int_value(8080)}), S(2, "")})}), V(3, 1)}),
             M(22, {M(1, {M(1, {S(1, "cat"), S(1, "/tmp/ok")})}), V(5, 1)}),
             S(13, "/dev/termination-log"),
             S(14, "IfNotPresent"),
             V(16, 1),
             V(18, 0),
             S(20, "File"),
         });
  const std::string pod_spec = cat({
      volumes,
      init,
      app,
      S(3, "Always"),
      V(4, 30),
      S(6, "ClusterFirst"),
      entry(7, "disk", "ssd"),
      S(8, "sa"),
      S(10, "n1"),
      V(11, 0),
      M(14, {V(2, 1000), S(4, varint(1) + varint(2)), V(4, 3), V(5, 2000)}),
      S(16, "h"),
      S(17, "sd"),
      S(19, "default-scheduler"),
      M(22, {S(1, "k"), S(2, "Equal"), S(3, "v"), S(4, "NoExecute"), V(5, 60)}),
      M(22, {S(1, ""), S(2, "Exists"), S(3, ""), S(4, "")}),
      V(25, -5),
      V(30, 0),
  });
  const std::string spec = cat({
      V(1, 0),
      M(2, {entry(1, "app", "web"), M(2, {S(1, "tier"), S(2, "In"), S(3, "fe"), S(3, "be")})}),
      M(3, {M(1, {entry(11, "app", "web")}), S(2, pod_spec)}),
      M(4, {S(1, "RollingUpdate"), M(2, {M(1, {int_value(1)}), M(2, {str_value("25%")})})}),
      V(5, 10),
      V(6, 0),
      V(7, 1),
      V(9, 600),
  });
  const std::string status = cat({
      V(1, 3),
      V(2, 1),
      V(3, 1),
      V(4, 1),
      V(5, 0),
      V(7, 1),
      M(6, {S(1, "Available"), S(2, "True"), S(4, "MinimumReplicasAvailable"), S(5, "ok"),
            M(6, {time_at(1704067200)}), M(7, {})}),
      V(8, 0),
  });
  return body("apps/v1", "Deployment", cat({S(1, meta), S(2, spec), S(3, status)}));
}

constexpr std::string_view kRichDeploymentJson = R"({
  "kind":"Deployment","apiVersion":"apps/v1",
  "metadata":{"name":"web","namespace":"prod","uid":"u-1","resourceVersion":"42","generation":3,
    "creationTimestamp":"2024-01-01T00:00:00Z","deletionTimestamp":"2024-01-01T01:01:01Z",
    "deletionGracePeriodSeconds":0,"labels":{"app":"web","tier":"fe"},"annotations":{"note":"x"},
    "ownerReferences":[{"kind":"ReplicaSet","name":"rs","uid":"u-2","apiVersion":"apps/v1",
                        "controller":true,"blockOwnerDeletion":false}],
    "finalizers":["f1","f2"],
    "managedFields":[{"manager":"kubectl","operation":"Update","apiVersion":"apps/v1",
                      "time":"2024-01-01T00:00:00Z","fieldsType":"FieldsV1",
                      "fieldsV1":{"f:spec":{"f:replicas":{}}}}]},
  "spec":{
    "replicas":0,
    "selector":{"matchLabels":{"app":"web"},
                "matchExpressions":[{"key":"tier","operator":"In","values":["fe","be"]}]},
    "template":{"metadata":{"labels":{"app":"web"}},"spec":{
      "volumes":[
        {"name":"cfg","configMap":{"name":"app-config","items":[{"key":"a","path":"a.txt","mode":256}],
                                   "defaultMode":420,"optional":false}},
        {"name":"data","emptyDir":{"medium":"Memory","sizeLimit":"1Gi"}},
        {"name":"host","hostPath":{"path":"/var","type":"Directory"}},
        {"name":"sec","secret":{"secretName":"s","defaultMode":256}},
        {"name":"pvc","persistentVolumeClaim":{"claimName":"c","readOnly":true}}],
      "initContainers":[{"name":"init","image":"busybox","command":["sh","-c","echo hi"]}],
      "containers":[{
        "name":"app","image":"nginx:1.25","args":["--port","8080"],"workingDir":"/app",
        "ports":[{"name":"http","containerPort":8080,"protocol":"TCP"},
                 {"hostPort":9090,"containerPort":9090,"hostIP":"0.0.0.0"}],
        "env":[{"name":"A","value":"1"},
               {"name":"POD","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}},
               {"name":"CM","valueFrom":{"configMapKeyRef":{"name":"cm","key":"k"}}},
               {"name":"SEC","valueFrom":{"secretKeyRef":{"name":"s","key":"p","optional":true}}}],
        "resources":{"limits":{"cpu":"500m","memory":"128Mi"},"requests":{"cpu":"250m"}},
        "volumeMounts":[{"name":"cfg","readOnly":true,"mountPath":"/etc/cfg","subPath":"sub"}],
        "livenessProbe":{"httpGet":{"path":"/healthz","port":"http","scheme":"HTTP"},
                         "initialDelaySeconds":5,"periodSeconds":10,"failureThreshold":3},
        "readinessProbe":{"tcpSocket":{"port":8080},"timeoutSeconds":1},
        "startupProbe":{"exec":{"command":["cat","/tmp/ok"]},"successThreshold":1},
        "terminationMessagePath":"/dev/termination-log","imagePullPolicy":"IfNotPresent",
        "stdin":true,"terminationMessagePolicy":"File"}],
      "restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst",
      "nodeSelector":{"disk":"ssd"},"serviceAccountName":"sa","nodeName":"n1",
      "securityContext":{"runAsUser":1000,"supplementalGroups":[1,2,3],"fsGroup":2000},
      "hostname":"h","subdomain":"sd","schedulerName":"default-scheduler",
      "tolerations":[{"key":"k","operator":"Equal","value":"v","effect":"NoExecute","tolerationSeconds":60},
                     {"operator":"Exists"}],
      "priority":-5,"enableServiceLinks":false}},
    "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":"25%"}},
    "minReadySeconds":10,"revisionHistoryLimit":0,"paused":true,"progressDeadlineSeconds":600},
  "status":{"observedGeneration":3,"replicas":1,"updatedReplicas":1,"availableReplicas":1,
    "readyReplicas":1,
    "conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable",
                   "message":"ok","lastUpdateTime":"2024-01-01T00:00:00Z"}],
    "collisionCount":0}
})";

std::vector<Case> decode_cases() {
  std::vector<Case> cases;
  cases.push_back({"kubectl create deployment kuard --image=kuard --replicas=5 (encoder)",
                   kubectl_create_deployment_kuard(),
                   R"({"kind":"Deployment","apiVersion":"apps/v1",
                       "metadata":{"name":"kuard","labels":{"app":"kuard"}},
                       "spec":{"replicas":5,"selector":{"matchLabels":{"app":"kuard"}},
                               "template":{"metadata":{"labels":{"app":"kuard"}},
                                           "spec":{"containers":[{"name":"kuard","image":"kuard","resources":{}}]}},
                               "strategy":{}},
                       "status":{}})"});
  cases.push_back(
      {"deployment: every PodSpec/ObjectMeta shape, nested repeated messages, inline "
       "handlers and sources, zero pointers kept, zero values dropped",
       rich_deployment(), std::string(kRichDeploymentJson)});
  cases.push_back({"replicas 0 is kept (pointer), absent replicas stays absent",
                   body("apps/v1", "Deployment", cat({S(1, S(1, "a")), M(2, {V(1, 0)}), S(3, "")})),
                   R"({"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"a"},
                       "spec":{"replicas":0},"status":{}})"});
  cases.push_back({"configmap: data (empty value kept), binaryData base64, immutable false kept",
                   body("v1", "ConfigMap",
                        cat({S(1, S(1, "cm")), entry(2, "a", "1"), entry(2, "empty", ""),
                             entry(3, "bin", std::string("\x00\x01\xff\xfe", 4)),
                             entry(3, "one", "x"), V(4, 0)})),
                   R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm"},
                       "data":{"a":"1","empty":""},"binaryData":{"bin":"AAH//g==","one":"eA=="},
                       "immutable":false})"});
  cases.push_back({"secret: bytes data base64 (every padding length), stringData, type, immutable",
                   body("v1", "Secret",
                        cat({S(1, S(1, "s")), entry(2, "user", "admin"), entry(2, "one", "x"),
                             entry(2, "two", "xy"), entry(2, "three", "xyz"), entry(2, "empty", ""),
                             S(3, "kubernetes.io/tls"), entry(4, "plain", "text"), V(5, 1)})),
                   R"({"kind":"Secret","apiVersion":"v1","metadata":{"name":"s"},
                       "data":{"user":"YWRtaW4=","one":"eA==","two":"eHk=","three":"eHl6","empty":""},
                       "type":"kubernetes.io/tls","stringData":{"plain":"text"},"immutable":true})"});
  cases.push_back(
      {"namespace: spec.finalizers, status.phase and conditions",
       body("v1", "Namespace",
            cat({S(1, cat({S(1, "ns"), entry(11, "team", "a")})), M(2, {S(1, "kubernetes")}),
                 M(3, {S(1, "Terminating"),
                       M(2, {S(1, "NamespaceDeletionContentFailure"), S(2, "False"),
                             M(4, {time_at(951782400)}), S(5, ""), S(6, "")})})})),
       R"({"kind":"Namespace","apiVersion":"v1","metadata":{"name":"ns","labels":{"team":"a"}},
                       "spec":{"finalizers":["kubernetes"]},
                       "status":{"phase":"Terminating","conditions":[
                         {"type":"NamespaceDeletionContentFailure","status":"False",
                          "lastTransitionTime":"2000-02-29T00:00:00Z"}]}})"});
  cases.push_back({"service: ports with int and string targetPort, every spec field, LB status",
                   body("v1", "Service",
                        cat({S(1, S(1, "svc")),
                             M(2, {M(1, {S(1, "http"), S(2, "TCP"), V(3, 80),
                                         M(4, {int_value(8080)}), V(5, 30080)}),
                                   M(1, {S(1, "metrics"), S(2, ""), V(3, 9090),
                                         M(4, {str_value("metrics")}), V(5, 0), S(6, "http")}),
                                   entry(2, "app", "web"),
                                   S(3, "10.0.0.1"),
                                   S(4, "LoadBalancer"),
                                   S(5, "1.2.3.4"),
                                   S(7, "ClientIP"),
                                   S(8, "5.6.7.8"),
                                   S(9, "10.0.0.0/8"),
                                   S(10, ""),
                                   S(11, "Local"),
                                   V(12, 0),
                                   V(13, 1),
                                   M(14, {M(1, {V(1, 0)})}),
                                   S(17, "SingleStack"),
                                   S(18, "10.0.0.1"),
                                   S(19, "IPv4"),
                                   V(20, 1),
                                   S(21, "example.com/lb"),
                                   S(22, "Cluster")}),
                             M(3, {M(1, {M(1, {S(1, "1.2.3.4"), S(2, "")}),
                                         M(1, {S(1, ""), S(2, "lb.example.com"),
                                               M(4, {V(1, 80), S(2, "TCP")})})})})})),
                   R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"svc"},
                       "spec":{"ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080,"nodePort":30080},
                                        {"name":"metrics","port":9090,"targetPort":"metrics","appProtocol":"http"}],
                               "selector":{"app":"web"},"clusterIP":"10.0.0.1","type":"LoadBalancer",
                               "externalIPs":["1.2.3.4"],"sessionAffinity":"ClientIP",
                               "loadBalancerIP":"5.6.7.8","loadBalancerSourceRanges":["10.0.0.0/8"],
                               "externalTrafficPolicy":"Local","publishNotReadyAddresses":true,
                               "sessionAffinityConfig":{"clientIP":{"timeoutSeconds":0}},
                               "ipFamilyPolicy":"SingleStack","clusterIPs":["10.0.0.1"],
                               "ipFamilies":["IPv4"],"allocateLoadBalancerNodePorts":true,
                               "loadBalancerClass":"example.com/lb","internalTrafficPolicy":"Cluster"},
                       "status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"},
                                 {"hostname":"lb.example.com","ports":[{"port":80,"protocol":"TCP"}]}]}}})"});
  cases.push_back({"service account and resource quota",
                   body("v1", "ServiceAccount",
                        cat({S(1, S(1, "sa")), M(2, {S(1, "Secret"), S(3, "tok")}),
                             M(3, {S(1, "regcred")}), V(4, 0)})),
                   R"({"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"sa"},
                       "secrets":[{"kind":"Secret","name":"tok"}],
                       "imagePullSecrets":[{"name":"regcred"}],
                       "automountServiceAccountToken":false})"});
  cases.push_back(
      {"resource quota: Quantity map values, scope selector",
       body("v1", "ResourceQuota",
            cat({S(1, S(1, "q")),
                 M(2, {entry_msg(1, "pods", quantity("10")), S(2, "NotTerminating"),
                       M(3, {M(1, {S(1, "PriorityClass"), S(2, "In"), S(3, "high")})})}),
                 M(3, {entry_msg(2, "pods", quantity("3"))})})),
       R"({"kind":"ResourceQuota","apiVersion":"v1","metadata":{"name":"q"},
                       "spec":{"hard":{"pods":"10"},"scopes":["NotTerminating"],
                               "scopeSelector":{"matchExpressions":[
                                 {"scopeName":"PriorityClass","operator":"In","values":["high"]}]}},
                       "status":{"used":{"pods":"3"}}})"});
  cases.push_back(
      {"proto merge rules: a scalar repeated -> last wins, a map key repeated -> last "
       "wins, a singular message repeated -> merged",
       body("v1", "ConfigMap",
            cat({S(1, cat({S(1, "first"), entry(11, "a", "1")})), entry(2, "k", "old"),
                 S(1, cat({S(1, "second"), entry(11, "b", "2")})), entry(2, "k", "new")})),
       R"({"kind":"ConfigMap","apiVersion":"v1",
                       "metadata":{"name":"second","labels":{"a":"1","b":"2"}},"data":{"k":"new"}})"});
  cases.push_back(
      {"delete options: every field (kubectl drain's pod delete, client-go typed client)",
       body("v1", "DeleteOptions",
            cat({V(1, 0), M(2, {S(1, "6f1c-uid"), S(2, "42")}), V(3, 0), S(4, "Background"),
                 S(5, "All"), V(6, 0)})),
       R"({"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0,
                       "preconditions":{"uid":"6f1c-uid","resourceVersion":"42"},
                       "orphanDependents":false,"propagationPolicy":"Background","dryRun":["All"],
                       "ignoreStoreReadErrorWithClusterBreakingPotential":false})"});
  cases.push_back({"delete options under any group version; unset pointers stay absent",
                   body("apps/v1", "DeleteOptions", S(4, "Foreground")),
                   R"({"kind":"DeleteOptions","apiVersion":"apps/v1",
                       "propagationPolicy":"Foreground"})"});
  cases.push_back({"policy/v1 eviction with grace period and preconditions",
                   body("policy/v1", "Eviction",
                        cat({S(1, cat({S(1, "web-1"), S(3, "default")})),
                             M(2, {V(1, 5), M(2, {S(1, "u-1")})})})),
                   R"({"kind":"Eviction","apiVersion":"policy/v1",
                       "metadata":{"name":"web-1","namespace":"default"},
                       "deleteOptions":{"gracePeriodSeconds":5,"preconditions":{"uid":"u-1"}}})"});
  cases.push_back({"policy/v1beta1 eviction with empty delete options (kubectl drain's default)",
                   body("policy/v1beta1", "Eviction", cat({S(1, S(1, "p")), S(2, "")})),
                   R"({"kind":"Eviction","apiVersion":"policy/v1beta1","metadata":{"name":"p"},
                       "deleteOptions":{}})"});
  cases.push_back({"an empty raw object is just apiVersion and kind", body("v1", "Namespace", ""),
                   R"({"kind":"Namespace","apiVersion":"v1"})"});
  return cases;
}

TEST_CASE("protobuf bodies decode to Kubernetes JSON") {
  for (const Case& c : decode_cases()) {
    SUBCASE(c.name.c_str()) { check_decodes_to(c.wire, c.expected); }
  }
}

TEST_CASE("special shapes: Time, MicroTime, Quantity, IntOrString, FieldsV1") {
  struct ShapeCase {
    std::string name;
    std::string message;
    std::string raw;
    std::string expected;
  };
  const std::vector<ShapeCase> cases = {
      {"Time, whole seconds", "Time", time_at(1704067200), R"("2024-01-01T00:00:00Z")"},
      {"Time drops nanos", "Time", time_at(1704067200, 999999999), R"("2024-01-01T00:00:00Z")"},
      {"Time before the epoch", "Time", time_at(-1), R"("1969-12-31T23:59:59Z")"},
      {"Time leap day", "Time", time_at(951825599), R"("2000-02-29T11:59:59Z")"},
      {"Time last second of year 9999", "Time", time_at(253402300799), R"("9999-12-31T23:59:59Z")"},
      {"Time first second of year 1", "Time", time_at(-62135596800), R"("0001-01-01T00:00:00Z")"},
      {"Time with no fields is unset", "Time", "", "null"},
      {"Time 0/0 is unset", "Time", time_at(0, 0), "null"},
      {"Time nanos only", "Time", cat({V(2, 5)}), R"("1970-01-01T00:00:00Z")"},
      {"MicroTime, 6 fraction digits", "MicroTime", time_at(1704067200, 123456789),
       R"("2024-01-01T00:00:00.123456Z")"},
      {"MicroTime, whole second", "MicroTime", time_at(1704067200),
       R"("2024-01-01T00:00:00.000000Z")"},
      {"Quantity", "Quantity", quantity("1.5Gi"), R"("1.5Gi")"},
      {"Quantity, empty message is zero", "Quantity", "", R"("0")"},
      {"IntOrString int", "IntOrString", int_value(8080), "8080"},
      {"IntOrString negative int", "IntOrString", int_value(-1), "-1"},
      {"IntOrString string", "IntOrString", str_value("25%"), R"("25%")"},
      {"IntOrString empty message is int 0", "IntOrString", "", "0"},
      {"FieldsV1", "FieldsV1", S(1, R"({"f:metadata":{"f:labels":{".":{}}}})"),
       R"({"f:metadata":{"f:labels":{".":{}}}})"},
      {"packed and unpacked repeated int64 together", "PodSecurityContext",
       cat({S(4, varint(1) + varint(300)), V(4, 7)}), R"({"supplementalGroups":[1,300,7]})"},
      {"int32 sign-extended negative", "PodSpec", V(25, -2147483648),
       R"({"priority":-2147483648})"},
      {"clusterName (field 15, sent empty by Go clients before 1.25) is accepted", "ObjectMeta",
       cat({S(1, "a"), S(15, "")}), R"({"name":"a"})"},
      {"int64 max", "ObjectMeta", V(7, 9223372036854775807),
       R"({"generation":9223372036854775807})"},
      {"bool any nonzero varint is true", "Container", V(16, 2), R"({"stdin":true})"},
      {"omitempty zero after a nonzero value removes it (last wins)", "Container",
       cat({S(2, "img"), S(2, "")}), "{}"},
      {"inline LocalObjectReference in a ConfigMap source", "ConfigMapEnvSource",
       cat({M(1, {S(1, "cm")}), V(2, 1)}), R"({"name":"cm","optional":true})"},
      {"lifecycle handlers", "Lifecycle",
       cat({M(1, {M(1, {S(1, "true")})}), M(2, {M(2, {S(1, "/stop"), M(2, {int_value(80)})})})}),
       R"({"postStart":{"exec":{"command":["true"]}},"preStop":{"httpGet":{"path":"/stop","port":80}}})"},
      {"grpc probe", "Probe", cat({M(1, {M(4, {V(1, 9000), S(2, "")})}), V(7, 0)}),
       R"({"grpc":{"port":9000,"service":""},"terminationGracePeriodSeconds":0})"},
      {"affinity", "Affinity",
       cat({M(1, {M(1, {M(1, {M(1, {S(1, "zone"), S(2, "In"), S(3, "a")})})}),
                  M(2, {V(1, 50), M(2, {M(2, {S(1, "metadata.name"), S(2, "NotIn")})})})}),
            M(3, {M(2, {V(1, 10),
                        M(2, {M(1, {entry(1, "app", "x")}), S(3, "kubernetes.io/hostname")})})})}),
       R"({"nodeAffinity":{
             "requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[
               {"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}]},
             "preferredDuringSchedulingIgnoredDuringExecution":[
               {"weight":50,"preference":{"matchFields":[{"key":"metadata.name","operator":"NotIn"}]}}]},
           "podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[
             {"weight":10,"podAffinityTerm":{"labelSelector":{"matchLabels":{"app":"x"}},
                                             "topologyKey":"kubernetes.io/hostname"}}]}})"},
      {"projected and downward API volumes", "Volume",
       cat({S(1, "proj"),
            M(2,
              {M(26,
                 {M(1, {M(4, {S(1, ""), V(2, 3600), S(3, "token")})}),
                  M(1, {M(2, {M(1, {S(1, "labels"), M(2, {S(1, ""), S(2, "metadata.labels")})})})}),
                  M(1, {M(3, {M(1, {S(1, "cm")}), V(4, 1)})}), V(2, 420)})})}),
       R"({"name":"proj","projected":{"sources":[
             {"serviceAccountToken":{"expirationSeconds":3600,"path":"token"}},
             {"downwardAPI":{"items":[{"path":"labels","fieldRef":{"fieldPath":"metadata.labels"}}]}},
             {"configMap":{"name":"cm","optional":true}}],"defaultMode":420}})"},
  };
  for (const ShapeCase& c : cases) {
    SUBCASE(c.name.c_str()) {
      const Result<json::value> got = decode_protobuf_message_for_test(c.message, c.raw);
      REQUIRE_MESSAGE(got.ok(), got.status().to_string());
      const json::value expected = parse_json(c.expected);
      CHECK_MESSAGE(*got == expected,
                    "got " << json::serialize(*got) << ", expected " << json::serialize(expected));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Errors: every one is BadRequest with a message that names the problem.

TEST_CASE("malformed, unsupported and unknown input is BadRequest, never dropped") {
  struct ErrorCase {
    std::string name;
    std::string wire;
    std::string message_part;
  };
  const std::string deployment_meta = S(1, S(1, "d"));
  const std::vector<ErrorCase> cases = {
      {"empty body", "", "magic"},
      {"JSON sent as protobuf", R"({"kind":"ConfigMap"})", "magic"},
      {"magic cut short", std::string("k8s", 3), "magic"},
      {"wrong magic byte", std::string("k8s\x01", 4) + S(2, ""), "magic"},
      {"truncated varint in the envelope", std::string("k8s\0", 4) + "\x0a\x80",
       "truncated varint"},
      {"truncated length in the envelope", std::string("k8s\0", 4) + "\x12\x05" + "abc",
       "truncated length-delimited field"},
      {"truncated varint inside the object",
       body("apps/v1", "Deployment", deployment_meta + M(2, {key(1, Wire::kVarint) + "\xff"})),
       "truncated varint in DeploymentSpec at spec"},
      {"truncated length inside the object",
       body("v1", "ConfigMap", key(1, Wire::kLength) + varint(10) + "abc"),
       "truncated length-delimited field in ConfigMap"},
      {"varint longer than 64 bits",
       body("apps/v1", "Deployment",
            M(2, {key(1, Wire::kVarint) + std::string(10, '\xff') + "\x01"})),
       "varint longer than 64 bits"},
      {"truncated fixed64", body("v1", "ConfigMap", key(9, Wire::kFixed64) + "abc"),
       "truncated fixed-width field"},
      {"group wire type", body("v1", "ConfigMap", key(2, Wire::kGroup)), "group wire type"},
      {"invalid wire type 7", body("v1", "ConfigMap", varint((2 << 3) | 7)), "invalid wire type"},
      {"field number 0", body("v1", "ConfigMap", varint((0 << 3) | 2) + varint(0)),
       "field number 0"},
      {"unknown kind", body("v1", "Pod", ""),
       "protobuf bodies for Pod (v1) are not supported; send application/json"},
      {"known kind, other apiVersion", body("extensions/v1beta1", "Deployment", ""),
       "protobuf bodies for Deployment (extensions/v1beta1) are not supported"},
      {"eviction outside policy", body("v1", "Eviction", ""),
       "protobuf bodies for Eviction (v1) are not supported"},
      {"unknown DeleteOptions field", body("v1", "DeleteOptions", S(7, "x")),
       "unsupported protobuf field 7 in DeleteOptions"},
      {"unknown Preconditions field", body("v1", "DeleteOptions", M(2, {S(3, "x")})),
       "unsupported protobuf field 3 in Preconditions"},
      {"no typeMeta", std::string("k8s\0", 4) + S(2, ""), "no apiVersion/kind"},
      {"no kind", std::string("k8s\0", 4) + M(1, {S(1, "v1")}) + S(2, ""), "no apiVersion/kind"},
      {"unknown field in the envelope",
       std::string("k8s\0", 4) + M(1, {S(1, "v1"), S(2, "Secret")}) + S(5, "x"),
       "unsupported protobuf field 5 in runtime.Unknown"},
      {"unknown field in typeMeta", std::string("k8s\0", 4) + M(1, {S(1, "v1"), S(3, "x")}),
       "unsupported protobuf field 3 in runtime.TypeMeta"},
      {"gzip content encoding",
       std::string("k8s\0", 4) + M(1, {S(1, "v1"), S(2, "Secret")}) + S(2, "") + S(3, "gzip"),
       "contentEncoding \"gzip\" is not supported"},
      {"JSON content type in the envelope",
       std::string("k8s\0", 4) + M(1, {S(1, "v1"), S(2, "Secret")}) + S(2, "{}") +
           S(4, "application/json"),
       "contentType \"application/json\" is not supported"},
      {"unknown top-level field", body("v1", "ConfigMap", S(99, "x")),
       "unsupported protobuf field 99 in ConfigMap at the top level"},
      {"unknown nested field, with its path",
       body("apps/v1", "Deployment",
            M(2, {M(3, {M(2, {M(2, {S(1, "a")}), M(2, {S(1, "b"), S(250, "x")})})})})),
       "unsupported protobuf field 250 in Container at spec.template.spec.containers[1]"},
      {"unknown field in a map entry", body("v1", "ConfigMap", M(2, {S(1, "k"), S(3, "v")})),
       "unsupported protobuf field 3 in map entry ConfigMap.data"},
      {"a volume source liborch does not list (gcePersistentDisk)",
       body("apps/v1", "Deployment",
            M(2, {M(3, {M(2, {M(1, {S(1, "v"), M(2, {M(3, {S(1, "pd")})})})})})})),
       "unsupported protobuf field 3 in VolumeSource at spec.template.spec.volumes[0]"},
      {"fixed32 where an int32 belongs",
       body("apps/v1", "Deployment", M(2, {fixed(1, Wire::kFixed32, 5)})),
       "field 1 (replicas) has wire type fixed32, expected varint"},
      {"string where a message belongs", body("v1", "Service", V(2, 1)),
       "field 2 (spec) has wire type varint, expected length-delimited"},
      {"packed varints on a singular field", body("apps/v1", "Deployment", M(2, {S(1, varint(5))})),
       "field 1 (replicas) has wire type length-delimited, expected varint"},
      {"string that is not UTF-8", body("v1", "ConfigMap", S(1, S(1, "\xc3\x28"))),
       "field 1 (name) is not valid UTF-8 in ObjectMeta at metadata"},
      {"map value that is not UTF-8", body("v1", "ConfigMap", entry(2, "k", "\xff")),
       "map value is not valid UTF-8"},
      {"IntOrString with type 2", body("v1", "Service", M(2, {M(1, {V(3, 80), M(4, {V(1, 2)})})})),
       "type 2 is neither 0 (int) nor 1 (string) in IntOrString at spec.ports[0].targetPort"},
      {"Time nanos out of range", body("v1", "ConfigMap", M(1, {M(8, {time_at(1, 1000000000)})})),
       "nanos 1000000000 out of [0, 999999999] in Time at metadata.creationTimestamp"},
      {"Time past year 9999", body("v1", "ConfigMap", M(1, {M(8, {time_at(253402300800)})})),
       "outside years 0000-9999"},
      {"FieldsV1 that is not JSON",
       body("v1", "ConfigMap", M(1, {M(17, {M(7, {S(1, "{not json")})})})),
       "field 1 (Raw) is not JSON in FieldsV1 at metadata.managedFields[0].fieldsV1"},
  };
  for (const ErrorCase& c : cases) {
    SUBCASE(c.name.c_str()) {
      const Result<json::value> got = decode_kubernetes_protobuf(c.wire);
      REQUIRE_MESSAGE(!got.ok(), "decoded to " << json::serialize(*got));
      CHECK_MESSAGE(got.status().code() == Code::kBadRequest, got.status().to_string());
      CHECK_MESSAGE(got.status().message().find(c.message_part) != std::string::npos,
                    "message: " << got.status().message() << "\nwanted:  " << c.message_part);
    }
  }
}

TEST_CASE("the test hook names unknown messages NotFound") {
  const Result<json::value> got = decode_protobuf_message_for_test("NoSuchMessage", "");
  REQUIRE_FALSE(got.ok());
  CHECK(got.status().code() == Code::kNotFound);
}

TEST_CASE("the schema table is consistent") {
  const Status status = validate_protobuf_schema_for_test();
  CHECK_MESSAGE(status.ok(), status.to_string());
}

}  // namespace
}  // namespace orch::apiserver
