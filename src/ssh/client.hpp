#pragma once
// The SSH client in one call: version and key exchange, authentication, and a connection that
// runs commands. The connection owns the stream (a ProxyCommand's process lives as long as it).

#include <memory>

#include "ssh/client_auth.hpp"
#include "ssh/connection.hpp"
#include "ssh/transport.hpp"

namespace cr::ssh {

struct ClientOptions {
  TransportOptions transport;
  AuthOptions auth;
  ConnectionOptions connection;
};

// Bound it with runtime::with_deadline (ConnectTimeout); cancel it through the cancellation slot.
asio::awaitable<runtime::Result<std::shared_ptr<Connection>>> connect(std::unique_ptr<runtime::AsyncStream> stream,
                                                                       ClientOptions options);

}  // namespace cr::ssh
