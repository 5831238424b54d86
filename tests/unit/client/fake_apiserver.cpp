// FakeApiServer. Thread-safety: one mutex over all state; streams have their own.
#include "fake_apiserver.hpp"

#include <algorithm>

#include "orch/apiserver/status_body.hpp"

namespace orch::client::testing {

namespace json = boost::json;
using apiserver::Request;
using apiserver::Response;

// --- FakeStream ----------------------------------------------------------------------------

std::optional<std::vector<std::string>> FakeStream::poll(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !chunks_.empty() || ended_ || closed_; });
  if (closed_) return std::nullopt;
  if (!chunks_.empty()) {
    std::vector<std::string> out(std::make_move_iterator(chunks_.begin()),
                                 std::make_move_iterator(chunks_.end()));
    chunks_.clear();
    return out;
  }
  if (ended_) return std::nullopt;
  return std::vector<std::string>{};
}

void FakeStream::set_notify(std::function<void()> notify) {
  std::lock_guard lock(mu_);
  notify_ = std::move(notify);
}

void FakeStream::close() {
  std::function<void()> n;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    n = notify_;
  }
  cv_.notify_all();
  if (n) n();
}

void FakeStream::push(std::string chunk) {
  std::function<void()> n;
  {
    std::lock_guard lock(mu_);
    if (ended_ || closed_) return;
    chunks_.push_back(std::move(chunk));
    n = notify_;
  }
  cv_.notify_all();
  if (n) n();
}

void FakeStream::end() {
  std::function<void()> n;
  {
    std::lock_guard lock(mu_);
    ended_ = true;
    n = notify_;
  }
  cv_.notify_all();
  if (n) n();
}

bool FakeStream::closed() const {
  std::lock_guard lock(mu_);
  return closed_ || ended_;
}

// --- helpers -------------------------------------------------------------------------------

