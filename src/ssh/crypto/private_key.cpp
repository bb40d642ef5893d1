// PrivateKey: a Botan key that signs the SSH way, and the framing of key files (which armor,
// which reader). The readers live in openssh_key_file.cpp and pem_key_file.cpp.

#include "ssh/crypto/private_key.hpp"

#include <optional>

#include <botan/ecdsa.h>
#include <botan/ed25519.h>
#include <botan/mem_ops.h>
#include <botan/pubkey.h>
#include <botan/rsa.h>
#include <botan/system_rng.h>
#include <fmt/format.h>

#include "ssh/crypto/private_key_file.hpp"
#include "ssh/wire.hpp"

namespace cr::ssh::crypto {
namespace {
constexpr std::string_view kWrongPassphrase = ": wrong passphrase";
}  // namespace

namespace detail {

runtime::Error key_file_error(std::string_view source, std::string_view message) {
  return runtime::Error(runtime::Errc::invalid_argument, runtime::Layer::auth, fmt::format("{}: {}", source, message));
}

runtime::Error corrupt(std::string_view source, std::string_view detail) {
  return key_file_error(source, fmt::format("corrupt private key file: {}", detail));
}

runtime::Error wrong_passphrase(std::string_view source) { return key_file_error(source, kWrongPassphrase.substr(2)); }

runtime::Error passphrase_needed(std::string_view source) {
  return key_file_error(source, "the key is encrypted and no passphrase was given");
}

const SignatureAlgorithm* algorithm_for(const Botan::Private_Key& key) {
  if (dynamic_cast<const Botan::Ed25519_PrivateKey*>(&key)) return find_by_key_type("ssh-ed25519");
  if (dynamic_cast<const Botan::RSA_PrivateKey*>(&key)) return find_by_key_type("ssh-rsa");
  if (const auto* ecdsa = dynamic_cast<const Botan::ECDSA_PrivateKey*>(&key)) {
    for (const auto& algorithm : signature_algorithm_table()) {
      if (algorithm.scheme != Scheme::ecdsa) continue;
      if (ecdsa->domain() == Botan::EC_Group::from_name(algorithm.botan_curve)) return &algorithm;
    }
  }
  return nullptr;
}

std::vector<std::uint8_t> public_key_blob_of(const Botan::Private_Key& key, const SignatureAlgorithm& kind) {
  Writer blob;
  blob.string(kind.key_type);
  switch (kind.scheme) {
    case Scheme::ed25519:
      blob.string(dynamic_cast<const Botan::Ed25519_PrivateKey&>(key).get_public_key());
      break;
    case Scheme::ecdsa: {
      const auto& ecdsa = dynamic_cast<const Botan::ECDSA_PrivateKey&>(key);
      blob.string(kind.curve_id);
      blob.string(ecdsa.raw_public_key_bits());
      break;
    }
    case Scheme::rsa: {
      const auto& rsa = dynamic_cast<const Botan::RSA_PrivateKey&>(key);
      blob.mpint(rsa.get_e().serialize());
      blob.mpint(rsa.get_n().serialize());
      break;
    }
  }
  return blob.take();
}

}  // namespace detail

namespace {

// OpenSSH refuses RSA keys under 1024 bits (SSH_RSA_MINIMUM_MODULUS_SIZE); so would any server.
constexpr std::size_t kRsaMinimumBits = 1024;
// Far above any real key file (a 16384-bit RSA key is about 12 KiB); a bound before decoding.
constexpr std::size_t kMaximumFileSize = 1 << 20;

class SshPrivateKey final : public PrivateKey {
 public:
  SshPrivateKey(detail::LoadedKey loaded, const SignatureAlgorithm& kind)
      : key_(std::move(loaded.key)),
        kind_(kind),
        blob_(detail::public_key_blob_of(*key_, kind)),
        comment_(std::move(loaded.comment)) {}

  std::string key_type() const override { return std::string(kind_.key_type); }
  std::vector<std::uint8_t> public_key_blob() const override { return blob_; }
  std::string comment() const override { return comment_; }

  std::vector<std::string> signature_algorithms() const override { return signature_algorithms_for(kind_.key_type); }

  runtime::Result<std::vector<std::uint8_t>> sign(std::string_view algorithm_name, ConstBytes data) const override {
    const auto* algorithm = find_signature_algorithm(algorithm_name);
    if (!algorithm || algorithm->key_type != kind_.key_type) {
      return runtime::fail(
          runtime::Errc::invalid_argument, runtime::Layer::auth,
          fmt::format("a {} key cannot sign with \"{}\"", kind_.key_type, runtime::printable(algorithm_name, 64)));
    }
    try {
      auto& rng = Botan::system_rng();
      // ECDSA comes out as r || s, each the width of the group order (Botan's IEEE 1363 format).
      Botan::PK_Signer signer(*key_, rng, std::string(algorithm->botan_emsa));
      const auto signature = signer.sign_message(data.data(), data.size(), rng);
      Writer out;
      out.string(algorithm->name);
      if (algorithm->scheme == Scheme::ecdsa) {
        // RFC 5656 section 3.1.2: the signature is mpint r || mpint s inside the string.
        const ConstBytes rs(signature);
        Writer inner;
        inner.mpint(rs.first(rs.size() / 2));
        inner.mpint(rs.subspan(rs.size() / 2));
        out.string(inner.bytes());
      } else {
        out.string(signature);
      }
      return out.take();
    } catch (const std::exception& e) {
      return runtime::fail(std::move(runtime::Error(runtime::Errc::invalid_argument, runtime::Layer::auth,
                                                    fmt::format("signing with {} failed", algorithm->name))
                                         .with("botan", e.what())));
    }
  }

