#include "proxy/agent_socket.hpp"

#include <cstdlib>

#ifdef _WIN32
#include <windows.h>

#include <asio/steady_timer.hpp>
#include <asio/windows/stream_handle.hpp>

#include "proxy/socket_stream.hpp"
#include "runtime/paths.hpp"
#else
#include "proxy/unix_stream.hpp"
#endif

namespace cr::proxy {

#ifdef _WIN32
namespace {

// A client end of a named pipe, opened overlapped for stream_handle. A busy pipe (every instance
// taken: the agent is between clients) is retried until the deadline.
asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> open_pipe(std::string path) {
  auto executor = co_await asio::this_coro::executor;
  const auto wide = runtime::widen(path);
  for (;;) {
    HANDLE pipe = CreateFileW(wide.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                              FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, nullptr);
    if (pipe != INVALID_HANDLE_VALUE) {
      asio::windows::stream_handle handle(executor);
      std::error_code ec;
      handle.assign(pipe, ec);
      if (ec) {
        CloseHandle(pipe);
        co_return runtime::fail(std::move(runtime::Error(runtime::Errc::connect_failed, runtime::Layer::network,
                                                         fmt::format("could not use named pipe {}", path))
                                              .with_system(ec)));
      }
      co_return std::make_unique<SocketStream<asio::windows::stream_handle>>(std::move(handle), fmt::format("pipe {}", path));
    }
    const std::error_code ec(static_cast<int>(GetLastError()), std::system_category());
    if (ec.value() != ERROR_PIPE_BUSY) {
      co_return runtime::fail(std::move(runtime::Error(runtime::Errc::connect_failed, runtime::Layer::network,
                                                       fmt::format("could not open named pipe {}: {}", path, ec.message()))
                                            .with_system(ec)));
    }
    asio::steady_timer pause(executor, std::chrono::milliseconds(10));
    auto [waited] = co_await pause.async_wait(as_tuple);
    if (waited) co_return runtime::fail(runtime::Errc::cancelled, runtime::Layer::network, fmt::format("opening {} cancelled", path));
  }
}

}  // namespace
#endif

asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> connect_ssh_agent(
    runtime::Deadline deadline, std::optional<std::string> socket) {
  if (!socket) {
    const char* from_environment = std::getenv("SSH_AUTH_SOCK");
    if (from_environment) socket = from_environment;
  }
#ifdef _WIN32
  // OpenSSH for Windows: SSH_AUTH_SOCK when set (a pipe path), else its agent service's pipe.
  if (!socket || socket->empty()) socket = std::string(kWindowsAgentPipe);
  const std::string what = fmt::format("opening ssh-agent pipe {}", *socket);
  co_return co_await runtime::with_deadline(deadline, open_pipe(std::move(*socket)), runtime::Layer::network, what);
#else
  if (!socket || socket->empty()) {
    co_return runtime::fail(runtime::Errc::invalid_argument, runtime::Layer::auth,
                            "SSH_AUTH_SOCK is not set: there is no ssh-agent to ask");
  }
  co_return co_await connect_unix(std::move(*socket), deadline);
#endif
}

}  // namespace cr::proxy
