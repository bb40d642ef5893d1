// Private key files as ssh-keygen writes them: every key type, OpenSSH's format unencrypted and
// encrypted with each cipher, PEM and PKCS#8. The public blob must be what `ssh-keygen -y`
// prints, and every signature must verify with the host key verifier. Damaged files (truncated,
// bit-flipped, garbage, hostile bcrypt rounds) give errors that name the file, never a crash.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include "ssh/crypto/encoding.hpp"
#include "ssh/crypto/host_key.hpp"
#include "ssh/crypto/private_key.hpp"
#include "ssh/wire.hpp"
#include "support/files.hpp"

using namespace cr;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr std::string_view kPassphrase = "correct horse";

Bytes as_bytes(const std::string& text) { return Bytes(text.begin(), text.end()); }

struct KeyFile {
  fs::path path;
  Bytes contents;
  Bytes public_blob;  // from `ssh-keygen -y`
};

// Made once per spec for the whole run; `spec` is extra ssh-keygen arguments.
const KeyFile& key_file(const std::string& spec, std::string_view passphrase = "") {
  static test::TemporaryDirectory directory("private_key_test");
  static std::map<std::string, KeyFile> made;
  const std::string name = fmt::format("{}|{}", spec, passphrase);
  if (auto found = made.find(name); found != made.end()) return found->second;
  const auto path = directory.path() / fmt::format("key{}", made.size());
  REQUIRE(test::run_command(fmt::format("ssh-keygen -q {} -N '{}' -C 'comment {}' -f {}", spec, passphrase, made.size(),
                                        path.string())) == 0);
  REQUIRE(test::run_command(
              fmt::format("ssh-keygen -y -P '{}' -f {} > {}.y", passphrase, path.string(), path.string())) == 0);
  std::istringstream public_line(test::read_text(path.string() + ".y"));
  std::string type, base64;
  public_line >> type >> base64;
  const auto blob = ssh::crypto::base64_decode(base64);
  REQUIRE(blob);
  return made[name] = KeyFile{path, as_bytes(test::read_text(path)), *blob};
}

runtime::Result<std::unique_ptr<ssh::crypto::PrivateKey>> parse(const Bytes& contents,
                                                                std::string_view passphrase = "") {
  return ssh::crypto::parse_private_key(contents, passphrase, "/keys/id_test");
}

// The binary inside an OpenSSH key file, and back.
Bytes openssh_binary(const Bytes& file) {
  std::string text(file.begin(), file.end());
  const auto begin = text.find('\n') + 1;
  const auto end = text.find("-----END");
  std::string body = text.substr(begin, end - begin);
  body.erase(std::remove(body.begin(), body.end(), '\n'), body.end());
  auto decoded = ssh::crypto::base64_decode(body);
  REQUIRE(decoded);
  return *decoded;
}

Bytes openssh_file(const Bytes& binary) {
  std::string base64 = ssh::crypto::base64_encode(binary);
  std::string text = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
  for (std::size_t i = 0; i < base64.size(); i += 70) text += base64.substr(i, 70) + "\n";
  return as_bytes(text + "-----END OPENSSH PRIVATE KEY-----\n");
}

void check_signs_and_verifies(const ssh::crypto::PrivateKey& key) {
  const Bytes data = as_bytes("session id and userauth request");
  for (const auto& algorithm : key.signature_algorithms()) {
    INFO(algorithm);
    auto signature = key.sign(algorithm, data);
    REQUIRE(signature);
    auto verified = ssh::crypto::verify_host_signature(algorithm, key.public_key_blob(), *signature, data);
    INFO((verified ? "" : verified.error().summary()));
    CHECK(verified);
    Bytes other = data;
    other[0] ^= 1;
    CHECK_FALSE(ssh::crypto::verify_host_signature(algorithm, key.public_key_blob(), *signature, other));
  }
}

void check_error(const runtime::Result<std::unique_ptr<ssh::crypto::PrivateKey>>& parsed, std::string_view expected) {
  REQUIRE_FALSE(parsed);
  INFO(parsed.error().detailed());
  CHECK(parsed.error().layer == runtime::Layer::auth);
  CHECK(parsed.error().code == runtime::Errc::invalid_argument);
  CHECK(parsed.error().message.starts_with("/keys/id_test: "));
  CHECK(parsed.error().message.find(expected) != std::string::npos);
}

