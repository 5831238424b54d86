// pods/log and pods/portforward proxied to the pod's node server (see pod_proxy.hpp).
//
// Shape: the handler (any thread) validates and finds the node, then returns a takeover; the
// takeover runs on the HTTP listener's network thread as coroutines. Port-forward is one SPDY
// session per client connection: a read loop (frames in), a write loop (frames out, one queue),
// and one coroutine per forwarded connection (requestID) that dials the node and pumps both
// ways. Everything of a session lives on that one thread, so none of it is locked.
#include "pod_proxy.hpp"

#include <array>
#include <charconv>
#include <deque>
#include <map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <fmt/format.h>

#include "http/spdy.hpp"
#include "http/takeover.hpp"
#include "orch/apiserver/status_body.hpp"
#include "orch/pki/tls.hpp"

namespace orch::apiserver {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = net::ip::tcp;
using namespace net::experimental::awaitable_operators;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

constexpr std::chrono::seconds kDialTimeout{10};
constexpr std::chrono::seconds kHeaderTimeout{30};
constexpr std::chrono::seconds kWriteTimeout{60};
constexpr std::chrono::hours kIdleTimeout{4};  // the kubelet's streaming-connection-idle-timeout
constexpr std::size_t kMaxErrorBody = 64 * 1024;
// A session stops reading the client while this much is queued for it or for one node socket.
constexpr std::size_t kMaxQueued = 4u << 20;
constexpr std::string_view kTunnelProtocol = "SPDY/3.1+portforward.k8s.io";
constexpr std::string_view kPortForwardProtocol = "portforward.k8s.io";

struct NodeTarget {
  std::string host;
  std::uint16_t port = 0;
  std::string token;
  std::string ca_pem;  // not empty: the node server speaks HTTPS with a certificate it signed
};

const json::object* obj(const json::value& v, std::string_view key) {
  if (!v.is_object()) return nullptr;
  auto* p = v.get_object().if_contains(key);
  return p && p->is_object() ? &p->get_object() : nullptr;
}

std::string str(const json::object* o, std::string_view key) {
  if (!o) return {};
  auto* p = o->if_contains(key);
  return p && p->is_string() ? std::string(p->get_string()) : std::string();
}

StatusDetails pod_details(const std::string& name) { return StatusDetails{name, "", "pods"}; }

Result<NodeTarget> node_target(const json::value& pod, const NodeLookup& nodes,
                               const std::string& token, const std::string& ca_pem) {
  const json::object* meta = obj(pod, "metadata");
  const json::object* spec = obj(pod, "spec");
  std::string name = str(meta, "name");
  std::string node_name = str(spec, "nodeName");
  if (node_name.empty()) return bad_request("pod " + name + " does not have a host assigned");
  ORCH_ASSIGN_OR_RETURN(json::value node, nodes(node_name));
  NodeTarget t;
  t.token = token;
  t.ca_pem = ca_pem;
  const json::object* status = obj(node, "status");
  if (status) {
    if (auto* addrs = status->if_contains("addresses"); addrs && addrs->is_array()) {
      for (const auto& a : addrs->get_array()) {
        if (!a.is_object()) continue;
        std::string type = str(&a.get_object(), "type");
        std::string address = str(&a.get_object(), "address");
        if (address.empty()) continue;
        if (type == "InternalIP") {
          t.host = address;
          break;
        }
        if (t.host.empty()) t.host = address;
      }
    }
    if (auto* d = status->if_contains("daemonEndpoints"); d && d->is_object()) {
      if (auto* k = d->get_object().if_contains("kubeletEndpoint"); k && k->is_object()) {
        if (auto* p = k->get_object().if_contains("Port"); p && p->is_int64()) {
          auto v = p->get_int64();
          if (v > 0 && v < 65536) t.port = static_cast<std::uint16_t>(v);
        }
      }
    }
  }
  if (t.host.empty()) return unavailable("node " + node_name + " reports no address (status.addresses)");
  if (t.port == 0) {
    return unavailable("node " + node_name +
                       " reports no agent port (status.daemonEndpoints.kubeletEndpoint.Port)");
  }
  return t;
}

std::vector<std::string> container_names(const json::value& pod, const char* field) {
  std::vector<std::string> out;
  const json::object* spec = obj(pod, "spec");
  if (!spec) return out;
  auto* cs = spec->if_contains(field);
  if (!cs || !cs->is_array()) return out;
  for (const auto& c : cs->get_array()) {
    if (c.is_object()) out.push_back(str(&c.get_object(), "name"));
  }
  return out;
}

std::string pct(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

// ---------------------------------------------------------------- talking to the node

// Writes all of `data`, giving up after kWriteTimeout.
template <typename Buffers>
net::awaitable<boost::system::error_code> write_all(tcp::socket& s, const Buffers& data) {
  net::steady_timer timer(s.get_executor());
  timer.expires_after(kWriteTimeout);
  auto r = co_await (net::async_write(s, data, kTuple) || timer.async_wait(kTuple));
  if (r.index() == 1) {
    boost::system::error_code ignored;
    s.close(ignored);
    co_return net::error::timed_out;
  }
  co_return std::get<0>(std::get<0>(r));
}

// Connects `socket` to the node and sends one GET; the caller reads the answer. Closing the
// socket from outside ends the dial at once.
net::awaitable<Status> dial_node(std::shared_ptr<tcp::socket> socket, NodeTarget target,
                                 std::string path, bool upgrade) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer timer(ex);
  timer.expires_after(kDialTimeout);
  boost::system::error_code ec;
  auto addr = net::ip::make_address(target.host, ec);
  if (ec) {
    tcp::resolver resolver(ex);
    auto r = co_await (resolver.async_resolve(target.host, std::to_string(target.port), kTuple) ||
                       timer.async_wait(kTuple));
    if (r.index() == 1) co_return unavailable("resolving node " + target.host + " timed out");
    auto [rec, results] = std::get<0>(r);
    if (rec || results.empty()) {
      co_return unavailable("cannot resolve node address " + target.host + ": " + rec.message());
    }
    addr = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, target.port);
  auto c = co_await (socket->async_connect(ep, kTuple) || timer.async_wait(kTuple));
  if (c.index() == 1) ec = net::error::timed_out;
  else ec = std::get<0>(std::get<0>(c));
  if (ec) {
    co_return unavailable(fmt::format("error dialing node {}:{}: {}", target.host, target.port,
                                      ec.message()));
  }
  boost::system::error_code ignored;
  socket->set_option(tcp::no_delay(true), ignored);
  if (!target.ca_pem.empty()) {
    // HTTPS to the node, verified against the cluster CA and the node's address; the rest of the
    // exchange talks to a plaintext bridge that takes the socket's place.
    auto ctx = pki::make_client_context(target.ca_pem);
    if (!ctx.ok()) co_return ctx.status();
    auto tls = co_await pki::connect_tls(std::move(*socket), **ctx, target.host, kDialTimeout);
    if (!tls.ok()) co_return unavailable("error dialing node " + target.host + ": " + tls.status().message());
    auto plain = pki::bridge(std::move(*tls), *ctx);
    if (!plain.ok()) co_return plain.status();
    *socket = std::move(*plain);
  }
  std::string req = fmt::format("GET {} HTTP/1.1\r\nHost: {}:{}\r\nAuthorization: Bearer {}\r\n",
                                path, target.host, target.port, target.token);
  req += upgrade ? "Connection: Upgrade\r\nUpgrade: orch-portforward\r\n\r\n"
                 : "Connection: close\r\n\r\n";
  auto wec = co_await write_all(*socket, net::buffer(req));
  if (wec) co_return unavailable("error writing to node " + target.host + ": " + wec.message());
  co_return Status();
}

// The node's error answer as a Status for the client.
Status node_error(int http, std::string body) {
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  if (body.empty()) body = "the node answered HTTP " + std::to_string(http);
  switch (http) {
    case 400:
      return bad_request(body);
    case 404:
      return not_found(body);
    case 401:
    case 403:
      return internal_error("the node rejected the API server's credentials (node_token): " + body);
    default:
      return internal_error(body);
  }
}

// Reads the node's response header (and, for an error, its body). Returns the HTTP status.
template <typename Parser>
net::awaitable<Result<int>> read_node_header(tcp::socket& s, beast::flat_buffer& buf, Parser& p,
                                             std::string* error_body) {
  net::steady_timer timer(s.get_executor());
  timer.expires_after(kHeaderTimeout);
  auto r = co_await (http::async_read_header(s, buf, p, kTuple) || timer.async_wait(kTuple));
  if (r.index() == 1) co_return unavailable("the node did not answer in time");
  auto [ec, n] = std::get<0>(r);
  if (ec) co_return unavailable("error reading the node's answer: " + ec.message());
  int status = p.get().result_int();
  if (status != 200 && status != 101 && error_body) {
    http::response_parser<http::string_body> body_parser(std::move(p));
    body_parser.body_limit(kMaxErrorBody);
    timer.expires_after(kHeaderTimeout);
    auto b = co_await (http::async_read(s, buf, body_parser, kTuple) || timer.async_wait(kTuple));
    (void)b;
    *error_body = body_parser.get().body();
  }
  co_return status;
}

// Writes a whole (error) response to the client.
net::awaitable<void> write_response(beast::tcp_stream& stream, const Request& req, Response r) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
  res.set(http::field::content_type, r.content_type);
  res.set(http::field::cache_control, "no-cache, private");
  res.body() = std::move(r.body);
  res.keep_alive(false);
  res.prepare_payload();
  (void)req;
  stream.expires_after(kWriteTimeout);
  co_await http::async_write(stream, res, kTuple);
  stream.expires_never();
}

