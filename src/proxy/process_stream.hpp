#pragma once
// A child process whose stdin and stdout are the stream (a ProxyCommand such as
// `coder ssh --stdio ws`). Its stderr is captured, its exit status collected, and both go into the
// error a reader sees when the child stops: "ProxyCommand exited with status 1" plus the child's
// own last words, never a bare "premature close".
//
// POSIX: pipes on posix::stream_descriptor; the child inherits nothing but its three stdio and
// runs in its own process group. Windows: named pipes on windows::stream_handle (own file).
//
// Ending it: shutdown_send closes the child's stdin. close() closes stdin and stdout, gives the child
// close_grace to exit, then SIGTERM, then SIGKILL, and reaps it (Windows: then terminates its
// job, the child and all it started, with exit code 137). Destroying the stream without
// close() kills and reaps at once. On POSIX the library ignores SIGPIPE (as OpenSSH does) the first
// time it starts a child, unless the host installed a handler of its own, so that a write to a
// dead proxy is an error rather than the death of the host.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/async_stream.hpp"
#include "runtime/deadline.hpp"
#include "runtime/logging.hpp"

namespace cr::proxy {

struct ExitStatus {
  enum class Kind { exited, signalled };
  Kind kind = Kind::exited;
  int value = 0;  // exit code, or signal number

  bool success() const { return kind == Kind::exited && value == 0; }
  // "exited with status 1", "was killed by signal 15 (SIGTERM)".
  std::string describe() const;
  friend bool operator==(const ExitStatus&, const ExitStatus&) = default;
};

// The evidence, on the error of a stream whose child has gone, of how it exited (describe()).
inline constexpr const char* kExitEvidence = "exit";

// The error shows a child that exited with a failure: a status other than 0, or a signal.
inline bool exited_with_failure(const runtime::Error& error) {
  const auto* exit = error.find_evidence(kExitEvidence);
  return exit != nullptr && exit->text != ExitStatus{}.describe();
}

struct ProcessOptions {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
  // Windows only: the exact command line CreateProcessW gets (argv is otherwise quoted by
  // CommandLineToArgvW's rules) and the program to run without searching for it.
  std::string command_line;
  std::string application;
  // What describe() and errors call it, e.g. "ProxyCommand `coder ssh --stdio ws`".
  std::string name;
  // Changes to the environment the child inherits from us: a value sets the variable, nullopt
  // removes it.
  std::vector<std::pair<std::string, std::optional<std::string>>> environment;
  // close(): how long the child has to exit once its stdin has ended before SIGTERM (Windows: its
  // job is terminated), and as long again after SIGTERM before SIGKILL. A ProxyCommand that
  // coder::dial starts gets kProxyCloseGrace (proxy_command.hpp).
  std::chrono::milliseconds close_grace{1000};
  // After the child closes its stdout, how long a read waits for its exit status before reporting.
  std::chrono::milliseconds exit_wait_after_eof{1000};
  std::size_t stderr_tail_bytes = 4096;
  // Each chunk of the child's stderr as it arrives (e.g. a CLI showing Coder's build logs).
  std::function<void(std::string_view)> on_stderr;
  runtime::Logger log;
};

class ProcessStream : public runtime::AsyncStream {
 public:
  virtual int pid() const = 0;
  virtual std::optional<ExitStatus> exit_status() const = 0;
  // The last stderr_tail_bytes the child wrote to stderr so far.
  virtual std::string stderr_tail() const = 0;
  // Waits for the child to exit (without ending it) and reaps it.
  virtual asio::awaitable<runtime::Result<ExitStatus>> wait_exit(runtime::Deadline deadline) = 0;
};

runtime::Result<std::unique_ptr<ProcessStream>> spawn_process(asio::any_io_executor executor, ProcessOptions options);

#ifdef _WIN32
// `argv` as one command line, each argument quoted by CommandLineToArgvW's rules where it needs it.
std::string windows_command_line(const std::vector<std::string>& argv);
#endif

}  // namespace cr::proxy
