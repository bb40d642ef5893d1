#include "ssh/crypto/sntrup761.hpp"

// Written from the NTRU Prime round 3 specification (parameters p = 761, q = 4591, w = 286).
// Everything that touches a secret runs in constant time: reductions by multiplication, choices by
// masks, a fixed number of divsteps for the reciprocals and a sorting network for the short
// polynomials. Branches and loop bounds depend only on the public parameters and on the (public)
// moduli of the encodings.

#include <array>
#include <cstring>
#include <stdexcept>

#include <botan/hash.h>

#include "ssh/crypto/random.hpp"

namespace cr::ssh::crypto::sntrup761 {
namespace {

constexpr int kP = 761;
constexpr int kQ = 4591;
constexpr int kW = 286;
constexpr int kHalfQ = (kQ - 1) / 2;
constexpr std::size_t kSmallBytes = (kP + 3) / 4;
constexpr std::size_t kRoundedBytes = 1007;
constexpr std::size_t kHashBytes = 32;
static_assert(kCiphertextBytes == kRoundedBytes + kHashBytes);
static_assert(kSecretKeyBytes == 2 * kSmallBytes + kPublicKeyBytes + kSmallBytes + kHashBytes);
static_assert(kPublicKeyOffsetInSecretKey == 2 * kSmallBytes);

using ConstBytes = std::span<const std::uint8_t>;
using Poly = std::array<std::int16_t, kP>;
// The polynomial with a spare top coefficient, as the divsteps keep them.
using WidePoly = std::array<std::int16_t, kP + 1>;
using Hash = std::array<std::uint8_t, kHashBytes>;

// ---- Constant-time integer helpers ----

std::int32_t nonzero_mask(std::int32_t x) {
  const auto u = static_cast<std::uint32_t>(x);
  return -static_cast<std::int32_t>((u | (0u - u)) >> 31);
}

std::int32_t negative_mask(std::int32_t x) { return -static_cast<std::int32_t>(static_cast<std::uint32_t>(x) >> 31); }

// r - m when r >= m, else r, for r < 2^31; counts the subtraction into *quotient.
std::uint32_t subtract_if_not_below(std::uint32_t r, std::uint32_t m, std::uint32_t& quotient) {
  const std::uint32_t difference = r - m;
  const std::uint32_t below = 0u - (difference >> 31);
  quotient += 1 + below;
  return difference + (m & below);
}

// x mod m and x div m for a public modulus 2 <= m < 2^14, without a division instruction on x (its
// timing may depend on the operands). floor(2^31 / m) underestimates 1/m so that the first
// quotient is short by at most 2.
std::uint32_t divide(std::uint32_t x, std::uint32_t m, std::uint32_t& quotient) {
  const std::uint64_t inverse = (std::uint64_t{1} << 31) / m;
  quotient = static_cast<std::uint32_t>((std::uint64_t{x} * inverse) >> 31);
  std::uint32_t r = x - quotient * m;
  r = subtract_if_not_below(r, m, quotient);
  return subtract_if_not_below(r, m, quotient);
}

std::uint32_t unsigned_mod(std::uint32_t x, std::uint32_t m) {
  std::uint32_t unused;
  return divide(x, m, unused);
}

// x mod m as its representative in [-(m-1)/2, (m-1)/2], for odd m and |x| < 2^24, which bounds
// every value reduced here (the largest, 2 ((q-1)/2)^2, comes from the divsteps): x/m rounded by
// a multiplication, whose error stays below the 1/(2m) by which x/m misses every half.
template <std::int32_t M>
std::int16_t centered_mod(std::int32_t x) {
  constexpr std::int64_t kScale = ((std::int64_t{1} << 40) + M / 2) / M;
  const std::int64_t quotient = (std::int64_t{x} * kScale + (std::int64_t{1} << 39)) >> 40;
  return static_cast<std::int16_t>(x - quotient * M);
}

std::int16_t freeze3(std::int32_t x) { return centered_mod<3>(x); }
std::int16_t freeze_q(std::int32_t x) { return centered_mod<kQ>(x); }

// a^(q-2): the exponent is public, so square and multiply leaks nothing.
std::int16_t reciprocal_q(std::int16_t a) {
  std::int32_t result = 1;
  std::int32_t power = a;
  for (int exponent = kQ - 2; exponent > 0; exponent >>= 1) {
    if (exponent & 1) result = freeze_q(result * power);
    power = freeze_q(power * power);
  }
  return static_cast<std::int16_t>(result);
}

template <class Array>
void conditional_swap(Array& a, Array& b, std::int32_t mask) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto t = static_cast<std::int16_t>(mask & (a[i] ^ b[i]));
    a[i] = static_cast<std::int16_t>(a[i] ^ t);
    b[i] = static_cast<std::int16_t>(b[i] ^ t);
  }
}