// ---------------------------------------------------------------- logs

class LogProxy final : public ConnectionTakeover {
 public:
  LogProxy(NodeTarget target, std::string path, std::string pod)
      : target_(std::move(target)), path_(std::move(path)), pod_(std::move(pod)) {}

  net::awaitable<void> run(beast::tcp_stream& stream, beast::flat_buffer&,
                           const Request& req) override {
    stream.expires_never();
    auto node = std::make_shared<tcp::socket>(stream.get_executor());
    auto dialed = co_await dial_node(node, target_, path_, false);
    if (!dialed.ok()) {
      co_await write_response(stream, req, status_response(dialed, pod_details(pod_)));
      co_return;
    }
    tcp::socket& ns = *node;
    beast::flat_buffer nbuf;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    std::string error_body;
    auto status = co_await read_node_header(ns, nbuf, parser, &error_body);
    if (!status.ok()) {
      co_await write_response(stream, req, status_response(status.status(), pod_details(pod_)));
      co_return;
    }
    if (*status != 200) {
      co_await write_response(stream, req, status_response(node_error(*status, error_body),
                                                           pod_details(pod_)));
      co_return;
    }
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain");
    res.set(http::field::cache_control, "no-cache, private");
    res.chunked(true);
    res.keep_alive(false);
    http::response_serializer<http::empty_body> sr{res};
    stream.expires_after(kWriteTimeout);
    auto [hec, hn] = co_await http::async_write_header(stream, sr, kTuple);
    stream.expires_never();
    if (hec) co_return;
    // Copy the body until it ends, or the client leaves (a followed log may never end).
    auto done = co_await (copy_body(ns, nbuf, parser, stream.socket()) ||
                          client_gone(stream.socket()));
    if (done.index() == 0 && std::get<0>(done)) {
      co_await write_all(stream.socket(), http::make_chunk_last());
    }
  }

