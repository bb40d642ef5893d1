#pragma once
// The authentication protocol's messages on the wire (RFC 4252, and RFC 4256's
// keyboard-interactive): a struct a message, its fields named as the RFCs name them, encoded with
// the message number first and parsed from a payload that starts with it. Parse errors are
// Layer::transport protocol errors naming the message, the field and the offset.
//
// Every SSH_MSG_USERAUTH_REQUEST (RFC 4252 section 5) starts with the user name, the service
// name and the method name; a struct a method we send holds the rest. Fields are views: the
// caller owns the password or signature, and wipes what encode returns once sent.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"
#include "ssh/client_auth.hpp"
#include "ssh/wire.hpp"

namespace cr::ssh {

// "none" (RFC 4252 section 5.2): asks which methods can continue, or succeeds outright.
struct UserauthRequestNone {
  std::string_view user_name;
  std::string_view service_name;

  std::vector<std::uint8_t> encode() const;
};

// "password" (RFC 4252 section 8), not a password change.
struct UserauthRequestPassword {
  std::string_view user_name;
  std::string_view service_name;
  std::string_view password;

  std::vector<std::uint8_t> encode() const;
};

// "publickey" with a signature (RFC 4252 section 7).
struct UserauthRequestPublickey {
  std::string_view user_name;
  std::string_view service_name;
  std::string_view public_key_algorithm_name;
  ConstBytes public_key_blob;
  ConstBytes signature;  // over signed_data()

  std::vector<std::uint8_t> encode() const;
  // What the signature covers: the session identifier, then this request up to the signature.
  std::vector<std::uint8_t> signed_data(ConstBytes session_identifier) const;
};

// "keyboard-interactive" (RFC 4256 section 3.1).
struct UserauthRequestKeyboardInteractive {
  std::string_view user_name;
  std::string_view service_name;
  std::string_view language_tag;
  std::string_view submethods;

  std::vector<std::uint8_t> encode() const;
};

// SSH_MSG_USERAUTH_FAILURE (RFC 4252 section 5.1).
struct UserauthFailure {
  std::vector<std::string> authentications_that_can_continue;
  bool partial_success = false;

  static runtime::Result<UserauthFailure> parse(ConstBytes payload);
};

// SSH_MSG_USERAUTH_BANNER (RFC 4252 section 5.4), up to the message: the language tag that may
// follow is not read (some servers leave it out).
struct UserauthBanner {
  std::string message;

  static runtime::Result<UserauthBanner> parse(ConstBytes payload);
};

// SSH_MSG_USERAUTH_INFO_REQUEST (RFC 4256 section 3.2).
struct UserauthInfoRequest {
  std::string name;
  std::string instruction;
  std::string language_tag;
  std::vector<Prompt> prompts;  // prompt and echo, num-prompts of them

  static runtime::Result<UserauthInfoRequest> parse(ConstBytes payload);
};

// SSH_MSG_USERAUTH_INFO_RESPONSE (RFC 4256 section 3.4): one response a prompt, in their order.
struct UserauthInfoResponse {
  std::span<const std::string> responses;

  std::vector<std::uint8_t> encode() const;
};

}  // namespace cr::ssh
