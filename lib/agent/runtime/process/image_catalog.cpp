// ImageCatalog: built-in kuard and busybox images plus imported directory images.
// Thread-safety: see image_catalog.hpp (imports under mu_).
#include "orch/agent/image_catalog.hpp"

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>
#include <openssl/evp.h>
#include <unistd.h>

namespace orch::agent {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string image_id(std::string_view repo, std::string_view content) {
  auto slash = repo.rfind('/');
  std::string short_name(slash == std::string_view::npos ? repo : repo.substr(slash + 1));
  return "orch://" + short_name + "@sha256:" + sha256_hex(content);
}

bool is_kuard_repo(std::string_view repo) {
  return repo == "kuard" || repo == "gcr.io/kuar-demo/kuard-amd64" ||
         repo == "gcr.io/kuar-demo/kuard-arm64" || repo == "gcr.io/kuar-demo/kuard";
}

// kuard's tags and the version each one serves.
std::string kuard_version(std::string_view tag) {
  if (tag == "latest" || tag == "1" || tag == "blue") return "blue";
  if (tag == "2" || tag == "green") return "green";
  if (tag == "3" || tag == "purple") return "purple";
  return "";
}

bool executable_file(const std::string& path) {
  std::error_code ec;
  return !path.empty() && fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

Result<std::vector<std::string>> string_array(const json::value* v, std::string_view field) {
  std::vector<std::string> out;
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) return invalid_argument(std::string(field) + " must be an array of strings");
  for (const auto& e : v->as_array()) {
    if (!e.is_string())
      return invalid_argument(std::string(field) + " must be an array of strings");
    out.emplace_back(e.as_string());
  }
  return out;
}

json::value image_to_json(const Image& image) {
  json::array env;
  for (const auto& [k, v] : image.env) env.emplace_back(json::string(k + "=" + v));
  json::array ep(image.entrypoint.begin(), image.entrypoint.end());
  json::array cmd(image.cmd.begin(), image.cmd.end());
  return json::object{{"reference", image.reference},
                      {"id", image.id},
                      {"dir", image.dir},
                      {"entrypoint", ep},
                      {"cmd", cmd},
                      {"env", env},
                      {"workingDir", image.working_dir}};
}

// Reads entrypoint, cmd, env and workingDir of an image.json-shaped object into `image`.
Status read_config(const json::object& o, Image& image) {
  auto ep = string_array(o.if_contains("entrypoint"), "entrypoint");
  ORCH_TRY(ep);
  auto cmd = string_array(o.if_contains("cmd"), "cmd");
  ORCH_TRY(cmd);
  auto env = string_array(o.if_contains("env"), "env");
  ORCH_TRY(env);
  image.entrypoint = *ep;
  image.cmd = *cmd;
  image.env.clear();
  for (const auto& kv : *env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return invalid_argument("env entry \"" + kv + "\" is not NAME=VALUE");
    }
    image.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  image.working_dir.clear();
  if (const auto* wd = o.if_contains("workingDir"); wd != nullptr && wd->is_string()) {
    image.working_dir = std::string(wd->as_string());
  }
  return ok_status();
}

}  // namespace

std::string find_kuard_binary() {
  if (const char* env = std::getenv("ORCH_KUARD_PATH"); env != nullptr && *env != '\0') {
    return executable_file(env) ? std::string(env) : std::string();
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  fs::path dir = exe.parent_path();
  if (auto p = (dir / "kuard").string(); executable_file(p)) return p;
  for (fs::path d = dir; !d.empty() && d != d.root_path(); d = d.parent_path()) {
    if (auto p = (d / "apps" / "kuard" / "kuard").string(); executable_file(p)) return p;
    if (auto p = (d / "kuard" / "kuard").string(); executable_file(p)) return p;
  }
  return "";
}

std::pair<std::string, std::string> normalize_image_name(std::string_view name) {
  if (auto at = name.find('@'); at != std::string_view::npos) name = name.substr(0, at);
  std::string repo(name);
  std::string tag = "latest";
  auto slash = name.rfind('/');
  auto colon = name.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    repo = std::string(name.substr(0, colon));
    tag = std::string(name.substr(colon + 1));
    if (tag.empty()) tag = "latest";
  }
  for (std::string_view prefix :
       {"docker.io/library/", "index.docker.io/library/", "docker.io/", "library/"}) {
    if (repo.starts_with(prefix)) {
      repo.erase(0, prefix.size());
      break;
    }
  }
  return {repo, tag};
}

