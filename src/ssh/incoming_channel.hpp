#pragma once
// A channel the server opens (RFC 4254 section 5.1), of a type the client has asked to take
// (Connection::take_incoming): "forwarded-tcpip" once the server listens for us. It waits for our
// answer: accept() confirms it, reject() refuses it with a reason, and one dropped unanswered is
// refused, so the server never waits on it.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>

#include "runtime/async_stream.hpp"
#include "runtime/error.hpp"
#include "ssh/channel.hpp"

namespace cr::ssh {

struct ChannelOpen;

// Why a channel is refused (RFC 4254 section 5.1's reason codes).
enum class OpenFailure : std::uint32_t {
  administratively_prohibited = 1,
  connect_failed = 2,
  unknown_channel_type = 3,
  resource_shortage = 4,
};

class IncomingChannel {
 public:
  IncomingChannel(std::weak_ptr<Connection> connection, const ChannelOpen& open);
  IncomingChannel(IncomingChannel&& other) noexcept;
  IncomingChannel& operator=(IncomingChannel&& other) noexcept;
  ~IncomingChannel();

  const std::string& type() const { return type_; }
  runtime::ConstBytes type_specific_data() const { return data_; }

  // Sends the confirmation; the channel is the caller's once it has left, so nothing sent on it can
  // go before it. Fails once the connection has ended.
  asio::awaitable<runtime::Result<std::unique_ptr<Channel>>> accept();
  // Sends CHANNEL_OPEN_FAILURE.
  void reject(OpenFailure reason, std::string_view description);

 private:
  std::weak_ptr<Connection> connection_;
  std::string type_;
  std::vector<std::uint8_t> data_;
  std::uint32_t sender_channel_ = 0;
  std::uint32_t initial_window_size_ = 0;
  std::uint32_t maximum_packet_size_ = 0;
  bool answered_ = false;
};

}  // namespace cr::ssh
