// Key exchange: known answers computed by tests/data/generate_kex_host_key_kat.py with Python's
// cryptography package (and the RFC 3526 primes rebuilt from their definition), mlkem768x25519's
// server half played with Botan, and the server values that must be refused.

#include <botan/hash.h>
#include <botan/ml_kem.h>
#include <botan/pubkey.h>
#include <botan/system_rng.h>
#include <botan/x25519.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

#include "support/kat.hpp"
#include "ssh/crypto/kex.hpp"

using namespace cr;
using ssh::crypto::KexFamily;

namespace {

using Bytes = std::vector<std::uint8_t>;
using Block = std::map<std::string, std::string>;

bool is_hybrid(std::string_view name) {
  return name.starts_with("sntrup761x25519") || name.starts_with("mlkem768x25519");
}

}  // namespace

TEST_CASE("supported_kex lists what make_key_exchange builds, in preference order", "[kex]") {
  const std::vector<std::string> expected{
      "mlkem768x25519-sha256",
      "sntrup761x25519-sha512",
      "sntrup761x25519-sha512@openssh.com",
      "curve25519-sha256",
      "curve25519-sha256@libssh.org",
      "ecdh-sha2-nistp256",
      "ecdh-sha2-nistp384",
      "ecdh-sha2-nistp521",
      "diffie-hellman-group16-sha512",
      "diffie-hellman-group18-sha512",
      "diffie-hellman-group14-sha256",
  };
  CHECK(ssh::crypto::supported_kex() == expected);

  const std::map<std::string, std::pair<KexFamily, std::string>> properties{
      {"mlkem768x25519-sha256", {KexFamily::ecdh, "SHA-256"}},
      {"sntrup761x25519-sha512", {KexFamily::ecdh, "SHA-512"}},
      {"sntrup761x25519-sha512@openssh.com", {KexFamily::ecdh, "SHA-512"}},
      {"curve25519-sha256", {KexFamily::ecdh, "SHA-256"}},
      {"curve25519-sha256@libssh.org", {KexFamily::ecdh, "SHA-256"}},
      {"ecdh-sha2-nistp256", {KexFamily::ecdh, "SHA-256"}},
      {"ecdh-sha2-nistp384", {KexFamily::ecdh, "SHA-384"}},
      {"ecdh-sha2-nistp521", {KexFamily::ecdh, "SHA-512"}},
      {"diffie-hellman-group14-sha256", {KexFamily::dh, "SHA-256"}},
      {"diffie-hellman-group16-sha512", {KexFamily::dh, "SHA-512"}},
      {"diffie-hellman-group18-sha512", {KexFamily::dh, "SHA-512"}},
  };
  for (const auto& [name, family_and_hash] : properties) {
    INFO(name);
    const auto kex = ssh::crypto::make_key_exchange(name);
    REQUIRE(kex);
    CHECK(kex->family() == family_and_hash.first);
    CHECK(kex->hash_name() == family_and_hash.second);
    CHECK(kex->secret_encoding() ==
          (is_hybrid(name) ? ssh::crypto::SecretEncoding::string : ssh::crypto::SecretEncoding::mpint));
  }
  CHECK_FALSE(ssh::crypto::make_key_exchange("diffie-hellman-group1-sha1"));
  CHECK_FALSE(ssh::crypto::make_key_exchange("mlkem1024nistp384-sha384"));
  CHECK_FALSE(ssh::crypto::make_key_exchange_for_test("diffie-hellman-group1-sha1", test::from_hex("01")));
}

TEST_CASE("kex known answers: client public value and shared secret K", "[kex]") {
  std::set<std::string> covered;
  for (const auto& block : test::read_kat_maps("kex_kat.txt")) {
    if (!block.contains("shared_secret")) continue;
    const auto& name = block.at("kex");
    INFO(name << " with Q_S/f " << block.at("server_public"));
    const auto kex = ssh::crypto::make_key_exchange_for_test(name, test::from_hex(block.at("client_private")));
    REQUIRE(kex);
    CHECK(test::to_hex(kex->client_public()) == block.at("client_public"));
    const auto secret = kex->shared_secret(test::from_hex(block.at("server_public")));
    REQUIRE(secret);
    CHECK(test::to_hex(Bytes(secret->begin(), secret->end())) == block.at("shared_secret"));
    covered.insert(name);
  }
  // The hybrids' known answers: sntrup761_test.cpp against the reference at test time; for
  // mlkem768x25519, the handshakes with OpenSSH 10 (post_quantum_kex_test.cpp).
  std::set<std::string> expected;
  for (const auto& name : ssh::crypto::supported_kex()) {
    if (!is_hybrid(name)) expected.insert(name);
  }
  CHECK(covered == expected);
}

