// MirrorPods: pods in kube-system standing for the components a node runs outside pods.
// Thread-safety: see mirror_pods.hpp. Impl::mu guards the health/written state; each component's
// log file is written only by its log sink, which the log registry serialises.
#include "orch/agent/mirror_pods.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "agent_internal.hpp"
#include "orch/agent/container_log.hpp"
#include "orch/api/time.hpp"
#include "orch/client/client.hpp"
#include "orch/client/resource.hpp"
#include "orch/util/log.hpp"

namespace orch::agent {

namespace json = boost::json;
namespace fs = std::filesystem;
using detail::array_at;
using detail::path;
using detail::str_at;

namespace {

constexpr std::string_view kNamespace = "kube-system";

bool component_matches(std::string_view line_component, std::string_view wanted) {
  if (wanted.empty()) return false;
  if (line_component == wanted) return true;
  return line_component.size() > wanted.size() && line_component.starts_with(wanted) &&
         line_component[wanted.size()] == '/';
}

// Appends one component's log lines to its CRI file, rotating once past max_bytes.
class LogFile {
 public:
  LogFile(std::string path, std::size_t max_bytes) : path_(std::move(path)), max_bytes_(max_bytes) {}
  ~LogFile() { close(); }

  Status open() {
    std::error_code ec;
    fs::create_directories(fs::path(path_).parent_path(), ec);
    if (ec) return Status(Code::kInternal, fmt::format("mirror pods: {}: {}", path_, ec.message()));
    file_ = std::fopen(path_.c_str(), "ae");
    if (file_ == nullptr) return Status(Code::kInternal, fmt::format("mirror pods: cannot open {}", path_));
    size_ = static_cast<std::size_t>(fs::file_size(path_, ec));
    return ok_status();
  }

  void append(std::string_view text) {
    if (file_ == nullptr) return;
    std::string line = format_cri_line(std::chrono::system_clock::now(), "stderr", false, text);
    if (line.empty() || line.back() != '\n') line += '\n';
    if (size_ + line.size() > max_bytes_ && size_ > 0) rotate();
    if (file_ == nullptr) return;
    size_ += std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
  }

  void close() {
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
  }

 private:
  void rotate() {
    close();
    std::error_code ec;
    fs::rename(path_, path_ + ".1", ec);
    file_ = std::fopen(path_.c_str(), "we");
    size_ = 0;
  }

  std::string path_;
  std::size_t max_bytes_;
  std::FILE* file_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace

bool is_mirror_pod(const json::value& pod) {
  const auto* a = path(pod, {"metadata", "annotations"});
  return a != nullptr && a->is_object() && a->as_object().contains(kMirrorAnnotation);
}

struct MirrorPods::Impl {
  struct Entry {
    StaticComponent component;
    std::string pod_name;
    std::string log_dir;
    std::unique_ptr<LogFile> log;
    std::uint64_t sink = 0;
    // Guarded by Impl::mu.
    std::optional<bool> written_ready;  // what the API has, as far as we know
  };

  Impl(MirrorPodsOptions o, std::shared_ptr<client::Client> c)
      : options(std::move(o)),
        client(std::move(c)),
        clock(options.clock != nullptr ? options.clock : &util::real_clock()) {}

  json::object pod_spec(const Entry& e) const {
    json::object container{{"name", e.component.name},
                           {"image", e.component.image},
                           {"imagePullPolicy", "IfNotPresent"},
                           {"terminationMessagePath", "/dev/termination-log"},
                           {"terminationMessagePolicy", "File"}};
    return json::object{
        {"nodeName", options.node_name},
        {"hostNetwork", true},
        {"containers", json::array{container}},
        {"restartPolicy", "Always"},
        {"dnsPolicy", "ClusterFirst"},
        {"schedulerName", "default-scheduler"},
        {"terminationGracePeriodSeconds", 30},
        {"enableServiceLinks", true},
        {"tolerations", json::array{json::object{{"operator", "Exists"}, {"effect", "NoExecute"}},
                                    json::object{{"operator", "Exists"}, {"effect", "NoSchedule"}}}},
    };
  }

