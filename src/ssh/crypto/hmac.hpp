#pragma once
// HMAC-SHA1, for OpenSSH's hashed known_hosts names (|1|salt|HMAC-SHA1(salt, name)). Not used for
// packet integrity: that lives in the cipher modes.

#include <cstdint>
#include <span>
#include <vector>

namespace cr::ssh::crypto {

std::vector<std::uint8_t> hmac_sha1(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data);

}  // namespace cr::ssh::crypto
