#include "ssh/channel_state.hpp"

#include <fmt/format.h>

#include "ssh/connection_messages.hpp"
#include "ssh/messages.hpp"

namespace cr::ssh {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

namespace {

std::string_view open_failure_reason(std::uint32_t code) {
  switch (code) {
    case 1:
      return "administratively prohibited";
    case 2:
      return "connect failed";
    case 3:
      return "unknown channel type";
    case 4:
      return "resource shortage";
  }
  return "unknown reason";
}

// RFC 4254 section 6.10's exit-status and exit-signal; any other request is answered with
// CHANNEL_FAILURE when it wants a reply (keepalive@openssh.com among them).
Result<ChannelReaction> take_request(ChannelState& channel, const ChannelRequest& request) {
  if (request.request_type == "exit-status") {
    auto status = parse_exit_status(request.type_specific_data);
    if (!status) return runtime::fail(std::move(status.error()));
    channel.exit_status = *status;
    return ChannelReaction{};
  }
  if (request.request_type == "exit-signal") {
    auto signal = parse_exit_signal(request.type_specific_data);
    if (!signal) return runtime::fail(std::move(signal.error()));
    channel.exit_signal = std::move(*signal);
    return ChannelReaction{};
  }
  return ChannelReaction{.send_failure = request.want_reply};
}

// Data counts against our window whether or not anyone reads it: with no `reader` it counts as
// read at once, or the window would shrink for good.
Result<ChannelReaction> take_data(ChannelState& channel, ConstBytes data, ByteQueue* reader) {
  auto received = channel.receive.receive(data.size());
  if (!received) return runtime::fail(std::move(received.error()));
  if (reader) {
    reader->append(runtime::as_text(data));
  } else {
    channel.receive.consumed(data.size());
  }
  return ChannelReaction{};
}

}  // namespace

Error channel_protocol_error(std::string message) {
  return Error(Errc::protocol_error, Layer::channel, std::move(message));
}

Result<ChannelReaction> take_channel_message(ChannelState& channel, ConstBytes payload) {
  const std::uint8_t type = payload.empty() ? 0 : payload[0];
  switch (type) {
    case msg::channel_open_confirmation: {
      if (channel.confirmed) return runtime::fail(channel_protocol_error("the server confirmed a channel twice"));
      auto confirmation = ChannelOpenConfirmation::parse(payload);
      if (!confirmation) return runtime::fail(std::move(confirmation.error()));
      if (confirmation->maximum_packet_size == 0) {
        return runtime::fail(channel_protocol_error("the server's maximum packet size for a channel is 0"));
      }
      channel.remote_id = confirmation->sender_channel;
      channel.send = SendWindow(confirmation->initial_window_size, confirmation->maximum_packet_size);
      channel.confirmed = true;
      return ChannelReaction{.send_close = channel.abandoned};
    }
    case msg::channel_open_failure: {
      if (channel.confirmed)
        return runtime::fail(channel_protocol_error("the server refused a channel it had confirmed"));
      auto failure = ChannelOpenFailure::parse(payload);
      if (!failure) return runtime::fail(std::move(failure.error()));
      channel.error =
          std::move(Error(Errc::refused, Layer::channel,
                          fmt::format("the server refused the channel: {}", open_failure_reason(failure->reason_code)))
                        .with("server said", std::string(failure->description)));
      return ChannelReaction{.forget = true};
    }
    case msg::channel_window_adjust: {
      auto adjust = ChannelWindowAdjust::parse(payload);
      if (!adjust) return runtime::fail(std::move(adjust.error()));
      auto grown = channel.send.grow(adjust->bytes_to_add);
      if (!grown) return runtime::fail(std::move(grown.error()));
      return ChannelReaction{};
    }
    case msg::channel_data: {
      auto message = ChannelData::parse(payload);
      if (!message) return runtime::fail(std::move(message.error()));
      return take_data(channel, message->data, &channel.out);
    }
    case msg::channel_extended_data: {
      auto message = ChannelExtendedData::parse(payload);
      if (!message) return runtime::fail(std::move(message.error()));
      const bool stderr_data = message->data_type_code == ChannelExtendedData::kStderr;
      return take_data(channel, message->data, stderr_data ? &channel.err : nullptr);
    }
    case msg::channel_eof:
      channel.eof_received = true;
      return ChannelReaction{};
    case msg::channel_close:
      channel.close_received = true;
      return ChannelReaction{.send_close = true, .forget = true};
    case msg::channel_request: {
      auto request = ChannelRequest::parse(payload);
      if (!request) return runtime::fail(std::move(request.error()));
      return take_request(channel, *request);
    }
    case msg::channel_success:
    case msg::channel_failure:
      if (channel.replies.size() >= channel.requests_sent) {
        return runtime::fail(channel_protocol_error("the server answered a channel request that was not made"));
      }
      channel.replies.push_back(type == msg::channel_success);
      return ChannelReaction{};
  }
  return runtime::fail(std::move(
      channel_protocol_error("unexpected message for a channel").with("message number", std::to_string(type))));
}

}  // namespace cr::ssh
