#pragma once
// `coder-runtime ssh`'s forwards as OpenSSH reads them: -L, -D, -R, -W and -A, with ssh_config's
// LocalForward, DynamicForward, RemoteForward, ForwardAgent, ExitOnForwardFailure and GatewayPorts.
// Local ports are bound to loopback unless an address is given (or GatewayPorts); a remote
// forward's address is the server's to decide (sshd's GatewayPorts). A Unix socket's path may
// stand for either side of -L and -R (POSIX only), with StreamLocalBindUnlink.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coder/forward.hpp"
#include "proxy/stream_listener.hpp"
#include "ssh/client_config.hpp"
#include "ssh/config.hpp"
#include "ssh/connection.hpp"

namespace cr::cli {

struct ForwardOptions {
  std::vector<std::string> local;    // -L
  std::vector<std::string> dynamic;  // -D
  std::vector<std::string> remote;   // -R
  std::string stdio;                 // -W
};

struct Forwards {
  std::vector<coder::ForwardSpec> local;
  std::vector<coder::ListenSpec> dynamic;
  std::vector<coder::ForwardSpec> remote;
  std::optional<ssh::DirectTcpip> stdio;
  bool exit_on_failure = false;
  bool unlink_sockets = false;  // StreamLocalBindUnlink: a socket file in the way is removed first
  bool any() const { return !local.empty() || !dynamic.empty() || !remote.empty() || stdio; }
};

// The options and the config's lines together; a malformed one is invalid_argument naming it.
runtime::Result<Forwards> forwards_of(const ForwardOptions& options, const ssh::SshConfig& config);

// Forwards once set up: their local ports listening, the server listening for the remote ones,
// and the agent the session asked to forward (-A).
struct ActiveForwards {
  std::vector<std::pair<std::unique_ptr<proxy::StreamListener>, coder::ForwardTarget>> local;
  std::vector<std::unique_ptr<proxy::TcpListener>> dynamic;
  std::vector<coder::RemoteForward> remote;
  std::optional<std::string> agent;
  bool any() const { return !local.empty() || !dynamic.empty() || !remote.empty() || agent; }
  ActiveForwards() = default;
  ActiveForwards(ActiveForwards&&) = default;
  ActiveForwards& operator=(ActiveForwards&&) = default;
  // A local socket's file goes with its forward.
  ~ActiveForwards() {
    for (auto& [listener, target] : local) listener->close();
  }
};

// The agent socket ForwardAgent forwards: its own path, or the one authentication uses
// (IdentityAgent, SSH_AUTH_SOCK, Windows' agent pipe); nullopt when forwarding is off or there is
// no agent, where ssh forwards nothing either.
std::optional<std::string> agent_to_forward(const ssh::ClientPlan& plan);

// Sets up each port forward. One that cannot be set up is the error under ExitOnForwardFailure
// (ssh exits 255), a warning otherwise. A remote port the server chose is told on stderr, as ssh
// tells it.
asio::awaitable<runtime::Result<ActiveForwards>> start_forwards(std::shared_ptr<ssh::Connection> connection,
                                                                const Forwards& forwards, runtime::Logger log);

// Serves them until the connection ends or this is cancelled; every forward's loop has ended when
// it returns.
asio::awaitable<void> serve_forwards(std::shared_ptr<ssh::Connection> connection, ActiveForwards& forwards,
                                     runtime::Logger log);

// ssh -W: stdin and stdout are the forwarded connection, done once the server's side has closed;
// the exit status.
asio::awaitable<int> forward_stdio(std::shared_ptr<ssh::Connection> connection, ssh::DirectTcpip target,
                                   const runtime::Logger& log);

}  // namespace cr::cli
