#include "ssh/crypto/kex.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include <botan/bigint.h>
#include <botan/curve25519.h>
#include <botan/dh.h>
#include <botan/dl_group.h>
#include <botan/ec_group.h>
#include <botan/ecdh.h>
#include <botan/hash.h>
#include <botan/hex.h>
#include <botan/pubkey.h>
#include <botan/system_rng.h>
#include <fmt/format.h>

#include "ssh/crypto/sntrup761.hpp"

namespace cr::ssh::crypto {
namespace {

using Bytes = std::vector<std::uint8_t>;
using ConstBytes = std::span<const std::uint8_t>;

enum class Primitive { sntrup761_x25519, x25519, ecdh, dh };

struct Method {
  std::string_view name;
  Primitive primitive;
  std::string_view hash;
  // Botan's name for the group: an EC_Group for ecdh, a DL_Group (RFC 3526) for dh.
  std::string_view group;
};

// In our preference order (OpenSSH's, less the methods Botan 2 cannot do).
constexpr std::array kMethods{
    Method{"sntrup761x25519-sha512", Primitive::sntrup761_x25519, "SHA-512", ""},
    Method{"sntrup761x25519-sha512@openssh.com", Primitive::sntrup761_x25519, "SHA-512", ""},
    Method{"curve25519-sha256", Primitive::x25519, "SHA-256", ""},
    Method{"curve25519-sha256@libssh.org", Primitive::x25519, "SHA-256", ""},
    Method{"ecdh-sha2-nistp256", Primitive::ecdh, "SHA-256", "secp256r1"},
    Method{"ecdh-sha2-nistp384", Primitive::ecdh, "SHA-384", "secp384r1"},
    Method{"ecdh-sha2-nistp521", Primitive::ecdh, "SHA-512", "secp521r1"},
    Method{"diffie-hellman-group16-sha512", Primitive::dh, "SHA-512", "modp/ietf/4096"},
    Method{"diffie-hellman-group18-sha512", Primitive::dh, "SHA-512", "modp/ietf/8192"},
    Method{"diffie-hellman-group14-sha256", Primitive::dh, "SHA-256", "modp/ietf/2048"},
};

const Method* find_method(std::string_view name) {
  const auto* found = std::find_if(kMethods.begin(), kMethods.end(), [&](const Method& m) { return m.name == name; });
  return found == kMethods.end() ? nullptr : found;
}

template <class Out = Bytes>
Out without_leading_zeros(ConstBytes value) {
  const auto first = std::find_if(value.begin(), value.end(), [](std::uint8_t b) { return b != 0; });
  return Out(first, value.end());
}

// One exchange: our ephemeral private key and the checks the server's value must pass before it
// goes anywhere near the agreement.
class Agreement : public KeyExchange {
 public:
  explicit Agreement(const Method& method) : method_(method) {}

  KexFamily family() const override { return method_.primitive == Primitive::dh ? KexFamily::dh : KexFamily::ecdh; }
  std::string hash_name() const override { return std::string(method_.hash); }

  runtime::Result<SecretBytes> shared_secret(ConstBytes server_public) override {
    try {
      if (auto refused = check_server_value(server_public)) return runtime::fail(std::move(*refused));
      Botan::PK_Key_Agreement agreement(private_key(), rng_, "Raw");
      const auto agreed_public = agreement_input(server_public);
      const auto secret = agreement.derive_key(0, agreed_public.data(), agreed_public.size()).bits_of();
      if (auto refused = check_secret(secret, server_public)) return runtime::fail(std::move(*refused));
      return finish(secret, server_public);
    } catch (const std::exception& e) {
      return runtime::fail(refusal(fmt::format("key agreement failed: {}", e.what()), server_public));
    }
  }

 protected:
  // The server's value, checked: nullopt when it may be used.
  virtual std::optional<runtime::Error> check_server_value(ConstBytes server_public) const = 0;
  virtual std::optional<runtime::Error> check_secret(const Botan::secure_vector<std::uint8_t>& /*secret*/,
                                                     ConstBytes /*server_public*/) const {
    return std::nullopt;
  }
  virtual const Botan::PK_Key_Agreement_Key& private_key() const = 0;
  // The part of the server's value that the agreement takes.
  virtual ConstBytes agreement_input(ConstBytes server_public) const { return server_public; }
  // K from the agreed secret.
  virtual SecretBytes finish(const Botan::secure_vector<std::uint8_t>& secret, ConstBytes /*server_public*/) const {
    // K is an integer: the fixed-width forms Botan returns (the x coordinate, g^xy mod p padded
    // to the size of p) lose their leading zeros before the caller encodes the mpint.
    return without_leading_zeros<SecretBytes>(secret);
  }

  runtime::Error refusal(std::string reason, ConstBytes server_public) const {
    const bool dh = method_.primitive == Primitive::dh;
    return runtime::Error(runtime::Errc::protocol_error, runtime::Layer::kex,
                          fmt::format("{}: server's {} refused: {}", method_.name, dh ? "f" : "Q_S", reason))
        .with(dh ? "f" : "Q_S", runtime::hex_preview(server_public));
  }

