#include "ssh/channel_stream.hpp"

#include <fmt/format.h>

#include "ssh/connection.hpp"

namespace cr::ssh {

using runtime::Errc;
using runtime::Layer;
using runtime::Result;

namespace {

class ChannelStream final : public runtime::AsyncStream {
 public:
  ChannelStream(std::unique_ptr<Channel> channel, std::string what)
      : channel_(std::move(channel)), what_(std::move(what)), via_(channel_->connection().describe()) {}

  executor_type get_executor() override { return executor_; }

  asio::awaitable<Result<std::size_t>> read_some(runtime::Bytes buffer) override {
    if (closed_) co_return closed_error();
    auto n = co_await channel_->read(Channel::Stream::out, buffer);
    if (!n) co_return runtime::fail(std::move(n.error()).with("stream", describe()));
    co_return n;
  }

  asio::awaitable<Result<std::size_t>> write_some(runtime::ConstBytes buffer) override {
    if (closed_) co_return closed_error();
    auto n = co_await channel_->write_some(buffer);
    if (!n) co_return runtime::fail(std::move(n.error()).with("stream", describe()));
    co_return n;
  }

  Result<void> shutdown_send() override {
    if (closed_) return closed_error();
    channel_->queue_eof();
    return {};
  }

  asio::awaitable<void> close() override {
    if (closed_) co_return;
    closed_ = true;
    co_await channel_->close();
  }

  std::string describe() const override { return fmt::format("{} via {}", what_, via_); }

 private:
  tl::unexpected<runtime::Error> closed_error() const {
    return runtime::fail(Errc::stream_closed, Layer::channel, fmt::format("{} was closed", describe()));
  }

  std::unique_ptr<Channel> channel_;
  executor_type executor_ = channel_->connection().executor();
  std::string what_;
  std::string via_;
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<runtime::AsyncStream> make_channel_stream(std::unique_ptr<Channel> channel, std::string what) {
  return std::make_unique<ChannelStream>(std::move(channel), std::move(what));
}

}  // namespace cr::ssh