template <class Array>
void wipe_array(Array& a) {
  wipe({reinterpret_cast<std::uint8_t*>(a.data()), sizeof(a)});
}

// ---- Arithmetic in R = Z[x]/(x^p - x - 1) ----

// a * b reduced by `freeze` (to R/3 or R/q); one factor is small, so the sums stay far from
// overflow.
template <class Freeze>
Poly multiply(const Poly& a, const Poly& b, Freeze freeze) {
  std::array<std::int32_t, 2 * kP - 1> product{};
  for (int i = 0; i < kP; ++i) {
    for (int j = 0; j < kP; ++j) product[i + j] += std::int32_t{a[i]} * b[j];
  }
  // x^p = x + 1
  for (int i = 2 * kP - 2; i >= kP; --i) {
    product[i - kP] += product[i];
    product[i - kP + 1] += product[i];
  }
  Poly out;
  for (int i = 0; i < kP; ++i) out[i] = freeze(product[i]);
  wipe_array(product);
  return out;
}

Poly multiply_q(const Poly& a, const Poly& small) { return multiply(a, small, freeze_q); }
Poly multiply_3(const Poly& a, const Poly& b) { return multiply(a, b, freeze3); }

// The reciprocals by divsteps on the reversed polynomials (the specification's algorithm): f
// starts as the reversal of x^p - x - 1, g as the reversal of the input; 2p - 1 steps always.
// Each step keeps g's constant term zero by subtracting a multiple of f, swapping the two when
// delta says f should be the longer one. The input is invertible exactly when delta ends at 0.
struct Divsteps {
  WidePoly f{}, g{}, v{}, r{};
  std::int32_t delta = 1;

  explicit Divsteps(const Poly& in, std::int16_t r0) {
    f[0] = 1;
    f[kP - 1] = -1;
    f[kP] = -1;
    for (int i = 0; i < kP; ++i) g[kP - 1 - i] = in[i];
    r[0] = r0;
  }
  ~Divsteps() {
    wipe_array(f);
    wipe_array(g);
    wipe_array(v);
    wipe_array(r);
  }

  // Shifts v, swaps when delta > 0 and g has a constant term; the caller then eliminates.
  void begin_step() {
    for (int i = kP; i > 0; --i) v[i] = v[i - 1];
    v[0] = 0;
    const std::int32_t swap = negative_mask(-delta) & nonzero_mask(g[0]);
    delta ^= swap & (delta ^ -delta);
    delta += 1;
    conditional_swap(f, g, swap);
    conditional_swap(v, r, swap);
  }
  void end_step() {
    for (int i = 0; i < kP; ++i) g[i] = g[i + 1];
    g[kP] = 0;
  }
  // -1 when the input had no reciprocal.
  std::int32_t failed() const { return nonzero_mask(delta); }
};

// 1/in in R/3, and 0, or -1 when there is none.
std::int32_t reciprocal_3(const Poly& in, Poly& out) {
  Divsteps d(in, 1);
  for (int step = 0; step < 2 * kP - 1; ++step) {
    // f[0] is +-1, its own inverse mod 3.
    const std::int32_t factor = -d.g[0] * d.f[0];
    d.begin_step();
    for (int i = 0; i <= kP; ++i) d.g[i] = freeze3(d.g[i] + factor * d.f[i]);
    for (int i = 0; i <= kP; ++i) d.r[i] = freeze3(d.r[i] + factor * d.v[i]);
    d.end_step();
  }
  for (int i = 0; i < kP; ++i) out[i] = static_cast<std::int16_t>(d.f[0] * d.v[kP - 1 - i]);
  return d.failed();
}

