// The connection protocol's messages on the wire (RFC 4254): what we send encodes as the RFC lays
// it out, what the server sends parses back field by field (data as a view, not a copy), and a
// message cut short is an error naming the message.

#include <catch2/catch.hpp>

#include "ssh/connection_messages.hpp"
#include "ssh/messages.hpp"
#include "ssh/wire.hpp"
#include "support/kat.hpp"

using namespace cr;
using test::from_fields_hex;

namespace {

std::vector<std::uint8_t> copy(ssh::ConstBytes view) { return {view.begin(), view.end()}; }

}  // namespace

TEST_CASE("connection messages: GLOBAL_REQUEST survives encode and parse, REQUEST_FAILURE is its number",
          "[messages]") {
  const auto data = from_fields_hex("0102");
  const auto encoded = ssh::GlobalRequest{"keepalive@openssh.com", true, data}.encode();
  auto parsed = ssh::GlobalRequest::parse(encoded);
  REQUIRE(parsed);
  CHECK(parsed->request_name == "keepalive@openssh.com");
  CHECK(parsed->want_reply);
  CHECK(copy(parsed->request_specific_data) == data);
  CHECK_FALSE(ssh::GlobalRequest::parse(from_fields_hex("50 00000009 6869")));
  CHECK(ssh::RequestFailure{}.encode() == std::vector<std::uint8_t>{ssh::msg::request_failure});
}

TEST_CASE("connection messages: CHANNEL_OPEN with direct-tcpip's fields survives encode and parse", "[messages]") {
  const auto fields = ssh::DirectTcpipData{"db", 5432, "127.0.0.1", 0}.encode();
  CHECK(fields == from_fields_hex("00000002 6462 00001538 00000009 3132372e302e302e31 00000000"));
  const auto encoded = ssh::ChannelOpen{"direct-tcpip", 3, 0x200000, 0x8000, fields}.encode();
  auto expected = from_fields_hex("5a 0000000c 6469726563742d7463706970 00000003 00200000 00008000");
  expected.insert(expected.end(), fields.begin(), fields.end());
  CHECK(encoded == expected);
  auto parsed = ssh::ChannelOpen::parse(encoded);
  REQUIRE(parsed);
  CHECK(parsed->channel_type == "direct-tcpip");
  CHECK(parsed->sender_channel == 3);
  CHECK(parsed->initial_window_size == 0x200000);
  CHECK(parsed->maximum_packet_size == 0x8000);
  CHECK(copy(parsed->channel_type_specific_data) == fields);
  auto short_open = ssh::ChannelOpen::parse(from_fields_hex("5a 00000001 78 00000003"));
  REQUIRE_FALSE(short_open);
  CHECK(short_open.error().code == runtime::Errc::protocol_error);
  CHECK(short_open.error().message ==
        "malformed CHANNEL_OPEN: a uint32 of 4 bytes at offset 10 runs past the end (10 bytes)");
}

TEST_CASE("connection messages: the open's answers parse, OPEN_FAILURE whatever follows its description",
          "[messages]") {
  auto confirmation = ssh::ChannelOpenConfirmation::parse(from_fields_hex("5b 00000001 00000007 00010000 00008000"));
  REQUIRE(confirmation);
  CHECK(confirmation->recipient_channel == 1);
  CHECK(confirmation->sender_channel == 7);
  CHECK(confirmation->initial_window_size == 0x10000);
  CHECK(confirmation->maximum_packet_size == 0x8000);
  CHECK_FALSE(ssh::ChannelOpenConfirmation::parse(from_fields_hex("5b 00000001 00000007 00010000")));

  const auto refusal = ssh::ChannelOpenFailure{4, 1, "no", ""}.encode();
  CHECK(refusal == from_fields_hex("5c 00000004 00000001 00000002 6e6f 00000000"));
  auto parsed = ssh::ChannelOpenFailure::parse(refusal);
  REQUIRE(parsed);
  CHECK(parsed->recipient_channel == 4);
  CHECK(parsed->reason_code == 1);
  CHECK(parsed->description == "no");
  auto untagged = ssh::ChannelOpenFailure::parse(from_fields_hex("5c 00000004 00000002 00000002 6e6f"));
  REQUIRE(untagged);
  CHECK(untagged->reason_code == 2);
  const auto broken_tag_bytes = from_fields_hex("5c 00000004 00000002 00000002 6e6f 0000ff");
  auto broken_tag = ssh::ChannelOpenFailure::parse(broken_tag_bytes);
  REQUIRE(broken_tag);
  CHECK(broken_tag->description == "no");
  auto short_refusal = ssh::ChannelOpenFailure::parse(from_fields_hex("5c 00000004 00000002 00000009 6e6f"));
  REQUIRE_FALSE(short_refusal);
  CHECK_THAT(short_refusal.error().message, Catch::StartsWith("malformed CHANNEL_OPEN_FAILURE: a string"));
}

