#include "ssh/crypto/kex.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include <botan/bigint.h>
#include <botan/dh.h>
#include <botan/dl_group.h>
#include <botan/ec_group.h>
#include <botan/ec_apoint.h>
#include <botan/ec_scalar.h>
#include <botan/ecdh.h>
#include <botan/hash.h>
#include <botan/ml_kem.h>
#include <botan/pubkey.h>
#include <botan/system_rng.h>
#include <botan/x25519.h>
#include <fmt/format.h>

#include "ssh/crypto/sntrup761.hpp"

namespace cr::ssh::crypto {
namespace {

using Bytes = std::vector<std::uint8_t>;
using ConstBytes = std::span<const std::uint8_t>;

enum class Primitive { mlkem768_x25519, sntrup761_x25519, x25519, ecdh, dh };

struct Method {
  std::string_view name;
  Primitive primitive;
  std::string_view hash;
  // Botan's name for the group: an EC_Group for ecdh, a DL_Group (RFC 3526) for dh.
  std::string_view group;
};

// In our preference order: OpenSSH 10's, post-quantum hybrids first.
constexpr std::array kMethods{
    Method{"mlkem768x25519-sha256", Primitive::mlkem768_x25519, "SHA-256", ""},
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
      return finish(secret, server_public);
    } catch (const std::exception& e) {
      return runtime::fail(refusal(fmt::format("key agreement failed: {}", e.what()), server_public));
    }
  }

 protected:
  // The server's value, checked: nullopt when it may be used.
  virtual std::optional<runtime::Error> check_server_value(ConstBytes server_public) const = 0;
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

// RFC 8731: X25519 with 32-byte public values. A point of small order forces the all-zero secret
// whatever our key is (RFC 8731 section 3); Botan refuses it ("appears to be of low order").
class Curve25519Agreement : public Agreement {
 public:
  Curve25519Agreement(const Method& method, std::optional<ConstBytes> fixed_private) : Agreement(method) {
    key_ = fixed_private ? std::make_unique<Botan::X25519_PrivateKey>(
                               Botan::secure_vector<std::uint8_t>(fixed_private->begin(), fixed_private->end()))
                         : std::make_unique<Botan::X25519_PrivateKey>(rng_);
  }

  Bytes client_public() const override { return key_->public_value(); }

 protected:
  std::optional<runtime::Error> check_server_value(ConstBytes server_public) const override {
    if (server_public.size() != 32) return refusal("a curve25519 public key is 32 bytes", server_public);
    return std::nullopt;
  }

 private:
  const Botan::PK_Key_Agreement_Key& private_key() const override { return *key_; }

  std::unique_ptr<Botan::X25519_PrivateKey> key_;
};

// The key encapsulation half of a hybrid exchange: our key pair, and the server's ciphertext
// opened with it.
class Kem {
 public:
  virtual ~Kem() = default;
  virtual std::string_view name() const = 0;
  virtual const Bytes& public_key() const = 0;
  virtual std::size_t ciphertext_bytes() const = 0;
  virtual SecretBytes decapsulate(ConstBytes ciphertext) const = 0;
};

class Sntrup761Kem final : public Kem {
 public:
  static constexpr std::size_t kFixedPrivateBytes = sntrup761::kSecretKeyBytes;

  explicit Sntrup761Kem(std::optional<ConstBytes> fixed_private) {
    if (fixed_private) {
      secret_.assign(fixed_private->begin(), fixed_private->end());
      const auto public_key =
          fixed_private->subspan(sntrup761::kPublicKeyOffsetInSecretKey, sntrup761::kPublicKeyBytes);
      public_.assign(public_key.begin(), public_key.end());
    } else {
      auto pair = sntrup761::generate_key_pair();
      public_ = std::move(pair.public_key);
      secret_ = std::move(pair.secret_key);
    }
  }

  std::string_view name() const override { return "sntrup761"; }
  const Bytes& public_key() const override { return public_; }
  std::size_t ciphertext_bytes() const override { return sntrup761::kCiphertextBytes; }
  SecretBytes decapsulate(ConstBytes ciphertext) const override { return sntrup761::decapsulate(ciphertext, secret_); }

