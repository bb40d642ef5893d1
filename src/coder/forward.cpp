#include "coder/forward.hpp"

#include <charconv>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

#include "runtime/splice.hpp"

namespace cr::coder {
namespace {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

Error bad_spec(std::string_view spec, std::string why) {
  return std::move(Error(Errc::invalid_argument, Layer::coder, std::move(why)).with("forward", std::string(spec)));
}

// Splits at the colons outside [brackets]; a bracketed part loses its brackets.
Result<std::vector<std::string>> split_spec(std::string_view spec) {
  std::vector<std::string> parts(1);
  bool bracketed = false;
  for (const char c : spec) {
    if (c == '[' && !bracketed && parts.back().empty()) {
      bracketed = true;
    } else if (c == ']' && bracketed) {
      bracketed = false;
    } else if (c == ':' && !bracketed) {
      parts.emplace_back();
    } else {
      parts.back() += c;
    }
  }
  if (bracketed) return runtime::fail(bad_spec(spec, "an address's '[' has no ']'"));
  return parts;
}

Result<std::uint16_t> parse_port(std::string_view spec, std::string_view text, bool zero_allowed) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535 || (value == 0 && !zero_allowed)) {
    return runtime::fail(bad_spec(spec, fmt::format("'{}' is not a port number", text)));
  }
  return static_cast<std::uint16_t>(value);
}

asio::awaitable<void> forward_one(std::shared_ptr<ssh::Connection> connection,
                                  std::unique_ptr<runtime::AsyncStream> local, ssh::DirectTcpip target,
                                  runtime::Logger log) {
  co_await asio::this_coro::throw_if_cancelled(false);
  const auto from = local->describe();
  auto channel = co_await connection->open_direct_tcpip(target);
  if (!channel) {
    // As ssh: the local connection ends, the forward and the connection go on.
    log.warning("forwarding {} to {} port {}: {}", from, target.host, target.port, channel.error().summary());
    co_await local->close();
    co_return;
  }
  // The connection's end must end it too: a side waiting on the local client alone would not see it.
  using namespace asio::experimental::awaitable_operators;
  auto ended = co_await (runtime::splice(*local, **channel) || connection->wait_ended());
  if (ended.index() == 0 && !std::get<0>(ended)) {
    log.info("forwarded connection {} ended: {}", from, std::get<0>(ended).error().summary());
  }
  co_await (*channel)->close();
  co_await local->close();
}

}  // namespace

Result<LocalForward> parse_local_forward(std::string_view spec) {
  auto parts = split_spec(spec);
  if (!parts) return runtime::fail(std::move(parts.error()));
  if (parts->size() != 3 && parts->size() != 4) {
    return runtime::fail(bad_spec(spec, "a local forward is [bind_address:]port:host:hostport"));
  }
  LocalForward forward;
  const std::size_t first = parts->size() - 3;
  // As ssh: an empty address given before the port means every interface, as "*" does.
  if (first == 1) forward.bind_address = (*parts)[0].empty() ? "*" : (*parts)[0];
  auto bind_port = parse_port(spec, (*parts)[first], true);
  if (!bind_port) return runtime::fail(std::move(bind_port.error()));
  forward.bind_port = *bind_port;
  forward.host = (*parts)[first + 1];
  if (forward.host.empty()) return runtime::fail(bad_spec(spec, "the host to connect to is empty"));
  auto port = parse_port(spec, (*parts)[first + 2], false);
  if (!port) return runtime::fail(std::move(port.error()));
  forward.port = *port;
  return forward;
}

Result<ssh::DirectTcpip> parse_host_port(std::string_view spec) {
  auto parts = split_spec(spec);
  if (!parts) return runtime::fail(std::move(parts.error()));
  if (parts->size() != 2 || (*parts)[0].empty()) return runtime::fail(bad_spec(spec, "expected host:port"));
  auto port = parse_port(spec, (*parts)[1], false);
  if (!port) return runtime::fail(std::move(port.error()));
  ssh::DirectTcpip target;
  target.host = (*parts)[0];
  target.port = *port;
  return target;
}

asio::awaitable<Result<void>> serve_local_forward(std::shared_ptr<ssh::Connection> connection,
                                                  proxy::TcpListener& listener, ssh::DirectTcpip target,
                                                  runtime::Logger log) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  using namespace asio::experimental::awaitable_operators;
  for (;;) {
    auto accepted = co_await (listener.accept() || connection->wait_ended());
    if (accepted.index() == 1) {
      if (connection->failure()) co_return runtime::fail(*connection->failure());
      co_return runtime::fail(runtime::Errc::cancelled, Layer::coder, "forwarding cancelled");
    }
    auto local = std::move(std::get<0>(accepted));
    if (!local) co_return runtime::fail(std::move(local.error()));
    asio::co_spawn(executor, forward_one(connection, std::move(*local), target, log), asio::detached);
  }
}

}  // namespace cr::coder
