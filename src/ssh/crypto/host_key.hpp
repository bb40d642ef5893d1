#pragma once
// Server host keys (RFC 4253 section 6.6, RFC 8709, RFC 5656, RFC 8332): parse the key blob the
// server sends in its KEX reply, verify its signature over the exchange hash, and fingerprint it
// the way OpenSSH prints it.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"

namespace cr::ssh::crypto {

// Host key algorithm names we verify, in our default preference order. "ssh-rsa" (SHA-1) is not
// among them: a caller enables it explicitly.
const std::vector<std::string>& supported_host_key_algorithms();

// The key type a host key algorithm uses ("rsa-sha2-256" -> "ssh-rsa"; others are their own).
std::string_view key_type_for(std::string_view host_key_algorithm);

// Verifies `signature_blob` (string format-id || string signature) over `data` with the key in
// `key_blob` (string key-type || ...). The signature's format-id must be `host_key_algorithm`
// (the negotiated one) and the key's type must match it. Errors are Layer::kex with the reason.
runtime::Result<void> verify_host_signature(std::string_view host_key_algorithm, std::span<const std::uint8_t> key_blob,
                                            std::span<const std::uint8_t> signature_blob,
                                            std::span<const std::uint8_t> data);

// "SHA256:" + unpadded base64 of SHA-256(key_blob), as `ssh-keygen -lf` prints.
std::string fingerprint_sha256(std::span<const std::uint8_t> key_blob);

// The key blob's type name ("ssh-ed25519"), or an error for a malformed blob.
runtime::Result<std::string> key_blob_type(std::span<const std::uint8_t> key_blob);

}  // namespace cr::ssh::crypto
