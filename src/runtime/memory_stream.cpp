#include "runtime/memory_stream.hpp"

#include <algorithm>
#include <deque>

#include <fmt/format.h>

#include "runtime/deadline.hpp"
#include "runtime/event.hpp"

namespace cr::runtime {
namespace {

// One direction: a bounded byte queue and the event its reader and writer wait on.
struct Direction {
  Direction(asio::any_io_executor ex, std::size_t cap) : changed(ex), capacity(cap) {}

  Event changed;
  std::deque<std::uint8_t> bytes;
  std::size_t capacity;
  bool writer_done = false;  // shutdown_send or close on the writing end
  bool reader_gone = false;  // close on the reading end
};

class MemoryStream final : public AsyncStream {
 public:
  MemoryStream(asio::any_io_executor ex, std::shared_ptr<Direction> in, std::shared_ptr<Direction> out,
               std::string name)
      : executor_(std::move(ex)), in_(std::move(in)), out_(std::move(out)), name_(std::move(name)) {}
  ~MemoryStream() override { close_now(); }

  executor_type get_executor() override { return executor_; }

  asio::awaitable<Result<std::size_t>> read_some(Bytes buffer) override {
    for (;;) {
      if (closed_) co_return fail(closed_error());
      if (!in_->bytes.empty()) {
        const std::size_t n = std::min(buffer.size(), in_->bytes.size());
        std::copy_n(in_->bytes.begin(), n, buffer.begin());
        in_->bytes.erase(in_->bytes.begin(), in_->bytes.begin() + static_cast<std::ptrdiff_t>(n));
        in_->changed.notify();
        co_return n;
      }
      if (in_->writer_done) {
        co_return fail(Errc::end_of_stream, Layer::runtime, fmt::format("{}: peer closed", name_));
      }
      const bool notified = co_await in_->changed.wait();
      if (!notified) co_return fail(cancelled_error("read"));
    }
  }

  asio::awaitable<Result<std::size_t>> write_some(ConstBytes buffer) override {
    for (;;) {
      if (closed_ || out_->writer_done) co_return fail(closed_error());
      if (out_->reader_gone) {
        co_return fail(Errc::io_error, Layer::runtime, fmt::format("{}: peer closed its end", name_));
      }
      const std::size_t room = out_->capacity - std::min(out_->capacity, out_->bytes.size());
      if (room > 0) {
        const std::size_t n = std::min(room, buffer.size());
        out_->bytes.insert(out_->bytes.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
        out_->changed.notify();
        co_return n;
      }
      const bool notified = co_await out_->changed.wait();
      if (!notified) co_return fail(cancelled_error("write"));
    }
  }

  Result<void> shutdown_send() override {
    if (closed_) return fail(closed_error());
    out_->writer_done = true;
    out_->changed.notify();
    return {};
  }

  asio::awaitable<void> close() override {
    close_now();
    co_return;
  }

  std::string describe() const override { return fmt::format("memory stream {}", name_); }

 private:
  void close_now() {
    if (closed_) return;
    closed_ = true;
    out_->writer_done = true;
    out_->changed.notify();
    in_->reader_gone = true;
    in_->changed.notify();
  }
  Error closed_error() const { return Error(Errc::stream_closed, Layer::runtime, fmt::format("{}: closed", name_)); }
  Error cancelled_error(std::string_view op) const {
    return Error(Errc::cancelled, Layer::runtime, fmt::format("{}: {} cancelled", name_, op));
  }

  asio::any_io_executor executor_;
  std::shared_ptr<Direction> in_;
  std::shared_ptr<Direction> out_;
  std::string name_;
  bool closed_ = false;
};

}  // namespace

std::pair<std::unique_ptr<AsyncStream>, std::unique_ptr<AsyncStream>> make_memory_stream_pair(
    asio::any_io_executor executor, MemoryStreamOptions options) {
  const std::size_t capacity = std::max<std::size_t>(options.capacity, 1);
  auto a_to_b = std::make_shared<Direction>(executor, capacity);
  auto b_to_a = std::make_shared<Direction>(executor, capacity);
  return {std::make_unique<MemoryStream>(executor, b_to_a, a_to_b, "a"),
          std::make_unique<MemoryStream>(executor, a_to_b, b_to_a, "b")};
}

}  // namespace cr::runtime
