// PEM key files that `ssh-keygen -m PEM` / `-m PKCS8` and OpenSSL write, read through Botan:
// PKCS#8 "PRIVATE KEY" and "ENCRYPTED PRIVATE KEY" (PKCS8::load_key), and the traditional
// "RSA PRIVATE KEY" (PKCS#1) and "EC PRIVATE KEY" (RFC 5915), which Botan's load_key refuses
// by label but whose DER its key classes read. Traditional files may be encrypted the way
// OpenSSL does it (RFC 1421 headers "Proc-Type: 4,ENCRYPTED" and "DEK-Info: cipher,IV"), which
// OpenSSH wrote by default before 7.8, so old id_rsa files are this; Botan has no reader for
// it, so the key derivation (OpenSSL's EVP_BytesToKey with MD5, one round) is done here.

#include <algorithm>
#include <array>

#include <botan/asn1_obj.h>
#include <botan/base64.h>
#include <botan/ber_dec.h>
#include <botan/cipher_mode.h>
#include <botan/data_src.h>
#include <botan/ecdsa.h>
#include <botan/hash.h>
#include <botan/hex.h>
#include <botan/pem.h>
#include <botan/pkcs8.h>
#include <botan/rsa.h>
#include <fmt/format.h>

#include "ssh/crypto/private_key_file.hpp"