  json::object pod_object(const Entry& e) const {
    json::object meta{{"name", e.pod_name},
                      {"namespace", kNamespace},
                      {"labels", json::object{{"component", e.component.name},
                                              {"tier", "control-plane"}}},
                      {"annotations",
                       json::object{{kMirrorAnnotation, fmt::format("{}-{}", options.node_name,
                                                                    e.component.name)},
                                    {"kubernetes.io/config.source", "orch"}}}};
    if (!options.node_uid.empty()) {
      meta["ownerReferences"] = json::array{json::object{{"apiVersion", "v1"},
                                                         {"kind", "Node"},
                                                         {"name", options.node_name},
                                                         {"uid", options.node_uid},
                                                         {"controller", true}}};
    }
    return json::object{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", std::move(meta)},
                        {"spec", pod_spec(e)}};
  }

  json::object pod_status(const Entry& e, bool ready) const {
    std::string now = api::Time{clock->system_now()}.to_string();
    auto cond = [&](std::string_view type, bool v) {
      return json::object{{"type", type}, {"status", v ? "True" : "False"},
                          {"lastProbeTime", nullptr}, {"lastTransitionTime", now}};
    };
    json::object cs{{"name", e.component.name},
                    {"image", e.component.image},
                    {"imageID", e.component.image},
                    {"containerID", fmt::format("orch://{}", e.pod_name)},
                    {"ready", ready},
                    {"started", true},
                    {"restartCount", 0},
                    {"state", json::object{{"running", json::object{{"startedAt", started_at}}}}}};
    return json::object{
        {"phase", "Running"},
        {"conditions", json::array{cond("PodReadyToStartContainers", true), cond("Initialized", true),
                                   cond("Ready", ready), cond("ContainersReady", ready),
                                   cond("PodScheduled", true)}},
        {"hostIP", options.node_ip},
        {"hostIPs", json::array{json::object{{"ip", options.node_ip}}}},
        {"podIP", options.node_ip},
        {"podIPs", json::array{json::object{{"ip", options.node_ip}}}},
        {"startTime", started_at},
        {"containerStatuses", json::array{std::move(cs)}},
        {"qosClass", "BestEffort"},
    };
  }

  static bool api_ready(const json::value& pod) {
    const auto* conds = array_at(pod, {"status", "conditions"});
    if (conds == nullptr) return false;
    for (const auto& c : *conds) {
      if (str_at(c, {"type"}) == "Ready") return str_at(c, {"status"}) == "True";
    }
    return false;
  }

  bool healthy(const Entry& e) const { return !e.component.healthy || e.component.healthy(); }

  // Makes the API's pod match `e` and `ready`: creates it, replaces one with another spec, or
  // rewrites its status. Returns whether the API now has what we want.
  bool sync(Entry& e, bool ready, bool force_read) {
    {
      std::lock_guard lock(mu);
      if (!force_read && e.written_ready == ready) return true;
    }
    auto current = client->get(client::resources::kPods, kNamespace, e.pod_name);
    json::value pod;
    if (current.ok()) {
      pod = std::move(current).value();
      const auto* containers = array_at(pod, {"spec", "containers"});
      bool same = is_mirror_pod(pod) &&
                  str_at(pod, {"spec", "nodeName"}) == options.node_name &&
                  containers != nullptr && !containers->empty() &&
                  str_at(containers->at(0), {"image"}) == e.component.image;
      if (!same) {
        client::DeleteOptions del;
        del.grace_period_seconds = 0;
        (void)client->remove(client::resources::kPods, kNamespace, e.pod_name, del);
        current = Status(Code::kNotFound, "replaced");
      } else if (api_ready(pod) == ready && path(pod, {"status", "containerStatuses"}) != nullptr) {
        std::lock_guard lock(mu);
        e.written_ready = ready;
        return true;
      }
    }
    if (!current.ok()) {
      if (current.status().code() != Code::kNotFound) return false;
      auto created = client->create(client::resources::kPods, kNamespace, pod_object(e));
      if (!created.ok()) return false;
      pod = std::move(created).value();
    }
    pod.as_object()["status"] = pod_status(e, ready);
    auto written = client->update_status(client::resources::kPods, kNamespace, pod);
    if (!written.ok()) return false;
    std::lock_guard lock(mu);
    e.written_ready = ready;
    return true;
  }

