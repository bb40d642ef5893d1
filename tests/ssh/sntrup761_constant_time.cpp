// Run under valgrind by ctest ("sntrup761 constant time"): the secret inputs are marked undefined,
// so memcheck reports any branch or memory index that depends on them, as ctgrind does. Outputs
// that are public by design (the public key, the shared keys once made) are marked defined again.
//
// Key generation draws g, then f, then rho. The retry on a g without a reciprocal in R/3 is the
// specification's one intended branch on a secret, so g's bytes stay defined; the reciprocal code
// it runs is the one f's path checks.

#include <valgrind/memcheck.h>

#include <cstdio>

#include "ssh/crypto/sntrup761.hpp"
#include "support/deterministic_bytes.hpp"

namespace kem = cr::ssh::crypto::sntrup761;

namespace {

void declassify(std::span<const std::uint8_t> bytes) { VALGRIND_MAKE_MEM_DEFINED(bytes.data(), bytes.size()); }

}  // namespace

int main() {
  cr::test::DeterministicBytes bytes(3);
  int draws = 0;
  const kem::RandomSource secret_after_g = [&](std::span<std::uint8_t> out) {
    bytes.fill(out.data(), out.size());
    if (draws++ > 0) VALGRIND_MAKE_MEM_UNDEFINED(out.data(), out.size());
  };
  auto pair = kem::generate_key_pair(secret_after_g);
  declassify(pair.public_key);

  const kem::RandomSource secret = [&](std::span<std::uint8_t> out) {
    bytes.fill(out.data(), out.size());
    VALGRIND_MAKE_MEM_UNDEFINED(out.data(), out.size());
  };
  auto sent = kem::encapsulate(pair.public_key, secret);
  declassify(sent.ciphertext);
  declassify(sent.shared_key);

  // Decapsulation with the secret parts of the key secret: a valid ciphertext, then one that is
  // rejected (implicitly, so which of the two it was must not show either).
  VALGRIND_MAKE_MEM_UNDEFINED(pair.secret_key.data(), pair.secret_key.size());
  declassify(std::span(pair.secret_key).subspan(kem::kPublicKeyOffsetInSecretKey, kem::kPublicKeyBytes));
  auto accepted = kem::decapsulate(sent.ciphertext, pair.secret_key);
  sent.ciphertext[100] ^= 1;
  auto rejected = kem::decapsulate(sent.ciphertext, pair.secret_key);
  declassify(accepted);
  declassify(rejected);
  if (accepted != sent.shared_key || rejected == sent.shared_key) {
    std::fprintf(stderr, "sntrup761: decapsulation gave the wrong keys\n");
    return 1;
  }
  return 0;
}
