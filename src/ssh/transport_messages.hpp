#pragma once
// The transport layer's messages on the wire (RFC 4253, with RFC 5656's ECDH key exchange and
// RFC 8308's EXT_INFO): a struct a message, its fields named as the RFCs name them, encoded with
// the message number first and parsed from a payload that starts with it. Parse errors are
// Layer::transport protocol errors naming the message, the field and the offset.
//
// Internal to src/ssh: the installed headers only forward-declare KexInit.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/error.hpp"
#include "ssh/algorithms.hpp"
#include "ssh/crypto/kex.hpp"
#include "ssh/wire.hpp"

namespace cr::ssh {

// SSH_MSG_KEXINIT (RFC 4253 section 7.1): the 10 name-lists in wire order.
struct KexInit {
  std::array<std::uint8_t, 16> cookie{};
  NameList kex;
  NameList host_key;
  NameList ciphers_client_to_server;
  NameList ciphers_server_to_client;
  NameList macs_client_to_server;
  NameList macs_server_to_client;
  NameList compression_client_to_server;
  NameList compression_server_to_client;
  NameList languages_client_to_server;
  NameList languages_server_to_client;
  bool first_kex_packet_follows = false;

  std::vector<std::uint8_t> encode() const;
  static runtime::Result<KexInit> parse(ConstBytes payload);
};

// Per category, the first of the client's names the server also lists (RFC 4253 section 7.1). A
// Layer::kex error on failure, naming the category, what we offered and what the server offered.
runtime::Result<Negotiated> negotiate(const KexInit& client, const KexInit& server);

// SSH_MSG_KEX_ECDH_INIT (RFC 5656 section 4) and SSH_MSG_KEXDH_INIT (RFC 4253 section 8) share a
// number: the client's ephemeral public key, Q_C as a string or e as an mpint.
struct KexEcdhInit {
  crypto::KexFamily family = crypto::KexFamily::ecdh;
  ConstBytes client_public;  // ecdh: Q_C; dh: e, the mpint's magnitude

  std::vector<std::uint8_t> encode() const;
};

// SSH_MSG_KEX_ECDH_REPLY (RFC 5656 section 4) and SSH_MSG_KEXDH_REPLY (RFC 4253 section 8): the
// server's host key K_S, its half of the exchange (Q_S, or f) and its signature over the exchange
// hash. Views into the payload parsed.
struct KexReply {
  ConstBytes host_key_blob;  // K_S
  ConstBytes server_public;  // ecdh: Q_S; dh: f, the mpint's magnitude
  ConstBytes signature;
};

// A function of its own so the fuzzer reaches it without a handshake.
runtime::Result<KexReply> parse_kex_reply(ConstBytes payload, crypto::KexFamily family);

// SSH_MSG_NEWKEYS (RFC 4253 section 7.3): the message number alone.
struct NewKeys {
  std::vector<std::uint8_t> encode() const;
};

// SSH_MSG_DISCONNECT (RFC 4253 section 11.1). A server's language tag is not read: nothing uses
// it, some servers leave it out, and a malformed one must not hide the reason and description.
struct Disconnect {
  std::uint32_t reason_code = 0;
  std::string description;
  std::string language_tag;  // sent

  std::vector<std::uint8_t> encode() const;
  static runtime::Result<Disconnect> parse(ConstBytes payload);
};

// SSH_MSG_DEBUG (RFC 4253 section 11.3), up to the message: the language tag is not read.
struct Debug {
  bool always_display = false;
  std::string message;

  static runtime::Result<Debug> parse(ConstBytes payload);
};

// SSH_MSG_UNIMPLEMENTED (RFC 4253 section 11.4): the sequence number of the packet rejected.
struct Unimplemented {
  std::uint32_t packet_sequence_number = 0;

  static runtime::Result<Unimplemented> parse(ConstBytes payload);
};

// SSH_MSG_EXT_INFO (RFC 8308 section 2.3).
struct ExtInfo {
  struct Extension {
    std::string extension_name;
    std::string extension_value;
  };
  std::vector<Extension> extensions;

  static runtime::Result<ExtInfo> parse(ConstBytes payload);
};

// SSH_MSG_SERVICE_REQUEST (RFC 4253 section 10).
struct ServiceRequest {
  std::string_view service_name;

  std::vector<std::uint8_t> encode() const;
};

}  // namespace cr::ssh
