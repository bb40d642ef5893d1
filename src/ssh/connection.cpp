#include "ssh/connection.hpp"

#include <algorithm>
#include <deque>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

#include "ssh/messages.hpp"
#include "ssh/wire.hpp"

namespace cr::ssh {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

namespace {
constexpr std::uint32_t kExtendedDataStderr = 1;
constexpr std::uint32_t kOpenAdministrativelyProhibited = 1;
// Header bytes of a CHANNEL_DATA message ahead of the data (type, recipient, string length).
constexpr std::uint32_t kDataHeader = 9;

Error channel_error(std::string message) { return Error(Errc::protocol_error, Layer::channel, std::move(message)); }

std::string_view open_failure_reason(std::uint32_t code) {
  switch (code) {
    case 1: return "administratively prohibited";
    case 2: return "connect failed";
    case 3: return "unknown channel type";
    case 4: return "resource shortage";
  }
  return "unknown reason";
}
}  // namespace

// What the reader coroutine and a Channel handle share about one channel.
struct ChannelState {
  explicit ChannelState(asio::any_io_executor executor) : changed(std::move(executor)) {}

  std::uint32_t local_id = 0;
  std::uint32_t remote_id = 0;
  std::uint32_t local_window = 0;        // bytes the server may still send
  std::uint32_t consumed = 0;            // read by the application since our last WINDOW_ADJUST
  std::uint64_t remote_window = 0;       // bytes we may still send
  std::uint32_t remote_max_packet = 0;
  bool confirmed = false;
  bool eof_received = false;
  bool close_received = false;
  bool close_sent = false;
  bool eof_sent = false;
  std::string out;                       // received, not yet read
  std::string err;
  std::deque<bool> replies;              // CHANNEL_SUCCESS / FAILURE, in request order
  std::optional<std::uint32_t> exit_status;
  std::optional<std::string> exit_signal;
  std::optional<Error> error;            // open failure, or the connection's end
  runtime::Event changed;
};

Connection::Connection(std::unique_ptr<runtime::AsyncStream> stream, std::unique_ptr<Transport> transport,
                       ConnectionOptions options)
    : stream_(std::move(stream)), transport_(std::move(transport)), options_(std::move(options)) {}

Connection::~Connection() = default;

std::shared_ptr<Connection> Connection::start(std::unique_ptr<runtime::AsyncStream> stream,
                                              std::unique_ptr<Transport> transport, ConnectionOptions options) {
  auto connection = std::make_shared<Connection>(std::move(stream), std::move(transport), std::move(options));
  asio::co_spawn(connection->stream_->get_executor(), read_loop(connection), asio::detached);
  return connection;
}

std::shared_ptr<ChannelState> Connection::find(std::uint32_t local_id) const {
  const auto it = channels_.find(local_id);
  return it == channels_.end() ? nullptr : it->second;
}

asio::awaitable<Result<void>> Connection::send(std::span<const std::uint8_t> message) {
  if (failure_) co_return runtime::fail(*failure_);
  co_return co_await transport_->write_message(message);
}

void Connection::fail_all(Error error) {
  if (!failure_) failure_ = error;
  for (auto& [id, channel] : channels_) {
    if (!channel->error) channel->error = error;
    channel->changed.notify();
  }
}

asio::awaitable<void> Connection::read_loop(std::shared_ptr<Connection> self) {
  co_await asio::this_coro::throw_if_cancelled(false);
  std::vector<std::vector<std::uint8_t>> replies;
  for (;;) {
    auto message = co_await self->transport_->read_message();
    if (!message) {
      self->fail_all(self->closing_ ? Error(Errc::stream_closed, Layer::channel, "the connection was closed")
                                    : std::move(message.error()));
      co_return;
    }
    auto handled = self->dispatch(*message, replies);
    if (!handled) {
      self->fail_all(handled.error());
      co_await self->transport_->disconnect(2, handled.error().message);
      co_return;
    }
    // Answers the reader owes the server (CLOSE, REQUEST_FAILURE, OPEN_FAILURE) go out in order.
    for (const auto& reply : replies) {
      auto sent = co_await self->transport_->write_message(reply);
      if (!sent) {
        self->fail_all(std::move(sent.error()));
        co_return;
      }
    }
    replies.clear();
  }
}

Result<void> Connection::dispatch(const std::vector<std::uint8_t>& message,
                                  std::vector<std::vector<std::uint8_t>>& replies) {
  Reader r(message, "connection message");
  const std::uint8_t type = r.byte();
  if (type == msg::global_request) {
    // Nothing the server asks of a client is supported (hostkeys-00@openssh.com wants no reply).
    const std::string name = r.text();
    const bool want_reply = r.boolean();
    options_.log.debug("server global request {}", name);
    if (want_reply) replies.push_back({msg::request_failure});
    return r.finish();
  }
  if (type == msg::request_success || type == msg::request_failure) return {};
  if (type == msg::channel_open) {
    r.text();
    const std::uint32_t sender = r.uint32();
    if (auto parsed = r.finish(); !parsed) return parsed;
    Writer refusal;
    refusal.byte(msg::channel_open_failure);
    refusal.uint32(sender);
    refusal.uint32(kOpenAdministrativelyProhibited);
    refusal.string("the client accepts no channels");
    refusal.string("");
    replies.push_back(refusal.take());
    return {};
  }
  if (type < msg::channel_open_confirmation || type > msg::channel_failure) {
    return runtime::fail(std::move(channel_error("unexpected message on the connection")
                                       .with("message number", std::to_string(type))));
  }
  const std::uint32_t recipient = r.uint32();
  auto channel = find(recipient);
  if (!channel) {
    return runtime::fail(std::move(channel_error("the server sent a message for a channel that does not exist")
                                       .with("channel", std::to_string(recipient))
                                       .with("message number", std::to_string(type))));
  }
  switch (type) {
    case msg::channel_open_confirmation:
      channel->remote_id = r.uint32();
      channel->remote_window = r.uint32();
      channel->remote_max_packet = r.uint32();
      channel->confirmed = true;
      break;
    case msg::channel_open_failure: {
      const std::uint32_t reason = r.uint32();
      const std::string description = r.text();
      channel->error = std::move(Error(Errc::protocol_error, Layer::channel,
                                       fmt::format("the server refused the channel: {}", open_failure_reason(reason)))
                                     .with("server said", description));
      channels_.erase(recipient);
      break;
    }
    case msg::channel_window_adjust: {
      const std::uint32_t bytes = r.uint32();
      // RFC 4254 section 5.2: the window may not grow past 2^32 - 1.
      if (channel->remote_window + bytes > 0xffffffffULL) {
        return runtime::fail(std::move(channel_error("the server's window adjust overflows the channel window")
                                           .with("window", std::to_string(channel->remote_window))
                                           .with("adjust", std::to_string(bytes))));
      }
      channel->remote_window += bytes;
      break;
    }
    case msg::channel_data:
    case msg::channel_extended_data: {
      const std::uint32_t data_type = type == msg::channel_extended_data ? r.uint32() : 0;
      const auto data = r.string();
      if (r.failed()) break;
      if (data.size() > channel->local_window || data.size() > options_.max_packet) {
        return runtime::fail(std::move(channel_error("the server sent data beyond the channel window")
                                           .with("data", std::to_string(data.size()))
                                           .with("window", std::to_string(channel->local_window))));
      }
      channel->local_window -= static_cast<std::uint32_t>(data.size());
      if (type == msg::channel_data) {
        channel->out.append(reinterpret_cast<const char*>(data.data()), data.size());
      } else if (data_type == kExtendedDataStderr) {
        channel->err.append(reinterpret_cast<const char*>(data.data()), data.size());
      }
      break;
    }
    case msg::channel_eof:
      channel->eof_received = true;
      break;
    case msg::channel_close:
      channel->close_received = true;
      if (!channel->close_sent) {
        Writer close;
        close.byte(msg::channel_close);
        close.uint32(channel->remote_id);
        replies.push_back(close.take());
        channel->close_sent = true;
      }
      channels_.erase(recipient);
      break;
    case msg::channel_request: {
      const std::string request = r.text();
      const bool want_reply = r.boolean();
      if (request == "exit-status") {
        channel->exit_status = r.uint32();
      } else if (request == "exit-signal") {
        channel->exit_signal = r.text();
      } else if (want_reply) {
        Writer failure;
        failure.byte(msg::channel_failure);
        failure.uint32(channel->remote_id);
        replies.push_back(failure.take());
      }
      break;
    }
    case msg::channel_success:
    case msg::channel_failure:
      channel->replies.push_back(type == msg::channel_success);
      break;
  }
  if (auto parsed = r.finish(); !parsed) return parsed;
  channel->changed.notify();
  return {};
}

asio::awaitable<Result<std::unique_ptr<Channel>>> Connection::open_session() {
  if (failure_) co_return runtime::fail(*failure_);
  auto state = std::make_shared<ChannelState>(stream_->get_executor());
  state->local_id = next_channel_id_++;
  state->local_window = options_.window_size;
  channels_[state->local_id] = state;
  Writer open;
  open.byte(msg::channel_open);
  open.string("session");
  open.uint32(state->local_id);
  open.uint32(options_.window_size);
  open.uint32(options_.max_packet);
  auto sent = co_await send(open.bytes());
  if (!sent) co_return runtime::fail(std::move(sent.error()));
  while (!state->confirmed && !state->error) {
    const bool woken = co_await state->changed.wait();
    if (!woken) co_return runtime::fail(Errc::cancelled, Layer::channel, "opening a session cancelled");
  }
  if (state->error) co_return runtime::fail(*state->error);
  co_return std::make_unique<Channel>(shared_from_this(), std::move(state));
}

asio::awaitable<void> Connection::close() {
  closing_ = true;
  co_await transport_->disconnect(11, "closed by the client");
}

Channel::Channel(std::shared_ptr<Connection> connection, std::shared_ptr<ChannelState> state)
    : connection_(std::move(connection)), state_(std::move(state)) {}

Channel::~Channel() = default;

std::optional<std::uint32_t> Channel::exit_status() const { return state_->exit_status; }
std::optional<std::string> Channel::exit_signal() const { return state_->exit_signal; }

asio::awaitable<Result<std::size_t>> Channel::read(Stream stream, runtime::Bytes buffer) {
  std::string& source = stream == Stream::out ? state_->out : state_->err;
  while (source.empty()) {
    if (state_->eof_received || state_->close_received) {
      co_return runtime::fail(Errc::end_of_stream, Layer::channel, "the server sent EOF");
    }
    if (state_->error) co_return runtime::fail(*state_->error);
    const bool woken = co_await state_->changed.wait();
    if (!woken) co_return runtime::fail(Errc::cancelled, Layer::channel, "read cancelled");
  }
  const std::size_t n = std::min(buffer.size(), source.size());
  std::copy_n(source.begin(), n, buffer.begin());
  source.erase(0, n);
  // Give the window back once half of it has been read, so the server rarely waits for us.
  state_->consumed += static_cast<std::uint32_t>(n);
  const auto window = connection_->options_.window_size;
  if (state_->consumed >= window / 2 && !state_->close_received) {
    Writer adjust;
    adjust.byte(msg::channel_window_adjust);
    adjust.uint32(state_->remote_id);
    adjust.uint32(state_->consumed);
    state_->local_window += state_->consumed;
    state_->consumed = 0;
    auto sent = co_await connection_->send(adjust.bytes());
    if (!sent) co_return runtime::fail(std::move(sent.error()));
  }
  co_return n;
}

asio::awaitable<Result<void>> Channel::write(runtime::ConstBytes data) {
  while (!data.empty()) {
    while (state_->remote_window == 0 && !state_->error && !state_->close_received) {
      const bool woken = co_await state_->changed.wait();
      if (!woken) co_return runtime::fail(Errc::cancelled, Layer::channel, "write cancelled");
    }
    if (state_->error) co_return runtime::fail(*state_->error);
    if (state_->close_received || state_->eof_sent) {
      co_return runtime::fail(Errc::stream_closed, Layer::channel, "the channel is closed for writing");
    }
    const std::uint64_t packet_room = state_->remote_max_packet > kDataHeader ? state_->remote_max_packet - kDataHeader : 1;
    const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>({data.size(), state_->remote_window, packet_room}));
    Writer message;
    message.byte(msg::channel_data);
    message.uint32(state_->remote_id);
    message.string(data.first(chunk));
    state_->remote_window -= chunk;
    auto sent = co_await connection_->send(message.bytes());
    if (!sent) co_return sent;
    data = data.subspan(chunk);
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> Channel::send_eof() {
  if (state_->eof_sent || state_->close_sent) co_return Result<void>{};
  state_->eof_sent = true;
  Writer eof;
  eof.byte(msg::channel_eof);
  eof.uint32(state_->remote_id);
  co_return co_await connection_->send(eof.bytes());
}

asio::awaitable<Result<bool>> Channel::request(std::string_view type, bool want_reply, runtime::ConstBytes fields) {
  Writer message;
  message.byte(msg::channel_request);
  message.uint32(state_->remote_id);
  message.string(type);
  message.boolean(want_reply);
  message.raw(fields);
  auto sent = co_await connection_->send(message.bytes());
  if (!sent) co_return runtime::fail(std::move(sent.error()));
  if (!want_reply) co_return true;
  while (state_->replies.empty()) {
    if (state_->error) co_return runtime::fail(*state_->error);
    if (state_->close_received) co_return false;
    const bool woken = co_await state_->changed.wait();
    if (!woken) co_return runtime::fail(Errc::cancelled, Layer::channel, "request cancelled");
  }
  const bool agreed = state_->replies.front();
  state_->replies.pop_front();
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
  if (state_->close_sent || state_->error) co_return;
  state_->close_sent = true;
  Writer close;
  close.byte(msg::channel_close);
  close.uint32(state_->remote_id);
  co_await connection_->send(close.bytes());
}

asio::awaitable<Result<ExecResult>> Connection::exec(std::string command, ExecOptions options) {
  const auto started = runtime::Clock::now();
  auto opened = co_await open_session();
  if (!opened) co_return runtime::fail(std::move(opened.error()));
  auto& channel = **opened;
  for (const auto& [name, value] : options.env) {
    Writer env;
    env.string(name);
    env.string(value);
    auto sent = co_await channel.request("env", false, env.bytes());
    if (!sent) co_return runtime::fail(std::move(sent.error()));
  }
  Writer exec_fields;
  exec_fields.string(command);
  auto accepted = co_await channel.request("exec", true, exec_fields.bytes());
  if (!accepted) co_return runtime::fail(std::move(accepted.error()));
  if (!*accepted) {
    co_return runtime::fail(std::move(Error(Errc::protocol_error, Layer::channel, "the server refused to run the command")
                                          .with("command", command)));
  }
  ExecResult result;
  // stdin, stdout and stderr move at once: they share one window, and a command may not read its
  // input before its output has somewhere to go.
  auto feed_stdin = [&]() -> asio::awaitable<Result<void>> {
    if (options.stdin_data) {
      auto written = co_await channel.write(runtime::as_bytes(*options.stdin_data));
      if (!written) co_return written;
    }
    co_return co_await channel.send_eof();
  };
  auto drain = [&](Channel::Stream stream) -> asio::awaitable<Result<void>> {
    auto& sink = stream == Channel::Stream::out ? options.on_stdout : options.on_stderr;
    auto& collected = stream == Channel::Stream::out ? result.stdout_data : result.stderr_data;
    std::array<std::uint8_t, 32 * 1024> buffer;
    for (;;) {
      auto n = co_await channel.read(stream, buffer);
      if (!n) {
        if (n.error().code == Errc::end_of_stream) co_return Result<void>{};
        co_return runtime::fail(std::move(n.error()));
      }
      const std::string_view chunk(reinterpret_cast<const char*>(buffer.data()), *n);
      if (sink) {
        sink(chunk);
      } else {
        collected.append(chunk);
      }
    }
  };
  using namespace asio::experimental::awaitable_operators;
  auto [fed, out, err] = co_await (feed_stdin() && drain(Channel::Stream::out) && drain(Channel::Stream::err));
  for (auto* outcome : {&fed, &out, &err}) {
    if (!*outcome && outcome->error().code != Errc::stream_closed) co_return runtime::fail(std::move(outcome->error()));
  }
  auto closed = co_await channel.wait_closed();
  if (!closed) co_return runtime::fail(std::move(closed.error()));
  if (channel.exit_status()) result.exit_code = static_cast<int>(*channel.exit_status());
  result.signal = channel.exit_signal();
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(runtime::Clock::now() - started);
  co_return result;
}

}  // namespace cr::ssh
