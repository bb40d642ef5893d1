#include "runtime/atomic_file.hpp"

#include <cerrno>
#include <fstream>
#include <random>
#include <sstream>

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <fmt/format.h>

#include "runtime/paths.hpp"

namespace cr::runtime {

namespace fs = std::filesystem;

namespace {

Error io_error(std::string message, const fs::path& path, int code) {
  return std::move(Error(Errc::io_error, Layer::config, std::move(message))
                       .with("file", path_to_utf8(path))
                       .with_system({code, std::system_category()}));
}

#ifdef _WIN32

// Windows has no mkstemp: a random name created with CREATE_NEW is as exclusive. MoveFileExW
// with REPLACE_EXISTING replaces the target in one step, and WRITE_THROUGH returns only once the
// move is on disk, the counterpart of fsyncing the folder.
Result<void> replace_file(const fs::path& path, const fs::path& folder, std::string_view content, fs::perms) {
  std::random_device random;
  const fs::path temporary =
      folder / utf8_to_path(fmt::format(".{}.{:08x}.tmp", path_to_utf8(path.filename()), random()));
  const HANDLE file =
      CreateFileW(temporary.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (file == INVALID_HANDLE_VALUE) {
    return fail(io_error("could not create a temporary file beside it", path, static_cast<int>(GetLastError())));
  }
  const auto give_up = [&](std::string message, const fs::path& about) {
    const auto code = static_cast<int>(GetLastError());
    CloseHandle(file);
    DeleteFileW(temporary.c_str());
    return fail(io_error(std::move(message), about, code));
  };
  for (std::string_view rest = content; !rest.empty();) {
    DWORD written = 0;
    const auto chunk = static_cast<DWORD>(std::min<std::size_t>(rest.size(), 1u << 20));
    if (!WriteFile(file, rest.data(), chunk, &written, nullptr) || written == 0)
      return give_up("could not write", temporary);
    rest.remove_prefix(written);
  }
  if (!FlushFileBuffers(file)) return give_up("could not flush", temporary);
  CloseHandle(file);
  if (!MoveFileExW(temporary.c_str(), path.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    const auto code = static_cast<int>(GetLastError());
    DeleteFileW(temporary.c_str());
    return fail(io_error("could not replace the file", path, code));
  }
  return {};
}

#else

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

Result<void> replace_file(const fs::path& path, const fs::path& folder, std::string_view content,
                          fs::perms new_file_mode) {
  mode_t mode = static_cast<mode_t>(new_file_mode);
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0) mode = existing.st_mode & 07777;

  TemporaryFile temporary;
  temporary.path = (folder / fmt::format(".{}.XXXXXX", path.filename().string())).string();
  temporary.fd = ::mkostemp(temporary.path.data(), O_CLOEXEC);
  if (temporary.fd < 0) {
    const int code = errno;
    temporary.path.clear();
    return fail(io_error("could not create a temporary file beside it", path, code));
  }
  const fs::path temporary_path = temporary.path;
  // errno is read before anything allocates: the arguments are a literal and an existing path.
  const auto failed = [](const char* what, const fs::path& about) {
    const int code = errno;
    return fail(io_error(what, about, code));
  };
  if (!write_all(temporary.fd, content)) return failed("could not write", temporary_path);
  if (::fchmod(temporary.fd, mode) != 0) return failed("could not set the mode", temporary_path);
  if (::fsync(temporary.fd) != 0) return failed("could not flush", temporary_path);
  // A write error may be reported only at close.
  const int closed = ::close(temporary.fd);
  temporary.fd = -1;
  if (closed != 0) return failed("could not write", temporary_path);
  if (::rename(temporary.path.c_str(), path.c_str()) != 0) return failed("could not replace the file", path);
  temporary.renamed = true;
  // The rename itself survives a crash once the folder is flushed too.
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_fd < 0) return failed("could not open the folder to flush it", folder);
  const int flushed = ::fsync(folder_fd);
  const int code = errno;
  ::close(folder_fd);
  if (flushed != 0) return fail(io_error("could not flush the folder", folder, code));
  return {};
}

#endif

}  // namespace

Result<fs::path> resolve_symlinks(const fs::path& path) {
  fs::path current = path;
  for (int hops = 0; hops < 40; ++hops) {
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(current, ec))) return current;
    fs::path target = fs::read_symlink(current, ec);
    if (ec) return fail(io_error("could not read the symbolic link", current, ec.value()));
    current = target.is_absolute() ? target : current.parent_path() / target;
  }
  return fail(std::move(Error(Errc::invalid_argument, Layer::config, "too many levels of symbolic links")
                            .with("file", path_to_utf8(path))));
}

Result<std::optional<std::string>> read_file_if_exists(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(path, ec) && !ec) return std::optional<std::string>();
    return fail(io_error("could not read the file", path, errno));
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return fail(io_error("could not read the file", path, EIO));
  return std::optional<std::string>(content.str());
}

Result<void> write_file_atomically(const fs::path& requested, std::string_view content, fs::perms new_file_mode,
                                   fs::perms new_folder_mode) {
  auto resolved = resolve_symlinks(requested);
  if (!resolved) return fail(std::move(resolved.error()));
  const fs::path path = *resolved;
  const fs::path folder = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::error_code ec;
  if (!fs::exists(folder, ec)) {
    fs::create_directories(folder, ec);
    if (ec) return fail(io_error("could not create the folder", folder, ec.value()));
#ifndef _WIN32  // a Windows folder takes its parent's access control list instead
    fs::permissions(folder, new_folder_mode, ec);
    if (ec) return fail(io_error("could not set the folder's mode", folder, ec.value()));
#else
    (void)new_folder_mode;
#endif
  }
  return replace_file(path, folder, content, new_file_mode);
}

}  // namespace cr::runtime
