#include "runtime/local_user.hpp"

#include <cstdlib>
#include <string_view>

#ifdef _WIN32
#include <windows.h>

#include "runtime/paths.hpp"
#else
#include <pwd.h>
#include <unistd.h>

extern char** environ;
#endif

namespace cr::runtime {

namespace {

void add_assignment(std::vector<std::pair<std::string, std::string>>& out, std::string_view assignment) {
  const auto equals = assignment.find('=');
  if (equals == std::string_view::npos || equals == 0) return;
  out.emplace_back(assignment.substr(0, equals), assignment.substr(equals + 1));
}

}  // namespace

#ifdef _WIN32

std::string local_user_name() {
  wchar_t name[257];  // UNLEN + 1
  DWORD size = sizeof(name) / sizeof(name[0]);
  if (GetUserNameW(name, &size) && size > 1) return narrow({name, size - 1});
  return environment_variable(L"USERNAME").value_or("");
}

std::vector<std::pair<std::string, std::string>> environment_variables() {
  std::vector<std::pair<std::string, std::string>> out;
  wchar_t* block = GetEnvironmentStringsW();
  if (!block) return out;
  for (const wchar_t* entry = block; *entry; entry += std::wstring_view(entry).size() + 1) {
    add_assignment(out, narrow(entry));
  }
  FreeEnvironmentStringsW(block);
  return out;
}

#else

std::string local_user_name() {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(getuid(), &entry, buffer.data(), buffer.size(), &found) == 0 && found && found->pw_name) {
    return found->pw_name;
  }
  const char* user = std::getenv("USER");
  return user ? user : "";
}

std::vector<std::pair<std::string, std::string>> environment_variables() {
  std::vector<std::pair<std::string, std::string>> out;
  for (char** entry = environ; *entry; ++entry) add_assignment(out, *entry);
  return out;
}

#endif

}  // namespace cr::runtime
