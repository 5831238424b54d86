// FaultTransport: a Transport that can be cut off from the API server, for fault injection (a
// node partitioned from the control plane). It forwards to an inner transport until
// set_partitioned(true); from then until set_partitioned(false):
// - request() and stream() fail with Unavailable ("partitioned") without reaching the server;
// - every stream opened before breaks: its next read() (and one blocked meanwhile) fails with
//   Unavailable, as a dropped connection would, so watches end and informers retry.
// Healing does not revive broken streams; callers open new ones, as after a real outage.
//
// Thread-safety: every method may be called from any thread, as Transport's contract requires.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "orch/client/transport.hpp"

namespace orch::client {

class FaultTransport final : public Transport {
 public:
  // `inner` must not be null.
  explicit FaultTransport(std::shared_ptr<Transport> inner);
  ~FaultTransport() override;

  Result<HttpResponse> request(const HttpRequest& request) override;
  Result<std::unique_ptr<ByteStream>> stream(const HttpRequest& request) override;

  // Cuts (true) or restores (false) the connection. Cutting breaks every open stream.
  void set_partitioned(bool partitioned);
  bool partitioned() const { return partitioned_.load(); }

  struct StreamCore;

 private:
  // Const after construction.
  const std::shared_ptr<Transport> inner_;

  std::atomic<bool> partitioned_{false};
  std::mutex mu_;  // lock order: leaf (inner streams' close() is called under it)
  // Guarded by mu_. Open streams (expired entries are pruned on each stream()).
  std::vector<std::weak_ptr<StreamCore>> streams_;
};

}  // namespace orch::client
