#pragma once
// What the connection's reader and a Channel handle share about one channel (internal to src/ssh).

#include <algorithm>
#include <cstring>
#include <cstdint>
#include <vector>
#include <optional>
#include <string>

#include "runtime/event.hpp"
#include "ssh/channel.hpp"
#include "ssh/flow_window.hpp"
#include "ssh/wire.hpp"

namespace cr::ssh {

// Received bytes not yet read: appended at the back, taken from the front without moving what is
// left each time (with a large window that memmove made reads quadratic: 16 MiB windows ran at a
// third of the speed of 1 MiB ones). The front is compacted once it is the larger part.
class ByteQueue {
 public:
  void append(std::string_view bytes) { data_.append(bytes); }
  bool empty() const { return head_ == data_.size(); }
  std::size_t take(runtime::Bytes out) {
    const std::size_t n = std::min(out.size(), data_.size() - head_);
    // memcpy, not copy_n: from char to unsigned char GCC copies byte by byte.
    if (n > 0) std::memcpy(out.data(), data_.data() + head_, n);
    head_ += n;
    if (head_ == data_.size()) {
      data_.clear();
      head_ = 0;
    } else if (head_ > data_.size() / 2) {
      data_.erase(0, head_);
      head_ = 0;
    }
    return n;
  }

 private:
  std::string data_;
  std::size_t head_ = 0;
};

struct ChannelState {
  explicit ChannelState(asio::any_io_executor executor) : changed(std::move(executor)) {}

  std::uint32_t local_id = 0;
  std::uint32_t remote_id = 0;
  ReceiveWindow receive;  // what the server may still send
  SendWindow send;        // what we may still send
  bool confirmed = false;
  bool abandoned = false;  // the opener gave up waiting: close it once confirmed
  bool eof_received = false;
  bool close_received = false;
  bool close_sent = false;
  bool eof_sent = false;
  ByteQueue out;  // received, not yet read
  ByteQueue err;
  std::uint64_t requests_sent = 0;  // with want_reply; replies come back in this order
  std::vector<bool> replies;        // CHANNEL_SUCCESS / FAILURE, one a request (a few a channel)
  std::optional<std::uint32_t> exit_status;
  std::optional<ExitSignal> exit_signal;
  std::optional<runtime::Error> error;  // open failure, or the connection's end
  runtime::Event changed;
};

// What a message for a channel asks of the connection once the channel has taken it.
struct ChannelReaction {
  bool send_close = false;    // closed by the server, or confirmed after its opener gave up
  bool send_failure = false;  // a request we do not serve wanted a reply
  bool forget = false;        // refused or closed: the connection no longer knows it
};

// Takes one message addressed to `channel` (`payload`, message number first, its recipient channel
// already checked): the open's answer, window adjustments, data, EOF, CLOSE, requests and replies
// (RFC 4254 sections 5 and 6). Every field is read before anything changes, so a message that
// fails to parse changes nothing. A message the channel's state does not allow is a protocol error.
runtime::Result<ChannelReaction> take_channel_message(ChannelState& channel, ConstBytes payload);

// A protocol error in the connection layer, quoting what the server did.
runtime::Error channel_protocol_error(std::string message);

}  // namespace cr::ssh
