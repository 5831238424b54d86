// orch._orch: the C++ half of the Python package `orch` (see bindings/python/orch/__init__.py).
//
// Objects cross the boundary as JSON text (the Python side does json.loads/json.dumps), so this
// file knows nothing of Python dicts. Every liborch error becomes an exception built by
// orch._error_from_status(code_name, http_status, reason, message, causes): the one mapping from
// orch::Code (status.hpp's table) to the exception classes lives there. Every blocking call
// releases the GIL.
//
// Lifetime: a Client or Watch obtained from a Cluster shares the cluster's State. Cluster.stop()
// marks the state dead, closes every open watch, waits for calls in flight, then stops the
// cluster; later calls raise ServiceUnavailable instead of touching a stopped server.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "orch/api/registry.hpp"
#include "orch/api/yaml.hpp"
#include "orch/client/client.hpp"
#include "orch/cluster/cluster.hpp"
#include "orch/status.hpp"

namespace py = pybind11;
namespace json = boost::json;

namespace {

using orch::Code;
using orch::Result;
using orch::Status;

// Raises the Python exception for `status`. GIL held.
[[noreturn]] void raise_status(const Status& status) {
  py::object factory = py::module_::import("orch").attr("_error_from_status");
  py::list causes;
  for (const auto& c : status.causes()) causes.append(py::make_tuple(c.type, c.message, c.field));
  py::object exc = factory(std::string(orch::code_name(status.code())),
                           orch::http_status(status.code()),
                           std::string(orch::k8s_reason(status.code())), status.message(), causes);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw py::error_already_set();
}

template <typename T>
T value_or_raise(Result<T>&& r) {
  if (!r.ok()) raise_status(r.status());
  return std::move(r).value();
}

void ok_or_raise(const Status& s) {
  if (!s.ok()) raise_status(s);
}

// The registry's resource for what a user may type: "Pod", "pods", "po", "deployments.apps".
// With `api_version`, `name` is a kind in that version first.
Result<orch::client::Resource> resolve(const std::string& name, const std::string& api_version) {
  const orch::api::ResourceInfo* info = nullptr;
  if (!api_version.empty()) info = orch::api::find_kind(api_version, name);
  if (info == nullptr) info = orch::api::find_resource_by_name(name);
  if (info == nullptr) {
    return Status(Code::kNotFound,
                  "the server doesn't have a resource type \"" + name + "\"");
  }
  return orch::client::Resource{std::string(info->group), std::string(info->version),
                                std::string(info->resource), info->namespaced};
}

py::dict resource_info(const std::string& name, const std::string& api_version) {
  auto r = resolve(name, api_version);
  if (!r.ok()) raise_status(r.status());
  const auto* info = orch::api::find_resource(r->group, r->version, r->plural);
  py::dict d;
  d["group"] = r->group;
  d["version"] = r->version;
  d["plural"] = r->plural;
  d["namespaced"] = r->namespaced;
  d["kind"] = std::string(info->kind);
  d["api_version"] = info->api_version();
  d["has_status"] = info->has_status;
  d["has_scale"] = info->has_scale;
  return d;
}

Result<json::value> parse_json(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return orch::bad_request("invalid JSON: " + ec.message());
  return v;
}

std::string parse_yaml_to_json(const std::string& text) {
  Result<std::vector<json::value>> docs = [&] {
    py::gil_scoped_release nogil;
    return orch::api::parse_yaml(text);
  }();
  if (!docs.ok()) raise_status(docs.status());
  json::array a;
  for (auto& d : *docs) a.push_back(std::move(d));
  return json::serialize(a);
}

std::string to_yaml_from_json(const std::string& text) {
  json::value v = value_or_raise(parse_json(text));
  return orch::api::to_yaml(v);
}

// What a cluster's clients and watches share with it.
struct State {
  std::atomic<bool> alive{true};
  // Calls in flight hold it shared; stop() takes it exclusively.
  std::shared_mutex calls;
  std::mutex watches_mu;
  std::vector<std::weak_ptr<orch::client::WatchStream>> watches;
};

Status stopped_status() { return orch::unavailable("the cluster is stopped"); }

class PyWatch {
 public:
  PyWatch(std::shared_ptr<State> state, std::shared_ptr<orch::client::WatchStream> stream)
      : state_(std::move(state)), stream_(std::move(stream)) {}

