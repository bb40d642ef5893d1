// coder-runtime's front (POSIX): the executable a script starts for every command. A script's
// commands are mostly `exec` through the user's connection holder, where the process's own start is
// most of what the user waits for; so this executable carries that path and no SSH client, and
// starts in a fraction of the full program's time. Any other command line, and an exec on a
// connection of its own, is handed whole to the full program beside it (coder-runtime-full) with
// execv: the same process, arguments, descriptors and environment.

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/exec_command.hpp"
#include "service/holder.hpp"

namespace cr::cli {
namespace {

char** command_line = nullptr;

// Only `exec` is served here; the global -v flags may come before it.
bool front_serves(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view word = argv[i];
    const bool verbose =
        word == "--verbose" || (word.starts_with("-v") && word.find_first_not_of('v', 1) == std::string_view::npos);
    if (verbose) continue;
    return word == "exec";
  }
  return false;
}

[[noreturn]] void hand_to_full_program() {
  auto self = service::current_executable();
  if (!self) {
    fmt::print(stderr, "coder-runtime: {}\n", self.error().summary());
    std::_Exit(127);
  }
  // Beside the file itself when we were started through a symbolic link to it.
  std::error_code ec;
  auto real = std::filesystem::canonical(*self, ec);
  const auto full = (ec ? *self : real).parent_path() / "coder-runtime-full";
  ::execv(full.c_str(), command_line);
  fmt::print(stderr, "coder-runtime: could not run the full program {}: {}\n", full.string(), std::strerror(errno));
  std::_Exit(127);
}

}  // namespace

int exec_on_own_connection(const ExecCommandOptions&, runtime::Logger) { hand_to_full_program(); }

}  // namespace cr::cli

int main(int argc, char** argv) {
  using namespace cr::cli;
  command_line = argv;
  if (!front_serves(argc, argv)) hand_to_full_program();
  // As ssh: a write to a closed pipe (stdout piped into `head`) is an error to handle, not death.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{kProgramDescription};
  app.require_subcommand(1);
  GlobalOptions global;
  app.add_flag("-v,--verbose", global.verbosity, "More detail on stderr (repeat for more)");
  int exit_code = 0;
  add_exec_command(app, global, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
