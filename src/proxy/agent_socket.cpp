#include "proxy/agent_socket.hpp"

#include <cstdlib>

#include "proxy/local_endpoint.hpp"

namespace cr::proxy {

asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> connect_ssh_agent(
    runtime::Deadline deadline, std::optional<std::string> socket) {
  if (!socket) {
    const char* from_environment = std::getenv("SSH_AUTH_SOCK");
    if (from_environment) socket = from_environment;
  }
#ifdef _WIN32
  // OpenSSH for Windows: SSH_AUTH_SOCK when set (a pipe path), else its agent service's pipe.
  if (!socket || socket->empty()) socket = std::string(kWindowsAgentPipe);
  co_return co_await connect_named_pipe(std::move(*socket), deadline);
#else
  if (!socket || socket->empty()) {
    co_return runtime::fail(runtime::Errc::invalid_argument, runtime::Layer::auth,
                            "SSH_AUTH_SOCK is not set: there is no ssh-agent to ask");
  }
  co_return co_await connect_local(std::move(*socket), deadline);
#endif
}

}  // namespace cr::proxy
