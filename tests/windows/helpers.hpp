#pragma once
// Windows test plumbing: where the helper programs are (a folder named "Program Files Test" next
// to the test binary, a path with spaces like C:\Program Files\Coder), and a process handle check.
#include <windows.h>

#include <filesystem>
#include <string>

#include "runtime/paths.hpp"

namespace cr::test {

inline std::filesystem::path helpers_dir() {
  wchar_t self[MAX_PATH];
  const DWORD n = GetModuleFileNameW(nullptr, self, MAX_PATH);
  return std::filesystem::path(std::wstring(self, n)).parent_path() / L"Program Files Test";
}

// The Windows spelling (backslashes) as UTF-8, as a user writes it in a ProxyCommand.
inline std::string helper(const wchar_t* name) {
  return runtime::path_to_utf8((helpers_dir() / name).make_preferred());
}

inline std::string test_child() { return helper(L"test child.exe"); }

// Whether the process with this id has ended within the budget (or is gone already).
inline bool process_ended(unsigned long pid, DWORD budget_ms) {
  HANDLE process = OpenProcess(SYNCHRONIZE, FALSE, pid);
  if (!process) return true;
  const DWORD waited = WaitForSingleObject(process, budget_ms);
  CloseHandle(process);
  return waited == WAIT_OBJECT_0;
}

}  // namespace cr::test
