#pragma once
// Internal to src/ssh/crypto/: RSASSA-PKCS1-v1_5 signature verification (RFC 8017 section 8.2.2)
// on the integers themselves.
//
// Why not Botan's RSA_PublicKey: its constructor prepares Montgomery constants with a
// constant-time division, which pays off over many private-key operations but costs about 4.7 M
// instructions for a 2048-bit host key (9.3 M for 3072 bits) that a handshake uses once, more
// than the rest of the handshake. Everything here is public (the key, the signature, the data
// signed), so variable-time arithmetic leaks nothing; the check is RFC 8017's own: encode the
// expected EM and compare it whole, never parse the signature's padding.

#include <cstdint>
#include <span>
#include <string_view>

namespace cr::ssh::crypto {

enum class RsaVerdict {
  valid,
  invalid,           // s >= n, or the encoded message is not the expected one
  unsupported_hash,  // a hash with no DigestInfo here (a programming error in the caller's table)
  key_unusable,      // e even, e < 3, e >= n, or an e over 64 bits with n over 3072 bits
};

// `modulus` and `exponent` are big-endian magnitudes (mpint contents); `signature` may be shorter
// than the modulus (OpenSSH accepts a dropped leading zero) but not longer. `hash_name` is
// "SHA-1", "SHA-256" or "SHA-512".
RsaVerdict rsa_pkcs1v15_verify(std::span<const std::uint8_t> modulus, std::span<const std::uint8_t> exponent,
                               std::string_view hash_name, std::span<const std::uint8_t> signature,
                               std::span<const std::uint8_t> message);

}  // namespace cr::ssh::crypto
