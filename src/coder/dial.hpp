#pragma once
// Opening an SSH connection to a planned destination the way ssh does: the stream (the
// ProxyCommand, or TCP to HostName:Port), the identities (the agent's keys first, then key files,
// in ssh's order), then the handshake and authentication, within ConnectTimeout. The connection
// owns the stream: a ProxyCommand's process lives as long as the connection.

#include <filesystem>
#include <functional>
#include <optional>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/async_stream.hpp"
#include "runtime/logging.hpp"
#include "ssh/client_config.hpp"
#include "ssh/connection.hpp"
#include "ssh/identity.hpp"

// Coder workspaces over the SSH client: the Coder CLI, starting and reaching a workspace,
// dialling a plan, running commands and moving files, and a pool of warm connections.
namespace cr::coder {

struct DialOptions {
  ssh::IdentityFileOptions identity_files;  // the passphrase callback; none in batch mode
  // Each chunk the ProxyCommand writes to stderr (ssh lets it reach the terminal); it is kept for
  // errors either way.
  std::function<void(std::string_view)> on_proxy_stderr;
  // Changes to the environment the ProxyCommand inherits (proxy::ProcessOptions::environment):
  // a shared holder runs `coder` with each client's CODER_* variables, not its own.
  std::vector<std::pair<std::string, std::optional<std::string>>> proxy_environment;
  // Where each server's first choices are remembered across processes (first_choices.hpp); in
  // this process only when unset.
  std::optional<std::filesystem::path> remembered_choices;
  // How ssh reads a jump host's configuration (ProxyJump): the host named in the list, planned
  // from its own Host block as `ssh -W` would plan it. Required for a plan with jump hosts.
  std::function<runtime::Result<ssh::ClientPlan>(const ssh::Destination& jump_host)> plan_jump_host;
  runtime::Logger log;
};

// Errors carry the layer that failed: proxy (with the command's exit status and stderr), network,
// banner, key exchange (both sides' algorithm lists), auth (methods and keys tried).
//
// A plan's jump hosts (ProxyJump) are dialled first, each through the one before it, as ssh -J
// does: the last one's direct-tcpip channel to HostName:Port carries the connection, and the
// connection owns the chain. A jump host with no further hosts before it is reached as its own
// plan says (its own ProxyJump or ProxyCommand included).
//
// The plan may come from ssh_config (ssh::plan_connection) or be filled in by the caller. The keys
// tried are the plan's own identities (options.auth.identities) first, then the agent's and the
// key files'. The host key verifier is required: ssh::accept_any_host_key() must be asked for.
asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> dial(ssh::ClientPlan plan, DialOptions options);

// The same over a stream the caller already has (a socket, a tunnel of its own), which the
// connection then owns: the plan's HostName, Port and ProxyCommand are not used to reach the
// server, but still name it where its first choices are remembered; ConnectTimeout bounds the
// handshake and authentication.
asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> dial_over(
    std::unique_ptr<runtime::AsyncStream> stream, ssh::ClientPlan plan, DialOptions options);

}  // namespace cr::coder
