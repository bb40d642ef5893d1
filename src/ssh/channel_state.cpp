#include "ssh/channel_state.hpp"

#include <fmt/format.h>

#include "ssh/messages.hpp"

namespace cr::ssh {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

namespace {

constexpr std::uint32_t kExtendedDataStderr = 1;

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
ChannelReaction take_request(ChannelState& channel, Reader& r) {
  const std::string request = r.text();
  const bool want_reply = r.boolean();
  if (request == "exit-status") {
    const std::uint32_t status = r.uint32();
    if (!r.failed()) channel.exit_status = status;
    return {};
  }
  if (request == "exit-signal") {
    // Name, core dumped, message, language. Some servers stop after the name; what is there is kept.
    ExitSignal signal;
    signal.name = r.text();
    if (r.remaining() > 0) signal.core_dumped = r.boolean();
    if (r.remaining() > 0) signal.message = r.text();
    if (r.remaining() > 0) r.text();
    if (!r.failed()) channel.exit_signal = std::move(signal);
    return {};
  }
  r.rest();
  return ChannelReaction{.send_failure = want_reply};
}

}  // namespace

Error channel_protocol_error(std::string message) {
  return Error(Errc::protocol_error, Layer::channel, std::move(message));
}

Result<ChannelReaction> take_channel_message(ChannelState& channel, std::uint8_t type, Reader& r) {
  switch (type) {
    case msg::channel_open_confirmation: {
      if (channel.confirmed) return runtime::fail(channel_protocol_error("the server confirmed a channel twice"));
      const std::uint32_t remote_id = r.uint32();
      const std::uint32_t window = r.uint32();
      const std::uint32_t max_packet = r.uint32();
      if (r.failed()) return ChannelReaction{};
      if (max_packet == 0) {
        return runtime::fail(channel_protocol_error("the server's maximum packet size for a channel is 0"));
      }
      channel.remote_id = remote_id;
      channel.send = SendWindow(window, max_packet);
      channel.confirmed = true;
      return ChannelReaction{.send_close = channel.abandoned};
    }
    case msg::channel_open_failure: {
      if (channel.confirmed)
        return runtime::fail(channel_protocol_error("the server refused a channel it had confirmed"));
      const std::uint32_t reason = r.uint32();
      const std::string description = r.text();
      if (r.failed()) return ChannelReaction{};
      channel.error = std::move(Error(Errc::refused, Layer::channel,
                                      fmt::format("the server refused the channel: {}", open_failure_reason(reason)))
                                    .with("server said", description));
      return ChannelReaction{.forget = true};
    }
    case msg::channel_window_adjust: {
      const std::uint32_t bytes = r.uint32();
      if (r.failed()) return ChannelReaction{};
      auto grown = channel.send.grow(bytes);
      if (!grown) return runtime::fail(std::move(grown.error()));
      return ChannelReaction{};
    }
    case msg::channel_data:
    case msg::channel_extended_data: {
      const std::uint32_t data_type = type == msg::channel_extended_data ? r.uint32() : 0;
      const auto data = r.string();
      if (r.failed()) return ChannelReaction{};
      auto received = channel.receive.receive(data.size());
      if (!received) return runtime::fail(std::move(received.error()));
      if (type == msg::channel_data) {
        channel.out.append(runtime::as_text(data));
      } else if (data_type == kExtendedDataStderr) {
        channel.err.append(runtime::as_text(data));
      } else {
        // No reader will take it: it counts as read at once, or the window would shrink for good.
        channel.receive.consumed(data.size());
      }
      return ChannelReaction{};
    }
    case msg::channel_eof:
      channel.eof_received = true;
      return ChannelReaction{};
    case msg::channel_close:
      channel.close_received = true;
      return ChannelReaction{.send_close = true, .forget = true};
    case msg::channel_request:
      return take_request(channel, r);
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
