#pragma once
// `coder-runtime exec`'s options, shared by its two ways to run a command: on a connection of
// its own (exec.cpp) and through the connection holder (exec_shared.cpp).

#include <string>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>

#include "cli/control_options.hpp"
#include "coder/proxy_command_line.hpp"
#include "runtime/logging.hpp"

namespace cr::cli {

struct ExecCommandOptions {
  std::vector<std::string> ssh_options;  // -o ControlMaster, ControlPersist, ControlPath
  std::string coder;
  std::string suffix{coder::kDefaultHostSuffix};
  std::string cwd;
  std::vector<std::string> env;
  double timeout_seconds = 0;
  bool tty = false;
  bool json = false;
  int verbosity = 0;
  std::string workspace;
  std::vector<std::string> command;
};

runtime::Result<std::vector<std::pair<std::string, std::string>>> parse_env(const std::vector<std::string>& assignments);

// Runs the command through the user's connection holder, starting one when there is none.
// Ctrl-C and SIGTERM reach it as `interrupts`: the command is cancelled on the holder (TERM, then
// close) and its outcome still comes back.
asio::awaitable<int> exec_through_holder(ExecCommandOptions options, ControlOptions control, runtime::Logger log,
                                         asio::cancellation_slot interrupts);

}  // namespace cr::cli
