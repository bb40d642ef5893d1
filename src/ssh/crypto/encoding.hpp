#pragma once
// Base64 (RFC 4648, padded) as OpenSSH writes keys in known_hosts and .pub files.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cr::ssh::crypto {

std::string base64_encode(std::span<const std::uint8_t> data);

// nullopt when `text` is not base64.
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);

}  // namespace cr::ssh::crypto
