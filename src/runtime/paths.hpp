#pragma once
// The user's home folder and path <-> UTF-8 text, the same on POSIX and Windows. Our strings are
// UTF-8 everywhere; std::filesystem::path::string() is the ANSI code page on Windows, so paths
// cross into text (messages, ssh_config values) only through these.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace cr::runtime {

// POSIX: $HOME, else the password database's entry for our uid. Windows: %USERPROFILE%, else
// %HOMEDRIVE%%HOMEPATH%. (OpenSSH for Windows uses the profile folder too, not %HOME%.)
std::optional<std::filesystem::path> home_directory();

// Where a program keeps files it can rebuild: POSIX $XDG_CACHE_HOME (when absolute), else
// ~/.cache; Windows %LOCALAPPDATA%, else the profile's AppData\Local.
std::optional<std::filesystem::path> cache_directory();

std::string path_to_utf8(const std::filesystem::path& path);
std::filesystem::path utf8_to_path(std::string_view text);

#ifdef _WIN32
// UTF-8 <-> UTF-16 for Win32's W functions; invalid UTF-8 becomes U+FFFD, never an exception.
std::wstring widen(std::string_view text);
std::string narrow(std::wstring_view text);
// A variable of the process environment as UTF-8, or nothing when unset.
std::optional<std::string> environment_variable(std::wstring_view name);
#endif

}  // namespace cr::runtime
