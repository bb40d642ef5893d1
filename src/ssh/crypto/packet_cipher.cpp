// The names we negotiate, what each needs from key derivation, and the "none" state before the
// first NEWKEYS. The modes themselves are in chacha20_poly1305.cpp, aes_gcm.cpp and ctr_hmac.cpp.

#include "ssh/crypto/packet_cipher.hpp"

#include <array>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>

#include "ssh/crypto/big_endian.hpp"
#include "ssh/crypto/packet_modes.hpp"

namespace cr::ssh::crypto {

std::uint32_t read_length(ConstBytes packet) {
  return packet.size() < kLengthSize ? 0 : load_big_endian32(packet.data());
}

void require_room_for_tag(ConstBytes packet, std::size_t tag_size) {
  if (packet.size() < kLengthSize + tag_size) std::abort();
}

namespace {

enum class Construction { none, chacha20_poly1305, aes_gcm, ctr_hmac };

struct CipherSpec {
  std::string_view name;
  Construction construction;
  std::string_view botan_name;
  std::size_t key_size;
  std::size_t iv_size;
};

struct MacSpec {
  std::string_view name;
  std::string_view botan_name;
  std::size_t key_size;
  bool encrypt_then_mac;
};

// In our preference order: the AEADs first, chacha20-poly1305 (fast without AES instructions,
// OpenSSH's default) ahead of GCM.
constexpr std::array kCiphers{
    CipherSpec{"chacha20-poly1305@openssh.com", Construction::chacha20_poly1305, "", 64, 0},
    CipherSpec{"aes128-gcm@openssh.com", Construction::aes_gcm, "AES-128/GCM", 16, 12},
    CipherSpec{"aes256-gcm@openssh.com", Construction::aes_gcm, "AES-256/GCM", 32, 12},
    CipherSpec{"aes128-ctr", Construction::ctr_hmac, "CTR-BE(AES-128)", 16, 16},
    CipherSpec{"aes192-ctr", Construction::ctr_hmac, "CTR-BE(AES-192)", 24, 16},
    CipherSpec{"aes256-ctr", Construction::ctr_hmac, "CTR-BE(AES-256)", 32, 16},
};

// Encrypt-then-MAC first: the MAC is checked before anything is decrypted.
constexpr std::array kMacs{
    MacSpec{"hmac-sha2-256-etm@openssh.com", "HMAC(SHA-256)", 32, true},
    MacSpec{"hmac-sha2-512-etm@openssh.com", "HMAC(SHA-512)", 64, true},
    MacSpec{"hmac-sha2-256", "HMAC(SHA-256)", 32, false},
    MacSpec{"hmac-sha2-512", "HMAC(SHA-512)", 64, false},
};

// Never negotiated (it is in neither list): only the state before the first NEWKEYS.
constexpr std::string_view kNone = "none";
constexpr std::size_t kNoneBlockSize = 8;

const CipherSpec* find_cipher(std::string_view name) {
  for (const auto& spec : kCiphers) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

const MacSpec* find_mac(std::string_view name) {
  for (const auto& spec : kMacs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// A name pair we implement, with key material of the sizes requirements() gives.
struct Recipe {
  Construction construction;
  const CipherSpec* cipher = nullptr;
  const MacSpec* mac = nullptr;
};

runtime::Result<Recipe> resolve(std::string_view cipher_name, std::string_view mac_name, const DirectionKeys& keys) {
  if (cipher_name == kNone && mac_name == kNone) return Recipe{Construction::none};
  const CipherRequirements needed = requirements(cipher_name, mac_name);
  if (needed.key_size == 0) {
    return runtime::fail(runtime::Errc::invalid_argument, runtime::Layer::kex,
                         fmt::format("no packet protection named cipher '{}' with MAC '{}'", cipher_name, mac_name));
  }
  if (keys.key.size() != needed.key_size || keys.iv.size() != needed.iv_size ||
      keys.mac_key.size() != needed.mac_key_size) {
    return runtime::fail(
        runtime::Errc::invalid_argument, runtime::Layer::kex,
        fmt::format("{} with {} takes a {}-byte key, a {}-byte IV and a {}-byte MAC key, not {}, {} and {}",
                    cipher_name, mac_name, needed.key_size, needed.iv_size, needed.mac_key_size, keys.key.size(),
                    keys.iv.size(), keys.mac_key.size()));
  }
  const CipherSpec* cipher = find_cipher(cipher_name);
  return Recipe{cipher->construction, cipher, needed.aead ? nullptr : find_mac(mac_name)};
}

class NoneSealer final : public PacketSealer {
 public:
  std::size_t block_size() const override { return kNoneBlockSize; }
  bool length_outside_padding() const override { return false; }
  std::size_t tag_size() const override { return 0; }
  void seal(std::uint32_t /*sequence*/, Bytes /*packet*/) noexcept override {}
};

class NoneOpener final : public PacketOpener {
 public:
  std::size_t block_size() const override { return kNoneBlockSize; }
  bool length_outside_padding() const override { return false; }
  std::size_t tag_size() const override { return 0; }
  std::size_t first_block_size() const override { return kLengthSize; }
  std::uint32_t packet_length(std::uint32_t /*sequence*/, Bytes first_block) noexcept override {
    return read_length(first_block);
  }
  bool open(std::uint32_t /*sequence*/, Bytes packet) noexcept override {
    return packet.size() >= kLengthSize && read_length(packet) == packet.size() - kLengthSize;
  }
};

}  // namespace

const std::vector<std::string>& supported_ciphers() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& spec : kCiphers) out.emplace_back(spec.name);
    return out;
  }();
  return names;
}

const std::vector<std::string>& supported_macs() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& spec : kMacs) out.emplace_back(spec.name);
    return out;
  }();
  return names;
}