// 1/(3 in) in R/q; a short polynomial always has one (q is prime and x^p - x - 1 irreducible).
Poly reciprocal_of_3_times(const Poly& in) {
  Divsteps d(in, reciprocal_q(3));
  for (int step = 0; step < 2 * kP - 1; ++step) {
    d.begin_step();
    const std::int32_t f0 = d.f[0];
    const std::int32_t g0 = d.g[0];
    for (int i = 0; i <= kP; ++i) d.g[i] = freeze_q(f0 * d.g[i] - g0 * d.f[i]);
    for (int i = 0; i <= kP; ++i) d.r[i] = freeze_q(f0 * d.r[i] - g0 * d.v[i]);
    d.end_step();
  }
  const std::int32_t scale = reciprocal_q(d.f[0]);
  Poly out;
  for (int i = 0; i < kP; ++i) out[i] = freeze_q(scale * d.v[kP - 1 - i]);
  return out;
}

// ---- Sampling ----

std::array<std::uint32_t, kP> random_words(const RandomSource& random) {
  std::array<std::uint8_t, 4 * kP> bytes;
  if (random) {
    random(bytes);
  } else {
    random_bytes(bytes);
  }
  std::array<std::uint32_t, kP> words;
  for (int i = 0; i < kP; ++i) {
    words[i] = std::uint32_t{bytes[4 * i]} | std::uint32_t{bytes[4 * i + 1]} << 8 |
               std::uint32_t{bytes[4 * i + 2]} << 16 | std::uint32_t{bytes[4 * i + 3]} << 24;
  }
  wipe_array(bytes);
  return words;
}

// Coefficients in {-1, 0, 1}: 30 random bits scaled to [0, 3).
Poly random_small(const RandomSource& random) {
  auto words = random_words(random);
  Poly out;
  for (int i = 0; i < kP; ++i) out[i] = static_cast<std::int16_t>((((words[i] & 0x3fffffff) * 3) >> 30) - 1);
  wipe_array(words);
  return out;
}

// Leaves x <= y, by a mask rather than a branch.
void compare_exchange(std::uint32_t& x, std::uint32_t& y) {
  const std::uint64_t difference = std::uint64_t{y} - x;
  const auto swap = static_cast<std::uint32_t>(0u - static_cast<std::uint32_t>(difference >> 63));
  const std::uint32_t t = (x ^ y) & swap;
  x ^= t;
  y ^= t;
}

// A bitonic network over a power of two: which pairs it compares depends only on the size.
template <std::size_t N>
void sort_network(std::array<std::uint32_t, N>& a) {
  static_assert((N & (N - 1)) == 0);
  for (std::size_t block = 2; block <= N; block <<= 1) {
    for (std::size_t distance = block >> 1; distance > 0; distance >>= 1) {
      for (std::size_t i = 0; i < N; ++i) {
        const std::size_t partner = i ^ distance;
        if (partner <= i) continue;
        if ((i & block) == 0) {
          compare_exchange(a[i], a[partner]);
        } else {
          compare_exchange(a[partner], a[i]);
        }
      }
    }
  }
}

// Weight w: w words marked +-1 in their low two bits, the rest 0, then sorted by their random
// upper bits, which is a uniformly random permutation. The padding sorts past the end.
Poly random_short(const RandomSource& random) {
  auto words = random_words(random);
  std::array<std::uint32_t, 1024> list;
  list.fill(0xffffffff);
  for (int i = 0; i < kP; ++i) list[i] = i < kW ? (words[i] & ~std::uint32_t{1}) : ((words[i] & ~std::uint32_t{3}) | 1);
  sort_network(list);
  Poly out;
  for (int i = 0; i < kP; ++i) out[i] = static_cast<std::int16_t>(static_cast<std::int32_t>(list[i] & 3) - 1);
  wipe_array(words);
  wipe_array(list);
  return out;
}

// ---- Encodings ----

