#pragma once
// User private keys for publickey authentication (RFC 4252 section 7): OpenSSH's openssh-key-v1
// files (PROTOCOL.key) with ed25519, ecdsa-sha2-nistp256/384/521 and RSA keys, unencrypted or
// bcrypt-pbkdf encrypted (aes128/192/256-ctr and -cbc, aes128/256-gcm@openssh.com), and PEM /
// PKCS#8 files ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY") and traditional "RSA PRIVATE KEY" /
// "EC PRIVATE KEY" files, plain or OpenSSL-encrypted (AES-CBC, DES-EDE3-CBC). Signatures come out
// as SSH signature blobs.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"
#include "ssh/crypto/secret.hpp"

namespace cr::ssh::crypto {

class PrivateKey {
 public:
  virtual ~PrivateKey() = default;
  // "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", ...
  virtual std::string key_type() const = 0;
  // The public key as an SSH key blob (string key-type || ...), as a server sees it.
  virtual std::vector<std::uint8_t> public_key_blob() const = 0;
  // The signature algorithms this key can sign with, best first: an RSA key offers
  // rsa-sha2-512, rsa-sha2-256 and ssh-rsa; the others only their key type.
  virtual std::vector<std::string> signature_algorithms() const = 0;
  // An SSH signature blob (string algorithm || string signature) over `data`.
  virtual runtime::Result<std::vector<std::uint8_t>> sign(std::string_view algorithm,
                                                          std::span<const std::uint8_t> data) const = 0;
  // The comment stored in the file (often user@host), or empty.
  virtual std::string comment() const = 0;
};

// The signature algorithms a key type signs with, best first ("ssh-rsa" gives rsa-sha2-512,
// rsa-sha2-256, ssh-rsa); empty for a type we do not know. For keys held elsewhere (an agent).
std::vector<std::string> signature_algorithms_for(std::string_view key_type);

// True when reading the key needs a passphrase, so a caller asks for one only then.
bool private_key_is_encrypted(std::span<const std::uint8_t> file_contents);

// `source` names the key in errors (its path). Errors are Layer::auth, Errc::invalid_argument, and
// say which: not a private key file, an unsupported key type or cipher, a wrong passphrase, or a
// corrupt file (with the field where parsing stopped). Never a crash on malformed input; the
// bcrypt rounds read from a file are capped.
runtime::Result<std::unique_ptr<PrivateKey>> parse_private_key(std::span<const std::uint8_t> file_contents,
                                                               std::string_view passphrase, std::string_view source);

// True for parse_private_key's "wrong passphrase" error, so a caller may ask again.
bool is_wrong_passphrase(const runtime::Error& error);

}  // namespace cr::ssh::crypto
