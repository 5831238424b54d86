// InformerFactory: a map of informers keyed by resource and options.
#include "orch/client/informer_factory.hpp"

#include <fmt/format.h>

#include <set>

namespace orch::client {

namespace {

std::string factory_key(const Resource& resource, const InformerOptions& o) {
  return fmt::format("{}/{}/{}\x1f{}\x1f{}\x1f{}\x1f{}", resource.group, resource.version,
                     resource.plural, o.namespace_, o.label_selector, o.field_selector,
                     o.resync_period.count());
}

}  // namespace

InformerFactory::InformerFactory(std::shared_ptr<Client> client, InformerOptions defaults)
    : client_(std::move(client)), defaults_(std::move(defaults)) {}

InformerFactory::~InformerFactory() { stop(); }

Informer& InformerFactory::informer(const Resource& resource) {
  return informer(resource, defaults_);
}

Informer& InformerFactory::informer(const Resource& resource, const InformerOptions& options) {
  std::lock_guard lock(mu_);
  const std::string key = factory_key(resource, options);
  auto it = informers_.find(key);
  if (it != informers_.end()) return *it->second;
  auto informer = std::make_unique<Informer>(client_, resource, options);
  Informer& ref = *informer;
  informers_.emplace(key, std::move(informer));
  // Created after start(): start it now so the caller's reads are served.
  if (started_ && !stopped_) (void)ref.start();
  return ref;
}

Status InformerFactory::start() {
  std::lock_guard lock(mu_);
  if (stopped_) return Status(Code::kInvalidArgument, "informer factory was stopped");
  started_ = true;
  for (auto& [key, informer] : informers_) {
    Status s = informer->start();
    // InvalidArgument: already started by an earlier start(); fine.
    if (!s.ok() && s.code() != Code::kInvalidArgument) return s;
  }
  return Status();
}

bool InformerFactory::wait_for_sync(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<Informer*> all;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, informer] : informers_) all.push_back(informer.get());
  }
  for (Informer* informer : all) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!informer->wait_for_sync(std::max(left, std::chrono::milliseconds(0)))) return false;
  }
  return true;
}

void InformerFactory::stop() {
  std::vector<Informer*> all;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& [key, informer] : informers_) all.push_back(informer.get());
  }
  // Ask every informer to end first, so their (bounded) endings overlap, then join each.
  for (Informer* informer : all) informer->request_stop();
  for (Informer* informer : all) informer->stop();
}

}  // namespace orch::client
