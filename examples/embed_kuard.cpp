// embed_kuard: a whole Kubernetes-compatible cluster inside this program.
//
// It starts a 2-node cluster in-process (no daemon, no Docker, no root, no port of its own),
// deploys kuard (the demo web server) as a Deployment of 2 pods behind a Service, waits until
// the pods are Ready, calls the Service's ClusterIP and prints what kuard answered. When `cluster`
// goes out of scope every pod process is killed and the temp directory is removed.
//
//   meson compile -C build embed_kuard && build/examples/embed_kuard
//
// Copy this file to start your own: link liborch (`dependency('orch')` in meson, or
// -lorch with include/ on the include path).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "orch/api/yaml.hpp"
#include "orch/client/resource.hpp"
#include "orch/cluster/cluster.hpp"

using namespace std::chrono_literals;

// The objects, as you would write them for kubectl.
constexpr const char* kManifest = R"(
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kuard
spec:
  replicas: 2
  selector:
    matchLabels: {app: kuard}
  template:
    metadata:
      labels: {app: kuard}
    spec:
      containers:
      - name: kuard
        image: kuard            # an image of the node's local catalog: the kuard binary
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /ready, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: kuard
spec:
  selector: {app: kuard}
  ports: [{port: 80, targetPort: 8080}]
)";

// GET http://ip:port/path with plain sockets; the response body ("" on failure).
std::string http_get(const std::string& ip, int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string request = "GET " + path + " HTTP/1.0\r\nHost: kuard\r\n\r\n";
    ::send(fd, request.data(), request.size(), 0);
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) response.append(buf, n);
  }
  ::close(fd);
  auto body = response.find("\r\n\r\n");
  const bool ok = response.starts_with("HTTP/1.") && response.find(" 200 ") < response.find("\r\n");
  return ok && body != std::string::npos
             ? response.substr(body + 4)
             : "";
}

int main() {
  // 1. Start the cluster. Every call returns a Status or Result<T>: no exceptions.
  auto started = orch::cluster::Cluster::start({.nodes = 2});
  if (!started.ok()) {
    std::fprintf(stderr, "cannot start the cluster: %s\n", started.status().to_string().c_str());
    return 1;
  }
  auto& cluster = **started;
  auto client = cluster.client();  // in-process transport: straight into the API server
  std::printf("cluster up: nodes %s and %s\n", cluster.node_names()[0].c_str(),
              cluster.node_names()[1].c_str());

  // 2. Create the Deployment and the Service from the YAML above.
  auto docs = orch::api::parse_yaml(kManifest);
  if (!docs.ok()) return 1;
  for (const auto& doc : *docs) {
    const auto& resource = doc.at("kind") == "Deployment" ? orch::client::resources::kDeployments
                                                          : orch::client::resources::kServices;
    if (auto created = client->create(resource, "default", doc); !created.ok()) {
      std::fprintf(stderr, "create: %s\n", created.status().to_string().c_str());
      return 1;
    }
  }

  // 3. Wait (bounded) until both pods are Ready, i.e. the Service has two endpoints.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (true) {
    auto d = client->get(orch::client::resources::kDeployments, "default", "kuard");
    const auto* ready = d.ok() ? d->at("status").as_object().if_contains("readyReplicas") : nullptr;
    if (ready && ready->to_number<int>() == 2) break;
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "the pods did not become Ready in time\n");
      return 1;
    }
    std::this_thread::sleep_for(50ms);
  }

  // 4. Call kuard through the Service's ClusterIP (a loopback address this cluster owns; the
  //    node's service proxy forwards to a ready pod).
  auto svc = client->get(orch::client::resources::kServices, "default", "kuard");
  if (!svc.ok()) return 1;
  const std::string cluster_ip(svc->at("spec").at("clusterIP").as_string());
  std::string body;
  for (int i = 0; i < 100 && body.empty(); ++i, std::this_thread::sleep_for(50ms)) {
    body = http_get(cluster_ip, 80, "/version");
  }
  if (body.empty()) {
    std::fprintf(stderr, "no answer from %s:80\n", cluster_ip.c_str());
    return 1;
  }
  std::printf("GET http://%s/version -> %s", cluster_ip.c_str(), body.c_str());
  std::printf("GET http://%s/        -> %zu bytes of kuard's page\n", cluster_ip.c_str(),
              http_get(cluster_ip, 80, "/").size());
  return 0;
  // 5. `started` goes out of scope: the cluster stops, kills its pods, removes its temp dir.
}