  // [(type, object JSON)], waiting at most `timeout` seconds for the first event.
  std::vector<std::pair<std::string, std::string>> next(double timeout) {
    Result<std::vector<orch::client::WatchEvent>> events = std::vector<orch::client::WatchEvent>{};
    {
      py::gil_scoped_release nogil;
      std::shared_lock lock(state_->calls);
      if (!state_->alive) {
        events = stopped_status();
      } else {
        const auto ms = std::chrono::milliseconds(static_cast<std::int64_t>(timeout * 1000));
        events = stream_->next(ms < std::chrono::milliseconds(0) ? std::chrono::milliseconds(0)
                                                                   : ms);
      }
    }
    if (!events.ok()) {
      // A stream closed under us: by Cluster.stop() (say so) or by close() (just ended).
      if (!state_->alive) raise_status(stopped_status());
      if (closed_) return {};
      raise_status(events.status());
    }
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(events->size());
    for (const auto& e : *events) {
      out.emplace_back(std::string(orch::client::watch_event_type_name(e.type)),
                       json::serialize(*e.object));
    }
    return out;
  }
  bool ended() const { return closed_ || stream_->ended() || !state_->alive; }
  std::string resource_version() const { return stream_->last_resource_version(); }
  void close() {
    closed_ = true;
    py::gil_scoped_release nogil;
    stream_->close();
  }

 private:
  std::shared_ptr<State> state_;
  std::shared_ptr<orch::client::WatchStream> stream_;
  // close() was called (from any thread).
  std::atomic<bool> closed_{false};
};

class PyClient {
 public:
  PyClient(std::shared_ptr<State> state, std::shared_ptr<orch::client::Client> client)
      : state_(std::move(state)), client_(std::move(client)) {}

  std::string get(const std::string& res, const std::string& ns, const std::string& name,
                  const std::string& subresource) {
    return json_call([&](const orch::client::Resource& r) {
      if (!subresource.empty()) return client_->get_subresource(r, ns, name, subresource);
      return client_->get(r, ns, name);
    }, res);
  }

  std::string list(const std::string& res, const std::string& ns, const std::string& label_selector,
                   const std::string& field_selector, std::int64_t limit,
                   const std::string& continue_token) {
    orch::client::ListOptions o;
    o.label_selector = label_selector;
    o.field_selector = field_selector;
    o.limit = limit;
    o.continue_token = continue_token;
    if (limit > 0 || !continue_token.empty()) {
      return json_call([&](const orch::client::Resource& r) { return client_->list(r, ns, o); },
                       res);
    }
    // Every page, as one List.
    return json_call([&](const orch::client::Resource& r) -> Result<json::value> {
      ORCH_ASSIGN_OR_RETURN(auto all, client_->list_all(r, ns, o));
      json::object list;
      list["apiVersion"] = r.group.empty() ? r.version : r.group + "/" + r.version;
      const auto* info = orch::api::find_resource(r.group, r.version, r.plural);
      list["kind"] = info != nullptr ? std::string(info->list_kind) : std::string("List");
      list["metadata"] = json::object{{"resourceVersion", all.resource_version}};
      json::array items;
      for (auto& item : all.items) items.push_back(std::move(item));
      list["items"] = std::move(items);
      return json::value(std::move(list));
    }, res);
  }

  std::string create(const std::string& res, const std::string& ns, const std::string& body,
                     bool dry_run, const std::string& field_manager) {
    const json::value object = value_or_raise(parse_json(body));
    orch::client::WriteOptions o{.dry_run = dry_run, .field_manager = field_manager};
    return json_call(
        [&](const orch::client::Resource& r) { return client_->create(r, ns, object, o); }, res);
  }

  std::string update(const std::string& res, const std::string& ns, const std::string& body,
                     const std::string& subresource, bool dry_run,
                     const std::string& field_manager) {
    const json::value object = value_or_raise(parse_json(body));
    orch::client::WriteOptions o{.dry_run = dry_run, .field_manager = field_manager};
    return json_call([&](const orch::client::Resource& r) {
      if (subresource == "status") return client_->update_status(r, ns, object, o);
      if (!subresource.empty()) {
        const auto name = std::string(orch::client::object_name(object));
        return client_->update_subresource(r, ns, name, subresource, object, o);
      }
      return client_->update(r, ns, object, o);
    }, res);
  }

  std::string patch(const std::string& res, const std::string& ns, const std::string& name,
                    const std::string& type, const std::string& patch,
                    const std::string& subresource, const std::string& field_manager, bool force,
                    bool dry_run) {
    orch::client::PatchType t{};
    if (type == "strategic") {
      t = orch::client::PatchType::Strategic;
    } else if (type == "merge") {
      t = orch::client::PatchType::Merge;
    } else if (type == "json") {
      t = orch::client::PatchType::Json;
    } else if (type == "apply") {
      t = orch::client::PatchType::Apply;
    } else {
      raise_status(orch::bad_request("unknown patch type \"" + type +
                                     "\" (strategic, merge, json, apply)"));
    }
    orch::client::WriteOptions o{.dry_run = dry_run, .field_manager = field_manager,
                                 .force = force};
    return json_call([&](const orch::client::Resource& r) {
      return client_->patch(r, ns, name, t, patch, o, subresource);
    }, res);
  }

