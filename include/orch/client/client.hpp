// Client: the Kubernetes REST API, generic over resources, at the JSON level. Every controller,
// the scheduler, the agents and users' programs talk to the API server through it.
//
//   auto client = std::make_shared<Client>(std::move(transport));
//   auto pod = client->get(resources::kPods, "default", "kuard");        // Result<json::value>
//   auto w = client->watch(resources::kPods, "default", {.resource_version = rv});
//
// Objects are boost::json::value, as the server sends them. Errors are the Status the server
// answered (see transport.hpp): NotFound, AlreadyExists, Aborted (409 Conflict: re-read and
// retry), InvalidArgument (422, with causes), OutOfRange (410), Unavailable, DeadlineExceeded.
// Arguments the client can check itself (a namespaced resource without a namespace, an object
// without metadata.name for update) are InvalidArgument before anything is sent.
//
// Thread-safety: every method may be called from many threads at once (the Transport allows
// it). A WatchStream belongs to the caller.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orch/client/resource.hpp"
#include "orch/client/transport.hpp"
#include "orch/client/watch.hpp"
#include "orch/status.hpp"

namespace orch::client {

struct GetOptions {
  // "" reads the latest; "0" allows any cached version. Default: "".
  std::string resource_version{};
  // Zero: the transport's default. Default: 0.
  std::chrono::milliseconds timeout{0};
};

struct ListOptions {
  // "app=kuard,env in (a,b)". Default: "".
  std::string label_selector{};
  // "spec.nodeName=node-1". Default: "".
  std::string field_selector{};
  // Page size; 0 means no limit (list_all: pages of 500). Default: 0.
  std::int64_t limit = 0;
  // metadata.continue of the previous page. Default: "".
  std::string continue_token{};
  // Default: "" (latest).
  std::string resource_version{};
  // Zero: the transport's default. Default: 0.
  std::chrono::milliseconds timeout{0};
};

struct WriteOptions {
  // Validate and admit, but do not persist (dryRun=All). Default: false.
  bool dry_run = false;
  // fieldManager, e.g. "orch-scheduler". Default: "".
  std::string field_manager{};
  // fieldValidation: "Ignore", "Warn" or "Strict" ("" lets the server decide). Default: "".
  std::string field_validation{};
  // Server-side apply only: take ownership of conflicting fields. Default: false.
  bool force = false;
  // Zero: the transport's default. Default: 0.
  std::chrono::milliseconds timeout{0};
};

enum class PatchType : std::uint8_t {
  Strategic,  // application/strategic-merge-patch+json
  Merge,      // application/merge-patch+json (RFC 7386)
  Json,       // application/json-patch+json (RFC 6902)
  Apply,      // application/apply-patch+yaml (server-side apply; needs field_manager)
};

// The Content-Type of a patch type.
std::string_view patch_content_type(PatchType type);

struct DeleteOptions {
  // Seconds before a pod is killed; 0 deletes at once. Default: unset (the object's own).
  std::optional<std::int64_t> grace_period_seconds{};
  // "Orphan", "Background" or "Foreground". Default: "" (the resource's default).
  std::string propagation_policy{};
  // Delete only if the object still has this uid / resourceVersion (Aborted otherwise).
  // Default: "".
  std::string precondition_uid{};
  std::string precondition_resource_version{};
  // Default: false.
  bool dry_run = false;
  // Zero: the transport's default. Default: 0.
  std::chrono::milliseconds timeout{0};
};

struct WatchOptions {
  // Events after this version; "" or "0" first sends an ADDED for every existing object.
  // Default: "".
  std::string resource_version{};
  // Default: "".
  std::string label_selector{};
  std::string field_selector{};
  // Ask for BOOKMARK events. Default: false.
  bool allow_bookmarks = false;
  // The server ends the watch after this long; 0 lets the server choose. Default: 0.
  std::int64_t timeout_seconds = 0;
  // Limit on receiving the response headers. Zero: the transport's default. Default: 0.
  std::chrono::milliseconds timeout{0};
};

// A whole collection (every page of a list).
struct ObjectList {
  std::vector<boost::json::value> items{};
  // The list's metadata.resourceVersion: watch from here to see every later change.
  std::string resource_version{};
};

class Client {
 public:
  // `transport` must not be null.
  explicit Client(std::shared_ptr<Transport> transport);

