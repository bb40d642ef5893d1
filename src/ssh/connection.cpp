#include "ssh/connection.hpp"

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "ssh/channel_state.hpp"
#include "ssh/channel_stream.hpp"
#include "ssh/connection_messages.hpp"
#include "ssh/messages.hpp"
#include "ssh/packet_stream.hpp"

namespace cr::ssh {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

namespace {
std::vector<std::uint8_t> encode_channel_open(std::string_view type, std::uint32_t local_id,
                                              const ConnectionOptions& options, ConstBytes fields) {
  return ChannelOpen{type, local_id, options.window_size, options.max_packet, fields}.encode();
}
}  // namespace

Result<DirectTcpip> parse_forwarded_tcpip(runtime::ConstBytes data) {
  auto parsed = DirectTcpipData::parse(data, "forwarded-tcpip");
  if (!parsed) return runtime::fail(std::move(parsed.error()));
  if (parsed->port_to_connect > 65535 || parsed->originator_port > 65535) {
    return runtime::fail(std::move(channel_protocol_error("a forwarded-tcpip channel names a port above 65535")
                                       .with("port", std::to_string(parsed->port_to_connect))));
  }
  return DirectTcpip{std::string(parsed->host_to_connect), static_cast<std::uint16_t>(parsed->port_to_connect),
                     std::string(parsed->originator_ip_address), static_cast<std::uint16_t>(parsed->originator_port)};
}

Result<std::string> parse_forwarded_streamlocal(runtime::ConstBytes data) {
  auto parsed = ForwardedStreamlocalData::parse(data);
  if (!parsed) return runtime::fail(std::move(parsed.error()));
  return std::string(parsed->socket_path);
}

Connection::Connection(std::unique_ptr<runtime::AsyncStream> stream, std::unique_ptr<Transport> transport,
                       ConnectionOptions options)
    : stream_(std::move(stream)),
      transport_(std::move(transport)),
      options_(std::move(options)),
      ended_(stream_->get_executor()) {}

void Connection::forget(std::uint32_t local_id) {
  channels_.erase(local_id);
  ended_.notify();
}

asio::awaitable<bool> Connection::wait_idle() {
  while (!failure_ && open_channels() > 0) {
    const bool woken = co_await ended_.wait();
    if (!woken) co_return false;
  }
  co_return true;
}

asio::awaitable<bool> Connection::wait_ended() {
  while (!failure_) {
    const bool woken = co_await ended_.wait();
    if (!woken) co_return false;
  }
  co_return true;
}

Connection::~Connection() = default;

std::vector<std::uint8_t> Connection::first_session_open(const ConnectionOptions& options) {
  return encode_channel_open("session", 0, options, {});  // 0: the first channel's local id
}

std::shared_ptr<Connection> Connection::start(std::unique_ptr<runtime::AsyncStream> stream,
                                              std::unique_ptr<Transport> transport, ConnectionOptions options,
                                              bool session_opened) {
  auto connection = std::make_shared<Connection>(std::move(stream), std::move(transport), std::move(options));
  if (session_opened) connection->spare_ = connection->new_channel();
  if (!connection->spare_ && connection->options_.spare_session) connection->open_spare();
  asio::co_spawn(connection->stream_->get_executor(), read_loop(connection),
                 failing_on_exception(connection, "reader"));
  if (connection->options_.keepalive_interval.count() > 0) {
    connection->keepalive_tick_ = std::make_shared<asio::steady_timer>(connection->stream_->get_executor());
    asio::co_spawn(connection->stream_->get_executor(),
                   keep_alive(connection, connection->keepalive_tick_, connection->options_.keepalive_interval,
                              connection->options_.keepalive_count_max),
                   failing_on_exception(connection, "keepalive"));
  }
  return connection;
}

std::shared_ptr<ChannelState> Connection::find(std::uint32_t local_id) const {
  const auto it = channels_.find(local_id);
  return it == channels_.end() ? nullptr : it->second;
}

asio::awaitable<Result<void>> Connection::send(std::span<const std::uint8_t> message) {
  if (failure_) co_return runtime::fail(*failure_);
  auto sent = co_await transport_->write_message(message);
  // A write that failed on the stream (not one cancelled or refused before it began) may have left
  // part of a packet, which nothing can follow: the connection has ended, whatever its reader has
  // seen yet. A caller then knows at once (failure()) that a fresh connection is needed.
  if (!sent && sent.error().code != Errc::cancelled && sent.error().code != Errc::invalid_argument) {
    transport_->mark_broken(sent.error());
    fail_all(sent.error());
  }
  co_return sent;
}

void Connection::queue(std::vector<std::uint8_t> message) {
  if (failure_) return;
  // Its place among the messages is taken now: one sent directly after this call must not get
  // ahead of it (a CLOSE before its channel's queued EOF would name a channel the server has freed).
  queued_.push_back({std::move(message), transport_->reserve_message_place()});
  if (sending_queued_) return;
  sending_queued_ = true;
  asio::co_spawn(stream_->get_executor(), send_queued(shared_from_this()),
                 failing_on_exception(weak_from_this(), "sender"));
}

void Connection::queue_close(ChannelState& channel) {
  if (channel.close_sent) return;
  channel.close_sent = true;
  queue(ChannelClose{channel.remote_id}.encode());
}

asio::awaitable<void> Connection::send_queued(std::shared_ptr<Connection> self) {
  co_await asio::this_coro::throw_if_cancelled(false);
  while (!self->queued_.empty() && !self->failure_) {
    auto queued = std::move(self->queued_.front());
    self->queued_.pop_front();
    auto sent = co_await self->transport_->write_message(queued.message, std::move(queued.place));
    if (!sent) self->fail_all(std::move(sent.error()));
  }
  self->queued_.clear();
  self->sending_queued_ = false;
}

std::function<void(std::exception_ptr)> Connection::failing_on_exception(std::weak_ptr<Connection> weak,
                                                                         std::string_view task) {
  return [weak = std::move(weak), task = std::string(task)](std::exception_ptr thrown) {
    const auto self = weak.lock();
    if (!thrown || !self) return;
    Error error(Errc::internal_error, Layer::channel,
                fmt::format("the connection's {} stopped: {}", task, runtime::exception_text(thrown)));
    self->transport_->mark_broken(error);
    self->fail_all(std::move(error));
  };
}

void Connection::fail_all(Error error) {
  if (!failure_) failure_ = error;
  ended_.notify();
  if (keepalive_tick_) keepalive_tick_->cancel();
  for (auto& pending : pending_replies_) pending->answered.notify();
  for (auto& [type, incoming] : incoming_) incoming->arrived.notify();
  for (auto& [id, channel] : channels_) {
    if (!channel->error) channel->error = error;
    channel->changed.notify();
  }
}

asio::awaitable<void> Connection::read_loop(std::shared_ptr<Connection> self) {
  co_await asio::this_coro::throw_if_cancelled(false);
  for (;;) {
    auto message = co_await self->transport_->read_message();
    if (!message) {
      self->fail_all(self->closing_ ? Error(Errc::stream_closed, Layer::channel, "the connection was closed")
                                    : std::move(message.error()));
      co_return;
    }
    auto handled = self->dispatch(*message);
    if (!handled) {
      self->fail_all(handled.error());
      co_await self->transport_->disconnect(DisconnectReason::protocol_error, handled.error().message);
      co_return;
    }
  }
}

Result<void> Connection::dispatch(const std::vector<std::uint8_t>& message) {
  const std::uint8_t type = message.empty() ? 0 : message[0];
  if (type == msg::global_request) {
    // Nothing the server asks of a client is supported (hostkeys-00@openssh.com wants no reply;
    // keepalive@openssh.com does, and a failure answers it as well as a success).
    auto request = GlobalRequest::parse(message);
    if (!request) return runtime::fail(std::move(request.error()));
    options_.log.debug("server global request {}", request->request_name);
    if (request->want_reply) queue(RequestFailure{}.encode());
    return {};
  }
  if (type == msg::request_success || type == msg::request_failure) {
    if (pending_replies_.empty())
      return runtime::fail(channel_protocol_error("a global request reply that answers no request"));
    auto pending = std::move(pending_replies_.front());
    pending_replies_.pop_front();
    pending->accepted = type == msg::request_success;
    if (type == msg::request_success) pending->success_data.assign(message.begin() + 1, message.end());
    pending->answered.notify();
    return {};
  }
  if (type == msg::channel_open) {
    auto open = ChannelOpen::parse(message);
    if (!open) return runtime::fail(std::move(open.error()));
    const auto taken = incoming_.find(open->channel_type);
    if (taken == incoming_.end()) {
      const ChannelOpenFailure refusal{open->sender_channel,
                                       static_cast<std::uint32_t>(OpenFailure::unknown_channel_type),
                                       "the client takes no channels of this type", ""};
      queue(refusal.encode());
      return {};
    }
    if (open->maximum_packet_size == 0) {
      const ChannelOpenFailure refusal{open->sender_channel,
                                       static_cast<std::uint32_t>(OpenFailure::administratively_prohibited),
                                       "a maximum packet size of 0", ""};
      queue(refusal.encode());
      return {};
    }
    taken->second->waiting.emplace_back(weak_from_this(), *open);
    taken->second->arrived.notify();
    return {};
  }
  if (type < msg::channel_open_confirmation || type > msg::channel_failure) {
    return runtime::fail(std::move(
        channel_protocol_error("unexpected message on the connection").with("message number", std::to_string(type))));
  }
  // Every field is read before anything changes: a channel changed (refused, closed, forgotten)
  // by a message that then fails to parse would be left waiting, unseen by fail_all.
  auto parsed_recipient = parse_recipient_channel(message);
  if (!parsed_recipient) return runtime::fail(std::move(parsed_recipient.error()));
  const std::uint32_t recipient = *parsed_recipient;
  auto channel = find(recipient);
  if (!channel) {
    return runtime::fail(std::move(channel_protocol_error("the server sent a message for a channel that does not exist")
                                       .with("channel", std::to_string(recipient))
                                       .with("message number", std::to_string(type))));
  }
  if (!channel->confirmed && type != msg::channel_open_confirmation && type != msg::channel_open_failure) {
    return runtime::fail(std::move(channel_protocol_error("the server used a channel before confirming it")
                                       .with("channel", std::to_string(recipient))
                                       .with("message number", std::to_string(type))));
  }
  auto reaction = take_channel_message(*channel, message);
  if (!reaction) return runtime::fail(std::move(reaction.error()));
  if (reaction->send_failure) queue(ChannelFailure{channel->remote_id}.encode());
  if (reaction->send_close) queue_close(*channel);
  if (reaction->forget) forget(recipient);
  channel->changed.notify();
  return {};
}

std::shared_ptr<ChannelState> Connection::new_channel() {
  auto state = std::make_shared<ChannelState>(stream_->get_executor());
  state->local_id = next_channel_id_++;
  state->receive = ReceiveWindow(options_.window_size, options_.max_packet);
  channels_[state->local_id] = state;
  return state;
}

std::vector<std::uint8_t> Connection::open_message(std::string_view type, const ChannelState& channel,
                                                   ConstBytes fields) const {
  return encode_channel_open(type, channel.local_id, options_, fields);
}

void Connection::open_spare() {
  if (failure_ || closing_) return;
  spare_ = new_channel();
  queue(open_message("session", *spare_, {}));
}

asio::awaitable<Result<std::unique_ptr<Channel>>> Connection::confirmed(std::shared_ptr<ChannelState> state,
                                                                        std::string type) {
  while (!state->confirmed && !state->error) {
    const bool woken = co_await state->changed.wait();
    if (!woken) {
      state->abandoned = true;
      co_return runtime::fail(Errc::cancelled, Layer::channel, fmt::format("opening a {} channel cancelled", type));
    }
  }
  if (state->error) co_return runtime::fail(*state->error);
  co_return std::make_unique<Channel>(shared_from_this(), std::move(state));
}

asio::awaitable<Result<std::unique_ptr<Channel>>> Connection::open_channel(std::string type,
                                                                           std::vector<std::uint8_t> fields) {
  if (failure_) co_return runtime::fail(*failure_);
  auto state = new_channel();
  auto sent = co_await send(open_message(type, *state, fields));
  if (!sent) {
    // An open that left is answered: abandoned, the channel is closed once it is confirmed. One
    // that never left is forgotten.
    if (sent_despite_cancellation(sent.error())) {
      state->abandoned = true;
    } else {
      forget(state->local_id);
    }
    co_return runtime::fail(std::move(sent.error()));
  }
  co_return co_await confirmed(std::move(state), std::move(type));
}

asio::awaitable<Result<Session>> Connection::open_session() {
  if (failure_) co_return runtime::fail(*failure_);
  // The replacement spare is asked for once this session is open, so it never competes with it
  // for a server's session limit.
  if (auto spare = std::move(spare_)) {
    auto channel = co_await confirmed(std::move(spare), "session");
    if (channel) {
      if (options_.spare_session) open_spare();
      co_return Session(std::move(*channel));
    }
    if (channel.error().code != Errc::refused) co_return runtime::fail(std::move(channel.error()));
    // Refused while the previous session was open (sshd's MaxSessions, say): no more spares on
    // this connection; this session is asked for on its own.
    options_.log.debug("the spare session channel was refused, no more spares: {}", channel.error().summary());
    options_.spare_session = false;
  }
  auto channel = co_await open_channel("session", {});
  if (!channel) co_return runtime::fail(std::move(channel.error()));
  if (options_.spare_session && !spare_) open_spare();
  co_return Session(std::move(*channel));
}

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> Connection::open_direct_tcpip(DirectTcpip target) {
  auto fields = DirectTcpipData{target.host, target.port, target.originator_address, target.originator_port}.encode();
  auto channel = co_await open_channel("direct-tcpip", std::move(fields));
  if (!channel) {
    co_return runtime::fail(std::move(channel.error())
                                .with("target", fmt::format("{}:{}", target.host, target.port))
                                .while_("opening a direct-tcpip channel"));
  }
  co_return make_channel_stream(std::move(*channel), fmt::format("direct-tcpip {}:{}", target.host, target.port));
}

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> Connection::open_direct_streamlocal(
    std::string socket_path) {
  auto fields = DirectStreamlocalData{socket_path}.encode();
  auto channel = co_await open_channel("direct-streamlocal@openssh.com", std::move(fields));
  if (!channel) {
    co_return runtime::fail(
        std::move(channel.error()).with("target", socket_path).while_("opening a direct-streamlocal channel"));
  }
  co_return make_channel_stream(std::move(*channel), fmt::format("direct-streamlocal {}", socket_path));
}

asio::awaitable<Result<ExecResult>> Connection::exec(std::string command, ExecOptions options) {
  const auto started = runtime::Clock::now();
  auto session = co_await open_session();
  if (!session) co_return runtime::fail(std::move(session.error()));
  auto result = co_await session->exec(std::move(command), std::move(options));
  if (result) result->duration = std::chrono::duration_cast<std::chrono::milliseconds>(runtime::Clock::now() - started);
  co_return result;
}

asio::awaitable<Result<bool>> Connection::global_request(std::string name, bool want_reply,
                                                         std::vector<std::uint8_t> fields) {
  if (want_reply) {
    auto reply = co_await request_with_reply(std::move(name), std::move(fields));
    if (!reply) co_return runtime::fail(std::move(reply.error()));
    co_return reply->has_value();
  }
  auto sent = co_await send(GlobalRequest{name, false, fields}.encode());
  if (!sent) co_return runtime::fail(std::move(sent.error()));
  co_return false;
}

asio::awaitable<Result<std::optional<std::vector<std::uint8_t>>>> Connection::request_with_reply(
    std::string name, std::vector<std::uint8_t> fields) {
  const auto request = GlobalRequest{name, true, fields}.encode();
  auto pending = std::make_shared<PendingReply>(PendingReply{std::nullopt, {}, runtime::Event(executor())});
  pending_replies_.push_back(pending);
  auto sent = co_await send(request);
  if (!sent) {
    // Replies come in the order of the requests: a request that never left must not take one.
    if (!sent_despite_cancellation(sent.error())) std::erase(pending_replies_, pending);
    co_return runtime::fail(std::move(sent.error()));
  }
  while (!pending->accepted && !failure_) {
    const bool woken = co_await pending->answered.wait();
    if (!woken && !pending->accepted) {
      co_return runtime::fail(Errc::cancelled, Layer::channel, fmt::format("waiting for the reply to {}", name));
    }
  }
  if (!pending->accepted) co_return runtime::fail(*failure_);
  if (!*pending->accepted) co_return std::optional<std::vector<std::uint8_t>>{};
  co_return std::optional<std::vector<std::uint8_t>>{std::move(pending->success_data)};
}

asio::awaitable<Result<void>> Connection::request_streamlocal_forward(std::string socket_path) {
  std::string request = "streamlocal-forward@openssh.com";
  auto fields = encode_streamlocal_forward(socket_path);
  auto reply = co_await request_with_reply(std::move(request), std::move(fields));
  if (!reply) co_return runtime::fail(std::move(reply.error()).while_("asking the server to listen"));
  if (!*reply) {
    co_return runtime::fail(std::move(
        Error(Errc::refused, Layer::channel, fmt::format("the server refused to listen on {} for us", socket_path))
            .with("request", "streamlocal-forward@openssh.com")));
  }
  co_return runtime::Result<void>{};
}

asio::awaitable<Result<std::uint16_t>> Connection::request_tcpip_forward(std::string address, std::uint16_t port) {
  const auto where = fmt::format("{}:{}", address.empty() ? "*" : address, port);
  std::string request = "tcpip-forward";
  auto fields = TcpipForwardData{address, port}.encode();
  auto reply = co_await request_with_reply(std::move(request), std::move(fields));
  if (!reply) co_return runtime::fail(std::move(reply.error()).while_("asking the server to listen"));
  if (!*reply) {
    co_return runtime::fail(
        std::move(Error(Errc::refused, Layer::channel, fmt::format("the server refused to listen on {} for us", where))
                      .with("request", "tcpip-forward")));
  }
  // The port it chose, for port 0 (RFC 4254 section 7.1); some servers send it for any port.
  if ((*reply)->empty()) {
    if (port != 0) co_return port;
    co_return runtime::fail(channel_protocol_error("the server agreed to listen on port 0 but named no port"));
  }
  Reader data(**reply, "tcpip-forward's REQUEST_SUCCESS");
  const std::uint32_t bound = data.uint32();
  auto parsed = finish_parse(data, bound);
  if (!parsed) co_return runtime::fail(std::move(parsed.error()));
  if (bound == 0 || bound > 65535 || (port != 0 && bound != port)) {
    co_return runtime::fail(std::move(channel_protocol_error("the server listens on another port than asked")
                                          .with("asked", where)
                                          .with("server's port", std::to_string(bound))));
  }
  co_return static_cast<std::uint16_t>(bound);
}

void Connection::take_incoming(std::string type) {
  if (incoming_.contains(type)) return;
  incoming_.emplace(std::move(type), std::make_unique<Incoming>(Incoming{{}, runtime::Event(executor())}));
}

asio::awaitable<Result<IncomingChannel>> Connection::next_incoming(std::string type) {
  const auto found = incoming_.find(type);
  if (found == incoming_.end()) {
    co_return runtime::fail(Errc::invalid_argument, Layer::channel,
                            fmt::format("{} channels are not taken (take_incoming)", type));
  }
  auto& incoming = *found->second;
  while (incoming.waiting.empty() && !failure_) {
    const bool woken = co_await incoming.arrived.wait();
    if (!woken) co_return runtime::fail(Errc::cancelled, Layer::channel, fmt::format("waiting for a {} channel", type));
  }
  if (failure_) co_return runtime::fail(*failure_);
  auto next = std::move(incoming.waiting.front());
  incoming.waiting.pop_front();
  co_return next;
}

asio::awaitable<Result<void>> Connection::ping(runtime::Deadline deadline) {
  const auto sent = runtime::Clock::now();
  auto request = global_request("keepalive@openssh.com", true);
  auto answered = co_await runtime::with_deadline(deadline, std::move(request), Layer::transport, "a keepalive reply");
  if (!answered) co_return runtime::fail(std::move(answered.error()));
  last_round_trip_ = std::chrono::duration_cast<std::chrono::microseconds>(runtime::Clock::now() - sent);
  co_return Result<void>{};
}

// Holds only a weak reference between pings: a connection nobody uses any more is not kept alive
// by its own keepalive.
asio::awaitable<void> Connection::keep_alive(std::weak_ptr<Connection> weak, std::shared_ptr<asio::steady_timer> tick,
                                             std::chrono::milliseconds interval, int count_max) {
  co_await asio::this_coro::throw_if_cancelled(false);
  int missed = 0;
  for (;;) {
    {
      auto self = weak.lock();
      if (!self || self->failure_ || self->closing_) co_return;
    }
    tick->expires_after(interval);
    auto [waited] = co_await tick->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    auto self = weak.lock();
    if (waited || !self || self->failure_ || self->closing_) co_return;
    auto answered = co_await self->ping(runtime::Deadline::after(interval));
    if (self->failure_ || self->closing_) co_return;
    missed = answered ? 0 : missed + 1;
    if (missed < count_max) continue;
    auto error = Error(Errc::timed_out, Layer::transport,
                       fmt::format("the server did not answer {} keepalives in a row, {} apart", count_max,
                                   runtime::describe_budget(interval)))
                     .with("last keepalive", answered ? "answered" : answered.error().summary());
    self->options_.log.warning("{}", error.summary());
    self->fail_all(error);
    co_await self->stream_->close();
    co_return;
  }
}

asio::awaitable<void> Connection::close() {
  closing_ = true;
  if (keepalive_tick_) keepalive_tick_->cancel();
  co_await transport_->disconnect(DisconnectReason::by_application, "closed by the client");
}

}  // namespace cr::ssh
