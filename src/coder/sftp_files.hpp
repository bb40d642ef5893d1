#pragma once
// The file operations of operations.hpp over SFTP, with the same meanings: for a workspace whose
// agent has no POSIX shell to run cat and mv (Windows), and for streaming files of any size. The
// Coder agent serves the "sftp" subsystem with github.com/pkg/sftp, OpenSSH with sftp-server.
//
// Errors are Layer::sftp, with the server's own words (see ssh/sftp/client.hpp).

#include <cstdint>
#include <string>

#include <asio/awaitable.hpp>

#include "coder/operations.hpp"
#include "ssh/sftp/client.hpp"

namespace cr::coder::sftp_files {

asio::awaitable<runtime::Result<std::string>> read_file(ssh::sftp::Client& client, std::string path);

// Atomic, as write_file in operations.hpp: the bytes go to a temporary file beside the target
// (through symlinks, beside the file they name), which replaces the target only once exactly
// `size` bytes have come from `source`; an existing file's mode is kept, a new one is 0600. A
// failure or a cancellation leaves the target as it was and removes the temporary file.
asio::awaitable<runtime::Result<void>> write_file(ssh::sftp::Client& client, std::string path,
                                                  ssh::sftp::UploadSource source, std::uint64_t size);
asio::awaitable<runtime::Result<void>> write_file(ssh::sftp::Client& client, std::string path, std::string content);

// The file a symlink names, as stat in operations.hpp.
asio::awaitable<runtime::Result<FileInfo>> stat(ssh::sftp::Client& client, std::string path);
// Makes the directory and any parents missing, as mkdir -p; a file in the way is an error.
asio::awaitable<runtime::Result<void>> ensure_dir(ssh::sftp::Client& client, std::string path);
// "~" and "~/x" from the remote home, a relative path from the directory the server starts in (the
// home, for sftp-server and the Coder agent); an absolute one as it is. "~name" needs the server's
// expand-path@openssh.com (OpenSSH has it, pkg/sftp not): without it, Errc::refused.
asio::awaitable<runtime::Result<std::string>> resolve_path(ssh::sftp::Client& client, std::string path);

}  // namespace cr::coder::sftp_files