  const Method& method_;
  // The operating system's generator, as everywhere in src/ssh/crypto/: seeding a DRBG of our own
  // for each exchange cost more than the rest of the exchange's setup.
  Botan::RandomNumberGenerator& rng_ = Botan::system_rng();
};

// RFC 8731: X25519 with 32-byte public values.
class Curve25519Agreement : public Agreement {
 public:
  Curve25519Agreement(const Method& method, std::optional<ConstBytes> fixed_private) : Agreement(method) {
    key_ = fixed_private ? std::make_unique<Botan::Curve25519_PrivateKey>(
                               Botan::secure_vector<std::uint8_t>(fixed_private->begin(), fixed_private->end()))
                         : std::make_unique<Botan::Curve25519_PrivateKey>(rng_);
  }

  Bytes client_public() const override { return key_->public_value(); }

 private:
  std::optional<runtime::Error> check_server_value(ConstBytes server_public) const override {
    if (server_public.size() != 32) return refusal("a curve25519 public key is 32 bytes", server_public);
    return std::nullopt;
  }

  // A low-order point forces the all-zero secret whatever our key is (RFC 8731 section 3); X25519
  // itself does not object, so we do.
  std::optional<runtime::Error> check_secret(const Botan::secure_vector<std::uint8_t>& secret,
                                             ConstBytes server_public) const override {
    std::uint8_t any_bit = 0;
    for (const auto byte : secret) any_bit |= byte;
    if (any_bit == 0) return refusal("the shared secret is all zeros (a point of small order)", server_public);
    return std::nullopt;
  }

  const Botan::PK_Key_Agreement_Key& private_key() const override { return *key_; }

  std::unique_ptr<Botan::Curve25519_PrivateKey> key_;
};

// OpenSSH's sntrup761x25519-sha512 (its PROTOCOL, draft-josefsson-ntruprime-ssh): Q_C is an
// sntrup761 public key and an X25519 one, Q_S a ciphertext to the first and an X25519 public key,
// and K = SHA-512(sntrup761 key || X25519 secret), a string rather than an mpint.
class Sntrup761X25519Agreement final : public Curve25519Agreement {
 public:
  static constexpr std::size_t kServerPublicBytes = sntrup761::kCiphertextBytes + 32;

  // A fixed private key is the sntrup761 secret key and then the X25519 scalar.
  Sntrup761X25519Agreement(const Method& method, std::optional<ConstBytes> fixed_private)
      : Curve25519Agreement(method, fixed_private ? std::optional(fixed_private->last(32)) : std::nullopt) {
    if (fixed_private) {
      const auto kem_secret = fixed_private->first(sntrup761::kSecretKeyBytes);
      kem_secret_.assign(kem_secret.begin(), kem_secret.end());
      const auto public_key = kem_secret.subspan(sntrup761::kPublicKeyOffsetInSecretKey, sntrup761::kPublicKeyBytes);
      kem_public_.assign(public_key.begin(), public_key.end());
    } else {
      auto pair = sntrup761::generate_key_pair();
      kem_public_ = std::move(pair.public_key);
      kem_secret_ = std::move(pair.secret_key);
    }
  }

  Bytes client_public() const override {
    Bytes out = kem_public_;
    const auto x25519_public = Curve25519Agreement::client_public();
    out.insert(out.end(), x25519_public.begin(), x25519_public.end());
    return out;
  }

  SecretEncoding secret_encoding() const override { return SecretEncoding::string; }

 private:
  std::optional<runtime::Error> check_server_value(ConstBytes server_public) const override {
    if (server_public.size() != kServerPublicBytes) {
      return refusal(fmt::format("Q_S is {} bytes: an sntrup761 ciphertext ({}) and a curve25519 public key (32)",
                                 kServerPublicBytes, sntrup761::kCiphertextBytes),
                     server_public);
    }
    return std::nullopt;
  }

  ConstBytes agreement_input(ConstBytes server_public) const override {
    return server_public.subspan(sntrup761::kCiphertextBytes);
  }

  SecretBytes finish(const Botan::secure_vector<std::uint8_t>& x25519_secret, ConstBytes server_public) const override {
    const auto kem_key = sntrup761::decapsulate(server_public.first(sntrup761::kCiphertextBytes), kem_secret_);
    const auto sha512 = Botan::HashFunction::create_or_throw("SHA-512");
    sha512->update(kem_key.data(), kem_key.size());
    sha512->update(x25519_secret);
    const auto k = sha512->final();
    return SecretBytes(k.begin(), k.end());
  }

  Bytes kem_public_;
  SecretBytes kem_secret_;
};

// RFC 5656 section 4: Q_C and Q_S are uncompressed points (SEC 1 section 2.3.3), and K is the x
// coordinate of the product.
class EcdhAgreement final : public Agreement {
 public:
  EcdhAgreement(const Method& method, const Botan::BigInt& fixed_private)
      : Agreement(method), group_(std::string(method.group)), key_(rng_, group_, fixed_private) {}

