#include "cli/commands.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "runtime/paths.hpp"

namespace cr::cli {

runtime::Logger GlobalOptions::logger() const {
  if (verbosity == 0) return {};
  const auto level = verbosity >= 3   ? runtime::LogLevel::trace
                     : verbosity == 2 ? runtime::LogLevel::debug
                                      : runtime::LogLevel::info;
  return runtime::Logger(runtime::stderr_sink(), level);
}

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

std::optional<std::filesystem::path> remembered_choices_file() {
  const auto cache = runtime::cache_directory();
  if (!cache) return std::nullopt;
  return *cache / "coder-runtime" / "server-first-choices";
}

}  // namespace cr::cli
