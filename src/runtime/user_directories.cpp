// The user's own folders. Apart from paths.cpp because the POSIX home directory may come from the
// password database, which glibc reaches through NSS modules it loads at run time: the statically
// linked front executable uses path conversion and must not carry that.

#include <cstdlib>
#include <vector>

#include "runtime/paths.hpp"

#ifndef _WIN32
#include <pwd.h>
#include <unistd.h>
#endif

namespace cr::runtime {

#ifdef _WIN32

std::optional<std::filesystem::path> home_directory() {
  if (auto profile = environment_variable(L"USERPROFILE"); profile && !profile->empty()) return utf8_to_path(*profile);
  auto drive = environment_variable(L"HOMEDRIVE");
  auto path = environment_variable(L"HOMEPATH");
  if (drive && path) return utf8_to_path(*drive + *path);
  return std::nullopt;
}

std::optional<std::filesystem::path> cache_directory() {
  if (auto local = environment_variable(L"LOCALAPPDATA"); local && !local->empty()) return utf8_to_path(*local);
  if (auto home = home_directory()) return *home / "AppData" / "Local";
  return std::nullopt;
}

#else

std::optional<std::filesystem::path> home_directory() {
  if (const char* home = std::getenv("HOME"); home && *home) return std::filesystem::path(home);
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(getuid(), &entry, buffer.data(), buffer.size(), &found) == 0 && found && found->pw_dir) {
    return std::filesystem::path(found->pw_dir);
  }
  return std::nullopt;
}

std::optional<std::filesystem::path> cache_directory() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg == '/') return std::filesystem::path(xdg);
  if (auto home = home_directory()) return *home / ".cache";
  return std::nullopt;
}

#endif

}  // namespace cr::runtime
