// Private to lib/agent: persistent volumes on this node.
//
// - resolve_claim_volumes(): a pod's `persistentVolumeClaim` volumes become host directories (the
//   bound PersistentVolume's spec.local.path, or spec.hostPath.path), which the runtime
//   bind-mounts (or exports as ORCH_VOLUME_<NAME>) like hostPath volumes. A claim not yet Bound
//   leaves the pod waiting (ContainerCreating). The directory of a volume the local-path
//   provisioner made for this node (label orch.io/local-path-node=<node>) is created here on first
//   mount; any other local volume's directory must already exist, as Kubernetes requires.
// - LocalVolumeCleaner: watches the PersistentVolumes labelled with this node; when one is being
//   deleted and still carries the finalizer orch.io/local-path-cleanup, it removes the volume's
//   directory (only below "<data dir>/volumes", never elsewhere) and then the finalizer, so the
//   object goes once the data is gone.
//
// Thread-safety: resolve_claim_volumes is reentrant (calls through the thread-safe client);
// LocalVolumeCleaner's handlers run on its informer's thread; start/stop from one thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orch/api/types.hpp"
#include "orch/client/client.hpp"
#include "orch/client/informer.hpp"
#include "orch/status.hpp"

namespace orch::agent {

// "<data dir>/volumes": where this node keeps local-path volumes (advertised on the Node as the
// annotation orch.io/local-path-dir).
std::string local_volume_dir(const std::string& data_dir);

// Volume name -> host directory for every persistentVolumeClaim volume of `volumes`; nullopt
// while a claim is not Bound yet (`waiting` then says which). NotFound when a claim or its volume
// does not exist or a static local volume's directory is missing, InvalidArgument when a volume
// has no local/hostPath source, Internal when a directory cannot be made.
Result<std::optional<std::map<std::string, std::string>>> resolve_claim_volumes(
    client::Client& client, const std::string& ns, const std::vector<api::Volume>& volumes,
    const std::string& node_name, const std::string& data_dir, std::string* waiting);

class LocalVolumeCleaner {
 public:
  LocalVolumeCleaner(std::shared_ptr<client::Client> client, std::string node_name,
                     std::string data_dir);
  ~LocalVolumeCleaner();
  // Starts the informer (does not wait for it to sync).
  Status start();
  // Idempotent.
  void stop();

 private:
  void on_volume(const boost::json::value& pv);

  const std::shared_ptr<client::Client> client_;
  const std::string node_name_;
  const std::string root_;  // local_volume_dir(data_dir)
  std::unique_ptr<client::Informer> volumes_;
};

}  // namespace orch::agent