// The specification's Encode: pairs of digits merge into one of radix M[i] * M[i+1], emitting the
// low bytes while that radix is 2^14 or more, until one digit is left.
void encode(const std::vector<std::uint16_t>& digits, const std::vector<std::uint16_t>& radices,
            std::vector<std::uint8_t>& out) {
  const std::size_t n = digits.size();
  if (n == 1) {
    std::uint32_t r = digits[0];
    for (std::uint32_t m = radices[0]; m > 1; m = (m + 255) >> 8) {
      out.push_back(static_cast<std::uint8_t>(r));
      r >>= 8;
    }
    return;
  }
  std::vector<std::uint16_t> merged_digits, merged_radices;
  for (std::size_t i = 0; i + 1 < n; i += 2) {
    std::uint32_t r = digits[i] + std::uint32_t{digits[i + 1]} * radices[i];
    std::uint32_t m = std::uint32_t{radices[i + 1]} * radices[i];
    for (; m >= 16384; m = (m + 255) >> 8) {
      out.push_back(static_cast<std::uint8_t>(r));
      r >>= 8;
    }
    merged_digits.push_back(static_cast<std::uint16_t>(r));
    merged_radices.push_back(static_cast<std::uint16_t>(m));
  }
  if (n % 2 == 1) {
    merged_digits.push_back(digits.back());
    merged_radices.push_back(radices.back());
  }
  encode(merged_digits, merged_radices, out);
}

// Its inverse; a digit out of range (only in bytes no encoder made) is reduced into range.
std::vector<std::uint16_t> decode(ConstBytes& in, const std::vector<std::uint16_t>& radices) {
  const std::size_t n = radices.size();
  if (n == 1) {
    const std::uint32_t m = radices[0];
    if (m == 1) return {0};
    std::uint32_t value = in[0];
    in = in.subspan(1);
    if (m > 256) {
      value |= std::uint32_t{in[0]} << 8;
      in = in.subspan(1);
    }
    return {static_cast<std::uint16_t>(unsigned_mod(value, m))};
  }
  std::vector<std::uint16_t> merged_radices;
  std::vector<std::uint32_t> low_values, low_scales;
  for (std::size_t i = 0; i + 1 < n; i += 2) {
    const std::uint32_t m = std::uint32_t{radices[i]} * radices[i + 1];
    if (m > 256 * 16383) {
      low_scales.push_back(65536);
      low_values.push_back(in[0] + 256 * std::uint32_t{in[1]});
      in = in.subspan(2);
      merged_radices.push_back(static_cast<std::uint16_t>((((m + 255) >> 8) + 255) >> 8));
    } else if (m >= 16384) {
      low_scales.push_back(256);
      low_values.push_back(in[0]);
      in = in.subspan(1);
      merged_radices.push_back(static_cast<std::uint16_t>((m + 255) >> 8));
    } else {
      low_scales.push_back(1);
      low_values.push_back(0);
      merged_radices.push_back(static_cast<std::uint16_t>(m));
    }
  }
  if (n % 2 == 1) merged_radices.push_back(radices.back());
  const auto merged = decode(in, merged_radices);
  std::vector<std::uint16_t> out;
  out.reserve(n);
  for (std::size_t i = 0; i + 1 < n; i += 2) {
    const std::uint32_t value = low_values[i / 2] + low_scales[i / 2] * merged[i / 2];
    std::uint32_t high;
    out.push_back(static_cast<std::uint16_t>(divide(value, radices[i], high)));
    out.push_back(static_cast<std::uint16_t>(unsigned_mod(high, radices[i + 1])));
  }
  if (n % 2 == 1) out.push_back(merged.back());
  return out;
}

constexpr std::uint16_t kRoundedRadix = (kQ + 2) / 3;

// Each coefficient as one digit of the same radix.
template <class ToDigit>
std::vector<std::uint8_t> encode_digits(const Poly& a, std::uint16_t radix, ToDigit to_digit) {
  std::vector<std::uint16_t> digits(kP);
  for (int i = 0; i < kP; ++i) digits[i] = static_cast<std::uint16_t>(to_digit(a[i]));
  std::vector<std::uint8_t> out;
  encode(digits, std::vector<std::uint16_t>(kP, radix), out);
  return out;
}

template <class FromDigit>
Poly decode_digits(ConstBytes in, std::uint16_t radix, FromDigit from_digit) {
  const auto digits = decode(in, std::vector<std::uint16_t>(kP, radix));
  Poly a;
  for (int i = 0; i < kP; ++i) a[i] = static_cast<std::int16_t>(from_digit(digits[i]));
  return a;
}

std::vector<std::uint8_t> encode_rq(const Poly& h) {
  return encode_digits(h, kQ, [](std::int32_t c) { return c + kHalfQ; });
}

