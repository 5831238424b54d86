// Snapshot::save / Snapshot::load: a snapshot file is the line "orch-snapshot 1", a line of JSON
// (address block, node count, node names, runtime, image size), then the store image's bytes.
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "orch/cluster/cluster.hpp"

namespace orch::cluster {
namespace {

namespace json = boost::json;
constexpr std::string_view kMagic = "orch-snapshot 1";

}  // namespace

Status Snapshot::save(const std::string& path) const {
  json::array names;
  for (const auto& n : node_names) names.emplace_back(n);
  json::object header{{"addressBlock", address_block},
                      {"nodes", nodes},
                      {"nodeNames", std::move(names)},
                      {"runtime", runtime == RuntimeKind::kSimulated ? "simulated" : "process"},
                      {"storeImageBytes", store_image.size()}};
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << kMagic << '\n' << json::serialize(header) << '\n';
    out.write(store_image.data(), static_cast<std::streamsize>(store_image.size()));
    out.flush();
    if (!out) return Status(Code::kInvalidArgument, "cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status(Code::kInvalidArgument, "cannot write " + path + ": " + ec.message());
  return Status();
}

Result<std::shared_ptr<const Snapshot>> Snapshot::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, path + ": no such snapshot");
  std::string magic, header_line;
  std::getline(in, magic);
  std::getline(in, header_line);
  const Status bad(Code::kInvalidArgument, path + ": not an orch snapshot");
  if (magic != kMagic) return bad;
  boost::system::error_code ec;
  json::value header = json::parse(header_line, ec);
  if (ec || !header.is_object()) return bad;
  try {
    auto snap = std::make_shared<Snapshot>();
    const auto& h = header.as_object();
    snap->address_block = json::value_to<std::uint32_t>(h.at("addressBlock"));
    snap->nodes = json::value_to<std::size_t>(h.at("nodes"));
    snap->node_names = json::value_to<std::vector<std::string>>(h.at("nodeNames"));
    snap->runtime = h.at("runtime") == "simulated" ? RuntimeKind::kSimulated : RuntimeKind::kProcess;
    const auto size = json::value_to<std::size_t>(h.at("storeImageBytes"));
    snap->store_image.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (snap->store_image.size() != size) return bad;
    return std::shared_ptr<const Snapshot>(std::move(snap));
  } catch (const std::exception&) {
    return bad;
  }
}

}  // namespace orch::cluster