TEST_CASE("kex refuses server values that are malformed, out of range or give the all-zero secret", "[kex]") {
  std::size_t refusals = 0;
  for (const auto& block : test::read_kat_maps("kex_kat.txt")) {
    if (!block.contains("rejected")) continue;
    const auto& name = block.at("kex");
    INFO(name << ": " << block.at("rejected"));
    const auto kex = ssh::crypto::make_key_exchange_for_test(name, test::from_hex(block.at("client_private")));
    REQUIRE(kex);
    const auto secret = kex->shared_secret(test::from_hex(block.at("server_public")));
    REQUIRE_FALSE(secret);
    CHECK(secret.error().layer == runtime::Layer::kex);
    CHECK(secret.error().code == runtime::Errc::protocol_error);
    CHECK(secret.error().find_evidence(kex->family() == KexFamily::dh ? "f" : "Q_S"));
    ++refusals;
  }
  CHECK(refusals >= 40);
}

TEST_CASE("mlkem768x25519: Q_C from a fixed seed, and a Q_S of the wrong shape refused", "[kex]") {
  // The ML-KEM seed d || z, then the X25519 scalar of the curve25519 known answers above.
  const auto seed = test::from_hex(std::string(128, '7'));
  auto fixed_private = seed;
  const auto scalar = test::from_hex("5160c8d2b5e2ad2a524d686224a82bf9cbb7da957229fdabfead35cffe2def40");
  fixed_private.insert(fixed_private.end(), scalar.begin(), scalar.end());
  const auto kex = ssh::crypto::make_key_exchange_for_test("mlkem768x25519-sha256", fixed_private);
  REQUIRE(kex);
  const auto q_c = kex->client_public();
  REQUIRE(q_c.size() == 1184 + 32);
  CHECK(test::to_hex(Bytes(q_c.end() - 32, q_c.end())) ==
        "d0e506c0a83927184fa22263a57cbdbffdc517604853a398a6cb73b81001fd25");
  CHECK(ssh::crypto::make_key_exchange_for_test("mlkem768x25519-sha256", fixed_private)->client_public() == q_c);
  CHECK(ssh::crypto::make_key_exchange("mlkem768x25519-sha256")->client_public() != q_c);
  CHECK_FALSE(ssh::crypto::make_key_exchange_for_test("mlkem768x25519-sha256", seed));

  for (const std::size_t size : {std::size_t{0}, std::size_t{32}, std::size_t{1088}, std::size_t{1119},
                                 std::size_t{1121}, std::size_t{1039 + 32}}) {
    INFO(size << " bytes");
    const auto secret = kex->shared_secret(Bytes(size, 0x42));
    REQUIRE_FALSE(secret);
    CHECK(secret.error().layer == runtime::Layer::kex);
    CHECK_THAT(secret.error().message, Catch::Contains("the ML-KEM-768 ciphertext (1088)"));
    CHECK(secret.error().find_evidence("Q_S"));
  }
  // The right length with an X25519 half of small order: refused as curve25519-sha256 refuses it.
  const auto zero_x25519 = kex->shared_secret(Bytes(1088 + 32, 0));
  REQUIRE_FALSE(zero_x25519);
  CHECK_THAT(zero_x25519.error().message, Catch::Contains("low order"));
}

