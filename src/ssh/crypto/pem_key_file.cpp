// PEM key files that `ssh-keygen -m PEM` / `-m PKCS8` and OpenSSL write, read through Botan:
// PKCS#8 "PRIVATE KEY" and "ENCRYPTED PRIVATE KEY" (PKCS8::load_key), and the unencrypted
// traditional "RSA PRIVATE KEY" (PKCS#1) and "EC PRIVATE KEY" (RFC 5915), which Botan 2's
// load_key refuses by label but whose DER its key classes read.
//
// Not read: traditional PEM with "Proc-Type: 4,ENCRYPTED" (OpenSSL's MD5-based key derivation,
// which Botan 2 does not implement); the error says how to convert such a file.

#include <botan/asn1_obj.h>
#include <botan/ber_dec.h>
#include <botan/data_src.h>
#include <botan/ecdsa.h>
#include <botan/pem.h>
#include <botan/pkcs8.h>
#include <botan/rsa.h>
#include <fmt/format.h>

#include "ssh/crypto/private_key_file.hpp"

namespace cr::ssh::crypto::detail {
namespace {

using Secure = Botan::secure_vector<std::uint8_t>;

bool has_legacy_encryption(std::string_view armored) { return armored.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos; }

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
      .start_cons(Botan::SEQUENCE)
      .decode_and_check<std::size_t>(1, "unknown ECPrivateKey version")
      .decode_octet_string_bigint(scalar)
      .decode_optional(curve, Botan::ASN1_Tag(0), Botan::PRIVATE, Botan::OID())
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
    Botan::BER_Decoder(der).start_cons(Botan::SEQUENCE).decode(scheme).decode(encrypted, Botan::OCTET_STRING).end_cons();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::unique_ptr<Botan::Private_Key> load(std::string_view armored, std::string_view label, std::string_view passphrase) {
  Botan::DataSource_Memory source{std::string(armored)};
  if (label == "ENCRYPTED PRIVATE KEY") return Botan::PKCS8::load_key(source, std::string(passphrase));
  if (label == "RSA PRIVATE KEY") return std::make_unique<Botan::RSA_PrivateKey>(Botan::AlgorithmIdentifier(), pem_body(armored));
  if (label == "EC PRIVATE KEY") return ec_private_key(pem_body(armored));
  return Botan::PKCS8::load_key(source);
}

}  // namespace

bool pem_key_is_encrypted(std::string_view armored, std::string_view label) {
  return label == "ENCRYPTED PRIVATE KEY" || has_legacy_encryption(armored);
}

runtime::Result<LoadedKey> read_pem_key(std::string_view armored, std::string_view label, std::string_view passphrase,
                                        std::string_view source) {
  if (label != "PRIVATE KEY" && label != "ENCRYPTED PRIVATE KEY" && label != "RSA PRIVATE KEY" && label != "EC PRIVATE KEY") {
    return runtime::fail(key_file_error(
        source, fmt::format("unsupported PEM block \"{}\": not a private key we read", runtime::printable(label, 64))));
  }
  if (has_legacy_encryption(armored)) {
    return runtime::fail(key_file_error(
        source, "traditional PEM encryption (Proc-Type: 4,ENCRYPTED) is not supported; convert the key with "
                "`ssh-keygen -p -f FILE`, which rewrites it in OpenSSH's format"));
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