struct Case {
  std::string spec;
  std::string key_type;
  std::string_view passphrase;
  std::vector<std::string> algorithms;
};

const std::vector<std::string> kRsaAlgorithms{"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"};

}  // namespace

TEST_CASE("private keys: each type and file format reads, matches ssh-keygen -y, and signs", "[privatekey]") {
  const auto& [spec, key_type, passphrase, algorithms] = GENERATE_REF(values<Case>({
      {"-t ed25519", "ssh-ed25519", "", {"ssh-ed25519"}},
      {"-t ecdsa -b 256", "ecdsa-sha2-nistp256", "", {"ecdsa-sha2-nistp256"}},
      {"-t ecdsa -b 384", "ecdsa-sha2-nistp384", "", {"ecdsa-sha2-nistp384"}},
      {"-t ecdsa -b 521", "ecdsa-sha2-nistp521", "", {"ecdsa-sha2-nistp521"}},
      {"-t rsa -b 2048", "ssh-rsa", "", kRsaAlgorithms},
      {"-t rsa -b 3072", "ssh-rsa", "", kRsaAlgorithms},
      // Encrypted: ssh-keygen's default aes256-ctr, and the other ciphers OpenSSH offers.
      {"-t ed25519", "ssh-ed25519", kPassphrase, {"ssh-ed25519"}},
      {"-t ecdsa -b 384 -Z aes256-gcm@openssh.com", "ecdsa-sha2-nistp384", kPassphrase, {"ecdsa-sha2-nistp384"}},
      {"-t ecdsa -b 521 -Z aes128-gcm@openssh.com", "ecdsa-sha2-nistp521", kPassphrase, {"ecdsa-sha2-nistp521"}},
      {"-t rsa -b 2048 -Z aes256-gcm@openssh.com", "ssh-rsa", kPassphrase, kRsaAlgorithms},
      {"-t ed25519 -Z aes128-ctr", "ssh-ed25519", kPassphrase, {"ssh-ed25519"}},
      {"-t ed25519 -Z aes192-ctr -a 4", "ssh-ed25519", kPassphrase, {"ssh-ed25519"}},
      {"-t ecdsa -b 256 -Z aes256-cbc", "ecdsa-sha2-nistp256", kPassphrase, {"ecdsa-sha2-nistp256"}},
      // PEM and PKCS#8, through Botan.
      {"-t rsa -b 2048 -m PEM", "ssh-rsa", "", kRsaAlgorithms},
      {"-t ecdsa -b 384 -m PEM", "ecdsa-sha2-nistp384", "", {"ecdsa-sha2-nistp384"}},
      {"-t rsa -b 2048 -m PKCS8", "ssh-rsa", "", kRsaAlgorithms},
      {"-t ecdsa -b 256 -m PKCS8", "ecdsa-sha2-nistp256", "", {"ecdsa-sha2-nistp256"}},
      {"-t ecdsa -b 521 -m PKCS8", "ecdsa-sha2-nistp521", kPassphrase, {"ecdsa-sha2-nistp521"}},
      {"-t rsa -b 2048 -m PKCS8", "ssh-rsa", kPassphrase, kRsaAlgorithms},
      // Traditional PEM encrypted the OpenSSL way (OpenSSH's default format before 7.8).
      {"-t rsa -b 2048 -m PEM", "ssh-rsa", kPassphrase, kRsaAlgorithms},
      {"-t ecdsa -b 384 -m PEM", "ecdsa-sha2-nistp384", kPassphrase, {"ecdsa-sha2-nistp384"}},
  }));
  INFO(spec << (passphrase.empty() ? "" : " (encrypted)"));
  const auto& file = key_file(spec, passphrase);
  CHECK(ssh::crypto::private_key_is_encrypted(file.contents) == !passphrase.empty());
  auto key = parse(file.contents, passphrase);
  INFO((key ? "" : key.error().detailed()));
  REQUIRE(key);
  CHECK((*key)->key_type() == key_type);
  CHECK((*key)->signature_algorithms() == algorithms);
  CHECK(((*key)->public_key_blob() == file.public_blob));
  if (spec.find(" -m ") == std::string::npos) CHECK((*key)->comment().starts_with("comment "));
  check_signs_and_verifies(**key);
}

