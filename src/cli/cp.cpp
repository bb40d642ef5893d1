// `coder-runtime cp [-r] [-p] [-q] SOURCE... TARGET`: files between this machine and a Coder
// workspace, over SFTP, with scp's rules and exit codes (sftp_copy.hpp). `WORKSPACE:path` (or
// `owner/WORKSPACE:path`) names a file in the workspace; anything else is a local path (write a
// local name with a colon as ./name). The workspace is reached as `exec` reaches it on a connection
// of its own: `coder ssh --stdio`, which starts it when it is stopped, with progress on the way.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/local_terminal.hpp"
#include "cli/readiness_display.hpp"
#include "cli/sftp_copy.hpp"
#include "cli/ssh_connect.hpp"
#include "coder/cli_driver.hpp"
#include "coder/workspace_connect.hpp"

namespace cr::cli {
namespace {

struct CpOptions {
  std::string coder;
  std::string suffix{coder::kDefaultHostSuffix};
  bool recursive = false;
  bool preserve = false;
  bool quiet = false;
  std::vector<std::string> operands;
};

// "ws:path" and "owner/ws:path" are in a workspace (an empty path is its login directory); a text
// whose part before the first colon is no workspace name ("./a:b", "/x:y", "C:\x") is local.
ScpOperand parse_cp_operand(std::string_view text) {
  const auto colon = text.find(':');
  const bool drive_letter = kDriveLetterPaths && colon == 1;
  if (colon == std::string_view::npos || drive_letter || !coder::parse_workspace_ref(text.substr(0, colon))) {
    return ScpOperand{std::nullopt, std::string(text)};
  }
  RemoteFile file;
  file.host = std::string(text.substr(0, colon));
  file.path = colon + 1 == text.size() ? "." : std::string(text.substr(colon + 1));
  return ScpOperand{std::move(file), {}};
}

asio::awaitable<int> run_cp(CpOptions o, runtime::Logger log) {
  if (o.operands.size() < 2) {
    write_stderr("cp: a source and a target are needed: coder-runtime cp SOURCE... TARGET\n");
    co_return kExitCopyFailed;
  }
  std::vector<ScpOperand> sources;
  for (std::size_t i = 0; i + 1 < o.operands.size(); ++i) sources.push_back(parse_cp_operand(o.operands[i]));
  const auto target = parse_cp_operand(o.operands.back());
  const RemoteFile* in_workspace = one_server(sources, target, o.operands.back(), "cp");
  if (!in_workspace) co_return kExitCopyFailed;

  std::optional<std::filesystem::path> explicit_cli;
  if (!o.coder.empty()) explicit_cli = o.coder;
  auto cli_path = coder::find_cli(explicit_cli);
  if (!cli_path) co_return report_failure(cli_path.error(), log);
  auto workspace = coder::parse_workspace_ref(in_workspace->host);
  if (!workspace) co_return report_failure(workspace.error(), log);
  const coder::CoderCli cli(*cli_path, log.child("coder"));
  const bool terminal = stderr_is_terminal();
  auto executor = co_await asio::this_coro::executor;
  ReadinessDisplay display(executor, workspace->to_string(), terminal && !o.quiet);
  coder::WorkspaceConnectOptions connect;
  connect.suffix = o.suffix;
  connect.timeout = std::chrono::seconds(120);  // the workspace's start included
  connect.remembered_choices = remembered_choices_file();
  connect.log = log;
  connect.on_progress = [&display](const coder::ReadinessEvent& event) { display.show(event); };
  connect.on_warning = [](const std::string& warning) { write_stderr(fmt::format("cp: {}\n", warning)); };
  auto connected = co_await coder::connect_workspace(cli, *workspace, std::move(connect));
  display.finish(connected.has_value());
  if (!connected) co_return report_failure(connected.error(), log);
  const CopyOptions copy{o.recursive, o.preserve, !o.quiet && terminal, "cp"};
  co_return co_await copy_on_connection(std::move(*connected), copy, sources, target, log);
}

}  // namespace

void add_cp_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<CpOptions>();
  auto* cmd = app.add_subcommand("cp", "Copy files to or from a Coder workspace (WORKSPACE:path), over SFTP");
  cmd->add_option("--coder", o->coder, "The Coder CLI (default: coder on PATH)");
  cmd->add_option("--suffix", o->suffix, "The host name suffix of the workspaces' ssh config block");
  add_copy_flags(*cmd, o->recursive, o->preserve, o->quiet);
  cmd->add_flag("-v", global.verbosity, "More detail on stderr (repeat for more)");
  cmd->add_option("operands", o->operands, "SOURCE... TARGET: WORKSPACE:path, owner/WORKSPACE:path or a local path");
  cmd->callback([o, &global, &exit_code] { exit_code = run_to_exit_code(run_cp(*o, global.logger())); });
}

}  // namespace cr::cli
