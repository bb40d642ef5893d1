// Packet protection for every cipher/MAC pair we negotiate: known answers computed independently
// (tests/data/generate_packet_cipher_kat.py, Python's cryptography package over OpenSSL),
// tampering, packets out of order, truncated input, and round trips of random sizes.

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ssh/crypto/packet_cipher.hpp"
#include "support/kat.hpp"

using namespace cr::ssh::crypto;

namespace {

using ByteVector = std::vector<std::uint8_t>;

// A sealer or opener the test expects to be built.
std::unique_ptr<PacketSealer> sealer_for(std::string_view cipher, std::string_view mac, const DirectionKeys& keys) {
  auto sealer = make_sealer(cipher, mac, keys);
  REQUIRE(sealer);
  return std::move(*sealer);
}

std::unique_ptr<PacketOpener> opener_for(std::string_view cipher, std::string_view mac, const DirectionKeys& keys) {
  auto opener = make_opener(cipher, mac, keys);
  REQUIRE(opener);
  return std::move(*opener);
}

SecretBytes secret(const ByteVector& bytes) { return {bytes.begin(), bytes.end()}; }

std::uint32_t length_field(const ByteVector& packet) {
  return std::uint32_t{packet[0]} << 24 | std::uint32_t{packet[1]} << 16 | std::uint32_t{packet[2]} << 8 |
         std::uint32_t{packet[3]};
}

// One cipher/MAC pair; for an AEAD the MAC name is ignored.
struct Mode {
  std::string cipher;
  std::string mac;
  std::string label() const { return cipher + " / " + mac; }
};

// What each mode must report, written out here rather than derived from the implementation.
struct Shape {
  std::size_t block_size;
  std::size_t tag_size;
  bool length_outside_padding;
  std::size_t first_block_size;
};

Shape expected_shape(const Mode& mode) {
  if (mode.cipher == "none") return {8, 0, false, 4};
  if (mode.cipher == "chacha20-poly1305@openssh.com") return {8, 16, true, 4};
  if (mode.cipher.ends_with("-gcm@openssh.com")) return {16, 16, true, 4};
  const std::size_t mac_size = mode.mac.starts_with("hmac-sha2-256") ? 32 : 64;
  const bool etm = mode.mac.ends_with("-etm@openssh.com");
  return {16, mac_size, etm, etm ? std::size_t{4} : std::size_t{16}};
}

struct KatPacket {
  std::uint32_t sequence = 0;
  ByteVector plaintext;
  ByteVector sealed;
};

struct KatBlock {
  Mode mode;
  DirectionKeys keys;
  std::vector<KatPacket> packets;
};

// sequence/plaintext/sealed repeat once per packet within a block.
std::vector<KatBlock> load_kat() {
  std::vector<KatBlock> blocks;
  for (const auto& lines : cr::test::read_kat_blocks("packet_cipher_kat.txt")) {
    KatBlock& block = blocks.emplace_back();
    for (const auto& [name, value] : lines) {
      if (name == "cipher") {
        block.mode.cipher = value;
      } else if (name == "mac") {
        block.mode.mac = value;
      } else if (name == "key") {
        block.keys.key = secret(cr::test::from_hex(value));
      } else if (name == "iv") {
        block.keys.iv = secret(cr::test::from_hex(value));
      } else if (name == "mac_key") {
        block.keys.mac_key = secret(cr::test::from_hex(value));
      } else if (name == "sequence") {
        block.packets.push_back({static_cast<std::uint32_t>(std::stoul(value)), {}, {}});
      } else if (name == "plaintext") {
        block.packets.back().plaintext = cr::test::from_hex(value);
      } else if (name == "sealed") {
        block.packets.back().sealed = cr::test::from_hex(value);
      } else {
        FAIL("unknown field in packet_cipher_kat.txt: " << name);
      }
    }
  }
  return blocks;
}

// Every pair make_sealer accepts: each cipher, and each MAC with the non-AEAD ones.
std::vector<Mode> negotiable_modes() {
  std::vector<Mode> modes;
  for (const auto& cipher : supported_ciphers()) {
    if (requirements(cipher, "").aead) {
      modes.push_back({cipher, "<implicit>"});
      continue;
    }
    for (const auto& mac : supported_macs()) modes.push_back({cipher, mac});
  }
  return modes;
}

ByteVector random_bytes(std::mt19937& rng, std::size_t size) {
  std::uniform_int_distribution<int> byte(0, 255);
  ByteVector out(size);
  for (auto& b : out) b = static_cast<std::uint8_t>(byte(rng));
  return out;
}

DirectionKeys random_keys(const Mode& mode, std::mt19937& rng) {
  const CipherRequirements needed = requirements(mode.cipher, mode.mac);
  return {secret(random_bytes(rng, needed.iv_size)), secret(random_bytes(rng, needed.key_size)),
          secret(random_bytes(rng, needed.mac_key_size))};
}

// A plaintext packet as RFC 4253 section 6 pads it, with tag_size() spare bytes behind it.
ByteVector plaintext_packet(const PacketSealer& sealer, const ByteVector& payload, std::mt19937& rng) {
  const std::size_t block = sealer.block_size();
  const std::size_t counted = 1 + payload.size() + (sealer.length_outside_padding() ? 0 : 4);
  std::size_t padding = block - counted % block;
  if (padding < 4) padding += block;
  const std::size_t length = 1 + payload.size() + padding;
  ByteVector packet{static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
                    static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length),
                    static_cast<std::uint8_t>(padding)};
  packet.insert(packet.end(), payload.begin(), payload.end());
  const ByteVector padding_bytes = random_bytes(rng, padding);
  packet.insert(packet.end(), padding_bytes.begin(), padding_bytes.end());
  packet.resize(packet.size() + sealer.tag_size());
  return packet;
}