  // GET one object. NotFound when absent.
  Result<boost::json::value> get(const Resource& resource, std::string_view ns,
                                 std::string_view name, const GetOptions& options = {}) const;
  // GET a collection (one page): the List object ({"items":[...],"metadata":{...}}). `ns` empty
  // lists every namespace. OutOfRange: the continue token expired.
  Result<boost::json::value> list(const Resource& resource, std::string_view ns,
                                  const ListOptions& options = {}) const;
  // Every page, following metadata.continue (pages of options.limit, 500 when 0). When a continue
  // token expires mid-way (OutOfRange), lists again in one unpaged request, as client-go's pager.
  Result<ObjectList> list_all(const Resource& resource, std::string_view ns,
                              ListOptions options = {}) const;

  // POST. `ns` empty: the object's metadata.namespace. AlreadyExists, InvalidArgument.
  Result<boost::json::value> create(const Resource& resource, std::string_view ns,
                                    const boost::json::value& object,
                                    const WriteOptions& options = {}) const;
  // PUT of the whole object (name from metadata.name; `ns` empty: metadata.namespace). Aborted
  // when metadata.resourceVersion is stale. NotFound.
  Result<boost::json::value> update(const Resource& resource, std::string_view ns,
                                    const boost::json::value& object,
                                    const WriteOptions& options = {}) const;
  // PUT .../status: only the status is written.
  Result<boost::json::value> update_status(const Resource& resource, std::string_view ns,
                                           const boost::json::value& object,
                                           const WriteOptions& options = {}) const;
  // PATCH with `patch` (JSON text, or YAML for Apply), optionally of a subresource ("status",
  // "scale"). NotFound, Aborted, InvalidArgument.
  Result<boost::json::value> patch(const Resource& resource, std::string_view ns,
                                   std::string_view name, PatchType type, std::string_view patch,
                                   const WriteOptions& options = {},
                                   std::string_view subresource = {}) const;
  // DELETE. Returns what the server answered: the object (still present with a
  // deletionTimestamp while finalizers run, or its last state), or a Success Status.
  // NotFound; Aborted when a precondition fails.
  Result<boost::json::value> remove(const Resource& resource, std::string_view ns,
                                    std::string_view name, const DeleteOptions& options = {}) const;
  // DELETE of a collection, filtered by the selectors of `list_options`. Returns the server's
  // answer (a List of what was deleted, or a Status).
  Result<boost::json::value> remove_collection(const Resource& resource, std::string_view ns,
                                               const ListOptions& list_options,
                                               const DeleteOptions& options = {}) const;

  // GET .../<subresource> ("scale", "status").
  Result<boost::json::value> get_subresource(const Resource& resource, std::string_view ns,
                                             std::string_view name, std::string_view subresource,
                                             const GetOptions& options = {}) const;
  // PUT .../<subresource> (e.g. a Scale object to "scale").
  Result<boost::json::value> update_subresource(const Resource& resource, std::string_view ns,
                                                std::string_view name,
                                                std::string_view subresource,
                                                const boost::json::value& object,
                                                const WriteOptions& options = {}) const;
  // POST .../<subresource> (e.g. a Binding to pods/<name>/binding, an Eviction).
  Result<boost::json::value> create_subresource(const Resource& resource, std::string_view ns,
                                                std::string_view name,
                                                std::string_view subresource,
                                                const boost::json::value& object,
                                                const WriteOptions& options = {}) const;
  // Binds pod `ns`/`pod` to `node` (POST pods/<pod>/binding, what the scheduler does).
  // Aborted/AlreadyExists when the pod is already bound; NotFound.
  Status bind(std::string_view ns, std::string_view pod, std::string_view node,
              const WriteOptions& options = {}) const;

  // GET ?watch=true. Returns once the server answered with the stream. OutOfRange when the
  // resourceVersion is already too old (servers may also send that as the first event).
  Result<std::unique_ptr<WatchStream>> watch(const Resource& resource, std::string_view ns,
                                             const WatchOptions& options = {}) const;

  // The transport, for requests this class does not model (logs, discovery).
  Transport& transport() const { return *transport_; }

 private:
  Result<boost::json::value> send_json(HttpRequest request) const;
  // PUT or POST of `object` to .../<subresource>.
  Result<boost::json::value> write_subresource(std::string method, const Resource& resource,
                                               std::string_view ns, std::string_view name,
                                               std::string_view subresource,
                                               const boost::json::value& object,
                                               const WriteOptions& options) const;

  // Const after construction.
  const std::shared_ptr<Transport> transport_;
};

}  // namespace orch::client
