#pragma once
// Protection of one direction of the binary packet protocol (RFC 4253 section 6): a cipher and a
// MAC, or an AEAD mode (chacha20-poly1305@openssh.com, aes*-gcm@openssh.com). The packet layer
// above is the same for every mode; what differs (is the length encrypted? is the MAC over the
// plaintext or the ciphertext?) stays behind these two interfaces.
//
// A packet on the wire: uint32 packet_length || byte padding_length || payload || padding || tag.
// Every Botan call lives in src/ssh/crypto/.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"
#include "ssh/crypto/secret.hpp"

namespace cr::ssh::crypto {

using Bytes = std::span<std::uint8_t>;
using ConstBytes = std::span<const std::uint8_t>;

class PacketSealer {
 public:
  virtual ~PacketSealer() = default;
  // The cipher block size that padding rounds to (8 for stream and AEAD modes, at least 8).
  virtual std::size_t block_size() const = 0;
  // True when the 4-byte length is outside the padded region (AEAD and -etm MACs: the length is
  // sent in the clear or encrypted on its own); false when the whole packet is a multiple.
  virtual bool length_outside_padding() const = 0;
  virtual std::size_t tag_size() const = 0;
  // `packet` holds the plaintext packet (from packet_length through padding) followed by
  // tag_size() spare bytes: encrypts in place and writes the tag into the spare bytes. A packet
  // shorter than 4 + tag_size() is a bug in the caller and aborts (nothing is sent unprotected).
  virtual void seal(std::uint32_t sequence, Bytes packet) = 0;
};

class PacketOpener {
 public:
  virtual ~PacketOpener() = default;
  virtual std::size_t block_size() const = 0;
  // As PacketSealer::length_outside_padding: decides which bytes the block-size rule covers.
  virtual bool length_outside_padding() const = 0;
  virtual std::size_t tag_size() const = 0;
  // How many bytes must arrive before the packet length can be known (4, or a cipher block when
  // the length is encrypted along with the first block).
  virtual std::size_t first_block_size() const = 0;
  // Returns packet_length from the first first_block_size() bytes of the packet. May decrypt
  // those bytes in place; open() then continues from that state. Called once per packet.
  // Fewer bytes than first_block_size() give 0, a length the packet layer rejects.
  virtual std::uint32_t packet_length(std::uint32_t sequence, Bytes first_block) = 0;
  // `packet` is the whole packet as received: 4 + packet_length bytes, then tag_size() bytes.
  // Verifies the MAC or tag in constant time, and on success leaves the plaintext packet in
  // place (the first 4 bytes are the length). Returns false on a MAC/tag failure, and when the
  // packet is too short or its size disagrees with its packet_length; never throws.
  virtual bool open(std::uint32_t sequence, Bytes packet) = 0;
};

// Key material for one direction, as RFC 4253 section 7.2 derives it; wiped when freed.
struct DirectionKeys {
  SecretBytes iv;
  SecretBytes key;
  SecretBytes mac_key;
};

// What a negotiated cipher (and MAC, unless the cipher is an AEAD) needs from key derivation.
struct CipherRequirements {
  std::size_t key_size = 0;
  std::size_t iv_size = 0;
  std::size_t mac_key_size = 0;  // 0 for AEAD ciphers
  bool aead = false;             // the MAC list is ignored when true
};

// Names we implement, in our default preference order.
const std::vector<std::string>& supported_ciphers();
const std::vector<std::string>& supported_macs();

// nullopt-like: key_size == 0 when the name is unknown. "none"/"none" needs nothing either (all
// zero) but is known to make_sealer/make_opener; it is in neither supported list.
CipherRequirements requirements(std::string_view cipher, std::string_view mac);

// "none"/"none" gives the unprotected state before the first NEWKEYS (block size 8, no tag).
// Errors (Layer::kex): invalid_argument for names we do not implement or key material whose sizes
// differ from requirements(); internal_error, with Botan's message, when Botan cannot build it.
runtime::Result<std::unique_ptr<PacketSealer>> make_sealer(std::string_view cipher, std::string_view mac,
                                                           const DirectionKeys& keys);
runtime::Result<std::unique_ptr<PacketOpener>> make_opener(std::string_view cipher, std::string_view mac,
                                                           const DirectionKeys& keys);

}  // namespace cr::ssh::crypto
