#pragma once
// The connection protocol's messages on the wire (RFC 4254): a struct a message, its fields named
// as the RFC names them, encoded with the message number first and parsed from a payload that
// starts with it. Parsed strings and data are views into the payload. Parse errors are
// Layer::transport protocol errors naming the message, the field and the offset.

#include <cstdint>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"
#include "ssh/channel.hpp"
#include "ssh/wire.hpp"

namespace cr::ssh {

// SSH_MSG_GLOBAL_REQUEST (RFC 4254 section 4).
struct GlobalRequest {
  std::string_view request_name;
  bool want_reply = false;
  ConstBytes request_specific_data;

  std::vector<std::uint8_t> encode() const;
  static runtime::Result<GlobalRequest> parse(ConstBytes payload);
};

// SSH_MSG_REQUEST_FAILURE (RFC 4254 section 4): the message number alone.
struct RequestFailure {
  std::vector<std::uint8_t> encode() const;
};

// SSH_MSG_CHANNEL_OPEN (RFC 4254 section 5.1).
struct ChannelOpen {
  std::string_view channel_type;
  std::uint32_t sender_channel = 0;
  std::uint32_t initial_window_size = 0;
  std::uint32_t maximum_packet_size = 0;
  ConstBytes channel_type_specific_data;

  std::vector<std::uint8_t> encode() const;
  static runtime::Result<ChannelOpen> parse(ConstBytes payload);
};

// "direct-tcpip"'s channel type specific data (RFC 4254 section 7.2). "forwarded-tcpip"'s has the
// same shape: the address and port that were connected, then the originator's.
struct DirectTcpipData {
  std::string_view host_to_connect;
  std::uint32_t port_to_connect = 0;
  std::string_view originator_ip_address;
  std::uint32_t originator_port = 0;

  std::vector<std::uint8_t> encode() const;  // the fields alone, no message number
  static runtime::Result<DirectTcpipData> parse(ConstBytes fields, std::string_view channel_type);
};

// "tcpip-forward"'s and "cancel-tcpip-forward"'s request specific data (RFC 4254 section 7.1).
struct TcpipForwardData {
  std::string_view address_to_bind;
  std::uint32_t port_to_bind = 0;

  std::vector<std::uint8_t> encode() const;
};

// OpenSSH's Unix socket forwarding (its PROTOCOL file, section 2.4):
// "direct-streamlocal@openssh.com"'s channel data is the socket's path, a reserved string and a
// reserved uint32; "forwarded-streamlocal@openssh.com"'s the path and a reserved string; and the
// "streamlocal-forward@openssh.com" request's the path alone.
struct DirectStreamlocalData {
  std::string_view socket_path;

  std::vector<std::uint8_t> encode() const;
};
struct ForwardedStreamlocalData {
  std::string_view socket_path;

  static runtime::Result<ForwardedStreamlocalData> parse(ConstBytes fields);
};
std::vector<std::uint8_t> encode_streamlocal_forward(std::string_view socket_path);

// Every message from SSH_MSG_CHANNEL_OPEN_CONFIRMATION to SSH_MSG_CHANNEL_FAILURE names the
// recipient channel first.
runtime::Result<std::uint32_t> parse_recipient_channel(ConstBytes payload);

// SSH_MSG_CHANNEL_OPEN_CONFIRMATION (RFC 4254 section 5.1); channel type specific data, none for
// the channels either side opens here, is neither read nor sent.
struct ChannelOpenConfirmation {
  std::uint32_t recipient_channel = 0;
  std::uint32_t sender_channel = 0;
  std::uint32_t initial_window_size = 0;
  std::uint32_t maximum_packet_size = 0;

  std::vector<std::uint8_t> encode() const;
  static runtime::Result<ChannelOpenConfirmation> parse(ConstBytes payload);
};

// SSH_MSG_CHANNEL_OPEN_FAILURE (RFC 4254 section 5.1). A server's language tag is not read: nothing
// uses it, some servers leave it out, and a malformed one must not hide the refusal.
struct ChannelOpenFailure {
  static constexpr std::uint32_t kAdministrativelyProhibited = 1;  // SSH_OPEN_ADMINISTRATIVELY_PROHIBITED

  std::uint32_t recipient_channel = 0;
  std::uint32_t reason_code = 0;
  std::string_view description;
  std::string_view language_tag;  // sent

