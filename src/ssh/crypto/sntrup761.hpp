#pragma once
// Streamlined NTRU Prime 761 (the round 3 submission's sntrup761 KEM, as OpenSSH uses it in
// sntrup761x25519-sha512): key generation, encapsulation and decapsulation with implicit
// rejection. Keys, ciphertexts and shared keys are byte for byte those of the reference.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "ssh/crypto/secret.hpp"

namespace cr::ssh::crypto::sntrup761 {

inline constexpr std::size_t kPublicKeyBytes = 1158;
// The reference's layout: f, 1/g in R/3, the public key, the rejection value rho, and the hash of
// the public key.
inline constexpr std::size_t kSecretKeyBytes = 1763;
inline constexpr std::size_t kPublicKeyOffsetInSecretKey = 382;
inline constexpr std::size_t kCiphertextBytes = 1039;
inline constexpr std::size_t kSharedKeyBytes = 32;

// Fills its argument with random bytes. Keys and ciphertexts depend only on the stream of bytes
// drawn, not on how the draws are split, so a deterministic stream reproduces the reference's.
using RandomSource = std::function<void(std::span<std::uint8_t>)>;

struct KeyPair {
  std::vector<std::uint8_t> public_key;
  SecretBytes secret_key;
};

struct Encapsulation {
  std::vector<std::uint8_t> ciphertext;
  SecretBytes shared_key;
};

// Without a source: the operating system's generator (random_bytes).
KeyPair generate_key_pair(const RandomSource& random = {});

// A public key of the wrong size is a programming error (std::invalid_argument).
Encapsulation encapsulate(std::span<const std::uint8_t> public_key, const RandomSource& random = {});

// Any ciphertext of the right size gives a shared key: one that was not made for this key gives a
// pseudorandom key the sender cannot know (implicit rejection). Sizes other than kCiphertextBytes
// and kSecretKeyBytes are a programming error (std::invalid_argument).
SecretBytes decapsulate(std::span<const std::uint8_t> ciphertext, std::span<const std::uint8_t> secret_key);

}  // namespace cr::ssh::crypto::sntrup761