Poly decode_rq(ConstBytes in) {
  return decode_digits(in, kQ, [](std::int32_t digit) { return digit - kHalfQ; });
}

// Coefficients that are multiples of 3 in [-(q-1)/2, (q-1)/2]: the digit is (c + (q-1)/2) / 3,
// the division by a multiplication that is exact on that range.
std::vector<std::uint8_t> encode_rounded(const Poly& c) {
  return encode_digits(c, kRoundedRadix,
                       [](std::int32_t coefficient) { return ((coefficient + kHalfQ) * 10923) >> 15; });
}

Poly decode_rounded(ConstBytes in) {
  return decode_digits(in, kRoundedRadix, [](std::int32_t digit) { return digit * 3 - kHalfQ; });
}

// Four coefficients (plus one) to a byte, the last byte holding the odd one.
std::array<std::uint8_t, kSmallBytes> encode_small(const Poly& f) {
  std::array<std::uint8_t, kSmallBytes> out{};
  for (int i = 0; i < kP; ++i) out[i / 4] = static_cast<std::uint8_t>(out[i / 4] | (f[i] + 1) << (2 * (i % 4)));
  return out;
}

Poly decode_small(ConstBytes in) {
  Poly f;
  for (int i = 0; i < kP; ++i) f[i] = static_cast<std::int16_t>(((in[i / 4] >> (2 * (i % 4))) & 3) - 1);
  return f;
}

// ---- Hashes: SHA-512 of a prefix byte and the input, cut to 32 bytes ----

Hash hash_prefix(std::uint8_t prefix, ConstBytes first, ConstBytes second = {}) {
  const auto sha512 = Botan::HashFunction::create_or_throw("SHA-512");
  sha512->update(prefix);
  sha512->update(first.data(), first.size());
  sha512->update(second.data(), second.size());
  const auto digest = sha512->final();
  Hash out;
  std::memcpy(out.data(), digest.data(), out.size());
  return out;
}

// Hash(2, Hash(3, r) || Hash(4, public key)): the confirmation appended to the ciphertext.
Hash confirm(ConstBytes encoded_r, const Hash& public_key_hash) {
  auto inner = hash_prefix(3, encoded_r);
  const auto out = hash_prefix(2, inner, public_key_hash);
  wipe_array(inner);
  return out;
}

// Hash(b, Hash(3, r) || ciphertext): b is 1 for the session key, 0 for the implicit rejection.
SecretBytes session_key(std::uint8_t b, ConstBytes encoded_r, ConstBytes ciphertext) {
  auto inner = hash_prefix(3, encoded_r);
  auto key = hash_prefix(b, inner, ciphertext);
  SecretBytes out(key.begin(), key.end());
  wipe_array(inner);
  wipe_array(key);
  return out;
}

// The ciphertext for the short r: Round(h r) encoded, then the confirmation.
std::vector<std::uint8_t> hide(const Poly& r, ConstBytes encoded_r, ConstBytes public_key,
                               const Hash& public_key_hash) {
  Poly c = multiply_q(decode_rq(public_key), r);
  for (auto& coefficient : c) coefficient = static_cast<std::int16_t>(coefficient - freeze3(coefficient));
  auto ciphertext = encode_rounded(c);
  const auto confirmation = confirm(encoded_r, public_key_hash);
  ciphertext.insert(ciphertext.end(), confirmation.begin(), confirmation.end());
  wipe_array(c);
  return ciphertext;
}

}  // namespace

KeyPair generate_key_pair(const RandomSource& random) {
  Poly g, g_reciprocal;
  do {
    // Retrying reveals only that a discarded g had no reciprocal.
    g = random_small(random);
  } while (reciprocal_3(g, g_reciprocal) != 0);
  Poly f = random_short(random);
  Poly f3_reciprocal = reciprocal_of_3_times(f);
  KeyPair pair;
  pair.public_key = encode_rq(multiply_q(f3_reciprocal, g));

  auto f_encoded = encode_small(f);
  auto g_reciprocal_encoded = encode_small(g_reciprocal);
  std::array<std::uint8_t, kSmallBytes> rho;
  if (random) {
    random(rho);
  } else {
    random_bytes(rho);
  }
  const auto public_key_hash = hash_prefix(4, pair.public_key);
  auto& sk = pair.secret_key;
  sk.reserve(kSecretKeyBytes);
  sk.insert(sk.end(), f_encoded.begin(), f_encoded.end());
  sk.insert(sk.end(), g_reciprocal_encoded.begin(), g_reciprocal_encoded.end());
  sk.insert(sk.end(), pair.public_key.begin(), pair.public_key.end());
  sk.insert(sk.end(), rho.begin(), rho.end());
  sk.insert(sk.end(), public_key_hash.begin(), public_key_hash.end());
  for (auto* secret : {&g, &g_reciprocal, &f, &f3_reciprocal}) wipe_array(*secret);
  for (auto* secret : {&f_encoded, &g_reciprocal_encoded, &rho}) wipe_array(*secret);
  return pair;
}

