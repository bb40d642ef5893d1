#pragma once
// Bringing a workspace to where an SSH connection can succeed, the way the Coder dashboard would:
// running with its agents connected and ready -> go; stopping/canceling -> wait for it to settle
// and poll; stopped/failed/canceled -> `coder start <ws> --yes`; pending/starting -> poll; deleted
// or not there -> a clear error; an agent whose startup failed -> an error with its state. All
// within one overall deadline, cancellable through the caller's cancellation slot.

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <asio/awaitable.hpp>

#include "coder/cli_driver.hpp"
#include "coder/workspace.hpp"

namespace cr::coder {

struct ReadinessEvent {
  enum class Kind {
    state,     // a state seen for the first time (state is set)
    starting,  // we run `coder start`
    output,    // a line `coder start` printed on stdout or stderr (text, colour codes removed)
    ready,     // done (state is set)
  };
  Kind kind = Kind::state;
  std::string text;  // for state/ready: state->summary()
  std::optional<WorkspaceState> state;
};

struct ReadinessOptions {
  std::chrono::milliseconds poll_interval{2000};
  std::chrono::milliseconds overall_timeout{120000};
  // Bounds each `coder list` (a start gets whatever is left of the overall timeout).
  std::chrono::milliseconds list_timeout{30000};
  // Called on the caller's executor, in order; keep it short.
  std::function<void(const ReadinessEvent&)> on_progress;
};

// Why a workspace in this state cannot take a connection, whatever we wait for or start: an agent
// whose startup failed, no agent at all, deleted or being deleted (or a delete that failed), a
// build status we do not know. nullopt when it is usable or could become so.
std::optional<std::string> unusable_reason(const WorkspaceState& state);

// The errors ensure_ready gives (Layer::coder): "workspace X not found" (invalid_argument) and
// "workspace X cannot be used: <why>" (refused).
runtime::Error workspace_not_found(const WorkspaceRef& workspace);
runtime::Error workspace_unusable(const WorkspaceRef& workspace, const std::string& why);

// The ready state, or an error (Layer::coder) naming the workspace, what was seen last (evidence
// "last state") and, for a failed start, the CLI's own words. Deadline: Errc::timed_out.
asio::awaitable<runtime::Result<WorkspaceState>> ensure_ready(const CoderCli& cli, WorkspaceRef workspace,
                                                              ReadinessOptions options = {});

}  // namespace cr::coder
