// ImageCatalog: the node's local images for the process runtime (no registry, no pulls).
//
// An image is a program on this machine plus the defaults a container of it starts with:
// - `kuard` (tags latest, blue, green, purple, 1, 2, 3; also `gcr.io/kuar-demo/kuard-amd64:<tag>`
//   and `kuard-arm64`): the kuard binary built with liborch, with KUARD_VERSION set from the tag
//   (latest and 1 -> blue, 2 -> green, 3 -> purple).
// - `busybox` (any tag): the host's programs; no entrypoint, default command `sh`, so a pod's
//   `command`/`args` run as they would in Docker's busybox image, found through PATH.
// - directory images added with import_image(): `<dir>/image.json` (optional) holds
//   {"entrypoint": [...], "cmd": [...], "env": ["K=V", ...], "workingDir": "..."}; a relative
//   entrypoint or workingDir is relative to <dir>. Recorded in `<catalog dir>/images.json`, so they
//   survive a restart. An imported name shadows a built-in one.
// Names are normalized like Docker's: `docker.io/library/` is dropped, a missing tag is
// `latest`, a digest (`@sha256:...`) is ignored.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orch/status.hpp"

namespace orch::agent {

struct Image {
  std::string name;       // as asked for
  std::string reference;  // normalized "repo:tag", e.g. "kuard:blue"
  std::string id;         // stable, e.g. "orch://kuard@sha256:<64 hex>"
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::pair<std::string, std::string>> env;
  std::string working_dir;  // absolute, or "" for the runtime's default
  std::string dir;          // a directory image's directory; "" for built-ins
};

struct ImageCatalogOptions {
  // Where imported images are recorded (created when missing). Required.
  std::string dir;
  // The kuard binary. Default: find_kuard_binary().
  std::string kuard_path;
};

// Where the kuard binary is: $ORCH_KUARD_PATH, else `kuard` next to the running executable, else
// `apps/kuard/kuard` in a build tree above it (so test binaries find it). "" when none exists.
std::string find_kuard_binary();

// "docker.io/library/busybox" -> {"busybox", "latest"}; "kuard:blue@sha256:..." ->
// {"kuard","blue"}.
std::pair<std::string, std::string> normalize_image_name(std::string_view name);

class ImageCatalog {
 public:
  // Loads the recorded imports. Internal when the catalog dir cannot be created or its index is
  // unreadable.
  static Result<std::unique_ptr<ImageCatalog>> open(ImageCatalogOptions options);

  // NotFound, with a message such as `image "foo:1" not found in the node's image catalog`, for an
  // unknown name (and for kuard when its binary is missing).
  Result<Image> resolve(std::string_view name) const;

  // Adds (or replaces) `name` as the directory image `dir` (made absolute). InvalidArgument for a
  // bad name, a missing directory or a malformed image.json; Internal when the index cannot be
  // written.
  Status import_image(std::string_view name, const std::string& dir);

  // The normalized names of the imported images.
  std::vector<std::string> imported() const;

  const std::string& kuard_path() const { return kuard_path_; }

 private:
  ImageCatalog() = default;
  Status save_locked() const;

  std::string dir_;         // const after open
  std::string kuard_path_;  // const after open
  mutable std::mutex mu_;
  std::vector<Image> imported_;  // guarded by mu_
};

}  // namespace orch::agent
