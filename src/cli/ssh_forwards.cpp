#include "cli/ssh_forwards.hpp"

#include <cstdlib>
#include <filesystem>
#include <list>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <fmt/format.h>

#include "cli/ssh_connect.hpp"
#include "proxy/agent_socket.hpp"
#include "proxy/local_endpoint.hpp"
#include "proxy/tcp_listener.hpp"
#include "proxy/stdio_stream.hpp"
#include "runtime/event.hpp"
#include "runtime/splice.hpp"

namespace cr::cli {
namespace {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

// ssh_config writes a forward's listening side and its target apart ("8080 localhost:80"); the
// line as one spec, as the command line gives it.
Result<std::string> config_spec(const ssh::SshConfig::Value& line, std::string_view keyword, std::size_t args) {
  if (keyword == "RemoteForward" && line.args.size() == 1) return line.args[0];
  if (line.args.size() != args) {
    const auto form = args == 2 ? "[bind_address:]port and host:hostport, apart" : "[bind_address:]port";
    return runtime::fail(
        std::move(Error(Errc::invalid_argument, Layer::config, fmt::format("{} takes {}", keyword, form))
                      .with("line", line.origin)));
  }
  return args == 2 ? line.args[0] + ":" + line.args[1] : line.args[0];
}

Result<std::vector<std::string>> specs_of(const std::vector<std::string>& given, const ssh::SshConfig& config,
                                          std::string_view keyword, std::size_t args) {
  auto specs = given;
  for (const auto& line : config.lines(keyword)) {
    auto spec = config_spec(line, keyword, args);
    if (!spec) return runtime::fail(std::move(spec.error()));
    specs.push_back(std::move(*spec));
  }
  return specs;
}

// -R's forms: [bind_address:]port alone is a SOCKS proxy on the server's side, whose clients
// name their targets (a dynamic forward); the others as -L's.
Result<coder::ForwardSpec> parse_remote_spec(std::string_view spec) {
  auto listen = coder::parse_listen_spec(spec);
  if (!listen) return coder::parse_forward_spec(spec);
  coder::ForwardSpec dynamic;
  dynamic.bind_address = listen->bind_address;
  dynamic.bind_port = listen->bind_port;
  return dynamic;
}

template <typename Spec>
Result<std::vector<Spec>> parsed(const Result<std::vector<std::string>>& specs,
                                 Result<Spec> (*parse)(std::string_view)) {
  if (!specs) return runtime::fail(specs.error());
  std::vector<Spec> all;
  for (const auto& spec : *specs) {
    auto one = parse(spec);
    if (!one) return runtime::fail(std::move(one.error()));
    all.push_back(std::move(*one));
  }
  return all;
}

// A local forward's listener: its socket (a file in the way removed first with `unlink`, as
// StreamLocalBindUnlink asks), or its address and port.
Result<std::unique_ptr<proxy::StreamListener>> listen_for(asio::any_io_executor executor,
                                                          const coder::ForwardSpec& forward, bool unlink) {
  if (forward.bind_socket.empty()) {
    auto listener = proxy::TcpListener::bind(std::move(executor), forward.bind_address, forward.bind_port);
    if (!listener) return runtime::fail(std::move(listener.error()));
    return std::unique_ptr<proxy::StreamListener>(std::move(*listener));
  }
  std::error_code ignored;
  if (unlink && std::filesystem::is_socket(forward.bind_socket, ignored)) {
    std::filesystem::remove(forward.bind_socket, ignored);
  }
  auto listener = proxy::LocalListener::listen(std::move(executor), forward.bind_socket);
  if (!listener) return runtime::fail(std::move(listener.error()));
  return std::unique_ptr<proxy::StreamListener>(std::move(*listener));
}

// A forward that could not be set up: the error under ExitOnForwardFailure, otherwise a warning
// and the forward is left out.
Result<void> forward_failed(const Forwards& forwards, Error error, const runtime::Logger& log) {
  if (forwards.exit_on_failure) return runtime::fail(std::move(error));
  log.warning("{}; that forward is left out", error.summary());
  return {};
}

}  // namespace

Result<Forwards> forwards_of(const ForwardOptions& o, const ssh::SshConfig& config) {
  Forwards forwards;
  auto local = parsed(specs_of(o.local, config, "LocalForward", 2), coder::parse_forward_spec);
  if (!local) return runtime::fail(std::move(local.error()));
  forwards.local = std::move(*local);
  auto dynamic = parsed(specs_of(o.dynamic, config, "DynamicForward", 1), coder::parse_listen_spec);
  if (!dynamic) return runtime::fail(std::move(dynamic.error()));
  forwards.dynamic = std::move(*dynamic);
  auto remote = parsed(specs_of(o.remote, config, "RemoteForward", 2), parse_remote_spec);
  if (!remote) return runtime::fail(std::move(remote.error()));
  forwards.remote = std::move(*remote);
  if (!o.stdio.empty()) {
    auto target = coder::parse_host_port(o.stdio);
    if (!target) return runtime::fail(std::move(target.error()));
    forwards.stdio = std::move(*target);
  }
  // GatewayPorts: local ports given without an address listen on every interface, as ssh's do.
  auto gateway_ports = config.flag("GatewayPorts");
  if (!gateway_ports) return runtime::fail(std::move(gateway_ports.error()));
  if (gateway_ports->value_or(false)) {
    for (auto& forward : forwards.local) {
      if (forward.bind_address.empty()) forward.bind_address = "*";
    }
    for (auto& forward : forwards.dynamic) {
      if (forward.bind_address.empty()) forward.bind_address = "*";
    }
  }
#ifdef _WIN32
  for (const auto* side : {&forwards.local, &forwards.remote}) {
    for (const auto& forward : *side) {
      if (forward.bind_socket.empty() && forward.socket.empty()) continue;
      return runtime::fail(Errc::invalid_argument, Layer::config,
                           "forwarding a Unix socket is not supported on Windows: use a TCP port");
    }
  }
#endif
  auto unlink = config.flag("StreamLocalBindUnlink");
  if (!unlink) return runtime::fail(std::move(unlink.error()));
  forwards.unlink_sockets = unlink->value_or(false);
  auto exit_on_failure = config.flag("ExitOnForwardFailure");
  if (!exit_on_failure) return runtime::fail(std::move(exit_on_failure.error()));
  // -W implies it, as in ssh: a stdio forward that cannot open has nothing else to do.
  forwards.exit_on_failure = exit_on_failure->value_or(false) || forwards.stdio;
  return forwards;
}

std::optional<std::string> agent_to_forward(const ssh::ClientPlan& plan) {
  if (!plan.forward_agent) return std::nullopt;
  if (!plan.forward_agent->empty()) return plan.forward_agent;
  if (plan.identity_agent == "none") return std::nullopt;
  if (plan.identity_agent && !plan.identity_agent->empty()) return plan.identity_agent;
  if (const char* socket = std::getenv("SSH_AUTH_SOCK"); socket && *socket) return socket;
#ifdef _WIN32
  return std::string(proxy::kWindowsAgentPipe);
#else
  return std::nullopt;
#endif
}

asio::awaitable<Result<ActiveForwards>> start_forwards(std::shared_ptr<ssh::Connection> connection,
                                                       const Forwards& forwards, runtime::Logger log) {
  auto executor = co_await asio::this_coro::executor;
  ActiveForwards active;
  for (const auto& forward : forwards.local) {
    auto listener = listen_for(executor, forward, forwards.unlink_sockets);
    if (!listener) {
      auto failed = forward_failed(forwards, std::move(listener.error()), log);
      if (!failed) co_return runtime::fail(std::move(failed.error()));
      continue;
    }
    log.debug("forwarding {} to {}", (*listener)->describe(), forward.describe());
    active.local.emplace_back(std::move(*listener), forward);
  }
  for (const auto& forward : forwards.dynamic) {
    auto listener = proxy::TcpListener::bind(executor, forward.bind_address, forward.bind_port);
    if (!listener) {
      auto failed = forward_failed(forwards, std::move(listener.error()), log);
      if (!failed) co_return runtime::fail(std::move(failed.error()));
      continue;
    }
    log.debug("SOCKS5 on {}", (*listener)->describe());
    active.dynamic.push_back(std::move(*listener));
  }
  if (forwards.remote.empty()) co_return active;
  auto ports = co_await coder::request_remote_forwards(connection, forwards.remote);
  for (std::size_t i = 0; i < ports.size(); ++i) {
    const auto& spec = forwards.remote[i];
    if (!ports[i]) {
      auto listen = spec.bind_socket.empty() ? fmt::format("listen port {}", spec.bind_port)
                                             : fmt::format("listen socket {}", spec.bind_socket);
      auto error = std::move(ports[i].error()).with("remote forward", std::move(listen));
      auto failed = forward_failed(forwards, std::move(error), log);
      if (!failed) co_return runtime::fail(std::move(failed.error()));
      continue;
    }
    // As ssh: a port the server chose is news to the user, so it is told whatever the verbosity.
    if (spec.bind_socket.empty() && spec.bind_port == 0) {
      if (spec.dynamic()) {
        fmt::print(stderr, "Allocated port {} for remote forward to SOCKS clients' targets\n", *ports[i]);
      } else {
        fmt::print(stderr, "Allocated port {} for remote forward to {}:{}\n", *ports[i], spec.host, spec.port);
      }
    }
    active.remote.push_back({spec, *ports[i]});
  }
  co_return active;
}

asio::awaitable<void> serve_forwards(std::shared_ptr<ssh::Connection> connection, ActiveForwards& forwards,
                                     runtime::Logger log) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  std::vector<asio::awaitable<Result<void>>> loops;
  for (auto& [listener, target] : forwards.local) {
    loops.push_back(coder::serve_local_forward(connection, *listener, target, log));
  }
  for (auto& listener : forwards.dynamic) loops.push_back(coder::serve_dynamic_forward(connection, *listener, log));
  if (!forwards.remote.empty()) loops.push_back(coder::serve_remote_forwards(connection, forwards.remote, log));
  if (forwards.agent) loops.push_back(coder::serve_agent_channels(connection, forwards.agent, log));
  runtime::Event loop_ended(executor);
  std::size_t running = 0;
  std::list<asio::cancellation_signal> stops;
  for (std::size_t i = 0; i < loops.size(); ++i) {
    ++running;
    auto& stop = stops.emplace_back();
    asio::co_spawn(executor, std::move(loops[i]),
                   asio::bind_cancellation_slot(stop.slot(), [&running, &loop_ended, &log, &connection, i](
                                                                 std::exception_ptr, Result<void> ended) {
                     // A listener that failed (out of descriptors) ends its forward alone: say so.
                     if (!ended && ended.error().code != Errc::cancelled && !connection->failure()) {
                       log.warning("forward {} stopped: {}", i + 1, ended.error().summary());
                     }
                     --running;
                     loop_ended.notify();
                   }));
  }
  co_await connection->wait_ended();
  for (auto& stop : stops) stop.emit(asio::cancellation_type::terminal);
  while (running > 0) co_await loop_ended.wait();
}

// As ssh, it is done (0) once the server's side has closed: a parent that waits for its
// ProxyCommand to exit before it closes our stdin is not kept waiting.
asio::awaitable<int> forward_stdio(std::shared_ptr<ssh::Connection> connection, ssh::DirectTcpip target,
                                   const runtime::Logger& log) {
  auto channel = co_await connection->open_direct_tcpip(target);
  if (!channel) {
    co_await connection->close();
    auto to = fmt::format("{} port {}", target.host, target.port);
    co_return report_failure(std::move(channel.error()).with("stdio forwarding to", std::move(to)), log);
  }
  auto stdio = proxy::take_stdio(co_await asio::this_coro::executor);
  if (!stdio) {
    co_await connection->close();
    co_return report_failure(stdio.error(), log);
  }
  auto spliced = co_await runtime::splice(**stdio, **channel, runtime::SpliceUntil::b_ended);
  co_await connection->close();
  if (!spliced) co_return report_failure(spliced.error(), log);
  co_return 0;
}

}  // namespace cr::cli
