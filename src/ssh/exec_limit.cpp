// The exec request's size limit on its own, so that a program that only checks a command line
// links no channel code.

#include <fmt/format.h>

#include "ssh/session.hpp"

namespace cr::ssh {

using runtime::Errc;
using runtime::Layer;
using runtime::Result;

Result<void> check_exec_command(std::string_view command) {
  if (command.size() <= kMaxExecCommandBytes) return {};
  return runtime::fail(Errc::invalid_argument, Layer::channel,
                       fmt::format("the command line is {} bytes; an exec request carries at most {} (SSH servers "
                                   "read packets of 256 KiB at most); pass large data on stdin instead",
                                   command.size(), kMaxExecCommandBytes));
}

}  // namespace cr::ssh
