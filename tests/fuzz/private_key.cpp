// Private key files as a user's IdentityFile holds them: openssh-key-v1 (its framing, the key
// fields of each type, the check integers, the padding, the encryption header), PEM and PKCS#8, and
// the armor around them. Then the key's public blob and a signature with each of its algorithms.
// No passphrase is given: a fuzzer cannot get past a cipher's check anyway, and the
// key derivation would cost seconds (encrypted files stop at "the key is encrypted").

#include <array>

#include "ssh/crypto/private_key.hpp"

using namespace cr;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> file(data, size);
  (void)ssh::crypto::private_key_is_encrypted(file);
  auto key = ssh::crypto::parse_private_key(file, "", "fuzz input");
  if (!key) return 0;
  (void)(*key)->key_type();
  (void)(*key)->public_key_blob();
  (void)(*key)->comment();
  const std::array<std::uint8_t, 4> message{'f', 'u', 'z', 'z'};
  for (const auto& algorithm : (*key)->signature_algorithms()) (void)(*key)->sign(algorithm, message);
  return 0;
}
