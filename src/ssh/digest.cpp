#include "ssh/digest.hpp"

#include <cstdint>

#include <fmt/format.h>

#include "ssh/crypto/kex.hpp"

namespace cr::ssh {

std::string sha256_hex(std::string_view text) {
  const auto digest = crypto::hash("SHA-256", {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  std::string hex;
  hex.reserve(digest.size() * 2);
  for (const auto byte : digest) hex += fmt::format("{:02x}", byte);
  return hex;
}

}  // namespace cr::ssh