namespace {

Response json_response(int status, const json::value& v) {
  Response r;
  r.status = status;
  r.body = json::serialize(v);
  return r;
}

Response error(Code code, std::string message) {
  return apiserver::status_response(Status(code, std::move(message)));
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (true) {
    auto p = s.find(sep);
    out.emplace_back(s.substr(0, p));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

std::string meta(const json::value& obj, std::string_view field) {
  const auto* o = obj.if_object();
  if (!o) return {};
  const auto* m = o->if_contains("metadata");
  if (!m || !m->is_object()) return {};
  const auto* v = m->get_object().if_contains(field);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

json::object& metadata(json::value& obj) {
  auto& o = obj.as_object();
  if (!o.contains("metadata") || !o["metadata"].is_object()) o["metadata"] = json::object();
  return o["metadata"].as_object();
}

// RFC 7386 merge patch.
void merge_patch(json::value& target, const json::value& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = json::object();
  auto& t = target.as_object();
  for (const auto& [k, v] : patch.as_object()) {
    if (v.is_null()) {
      t.erase(k);
    } else {
      merge_patch(t[k], v);
    }
  }
}

bool param_true(const Request& r, std::string_view name) {
  auto p = r.param(name);
  return p && (*p == "true" || *p == "True" || *p == "1");
}

}  // namespace

struct FakeApiServer::Target {
  std::string collection;  // "group/version/plural"
  std::string plural;
  std::string ns;
  std::string name;
  std::string subresource;
  std::string kind() const {
    std::string k = plural;
    if (!k.empty()) k[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(k[0])));
    if (k.size() > 1 && k.back() == 's') k.pop_back();
    return k;
  }
  std::string key(const std::string& n) const { return ns.empty() ? n : ns + "/" + n; }
};

// --- FakeApiServer -------------------------------------------------------------------------

Response FakeApiServer::handle(const Request& request) {
  {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    if (fail_count_ > 0) {
      --fail_count_;
      Response r;
      r.status = fail_status_;
      json::object s{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object{}},
                     {"status", "Failure"}, {"message", "injected failure"},
                     {"reason", fail_reason_}, {"code", fail_status_}};
      r.body = json::serialize(s);
      return r;
    }
  }
  auto seg = split(request.path, '/');
  if (seg.empty() || !seg[0].empty()) return error(Code::kNotFound, "bad path");
  seg.erase(seg.begin());
  Target t;
  std::size_t i = 0;
  std::string group, version;
  if (seg.size() >= 2 && seg[0] == "api") {
    version = seg[1];
    i = 2;
  } else if (seg.size() >= 3 && seg[0] == "apis") {
    group = seg[1];
    version = seg[2];
    i = 3;
  } else {
    return error(Code::kNotFound, "the server could not find the requested resource");
  }
  if (seg.size() >= i + 3 && seg[i] == "namespaces") {
    t.ns = seg[i + 1];
    i += 2;
  }
  if (seg.size() <= i) return error(Code::kNotFound, "no resource");
  t.plural = seg[i];
  t.collection = group + "/" + version + "/" + t.plural;
  if (seg.size() > i + 1) t.name = seg[i + 1];
  if (seg.size() > i + 2) t.subresource = seg[i + 2];
  if (seg.size() > i + 3) return error(Code::kNotFound, "path too long");
  try {
    return dispatch(request, t);
  } catch (const std::exception& e) {
    return error(Code::kBadRequest, std::string("fake server: ") + e.what());
  }
}

void FakeApiServer::record_locked(const std::string& type, const Target& t, const json::value& obj) {
  events_.push_back(Event{rv_, type, t.collection, t.ns, obj});
  std::erase_if(watches_, [](const Watch& w) { return w.stream->closed(); });
  if (hold_) return;
  std::string line =
      json::serialize(json::object{{"type", type}, {"object", obj}}) + "\n";
  for (auto& w : watches_) {
    if (w.collection != t.collection) continue;
    if (!w.ns.empty() && w.ns != t.ns) continue;
    if (!matches(obj, w.label_selector, w.field_selector)) continue;
    w.stream->push(line);
  }
}

bool FakeApiServer::matches(const json::value& obj, const std::string& labels,
                            const std::string& fields) const {
  if (!labels.empty()) {
    for (const auto& req : split(labels, ',')) {
      auto eq = req.find('=');
      if (eq == std::string::npos) continue;
      std::string k = req.substr(0, eq), v = req.substr(eq + 1);
      const json::value* l = nullptr;
      if (auto* o = obj.if_object()) {
        if (auto* m = o->if_contains("metadata"); m && m->is_object()) {
          if (auto* ls = m->get_object().if_contains("labels"); ls && ls->is_object()) {
            l = ls->get_object().if_contains(k);
          }
        }
      }
      if (!l || !l->is_string() || l->get_string() != v) return false;
    }
  }
  if (!fields.empty()) {
    for (const auto& req : split(fields, ',')) {
      auto eq = req.find('=');
      if (eq == std::string::npos) continue;
      std::string k = req.substr(0, eq), v = req.substr(eq + 1);
      std::string actual;
      if (k == "metadata.name") {
        actual = meta(obj, "name");
      } else if (k == "metadata.namespace") {
        actual = meta(obj, "namespace");
      } else if (k == "spec.nodeName") {
        const auto* spec = obj.as_object().if_contains("spec");
        if (spec && spec->is_object()) {
          if (auto* n = spec->get_object().if_contains("nodeName"); n && n->is_string()) {
            actual = std::string(n->get_string());
          }
        }
      }
      if (actual != v) return false;
    }
  }
  return true;
}

Response FakeApiServer::list_or_watch(const Request& request, const Target& t) {
  std::string labels(request.param("labelSelector").value_or(""));
  std::string fields(request.param("fieldSelector").value_or(""));
  std::string rv_param(request.param("resourceVersion").value_or(""));
  auto& coll = store_[t.collection];
  auto in_scope = [&](const json::value& obj) {
    return (t.ns.empty() || meta(obj, "namespace") == t.ns) && matches(obj, labels, fields);
  };
  if (param_true(request, "watch")) {
    auto stream = std::make_shared<FakeStream>();
    Watch w{t.collection, t.ns, labels, fields, param_true(request, "allowWatchBookmarks"),
            t.kind(), stream};
    if (rv_param.empty() || rv_param == "0") {
      for (const auto& [key, obj] : coll) {
        if (in_scope(obj)) {
          stream->push(json::serialize(json::object{{"type", "ADDED"}, {"object", obj}}) + "\n");
        }
      }
    } else {
      std::int64_t from = std::stoll(rv_param);
      if (from < compacted_) {
        json::object s{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object{}},
                       {"status", "Failure"},
                       {"message", "too old resource version: " + rv_param + " (" +
                                       std::to_string(compacted_) + ")"},
                       {"reason", "Expired"}, {"code", 410}};
        stream->push(json::serialize(json::object{{"type", "ERROR"}, {"object", s}}) + "\n");
        stream->end();
        Response r;
        r.stream = stream;
        return r;
      }
      for (const auto& e : events_) {
        if (e.rv <= from || e.collection != t.collection) continue;
        if (!t.ns.empty() && e.ns != t.ns) continue;
        if (!matches(e.object, labels, fields)) continue;
        stream->push(json::serialize(json::object{{"type", e.type}, {"object", e.object}}) + "\n");
      }
    }
    watches_.push_back(std::move(w));
    Response r;
    r.stream = stream;
    return r;
  }
  // List.
  std::int64_t limit = 0;
  if (auto l = request.param("limit")) limit = std::stoll(std::string(*l));
  std::string after;
  if (auto c = request.param("continue"); c && !c->empty()) {
    auto parts = split(*c, '|');
    if (parts.size() != 2) return error(Code::kBadRequest, "bad continue token");
    if (std::stoll(parts[1]) < compacted_) {
      return error(Code::kOutOfRange, "The provided continue parameter is too old");
    }
    after = parts[0];
  }
  json::array items;
  std::string next;
  for (auto it = after.empty() ? coll.begin() : coll.upper_bound(after); it != coll.end(); ++it) {
    if (!in_scope(it->second)) continue;
    if (limit > 0 && static_cast<std::int64_t>(items.size()) == limit) {
      next = std::prev(it)->first + "|" + std::to_string(rv_);
      break;
    }
    items.push_back(it->second);
  }
  json::object md{{"resourceVersion", std::to_string(rv_)}};
  if (!next.empty()) md["continue"] = next;
  return json_response(200, json::object{{"kind", t.kind() + "List"}, {"apiVersion", "v1"},
                                         {"metadata", md}, {"items", std::move(items)}});
}

