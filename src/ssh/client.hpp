#pragma once
// The SSH client in one call: version and key exchange, authentication, and a connection that
// runs commands. The connection owns the stream (a ProxyCommand's process lives as long as it).

#include <memory>

#include "ssh/client_auth.hpp"
#include "ssh/connection.hpp"
#include "ssh/transport.hpp"

// The SSH client (RFC 4251-4254) over any runtime::AsyncStream: ssh_config and the connection
// plan, the transport and its key exchange, host keys, authentication, and the connection's
// channels and sessions.
namespace cr::ssh {

struct ClientOptions {
  TransportOptions transport;
  AuthOptions auth;
  ConnectionOptions connection;
  // The connection profile knows "none" authentication succeeds (Coder agents): the first session
  // channel's CHANNEL_OPEN leaves right behind it (AuthOptions::behind_none), and a server that
  // refuses none fails the connection with an auth error saying so.
  bool none_auth_expected = false;
};

// Bound it with runtime::with_deadline (ConnectTimeout); cancel it through the cancellation slot.
// For a short-lived process (a command-line tool), before any connection: secrets live in ordinary
// memory, still overwritten when freed, instead of locked pages that cost more to set up than a
// handshake (crypto/secret.hpp).
void use_unlocked_secret_memory();

asio::awaitable<runtime::Result<std::shared_ptr<Connection>>> connect(std::unique_ptr<runtime::AsyncStream> stream,
                                                                      ClientOptions options);

}  // namespace cr::ssh
