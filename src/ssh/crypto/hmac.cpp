#include "ssh/crypto/hmac.hpp"

#include <botan/mac.h>

namespace cr::ssh::crypto {

std::vector<std::uint8_t> hmac_sha1(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  auto mac = Botan::MessageAuthenticationCode::create_or_throw("HMAC(SHA-1)");
  mac->set_key(key.data(), key.size());
  mac->update(data.data(), data.size());
  const auto digest = mac->final();
  return {digest.begin(), digest.end()};
}

}  // namespace cr::ssh::crypto
