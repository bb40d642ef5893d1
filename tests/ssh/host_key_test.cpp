// Host key signatures and fingerprints: keys made by ssh-keygen, signatures made with Python's
// cryptography package and wrapped in SSH blobs by tests/data/generate_kex_host_key_kat.py, and
// fingerprints as `ssh-keygen -l` printed them.

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "support/kat.hpp"
#include "ssh/crypto/host_key.hpp"
#include "ssh/wire.hpp"

using namespace cr;

namespace {

using Bytes = std::vector<std::uint8_t>;
using Block = std::map<std::string, std::string>;

struct Vector {
  std::string algorithm;
  Bytes key_blob;
  Bytes data;
  Bytes signature_blob;
  Block fields;

  runtime::Result<void> verify_as(std::string_view algorithm_name) const {
    return ssh::crypto::verify_host_signature(algorithm_name, key_blob, signature_blob, data);
  }
  runtime::Result<void> verify() const { return verify_as(algorithm); }
};

std::vector<Vector> read_vectors() {
  std::vector<Vector> vectors;
  for (auto& block : test::read_kat_maps("host_key_kat.txt")) {
    vectors.push_back({block.at("algorithm"), test::from_hex(block.at("key_blob")), test::from_hex(block.at("data")),
                       test::from_hex(block.at("signature_blob")), block});
  }
  return vectors;
}

// The vectors that must verify: ssh-keygen's keys first, then the special cases.
std::vector<Vector> good_vectors() {
  auto vectors = read_vectors();
  std::erase_if(vectors, [](const Vector& v) { return v.fields.contains("rejected"); });
  return vectors;
}

// One ssh-keygen vector per algorithm (the ones with a fingerprint).
std::map<std::string, Vector> keygen_vectors() {
  std::map<std::string, Vector> by_algorithm;
  for (auto& vector : good_vectors()) {
    if (vector.fields.contains("fingerprint")) by_algorithm.emplace(vector.algorithm, vector);
  }
  return by_algorithm;
}

void check_refused(const runtime::Result<void>& result, std::string_view reason) {
  REQUIRE_FALSE(result);
  CHECK(result.error().layer == runtime::Layer::kex);
  CHECK(result.error().code == runtime::Errc::protocol_error);
  CHECK_THAT(result.error().message, Catch::Contains(std::string(reason)));
}

Bytes signature_with_format(const Vector& vector, std::string_view format_id) {
  ssh::Reader blob(vector.signature_blob);
  blob.string();
  ssh::Writer rewritten;
  rewritten.string(format_id);
  rewritten.string(blob.string());
  return rewritten.take();
}

}  // namespace

