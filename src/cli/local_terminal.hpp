#pragma once
// The executable's own stdin, stdout and stderr, for commands that relay a remote session.
//
// Stdin that can wait (a terminal, a pipe, a socket) is read by a thread of its own with blocking
// reads: that works on every platform and leaves the descriptor's flags alone (making a shared
// terminal non-blocking would change it for the shell that started us too). Each chunk is handed
// to the caller's executor and the next read waits until it has been taken. Stdin whose reads
// never wait (a file, /dev/null) is read in place: a script's commands mostly run with it, and
// starting a thread would delay their end of input by milliseconds.

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "runtime/event.hpp"

namespace cr::cli {

class StdinReader {
 public:
  explicit StdinReader(asio::any_io_executor executor);
  // The thread may stay blocked in a read until the process exits; it touches nothing of ours
  // once the reader is gone.
  ~StdinReader();
  StdinReader(const StdinReader&) = delete;
  StdinReader& operator=(const StdinReader&) = delete;

  // The next chunk, or nullopt at end of input (or a read error, which ends input as for ssh), or
  // when cancelled through the caller's cancellation slot.
  asio::awaitable<std::optional<std::string>> next();

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;  // null when stdin is read in place
  std::unique_ptr<runtime::Event> ready_;
};

// One blocking read of stdin: the byte count, 0 at end of input, negative on an error. A Windows
// console is read as UTF-16 and handed on as UTF-8.
std::ptrdiff_t read_stdin(std::span<char> buffer);
// Stdin is a file or a device other than a terminal: a read returns at once.
bool stdin_reads_never_wait();

// Writes all of `data` to stdout or stderr (blocking); false once the reader has gone (EPIPE).
bool write_stdout(std::string_view data);
bool write_stderr(std::string_view data);

bool stdin_is_terminal();
// A terminal that takes a status line's escape sequences (\r, ESC [ K). A Windows console is
// switched to VT processing for them here; one that cannot be counts as no terminal.
bool stderr_is_terminal();

// Puts the terminal on stdin into raw mode for a remote pseudo-terminal (ssh does the same) and
// restores it when destroyed. Does nothing when stdin is not a terminal.
class RawTerminal {
 public:
  RawTerminal();
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  struct Saved;
  std::unique_ptr<Saved> saved_;
};

struct TerminalSize {
  unsigned columns = 80;
  unsigned rows = 24;
};
TerminalSize terminal_size();

// The terminal's size each time it changes. POSIX says so with SIGWINCH; a Windows console tells
// only its own input-record readers, so its size is looked at four times a second instead.
class WindowSizeWatch {
 public:
  explicit WindowSizeWatch(asio::any_io_executor executor);
  ~WindowSizeWatch();
  WindowSizeWatch(const WindowSizeWatch&) = delete;
  WindowSizeWatch& operator=(const WindowSizeWatch&) = delete;

  // The new size; nullopt when cancelled.
  asio::awaitable<std::optional<TerminalSize>> next();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cr::cli
