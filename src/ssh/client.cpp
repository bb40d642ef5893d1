#include "ssh/client.hpp"

#include "ssh/crypto/secret.hpp"

namespace cr::ssh {

void use_unlocked_secret_memory() { crypto::use_unlocked_secret_memory(); }

asio::awaitable<runtime::Result<std::shared_ptr<Connection>>> connect(std::unique_ptr<runtime::AsyncStream> stream,
                                                                      ClientOptions options) {
  auto transport = co_await Transport::connect(*stream, std::move(options.transport));
  if (!transport) {
    co_await stream->close();
    co_return runtime::fail(std::move(transport.error()));
  }
  if (options.none_auth_expected) options.auth.behind_none = Connection::first_session_open(options.connection);
  const bool session_opened = options.none_auth_expected;
  auto authenticated = co_await authenticate(**transport, std::move(options.auth));
  if (!authenticated) {
    co_await (*transport)
        ->disconnect(DisconnectReason::no_more_auth_methods_available, "no more authentication methods available");
    co_return runtime::fail(std::move(authenticated.error()));
  }
  co_return Connection::start(std::move(stream), std::move(*transport), std::move(options.connection), session_opened);
}

}  // namespace cr::ssh