// The server's half played with Botan: an ML-KEM-768 encapsulation to our key and an X25519 key
// pair of its own; K as draft-ietf-sshm-mlkem-hybrid-kex defines it, SHA-256(K_PQ || K_CL).
TEST_CASE("mlkem768x25519: K is the server's SHA-256 of the ML-KEM key and the X25519 secret", "[kex]") {
  const auto client = ssh::crypto::make_key_exchange("mlkem768x25519-sha256");
  REQUIRE(client);
  const auto q_c = client->client_public();
  REQUIRE(q_c.size() == 1184 + 32);
  auto& rng = Botan::system_rng();
  const std::span<const std::uint8_t> q_c_parts(q_c);
  const Botan::ML_KEM_PublicKey kem_public(q_c_parts.first(1184), Botan::ML_KEM_Mode::ML_KEM_768);
  Botan::PK_KEM_Encryptor encryptor(kem_public, "Raw");
  const auto encapsulation = encryptor.encrypt(rng, 0);
  const Botan::X25519_PrivateKey server_x25519(rng);
  Botan::PK_Key_Agreement agreement(server_x25519, rng, "Raw");
  const auto x25519_secret = agreement.derive_key(0, q_c_parts.last(32)).bits_of();
  const auto sha256 = Botan::HashFunction::create_or_throw("SHA-256");
  sha256->update(encapsulation.shared_key());
  sha256->update(x25519_secret);
  const auto expected = sha256->final_stdvec();

  Bytes q_s = encapsulation.encapsulated_shared_key();
  REQUIRE(q_s.size() == 1088);
  const auto server_public = server_x25519.public_value();
  q_s.insert(q_s.end(), server_public.begin(), server_public.end());
  const auto k = client->shared_secret(q_s);
  REQUIRE(k);
  CHECK(Bytes(k->begin(), k->end()) == expected);

  // One bit of the ciphertext flipped: FIPS 203's implicit rejection gives another key, not an
  // error; the server's signature over the exchange hash is what then fails.
  q_s[100] ^= 1;
  const auto other = client->shared_secret(q_s);
  REQUIRE(other);
  CHECK(Bytes(other->begin(), other->end()) != expected);
  CHECK(other->size() == 32);
}

TEST_CASE("a curve25519 point of small order (the all-zero secret) is refused as such", "[kex]") {
  const auto kex = ssh::crypto::make_key_exchange("curve25519-sha256");
  REQUIRE(kex);
  const auto secret = kex->shared_secret(Bytes(32, 0));
  REQUIRE_FALSE(secret);
  CHECK_THAT(secret.error().message, Catch::Contains("low order"));
  CHECK(secret.error().find_evidence("Q_S")->text == std::string(64, '0') + " (32 bytes)");
}

TEST_CASE("two fresh exchanges of each kind agree with each other", "[kex]") {
  const std::map<std::string, std::size_t> public_sizes{
      {"curve25519-sha256", 32},
      {"ecdh-sha2-nistp256", 65},
      {"ecdh-sha2-nistp384", 97},
      {"ecdh-sha2-nistp521", 133},
  };
  for (const auto& name : ssh::crypto::supported_kex()) {
    // A KEM: the server's half is not a second client.
    if (is_hybrid(name)) continue;
    INFO(name);
    const auto ours = ssh::crypto::make_key_exchange(name);
    const auto theirs = ssh::crypto::make_key_exchange(name);
    REQUIRE(ours);
    REQUIRE(theirs);
    CHECK(ours->client_public() != theirs->client_public());
    if (public_sizes.contains(name)) CHECK(ours->client_public().size() == public_sizes.at(name));
    const auto ours_secret = ours->shared_secret(theirs->client_public());
    const auto theirs_secret = theirs->shared_secret(ours->client_public());
    REQUIRE(ours_secret);
    REQUIRE(theirs_secret);
    CHECK(*ours_secret == *theirs_secret);
    REQUIRE_FALSE(ours_secret->empty());
    CHECK(ours_secret->front() != 0);
  }
}

TEST_CASE("make_key_exchange_for_test refuses private keys out of range", "[kex]") {
  const auto p256_order = test::from_hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
  CHECK_FALSE(ssh::crypto::make_key_exchange_for_test("curve25519-sha256", Bytes(31, 7)));
  CHECK_FALSE(ssh::crypto::make_key_exchange_for_test("ecdh-sha2-nistp256", Bytes(32, 0)));
  CHECK_FALSE(ssh::crypto::make_key_exchange_for_test("ecdh-sha2-nistp256", p256_order));
  CHECK_FALSE(ssh::crypto::make_key_exchange_for_test("diffie-hellman-group14-sha256", Bytes{}));
  CHECK(ssh::crypto::make_key_exchange_for_test("ecdh-sha2-nistp256", test::from_hex("01")));
}

TEST_CASE("hash computes the exchange hash functions (FIPS 180-2 examples)", "[kex]") {
  const Bytes abc{'a', 'b', 'c'};
  CHECK(test::to_hex(ssh::crypto::hash("SHA-256", abc)) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(test::to_hex(ssh::crypto::hash("SHA-384", abc)) ==
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
  CHECK(test::to_hex(ssh::crypto::hash("SHA-512", abc)) ==
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  CHECK_THROWS_AS(ssh::crypto::hash("MD5", abc), std::invalid_argument);
}