  std::string remove(const std::string& res, const std::string& ns, const std::string& name,
                     std::optional<std::int64_t> grace_period_seconds,
                     const std::string& propagation_policy, bool dry_run) {
    orch::client::DeleteOptions o;
    o.grace_period_seconds = grace_period_seconds;
    o.propagation_policy = propagation_policy;
    o.dry_run = dry_run;
    return json_call(
        [&](const orch::client::Resource& r) { return client_->remove(r, ns, name, o); }, res);
  }

  std::unique_ptr<PyWatch> watch(const std::string& res, const std::string& ns,
                                 const std::string& resource_version,
                                 const std::string& label_selector,
                                 const std::string& field_selector, std::int64_t timeout_seconds,
                                 bool allow_bookmarks) {
    orch::client::Resource r = value_or_raise(resolve(res, ""));
    orch::client::WatchOptions o;
    o.resource_version = resource_version;
    o.label_selector = label_selector;
    o.field_selector = field_selector;
    o.timeout_seconds = timeout_seconds;
    o.allow_bookmarks = allow_bookmarks;
    Result<std::unique_ptr<orch::client::WatchStream>> stream = stopped_status();
    {
      py::gil_scoped_release nogil;
      std::shared_lock lock(state_->calls);
      if (state_->alive) stream = client_->watch(r, ns, o);
    }
    if (!stream.ok()) raise_status(stream.status());
    std::shared_ptr<orch::client::WatchStream> shared(std::move(stream).value());
    {
      std::lock_guard lock(state_->watches_mu);
      std::erase_if(state_->watches, [](const auto& w) { return w.expired(); });
      state_->watches.push_back(shared);
    }
    return std::make_unique<PyWatch>(state_, std::move(shared));
  }

 private:
  template <typename F>
  std::string json_call(F&& f, const std::string& res) {
    orch::client::Resource r = value_or_raise(resolve(res, ""));
    Result<json::value> out = stopped_status();
    {
      py::gil_scoped_release nogil;
      std::shared_lock lock(state_->calls);
      if (state_->alive) out = f(r);
    }
    if (!out.ok()) raise_status(out.status());
    return json::serialize(*out);
  }

  std::shared_ptr<State> state_;
  std::shared_ptr<orch::client::Client> client_;
};

// A manual clock for a cluster (orch.FakeClock): shared with every cluster started on it, so it
// outlives them.
class PyFakeClock {
 public:
  PyFakeClock() : clock_(std::make_shared<orch::util::FakeClock>()) {}
  // Moves time forward; listeners (work queues, lease loops) wake on this thread. GIL released.
  void advance(double seconds) {
    py::gil_scoped_release nogil;
    clock_->advance(std::chrono::nanoseconds(static_cast<std::int64_t>(seconds * 1e9)));
  }
  // Wall-clock time on this clock, as seconds since the Unix epoch.
  double time() const {
    return std::chrono::duration<double>(clock_->system_now().time_since_epoch()).count();
  }
  const std::shared_ptr<orch::util::FakeClock>& get() const { return clock_; }

 private:
  std::shared_ptr<orch::util::FakeClock> clock_;
};

// orch.Snapshot: an immutable image of a cluster's state (Cluster.snapshot()).
struct PySnapshot {
  std::shared_ptr<const orch::cluster::Snapshot> snap;
  void save(const std::string& path) const { ok_or_raise(snap->save(path)); }
  static PySnapshot load(const std::string& path) {
    return PySnapshot{value_or_raise(orch::cluster::Snapshot::load(path))};
  }
};

class PyCluster {
 public:
  explicit PyCluster(std::unique_ptr<orch::cluster::Cluster> cluster,
                     std::shared_ptr<orch::util::FakeClock> clock = nullptr)
      : state_(std::make_shared<State>()), clock_(std::move(clock)), cluster_(std::move(cluster)) {}
  ~PyCluster() { stop_nogil(); }
  PyCluster(const PyCluster&) = delete;
  PyCluster& operator=(const PyCluster&) = delete;

  PyClient client() {
    if (!state_->alive) raise_status(stopped_status());
    return PyClient(state_, cluster_->client());
  }
  std::string url() const { return cluster_->url(); }
  std::string kubeconfig_path() const { return cluster_->kubeconfig_path(); }
  std::string data_dir() const { return cluster_->data_dir(); }
  std::vector<std::string> node_names() const { return cluster_->node_names(); }
  bool alive() const { return state_->alive; }

