#pragma once
// A workspace's state as `coder list --search name:<ws> --output json` reports it. Coder matches
// `name:` by prefix ("ws" also finds "ws-2"), so the match is made exactly here; "owner/ws"
// names another user's workspace.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>
#include <nlohmann/json_fwd.hpp>

#include "coder/cli_driver.hpp"
#include "runtime/error.hpp"

namespace cr::coder {

struct WorkspaceRef {
  std::string owner;  // empty: the logged-in user's
  std::string name;

  std::string to_string() const { return owner.empty() ? name : owner + "/" + name; }
};

// "ws" or "owner/ws"; names are letters, digits, '-' and '_' (anything else could not be a Coder
// name and would reach a ProxyCommand line), invalid_argument otherwise.
runtime::Result<WorkspaceRef> parse_workspace_ref(std::string_view text);

struct AgentState {
  std::string name;
  std::string status;           // connecting, connected, disconnected, timeout
  std::string lifecycle_state;  // created, starting, start_timeout, start_error, ready, ...
};

struct WorkspaceState {
  std::string owner;
  std::string name;
  std::string status;      // latest_build.status: pending, starting, running, stopping, stopped, ...
  std::string transition;  // latest_build.transition: start, stop, delete
  std::vector<AgentState> agents;
  bool outdated = false;

  // "running (start), agent main connected/ready": for progress and evidence.
  std::string summary() const;
};

// {"owner", "name", "status", "transition", "outdated", "agents": [{"name", "status",
// "lifecycle_state"}]}: what `status --json` prints and the service's workspace methods answer.
nlohmann::json to_json(const WorkspaceState& state);

// The list's entry for exactly this workspace, nullopt when there is none. A malformed document
// or an entry without latest_build.status is a protocol_error showing the JSON.
runtime::Result<std::optional<WorkspaceState>> find_workspace(std::string_view list_json,
                                                              const WorkspaceRef& workspace);

// The `coder list` arguments that find it: owner and name filters, JSON output.
std::vector<std::string> list_arguments(const WorkspaceRef& workspace);

// `coder list` for exactly this workspace; `on_stderr_line` sees each line the CLI writes to stderr
// (its warnings), as RunOptions::on_stderr_line.
asio::awaitable<runtime::Result<std::optional<WorkspaceState>>> query_workspace(
    const CoderCli& cli, WorkspaceRef workspace, runtime::Deadline deadline,
    std::function<void(std::string_view line)> on_stderr_line = {});

}  // namespace cr::coder
