// aes128-gcm@openssh.com and aes256-gcm@openssh.com: RFC 5647 as OpenSSH implements it (and as
// its section 7.1 names them). The 12-byte nonce is the derived IV: a 4-byte fixed field and an
// 8-byte big-endian invocation counter that goes up by one per packet, wrapping at 2^64. It
// counts packets on its own: the sequence number takes no part. The packet length is sent in the
// clear as the associated data; the 16-byte tag follows the encrypted rest of the packet.

#include <algorithm>
#include <array>
#include <string>

#include <botan/aead.h>

#include "ssh/crypto/packet_modes.hpp"

namespace cr::ssh::crypto {
namespace {

constexpr std::size_t kTagSize = 16;
constexpr std::size_t kAesBlock = 16;
constexpr std::size_t kFixedFieldSize = 4;
constexpr std::size_t kNonceSize = 12;

// One direction's GCM instance and nonce.
class GcmState {
 public:
  GcmState(std::string_view botan_mode, Botan::Cipher_Dir direction, const DirectionKeys& keys)
      : mode_(Botan::AEAD_Mode::create_or_throw(std::string(botan_mode), direction)), direction_(direction) {
    mode_->set_key(keys.key.data(), keys.key.size());
    std::copy_n(keys.iv.begin(), kNonceSize, nonce_.begin());
  }

  // Encrypts or decrypts packet[4, end) in place with packet[0, 4) as associated data. Encrypting,
  // the last 16 bytes are room for the tag; decrypting, they are the tag, and a mismatch throws
  // Botan::Invalid_Authentication_Tag. Botan works in place on whole update_granularity() chunks;
  // finish() takes the rest, with the tag, through a copy.
  void run(Bytes packet) {
    const Bytes rest_with_tag = packet.subspan(kLengthSize);
    const std::size_t text_size = rest_with_tag.size() - kTagSize;
    const std::size_t in_place = text_size - text_size % mode_->update_granularity();

    mode_->set_associated_data(packet.data(), kLengthSize);
    mode_->start(nonce_.data(), nonce_.size());
    increment_invocation_counter();
    mode_->process(rest_with_tag.data(), in_place);
    const Bytes tail = rest_with_tag.subspan(in_place);
    const std::size_t tail_input = direction_ == Botan::Cipher_Dir::Encryption ? tail.size() - kTagSize : tail.size();
    tail_.assign(tail.begin(), tail.begin() + static_cast<std::ptrdiff_t>(tail_input));
    mode_->finish(tail_);
    std::copy(tail_.begin(), tail_.end(), tail.begin());
  }

 private:
  void increment_invocation_counter() {
    for (std::size_t i = kNonceSize; i-- > kFixedFieldSize;) {
      if (++nonce_[i] != 0) break;
    }
  }

  std::unique_ptr<Botan::AEAD_Mode> mode_;
  Botan::Cipher_Dir direction_;
  std::array<std::uint8_t, kNonceSize> nonce_;
  Botan::secure_vector<std::uint8_t> tail_;  // reused from packet to packet
};

class GcmSealer final : public PacketSealer {
 public:
  GcmSealer(std::string_view botan_mode, const DirectionKeys& keys)
      : state_(botan_mode, Botan::Cipher_Dir::Encryption, keys) {}

  std::size_t block_size() const override { return kAesBlock; }
  bool length_outside_padding() const override { return true; }
  std::size_t tag_size() const override { return kTagSize; }

  void seal(std::uint32_t /*sequence: GCM counts its own invocations*/, Bytes packet) noexcept override {
    require_room_for_tag(packet, kTagSize);
    state_.run(packet);
  }

 private:
  GcmState state_;
};

class GcmOpener final : public PacketOpener {
 public:
  GcmOpener(std::string_view botan_mode, const DirectionKeys& keys)
      : state_(botan_mode, Botan::Cipher_Dir::Decryption, keys) {}

  std::size_t block_size() const override { return kAesBlock; }
  bool length_outside_padding() const override { return true; }
  std::size_t tag_size() const override { return kTagSize; }
  std::size_t first_block_size() const override { return kLengthSize; }

  std::uint32_t packet_length(std::uint32_t /*sequence*/, Bytes first_block) noexcept override {
    return read_length(first_block);
  }

  // On a tag mismatch the packet may be left partly decrypted; the caller drops it.
  bool open(std::uint32_t /*sequence: GCM counts its own invocations*/, Bytes packet) noexcept override {
    try {
      if (packet.size() < kLengthSize + kTagSize) return false;
      if (read_length(packet) != packet.size() - kLengthSize - kTagSize) return false;
      state_.run(packet);
      return true;
    } catch (const std::exception&) {  // Botan::Invalid_Authentication_Tag
      return false;
    }
  }

 private:
  GcmState state_;
};

}  // namespace

std::unique_ptr<PacketSealer> make_aes_gcm_sealer(std::string_view botan_mode, const DirectionKeys& keys) {
  return std::make_unique<GcmSealer>(botan_mode, keys);
}

std::unique_ptr<PacketOpener> make_aes_gcm_opener(std::string_view botan_mode, const DirectionKeys& keys) {
  return std::make_unique<GcmOpener>(botan_mode, keys);
}

}  // namespace cr::ssh::crypto
