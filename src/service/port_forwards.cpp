#include "service/port_forwards.hpp"

#include <optional>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

#include "coder/forward.hpp"
#include "runtime/event.hpp"
#include "service/exec_params.hpp"

namespace cr::service {
namespace {

using nlohmann::json;
using runtime::Result;

constexpr std::uint64_t kLargestPort = 65535;

tl::unexpected<ReplyError> invalid(std::string message) {
  return tl::unexpected(ReplyError{kInvalidParams, std::move(message), nullptr});
}

}  // namespace

struct PortForwards::Forward {
  explicit Forward(asio::any_io_executor executor) : changed(std::move(executor)) {}
  std::uint64_t id = 0;
  std::uint64_t owner = 0;
  std::shared_ptr<proxy::TcpListener> listener;
  std::string listening;
  WorkspaceTarget target;
  coder::ForwardTarget to;
  std::shared_ptr<coder::ConnectionPool> pool;
  ServerOptions options;
  // What goes wrong with one connection through it: in the server's log, and a warning for its
  // client, as ssh prints such a failure for its user.
  runtime::Logger log;
  // Keeps the destination's connection, whichever it is now, from closing for idleness.
  std::optional<coder::Lease> held;
  std::size_t connections = 0;
  bool stopped = false;
  runtime::Event changed;

