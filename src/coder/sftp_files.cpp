#include "coder/sftp_files.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "runtime/deadline.hpp"
#include "ssh/sftp/remote_path.hpp"

namespace cr::coder::sftp_files {
namespace {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;
using ssh::sftp::base_name;
using ssh::sftp::FileAttributes;
using ssh::sftp::join_remote;
using ssh::sftp::parent_of;
using ssh::sftp::temporary_name;

// As many links as Linux follows before ELOOP.
constexpr int kMaxLinks = 40;
constexpr std::uint32_t kPermissionBits = 07777;
constexpr std::uint32_t kNewFileMode = 0600;
constexpr std::uint32_t kAccessBits = 0777;
// A failed write's cleanup runs after its caller has given up: it must not hang on a dead server.
constexpr auto kCleanupBudget = std::chrono::seconds(5);

// pkg/sftp on Windows writes "C:\x" as "/C:/x" and reads only that: a caller's (or a symlink's)
// "C:\x" or "C:/x" is put that way. Other paths stay as they are (a backslash is a plain
// character in a POSIX name).
std::string wire_path(std::string path) {
  const bool drive = path.size() >= 2 && std::isalpha(static_cast<unsigned char>(path[0])) && path[1] == ':' &&
                     (path.size() == 2 || path[2] == '\\' || path[2] == '/');
  if (!drive) return path;
  std::replace(path.begin(), path.end(), '\\', '/');
  return "/" + path;
}

// The file `path` stands for once its symlinks are followed, with its attributes; nullopt
// attributes for a path where nothing is yet.
struct Resolved {
  std::string path;
  std::optional<FileAttributes> attrs;
};

asio::awaitable<Result<Resolved>> follow_links(ssh::sftp::Client& client, std::string path) {
  for (int followed = 0; followed <= kMaxLinks; ++followed) {
    auto attrs = co_await client.lstat(path);
    if (!attrs) {
      if (attrs.error().code == Errc::not_found) co_return Resolved{std::move(path), std::nullopt};
      co_return runtime::fail(std::move(attrs.error()));
    }
    if (!attrs->is_symlink()) co_return Resolved{std::move(path), std::move(*attrs)};
    auto target = co_await client.readlink(path);
    if (!target) co_return runtime::fail(std::move(target.error()));
    auto named = wire_path(std::move(*target));
    path = named.starts_with('/') ? std::move(named) : join_remote(parent_of(path), named);
  }
  co_return runtime::fail(
      std::move(Error(Errc::invalid_argument, Layer::sftp, fmt::format("{} goes through too many symlinks", path))
                    .with("limit", std::to_string(kMaxLinks))));
}

// The temporary file, open for writing, with the mode the target will have: the WRITEs go through
// the handle, which the mode does not bind, and nothing but the rename is done by the temporary's
// name (in a directory others may write, a name could be swapped between two requests). pkg/sftp
// ignores OPEN's attributes (it creates 0644), so the mode is set again before any byte is written.
asio::awaitable<Result<ssh::sftp::File>> create_temporary(ssh::sftp::Client& client, const std::string& path,
                                                          std::uint32_t mode) {
  FileAttributes attrs;
  attrs.permissions = mode;
  namespace flags = ssh::sftp::open_flags;
  auto file = co_await client.open(path, flags::write | flags::create | flags::exclusive, attrs);
  if (!file) co_return runtime::fail(std::move(file.error()));
  auto moded = co_await client.fsetstat(*file, attrs);
  if (moded) co_return std::move(*file);
  [[maybe_unused]] auto closed = co_await client.close(*file);
  co_return runtime::fail(std::move(moded.error()));
}

asio::awaitable<Result<void>> replace(ssh::sftp::Client& client, std::string from, std::string to) {
  // Version 3's RENAME does not replace an existing file on OpenSSH's server; posix-rename does,
  // atomically. Every server we know offers it; another gets RENAME and its own answer.
  if (client.has_extension("posix-rename@openssh.com")) co_return co_await client.posix_rename(from, to);
  co_return co_await client.rename(from, to);
}

asio::awaitable<Result<void>> remove_temporary(ssh::sftp::Client& client, std::string path) {
  co_await asio::this_coro::reset_cancellation_state();
  auto removing = client.remove(std::move(path));
  co_return co_await runtime::with_deadline(runtime::Deadline::after(kCleanupBudget), std::move(removing), Layer::sftp,
                                            "removing the temporary file");
}

// The source's next bytes, counted: the write must see exactly the size it was promised.
asio::awaitable<Result<std::size_t>> counted_read(const ssh::sftp::UploadSource& source, std::uint64_t& received,
                                                  runtime::Bytes buffer) {
  auto got = co_await source(buffer);
  if (got) received += *got;
  co_return got;
}

// The temporary file, its bytes, then the rename over the target.
asio::awaitable<Result<void>> write_through(ssh::sftp::Client& client, const std::string& temporary,
                                            const std::string& target, ssh::sftp::UploadSource source,
                                            std::uint64_t size, std::uint32_t mode) {
  auto created = co_await create_temporary(client, temporary, mode & kAccessBits);
  if (!created) co_return runtime::fail(std::move(created.error()));
  std::uint64_t received = 0;
  ssh::sftp::UploadSource counting = [&source, &received](runtime::Bytes buffer) {
    return counted_read(source, received, buffer);
  };
  ssh::sftp::TransferOptions options;
  auto written = co_await client.upload(std::move(counting), std::move(*created), std::move(options));
  if (!written) co_return runtime::fail(std::move(written.error()));
  if (received != size) {
    co_return runtime::fail(
        std::move(Error(Errc::io_error, Layer::sftp,
                        fmt::format("writing {} failed: received {} of {} bytes", target, received, size))
                      .with("path", target)));
  }
  // A write by a non-root user clears set-user-ID and set-group-ID, so those (and the sticky bit)
  // can only be put back once the bytes are in, by name.
  if ((mode & ~kAccessBits) != 0) {
    FileAttributes attrs;
    attrs.permissions = mode;
    auto moded = co_await client.setstat(temporary, std::move(attrs));
    if (!moded) co_return runtime::fail(std::move(moded.error()));
  }
  co_return co_await replace(client, temporary, target);
}

asio::awaitable<Result<void>> append_to(std::string& content, runtime::ConstBytes chunk) {
  content.append(runtime::as_text(chunk));
  co_return Result<void>{};
}

asio::awaitable<Result<std::size_t>> copy_next(const std::string& content, std::size_t& offset, runtime::Bytes buffer) {
  const auto n = std::min(buffer.size(), content.size() - offset);
  std::copy_n(content.data() + offset, n, reinterpret_cast<char*>(buffer.data()));
  offset += n;
  co_return n;
}

}  // namespace

asio::awaitable<Result<std::string>> read_file(ssh::sftp::Client& client, std::string path) {
  path = wire_path(std::move(path));
  std::string content;
  ssh::sftp::DownloadSink append = [&content](runtime::ConstBytes chunk) { return append_to(content, chunk); };
  ssh::sftp::TransferOptions options;
  auto read = co_await client.download(std::move(path), std::move(append), std::move(options));
  if (!read) co_return runtime::fail(std::move(read.error()));
  co_return content;
}

asio::awaitable<Result<void>> write_file(ssh::sftp::Client& client, std::string path, ssh::sftp::UploadSource source,
                                         std::uint64_t size) {
  path = wire_path(std::move(path));
  auto resolved = co_await follow_links(client, std::move(path));
  if (!resolved) co_return runtime::fail(std::move(resolved.error()));
  const auto mode =
      resolved->attrs && resolved->attrs->permissions ? *resolved->attrs->permissions & kPermissionBits : kNewFileMode;
  const auto temporary = join_remote(parent_of(resolved->path), temporary_name(base_name(resolved->path)));
  auto written = co_await write_through(client, temporary, resolved->path, std::move(source), size, mode);
  if (written) co_return written;
  // Whatever step failed, the temporary file may exist by now (the OPEN may have been answered
  // after its waiter was cancelled).
  [[maybe_unused]] auto removed = co_await remove_temporary(client, temporary);
  co_return runtime::fail(std::move(written.error()).while_(fmt::format("writing {}", resolved->path)));
}

asio::awaitable<Result<void>> write_file(ssh::sftp::Client& client, std::string path, std::string content) {
  const auto size = content.size();
  ssh::sftp::UploadSource source = [content = std::move(content), offset = std::size_t{0}](
                                       runtime::Bytes buffer) mutable { return copy_next(content, offset, buffer); };
  co_return co_await write_file(client, std::move(path), std::move(source), size);
}

asio::awaitable<Result<FileInfo>> stat(ssh::sftp::Client& client, std::string path) {
  path = wire_path(std::move(path));
  auto attrs = co_await client.stat(std::move(path));
  if (!attrs) co_return runtime::fail(std::move(attrs.error()));
  FileInfo info;
  info.size = attrs->size.value_or(0);
  info.mode = attrs->permissions.value_or(0) & kPermissionBits;
  info.modified = attrs->mtime.value_or(0);
  info.is_directory = attrs->is_directory();
  co_return info;
}

asio::awaitable<Result<void>> ensure_dir(ssh::sftp::Client& client, std::string path) {
  path = wire_path(std::move(path));
  // Walk up to the first directory that exists, then make the missing ones downwards.
  std::vector<std::string> missing;
  for (std::string at = path;; at = parent_of(at)) {
    auto attrs = co_await client.stat(at);
    if (attrs) {
      if (!attrs->is_directory()) {
        co_return runtime::fail(std::move(
            Error(Errc::invalid_argument, Layer::sftp, fmt::format("{} is in the way and is not a directory", at))
                .with("path", path)));
      }
      break;
    }
    if (attrs.error().code != Errc::not_found) co_return runtime::fail(std::move(attrs.error()));
    missing.push_back(at);
    if (parent_of(at) == at || parent_of(at) == ".") break;
  }
  for (auto at = missing.rbegin(); at != missing.rend(); ++at) {
    FileAttributes server_default;
    auto made = co_await client.mkdir(*at, std::move(server_default));
    if (made) continue;
    // Someone else may have made it meanwhile, which is as good.
    auto attrs = co_await client.stat(*at);
    if (!attrs || !attrs->is_directory()) co_return runtime::fail(std::move(made.error()));
  }
  co_return Result<void>{};
}

asio::awaitable<Result<std::string>> resolve_path(ssh::sftp::Client& client, std::string path) {
  path = wire_path(std::move(path));
  if (path.starts_with('/')) co_return path;
  std::string rest = path;
  if (path.starts_with('~')) {
    // expand-path knows the home even where the server does not start in it, and other users'.
    if (client.has_extension("expand-path@openssh.com")) co_return co_await client.expand_path(std::move(path));
    if (path != "~" && !path.starts_with("~/")) {
      co_return runtime::fail(
          std::move(Error(Errc::refused, Layer::sftp,
                          fmt::format("{} names another user's home, which this SFTP server cannot expand", path))
                        .with("missing extension", "expand-path@openssh.com")));
    }
    rest = path.size() > 2 ? path.substr(2) : "";
  }
  auto base = co_await client.realpath(".");
  if (!base) co_return runtime::fail(std::move(base.error()));
  co_return rest.empty() ? *base : join_remote(*base, rest);
}

}  // namespace cr::coder::sftp_files
