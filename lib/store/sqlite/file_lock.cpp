// flock-based exclusive lock with the holder's pid (see file_lock.hpp).
// Thread-safety: no shared state.
#include "sqlite/file_lock.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

namespace orch::store::sqlite {
namespace {

// The pid written by the current holder, or "unknown" (it may be between open and write).
std::string read_holder_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return "unknown";
  std::string text(buf, static_cast<std::size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return "unknown";
  return text;
}

}  // namespace

Result<std::unique_ptr<FileLock>> FileLock::acquire(const std::string& lock_path,
                                                    const std::string& display) {
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    return invalid_argument(
        fmt::format("{}: cannot open for writing: {}: {}", display, lock_path, std::strerror(err)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      std::string pid = read_holder_pid(fd);
      ::close(fd);
      const bool self = pid == std::to_string(::getpid());
      return unavailable(fmt::format("{} is in use by {} (pid {})", display,
                                     self ? "this process (opened twice)" : "another process",
                                     pid));
    }
    ::close(fd);
    return internal_error(fmt::format("{}: flock {}: {}", display, lock_path, std::strerror(err)));
  }
  // Record who holds it. Failure here only degrades the message a second opener prints.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    [[maybe_unused]] const ssize_t n = ::pwrite(fd, pid.data(), pid.size(), 0);
  }
  return std::unique_ptr<FileLock>(new FileLock(fd));
}

FileLock::~FileLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace orch::store::sqlite
