// pki on OpenSSL 3: key generation, X.509 issuing and verification, files with safe modes.
// Thread-safety: no shared state of ours (OpenSSL 3 is thread-safe).
#include "orch/pki/pki.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include <boost/asio/ip/address.hpp>

namespace orch::pki {
namespace {

namespace fs = std::filesystem;

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using Bio = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using Key = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Free<X509, X509_free>>;
using Names = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES, GENERAL_NAMES_free>>;
using Store = std::unique_ptr<X509_STORE, Free<X509_STORE, X509_STORE_free>>;
using StoreCtx = std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX, X509_STORE_CTX_free>>;

std::string ssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

Status ssl_failure(std::string_view what) {
  return internal_error(std::string(what) + ": " + ssl_error());
}

Bio mem_bio(std::string_view pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::string bio_text(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

// A PEM object read by `read` (PEM_read_bio_X509, PEM_read_bio_PrivateKey).
template <typename Ptr, typename Read>
Result<Ptr> parse_pem(std::string_view pem, Read read, const char* what) {
  Bio b = mem_bio(pem);
  Ptr p(b ? read(b.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!p) {
    ERR_clear_error();
    return invalid_argument(std::string("not a PEM ") + what);
  }
  return p;
}

Result<Cert> parse_cert(std::string_view pem) {
  return parse_pem<Cert>(pem, PEM_read_bio_X509, "certificate");
}

Result<Key> parse_key(std::string_view pem) {
  return parse_pem<Key>(pem, PEM_read_bio_PrivateKey, "private key");
}

Result<Key> new_key() {
  Key k(EVP_EC_gen("P-256"));
  if (!k) return ssl_failure("EC key generation");
  return k;
}

Result<std::string> cert_pem(X509* c) {
  Bio b(BIO_new(BIO_s_mem()));
  if (!b || PEM_write_bio_X509(b.get(), c) != 1) return ssl_failure("PEM encoding");
  return bio_text(b.get());
}

Result<std::string> key_pem(EVP_PKEY* k) {
  Bio b(BIO_new(BIO_s_mem()));
  if (!b || PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return ssl_failure("PEM encoding");
  }
  return bio_text(b.get());
}

Status add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return ssl_failure("certificate extension");
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return ssl_failure("certificate extension");
  return ok_status();
}

bool is_ip(const std::string& s) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(s, ec);
  return !ec;
}

// A certificate for `key` named `cn`, valid from an hour ago (clock skew) for `validity`.
Result<Cert> new_cert(EVP_PKEY* key, std::string_view cn, std::chrono::hours validity) {
  Cert c(X509_new());
  if (!c) return ssl_failure("X509_new");
  X509_set_version(c.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return ssl_failure("RAND_bytes");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c.get()))) {
    BN_free(bn);
    return ssl_failure("serial number");
  }
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), static_cast<long>(validity.count()) * 3600);
  X509_set_pubkey(c.get(), key);
  X509_NAME* name = X509_get_subject_name(c.get());
  std::string cn_text(cn);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("liborch"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn_text.c_str()), -1, -1, 0);
  return c;
}

Result<CertKey> finish(X509* cert, EVP_PKEY* key, EVP_PKEY* signer) {
  if (X509_sign(cert, signer, EVP_sha256()) == 0) return ssl_failure("signing");
  CertKey out;
  ORCH_ASSIGN_OR_RETURN(out.cert_pem, cert_pem(cert));
  ORCH_ASSIGN_OR_RETURN(out.key_pem, key_pem(key));
  return out;
}

std::string errno_text(int err) { return std::strerror(err); }

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

Status ensure_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return ok_status();
  std::error_code ec;
  fs::create_directories(fs::path(dir).parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return ok_status();
  return internal_error("cannot create " + dir + ": " + errno_text(errno));
}

// True when `cert` expires within `margin` from now.
bool expires_within(X509* cert, std::chrono::hours margin) {
  time_t t = time(nullptr) + static_cast<time_t>(margin.count()) * 3600;
  return X509_cmp_time(X509_get0_notAfter(cert), &t) <= 0;
}

}  // namespace

