#pragma once
// The connection protocol (RFC 4254) over an authenticated transport: channels multiplexed on one
// connection, flow-controlled both ways: session channels (session.hpp) and direct-tcpip channels
// as byte streams (channel_stream.hpp).
//
// One reader coroutine owns the transport's inbound side and hands each message to its channel;
// any number of channels run side by side. When the connection fails, every channel sees that
// failure as its own error.

#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <asio/steady_timer.hpp>

#include "runtime/deadline.hpp"
#include "runtime/event.hpp"
#include "ssh/incoming_channel.hpp"
#include "ssh/session.hpp"
#include "ssh/transport.hpp"

namespace cr::ssh {

struct ConnectionOptions {
  // What we let the server send before it must wait for our WINDOW_ADJUST, and the largest data
  // packet we accept. The window caps a channel at window / round trip, so it is sized for long
  // links (4 MiB / 100 ms = 40 MiB/s). On loopback 1-4 MiB windows ran at 400-550 MiB/s from
  // sshd and 250-330 MiB/s from the Go server; sshd got slower with 8-16 MiB, and 64 KiB packets
  // were no clear gain. 32 KiB is the packet size every implementation must accept.
  std::uint32_t window_size = 4 * 1024 * 1024;
  std::uint32_t max_packet = 32 * 1024;
  // OpenSSH's ServerAliveInterval / ServerAliveCountMax: a keepalive@openssh.com request every
  // interval (0: none), and after count_max of them in a row go unanswered the connection fails
  // as dead, so a pool evicts it instead of handing out a connection that hangs.
  std::chrono::milliseconds keepalive_interval{0};
  int keepalive_count_max = 3;
  // Keep one session channel open in advance and open the next as it is taken, so a session costs
  // no round trip of its own (an exec: one round trip instead of two). The server holds the spare
  // open (sshd's MaxSessions counts it).
  bool spare_session = false;
  runtime::Logger log;
};

struct ChannelState;
class Reader;

// Where a direct-tcpip channel (RFC 4254 section 7.2) asks the server to connect, and who asks.
struct DirectTcpip {
  std::string host;
  std::uint16_t port = 0;
  std::string originator_address = "127.0.0.1";
  std::uint16_t originator_port = 0;
};

// A forwarded-streamlocal@openssh.com channel's data: the path of the socket that was connected.
runtime::Result<std::string> parse_forwarded_streamlocal(runtime::ConstBytes data);

// A forwarded-tcpip channel's data (RFC 4254 section 7.2): the address and port that were
// connected on the server (as host and port), and the originator's.
runtime::Result<DirectTcpip> parse_forwarded_tcpip(runtime::ConstBytes data);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Takes over an authenticated transport (and the stream under it) and starts reading from it.
  // `session_opened`: the CHANNEL_OPEN of first_session_open() was sent during authentication; its
  // channel is the first open_session()'s.
  static std::shared_ptr<Connection> start(std::unique_ptr<runtime::AsyncStream> stream,
                                           std::unique_ptr<Transport> transport, ConnectionOptions options,
                                           bool session_opened = false);
  // CHANNEL_OPEN "session" for the connection's first channel, to pipeline behind authentication.
  static std::vector<std::uint8_t> first_session_open(const ConnectionOptions& options);
  ~Connection();

  // Opens a channel of any type; `fields` follow the common ones in CHANNEL_OPEN. A refusal is
  // Errc::refused with the server's reason and words.
  asio::awaitable<runtime::Result<std::unique_ptr<Channel>>> open_channel(std::string type,
                                                                          std::vector<std::uint8_t> fields);
  asio::awaitable<runtime::Result<Session>> open_session();
  // A TCP connection made by the server, as a stream: it can carry another SSH connection.
  asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> open_direct_tcpip(DirectTcpip target);
  // The same to the Unix socket at `socket_path` on the server (direct-streamlocal@openssh.com).
  asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> open_direct_streamlocal(
      std::string socket_path);
  // A global request (RFC 4254 section 4); with want_reply, whether the server agreed. Replies come
  // in the order of the requests, so requests may overlap.
  asio::awaitable<runtime::Result<bool>> global_request(std::string name, bool want_reply,
                                                        std::vector<std::uint8_t> fields = {});
  // tcpip-forward (RFC 4254 section 7.1): the server listens on address:port and opens a
  // "forwarded-tcpip" channel for each connection there (take_incoming). The port it listens on,
  // the one it chose for port 0. A refusal is Errc::refused.
  asio::awaitable<runtime::Result<std::uint16_t>> request_tcpip_forward(std::string address, std::uint16_t port);
  // streamlocal-forward@openssh.com: the server listens on the Unix socket at `socket_path` and
  // opens a "forwarded-streamlocal@openssh.com" channel for each connection there. A refusal is
  // Errc::refused.
  asio::awaitable<runtime::Result<void>> request_streamlocal_forward(std::string socket_path);
  // Channels the server opens of `type` wait for next_incoming(type) instead of being refused.
  void take_incoming(std::string type);
  // The next such channel, to accept or reject; fails once the connection has ended.
  asio::awaitable<runtime::Result<IncomingChannel>> next_incoming(std::string type);
  // keepalive@openssh.com: succeeds when the server answers at all (servers refuse it, and a
  // refusal is an answer), within the deadline.
  asio::awaitable<runtime::Result<void>> ping(runtime::Deadline deadline);
  // Runs one command to its end on a session channel of its own (Session::exec).
  asio::awaitable<runtime::Result<ExecResult>> exec(std::string command, ExecOptions options = {});
  // Sends DISCONNECT and closes the stream; every channel sees the connection end. The reader
  // keeps the connection alive until then (or until the server ends it): close it when done.
  asio::awaitable<void> close();

