#include "coder/forward.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

#include "coder/socks5.hpp"
#include "proxy/agent_socket.hpp"
#include "proxy/local_endpoint.hpp"
#include "proxy/tcp_stream.hpp"
#include "runtime/splice.hpp"
#include "ssh/channel_stream.hpp"

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

// A port or a range of them ("9000-9002"), as `coder port-forward` writes them.
struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t count = 1;
};

Result<PortRange> parse_range(std::string_view spec, std::string_view text, bool zero_allowed) {
  const auto dash = text.find('-');
  auto first = parse_port(spec, text.substr(0, dash), zero_allowed && dash == std::string_view::npos);
  if (!first) return runtime::fail(std::move(first.error()));
  if (dash == std::string_view::npos) return PortRange{*first, 1};
  auto last = parse_port(spec, text.substr(dash + 1), false);
  if (!last) return runtime::fail(std::move(last.error()));
  if (*last < *first) return runtime::fail(bad_spec(spec, fmt::format("'{}' is not a range from low to high", text)));
  return PortRange{*first, static_cast<std::uint16_t>(*last - *first + 1)};
}

bool port_text(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789-") == std::string_view::npos;
}

// Whether this coroutine was cancelled, waiting or not: a cancellation emitted while it waits on
// nothing ends no operation, and the next wait would not see it.
asio::awaitable<bool> cancelled() {
  const auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

// Joins a local connection to its channel until both directions end, either fails, or the
// connection ends (a side waiting on the local client alone would not see that).
asio::awaitable<void> join(std::shared_ptr<ssh::Connection> connection, std::unique_ptr<runtime::AsyncStream> local,
                           std::unique_ptr<runtime::AsyncStream> channel, const runtime::Logger& log) {
  using namespace asio::experimental::awaitable_operators;
  auto ended = co_await (runtime::splice(*local, *channel) || connection->wait_ended());
  if (ended.index() == 0 && !std::get<0>(ended)) {
    log.info("forwarded connection {} ended: {}", local->describe(), std::get<0>(ended).error().summary());
  }
  co_await channel->close();
  co_await local->close();
}

// ssh waits for a SOCKS client as long as it takes; a bound keeps an idle one from holding a
// descriptor for good.
constexpr auto kSocksRequestBudget = std::chrono::seconds(30);

using Connect = std::function<asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>>(ssh::DirectTcpip)>;

// A SOCKS5 client: its request read, the connection it names made with `connect`, the answer
// sent, then the two joined. One that sends anything else, or whose target cannot be reached, is
// answered as the RFC says and closed alone.
asio::awaitable<void> socks_one(std::shared_ptr<ssh::Connection> connection,
                                std::unique_ptr<runtime::AsyncStream> client, Connect connect, runtime::Logger log) {
  co_await asio::this_coro::throw_if_cancelled(false);
  using namespace asio::experimental::awaitable_operators;
  auto reading = socks5_read_request(*client, runtime::Deadline::after(kSocksRequestBudget));
  auto read_or_ended = co_await (std::move(reading) || connection->wait_ended());
  if (read_or_ended.index() == 1) {
    co_await client->close();
    co_return;
  }
  auto target = std::move(std::get<0>(read_or_ended));
  if (!target) {
    log.warning("dynamic forward: {} closed: {}", client->describe(), target.error().summary());
    co_await client->close();
    co_return;
  }
  auto connected = co_await connect(*target);
  if (!connected) {
    log.warning("dynamic forward to {} port {}: {}", target->host, target->port, connected.error().summary());
    const bool refused = connected.error().code == Errc::refused || connected.error().code == Errc::connect_failed;
    const auto reply = refused ? Socks5Reply::connection_refused : Socks5Reply::general_failure;
    [[maybe_unused]] auto replied = co_await socks5_reply(*client, reply);  // closed whether it went or not
    co_await client->close();
    co_return;
  }
  auto replied = co_await socks5_reply(*client, Socks5Reply::succeeded);
  if (!replied) {
    co_await (*connected)->close();
    co_await client->close();
    co_return;
  }
  co_await join(std::move(connection), std::move(client), std::move(*connected), log);
}

// Accepts on `listener` until it fails, the connection ends, or this is cancelled, handing each
// connection to `forward` (which runs on its own).
asio::awaitable<Result<void>> accept_loop(
    std::shared_ptr<ssh::Connection> connection, proxy::StreamListener& listener,
    std::function<asio::awaitable<void>(std::unique_ptr<runtime::AsyncStream>)> forward) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  using namespace asio::experimental::awaitable_operators;
  for (;;) {
    // A cancellation that came between two accepts, with no wait to end, is only in the state.
    const bool stopped = co_await cancelled();
    if (stopped) co_return runtime::fail(Errc::cancelled, Layer::coder, "forwarding cancelled");
    auto accepted = co_await (listener.accept() || connection->wait_ended());
    if (accepted.index() == 1) {
      if (connection->failure()) co_return runtime::fail(*connection->failure());
      co_return runtime::fail(Errc::cancelled, Layer::coder, "forwarding cancelled");
    }
    auto local = std::move(std::get<0>(accepted));
    if (!local) co_return runtime::fail(std::move(local.error()));
    asio::co_spawn(executor, forward(std::move(*local)), asio::detached);
  }
}

