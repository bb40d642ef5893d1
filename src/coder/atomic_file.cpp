#include "coder/atomic_file.hpp"

#include <cerrno>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace cr::coder {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
namespace fs = std::filesystem;

namespace {

Error io_error(std::string message, const fs::path& path, int code) {
  return std::move(Error(Errc::io_error, Layer::config, std::move(message))
                       .with("file", path.string())
                       .with_system({code, std::system_category()}));
}

// Closes the descriptor and removes the temporary file unless the rename took it.
struct TemporaryFile {
  int fd = -1;
  std::string path;
  bool renamed = false;
  ~TemporaryFile() {
    if (fd >= 0) ::close(fd);
    if (!renamed && !path.empty()) ::unlink(path.c_str());
  }
};

bool write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

runtime::Result<fs::path> resolve_symlinks(const fs::path& path) {
  fs::path current = path;
  for (int hops = 0; hops < 40; ++hops) {
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(current, ec))) return current;
    fs::path target = fs::read_symlink(current, ec);
    if (ec) return runtime::fail(io_error("could not read the symbolic link", current, ec.value()));
    current = target.is_absolute() ? target : current.parent_path() / target;
  }
  return runtime::fail(std::move(Error(Errc::invalid_argument, Layer::config, "too many levels of symbolic links")
                                     .with("file", path.string())));
}

runtime::Result<std::optional<std::string>> read_file_if_exists(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::optional<std::string>();
    return runtime::fail(io_error("could not read the file", path, errno));
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return runtime::fail(io_error("could not read the file", path, EIO));
  return std::optional<std::string>(content.str());
}

runtime::Result<void> write_file_atomically(const fs::path& requested, std::string_view content, fs::perms new_file_mode,
                                            fs::perms new_folder_mode) {
  auto resolved = resolve_symlinks(requested);
  if (!resolved) return runtime::fail(std::move(resolved.error()));
  const fs::path path = *resolved;
  const fs::path folder = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::error_code ec;
  if (!fs::exists(folder, ec)) {
    fs::create_directories(folder, ec);
    if (ec) return runtime::fail(io_error("could not create the folder", folder, ec.value()));
    fs::permissions(folder, new_folder_mode, ec);
    if (ec) return runtime::fail(io_error("could not set the folder's mode", folder, ec.value()));
  }
  mode_t mode = static_cast<mode_t>(new_file_mode);
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0) mode = existing.st_mode & 07777;

  TemporaryFile temporary;
  temporary.path = (folder / ("." + path.filename().string() + ".XXXXXX")).string();
  temporary.fd = ::mkstemp(temporary.path.data());
  if (temporary.fd < 0) {
    temporary.path.clear();
    return runtime::fail(io_error("could not create a temporary file beside it", path, errno));
  }
  if (!write_all(temporary.fd, content)) return runtime::fail(io_error("could not write", temporary.path, errno));
  if (::fchmod(temporary.fd, mode) != 0) return runtime::fail(io_error("could not set the mode", temporary.path, errno));
  if (::fsync(temporary.fd) != 0) return runtime::fail(io_error("could not flush", temporary.path, errno));
  if (::rename(temporary.path.c_str(), path.c_str()) != 0) {
    return runtime::fail(io_error("could not replace the file", path, errno));
  }
  temporary.renamed = true;
  // The rename itself survives a crash once the folder is flushed too.
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_fd >= 0) {
    ::fsync(folder_fd);
    ::close(folder_fd);
  }
  return {};
}

}  // namespace cr::coder
