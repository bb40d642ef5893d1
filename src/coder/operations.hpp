#pragma once
// What an agent app does in a workspace over one connection: run commands (in a directory, with
// variables, bounded by a timeout, cancellable) and read and write files. Files here go through
// commands (cat, mv) on the workspace's POSIX shell: one round trip each on a warm connection;
// sftp_files.hpp does the same over SFTP, for a workspace without one.
//
// A timeout or a cancellation ends a command the way a person would: TERM first, then, if it is
// still running after kill_grace, the channel is closed (sshd hangs the session up). The outcome
// says which of the two ended it, apart from the command's own exit. The timeout counts from the
// call, the channel's opening included, and the caller waits no longer than the timeout and two
// kill_grace periods, even on a connection that has stopped answering.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ssh/connection.hpp"
#include "ssh/session.hpp"

namespace cr::coder {

// The shell the workspace's agent hands an exec request's command line to: a POSIX shell (sh,
// bash, zsh, dash) on Linux and macOS; cmd.exe or PowerShell on Windows.
enum class RemoteShell { posix, cmd, powershell };
std::string_view to_string(RemoteShell shell);

struct ExecRequest {
  // Exactly one of command and argv (otherwise invalid_argument), or login_shell. A command line
  // is run by the remote shell as it is (pipes, variables, globs); an argv runs its first word as
  // the program with exactly the other words as its arguments, each word quoted for the remote
  // shell. login_shell asks for the user's shell ("shell" request), as ssh without a command does:
  // it takes no cwd or env, which would need a command line.
  std::string command;
  std::vector<std::string> argv;
  bool login_shell = false;
  // An argv, cwd and env need a POSIX remote shell: for cmd.exe and PowerShell they are refused
  // (invalid_argument) rather than quoted wrongly; a command line goes as it is to any shell.
  RemoteShell remote_shell = RemoteShell::posix;
  std::string cwd;                                       // empty: the login directory
  std::vector<std::pair<std::string, std::string>> env;  // exported before the command runs
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<ssh::PtyRequest> pty;
  // stdin: all of stdin_data, then stdin_source's chunks as they come (e.g. a local terminal, or
  // what an agent app types), then EOF; neither: EOF at once. The command's end cancels a pending
  // stdin_source call, so a stdin that stays open does not keep a finished command waiting.
  std::optional<std::string> stdin_data;
  ssh::StdinSource stdin_source;
  // Streamed; without them, collected. They must not throw: one that does ends the command (its
  // channel closed) with Errc::internal_error and the exception's text.
  std::function<void(std::string_view)> on_stdout;
  std::function<void(std::string_view)> on_stderr;
  ssh::OutputPacer pace_output;
  // Called once the command's session is open, for signals and window changes while it runs.
  std::function<void(std::weak_ptr<ssh::Session>)> on_session;
  std::chrono::milliseconds kill_grace{1000};
};

enum class ExecEnd { exited, signalled, closed_without_status, timed_out, cancelled };
std::string_view to_string(ExecEnd end);

struct ExecOutcome {
  ExecEnd end = ExecEnd::exited;
  std::optional<int> exit_code;
  std::optional<ssh::ExitSignal> signal;
  std::string stdout_data;
  std::string stderr_data;
  std::chrono::milliseconds duration{0};
};

// Cancel through the caller's cancellation slot (e.g. runtime::with_deadline, or a signal bound
// with asio::bind_cancellation_slot): the command is ended as above and the outcome is cancelled.
asio::awaitable<runtime::Result<ExecOutcome>> exec(ssh::Connection& connection, ExecRequest request);

struct FileInfo {
  std::uint64_t size = 0;
  std::uint32_t mode = 0;     // permission bits
  std::int64_t modified = 0;  // seconds since the epoch
  bool is_directory = false;
};

asio::awaitable<runtime::Result<std::string>> read_file(ssh::Connection& connection, std::string path);
// The command lines read_file and write_file run, for a caller that streams the bytes itself: the
// read prints the file; the write takes exactly `size` bytes on stdin, and replaces the file only
// once all of them have arrived (a stdin cut short leaves the file as it was, and no temporary).
std::string read_file_command(std::string_view path);
std::string write_file_command(std::string_view path, std::uint64_t size);
// Atomic: written beside the target and renamed over it, so a reader sees the old content or the
// new; through a symlink the file it points to is replaced; an existing file's mode is kept, a new
// one is 0600.
asio::awaitable<runtime::Result<void>> write_file(ssh::Connection& connection, std::string path, std::string content);
asio::awaitable<runtime::Result<FileInfo>> stat(ssh::Connection& connection, std::string path);
asio::awaitable<runtime::Result<void>> ensure_dir(ssh::Connection& connection, std::string path);
// "~" and "~/x" become the remote home, "~name" and "~name/x" that user's; a relative path is made
// absolute from the login directory.
asio::awaitable<runtime::Result<std::string>> resolve_path(ssh::Connection& connection, std::string path);

// A POSIX shell word that stands for `text` exactly: single-quoted, with ' as '\''.
std::string shell_quote(std::string_view text);

// The command line on which `shell` runs argv[0] with exactly argv[1..] as its arguments: every
// word shell-quoted. invalid_argument for an empty argv, a word with a NUL byte (no program's
// argv can hold one) and a shell other than POSIX (no quoting is right for every Windows program).
runtime::Result<std::string> argv_command_line(const std::vector<std::string>& argv, RemoteShell shell);

// The command line exec sends for `request`: `cd DIR && export K=V ... && ` before the command
// line or the quoted argv. Every error exec would give the request before it runs (a line longer
// than ssh::kMaxExecCommandBytes included), without a connection: a caller may check a request
// before it connects.
runtime::Result<std::string> exec_command_line(const ExecRequest& request);
// The same for any request: its command line, or nullopt for the login shell.
runtime::Result<std::optional<std::string>> exec_program(const ExecRequest& request);

}  // namespace cr::coder