 private:
  // True when the node's body ended cleanly.
  static net::awaitable<bool> copy_body(tcp::socket& ns, beast::flat_buffer& nbuf,
                                        http::response_parser<http::buffer_body>& parser,
                                        tcp::socket& client) {
    std::array<char, 32 * 1024> buf;
    while (!parser.is_done()) {
      parser.get().body().data = buf.data();
      parser.get().body().size = buf.size();
      auto [ec, n] = co_await http::async_read_some(ns, nbuf, parser, kTuple);
      if (ec && ec != http::error::need_buffer) co_return false;
      std::size_t got = buf.size() - parser.get().body().size;
      if (got > 0) {
        auto wec = co_await write_all(client, http::make_chunk(net::buffer(buf.data(), got)));
        if (wec) co_return false;
      }
    }
    co_return true;
  }

  static net::awaitable<void> client_gone(tcp::socket& client) {
    std::array<char, 256> scratch;
    for (;;) {
      auto [ec, n] = co_await client.async_read_some(net::buffer(scratch), kTuple);
      if (ec) co_return;
    }
  }

  NodeTarget target_;
  std::string path_;
  std::string pod_;
};

// ---------------------------------------------------------------- port-forward

// The client connection under the SPDY session: raw TCP, or binary WebSocket messages.
class ByteChannel {
 public:
  virtual ~ByteChannel() = default;
  virtual net::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(
      net::mutable_buffer b) = 0;
  virtual net::awaitable<boost::system::error_code> write(net::const_buffer b) = 0;
  virtual void close() = 0;
};