Response FakeApiServer::dispatch(const Request& request, const Target& t) {
  std::lock_guard lock(mu_);
  auto& coll = store_[t.collection];
  const std::string& m = request.method;
  auto parse_body = [&](json::value& out) -> bool {
    boost::system::error_code ec;
    out = json::parse(request.body, ec);
    return !ec && out.is_object();
  };
  if (t.name.empty()) {
    if (m == "GET") return list_or_watch(request, t);
    if (m == "POST") {
      json::value obj;
      if (!parse_body(obj)) return error(Code::kBadRequest, "body is not a JSON object");
      std::string name = meta(obj, "name");
      if (name.empty()) {
        return apiserver::status_response(invalid_argument(
            t.plural + " \"\" is invalid", {{"FieldValueRequired", "Required value", "metadata.name"}}));
      }
      if (coll.contains(t.key(name))) {
        return error(Code::kAlreadyExists, t.plural + " \"" + name + "\" already exists");
      }
      if (request.param("dryRun")) return json_response(201, obj);
      ++rv_;
      auto& md = metadata(obj);
      if (!t.ns.empty()) md["namespace"] = t.ns;
      md["uid"] = "uid-" + std::to_string(++uid_counter_);
      md["resourceVersion"] = std::to_string(rv_);
      coll[t.key(name)] = obj;
      record_locked("ADDED", t, obj);
      return json_response(201, obj);
    }
    if (m == "DELETE") {
      std::string labels(request.param("labelSelector").value_or(""));
      json::array deleted;
      for (auto it = coll.begin(); it != coll.end();) {
        if ((t.ns.empty() || meta(it->second, "namespace") == t.ns) &&
            matches(it->second, labels, "")) {
          ++rv_;
          json::value obj = std::move(it->second);
          metadata(obj)["resourceVersion"] = std::to_string(rv_);
          record_locked("DELETED", t, obj);
          deleted.push_back(std::move(obj));
          it = coll.erase(it);
        } else {
          ++it;
        }
      }
      return json_response(200, json::object{{"kind", t.kind() + "List"}, {"apiVersion", "v1"},
                                             {"metadata", json::object{}},
                                             {"items", std::move(deleted)}});
    }
    return error(Code::kBadRequest, "method not allowed");
  }
  auto it = coll.find(t.key(t.name));
  if (it == coll.end()) {
    return error(Code::kNotFound, t.plural + " \"" + t.name + "\" not found");
  }
  json::value& cur = it->second;
  if (t.subresource == "binding") {
    if (m != "POST") return error(Code::kBadRequest, "binding needs POST");
    json::value b;
    if (!parse_body(b)) return error(Code::kBadRequest, "bad binding");
    auto& spec = cur.as_object()["spec"];
    if (!spec.is_object()) spec = json::object();
    if (auto* n = spec.as_object().if_contains("nodeName"); n && n->is_string() && !n->get_string().empty()) {
      return error(Code::kAborted, "pod " + t.name + " is already assigned to node " +
                                       std::string(n->get_string()));
    }
    spec.as_object()["nodeName"] = b.at("target").at("name");
    ++rv_;
    metadata(cur)["resourceVersion"] = std::to_string(rv_);
    record_locked("MODIFIED", t, cur);
    Response r;
    r.status = 201;
    r.body = apiserver::success_body();
    return r;
  }
  if (!t.subresource.empty() && t.subresource != "status") {
    return error(Code::kNotFound, "no subresource " + t.subresource);
  }
  if (m == "GET") return json_response(200, cur);
  if (m == "PUT") {
    json::value obj;
    if (!parse_body(obj)) return error(Code::kBadRequest, "body is not a JSON object");
    std::string want = meta(obj, "resourceVersion");
    if (!want.empty() && want != meta(cur, "resourceVersion")) {
      return error(Code::kAborted, "Operation cannot be fulfilled on " + t.plural + " \"" +
                                       t.name + "\": the object has been modified; please apply "
                                       "your changes to the latest version and try again");
    }
    if (request.param("dryRun")) return json_response(200, obj);
    json::value next = cur;
    if (t.subresource == "status") {
      if (auto* st = obj.as_object().if_contains("status")) next.as_object()["status"] = *st;
    } else {
      next = obj;
      if (auto* st = cur.as_object().if_contains("status")) next.as_object()["status"] = *st;
      metadata(next)["uid"] = meta(cur, "uid");
      if (!t.ns.empty()) metadata(next)["namespace"] = t.ns;
    }
    ++rv_;
    metadata(next)["resourceVersion"] = std::to_string(rv_);
    cur = next;
    record_locked("MODIFIED", t, cur);
    return json_response(200, cur);
  }
  if (m == "PATCH") {
    auto ct = request.header("content-type");
    if (ct != "application/merge-patch+json" && ct != "application/strategic-merge-patch+json") {
      return error(Code::kBadRequest, "unsupported patch type " + std::string(ct));
    }
    json::value p;
    if (!parse_body(p)) return error(Code::kBadRequest, "bad patch");
    json::value next = cur;
    merge_patch(next, p);
    ++rv_;
    metadata(next)["resourceVersion"] = std::to_string(rv_);
    cur = next;
    record_locked("MODIFIED", t, cur);
    return json_response(200, cur);
  }
  if (m == "DELETE") {
    if (!request.body.empty()) {
      json::value opts;
      if (!parse_body(opts)) return error(Code::kBadRequest, "bad DeleteOptions");
      if (auto* pre = opts.as_object().if_contains("preconditions"); pre && pre->is_object()) {
        auto* prv = pre->as_object().if_contains("resourceVersion");
        if (prv && prv->is_string() && prv->get_string() != meta(cur, "resourceVersion")) {
          return error(Code::kAborted, "Precondition failed: ResourceVersion mismatch");
        }
        auto* puid = pre->as_object().if_contains("uid");
        if (puid && puid->is_string() && puid->get_string() != meta(cur, "uid")) {
          return error(Code::kAborted, "Precondition failed: UID mismatch");
        }
      }
    }
    if (request.param("dryRun")) return json_response(200, cur);
    ++rv_;
    json::value obj = std::move(cur);
    coll.erase(it);
    metadata(obj)["resourceVersion"] = std::to_string(rv_);
    record_locked("DELETED", t, obj);
    return json_response(200, obj);
  }
  return error(Code::kBadRequest, "method not allowed");
}

