#pragma once
// An scp operand read as OpenSSH's scp reads it: `[user@]host:path` and
// `scp://[user@]host[:port][/path]` name a remote file; anything else is a local path. The colon
// must come before any slash (so `./a:b` and `/x:y` stay local), a host may be an IPv6 address in
// brackets (`[::1]:f`), and an empty remote path is the remote login directory.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/error.hpp"

namespace cr::cli {

struct RemoteFile {
  std::string user;  // empty: from ssh_config or the local user
  std::string host;  // without brackets
  std::optional<std::uint16_t> port;
  std::string path;  // "." for an empty path: the login directory
};

struct ScpOperand {
  std::optional<RemoteFile> remote;  // nullopt: a local file, at local_path
  std::string local_path;
};

#ifdef _WIN32
inline constexpr bool kDriveLetterPaths = true;
#else
inline constexpr bool kDriveLetterPaths = false;
#endif

// drive_letters: `C:\x` and `C:/x` are local paths, as Windows' scp reads them.
runtime::Result<ScpOperand> parse_scp_operand(std::string_view text, bool drive_letters = kDriveLetterPaths);

}  // namespace cr::cli