// What the packet layer does with bytes from the wire: learn the length from the first block,
// take 4 + packet_length + tag bytes from `wire` (zeros if it runs out), open them. The opened
// packet, or nothing when open() fails or the length is one the packet layer would refuse.
std::optional<ByteVector> receive(PacketOpener& opener, std::uint32_t sequence, ByteVector wire) {
  const std::size_t first = opener.first_block_size();
  REQUIRE(wire.size() >= first);
  const std::uint32_t length = opener.packet_length(sequence, Bytes(wire.data(), first));
  if (length > 256 * 1024) return std::nullopt;
  wire.resize(4 + std::size_t{length} + opener.tag_size());
  if (!opener.open(sequence, wire)) return std::nullopt;
  wire.resize(wire.size() - opener.tag_size());
  return wire;
}

}  // namespace

TEST_CASE("the names we offer, in our order, and the key material each needs", "[cipher]") {
  CHECK(supported_ciphers() == std::vector<std::string>{"chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com",
                                                        "aes256-gcm@openssh.com", "aes128-ctr", "aes192-ctr",
                                                        "aes256-ctr"});
  CHECK(supported_macs() == std::vector<std::string>{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com",
                                                     "hmac-sha2-256", "hmac-sha2-512"});

  struct Expected {
    std::string cipher, mac;
    std::size_t key_size, iv_size, mac_key_size;
    bool aead;
  };
  const std::vector<Expected> table{
      {"chacha20-poly1305@openssh.com", "hmac-sha2-256", 64, 0, 0, true},  // the MAC is ignored
      {"aes128-gcm@openssh.com", "", 16, 12, 0, true},
      {"aes256-gcm@openssh.com", "whatever", 32, 12, 0, true},
      {"aes128-ctr", "hmac-sha2-256", 16, 16, 32, false},
      {"aes192-ctr", "hmac-sha2-512-etm@openssh.com", 24, 16, 64, false},
      {"aes256-ctr", "hmac-sha2-256-etm@openssh.com", 32, 16, 32, false},
      {"aes256-ctr", "hmac-sha2-512", 32, 16, 64, false},
      {"none", "none", 0, 0, 0, false},
      {"aes128-ctr", "hmac-sha1", 0, 0, 0, false},  // unknown MAC
      {"aes128-ctr", "none", 0, 0, 0, false},
      {"aes128-cbc", "hmac-sha2-256", 0, 0, 0, false},  // unknown cipher
      {"", "", 0, 0, 0, false},
  };
  for (const auto& row : table) {
    INFO(row.cipher << " / " << row.mac);
    const CipherRequirements got = requirements(row.cipher, row.mac);
    CHECK(got.key_size == row.key_size);
    CHECK(got.iv_size == row.iv_size);
    CHECK(got.mac_key_size == row.mac_key_size);
    CHECK(got.aead == row.aead);
  }
}

