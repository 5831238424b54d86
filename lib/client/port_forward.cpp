// client::PortForward (see port_forward.hpp).
//
// Shape: one io_context on one thread holds everything: the WebSocket (plain or TLS), a read
// loop that splits the SPDY frames, a write loop that owns every write (one queue), an accept
// loop per listener, and per forwarded connection one coroutine pumping local -> remote while the
// read loop queues remote -> local bytes that a second coroutine writes out. Nothing is locked
// except what stop()/wait() share with callers (state_mu_).
#include "orch/client/port_forward.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "../apiserver/http/spdy.hpp"

namespace orch::client {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace spdy = apiserver::spdy;
using tcp = net::ip::tcp;

namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
constexpr std::string_view kTunnelProtocol = "SPDY/3.1+portforward.k8s.io";
// Bytes queued toward one side before the other side's reading pauses.
constexpr std::size_t kMaxQueued = 4u << 20;

Result<std::uint16_t> parse_port(std::string_view text, std::string_view which) {
  unsigned long long v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec == std::errc::invalid_argument || p != text.data() + text.size()) {
    return bad_request("error parsing " + std::string(which) + " port '" + std::string(text) +
                       "': strconv.ParseUint: parsing \"" + std::string(text) +
                       "\": invalid syntax");
  }
  if (ec == std::errc::result_out_of_range || v > 65535) {
    return bad_request("error parsing " + std::string(which) + " port '" + std::string(text) +
                       "': strconv.ParseUint: parsing \"" + std::string(text) +
                       "\": value out of range");
  }
  return static_cast<std::uint16_t>(v);
}

std::string read_file(const std::string& path, bool& ok) {
  std::ifstream is(path, std::ios::binary);
  ok = static_cast<bool>(is);
  std::stringstream ss;
  ss << is.rdbuf();
  return ss.str();
}

// Wakes one coroutine waiting on this thread: wait() returns after notify(), or at once when a
// notify() came first.
class Wakeup {
 public:
  explicit Wakeup(net::any_io_executor ex) : timer_(ex) {}
  void notify() {
    pending_ = true;
    timer_.cancel();
  }
  // Several coroutines may wait at once (each is woken); only the first arms the timer, since
  // re-arming it would cancel the others' waits.
  net::awaitable<void> wait() {
    if (!pending_) {
      if (waiters_++ == 0) timer_.expires_at(net::steady_timer::time_point::max());
      co_await timer_.async_wait(kTuple);
      --waiters_;
    }
    if (waiters_ == 0) pending_ = false;
  }

 private:
  net::steady_timer timer_;
  bool pending_ = false;
  int waiters_ = 0;
};

// The WebSocket, plain or over TLS, behind the three operations the session needs.
class Channel {
 public:
  virtual ~Channel() = default;
  virtual net::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(
      net::mutable_buffer b) = 0;
  virtual net::awaitable<boost::system::error_code> write(net::const_buffer b) = 0;
  virtual void close() = 0;
};

template <class Ws>
class WsChannel final : public Channel {
 public:
  explicit WsChannel(std::unique_ptr<Ws> ws) : ws_(std::move(ws)) {}
  net::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(
      net::mutable_buffer b) override {
    auto [ec, n] = co_await ws_->async_read_some(b, kTuple);
    co_return std::pair{ec, n};
  }
  net::awaitable<boost::system::error_code> write(net::const_buffer b) override {
    auto [ec, n] = co_await ws_->async_write(b, kTuple);
    co_return ec;
  }
  void close() override {
    boost::system::error_code ignored;
    beast::get_lowest_layer(*ws_).socket().close(ignored);
  }

 private:
  std::unique_ptr<Ws> ws_;
};

// One accepted local connection: its SPDY streams and what waits to be written to it.
struct Conn {
  Conn(tcp::socket s, std::uint16_t l, std::uint16_t r)
      : sock(std::move(s)), local(l), remote(r), wake(sock.get_executor()),
        drained(sock.get_executor()) {}
  tcp::socket sock;
  std::uint16_t local;
  std::uint16_t remote;
  std::uint32_t data_id = 0;
  std::uint32_t error_id = 0;
  std::deque<std::string> to_local;
  std::size_t to_local_bytes = 0;
  bool remote_fin = false;   // the pod side ended
  bool finished = false;     // the connection is over (either side, or the session)
  std::string error_text;
  Wakeup wake;     // to_local grew, remote_fin, or finished
  Wakeup drained;  // to_local shrank (the read loop waits on it under back-pressure)
  void close() {
    finished = true;
    boost::system::error_code ignored;
    sock.close(ignored);
    wake.notify();
    drained.notify();
  }
};