CipherRequirements requirements(std::string_view cipher, std::string_view mac) {
  const CipherSpec* cipher_spec = find_cipher(cipher);
  if (cipher_spec == nullptr) return {};
  if (cipher_spec->construction != Construction::ctr_hmac) {
    return {.key_size = cipher_spec->key_size, .iv_size = cipher_spec->iv_size, .mac_key_size = 0, .aead = true};
  }
  const MacSpec* mac_spec = find_mac(mac);
  if (mac_spec == nullptr) return {};
  return {.key_size = cipher_spec->key_size,
          .iv_size = cipher_spec->iv_size,
          .mac_key_size = mac_spec->key_size,
          .aead = false};
}

runtime::Result<std::unique_ptr<PacketSealer>> make_sealer(std::string_view cipher, std::string_view mac,
                                                           const DirectionKeys& keys) {
  const auto recipe = resolve(cipher, mac, keys);
  if (!recipe) return runtime::fail(recipe.error());
  try {
    switch (recipe->construction) {
      case Construction::none:
        return std::make_unique<NoneSealer>();
      case Construction::chacha20_poly1305:
        return make_chacha20_poly1305_sealer(keys);
      case Construction::aes_gcm:
        return make_aes_gcm_sealer(recipe->cipher->botan_name, keys);
      case Construction::ctr_hmac:
        return make_ctr_hmac_sealer(recipe->cipher->botan_name, recipe->mac->botan_name, recipe->mac->encrypt_then_mac,
                                    keys);
    }
  } catch (const std::exception& e) {
    return runtime::fail(runtime::Errc::internal_error, runtime::Layer::kex,
                         fmt::format("Botan could not build {} with {}: {}", cipher, mac, e.what()));
  }
  return runtime::fail(runtime::Errc::invalid_argument, runtime::Layer::kex, "no such packet protection");
}

runtime::Result<std::unique_ptr<PacketOpener>> make_opener(std::string_view cipher, std::string_view mac,
                                                           const DirectionKeys& keys) {
  const auto recipe = resolve(cipher, mac, keys);
  if (!recipe) return runtime::fail(recipe.error());
  try {
    switch (recipe->construction) {
      case Construction::none:
        return std::make_unique<NoneOpener>();
      case Construction::chacha20_poly1305:
        return make_chacha20_poly1305_opener(keys);
      case Construction::aes_gcm:
        return make_aes_gcm_opener(recipe->cipher->botan_name, keys);
      case Construction::ctr_hmac:
        return make_ctr_hmac_opener(recipe->cipher->botan_name, recipe->mac->botan_name, recipe->mac->encrypt_then_mac,
                                    keys);
    }
  } catch (const std::exception& e) {
    return runtime::fail(runtime::Errc::internal_error, runtime::Layer::kex,
                         fmt::format("Botan could not build {} with {}: {}", cipher, mac, e.what()));
  }
  return runtime::fail(runtime::Errc::invalid_argument, runtime::Layer::kex, "no such packet protection");
}

}  // namespace cr::ssh::crypto
