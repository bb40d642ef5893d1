#include "ssh/sftp/remote_path.hpp"

#include <random>

#include <fmt/format.h>

namespace cr::ssh::sftp {

std::string parent_of(std::string_view path) {
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  return slash == 0 ? "/" : std::string(path.substr(0, slash));
}

std::string base_name(std::string_view path) {
  while (path.size() > 1 && path.ends_with('/')) path.remove_suffix(1);
  const auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string join_remote(std::string_view directory, std::string_view name) {
  if (directory.empty() || directory == ".") return std::string(name);
  if (directory.ends_with('/')) return fmt::format("{}{}", directory, name);
  return fmt::format("{}/{}", directory, name);
}

std::string temporary_name(std::string_view name) {
  thread_local std::mt19937_64 random(std::random_device{}());
  return fmt::format(".{}.coder-runtime-{:08x}", name.substr(0, 200), static_cast<std::uint32_t>(random()));
}

}  // namespace cr::ssh::sftp
