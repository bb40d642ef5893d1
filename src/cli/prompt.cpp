#include "cli/prompt.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

namespace cr::cli {

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

}  // namespace cr::cli
