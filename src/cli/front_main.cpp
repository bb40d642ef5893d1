// coder-runtime's front (POSIX): the executable a script starts for every command. A script's
// commands are mostly `exec` through the user's connection holder, where the process's own start is
// most of what the user waits for; so this executable runs that exec itself, read without CLI11 and
// relayed without an io_context (front_command_line.hpp, exec_front.hpp), and carries no SSH
// client. Any other command line, an exec it does not read as plain, one on a connection of its
// own, and one that finds no holder running are handed whole to the full program beside it
// (coder-runtime-full) with execv: the same process, arguments, descriptors and environment.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "cli/exec_front.hpp"
#include "cli/front_command_line.hpp"
#include "service/holder.hpp"

namespace cr::cli {
namespace {

[[noreturn]] void hand_to_full_program(char** command_line) {
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

// A standard descriptor the caller closed is /dev/null here, as OpenSSH's sanitise_stdfd makes
// it: otherwise the holder's socket would take its number, and output would go into the protocol.
void open_closed_standard_descriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
    const int opened = ::open("/dev/null", O_RDWR);
    if (opened >= 0 && opened != fd) {
      ::dup2(opened, fd);
      ::close(opened);
    }
  }
}

}  // namespace
}  // namespace cr::cli

int main(int argc, char** argv) {
  using namespace cr::cli;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  const auto exec = read_front_exec(args);
  if (!exec) hand_to_full_program(argv);
  const auto control = parse_control_options(exec->ssh_options);
  if (!control || !control->shared) hand_to_full_program(argv);
  open_closed_standard_descriptors();
  // As ssh: a write to a closed pipe (stdout piped into `head`) is an error to handle, not death.
  std::signal(SIGPIPE, SIG_IGN);
  const auto exit_code = exec_through_running_holder(*exec, *control);
  if (!exit_code) {
    std::signal(SIGPIPE, SIG_DFL);
    hand_to_full_program(argv);
  }
  return *exit_code;
}
