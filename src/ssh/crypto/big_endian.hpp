#pragma once
// Network byte order for the packet ciphers' sequence numbers, nonces and length fields.

#include <cstddef>
#include <cstdint>

namespace cr::ssh::crypto {

template <class Unsigned>
void store_big_endian(Unsigned value, std::uint8_t* out) {
  for (std::size_t i = sizeof(Unsigned); i-- > 0; value >>= 8) out[i] = static_cast<std::uint8_t>(value);
}

inline std::uint32_t load_big_endian32(const std::uint8_t* in) {
  return std::uint32_t{in[0]} << 24 | std::uint32_t{in[1]} << 16 | std::uint32_t{in[2]} << 8 | in[3];
}

}  // namespace cr::ssh::crypto