struct ServerUrl {
  bool tls = false;
  std::string host;  // without brackets
  std::string port;
  std::string prefix;  // path prefix, no trailing '/'
};

Result<ServerUrl> parse_server(const std::string& server) {
  auto u = boost::urls::parse_uri(server);
  if (!u) return invalid_argument("invalid server URL \"" + server + "\"");
  ServerUrl out;
  std::string scheme(u->scheme());
  if (scheme == "https") out.tls = true;
  else if (scheme != "http") return invalid_argument("invalid server URL \"" + server + "\"");
  out.host = std::string(u->host_address());
  if (!out.host.empty() && out.host.front() == '[') out.host = out.host.substr(1, out.host.size() - 2);
  out.port = u->has_port() ? std::string(u->port()) : (out.tls ? "443" : "80");
  out.prefix = std::string(u->path());
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  return out;
}

// The Status a non-101 answer's body describes (a Kubernetes Status), else its text.
Status refused(int code, const std::string& body) {
  std::string message = body;
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (!ec && v.is_object())
    if (const auto* m = v.get_object().if_contains("message"); m && m->is_string())
      message = std::string(m->get_string());
  if (message.empty()) message = "the server answered " + std::to_string(code);
  switch (code) {
    case 400: return bad_request(message);
    case 401: return Status(Code::kUnauthenticated, message);
    case 403: return Status(Code::kPermissionDenied, message);
    case 404: return not_found(message);
    default: return Status(Code::kUnavailable, "error upgrading connection: " + message);
  }
}

}  // namespace

Result<PortForwardPort> parse_port_forward_spec(std::string_view spec) {
  std::string_view local = spec, remote = spec;
  if (auto colon = spec.find(':'); colon != std::string_view::npos) {
    if (spec.find(':', colon + 1) != std::string_view::npos)
      return bad_request("invalid port format '" + std::string(spec) + "'");
    local = spec.substr(0, colon);
    remote = spec.substr(colon + 1);
    if (local.empty()) local = "0";
  }
  ORCH_ASSIGN_OR_RETURN(auto l, parse_port(local, "local"));
  ORCH_ASSIGN_OR_RETURN(auto r, parse_port(remote, "remote"));
  if (r == 0) return bad_request("remote port must be > 0");
  return PortForwardPort{l, r};
}

struct PortForward::Impl {
  explicit Impl(PortForwardOptions o) : options(std::move(o)), out_wake(ioc.get_executor()),
                                        out_drained(ioc.get_executor()) {}

  PortForwardOptions options;
  net::io_context ioc;
  std::thread thread;

  // Only on the tunnel's thread.
  std::unique_ptr<ssl::context> tls;
  std::unique_ptr<Channel> channel;
  spdy::HeaderCodec codec;
  std::string rbuf;
  std::deque<std::string> out;
  std::size_t out_bytes = 0;
  Wakeup out_wake;
  Wakeup out_drained;
  bool closing = false;
  std::uint32_t next_stream = 1;
  std::uint64_t next_request = 0;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::map<std::uint32_t, std::shared_ptr<Conn>> streams;  // by data and error stream id

  // Shared with callers.
  mutable std::mutex state_mu;
  std::condition_variable state_cv;
  bool ended = false;          // guarded by state_mu
  bool stopped = false;        // guarded by state_mu: stop() asked for the end
  std::vector<ForwardedAddress> bound;  // const once start() returned