TEST_CASE("make_sealer and make_opener refuse unknown names and key material of the wrong size, saying why",
          "[cipher]") {
  std::mt19937 rng(1);
  CHECK(make_sealer("none", "none", {}));
  CHECK(make_opener("none", "none", {}));
  const auto unknown = make_sealer("aes128-cbc", "hmac-sha2-256", {});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == cr::runtime::Errc::invalid_argument);
  CHECK(unknown.error().message == "no packet protection named cipher 'aes128-cbc' with MAC 'hmac-sha2-256'");
  CHECK_FALSE(make_sealer("none", "hmac-sha2-256", {}));
  CHECK_FALSE(make_opener("aes128-ctr", "hmac-md5", {}));
  for (const Mode& mode : negotiable_modes()) {
    INFO(mode.label());
    const DirectionKeys keys = random_keys(mode, rng);
    CHECK(make_sealer(mode.cipher, mode.mac, keys));
    CHECK(make_opener(mode.cipher, mode.mac, keys));
    for (auto field : {&DirectionKeys::key, &DirectionKeys::iv, &DirectionKeys::mac_key}) {
      DirectionKeys longer = keys;
      (longer.*field).push_back(0);
      CHECK_FALSE(make_sealer(mode.cipher, mode.mac, longer));
      CHECK_FALSE(make_opener(mode.cipher, mode.mac, longer));
    }
    DirectionKeys shorter = keys;
    shorter.key.pop_back();
    const auto refused = make_opener(mode.cipher, mode.mac, shorter);
    REQUIRE_FALSE(refused);
    CHECK_THAT(refused.error().message, Catch::Contains(fmt::format("takes a {}-byte key", keys.key.size())) &&
                                            Catch::Contains(fmt::format("not {},", shorter.key.size())));
  }
}

TEST_CASE("every cipher and MAC seals and opens as the recorded known answers say", "[cipher]") {
  const std::vector<KatBlock> blocks = load_kat();
  std::set<std::string> covered;
  for (const KatBlock& block : blocks) {
    INFO(block.mode.label());
    covered.insert(block.mode.label());
    REQUIRE(block.packets.size() == 2);
    auto sealer = sealer_for(block.mode.cipher, block.mode.mac, block.keys);
    auto opener = opener_for(block.mode.cipher, block.mode.mac, block.keys);
    REQUIRE(sealer != nullptr);
    REQUIRE(opener != nullptr);

    const Shape shape = expected_shape(block.mode);
    CHECK(sealer->block_size() == shape.block_size);
    CHECK(opener->block_size() == shape.block_size);
    CHECK(sealer->tag_size() == shape.tag_size);
    CHECK(opener->tag_size() == shape.tag_size);
    CHECK(sealer->length_outside_padding() == shape.length_outside_padding);
    CHECK(opener->length_outside_padding() == shape.length_outside_padding);
    CHECK(opener->first_block_size() == shape.first_block_size);

    // Both packets through one sealer and one opener, in order: state carries between them.
    for (const KatPacket& packet : block.packets) {
      INFO("sequence " << packet.sequence);
      REQUIRE(packet.sealed.size() == packet.plaintext.size() + shape.tag_size);
      ByteVector sealed = packet.plaintext;
      sealed.resize(sealed.size() + sealer->tag_size());
      sealer->seal(packet.sequence, sealed);
      CHECK(sealed == packet.sealed);

      const auto opened = receive(*opener, packet.sequence, packet.sealed);
      REQUIRE(opened);
      CHECK(*opened == packet.plaintext);
    }
  }
  // A cipher or MAC added to the lists without vectors fails here.
  std::set<std::string> expected{Mode{"none", "none"}.label()};
  for (const Mode& mode : negotiable_modes()) expected.insert(mode.label());
  CHECK(covered == expected);
}

TEST_CASE("a flipped bit in the length, the encrypted packet or the tag fails open()", "[cipher]") {
  std::mt19937 rng(2);
  for (const Mode& mode : negotiable_modes()) {
    const DirectionKeys keys = random_keys(mode, rng);
    auto sealer = sealer_for(mode.cipher, mode.mac, keys);
    REQUIRE(sealer != nullptr);
    ByteVector sealed = plaintext_packet(*sealer, random_bytes(rng, 100), rng);
    const std::uint32_t length = length_field(sealed);
    sealer->seal(7, sealed);

    struct Target {
      const char* what;
      std::size_t offset;
    };
    const std::vector<Target> targets{
        {"length", 3},                         // the low bit: packet_length is off by one
        {"encrypted packet", 4 + length / 2},  // the payload (under the MAC even for encrypt-and-MAC)
        {"tag", sealed.size() - 1},
    };
    for (const Target& target : targets) {
      INFO(mode.label() << ", a bit flipped in the " << target.what);
      ByteVector wire = sealed;
      wire[target.offset] ^= 0x01;
      wire.resize(wire.size() + 64);  // bytes that follow on the stream, for a length now too long
      auto opener = opener_for(mode.cipher, mode.mac, keys);
      REQUIRE(opener != nullptr);
      if (target.offset < 4) {
        ByteVector first(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(opener->first_block_size()));
        CHECK(opener->packet_length(7, first) == (length ^ 1U));
        opener = opener_for(mode.cipher, mode.mac, keys);  // CTR's packet_length moved the keystream on
      }
      CHECK_FALSE(receive(*opener, 7, wire));
    }
  }
}

