#pragma once
// A stream double for Asio 1.22's lost cancellation: it hands out its bytes one read at a time,
// and its first read emits a cancellation just as it completes, when no operation is attached to
// the reader's slot (as one that lands between a read's completion and the next read does). Once
// its bytes run out a read waits, for `silence` or until a cancellation reaches it.

#include <asio/cancellation_signal.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "runtime/async_stream.hpp"

namespace cr::test {

class LateCancellationStream : public runtime::AsyncStream {
 public:
  LateCancellationStream(asio::any_io_executor executor, std::string bytes, asio::cancellation_signal& cancel,
                         std::chrono::milliseconds silence)
      : executor_(std::move(executor)), bytes_(std::move(bytes)), cancel_(cancel), silence_(silence) {}

  executor_type get_executor() override { return executor_; }
  asio::awaitable<runtime::Result<std::size_t>> read_some(runtime::Bytes buffer) override {
    if (next_ < bytes_.size()) {
      buffer[0] = static_cast<std::uint8_t>(bytes_[next_++]);
      if (next_ == 1) cancel_.emit(asio::cancellation_type::terminal);
      co_return 1;
    }
    asio::steady_timer quiet(executor_, silence_);
    auto [interrupted] = co_await quiet.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (interrupted) co_return runtime::fail(runtime::Errc::cancelled, runtime::Layer::runtime, "read cancelled");
    co_return runtime::fail(runtime::Errc::timed_out, runtime::Layer::runtime, "the test stream stayed silent");
  }
  asio::awaitable<runtime::Result<std::size_t>> write_some(runtime::ConstBytes buffer) override {
    co_return buffer.size();
  }
  runtime::Result<void> shutdown_send() override { return {}; }
  asio::awaitable<void> close() override { co_return; }
  std::string describe() const override { return "a stream cancelled as its first read completes"; }

  std::size_t bytes_read() const { return next_; }

 private:
  asio::any_io_executor executor_;
  std::string bytes_;
  std::size_t next_ = 0;
  asio::cancellation_signal& cancel_;
  std::chrono::milliseconds silence_;
};

}  // namespace cr::test
