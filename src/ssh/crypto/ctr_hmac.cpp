// aes128-ctr, aes192-ctr, aes256-ctr (RFC 4344) with hmac-sha2-256/512 (RFC 6668) or their
// -etm@openssh.com variants (OpenSSH's PROTOCOL, section 1.5). CTR keeps one counter for the whole
// direction: each packet continues the keystream where the previous one stopped.
//
// Encrypt-and-MAC (RFC 4253 section 6.4): MAC = HMAC(mac_key, uint32 sequence || plaintext
// packet); the length is encrypted with the rest, so a reader decrypts the first cipher block to
// learn it.
// Encrypt-then-MAC (-etm): the length stays in the clear, MAC = HMAC(mac_key, uint32 sequence ||
// length || ciphertext), and a reader checks the MAC before decrypting anything.

#include <array>
#include <string>

#include <botan/mac.h>
#include <botan/mem_ops.h>
#include <botan/stream_cipher.h>

#include "ssh/crypto/big_endian.hpp"
#include "ssh/crypto/packet_modes.hpp"

namespace cr::ssh::crypto {
namespace {

constexpr std::size_t kAesBlock = 16;
constexpr std::size_t kMaxMacSize = 64;  // hmac-sha2-512

// The keyed cipher and MAC of one direction.
class CtrHmac {
 public:
  CtrHmac(std::string_view botan_cipher, std::string_view botan_mac, const DirectionKeys& keys)
      : cipher_(Botan::StreamCipher::create_or_throw(std::string(botan_cipher))),
        mac_(Botan::MessageAuthenticationCode::create_or_throw(std::string(botan_mac))) {
    cipher_->set_key(keys.key.data(), keys.key.size());
    cipher_->set_iv(keys.iv.data(), keys.iv.size());
    mac_->set_key(keys.mac_key.data(), keys.mac_key.size());
  }

  std::size_t mac_size() const { return mac_->output_length(); }

  void crypt(Bytes data) { cipher_->cipher1(data.data(), data.size()); }

  // HMAC over uint32 sequence || `covered`, into `out` (mac_size() bytes).
  void compute_mac(std::uint32_t sequence, ConstBytes covered, std::uint8_t* out) {
    std::array<std::uint8_t, 4> sequence_bytes;
    store_big_endian(sequence, sequence_bytes.data());
    mac_->update(sequence_bytes.data(), sequence_bytes.size());
    mac_->update(covered.data(), covered.size());
    mac_->final(out);
  }

  bool verify_mac(std::uint32_t sequence, ConstBytes covered, ConstBytes received) {
    std::array<std::uint8_t, kMaxMacSize> expected;
    compute_mac(sequence, covered, expected.data());
    return Botan::constant_time_compare(expected.data(), received.data(), mac_size());
  }

 private:
  std::unique_ptr<Botan::StreamCipher> cipher_;
  std::unique_ptr<Botan::MessageAuthenticationCode> mac_;
};

class CtrHmacSealer final : public PacketSealer {
 public:
  CtrHmacSealer(std::string_view botan_cipher, std::string_view botan_mac, bool encrypt_then_mac,
                const DirectionKeys& keys)
      : state_(botan_cipher, botan_mac, keys), encrypt_then_mac_(encrypt_then_mac) {}

  std::size_t block_size() const override { return kAesBlock; }
  bool length_outside_padding() const override { return encrypt_then_mac_; }
  std::size_t tag_size() const override { return state_.mac_size(); }

  void seal(std::uint32_t sequence, Bytes packet) noexcept override {
    require_room_for_tag(packet, tag_size());
    const Bytes body = packet.first(packet.size() - tag_size());
    std::uint8_t* mac = packet.data() + body.size();
    if (encrypt_then_mac_) {
      state_.crypt(body.subspan(kLengthSize));
      state_.compute_mac(sequence, body, mac);
    } else {
      state_.compute_mac(sequence, body, mac);
      state_.crypt(body);
    }
  }

 private:
  CtrHmac state_;
  bool encrypt_then_mac_;
};

class CtrHmacOpener final : public PacketOpener {
 public:
  CtrHmacOpener(std::string_view botan_cipher, std::string_view botan_mac, bool encrypt_then_mac,
                const DirectionKeys& keys)
      : state_(botan_cipher, botan_mac, keys), encrypt_then_mac_(encrypt_then_mac) {}

  std::size_t block_size() const override { return kAesBlock; }
  bool length_outside_padding() const override { return encrypt_then_mac_; }
  std::size_t tag_size() const override { return state_.mac_size(); }
  std::size_t first_block_size() const override { return encrypt_then_mac_ ? kLengthSize : kAesBlock; }

  // Encrypt-and-MAC: decrypts the first block in place, and open() carries on after it.
  std::uint32_t packet_length(std::uint32_t /*sequence*/, Bytes first_block) noexcept override {
    if (encrypt_then_mac_) return read_length(first_block);
    if (first_block.size() < kAesBlock) return 0;
    state_.crypt(first_block.first(kAesBlock));
    return read_length(first_block);
  }

  bool open(std::uint32_t sequence, Bytes packet) noexcept override {
    try {
      if (packet.size() < first_block_size() + tag_size()) return false;
      const Bytes body = packet.first(packet.size() - tag_size());
      const ConstBytes received_mac = packet.subspan(body.size());
      if (read_length(body) != body.size() - kLengthSize) return false;
      if (encrypt_then_mac_) {
        if (!state_.verify_mac(sequence, body, received_mac)) return false;
        state_.crypt(body.subspan(kLengthSize));
        return true;
      }
      state_.crypt(body.subspan(kAesBlock));
      return state_.verify_mac(sequence, body, received_mac);
    } catch (const std::exception&) {
      return false;
    }
  }

 private:
  CtrHmac state_;
  bool encrypt_then_mac_;
};

}  // namespace

std::unique_ptr<PacketSealer> make_ctr_hmac_sealer(std::string_view botan_cipher, std::string_view botan_mac,
                                                   bool encrypt_then_mac, const DirectionKeys& keys) {
  return std::make_unique<CtrHmacSealer>(botan_cipher, botan_mac, encrypt_then_mac, keys);
}

std::unique_ptr<PacketOpener> make_ctr_hmac_opener(std::string_view botan_cipher, std::string_view botan_mac,
                                                   bool encrypt_then_mac, const DirectionKeys& keys) {
  return std::make_unique<CtrHmacOpener>(botan_cipher, botan_mac, encrypt_then_mac, keys);
}

}  // namespace cr::ssh::crypto
