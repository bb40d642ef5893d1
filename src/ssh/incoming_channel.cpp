#include "ssh/incoming_channel.hpp"

#include <fmt/format.h>

#include "ssh/channel_state.hpp"
#include "ssh/connection.hpp"
#include "ssh/connection_messages.hpp"
#include "ssh/packet_stream.hpp"

namespace cr::ssh {

IncomingChannel::IncomingChannel(std::weak_ptr<Connection> connection, const ChannelOpen& open)
    : connection_(std::move(connection)),
      type_(open.channel_type),
      data_(open.channel_type_specific_data.begin(), open.channel_type_specific_data.end()),
      sender_channel_(open.sender_channel),
      initial_window_size_(open.initial_window_size),
      maximum_packet_size_(open.maximum_packet_size) {}

IncomingChannel::IncomingChannel(IncomingChannel&& other) noexcept
    : connection_(std::move(other.connection_)),
      type_(std::move(other.type_)),
      data_(std::move(other.data_)),
      sender_channel_(other.sender_channel_),
      initial_window_size_(other.initial_window_size_),
      maximum_packet_size_(other.maximum_packet_size_),
      answered_(other.answered_) {
  other.answered_ = true;
}

IncomingChannel& IncomingChannel::operator=(IncomingChannel&& other) noexcept {
  if (this == &other) return *this;
  if (!answered_) reject(OpenFailure::administratively_prohibited, "not taken");
  connection_ = std::move(other.connection_);
  type_ = std::move(other.type_);
  data_ = std::move(other.data_);
  sender_channel_ = other.sender_channel_;
  initial_window_size_ = other.initial_window_size_;
  maximum_packet_size_ = other.maximum_packet_size_;
  answered_ = other.answered_;
  other.answered_ = true;
  return *this;
}

IncomingChannel::~IncomingChannel() {
  if (!answered_) reject(OpenFailure::administratively_prohibited, "not taken");
}

asio::awaitable<runtime::Result<std::unique_ptr<Channel>>> IncomingChannel::accept() {
  answered_ = true;
  auto connection = connection_.lock();
  if (!connection) {
    co_return runtime::fail(runtime::Errc::stream_closed, runtime::Layer::channel,
                            fmt::format("the connection ended before a {} channel was accepted", type_));
  }
  if (connection->failure()) co_return runtime::fail(*connection->failure());
  auto state = connection->new_channel();
  state->remote_id = sender_channel_;
  state->send = SendWindow(initial_window_size_, maximum_packet_size_);
  state->confirmed = true;
  // The Channel closes it, however this ends: once made, the server may already be using it.
  auto channel = std::make_unique<Channel>(connection, state);
  const auto confirmation = ChannelOpenConfirmation{sender_channel_, state->local_id, connection->options_.window_size,
                                                    connection->options_.max_packet}
                                .encode();
  auto sent = co_await connection->send(confirmation);
  if (!sent) {
    // Cancelled before it left: refused instead, and no CLOSE for a channel the server never saw open.
    if (!sent_despite_cancellation(sent.error())) {
      state->close_sent = true;
      connection->forget(state->local_id);
      connection->queue(ChannelOpenFailure{sender_channel_, static_cast<std::uint32_t>(OpenFailure::resource_shortage),
                                           "cancelled", ""}
                            .encode());
    }
    co_return runtime::fail(std::move(sent.error()));
  }
  co_return channel;
}

void IncomingChannel::reject(OpenFailure reason, std::string_view description) {
  answered_ = true;
  if (auto connection = connection_.lock()) {
    const auto code = static_cast<std::uint32_t>(reason);
    connection->queue(ChannelOpenFailure{sender_channel_, code, description, ""}.encode());
  }
}

}  // namespace cr::ssh
