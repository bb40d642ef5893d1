#pragma once
// The executable's subcommands. Each returns the process exit code.

#include <filesystem>
#include <optional>

#include <asio/awaitable.hpp>

#include "runtime/logging.hpp"

namespace CLI {
class App;
}  // namespace CLI

namespace cr::cli {

inline constexpr const char* kProgramDescription = "coder-runtime: run agent sessions in Coder workspaces over SSH";

// Exit code for a connection failure, as ssh uses it.
inline constexpr int kExitConnectionFailed = 255;

struct GlobalOptions {
  int verbosity = 0;  // -v, -vv, -vvv
  runtime::Logger logger() const;
};

// Where the executable remembers each server's first key exchange choices between runs, so that
// the next run's guess is right (coder::DialOptions::remembered_choices): in the user's cache.
std::optional<std::filesystem::path> remembered_choices_file();

// Runs a command's coroutine on an io_context of its own to the end: its result is the exit code.
int run_to_exit_code(asio::awaitable<int> command);

void add_probe_command(CLI::App& app, const GlobalOptions& global, int& exit_code);
void add_ssh_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_scp_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_cp_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_exec_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_workspace_commands(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_doctor_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_connections_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_port_forward_command(CLI::App& app, GlobalOptions& global, int& exit_code);
void add_serve_command(CLI::App& app, GlobalOptions& global, int& exit_code);

}  // namespace cr::cli
