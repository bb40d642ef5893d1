#include "cli/local_terminal.hpp"

#include <algorithm>
#include <iterator>

#include <windows.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "runtime/paths.hpp"

namespace cr::cli {

namespace {

bool is_console(HANDLE handle) {
  DWORD mode = 0;
  return handle != INVALID_HANDLE_VALUE && handle != nullptr && GetConsoleMode(handle, &mode);
}

// A console hands out UTF-16; a high surrogate at the end of one read waits for its partner so
// that the UTF-8 we pass on is always whole characters.
std::ptrdiff_t read_console_as_utf8(HANDLE console, std::span<char> buffer) {
  static thread_local wchar_t held_surrogate = 0;
  // Each UTF-16 unit becomes at most 3 UTF-8 bytes (a pair: 4 bytes for 2 units).
  wchar_t units[4096];
  const DWORD room = static_cast<DWORD>(std::min<std::size_t>(buffer.size() / 3, std::size(units)) - 1);
  DWORD start = 0;
  if (held_surrogate) units[start++] = held_surrogate;
  held_surrogate = 0;
  DWORD got = 0;
  if (!ReadConsoleW(console, units + start, room - start, &got, nullptr)) return -1;
  DWORD total = start + got;
  if (got == 0) return 0;
  if (total > 0 && IS_HIGH_SURROGATE(units[total - 1])) held_surrogate = units[--total];
  // Ctrl-Z on a line of its own is a console's end of input, as for type and copy con.
  if (total >= 1 && units[0] == 0x1a) return 0;
  const auto text = runtime::narrow({units, total});
  std::copy(text.begin(), text.end(), buffer.begin());
  return static_cast<std::ptrdiff_t>(text.size());
}

bool write_all(DWORD which, std::string_view data) {
  const HANDLE handle = GetStdHandle(which);
  while (!data.empty()) {
    DWORD written = 0;
    const auto chunk = static_cast<DWORD>(std::min<std::size_t>(data.size(), 1u << 20));
    if (!WriteFile(handle, data.data(), chunk, &written, nullptr) || written == 0) return false;
    data.remove_prefix(written);
  }
  return true;
}

}  // namespace

std::ptrdiff_t read_stdin(std::span<char> buffer) {
  const HANDLE input = GetStdHandle(STD_INPUT_HANDLE);
  if (is_console(input)) return read_console_as_utf8(input, buffer);
  DWORD got = 0;
  if (ReadFile(input, buffer.data(), static_cast<DWORD>(buffer.size()), &got, nullptr)) return got;
  // The writer closing a pipe is the end of input, as EOF is on POSIX.
  const DWORD error = GetLastError();
  return error == ERROR_BROKEN_PIPE || error == ERROR_HANDLE_EOF ? 0 : -1;
}

bool write_stdout(std::string_view data) { return write_all(STD_OUTPUT_HANDLE, data); }
bool write_stderr(std::string_view data) { return write_all(STD_ERROR_HANDLE, data); }

bool stdin_is_terminal() { return is_console(GetStdHandle(STD_INPUT_HANDLE)); }

// NUL is a character device as a console is; only the console takes a console mode.
bool stdin_reads_never_wait() {
  const HANDLE input = GetStdHandle(STD_INPUT_HANDLE);
  const DWORD type = GetFileType(input);
  return type == FILE_TYPE_DISK || (type == FILE_TYPE_CHAR && !is_console(input));
}

bool stderr_is_terminal() {
  const HANDLE error = GetStdHandle(STD_ERROR_HANDLE);
  DWORD mode = 0;
  if (!GetConsoleMode(error, &mode)) return false;
  return (mode & ENABLE_VIRTUAL_TERMINAL_PROCESSING) ||
         SetConsoleMode(error, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING);
}

struct RawTerminal::Saved {
  DWORD input_mode = 0;
  DWORD output_mode = 0;
  bool output_saved = false;
};

RawTerminal::RawTerminal() {
  const HANDLE input = GetStdHandle(STD_INPUT_HANDLE);
  DWORD input_mode = 0;
  if (!GetConsoleMode(input, &input_mode)) return;
  saved_ = std::make_unique<Saved>();
  saved_->input_mode = input_mode;
  // The console's counterpart of ssh's raw mode: no line editing, echo or Ctrl-C handling here;
  // keys arrive as the VT sequences a remote pseudo-terminal expects.
  SetConsoleMode(input, ENABLE_VIRTUAL_TERMINAL_INPUT);
  const HANDLE output = GetStdHandle(STD_OUTPUT_HANDLE);
  DWORD output_mode = 0;
  if (GetConsoleMode(output, &output_mode)) {
    saved_->output_mode = output_mode;
    saved_->output_saved = true;
    SetConsoleMode(output, output_mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING | DISABLE_NEWLINE_AUTO_RETURN);
  }
}

RawTerminal::~RawTerminal() {
  if (!saved_) return;
  SetConsoleMode(GetStdHandle(STD_INPUT_HANDLE), saved_->input_mode);
  if (saved_->output_saved) SetConsoleMode(GetStdHandle(STD_OUTPUT_HANDLE), saved_->output_mode);
}

TerminalSize terminal_size() {
  CONSOLE_SCREEN_BUFFER_INFO info{};
  for (const DWORD which : {STD_OUTPUT_HANDLE, STD_ERROR_HANDLE}) {
    if (!GetConsoleScreenBufferInfo(GetStdHandle(which), &info)) continue;
    const int columns = info.srWindow.Right - info.srWindow.Left + 1;
    const int rows = info.srWindow.Bottom - info.srWindow.Top + 1;
    if (columns > 0 && rows > 0) return {static_cast<unsigned>(columns), static_cast<unsigned>(rows)};
  }
  return {};
}

struct WindowSizeWatch::State {
  explicit State(asio::any_io_executor executor) : tick(std::move(executor)) {}
  asio::steady_timer tick;
  TerminalSize last = terminal_size();
};

WindowSizeWatch::WindowSizeWatch(asio::any_io_executor executor)
    : state_(std::make_unique<State>(std::move(executor))) {}
WindowSizeWatch::~WindowSizeWatch() = default;

asio::awaitable<std::optional<TerminalSize>> WindowSizeWatch::next() {
  for (;;) {
    state_->tick.expires_after(std::chrono::milliseconds(250));
    auto [ec] = co_await state_->tick.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return std::nullopt;
    const auto size = terminal_size();
    if (size.columns == state_->last.columns && size.rows == state_->last.rows) continue;
    state_->last = size;
    co_return size;
  }
}

}  // namespace cr::cli
