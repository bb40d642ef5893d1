// `coder-runtime exec WORKSPACE -- COMMAND...`: what an agent app does, from a script. The
// connection through `coder ssh --stdio`, which starts a stopped workspace itself, is made at once
// (coder::connect_workspace: progress on stderr only when it takes a while); the command runs with
// the Coder agent's profile, stdin streams to it as it arrives and its output streams back, and the
// exit code is the command's. Exit codes of our own: 124 timed out, 130 cancelled (Ctrl-C or
// SIGTERM: the command gets TERM, then its channel closes), 125 a Coder-side failure (no CLI, a
// workspace that cannot be used), 255 the connection failed (as ssh).

#include <csignal>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/exec_command.hpp"
#include "cli/exec_report.hpp"
#include "coder/cli_driver.hpp"

namespace cr::cli {

namespace {

runtime::Result<std::vector<std::pair<std::string, std::string>>> parse_env(
    const std::vector<std::string>& assignments) {
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& assignment : assignments) {
    const auto equals = assignment.find('=');
    if (equals == std::string::npos || equals == 0) {
      return runtime::fail(runtime::Errc::invalid_argument, runtime::Layer::cli,
                           fmt::format("--env takes NAME=VALUE, not '{}'", assignment));
    }
    env.emplace_back(assignment.substr(0, equals), assignment.substr(equals + 1));
  }
  return env;
}

runtime::Result<coder::ExecRequest> exec_request_of(const ExecCommandOptions& o) {
  auto env = parse_env(o.env);
  if (!env) return runtime::fail(std::move(env.error()));
  coder::ExecRequest request;
  request.login_shell = o.login_shell;
  if (o.argv || (!o.shell && o.command.size() > 1)) {
    request.argv = o.command;
  } else {
    for (const auto& word : o.command) request.command += (request.command.empty() ? "" : " ") + word;
  }
  if (o.remote_shell == "cmd") request.remote_shell = coder::RemoteShell::cmd;
  if (o.remote_shell == "powershell") request.remote_shell = coder::RemoteShell::powershell;
  request.cwd = o.cwd;
  request.env = std::move(*env);
  if (o.timeout_seconds > 0) request.timeout = std::chrono::milliseconds(static_cast<long>(o.timeout_seconds * 1000));
  auto line = coder::exec_program(request);
  if (!line) return runtime::fail(std::move(line.error()));
  return request;
}

}  // namespace

runtime::Result<PreparedExec> prepare_exec(const ExecCommandOptions& o) {
  auto workspace = coder::parse_workspace_ref(o.workspace);
  if (!workspace) return runtime::fail(std::move(workspace.error()));
  auto request = exec_request_of(o);
  if (!request) return runtime::fail(std::move(request.error()));
  std::optional<std::filesystem::path> explicit_cli;
  if (!o.coder.empty()) explicit_cli = o.coder;
  auto cli = coder::find_cli(explicit_cli);
  if (!cli) return runtime::fail(std::move(cli.error()));
  return PreparedExec{std::move(*workspace), std::move(*request), std::move(*cli)};
}

int run_with_interrupts(const std::function<asio::awaitable<int>(asio::cancellation_slot)>& command) {
  asio::io_context io;
  asio::cancellation_signal cancel;
  asio::signal_set interrupts(io, SIGINT, SIGTERM);
  interrupts.async_wait([&](std::error_code ec, int) {
    if (!ec) cancel.emit(asio::cancellation_type::terminal);
  });
  int exit_code = 0;
  asio::co_spawn(io, command(cancel.slot()), [&](std::exception_ptr e, int code) {
    if (e) std::rethrow_exception(e);
    exit_code = code;
    interrupts.cancel();
  });
  io.run();
  return exit_code;
}

void add_exec_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<ExecCommandOptions>();
  auto* cmd = app.add_subcommand("exec", "Make a Coder workspace ready, run a command in it, and relay its output");
  cmd->add_option("--coder", o->coder, "The Coder CLI (default: coder on PATH)");
  cmd->add_option("--suffix", o->suffix, "The host name suffix of the workspaces' ssh config block");
  cmd->add_option("--cwd", o->cwd, "The directory to run the command in");
  cmd->add_option("--env", o->env, "A variable for the command, NAME=VALUE; may be repeated")->allow_extra_args(false);
  cmd->add_option("--timeout", o->timeout_seconds, "End the command after this many seconds (exit code 124)");
  cmd->add_flag("--tty", o->tty, "Run the command on a pseudo-terminal");
  cmd->add_flag("--json", o->json, "Print one JSON object per event on stdout instead of the raw streams");
  cmd->add_flag("-v", global.verbosity, "More detail on stderr (repeat for more)");
  auto* shell = cmd->add_flag("--shell", o->shell, "The words after -- are one command line (joined with spaces)");
  cmd->add_flag("--argv", o->argv, "The words after -- are a program and its arguments (each quoted)")->excludes(shell);
  cmd->add_option("--remote-shell", o->remote_shell,
                  "The workspace's shell: posix (default), or cmd or powershell (Windows: command lines only)")
      ->check(CLI::IsMember({"posix", "cmd", "powershell"}));
  cmd->add_option("workspace", o->workspace, "The workspace: name or owner/name")->required();
  cmd->add_option("command", o->command,
                  "After --: one word is a shell command line, several a program and its arguments")
      ->required()
      ->allow_extra_args(false);
  // The words after the first are taken as they are: CLI11 reads a word like `[a,b]` given to an
  // option of several values as a list.
  cmd->prefix_command();
  cmd->footer(
      "Exit codes: the command's own; 124 timed out; 125 Coder-side failure; 130 cancelled; 255 connection failed.");
  cmd->add_option("-o", o->ssh_options,
                  "ControlMaster=auto|no (share the user's connection holder; default auto), ControlPersist=TIME, "
                  "ControlPath=PATH|none")
      ->allow_extra_args(false);
  cmd->callback([cmd, o, &global, &exit_code] {
    auto rest = cmd->remaining();
    if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());  // CLI11 keeps the mark
    o->command.insert(o->command.end(), rest.begin(), rest.end());
    auto control = parse_control_options(o->ssh_options);
    if (!control) {
      exit_code = Reporter(o->json).failure(control.error(), kExitConnectionFailed, global.logger());
      return;
    }
    o->verbosity = global.verbosity;
    if (!control->shared) {
      exit_code = exec_on_own_connection(*o, global.logger());
      return;
    }
    exit_code = run_with_interrupts([&](asio::cancellation_slot interrupts) {
      return exec_through_holder(*o, *control, global.logger(), interrupts);
    });
  });
}

}  // namespace cr::cli