// What ssh asks a server to listen on: its own name for loopback, or "" for every address.
std::string address_to_bind(const ForwardSpec& spec) {
  if (spec.bind_address.empty()) return "localhost";
  if (spec.bind_address == "*") return "";
  return spec.bind_address;
}

// A forwarded-tcpip channel names the address and port that were connected: the forward whose
// port that is (its address decides between forwards on one port).
const RemoteForward* forward_for(const std::vector<RemoteForward>& forwards, std::string_view address,
                                 std::uint32_t port) {
  const RemoteForward* found = nullptr;
  for (const auto& forward : forwards) {
    if (!forward.spec.bind_socket.empty() || forward.server_port != port) continue;
    if (address_to_bind(forward.spec) == address) return &forward;
    if (!found) found = &forward;
  }
  return found;
}

// A forwarded-streamlocal channel names the socket that was connected.
const RemoteForward* forward_for(const std::vector<RemoteForward>& forwards, std::string_view socket) {
  for (const auto& forward : forwards) {
    if (forward.spec.bind_socket == socket) return &forward;
  }
  return nullptr;
}

constexpr std::string_view kForwardedTcpip = "forwarded-tcpip";
constexpr std::string_view kForwardedStreamlocal = "forwarded-streamlocal@openssh.com";

// How long a connection to a remote forward's target may take before the server is told it failed.
constexpr auto kTargetConnectBudget = std::chrono::seconds(10);

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> connect_here(ForwardTarget target, runtime::Logger log) {
  const auto deadline = runtime::Deadline::after(kTargetConnectBudget);
  if (!target.socket.empty()) co_return co_await proxy::connect_local(std::move(target.socket), deadline);
  co_return co_await proxy::connect_tcp(std::move(target.host), target.port, deadline, std::move(log));
}

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> open_channel_to(ssh::Connection& connection,
                                                                               ForwardTarget target) {
  if (!target.socket.empty()) co_return co_await connection.open_direct_streamlocal(std::move(target.socket));
  ssh::DirectTcpip tcp{std::move(target.host), target.port};
  co_return co_await connection.open_direct_tcpip(std::move(tcp));
}

// -R port alone: each connection the server takes is a SOCKS5 client naming a target to connect
// to from here.
asio::awaitable<void> socks_incoming(std::shared_ptr<ssh::Connection> connection, ssh::IncomingChannel incoming,
                                     std::string what, runtime::Logger log) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto channel = co_await incoming.accept();
  if (!channel) co_return;
  auto client = ssh::make_channel_stream(std::move(*channel), std::move(what));
  Connect here = [log](ssh::DirectTcpip target) {
    return connect_here(ForwardTarget{target.host, target.port, {}}, log);
  };
  co_await socks_one(std::move(connection), std::move(client), std::move(here), std::move(log));
}

