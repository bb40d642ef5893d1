#pragma once
// Which shared connection a workspace request uses, and how it is opened when there is none.
//
// Connections are shared only between requests that would open the same one: the same workspace
// and host suffix, the same Coder CLI, and the same CODER_* variables (they pick the deployment
// and the session). The pool's key holds all of it; a person sees the destination
// ("ws.mux--coder") in listings.

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "coder/pool.hpp"
#include "coder/proxy_command_line.hpp"
#include "coder/workspace.hpp"
#include "service/server.hpp"

namespace cr::service {

struct WorkspaceTarget {
  coder::WorkspaceRef workspace;
  std::string coder;  // the CLI's path; empty: `coder` on our PATH
  std::string suffix{coder::kDefaultHostSuffix};
  std::vector<std::pair<std::string, std::string>> coder_env;  // the client's CODER_* variables
};

// The client's CODER_* variables, for WorkspaceTarget::coder_env.
std::vector<std::pair<std::string, std::string>> coder_environment();

// "ws.mux--coder" for a pool key, or for a target.
std::string destination_of(const std::string& pool_key);
std::string destination_of(const WorkspaceTarget& target);

using TextCallback = std::function<void(std::string)>;

// The Coder CLI the target names (its path, or `coder` on PATH), run with the target's CODER_*
// variables in place of ours.
runtime::Result<coder::CoderCli> coder_cli_for(const WorkspaceTarget& target, const runtime::Logger& log);

// The target's shared connection, dialed through `coder ssh --stdio` when there is none. Progress
// lines and the CLI's warnings (once per dial) go to the callbacks.
asio::awaitable<runtime::Result<coder::Lease>> acquire_workspace(coder::ConnectionPool& pool, WorkspaceTarget target,
                                                                 const ServerOptions& options, TextCallback on_progress,
                                                                 TextCallback on_warning);

}  // namespace cr::service
