#pragma once
// The modes behind make_sealer/make_opener, one file each (chacha20_poly1305.cpp, aes_gcm.cpp,
// ctr_hmac.cpp), and what they share. Internal to src/ssh/crypto/.
//
// The factories below take key material already checked against requirements() and may throw
// (Botan cannot build an algorithm); make_sealer/make_opener catch. The sealers and openers they
// return never throw: open() reports every failure as false.

#include <cstdint>
#include <memory>
#include <string_view>

#include "ssh/crypto/packet_cipher.hpp"

namespace cr::ssh::crypto {

// RFC 4253 section 6: the uint32 packet_length that starts every packet.
inline constexpr std::size_t kLengthSize = 4;

// packet_length as the first 4 bytes say (big-endian), or 0, which no valid packet has, when there
// are fewer than 4.
std::uint32_t read_length(ConstBytes packet);

// seal() cannot report failure, and a packet without room for the length and the tag is a bug in
// the packet layer: stop the process rather than send something unprotected.
void require_room_for_tag(ConstBytes packet, std::size_t tag_size);

// chacha20-poly1305@openssh.com: keys.key is 64 bytes.
std::unique_ptr<PacketSealer> make_chacha20_poly1305_sealer(const DirectionKeys& keys);
std::unique_ptr<PacketOpener> make_chacha20_poly1305_opener(const DirectionKeys& keys);

// aes*-gcm@openssh.com: `botan_mode` is "AES-128/GCM" or "AES-256/GCM"; keys.iv is 12 bytes.
std::unique_ptr<PacketSealer> make_aes_gcm_sealer(std::string_view botan_mode, const DirectionKeys& keys);
std::unique_ptr<PacketOpener> make_aes_gcm_opener(std::string_view botan_mode, const DirectionKeys& keys);

// aes*-ctr with an HMAC: `botan_cipher` is "CTR-BE(AES-128)" etc., `botan_mac` "HMAC(SHA-256)" or
// "HMAC(SHA-512)"; `encrypt_then_mac` for the -etm@openssh.com MACs.
std::unique_ptr<PacketSealer> make_ctr_hmac_sealer(std::string_view botan_cipher, std::string_view botan_mac,
                                                   bool encrypt_then_mac, const DirectionKeys& keys);
std::unique_ptr<PacketOpener> make_ctr_hmac_opener(std::string_view botan_cipher, std::string_view botan_mac,
                                                   bool encrypt_then_mac, const DirectionKeys& keys);

}  // namespace cr::ssh::crypto
