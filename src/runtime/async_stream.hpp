#pragma once
// The duplex byte stream every transport implements (TCP, a ProxyCommand's stdio, an SSH
// direct-tcpip channel, an in-memory pair in tests). The SSH layer runs over this and nothing else.
//
// Contract, shared by every implementation and checked by tests/proxy/stream_contract_test.cpp:
// - read_some returns 1..n bytes, or Errc::end_of_stream once the peer has closed its sending side
//   and everything it sent has been read, and the same error on every later read. It carries what
//   the implementation knows about why (a proxy's exit status and stderr tail).
// - write_some writes 1..n bytes.
// - shutdown_send half-closes: the peer reads end_of_stream, we can still read.
// - An operation cancelled through its cancellation slot fails with Errc::cancelled and leaves the
//   stream usable; after close() every operation fails with Errc::stream_closed.
// - One operation of each direction at a time; all calls from the stream's executor.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "runtime/error.hpp"

namespace cr::runtime {

using Bytes = std::span<std::uint8_t>;
using ConstBytes = std::span<const std::uint8_t>;

inline ConstBytes as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}
inline std::string_view as_text(ConstBytes bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

class AsyncStream {
 public:
  using executor_type = asio::any_io_executor;

  virtual ~AsyncStream() = default;

  virtual executor_type get_executor() = 0;
  virtual asio::awaitable<Result<std::size_t>> read_some(Bytes buffer) = 0;
  virtual asio::awaitable<Result<std::size_t>> write_some(ConstBytes buffer) = 0;
  virtual Result<void> shutdown_send() = 0;
  // Graceful and bounded in time (a child process gets a grace period before it is killed).
  virtual asio::awaitable<void> close() = 0;
  // One line for diagnostics: "tcp 127.0.0.1:2222", "ProxyCommand `coder ssh --stdio ws` (pid 42)".
  virtual std::string describe() const = 0;
};

// Loops over write_some until every byte is written or an error stops it.
asio::awaitable<Result<void>> write_all(AsyncStream& stream, ConstBytes data);

// Loops over read_some until `buffer` is full or an error (end_of_stream included) stops it.
asio::awaitable<Result<void>> read_exact(AsyncStream& stream, Bytes buffer);

}  // namespace cr::runtime
