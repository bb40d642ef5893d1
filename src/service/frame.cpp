#include "service/frame.hpp"

#include <algorithm>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <fmt/format.h>

namespace cr::service {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;

namespace {

// What one read asks for, and what one write gathers at most.
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kWriteBatch = 256 * 1024;

void put_u32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

std::uint32_t get_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

std::string header(std::size_t length, FrameKind kind) {
  std::string out;
  out.reserve(5 + length);
  put_u32(out, static_cast<std::uint32_t>(length + 1));
  out.push_back(static_cast<char>(kind));
  return out;
}

std::string stream_frame(FrameKind kind, std::uint32_t handle, StreamId stream, std::string_view bytes) {
  auto out = header(5 + bytes.size(), kind);
  put_u32(out, handle);
  out.push_back(static_cast<char>(stream));
  out.append(bytes);
  return out;
}

Error malformed(std::string what) { return Error(Errc::protocol_error, Layer::runtime, std::move(what)); }

}  // namespace

std::string_view to_string(StreamId stream) {
  switch (stream) {
    case StreamId::stdin_stream:
      return "stdin";
    case StreamId::stdout_stream:
      return "stdout";
    case StreamId::stderr_stream:
      return "stderr";
  }
  return "?";
}

std::optional<StreamId> stream_from_name(std::string_view name) {
  for (auto id : {StreamId::stdin_stream, StreamId::stdout_stream, StreamId::stderr_stream}) {
    if (to_string(id) == name) return id;
  }
  return std::nullopt;
}

std::string encode_message(std::string_view json) {
  auto out = header(json.size(), FrameKind::message);
  out.append(json);
  return out;
}

std::string encode_data(std::uint32_t handle, StreamId stream, std::string_view bytes) {
  return stream_frame(FrameKind::data, handle, stream, bytes);
}

std::string encode_end(std::uint32_t handle, StreamId stream) {
  return stream_frame(FrameKind::end, handle, stream, {});
}

runtime::Result<Frame> parse_frame(runtime::ConstBytes kind_and_body) {
  if (kind_and_body.empty()) return runtime::fail(malformed("an empty frame"));
  Frame frame;
  const auto kind = kind_and_body[0];
  const auto body = kind_and_body.subspan(1);
  if (kind == static_cast<std::uint8_t>(FrameKind::message)) {
    frame.kind = FrameKind::message;
    frame.body.assign(runtime::as_text(body));
    return frame;
  }
  if (kind != static_cast<std::uint8_t>(FrameKind::data) && kind != static_cast<std::uint8_t>(FrameKind::end)) {
    return runtime::fail(malformed(fmt::format("a frame of unknown kind {}", kind)));
  }
  frame.kind = static_cast<FrameKind>(kind);
  if (body.size() < 5)
    return runtime::fail(malformed(fmt::format("a {}-byte stream frame, under its 5-byte header", body.size())));
  frame.handle = get_u32(body.data());
  if (body[4] > static_cast<std::uint8_t>(StreamId::stderr_stream)) {
    return runtime::fail(
        malformed(fmt::format("a frame for stream {}, which is none of stdin, stdout, stderr", body[4])));
  }
  frame.stream = static_cast<StreamId>(body[4]);
  const auto payload = body.subspan(5);
  if (frame.kind == FrameKind::end && !payload.empty()) return runtime::fail(malformed("an end frame with a payload"));
  if (payload.size() > kMaxDataPayload) {
    return runtime::fail(
        malformed(fmt::format("a data frame of {} bytes, over the {}-byte limit", payload.size(), kMaxDataPayload)));
  }
  frame.body.assign(runtime::as_text(payload));
  return frame;
}

std::size_t FrameBuffer::wanted() const {
  if (end_ - start_ < 4) return 4;
  return 4 + std::size_t{get_u32(buffer_.get() + start_)};
}

runtime::Result<std::optional<Frame>> FrameBuffer::next() {
  if (end_ - start_ < 4) return std::nullopt;
  const auto length = get_u32(buffer_.get() + start_);
  if (length == 0 || length > kMaxFrameLength) {
    return runtime::fail(malformed(fmt::format("a frame length of {}, outside 1..{}", length, kMaxFrameLength)));
  }
  if (end_ - start_ < 4 + std::size_t{length}) return std::nullopt;
  auto frame = parse_frame(runtime::ConstBytes(buffer_.get() + start_ + 4, length));
  start_ += 4 + std::size_t{length};
  if (start_ == end_) {
    start_ = end_ = 0;
    // A large frame's buffer is not kept for the small ones that usually follow.
    if (capacity_ > kReadChunk) {
      buffer_.reset();
      capacity_ = 0;
    }
  }
  if (!frame) return runtime::fail(std::move(frame.error()));
  return std::optional<Frame>(std::move(*frame));
}

runtime::Bytes FrameBuffer::room() {
  // What is left moves to the front, with room for the rest of this frame and for whatever else
  // the peer has already sent. Not zeroed: a read touches only the pages it fills.
  const auto buffered = end_ - start_;
  const auto capacity = std::max({capacity_, wanted(), kReadChunk});
  if (capacity > capacity_) {
    auto larger = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
    std::copy(buffer_.get() + start_, buffer_.get() + end_, larger.get());
    buffer_ = std::move(larger);
    capacity_ = capacity;
  } else if (start_ > 0) {
    std::copy(buffer_.get() + start_, buffer_.get() + end_, buffer_.get());
  }
  start_ = 0;
  end_ = buffered;
  return runtime::Bytes(buffer_.get() + end_, capacity_ - end_);
}

Error FrameBuffer::ended(Error stream_error) const {
  if (stream_error.code != Errc::end_of_stream || end_ == start_) return stream_error;
  if (end_ - start_ < 4) return malformed("the stream ended inside a frame's length");
  return malformed(fmt::format("the stream ended inside a {}-byte frame", wanted() - 4));
}

asio::awaitable<runtime::Result<Frame>> FrameReader::read() {
  for (;;) {
    auto frame = buffer_.next();
    if (!frame) co_return runtime::fail(std::move(frame.error()));
    if (*frame) co_return std::move(**frame);
    auto n = co_await stream_.read_some(buffer_.room());
    if (!n) co_return runtime::fail(buffer_.ended(std::move(n.error())));
    buffer_.filled(*n);
  }
}

void FrameWriter::send(std::string frame) {
  if (failed_) return;
  queued_bytes_ += frame.size();
  queue_.push_back(std::move(frame));
  if (writing_) return;
  writing_ = true;
  asio::co_spawn(stream_->get_executor(), write_queued(shared_from_this()), asio::detached);
}

asio::awaitable<void> FrameWriter::write_queued(std::shared_ptr<FrameWriter> self) {
  co_await asio::this_coro::throw_if_cancelled(false);
  while (!self->queue_.empty() && !self->failed_) {
    auto batch = std::move(self->queue_.front());
    self->queue_.pop_front();
    while (!self->queue_.empty() && batch.size() + self->queue_.front().size() <= kWriteBatch) {
      batch += self->queue_.front();
      self->queue_.pop_front();
    }
    self->queued_bytes_ -= batch.size();
    auto written = co_await runtime::write_all(*self->stream_, runtime::as_bytes(batch));
    if (!written) self->failed_ = true;
  }
  self->queue_.clear();
  self->queued_bytes_ = 0;
  self->writing_ = false;
  self->drained_.notify();
}

asio::awaitable<void> FrameWriter::flush() {
  while (writing_) {
    const bool woken = co_await drained_.wait();
    if (!woken) co_return;
  }
}

}  // namespace cr::service
