#pragma once
// A Unix domain socket as an AsyncStream (POSIX): how an ssh-agent is reached through
// SSH_AUTH_SOCK, and how any local service listening on a socket path is.

#include <memory>
#include <string>

#include "runtime/async_stream.hpp"
#include "runtime/deadline.hpp"

namespace cr::proxy {

// Errors: Layer::network, Errc::connect_failed with the OS reason and the path.
asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> connect_unix(std::string path,
                                                                                    runtime::Deadline deadline);

}  // namespace cr::proxy
