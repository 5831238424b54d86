// FakeApiServer: a small in-memory apiserver::Handler for the client tests. It serves any
// resource path (/api/v1/..., /apis/<group>/<version>/...), with Kubernetes-shaped answers:
// create/get/list (limit + continue)/update (resourceVersion checked)/merge patch/delete
// (preconditions), status and binding subresources, and watch (replay after a resourceVersion,
// synthetic ADDED for "" / "0", ERROR 410 for a compacted version, bookmarks on request).
// Equality-only label selectors ("a=b,c=d") and field selectors on metadata.name,
// metadata.namespace and spec.nodeName.
//
// Test controls: compact() (older versions answer 410), expire_watches() (an ERROR 410 event on
// every open watch), end_watches() (the server ends every open watch), send_bookmarks(),
// fail_next() (the next N requests answer an error), requests() (what was received).
//
// Thread-safety: every method from any thread. Lock order: FakeApiServer::mu_, then a stream's
// own mutex.
#pragma once

#include <boost/json.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "orch/apiserver/handler.hpp"

namespace orch::client::testing {

// A ResponseStream fed by the test or the fake server.
class FakeStream final : public apiserver::ResponseStream {
 public:
  std::optional<std::vector<std::string>> poll(std::chrono::milliseconds timeout) override;
  void set_notify(std::function<void()> notify) override;
  void close() override;

  // Appends a chunk (ignored after end/close).
  void push(std::string chunk);
  // Ends the stream after the chunks already pushed.
  void end();
  bool closed() const;

 private:
  mutable std::mutex mu_;  // lock order: after FakeApiServer::mu_
  std::condition_variable cv_;
  std::deque<std::string> chunks_;
  bool ended_ = false;
  bool closed_ = false;
  std::function<void()> notify_;
};

class FakeApiServer final : public apiserver::Handler {
 public:
  apiserver::Response handle(const apiserver::Request& request) override;

  // Test controls.
  // History before `rv` is gone: watches from an older resourceVersion and older continue
  // tokens get 410.
  void compact(std::int64_t rv);
  // Compacts up to now and sends ERROR 410 to every open watch, then ends them.
  void expire_watches();
  // Ends every open watch cleanly (as a server-side timeout does).
  void end_watches();
  // Sends a BOOKMARK with the current resourceVersion to watches that asked for bookmarks.
  void send_bookmarks();
  // While held, writes are recorded in the history but not sent to open watches (a watcher that
  // misses changes, to be found by a relist).
  void hold_events(bool hold);
  // The next `count` requests are answered with `http_status` and `reason`.
  void fail_next(int count, int http_status, std::string reason);
  // Requests received so far.
  std::vector<apiserver::Request> requests() const;
  std::size_t open_watches() const;
  std::int64_t resource_version() const;

 private:
  struct Event {
    std::int64_t rv;
    std::string type;
    std::string collection;
    std::string ns;
    boost::json::value object;
  };
  struct Watch {
    std::string collection;
    std::string ns;
    std::string label_selector;
    std::string field_selector;
    bool bookmarks = false;
    std::string kind;
    std::shared_ptr<FakeStream> stream;
  };
  struct Target;  // a parsed path

  apiserver::Response dispatch(const apiserver::Request& request, const Target& t);
  apiserver::Response list_or_watch(const apiserver::Request& request, const Target& t);
  void record_locked(const std::string& type, const Target& t, const boost::json::value& obj);
  bool matches(const boost::json::value& obj, const std::string& labels,
               const std::string& fields) const;

  mutable std::mutex mu_;
  std::vector<apiserver::Request> requests_;
  std::int64_t rv_ = 100;
  std::int64_t compacted_ = 0;
  int uid_counter_ = 0;
  // collection -> "ns/name" -> object
  std::map<std::string, std::map<std::string, boost::json::value>> store_;
  std::vector<Event> events_;
  std::vector<Watch> watches_;
  bool hold_ = false;
  int fail_count_ = 0;
  int fail_status_ = 500;
  std::string fail_reason_;
};

}  // namespace orch::client::testing
