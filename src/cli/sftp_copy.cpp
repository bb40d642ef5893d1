#include "cli/sftp_copy.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

#ifndef _WIN32
#include <sys/stat.h>
#endif

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/local_terminal.hpp"
#include "cli/progress_line.hpp"
#include "cli/ssh_connect.hpp"
#include "ssh/connection.hpp"
#include "ssh/sftp/remote_path.hpp"
#include "runtime/paths.hpp"

namespace cr::cli {
namespace {

namespace fs = std::filesystem;
namespace sftp = ssh::sftp;
using sftp::base_name;
using sftp::join_remote;
using sftp::parent_of;
using sftp::temporary_name;

// What a copy has to say about one file that failed; the others still go.
struct Failures {
  std::string_view program;
  int count = 0;
  void add(std::string_view what) {
    ++count;
    write_stderr(fmt::format("{}: {}\n", program, what));
  }
  void add(std::string_view path, const runtime::Error& error) { add(fmt::format("{}: {}", path, error.summary())); }
};

// How deep -r goes, as OpenSSH's MAX_DIR_DEPTH: a loop of symbolic links ends here.
constexpr int kMaxDepth = 64;

// A name a server listed in a directory: one plain file name, or a server trying to write
// elsewhere ("../x", "/etc/x", "a/b"; on Windows "..\x" and "C:x" too), which OpenSSH refuses too.
bool is_plain_name(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos) return false;
#ifdef _WIN32
  if (name.find_first_of("\\:") != std::string_view::npos) return false;
#endif
  const auto path = runtime::utf8_to_path(name);
  return !path.has_root_path() && path.filename() == path;
}

asio::awaitable<runtime::Result<std::size_t>> read_chunk(std::shared_ptr<std::ifstream> input, runtime::Bytes buffer) {
  input->read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(buffer.size()));
  if (input->bad()) co_return runtime::fail(runtime::Errc::io_error, runtime::Layer::cli, "reading the file failed");
  co_return static_cast<std::size_t>(input->gcount());
}

asio::awaitable<runtime::Result<void>> write_chunk(std::shared_ptr<std::ofstream> output, runtime::ConstBytes chunk) {
  output->write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(chunk.size()));
  if (!*output) co_return runtime::fail(runtime::Errc::io_error, runtime::Layer::cli, "writing the file failed");
  co_return runtime::Result<void>{};
}

// The permission bits a copy carries, as OpenSSH's: no setuid, setgid or sticky bit.
std::uint32_t mode_bits(std::uint32_t mode) { return mode & 0777; }
std::uint32_t mode_bits(fs::perms perms) { return mode_bits(static_cast<std::uint32_t>(perms)); }

#ifndef _WIN32
// What a new local file gets without -p: the server's mode less our umask, as open(2) would give.
// (Windows files carry no such mode.)
std::uint32_t without_umask(std::uint32_t mode) {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return mode & ~static_cast<std::uint32_t>(mask);
}
#endif

// The SFTP session and the rules of one copy.
struct Copier {
  std::shared_ptr<sftp::Client> sftp;
  const CopyOptions& options;
  Failures failures{options.program};

  // size: the whole, where the transfer cannot know it (an upload's source).
  sftp::TransferOptions transfer_options(std::shared_ptr<ProgressLine> progress,
                                         std::optional<std::uint64_t> size = std::nullopt) const {
    sftp::TransferOptions transfer;
    if (progress) {
      transfer.progress = [progress, size](std::uint64_t done, std::optional<std::uint64_t> total) {
        progress->update(done, total ? total : size);
      };
    }
    return transfer;
  }

  std::shared_ptr<ProgressLine> progress_for(std::string_view name) const {
    if (!options.show_progress) return nullptr;
    return std::make_shared<ProgressLine>(std::string(name));
  }

  // "~" and "~/x" are the login directory, where the server starts; "~user/x" is expanded by the
  // server when it offers expand-path@openssh.com.
  asio::awaitable<runtime::Result<std::string>> remote_path(std::string path) {
    if (!path.starts_with('~')) co_return path;
    if (path == "~") co_return std::string(".");
    if (path.starts_with("~/")) co_return path.substr(2);
    co_return co_await sftp->expand_path(std::move(path));
  }

