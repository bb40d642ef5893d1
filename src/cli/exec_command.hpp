#pragma once
// `coder-runtime exec`'s options, shared by its two ways to run a command: on a connection of
// its own (exec_own_connection.cpp) and through the connection holder (exec_shared.cpp).

#include <filesystem>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/control_options.hpp"
#include "cli/exec_report.hpp"
#include "coder/operations.hpp"
#include "coder/workspace.hpp"
#include "coder/proxy_command_line.hpp"
#include "runtime/logging.hpp"
#include "service/holder.hpp"

namespace cr::cli {

struct ExecCommandOptions {
  std::vector<std::string> ssh_options;  // -o ControlMaster, ControlPersist, ControlPath
  std::string coder;
  std::string suffix{coder::kDefaultHostSuffix};
  std::string cwd;
  std::vector<std::string> env;
  double timeout_seconds = 0;
  bool tty = false;
  bool json = false;
  bool shell = false;                  // --shell: the words are one command line, joined with spaces
  bool argv = false;                   // --argv: the words are a program and its arguments
  std::string remote_shell = "posix";  // --remote-shell: posix, cmd or powershell
  int verbosity = 0;
  std::string workspace;
  std::vector<std::string> command;
  bool login_shell = false;  // no command: the user's shell (`coder-runtime ssh` to a workspace)
  // The exit code of a failure on the Coder side: `ssh` gives 255 for every failure of its own.
  int coder_failed_exit = kExitCoderFailed;
};

// What both ways to run a command check before they touch the workspace: its name, the request
// (the words after `--`: one is a shell command line, several a program and its arguments, each
// quoted for the remote shell, unless --shell or --argv says which; checked by the rules
// coder::exec applies) and the Coder CLI. Every error here is a Coder-side failure (exit 125).
struct PreparedExec {
  coder::WorkspaceRef workspace;
  coder::ExecRequest request;
  std::filesystem::path cli;
};
runtime::Result<PreparedExec> prepare_exec(const ExecCommandOptions& o);

// The user's connection holder, started from this executable (with `control`'s ControlPersist,
// and -v `verbosity` times) when none answers.
struct ReachedHolder {
  service::HolderPaths paths;
  std::unique_ptr<runtime::AsyncStream> stream;
};
asio::awaitable<runtime::Result<ReachedHolder>> reach_holder(const ControlOptions& control, int verbosity,
                                                             runtime::Logger log);

// The handle an exec through the holder has: one command per client connection.
inline constexpr std::uint32_t kHolderExecHandle = 1;

// The holder's exec params for a prepared request (docs/protocol.md, exec).
nlohmann::json holder_exec_params(const ExecCommandOptions& o, const PreparedExec& prepared);

// The holder's progress and warning notifications, shown as exec shows its own.
void show_holder_notice(const Reporter& report, bool json_events, std::string_view method,
                        const nlohmann::json& params);

// Reports the holder's answer to exec (the command's end, or the error) and returns the exit
// code. `holder_stream_failure`: why the stream to the holder ended before it answered, if it did.
int finish_holder_exec(const Reporter& report, const ExecCommandOptions& o, const service::HolderPaths& paths,
                       const runtime::Result<nlohmann::json>& answer,
                       const std::optional<runtime::Error>& holder_stream_failure, const runtime::Logger& log);

// exec's options and words as CLI11 reads them, on a new `exec` subcommand of `app`; after the
// parse, take_exec_words adds the command's words that CLI11 leaves unread.
CLI::App* add_exec_options(CLI::App& app, ExecCommandOptions& o, GlobalOptions& global);
void take_exec_words(CLI::App& exec, ExecCommandOptions& o);

// Runs `command` on an io_context of its own to its exit code. Ctrl-C and SIGTERM emit a terminal
// cancellation on the slot it is given, instead of killing us mid-session.
int run_with_interrupts(const std::function<asio::awaitable<int>(asio::cancellation_slot)>& command);

// Runs the command on a connection of this process's own; Ctrl-C and SIGTERM cancel it. The
// executable's front (front_main.cpp) has no SSH client: there this hands the command line to the
// full program.
int exec_on_own_connection(const ExecCommandOptions& o, runtime::Logger log);

// Runs the command through the user's connection holder, starting one when there is none.
// Ctrl-C and SIGTERM reach it as `interrupts`: the command is cancelled on the holder (TERM, then
// close) and its outcome still comes back.
asio::awaitable<int> exec_through_holder(ExecCommandOptions options, ControlOptions control, runtime::Logger log,
                                         asio::cancellation_slot interrupts);

}  // namespace cr::cli