TEST_CASE("host key algorithms: the default list, and the key type each one uses", "[hostkey]") {
  const std::vector<std::string> expected{"ssh-ed25519",         "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                                          "ecdsa-sha2-nistp521", "rsa-sha2-512",        "rsa-sha2-256"};
  CHECK(ssh::crypto::supported_host_key_algorithms() == expected);
  CHECK(ssh::crypto::key_type_for("rsa-sha2-256") == "ssh-rsa");
  CHECK(ssh::crypto::key_type_for("rsa-sha2-512") == "ssh-rsa");
  CHECK(ssh::crypto::key_type_for("ssh-rsa") == "ssh-rsa");
  CHECK(ssh::crypto::key_type_for("ssh-ed25519") == "ssh-ed25519");
  CHECK(ssh::crypto::key_type_for("ecdsa-sha2-nistp384") == "ecdsa-sha2-nistp384");
}

TEST_CASE("host key known answers verify, ssh-rsa (SHA-1) included when asked for", "[hostkey]") {
  std::set<std::string> covered;
  for (const auto& vector : good_vectors()) {
    INFO(vector.algorithm << (vector.fields.contains("note") ? " (" + vector.fields.at("note") + ")" : ""));
    const auto verified = vector.verify();
    INFO((verified ? "" : verified.error().detailed()));
    CHECK(verified);
    covered.insert(vector.algorithm);
  }
  CHECK(covered == std::set<std::string>{"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                                         "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"});
}

TEST_CASE("fingerprints and key types match what ssh-keygen printed", "[hostkey]") {
  const auto vectors = keygen_vectors();
  REQUIRE(vectors.size() == 7);
  for (const auto& [algorithm, vector] : vectors) {
    INFO(vector.fields.at("public_key_line"));
    CHECK(ssh::crypto::fingerprint_sha256(vector.key_blob) == vector.fields.at("fingerprint"));
    const auto& line = vector.fields.at("public_key_line");
    const auto type = ssh::crypto::key_blob_type(vector.key_blob);
    REQUIRE(type);
    CHECK(*type == line.substr(0, line.find(' ')));
    CHECK(*type == ssh::crypto::key_type_for(algorithm));
  }
}

TEST_CASE("tampered data, signatures and keys are refused", "[hostkey]") {
  for (const auto& vector : good_vectors()) {
    INFO(vector.algorithm);
    auto tampered = vector;
    tampered.data[0] ^= 0x01;
    check_refused(tampered.verify(), "does not verify");

    tampered = vector;
    tampered.signature_blob.back() ^= 0x01;
    CHECK_FALSE(tampered.verify());

    tampered = vector;
    tampered.signature_blob[tampered.signature_blob.size() / 2 + 8] ^= 0x40;
    CHECK_FALSE(tampered.verify());

    // The last byte of every key blob is key material: the public point or the modulus.
    tampered = vector;
    tampered.key_blob.back() ^= 0x02;
    CHECK_FALSE(tampered.verify());
  }
}

TEST_CASE("the signature's format-id must be the negotiated algorithm", "[hostkey]") {
  const auto vectors = keygen_vectors();
  const auto& sha512 = vectors.at("rsa-sha2-512");
  check_refused(sha512.verify_as("rsa-sha2-256"), "negotiated host key algorithm is rsa-sha2-256");
  check_refused(vectors.at("ssh-rsa").verify_as("rsa-sha2-512"), "negotiated host key algorithm is rsa-sha2-512");
  check_refused(vectors.at("rsa-sha2-256").verify_as("ssh-rsa"), "negotiated host key algorithm is ssh-rsa");

  // Relabelled to match, a SHA-512 signature still does not pass as a SHA-256 one.
  auto relabelled = sha512;
  relabelled.signature_blob = signature_with_format(sha512, "rsa-sha2-256");
  check_refused(relabelled.verify_as("rsa-sha2-256"), "does not verify");
}

TEST_CASE("the key type must be the one the algorithm uses", "[hostkey]") {
  const auto vectors = keygen_vectors();
  auto mixed = vectors.at("ecdsa-sha2-nistp256");
  mixed.key_blob = vectors.at("ssh-ed25519").key_blob;
  check_refused(mixed.verify(), "host key is of type \"ssh-ed25519\"");

  mixed = vectors.at("ecdsa-sha2-nistp384");
  mixed.key_blob = vectors.at("ecdsa-sha2-nistp256").key_blob;
  check_refused(mixed.verify(), "host key is of type \"ecdsa-sha2-nistp256\"");

  mixed = vectors.at("rsa-sha2-256");
  mixed.key_blob = vectors.at("ecdsa-sha2-nistp521").key_blob;
  check_refused(mixed.verify(), "needs a ssh-rsa key");

  check_refused(vectors.at("ssh-ed25519").verify_as("ssh-dss"), "not one we can verify");
}

TEST_CASE("an ecdsa key's curve-id must match its type", "[hostkey]") {
  const auto vector = keygen_vectors().at("ecdsa-sha2-nistp256");
  ssh::Reader blob(vector.key_blob);
  const auto type = blob.text();
  blob.text();
  const auto point = blob.string();
  REQUIRE(blob.finish(true));

  ssh::Writer relabelled;
  relabelled.string(type);
  relabelled.string(std::string_view("nistp384"));
  relabelled.string(point);
  auto mismatched = vector;
  mismatched.key_blob = relabelled.take();
  check_refused(mismatched.verify(), "names curve \"nistp384\"");
}

TEST_CASE("truncated blobs and trailing bytes are refused", "[hostkey]") {
  for (const auto& [algorithm, vector] : keygen_vectors()) {
    INFO(algorithm);
    for (std::size_t length = 0; length < vector.key_blob.size(); ++length) {
      auto truncated = vector;
      truncated.key_blob.resize(length);
      INFO("key blob of " << length << " bytes");
      CHECK_FALSE(truncated.verify());
    }
    for (std::size_t length = 0; length < vector.signature_blob.size(); ++length) {
      auto truncated = vector;
      truncated.signature_blob.resize(length);
      INFO("signature blob of " << length << " bytes");
      CHECK_FALSE(truncated.verify());
    }
    auto padded = vector;
    padded.key_blob.push_back(0);
    check_refused(padded.verify(), "unexpected bytes at the end");
    padded = vector;
    padded.signature_blob.push_back(0);
    check_refused(padded.verify(), "unexpected bytes at the end");
  }
  const auto type = ssh::crypto::key_blob_type(Bytes{0, 0, 0, 11, 's', 's', 'h'});
  REQUIRE_FALSE(type);
  CHECK(type.error().layer == runtime::Layer::kex);
}

TEST_CASE("an RSA modulus under 1024 bits is refused even with a valid signature", "[hostkey]") {
  const auto vectors = read_vectors();
  const auto small =
      std::find_if(vectors.begin(), vectors.end(), [](const Vector& v) { return v.fields.contains("rejected"); });
  REQUIRE(small != vectors.end());
  check_refused(small->verify(), "768-bit modulus");
}

TEST_CASE("a refusal names the algorithm and the host key's fingerprint", "[hostkey]") {
  auto vector = keygen_vectors().at("ssh-ed25519");
  vector.data.push_back(0);
  const auto verified = vector.verify();
  REQUIRE_FALSE(verified);
  REQUIRE(verified.error().find_evidence("host key"));
  CHECK(verified.error().find_evidence("host key")->text == vector.fields.at("fingerprint"));
  REQUIRE(verified.error().find_evidence("host key algorithm"));
  CHECK(verified.error().find_evidence("host key algorithm")->text == "ssh-ed25519");
}
