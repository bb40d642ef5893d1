#include "runtime/paths.hpp"

#include <vector>

#ifdef _WIN32
#include <windows.h>
#endif

namespace cr::runtime {

#ifdef _WIN32

std::wstring widen(std::string_view text) {
  if (text.empty()) return {};
  const int size = static_cast<int>(text.size());
  const int needed = MultiByteToWideChar(CP_UTF8, 0, text.data(), size, nullptr, 0);
  std::wstring out(static_cast<std::size_t>(needed), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, text.data(), size, out.data(), needed);
  return out;
}

std::string narrow(std::wstring_view text) {
  if (text.empty()) return {};
  const int size = static_cast<int>(text.size());
  const int needed = WideCharToMultiByte(CP_UTF8, 0, text.data(), size, nullptr, 0, nullptr, nullptr);
  std::string out(static_cast<std::size_t>(needed), '\0');
  WideCharToMultiByte(CP_UTF8, 0, text.data(), size, out.data(), needed, nullptr, nullptr);
  return out;
}

std::optional<std::string> environment_variable(std::wstring_view name) {
  const std::wstring key(name);
  const DWORD needed = GetEnvironmentVariableW(key.c_str(), nullptr, 0);
  if (needed == 0) return std::nullopt;
  std::vector<wchar_t> value(needed);
  const DWORD got = GetEnvironmentVariableW(key.c_str(), value.data(), needed);
  if (got == 0 || got >= needed) return std::nullopt;
  return narrow({value.data(), got});
}

std::string path_to_utf8(const std::filesystem::path& path) { return narrow(path.native()); }
std::filesystem::path utf8_to_path(std::string_view text) { return std::filesystem::path(widen(text)); }

#else

std::string path_to_utf8(const std::filesystem::path& path) { return path.native(); }
std::filesystem::path utf8_to_path(std::string_view text) { return std::filesystem::path(std::string(text)); }

#endif

}  // namespace cr::runtime
