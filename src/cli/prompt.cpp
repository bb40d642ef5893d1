#include "cli/prompt.hpp"

#ifdef _WIN32
#include <windows.h>

#include "runtime/paths.hpp"
#else
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>
#endif

namespace cr::cli {

#ifdef _WIN32

// The console's own input and screen (CONIN$, CONOUT$), whatever stdin and stdout are.
std::optional<std::string> ask_secret(std::string_view prompt) {
  const HANDLE input = CreateFileW(L"CONIN$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                                   OPEN_EXISTING, 0, nullptr);
  if (input == INVALID_HANDLE_VALUE) return std::nullopt;
  const HANDLE output = CreateFileW(L"CONOUT$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                    nullptr, OPEN_EXISTING, 0, nullptr);
  DWORD saved = 0;
  const bool restore = GetConsoleMode(input, &saved);
  if (!restore) {
    CloseHandle(input);
    if (output != INVALID_HANDLE_VALUE) CloseHandle(output);
    return std::nullopt;
  }
  SetConsoleMode(input, (saved | ENABLE_LINE_INPUT | ENABLE_PROCESSED_INPUT) & ~static_cast<DWORD>(ENABLE_ECHO_INPUT));
  const auto show = [&](std::wstring_view text) {
    DWORD written = 0;
    if (output != INVALID_HANDLE_VALUE)
      WriteConsoleW(output, text.data(), static_cast<DWORD>(text.size()), &written, nullptr);
  };
  show(runtime::widen(prompt));
  std::wstring answer;
  bool ended = false;
  for (wchar_t c; !ended;) {
    DWORD got = 0;
    if (!ReadConsoleW(input, &c, 1, &got, nullptr) || got == 0) break;
    if (c == L'\r' || c == L'\n') {
      ended = true;
    } else {
      answer += c;
    }
  }
  SetConsoleMode(input, saved);
  show(L"\r\n");
  CloseHandle(input);
  if (output != INVALID_HANDLE_VALUE) CloseHandle(output);
  if (!ended) return std::nullopt;
  return runtime::narrow(answer);
}

#else

std::optional<std::string> ask_secret(std::string_view prompt) {
  const int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty < 0) return std::nullopt;
  termios saved{};
  const bool restore = ::tcgetattr(tty, &saved) == 0;
  if (restore) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  [[maybe_unused]] auto shown = ::write(tty, prompt.data(), prompt.size());
  std::string answer;
  bool ended = false;
  for (char c; !ended;) {
    const auto n = ::read(tty, &c, 1);
    if (n <= 0) break;
    if (c == '\n' || c == '\r') {
      ended = true;
    } else {
      answer += c;
    }
  }
  if (restore) ::tcsetattr(tty, TCSAFLUSH, &saved);
  [[maybe_unused]] auto newline = ::write(tty, "\n", 1);
  ::close(tty);
  if (!ended) return std::nullopt;
  return answer;
}

#endif

}  // namespace cr::cli