Result<CertKey> create_ca(std::string_view common_name, std::chrono::hours validity) {
  ORCH_ASSIGN_OR_RETURN(Key key, new_key());
  ORCH_ASSIGN_OR_RETURN(Cert cert, new_cert(key.get(), common_name, validity));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  ORCH_TRY(add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  ORCH_TRY(add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"));
  ORCH_TRY(add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  return finish(cert.get(), key.get(), key.get());
}

Result<CertKey> issue_serving_cert(const CertKey& ca, std::string_view common_name,
                                   const std::vector<std::string>& sans, std::chrono::hours validity) {
  if (sans.empty()) return invalid_argument("a serving certificate needs at least one SAN");
  ORCH_ASSIGN_OR_RETURN(Cert ca_cert, parse_cert(ca.cert_pem));
  ORCH_ASSIGN_OR_RETURN(Key ca_key, parse_key(ca.key_pem));
  ORCH_ASSIGN_OR_RETURN(Key key, new_key());
  ORCH_ASSIGN_OR_RETURN(Cert cert, new_cert(key.get(), common_name, validity));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  std::string alt;
  std::set<std::string> seen;
  for (const auto& s : sans) {
    if (s.empty() || !seen.insert(s).second) continue;
    if (!alt.empty()) alt += ',';
    alt += (is_ip(s) ? "IP:" : "DNS:") + s;
  }
  ORCH_TRY(add_ext(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  ORCH_TRY(add_ext(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  ORCH_TRY(add_ext(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth"));
  ORCH_TRY(add_ext(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always"));
  ORCH_TRY(add_ext(cert.get(), ca_cert.get(), NID_subject_alt_name, alt.c_str()));
  return finish(cert.get(), key.get(), ca_key.get());
}

Result<CertKey> load_or_create_ca(const std::string& dir) {
  const std::string crt = dir + "/ca.crt", key = dir + "/ca.key";
  const bool have_crt = exists(crt), have_key = exists(key);
  if (have_crt != have_key) {
    return invalid_argument("only one of " + crt + " and " + key + " exists; remove it to start over");
  }
  if (have_crt) {
    CertKey ca;
    ORCH_ASSIGN_OR_RETURN(ca.cert_pem, read_file(crt));
    ORCH_ASSIGN_OR_RETURN(ca.key_pem, read_file(key));
    auto c = parse_cert(ca.cert_pem);
    if (!c.ok()) return invalid_argument(crt + ": " + c.status().message());
    auto k = parse_key(ca.key_pem);
    if (!k.ok()) return invalid_argument(key + ": " + k.status().message());
    if (X509_check_private_key(c->get(), k->get()) != 1) {
      ERR_clear_error();
      return invalid_argument(key + " is not the key of " + crt);
    }
    return ca;
  }
  ORCH_TRY(ensure_dir(dir));
  ORCH_ASSIGN_OR_RETURN(CertKey ca, create_ca("liborch-ca"));
  ORCH_TRY(write_file_atomic(key, ca.key_pem, 0600));
  ORCH_TRY(write_file_atomic(crt, ca.cert_pem, 0644));
  return ca;
}

Result<CertKey> load_or_issue_serving_cert(const std::string& dir, std::string_view name,
                                           const CertKey& ca, const std::vector<std::string>& sans) {
  const std::string crt = dir + "/" + std::string(name) + ".crt";
  const std::string key = dir + "/" + std::string(name) + ".key";
  std::vector<std::string> wanted = sans;
  if (exists(crt) && exists(key)) {
    CertKey have;
    auto c = read_file(crt);
    auto k = read_file(key);
    if (c.ok() && k.ok()) {
      have = {*c, *k};
      auto cert = parse_cert(have.cert_pem);
      auto pkey = parse_key(have.key_pem);
      auto old_sans = certificate_sans(have.cert_pem);
      if (cert.ok() && pkey.ok() && old_sans.ok() &&
          X509_check_private_key(cert->get(), pkey->get()) == 1 &&
          verify_certificate(ca.cert_pem, have.cert_pem).ok() &&
          !expires_within(cert->get(), std::chrono::hours(24 * 30))) {
        std::set<std::string> covered(old_sans->begin(), old_sans->end());
        if (std::all_of(sans.begin(), sans.end(), [&](const std::string& s) {
              return s.empty() || covered.contains(s);
            })) {
          return have;
        }
        for (const auto& s : *old_sans) {
          if (std::find(wanted.begin(), wanted.end(), s) == wanted.end()) wanted.push_back(s);
        }
      }
      ERR_clear_error();
    }
  }
  ORCH_TRY(ensure_dir(dir));
  ORCH_ASSIGN_OR_RETURN(CertKey issued, issue_serving_cert(ca, name, wanted));
  ORCH_TRY(write_file_atomic(key, issued.key_pem, 0600));
  ORCH_TRY(write_file_atomic(crt, issued.cert_pem, 0644));
  return issued;
}

Status verify_certificate(const std::string& ca_pem, const std::string& cert_pem) {
  ORCH_ASSIGN_OR_RETURN(Cert ca, parse_cert(ca_pem));
  ORCH_ASSIGN_OR_RETURN(Cert cert, parse_cert(cert_pem));
  Store store(X509_STORE_new());
  StoreCtx ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
    return ssl_failure("certificate store");
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    std::string why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
    ERR_clear_error();
    return Status(Code::kUnauthenticated, "certificate verification failed: " + why);
  }
  return ok_status();
}

Result<std::vector<std::string>> certificate_sans(const std::string& cert_pem) {
  ORCH_ASSIGN_OR_RETURN(Cert cert, parse_cert(cert_pem));
  std::vector<std::string> out;
  Names names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    if (n->type == GEN_DNS) {
      const ASN1_IA5STRING* s = n->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (n->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = n->d.iPAddress;
      const unsigned char* p = ASN1_STRING_get0_data(s);
      const int len = ASN1_STRING_length(s);
      if (len == 4) {
        out.push_back(boost::asio::ip::address_v4({p[0], p[1], p[2], p[3]}).to_string());
      } else if (len == 16) {
        boost::asio::ip::address_v6::bytes_type b;
        std::copy(p, p + 16, b.begin());
        out.push_back(boost::asio::ip::address_v6(b).to_string());
      }
    }
  }
  return out;
}

Result<std::string> random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return ssl_failure("RAND_bytes");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string format_node_token(std::string_view ca_pem, std::string_view secret) {
  return "K10" + sha256_hex(ca_pem) + "::server:" + std::string(secret);
}

Result<NodeToken> parse_node_token(std::string_view token) {
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.remove_suffix(1);
  if (token.empty()) return invalid_argument("empty token");
  if (!token.starts_with("K10")) return NodeToken{"", std::string(token)};
  auto sep = token.find("::");
  auto colon = sep == std::string_view::npos ? sep : token.find(':', sep + 2);
  std::string_view hash = token.substr(3, sep == std::string_view::npos ? 0 : sep - 3);
  if (colon == std::string_view::npos || hash.size() != 64 ||
      !std::all_of(hash.begin(), hash.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }) ||
      colon + 1 >= token.size()) {
    return invalid_argument("malformed token: want K10<sha256 of the CA>::server:<secret>");
  }
  return NodeToken{std::string(hash), std::string(token.substr(colon + 1))};
}

Status write_file_atomic(const std::string& path, std::string_view content, unsigned mode) {
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    auto suffix = random_hex(6);
    if (!suffix.ok()) return suffix.status();
    tmp = path + ".tmp-" + *suffix;
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
    if (fd < 0 && errno != EEXIST) return internal_error("cannot create " + tmp + ": " + errno_text(errno));
  }
  if (fd < 0) return internal_error("cannot create a temp file next to " + path);
  // The umask may have narrowed the mode; it never widens it, so 0600 stays 0600.
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return internal_error("cannot write " + tmp + ": " + errno_text(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return internal_error("cannot write " + tmp + ": " + errno_text(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return internal_error("cannot write " + path + ": " + errno_text(err));
  }
  return ok_status();
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return not_found(path + ": no such file");
    return internal_error("cannot read " + path + ": " + errno_text(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return internal_error("cannot read " + path);
  return ss.str();
}

Result<std::string> load_or_create_secret(const std::string& path, std::string_view content) {
  auto have = read_file(path);
  if (have.ok()) return have;
  if (have.status().code() != Code::kNotFound) return have.status();
  ORCH_TRY(write_file_atomic(path, content, 0600));
  return std::string(content);
}

}  // namespace orch::pki
