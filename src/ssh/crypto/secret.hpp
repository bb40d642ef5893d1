#pragma once
// Secret bytes (the shared secret K, session keys, passwords on their way out) in memory that is
// overwritten before it is freed, as Botan's secure_vector does, without Botan in the header (the
// layers above see only this). Botan's own key objects keep their secrets the same way.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace cr::ssh::crypto {

// For a short-lived process, before any other crypto: Botan's secrets then live in ordinary memory,
// still overwritten when freed (as OpenSSH's are), instead of a pool of locked pages. Botan maps
// that pool a page at a time with guard pages on first use: about 900 system calls and 2.8 M
// instructions, half of a cold `coder-runtime ssh`. A BOTAN_MLOCK_POOL_SIZE the user set wins.
void use_unlocked_secret_memory();

// Overwrites secret bytes so they do not linger in freed memory (the compiler cannot drop it).
void wipe(std::span<std::uint8_t> secret);
inline void wipe(std::string& secret) { wipe({reinterpret_cast<std::uint8_t*>(secret.data()), secret.size()}); }

template <class T>
struct WipingAllocator {
  using value_type = T;
  WipingAllocator() = default;
  template <class U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    wipe({reinterpret_cast<std::uint8_t*>(p), n * sizeof(T)});
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const WipingAllocator<U>&) const noexcept {
    return true;
  }
};

using SecretBytes = std::vector<std::uint8_t, WipingAllocator<std::uint8_t>>;

// A copy of `bytes` as secret bytes; the original is wiped.
inline SecretBytes take_secret(std::vector<std::uint8_t>& bytes) {
  SecretBytes secret(bytes.begin(), bytes.end());
  wipe(bytes);
  return secret;
}

}  // namespace cr::ssh::crypto
