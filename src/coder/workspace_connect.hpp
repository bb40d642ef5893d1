#pragma once
// Connecting to a workspace in as few Coder CLI runs as it takes. `coder ssh --stdio` starts a
// stopped workspace itself and waits for its agent, so the dial (workspace_plan, then dial) begins
// at once and a cold connection runs one `coder` process:
//
// - a dial still going after progress_after has the workspace watched with `coder list` (never
//   `coder start`: the CLI's ssh is starting it), each state seen for the first time a progress
//   event, until the dial ends;
// - a dial that fails runs `coder list` once to say why: a workspace that is not there, deleted or
//   being deleted, failed, or whose agent failed gets ensure_ready's Coder-layer error (evidence:
//   its state and the connection's error); otherwise the dial's own error stands (the proxy's exit
//   status and stderr), with the workspace's state as evidence;
// - the CLI's "version mismatch" warning, from any of these `coder` runs (the ProxyCommand's stderr
//   included), is reported once, described with both versions and the remedy.
//
// Cancellation through the caller's slot ends the dial and any `coder list`, leaving no process.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <asio/awaitable.hpp>

#include "coder/cli_driver.hpp"
#include "coder/proxy_command_line.hpp"
#include "coder/readiness.hpp"
#include "coder/workspace.hpp"
#include "coder/workspace_plan.hpp"
#include "runtime/logging.hpp"
#include "ssh/connection.hpp"

namespace cr::coder {

struct WorkspaceConnectOptions {
  // The profile (workspace_plan) and the dial (DialOptions).
  std::string suffix{kDefaultHostSuffix};
  std::string user;  // empty: the local user's name (the agent ignores it)
  // Bounds the dial, the workspace's start by `coder ssh` included (the plan's ConnectTimeout).
  std::optional<std::chrono::seconds> timeout;
  std::chrono::milliseconds stall_budget = kDefaultStallBudget;  // the plan's (WorkspacePlanOptions)
  std::optional<std::filesystem::path> remembered_choices;
  runtime::Logger log;

  // Progress: Kind::state events from `coder list`, on the caller's executor, in order.
  std::function<void(const ReadinessEvent&)> on_progress;
  std::chrono::milliseconds progress_after{1000};
  std::chrono::milliseconds poll_interval{2000};
  std::chrono::milliseconds list_timeout{30000};  // each `coder list`

  // The CLI's version mismatch as one message (describe_mismatch), at most once. The proxy's
  // stderr reader may call it for as long as the connection lives: capture nothing that dies first.
  std::function<void(const std::string& warning)> on_warning;
};

// The connection, or an error: Layer::coder for the workspace (see above) or a bad suffix,
// otherwise dial's (proxy, network, banner, key exchange, auth); Errc::cancelled when cancelled.
asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> connect_workspace(
    const CoderCli& cli, WorkspaceRef workspace, WorkspaceConnectOptions options = {});

}  // namespace cr::coder
