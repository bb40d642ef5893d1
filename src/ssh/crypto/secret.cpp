#include "ssh/crypto/secret.hpp"

#include <cstdlib>

#include <botan/mem_ops.h>

namespace cr::ssh::crypto {

// Botan (built with its locking allocator) reads the pool's size from this variable when it first
// allocates a secret.
void use_unlocked_secret_memory() {
  constexpr const char* kPoolSize = "BOTAN_MLOCK_POOL_SIZE";
  if (std::getenv(kPoolSize) != nullptr) return;
#ifdef _WIN32
  _putenv_s(kPoolSize, "0");
#else
  ::setenv(kPoolSize, "0", 0);
#endif
}

void wipe(std::span<std::uint8_t> secret) { Botan::secure_scrub_memory(secret.data(), secret.size()); }

}  // namespace cr::ssh::crypto