  // A remote file is written under a temporary name and renamed over the target once whole, so
  // a failed copy leaves the target as it was. A target that is not a plain file (a symbolic
  // link, a device such as /dev/null) is written in place instead, as scp writes every target:
  // renaming over it would replace the link or the device.
  asio::awaitable<void> upload_file(fs::path local, std::string remote) {
    std::error_code ec;
    const auto size = fs::file_size(local, ec);
    if (ec) {
      failures.add(fmt::format("{}: {}", runtime::path_to_utf8(local), ec.message()));
      co_return;
    }
    auto input = std::make_shared<std::ifstream>(local, std::ios::binary);
    if (!*input) {
      failures.add(fmt::format("{}: cannot be read", runtime::path_to_utf8(local)));
      co_return;
    }
    auto existing = co_await sftp->lstat(remote);
    const bool in_place = existing && !existing->is_regular();
    const auto written_to = in_place ? remote : join_remote(parent_of(remote), temporary_name(base_name(remote)));
    auto progress = progress_for(base_name(remote));
    auto transfer = transfer_options(progress, size);
    const auto mode = mode_bits(fs::status(local, ec).permissions());
    if (!in_place) transfer.permissions = mode;
    sftp::UploadSource source = [input](runtime::Bytes buffer) { return read_chunk(input, buffer); };
    auto uploaded = co_await sftp->upload(std::move(source), written_to, std::move(transfer));
    if (progress) progress->finish();
    if (!uploaded) {
      if (!in_place) {
        [[maybe_unused]] auto removed = co_await sftp->remove(written_to);  // it may never have been made
      }
      failures.add(remote, uploaded.error());
      co_return;
    }
    if (options.preserve) {
      sftp::FileAttributes attrs;
      attrs.permissions = mode;
      const auto modified = fs::last_write_time(local, ec);
      if (!ec) {
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
            fs::file_time_type::clock::to_sys(modified).time_since_epoch());
        attrs.atime = static_cast<std::uint32_t>(seconds.count());
        attrs.mtime = static_cast<std::uint32_t>(seconds.count());
      }
      auto set = co_await sftp->setstat(written_to, attrs);
      if (!set) failures.add(remote, set.error());
    }
    if (in_place) co_return;
    auto renamed = co_await replace(written_to, remote);
    if (!renamed) {
      [[maybe_unused]] auto removed = co_await sftp->remove(written_to);
      failures.add(remote, renamed.error());
    }
  }

  // posix-rename where the server offers it (OpenSSH's sftp-server and pkg/sftp do); otherwise
  // version 3's RENAME, which refuses an existing target, after removing the target, so there
  // the old file is gone for a moment.
  asio::awaitable<runtime::Result<void>> replace(std::string from, std::string to) {
    if (sftp->has_extension("posix-rename@openssh.com")) co_return co_await sftp->posix_rename(from, to);
    auto existing = co_await sftp->lstat(to);
    if (existing) {
      auto removed = co_await sftp->remove(to);
      if (!removed) co_return removed;
    }
    co_return co_await sftp->rename(from, to);
  }

  asio::awaitable<void> upload(fs::path local, std::string remote, int depth) {
    std::error_code ec;
    const auto status = fs::status(local, ec);
    if (ec) {
      failures.add(fmt::format("{}: {}", runtime::path_to_utf8(local), ec.message()));
      co_return;
    }
    if (fs::is_regular_file(status)) {
      co_await upload_file(std::move(local), std::move(remote));
      co_return;
    }
    if (!fs::is_directory(status)) {
      failures.add(fmt::format("{}: not a regular file", runtime::path_to_utf8(local)));
      co_return;
    }
    if (!options.recursive) {
      failures.add(fmt::format("{}: a directory (use -r)", runtime::path_to_utf8(local)));
      co_return;
    }
    if (depth > kMaxDepth) {
      failures.add(fmt::format("{}: more than {} directories deep", runtime::path_to_utf8(local), kMaxDepth));
      co_return;
    }
    auto existing = co_await sftp->stat(remote);
    if (!existing) {
      sftp::FileAttributes attrs;
      attrs.permissions = mode_bits(status.permissions());
      auto made = co_await sftp->mkdir(remote, attrs);
      if (!made) {
        failures.add(remote, made.error());
        co_return;
      }
    } else if (!existing->is_directory()) {
      failures.add(fmt::format("{}: not a directory", remote));
      co_return;
    }
    fs::directory_iterator entry(local, ec);
    for (; !ec && entry != fs::directory_iterator(); entry.increment(ec)) {
      auto inner = join_remote(remote, runtime::path_to_utf8(entry->path().filename()));
      co_await upload(entry->path(), std::move(inner), depth + 1);
    }
    if (ec) failures.add(fmt::format("{}: {}", runtime::path_to_utf8(local), ec.message()));
  }

  // A local file is written as a remote one is: under a temporary name beside the target unless
  // the target is a symbolic link, a device or has other hard links, which are written in place.
  asio::awaitable<void> download_file(std::string remote, fs::path local, sftp::FileAttributes attrs) {
    std::error_code ec;
    const auto existing = fs::symlink_status(local, ec);
    const bool in_place =
        fs::exists(existing) && (!fs::is_regular_file(existing) || fs::hard_link_count(local, ec) > 1);
    const auto written_to =
        in_place ? local : local.parent_path() / temporary_name(runtime::path_to_utf8(local.filename()));
    auto output = std::make_shared<std::ofstream>(written_to, std::ios::binary | std::ios::trunc);
    if (!*output) {
      failures.add(fmt::format("{}: cannot be written", runtime::path_to_utf8(written_to)));
      co_return;
    }
    const auto drop_temporary = [&] {
      output->close();
      if (!in_place) fs::remove(written_to, ec);
    };
    auto progress = progress_for(base_name(remote));
    sftp::DownloadSink sink = [output](runtime::ConstBytes chunk) { return write_chunk(output, chunk); };
    auto transfer = transfer_options(progress);
    auto downloaded = co_await sftp->download(remote, std::move(sink), std::move(transfer));
    if (progress) progress->finish();
    output->close();
    if (!downloaded) {
      drop_temporary();
      failures.add(remote, downloaded.error());
      co_return;
    }
    if (!*output) {
      drop_temporary();
      failures.add(fmt::format("{}: writing failed", runtime::path_to_utf8(local)));
      co_return;
    }
    if (in_place) co_return;
#ifndef _WIN32
    if (attrs.permissions) {
      const auto mode = options.preserve ? mode_bits(*attrs.permissions) : without_umask(mode_bits(*attrs.permissions));
      fs::permissions(written_to, static_cast<fs::perms>(mode), ec);
    }
#endif
    if (options.preserve && attrs.mtime) {
      const auto when = fs::file_time_type::clock::from_sys(
          std::chrono::system_clock::time_point(std::chrono::seconds(*attrs.mtime)));
      fs::last_write_time(written_to, when, ec);
    }
    fs::rename(written_to, local, ec);
    if (ec) {
      failures.add(fmt::format("{}: {}", runtime::path_to_utf8(local), ec.message()));
      drop_temporary();
    }
  }

  asio::awaitable<void> download(std::string remote, fs::path local, int depth) {
    auto attrs = co_await sftp->stat(remote);
    if (!attrs) {
      failures.add(remote, attrs.error());
      co_return;
    }
    if (attrs->is_regular()) {
      co_await download_file(std::move(remote), std::move(local), *attrs);
      co_return;
    }
    if (!attrs->is_directory()) {
      failures.add(fmt::format("{}: not a regular file", remote));
      co_return;
    }
    if (!options.recursive) {
      failures.add(fmt::format("{}: a directory (use -r)", remote));
      co_return;
    }
    if (depth > kMaxDepth) {
      failures.add(fmt::format("{}: more than {} directories deep", remote, kMaxDepth));
      co_return;
    }
    std::error_code ec;
    fs::create_directory(local, ec);
    if (ec) {
      failures.add(fmt::format("{}: {}", runtime::path_to_utf8(local), ec.message()));
      co_return;
    }
    auto entries = co_await sftp->list_directory(remote);
    if (!entries) {
      failures.add(remote, entries.error());
      co_return;
    }
    for (const auto& entry : *entries) {
      if (!is_plain_name(entry.filename)) {
        failures.add(fmt::format("{}: the server listed a suspect name, skipped: {}", remote,
                                 runtime::printable(entry.filename)));
        continue;
      }
      auto inner = join_remote(remote, entry.filename);
      auto inner_local = local / runtime::utf8_to_path(entry.filename);
      // The listing's attributes are lstat's: a plain file needs no STAT of its own (one round
      // trip a file); a link is followed by the STAT in download.
      if (entry.attrs.is_regular()) {
        co_await download_file(std::move(inner), std::move(inner_local), entry.attrs);
      } else {
        co_await download(std::move(inner), std::move(inner_local), depth + 1);
      }
    }
  }
};

