#include "ssh/crypto/secret.hpp"

#include <botan/mem_ops.h>

namespace cr::ssh::crypto {

void wipe(std::span<std::uint8_t> secret) { Botan::secure_scrub_memory(secret.data(), secret.size()); }

}  // namespace cr::ssh::crypto
