#pragma once
// Session channels (RFC 4254 section 6): a pseudo-terminal and environment first, then one of
// exec, shell or subsystem; stdin, stdout and stderr streamed while it runs, with signals and
// window changes; and how it ended: an exit status, an exit signal, or neither.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ssh/channel.hpp"

namespace cr::ssh {

// A terminal mode (RFC 4254 section 8): an opcode from 1 to 159 and its argument.
struct TerminalMode {
  std::uint8_t opcode = 0;
  std::uint32_t value = 0;
};

// The opcodes a client most often sets; any other number from the RFC works too.
namespace tty {
inline constexpr std::uint8_t VINTR = 1;
inline constexpr std::uint8_t VEOF = 4;
inline constexpr std::uint8_t ISIG = 50;
inline constexpr std::uint8_t ICANON = 51;
inline constexpr std::uint8_t ECHO = 53;
inline constexpr std::uint8_t ONLCR = 72;
inline constexpr std::uint8_t TTY_OP_ISPEED = 128;
inline constexpr std::uint8_t TTY_OP_OSPEED = 129;
}  // namespace tty

// The "encoded terminal modes" string: each opcode and uint32 argument, then TTY_OP_END. An opcode
// outside 1..159 is the caller's error (the receiver would stop parsing there).
runtime::Result<std::vector<std::uint8_t>> encode_terminal_modes(const std::vector<TerminalMode>& modes);

struct PtyRequest {
  std::string term = "xterm-256color";  // the remote TERM
  std::uint32_t columns = 80;
  std::uint32_t rows = 24;
  std::uint32_t width_pixels = 0;
  std::uint32_t height_pixels = 0;
  std::vector<TerminalMode> modes;
};

// How a session ended, once the server has closed it.
struct SessionExit {
  std::optional<int> exit_code;      // from exit-status
  std::optional<ExitSignal> signal;  // from exit-signal
  // The server closed the channel without saying how the command ended (it was closed early, or
  // the server does not report it): neither of the above.
  bool closed_without_status() const { return !exit_code && !signal; }
};

// The longest command an exec request carries: with its framing it fits in the 256 KiB packet
// OpenSSH's sshd and Go's x/crypto/ssh read at most (a larger packet ends the whole connection, so
// send_exec refuses it, invalid_argument, before anything is sent). The remote shell may take less:
// Linux passes the line to `sh -c` as one argument of at most 128 KiB (MAX_ARG_STRLEN).
inline constexpr std::size_t kMaxExecCommandBytes = 256 * 1024 - 1024;
runtime::Result<void> check_exec_command(std::string_view command);

// An exec's error from before its exec (or shell) request left us: the command never ran, so it may
// be run again elsewhere. Such errors carry the evidence "not run".
bool command_never_sent(const runtime::Error& error);
runtime::Error never_sent(runtime::Error error);

// A command's stdin as it arrives: the next chunk, or nullopt at its end. Called again once the
// previous chunk is sent (the channel's window paces it). A call still pending when the command
// ends is cancelled through its cancellation slot, as an Asio operation is, so a source that never
// ends (an interactive terminal) does not hold the command's end back.
using StdinSource = std::function<asio::awaitable<std::optional<std::string>>()>;

// Awaited before each read of stdout or stderr: a consumer that has fallen behind holds that
// stream's reads back, so the channel's window, not memory, takes up the difference (the server
// stops sending, and the remote program blocks on its write).
using OutputPacer = std::function<asio::awaitable<void>(Channel::Stream)>;

struct ExecOptions {
  std::vector<std::pair<std::string, std::string>> env;  // "env" requests; servers may refuse them
  std::optional<PtyRequest> pty;                         // a pseudo-terminal (stdout and stderr merge)
  // stdin: stdin_data, then stdin_source's chunks, then EOF; with neither, EOF at once. The source
  // is cancelled when the command ends; it must not throw anything but that cancellation.
  std::optional<std::string> stdin_data;
  StdinSource stdin_source;
  // Streamed; without them, collected. They must not throw: one that does ends its command with
  // Errc::internal_error and the exception's text.
  std::function<void(std::string_view)> on_stdout;
  std::function<void(std::string_view)> on_stderr;
  OutputPacer pace_output;
};

struct ExecResult : SessionExit {
  std::string stdout_data;  // when no on_stdout callback
  std::string stderr_data;
  std::chrono::milliseconds duration{0};
};

class Session {
 public:
  explicit Session(std::unique_ptr<Channel> channel) : channel_(std::move(channel)) {}