Encapsulation encapsulate(std::span<const std::uint8_t> public_key, const RandomSource& random) {
  if (public_key.size() != kPublicKeyBytes) throw std::invalid_argument("sntrup761: a public key is 1158 bytes");
  const auto public_key_hash = hash_prefix(4, public_key);
  Poly r = random_short(random);
  auto encoded_r = encode_small(r);
  Encapsulation out;
  out.ciphertext = hide(r, encoded_r, public_key, public_key_hash);
  out.shared_key = session_key(1, encoded_r, out.ciphertext);
  wipe_array(r);
  wipe_array(encoded_r);
  return out;
}

SecretBytes decapsulate(std::span<const std::uint8_t> ciphertext, std::span<const std::uint8_t> secret_key) {
  if (ciphertext.size() != kCiphertextBytes) throw std::invalid_argument("sntrup761: a ciphertext is 1039 bytes");
  if (secret_key.size() != kSecretKeyBytes) throw std::invalid_argument("sntrup761: a secret key is 1763 bytes");
  const auto public_key = secret_key.subspan(kPublicKeyOffsetInSecretKey, kPublicKeyBytes);
  const auto rho = secret_key.subspan(kPublicKeyOffsetInSecretKey + kPublicKeyBytes, kSmallBytes);
  Hash public_key_hash;
  std::memcpy(public_key_hash.data(), secret_key.data() + kSecretKeyBytes - kHashBytes, kHashBytes);

  // r = (3 f c mod q, mod 3) / g; anything but weight w becomes the fixed vector that fails the
  // re-encryption below.
  Poly f = decode_small(secret_key.first(kSmallBytes));
  Poly g_reciprocal = decode_small(secret_key.subspan(kSmallBytes, kSmallBytes));
  Poly cf = multiply_q(decode_rounded(ciphertext.first(kRoundedBytes)), f);
  Poly e;
  for (int i = 0; i < kP; ++i) e[i] = freeze3(freeze_q(3 * cf[i]));
  Poly r = multiply_3(e, g_reciprocal);
  std::int32_t weight = 0;
  for (const auto coefficient : r) weight += coefficient & 1;
  const auto wrong_weight = static_cast<std::int16_t>(nonzero_mask(weight - kW));
  for (int i = 0; i < kP; ++i) {
    r[i] = i < kW ? static_cast<std::int16_t>(((r[i] ^ 1) & ~wrong_weight) ^ 1)
                  : static_cast<std::int16_t>(r[i] & ~wrong_weight);
  }

  auto encoded_r = encode_small(r);
  const auto expected = hide(r, encoded_r, public_key, public_key_hash);
  std::uint32_t differences = 0;
  for (std::size_t i = 0; i < kCiphertextBytes; ++i) differences |= ciphertext[i] ^ expected[i];
  // 0 when the ciphertext is the one r gives, else 0xff: then rho stands in for r.
  const auto rejected = static_cast<std::uint8_t>(0u - ((differences + 0xff) >> 8));
  for (std::size_t i = 0; i < kSmallBytes; ++i) {
    encoded_r[i] = static_cast<std::uint8_t>(encoded_r[i] ^ (rejected & (encoded_r[i] ^ rho[i])));
  }
  auto key = session_key(static_cast<std::uint8_t>(1 + static_cast<std::int8_t>(rejected)), encoded_r, ciphertext);
  for (auto* secret : {&f, &g_reciprocal, &cf, &e, &r}) wipe_array(*secret);
  wipe_array(encoded_r);
  return key;
}

}  // namespace cr::ssh::crypto::sntrup761
