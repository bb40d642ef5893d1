// `coder-runtime serve --stdio`: the service protocol (docs/protocol.md) on this process's stdin
// and stdout, for a host process that starts it as a child and owns it. It serves until its stdin
// ends (the host closed it, or exited) or SIGTERM, then closes every connection it opened. Its
// log goes to stderr.

#include <csignal>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/local_terminal.hpp"
#include "proxy/stdio_stream.hpp"
#include "service/server.hpp"

namespace cr::cli {
namespace {

asio::awaitable<void> serve_host(std::shared_ptr<service::Server> server, std::unique_ptr<runtime::AsyncStream> host,
                                 asio::signal_set& stop_signals) {
  co_await server->serve(std::move(host));
  co_await server->stop();
  stop_signals.cancel();
}

int serve_stdio(const GlobalOptions& global) {
  asio::io_context io;
  service::ServerOptions options;
  options.remembered_choices = remembered_choices_file();
  options.log = runtime::Logger(runtime::stderr_sink(), global.verbosity == 0   ? runtime::LogLevel::warning
                                                        : global.verbosity == 1 ? runtime::LogLevel::info
                                                                                : runtime::LogLevel::debug);
  auto stream = proxy::take_stdio(io.get_executor());
  if (!stream) {
    write_stderr(fmt::format("coder-runtime: {}\n", stream.error().summary()));
    return kExitConnectionFailed;
  }
  auto server = service::Server::create(io.get_executor(), options);
  asio::signal_set stop_signals(io, SIGTERM, SIGINT);
  stop_signals.async_wait([server, &io](std::error_code ec, int) {
    if (!ec) asio::co_spawn(io, server->stop(), asio::detached);
  });
  asio::co_spawn(io, serve_host(server, std::move(*stream), stop_signals), asio::detached);
  io.run();
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* cmd = app.add_subcommand("serve", "Serve the service protocol (docs/protocol.md) to a host process");
  auto stdio = std::make_shared<bool>(false);
  cmd->add_flag("--stdio", *stdio, "On this process's stdin and stdout (the host starts it as a child)")->required();
  cmd->add_flag("-v", global.verbosity, "More detail on stderr (repeat for more)");
  cmd->callback([stdio, &global, &exit_code] { exit_code = serve_stdio(global); });
}

}  // namespace cr::cli
