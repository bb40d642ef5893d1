// An exec request's command line (what the workspace's shell is given) and the words for its
// outcome: both without a connection, so that the executable's front links none.

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "coder/operations.hpp"

namespace cr::coder {
namespace {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

bool is_variable_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace

std::string_view to_string(RemoteShell shell) {
  switch (shell) {
    case RemoteShell::posix:
      return "a POSIX shell";
    case RemoteShell::cmd:
      return "cmd.exe";
    case RemoteShell::powershell:
      return "PowerShell";
  }
  return "?";
}

std::string_view to_string(ExecEnd end) {
  switch (end) {
    case ExecEnd::exited:
      return "exited";
    case ExecEnd::signalled:
      return "killed by a signal";
    case ExecEnd::closed_without_status:
      return "closed without an exit status";
    case ExecEnd::timed_out:
      return "timed out";
    case ExecEnd::cancelled:
      return "cancelled";
  }
  return "?";
}

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

Result<std::string> argv_command_line(const std::vector<std::string>& argv, RemoteShell shell) {
  if (shell != RemoteShell::posix) {
    // cmd.exe expands %VAR% even inside double quotes, and each Windows program splits its own
    // command line (PowerShell re-quotes a native program's arguments by rules of its version):
    // no quoting we could send holds for every program.
    return runtime::fail(Errc::invalid_argument, Layer::coder,
                         fmt::format("an argv cannot be quoted for {} so that every Windows program gets exactly its "
                                     "words; run a command line written for {} instead",
                                     to_string(shell), to_string(shell)));
  }
  if (argv.empty()) return runtime::fail(Errc::invalid_argument, Layer::coder, "an empty argv names no program to run");
  std::string line;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (argv[i].find('\0') != std::string::npos) {
      Error error(Errc::invalid_argument, Layer::coder,
                  fmt::format("argv[{}] holds a NUL byte, which no program's arguments can", i));
      return runtime::fail(std::move(error.with(fmt::format("argv[{}]", i), runtime::printable(argv[i]))));
    }
    if (i > 0) line += ' ';
    line += shell_quote(argv[i]);
  }
  return line;
}

// The login shell runs it: `cd DIR && export K=V ... && COMMAND`.
Result<std::string> exec_command_line(const ExecRequest& request) {
  if (request.login_shell) {
    return runtime::fail(Errc::invalid_argument, Layer::coder, "an exec request for a login shell has no command line");
  }
  if (request.command.empty() == request.argv.empty()) {
    return runtime::fail(Errc::invalid_argument, Layer::coder,
                         request.argv.empty() ? "an exec request needs a command line or an argv"
                                              : "an exec request has both a command line and an argv; set one of them");
  }
  if (request.remote_shell != RemoteShell::posix && (!request.cwd.empty() || !request.env.empty())) {
    return runtime::fail(Errc::invalid_argument, Layer::coder,
                         fmt::format("a directory or variables for the command are set with POSIX shell syntax, "
                                     "which {} does not take; put them in the command line for it instead",
                                     to_string(request.remote_shell)));
  }
  std::string line;
  if (!request.cwd.empty()) line += fmt::format("cd {} && ", shell_quote(request.cwd));
  if (!request.env.empty()) {
    line += "export";
    for (const auto& [name, value] : request.env) {
      if (!is_variable_name(name)) {
        return runtime::fail(Errc::invalid_argument, Layer::channel,
                             fmt::format("'{}' is not a name a shell variable can have", runtime::printable(name)));
      }
      line += fmt::format(" {}={}", name, shell_quote(value));
    }
    line += " && ";
  }
  if (request.argv.empty()) {
    line += request.command;
  } else {
    auto program = argv_command_line(request.argv, request.remote_shell);
    if (!program) return runtime::fail(std::move(program.error()));
    line += *program;
  }
  auto fits = ssh::check_exec_command(line);
  if (!fits) return runtime::fail(std::move(fits.error()));
  return line;
}

Result<std::optional<std::string>> exec_program(const ExecRequest& request) {
  if (!request.login_shell) return exec_command_line(request);
  if (!request.command.empty() || !request.argv.empty() || !request.cwd.empty() || !request.env.empty()) {
    return runtime::fail(Errc::invalid_argument, Layer::coder,
                         "an exec request for a login shell takes no command, argv, directory or variables");
  }
  return std::nullopt;
}

}  // namespace cr::coder
