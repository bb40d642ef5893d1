#pragma once
// The connection profile for a workspace, as an ssh::ClientPlan that coder::dial opens: the same
// settings the ssh config block gives OpenSSH, so our client and `ssh ws.mux--coder` reach the
// workspace the same way.
//
// - ProxyCommand `"<coder>" "ssh" "--stdio" "--hostname-suffix" "<suffix>" "<ws>.<suffix>"`, quoted
//   as in the block; its stderr is kept for errors (dial's process stream does that).
// - Authentication: none only (the agent accepts nothing else); no key files are read and no agent
//   is asked, so nothing can prompt for a passphrase. Since none succeeds, the first session
//   channel is opened behind it, and a spare session channel is kept open for the next command.
// - Host key algorithms lead with rsa-sha2-256, the agent's first, so the key exchange's guessed
//   first packet is right (where the agent's first kex is one we implement: see the .cpp).
// - Keepalive every 5 s, 2 missed = dead (the desktop app's ServerAliveInterval/CountMax).
// - Host keys: StrictHostKeyChecking no, known hosts /dev/null: the CLI's tunnel is authenticated,
//   and the agent's key may change with every build.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "coder/proxy_command_line.hpp"
#include "coder/workspace.hpp"
#include "runtime/logging.hpp"
#include "ssh/client_config.hpp"

namespace cr::coder {

inline constexpr std::chrono::milliseconds kDefaultStallBudget{10000};
// What a caller may set it to: below, a busy machine's scheduling looks like a stall; above, the
// budget no longer names anything sooner than a timeout would.
inline constexpr std::chrono::milliseconds kLeastStallBudget{100};
inline constexpr std::chrono::milliseconds kMostStallBudget{3600000};

struct WorkspacePlanOptions {
  std::filesystem::path coder;  // the CLI (find_cli)
  std::string suffix{kDefaultHostSuffix};
  std::string user;  // empty: the local user's name (the agent ignores it)
  // ConnectTimeout. None by default, as in the block: `coder ssh --stdio` may first start the
  // workspace; bound it by a deadline of the caller's or set one here.
  std::optional<std::chrono::seconds> connect_timeout;
  // The handshake's stall budget (ssh/stall.hpp). Once the agent's first byte has come (the
  // workspace is up), it sends its part of the handshake in milliseconds: one silent this long
  // sits behind a stalled tunnel, found as soon as the keepalives below find a dead one later.
  std::chrono::milliseconds stall_budget = kDefaultStallBudget;
  runtime::Logger log;
};

// Errors: invalid_argument for a suffix or CLI path that cannot go into a ProxyCommand.
runtime::Result<ssh::ClientPlan> workspace_plan(const WorkspaceRef& workspace, const WorkspacePlanOptions& options);

}  // namespace cr::coder