 private:
  std::unique_ptr<Botan::Private_Key> key_;
  const SignatureAlgorithm& kind_;
  std::vector<std::uint8_t> blob_;
  std::string comment_;
};

std::string_view as_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// One "-----BEGIN <label>-----" ... "-----END <label>-----" block.
struct Armor {
  std::string label;
  std::string_view body;   // between the lines
  std::string_view whole;  // BEGIN line through END line
};

std::optional<Armor> find_armor(std::string_view text) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  constexpr std::string_view kDashes = "-----";
  const auto begin = text.find(kBegin);
  if (begin == std::string_view::npos) return std::nullopt;
  const auto label_start = begin + kBegin.size();
  const auto label_end = text.find(kDashes, label_start);
  if (label_end == std::string_view::npos || label_end - label_start > 64) return std::nullopt;
  Armor armor;
  armor.label = std::string(text.substr(label_start, label_end - label_start));
  const auto body_start = label_end + kDashes.size();
  const std::string end_line = fmt::format("-----END {}-----", armor.label);
  const auto end = text.find(end_line, body_start);
  if (end == std::string_view::npos) return std::nullopt;
  armor.body = text.substr(body_start, end - body_start);
  armor.whole = text.substr(begin, end + end_line.size() - begin);
  return armor;
}

runtime::Result<Armor> frame(std::span<const std::uint8_t> file_contents, std::string_view source) {
  if (file_contents.size() > kMaximumFileSize) {
    return runtime::fail(detail::key_file_error(
        source, fmt::format("not a private key file: {} bytes is more than any key file holds", file_contents.size())));
  }
  const auto text = as_text(file_contents);
  auto armor = find_armor(text);
  if (armor) return std::move(*armor);
  const auto start = text.substr(0, text.find_first_of("\r\n"));
  if (start.starts_with("ssh-") || start.starts_with("ecdsa-")) {
    return runtime::fail(detail::key_file_error(source, "is a public key; give the private key file (without .pub)"));
  }
  return runtime::fail(std::move(
      detail::key_file_error(source, "not a private key file: no complete \"-----BEGIN ... PRIVATE KEY-----\" block")
          .with("start", runtime::printable(start, 64))));
}

bool is_openssh(const Armor& armor) { return armor.label == "OPENSSH PRIVATE KEY"; }

}  // namespace

std::vector<std::string> signature_algorithms_for(std::string_view key_type) {
  std::vector<std::string> names;
  for (const auto& algorithm : signature_algorithm_table()) {
    if (algorithm.key_type == key_type) names.emplace_back(algorithm.name);
  }
  return names;
}

bool is_wrong_passphrase(const runtime::Error& error) {
  return error.layer == runtime::Layer::auth && error.message.ends_with(kWrongPassphrase);
}

bool private_key_is_encrypted(std::span<const std::uint8_t> file_contents) {
  const auto armor = frame(file_contents, "");
  if (!armor) return false;
  if (!is_openssh(*armor)) return detail::pem_key_is_encrypted(armor->whole, armor->label);
  const auto encrypted = detail::openssh_key_is_encrypted(armor->body, "");
  return encrypted && *encrypted;
}

runtime::Result<std::unique_ptr<PrivateKey>> parse_private_key(std::span<const std::uint8_t> file_contents,
                                                               std::string_view passphrase, std::string_view source) {
  auto armor = frame(file_contents, source);
  if (!armor) return runtime::fail(std::move(armor.error()));
  auto loaded = is_openssh(*armor) ? detail::read_openssh_key(armor->body, passphrase, source)
                                   : detail::read_pem_key(armor->whole, armor->label, passphrase, source);
  if (!loaded) return runtime::fail(std::move(loaded.error()));
  const auto* kind = detail::algorithm_for(*loaded->key);
  if (!kind) {
    return runtime::fail(detail::key_file_error(
        source, fmt::format("unsupported key type {}: we sign with ed25519, ecdsa nistp256/384/521 and RSA keys",
                            loaded->key->algo_name())));
  }
  if (kind->scheme == Scheme::rsa && loaded->key->key_length() < kRsaMinimumBits) {
    return runtime::fail(
        detail::key_file_error(source, fmt::format("RSA key of {} bits is too small (servers refuse under {})",
                                                   loaded->key->key_length(), kRsaMinimumBits)));
  }
  return std::make_unique<SshPrivateKey>(std::move(*loaded), *kind);
}

}  // namespace cr::ssh::crypto