  std::vector<std::uint8_t> encode() const;
  static runtime::Result<ChannelOpenFailure> parse(ConstBytes payload);
};

// SSH_MSG_CHANNEL_WINDOW_ADJUST (RFC 4254 section 5.2).
struct ChannelWindowAdjust {
  std::uint32_t recipient_channel = 0;
  std::uint32_t bytes_to_add = 0;

  std::vector<std::uint8_t> encode() const;
  static runtime::Result<ChannelWindowAdjust> parse(ConstBytes payload);
};

// SSH_MSG_CHANNEL_DATA (RFC 4254 section 5.2): on every write and read of a channel, so encode
// writes the data once and parse gives a view of it.
struct ChannelData {
  std::uint32_t recipient_channel = 0;
  ConstBytes data;

  std::vector<std::uint8_t> encode() const;
  static runtime::Result<ChannelData> parse(ConstBytes payload);
};

// SSH_MSG_CHANNEL_EXTENDED_DATA (RFC 4254 section 5.2).
struct ChannelExtendedData {
  static constexpr std::uint32_t kStderr = 1;  // SSH_EXTENDED_DATA_STDERR

  std::uint32_t recipient_channel = 0;
  std::uint32_t data_type_code = 0;
  ConstBytes data;

  static runtime::Result<ChannelExtendedData> parse(ConstBytes payload);
};

// SSH_MSG_CHANNEL_EOF and SSH_MSG_CHANNEL_CLOSE (RFC 4254 section 5.3), SSH_MSG_CHANNEL_FAILURE
// (section 5.4): the recipient channel alone.
struct ChannelEof {
  std::uint32_t recipient_channel = 0;
  std::vector<std::uint8_t> encode() const;
};
struct ChannelClose {
  std::uint32_t recipient_channel = 0;
  std::vector<std::uint8_t> encode() const;
};
struct ChannelFailure {
  std::uint32_t recipient_channel = 0;
  std::vector<std::uint8_t> encode() const;
};

// SSH_MSG_CHANNEL_REQUEST (RFC 4254 section 5.4).
struct ChannelRequest {
  std::uint32_t recipient_channel = 0;
  std::string_view request_type;
  bool want_reply = false;
  ConstBytes type_specific_data;

  std::vector<std::uint8_t> encode() const;
  static runtime::Result<ChannelRequest> parse(ConstBytes payload);
};

// The type specific data of the session requests we send (RFC 4254 section 6), without the
// CHANNEL_REQUEST around them.
struct PtyReqData {  // "pty-req", section 6.2
  std::string_view term_environment_variable;
  std::uint32_t terminal_width_characters = 0;
  std::uint32_t terminal_height_rows = 0;
  std::uint32_t terminal_width_pixels = 0;
  std::uint32_t terminal_height_pixels = 0;
  ConstBytes encoded_terminal_modes;

  std::vector<std::uint8_t> encode() const;
};
struct EnvData {  // "env", section 6.4
  std::string_view variable_name;
  std::string_view variable_value;

  std::vector<std::uint8_t> encode() const;
};
struct ExecData {  // "exec", section 6.5
  std::string_view command;

  std::vector<std::uint8_t> encode() const;
};
struct SubsystemData {  // "subsystem", section 6.5
  std::string_view subsystem_name;

  std::vector<std::uint8_t> encode() const;
};
struct WindowChangeData {  // "window-change", section 6.7
  std::uint32_t terminal_width_columns = 0;
  std::uint32_t terminal_height_rows = 0;
  std::uint32_t terminal_width_pixels = 0;
  std::uint32_t terminal_height_pixels = 0;

  std::vector<std::uint8_t> encode() const;
};
struct SignalData {  // "signal", section 6.9: the name without "SIG"
  std::string_view signal_name;

  std::vector<std::uint8_t> encode() const;
};

// "exit-status"'s type specific data (RFC 4254 section 6.10).
runtime::Result<std::uint32_t> parse_exit_status(ConstBytes type_specific_data);

// "exit-signal"'s type specific data (RFC 4254 section 6.10): signal name, core dumped, error
// message (the language tag after it is not read). Some servers stop after the name; what is
// there is kept.
runtime::Result<ExitSignal> parse_exit_signal(ConstBytes type_specific_data);

}  // namespace cr::ssh
