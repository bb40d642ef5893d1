#pragma once
// The client the transport_messages fuzz target and its regression tests run: over a Transport
// made directly on the stream (the "none" cipher and MAC of the state before the first NEWKEYS,
// so the server's bytes are plain packets) it authenticates (none, then keyboard-interactive and
// password), opens a session and runs a command with a variable and stdin, as far as the server's
// messages allow, then closes.

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "fuzz/server_bytes.hpp"
#include "ssh/client_auth.hpp"
#include "ssh/connection.hpp"
#include "ssh/transport.hpp"

namespace cr::fuzz {

inline ssh::AuthOptions auth_options() {
  ssh::AuthOptions auth;
  auth.user = "fuzz";
  auth.preferred = {"keyboard-interactive", "password"};
  auth.password = [](const std::string&, const std::string&) { return std::optional<std::string>("fuzz-password"); };
  auth.keyboard_interactive = [](const std::string&, const std::string&, const std::vector<ssh::Prompt>& prompts) {
    return std::optional<std::vector<std::string>>(std::vector<std::string>(prompts.size(), "fuzz-answer"));
  };
  auth.on_banner = [](const std::string&) {};
  auth.log = trace_logger();
  return auth;
}

inline asio::awaitable<void> authenticate_and_exec(std::unique_ptr<runtime::AsyncStream> stream) {
  ssh::TransportOptions transport_options;
  transport_options.verify_host_key = ssh::accept_any_host_key();  // the fuzzed peer
  transport_options.log = trace_logger();
  auto transport = std::make_unique<ssh::Transport>(*stream, std::move(transport_options));
  auto auth = auth_options();
  auto authenticated = co_await ssh::authenticate(*transport, std::move(auth));
  if (!authenticated) {
    co_await stream->close();
    co_return;
  }
  ssh::ConnectionOptions connection_options;
  connection_options.log = trace_logger();
  auto connection = ssh::Connection::start(std::move(stream), std::move(transport), std::move(connection_options));
  ssh::ExecOptions exec;
  exec.env = {{"LANG", "C"}};
  exec.stdin_data = "input";
  std::string command = "true";
  auto result = co_await connection->exec(std::move(command), std::move(exec));
  if (std::getenv("FUZZ_LOG")) {
    std::fprintf(stderr, "exec: %s\n",
                 result ? fmt::format("stdout {:?}", result->stdout_data).c_str() : result.error().detailed().c_str());
  }
  co_await connection->close();
}

}  // namespace cr::fuzz
