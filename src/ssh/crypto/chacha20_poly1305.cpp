// chacha20-poly1305@openssh.com, as OpenSSH's PROTOCOL.chacha20poly1305 defines it. This is not
// RFC 8439's AEAD: it uses the original ChaCha20 with a 64-bit nonce, which is the packet's
// sequence number (uint64, big-endian), and two keys cut from the 64 bytes of key material:
//
//   K_2 = key[0, 32)   encrypts the payload from keystream block 1 onward; the first 32 bytes of
//                      block 0 are this packet's one-time Poly1305 key.
//   K_1 = key[32, 64)  encrypts the 4-byte packet length alone (block 0), so a reader can learn
//                      the length before the rest of the packet has arrived.
//
// The 16-byte tag is Poly1305 over the encrypted length || the encrypted rest of the packet.

#include <algorithm>
#include <array>

#include <botan/mac.h>
#include <botan/mem_ops.h>
#include <botan/stream_cipher.h>

#include "ssh/crypto/big_endian.hpp"
#include "ssh/crypto/packet_modes.hpp"

namespace cr::ssh::crypto {
namespace {

constexpr std::size_t kHalfKeySize = 32;
constexpr std::size_t kPolyKeySize = 32;
constexpr std::size_t kTagSize = 16;
constexpr std::size_t kPaddingBlock = 8;      // a stream cipher: RFC 4253's minimum
constexpr std::uint64_t kPayloadOffset = 64;  // keystream block 1

using Tag = std::array<std::uint8_t, kTagSize>;

// Two keyed ChaCha20 instances and Poly1305: what both directions do to one packet.
class ChaChaPoly {
 public:
  explicit ChaChaPoly(const DirectionKeys& keys)
      : payload_cipher_(Botan::StreamCipher::create_or_throw("ChaCha(20)")),
        length_cipher_(Botan::StreamCipher::create_or_throw("ChaCha(20)")),
        poly1305_(Botan::MessageAuthenticationCode::create_or_throw("Poly1305")),
        poly_key_(kPolyKeySize) {
    payload_cipher_->set_key(keys.key.data(), kHalfKeySize);
    length_cipher_->set_key(keys.key.data() + kHalfKeySize, kHalfKeySize);
  }

  // Encrypts or decrypts (the same XOR) 4 length bytes with K_1.
  void crypt_length(std::uint32_t sequence, std::uint8_t* length) {
    const auto nonce = nonce_for(sequence);
    length_cipher_->set_iv(nonce.data(), nonce.size());
    length_cipher_->cipher1(length, kLengthSize);
  }

  // Sets K_2 to this packet's nonce, keys Poly1305 from block 0, and moves on to block 1, where
  // the payload starts.
  void start_packet(std::uint32_t sequence) {
    const auto nonce = nonce_for(sequence);
    payload_cipher_->set_iv(nonce.data(), nonce.size());
    payload_cipher_->write_keystream(poly_key_.data(), poly_key_.size());
    poly1305_->set_key(poly_key_);
    payload_cipher_->seek(kPayloadOffset);
  }

  void crypt_payload(Bytes payload) { payload_cipher_->cipher1(payload.data(), payload.size()); }

  // Poly1305 over the packet as it is on the wire (length and payload encrypted).
  Tag tag(ConstBytes encrypted_packet) {
    Tag out;
    poly1305_->update(encrypted_packet.data(), encrypted_packet.size());
    poly1305_->final(out.data());
    return out;
  }

 private:
  static std::array<std::uint8_t, 8> nonce_for(std::uint32_t sequence) {
    std::array<std::uint8_t, 8> nonce;
    store_big_endian(std::uint64_t{sequence}, nonce.data());
    return nonce;
  }

  std::unique_ptr<Botan::StreamCipher> payload_cipher_;  // K_2
  std::unique_ptr<Botan::StreamCipher> length_cipher_;   // K_1
  std::unique_ptr<Botan::MessageAuthenticationCode> poly1305_;
  Botan::secure_vector<std::uint8_t> poly_key_;
};

class ChaChaPolySealer final : public PacketSealer {
 public:
  explicit ChaChaPolySealer(const DirectionKeys& keys) : state_(keys) {}

  std::size_t block_size() const override { return kPaddingBlock; }
  bool length_outside_padding() const override { return true; }
  std::size_t tag_size() const override { return kTagSize; }

  void seal(std::uint32_t sequence, Bytes packet) noexcept override {
    require_room_for_tag(packet, kTagSize);
    const Bytes body = packet.first(packet.size() - kTagSize);
    state_.crypt_length(sequence, body.data());
    state_.start_packet(sequence);
    state_.crypt_payload(body.subspan(kLengthSize));
    const Tag tag = state_.tag(body);
    std::copy(tag.begin(), tag.end(), packet.begin() + static_cast<std::ptrdiff_t>(body.size()));
  }

 private:
  ChaChaPoly state_;
};

class ChaChaPolyOpener final : public PacketOpener {
 public:
  explicit ChaChaPolyOpener(const DirectionKeys& keys) : state_(keys) {}

  std::size_t block_size() const override { return kPaddingBlock; }
  bool length_outside_padding() const override { return true; }
  std::size_t tag_size() const override { return kTagSize; }
  std::size_t first_block_size() const override { return kLengthSize; }

  // Decrypts a copy: the tag covers the length as it was sent, so open() needs those bytes.
  std::uint32_t packet_length(std::uint32_t sequence, Bytes first_block) noexcept override {
    if (first_block.size() < kLengthSize) return 0;
    std::array<std::uint8_t, kLengthSize> length;
    std::copy_n(first_block.begin(), kLengthSize, length.begin());
    state_.crypt_length(sequence, length.data());
    return read_length(length);
  }

  bool open(std::uint32_t sequence, Bytes packet) noexcept override {
    try {
      if (packet.size() < kLengthSize + kTagSize) return false;
      const Bytes body = packet.first(packet.size() - kTagSize);
      state_.start_packet(sequence);
      const Tag expected = state_.tag(body);
      if (!Botan::constant_time_compare(expected.data(), packet.data() + body.size(), kTagSize)) return false;
      state_.crypt_length(sequence, body.data());
      if (read_length(body) != body.size() - kLengthSize) return false;
      state_.crypt_payload(body.subspan(kLengthSize));
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

 private:
  ChaChaPoly state_;
};

}  // namespace

std::unique_ptr<PacketSealer> make_chacha20_poly1305_sealer(const DirectionKeys& keys) {
  return std::make_unique<ChaChaPolySealer>(keys);
}

std::unique_ptr<PacketOpener> make_chacha20_poly1305_opener(const DirectionKeys& keys) {
  return std::make_unique<ChaChaPolyOpener>(keys);
}

}  // namespace cr::ssh::crypto