  Bytes client_public() const override { return key_.public_value(); }

 private:
  // Only the uncompressed form, with both coordinates reduced and the point on the curve: the
  // NIST curves have cofactor 1, so that leaves no small subgroup to worry about.
  std::optional<runtime::Error> check_server_value(ConstBytes server_public) const override {
    const auto field_bytes = group_.get_p_bytes();
    if (server_public.size() != 1 + 2 * field_bytes || server_public[0] != 0x04) {
      return refusal(fmt::format("not an uncompressed point (04 || X || Y, {} bytes)", 1 + 2 * field_bytes),
                     server_public);
    }
    const Botan::BigInt x(server_public.data() + 1, field_bytes);
    const Botan::BigInt y(server_public.data() + 1 + field_bytes, field_bytes);
    if (x >= group_.get_p() || y >= group_.get_p()) {
      return refusal("a coordinate is not reduced modulo the field prime", server_public);
    }
    if (!group_.point(x, y).on_the_curve()) return refusal("the point is not on the curve", server_public);
    return std::nullopt;
  }

  const Botan::PK_Key_Agreement_Key& private_key() const override { return key_; }

  Botan::EC_Group group_;
  Botan::ECDH_PrivateKey key_;
};

// RFC 4253 section 8 with the RFC 3526 groups (RFC 8268 names them).
class DhAgreement final : public Agreement {
 public:
  DhAgreement(const Method& method, const Botan::BigInt& fixed_private)
      : Agreement(method), key_(rng_, Botan::DL_Group(std::string(method.group)), fixed_private) {}

  // Botan pads y to the size of p; e is the integer.
  Bytes client_public() const override { return without_leading_zeros(key_.public_value()); }

 private:
  // RFC 4253 section 8 allows [1, p-1]; 1 and p-1 give a K anyone can compute, so as OpenSSH
  // does (dh_pub_is_valid) we take only [2, p-2].
  std::optional<runtime::Error> check_server_value(ConstBytes server_public) const override {
    const Botan::BigInt f(server_public.data(), server_public.size());
    if (f < 2 || f > key_.group_p() - 2) return refusal("f is outside [2, p-2]", server_public);
    return std::nullopt;
  }

  const Botan::PK_Key_Agreement_Key& private_key() const override { return key_; }

  Botan::DH_PrivateKey key_;
};

// A private key of zero makes Botan generate a random one, which is what we want unless a test
// fixed it.
std::unique_ptr<KeyExchange> make(const Method& method, std::optional<ConstBytes> fixed_private) {
  try {
    if (method.primitive == Primitive::sntrup761_x25519) {
      if (fixed_private && fixed_private->size() != sntrup761::kSecretKeyBytes + 32) return nullptr;
      return std::make_unique<Sntrup761X25519Agreement>(method, fixed_private);
    }
    if (method.primitive == Primitive::x25519) {
      if (fixed_private && fixed_private->size() != 32) return nullptr;
      return std::make_unique<Curve25519Agreement>(method, fixed_private);
    }
    const Botan::BigInt exponent =
        fixed_private ? Botan::BigInt(fixed_private->data(), fixed_private->size()) : Botan::BigInt(0);
    if (fixed_private && exponent == 0) return nullptr;
    if (method.primitive == Primitive::ecdh) {
      if (fixed_private && exponent >= Botan::EC_Group(std::string(method.group)).get_order()) return nullptr;
      return std::make_unique<EcdhAgreement>(method, exponent);
    }
    return std::make_unique<DhAgreement>(method, exponent);
  } catch (const std::exception&) {
    // Botan refused the group or the key: we cannot offer this exchange.
    return nullptr;
  }
}

}  // namespace

const std::vector<std::string>& supported_kex() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& method : kMethods) out.emplace_back(method.name);
    return out;
  }();
  return names;
}

std::unique_ptr<KeyExchange> make_key_exchange(std::string_view name) {
  const auto* method = find_method(name);
  return method ? make(*method, std::nullopt) : nullptr;
}

std::unique_ptr<KeyExchange> make_key_exchange_for_test(std::string_view name,
                                                        std::span<const std::uint8_t> private_key) {
  const auto* method = find_method(name);
  return method ? make(*method, private_key) : nullptr;
}

std::vector<std::uint8_t> hash(std::string_view hash_name, std::span<const std::uint8_t> data) {
  if (hash_name != "SHA-256" && hash_name != "SHA-384" && hash_name != "SHA-512") {
    throw std::invalid_argument(fmt::format("ssh::crypto::hash: no hash named \"{}\"", hash_name));
  }
  const auto function = Botan::HashFunction::create_or_throw(std::string(hash_name));
  function->update(data.data(), data.size());
  return Botan::unlock(function->final());
}

}  // namespace cr::ssh::crypto