  void loop() {
    auto next_resync = clock->now() + options.resync_interval;
    std::unique_lock lock(mu);
    while (!stopping) {
      lock.unlock();
      bool resync = clock->now() >= next_resync;
      for (auto& e : entries) {
        if (!sync(*e, healthy(*e), resync)) {
          std::lock_guard l(mu);
          e->written_ready.reset();  // retry next round
        }
      }
      if (resync) next_resync = clock->now() + options.resync_interval;
      lock.lock();
      cv.wait_for(lock, std::chrono::seconds(1), [this] { return stopping; });
    }
  }

  const MirrorPodsOptions options;
  const std::shared_ptr<client::Client> client;
  util::Clock* const clock;
  std::string started_at;
  std::vector<std::unique_ptr<Entry>> entries;  // fixed after start()

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;  // guarded by mu
  bool started = false;
  std::thread thread;
};

MirrorPods::MirrorPods(MirrorPodsOptions options, std::shared_ptr<client::Client> client)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(client))) {}

MirrorPods::~MirrorPods() { stop(); }

Status MirrorPods::start() {
  auto& im = *impl_;
  if (im.started) return ok_status();
  if (im.options.node_name.empty() || im.options.data_dir.empty()) {
    return invalid_argument("mirror pods: node_name and data_dir are required");
  }
  im.started_at = api::Time{im.clock->system_now()}.to_string();
  for (const auto& c : im.options.components) {
    if (c.name.empty()) return invalid_argument("mirror pods: a component needs a name");
    auto e = std::make_unique<Impl::Entry>();
    e->component = c;
    if (e->component.image.empty()) e->component.image = "orch/" + c.name;
    e->pod_name = fmt::format("{}-{}", c.name, im.options.node_name);
    e->log_dir = fmt::format("{}/logs/{}_{}_mirror", im.options.data_dir, kNamespace, e->pod_name);
    e->log = std::make_unique<LogFile>(container_log_path(e->log_dir, c.name, 0),
                                       im.options.max_log_bytes);
    ORCH_TRY(e->log->open());
    im.entries.push_back(std::move(e));
  }
  for (auto& e : im.entries) {
    if (e->component.log_component.empty()) continue;
    LogFile* file = e->log.get();
    std::string wanted = e->component.log_component;
    e->sink = log::add_sink([file, wanted](const log::Line& line) {
      if (component_matches(line.component, wanted)) file->append(line.text);
    });
  }
  for (auto& e : im.entries) (void)im.sync(*e, im.healthy(*e), true);
  im.started = true;
  im.thread = std::thread([&im] { im.loop(); });
  return ok_status();
}

void MirrorPods::stop() {
  auto& im = *impl_;
  {
    std::lock_guard lock(im.mu);
    im.stopping = true;
  }
  im.cv.notify_all();
  if (im.thread.joinable()) im.thread.join();
  for (auto& e : im.entries) {
    if (e->sink != 0) log::remove_sink(e->sink);
    e->sink = 0;
    e->log->close();
  }
}

Result<PodLocation> MirrorPods::locate(std::string_view ns, std::string_view name) const {
  if (ns == kNamespace) {
    for (const auto& e : impl_->entries) {
      if (e->pod_name != name) continue;
      PodLocation loc;
      loc.uid = "mirror";
      loc.pod_ip = impl_->options.node_ip;
      loc.log_dir = e->log_dir;
      return loc;
    }
  }
  return not_found(fmt::format("pod {}/{} is not a mirror pod of this node", ns, name));
}

}  // namespace orch::agent
