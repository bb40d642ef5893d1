#pragma once
// The connection protocol (RFC 4254) over an authenticated transport: channels multiplexed on one
// connection, flow-controlled both ways, and session channels that run commands.
//
// One reader coroutine owns the transport's inbound side and hands each message to its channel;
// any number of channels (execs) run side by side. When the connection fails, every channel sees
// that failure as its own error.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/event.hpp"
#include "ssh/transport.hpp"

namespace cr::ssh {

struct ConnectionOptions {
  // What we let the server send before it must wait for our WINDOW_ADJUST, and the largest data
  // packet we accept.
  std::uint32_t window_size = 4 * 1024 * 1024;
  std::uint32_t max_packet = 32 * 1024;
  runtime::Logger log;
};

struct ChannelState;
class Connection;

class Channel {
 public:
  Channel(std::shared_ptr<Connection> connection, std::shared_ptr<ChannelState> state);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  enum class Stream { out, err };
  // Up to buffer.size() bytes of stdout or stderr; end_of_stream after the server's EOF.
  asio::awaitable<runtime::Result<std::size_t>> read(Stream stream, runtime::Bytes buffer);
  // All of data, in packets within the server's window and packet size.
  asio::awaitable<runtime::Result<void>> write(runtime::ConstBytes data);
  asio::awaitable<runtime::Result<void>> send_eof();
  // A channel request (RFC 4254 section 6); with want_reply, whether the server agreed.
  asio::awaitable<runtime::Result<bool>> request(std::string_view type, bool want_reply, runtime::ConstBytes fields);
  // Waits until the server closes the channel (answering with our CLOSE), then reports how the
  // command ended.
  asio::awaitable<runtime::Result<void>> wait_closed();
  // Sends CLOSE if we have not, and stops waiting for the server's data.
  asio::awaitable<void> close();

  std::optional<std::uint32_t> exit_status() const;
  std::optional<std::string> exit_signal() const;

 private:
  std::shared_ptr<Connection> connection_;
  std::shared_ptr<ChannelState> state_;
};

struct ExecOptions {
  std::vector<std::pair<std::string, std::string>> env;  // "env" requests; servers may refuse them
  std::optional<std::string> stdin_data;                  // sent, then EOF; without it, EOF at once
  std::function<void(std::string_view)> on_stdout;        // streamed; without it, collected
  std::function<void(std::string_view)> on_stderr;
};

struct ExecResult {
  std::optional<int> exit_code;       // none when the command was killed or the channel closed early
  std::optional<std::string> signal;  // from exit-signal ("TERM")
  std::string stdout_data;            // when no on_stdout callback
  std::string stderr_data;
  std::chrono::milliseconds duration{0};
  bool closed_without_status() const { return !exit_code && !signal; }
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Takes over an authenticated transport (and the stream under it) and starts reading from it.
  static std::shared_ptr<Connection> start(std::unique_ptr<runtime::AsyncStream> stream,
                                           std::unique_ptr<Transport> transport, ConnectionOptions options);
  ~Connection();

  asio::awaitable<runtime::Result<std::unique_ptr<Channel>>> open_session();
  // Runs one command on its own session channel.
  asio::awaitable<runtime::Result<ExecResult>> exec(std::string command, ExecOptions options = {});
  // Sends DISCONNECT and closes the stream; every channel sees the connection end. The reader
  // keeps the connection alive until then (or until the server ends it): close it when done.
  asio::awaitable<void> close();

  Transport& transport() { return *transport_; }
  // Why the connection ended, once it has.
  const std::optional<runtime::Error>& failure() const { return failure_; }

  Connection(std::unique_ptr<runtime::AsyncStream> stream, std::unique_ptr<Transport> transport,
             ConnectionOptions options);

 private:
  friend class Channel;
  static asio::awaitable<void> read_loop(std::shared_ptr<Connection> self);
  runtime::Result<void> dispatch(const std::vector<std::uint8_t>& message, std::vector<std::vector<std::uint8_t>>& replies);
  void fail_all(runtime::Error error);
  std::shared_ptr<ChannelState> find(std::uint32_t local_id) const;
  asio::awaitable<runtime::Result<void>> send(std::span<const std::uint8_t> message);

  std::unique_ptr<runtime::AsyncStream> stream_;  // declared first: it outlives the transport on it
  std::unique_ptr<Transport> transport_;
  ConnectionOptions options_;
  std::map<std::uint32_t, std::shared_ptr<ChannelState>> channels_;
  std::uint32_t next_channel_id_ = 0;
  std::optional<runtime::Error> failure_;
  bool closing_ = false;
};

}  // namespace cr::ssh
