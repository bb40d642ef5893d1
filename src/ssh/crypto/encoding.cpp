#include "ssh/crypto/encoding.hpp"

#include <botan/base64.h>
#include <botan/exceptn.h>

namespace cr::ssh::crypto {

std::string base64_encode(std::span<const std::uint8_t> data) { return Botan::base64_encode(data.data(), data.size()); }

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
  try {
    // ignore_ws = false: a field with whitespace inside is not one token of a known_hosts line.
    const auto decoded = Botan::base64_decode(text.data(), text.size(), false);
    return std::vector<std::uint8_t>(decoded.begin(), decoded.end());
  } catch (const Botan::Exception&) {
    return std::nullopt;
  }
}

}  // namespace cr::ssh::crypto
