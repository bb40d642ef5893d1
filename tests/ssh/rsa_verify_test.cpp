// RSASSA-PKCS1-v1_5 verification on our own Montgomery arithmetic, against signatures computed in
// Python (tests/data/generate_rsa_kat.py): modulus sizes on and off limb boundaries, exponents
// other than 65537, and the malformed encodings a lenient verifier would let through.

#include <catch2/catch.hpp>

#include <set>

#include "support/kat.hpp"
#include "ssh/crypto/rsa_verify.hpp"

using namespace cr;
using ssh::crypto::RsaVerdict;

namespace {

using Bytes = std::vector<std::uint8_t>;

struct Case {
  std::string name;
  Bytes modulus;
  Bytes exponent;
  std::string hash;
  Bytes message;
  Bytes signature;
  std::string verdict;

  RsaVerdict verify() const { return ssh::crypto::rsa_pkcs1v15_verify(modulus, exponent, hash, signature, message); }
};

std::vector<Case> read_cases() {
  std::vector<Case> cases;
  for (auto& block : test::read_kat_maps("rsa_kat.txt")) {
    cases.push_back({block.at("case"), test::from_hex(block.at("modulus")), test::from_hex(block.at("exponent")),
                     block.at("hash"), test::from_hex(block.at("message")), test::from_hex(block.at("signature")),
                     block.at("verdict")});
  }
  return cases;
}

std::string name_of(RsaVerdict verdict) {
  switch (verdict) {
    case RsaVerdict::valid:
      return "valid";
    case RsaVerdict::invalid:
      return "invalid";
    case RsaVerdict::unsupported_hash:
      return "unsupported_hash";
    case RsaVerdict::key_unusable:
      return "key_unusable";
  }
  return "?";
}

Case first_valid_2048() {
  for (auto& c : read_cases()) {
    if (c.name == "2048-bit modulus, e = 65537, SHA-256") return c;
  }
  FAIL("no 2048-bit case in rsa_kat.txt");
  return {};
}

}  // namespace

TEST_CASE("RSA known answers: every case gets its verdict", "[rsa]") {
  const auto cases = read_cases();
  REQUIRE(cases.size() >= 39);
  std::set<std::string> verdicts;
  for (const auto& c : cases) {
    INFO(c.name);
    CHECK(name_of(c.verify()) == c.verdict);
    verdicts.insert(c.verdict);
  }
  CHECK(verdicts == std::set<std::string>{"valid", "invalid", "key_unusable"});
}

TEST_CASE("RSA: any flipped bit of the signature or the data is refused", "[rsa]") {
  const auto good = first_valid_2048();
  REQUIRE(good.verify() == RsaVerdict::valid);
  for (std::size_t bit = 0; bit < 8 * good.signature.size(); bit += 61) {
    auto tampered = good;
    tampered.signature[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    INFO("signature bit " << bit);
    CHECK(tampered.verify() == RsaVerdict::invalid);
  }
  for (std::size_t bit = 0; bit < 8 * good.message.size(); ++bit) {
    auto tampered = good;
    tampered.message[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    INFO("message bit " << bit);
    CHECK(tampered.verify() == RsaVerdict::invalid);
  }
}

TEST_CASE("RSA: an exponent that is even, below 3 or not below n makes the key unusable", "[rsa]") {
  auto key = first_valid_2048();
  for (const Bytes& exponent : {Bytes{}, Bytes{0x00}, Bytes{0x01}, Bytes{0x01, 0x00, 0x00}, Bytes{0x02}}) {
    key.exponent = exponent;
    CHECK(key.verify() == RsaVerdict::key_unusable);
  }
  key.exponent = key.modulus;
  CHECK(key.verify() == RsaVerdict::key_unusable);
  key.exponent.insert(key.exponent.begin(), 0x01);
  CHECK(key.verify() == RsaVerdict::key_unusable);
}

TEST_CASE("RSA: an even or tiny modulus is unusable, an unknown hash unsupported", "[rsa]") {
  auto key = first_valid_2048();
  key.modulus.back() &= 0xfe;
  CHECK(key.verify() == RsaVerdict::key_unusable);
  key.modulus = Bytes{0x01};
  CHECK(key.verify() == RsaVerdict::key_unusable);
  key.modulus = Bytes{};
  CHECK(key.verify() == RsaVerdict::key_unusable);
  auto other_hash = first_valid_2048();
  other_hash.hash = "SHA-384";
  CHECK(other_hash.verify() == RsaVerdict::unsupported_hash);
}
