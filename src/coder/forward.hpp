#pragma once
// Port forwarding over a connection, as ssh's -L and -W do (RFC 4254 section 7.2): each local
// connection, or this process's stdin and stdout, is joined to a direct-tcpip channel on which the
// server connects to the target. A forward that cannot open its channel (the server refuses, or
// cannot reach the target) ends that local connection alone, as ssh does.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "proxy/tcp_listener.hpp"
#include "runtime/logging.hpp"
#include "ssh/connection.hpp"

namespace cr::coder {

// -L's [bind_address:]port:host:hostport (an IPv6 address in brackets).
struct LocalForward {
  std::string bind_address;  // empty (none given): loopback; "*" (or given empty): every IPv4 address
  std::uint16_t bind_port = 0;
  std::string host;
  std::uint16_t port = 0;
};
// Errors: invalid_argument quoting the spec and what is wrong with it.
runtime::Result<LocalForward> parse_local_forward(std::string_view spec);
// -W's host:port.
runtime::Result<ssh::DirectTcpip> parse_host_port(std::string_view spec);

// Accepts connections on `listener` and joins each to a direct-tcpip channel to `target`, until
// cancelled, the listener fails, or the connection ends (its failure is the result). Forwarded
// connections end with the connection too.
asio::awaitable<runtime::Result<void>> serve_local_forward(std::shared_ptr<ssh::Connection> connection,
                                                           proxy::TcpListener& listener, ssh::DirectTcpip target,
                                                           runtime::Logger log);

}  // namespace cr::coder