class RawChannel final : public ByteChannel {
 public:
  explicit RawChannel(tcp::socket& s) : s_(s) {}
  net::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(
      net::mutable_buffer b) override {
    net::steady_timer timer(s_.get_executor());
    timer.expires_after(kIdleTimeout);
    auto r = co_await (s_.async_read_some(b, kTuple) || timer.async_wait(kTuple));
    if (r.index() == 1) co_return std::pair{make_error_code(net::error::timed_out), std::size_t{0}};
    auto [ec, n] = std::get<0>(r);
    co_return std::pair{ec, n};
  }
  net::awaitable<boost::system::error_code> write(net::const_buffer b) override {
    co_return co_await write_all(s_, b);
  }
  void close() override {
    boost::system::error_code ignored;
    s_.close(ignored);
  }

 private:
  tcp::socket& s_;
};

class WebSocketChannel final : public ByteChannel {
 public:
  explicit WebSocketChannel(websocket::stream<beast::tcp_stream&>& ws) : ws_(ws) {}
  net::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(
      net::mutable_buffer b) override {
    auto [ec, n] = co_await ws_.async_read_some(b, kTuple);
    co_return std::pair{ec, n};
  }
  net::awaitable<boost::system::error_code> write(net::const_buffer b) override {
    auto [ec, n] = co_await ws_.async_write(b, kTuple);
    co_return ec;
  }
  void close() override {
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

 private:
  websocket::stream<beast::tcp_stream&>& ws_;
};

// Wait/notify on one thread: wait() returns after notify() (or at once when already notified).
struct Signal {
  explicit Signal(net::any_io_executor ex) : timer(ex) {}
  net::steady_timer timer;
  bool pending = false;
  void notify() {
    pending = true;
    timer.cancel();
  }
  net::awaitable<void> wait() {
    if (!pending) {
      timer.expires_at(std::chrono::steady_clock::time_point::max());
      co_await timer.async_wait(kTuple);
    }
    pending = false;
  }
};

// One forwarded connection: a requestID's error and data streams, and its node socket.
struct Forward {
  explicit Forward(net::any_io_executor ex) : to_node_signal(ex), to_node_drained(ex) {}
  std::string request_id;
  std::string port_text;
  std::uint32_t data_id = 0;
  std::uint32_t error_id = 0;
  bool started = false;
  bool data_fin_sent = false;
  bool error_fin_sent = false;
  std::shared_ptr<tcp::socket> node;
  std::deque<std::string> to_node;
  std::size_t to_node_bytes = 0;
  bool to_node_fin = false;  // the client half-closed its data stream
  bool aborted = false;      // RST or session end
  Signal to_node_signal;   // wakes the node writer: data, FIN or abort
  Signal to_node_drained;  // wakes a read loop paused for backpressure
  void close_node() {
    if (node) {
      boost::system::error_code ignored;
      node->close(ignored);
    }
  }
};

class SpdySession {
 public:
  SpdySession(ByteChannel& channel, net::any_io_executor ex, NodeTarget target, std::string ns,
              std::string pod, std::string initial)
      : channel_(channel),
        ex_(ex),
        target_(std::move(target)),
        ns_(std::move(ns)),
        pod_(std::move(pod)),
        rbuf_(std::move(initial)),
        out_signal_(ex),
        drained_(ex),
        forwards_done_(ex) {}

