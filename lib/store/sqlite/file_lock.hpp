// An exclusive advisory lock on a file (flock), held for the lifetime of the object, recording the
// holder's pid in the file so that a second opener can say who holds it.
//
// flock locks belong to the open file description, so a second FileLock on the same path fails
// even inside the same process, and the kernel releases the lock when the holder dies (SIGKILL
// included): no stale lock survives a crash.
//
// Thread-safety: acquire() is safe from any thread; a FileLock is otherwise a plain value.
#pragma once

#include <memory>
#include <string>

#include "orch/status.hpp"

namespace orch::store::sqlite {

class FileLock {
 public:
  // Takes the lock on `lock_path` (created when absent) without waiting. Errors:
  // Unavailable "<display> is in use by another process (pid N)" when held elsewhere;
  // InvalidArgument "<display>: cannot open for writing: ..." when the file cannot be created or
  // opened for writing (missing or read-only directory).
  static Result<std::unique_ptr<FileLock>> acquire(const std::string& lock_path,
                                                   const std::string& display);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  const int fd_;  // const after construction
};

}  // namespace orch::store::sqlite