namespace cr::ssh::crypto::detail {
namespace {

using Secure = Botan::secure_vector<std::uint8_t>;

bool has_legacy_encryption(std::string_view armored) {
  return armored.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
}

Secure pem_body(std::string_view armored) {
  Botan::DataSource_Memory source{std::string(armored)};
  std::string label;
  return Botan::PEM_Code::decode(source, label);
}

// RFC 5915: ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING,
// parameters [0] OID OPTIONAL, publicKey [1] BIT STRING OPTIONAL }. Botan takes the curve from
// an AlgorithmIdentifier, so read the [0] OID out first.
std::unique_ptr<Botan::Private_Key> ec_private_key(const Secure& der) {
  Botan::BigInt scalar;
  Botan::OID curve;
  Botan::BER_Decoder(der)
      .start_sequence()
      .decode_and_check<std::size_t>(1, "unknown ECPrivateKey version")
      .decode_octet_string_bigint(scalar)
      .decode_optional(curve, Botan::ASN1_Type(0), Botan::ASN1_Class::ExplicitContextSpecific, Botan::OID())
      .discard_remaining()
      .end_cons();
  if (curve.empty()) throw Botan::Decoding_Error("the EC PRIVATE KEY names no curve");
  const Botan::AlgorithmIdentifier algorithm(Botan::OID::from_string("ECDSA"), curve.BER_encode());
  return std::make_unique<Botan::ECDSA_PrivateKey>(algorithm, der);
}

// An "ENCRYPTED PRIVATE KEY" whose outer structure reads: what fails after this is the passphrase.
bool encrypted_pkcs8_structure_reads(std::string_view armored) {
  try {
    const auto der = pem_body(armored);
    Botan::AlgorithmIdentifier scheme;
    std::vector<std::uint8_t> encrypted;
    Botan::BER_Decoder(der).start_sequence().decode(scheme).decode(encrypted, Botan::ASN1_Type::OctetString).end_cons();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// The DER of an "RSA PRIVATE KEY" or "EC PRIVATE KEY".
std::unique_ptr<Botan::Private_Key> traditional_key(std::string_view label, const Secure& der) {
  if (label == "RSA PRIVATE KEY") return std::make_unique<Botan::RSA_PrivateKey>(Botan::AlgorithmIdentifier(), der);
  return ec_private_key(der);
}

std::unique_ptr<Botan::Private_Key> load(std::string_view armored, std::string_view label,
                                         std::string_view passphrase) {
  Botan::DataSource_Memory source{std::string(armored)};
  if (label == "ENCRYPTED PRIVATE KEY") return Botan::PKCS8::load_key(source, std::string(passphrase));
  if (label == "PRIVATE KEY") return Botan::PKCS8::load_key(source);
  return traditional_key(label, pem_body(armored));
}

// OpenSSL's names in DEK-Info, and Botan's.
struct LegacyCipher {
  std::string_view name;
  std::string_view botan;
  std::size_t key_size;
  std::size_t iv_size;  // also the block size
};

constexpr std::array kLegacyCiphers{
    LegacyCipher{"AES-128-CBC", "AES-128/CBC/PKCS7", 16, 16},
    LegacyCipher{"AES-192-CBC", "AES-192/CBC/PKCS7", 24, 16},
    LegacyCipher{"AES-256-CBC", "AES-256/CBC/PKCS7", 32, 16},
    LegacyCipher{"DES-EDE3-CBC", "TripleDES/CBC/PKCS7", 24, 8},
};

// The "Name: value" header lines between the BEGIN line and the first empty line, and the body.
struct LegacyPem {
  std::string dek_info;
  std::string_view body;
};

LegacyPem split_headers(std::string_view armored) {
  LegacyPem pem;
  std::size_t at = armored.find('\n');
  while (at != std::string_view::npos) {
    const auto start = at + 1;
    const auto end = armored.find('\n', start);
    auto line = armored.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    at = end;
    if (line.empty()) break;
    if (line.starts_with("DEK-Info:")) pem.dek_info = std::string(line.substr(9));
  }
  const auto end_line = armored.rfind("-----END");  // there is one: find_armor made sure
  const auto body_start = at == std::string_view::npos ? end_line : std::min(at + 1, end_line);
  pem.body = armored.substr(body_start, end_line - body_start);
  return pem;
}

// OpenSSL's EVP_BytesToKey with MD5 and one round: D1 = MD5(passphrase || salt),
// Di = MD5(Di-1 || passphrase || salt), concatenated to the key size; the salt is the IV's first
// 8 bytes.
Secure legacy_key(std::string_view passphrase, const std::vector<std::uint8_t>& iv, std::size_t size) {
  const auto md5 = Botan::HashFunction::create_or_throw("MD5");
  Secure key;
  Secure block;
  while (key.size() < size) {
    md5->update(block);
    md5->update(reinterpret_cast<const std::uint8_t*>(passphrase.data()), passphrase.size());
    md5->update(iv.data(), 8);
    block = md5->final();
    key.insert(key.end(), block.begin(), block.end());
  }
  key.resize(size);
  return key;
}

runtime::Result<Secure> decrypt_legacy(std::string_view armored, std::string_view passphrase, std::string_view source) {
  const auto pem = split_headers(armored);
  const auto comma = pem.dek_info.find(',');
  std::string name = pem.dek_info.substr(0, comma);
  name.erase(0, name.find_first_not_of(' '));
  const auto* cipher =
      std::find_if(kLegacyCiphers.begin(), kLegacyCiphers.end(), [&](const LegacyCipher& c) { return c.name == name; });
  if (cipher == kLegacyCiphers.end()) {
    return runtime::fail(key_file_error(
        source, fmt::format("unsupported PEM encryption \"{}\"; convert the key with `ssh-keygen -p -f FILE`, which "
                            "rewrites it in OpenSSH's format",
                            runtime::printable(name, 64))));
  }
  std::vector<std::uint8_t> iv;
  Secure data;
  try {
    iv = Botan::hex_decode(comma == std::string::npos ? std::string() : pem.dek_info.substr(comma + 1));
    data = Botan::base64_decode(pem.body.data(), pem.body.size(), true);
  } catch (const std::exception&) {
    return runtime::fail(corrupt(source, "the DEK-Info IV or the body does not decode"));
  }
  if (iv.size() != cipher->iv_size || data.empty() || data.size() % cipher->iv_size != 0) {
    return runtime::fail(corrupt(
        source, fmt::format("a {}-byte IV and a {}-byte body do not fit {}", iv.size(), data.size(), cipher->name)));
  }
  if (passphrase.empty()) return runtime::fail(passphrase_needed(source));
  const auto key = legacy_key(passphrase, iv, cipher->key_size);
  const auto mode = Botan::Cipher_Mode::create_or_throw(std::string(cipher->botan), Botan::Cipher_Dir::Decryption);
  mode->set_key(key);
  mode->start(iv);
  try {
    mode->finish(data);
  } catch (const std::exception&) {
    // CBC padding that does not check out: the key was wrong (or the body damaged).
    return runtime::fail(wrong_passphrase(source));
  }
  return data;
}

runtime::Result<LoadedKey> read_legacy_encrypted(std::string_view armored, std::string_view label,
                                                 std::string_view passphrase, std::string_view source) {
  if (label != "RSA PRIVATE KEY" && label != "EC PRIVATE KEY") {
    return runtime::fail(key_file_error(source, fmt::format("a {} with PEM encryption headers", label)));
  }
  auto der = decrypt_legacy(armored, passphrase, source);
  if (!der) return runtime::fail(std::move(der.error()));
  try {
    return LoadedKey{traditional_key(label, *der), ""};
  } catch (const std::exception& e) {
    // Padding passes by chance for about one wrong key in 256; then the DER does not decode.
    return runtime::fail(std::move(wrong_passphrase(source).with("botan", e.what())));
  }
}

}  // namespace

bool pem_key_is_encrypted(std::string_view armored, std::string_view label) {
  return label == "ENCRYPTED PRIVATE KEY" || has_legacy_encryption(armored);
}

runtime::Result<LoadedKey> read_pem_key(std::string_view armored, std::string_view label, std::string_view passphrase,
                                        std::string_view source) {
  if (label != "PRIVATE KEY" && label != "ENCRYPTED PRIVATE KEY" && label != "RSA PRIVATE KEY" &&
      label != "EC PRIVATE KEY") {
    return runtime::fail(key_file_error(
        source, fmt::format("unsupported PEM block \"{}\": not a private key we read", runtime::printable(label, 64))));
  }
  if (has_legacy_encryption(armored)) {
    try {
      return read_legacy_encrypted(armored, label, passphrase, source);
    } catch (const std::exception& e) {
      return runtime::fail(corrupt(source, e.what()));
    }
  }
  const bool encrypted = label == "ENCRYPTED PRIVATE KEY";
  if (encrypted && passphrase.empty()) return runtime::fail(passphrase_needed(source));
  if (encrypted && !encrypted_pkcs8_structure_reads(armored)) {
    return runtime::fail(corrupt(source, "the ENCRYPTED PRIVATE KEY structure does not decode"));
  }
  try {
    return LoadedKey{load(armored, label, passphrase), ""};
  } catch (const std::exception& e) {
    // The outer structure decoded, so a failure to decrypt is the passphrase (Botan cannot say more).
    if (encrypted) return runtime::fail(std::move(wrong_passphrase(source).with("botan", e.what())));
    return runtime::fail(corrupt(source, fmt::format("{}: {}", label, e.what())));
  }
}

}  // namespace cr::ssh::crypto::detail