  net::awaitable<void> run() {
    co_await (read_loop() || write_loop());
    closing_ = true;
    channel_.close();
    for (auto& [id, f] : forwards_) {
      f->aborted = true;
      f->close_node();
      f->to_node_signal.notify();
      f->to_node_drained.notify();
    }
    drained_.notify();
    while (active_ > 0) co_await forwards_done_.wait();
  }

 private:
  // ------------------------------------------------ frames out
  void send(std::string frame) {
    if (closing_) return;
    out_bytes_ += frame.size();
    out_.push_back(std::move(frame));
    out_signal_.notify();
  }

  void send_data(std::uint32_t id, std::string_view data, bool fin) {
    send(spdy::data_frame(id, fin ? spdy::kFlagFin : 0, data));
  }

  net::awaitable<void> write_loop() {
    for (;;) {
      while (out_.empty() && !closing_) co_await out_signal_.wait();
      if (out_.empty()) co_return;
      std::string batch;
      while (!out_.empty() && batch.size() < 256 * 1024) {
        batch += out_.front();
        out_.pop_front();
      }
      out_bytes_ -= batch.size();
      drained_.notify();
      auto ec = co_await channel_.write(net::buffer(batch));
      if (ec) co_return;
    }
  }

  // ------------------------------------------------ frames in
  // Makes rbuf_ hold at least `n` bytes.
  net::awaitable<bool> fill(std::size_t n) {
    std::array<char, 32 * 1024> buf;
    while (rbuf_.size() < n) {
      auto [ec, got] = co_await channel_.read_some(net::buffer(buf));
      if (got > 0) rbuf_.append(buf.data(), got);
      if (ec) co_return rbuf_.size() >= n;
    }
    co_return true;
  }

  net::awaitable<void> read_loop() {
    for (;;) {
      if (!co_await fill(spdy::kFrameHeaderSize)) co_return;
      auto h = spdy::parse_frame_header(reinterpret_cast<const unsigned char*>(rbuf_.data()));
      if (h.length > spdy::kMaxPayload) co_return;
      if (!co_await fill(spdy::kFrameHeaderSize + h.length)) co_return;
      std::string payload = rbuf_.substr(spdy::kFrameHeaderSize, h.length);
      rbuf_.erase(0, spdy::kFrameHeaderSize + h.length);
      if (!h.control) {
        co_await on_data(h.stream_id, h.flags, std::move(payload));
        continue;
      }
      const auto* p = reinterpret_cast<const unsigned char*>(payload.data());
      switch (h.type) {
        case spdy::kSynStream: {
          if (payload.size() < 10) co_return;
          auto headers = codec_.decode(std::string_view(payload).substr(10));
          if (!headers.ok()) co_return;  // the shared zlib context is lost: end the session
          on_syn_stream(spdy::read_u32(p) & 0x7fffffff, h.flags, *headers);
          break;
        }
        case spdy::kSynReply:
        case spdy::kHeaders: {
          // Never expected from a client, but the zlib context must see every block.
          if (payload.size() < 4) co_return;
          if (!codec_.decode(std::string_view(payload).substr(4)).ok()) co_return;
          break;
        }
        case spdy::kRstStream: {
          if (payload.size() < 4) co_return;
          on_reset(spdy::read_u32(p) & 0x7fffffff);
          break;
        }
        case spdy::kPing:
          send(spdy::control_frame(spdy::kPing, 0, payload));
          break;
        case spdy::kGoAway:
          co_return;
        default:
          break;  // SETTINGS, WINDOW_UPDATE: flow control is not enforced (as Kubernetes)
      }
    }
  }

  static std::string header(const spdy::Headers& hs, std::string_view name) {
    for (const auto& [k, v] : hs) {
      if (k == name) return v;
    }
    return {};
  }