  // ------------------------------------------------------------------ connecting
  Result<std::unique_ptr<ssl::context>> make_tls(const ServerUrl& url) {
    const auto& c = options.connection;
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    boost::system::error_code ec;
    if (c.insecure_skip_tls_verify) {
      ctx->set_verify_mode(ssl::verify_none);
    } else {
      ctx->set_verify_mode(ssl::verify_peer);
      if (!c.ca_data.empty()) {
        ctx->add_certificate_authority(net::buffer(c.ca_data), ec);
      } else if (!c.ca_file.empty()) {
        ctx->load_verify_file(c.ca_file, ec);
      } else {
        ctx->set_default_verify_paths(ec);
      }
      if (ec) return invalid_argument("unable to load the certificate authority: " + ec.message());
      ctx->set_verify_callback(ssl::host_name_verification(url.host));
    }
    std::string cert = c.client_certificate_data, key = c.client_key_data;
    bool ok = true;
    if (cert.empty() && !c.client_certificate_file.empty()) {
      cert = read_file(c.client_certificate_file, ok);
      if (!ok) return invalid_argument("unable to read " + c.client_certificate_file);
    }
    if (key.empty() && !c.client_key_file.empty()) {
      key = read_file(c.client_key_file, ok);
      if (!ok) return invalid_argument("unable to read " + c.client_key_file);
    }
    if (!cert.empty() && !key.empty()) {
      ctx->use_certificate_chain(net::buffer(cert), ec);
      if (!ec) ctx->use_private_key(net::buffer(key), ssl::context::pem, ec);
      if (ec) return invalid_argument("unable to load the client certificate: " + ec.message());
    }
    return ctx;
  }

  std::string authorization() const {
    const auto& c = options.connection;
    std::string token = c.bearer_token;
    if (!c.bearer_token_file.empty()) {
      bool ok = true;
      std::string t = read_file(c.bearer_token_file, ok);
      while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
      if (ok && !t.empty()) token = t;
    }
    if (!token.empty()) return "Bearer " + token;
    if (!c.username.empty() || !c.password.empty()) {
      std::string plain = c.username + ":" + c.password;
      std::string enc(beast::detail::base64::encoded_size(plain.size()), '\0');
      enc.resize(beast::detail::base64::encode(enc.data(), plain.data(), plain.size()));
      return "Basic " + enc;
    }
    return {};
  }

  template <class Ws>
  net::awaitable<Status> handshake(Ws& ws, const ServerUrl& url, const std::string& target) {
    auto auth = authorization();
    std::string agent = options.connection.user_agent;
    ws.set_option(websocket::stream_base::decorator([auth, agent](websocket::request_type& req) {
      req.set(http::field::sec_websocket_protocol, kTunnelProtocol);
      req.set(http::field::user_agent, agent);
      if (!auth.empty()) req.set(http::field::authorization, auth);
    }));
    ws.binary(true);
    ws.read_message_max(spdy::kMaxPayload + spdy::kFrameHeaderSize);
    websocket::response_type res;
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    auto [ec] = co_await ws.async_handshake(res, host + ":" + url.port, target, kTuple);
    if (ec) {
      if (res.result_int() != 0 && res.result() != http::status::switching_protocols)
        co_return refused(res.result_int(), res.body());
      co_return Status(Code::kUnavailable, "error upgrading connection: " + ec.message());
    }
    if (res[http::field::sec_websocket_protocol] != kTunnelProtocol)
      co_return Status(Code::kUnavailable,
                       "error upgrading connection: the server chose no tunnelling subprotocol");
    beast::get_lowest_layer(ws).expires_never();
    co_return ok_status();
  }

  net::awaitable<Status> connect() {
    auto url = parse_server(options.connection.servers.front());
    if (!url.ok()) co_return url.status();
    std::string target = url->prefix + "/api/v1/namespaces/" + options.namespace_ + "/pods/" +
                         options.pod + "/portforward";
    std::string where = url->host + ":" + url->port;
    tcp::resolver resolver(ioc);
    auto [rec, results] = co_await resolver.async_resolve(url->host, url->port, kTuple);
    if (rec) co_return Status(Code::kUnavailable, "dial tcp " + where + ": " + rec.message());
    beast::tcp_stream stream(ioc);
    stream.expires_after(options.connect_timeout);
    auto [cec, ep] = co_await stream.async_connect(results, kTuple);
    if (cec) co_return Status(Code::kUnavailable, "dial tcp " + where + ": " + cec.message());
    (void)ep;
    if (!url->tls) {
      auto ws = std::make_unique<websocket::stream<beast::tcp_stream>>(std::move(stream));
      Status st = co_await handshake(*ws, *url, target);
      if (!st.ok()) co_return st;
      channel = std::make_unique<WsChannel<websocket::stream<beast::tcp_stream>>>(std::move(ws));
      co_return ok_status();
    }
    auto ctx = make_tls(*url);
    if (!ctx.ok()) co_return ctx.status();
    tls = std::move(*ctx);
    using TlsWs = websocket::stream<ssl::stream<beast::tcp_stream>>;
    auto ws = std::make_unique<TlsWs>(std::move(stream), *tls);
    boost::system::error_code addr_ec;
    net::ip::make_address(url->host, addr_ec);
    if (addr_ec) SSL_set_tlsext_host_name(ws->next_layer().native_handle(), url->host.c_str());
    auto [hec] = co_await ws->next_layer().async_handshake(ssl::stream_base::client, kTuple);
    if (hec) co_return Status(Code::kUnavailable, "tls handshake with " + where + ": " + hec.message());
    Status st = co_await handshake(*ws, *url, target);
    if (!st.ok()) co_return st;
    channel = std::make_unique<WsChannel<TlsWs>>(std::move(ws));
    co_return ok_status();
  }