// Into a directory when the target is one, as cp and scp do; several sources need one.
asio::awaitable<int> copy(Copier& copier, const std::vector<ScpOperand>& sources, const ScpOperand& target) {
  const bool several = sources.size() > 1;
  if (target.remote) {
    auto resolved = co_await copier.remote_path(target.remote->path);
    if (!resolved) {
      copier.failures.add(target.remote->path, resolved.error());
      co_return kExitCopyFailed;
    }
    const auto directory = std::move(*resolved);
    auto attrs = co_await copier.sftp->stat(directory);
    const bool into_directory = attrs && attrs->is_directory();
    if (several && !into_directory) {
      copier.failures.add(fmt::format("{}: not a directory", directory));
      co_return kExitCopyFailed;
    }
    for (const auto& source : sources) {
      const fs::path local = runtime::utf8_to_path(source.local_path);
      const auto name =
          runtime::path_to_utf8(local.filename().empty() ? local.parent_path().filename() : local.filename());
      auto remote = into_directory ? join_remote(directory, name) : directory;
      co_await copier.upload(local, std::move(remote), 0);
    }
  } else {
    const fs::path directory = runtime::utf8_to_path(target.local_path);
    std::error_code ec;
    const bool into_directory = fs::is_directory(directory, ec);
    if (several && !into_directory) {
      copier.failures.add(fmt::format("{}: not a directory", target.local_path));
      co_return kExitCopyFailed;
    }
    for (const auto& source : sources) {
      auto resolved = co_await copier.remote_path(source.remote->path);
      if (!resolved) {
        copier.failures.add(source.remote->path, resolved.error());
        continue;
      }
      auto local = into_directory ? directory / runtime::utf8_to_path(base_name(*resolved)) : directory;
      co_await copier.download(std::move(*resolved), std::move(local), 0);
    }
  }
  co_return copier.failures.count == 0 ? 0 : kExitCopyFailed;
}

