#include "ssh/crypto/host_key.hpp"

#include <algorithm>
#include <memory>
#include <optional>

#include <botan/base64.h>
#include <botan/bigint.h>
#include <botan/ec_apoint.h>
#include <botan/ec_group.h>
#include <botan/ecc_key.h>
#include <botan/ecdsa.h>
#include <botan/ed25519.h>
#include <botan/hex.h>
#include <botan/pubkey.h>
#include <fmt/format.h>

#include "ssh/crypto/kex.hpp"
#include "ssh/crypto/rsa_verify.hpp"
#include "ssh/crypto/signature_algorithm.hpp"
#include "ssh/integrity.hpp"
#include "ssh/wire.hpp"

namespace cr::ssh::crypto {
namespace {

using ConstBytes = std::span<const std::uint8_t>;

using HostKeyAlgorithm = SignatureAlgorithm;

// The table's last entry, "ssh-rsa" (SHA-1), is off by default: a caller enables it explicitly.
std::span<const HostKeyAlgorithm> default_algorithms() {
  const auto all = signature_algorithm_table();
  return all.first(all.size() - 1);
}

// OpenSSH's limits (SSH_RSA_MINIMUM_MODULUS_SIZE, SSH_RSA_MAXIMUM_MODULUS_SIZE): below is weak,
// above is a denial of service in the making.
constexpr std::size_t kRsaMinimumBits = 1024;
constexpr std::size_t kRsaMaximumBits = 16384;

const HostKeyAlgorithm* find_algorithm(std::string_view name) { return find_signature_algorithm(name); }

runtime::Error kex_error(std::string message) {
  return runtime::Error(runtime::Errc::protocol_error, runtime::Layer::kex, std::move(message));
}

// The wire Reader reports a transport error; a bad host key or signature is a kex failure.
runtime::Error as_kex_error(runtime::Error error) {
  error.layer = runtime::Layer::kex;
  return error;
}

// A public key parsed from its blob and ready for Botan, or the reason it is unusable.
using PublicKey = runtime::Result<std::unique_ptr<Botan::Public_Key>>;

PublicKey ed25519_key(Reader& blob) {
  const auto point = blob.string();
  if (auto done = blob.finish(true); !done) return runtime::fail(as_kex_error(done.error()));
  if (point.size() != 32)
    return runtime::fail(kex_error(fmt::format("ssh-ed25519 key is {} bytes, not 32", point.size())));
  return std::make_unique<Botan::Ed25519_PublicKey>(point.data(), point.size());
}

PublicKey ecdsa_key(const HostKeyAlgorithm& algorithm, Reader& blob) {
  const auto curve_id = blob.text();
  const auto point = blob.string();
  if (auto done = blob.finish(true); !done) return runtime::fail(as_kex_error(done.error()));
  if (curve_id != algorithm.curve_id) {
    return runtime::fail(kex_error(fmt::format("{} key names curve \"{}\", not \"{}\"", algorithm.key_type,
                                               runtime::printable(curve_id, 64), algorithm.curve_id)));
  }
  const auto group = Botan::EC_Group::from_name(algorithm.botan_curve);
  const auto field_bytes = group.get_p_bytes();
  if (point.size() != 1 + 2 * field_bytes || point[0] != 0x04) {
    return runtime::fail(kex_error(fmt::format("{} key is not an uncompressed point", algorithm.key_type))
                             .with("point", runtime::hex_preview(point)));
  }
  const Botan::BigInt x(point.data() + 1, field_bytes);
  const Botan::BigInt y(point.data() + 1 + field_bytes, field_bytes);
  const auto not_on_curve = [&] {
    return runtime::fail(kex_error(fmt::format("{} key is not a point on the curve", algorithm.key_type))
                             .with("point", runtime::hex_preview(point)));
  };
  if (x >= group.get_p() || y >= group.get_p()) return not_on_curve();
  const auto public_point = Botan::EC_AffinePoint::deserialize(group, point);
  if (!public_point) return not_on_curve();
  return std::make_unique<Botan::ECDSA_PublicKey>(group, *public_point);
}

// Whether an RSA signature verifies; an error when the key is unusable.
runtime::Result<bool> rsa_signature_valid(const HostKeyAlgorithm& algorithm, Reader& blob, ConstBytes signature,
                                          ConstBytes data) {
  const auto exponent = blob.mpint();
  const auto modulus = blob.mpint();
  if (auto done = blob.finish(true); !done) return runtime::fail(as_kex_error(done.error()));
  const auto bits = Botan::BigInt(modulus.data(), modulus.size()).bits();
  if (bits < kRsaMinimumBits || bits > kRsaMaximumBits) {
    return runtime::fail(kex_error(fmt::format("ssh-rsa key has a {}-bit modulus, outside [{}, {}] bits", bits,
                                               kRsaMinimumBits, kRsaMaximumBits)));
  }
  // RFC 8332 wants the modulus length; OpenSSH accepts shorter (a leading zero dropped), so do we.
  const auto verdict = rsa_pkcs1v15_verify(modulus, exponent, algorithm.rsa_hash, signature, data);
  if (verdict == RsaVerdict::key_unusable) {
    return runtime::fail(
        kex_error("ssh-rsa key has an unusable public exponent").with("e", runtime::hex_preview(exponent)));
  }
  return verdict == RsaVerdict::valid;
}

// Botan's form of an ssh-ed25519 or ECDSA signature, from what the signature blob carries.
runtime::Result<std::vector<std::uint8_t>> botan_signature(const HostKeyAlgorithm& algorithm,
                                                           const Botan::Public_Key& key, ConstBytes signature) {
  if (algorithm.scheme == Scheme::ed25519) {
    if (signature.size() != 64) {
      return runtime::fail(kex_error(fmt::format("ssh-ed25519 signature is {} bytes, not 64", signature.size())));
    }
    return std::vector<std::uint8_t>(signature.begin(), signature.end());
  }
  // RFC 5656 section 3.1.2: mpint r, mpint s. Botan wants r || s, each the size of the order.
  Reader rs(signature, fmt::format("{} signature", algorithm.name));
  const auto r = rs.mpint();
  const auto s = rs.mpint();
  if (auto done = rs.finish(true); !done) return runtime::fail(as_kex_error(done.error()));
  const auto width = dynamic_cast<const Botan::EC_PublicKey&>(key).domain().get_order_bytes();
  if (r.size() > width || s.size() > width) {
    return runtime::fail(kex_error(fmt::format("{} signature has r or s longer than the group order", algorithm.name)));
  }
  std::vector<std::uint8_t> fixed(2 * width, 0);
  std::copy(r.begin(), r.end(), fixed.begin() + static_cast<std::ptrdiff_t>(width - r.size()));
  std::copy(s.begin(), s.end(), fixed.end() - static_cast<std::ptrdiff_t>(s.size()));
  return fixed;
}

// Whether an ssh-ed25519 or ECDSA signature verifies; an error when the key or signature is malformed.
runtime::Result<bool> botan_signature_valid(const HostKeyAlgorithm& algorithm, Reader& blob, ConstBytes signature,
                                            ConstBytes data) {
  PublicKey key = algorithm.scheme == Scheme::ed25519 ? ed25519_key(blob) : ecdsa_key(algorithm, blob);
  if (!key) return runtime::fail(std::move(key.error()));
  const auto botan_form = botan_signature(algorithm, **key, signature);
  if (!botan_form) return runtime::fail(botan_form.error());
  Botan::PK_Verifier verifier(**key, std::string(algorithm.botan_emsa));
  return verifier.verify_message(data.data(), data.size(), botan_form->data(), botan_form->size());
}

runtime::Result<void> verify(const HostKeyAlgorithm& algorithm, ConstBytes key_blob, ConstBytes signature_blob,
                             ConstBytes data) {
  Reader key_reader(key_blob, "host key blob");
  const auto key_type = key_reader.text();
  if (key_reader.failed()) return runtime::fail(as_kex_error(*key_reader.error()));
  if (key_type != algorithm.key_type) {
    return runtime::fail(kex_error(fmt::format("host key is of type \"{}\", but {} needs a {} key",
                                               runtime::printable(key_type, 64), algorithm.name, algorithm.key_type)));
  }

  Reader signature_reader(signature_blob, "host key signature");
  const auto format = signature_reader.text();
  const auto signature = signature_reader.string();
  if (auto done = signature_reader.finish(true); !done) return runtime::fail(as_kex_error(done.error()));
  // The format-id must be the negotiated algorithm: an rsa-sha2-256 signature offered when we
  // agreed on rsa-sha2-512 is a downgrade, not a detail.
  if (format != algorithm.name) {
    return runtime::fail(kex_error(fmt::format("signature is \"{}\", but the negotiated host key algorithm is {}",
                                               runtime::printable(format, 64), algorithm.name)));
  }

  const auto valid = algorithm.scheme == Scheme::rsa ? rsa_signature_valid(algorithm, key_reader, signature, data)
                                                     : botan_signature_valid(algorithm, key_reader, signature, data);
  if (!valid) return runtime::fail(valid.error());
  if (!*valid) {
    return runtime::fail(
        mark_altered(kex_error(fmt::format("{} signature does not verify with the server's host key", algorithm.name)),
                     "the host key's signature over the exchange hash does not verify"));
  }
  return {};
}

}  // namespace

const std::vector<std::string>& supported_host_key_algorithms() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& algorithm : default_algorithms()) out.emplace_back(algorithm.name);
    return out;
  }();
  return names;
}

