// DefaultBinder: POST pods/<name>/binding through the client. Thread-safety: any binder thread
// (Client is thread-safe).
#include "orch/scheduler/plugins.hpp"

namespace orch::scheduler {

PluginStatus DefaultBinder::bind(const PodInfo& pod, const std::string& node) {
  client::WriteOptions wo;
  wo.field_manager = "orch-scheduler";
  Status s = client_->bind(pod.ns, pod.name, node, wo);
  if (s.ok()) return PluginStatus::success();
  return PluginStatus::error(s.message());
}

}  // namespace orch::scheduler