TEST_CASE("private keys: a key signs only with its own algorithms", "[privatekey]") {
  auto key = parse(key_file("-t ed25519").contents);
  REQUIRE(key);
  auto refused = (*key)->sign("rsa-sha2-512", as_bytes("data"));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message == "a ssh-ed25519 key cannot sign with \"rsa-sha2-512\"");
}

TEST_CASE("private keys: a wrong or missing passphrase is named as such", "[privatekey]") {
  const auto spec = GENERATE(as<std::string>{}, "-t ed25519", "-t ecdsa -b 256 -Z aes256-gcm@openssh.com",
                             "-t rsa -b 2048 -m PKCS8", "-t rsa -b 2048 -m PEM", "-t ecdsa -b 256 -m PEM");
  INFO(spec);
  const auto& file = key_file(spec, kPassphrase);
  check_error(parse(file.contents, "not the passphrase"), "/keys/id_test: wrong passphrase");
  check_error(parse(file.contents, ""), "the key is encrypted and no passphrase was given");
}

TEST_CASE("private keys: traditional PEM encryption: DES-EDE3 reads, unknown ciphers and damage are named",
          "[privatekey]") {
  const auto& file = key_file("-t rsa -b 2048 -m PEM", kPassphrase);
  const std::string text(file.contents.begin(), file.contents.end());
  const auto dek = text.find("DEK-Info: ") + 10;
  const auto iv = text.find(',', dek) + 1;

  std::string unknown = text;
  unknown.replace(dek, iv - 1 - dek, "AES-999-CBC");
  check_error(parse(as_bytes(unknown), kPassphrase), "unsupported PEM encryption \"AES-999-CBC\"");
  std::string short_iv = text;
  short_iv.erase(iv, 2);
  check_error(parse(as_bytes(short_iv), kPassphrase), "a 15-byte IV");
  std::string bad_hex = text;
  bad_hex[iv] = 'x';
  check_error(parse(as_bytes(bad_hex), kPassphrase), "does not decode");

  // OpenSSL's older default cipher, made from the same key by openssl itself.
  const auto des = file.path.string() + ".des3";
  REQUIRE(test::run_command(fmt::format("openssl rsa -traditional -in {} -passin 'pass:{}' -des3 -passout 'pass:{}' "
                                        "-out {} 2>/dev/null",
                                        file.path.string(), kPassphrase, kPassphrase, des)) == 0);
  const auto des_text = test::read_text(des);
  REQUIRE(des_text.find("DEK-Info: DES-EDE3-CBC,") != std::string::npos);
  auto key = parse(as_bytes(des_text), kPassphrase);
  INFO((key ? "" : key.error().detailed()));
  REQUIRE(key);
  CHECK(((*key)->public_key_blob() == file.public_blob));
  check_error(parse(as_bytes(des_text), "wrong"), "wrong passphrase");
}

TEST_CASE("private keys: every truncation of the binary is an error naming where it stopped", "[privatekey]") {
  const auto spec = GENERATE(as<std::string>{}, "-t ed25519", "-t ecdsa -b 384", "-t rsa -b 2048");
  INFO(spec);
  const auto binary = openssh_binary(key_file(spec).contents);
  REQUIRE(parse(openssh_file(binary)));
  for (std::size_t size = 0; size < binary.size(); ++size) {
    INFO(size);
    const Bytes cut(binary.begin(), binary.begin() + static_cast<std::ptrdiff_t>(size));
    const auto parsed = parse(openssh_file(cut));
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().message.starts_with("/keys/id_test: "));
  }
  // Past the magic, the error names the field parsing stopped at.
  const Bytes cut(binary.begin(), binary.begin() + 30);
  check_error(parse(openssh_file(cut)), "stopped at field \"kdfname\"");
}