  void wait_ready(double timeout) {
    Status s = stopped_status();
    {
      py::gil_scoped_release nogil;
      std::shared_lock lock(state_->calls);
      if (state_->alive) {
        const auto ms = std::chrono::milliseconds(static_cast<std::int64_t>(timeout * 1000));
        s = cluster_->wait_ready(ms);
      }
    }
    ok_or_raise(s);
  }
  PySnapshot snapshot() {
    Result<std::shared_ptr<const orch::cluster::Snapshot>> r = stopped_status();
    {
      py::gil_scoped_release nogil;
      std::shared_lock lock(state_->calls);
      if (state_->alive) r = cluster_->snapshot();
    }
    return PySnapshot{value_or_raise(std::move(r))};
  }
  void stop_node(const std::string& name) { node_call(name, &orch::cluster::Cluster::stop_node); }
  void start_node(const std::string& name) { node_call(name, &orch::cluster::Cluster::start_node); }
  void partition_node(const std::string& name) {
    node_call(name, &orch::cluster::Cluster::partition_node);
  }
  void heal_node(const std::string& name) { node_call(name, &orch::cluster::Cluster::heal_node); }

  void stop() {
    py::gil_scoped_release nogil;
    stop_nogil();
  }

 private:
  void node_call(const std::string& name,
                 Status (orch::cluster::Cluster::*fault)(const std::string&)) {
    Status s = stopped_status();
    {
      py::gil_scoped_release nogil;
      std::shared_lock lock(state_->calls);
      if (state_->alive) s = ((*cluster_).*fault)(name);
    }
    ok_or_raise(s);
  }

  void stop_nogil() {
    if (state_->alive.exchange(false)) {
      {
        std::lock_guard lock(state_->watches_mu);
        for (auto& w : state_->watches) {
          if (auto s = w.lock()) s->close();
        }
        state_->watches.clear();
      }
      std::unique_lock lock(state_->calls);
      cluster_->stop();
    }
  }

  std::shared_ptr<State> state_;
  std::shared_ptr<orch::util::FakeClock> clock_;  // destroyed after cluster_ (declared before)
  std::unique_ptr<orch::cluster::Cluster> cluster_;
};

std::unique_ptr<PyCluster> start_cluster(
    std::size_t nodes, const std::string& runtime, const std::string& data_dir, bool serve_http,
    const std::string& http_address, int http_port, const std::vector<std::string>& node_names,
    const std::string& node_name_prefix, const std::string& kuard_path,
    const std::map<std::string, std::string>& node_capacity, double lease_renew_interval,
    bool keep_pods_on_stop, std::optional<std::uint32_t> address_block,
    const PySnapshot* restore_from, const PyFakeClock* clock) {
  orch::cluster::ClusterOptions o;
  std::shared_ptr<orch::util::FakeClock> fake = clock ? clock->get() : nullptr;
  o.clock = fake.get();
  if (restore_from) o.restore_from = restore_from->snap;
  o.nodes = nodes;
  if (runtime == "process") {
    o.runtime = orch::cluster::RuntimeKind::kProcess;
  } else if (runtime == "simulated") {
    o.runtime = orch::cluster::RuntimeKind::kSimulated;
  } else {
    raise_status(orch::bad_request("unknown runtime \"" + runtime + "\" (process, simulated)"));
  }
  if (http_port < 0 || http_port > 65535) raise_status(orch::bad_request("http_port out of range"));
  o.data_dir = data_dir;
  o.serve_http = serve_http;
  o.http_address = http_address;
  o.http_port = static_cast<std::uint16_t>(http_port);
  o.node_names = node_names;
  o.node_name_prefix = node_name_prefix;
  o.kuard_path = kuard_path;
  o.node_capacity = node_capacity;
  if (lease_renew_interval > 0) {
    o.lease_renew_interval =
        std::chrono::milliseconds(static_cast<std::int64_t>(lease_renew_interval * 1000));
  }
  o.keep_pods_on_stop = keep_pods_on_stop;
  o.address_block = address_block;
  Result<std::unique_ptr<orch::cluster::Cluster>> c = orch::internal_error("not started");
  {
    py::gil_scoped_release nogil;
    c = orch::cluster::Cluster::start(std::move(o));
  }
  if (!c.ok()) raise_status(c.status());
  return std::make_unique<PyCluster>(std::move(c).value(), std::move(fake));
}

}  // namespace