  Transport& transport() { return *transport_; }
  asio::any_io_executor executor() { return stream_->get_executor(); }
  std::string describe() const { return stream_->describe(); }
  // Why the connection ended, once it has.
  const std::optional<runtime::Error>& failure() const { return failure_; }
  // Waits until it has ended (failure() then says why); false when cancelled first.
  asio::awaitable<bool> wait_ended();
  // Channels in use (a spare session opened in advance does not count).
  std::size_t open_channels() const { return channels_.size() - (spare_ ? 1 : 0); }
  // Waits until no channel is in use or the connection has ended; false when cancelled first.
  asio::awaitable<bool> wait_idle();
  // How long the last answered ping (a keepalive) took, once one has been answered.
  std::optional<std::chrono::microseconds> last_round_trip() const { return last_round_trip_; }

  Connection(std::unique_ptr<runtime::AsyncStream> stream, std::unique_ptr<Transport> transport,
             ConnectionOptions options);

 private:
  friend class Channel;
  friend class IncomingChannel;
  // The completion of a background coroutine (the reader, the queued sender, keepalives): one that
  // ends by an exception fails the connection with it, instead of leaving every waiter waiting.
  static std::function<void(std::exception_ptr)> failing_on_exception(std::weak_ptr<Connection> weak,
                                                                      std::string_view task);
  static asio::awaitable<void> read_loop(std::shared_ptr<Connection> self);
  static asio::awaitable<void> send_queued(std::shared_ptr<Connection> self);
  static asio::awaitable<void> keep_alive(std::weak_ptr<Connection> weak, std::shared_ptr<asio::steady_timer> tick,
                                          std::chrono::milliseconds interval, int count_max);
  runtime::Result<void> dispatch(const std::vector<std::uint8_t>& message);
  void fail_all(runtime::Error error);
  // Drops a channel both sides are done with (or the server never saw).
  void forget(std::uint32_t local_id);
  std::shared_ptr<ChannelState> find(std::uint32_t local_id) const;
  std::shared_ptr<ChannelState> new_channel();
  std::vector<std::uint8_t> open_message(std::string_view type, const ChannelState& channel,
                                         std::span<const std::uint8_t> fields) const;
  asio::awaitable<runtime::Result<std::unique_ptr<Channel>>> confirmed(std::shared_ptr<ChannelState> state,
                                                                       std::string type);
  // Queues the CHANNEL_OPEN of the next spare session channel.
  void open_spare();
  asio::awaitable<runtime::Result<void>> send(std::span<const std::uint8_t> message);
  // Sends a message from code that cannot wait (the reader, a destructor) after those queued
  // before it. The reader never writes itself: a write waits out a key exchange that only the
  // reader can finish.
  void queue(std::vector<std::uint8_t> message);
  void queue_close(ChannelState& channel);
  // A global request's reply: the request specific data of REQUEST_SUCCESS, nullopt for FAILURE.
  asio::awaitable<runtime::Result<std::optional<std::vector<std::uint8_t>>>> request_with_reply(
      std::string name, std::vector<std::uint8_t> fields);

  std::unique_ptr<runtime::AsyncStream> stream_;  // declared first: it outlives the transport on it
  std::unique_ptr<Transport> transport_;
  ConnectionOptions options_;
  std::map<std::uint32_t, std::shared_ptr<ChannelState>> channels_;
  std::uint32_t next_channel_id_ = 0;
  std::shared_ptr<ChannelState> spare_;  // a session channel opened in advance, confirmed or not
  struct Queued {
    std::vector<std::uint8_t> message;
    runtime::AsyncMutex::Place place;
  };
  std::deque<Queued> queued_;
  bool sending_queued_ = false;
  struct PendingReply {
    std::optional<bool> accepted;
    std::vector<std::uint8_t> success_data;
    runtime::Event answered;
  };
  std::deque<std::shared_ptr<PendingReply>> pending_replies_;
  struct Incoming {
    std::deque<IncomingChannel> waiting;
    runtime::Event arrived;
  };
  std::map<std::string, std::unique_ptr<Incoming>, std::less<>> incoming_;
  std::optional<runtime::Error> failure_;
  runtime::Event ended_;  // notified as failure_ is set, and as a channel is forgotten
  std::optional<std::chrono::microseconds> last_round_trip_;
  bool closing_ = false;
  // The keepalive's wait between pings, cut short when the connection closes or fails so that a
  // finished connection leaves no timer keeping its executor busy.
  std::shared_ptr<asio::steady_timer> keepalive_tick_;
};

}  // namespace cr::ssh
