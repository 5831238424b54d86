// FaultTransport (see fault_transport.hpp). Thread-safety: partitioned_ is read lock-free on
// every call; mu_ guards the list of open streams, which set_partitioned(true) breaks.
#include "orch/client/fault_transport.hpp"

#include <algorithm>

namespace orch::client {

namespace {

Status partitioned_error() { return unavailable("partitioned from the API server (fault injection)"); }

}  // namespace

// One open stream: the inner stream and whether the partition broke it.
struct FaultTransport::StreamCore {
  std::unique_ptr<ByteStream> inner;
  std::atomic<bool> broken{false};

  void breaks() {
    broken.store(true);
    inner->close();
  }
};

namespace {

class FaultStream final : public ByteStream {
 public:
  explicit FaultStream(std::shared_ptr<FaultTransport::StreamCore> core) : core_(std::move(core)) {}
  ~FaultStream() override { core_->inner->close(); }

  Result<std::optional<std::string>> read(std::chrono::milliseconds timeout) override {
    if (core_->broken.load()) return partitioned_error();
    auto r = core_->inner->read(timeout);
    if (core_->broken.load()) return partitioned_error();
    return r;
  }
  void close() override { core_->inner->close(); }

 private:
  const std::shared_ptr<FaultTransport::StreamCore> core_;
};

}  // namespace

FaultTransport::FaultTransport(std::shared_ptr<Transport> inner) : inner_(std::move(inner)) {}

FaultTransport::~FaultTransport() = default;

Result<HttpResponse> FaultTransport::request(const HttpRequest& request) {
  if (partitioned_.load()) return partitioned_error();
  auto r = inner_->request(request);
  // Cut while in flight: the answer is lost on the way back.
  if (partitioned_.load()) return partitioned_error();
  return r;
}

Result<std::unique_ptr<ByteStream>> FaultTransport::stream(const HttpRequest& request) {
  if (partitioned_.load()) return partitioned_error();
  auto s = inner_->stream(request);
  if (!s.ok()) return s.status();
  auto core = std::make_shared<StreamCore>();
  core->inner = std::move(s).value();
  {
    std::lock_guard lock(mu_);
    std::erase_if(streams_, [](const auto& w) { return w.expired(); });
    streams_.push_back(core);
    // Cut between the check above and here: this stream is broken too.
    if (partitioned_.load()) core->breaks();
  }
  return std::unique_ptr<ByteStream>(std::make_unique<FaultStream>(std::move(core)));
}

void FaultTransport::set_partitioned(bool partitioned) {
  std::lock_guard lock(mu_);
  partitioned_.store(partitioned);
  if (!partitioned) return;
  for (auto& w : streams_) {
    if (auto core = w.lock()) core->breaks();
  }
  streams_.clear();
}

}  // namespace orch::client