  // Before the program starts. A refusal is Errc::refused.
  asio::awaitable<runtime::Result<void>> request_pty(PtyRequest pty);
  // Sent without asking for a reply, as OpenSSH does: servers drop variables they do not accept
  // (sshd's AcceptEnv) and a round trip per variable would buy nothing.
  asio::awaitable<runtime::Result<void>> set_env(std::string name, std::string value);
  // auth-agent-req@openssh.com, without a reply as OpenSSH sends it: the server's programs may then
  // reach our agent, each use an "auth-agent@openssh.com" channel the server opens
  // (Connection::take_incoming).
  asio::awaitable<runtime::Result<void>> request_agent_forwarding();
  // Exactly one of these requests starts the program; a refusal is Errc::refused naming it.
  asio::awaitable<runtime::Result<void>> request_exec(std::string command);
  // The exec (or shell) request and its answer apart: stdin may follow the request at once
  // (servers handle a channel's messages in order, so it reaches the program).
  asio::awaitable<runtime::Result<std::uint64_t>> send_exec(std::string command);
  asio::awaitable<runtime::Result<void>> exec_answer(std::uint64_t ticket, std::string command);
  asio::awaitable<runtime::Result<void>> request_shell();
  asio::awaitable<runtime::Result<std::uint64_t>> send_shell();
  asio::awaitable<runtime::Result<void>> shell_answer(std::uint64_t ticket);
  asio::awaitable<runtime::Result<void>> request_subsystem(std::string name);
  // Apart, as for exec: the subsystem's first message (SFTP's INIT) may follow the request at once.
  asio::awaitable<runtime::Result<std::uint64_t>> send_subsystem(std::string name);
  asio::awaitable<runtime::Result<void>> subsystem_answer(std::uint64_t ticket, std::string name);

  // While it runs (no reply asked; servers ignore what they do not support).
  asio::awaitable<runtime::Result<void>> window_change(std::uint32_t columns, std::uint32_t rows,
                                                       std::uint32_t width_pixels = 0, std::uint32_t height_pixels = 0);
  // A signal name without "SIG" ("TERM", "INT", "KILL"); a leading "SIG" is dropped.
  asio::awaitable<runtime::Result<void>> signal(std::string name);

  asio::awaitable<runtime::Result<void>> write_stdin(runtime::ConstBytes data) { return channel_->write(data); }
  asio::awaitable<runtime::Result<void>> close_stdin() { return channel_->send_eof(); }
  // end_of_stream once the server has sent EOF and the stream is drained.
  asio::awaitable<runtime::Result<std::size_t>> read_stdout(runtime::Bytes buffer) {
    return channel_->read(Channel::Stream::out, buffer);
  }
  asio::awaitable<runtime::Result<std::size_t>> read_stderr(runtime::Bytes buffer) {
    return channel_->read(Channel::Stream::err, buffer);
  }

  // Waits for the server's CLOSE, whatever the order of EOF, exit-status and exit-signal before it.
  asio::awaitable<runtime::Result<SessionExit>> wait();

  // Runs `command` (nullopt: the user's login shell) to its end on this fresh session: env and
  // pty, the exec (or shell) request, stdin fed while stdout and stderr drain, then the exit.
  // Feeding stops when the session ends, whether or not stdin has. Stdin does not wait for the
  // request's answer, so a command costs one round trip; a refused request closes the channel and
  // is the error.
  asio::awaitable<runtime::Result<ExecResult>> exec(std::optional<std::string> command, ExecOptions options = {});
  // Closes our side now; a running program is then ended by the server (SIGHUP on sshd).
  asio::awaitable<void> close() { return channel_->close(); }

  Channel& channel() { return *channel_; }

 private:
  asio::awaitable<runtime::Result<void>> start(std::string_view type, runtime::ConstBytes fields, std::string what);
  static runtime::Result<void> started(runtime::Result<bool> agreed, std::string_view type, const std::string& what);
  // A request that asks for no reply.
  asio::awaitable<runtime::Result<void>> notify(std::string_view type, runtime::ConstBytes fields);
  std::unique_ptr<Channel> channel_;
};

}  // namespace cr::ssh