// Answers each channel of `type` the server opens (with `answer`, which starts what it does on its
// own) until the connection ends or this is cancelled.
asio::awaitable<Result<void>> serve_incoming(std::shared_ptr<ssh::Connection> connection, std::string_view type,
                                             std::function<void(ssh::IncomingChannel)> answer) {
  co_await asio::this_coro::throw_if_cancelled(false);
  for (;;) {
    const bool stopped = co_await cancelled();
    if (stopped) co_return runtime::fail(Errc::cancelled, Layer::coder, "forwarding cancelled");
    std::string name(type);
    auto incoming = co_await connection->next_incoming(std::move(name));
    if (!incoming) co_return runtime::fail(std::move(incoming.error()));
    answer(std::move(*incoming));
  }
}

// Answers a channel the server opened: makes the connection here it stands for (within the SSH
// connection's life: nothing may hold the process after it), then accepts the channel and joins
// the two; one that cannot be made is refused to the server as "connect failed".
asio::awaitable<void> join_incoming(std::shared_ptr<ssh::Connection> connection, ssh::IncomingChannel incoming,
                                    asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> connecting,
                                    std::string what, runtime::Logger log) {
  co_await asio::this_coro::throw_if_cancelled(false);
  using namespace asio::experimental::awaitable_operators;
  auto connected_or_ended = co_await (std::move(connecting) || connection->wait_ended());
  if (connected_or_ended.index() == 1) co_return;
  auto local = std::move(std::get<0>(connected_or_ended));
  if (!local) {
    log.warning("{}: {}", what, local.error().summary());
    incoming.reject(ssh::OpenFailure::connect_failed, local.error().summary());
    co_return;
  }
  auto channel = co_await incoming.accept();
  if (!channel) {
    co_await (*local)->close();
    co_return;
  }
  auto stream = ssh::make_channel_stream(std::move(*channel), what);
  co_await join(std::move(connection), std::move(*local), std::move(stream), log);
}

constexpr std::string_view kAgentChannel = "auth-agent@openssh.com";

}  // namespace

