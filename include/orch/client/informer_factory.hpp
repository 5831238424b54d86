// InformerFactory: one shared Informer per resource (client-go's SharedInformerFactory), so the
// controllers, the scheduler and the agent's components that watch pods share one list+watch and
// one cache.
//
//   client::InformerFactory informers(client);
//   auto& pods = informers.informer(client::resources::kPods);  // before start()
//   pods.add_event_handler({...});
//   informers.start();
//   informers.wait_for_sync(std::chrono::seconds(10));
//
// Thread-safety: every method may be called from any thread. informer() after start() returns an
// informer that is already running when it existed before start; a new one created after start is
// started at once (handlers cannot be added to it then, see Informer).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "orch/client/client.hpp"
#include "orch/client/informer.hpp"
#include "orch/client/resource.hpp"
#include "orch/status.hpp"

namespace orch::client {

class InformerFactory {
 public:
  // `defaults` apply to every informer (namespace, selectors, resync, backoff).
  explicit InformerFactory(std::shared_ptr<Client> client, InformerOptions defaults = {});
  // stop()s.
  ~InformerFactory();
  InformerFactory(const InformerFactory&) = delete;
  InformerFactory& operator=(const InformerFactory&) = delete;

  // The shared informer of `resource`, created on first use. The reference stays valid until the
  // factory is destroyed.
  Informer& informer(const Resource& resource);
  // Like informer(), with options other than the defaults (e.g. a field selector); informers are
  // shared per (resource, options).
  Informer& informer(const Resource& resource, const InformerOptions& options);

  // Starts every informer not yet started. Internal when a thread cannot be started.
  Status start();
  // True when every started informer has synced within `timeout`.
  bool wait_for_sync(std::chrono::milliseconds timeout) const;
  // Stops every informer (joins their threads). Idempotent.
  void stop();

  const std::shared_ptr<Client>& client() const { return client_; }

 private:
  // Const after construction.
  const std::shared_ptr<Client> client_;
  const InformerOptions defaults_;

  mutable std::mutex mu_;  // lock order: leaf (informers are started/stopped outside it? no:
                           // start/stop hold it; informers never call back into the factory)
  // Guarded by mu_. Key: resource path + options.
  std::map<std::string, std::unique_ptr<Informer>> informers_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace orch::client