Result<std::unique_ptr<ImageCatalog>> ImageCatalog::open(ImageCatalogOptions options) {
  if (options.dir.empty()) return invalid_argument("image catalog: dir is required");
  std::unique_ptr<ImageCatalog> catalog(new ImageCatalog());
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) {
    return internal_error("image catalog: cannot create " + options.dir + ": " + ec.message());
  }
  catalog->dir_ = options.dir;
  catalog->kuard_path_ =
      options.kuard_path.empty() ? find_kuard_binary() : std::move(options.kuard_path);
  std::ifstream in(catalog->dir_ + "/images.json");
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    boost::system::error_code jec;
    json::value v = json::parse(ss.str(), jec);
    if (jec || !v.is_object()) {
      return internal_error("image catalog: " + catalog->dir_ + "/images.json is malformed");
    }
    if (const auto* images = v.as_object().if_contains("images");
        images != nullptr && images->is_array()) {
      for (const auto& e : images->as_array()) {
        if (!e.is_object()) continue;
        const auto& o = e.as_object();
        Image image;
        if (auto s = read_config(o, image); !s.ok()) continue;
        if (const auto* r = o.if_contains("reference"); r && r->is_string()) {
          image.reference = std::string(r->as_string());
        }
        if (const auto* r = o.if_contains("id"); r && r->is_string()) {
          image.id = std::string(r->as_string());
        }
        if (const auto* r = o.if_contains("dir"); r && r->is_string()) {
          image.dir = std::string(r->as_string());
        }
        if (!image.reference.empty()) catalog->imported_.push_back(std::move(image));
      }
    }
  }
  return catalog;
}

Result<Image> ImageCatalog::resolve(std::string_view name) const {
  auto [repo, tag] = normalize_image_name(name);
  std::string reference = repo + ":" + tag;
  {
    std::lock_guard lock(mu_);
    for (const auto& image : imported_) {
      if (image.reference == reference) {
        Image out = image;
        out.name = std::string(name);
        return out;
      }
    }
  }
  Image image;
  image.name = std::string(name);
  image.reference = reference;
  if (is_kuard_repo(repo)) {
    std::string version = kuard_version(tag);
    if (!version.empty()) {
      if (kuard_path_.empty()) {
        return not_found("image \"" + std::string(name) +
                         "\" not found in the node's image catalog: the kuard binary is missing "
                         "(set ORCH_KUARD_PATH)");
      }
      image.reference = "kuard:" + tag;
      image.id = image_id("kuard", "kuard:" + version);
      image.entrypoint = {kuard_path_};
      image.env = {{"KUARD_VERSION", version}};
      return image;
    }
  } else if (repo == "busybox") {
    image.id = image_id("busybox", "busybox:" + tag);
    image.cmd = {"sh"};
    return image;
  }
  return not_found("image \"" + std::string(name) + "\" not found in the node's image catalog");
}

Status ImageCatalog::import_image(std::string_view name, const std::string& dir) {
  auto [repo, tag] = normalize_image_name(name);
  if (repo.empty() || repo.find_first_of(" \t\n") != std::string::npos) {
    return invalid_argument("invalid image name \"" + std::string(name) + "\"");
  }
  std::error_code ec;
  fs::path abs = fs::absolute(dir, ec);
  if (ec || !fs::is_directory(abs, ec)) {
    return invalid_argument("image directory " + dir + " does not exist");
  }
  abs = fs::weakly_canonical(abs, ec);
  Image image;
  image.reference = repo + ":" + tag;
  image.dir = abs.string();
  std::string config_text = "{}";
  if (std::ifstream in(abs / "image.json"); in) {
    std::stringstream ss;
    ss << in.rdbuf();
    config_text = ss.str();
  }
  boost::system::error_code jec;
  json::value config = json::parse(config_text, jec);
  if (jec || !config.is_object()) {
    return invalid_argument((abs / "image.json").string() + " is not a JSON object");
  }
  if (auto s = read_config(config.as_object(), image); !s.ok()) {
    return invalid_argument((abs / "image.json").string() + ": " + s.message());
  }
  // A relative entrypoint program or workingDir is relative to the image directory.
  if (!image.entrypoint.empty() && image.entrypoint[0].find('/') != std::string::npos &&
      image.entrypoint[0][0] != '/') {
    image.entrypoint[0] = (abs / image.entrypoint[0]).lexically_normal().string();
  } else if (!image.entrypoint.empty() && image.entrypoint[0].find('/') == std::string::npos &&
             executable_file((abs / image.entrypoint[0]).string())) {
    image.entrypoint[0] = (abs / image.entrypoint[0]).string();
  }
  if (!image.working_dir.empty() && image.working_dir[0] != '/') {
    image.working_dir = (abs / image.working_dir).lexically_normal().string();
  }
  image.id = image_id(repo, json::serialize(image_to_json(image)));
  std::lock_guard lock(mu_);
  std::erase_if(imported_, [&](const Image& i) { return i.reference == image.reference; });
  imported_.push_back(image);
  return save_locked();
}

std::vector<std::string> ImageCatalog::imported() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& i : imported_) out.push_back(i.reference);
  return out;
}

Status ImageCatalog::save_locked() const {
  json::array images;
  for (const auto& i : imported_) images.push_back(image_to_json(i));
  std::string text = json::serialize(json::object{{"images", images}});
  std::string tmp = dir_ + "/images.json.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) return internal_error("image catalog: cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, dir_ + "/images.json", ec);
  if (ec) return internal_error("image catalog: cannot write images.json: " + ec.message());
  return ok_status();
}

}  // namespace orch::agent
