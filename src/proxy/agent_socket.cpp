#include "proxy/agent_socket.hpp"

#include <cstdlib>

#include "proxy/unix_stream.hpp"

namespace cr::proxy {

asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> connect_ssh_agent(
    runtime::Deadline deadline, std::optional<std::string> socket) {
  if (!socket) {
    const char* from_environment = std::getenv("SSH_AUTH_SOCK");
    if (from_environment) socket = from_environment;
  }
  if (!socket || socket->empty()) {
    co_return runtime::fail(runtime::Errc::invalid_argument, runtime::Layer::auth,
                            "SSH_AUTH_SOCK is not set: there is no ssh-agent to ask");
  }
  co_return co_await connect_unix(std::move(*socket), deadline);
}

}  // namespace cr::proxy
