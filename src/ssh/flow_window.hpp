#pragma once
// Channel flow control arithmetic (RFC 4254 section 5.2), apart from the I/O so its edge cases are
// tested alone. Windows are 32-bit: an adjust that would take one past 2^32 - 1 is the peer's
// protocol error (a shipped CVE came from letting it wrap), and nothing is ever sent beyond the
// peer's window or its maximum packet size.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/error.hpp"

namespace cr::ssh {

inline constexpr std::uint64_t kMaxWindow = 0xffffffffULL;

// What the peer lets us send.
class SendWindow {
 public:
  SendWindow() = default;
  SendWindow(std::uint32_t initial, std::uint32_t max_packet) : window_(initial), max_packet_(max_packet) {}

  runtime::Result<void> grow(std::uint32_t bytes) {
    if (window_ + bytes > kMaxWindow) {
      return runtime::fail(std::move(runtime::Error(runtime::Errc::protocol_error, runtime::Layer::channel,
                                                    "the server's window adjust overflows the channel window")
                                         .with("window", std::to_string(window_))
                                         .with("adjust", std::to_string(bytes))));
    }
    window_ += bytes;
    return {};
  }
  std::uint64_t available() const { return window_; }
  // The data of the next packet: within the window and the peer's maximum packet, which bounds
  // the data a CHANNEL_DATA carries (RFC 4254 section 5.2: "the maximum amount of data allowed is
  // determined by the maximum packet size"), as OpenSSH, Go's x/crypto/ssh and Dropbear read it.
  // 0 while the window is closed.
  std::size_t next_chunk(std::size_t wanted) const {
    return static_cast<std::size_t>(std::min<std::uint64_t>({wanted, window_, max_packet_}));
  }
  void consume(std::size_t sent) { window_ -= std::min<std::uint64_t>(sent, window_); }

 private:
  std::uint64_t window_ = 0;
  std::uint32_t max_packet_ = 0;
};

// What we let the peer send, and when to give it more.
class ReceiveWindow {
 public:
  ReceiveWindow() = default;
  ReceiveWindow(std::uint32_t size, std::uint32_t max_packet) : size_(size), window_(size), max_packet_(max_packet) {}

  // Data arrived: beyond the window or our maximum packet is the peer's protocol error.
  runtime::Result<void> receive(std::size_t bytes) {
    if (bytes > window_ || bytes > max_packet_) {
      return runtime::fail(std::move(runtime::Error(runtime::Errc::protocol_error, runtime::Layer::channel,
                                                    "the server sent data beyond the channel window")
                                         .with("data", std::to_string(bytes))
                                         .with("window", std::to_string(window_))
                                         .with("maximum packet", std::to_string(max_packet_))));
    }
    window_ -= static_cast<std::uint32_t>(bytes);
    return {};
  }
  // The application is done with `bytes` received bytes. Returns the WINDOW_ADJUST to send now, or 0:
  // the window is given back once half of it has been used, so the peer rarely waits for us and
  // we send few adjusts.
  std::uint32_t consumed(std::size_t bytes) {
    consumed_ += bytes;
    if (consumed_ < size_ / 2 || consumed_ == 0) return 0;
    const auto adjust = static_cast<std::uint32_t>(std::min<std::uint64_t>(consumed_, kMaxWindow - window_));
    window_ += adjust;
    consumed_ -= adjust;
    return adjust;
  }
  std::uint32_t available() const { return window_; }

 private:
  std::uint32_t size_ = 0;
  std::uint32_t window_ = 0;
  std::uint64_t consumed_ = 0;
  std::uint32_t max_packet_ = 0;
};

}  // namespace cr::ssh
