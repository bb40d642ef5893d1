// exec's command line as CLI11 reads it, apart from running it, so that the front's own reading
// (front_command_line.cpp) can be held against it in the tests.

#include <CLI/CLI.hpp>

#include "cli/exec_command.hpp"

namespace cr::cli {

CLI::App* add_exec_options(CLI::App& app, ExecCommandOptions& o, GlobalOptions& global) {
  auto* cmd = app.add_subcommand("exec", "Make a Coder workspace ready, run a command in it, and relay its output");
  cmd->add_option("--coder", o.coder, "The Coder CLI (default: coder on PATH)");
  cmd->add_option("--suffix", o.suffix, "The host name suffix of the workspaces' ssh config block");
  cmd->add_option("--cwd", o.cwd, "The directory to run the command in");
  cmd->add_option("--env", o.env, "A variable for the command, NAME=VALUE; may be repeated")->allow_extra_args(false);
  cmd->add_option("--timeout", o.timeout_seconds, "End the command after this many seconds (exit code 124)");
  cmd->add_flag("--tty", o.tty, "Run the command on a pseudo-terminal");
  cmd->add_flag("--json", o.json, "Print one JSON object per event on stdout instead of the raw streams");
  cmd->add_flag("-v", global.verbosity, "More detail on stderr (repeat for more)");
  auto* shell = cmd->add_flag("--shell", o.shell, "The words after -- are one command line (joined with spaces)");
  cmd->add_flag("--argv", o.argv, "The words after -- are a program and its arguments (each quoted)")->excludes(shell);
  cmd->add_option("--remote-shell", o.remote_shell,
                  "The workspace's shell: posix (default), or cmd or powershell (Windows: command lines only)")
      ->check(CLI::IsMember({"posix", "cmd", "powershell"}));
  cmd->add_option("workspace", o.workspace, "The workspace: name or owner/name")->required();
  cmd->add_option("command", o.command,
                  "After --: one word is a shell command line, several a program and its arguments")
      ->required()
      ->allow_extra_args(false);
  // The words after the first are taken as they are: CLI11 reads a word like `[a,b]` given to an
  // option of several values as a list.
  cmd->prefix_command();
  cmd->footer(
      "Exit codes: the command's own; 124 timed out; 125 Coder-side failure; 130 cancelled; 255 connection failed.");
  cmd->add_option("-o", o.ssh_options,
                  "ControlMaster=auto|no (share the user's connection holder; default auto), ControlPersist=TIME, "
                  "ControlPath=PATH|none")
      ->allow_extra_args(false);
  return cmd;
}

void take_exec_words(CLI::App& exec, ExecCommandOptions& o) {
  auto rest = exec.remaining();
  if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());  // CLI11 keeps the mark
  o.command.insert(o.command.end(), rest.begin(), rest.end());
}

}  // namespace cr::cli