  void on_syn_stream(std::uint32_t id, std::uint8_t flags, const spdy::Headers& hs) {
    std::string payload;
    spdy::put_u32(payload, id);
    payload += codec_.encode({});
    send(spdy::control_frame(spdy::kSynReply, 0, payload));

    std::string type = header(hs, "streamtype");
    std::string request_id = header(hs, "requestid");
    std::string port = header(hs, "port");
    auto& f = forwards_[request_id];
    if (!f) {
      f = std::make_shared<Forward>(ex_);
      f->request_id = request_id;
    }
    if (!port.empty()) f->port_text = port;
    streams_[id] = f;
    if (type == "error") {
      f->error_id = id;
      (void)flags;
    } else if (type == "data") {
      f->data_id = id;
      if (flags & spdy::kFlagFin) f->to_node_fin = true;
      if (!f->started) {
        f->started = true;
        ++active_;
        net::co_spawn(ex_, forward(f), net::detached);
      }
    } else {
      // Unknown stream types are refused the way Kubernetes does: an error, then the end.
      send_data(id, "invalid stream type \"" + type + "\"", true);
    }
  }

  void on_reset(std::uint32_t id) {
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    auto f = it->second;
    streams_.erase(it);
    if (id == f->data_id) {
      f->aborted = true;
      f->close_node();
      f->to_node_signal.notify();
    }
  }

  net::awaitable<void> on_data(std::uint32_t id, std::uint8_t flags, std::string payload) {
    auto it = streams_.find(id);
    if (it == streams_.end()) co_return;
    auto f = it->second;
    if (id != f->data_id) co_return;  // the client sends nothing useful on the error stream
    if (!payload.empty()) {
      f->to_node_bytes += payload.size();
      f->to_node.push_back(std::move(payload));
    }
    if (flags & spdy::kFlagFin) f->to_node_fin = true;
    f->to_node_signal.notify();
    // Backpressure: a node socket that does not keep up pauses this session's reading.
    while (f->to_node_bytes > kMaxQueued && !f->aborted && !closing_) {
      co_await f->to_node_drained.wait();
    }
  }

  // ------------------------------------------------ one forwarded connection
  void finish_streams(Forward& f, const std::string& error) {
    if (!error.empty() && f.error_id != 0 && !f.error_fin_sent) {
      send_data(f.error_id, error, false);
    }
    if (f.data_id != 0 && !f.data_fin_sent) {
      f.data_fin_sent = true;
      send_data(f.data_id, "", true);
    }
    if (f.error_id != 0 && !f.error_fin_sent) {
      f.error_fin_sent = true;
      send_data(f.error_id, "", true);
    }
  }

  net::awaitable<void> forward(std::shared_ptr<Forward> f) {
    co_await forward_body(f);
    f->close_node();
    f->aborted = true;
    f->to_node_drained.notify();
    forwards_.erase(f->request_id);
    streams_.erase(f->data_id);
    streams_.erase(f->error_id);
    if (--active_ == 0) forwards_done_.notify();
  }