TEST_CASE("a packet opened under the wrong sequence number or out of order fails", "[cipher]") {
  std::mt19937 rng(3);
  for (const Mode& mode : negotiable_modes()) {
    INFO(mode.label());
    const DirectionKeys keys = random_keys(mode, rng);
    auto sealer = sealer_for(mode.cipher, mode.mac, keys);
    REQUIRE(sealer != nullptr);
    ByteVector first = plaintext_packet(*sealer, random_bytes(rng, 30), rng);
    ByteVector second = plaintext_packet(*sealer, random_bytes(rng, 30), rng);
    sealer->seal(3, first);
    sealer->seal(4, second);

    auto opener = opener_for(mode.cipher, mode.mac, keys);
    CHECK_FALSE(receive(*opener, 3, second));  // the second packet where the first belongs
    opener = opener_for(mode.cipher, mode.mac, keys);
    if (requirements(mode.cipher, mode.mac).iv_size != 12) {  // GCM counts packets, not sequence numbers
      CHECK_FALSE(receive(*opener, 4, first));                // the right packet, the wrong number
    }
  }
}

TEST_CASE("truncated packets and sizes that disagree with packet_length fail without reading past the end",
          "[cipher]") {
  std::mt19937 rng(4);
  std::vector<Mode> modes = negotiable_modes();
  modes.push_back({"none", "none"});
  for (const Mode& mode : modes) {
    INFO(mode.label());
    const DirectionKeys keys = random_keys(mode, rng);
    auto sealer = sealer_for(mode.cipher, mode.mac, keys);
    REQUIRE(sealer != nullptr);
    ByteVector sealed = plaintext_packet(*sealer, random_bytes(rng, 40), rng);
    sealer->seal(0, sealed);

    // Every size short of the whole packet, each in a buffer of exactly that size (ASan checks
    // the reads), through a fresh opener that has seen the first block.
    const std::size_t first = opener_for(mode.cipher, mode.mac, keys)->first_block_size();
    for (std::size_t size = 0; size < sealed.size(); ++size) {
      auto opener = opener_for(mode.cipher, mode.mac, keys);
      ByteVector head(sealed.begin(), sealed.begin() + static_cast<std::ptrdiff_t>(size));
      if (size >= first) opener->packet_length(0, Bytes(head.data(), first));
      CHECK_FALSE(opener->open(0, head));
    }
    CHECK(opener_for(mode.cipher, mode.mac, keys)->packet_length(0, Bytes(sealed.data(), first - 1)) == 0);

    // One byte more than packet_length says.
    auto opener = opener_for(mode.cipher, mode.mac, keys);
    ByteVector longer = sealed;
    longer.push_back(0);
    opener->packet_length(0, Bytes(longer.data(), first));
    CHECK_FALSE(opener->open(0, longer));
  }
}

TEST_CASE("packets of random sizes round-trip, across the sequence number wrapping", "[cipher]") {
  std::mt19937 rng(5);
  std::vector<Mode> modes = negotiable_modes();
  modes.push_back({"none", "none"});
  for (const Mode& mode : modes) {
    INFO(mode.label());
    const DirectionKeys keys = random_keys(mode, rng);
    auto sealer = sealer_for(mode.cipher, mode.mac, keys);
    auto opener = opener_for(mode.cipher, mode.mac, keys);
    REQUIRE(sealer != nullptr);
    REQUIRE(opener != nullptr);
    std::uniform_int_distribution<std::size_t> payload_size(0, 3000);
    std::uint32_t sequence = 0xfffffff0;
    for (int i = 0; i < 40; ++i, ++sequence) {
      const ByteVector payload = random_bytes(rng, i == 0 ? 0 : payload_size(rng));
      ByteVector packet = plaintext_packet(*sealer, payload, rng);
      const ByteVector plaintext(packet.begin(), packet.end() - static_cast<std::ptrdiff_t>(sealer->tag_size()));
      sealer->seal(sequence, packet);
      if (mode.cipher != "none") CHECK(!std::equal(plaintext.begin() + 5, plaintext.end(), packet.begin() + 5));
      const auto opened = receive(*opener, sequence, packet);
      REQUIRE(opened);
      CHECK(*opened == plaintext);
    }
  }
}
