#pragma once
// Internal to src/ssh/crypto/: the SSH public key signature algorithms (RFC 8709, RFC 5656,
// RFC 8332, RFC 4253) and what Botan needs for each. Host key verification and user key signing
// read the same table, so a name always means the same key type, padding and hash.

#include <span>
#include <string_view>

namespace cr::ssh::crypto {

enum class Scheme { ed25519, ecdsa, rsa };

struct SignatureAlgorithm {
  std::string_view name;
  std::string_view key_type;
  Scheme scheme;
  // Botan's padding / hash name for PK_Signer and PK_Verifier.
  std::string_view botan_emsa;
  // ecdsa only: the curve-id inside the key blob (RFC 5656 section 3.1) and Botan's curve name.
  std::string_view curve_id;
  std::string_view botan_curve;
  // rsa only: the hash of RSASSA-PKCS1-v1_5, for verification without Botan (rsa_verify.hpp).
  std::string_view rsa_hash;
};

// Our preference order, as OpenSSH's; "ssh-rsa" (SHA-1, RFC 4253) is last.
std::span<const SignatureAlgorithm> signature_algorithm_table();

// nullptr for a name not in the table.
const SignatureAlgorithm* find_signature_algorithm(std::string_view name);

// The first (preferred) algorithm for a key type: "ssh-rsa" gives rsa-sha2-512. nullptr if none.
const SignatureAlgorithm* find_by_key_type(std::string_view key_type);

}  // namespace cr::ssh::crypto
