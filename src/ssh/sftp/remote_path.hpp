#pragma once
// Paths on an SFTP server. They are POSIX-style on every server (pkg/sftp on Windows writes
// "C:\x" as "/C:/x"), whatever this machine's own paths are.

#include <string>
#include <string_view>

namespace cr::ssh::sftp {

// "/a/b" -> "/a"; "/a" -> "/"; "a" -> ".".
std::string parent_of(std::string_view path);
// The last name, trailing slashes aside: "/a/b/" -> "b".
std::string base_name(std::string_view path);
// "a" and "b" -> "a/b"; "." and "b" -> "b".
std::string join_remote(std::string_view directory, std::string_view name);
// A name to write beside a file called `name` that no other writer picks:
// ".NAME.coder-runtime-XXXXXXXX", NAME cut so that the whole stays within the 255 bytes file
// systems allow. (Local files use it too.)
std::string temporary_name(std::string_view name);

}  // namespace cr::ssh::sftp