PYBIND11_MODULE(_orch, m) {
  m.doc() = "liborch bindings (internal; use the `orch` package)";

  m.def("resource_info", &resource_info, py::arg("name"), py::arg("api_version") = "");
  m.def("parse_yaml", &parse_yaml_to_json, py::arg("text"));
  m.def("to_yaml", &to_yaml_from_json, py::arg("json_text"));

  py::class_<PyWatch>(m, "Watch")
      .def("next", &PyWatch::next, py::arg("timeout"))
      .def_property_readonly("ended", &PyWatch::ended)
      .def_property_readonly("resource_version", &PyWatch::resource_version)
      .def("close", &PyWatch::close);

  py::class_<PyClient>(m, "Client")
      .def("get", &PyClient::get, py::arg("resource"), py::arg("namespace"), py::arg("name"),
           py::arg("subresource") = "")
      .def("list", &PyClient::list, py::arg("resource"), py::arg("namespace"),
           py::arg("label_selector") = "", py::arg("field_selector") = "", py::arg("limit") = 0,
           py::arg("continue_token") = "")
      .def("create", &PyClient::create, py::arg("resource"), py::arg("namespace"),
           py::arg("body"), py::arg("dry_run") = false, py::arg("field_manager") = "")
      .def("update", &PyClient::update, py::arg("resource"), py::arg("namespace"),
           py::arg("body"), py::arg("subresource") = "", py::arg("dry_run") = false,
           py::arg("field_manager") = "")
      .def("patch", &PyClient::patch, py::arg("resource"), py::arg("namespace"), py::arg("name"),
           py::arg("type"), py::arg("patch"), py::arg("subresource") = "",
           py::arg("field_manager") = "", py::arg("force") = false, py::arg("dry_run") = false)
      .def("remove", &PyClient::remove, py::arg("resource"), py::arg("namespace"),
           py::arg("name"), py::arg("grace_period_seconds") = std::nullopt,
           py::arg("propagation_policy") = "", py::arg("dry_run") = false)
      .def("watch", &PyClient::watch, py::arg("resource"), py::arg("namespace"),
           py::arg("resource_version") = "", py::arg("label_selector") = "",
           py::arg("field_selector") = "", py::arg("timeout_seconds") = 0,
           py::arg("allow_bookmarks") = false);

  py::class_<PyFakeClock>(m, "FakeClock")
      .def(py::init<>())
      .def("advance", &PyFakeClock::advance, py::arg("seconds"))
      .def("time", &PyFakeClock::time);

  py::class_<PySnapshot>(m, "Snapshot")
      .def("save", &PySnapshot::save, py::arg("path"))
      .def_static("load", &PySnapshot::load, py::arg("path"))
      .def_property_readonly("nodes", [](const PySnapshot& s) { return s.snap->nodes; })
      .def_property_readonly("node_names", [](const PySnapshot& s) { return s.snap->node_names; })
      .def_property_readonly("runtime", [](const PySnapshot& s) {
        return s.snap->runtime == orch::cluster::RuntimeKind::kSimulated ? "simulated" : "process";
      })
      .def_property_readonly("size", [](const PySnapshot& s) { return s.snap->store_image.size(); });

  py::class_<PyCluster>(m, "Cluster")
      .def_static("start", &start_cluster, py::arg("nodes"), py::arg("runtime"),
                  py::arg("data_dir"), py::arg("serve_http"), py::arg("http_address"),
                  py::arg("http_port"), py::arg("node_names"), py::arg("node_name_prefix"),
                  py::arg("kuard_path"), py::arg("node_capacity"),
                  py::arg("lease_renew_interval"), py::arg("keep_pods_on_stop"),
                  py::arg("address_block"), py::arg("restore_from") = nullptr,
                  py::arg("clock") = nullptr)
      .def("snapshot", &PyCluster::snapshot)
      .def("client", &PyCluster::client)
      .def_property_readonly("url", &PyCluster::url)
      .def_property_readonly("kubeconfig_path", &PyCluster::kubeconfig_path)
      .def_property_readonly("data_dir", &PyCluster::data_dir)
      .def_property_readonly("node_names", &PyCluster::node_names)
      .def_property_readonly("alive", &PyCluster::alive)
      .def("wait_ready", &PyCluster::wait_ready, py::arg("timeout"))
      .def("stop_node", &PyCluster::stop_node, py::arg("name"))
      .def("start_node", &PyCluster::start_node, py::arg("name"))
      .def("partition_node", &PyCluster::partition_node, py::arg("name"))
      .def("heal_node", &PyCluster::heal_node, py::arg("name"))
      .def("stop", &PyCluster::stop);
}
