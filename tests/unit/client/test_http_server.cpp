// TestHttpServer and test certificates. Thread-safety: all networking on the server's one
// io_context thread; counters atomic; last_cn_ under cn_mu_.
#include "test_http_server.hpp"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace orch::client::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using net::awaitable;
constexpr auto kTok = net::as_tuple(net::use_awaitable);

// --- certificates --------------------------------------------------------------------------

namespace {

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("openssl: ") + what);
}

std::string bio_string(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

Pem issue(const std::string& cn, X509* issuer, EVP_PKEY* issuer_key, bool ca, bool server) {
  static std::atomic<long> serial{1};
  KeyPtr key(EVP_EC_gen("P-256"));
  check(key != nullptr, "EVP_EC_gen");
  X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial.fetch_add(1));
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 24 * 3600);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer ? issuer : x.get();
  X509_set_issuer_name(x.get(), X509_get_subject_name(signer));
  add_ext(x.get(), signer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(x.get(), signer, NID_subject_key_identifier, "hash");
  if (ca) {
    add_ext(x.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  } else {
    add_ext(x.get(), signer, NID_authority_key_identifier, "keyid:always");
    add_ext(x.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_ext(x.get(), signer, NID_ext_key_usage, server ? "serverAuth" : "clientAuth");
    if (server) add_ext(x.get(), signer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  }
  check(X509_sign(x.get(), issuer_key ? issuer_key : key.get(), EVP_sha256()) > 0, "X509_sign");
  BioPtr cb(BIO_new(BIO_s_mem()));
  BioPtr kb(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509(cb.get(), x.get()) == 1, "PEM_write_bio_X509");
  check(PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  return Pem{bio_string(cb.get()), bio_string(kb.get())};
}

}  // namespace

Pem make_ca(const std::string& common_name) {
  return issue(common_name, nullptr, nullptr, /*ca=*/true, /*server=*/false);
}

Pem make_cert(const Pem& ca, const std::string& common_name, bool server) {
  BioPtr cb(BIO_new_mem_buf(ca.cert.data(), static_cast<int>(ca.cert.size())));
  BioPtr kb(BIO_new_mem_buf(ca.key.data(), static_cast<int>(ca.key.size())));
  X509Ptr ca_cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  KeyPtr ca_key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  check(ca_cert && ca_key, "reading the CA");
  return issue(common_name, ca_cert.get(), ca_key.get(), /*ca=*/false, server);
}

// --- server --------------------------------------------------------------------------------

namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

apiserver::Request to_request(const http::request<http::string_body>& req) {
  apiserver::Request r;
  r.method = std::string(req.method_string());
  std::string_view target = req.target();
  auto q = target.find('?');
  r.path = decode(target.substr(0, q));
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      auto amp = rest.find('&');
      std::string_view kv = rest.substr(0, amp);
      auto eq = kv.find('=');
      r.query[decode(kv.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(kv.substr(eq + 1));
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
  }
  for (const auto& f : req) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(f.value());
  }
  r.body = req.body();
  r.remote = "test";
  return r;
}

}  // namespace

struct TestHttpServer::Impl {
  Impl(apiserver::Handler& h, std::optional<TestTls> tls_in) : handler(h), tls(std::move(tls_in)) {}

  apiserver::Handler& handler;
  std::optional<TestTls> tls;
  std::optional<net::ssl::context> ssl;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::thread thread;
  std::future<void> finished;
  std::uint16_t port = 0;
  std::atomic<int> connections{0};
  std::atomic<int> requests{0};
  mutable std::mutex cn_mu;
  std::string last_cn;
  // Server thread only.
  bool stopping = false;
  std::set<tcp::socket*> open;

  template <class Stream>
  awaitable<void> session(Stream& stream) {
    beast::flat_buffer buf;
    while (!stopping) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 * 1024 * 1024);
      auto [ec, n] = co_await http::async_read(stream, buf, parser, kTok);
      if (ec) co_return;
      http::request<http::string_body> req = parser.release();
      apiserver::Response resp = handler.handle(to_request(req));
      ++requests;
      if (!resp.stream) {
        http::response<http::string_body> res{static_cast<http::status>(resp.status), req.version()};
        res.set(http::field::content_type, resp.content_type);
        for (const auto& [k, v] : resp.headers) res.set(k, v);
        res.body() = resp.body;
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        auto [ec2, n2] = co_await http::async_write(stream, res, kTok);
        if (ec2 || !req.keep_alive()) co_return;
        continue;
      }
      http::response<http::empty_body> res{static_cast<http::status>(resp.status), req.version()};
      res.set(http::field::content_type, resp.content_type);
      res.keep_alive(req.keep_alive());
      res.chunked(true);
      http::response_serializer<http::empty_body> sr{res};
      auto [ec3, n3] = co_await http::async_write_header(stream, sr, kTok);
      if (ec3) {
        resp.stream->close();
        co_return;
      }
      net::steady_timer timer(co_await net::this_coro::executor);
      bool ok = true;
      while (ok && !stopping) {
        auto chunks = resp.stream->poll(std::chrono::milliseconds(0));
        if (!chunks) break;
        if (chunks->empty()) {
          timer.expires_after(std::chrono::milliseconds(2));
          co_await timer.async_wait(kTok);
          continue;
        }
        for (auto& c : *chunks) {
          if (c.empty()) continue;  // a zero-length chunk would end the body
          auto [e, m] = co_await net::async_write(stream, http::make_chunk(net::buffer(c)), kTok);
          if (e) {
            ok = false;
            break;
          }
        }
      }
      if (!ok || stopping) {
        resp.stream->close();
        co_return;
      }
      auto [ec4, n4] = co_await net::async_write(stream, http::make_chunk_last(), kTok);
      if (ec4 || !req.keep_alive()) co_return;
    }
  }

  awaitable<void> run_session(tcp::socket sock) {
    tcp::socket* raw = nullptr;
    struct Unregister {
      Impl* self;
      tcp::socket** raw;
      ~Unregister() {
        if (*raw) self->open.erase(*raw);
      }
    } unregister{this, &raw};
    if (ssl) {
      beast::ssl_stream<tcp::socket> s(std::move(sock), *ssl);
      raw = &s.next_layer();
      open.insert(raw);
      auto [ec] = co_await s.async_handshake(net::ssl::stream_base::server, kTok);
      if (ec) {
        open.erase(raw);
        raw = nullptr;
        co_return;
      }
      if (X509* peer = SSL_get1_peer_certificate(s.native_handle())) {
        char buf[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, sizeof(buf));
        X509_free(peer);
        std::lock_guard lock(cn_mu);
        last_cn = buf;
      }
      co_await session(s);
      open.erase(raw);
      raw = nullptr;
    } else {
      raw = &sock;
      open.insert(raw);
      co_await session(sock);
      open.erase(raw);
      raw = nullptr;
    }
  }

  awaitable<void> accept_loop() {
    while (true) {
      auto [ec, sock] = co_await acceptor.async_accept(kTok);
      if (ec) co_return;
      ++connections;
      net::co_spawn(ioc, run_session(std::move(sock)), net::detached);
    }
  }

  void close_all() {
    boost::system::error_code ec;
    for (auto* s : open) s->close(ec);
  }
};

