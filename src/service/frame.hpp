#pragma once
// The service protocol's framing (docs/protocol.md): a 4-byte big-endian length, a kind byte, a
// body. Messages are JSON-RPC text; data and end frames carry a command's streams beside them.
//
// Both sides move frames in batches, because a command's end is several frames at once (its last
// output, the ends of its streams, the result) and each read or write is a system call and a
// wakeup: the reader cuts frames out of whatever one read brought, and the writer writes
// everything queued while it was busy in one go. The reader checks each length before it buffers
// that frame's body, so a peer cannot make us hold more than one frame's limit and one read. The
// writer queues whole frames and writes them from one coroutine of its own: concurrent senders
// never interleave, and a sender's cancellation never cuts a frame in two.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/async_stream.hpp"
#include "runtime/event.hpp"

namespace cr::service {

enum class FrameKind : std::uint8_t { message = 0, data = 1, end = 2 };
enum class StreamId : std::uint8_t { stdin_stream = 0, stdout_stream = 1, stderr_stream = 2 };

inline constexpr std::size_t kMaxFrameLength = 1024 * 1024;  // kind and body
inline constexpr std::size_t kMaxDataPayload = 64 * 1024;
// What each stream's receiver grants before its first credit notification.
inline constexpr std::uint64_t kInitialCredit = 256 * 1024;

std::string_view to_string(StreamId stream);
std::optional<StreamId> stream_from_name(std::string_view name);

struct Frame {
  FrameKind kind = FrameKind::message;
  std::uint32_t handle = 0;  // data and end
  StreamId stream = StreamId::stdin_stream;
  std::string body;  // the JSON text, or the data's bytes
};

std::string encode_message(std::string_view json);
std::string encode_data(std::uint32_t handle, StreamId stream, std::string_view bytes);
std::string encode_end(std::uint32_t handle, StreamId stream);

// One frame's kind and body (what follows the length): a malformed one is Errc::protocol_error
// naming what is wrong.
runtime::Result<Frame> parse_frame(runtime::ConstBytes kind_and_body);

// Cuts whole frames out of the bytes as they arrive, whoever reads them (FrameReader here, the
// front's blocking relay).
class FrameBuffer {
 public:
  // The next whole frame; nullopt until more bytes have arrived; protocol_error for a length out
  // of bounds or a malformed frame.
  runtime::Result<std::optional<Frame>> next();
  // Where the next read goes: room for at least the rest of the frame being cut.
  runtime::Bytes room();
  void filled(std::size_t count) { end_ += count; }
  // What the stream's end (or failure) means here: itself between frames, protocol_error inside one.
  runtime::Error ended(runtime::Error stream_error) const;

 private:
  std::size_t wanted() const;

  std::unique_ptr<std::uint8_t[]> buffer_;  // [start_, end_) arrived and not yet returned
  std::size_t capacity_ = 0;
  std::size_t start_ = 0;
  std::size_t end_ = 0;
};

class FrameReader {
 public:
  explicit FrameReader(runtime::AsyncStream& stream) : stream_(stream) {}
  // The next frame; end_of_stream when the peer closed between frames, protocol_error for a
  // length out of bounds, a stream that ends inside a frame, or a malformed frame.
  asio::awaitable<runtime::Result<Frame>> read();

 private:
  runtime::AsyncStream& stream_;
  FrameBuffer buffer_;
};

class FrameWriter : public std::enable_shared_from_this<FrameWriter> {
 public:
  FrameWriter(std::shared_ptr<runtime::AsyncStream> stream, asio::any_io_executor executor)
      : stream_(std::move(stream)), drained_(std::move(executor)) {}

  // Queues a whole frame; it goes out after those queued before it. Dropped once writing failed.
  void send(std::string frame);
  // Waits until everything queued so far has been written (or writing failed).
  asio::awaitable<void> flush();
  bool failed() const { return failed_; }
  std::size_t queued_bytes() const { return queued_bytes_; }

 private:
  static asio::awaitable<void> write_queued(std::shared_ptr<FrameWriter> self);
  std::shared_ptr<runtime::AsyncStream> stream_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool failed_ = false;
  runtime::Event drained_;
};

}  // namespace cr::service
