#pragma once
// A channel as a runtime::AsyncStream (direct-tcpip, RFC 4254 section 7.2): read_some reads the
// channel's data, write_some sends within its window, shutdown_send is the channel's EOF and
// close() its CLOSE. Whatever runs on an AsyncStream runs on it, another SSH connection included
// (ProxyJump-style chaining).

#include <memory>
#include <string>

#include "runtime/async_stream.hpp"
#include "ssh/channel.hpp"

namespace cr::ssh {

// `what` names the channel and its far end in describe() ("direct-tcpip db.internal:5432"), which
// adds the connection it runs on.
std::unique_ptr<runtime::AsyncStream> make_channel_stream(std::unique_ptr<Channel> channel, std::string what);

}  // namespace cr::ssh