TestHttpServer::TestHttpServer(apiserver::Handler& handler, std::optional<TestTls> tls)
    : impl_(std::make_unique<Impl>(handler, std::move(tls))) {
  Impl& i = *impl_;
  if (i.tls) {
    i.ssl.emplace(net::ssl::context::tls_server);
    i.ssl->use_certificate_chain(net::buffer(i.tls->server.cert));
    i.ssl->use_private_key(net::buffer(i.tls->server.key), net::ssl::context::pem);
    if (!i.tls->client_ca.empty()) {
      i.ssl->add_certificate_authority(net::buffer(i.tls->client_ca));
      i.ssl->set_verify_mode(net::ssl::verify_peer | net::ssl::verify_fail_if_no_peer_cert);
    }
  }
  tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
  i.acceptor.open(ep.protocol());
  i.acceptor.set_option(net::socket_base::reuse_address(true));
  i.acceptor.bind(ep);
  i.acceptor.listen();
  i.port = i.acceptor.local_endpoint().port();
  net::co_spawn(i.ioc, i.accept_loop(), net::detached);
  std::promise<void> done;
  i.finished = done.get_future();
  i.thread = std::thread([&i, done = std::move(done)]() mutable {
    i.ioc.run();
    done.set_value();
  });
}

TestHttpServer::~TestHttpServer() { stop(); }

std::uint16_t TestHttpServer::port() const { return impl_->port; }

std::string TestHttpServer::url() const {
  return std::string(impl_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(impl_->port);
}

int TestHttpServer::connections() const { return impl_->connections.load(); }
int TestHttpServer::requests() const { return impl_->requests.load(); }

std::string TestHttpServer::last_client_cn() const {
  std::lock_guard lock(impl_->cn_mu);
  return impl_->last_cn;
}

void TestHttpServer::drop_connections() {
  auto done = std::make_shared<std::promise<void>>();
  auto f = done->get_future();
  net::post(impl_->ioc, [this, done] {
    impl_->close_all();
    done->set_value();
  });
  f.wait_for(std::chrono::seconds(5));
}

void TestHttpServer::stop() {
  Impl& i = *impl_;
  if (!i.thread.joinable()) return;
  net::post(i.ioc, [&i] {
    i.stopping = true;
    boost::system::error_code ec;
    i.acceptor.close(ec);
    i.close_all();
  });
  if (i.finished.wait_for(std::chrono::seconds(5)) != std::future_status::ready) i.ioc.stop();
  i.thread.join();
}

}  // namespace orch::client::testing