std::string_view key_type_for(std::string_view host_key_algorithm) {
  const auto* algorithm = find_algorithm(host_key_algorithm);
  return algorithm ? algorithm->key_type : host_key_algorithm;
}

runtime::Result<void> verify_host_signature(std::string_view host_key_algorithm, std::span<const std::uint8_t> key_blob,
                                            std::span<const std::uint8_t> signature_blob,
                                            std::span<const std::uint8_t> data) {
  const auto* algorithm = find_algorithm(host_key_algorithm);
  if (!algorithm) {
    return runtime::fail(kex_error(
        fmt::format("host key algorithm \"{}\" is not one we can verify", runtime::printable(host_key_algorithm, 64))));
  }
  auto verified = [&]() -> runtime::Result<void> {
    try {
      return verify(*algorithm, key_blob, signature_blob, data);
    } catch (const std::exception& e) {
      return runtime::fail(kex_error(fmt::format("{} host key or signature refused: {}", algorithm->name, e.what())));
    }
  }();
  if (!verified) {
    verified.error().with("host key algorithm", std::string(algorithm->name));
    verified.error().with("host key", fingerprint_sha256(key_blob));
  }
  return verified;
}

std::string fingerprint_sha256(std::span<const std::uint8_t> key_blob) {
  const auto digest = hash("SHA-256", key_blob);
  auto encoded = Botan::base64_encode(digest.data(), digest.size());
  encoded.erase(encoded.find_last_not_of('=') + 1);
  return "SHA256:" + encoded;
}

runtime::Result<std::string> key_blob_type(std::span<const std::uint8_t> key_blob) {
  Reader blob(key_blob, "host key blob");
  auto type = blob.text();
  if (auto done = blob.finish(); !done) return runtime::fail(as_kex_error(done.error()));
  return type;
}

}  // namespace cr::ssh::crypto