bool same_server(const RemoteFile& a, const RemoteFile& b) {
  return a.user == b.user && a.host == b.host && a.port == b.port;
}

}  // namespace

const RemoteFile* one_server(const std::vector<ScpOperand>& sources, const ScpOperand& target,
                             std::string_view target_text, std::string_view program) {
  const RemoteFile* server = target.remote            ? &*target.remote
                             : sources.front().remote ? &*sources.front().remote
                                                      : nullptr;
  for (const auto& source : sources) {
    const bool usable = target.remote ? !source.remote : source.remote && same_server(*source.remote, *server);
    if (!usable || !server) {
      write_stderr(fmt::format(
          "{}: copies go between this machine and one server: '{}' to '{}' is not supported\n", program,
          source.remote ? fmt::format("{}:{}", source.remote->host, source.remote->path) : source.local_path,
          target_text));
      return nullptr;
    }
  }
  return server;
}

asio::awaitable<int> copy_over_sftp(std::shared_ptr<ssh::sftp::Client> sftp, const CopyOptions& options,
                                    const std::vector<ScpOperand>& sources, const ScpOperand& target) {
  Copier copier{std::move(sftp), options};
  co_return co_await copy(copier, sources, target);
}

asio::awaitable<int> copy_on_connection(std::shared_ptr<ssh::Connection> connection, const CopyOptions& options,
                                        const std::vector<ScpOperand>& sources, const ScpOperand& target,
                                        runtime::Logger log) {
  auto started = co_await sftp::Client::start(*connection);
  if (!started) {
    co_await connection->close();
    co_return report_failure(started.error(), log);
  }
  const int code = co_await copy_over_sftp(*started, options, sources, target);
  co_await (*started)->close();
  co_await connection->close();
  co_return code;
}

void add_copy_flags(CLI::App& command, bool& recursive, bool& preserve, bool& quiet) {
  command.add_flag("-r", recursive, "Copy directories and what they hold");
  command.add_flag("-p", preserve, "Keep the modification times (modes are always kept)");
  command.add_flag("-q", quiet, "No progress line");
}

}  // namespace cr::cli