  net::awaitable<void> forward_body(std::shared_ptr<Forward> f) {
    std::uint16_t port = 0;
    {
      const std::string& v = f->port_text;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), port);
      if (v.empty() || ec != std::errc() || p != v.data() + v.size() || port == 0) {
        finish_streams(*f, "invalid port \"" + v + "\"");
        co_return;
      }
    }
    std::string path = fmt::format("/portForward/{}/{}?port={}", pct(ns_), pct(pod_), port);
    f->node = std::make_shared<tcp::socket>(ex_);
    auto dialed = co_await dial_node(f->node, target_, path, true);
    if (f->aborted || closing_) co_return;
    if (!dialed.ok()) {
      finish_streams(*f, dialed.message());
      co_return;
    }
    beast::flat_buffer nbuf;
    http::response_parser<http::empty_body> parser;
    std::string error_body;
    auto status = co_await read_node_header(*f->node, nbuf, parser, &error_body);
    if (!status.ok()) {
      finish_streams(*f, status.status().message());
      co_return;
    }
    if (*status != 101) {
      finish_streams(*f, node_error(*status, error_body).message());
      co_return;
    }
    if (nbuf.size() > 0) {
      send_data(f->data_id, std::string_view(static_cast<const char*>(nbuf.data().data()),
                                             nbuf.size()), false);
    }
    co_await (node_to_client(f) && client_to_node(f));
    finish_streams(*f, "");
  }

  net::awaitable<void> node_to_client(std::shared_ptr<Forward> f) {
    std::array<char, 32 * 1024> buf;
    for (;;) {
      auto [ec, n] = co_await f->node->async_read_some(net::buffer(buf), kTuple);
      if (n > 0 && !closing_) {
        send_data(f->data_id, std::string_view(buf.data(), n), false);
        while (out_bytes_ > kMaxQueued && !closing_) co_await drained_.wait();
      }
      if (ec || closing_) break;
    }
    // The pod closed (or the session ends): the client sees the end of the data stream.
    if (!f->data_fin_sent) {
      f->data_fin_sent = true;
      send_data(f->data_id, "", true);
    }
  }

  net::awaitable<void> client_to_node(std::shared_ptr<Forward> f) {
    for (;;) {
      while (f->to_node.empty() && !f->to_node_fin && !f->aborted && !closing_) {
        co_await f->to_node_signal.wait();
      }
      if (f->aborted || closing_) co_return;
      while (!f->to_node.empty()) {
        std::string chunk = std::move(f->to_node.front());
        f->to_node.pop_front();
        f->to_node_bytes -= chunk.size();
        auto ec = co_await write_all(*f->node, net::buffer(chunk));
        f->to_node_drained.notify();
        if (ec) {
          f->aborted = true;
          f->close_node();
          co_return;
        }
      }
      if (f->to_node_fin) {
        boost::system::error_code ignored;
        f->node->shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
      }
    }
  }

  ByteChannel& channel_;
  net::any_io_executor ex_;
  NodeTarget target_;
  std::string ns_;
  std::string pod_;
  std::string rbuf_;
  spdy::HeaderCodec codec_;

  std::deque<std::string> out_;
  std::size_t out_bytes_ = 0;
  Signal out_signal_;
  Signal drained_;
  bool closing_ = false;

  std::map<std::string, std::shared_ptr<Forward>> forwards_;  // by requestID
  std::map<std::uint32_t, std::shared_ptr<Forward>> streams_;  // by stream id
  int active_ = 0;
  Signal forwards_done_;
};

enum class Flavor { kSpdy, kWebSocket };

class PortForwardTakeover final : public ConnectionTakeover {
 public:
  PortForwardTakeover(Flavor flavor, NodeTarget target, std::string ns, std::string pod)
      : flavor_(flavor), target_(std::move(target)), ns_(std::move(ns)), pod_(std::move(pod)) {}

  net::awaitable<void> run(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                           const Request& req) override {
    stream.expires_never();
    auto ex = co_await net::this_coro::executor;
    if (flavor_ == Flavor::kSpdy) {
      std::string res =
          "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
          "X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n";
      auto ec = co_await write_all(stream.socket(), net::buffer(res));
      if (ec) co_return;
      std::string initial(static_cast<const char*>(buffer.data().data()), buffer.size());
      buffer.consume(buffer.size());
      RawChannel channel(stream.socket());
      SpdySession session(channel, ex, target_, ns_, pod_, std::move(initial));
      co_await session.run();
      co_return;
    }
    // WebSocket: Beast answers the handshake from the original request.
    http::request<http::empty_body> upgrade{http::verb::get, req.path, 11};
    for (const auto& [k, v] : req.headers) upgrade.set(k, v);
    websocket::stream<beast::tcp_stream&> ws(stream);
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::sec_websocket_protocol, kTunnelProtocol);
    }));
    ws.binary(true);
    ws.read_message_max(spdy::kMaxPayload + spdy::kFrameHeaderSize);
    auto [aec] = co_await ws.async_accept(upgrade, kTuple);
    if (aec) co_return;
    WebSocketChannel channel(ws);
    SpdySession session(channel, ex, target_, ns_, pod_, std::string());
    co_await session.run();
  }

 private:
  Flavor flavor_;
  NodeTarget target_;
  std::string ns_;
  std::string pod_;
};

bool header_has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    auto comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.size() == token.size()) {
      bool eq = true;
      for (std::size_t i = 0; i < item.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(item[i])) !=
            std::tolower(static_cast<unsigned char>(token[i]))) {
          eq = false;
          break;
        }
      }
      if (eq) return true;
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

