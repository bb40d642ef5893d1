#pragma once
// What the SFTP client's callers see of version 3: OPEN's flags, file attributes, directory
// entries, and the replies of OpenSSH's extensions. The packets themselves are messages.hpp's.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cr::ssh::sftp {

// SSH_FXF_* flags of OPEN.
namespace open_flags {
inline constexpr std::uint32_t read = 0x01;
inline constexpr std::uint32_t write = 0x02;
inline constexpr std::uint32_t append = 0x04;
inline constexpr std::uint32_t create = 0x08;
inline constexpr std::uint32_t truncate = 0x10;
inline constexpr std::uint32_t exclusive = 0x20;
}  // namespace open_flags

// ATTRS: each field present only when its flag is set.
struct FileAttributes {
  std::optional<std::uint64_t> size;
  std::optional<std::uint32_t> uid;  // uid and gid travel together
  std::optional<std::uint32_t> gid;
  std::optional<std::uint32_t> permissions;  // st_mode: the file type bits and the mode
  std::optional<std::uint32_t> atime;        // atime and mtime travel together
  std::optional<std::uint32_t> mtime;
  std::vector<std::pair<std::string, std::string>> extended;

  bool is_directory() const;
  bool is_regular() const;
  bool is_symlink() const;
  bool operator==(const FileAttributes&) const = default;
};

struct NameEntry {
  std::string filename;
  std::string longname;  // ls -l's line on OpenSSH; for people, not for parsing
  FileAttributes attrs;
};

struct Extension {
  std::string name;
  std::string data;  // its version, usually "1"
};

// statvfs@openssh.com's reply: struct statvfs's fields.
struct StatVfs {
  std::uint64_t block_size = 0;
  std::uint64_t fragment_size = 0;
  std::uint64_t blocks = 0;
  std::uint64_t free_blocks = 0;
  std::uint64_t available_blocks = 0;
  std::uint64_t files = 0;
  std::uint64_t free_files = 0;
  std::uint64_t available_files = 0;
  std::uint64_t filesystem_id = 0;
  std::uint64_t flags = 0;
  std::uint64_t max_name_length = 0;
};

// limits@openssh.com's reply; 0 means the server sets no limit.
struct Limits {
  std::uint64_t max_packet_length = 0;
  std::uint64_t max_read_length = 0;
  std::uint64_t max_write_length = 0;
  std::uint64_t max_open_handles = 0;
};

}  // namespace cr::ssh::sftp
