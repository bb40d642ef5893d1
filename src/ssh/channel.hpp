#pragma once
// One channel of a connection (RFC 4254 section 5): data both ways within the windows, EOF, CLOSE,
// and channel requests. Session and direct-tcpip channels build on it (session.hpp,
// channel_stream.hpp); the connection's reader fills it.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>

#include "runtime/async_stream.hpp"

namespace cr::ssh {

struct ChannelState;
class Connection;

// How a remote process was killed (RFC 4254 section 6.10).
struct ExitSignal {
  std::string name;  // without "SIG": "TERM", "KILL"
  bool core_dumped = false;
  std::string message;  // the server's explanation, often empty
  bool operator==(const ExitSignal&) const = default;
};

class Channel {
 public:
  Channel(std::shared_ptr<Connection> connection, std::shared_ptr<ChannelState> state);
  // A channel dropped while open is closed in the background, so the server frees it.
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  enum class Stream { out, err };
  // Up to buffer.size() bytes of stdout or stderr; end_of_stream after the server's EOF.
  asio::awaitable<runtime::Result<std::size_t>> read(Stream stream, runtime::Bytes buffer);
  // One packet's worth of data (waiting for window if there is none); how much went.
  asio::awaitable<runtime::Result<std::size_t>> write_some(runtime::ConstBytes data);
  // All of data, in packets within the server's window and packet size.
  asio::awaitable<runtime::Result<void>> write(runtime::ConstBytes data);
  asio::awaitable<runtime::Result<void>> send_eof();
  // EOF without waiting for it to leave (for AsyncStream::shutdown_send); it follows every message
  // sent before it.
  void queue_eof();
  // A channel request (RFC 4254 section 6); with want_reply, whether the server agreed. Replies are
  // matched to requests in order, so requests may overlap.
  asio::awaitable<runtime::Result<bool>> request(std::string_view type, bool want_reply, runtime::ConstBytes fields);
  // Its two halves, so that other messages can go before the answer comes: send_request returns a
  // ticket (with want_reply) that reply() waits on; false when the channel closed unanswered.
  asio::awaitable<runtime::Result<std::uint64_t>> send_request(std::string_view type, bool want_reply,
                                                               runtime::ConstBytes fields);
  asio::awaitable<runtime::Result<bool>> reply(std::uint64_t ticket);
  // Waits until the server closes the channel (the reader answers with our CLOSE).
  asio::awaitable<runtime::Result<void>> wait_closed();
  // Sends CLOSE if we have not; the server's CLOSE still ends the channel.
  asio::awaitable<void> close();

  bool eof_received() const;
  bool closed() const;  // the server's CLOSE arrived
  std::optional<std::uint32_t> exit_status() const;
  std::optional<ExitSignal> exit_signal() const;
  std::uint32_t local_id() const;
  Connection& connection() { return *connection_; }

 private:
  std::shared_ptr<Connection> connection_;
  std::shared_ptr<ChannelState> state_;
};

}  // namespace cr::ssh
