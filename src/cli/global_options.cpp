#include "cli/commands.hpp"

namespace cr::cli {

runtime::Logger GlobalOptions::logger() const {
  if (verbosity == 0) return {};
  const auto level = verbosity >= 3   ? runtime::LogLevel::trace
                     : verbosity == 2 ? runtime::LogLevel::debug
                                      : runtime::LogLevel::info;
  return runtime::Logger(runtime::stderr_sink(), level);
}

}  // namespace cr::cli