Result<ForwardSpec> parse_forward_spec(std::string_view spec) {
  auto parts = split_spec(spec);
  if (!parts) return runtime::fail(std::move(parts.error()));
  const auto path = [&](std::size_t i) { return (*parts)[i].find('/') != std::string::npos; };
  const auto n = parts->size();
  // ssh's forms: the listening side is a path, or [bind_address:]port; the target a path, or
  // host:hostport.
  const bool listen_path = n >= 2 && path(0);
  const bool target_path = n >= 2 && path(n - 1);
  const std::size_t listen_fields = listen_path ? 1 : (target_path ? n - 1 : n - 2);
  const std::size_t target_fields = n - listen_fields;
  if (n < 2 || n > 4 || listen_fields < 1 || listen_fields > 2 || target_fields != (target_path ? 1u : 2u) ||
      (listen_path && listen_fields != 1)) {
    return runtime::fail(
        bad_spec(spec, "a forward is [bind_address:]port:host:hostport, or a socket's path on either side"));
  }
  ForwardSpec forward;
  if (listen_path) {
    forward.bind_socket = (*parts)[0];
  } else {
    // As ssh: an empty address given before the port means every interface, as "*" does.
    if (listen_fields == 2) forward.bind_address = (*parts)[0].empty() ? "*" : (*parts)[0];
    auto bind_port = parse_port(spec, (*parts)[listen_fields - 1], true);
    if (!bind_port) return runtime::fail(std::move(bind_port.error()));
    forward.bind_port = *bind_port;
  }
  if (target_path) {
    forward.socket = parts->back();
    return forward;
  }
  forward.host = (*parts)[listen_fields];
  if (forward.host.empty()) return runtime::fail(bad_spec(spec, "the host to connect to is empty"));
  auto port = parse_port(spec, (*parts)[listen_fields + 1], false);
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

Result<std::vector<ForwardSpec>> parse_tcp_forwards(std::string_view list) {
  std::vector<ForwardSpec> forwards;
  for (std::size_t start = 0; start <= list.size();) {
    const auto comma = std::min(list.find(',', start), list.size());
    const auto item = list.substr(start, comma - start);
    start = comma + 1;
    auto parts = split_spec(item);
    if (!parts) return runtime::fail(std::move(parts.error()));
    // "1.2.3.4:8080" is an address and a port; "8080:3000" two ports.
    const std::size_t first = parts->size() == 3 || (parts->size() == 2 && !port_text((*parts)[0])) ? 1 : 0;
    if (parts->size() - first > 2 || (first == 1 && (*parts)[0].empty())) {
      return runtime::fail(bad_spec(item, "a TCP forward is [bind_address:]local[:remote], e.g. 8080:3000"));
    }
    auto local = parse_range(item, (*parts)[first], true);
    if (!local) return runtime::fail(std::move(local.error()));
    auto remote = parse_range(item, parts->size() > first + 1 ? (*parts)[first + 1] : (*parts)[first], false);
    if (!remote) return runtime::fail(std::move(remote.error()));
    if (local->count != remote->count) {
      return runtime::fail(bad_spec(item, "the local and remote ranges differ in size"));
    }
    for (std::uint16_t i = 0; i < local->count; ++i) {
      ForwardSpec forward;
      if (first == 1) forward.bind_address = (*parts)[0];
      forward.bind_port = local->first == 0 ? 0 : static_cast<std::uint16_t>(local->first + i);
      forward.host = "127.0.0.1";
      forward.port = static_cast<std::uint16_t>(remote->first + i);
      forwards.push_back(std::move(forward));
    }
  }
  return forwards;
}

Result<ListenSpec> parse_listen_spec(std::string_view spec) {
  auto parts = split_spec(spec);
  if (!parts) return runtime::fail(std::move(parts.error()));
  if (parts->size() > 2) return runtime::fail(bad_spec(spec, "a dynamic forward is [bind_address:]port"));
  ListenSpec listen;
  if (parts->size() == 2) listen.bind_address = (*parts)[0].empty() ? "*" : (*parts)[0];
  auto port = parse_port(spec, parts->back(), true);
  if (!port) return runtime::fail(std::move(port.error()));
  listen.bind_port = *port;
  return listen;
}

std::string ForwardTarget::describe() const {
  if (dynamic()) return "what each SOCKS client names";
  return socket.empty() ? fmt::format("{} port {}", host, port) : fmt::format("socket {}", socket);
}

asio::awaitable<void> forward_connection(std::shared_ptr<ssh::Connection> connection,
                                         std::unique_ptr<runtime::AsyncStream> local, ForwardTarget target,
                                         runtime::Logger log) {
  co_await asio::this_coro::throw_if_cancelled(false);
  const auto to = target.describe();
  auto channel = co_await open_channel_to(*connection, std::move(target));
  if (!channel) {
    log.warning("forwarding {} to {}: {}", local->describe(), to, channel.error().summary());
    co_await local->close();
    co_return;
  }
  co_await join(std::move(connection), std::move(local), std::move(*channel), log);
}

asio::awaitable<Result<void>> serve_local_forward(std::shared_ptr<ssh::Connection> connection,
                                                  proxy::StreamListener& listener, ForwardTarget target,
                                                  runtime::Logger log) {
  auto forward = [connection, target, log](std::unique_ptr<runtime::AsyncStream> local) {
    return forward_connection(connection, std::move(local), target, log);
  };
  co_return co_await accept_loop(connection, listener, std::move(forward));
}

asio::awaitable<Result<void>> serve_dynamic_forward(std::shared_ptr<ssh::Connection> connection,
                                                    proxy::TcpListener& listener, runtime::Logger log) {
  Connect through_server = [connection](ssh::DirectTcpip target) { return connection->open_direct_tcpip(target); };
  auto forward = [connection, through_server, log](std::unique_ptr<runtime::AsyncStream> local) {
    return socks_one(connection, std::move(local), through_server, log);
  };
  co_return co_await accept_loop(connection, listener, std::move(forward));
}

asio::awaitable<std::vector<Result<std::uint16_t>>> request_remote_forwards(std::shared_ptr<ssh::Connection> connection,
                                                                            std::vector<ForwardSpec> specs) {
  // Taken before the first request: a connection may arrive as soon as the server listens.
  connection->take_incoming(std::string(kForwardedTcpip));
  connection->take_incoming(std::string(kForwardedStreamlocal));
  std::vector<Result<std::uint16_t>> ports;
  for (const auto& spec : specs) {
    if (!spec.bind_socket.empty()) {
      auto socket = spec.bind_socket;
      auto listening = co_await connection->request_streamlocal_forward(std::move(socket));
      ports.push_back(listening ? Result<std::uint16_t>(0) : runtime::fail(std::move(listening.error())));
      continue;
    }
    auto address = address_to_bind(spec);
    auto port = co_await connection->request_tcpip_forward(std::move(address), spec.bind_port);
    ports.push_back(std::move(port));
  }
  co_return ports;
}

asio::awaitable<Result<void>> serve_remote_forwards(std::shared_ptr<ssh::Connection> connection,
                                                    std::vector<RemoteForward> forwards, runtime::Logger log) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  auto join_here = [executor, connection, log](ssh::IncomingChannel incoming, const ForwardSpec& spec,
                                               std::string from) {
    auto what = fmt::format("remote forward from {} to {}", from, spec.describe());
    if (spec.dynamic()) {
      asio::co_spawn(executor, socks_incoming(connection, std::move(incoming), std::move(what), log), asio::detached);
      return;
    }
    auto connecting = connect_here(spec, log);
    asio::co_spawn(executor,
                   join_incoming(connection, std::move(incoming), std::move(connecting), std::move(what), log),
                   asio::detached);
  };
  auto answer_tcpip = [forwards, log, join_here](ssh::IncomingChannel incoming) {
    auto connected = ssh::parse_forwarded_tcpip(incoming.type_specific_data());
    if (!connected) {
      log.warning("a forwarded-tcpip channel: {}", connected.error().summary());
      incoming.reject(ssh::OpenFailure::connect_failed, "malformed forwarded-tcpip data");
      return;
    }
    const auto* forward = forward_for(forwards, connected->host, connected->port);
    if (!forward) {
      log.warning("the server opened a forwarded-tcpip channel for {} port {}, which nothing forwards", connected->host,
                  connected->port);
      incoming.reject(ssh::OpenFailure::administratively_prohibited, "no such forward");
      return;
    }
    join_here(std::move(incoming), forward->spec,
              fmt::format("{}:{}", connected->originator_address, connected->originator_port));
  };
  auto answer_streamlocal = [forwards, log, join_here](ssh::IncomingChannel incoming) {
    auto socket = ssh::parse_forwarded_streamlocal(incoming.type_specific_data());
    const auto* forward = socket ? forward_for(forwards, *socket) : nullptr;
    if (!forward) {
      log.warning("the server opened a forwarded-streamlocal channel for {}, which nothing forwards",
                  socket ? *socket : socket.error().summary());
      incoming.reject(ssh::OpenFailure::administratively_prohibited, "no such forward");
      return;
    }
    join_here(std::move(incoming), forward->spec, *socket);
  };
  using namespace asio::experimental::awaitable_operators;
  auto ended = co_await (serve_incoming(connection, kForwardedTcpip, std::move(answer_tcpip)) ||
                         serve_incoming(connection, kForwardedStreamlocal, std::move(answer_streamlocal)));
  co_return std::visit([](auto& result) { return std::move(result); }, ended);
}

void take_agent_channels(ssh::Connection& connection) { connection.take_incoming(std::string(kAgentChannel)); }

asio::awaitable<Result<void>> serve_agent_channels(std::shared_ptr<ssh::Connection> connection,
                                                   std::optional<std::string> agent_socket, runtime::Logger log) {
  auto executor = co_await asio::this_coro::executor;
  auto answer = [executor, connection, agent_socket, log](ssh::IncomingChannel incoming) {
    auto connecting = proxy::connect_ssh_agent(runtime::Deadline::after(kTargetConnectBudget), agent_socket);
    std::string what = "agent forwarding";
    asio::co_spawn(executor,
                   join_incoming(connection, std::move(incoming), std::move(connecting), std::move(what), log),
                   asio::detached);
  };
  co_return co_await serve_incoming(connection, kAgentChannel, std::move(answer));
}

}  // namespace cr::coder
