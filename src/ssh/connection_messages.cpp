#include "ssh/connection_messages.hpp"

#include "runtime/async_stream.hpp"
#include "ssh/messages.hpp"

namespace cr::ssh {

namespace {

std::string_view text_view(Reader& r) { return runtime::as_text(r.string()); }

std::vector<std::uint8_t> one_string(std::string_view value) {
  Writer w;
  w.string(value);
  return w.take();
}

std::vector<std::uint8_t> recipient_only(std::uint8_t type, std::uint32_t recipient_channel) {
  Writer w;
  w.byte(type);
  w.uint32(recipient_channel);
  return w.take();
}

}  // namespace

std::vector<std::uint8_t> GlobalRequest::encode() const {
  Writer w;
  w.byte(msg::global_request);
  w.string(request_name);
  w.boolean(want_reply);
  w.raw(request_specific_data);
  return w.take();
}

runtime::Result<GlobalRequest> GlobalRequest::parse(ConstBytes payload) {
  Reader r(payload, "GLOBAL_REQUEST");
  r.byte();
  GlobalRequest request;
  request.request_name = text_view(r);
  request.want_reply = r.boolean();
  request.request_specific_data = r.rest();
  return finish_parse(r, request);
}

std::vector<std::uint8_t> RequestFailure::encode() const { return {msg::request_failure}; }

std::vector<std::uint8_t> ChannelOpen::encode() const {
  Writer w;
  w.byte(msg::channel_open);
  w.string(channel_type);
  w.uint32(sender_channel);
  w.uint32(initial_window_size);
  w.uint32(maximum_packet_size);
  w.raw(channel_type_specific_data);
  return w.take();
}

runtime::Result<ChannelOpen> ChannelOpen::parse(ConstBytes payload) {
  Reader r(payload, "CHANNEL_OPEN");
  r.byte();
  ChannelOpen open;
  open.channel_type = text_view(r);
  open.sender_channel = r.uint32();
  open.initial_window_size = r.uint32();
  open.maximum_packet_size = r.uint32();
  open.channel_type_specific_data = r.rest();
  return finish_parse(r, open);
}

std::vector<std::uint8_t> DirectTcpipData::encode() const {
  Writer w;
  w.string(host_to_connect);
  w.uint32(port_to_connect);
  w.string(originator_ip_address);
  w.uint32(originator_port);
  return w.take();
}

runtime::Result<DirectTcpipData> DirectTcpipData::parse(ConstBytes fields, std::string_view channel_type) {
  Reader r(fields, channel_type);
  DirectTcpipData data;
  data.host_to_connect = text_view(r);
  data.port_to_connect = r.uint32();
  data.originator_ip_address = text_view(r);
  data.originator_port = r.uint32();
  return finish_parse(r, data);
}

std::vector<std::uint8_t> TcpipForwardData::encode() const {
  Writer w;
  w.string(address_to_bind);
  w.uint32(port_to_bind);
  return w.take();
}

std::vector<std::uint8_t> DirectStreamlocalData::encode() const {
  Writer w;
  w.string(socket_path);
  w.string("");
  w.uint32(0);
  return w.take();
}

runtime::Result<ForwardedStreamlocalData> ForwardedStreamlocalData::parse(ConstBytes fields) {
  Reader r(fields, "forwarded-streamlocal@openssh.com");
  ForwardedStreamlocalData data;
  data.socket_path = text_view(r);
  text_view(r);  // reserved
  return finish_parse(r, data);
}

std::vector<std::uint8_t> encode_streamlocal_forward(std::string_view socket_path) {
  Writer w;
  w.string(socket_path);
  return w.take();
}

runtime::Result<std::uint32_t> parse_recipient_channel(ConstBytes payload) {
  Reader r(payload, "channel message");
  r.byte();
  const std::uint32_t recipient_channel = r.uint32();
  return finish_parse(r, recipient_channel);
}

std::vector<std::uint8_t> ChannelOpenConfirmation::encode() const {
  Writer w;
  w.byte(msg::channel_open_confirmation);
  w.uint32(recipient_channel);
  w.uint32(sender_channel);
  w.uint32(initial_window_size);
  w.uint32(maximum_packet_size);
  return w.take();
}

runtime::Result<ChannelOpenConfirmation> ChannelOpenConfirmation::parse(ConstBytes payload) {
  Reader r(payload, "CHANNEL_OPEN_CONFIRMATION");
  r.byte();
  ChannelOpenConfirmation confirmation;
  confirmation.recipient_channel = r.uint32();
  confirmation.sender_channel = r.uint32();
  confirmation.initial_window_size = r.uint32();
  confirmation.maximum_packet_size = r.uint32();
  return finish_parse(r, confirmation);
}

std::vector<std::uint8_t> ChannelOpenFailure::encode() const {
  Writer w;
  w.byte(msg::channel_open_failure);
  w.uint32(recipient_channel);
  w.uint32(reason_code);
  w.string(description);
  w.string(language_tag);
  return w.take();
}

runtime::Result<ChannelOpenFailure> ChannelOpenFailure::parse(ConstBytes payload) {
  Reader r(payload, "CHANNEL_OPEN_FAILURE");
  r.byte();
  ChannelOpenFailure failure;
  failure.recipient_channel = r.uint32();
  failure.reason_code = r.uint32();
  failure.description = text_view(r);
  return finish_parse(r, failure);
}

std::vector<std::uint8_t> ChannelWindowAdjust::encode() const {
  Writer w;
  w.byte(msg::channel_window_adjust);
  w.uint32(recipient_channel);
  w.uint32(bytes_to_add);
  return w.take();
}

runtime::Result<ChannelWindowAdjust> ChannelWindowAdjust::parse(ConstBytes payload) {
  Reader r(payload, "CHANNEL_WINDOW_ADJUST");
  r.byte();
  ChannelWindowAdjust adjust;
  adjust.recipient_channel = r.uint32();
  adjust.bytes_to_add = r.uint32();
  return finish_parse(r, adjust);
}

std::vector<std::uint8_t> ChannelData::encode() const {
  Writer w;
  w.byte(msg::channel_data);
  w.uint32(recipient_channel);
  w.string(data);
  return w.take();
}

runtime::Result<ChannelData> ChannelData::parse(ConstBytes payload) {
  Reader r(payload, "CHANNEL_DATA");
  r.byte();
  ChannelData message;
  message.recipient_channel = r.uint32();
  message.data = r.string();
  return finish_parse(r, message);
}

runtime::Result<ChannelExtendedData> ChannelExtendedData::parse(ConstBytes payload) {
  Reader r(payload, "CHANNEL_EXTENDED_DATA");
  r.byte();
  ChannelExtendedData message;
  message.recipient_channel = r.uint32();
  message.data_type_code = r.uint32();
  message.data = r.string();
  return finish_parse(r, message);
}

std::vector<std::uint8_t> ChannelEof::encode() const { return recipient_only(msg::channel_eof, recipient_channel); }

std::vector<std::uint8_t> ChannelClose::encode() const { return recipient_only(msg::channel_close, recipient_channel); }

std::vector<std::uint8_t> ChannelFailure::encode() const {
  return recipient_only(msg::channel_failure, recipient_channel);
}

std::vector<std::uint8_t> ChannelRequest::encode() const {
  Writer w;
  w.byte(msg::channel_request);
  w.uint32(recipient_channel);
  w.string(request_type);
  w.boolean(want_reply);
  w.raw(type_specific_data);
  return w.take();
}

runtime::Result<ChannelRequest> ChannelRequest::parse(ConstBytes payload) {
  Reader r(payload, "CHANNEL_REQUEST");
  r.byte();
  ChannelRequest request;
  request.recipient_channel = r.uint32();
  request.request_type = text_view(r);
  request.want_reply = r.boolean();
  request.type_specific_data = r.rest();
  return finish_parse(r, request);
}

std::vector<std::uint8_t> PtyReqData::encode() const {
  Writer w;
  w.string(term_environment_variable);
  w.uint32(terminal_width_characters);
  w.uint32(terminal_height_rows);
  w.uint32(terminal_width_pixels);
  w.uint32(terminal_height_pixels);
  w.string(encoded_terminal_modes);
  return w.take();
}

std::vector<std::uint8_t> EnvData::encode() const {
  Writer w;
  w.string(variable_name);
  w.string(variable_value);
  return w.take();
}

std::vector<std::uint8_t> ExecData::encode() const { return one_string(command); }

std::vector<std::uint8_t> SubsystemData::encode() const { return one_string(subsystem_name); }

std::vector<std::uint8_t> WindowChangeData::encode() const {
  Writer w;
  w.uint32(terminal_width_columns);
  w.uint32(terminal_height_rows);
  w.uint32(terminal_width_pixels);
  w.uint32(terminal_height_pixels);
  return w.take();
}

std::vector<std::uint8_t> SignalData::encode() const { return one_string(signal_name); }

runtime::Result<std::uint32_t> parse_exit_status(ConstBytes type_specific_data) {
  Reader r(type_specific_data, "exit-status");
  const std::uint32_t exit_status = r.uint32();
  return finish_parse(r, exit_status);
}

runtime::Result<ExitSignal> parse_exit_signal(ConstBytes type_specific_data) {
  Reader r(type_specific_data, "exit-signal");
  ExitSignal signal;
  signal.name = r.text();
  if (r.remaining() > 0) signal.core_dumped = r.boolean();
  if (r.remaining() > 0) signal.message = r.text();
  return finish_parse(r, std::move(signal));
}

}  // namespace cr::ssh