TEST_CASE("private keys: a flipped bit anywhere is an error or changes only the comment", "[privatekey]") {
  const auto spec = GENERATE(as<std::string>{}, "-t ed25519", "-t ecdsa -b 256", "-t rsa -b 2048");
  INFO(spec);
  const auto& file = key_file(spec);
  const auto binary = openssh_binary(file.contents);
  const auto original = parse(file.contents);
  REQUIRE(original);
  std::size_t refused = 0;
  for (std::size_t i = 0; i < binary.size(); ++i) {
    Bytes flipped = binary;
    flipped[i] ^= static_cast<std::uint8_t>(1u << (i % 8));
    const auto parsed = parse(openssh_file(flipped));
    INFO(i);
    if (parsed) {
      CHECK(((*parsed)->public_key_blob() == file.public_blob));
      CHECK((*parsed)->comment() != (*original)->comment());
    } else {
      ++refused;
      CHECK(parsed.error().message.starts_with("/keys/id_test: "));
    }
  }
  // Only the comment's bytes (about a dozen) may flip unnoticed.
  CHECK(refused + 16 >= binary.size());
}

TEST_CASE("private keys: damaged encrypted files say wrong passphrase or corrupt, quickly", "[privatekey]") {
  const auto binary = openssh_binary(key_file("-t ed25519 -Z aes256-gcm@openssh.com", kPassphrase).contents);
  // The last byte is the GCM tag's; the one before the tag, ciphertext.
  for (const std::size_t from_end : {std::size_t{1}, std::size_t{17}, std::size_t{60}}) {
    Bytes flipped = binary;
    flipped[flipped.size() - from_end] ^= 0x20;
    check_error(parse(openssh_file(flipped), kPassphrase), "wrong passphrase");
  }
  // The cipher name damaged: an unsupported cipher, named.
  Bytes renamed = binary;
  renamed[19] = 'X';
  check_error(parse(openssh_file(renamed), kPassphrase), "unsupported cipher \"Xes256-gcm@openssh.com\"");
}

TEST_CASE("private keys: bcrypt rounds and the key count are bounded before any work", "[privatekey]") {
  const auto encrypted = openssh_binary(key_file("-t ed25519", kPassphrase).contents);
  ssh::Reader reader(encrypted, "key");
  reader.raw(15);
  reader.text();
  reader.text();
  const auto options_offset = encrypted.size() - reader.remaining();
  // kdfoptions: uint32 length, string salt (16), uint32 rounds.
  const auto rounds_offset = options_offset + 4 + 4 + 16;
  Bytes hostile = encrypted;
  for (std::size_t i = 0; i < 4; ++i) hostile[rounds_offset + i] = 0xff;
  const auto started = std::chrono::steady_clock::now();
  check_error(parse(openssh_file(hostile), kPassphrase), "bcrypt rounds 4294967295 outside 1..1024");
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));

  const auto plain = openssh_binary(key_file("-t ed25519").contents);
  Bytes two_keys = plain;
  // "openssh-key-v1\0", string "none", string "none", string "" then uint32 nkeys.
  two_keys[15 + 8 + 8 + 4 + 3] = 2;
  check_error(parse(openssh_file(two_keys)), "the file holds 2 keys");
}

TEST_CASE("private keys: garbage, public keys and empty files are not private key files", "[privatekey]") {
  check_error(parse({}), "not a private key file");
  check_error(parse(as_bytes("hello\nworld\n")), "not a private key file");
  const auto& file = key_file("-t ed25519");
  check_error(parse(as_bytes(test::read_text(file.path.string() + ".pub"))), "is a public key");
  std::string text(file.contents.begin(), file.contents.end());
  check_error(parse(as_bytes(text.substr(0, text.find("-----END")))), "not a private key file");
  text[60] = '*';
  check_error(parse(as_bytes(text)), "not base64");
  check_error(parse(as_bytes("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")),
              "stopped at field \"magic\"");
  const std::string other_version("openssh-key-v9\0\0\0\0\0", 19);
  check_error(parse(openssh_file(as_bytes(other_version))), "does not start with \"openssh-key-v1\"");
  check_error(parse(as_bytes("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")),
              "corrupt private key file");
  check_error(parse(as_bytes("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")),
              "unsupported PEM block \"CERTIFICATE\"");
  std::mt19937 random(7);
  for (int round = 0; round < 200; ++round) {
    Bytes noise(static_cast<std::size_t>(random() % 600));
    for (auto& byte : noise) byte = static_cast<std::uint8_t>(random());
    CHECK_FALSE(parse(openssh_file(noise)));
  }
}
