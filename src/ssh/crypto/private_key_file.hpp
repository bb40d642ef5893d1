#pragma once
// Internal to src/ssh/crypto/: the private key file readers (openssh_key_file.cpp for
// openssh-key-v1, pem_key_file.cpp for PEM and PKCS#8) each produce a Botan key and its comment;
// private_key.cpp frames the file, picks the reader and wraps the result in a PrivateKey that
// signs the SSH way.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <botan/pk_keys.h>

#include "runtime/error.hpp"
#include "ssh/crypto/signature_algorithm.hpp"

namespace cr::ssh::crypto::detail {

struct LoadedKey {
  std::unique_ptr<Botan::Private_Key> key;
  std::string comment;
};

// What a reader reports, all Layer::auth / Errc::invalid_argument, "<source>: <message>".
runtime::Error key_file_error(std::string_view source, std::string_view message);
runtime::Error corrupt(std::string_view source, std::string_view detail);
runtime::Error wrong_passphrase(std::string_view source);
runtime::Error passphrase_needed(std::string_view source);

// The algorithm entry for a Botan key we can sign with (an RSA key gives rsa-sha2-512's entry),
// or nullptr (another curve, another algorithm).
const SignatureAlgorithm* algorithm_for(const Botan::Private_Key& key);

// The SSH public key blob (RFC 4253 section 6.6) of a key algorithm_for() accepted.
std::vector<std::uint8_t> public_key_blob_of(const Botan::Private_Key& key, const SignatureAlgorithm& kind);

// `body` is the base64 between the BEGIN and END lines of an "OPENSSH PRIVATE KEY".
runtime::Result<LoadedKey> read_openssh_key(std::string_view body, std::string_view passphrase,
                                            std::string_view source);
runtime::Result<bool> openssh_key_is_encrypted(std::string_view body, std::string_view source);

// `armored` is the whole PEM block (BEGIN line to END line) with the given label.
runtime::Result<LoadedKey> read_pem_key(std::string_view armored, std::string_view label, std::string_view passphrase,
                                        std::string_view source);
bool pem_key_is_encrypted(std::string_view armored, std::string_view label);

}  // namespace cr::ssh::crypto::detail
