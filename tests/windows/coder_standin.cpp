// "coder.exe": the Coder CLI as the Windows tests need it, beside go_sshd.exe. Each call appends
// its arguments, one line, to %CODER_STANDIN_CALLS% when that is set.
//   ssh [--stdio] [--hostname-suffix S] HOST   go_sshd.exe on our stdin and stdout; its exit code
//   list ...                                   the workspace "ws", running, as `coder list --output json`
//   version ...                                a version as JSON
// Anything else fails with exit 1.
#include <windows.h>

#include <string>

namespace {

void write_all(HANDLE out, const std::string& text) {
  DWORD offset = 0;
  while (offset < text.size()) {
    DWORD written = 0;
    if (!WriteFile(out, text.data() + offset, static_cast<DWORD>(text.size() - offset), &written, nullptr)) return;
    offset += written;
  }
}

void log_call(int argc, char** argv) {
  char calls[MAX_PATH];
  const DWORD length = GetEnvironmentVariableA("CODER_STANDIN_CALLS", calls, sizeof calls);
  if (length == 0 || length >= sizeof calls) return;
  HANDLE file =
      CreateFileA(calls, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_ALWAYS, 0, nullptr);
  if (file == INVALID_HANDLE_VALUE) return;
  std::string line;
  for (int i = 1; i < argc; ++i) line += (i > 1 ? " " : "") + std::string(argv[i]);
  write_all(file, line + "\n");
  CloseHandle(file);
}

int run_server() {
  wchar_t self[MAX_PATH];
  const DWORD length = GetModuleFileNameW(nullptr, self, MAX_PATH);
  std::wstring server(self, length);
  server = server.substr(0, server.find_last_of(L'\\') + 1) + L"go_sshd.exe";
  std::wstring command_line = L"\"" + server + L"\"";
  STARTUPINFOW startup{};
  startup.cb = sizeof startup;
  startup.dwFlags = STARTF_USESTDHANDLES;
  startup.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
  startup.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
  startup.hStdError = GetStdHandle(STD_ERROR_HANDLE);
  PROCESS_INFORMATION started{};
  if (!CreateProcessW(server.c_str(), command_line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &startup,
                      &started)) {
    write_all(GetStdHandle(STD_ERROR_HANDLE), "coder stand-in: could not start go_sshd.exe\n");
    return 1;
  }
  CloseHandle(started.hThread);
  WaitForSingleObject(started.hProcess, INFINITE);
  DWORD code = 1;
  GetExitCodeProcess(started.hProcess, &code);
  CloseHandle(started.hProcess);
  return static_cast<int>(code);
}

}  // namespace

int main(int argc, char** argv) {
  log_call(argc, argv);
  const std::string command = argc > 1 ? argv[1] : "";
  HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
  if (command == "ssh") return run_server();
  if (command == "list") {
    write_all(out,
              R"([{"id":"00000000-0000-0000-0000-000000000001","name":"ws","owner_name":"tester","outdated":false,)"
              R"("health":{"healthy":true},"latest_build":{"transition":"start","status":"running","resources":)"
              R"([{"name":"dev","agents":[{"name":"main","status":"connected","lifecycle_state":"ready"}]}]}}])"
              "\n");
    return 0;
  }
  if (command == "version") {
    write_all(out, R"({"version":"v2.31.6+abcdef0","build_time":"0001-01-01T00:00:00Z","slim":false,"agpl":false})"
                   "\n");
    return 0;
  }
  write_all(GetStdHandle(STD_ERROR_HANDLE), "error: unknown command \"" + command + "\" for \"coder\"\n");
  return 1;
}
