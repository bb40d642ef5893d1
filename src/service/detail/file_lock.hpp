#pragma once
// Internal to src/service/ (POSIX): the holder's locks.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "runtime/error.hpp"

namespace cr::service::detail {

// A file lock (flock) held while this object lives; the descriptor is close-on-exec, so nothing
// we start holds it after us.
class FileLock {
 public:
  static runtime::Result<FileLock> open(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      runtime::Error error(runtime::Errc::io_error, runtime::Layer::runtime,
                           fmt::format("could not open {}", path.string()));
      return runtime::fail(std::move(error).with_system({errno, std::system_category()}));
    }
    return FileLock(fd);
  }
  FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool try_lock() { return ::flock(fd_, LOCK_EX | LOCK_NB) == 0; }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace cr::service::detail
