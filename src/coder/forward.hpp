#pragma once
// Port forwarding over a connection, as ssh's -L, -D, -R and -W do (RFC 4254 section 7), for TCP
// ports and, on POSIX, Unix sockets (OpenSSH's streamlocal channels) on either side:
// - local (-L): each connection to a local port is joined to a direct-tcpip channel on which the
//   server connects to the target;
// - dynamic (-D): the same, with the target named by the local client in SOCKS5;
// - remote (-R): the server listens (tcpip-forward) and each connection there comes as a
//   forwarded-tcpip channel, joined to a connection made here to the target.
// - agent (-A): each auth-agent@openssh.com channel the server opens is joined to a new
//   connection to the local ssh-agent.
// A forwarded connection that cannot be made ends alone; the forward and the connection go on, as
// in ssh.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/stream_listener.hpp"
#include "proxy/tcp_listener.hpp"
#include "runtime/logging.hpp"
#include "ssh/connection.hpp"

namespace cr::coder {

// Where a forwarded connection is made on the far side: host and port, or the Unix socket at
// `socket` when that is set.
struct ForwardTarget {
  std::string host;
  std::uint16_t port = 0;
  std::string socket;
  std::string describe() const;  // "localhost port 80", "socket /run/app.sock"
  // Neither: a remote forward whose connections are SOCKS5 clients naming their own (-R port).
  bool dynamic() const { return host.empty() && socket.empty(); }
};

// -L's and -R's [bind_address:]port:host:hostport (an IPv6 address in brackets): where to listen,
// and where to connect from the other side. As in ssh, a field with a '/' is a Unix socket's path:
// path:host:port, [bind_address:]port:path and path:path listen or connect there instead.
struct ForwardSpec : ForwardTarget {
  std::string bind_address;  // empty (none given): loopback; "*" (or given empty): every address
  std::uint16_t bind_port = 0;
  std::string bind_socket;  // a socket's path to listen on, instead of an address and port
};
// -D's [bind_address:]port.
struct ListenSpec {
  std::string bind_address;
  std::uint16_t bind_port = 0;
};
// Errors: invalid_argument quoting the spec and what is wrong with it.
runtime::Result<ForwardSpec> parse_forward_spec(std::string_view spec);
runtime::Result<ListenSpec> parse_listen_spec(std::string_view spec);
// -W's host:port.
runtime::Result<ssh::DirectTcpip> parse_host_port(std::string_view spec);
// `coder port-forward --tcp`'s list: "[bind_address:]local[:remote]" items, comma-separated, where
// each port may be a range ("9000-9002:3000-3002", of one size); remote is local when not given,
// and the host to connect to is the workspace's loopback (127.0.0.1).
runtime::Result<std::vector<ForwardSpec>> parse_tcp_forwards(std::string_view list);

// One local connection joined to a channel to `target` (direct-tcpip, or direct-streamlocal for a
// socket), until both directions end or the connection ends; one the server will not open closes
// the local connection alone (a warning).
asio::awaitable<void> forward_connection(std::shared_ptr<ssh::Connection> connection,
                                         std::unique_ptr<runtime::AsyncStream> local, ForwardTarget target,
                                         runtime::Logger log);

// Each of these serves until cancelled, the listener fails (its error), or the connection ends (its
// failure is the result); forwarded connections end with the connection too.
// -L: every connection accepted on `listener` goes to `target`.
asio::awaitable<runtime::Result<void>> serve_local_forward(std::shared_ptr<ssh::Connection> connection,
                                                           proxy::StreamListener& listener, ForwardTarget target,
                                                           runtime::Logger log);
// -D: every connection accepted on `listener` is a SOCKS5 client naming its target. One that sends
// anything else is closed alone.
asio::awaitable<runtime::Result<void>> serve_dynamic_forward(std::shared_ptr<ssh::Connection> connection,
                                                             proxy::TcpListener& listener, runtime::Logger log);

// -R: asks the server to listen for each forward, in order (a dynamic one, -R [bind_address:]port,
// has no target: its connections are SOCKS5 clients naming theirs, made from here) (tcpip-forward, or
// streamlocal-forward@openssh.com for a socket); each result is the port the server listens on
// (the one it chose, for port 0; 0 for a socket) or why it would not.
struct RemoteForward {
  ForwardSpec spec;
  std::uint16_t server_port = 0;
};
asio::awaitable<std::vector<runtime::Result<std::uint16_t>>> request_remote_forwards(
    std::shared_ptr<ssh::Connection> connection, std::vector<ForwardSpec> specs);
// Joins each connection the server accepts for `forwards` (those it listens for) to a connection
// made here to the forward's target; one that cannot be made is refused to the server (connect
// failed), which closes the connection on its side.
asio::awaitable<runtime::Result<void>> serve_remote_forwards(std::shared_ptr<ssh::Connection> connection,
                                                             std::vector<RemoteForward> forwards, runtime::Logger log);

// -A: serves the channels on which the server's programs reach the agent at `agent_socket` (or
// SSH_AUTH_SOCK). take_agent_channels comes before the session's request for them, so that none is
// refused.
void take_agent_channels(ssh::Connection& connection);
asio::awaitable<runtime::Result<void>> serve_agent_channels(std::shared_ptr<ssh::Connection> connection,
                                                            std::optional<std::string> agent_socket,
                                                            runtime::Logger log);

}  // namespace cr::coder
