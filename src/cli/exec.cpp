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
  auto* cmd = add_exec_options(app, *o, global);
  cmd->callback([cmd, o, &global, &exit_code] {
    take_exec_words(*cmd, *o);
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