  // Binds every port on every address (see PortForwardOptions::addresses).
  Status listen() {
    for (auto& port : options.ports) {
      std::string errors;
      for (std::size_t i = 0; i < options.addresses.size(); ++i) {
        const auto& address = options.addresses[i];
        boost::system::error_code ec;
        auto ip = net::ip::make_address(address, ec);
        auto acc = std::make_unique<tcp::acceptor>(ioc);
        tcp::endpoint ep(ip, port.local);
        if (!ec) acc->open(ep.protocol(), ec);
        if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acc->bind(ep, ec);
        if (!ec) acc->listen(net::socket_base::max_listen_connections, ec);
        if (ec) {
          if (i == 0) {
            return Status(Code::kUnavailable,
                          "unable to listen on any of the requested ports: [{" +
                              std::to_string(port.local) + " " + std::to_string(port.remote) +
                              "}] (" + address + ": " + ec.message() + ")");
          }
          continue;
        }
        if (port.local == 0) port.local = acc->local_endpoint().port();
        bound.push_back({address, port.local, port.remote});
        acceptors.push_back(std::move(acc));
      }
    }
    return ok_status();
  }

  // ------------------------------------------------------------------ frames out
  void send(std::string frame) {
    if (closing) return;
    out_bytes += frame.size();
    out.push_back(std::move(frame));
    out_wake.notify();
  }

  void syn_stream(std::uint32_t id, const spdy::Headers& headers) {
    std::string payload;
    spdy::put_u32(payload, id);
    spdy::put_u32(payload, 0);  // associated stream
    payload += '\0';            // priority
    payload += '\0';            // slot
    payload += codec.encode(headers);
    send(spdy::control_frame(spdy::kSynStream, 0, payload));
  }

  net::awaitable<void> write_loop() {
    while (true) {
      while (out.empty() && !closing) co_await out_wake.wait();
      if (closing) co_return;
      std::string batch;
      while (!out.empty() && batch.size() < 256 * 1024) {
        batch += out.front();
        out.pop_front();
      }
      out_bytes -= batch.size();
      out_drained.notify();
      if (co_await channel->write(net::buffer(batch))) co_return;
    }
  }

  // ------------------------------------------------------------------ frames in
  net::awaitable<bool> fill(std::size_t n) {
    std::array<char, 32 * 1024> buf;
    while (rbuf.size() < n) {
      auto [ec, got] = co_await channel->read_some(net::buffer(buf));
      if (got > 0) rbuf.append(buf.data(), got);
      if (ec || closing) co_return rbuf.size() >= n;
    }
    co_return true;
  }

