// `coder-runtime exec` on a connection of its own (ControlMaster=no): the workspace is made ready
// and connected through `coder ssh --stdio` in this process, and closed when the command ends.

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>

#include "cli/commands.hpp"
#include "cli/exec_command.hpp"
#include "cli/exec_report.hpp"
#include "cli/local_terminal.hpp"
#include "cli/readiness_display.hpp"
#include "coder/cli_driver.hpp"
#include "coder/operations.hpp"
#include "coder/readiness.hpp"
#include "coder/workspace_connect.hpp"

namespace cr::cli {

namespace {

// Cancellation (Ctrl-C, SIGTERM) arrives through this coroutine's slot at any step: while the
// workspace starts, while connecting, or while the command runs.
asio::awaitable<int> run_on_own_connection(ExecCommandOptions o, runtime::Logger log) {
  co_await asio::this_coro::throw_if_cancelled(false);
  const Reporter report(o.json);
  auto prepared = prepare_exec(o);
  if (!prepared) co_return report.failure(prepared.error(), kExitCoderFailed, log);
  const auto& workspace = prepared->workspace;
  const coder::CoderCli cli(prepared->cli, log.child("coder"));

  auto executor = co_await asio::this_coro::executor;
  const bool terminal = !o.json && stderr_is_terminal();
  ReadinessDisplay display(executor, workspace.to_string(), terminal);
  coder::WorkspaceConnectOptions connect;
  connect.suffix = o.suffix;
  connect.timeout = std::chrono::seconds(120);  // the workspace's start included
  connect.remembered_choices = remembered_choices_file();
  connect.log = log;
  connect.on_progress = [&](const coder::ReadinessEvent& event) {
    if (!o.json) return display.show(event);
    if (event.kind != coder::ReadinessEvent::Kind::ready) report.progress(progress_text(event, workspace.to_string()));
  };
  // The proxy's stderr reader may call this as long as the connection lives: it holds no reference.
  connect.on_warning = [json = o.json, terminal](const std::string& warning) {
    Reporter(json).warning(warning, terminal);
  };
  auto connected = co_await coder::connect_workspace(cli, workspace, std::move(connect));
  display.finish(connected.has_value());
  if (!connected) {
    const int code = connected.error().layer == runtime::Layer::coder ? kExitCoderFailed : kExitConnectionFailed;
    co_return report.failure(connected.error(), exit_code_for(connected.error(), code), log);
  }
  auto connection = std::move(*connected);

  auto request = std::move(prepared->request);
  if (o.tty) {
    ssh::PtyRequest pty;
    const auto size = terminal_size();
    pty.columns = size.columns;
    pty.rows = size.rows;
    request.pty = std::move(pty);
  }
  // Stdin as it arrives (a terminal, a pipe, a file), for as long as the command runs.
  auto stdin_reader = std::make_shared<StdinReader>(executor);
  request.stdin_source = [stdin_reader] { return stdin_reader->next(); };
  request.on_stdout = [&](std::string_view data) { report.output("stdout", data); };
  request.on_stderr = [&](std::string_view data) { report.output("stderr", data); };
  // As `ssh -t`: keys go to the remote terminal as typed (Ctrl-C included) while it runs.
  std::optional<RawTerminal> raw;
  if (o.tty) raw.emplace();
  auto outcome = co_await coder::exec(*connection, std::move(request));
  raw.reset();
  co_await connection->close();
  if (!outcome) co_return report.failure(outcome.error(), kExitConnectionFailed, log);
  const int code = exit_code_of(*outcome);
  report.exit(*outcome, code);
  co_return code;
}

asio::awaitable<int> cancelled_by(asio::cancellation_slot interrupts, ExecCommandOptions o, runtime::Logger log) {
  auto executor = co_await asio::this_coro::executor;
  co_return co_await asio::co_spawn(executor, run_on_own_connection(std::move(o), std::move(log)),
                                    asio::bind_cancellation_slot(interrupts, asio::use_awaitable));
}

}  // namespace

int exec_on_own_connection(const ExecCommandOptions& o, runtime::Logger log) {
  return run_with_interrupts([&](asio::cancellation_slot interrupts) { return cancelled_by(interrupts, o, log); });
}

}  // namespace cr::cli
