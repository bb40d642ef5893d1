#pragma once
// Copies between this machine and one SFTP server, as OpenSSH's scp does over SFTP, for `scp` and
// `cp`. Each file goes to a temporary name beside its target and is renamed over it once whole, so
// a failed or interrupted copy leaves the target as it was; a target that is a symbolic link, a
// device or a file with other hard links is written in place. Modes are kept (less the umask for
// a new local file, without -p); -p keeps times too; -r copies directories, at most 64 deep; a name
// a server lists that is not a plain name is refused. One file's failure is said on stderr and the
// others still go.

#include <memory>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>

#include "cli/scp_operand.hpp"
#include "runtime/logging.hpp"
#include "ssh/sftp/client.hpp"

namespace CLI {
class App;
}  // namespace CLI

namespace cr::ssh {
class Connection;
}  // namespace cr::ssh

namespace cr::cli {

// scp's exit code when any file was not copied.
inline constexpr int kExitCopyFailed = 1;

struct CopyOptions {
  bool recursive = false;
  bool preserve = false;
  bool show_progress = false;        // a progress line per file on stderr
  std::string_view program = "scp";  // what each line on stderr starts with
};

// The one server a copy is with: every source local and the target remote, or the other way,
// with one server. nullptr otherwise, which it says on stderr.
const RemoteFile* one_server(const std::vector<ScpOperand>& sources, const ScpOperand& target,
                             std::string_view target_text, std::string_view program);

// Into the target when it is a directory, as cp and scp do (several sources need one). Returns 0,
// or kExitCopyFailed when any file failed.
asio::awaitable<int> copy_over_sftp(std::shared_ptr<ssh::sftp::Client> sftp, const CopyOptions& options,
                                    const std::vector<ScpOperand>& sources, const ScpOperand& target);

// The copy on an SFTP session of the connection's, then both closed: its exit code, or ssh's 255
// with the error on stderr when the server refuses SFTP.
asio::awaitable<int> copy_on_connection(std::shared_ptr<ssh::Connection> connection, const CopyOptions& options,
                                        const std::vector<ScpOperand>& sources, const ScpOperand& target,
                                        runtime::Logger log);

// -r, -p and -q, as scp's.
void add_copy_flags(CLI::App& command, bool& recursive, bool& preserve, bool& quiet);

}  // namespace cr::cli
