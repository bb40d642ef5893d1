#include "ssh/packet_stream.hpp"

#include <algorithm>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>

#include <fmt/format.h>

#include "runtime/cancellation.hpp"
#include "ssh/crypto/random.hpp"
#include "ssh/integrity.hpp"
#include "ssh/stall.hpp"

namespace cr::ssh {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMinPadding = 4;

// The evidence label of a packet that left whole although its writer was cancelled.
constexpr const char* kSentWhole = "sent";

Error transport_error(std::string message) { return Error(Errc::protocol_error, Layer::transport, std::move(message)); }
}  // namespace

PacketStream::PacketStream(runtime::AsyncStream& stream)
    : stream_(stream),
      sealer_(crypto::make_sealer("none", "none", {}).value()),
      opener_(crypto::make_opener("none", "none", {}).value()) {}

void PacketStream::push_received(std::span<const std::uint8_t> bytes, std::uint64_t version_bytes) {
  total_received_ = version_bytes;
  if (in_.size() < in_end_ + bytes.size()) in_.resize(in_end_ + bytes.size());
  std::copy(bytes.begin(), bytes.end(), in_.begin() + static_cast<std::ptrdiff_t>(in_end_));
  in_end_ += bytes.size();
}

asio::awaitable<Result<void>> PacketStream::fill(std::size_t count) {
  while (in_end_ - in_start_ < count) {
    if (in_start_ > 0) {  // keep the unconsumed bytes at the front so the buffer does not grow
      std::copy(in_.begin() + static_cast<std::ptrdiff_t>(in_start_),
                in_.begin() + static_cast<std::ptrdiff_t>(in_end_), in_.begin());
      in_end_ -= in_start_;
      in_start_ = 0;
    }
    // Grown (and zeroed) only when a packet needs more room than it has: not once per read.
    const std::size_t room = in_end_ + std::max(kReadChunk, count - in_end_);
    if (in_.size() < room) in_.resize(room);
    const bool cancelled = co_await runtime::cancellation_requested();
    if (cancelled) co_return runtime::fail(Errc::cancelled, Layer::transport, "cancelled while reading a packet");
    const runtime::Bytes free_space(in_.data() + in_end_, in_.size() - in_end_);
    Result<std::size_t> n;
    if (stall_budget_) {
      auto arrived = last_arrived();
      n = co_await read_some_within(stream_, free_space, *stall_budget_, total_received_, std::move(arrived));
    } else {
      n = co_await stream_.read_some(free_space);
    }
    if (!n) {
      // Where the server's side ended says which step it walked away from.
      if (n.error().code == Errc::end_of_stream) n.error().with("last arrived", last_arrived());
      co_return runtime::fail(std::move(n.error()));
    }
    total_received_ += *n;
    in_end_ += *n;
    bytes_received_ += *n;
  }
  co_return Result<void>{};
}

asio::awaitable<Result<std::vector<std::uint8_t>>> PacketStream::read_packet() {
  const std::size_t first = opener_->first_block_size();
  auto got_first = co_await fill(first);
  if (!got_first) co_return runtime::fail(std::move(got_first.error()));
  const std::uint32_t sequence = receive_sequence_;
  const std::uint32_t length = opener_->packet_length(sequence, crypto::Bytes(in_.data() + in_start_, first));
  const std::size_t block = opener_->block_size();
  // With the length outside the padded region (AEAD, -etm) only the rest must be a block multiple.
  const std::size_t padded = opener_->length_outside_padding() ? length : length + 4;
  if (length > kMaxPacketLength || length < 5 || padded % block != 0) {
    co_return runtime::fail(std::move(
        transport_error("the server sent an invalid packet length")
            .with("packet_length", fmt::format("{} (block size {}, maximum {})", length, block, kMaxPacketLength))));
  }
  const std::size_t whole = 4 + std::size_t{length} + opener_->tag_size();
  auto got_all = co_await fill(whole);
  if (!got_all) co_return runtime::fail(std::move(got_all.error()));
  auto packet = crypto::Bytes(in_.data() + in_start_, whole);
  if (!opener_->open(sequence, packet)) {
    co_return runtime::fail(
        mark_altered(std::move(transport_error("message authentication failed (corrupted or tampered data)")
                                   .with("sequence number", std::to_string(sequence))),
                     "the packet's MAC does not match its contents"));
  }
  const std::uint8_t padding = packet[4];
  if (padding < kMinPadding || std::size_t{padding} + 1 > length) {
    co_return runtime::fail(
        std::move(transport_error("the server sent invalid padding")
                      .with("padding_length", fmt::format("{} of packet_length {}", padding, length))));
  }
  std::vector<std::uint8_t> payload(packet.begin() + 5, packet.begin() + 4 + length - padding);
  if (!payload.empty()) last_message_ = payload[0];
  in_start_ += whole;
  ++receive_sequence_;  // wraps at 2^32 as RFC 4253 section 6.4 says
  co_return payload;
}