TEST_CASE("connection messages: WINDOW_ADJUST, DATA and EXTENDED_DATA survive encode and parse", "[messages]") {
  const auto adjust = ssh::ChannelWindowAdjust{2, 0x8000}.encode();
  CHECK(adjust == from_fields_hex("5d 00000002 00008000"));
  auto parsed_adjust = ssh::ChannelWindowAdjust::parse(adjust);
  REQUIRE(parsed_adjust);
  CHECK(parsed_adjust->recipient_channel == 2);
  CHECK(parsed_adjust->bytes_to_add == 0x8000);
  CHECK_FALSE(ssh::ChannelWindowAdjust::parse(from_fields_hex("5d 00000002 0000")));

  const auto payload = from_fields_hex("616263");
  const auto data = ssh::ChannelData{9, payload}.encode();
  CHECK(data == from_fields_hex("5e 00000009 00000003 616263"));
  auto parsed_data = ssh::ChannelData::parse(data);
  REQUIRE(parsed_data);
  CHECK(parsed_data->recipient_channel == 9);
  CHECK(parsed_data->data.data() == data.data() + 9);  // a view into the payload
  CHECK(copy(parsed_data->data) == payload);
  auto short_data = ssh::ChannelData::parse(from_fields_hex("5e 00000009 00000004 616263"));
  REQUIRE_FALSE(short_data);
  CHECK(short_data.error().message ==
        "malformed CHANNEL_DATA: a string of 4 bytes at offset 9 runs past the end (12 bytes)");

  const auto stderr_data = from_fields_hex("5f 00000009 00000001 00000002 6f6b");
  auto extended = ssh::ChannelExtendedData::parse(stderr_data);
  REQUIRE(extended);
  CHECK(extended->data_type_code == ssh::ChannelExtendedData::kStderr);
  CHECK(copy(extended->data) == from_fields_hex("6f6b"));
  CHECK_FALSE(ssh::ChannelExtendedData::parse(from_fields_hex("5f 00000009 00000001")));
}

TEST_CASE("connection messages: EOF, CLOSE and FAILURE name only their channel", "[messages]") {
  CHECK(ssh::ChannelEof{5}.encode() == from_fields_hex("60 00000005"));
  CHECK(ssh::ChannelClose{5}.encode() == from_fields_hex("61 00000005"));
  CHECK(ssh::ChannelFailure{5}.encode() == from_fields_hex("64 00000005"));
  auto recipient = ssh::parse_recipient_channel(from_fields_hex("61 00000005"));
  REQUIRE(recipient);
  CHECK(*recipient == 5);
  CHECK_FALSE(ssh::parse_recipient_channel(from_fields_hex("61 0000")));
}

TEST_CASE("connection messages: CHANNEL_REQUEST survives encode and parse, with exit-status and exit-signal",
          "[messages]") {
  const auto command = from_fields_hex("00000004 65786563");
  const auto encoded = ssh::ChannelRequest{3, "exec", true, command}.encode();
  CHECK(encoded == from_fields_hex("62 00000003 00000004 65786563 01 00000004 65786563"));
  auto parsed = ssh::ChannelRequest::parse(encoded);
  REQUIRE(parsed);
  CHECK(parsed->recipient_channel == 3);
  CHECK(parsed->request_type == "exec");
  CHECK(parsed->want_reply);
  CHECK(copy(parsed->type_specific_data) == command);
  CHECK_FALSE(ssh::ChannelRequest::parse(from_fields_hex("62 00000003 00000004 6578")));

  auto status = ssh::parse_exit_status(from_fields_hex("0000002a"));
  REQUIRE(status);
  CHECK(*status == 42);
  auto short_status = ssh::parse_exit_status(from_fields_hex("0000"));
  REQUIRE_FALSE(short_status);
  CHECK_THAT(short_status.error().message, Catch::StartsWith("malformed exit-status"));

  auto signal = ssh::parse_exit_signal(from_fields_hex("00000004 5445524d 01 00000002 6f6f 00000000"));
  REQUIRE(signal);
  CHECK(*signal == ssh::ExitSignal{"TERM", true, "oo"});
  auto name_only = ssh::parse_exit_signal(from_fields_hex("00000004 5445524d"));
  REQUIRE(name_only);
  CHECK(*name_only == ssh::ExitSignal{"TERM", false, ""});
  CHECK_FALSE(ssh::parse_exit_signal(from_fields_hex("00000004 5445")));
}

TEST_CASE("connection messages: the session requests' type specific data", "[messages]") {
  const auto modes = from_fields_hex("00");
  CHECK(ssh::PtyReqData{"xterm", 80, 24, 0, 0, modes}.encode() ==
        from_fields_hex("00000005 787465726d 00000050 00000018 00000000 00000000 00000001 00"));
  CHECK(ssh::EnvData{"LANG", "C"}.encode() == from_fields_hex("00000004 4c414e47 00000001 43"));
  CHECK(ssh::ExecData{"ls"}.encode() == from_fields_hex("00000002 6c73"));
  CHECK(ssh::SubsystemData{"sftp"}.encode() == from_fields_hex("00000004 73667470"));
  CHECK(ssh::WindowChangeData{132, 43, 0, 0}.encode() == from_fields_hex("00000084 0000002b 00000000 00000000"));
  CHECK(ssh::SignalData{"INT"}.encode() == from_fields_hex("00000003 494e54"));
}
