#include "cli/local_terminal.hpp"

#include <cerrno>

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>

#include <asio/experimental/as_tuple.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>

namespace cr::cli {

std::ptrdiff_t read_stdin(std::span<char> buffer) {
  for (;;) {
    const auto n = ::read(STDIN_FILENO, buffer.data(), buffer.size());
    if (n >= 0 || errno != EINTR) return n;
  }
}

namespace {
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}
}  // namespace

bool write_stdout(std::string_view data) { return write_all(STDOUT_FILENO, data); }
bool write_stderr(std::string_view data) { return write_all(STDERR_FILENO, data); }

bool stdin_is_terminal() { return ::isatty(STDIN_FILENO) == 1; }

bool stdin_reads_never_wait() {
  struct stat status {};
  if (::fstat(STDIN_FILENO, &status) != 0) return false;
  return S_ISREG(status.st_mode) || (S_ISCHR(status.st_mode) && !stdin_is_terminal());
}
bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

struct RawTerminal::Saved {
  termios modes{};
};

RawTerminal::RawTerminal() {
  termios modes{};
  if (!stdin_is_terminal() || ::tcgetattr(STDIN_FILENO, &modes) != 0) return;
  saved_ = std::make_unique<Saved>(Saved{modes});
  // What ssh's enter_raw_mode clears: the remote pseudo-terminal does the line editing, echo and
  // signal keys, so every byte goes to it as typed.
  modes.c_iflag |= IGNPAR;
  modes.c_iflag &= ~static_cast<tcflag_t>(ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXANY | IXOFF);
  modes.c_lflag &= ~static_cast<tcflag_t>(ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHONL | IEXTEN);
  modes.c_oflag &= ~static_cast<tcflag_t>(OPOST);
  modes.c_cc[VMIN] = 1;
  modes.c_cc[VTIME] = 0;
  ::tcsetattr(STDIN_FILENO, TCSADRAIN, &modes);
}

RawTerminal::~RawTerminal() {
  if (saved_) ::tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_->modes);
}

TerminalSize terminal_size() {
  winsize size{};
  for (const int fd : {STDIN_FILENO, STDOUT_FILENO}) {
    if (::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0 && size.ws_row > 0) return {size.ws_col, size.ws_row};
  }
  return {};
}

struct WindowSizeWatch::State {
  explicit State(asio::any_io_executor executor) : changes(std::move(executor), SIGWINCH) {}
  asio::signal_set changes;
};

WindowSizeWatch::WindowSizeWatch(asio::any_io_executor executor)
    : state_(std::make_unique<State>(std::move(executor))) {}
WindowSizeWatch::~WindowSizeWatch() = default;

asio::awaitable<std::optional<TerminalSize>> WindowSizeWatch::next() {
  auto [ec, signal] = co_await state_->changes.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  if (ec) co_return std::nullopt;
  co_return terminal_size();
}

}  // namespace cr::cli