 private:
  Bytes public_;
  SecretBytes secret_;
};

// FIPS 203 ML-KEM-768. A fixed private key is the 64-byte seed (d || z) that FIPS 203 keys are
// made from.
class MlKem768 final : public Kem {
 public:
  static constexpr std::size_t kFixedPrivateBytes = 64;
  static constexpr std::size_t kCiphertextBytes = 1088;

  MlKem768(std::optional<ConstBytes> fixed_private, Botan::RandomNumberGenerator& rng)
      : rng_(rng),
        key_(fixed_private ? Botan::ML_KEM_PrivateKey(*fixed_private, Botan::ML_KEM_Mode::ML_KEM_768)
                           : Botan::ML_KEM_PrivateKey(rng, Botan::ML_KEM_Mode::ML_KEM_768)),
        public_(key_.public_key_bits()) {}

  std::string_view name() const override { return "ML-KEM-768"; }
  const Bytes& public_key() const override { return public_; }
  std::size_t ciphertext_bytes() const override { return kCiphertextBytes; }
  // A ciphertext that was tampered with still opens, to a key the server does not have (FIPS 203's
  // implicit rejection): the exchange then fails when the server's signature does not verify.
  SecretBytes decapsulate(ConstBytes ciphertext) const override {
    Botan::PK_KEM_Decryptor decryptor(key_, rng_, "Raw");
    const auto key = decryptor.decrypt(ciphertext.data(), ciphertext.size(), 0);
    return SecretBytes(key.begin(), key.end());
  }

 private:
  Botan::RandomNumberGenerator& rng_;
  Botan::ML_KEM_PrivateKey key_;
  Bytes public_;
};

// A post-quantum KEM beside X25519, as OpenSSH defines its hybrids (mlkem768x25519-sha256 in
// draft-ietf-sshm-mlkem-hybrid-kex, sntrup761x25519-sha512 in draft-josefsson-ntruprime-ssh): Q_C
// is the KEM public key and then an X25519 one, Q_S a ciphertext to the first and then an X25519
// public key, and K = HASH(KEM key || X25519 secret), a string rather than an mpint.
class HybridAgreement final : public Curve25519Agreement {
 public:
  // A fixed private key is the KEM's and then the X25519 scalar.
  HybridAgreement(const Method& method, std::unique_ptr<Kem> kem, std::optional<ConstBytes> fixed_x25519)
      : Curve25519Agreement(method, fixed_x25519), kem_(std::move(kem)) {}

  Bytes client_public() const override {
    Bytes out = kem_->public_key();
    const auto x25519_public = Curve25519Agreement::client_public();
    out.insert(out.end(), x25519_public.begin(), x25519_public.end());
    return out;
  }

  SecretEncoding secret_encoding() const override { return SecretEncoding::string; }

 private:
  std::optional<runtime::Error> check_server_value(ConstBytes server_public) const override {
    if (server_public.size() != kem_->ciphertext_bytes() + 32) {
      return refusal(fmt::format("Q_S must be {} bytes: the {} ciphertext ({}) and a curve25519 public key (32)",
                                 kem_->ciphertext_bytes() + 32, kem_->name(), kem_->ciphertext_bytes()),
                     server_public);
    }
    return std::nullopt;
  }

  ConstBytes agreement_input(ConstBytes server_public) const override {
    return server_public.subspan(kem_->ciphertext_bytes());
  }

  SecretBytes finish(const Botan::secure_vector<std::uint8_t>& x25519_secret, ConstBytes server_public) const override {
    const auto kem_key = kem_->decapsulate(server_public.first(kem_->ciphertext_bytes()));
    const auto function = Botan::HashFunction::create_or_throw(std::string(method_.hash));
    function->update(kem_key.data(), kem_key.size());
    function->update(x25519_secret);
    const auto k = function->final();
    return SecretBytes(k.begin(), k.end());
  }