  net::awaitable<void> read_loop() {
    while (!closing) {
      if (!co_await fill(spdy::kFrameHeaderSize)) co_return;
      auto h = spdy::parse_frame_header(reinterpret_cast<const unsigned char*>(rbuf.data()));
      if (h.length > spdy::kMaxPayload) co_return;
      if (!co_await fill(spdy::kFrameHeaderSize + h.length)) co_return;
      std::string payload = rbuf.substr(spdy::kFrameHeaderSize, h.length);
      rbuf.erase(0, spdy::kFrameHeaderSize + h.length);
      if (!h.control) {
        co_await on_data(h.stream_id, h.flags, std::move(payload));
        continue;
      }
      const auto* p = reinterpret_cast<const unsigned char*>(payload.data());
      // Every header block goes through the shared zlib context, in order.
      std::size_t block_at = h.type == spdy::kSynStream ? 10 : 4;
      if (h.type == spdy::kSynStream || h.type == spdy::kSynReply || h.type == spdy::kHeaders) {
        if (payload.size() < block_at) co_return;
        if (!codec.decode(std::string_view(payload).substr(block_at)).ok()) co_return;
      } else if (h.type == spdy::kRstStream) {
        if (payload.size() < 4) co_return;
        if (auto it = streams.find(spdy::read_u32(p) & 0x7fffffff); it != streams.end())
          it->second->close();
      } else if (h.type == spdy::kPing) {
        send(spdy::control_frame(spdy::kPing, 0, payload));
      } else if (h.type == spdy::kGoAway) {
        co_return;
      }
    }
  }

  net::awaitable<void> on_data(std::uint32_t id, std::uint8_t flags, std::string payload) {
    auto it = streams.find(id);
    if (it == streams.end()) co_return;
    auto c = it->second;
    bool fin = flags & spdy::kFlagFin;
    if (id == c->error_id) {
      c->error_text += payload;
      if (fin && !c->error_text.empty()) {
        if (options.on_error) {
          options.on_error("an error occurred forwarding " + std::to_string(c->local) + " -> " +
                           std::to_string(c->remote) + ": " + c->error_text);
        }
        c->close();
      }
      co_return;
    }
    if (!payload.empty() && !c->finished) {
      c->to_local_bytes += payload.size();
      c->to_local.push_back(std::move(payload));
    }
    if (fin) c->remote_fin = true;
    c->wake.notify();
    while (c->to_local_bytes > kMaxQueued && !c->finished && !closing) co_await c->drained.wait();
  }

  // ------------------------------------------------------------------ connections
  net::awaitable<void> accept_loop(tcp::acceptor& acc, std::uint16_t local, std::uint16_t remote) {
    while (!closing) {
      auto [ec, sock] = co_await acc.async_accept(kTuple);
      if (ec || closing) co_return;
      if (options.on_connection) options.on_connection("Handling connection for " + std::to_string(local));
      auto c = std::make_shared<Conn>(std::move(sock), local, remote);
      c->error_id = next_stream;
      c->data_id = next_stream + 2;
      next_stream += 4;
      std::string request = std::to_string(next_request++);
      std::string port = std::to_string(remote);
      streams[c->error_id] = c;
      streams[c->data_id] = c;
      syn_stream(c->error_id, {{"streamtype", "error"}, {"port", port}, {"requestid", request}});
      send(spdy::data_frame(c->error_id, spdy::kFlagFin, ""));  // nothing to say on it
      syn_stream(c->data_id, {{"streamtype", "data"}, {"port", port}, {"requestid", request}});
      net::co_spawn(ioc, local_to_remote(c), [](std::exception_ptr) {});
      net::co_spawn(ioc, remote_to_local(c), [](std::exception_ptr) {});
    }
  }

  net::awaitable<void> local_to_remote(std::shared_ptr<Conn> c) {
    std::array<char, 32 * 1024> buf;
    while (!c->finished && !closing) {
      auto [ec, n] = co_await c->sock.async_read_some(net::buffer(buf), kTuple);
      if (n > 0 && !c->finished) {
        send(spdy::data_frame(c->data_id, 0, std::string_view(buf.data(), n)));
        while (out_bytes > kMaxQueued && !closing) co_await out_drained.wait();
      }
      if (ec == net::error::eof && !c->finished) {
        send(spdy::data_frame(c->data_id, spdy::kFlagFin, ""));  // half-close toward the pod
        co_return;
      }
      if (ec && !c->finished) {
        // The local side broke: the pod side's stream is of no use any more.
        std::string rst;
        spdy::put_u32(rst, c->data_id);
        spdy::put_u32(rst, 5);  // CANCEL
        send(spdy::control_frame(spdy::kRstStream, 0, rst));
        c->close();
      }
    }
  }

