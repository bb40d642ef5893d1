// The authentication protocol's messages on the wire (RFC 4252, RFC 4256): each request we send
// encodes as the RFCs lay it out, the publickey signature covers the request it goes with, what the
// server sends parses back, and a message cut short is an error naming the message.

#include <catch2/catch.hpp>

#include "ssh/auth_messages.hpp"
#include "ssh/messages.hpp"
#include "ssh/wire.hpp"
#include "support/kat.hpp"

using namespace cr;
using test::from_fields_hex;

namespace {

// "user", "ssh-connection": the head every request below starts with, before its method name.
const std::string kHead = "32 00000004 75736572 0000000e 7373682d636f6e6e656374696f6e";

}  // namespace

TEST_CASE("auth messages: none, password and keyboard-interactive requests", "[messages]") {
  CHECK(ssh::UserauthRequestNone{"user", "ssh-connection"}.encode() == from_fields_hex(kHead + " 00000004 6e6f6e65"));
  CHECK(ssh::UserauthRequestPassword{"user", "ssh-connection", "pw"}.encode() ==
        from_fields_hex(kHead + " 00000008 70617373776f7264 00 00000002 7077"));
  CHECK(ssh::UserauthRequestKeyboardInteractive{"user", "ssh-connection", "", "pam"}.encode() ==
        from_fields_hex(kHead + " 00000014 6b6579626f6172642d696e746572616374697665 00000000 00000003 70616d"));
}

TEST_CASE("auth messages: the publickey signature covers the session identifier and the request before it",
          "[messages]") {
  const auto blob = from_fields_hex("0a0b");
  const auto signature = from_fields_hex("0c0d0e");
  const ssh::UserauthRequestPublickey request{"user", "ssh-connection", "ssh-ed25519", blob, signature};
  const std::string up_to_signature =
      kHead + " 00000009 7075626c69636b6579 01 0000000b 7373682d65643235353139 00000002 0a0b";
  CHECK(request.encode() == from_fields_hex(up_to_signature + " 00000003 0c0d0e"));
  CHECK(request.signed_data(from_fields_hex("aabb")) == from_fields_hex("00000002 aabb " + up_to_signature));
}

TEST_CASE("auth messages: FAILURE and BANNER parse, with or without the banner's language tag", "[messages]") {
  ssh::Writer failure;
  failure.byte(ssh::msg::userauth_failure);
  failure.name_list({"publickey", "password"});
  failure.boolean(true);
  auto parsed = ssh::UserauthFailure::parse(failure.bytes());
  REQUIRE(parsed);
  CHECK(parsed->authentications_that_can_continue == std::vector<std::string>{"publickey", "password"});
  CHECK(parsed->partial_success);
  auto short_failure = ssh::UserauthFailure::parse(from_fields_hex("33 00000001 61"));
  REQUIRE_FALSE(short_failure);
  CHECK(short_failure.error().message ==
        "malformed USERAUTH_FAILURE: a byte of 1 bytes at offset 6 runs past the end (6 bytes)");

  auto banner = ssh::UserauthBanner::parse(from_fields_hex("35 00000002 6869 00000002 656e"));
  REQUIRE(banner);
  CHECK(banner->message == "hi");
  auto broken_tag = ssh::UserauthBanner::parse(from_fields_hex("35 00000002 6869 0000ff"));
  REQUIRE(broken_tag);
  CHECK(broken_tag->message == "hi");
  auto untagged = ssh::UserauthBanner::parse(from_fields_hex("35 00000002 6869"));
  REQUIRE(untagged);
  CHECK(untagged->message == "hi");
  CHECK_FALSE(ssh::UserauthBanner::parse(from_fields_hex("35 00000005 6869")));
}

TEST_CASE("auth messages: INFO_REQUEST's prompts parse, and INFO_RESPONSE answers them in order", "[messages]") {
  ssh::Writer w;
  w.byte(ssh::msg::userauth_info_request);
  w.string("name");
  w.string("instruction");
  w.string("");
  w.uint32(2);
  w.string("Password: ");
  w.boolean(false);
  w.string("Code: ");
  w.boolean(true);
  auto request = ssh::UserauthInfoRequest::parse(w.bytes());
  REQUIRE(request);
  CHECK(request->name == "name");
  CHECK(request->instruction == "instruction");
  REQUIRE(request->prompts.size() == 2);
  CHECK(request->prompts[0].text == "Password: ");
  CHECK_FALSE(request->prompts[0].echo);
  CHECK(request->prompts[1].text == "Code: ");
  CHECK(request->prompts[1].echo);

  auto cut = w.take();
  cut.pop_back();
  auto short_request = ssh::UserauthInfoRequest::parse(cut);
  REQUIRE_FALSE(short_request);
  CHECK_THAT(short_request.error().message, Catch::StartsWith("malformed USERAUTH_INFO_REQUEST: a byte"));

  const std::vector<std::string> responses{"secret", ""};
  CHECK(ssh::UserauthInfoResponse{responses}.encode() == from_fields_hex("3d 00000002 00000006 736563726574 00000000"));
}
