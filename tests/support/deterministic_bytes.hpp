#pragma once
// A reproducible byte stream (splitmix64, little-endian words) standing in for a random number
// generator, so that our sntrup761 and the reference can be fed the same bytes. The stream does
// not depend on how the reads are split.

#include <cstddef>
#include <cstdint>

namespace cr::test {

class DeterministicBytes {
 public:
  explicit DeterministicBytes(std::uint64_t seed) : state_(seed) {}

  void fill(std::uint8_t* out, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
      if (used_ == 8) {
        word_ = next_word();
        used_ = 0;
      }
      out[i] = static_cast<std::uint8_t>(word_ >> (8 * used_++));
    }
  }

 private:
  std::uint64_t next_word() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  std::uint64_t state_;
  std::uint64_t word_ = 0;
  unsigned used_ = 8;
};

}  // namespace cr::test