  net::awaitable<void> remote_to_local(std::shared_ptr<Conn> c) {
    while (true) {
      while (c->to_local.empty() && !c->remote_fin && !c->finished && !closing)
        co_await c->wake.wait();
      if (c->finished || closing) break;
      if (c->to_local.empty()) break;  // the pod side ended and everything was written
      std::string chunk = std::move(c->to_local.front());
      c->to_local.pop_front();
      c->to_local_bytes -= chunk.size();
      c->drained.notify();
      auto [ec, n] = co_await net::async_write(c->sock, net::buffer(chunk), kTuple);
      if (ec) break;
    }
    // kubectl closes the local connection when the pod side is done.
    c->close();
    streams.erase(c->data_id);
    streams.erase(c->error_id);
  }

  // ------------------------------------------------------------------ lifetime
  void shut() {
    if (closing) return;
    closing = true;
    if (channel) channel->close();
    boost::system::error_code ignored;
    for (auto& a : acceptors) a->close(ignored);
    auto all = streams;
    for (auto& [id, c] : all) c->close();
    out_wake.notify();
    out_drained.notify();
  }

  net::awaitable<void> session() {
    net::co_spawn(ioc, write_loop(), [](std::exception_ptr) {});
    for (std::size_t i = 0; i < acceptors.size(); ++i)
      net::co_spawn(ioc, accept_loop(*acceptors[i], bound[i].local, bound[i].remote),
                    [](std::exception_ptr) {});
    co_await read_loop();
    shut();
  }
};

PortForward::PortForward(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

PortForward::~PortForward() { stop(); }

Result<std::unique_ptr<PortForward>> PortForward::start(PortForwardOptions options) {
  if (options.pod.empty()) return invalid_argument("port-forward needs a pod");
  if (options.ports.empty()) return invalid_argument("port-forward needs at least one port");
  if (options.addresses.empty()) return invalid_argument("port-forward needs an address");
  if (options.connection.servers.empty()) return invalid_argument("port-forward needs a server");
  auto impl = std::make_shared<Impl>(std::move(options));
  // Set once, on the tunnel's thread: after connecting and listening, or by the completion
  // handler when the coroutine ended with an exception before that.
  auto ready = std::make_shared<std::promise<Status>>();
  auto ready_set = std::make_shared<bool>(false);
  auto ready_future = ready->get_future();
  net::co_spawn(
      impl->ioc,
      [impl, ready, ready_set]() -> net::awaitable<void> {
        Status st = co_await impl->connect();
        if (st.ok()) st = impl->listen();
        bool ok = st.ok();
        *ready_set = true;
        ready->set_value(std::move(st));
        if (!ok) co_return;
        co_await impl->session();
      },
      [impl, ready, ready_set](std::exception_ptr e) {
        if (e && !*ready_set) {
          *ready_set = true;
          ready->set_value(Status(Code::kInternal, "port-forward failed to start"));
        }
        impl->shut();
        std::lock_guard lock(impl->state_mu);
        impl->ended = true;
        impl->state_cv.notify_all();
      });
  impl->thread = std::thread([impl] { impl->ioc.run(); });
  Status st = ready_future.get();
  std::unique_ptr<PortForward> pf(new PortForward(impl));
  if (!st.ok()) {
    pf->stop();
    return st;
  }
  return pf;
}

std::vector<ForwardedAddress> PortForward::listeners() const { return impl_->bound; }

Status PortForward::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->state_mu);
  auto done = [&] { return impl_->ended; };
  if (timeout.count() > 0) {
    if (!impl_->state_cv.wait_for(lock, timeout, done))
      return Status(Code::kDeadlineExceeded, "port-forward still running");
  } else {
    impl_->state_cv.wait(lock, done);
  }
  if (impl_->stopped) return ok_status();
  return Status(Code::kUnavailable, "lost connection to pod");
}

void PortForward::stop() {
  {
    std::lock_guard lock(impl_->state_mu);
    if (!impl_->ended) impl_->stopped = true;
  }
  // A raw pointer: the handler runs before join() returns, or never (then it is destroyed with
  // the io_context); a shared_ptr in it would keep the io_context alive forever.
  Impl* impl = impl_.get();
  net::post(impl->ioc, [impl] { impl->shut(); });
  if (impl->thread.joinable() && impl->thread.get_id() != std::this_thread::get_id()) {
    impl->thread.join();
  }
}

}  // namespace orch::client
