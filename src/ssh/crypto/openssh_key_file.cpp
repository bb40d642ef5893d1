// OpenSSH's own private key format, openssh-key-v1 (OpenSSH's PROTOCOL.key):
//
//   "openssh-key-v1\0" string ciphername, string kdfname, string kdfoptions, uint32 nkeys (1),
//   string public key blob, string private section [, the AEAD tag outside the string]
//
// and the private section, encrypted as a whole: uint32 checkint twice (equal only when the
// passphrase was right), the key's type and fields, string comment, padding 1, 2, 3, ... to the
// cipher's block size. The key is bcrypt_pbkdf(passphrase, salt, rounds) -> key || IV.

#include <algorithm>
#include <array>

#include <botan/base64.h>
#include <botan/bigint.h>
#include <botan/cipher_mode.h>
#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/ed25519.h>
#include <botan/exceptn.h>
#include <botan/numthry.h>
#include <botan/pwdhash.h>
#include <botan/rsa.h>
#include <botan/system_rng.h>
#include <fmt/format.h>

#include "ssh/crypto/private_key_file.hpp"
#include "ssh/wire.hpp"

namespace cr::ssh::crypto::detail {
namespace {

using Secure = Botan::secure_vector<std::uint8_t>;

constexpr std::string_view kMagic{"openssh-key-v1\0", 15};
// OpenSSH writes 16 rounds unless told otherwise (ssh-keygen -a); guides suggest 64 to a few
// hundred. One round costs a few milliseconds here, so 1024 (64 times the default) takes every
// key people make while a hostile file can cost us seconds of CPU, not hours: the count is a
// uint32 in the file.
constexpr std::uint32_t kMaximumBcryptRounds = 1024;
// OpenSSH writes a 16-byte salt.
constexpr std::size_t kMaximumSaltSize = 1024;
// A 16384-bit RSA modulus, OpenSSH's upper bound, and a sign byte: no field of a key is longer.
constexpr std::size_t kMaximumRsaBits = 16384;
constexpr std::size_t kMaximumMpintSize = kMaximumRsaBits / 8 + 1;

// The ciphers OpenSSH can protect a key file with (cipher.c), as Botan names them. The same code
// covers the CTR, CBC and GCM variants, so all of them are here, not just ssh-keygen's defaults.
struct KeyCipher {
  std::string_view name;
  std::string_view botan;  // empty for "none"
  std::size_t key_size;
  std::size_t iv_size;
  std::size_t block_size;
  std::size_t tag_size;  // AEAD only: the tag follows the private section's string
};

constexpr std::array kCiphers{
    KeyCipher{"none", "", 0, 0, 8, 0},
    KeyCipher{"aes128-ctr", "CTR-BE(AES-128)", 16, 16, 16, 0},
    KeyCipher{"aes192-ctr", "CTR-BE(AES-192)", 24, 16, 16, 0},
    KeyCipher{"aes256-ctr", "CTR-BE(AES-256)", 32, 16, 16, 0},
    KeyCipher{"aes128-cbc", "AES-128/CBC/NoPadding", 16, 16, 16, 0},
    KeyCipher{"aes192-cbc", "AES-192/CBC/NoPadding", 24, 16, 16, 0},
    KeyCipher{"aes256-cbc", "AES-256/CBC/NoPadding", 32, 16, 16, 0},
    KeyCipher{"aes128-gcm@openssh.com", "AES-128/GCM", 16, 12, 16, 16},
    KeyCipher{"aes256-gcm@openssh.com", "AES-256/GCM", 32, 12, 16, 16},
};

const KeyCipher* find_cipher(std::string_view name) {
  const auto* found =
      std::find_if(kCiphers.begin(), kCiphers.end(), [&](const KeyCipher& c) { return c.name == name; });
  return found == kCiphers.end() ? nullptr : found;
}

// A wire Reader that remembers which named field it was reading when the data ran out, so a
// corrupt file's error says where parsing stopped.
class Fields {
 public:
  Fields(ConstBytes data, std::string_view part) : reader_(data, part) {}

  std::uint32_t uint32(std::string_view field) { return note(reader_.uint32(), field); }
  ConstBytes string(std::string_view field) { return note(reader_.string(), field); }
  std::string text(std::string_view field) { return note(reader_.text(), field); }
  ConstBytes raw(std::size_t count, std::string_view field) { return note(reader_.raw(count), field); }
  ConstBytes rest() { return reader_.rest(); }
  ConstBytes mpint(std::string_view field) {
    const auto value = note(reader_.mpint(), field);
    if (value.size() > kMaximumMpintSize && !bounded_field_) bounded_field_ = field;
    return value;
  }
  bool failed() const { return reader_.failed() || bounded_field_; }

