// sntrup761: known answers from the reference implementation (OpenSSH's sntrup761.c, built at
// test time from Debian's openssh source package by tests/support/sntrup761_reference/build) fed
// the same deterministic byte stream as ours, then the properties the KEM promises.

#include <catch2/catch.hpp>

#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "ssh/crypto/kex.hpp"
#include "ssh/crypto/sntrup761.hpp"
#include "support/deterministic_bytes.hpp"
#include "support/kat.hpp"

using namespace cr;
namespace kem = ssh::crypto::sntrup761;

namespace {

using Bytes = std::vector<std::uint8_t>;

std::string command_output(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) throw std::runtime_error("popen failed: " + command);
  std::string out;
  char buffer[4096];
  while (const auto n = std::fread(buffer, 1, sizeof buffer, pipe.get())) out.append(buffer, n);
  const int status = pclose(pipe.release());
  if (status != 0) throw std::runtime_error("failed (" + std::to_string(status) + "): " + command);
  return out;
}

// The driver, built once per build tree.
const std::string& reference_driver() {
  static const std::string path = [] {
    auto out = command_output(std::string("bash ") + CODER_RUNTIME_TEST_SUPPORT + "/sntrup761_reference/build " +
                              CODER_RUNTIME_SNTRUP761_REFERENCE_DIR);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }();
  return path;
}

std::map<std::string, std::string> reference_run(std::uint64_t seed, std::size_t tamper) {
  std::istringstream lines(
      command_output(reference_driver() + " " + std::to_string(seed) + " " + std::to_string(tamper)));
  std::map<std::string, std::string> fields;
  std::string name, equals, value;
  while (lines >> name >> equals >> value) fields[name] = value;
  return fields;
}

kem::RandomSource stream_of(test::DeterministicBytes& bytes) {
  return [&bytes](std::span<std::uint8_t> out) { bytes.fill(out.data(), out.size()); };
}

Bytes plain(const ssh::crypto::SecretBytes& secret) { return Bytes(secret.begin(), secret.end()); }

}  // namespace

TEST_CASE("sntrup761 keys, ciphertexts and shared keys match the reference byte for byte", "[sntrup761][kat]") {
  // Tampered bytes: in the rounded polynomial's first and last bytes, and in the confirmation hash.
  const auto [seed, tamper] = GENERATE(table<std::uint64_t, std::size_t>(
      {{1, 0}, {2, 1006}, {3, 1007}, {4, 1038}, {0x5eed, 500}, {0xffffffffffffffff, 17}}));
  INFO("seed " << seed << ", tampered byte " << tamper);
  const auto expected = reference_run(seed, tamper);
  REQUIRE(expected.size() == 6);

  test::DeterministicBytes bytes(seed);
  const auto pair = kem::generate_key_pair(stream_of(bytes));
  CHECK(test::to_hex(pair.public_key) == expected.at("public_key"));
  CHECK(test::to_hex(plain(pair.secret_key)) == expected.at("secret_key"));
  const auto sent = kem::encapsulate(pair.public_key, stream_of(bytes));
  CHECK(test::to_hex(sent.ciphertext) == expected.at("ciphertext"));
  CHECK(test::to_hex(plain(sent.shared_key)) == expected.at("shared_key"));
  CHECK(test::to_hex(plain(kem::decapsulate(sent.ciphertext, pair.secret_key))) == expected.at("decapsulated"));
  auto tampered = sent.ciphertext;
  tampered.at(tamper) ^= 1;
  CHECK(test::to_hex(plain(kem::decapsulate(tampered, pair.secret_key))) == expected.at("rejected"));
}

TEST_CASE("sntrup761 with the system generator: sizes, round trips, fresh keys", "[sntrup761]") {
  const auto pair = kem::generate_key_pair();
  REQUIRE(pair.public_key.size() == kem::kPublicKeyBytes);
  REQUIRE(pair.secret_key.size() == kem::kSecretKeyBytes);
  CHECK(kem::generate_key_pair().public_key != pair.public_key);
  for (int i = 0; i < 3; ++i) {
    const auto sent = kem::encapsulate(pair.public_key);
    REQUIRE(sent.ciphertext.size() == kem::kCiphertextBytes);
    REQUIRE(sent.shared_key.size() == kem::kSharedKeyBytes);
    CHECK(kem::decapsulate(sent.ciphertext, pair.secret_key) == sent.shared_key);
  }
}

TEST_CASE("sntrup761 rejects a modified ciphertext implicitly, with a key of its own", "[sntrup761]") {
  test::DeterministicBytes bytes(42);
  const auto pair = kem::generate_key_pair(stream_of(bytes));
  const auto sent = kem::encapsulate(pair.public_key, stream_of(bytes));
  for (const std::size_t position : {std::size_t{0}, std::size_t{1006}, std::size_t{1007}, std::size_t{1038}}) {
    INFO("byte " << position);
    auto tampered = sent.ciphertext;
    tampered[position] ^= 0x80;
    const auto rejected = kem::decapsulate(tampered, pair.secret_key);
    CHECK(rejected != sent.shared_key);
    CHECK(kem::decapsulate(tampered, pair.secret_key) == rejected);  // the same, not random
  }
  // Every byte value decodes to something: all-zero and all-one ciphertexts give keys too.
  CHECK(kem::decapsulate(Bytes(kem::kCiphertextBytes, 0), pair.secret_key).size() == kem::kSharedKeyBytes);
  CHECK(kem::decapsulate(Bytes(kem::kCiphertextBytes, 0xff), pair.secret_key).size() == kem::kSharedKeyBytes);
}