Response with_takeover(std::shared_ptr<ConnectionTakeover> t, const std::string& pod,
                       const std::string& what) {
  // What a transport without sockets answers.
  Response r = status_response(
      unavailable("pods/" + what + " is served over HTTP only (it needs the connection)"),
      pod_details(pod));
  r.takeover = std::move(t);
  return r;
}

}  // namespace

Response pod_log(const Request& req, const json::value& pod, const NodeLookup& nodes,
                 const std::string& node_token, const std::string& node_ca_pem) {
  const std::string name = str(obj(pod, "metadata"), "name");
  const std::string ns = str(obj(pod, "metadata"), "namespace");
  auto containers = container_names(pod, "containers");
  std::string container;
  if (auto c = req.param("container"); c && !c->empty()) {
    container = std::string(*c);
    auto init = container_names(pod, "initContainers");
    auto eph = container_names(pod, "ephemeralContainers");
    bool known = std::find(containers.begin(), containers.end(), container) != containers.end() ||
                 std::find(init.begin(), init.end(), container) != init.end() ||
                 std::find(eph.begin(), eph.end(), container) != eph.end();
    if (!known) {
      return status_response(
          bad_request("container " + container + " is not valid for pod " + name),
          pod_details(name));
    }
  } else if (containers.size() == 1) {
    container = containers[0];
  } else {
    std::string list;
    for (const auto& c : containers) list += (list.empty() ? "" : " ") + c;
    return status_response(bad_request("a container name must be specified for pod " + name +
                                       ", choose one of: [" + list + "]"),
                           pod_details(name));
  }
  auto target = node_target(pod, nodes, node_token, node_ca_pem);
  if (!target.ok()) return status_response(target.status(), pod_details(name));

  std::string path = fmt::format("/containerLogs/{}/{}/{}", pct(ns), pct(name), pct(container));
  char sep = '?';
  for (const char* k : {"follow", "tailLines", "sinceSeconds", "sinceTime", "timestamps",
                        "previous", "limitBytes"}) {
    if (auto v = req.param(k)) {
      path += sep;
      path += k;
      path += '=';
      path += pct(*v);
      sep = '&';
    }
  }
  return with_takeover(std::make_shared<LogProxy>(std::move(*target), std::move(path), name), name,
                       "log");
}

Response pod_port_forward(const Request& req, const json::value& pod, const NodeLookup& nodes,
                          const std::string& node_token, const std::string& node_ca_pem) {
  const std::string name = str(obj(pod, "metadata"), "name");
  const std::string ns = str(obj(pod, "metadata"), "namespace");
  Flavor flavor;
  std::string_view upgrade = req.header("upgrade");
  if (header_has_token(upgrade, "websocket") && req.method == "GET") {
    if (!header_has_token(req.header("sec-websocket-protocol"), kTunnelProtocol)) {
      // kubectl falls back to SPDY on this answer.
      return status_response(
          bad_request("unable to upgrade connection: only the " + std::string(kTunnelProtocol) +
                      " WebSocket subprotocol is supported"),
          pod_details(name));
    }
    flavor = Flavor::kWebSocket;
  } else if (header_has_token(upgrade, "SPDY/3.1")) {
    std::string_view version = req.header("x-stream-protocol-version");
    if (!version.empty() && !header_has_token(version, kPortForwardProtocol)) {
      return status_response(bad_request("unable to upgrade connection: unsupported stream "
                                         "protocol version(s) " + std::string(version)),
                             pod_details(name));
    }
    flavor = Flavor::kSpdy;
  } else {
    return status_response(bad_request("Upgrade request required"), pod_details(name));
  }
  const json::object* status = obj(pod, "status");
  std::string phase = str(status, "phase");
  if (phase == "Succeeded" || phase == "Failed") {
    return status_response(
        bad_request("cannot port-forward to a completed pod; current phase is " + phase),
        pod_details(name));
  }
  auto target = node_target(pod, nodes, node_token, node_ca_pem);
  if (!target.ok()) return status_response(target.status(), pod_details(name));
  return with_takeover(
      std::make_shared<PortForwardTakeover>(flavor, std::move(*target), ns, name), name,
      "portforward");
}

}  // namespace orch::apiserver
