// coder-runtime: run agent sessions in Coder workspaces over SSH.

#include <csignal>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "ssh/client.hpp"

#ifdef _WIN32
#include <windows.h>
#endif

namespace cr::cli {

#ifdef _WIN32
// Our text is UTF-8 and reaches stdout and stderr as bytes: a console shows them as UTF-8 only
// while its output code page says so. The console is shared with the shell that started us, so
// its own code page comes back when we end.
class Utf8ConsoleOutput {
 public:
  Utf8ConsoleOutput() : saved_(GetConsoleOutputCP()) {
    if (saved_ != 0) SetConsoleOutputCP(CP_UTF8);
  }
  ~Utf8ConsoleOutput() {
    if (saved_ != 0) SetConsoleOutputCP(saved_);
  }
  Utf8ConsoleOutput(const Utf8ConsoleOutput&) = delete;
  Utf8ConsoleOutput& operator=(const Utf8ConsoleOutput&) = delete;

 private:
  UINT saved_;
};
#endif

}  // namespace cr::cli

int main(int argc, char** argv) {
  using namespace cr::cli;
  // A process per command: Botan's locked-memory pool cost more than the handshake.
  cr::ssh::use_unlocked_secret_memory();
#ifdef _WIN32
  const Utf8ConsoleOutput utf8_console;
#else
  // As ssh: a write to a closed pipe (stdout piped into `head`) is an error to handle, not death.
  std::signal(SIGPIPE, SIG_IGN);
#endif
  CLI::App app{kProgramDescription};
  app.require_subcommand(1);
  GlobalOptions global;
  app.add_flag("-v,--verbose", global.verbosity, "More detail on stderr (repeat for more)");
  int exit_code = 0;

  app.add_subcommand("version", "Print the version")->callback([] { fmt::print("coder-runtime 0.1.0\n"); });
  add_probe_command(app, global, exit_code);
  add_ssh_command(app, global, exit_code);
  add_scp_command(app, global, exit_code);
  add_cp_command(app, global, exit_code);
  add_exec_command(app, global, exit_code);
  add_workspace_commands(app, global, exit_code);
  add_doctor_command(app, global, exit_code);
  add_serve_command(app, global, exit_code);
  add_connections_command(app, global, exit_code);
  add_port_forward_command(app, global, exit_code);

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
