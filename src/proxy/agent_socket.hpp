#pragma once
// Where the user's ssh-agent listens: SSH_AUTH_SOCK, a Unix socket, on POSIX. On Windows,
// SSH_AUTH_SOCK if set, else OpenSSH's agent service, the named pipe \\.\pipe\openssh-ssh-agent.
// The stream goes to ssh::AgentClient, which speaks the agent protocol over any AsyncStream.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/async_stream.hpp"
#include "runtime/deadline.hpp"

namespace cr::proxy {

inline constexpr std::string_view kWindowsAgentPipe = R"(\\.\pipe\openssh-ssh-agent)";

// `socket`: a path to use instead of SSH_AUTH_SOCK (OpenSSH's IdentityAgent). Errors:
// Layer::auth when there is no agent to ask (SSH_AUTH_SOCK unset or empty), else connect_local's.
// Windows: there is always a pipe to try; Layer::network connect_failed when it cannot be opened
// (no agent service running), a busy pipe is retried until the deadline.
asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> connect_ssh_agent(
    runtime::Deadline deadline, std::optional<std::string> socket = std::nullopt);

}  // namespace cr::proxy
