// `coder-runtime probe`: open the stream an SSH connection would use (TCP, or a ProxyCommand), run
// the version and key exchange, and report what the server said and what was chosen. The first
// questions when a connection fails are "did anything speak SSH?" and "did we agree on keys?":
// this answers them, with the evidence when the answer is no.

#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "proxy/proxy_command.hpp"
#include "proxy/tcp_stream.hpp"
#include "runtime/deadline.hpp"
#include "ssh/transport.hpp"

namespace cr::cli {
namespace {

struct ProbeOptions {
  std::string destination = "localhost";
  std::uint16_t port = 22;
  std::string user;
  std::string proxy_command;
  double timeout_seconds = 10;
};

using Stream = std::unique_ptr<runtime::AsyncStream>;

asio::awaitable<runtime::Result<Stream>> open_stream(const ProbeOptions& o, runtime::Logger log) {
  const auto deadline =
      runtime::Deadline::after(std::chrono::milliseconds(static_cast<long>(o.timeout_seconds * 1000)));
  if (o.proxy_command.empty()) co_return co_await proxy::connect_tcp(o.destination, o.port, deadline, log);
  proxy::ProcessOptions process;
  process.log = log.child("proxy");
  // GCC 12 destroys temporaries twice in a full-expression with a nested co_await: keep them apart.
  auto executor = co_await asio::this_coro::executor;
  const proxy::ProxyTokens tokens{o.destination, std::to_string(o.port), o.user, o.destination};
  auto started = proxy::start_proxy_command(executor, o.proxy_command, tokens, std::move(process));
  if (!started) co_return runtime::fail(std::move(started.error()));
  co_return Stream(std::move(*started));
}

asio::awaitable<int> probe(ProbeOptions o, runtime::Logger log) {
  using Clock = runtime::Clock;
  const auto ms_since = [](Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
  };
  const auto report = [&](const runtime::Error& error) {
    fmt::print(stderr, "coder-runtime: {}\n", error.summary());
    if (log.enabled(runtime::LogLevel::debug)) fmt::print(stderr, "{}", error.detailed());
  };
  const auto start = Clock::now();
  auto stream = co_await open_stream(o, log);
  if (!stream) {
    report(stream.error());
    co_return kExitConnectionFailed;
  }
  fmt::print("stream:    {} (open after {:.1f} ms)\n", (*stream)->describe(), ms_since(start));
  std::fflush(stdout);  // keeps this line ahead of an error on stderr when both go to one place
  ssh::TransportOptions transport_options;
  // The probe shows the key and checks nothing with it: it authenticates and sends nothing more.
  transport_options.verify_host_key = ssh::accept_any_host_key();
  transport_options.log = log.child("ssh");
  const auto deadline =
      runtime::Deadline::after(std::chrono::milliseconds(static_cast<long>(o.timeout_seconds * 1000)));
  auto transport =
      co_await runtime::with_deadline(deadline, ssh::Transport::connect(**stream, std::move(transport_options)),
                                      runtime::Layer::kex, "the SSH handshake");
  if (!transport) {
    co_await (*stream)->close();
    report(transport.error());
    co_return kExitConnectionFailed;
  }
  const auto& t = **transport;
  const auto& a = t.algorithms();
  for (const auto& line : t.server_version().pre_banner_lines) fmt::print("before:    {}\n", runtime::printable(line));
  fmt::print("server:    {}\n", runtime::printable(t.server_version().line));
  fmt::print("kex:       {}{}\n", a.kex, a.strict_kex ? " (strict kex)" : "");
  fmt::print("host key:  {} {}\n", a.host_key, t.host_key().fingerprint);
  fmt::print("cipher:    {}{}\n", a.cipher_client_to_server,
             a.mac_client_to_server.empty() ? "" : " with " + a.mac_client_to_server);
  fmt::print("keys:      exchanged after {:.1f} ms\n", ms_since(start));
  co_await (*transport)->disconnect(ssh::DisconnectReason::by_application, "probe done");
  co_return 0;
}

}  // namespace

void add_probe_command(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto options = std::make_shared<ProbeOptions>();
  auto* cmd = app.add_subcommand("probe", "Open the stream to an SSH server, exchange keys, and show what was agreed");
  cmd->add_option("destination", options->destination, "Host name (also %h and %n in the ProxyCommand)");
  cmd->add_option("-p,--port", options->port, "Port (also %p)");
  cmd->add_option("-l,--user", options->user, "User name for %r");
  cmd->add_option("--proxy-command", options->proxy_command,
                  "Run this command and use its stdio, as ssh's ProxyCommand");
  cmd->add_option("--timeout", options->timeout_seconds, "Seconds to wait for the stream, and for the handshake");
  cmd->callback([options, &global, &exit_code] { exit_code = run_to_exit_code(probe(*options, global.logger())); });
}

}  // namespace cr::cli
