#pragma once
// Randomness for cookies and padding, from Botan's system RNG.

#include <cstdint>
#include <span>

namespace cr::ssh::crypto {

void random_bytes(std::span<std::uint8_t> out);

}  // namespace cr::ssh::crypto
