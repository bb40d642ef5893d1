#pragma once
// The binary packet protocol (RFC 4253 section 6) over an AsyncStream: framing, padding, sequence
// numbers, and the cipher/MAC state of each direction, swapped at NEWKEYS.
//
// Limits are checked before anything is allocated: a packet_length over kMaxPacketLength (as
// OpenSSH, 256 KiB) or one that breaks the block rule is a protocol error quoting the length.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <memory>
#include <vector>

#include "runtime/async_stream.hpp"
#include "ssh/crypto/packet_cipher.hpp"

namespace cr::ssh {

// A write_packet error that stands for a packet that left whole, cancelled as it went: what waits
// on its answer is abandoned, not forgotten (the answer will come).
bool sent_despite_cancellation(const runtime::Error& error);

class PacketStream {
 public:
  static constexpr std::uint32_t kMaxPacketLength = 256 * 1024;

  explicit PacketStream(runtime::AsyncStream& stream);

  // Bytes that arrived behind the server's version line: the start of its first packet.
  // `version_bytes` is everything the version exchange read, those bytes included.
  void push_received(std::span<const std::uint8_t> bytes, std::uint64_t version_bytes);

  // While set (during the handshake), a read that waits longer than this fails as a stall
  // (ssh/stall.hpp), saying how much had arrived and what came last.
  void set_stall_budget(std::optional<std::chrono::milliseconds> budget) { stall_budget_ = budget; }

  // The next packet's payload (message number first). Errors are Layer::transport.
  asio::awaitable<runtime::Result<std::vector<std::uint8_t>>> read_packet();
  // Errc::cancelled when a cancellation came while the packet was leaving; the packet still left
  // whole then, which sent_despite_cancellation tells.
  asio::awaitable<runtime::Result<void>> write_packet(std::span<const std::uint8_t> payload);
  // The last packet before the stream is closed (DISCONNECT): unlike write_packet, a cancellation
  // may cut it short, since nothing follows it on the wire.
  asio::awaitable<runtime::Result<void>> write_final_packet(std::span<const std::uint8_t> payload);

  // NEWKEYS: the next packet in that direction uses the new keys.
  void set_sealer(std::unique_ptr<crypto::PacketSealer> sealer) { sealer_ = std::move(sealer); }
  void set_opener(std::unique_ptr<crypto::PacketOpener> opener) { opener_ = std::move(opener); }
  // Strict kex resets a direction's sequence number at each NEWKEYS.
  void reset_send_sequence() { send_sequence_ = 0; }
  void reset_receive_sequence() { receive_sequence_ = 0; }

  std::uint32_t receive_sequence() const { return receive_sequence_; }
  std::uint32_t send_sequence() const { return send_sequence_; }
  // Bytes through each direction since the last reset (for rekeying by volume).
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  std::uint64_t bytes_received() const { return bytes_received_; }
  void reset_byte_counts() { bytes_sent_ = bytes_received_ = 0; }

  runtime::AsyncStream& stream() { return stream_; }

 private:
  asio::awaitable<runtime::Result<void>> fill(std::size_t count);
  // Frames, pads and seals payload into out_ with the next sequence number.
  void seal(std::span<const std::uint8_t> payload);

  std::string last_arrived() const;

  runtime::AsyncStream& stream_;
  std::optional<std::chrono::milliseconds> stall_budget_;
  std::uint64_t total_received_ = 0;  // the version exchange's bytes included
  std::optional<std::uint8_t> last_message_;
  std::unique_ptr<crypto::PacketSealer> sealer_;
  std::unique_ptr<crypto::PacketOpener> opener_;
  std::vector<std::uint8_t> in_;  // received, not yet consumed: in_[in_start_, in_end_)
  std::size_t in_start_ = 0;
  std::size_t in_end_ = 0;
  std::vector<std::uint8_t> out_;  // reused for each packet written
  std::uint32_t send_sequence_ = 0;
  std::uint32_t receive_sequence_ = 0;
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t bytes_received_ = 0;
};

}  // namespace cr::ssh
