#pragma once
// Running the Coder CLI: find the executable, run one subcommand as a child process with an argv
// (never through a shell, so no quoting can go wrong), within a deadline, its stdout (the JSON) and
// stderr (warnings, progress, errors) kept apart. A non-zero exit is an error carrying the exit
// status and the end of what the CLI said.

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "proxy/process_stream.hpp"
#include "runtime/deadline.hpp"
#include "runtime/logging.hpp"

namespace cr::coder {

// "coder", or "coder.exe" on Windows.
std::string_view cli_file_name();

// An explicit path must name an executable file; without one, each folder of `path_variable`
// (PATH's value: ':'-separated, ';' on Windows) is searched for cli_file_name(). Not found is a
// Layer::coder error listing where we looked.
runtime::Result<std::filesystem::path> find_cli(const std::optional<std::filesystem::path>& explicit_path,
                                                std::string_view path_variable);
// The same with the process's own PATH.
runtime::Result<std::filesystem::path> find_cli(const std::optional<std::filesystem::path>& explicit_path = {});

struct CliOutput {
  std::string out;  // all of stdout (up to RunOptions::max_stdout_bytes)
  std::string err;  // the end of stderr (RunOptions::stderr_bytes), colour codes and all
  proxy::ExitStatus status;
};

struct RunOptions {
  runtime::Deadline deadline = runtime::Deadline::after(std::chrono::seconds(30));
  // Each complete stdout line as it arrives (`coder start` shows build progress there); the
  // output is still collected.
  std::function<void(std::string_view line)> on_stdout_line;
  // The same for stderr (warnings, and build logs in some CLI versions), which is also kept.
  std::function<void(std::string_view line)> on_stderr_line;
  std::size_t max_stdout_bytes = 16 * 1024 * 1024;
  std::size_t stderr_bytes = 64 * 1024;
};

class CoderCli {
 public:
  // `environment`: changes to what the CLI inherits from us (proxy::ProcessOptions::environment),
  // for every run and for the ProxyCommand a connection through it starts: a shared holder runs
  // `coder` with each client's CODER_* variables.
  using Environment = std::vector<std::pair<std::string, std::optional<std::string>>>;
  explicit CoderCli(std::filesystem::path program, runtime::Logger log = {}, Environment environment = {})
      : program_(std::move(program)), log_(std::move(log)), environment_(std::move(environment)) {}

  const std::filesystem::path& program() const { return program_; }
  const runtime::Logger& log() const { return log_; }
  const Environment& environment() const { return environment_; }

  // `coder <args...>`. Its stdin is closed at once (nothing may wait for a person). Errors:
  // Layer::coder, timed_out (the child is killed), spawn_failed, or refused for a non-zero exit,
  // with "exit status", "stderr" and "stdout" evidence.
  asio::awaitable<runtime::Result<CliOutput>> run(std::vector<std::string> args, RunOptions options = {}) const;

  // "`coder list --search name:ws --output json`", for messages.
  static std::string describe(const std::vector<std::string>& args);

 private:
  std::filesystem::path program_;
  runtime::Logger log_;
  Environment environment_;
};

}  // namespace cr::coder