  runtime::Result<void> finish(std::string_view source, bool expect_end = false) {
    if (auto done = reader_.finish(expect_end); !done) {
      if (stopped_at_.empty()) return runtime::fail(corrupt(source, done.error().message));
      return runtime::fail(
          corrupt(source, fmt::format("stopped at field \"{}\": {}", stopped_at_, done.error().message)));
    }
    if (bounded_field_) {
      return runtime::fail(corrupt(source, fmt::format("field \"{}\" is longer than any key's ({} bytes at most)",
                                                       *bounded_field_, kMaximumMpintSize)));
    }
    return {};
  }

 private:
  template <class T>
  T note(T value, std::string_view field) {
    if (reader_.failed() && stopped_at_.empty()) stopped_at_ = field;
    return value;
  }

  Reader reader_;
  std::string_view stopped_at_;
  std::optional<std::string_view> bounded_field_;
};

struct Header {
  std::string cipher_name;
  std::string kdf_name;
  ConstBytes kdf_options;
  ConstBytes public_blob;
  ConstBytes private_section;
  ConstBytes tag;
};

runtime::Result<Secure> decode_body(std::string_view body, std::string_view source) {
  try {
    return Botan::base64_decode(body.data(), body.size(), true);
  } catch (const std::exception&) {
    return runtime::fail(corrupt(source, "the text between the BEGIN and END lines is not base64"));
  }
}

runtime::Result<Header> read_header(const Secure& decoded, std::string_view source) {
  Fields fields(decoded, "openssh-key-v1 data");
  const auto magic = fields.raw(kMagic.size(), "magic");
  if (!fields.failed() && !std::equal(magic.begin(), magic.end(), kMagic.begin(), kMagic.end())) {
    return runtime::fail(corrupt(source, "the data does not start with \"openssh-key-v1\""));
  }
  Header header;
  header.cipher_name = fields.text("ciphername");
  header.kdf_name = fields.text("kdfname");
  header.kdf_options = fields.string("kdfoptions");
  const auto keys = fields.uint32("number of keys");
  if (!fields.failed() && keys != 1) {
    return runtime::fail(key_file_error(source, fmt::format("the file holds {} keys; we read files with one", keys)));
  }
  header.public_blob = fields.string("public key");
  if (auto read = fields.finish(source); !read) return runtime::fail(std::move(read.error()));
  const auto* cipher = find_cipher(header.cipher_name);
  if (!cipher) {
    return runtime::fail(
        key_file_error(source, fmt::format("unsupported cipher \"{}\"", runtime::printable(header.cipher_name, 64))));
  }
  header.private_section = fields.string("private section");
  header.tag = fields.raw(cipher->tag_size, "authentication tag");
  if (auto read = fields.finish(source, true); !read) return runtime::fail(std::move(read.error()));
  return header;
}

runtime::Result<Secure> decrypt(const Header& header, const KeyCipher& cipher, std::string_view passphrase,
                                std::string_view source) {
  if (cipher.botan.empty()) {
    if (header.kdf_name != "none" || !header.kdf_options.empty()) {
      return runtime::fail(corrupt(source, "an unencrypted key names a key derivation"));
    }
    return Secure(header.private_section.begin(), header.private_section.end());
  }
  if (header.kdf_name != "bcrypt") {
    return runtime::fail(key_file_error(
        source, fmt::format("unsupported key derivation \"{}\"", runtime::printable(header.kdf_name, 64))));
  }
  Fields options(header.kdf_options, "bcrypt options");
  const auto salt = options.string("salt");
  const auto rounds = options.uint32("rounds");
  if (auto read = options.finish(source, true); !read) return runtime::fail(std::move(read.error()));
  if (salt.empty() || salt.size() > kMaximumSaltSize) {
    return runtime::fail(corrupt(source, fmt::format("a bcrypt salt of {} bytes", salt.size())));
  }
  if (rounds == 0 || rounds > kMaximumBcryptRounds) {
    return runtime::fail(key_file_error(
        source, fmt::format("bcrypt rounds {} outside 1..{} (OpenSSH writes 16)", rounds, kMaximumBcryptRounds)));
  }
  const auto size = header.private_section.size();
  if (size == 0 || size % cipher.block_size != 0) {
    return runtime::fail(
        corrupt(source, fmt::format("the private section is {} bytes, not a multiple of {}", size, cipher.block_size)));
  }
  if (passphrase.empty()) return runtime::fail(passphrase_needed(source));

  Secure key_and_iv(cipher.key_size + cipher.iv_size);
  const auto kdf = Botan::PasswordHashFamily::create_or_throw("Bcrypt-PBKDF")->from_iterations(rounds);
  kdf->derive_key(key_and_iv.data(), key_and_iv.size(), passphrase.data(), passphrase.size(), salt.data(), salt.size());
  const auto mode = Botan::Cipher_Mode::create_or_throw(std::string(cipher.botan), Botan::Cipher_Dir::Decryption);
  mode->set_key(key_and_iv.data(), cipher.key_size);
  mode->start(key_and_iv.data() + cipher.key_size, cipher.iv_size);
  Secure plain(header.private_section.begin(), header.private_section.end());
  plain.insert(plain.end(), header.tag.begin(), header.tag.end());
  try {
    mode->finish(plain);
  } catch (const Botan::Invalid_Authentication_Tag&) {
    // GCM cannot tell a wrong passphrase from a damaged file; a wrong passphrase is far likelier.
    return runtime::fail(std::move(wrong_passphrase(source).with("cipher", "the aes-gcm tag does not verify")));
  }
  return plain;
}

template <class Key>
runtime::Result<std::unique_ptr<Botan::Private_Key>> checked(std::unique_ptr<Key> key, bool consistent,
                                                             std::string_view source, std::string_view what) {
  if (!consistent) return runtime::fail(corrupt(source, what));
  return std::unique_ptr<Botan::Private_Key>(std::move(key));
}

runtime::Result<std::unique_ptr<Botan::Private_Key>> read_ed25519(Fields& fields, std::string_view source) {
  const auto public_key = fields.string("ed25519 public key");
  const auto private_key = fields.string("ed25519 private key");
  if (auto read = fields.finish(source); !read) return runtime::fail(std::move(read.error()));
  if (public_key.size() != 32 || private_key.size() != 64) {
    return runtime::fail(corrupt(
        source, fmt::format("ed25519 keys of {} and {} bytes, not 32 and 64", public_key.size(), private_key.size())));
  }
  // The private key is seed || public key; the seed alone determines both.
  const Secure seed(private_key.begin(), private_key.begin() + 32);
  auto key = std::make_unique<Botan::Ed25519_PrivateKey>(seed);
  const auto& derived = key->get_public_key();
  const bool consistent = std::equal(derived.begin(), derived.end(), public_key.begin(), public_key.end()) &&
                          std::equal(public_key.begin(), public_key.end(), private_key.begin() + 32);
  return checked(std::move(key), consistent, source, "the ed25519 public key does not belong to its seed");
}

runtime::Result<std::unique_ptr<Botan::Private_Key>> read_ecdsa(Fields& fields, const SignatureAlgorithm& kind,
                                                                std::string_view source) {
  const auto curve = fields.text("curve");
  const auto point = fields.string("public point");
  const auto scalar = fields.mpint("private scalar");
  if (auto read = fields.finish(source); !read) return runtime::fail(std::move(read.error()));
  if (curve != kind.curve_id) {
    return runtime::fail(
        corrupt(source, fmt::format("a {} key names curve \"{}\"", kind.key_type, runtime::printable(curve, 64))));
  }
  const auto group = Botan::EC_Group::from_name(kind.botan_curve);
  const Botan::BigInt x(scalar.data(), scalar.size());
  if (x.is_zero() || x >= group.get_order())
    return runtime::fail(corrupt(source, "the ecdsa private scalar is out of range"));
  auto key = std::make_unique<Botan::ECDSA_PrivateKey>(group, Botan::EC_Scalar::from_bigint(group, x));
  const auto derived = key->raw_public_key_bits();
  const bool consistent = std::equal(derived.begin(), derived.end(), point.begin(), point.end());
  return checked(std::move(key), consistent, source, "the ecdsa public point does not belong to the private scalar");
}

runtime::Result<std::unique_ptr<Botan::Private_Key>> read_rsa(Fields& fields, std::string_view source) {
  const auto field = [&](std::string_view name) {
    const auto bytes = fields.mpint(name);
    return Botan::BigInt(bytes.data(), bytes.size());
  };
  const auto n = field("rsa n");
  const auto e = field("rsa e");
  const auto d = field("rsa d");
  const auto iqmp = field("rsa iqmp");
  const auto p = field("rsa p");
  const auto q = field("rsa q");
  if (auto read = fields.finish(source); !read) return runtime::fail(std::move(read.error()));
  // Checked before Botan computes with them: a damaged key must fail here, not sign garbage.
  const bool consistent = e >= 3 && e.is_odd() && p >= 3 && q >= 3 && p * q == n && (iqmp * q) % p == 1 &&
                          (e * d) % Botan::lcm(p - 1, q - 1) == 1;
  if (!consistent) return runtime::fail(corrupt(source, "the rsa key's numbers do not fit together"));
  return std::unique_ptr<Botan::Private_Key>(std::make_unique<Botan::RSA_PrivateKey>(p, q, e, d, n));
}

runtime::Result<std::unique_ptr<Botan::Private_Key>> read_key_fields(Fields& fields, const SignatureAlgorithm& kind,
                                                                     std::string_view source) {
  switch (kind.scheme) {
    case Scheme::ed25519:
      return read_ed25519(fields, source);
    case Scheme::ecdsa:
      return read_ecdsa(fields, kind, source);
    case Scheme::rsa:
      return read_rsa(fields, source);
  }
  return runtime::fail(corrupt(source, "unknown key scheme"));
}

runtime::Result<LoadedKey> read_private_section(ConstBytes plain, bool encrypted, std::size_t block_size,
                                                ConstBytes public_blob, std::string_view source) {
  Fields fields(plain, "private section");
  const auto check1 = fields.uint32("checkint");
  const auto check2 = fields.uint32("checkint");
  if (auto read = fields.finish(source); !read) return runtime::fail(std::move(read.error()));
  if (check1 != check2) {
    if (encrypted) return runtime::fail(wrong_passphrase(source));
    return runtime::fail(corrupt(source, "the two check values differ"));
  }
  const auto type = fields.text("key type");
  if (auto read = fields.finish(source); !read) return runtime::fail(std::move(read.error()));
  const auto* kind = find_by_key_type(type);
  if (!kind) {
    return runtime::fail(key_file_error(
        source, fmt::format("unsupported key type \"{}\": we sign with ssh-ed25519, ecdsa-sha2-nistp256/384/521 "
                            "and ssh-rsa keys",
                            runtime::printable(type, 64))));
  }
  auto key = read_key_fields(fields, *kind, source);
  if (!key) return runtime::fail(std::move(key.error()));
  LoadedKey loaded{std::move(*key), fields.text("comment")};
  const auto padding = fields.rest();
  if (auto read = fields.finish(source); !read) return runtime::fail(std::move(read.error()));
  bool padding_ok = padding.size() < block_size;
  for (std::size_t i = 0; i < padding.size(); ++i) padding_ok = padding_ok && padding[i] == i + 1;
  if (!padding_ok) {
    return runtime::fail(std::move(corrupt(source, "the padding after the comment is not 1, 2, 3, ...")
                                       .with("padding", runtime::hex_preview(padding))));
  }
  const auto blob = public_key_blob_of(*loaded.key, *kind);
  if (!std::equal(blob.begin(), blob.end(), public_blob.begin(), public_blob.end())) {
    return runtime::fail(corrupt(source, "the public key in the header is not the private key's"));
  }
  return loaded;
}

}  // namespace

runtime::Result<bool> openssh_key_is_encrypted(std::string_view body, std::string_view source) {
  const auto decoded = decode_body(body, source);
  if (!decoded) return runtime::fail(decoded.error());
  const auto header = read_header(*decoded, source);
  if (!header) return runtime::fail(header.error());
  return header->cipher_name != "none";
}

runtime::Result<LoadedKey> read_openssh_key(std::string_view body, std::string_view passphrase,
                                            std::string_view source) {
  try {
    const auto decoded = decode_body(body, source);
    if (!decoded) return runtime::fail(decoded.error());
    const auto header = read_header(*decoded, source);
    if (!header) return runtime::fail(header.error());
    const auto* cipher = find_cipher(header->cipher_name);
    const auto plain = decrypt(*header, *cipher, passphrase, source);
    if (!plain) return runtime::fail(plain.error());
    return read_private_section(*plain, !cipher->botan.empty(), cipher->block_size, header->public_blob, source);
  } catch (const std::exception& e) {
    // Botan refusing a value we passed it (a point off the curve, say): still a corrupt file.
    return runtime::fail(corrupt(source, e.what()));
  }
}

}  // namespace cr::ssh::crypto::detail