void PacketStream::seal(std::span<const std::uint8_t> payload) {
  const std::size_t block = sealer_->block_size();
  const std::size_t counted = 1 + payload.size() + (sealer_->length_outside_padding() ? 0 : 4);
  std::size_t padding = block - counted % block;
  if (padding < kMinPadding) padding += block;
  const std::size_t length = 1 + payload.size() + padding;
  out_.resize(4 + length + sealer_->tag_size());
  for (int i = 0; i < 4; ++i) out_[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(length >> (24 - 8 * i));
  out_[4] = static_cast<std::uint8_t>(padding);
  std::copy(payload.begin(), payload.end(), out_.begin() + 5);
  crypto::random_bytes(crypto::Bytes(out_.data() + 5 + payload.size(), padding));
  sealer_->seal(send_sequence_++, out_);
  bytes_sent_ += out_.size();
}

asio::awaitable<Result<void>> PacketStream::write_final_packet(std::span<const std::uint8_t> payload) {
  seal(payload);
  co_return co_await runtime::write_all(stream_, out_);
}

asio::awaitable<Result<void>> PacketStream::write_packet(std::span<const std::uint8_t> payload) {
  seal(payload);
  // Once a packet starts to leave, it leaves whole: a cancellation between its chunks would leave
  // half a packet on the wire and the connection unusable for every channel on it. So the write
  // runs as a coroutine of its own that the caller's cancellation does not reach (the empty
  // slot); closing the stream still ends it, as a dead connection's keepalive does.
  // A cancellation that comes meanwhile would reach no operation: Asio 1.22 only records it in the
  // caller's cancellation state, and the caller's next wait (for a reply, the server's KEXINIT)
  // would never hear of it. So it is held here and reported once the packet has left.
  auto executor = co_await asio::this_coro::executor;
  auto caller = (co_await asio::this_coro::cancellation_state).slot();
  bool held_back = false;
  // Whatever way the write ends, the handler (which points into this frame) leaves the slot.
  struct Listening {
    asio::cancellation_slot& slot;
    ~Listening() {
      if (slot.is_connected()) slot.clear();
    }
  } listening{caller};
  if (caller.is_connected()) caller.assign([&held_back](asio::cancellation_type) { held_back = true; });
  auto whole_packet = runtime::write_all(stream_, out_);
  auto written = co_await asio::co_spawn(executor, std::move(whole_packet),
                                         asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
  if (written && held_back) {
    co_return runtime::fail(std::move(Error(Errc::cancelled, Layer::transport, "cancelled while a packet was leaving")
                                          .with(kSentWhole, "the packet left whole")));
  }
  co_return written;
}

std::string PacketStream::last_arrived() const {
  const bool partial = in_end_ > in_start_;
  if (!last_message_)
    return partial ? "the server's version line and part of its first packet" : "the server's version line";
  return fmt::format("{}{}", describe_message(*last_message_), partial ? ", then part of a packet" : "");
}

bool sent_despite_cancellation(const Error& error) {
  return error.code == Errc::cancelled && error.find_evidence(kSentWhole) != nullptr;
}

}  // namespace cr::ssh
