// `coder-runtime start|status WORKSPACE` and `coder-runtime config-ssh`: the workspace's state as
// the Coder CLI reports it, making it ready, and the ~/.ssh/config block that lets plain `ssh`
// (and editors) reach workspaces the way this tool does.

#include <cstdlib>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/local_terminal.hpp"
#include "coder/cli_driver.hpp"
#include "coder/readiness.hpp"
#include "coder/ssh_config_block.hpp"
#include "coder/workspace.hpp"
#include "runtime/paths.hpp"

namespace cr::cli {
namespace {

constexpr int kExitCoderFailed = 125;

struct WorkspaceCommandOptions {
  std::string coder;
  std::string workspace;
  bool json = false;
};

int fail(const runtime::Error& error, const runtime::Logger& log) {
  write_stderr(fmt::format("coder-runtime: {}\n", error.summary()));
  if (log.enabled(runtime::LogLevel::debug)) write_stderr(error.detailed());
  return kExitCoderFailed;
}

runtime::Result<coder::CoderCli> find_coder(const std::string& explicit_path, const runtime::Logger& log) {
  std::optional<std::filesystem::path> path;
  if (!explicit_path.empty()) path = explicit_path;
  auto found = coder::find_cli(path);
  if (!found) return runtime::fail(std::move(found.error()));
  return coder::CoderCli(*found, log.child("coder"));
}

asio::awaitable<int> status(WorkspaceCommandOptions o, runtime::Logger log) {
  auto workspace = coder::parse_workspace_ref(o.workspace);
  if (!workspace) co_return fail(workspace.error(), log);
  auto cli = find_coder(o.coder, log);
  if (!cli) co_return fail(cli.error(), log);
  auto state = co_await coder::query_workspace(*cli, *workspace, runtime::Deadline::after(std::chrono::seconds(30)));
  if (!state) co_return fail(state.error(), log);
  if (!*state) {
    co_return fail(
        runtime::Error(runtime::Errc::invalid_argument, runtime::Layer::coder,
                       fmt::format("there is no workspace {} (coder list does not show it)", workspace->to_string())),
        log);
  }
  if (o.json) {
    write_stdout(coder::to_json(**state).dump() + "\n");
  } else {
    write_stdout(fmt::format("{}: {}\n", workspace->to_string(), (*state)->summary()));
  }
  co_return 0;
}

asio::awaitable<int> start(WorkspaceCommandOptions o, runtime::Logger log) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto workspace = coder::parse_workspace_ref(o.workspace);
  if (!workspace) co_return fail(workspace.error(), log);
  auto cli = find_coder(o.coder, log);
  if (!cli) co_return fail(cli.error(), log);
  coder::ReadinessOptions readiness;
  readiness.on_progress = [&](const coder::ReadinessEvent& event) {
    if (event.kind == coder::ReadinessEvent::Kind::output) {
      write_stderr(fmt::format("coder-runtime: {}\n", event.text));
    } else if (event.kind != coder::ReadinessEvent::Kind::ready) {
      write_stderr(fmt::format("coder-runtime: workspace {}: {}\n", workspace->to_string(), event.text));
    }
  };
  auto ready = co_await coder::ensure_ready(*cli, *workspace, std::move(readiness));
  if (!ready) co_return fail(ready.error(), log);
  if (o.json) {
    write_stdout(coder::to_json(*ready).dump() + "\n");
  } else {
    write_stdout(fmt::format("{} is ready: {}\n", workspace->to_string(), ready->summary()));
  }
  co_return 0;
}

struct ConfigSshOptions {
  std::string coder;
  std::string suffix{coder::kDefaultHostSuffix};
  std::string file;
  bool remove = false;
};

int config_ssh(const ConfigSshOptions& o, const runtime::Logger& log) {
  std::filesystem::path file = o.file;
  if (file.empty()) {
    file = runtime::home_directory().value_or(".") / ".ssh" / "config";
  }
  if (o.remove) {
    auto removed = coder::remove_block(file);
    if (!removed) return fail(removed.error(), log);
    write_stdout(*removed ? fmt::format("removed the Coder block from {}\n", file.string())
                          : fmt::format("{} has no Coder block\n", file.string()));
    return 0;
  }
  std::optional<std::filesystem::path> explicit_cli;
  if (!o.coder.empty()) explicit_cli = o.coder;
  auto cli = coder::find_cli(explicit_cli);
  if (!cli) return fail(cli.error(), log);
  auto written = coder::write_block(file, {*cli, o.suffix});
  if (!written) return fail(written.error(), log);
  write_stdout(fmt::format("{}: `ssh <workspace>.{}` now reaches workspaces through {}\n", file.string(), o.suffix,
                           cli->string()));
  return 0;
}

}  // namespace

void add_workspace_commands(CLI::App& app, GlobalOptions& global, int& exit_code) {
  for (const bool starting : {false, true}) {
    auto o = std::make_shared<WorkspaceCommandOptions>();
    auto* cmd = starting
                    ? app.add_subcommand("start", "Make a workspace ready: start it if needed and wait for its agent")
                    : app.add_subcommand("status", "Show a workspace's build and agent state");
    cmd->add_option("--coder", o->coder, "The Coder CLI (default: coder on PATH)");
    cmd->add_flag("--json", o->json, "Print the state as JSON");
    cmd->add_flag("-v", global.verbosity, "More detail on stderr (repeat for more)");
    cmd->add_option("workspace", o->workspace, "The workspace: name or owner/name")->required();
    cmd->callback([o, starting, &global, &exit_code] {
      exit_code = run_to_exit_code(starting ? start(*o, global.logger()) : status(*o, global.logger()));
    });
  }
  auto o = std::make_shared<ConfigSshOptions>();
  auto* cmd = app.add_subcommand("config-ssh", "Write (or --remove) the ~/.ssh/config block for Coder workspaces");
  cmd->add_option("--coder", o->coder, "The Coder CLI the block runs (default: coder on PATH)");
  cmd->add_option("--suffix", o->suffix, "The host name suffix: workspaces are <name>.<suffix>");
  cmd->add_option("--file", o->file, "The ssh config file (default: ~/.ssh/config)");
  cmd->add_flag("--remove", o->remove, "Remove the block instead");
  cmd->callback([o, &global, &exit_code] { exit_code = config_ssh(*o, global.logger()); });
}

}  // namespace cr::cli
