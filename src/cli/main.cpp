// coder-runtime: run agent sessions in Coder workspaces over SSH.

#include <csignal>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"

namespace cr::cli {

int run_to_exit_code(asio::awaitable<int> command) {
  asio::io_context io;
  int exit_code = 0;
  asio::co_spawn(io, std::move(command), [&](std::exception_ptr e, int code) {
    if (e) std::rethrow_exception(e);
    exit_code = code;
  });
  io.run();
  return exit_code;
}

runtime::Logger GlobalOptions::logger() const {
  if (verbosity == 0) return {};
  const auto level = verbosity >= 3 ? runtime::LogLevel::trace
                     : verbosity == 2 ? runtime::LogLevel::debug
                                      : runtime::LogLevel::info;
  return runtime::Logger(runtime::stderr_sink(), level);
}

}  // namespace cr::cli

int main(int argc, char** argv) {
  using namespace cr::cli;
#ifndef _WIN32
  // As ssh: a write to a closed pipe (stdout piped into `head`) is an error to handle, not death.
  std::signal(SIGPIPE, SIG_IGN);
#endif
  CLI::App app{"coder-runtime: run agent sessions in Coder workspaces over SSH"};
  app.require_subcommand(1);
  GlobalOptions global;
  app.add_flag("-v,--verbose", global.verbosity, "More detail on stderr (repeat for more)");
  int exit_code = 0;

  app.add_subcommand("version", "Print the version")->callback([] { fmt::print("coder-runtime 0.1.0\n"); });
  add_probe_command(app, global, exit_code);
#ifndef _WIN32  // the commands on the Coder layer are POSIX-only for now (CMakeLists.txt)
  add_ssh_command(app, global, exit_code);
  add_exec_command(app, global, exit_code);
  add_workspace_commands(app, global, exit_code);
  add_doctor_command(app, global, exit_code);
#endif

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
