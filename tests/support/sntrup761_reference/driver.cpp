// Runs the reference sntrup761 (OpenSSH's sntrup761.c, from Debian's openssh source package) on
// the deterministic byte stream of a seed and prints what tests/ssh/sntrup761_test.cpp compares:
//   public_key, secret_key: the key pair
//   ciphertext, shared_key: an encapsulation to that key (the stream continues)
//   decapsulated: the ciphertext decapsulated
//   rejected: the ciphertext with its byte `tamper` xored with 1, decapsulated
// Usage: driver SEED TAMPER

#include <cstdio>
#include <cstdlib>
#include <vector>

#include <openssl/sha.h>

#include "../deterministic_bytes.hpp"

extern "C" {
int crypto_kem_sntrup761_keypair(unsigned char* pk, unsigned char* sk);
int crypto_kem_sntrup761_enc(unsigned char* cstr, unsigned char* k, const unsigned char* pk);
int crypto_kem_sntrup761_dec(unsigned char* k, const unsigned char* cstr, const unsigned char* sk);
void reference_random_bytes(void* out, unsigned long long size);
int crypto_hash_sha512(unsigned char* out, const unsigned char* in, unsigned long long size);
}

namespace {
cr::test::DeterministicBytes* stream;

void print(const char* name, const std::vector<unsigned char>& bytes) {
  std::printf("%s = ", name);
  for (const auto byte : bytes) std::printf("%02x", byte);
  std::printf("\n");
}
}  // namespace

void reference_random_bytes(void* out, unsigned long long size) {
  stream->fill(static_cast<std::uint8_t*>(out), static_cast<std::size_t>(size));
}

int crypto_hash_sha512(unsigned char* out, const unsigned char* in, unsigned long long size) {
  SHA512(in, static_cast<std::size_t>(size), out);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  cr::test::DeterministicBytes bytes(std::strtoull(argv[1], nullptr, 0));
  stream = &bytes;
  const auto tamper = std::strtoul(argv[2], nullptr, 0);
  std::vector<unsigned char> pk(1158), sk(1763), ct(1039), k(32), decapsulated(32), rejected(32);
  crypto_kem_sntrup761_keypair(pk.data(), sk.data());
  crypto_kem_sntrup761_enc(ct.data(), k.data(), pk.data());
  crypto_kem_sntrup761_dec(decapsulated.data(), ct.data(), sk.data());
  auto tampered = ct;
  tampered.at(tamper) ^= 1;
  crypto_kem_sntrup761_dec(rejected.data(), tampered.data(), sk.data());
  print("public_key", pk);
  print("secret_key", sk);
  print("ciphertext", ct);
  print("shared_key", k);
  print("decapsulated", decapsulated);
  print("rejected", rejected);
  return 0;
}
