#include "service/workspace_connections.hpp"

#include "runtime/paths.hpp"

#ifdef _WIN32
#include <windows.h>

#include <cwchar>
#else
extern char** environ;
#endif

namespace cr::service {

std::vector<std::pair<std::string, std::string>> coder_environment() {
  constexpr std::string_view coder_prefix = "CODER_";
  std::vector<std::pair<std::string, std::string>> variables;
#ifdef _WIN32
  wchar_t* block = GetEnvironmentStringsW();
  for (const wchar_t* entry = block; entry && *entry; entry += std::wcslen(entry) + 1) {
    const auto variable = runtime::narrow(entry);
#else
  for (char** entry = environ; *entry; ++entry) {
    const std::string variable(*entry);
#endif
    const auto equals = variable.find('=');
    if (equals == std::string::npos || !variable.starts_with(coder_prefix)) continue;
    variables.emplace_back(variable.substr(0, equals), variable.substr(equals + 1));
  }
#ifdef _WIN32
  if (block) FreeEnvironmentStringsW(block);
#endif
  return variables;
}

}  // namespace cr::service
