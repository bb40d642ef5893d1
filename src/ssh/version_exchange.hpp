#pragma once
// RFC 4253 section 4.2, protocol version exchange, with the tolerances real servers need: text
// lines before the version line, LF-only line ends, non-UTF-8 bytes in those lines. Limits as in
// OpenSSH: 1024 lines before the version line, 8192 bytes a line, no NUL or lone CR in any. When the stream ends or
// garbage arrives instead, the error quotes what arrived.

#include <cstdint>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/async_stream.hpp"

namespace cr::ssh {

// The evidence a version line of another protocol than 2.0 carries: the version it names.
inline constexpr std::string_view kServerProtocolEvidence = "server protocol";

inline constexpr std::string_view kClientVersion = "SSH-2.0-coder_runtime_0.1";

struct PeerVersion {
  std::string line;      // without CR LF, e.g. "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"
  std::string software;  // "OpenSSH_9.2p1"
  std::string comments;  // "Debian-2+deb12u3"
  std::vector<std::string> pre_banner_lines;
};

// Fed bytes as they arrive; says when the version line is complete. Pure, so the fuzzer and the
// tests drive it without I/O.
class VersionParser {
 public:
  static constexpr std::size_t kMaxLines = 1024;
  static constexpr std::size_t kMaxLineBytes = 8192;

  enum class Status { need_more, done };

  // Consumes bytes up to and including the version line's LF; `consumed` tells how many, so the
  // caller keeps the rest (the server's first binary packet) for the transport.
  runtime::Result<Status> feed(runtime::ConstBytes bytes, std::size_t& consumed);

  const PeerVersion& version() const { return version_; }
  // Everything received so far, for the error when the stream ends first.
  const std::string& received() const { return received_; }

 private:
  runtime::Result<Status> finish_line();

  std::string line_;
  std::string received_;
  PeerVersion version_;
};

struct VersionExchange {
  PeerVersion peer;
  std::vector<std::uint8_t> leftover;  // bytes after the version line: the start of the packet stream
  std::uint64_t bytes_read = 0;        // all of them, leftover included
};

// Reads until the peer's version line (our own line is the transport's to send, at once). Once
// its first byte has come, a read that waits longer than `stall_budget` fails (ssh/stall.hpp).
asio::awaitable<runtime::Result<VersionExchange>> read_peer_version(
    runtime::AsyncStream& stream, std::optional<std::chrono::milliseconds> stall_budget = std::nullopt);

}  // namespace cr::ssh
