// What the POSIX and Windows clients of a holder say when they cannot reach one.

#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "service/detail/holder_serve.hpp"

namespace cr::service::detail {

runtime::Error no_holder(const HolderPaths& paths, std::string why) {
  return runtime::Error(runtime::Errc::connect_failed, runtime::Layer::runtime,
                        fmt::format("no connection holder at {}: {}", paths.endpoint, why));
}

std::string file_tail(const std::filesystem::path& path, std::size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

}  // namespace cr::service::detail
