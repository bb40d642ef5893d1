// The transport layer's messages on the wire (RFC 4253, RFC 5656, RFC 8308): what we send encodes
// as the RFCs lay it out, what the server sends parses back field by field, and a message cut
// short is an error naming the message.

#include <catch2/catch.hpp>

#include "ssh/messages.hpp"
#include "ssh/transport_messages.hpp"
#include "ssh/wire.hpp"
#include "support/kat.hpp"

using namespace cr;
using test::from_fields_hex;

namespace {

std::vector<std::uint8_t> copy(ssh::ConstBytes view) { return {view.begin(), view.end()}; }

std::vector<std::uint8_t> cut(std::vector<std::uint8_t> payload, std::size_t size) {
  payload.resize(size);
  return payload;
}

}  // namespace

TEST_CASE("transport messages: KEX_ECDH_INIT carries Q_C as a string, KEXDH_INIT e as an mpint", "[messages]") {
  const auto key = from_fields_hex("80aa");
  CHECK(ssh::KexEcdhInit{ssh::crypto::KexFamily::ecdh, key}.encode() == from_fields_hex("1e 00000002 80aa"));
  CHECK(ssh::KexEcdhInit{ssh::crypto::KexFamily::dh, key}.encode() == from_fields_hex("1e 00000003 0080aa"));
}

TEST_CASE("transport messages: the kex reply is read as K_S, Q_S or f, and the signature", "[messages]") {
  const auto ecdh = from_fields_hex("1f 00000002 0102 00000001 03 00000003 040506");
  auto reply = ssh::parse_kex_reply(ecdh, ssh::crypto::KexFamily::ecdh);
  REQUIRE(reply);
  CHECK(copy(reply->host_key_blob) == from_fields_hex("0102"));
  CHECK(copy(reply->server_public) == from_fields_hex("03"));
  CHECK(copy(reply->signature) == from_fields_hex("040506"));

  const auto dh = from_fields_hex("1f 00000001 01 00000002 0080 00000001 02");
  auto dh_reply = ssh::parse_kex_reply(dh, ssh::crypto::KexFamily::dh);
  REQUIRE(dh_reply);
  CHECK(copy(dh_reply->server_public) == from_fields_hex("80"));

  auto trailing = ecdh;
  trailing.push_back(0);
  auto extra = ssh::parse_kex_reply(trailing, ssh::crypto::KexFamily::ecdh);
  REQUIRE_FALSE(extra);
  CHECK(extra.error().message == "malformed key exchange reply: 1 unexpected bytes at the end");
  auto short_reply = ssh::parse_kex_reply(cut(ecdh, 17), ssh::crypto::KexFamily::ecdh);
  REQUIRE_FALSE(short_reply);
  CHECK(short_reply.error().layer == runtime::Layer::transport);
  CHECK_THAT(short_reply.error().message,
             Catch::StartsWith("malformed key exchange reply: a string of 3 bytes at offset 16"));
}

TEST_CASE("transport messages: NEWKEYS is its number alone", "[messages]") {
  CHECK(ssh::NewKeys{}.encode() == std::vector<std::uint8_t>{ssh::msg::newkeys});
}

TEST_CASE("transport messages: DISCONNECT survives encode and parse, whatever follows its description", "[messages]") {
  const auto encoded = ssh::Disconnect{11, "bye", "en"}.encode();
  CHECK(encoded == from_fields_hex("01 0000000b 00000003 627965 00000002 656e"));
  auto parsed = ssh::Disconnect::parse(encoded);
  REQUIRE(parsed);
  CHECK(parsed->reason_code == 11);
  CHECK(parsed->description == "bye");

  auto untagged = ssh::Disconnect::parse(from_fields_hex("01 00000002 00000001 78"));
  REQUIRE(untagged);
  CHECK(untagged->reason_code == 2);
  CHECK(untagged->description == "x");
  // A broken language tag does not hide the reason and the description.
  auto broken_tag = ssh::Disconnect::parse(from_fields_hex("01 00000002 00000001 78 0000ff"));
  REQUIRE(broken_tag);
  CHECK(broken_tag->reason_code == 2);
  CHECK(broken_tag->description == "x");

  auto short_message = ssh::Disconnect::parse(from_fields_hex("01 000000"));
  REQUIRE_FALSE(short_message);
  CHECK(short_message.error().code == runtime::Errc::protocol_error);
  CHECK(short_message.error().message ==
        "malformed DISCONNECT: a uint32 of 4 bytes at offset 1 runs past the end (4 bytes)");
}

TEST_CASE("transport messages: DEBUG and UNIMPLEMENTED parse, and cut short are errors", "[messages]") {
  auto debug = ssh::Debug::parse(from_fields_hex("04 01 00000002 6869 00000000"));
  REQUIRE(debug);
  CHECK(debug->always_display);
  CHECK(debug->message == "hi");
  CHECK_FALSE(ssh::Debug::parse(from_fields_hex("04 00 00000009 6869")));

  auto unimplemented = ssh::Unimplemented::parse(from_fields_hex("03 00000107"));
  REQUIRE(unimplemented);
  CHECK(unimplemented->packet_sequence_number == 263);
  auto short_unimplemented = ssh::Unimplemented::parse(from_fields_hex("03 0001"));
  REQUIRE_FALSE(short_unimplemented);
  CHECK_THAT(short_unimplemented.error().message, Catch::StartsWith("malformed UNIMPLEMENTED"));
}

TEST_CASE("transport messages: EXT_INFO lists its extensions in order, and a count past the end is an error",
          "[messages]") {
  ssh::Writer w;
  w.byte(ssh::msg::ext_info);
  w.uint32(2);
  w.string("server-sig-algs");
  w.string("ssh-ed25519,rsa-sha2-512");
  w.string("ping@openssh.com");
  w.string("0");
  auto info = ssh::ExtInfo::parse(w.bytes());
  REQUIRE(info);
  REQUIRE(info->extensions.size() == 2);
  CHECK(info->extensions[0].extension_name == "server-sig-algs");
  CHECK(info->extensions[0].extension_value == "ssh-ed25519,rsa-sha2-512");
  CHECK(info->extensions[1].extension_name == "ping@openssh.com");

  auto too_many = ssh::ExtInfo::parse(from_fields_hex("07 ffffffff 00000001 61 00000001 62"));
  REQUIRE_FALSE(too_many);
  CHECK_THAT(too_many.error().message, Catch::StartsWith("malformed EXT_INFO: a uint32 of 4 bytes at offset 15"));
}

TEST_CASE("transport messages: SERVICE_REQUEST names its service", "[messages]") {
  CHECK(ssh::ServiceRequest{"ssh-userauth"}.encode() == from_fields_hex("05 0000000c 7373682d7573657261757468"));
}