void FakeApiServer::compact(std::int64_t rv) {
  std::lock_guard lock(mu_);
  compacted_ = std::max(compacted_, rv);
  std::erase_if(events_, [&](const Event& e) { return e.rv <= compacted_; });
}

void FakeApiServer::expire_watches() {
  std::lock_guard lock(mu_);
  compacted_ = rv_;
  events_.clear();
  json::object s{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object{}},
                 {"status", "Failure"}, {"message", "too old resource version"},
                 {"reason", "Expired"}, {"code", 410}};
  std::string line = json::serialize(json::object{{"type", "ERROR"}, {"object", s}}) + "\n";
  for (auto& w : watches_) {
    w.stream->push(line);
    w.stream->end();
  }
  watches_.clear();
}

void FakeApiServer::end_watches() {
  std::lock_guard lock(mu_);
  for (auto& w : watches_) w.stream->end();
  watches_.clear();
}

void FakeApiServer::send_bookmarks() {
  std::lock_guard lock(mu_);
  for (auto& w : watches_) {
    if (!w.bookmarks) continue;
    json::object obj{{"kind", w.kind},
                     {"apiVersion", "v1"},
                     {"metadata", json::object{{"resourceVersion", std::to_string(rv_)}}}};
    w.stream->push(json::serialize(json::object{{"type", "BOOKMARK"}, {"object", obj}}) + "\n");
  }
}

void FakeApiServer::hold_events(bool hold) {
  std::lock_guard lock(mu_);
  hold_ = hold;
}

void FakeApiServer::fail_next(int count, int http_status, std::string reason) {
  std::lock_guard lock(mu_);
  fail_count_ = count;
  fail_status_ = http_status;
  fail_reason_ = std::move(reason);
}

std::vector<Request> FakeApiServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::size_t FakeApiServer::open_watches() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& w : watches_) n += w.stream->closed() ? 0 : 1;
  return n;
}

std::int64_t FakeApiServer::resource_version() const {
  std::lock_guard lock(mu_);
  return rv_;
}

}  // namespace orch::client::testing
