#include "ssh/crypto/random.hpp"

#include <botan/system_rng.h>

namespace cr::ssh::crypto {

void random_bytes(std::span<std::uint8_t> out) { Botan::system_rng().randomize(out.data(), out.size()); }

}  // namespace cr::ssh::crypto