  std::unique_ptr<Kem> kem_;
};

// RFC 5656 section 4: Q_C and Q_S are uncompressed points (SEC 1 section 2.3.3), and K is the x
// coordinate of the product.
class EcdhAgreement final : public Agreement {
 public:
  EcdhAgreement(const Method& method, Botan::EC_Group group, std::optional<Botan::EC_Scalar> fixed_private)
      : Agreement(method),
        group_(std::move(group)),
        key_(fixed_private ? Botan::ECDH_PrivateKey(group_, *fixed_private) : Botan::ECDH_PrivateKey(rng_, group_)) {}

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
    if (!Botan::EC_AffinePoint::deserialize(group_, server_public)) {
      return refusal("the point is not on the curve", server_public);
    }
    return std::nullopt;
  }

  const Botan::PK_Key_Agreement_Key& private_key() const override { return key_; }

  Botan::EC_Group group_;
  Botan::ECDH_PrivateKey key_;
};

// RFC 4253 section 8 with the RFC 3526 groups (RFC 8268 names them).
class DhAgreement final : public Agreement {
 public:
  DhAgreement(const Method& method, const Botan::DL_Group& group, std::optional<Botan::BigInt> fixed_private)
      : Agreement(method),
        key_(fixed_private ? Botan::DH_PrivateKey(group, *fixed_private) : Botan::DH_PrivateKey(rng_, group)) {}

  // Botan pads y to the size of p; e is the integer.
  Bytes client_public() const override { return without_leading_zeros(key_.public_value()); }

 private:
  // RFC 4253 section 8 allows [1, p-1]; 1 and p-1 give a K anyone can compute, so as OpenSSH
  // does (dh_pub_is_valid) we take only [2, p-2].
  std::optional<runtime::Error> check_server_value(ConstBytes server_public) const override {
    const Botan::BigInt f(server_public.data(), server_public.size());
    if (f < 2 || f > key_.group().get_p() - 2) return refusal("f is outside [2, p-2]", server_public);
    return std::nullopt;
  }

  const Botan::PK_Key_Agreement_Key& private_key() const override { return key_; }

  Botan::DH_PrivateKey key_;
};

// A hybrid's fixed private key: the KEM's, then the X25519 scalar.
template <class KemType, class... Args>
std::unique_ptr<KeyExchange> make_hybrid(const Method& method, std::optional<ConstBytes> fixed_private, Args&... args) {
  if (!fixed_private)
    return std::make_unique<HybridAgreement>(method, std::make_unique<KemType>(std::nullopt, args...), std::nullopt);
  if (fixed_private->size() != KemType::kFixedPrivateBytes + 32) return nullptr;
  return std::make_unique<HybridAgreement>(
      method, std::make_unique<KemType>(fixed_private->first(KemType::kFixedPrivateBytes), args...),
      fixed_private->last(32));
}

std::unique_ptr<KeyExchange> make(const Method& method, std::optional<ConstBytes> fixed_private) {
  try {
    switch (method.primitive) {
      case Primitive::mlkem768_x25519:
        return make_hybrid<MlKem768>(method, fixed_private, Botan::system_rng());
      case Primitive::sntrup761_x25519:
        return make_hybrid<Sntrup761Kem>(method, fixed_private);
      case Primitive::x25519:
        if (fixed_private && fixed_private->size() != 32) return nullptr;
        return std::make_unique<Curve25519Agreement>(method, fixed_private);
      case Primitive::ecdh: {
        auto group = Botan::EC_Group::from_name(method.group);
        std::optional<Botan::EC_Scalar> exponent;
        if (fixed_private) {
          const Botan::BigInt value(fixed_private->data(), fixed_private->size());
          if (value == 0 || value >= group.get_order()) return nullptr;
          exponent = Botan::EC_Scalar::from_bigint(group, value);
        }
        return std::make_unique<EcdhAgreement>(method, std::move(group), std::move(exponent));
      }
      case Primitive::dh: {
        std::optional<Botan::BigInt> exponent;
        if (fixed_private) {
          exponent = Botan::BigInt(fixed_private->data(), fixed_private->size());
          if (*exponent == 0) return nullptr;
        }
        return std::make_unique<DhAgreement>(method, Botan::DL_Group::from_name(method.group), std::move(exponent));
      }
    }
    return nullptr;
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