  // The port is free when this returns.
  void stop() {
    stopped = true;
    listener->close();
    held.reset();
    changed.notify();
  }
};

namespace {

using Forward = std::shared_ptr<PortForwards::Forward>;

asio::awaitable<void> until_stopped(Forward forward) {
  while (!forward->stopped) {
    const bool woken = co_await forward->changed.wait();
    if (!woken) co_return;
  }
}

asio::awaitable<void> carry(Forward forward, std::unique_ptr<runtime::AsyncStream> local) {
  co_await asio::this_coro::throw_if_cancelled(false);
  const auto ignore = [](std::string) {};
  auto lease = co_await acquire_workspace(*forward->pool, forward->target, forward->options, ignore, ignore);
  if (!lease) {
    forward->log.warning("forward {}: {}", forward->listening, lease.error().summary());
    co_await local->close();
    co_return;
  }
  co_await coder::forward_connection(lease->connection(), std::move(local), forward->to, forward->log);
}

// One accepted connection, until it ends or its forward does.
asio::awaitable<void> carry_until_stopped(Forward forward, std::unique_ptr<runtime::AsyncStream> local) {
  co_await asio::this_coro::throw_if_cancelled(false);
  using namespace asio::experimental::awaitable_operators;
  co_await (carry(forward, std::move(local)) || until_stopped(forward));
  --forward->connections;
}

runtime::Logger told_to_client(runtime::Logger server_log, TextCallback tell) {
  auto sink = [server_log, tell](runtime::LogLevel level, std::string_view, std::string_view message) {
    server_log.log(level, "{}", message);
    if (level >= runtime::LogLevel::warning && tell) tell(std::string(message));
  };
  return runtime::Logger(std::move(sink), runtime::LogLevel::warning);
}

std::string host_port(const std::string& host, std::uint16_t port) {
  return host.find(':') == std::string::npos ? fmt::format("{}:{}", host, port) : fmt::format("[{}]:{}", host, port);
}

}  // namespace

tl::expected<ForwardParams, ReplyError> parse_forward_params(const json& params) {
  auto workspace = parse_workspace_params(params);
  if (!workspace) return tl::unexpected(std::move(workspace.error()));
  ForwardParams forward;
  forward.handle = workspace->handle;
  forward.target = std::move(workspace->target);
  if (params.contains("listen")) {
    const auto& listen = params["listen"];
    if (!listen.is_object()) return invalid("params.listen must be an object: {\"address\"?, \"port\"?}");
    if (listen.contains("address")) {
      auto address = string_param(listen, "address");
      if (!address) return tl::unexpected(std::move(address.error()));
      forward.address = std::move(*address);
    }
    if (listen.contains("port")) {
      auto port = unsigned_param(listen, "port", kLargestPort);
      if (!port) return tl::unexpected(std::move(port.error()));
      forward.port = static_cast<std::uint16_t>(*port);
    }
  }
  const auto target = params.find("target");
  if (target == params.end() || !target->is_object()) {
    return invalid("params.target must be an object: {\"host\"?, \"port\"}");
  }
  forward.to.host = "127.0.0.1";
  if (target->contains("host")) {
    auto host = string_param(*target, "host");
    if (!host) return tl::unexpected(std::move(host.error()));
    forward.to.host = std::move(*host);
  }
  auto port = unsigned_param(*target, "port", kLargestPort);
  if (!port || *port == 0) return invalid("params.target.port must be from 1 to 65535");
  forward.to.port = static_cast<std::uint16_t>(*port);
  return forward;
}

asio::awaitable<Result<OpenedForward>> PortForwards::open(ForwardParams params, std::uint64_t owner,
                                                          std::shared_ptr<coder::ConnectionPool> pool,
                                                          ServerOptions options, Callbacks callbacks) {
  // A client that leaves cancels this (ClientSession): a Result says so, never an exception.
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  // Listening first: a port in use fails at once, before any dial.
  auto listener = proxy::TcpListener::bind(executor, params.address, params.port);
  if (!listener) co_return runtime::fail(std::move(listener.error()));
  auto lease = co_await acquire_workspace(*pool, params.target, options, callbacks.on_progress, callbacks.on_warning);
  if (!lease) co_return runtime::fail(std::move(lease.error()));
  auto forward = std::make_shared<Forward>(executor);
  forward->id = next_id_++;
  forward->owner = owner;
  forward->listener = std::move(*listener);
  forward->listening = forward->listener->describe();
  forward->target = std::move(params.target);
  forward->to = std::move(params.to);
  forward->pool = std::move(pool);
  forward->options = std::move(options);
  forward->log = told_to_client(forward->options.log, callbacks.on_warning);
  forward->held.emplace(std::move(*lease));
  forwards_[forward->id] = forward;
  OpenedForward opened{forward->id, forward->listening, forward->listener->port()};
  forward->options.log.info("forwarding {} to {} on {}", forward->listening,
                            host_port(forward->to.host, forward->to.port), destination_of(forward->target));
  asio::co_spawn(executor, serve(weak_from_this(), forward, std::move(callbacks)), asio::detached);
  co_return opened;
}

asio::awaitable<void> PortForwards::serve(std::weak_ptr<PortForwards> self, std::shared_ptr<Forward> forward,
                                          Callbacks callbacks) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    auto local = co_await forward->listener->accept();
    if (forward->stopped) co_return;
    if (!local) {
      forward->options.log.warning("forward {} stopped: {}", forward->listening, local.error().summary());
      if (auto forwards = self.lock()) forwards->close(forward->id, forward->owner);
      if (callbacks.on_ended) callbacks.on_ended(forward->id, local.error());
      co_return;
    }
    ++forward->connections;
    asio::co_spawn(executor, carry_until_stopped(forward, std::move(*local)), asio::detached);
  }
}

bool PortForwards::close(std::uint64_t id, std::uint64_t owner) {
  const auto found = forwards_.find(id);
  if (found == forwards_.end() || found->second->owner != owner) return false;
  found->second->stop();
  forwards_.erase(found);
  return true;
}

void PortForwards::close_owned_by(std::uint64_t owner) {
  std::erase_if(forwards_, [owner](const auto& entry) {
    if (entry.second->owner != owner) return false;
    entry.second->stop();
    return true;
  });
}

void PortForwards::close_all() {
  for (auto& [id, forward] : forwards_) forward->stop();
  forwards_.clear();
}

json PortForwards::list() const {
  json list = json::array();
  for (const auto& [id, forward] : forwards_) {
    list.push_back({{"id", id},
                    {"destination", destination_of(forward->target)},
                    {"listen", forward->listening},
                    {"target", host_port(forward->to.host, forward->to.port)},
                    {"connections", forward->connections}});
  }
  return list;
}

}  // namespace cr::service