TEST_CASE("sntrup761 refuses inputs of the wrong size as programming errors", "[sntrup761]") {
  const auto pair = kem::generate_key_pair();
  CHECK_THROWS_AS(kem::encapsulate(Bytes(kem::kPublicKeyBytes - 1)), std::invalid_argument);
  CHECK_THROWS_AS(kem::decapsulate(Bytes(kem::kCiphertextBytes + 1), pair.secret_key), std::invalid_argument);
  CHECK_THROWS_AS(kem::decapsulate(Bytes(kem::kCiphertextBytes), Bytes(kem::kSecretKeyBytes - 1)),
                  std::invalid_argument);
}

namespace {

// Our client for `name` with a key pair from the stream of `seed` and a fixed X25519 scalar.
std::unique_ptr<ssh::crypto::KeyExchange> hybrid_client(const std::string& name, std::uint64_t seed,
                                                        kem::KeyPair& pair) {
  test::DeterministicBytes bytes(seed);
  pair = kem::generate_key_pair(stream_of(bytes));
  Bytes fixed(pair.secret_key.begin(), pair.secret_key.end());
  fixed.insert(fixed.end(), 32, 0x11);
  return ssh::crypto::make_key_exchange_for_test(name, fixed);
}

}  // namespace

TEST_CASE("sntrup761x25519-sha512: Q_C, and K as SHA-512 of the KEM key and the X25519 secret", "[sntrup761][kex]") {
  const std::string name = GENERATE("sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com");
  INFO(name);
  kem::KeyPair pair;
  const auto client = hybrid_client(name, 7, pair);
  REQUIRE(client);
  CHECK(client->hash_name() == "SHA-512");
  CHECK(client->family() == ssh::crypto::KexFamily::ecdh);
  CHECK(client->secret_encoding() == ssh::crypto::SecretEncoding::string);
  const auto client_x25519 = ssh::crypto::make_key_exchange_for_test("curve25519-sha256", Bytes(32, 0x11));
  auto expected_public = pair.public_key;
  const auto x25519_public = client_x25519->client_public();
  expected_public.insert(expected_public.end(), x25519_public.begin(), x25519_public.end());
  REQUIRE(client->client_public() == expected_public);

  // The server's half: an encapsulation to our key and an X25519 key of its own.
  test::DeterministicBytes bytes(8);
  const auto sent = kem::encapsulate(pair.public_key, stream_of(bytes));
  const auto server_x25519 = ssh::crypto::make_key_exchange_for_test("curve25519-sha256", Bytes(32, 0x22));
  const auto x25519_secret = server_x25519->shared_secret(x25519_public);
  REQUIRE(x25519_secret);
  REQUIRE(x25519_secret->size() == 32);  // no leading zero lost for these keys
  auto server_public = sent.ciphertext;
  const auto server_x25519_public = server_x25519->client_public();
  server_public.insert(server_public.end(), server_x25519_public.begin(), server_x25519_public.end());

  const auto k = client->shared_secret(server_public);
  REQUIRE(k);
  auto hashed = plain(sent.shared_key);
  hashed.insert(hashed.end(), x25519_secret->begin(), x25519_secret->end());
  CHECK(plain(*k) == ssh::crypto::hash("SHA-512", hashed));

  // A fresh client agrees with itself through a real encapsulation too.
  const auto fresh = ssh::crypto::make_key_exchange(name);
  REQUIRE(fresh);
  REQUIRE(fresh->client_public().size() == kem::kPublicKeyBytes + 32);
}

TEST_CASE("sntrup761x25519-sha512 refuses a Q_S of the wrong size or with a small-order X25519 key",
          "[sntrup761][kex]") {
  kem::KeyPair pair;
  const auto client = hybrid_client("sntrup761x25519-sha512", 9, pair);
  REQUIRE(client);
  for (const std::size_t size : {0, 32, 1039, 1070, 1072, 1190, 4000}) {
    INFO(size << " bytes");
    const auto k = client->shared_secret(Bytes(size, 0x5a));
    REQUIRE_FALSE(k);
    CHECK(k.error().layer == runtime::Layer::kex);
    CHECK(k.error().code == runtime::Errc::protocol_error);
    CHECK_THAT(k.error().message, Catch::Contains("1071 bytes"));
    CHECK(k.error().find_evidence("Q_S"));
  }
  // A ciphertext of the right size and the X25519 point 0.
  const auto k = client->shared_secret(Bytes(kem::kCiphertextBytes + 32, 0));
  REQUIRE_FALSE(k);
  CHECK(k.error().layer == runtime::Layer::kex);
  CHECK_THAT(k.error().message, Catch::Contains("low order"));
  CHECK(k.error().find_evidence("Q_S"));

  CHECK_FALSE(ssh::crypto::make_key_exchange_for_test("sntrup761x25519-sha512", Bytes(32, 0x11)));
  CHECK_FALSE(ssh::crypto::make_key_exchange_for_test("sntrup761x25519-sha512", Bytes(kem::kSecretKeyBytes, 1)));
}
