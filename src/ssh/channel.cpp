#include "ssh/channel.hpp"

#include <algorithm>

#include "ssh/channel_state.hpp"
#include "ssh/connection.hpp"
#include "ssh/connection_messages.hpp"
#include "ssh/packet_stream.hpp"

namespace cr::ssh {

using runtime::Errc;
using runtime::Layer;
using runtime::Result;

Channel::Channel(std::shared_ptr<Connection> connection, std::shared_ptr<ChannelState> state)
    : connection_(std::move(connection)), state_(std::move(state)) {}

Channel::~Channel() {
  if (!state_->close_sent && !state_->close_received && !state_->error) connection_->queue_close(*state_);
}

bool Channel::eof_received() const { return state_->eof_received; }
bool Channel::closed() const { return state_->close_received; }
std::optional<std::uint32_t> Channel::exit_status() const { return state_->exit_status; }
std::optional<ExitSignal> Channel::exit_signal() const { return state_->exit_signal; }
std::uint32_t Channel::local_id() const { return state_->local_id; }

asio::awaitable<Result<std::size_t>> Channel::read(Stream stream, runtime::Bytes buffer) {
  ByteQueue& source = stream == Stream::out ? state_->out : state_->err;
  while (source.empty()) {
    if (state_->eof_received || state_->close_received) {
      co_return runtime::fail(Errc::end_of_stream, Layer::channel, "the server sent EOF");
    }
    if (state_->error) co_return runtime::fail(*state_->error);
    const bool woken = co_await state_->changed.wait();
    if (!woken) co_return runtime::fail(Errc::cancelled, Layer::channel, "read cancelled");
  }
  const std::size_t n = source.take(buffer);
  const std::uint32_t adjust = state_->receive.consumed(n);
  // Queued, not awaited: the bytes are the caller's already, and a cancellation while the
  // adjustment waited to leave must not lose them.
  if (adjust > 0 && !state_->close_received && !state_->close_sent) {
    connection_->queue(ChannelWindowAdjust{state_->remote_id, adjust}.encode());
  }
  co_return n;
}

asio::awaitable<Result<std::size_t>> Channel::write_some(runtime::ConstBytes data) {
  for (;;) {
    if (state_->error) co_return runtime::fail(*state_->error);
    if (state_->close_received || state_->close_sent || state_->eof_sent) {
      co_return runtime::fail(Errc::stream_closed, Layer::channel, "the channel is closed for writing");
    }
    if (data.empty()) co_return 0;
    if (state_->send.next_chunk(data.size()) > 0) break;
    const bool woken = co_await state_->changed.wait();
    if (!woken) co_return runtime::fail(Errc::cancelled, Layer::channel, "write cancelled");
  }
  const std::size_t chunk = state_->send.next_chunk(data.size());
  const auto message = ChannelData{state_->remote_id, data.first(chunk)}.encode();
  // Taken before the write: a concurrent writer must not count the same window twice.
  state_->send.consume(chunk);
  auto sent = co_await connection_->send(message);
  if (!sent) co_return runtime::fail(std::move(sent.error()));
  co_return chunk;
}

asio::awaitable<Result<void>> Channel::write(runtime::ConstBytes data) {
  while (!data.empty()) {
    auto n = co_await write_some(data);
    if (!n) co_return runtime::fail(std::move(n.error()));
    data = data.subspan(*n);
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Channel::send_eof() {
  if (state_->eof_sent || state_->close_sent) co_return Result<void>{};
  state_->eof_sent = true;
  const auto eof = ChannelEof{state_->remote_id}.encode();
  auto sent = co_await connection_->send(eof);
  // Cancelled before it left: not sent, as the flag must then say.
  if (!sent && !sent_despite_cancellation(sent.error())) state_->eof_sent = false;
  co_return sent;
}

void Channel::queue_eof() {
  if (state_->eof_sent || state_->close_sent || state_->error) return;
  state_->eof_sent = true;
  connection_->queue(ChannelEof{state_->remote_id}.encode());
}

asio::awaitable<Result<bool>> Channel::request(std::string_view type, bool want_reply, runtime::ConstBytes fields) {
  auto ticket = co_await send_request(type, want_reply, fields);
  if (!ticket) co_return runtime::fail(std::move(ticket.error()));
  if (!want_reply) co_return true;
  co_return co_await reply(*ticket);
}

asio::awaitable<Result<std::uint64_t>> Channel::send_request(std::string_view type, bool want_reply,
                                                             runtime::ConstBytes fields) {
  if (state_->error) co_return runtime::fail(*state_->error);
  const auto message = ChannelRequest{state_->remote_id, type, want_reply, fields}.encode();
  // The ticket is taken before the send, so overlapping requests keep their order.
  const std::uint64_t ticket = want_reply ? state_->requests_sent++ : 0;
  auto sent = co_await connection_->send(message);
  if (!sent) co_return runtime::fail(std::move(sent.error()));
  co_return ticket;
}

asio::awaitable<Result<bool>> Channel::reply(std::uint64_t ticket) {
  while (state_->replies.size() <= ticket) {
    if (state_->error) co_return runtime::fail(*state_->error);
    if (state_->close_received) co_return false;
    const bool woken = co_await state_->changed.wait();
    if (!woken) co_return runtime::fail(Errc::cancelled, Layer::channel, "request cancelled");
  }
  const bool agreed = state_->replies[static_cast<std::size_t>(ticket)];
  co_return agreed;
}

asio::awaitable<Result<void>> Channel::wait_closed() {
  while (!state_->close_received) {
    if (state_->error) co_return runtime::fail(*state_->error);
    const bool woken = co_await state_->changed.wait();
    if (!woken) co_return runtime::fail(Errc::cancelled, Layer::channel, "waiting for the channel to close cancelled");
  }
  co_return Result<void>{};
}

asio::awaitable<void> Channel::close() {
  if (state_->close_sent || state_->close_received || state_->error) co_return;
  state_->close_sent = true;
  const auto close = ChannelClose{state_->remote_id}.encode();
  // Its Result is not needed: CLOSE is the channel's last word, and one that could not be sent
  // leaves the channel to end with the connection.
  auto sent = co_await connection_->send(close);
  // Cancelled before it left: queued instead, or the server would never free the channel (the
  // reader does not queue a CLOSE marked as sent).
  if (!sent && sent.error().code == Errc::cancelled && !sent_despite_cancellation(sent.error())) {
    state_->close_sent = false;
    connection_->queue_close(*state_);
  }
}

}  // namespace cr::ssh
