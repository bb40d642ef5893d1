#pragma once
// Test plumbing for the SSH client: connect through a ProxyCommand (sshd -i, the Go server) with
// a deadline, either all the way to a Connection or only through authentication, to see what it
// chose.

#include <chrono>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "proxy/proxy_command.hpp"
#include "ssh/client.hpp"

namespace cr::test {

inline constexpr std::chrono::seconds kConnectBudget{15};

inline ssh::ClientOptions as_user(std::string user) {
  ssh::ClientOptions options;
  options.transport.verify_host_key = ssh::accept_any_host_key();  // the test's own server
  options.auth.user = std::move(user);
  return options;
}

inline runtime::Result<std::unique_ptr<runtime::AsyncStream>> start_proxy(asio::any_io_executor ex,
                                                                          const std::string& proxy_command) {
  const proxy::ProxyTokens tokens{"test-host", "22", "coder", "test-host"};
  auto proxy = proxy::start_proxy_command(ex, proxy_command, tokens);
  if (!proxy) return runtime::fail(std::move(proxy.error()));
  return std::unique_ptr<runtime::AsyncStream>(std::move(*proxy));
}

inline asio::awaitable<runtime::Result<std::shared_ptr<ssh::Connection>>> connect_through(std::string proxy_command,
                                                                                          ssh::ClientOptions options) {
  auto ex = co_await asio::this_coro::executor;
  auto stream = start_proxy(ex, proxy_command);
  REQUIRE(stream);
  // The caller may expect a refusal: the stream's start is the only REQUIRE here.
  const auto deadline = runtime::Deadline::after(kConnectBudget);
  auto connecting = ssh::connect(std::move(*stream), std::move(options));
  co_return co_await runtime::with_deadline(deadline, std::move(connecting), runtime::Layer::kex, "connecting");
}

// Connect, run one command, close: the command's result, or why there was none.
inline asio::awaitable<runtime::Result<ssh::ExecResult>> exec_through(std::string proxy_command,
                                                                      ssh::ClientOptions options, std::string command,
                                                                      ssh::ExecOptions exec = {}) {
  auto connection = co_await connect_through(std::move(proxy_command), std::move(options));
  if (!connection) co_return runtime::fail(std::move(connection.error()));
  auto result = co_await (*connection)->exec(std::move(command), std::move(exec));
  co_await (*connection)->close();
  co_return result;
}

struct Authenticated {
  ssh::AuthResult result;
  std::vector<std::string> server_sig_algs;
};

inline asio::awaitable<runtime::Result<Authenticated>> authenticate_steps(runtime::AsyncStream& stream,
                                                                          ssh::AuthOptions auth) {
  ssh::TransportOptions transport_options;
  transport_options.verify_host_key = ssh::accept_any_host_key();  // the test's own server
  auto transport = co_await ssh::Transport::connect(stream, std::move(transport_options));
  if (!transport) co_return runtime::fail(std::move(transport.error()));
  auto authenticated = co_await ssh::authenticate(**transport, std::move(auth));
  co_await (*transport)->disconnect(ssh::DisconnectReason::by_application, "test done");
  if (!authenticated) co_return runtime::fail(std::move(authenticated.error()));
  co_return Authenticated{std::move(*authenticated), (*transport)->server_sig_algs()};
}

// Key exchange and authentication only, to see which method and signature algorithm won.
inline asio::awaitable<runtime::Result<Authenticated>> authenticate_through(std::string proxy_command,
                                                                            ssh::AuthOptions auth) {
  auto ex = co_await asio::this_coro::executor;
  auto stream = start_proxy(ex, proxy_command);
  REQUIRE(stream);
  const auto deadline = runtime::Deadline::after(kConnectBudget);
  auto authenticating = authenticate_steps(**stream, std::move(auth));
  auto result =
      co_await runtime::with_deadline(deadline, std::move(authenticating), runtime::Layer::auth, "authenticating");
  co_await (*stream)->close();
  co_return result;
}

}  // namespace cr::test
