#include "ssh/crypto/rsa_verify.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <vector>

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

#include <botan/hash.h>

namespace cr::ssh::crypto {
namespace {

using Bytes = std::vector<std::uint8_t>;

struct DigestInfo {
  std::string_view hash_name;
  std::span<const std::uint8_t> prefix;  // DER of DigestInfo up to the digest's OCTET STRING contents
};

// RFC 8017 section 9.2, note 1: the DER prefixes, with the NULL parameters that OpenSSH and every
// signer we know emit (a signature without them does not verify, as with OpenSSH).
constexpr std::array<std::uint8_t, 15> kSha1Prefix{0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                                                   0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14};
constexpr std::array<std::uint8_t, 19> kSha256Prefix{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                                     0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
constexpr std::array<std::uint8_t, 19> kSha512Prefix{0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                                     0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};
constexpr std::array kDigestInfos{DigestInfo{"SHA-1", kSha1Prefix}, DigestInfo{"SHA-256", kSha256Prefix},
                                  DigestInfo{"SHA-512", kSha512Prefix}};

// OpenSSL's rule (OPENSSL_RSA_SMALL_MODULUS, OPENSSL_RSA_MAX_PUBEXP_BITS): a large e is allowed
// only with a modulus up to 3072 bits, so that a server cannot make one check cost seconds.
constexpr std::size_t kSmallModulusBits = 3072;
constexpr std::size_t kMaxLargeModulusExponentBits = 64;

// A non-negative integer as 64-bit limbs, least significant first.
using Limb = std::uint64_t;
using Limbs = std::vector<Limb>;
constexpr std::size_t kLimbBits = 64;

// a * b + c + d as (high, low) limbs; it cannot overflow: (2^64 - 1)^2 + 2 (2^64 - 1) = 2^128 - 1.
struct Wide {
  Limb low;
  Limb high;
};
inline Wide multiply_add(Limb a, Limb b, Limb c, Limb d) {
#if defined(__SIZEOF_INT128__)
  __extension__ typedef unsigned __int128 DoubleLimb;  // __extension__: GCC's and Clang's, not ISO's
  const DoubleLimb product = static_cast<DoubleLimb>(a) * b + c + d;
  return {static_cast<Limb>(product), static_cast<Limb>(product >> 64)};
#elif defined(_MSC_VER) && defined(_M_X64)
  Limb high = 0;
  Limb low = _umul128(a, b, &high);
  low += c;
  high += low < c;
  low += d;
  high += low < d;
  return {low, high};
#else
#error "rsa_verify.cpp needs a 64x64->128-bit multiply (unsigned __int128 or _umul128)"
#endif
}

Limbs to_limbs(std::span<const std::uint8_t> big_endian, std::size_t count) {
  Limbs limbs(count, 0);
  for (std::size_t k = 0; k < big_endian.size(); ++k) {
    const std::size_t bit = 8 * (big_endian.size() - 1 - k);
    if (bit / kLimbBits < count) limbs[bit / kLimbBits] |= Limb{big_endian[k]} << (bit % kLimbBits);
  }
  return limbs;
}

std::vector<std::uint8_t> to_big_endian(const Limbs& limbs, std::size_t bytes) {
  std::vector<std::uint8_t> out(bytes, 0);
  for (std::size_t k = 0; k < bytes && k / 8 < limbs.size(); ++k) {
    out[bytes - 1 - k] = static_cast<std::uint8_t>(limbs[k / 8] >> (8 * (k % 8)));
  }
  return out;
}

std::size_t bit_length(std::span<const std::uint8_t> big_endian) {
  const auto first = std::find_if(big_endian.begin(), big_endian.end(), [](std::uint8_t b) { return b != 0; });
  if (first == big_endian.end()) return 0;
  return 8 * static_cast<std::size_t>(big_endian.end() - first) - static_cast<std::size_t>(std::countl_zero(*first));
}

bool bit_set(std::span<const std::uint8_t> big_endian, std::size_t bit) {
  return (big_endian[big_endian.size() - 1 - bit / 8] >> (bit % 8)) & 1;
}

// a >= b, both of the same length.
bool at_least(const Limb* a, const Limb* b, std::size_t count) {
  for (std::size_t k = count; k-- > 0;) {
    if (a[k] != b[k]) return a[k] > b[k];
  }
  return true;
}

// a -= b modulo 2^(64 count).
void subtract(Limb* a, const Limb* b, std::size_t count) {
  Limb borrow = 0;
  for (std::size_t k = 0; k < count; ++k) {
    const Limb minuend = a[k];
    const Limb difference = minuend - b[k] - borrow;
    borrow = (minuend < b[k]) || (minuend - b[k] < borrow) ? 1 : 0;
    a[k] = difference;
  }
}

// Arithmetic modulo an odd n in Montgomery form, R = 2^(64 w) for n of w limbs:
// mul(a, b) = a b / R mod n.
class Montgomery {
 public:
  explicit Montgomery(Limbs n) : n_(std::move(n)), scratch_(n_.size() + 2) {
    // -n^-1 mod 2^64 by Newton's iteration: each step doubles the correct low bits (n is odd).
    Limb inverse = 1;
    for (int step = 0; step < 6; ++step) inverse *= 2 - n_[0] * inverse;
    n_prime_ = ~inverse + 1;
    r_squared_ = compute_r_squared();
  }

  // a b / R mod n, for a, b < n (CIOS: multiply and reduce a limb at a time).
  Limbs mul(const Limbs& a, const Limbs& b) const {
    const std::size_t w = n_.size();
    const Limb* n = n_.data();
    const Limb* a_limbs = a.data();
    Limb* t = scratch_.data();
    std::fill(scratch_.begin(), scratch_.end(), Limb{0});
    for (std::size_t i = 0; i < w; ++i) {
      const Limb b_limb = b[i];  // a local: t's stores could alias b's limbs for all the compiler knows
      Limb carry = 0;
      for (std::size_t j = 0; j < w; ++j) {
        const auto sum = multiply_add(a_limbs[j], b_limb, t[j], carry);
        t[j] = sum.low;
        carry = sum.high;
      }
      auto top = multiply_add(1, t[w], carry, 0);
      t[w] = top.low;
      t[w + 1] = top.high;
      const Limb m = t[0] * n_prime_;
      carry = multiply_add(m, n[0], t[0], 0).high;  // the low limb is zero by the choice of m
      for (std::size_t j = 1; j < w; ++j) {
        const auto sum = multiply_add(m, n[j], t[j], carry);
        t[j - 1] = sum.low;
        carry = sum.high;
      }
      top = multiply_add(1, t[w], carry, 0);
      t[w - 1] = top.low;
      t[w] = t[w + 1] + top.high;
    }
    if (t[w] != 0 || at_least(t, n, w)) subtract(t, n, w);
    return Limbs(t, t + w);
  }

  Limbs to_montgomery(const Limbs& a) const { return mul(a, r_squared_); }
  Limbs from_montgomery(const Limbs& a) const {
    Limbs one(n_.size(), 0);
    one[0] = 1;
    return mul(a, one);
  }

 private:
  // 2x mod n, for x < n.
  void double_mod(Limbs& x) const {
    Limb carry = 0;
    for (auto& limb : x) {
      const Limb next = limb >> (kLimbBits - 1);
      limb = (limb << 1) | carry;
      carry = next;
    }
    if (carry || at_least(x.data(), n_.data(), x.size())) subtract(x.data(), n_.data(), x.size());
  }

  // R^2 mod n without a division: n's top bit doubled up to R mod n (the Montgomery form of 1),
  // w more doublings give the form of 2^w, and six squarings the form of 2^(64 w) = R, which is
  // R * R mod n.
  Limbs compute_r_squared() const {
    const std::size_t w = n_.size();
    std::size_t top = kLimbBits * w - 1;
    while (!((n_[top / kLimbBits] >> (top % kLimbBits)) & 1)) --top;
    Limbs x(w, 0);
    x[top / kLimbBits] = Limb{1} << (top % kLimbBits);
    for (std::size_t bit = top; bit < kLimbBits * w; ++bit) double_mod(x);  // R mod n
    for (std::size_t k = 0; k < w; ++k) double_mod(x);                      // 2^w, in Montgomery form
    for (int k = 0; k < 6; ++k) x = mul(x, x);                              // 2^(64 w) = R, in form
    return x;
  }

  Limbs n_;
  mutable Limbs scratch_;
  Limb n_prime_ = 0;
  Limbs r_squared_;
};

// s^e mod n; public values, so variable time is fine.
Limbs public_operation(const Montgomery& field, const Limbs& s, std::span<const std::uint8_t> e) {
  const Limbs base = field.to_montgomery(s);
  Limbs result = base;
  for (std::size_t bit = bit_length(e) - 1; bit-- > 0;) {
    result = field.mul(result, result);
    if (bit_set(e, bit)) result = field.mul(result, base);
  }
  return field.from_montgomery(result);
}

// EMSA-PKCS1-v1_5-ENCODE (RFC 8017 section 9.2): 00 01 FF..FF 00 || DigestInfo || H, k bytes;
// empty when k is too short for it.
Bytes expected_encoding(const DigestInfo& info, std::span<const std::uint8_t> message, std::size_t k) {
  const auto hash = Botan::HashFunction::create_or_throw(std::string(info.hash_name));
  hash->update(message.data(), message.size());
  const auto digest = hash->final_stdvec();
  const std::size_t t_len = info.prefix.size() + digest.size();
  if (k < t_len + 11) return {};
  Bytes em(k, 0xff);
  em[0] = 0x00;
  em[1] = 0x01;
  em[k - t_len - 1] = 0x00;
  std::copy(info.prefix.begin(), info.prefix.end(), em.end() - static_cast<std::ptrdiff_t>(t_len));
  std::copy(digest.begin(), digest.end(), em.end() - static_cast<std::ptrdiff_t>(digest.size()));
  return em;
}

}  // namespace

RsaVerdict rsa_pkcs1v15_verify(std::span<const std::uint8_t> modulus, std::span<const std::uint8_t> exponent,
                               std::string_view hash_name, std::span<const std::uint8_t> signature,
                               std::span<const std::uint8_t> message) {
  const auto* info = std::find_if(kDigestInfos.begin(), kDigestInfos.end(),
                                  [&](const DigestInfo& candidate) { return candidate.hash_name == hash_name; });
  if (info == kDigestInfos.end()) return RsaVerdict::unsupported_hash;
  const std::size_t n_bits = bit_length(modulus);
  const std::size_t e_bits = bit_length(exponent);
  const std::size_t w = (n_bits + kLimbBits - 1) / kLimbBits;
  const Limbs n = to_limbs(modulus, w);
  if (n_bits < 2 || !(n[0] & 1)) return RsaVerdict::key_unusable;
  if (e_bits < 2 || !bit_set(exponent, 0) || e_bits > n_bits || at_least(to_limbs(exponent, w).data(), n.data(), w)) {
    return RsaVerdict::key_unusable;  // e even, below 3, or not below n
  }
  if (n_bits > kSmallModulusBits && e_bits > kMaxLargeModulusExponentBits) return RsaVerdict::key_unusable;

  const std::size_t k = (n_bits + 7) / 8;
  if (signature.size() > k) return RsaVerdict::invalid;
  const Limbs s = to_limbs(signature, w);
  if (at_least(s.data(), n.data(), w))
    return RsaVerdict::invalid;  // RFC 8017 section 5.2.2: "signature representative out of range"
  const auto em = to_big_endian(public_operation(Montgomery(n), s, exponent), k);
  const auto expected = expected_encoding(*info, message, k);
  if (expected.empty()) return RsaVerdict::invalid;
  return std::equal(em.begin(), em.end(), expected.begin(), expected.end()) ? RsaVerdict::valid : RsaVerdict::invalid;
}

}  // namespace cr::ssh::crypto
