#pragma once
// What publickey authentication needs from a key: its public blob and a signature. (The key
// type and the algorithms it signs with follow from the blob: see the free functions below.) A key read from a file
// signs at once; a key held by an ssh-agent signs over a stream, so signing is awaitable and each kind of key is one
// implementation. (Later: a Windows agent pipe, a hardware token.)

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>

#include "runtime/error.hpp"

namespace cr::ssh {

namespace crypto {
class PrivateKey;
}

class Signer {
 public:
  virtual ~Signer() = default;
  // The public key as an SSH key blob (string key-type || ...).
  virtual std::vector<std::uint8_t> public_key_blob() const = 0;
  // An SSH signature blob over `data`. Arguments are owned: the coroutine may outlive the caller's
  // temporaries. Errors are Layer::auth.
  virtual asio::awaitable<runtime::Result<std::vector<std::uint8_t>>> sign(std::string algorithm,
                                                                           std::vector<std::uint8_t> data) = 0;
};

// "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", ... from the blob ("unknown" if malformed).
std::string key_type(const Signer& signer);
// Best first: an RSA key offers rsa-sha2-512, rsa-sha2-256, ssh-rsa; empty for unknown types.
std::vector<std::string> signature_algorithms(const Signer& signer);

// A key in memory (from a key file) as a Signer.
std::shared_ptr<Signer> make_signer(std::shared_ptr<const crypto::PrivateKey> key);

}  // namespace cr::ssh
