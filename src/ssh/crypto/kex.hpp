#pragma once
// The client's half of one key exchange (RFC 4253 section 8, RFC 5656 section 4, RFC 8731, and
// the post-quantum hybrids mlkem768x25519-sha256 and sntrup761x25519-sha512), and the hash
// functions the transport needs for the exchange hash and key derivation.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"
#include "ssh/crypto/secret.hpp"

namespace cr::ssh::crypto {

enum class KexFamily {
  // curve25519-sha256, ecdh-sha2-nistp*, the hybrids: Q_C / Q_S are SSH strings
  // (KEX_ECDH_INIT/REPLY = 30/31)
  ecdh,
  dh,  // diffie-hellman-group*: e / f are mpints (KEXDH_INIT/REPLY = 30/31)
};

// How K enters the exchange hash and the key derivation.
enum class SecretEncoding {
  mpint,   // RFC 4253: K is an integer
  string,  // the hybrids: K is a digest, kept whole as an SSH string
};

class KeyExchange {
 public:
  virtual ~KeyExchange() = default;
  virtual KexFamily family() const = 0;
  // "SHA-256", "SHA-384" or "SHA-512": the exchange hash and key derivation hash.
  virtual std::string hash_name() const = 0;
  // ecdh: the raw public value for Q_C (32 bytes for curve25519, an uncompressed point for
  // nistp*, the KEM's public key and then the curve25519 one for the hybrids). dh: e as unsigned
  // big-endian bytes without leading zeros (the caller encodes mpint).
  virtual std::vector<std::uint8_t> client_public() const = 0;
  virtual SecretEncoding secret_encoding() const { return SecretEncoding::mpint; }
  // The shared secret K, for the caller to encode as secret_encoding() says: for an mpint, unsigned
  // big-endian bytes without leading zeros. Errors: a server value that is malformed, out of
  // range, or (curve25519, also within the hybrids) yields the all-zero secret. Layer::kex,
  // with the offending value as evidence.
  virtual runtime::Result<SecretBytes> shared_secret(std::span<const std::uint8_t> server_public) = 0;
};

// Names we implement, in our default preference order.
const std::vector<std::string>& supported_kex();

// nullptr for a name we do not implement.
std::unique_ptr<KeyExchange> make_key_exchange(std::string_view name);

// For known-answer tests only: the exchange with a fixed private key instead of a fresh random one
// (curve25519: the 32-byte scalar; ecdh and dh: the private exponent, big-endian; sntrup761x25519:
// the sntrup761 secret key, 1763 bytes, then the curve25519 scalar; mlkem768x25519: the ML-KEM
// seed d || z, 64 bytes, then the curve25519 scalar). nullptr for a name we do not implement or a
// key out of range.
std::unique_ptr<KeyExchange> make_key_exchange_for_test(std::string_view name,
                                                        std::span<const std::uint8_t> private_key);

// `hash_name` is one that KeyExchange::hash_name() returns; any other name is a programming error
// (std::invalid_argument).
std::vector<std::uint8_t> hash(std::string_view hash_name, std::span<const std::uint8_t> data);

}  // namespace cr::ssh::crypto
