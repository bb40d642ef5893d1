// `coder-runtime scp`: OpenSSH's scp command line (-F -i -P -o -r -p -q, `[user@]host:path` or
// scp:// on either side, several sources), over SFTP as OpenSSH's scp does by default. Each file
// goes to a temporary name beside its target and is renamed over it once whole, so a failed or
// interrupted copy leaves the target as it was. A progress line shows on a terminal (stderr).
// Exit codes are scp's: 0 when every file was copied, 1 when any was not, 255 when the connection
// failed.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <system_error>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/local_terminal.hpp"
#include "cli/progress_line.hpp"
#include "cli/scp_operand.hpp"
#include "cli/ssh_connect.hpp"
#include "runtime/paths.hpp"
#include "ssh/sftp/client.hpp"

namespace cr::cli {
namespace {

namespace fs = std::filesystem;
namespace sftp = ssh::sftp;

constexpr int kExitCopyFailed = 1;

struct ScpOptions {
  SshCommandLine line;
  bool recursive = false;
  bool preserve = false;
  bool quiet = false;
  std::vector<std::string> operands;
};

// What a copy has to say about one file that failed; the others still go.
struct Failures {
  int count = 0;
  void add(std::string_view what) {
    ++count;
    write_stderr(fmt::format("scp: {}\n", what));
  }
  void add(std::string_view path, const runtime::Error& error) { add(fmt::format("{}: {}", path, error.summary())); }
};

std::string join_remote(std::string_view directory, std::string_view name) {
  if (directory.empty() || directory.ends_with('/')) return fmt::format("{}{}", directory, name);
  return fmt::format("{}/{}", directory, name);
}

std::string base_name(std::string_view path) {
  while (path.size() > 1 && path.ends_with('/')) path.remove_suffix(1);
  const auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string parent_of(std::string_view path) {
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  return slash == 0 ? "/" : std::string(path.substr(0, slash));
}

// A name beside the target that no other copy picks: ".NAME.coder-runtime-XXXXXXXX".
std::string temporary_name(std::string_view name) {
  static std::mt19937_64 random(std::random_device{}());
  return fmt::format(".{}.coder-runtime-{:08x}", name, static_cast<std::uint32_t>(random()));
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

std::uint32_t mode_bits(fs::perms perms) { return static_cast<std::uint32_t>(perms) & 07777; }

// The SFTP session and the rules of one copy.
struct Copier {
  std::shared_ptr<sftp::Client> sftp;
  const ScpOptions& options;
  bool show_progress = false;
  Failures failures;

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
    if (!show_progress) return nullptr;
    return std::make_shared<ProgressLine>(std::string(name));
  }

  // Writes the remote file: to a temporary name, then renamed over the target.
  asio::awaitable<void> upload_file(fs::path local, std::string remote) {
    std::error_code ec;
    const auto status = fs::status(local, ec);
    if (ec) {
      failures.add(fmt::format("{}: {}", runtime::path_to_utf8(local), ec.message()));
      co_return;
    }
    auto input = std::make_shared<std::ifstream>(local, std::ios::binary);
    if (!*input) {
      failures.add(fmt::format("{}: cannot be read", runtime::path_to_utf8(local)));
      co_return;
    }
    const auto temporary = join_remote(parent_of(remote), temporary_name(base_name(remote)));
    auto progress = progress_for(base_name(remote));
    const auto size = fs::file_size(local, ec);
    auto transfer = transfer_options(progress, ec ? std::nullopt : std::optional<std::uint64_t>(size));
    const auto transfer_permissions = mode_bits(status.permissions());
    transfer.permissions = transfer_permissions;
    sftp::UploadSource source = [input](runtime::Bytes buffer) { return read_chunk(input, buffer); };
    auto uploaded = co_await sftp->upload(std::move(source), temporary, std::move(transfer));
    if (progress) progress->finish();
    if (!uploaded) {
      [[maybe_unused]] auto removed = co_await sftp->remove(temporary);  // it may never have been made
      failures.add(remote, uploaded.error());
      co_return;
    }
    // OPEN's attributes set the mode on OpenSSH's server; pkg/sftp's creates files 0644 whatever
    // they say. So the mode (and with -p the times) is set again before the file takes its name.
    sftp::FileAttributes attrs;
    attrs.permissions = transfer_permissions;
    if (options.preserve) {
      const auto modified = fs::last_write_time(local, ec);
      if (!ec) {
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
            fs::file_time_type::clock::to_sys(modified).time_since_epoch());
        attrs.atime = static_cast<std::uint32_t>(seconds.count());
        attrs.mtime = static_cast<std::uint32_t>(seconds.count());
      }
    }
    auto set = co_await sftp->setstat(temporary, attrs);
    if (!set) failures.add(remote, set.error());
    auto renamed = co_await replace(temporary, remote);
    if (!renamed) {
      [[maybe_unused]] auto removed = co_await sftp->remove(temporary);
      failures.add(remote, renamed.error());
    }
  }

  // posix-rename where the server offers it; otherwise version 3's RENAME, which refuses an
  // existing target, after removing it.
  asio::awaitable<runtime::Result<void>> replace(std::string from, std::string to) {
    if (sftp->has_extension("posix-rename@openssh.com")) co_return co_await sftp->posix_rename(from, to);
    auto renamed = co_await sftp->rename(from, to);
    if (renamed) co_return renamed;
    auto removed = co_await sftp->remove(to);
    if (!removed) co_return renamed;
    co_return co_await sftp->rename(from, to);
  }

  asio::awaitable<void> upload(fs::path local, std::string remote) {
    std::error_code ec;
    const auto status = fs::status(local, ec);
    if (ec) {
      failures.add(fmt::format("{}: {}", runtime::path_to_utf8(local), ec.message()));
      co_return;
    }
    if (!fs::is_directory(status)) {
      co_await upload_file(std::move(local), std::move(remote));
      co_return;
    }
    if (!options.recursive) {
      failures.add(fmt::format("{}: a directory (use -r)", runtime::path_to_utf8(local)));
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
    for (const auto& entry : fs::directory_iterator(local, ec)) {
      auto inner = join_remote(remote, runtime::path_to_utf8(entry.path().filename()));
      co_await upload(entry.path(), std::move(inner));
    }
    if (ec) failures.add(fmt::format("{}: {}", runtime::path_to_utf8(local), ec.message()));
  }

  // Writes the local file: to a temporary name, then renamed over the target.
  asio::awaitable<void> download_file(std::string remote, fs::path local, sftp::FileAttributes attrs) {
    const auto temporary = local.parent_path() / temporary_name(runtime::path_to_utf8(local.filename()));
    auto output = std::make_shared<std::ofstream>(temporary, std::ios::binary | std::ios::trunc);
    if (!*output) {
      failures.add(fmt::format("{}: cannot be written", runtime::path_to_utf8(temporary)));
      co_return;
    }
    std::error_code ec;
    const auto drop_temporary = [&] {
      output->close();
      fs::remove(temporary, ec);
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
    if (attrs.permissions) fs::permissions(temporary, static_cast<fs::perms>(*attrs.permissions & 07777), ec);
    if (options.preserve && attrs.mtime) {
      const auto when = fs::file_time_type::clock::from_sys(
          std::chrono::system_clock::time_point(std::chrono::seconds(*attrs.mtime)));
      fs::last_write_time(temporary, when, ec);
    }
    fs::rename(temporary, local, ec);
    if (ec) {
      failures.add(fmt::format("{}: {}", runtime::path_to_utf8(local), ec.message()));
      drop_temporary();
    }
  }

  asio::awaitable<void> download(std::string remote, fs::path local) {
    auto attrs = co_await sftp->stat(remote);
    if (!attrs) {
      failures.add(remote, attrs.error());
      co_return;
    }
    if (!attrs->is_directory()) {
      co_await download_file(std::move(remote), std::move(local), *attrs);
      co_return;
    }
    if (!options.recursive) {
      failures.add(fmt::format("{}: a directory (use -r)", remote));
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
      auto inner = join_remote(remote, entry.filename);
      auto inner_local = local / runtime::utf8_to_path(entry.filename);
      co_await download(std::move(inner), std::move(inner_local));
    }
  }
};

bool same_server(const RemoteFile& a, const RemoteFile& b) {
  return a.user == b.user && a.host == b.host && a.port == b.port;
}

// Into a directory when the target is one, as cp and scp do; several sources need one.
asio::awaitable<int> copy(Copier& copier, const std::vector<ScpOperand>& sources, const ScpOperand& target) {
  const bool several = sources.size() > 1;
  if (target.remote) {
    const auto& directory = target.remote->path;
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
      co_await copier.upload(local, std::move(remote));
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
      const auto& remote = source.remote->path;
      auto local = into_directory ? directory / runtime::utf8_to_path(base_name(remote)) : directory;
      co_await copier.download(remote, std::move(local));
    }
  }
  co_return copier.failures.count == 0 ? 0 : kExitCopyFailed;
}

asio::awaitable<int> run_scp(ScpOptions o, int verbosity) {
  if (o.operands.size() < 2) {
    write_stderr("scp: a source and a target are needed: coder-runtime scp SOURCE... TARGET\n");
    co_return kExitCopyFailed;
  }
  std::vector<ScpOperand> sources;
  for (std::size_t i = 0; i + 1 < o.operands.size(); ++i) {
    auto source = parse_scp_operand(o.operands[i]);
    if (!source) co_return report_failure(source.error(), {});
    sources.push_back(std::move(*source));
  }
  auto target = parse_scp_operand(o.operands.back());
  if (!target) co_return report_failure(target.error(), {});
  const RemoteFile* server = target->remote           ? &*target->remote
                             : sources.front().remote ? &*sources.front().remote
                                                      : nullptr;
  for (const auto& source : sources) {
    const bool usable = target->remote ? !source.remote : source.remote && same_server(*source.remote, *server);
    if (!usable || !server) {
      write_stderr(fmt::format(
          "scp: copies go between this machine and one server: '{}' to '{}' is not supported\n",
          source.remote ? fmt::format("{}:{}", source.remote->host, source.remote->path) : source.local_path,
          o.operands.back()));
      co_return kExitCopyFailed;
    }
  }
  ssh::Destination destination{server->user, server->host, server->port};
  auto planned = plan_like_ssh(o.line, std::move(destination), verbosity);
  if (!planned) co_return report_failure(planned.error(), {});
  const auto log = planned->log;
  auto connected = co_await dial_like_ssh(std::move(planned->plan), log);
  if (!connected) co_return report_failure(connected.error(), log);
  auto connection = std::move(*connected);
  auto started = co_await sftp::Client::start(*connection);
  if (!started) {
    co_await connection->close();
    co_return report_failure(started.error(), log);
  }
  Copier copier{*started, o, !o.quiet && stderr_is_terminal(), {}};
  const int code = co_await copy(copier, sources, *target);
  co_await copier.sftp->close();
  co_await connection->close();
  co_return code;
}

}  // namespace

void add_scp_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<ScpOptions>();
  auto* cmd = app.add_subcommand("scp", "Copy files to or from an SSH server over SFTP, as OpenSSH's scp does");
  add_connection_options(*cmd, o->line, "-P");
  cmd->add_flag("-r", o->recursive, "Copy directories and what they hold");
  cmd->add_flag("-p", o->preserve, "Keep the modification times (modes are always kept)");
  cmd->add_flag("-q", o->quiet, "No progress line");
  cmd->add_flag("-v", global.verbosity, "More detail on stderr (repeat for more)");
  cmd->add_option("operands", o->operands,
                  "SOURCE... TARGET: [user@]host:path, scp://[user@]host[:port]/path or a "
                  "local path");
  cmd->callback([o, &global, &exit_code] { exit_code = run_to_exit_code(run_scp(*o, global.verbosity)); });
}

}  // namespace cr::cli
