#include "proxy/stdio_stream.hpp"

#include <unistd.h>

#include <optional>

#include <asio/posix/stream_descriptor.hpp>

#include "proxy/socket_stream.hpp"

namespace cr::proxy {
namespace {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

class StdioStream final : public runtime::AsyncStream {
 public:
  StdioStream(asio::any_io_executor executor, int in, int out) : in_(executor, in), out_(executor, out) {}

  executor_type get_executor() override { return in_.get_executor(); }

  asio::awaitable<Result<std::size_t>> read_some(runtime::Bytes buffer) override {
    if (closed_) co_return runtime::fail(closed_error());
    if (read_end_) co_return runtime::fail(*read_end_);
    auto [ec, n] = co_await in_.async_read_some(asio::buffer(buffer.data(), buffer.size()), as_tuple);
    if (!ec) co_return n;
    if (closed_) co_return runtime::fail(closed_error());
    auto error = runtime::stream_error(ec, Layer::runtime, "stdin", "read");
    if (error.code == Errc::end_of_stream) read_end_ = error;
    co_return runtime::fail(std::move(error));
  }

  asio::awaitable<Result<std::size_t>> write_some(runtime::ConstBytes buffer) override {
    if (closed_ || !out_.is_open()) co_return runtime::fail(closed_error());
    auto [ec, n] = co_await out_.async_write_some(asio::buffer(buffer.data(), buffer.size()), as_tuple);
    if (!ec) co_return n;
    co_return runtime::fail(closed_ ? closed_error() : runtime::stream_error(ec, Layer::runtime, "stdout", "write"));
  }

  Result<void> shutdown_send() override {
    if (closed_) return runtime::fail(closed_error());
    std::error_code ignored;
    out_.close(ignored);
    return {};
  }

  asio::awaitable<void> close() override {
    closed_ = true;
    std::error_code ignored;
    in_.close(ignored);
    out_.close(ignored);
    co_return;
  }

  std::string describe() const override { return "stdio"; }

 private:
  static Error closed_error() { return Error(Errc::stream_closed, Layer::runtime, "stdio: closed"); }

  asio::posix::stream_descriptor in_;
  asio::posix::stream_descriptor out_;
  std::optional<Error> read_end_;
  bool closed_ = false;
};

Error system_error(std::string_view what) {
  return std::move(
      Error(Errc::io_error, Layer::runtime, std::string(what)).with_system({errno, std::system_category()}));
}

}  // namespace

Result<std::unique_ptr<runtime::AsyncStream>> take_stdio(asio::any_io_executor executor) {
  const int in = ::dup(STDIN_FILENO);
  if (in < 0) return runtime::fail(system_error("could not take stdin"));
  const int out = ::dup(STDOUT_FILENO);
  if (out < 0) {
    ::close(in);
    return runtime::fail(system_error("could not take stdout"));
  }
  if (::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    ::close(in);
    ::close(out);
    return runtime::fail(system_error("could not point stdout at stderr"));
  }
  return std::make_unique<StdioStream>(std::move(executor), in, out);
}

}  // namespace cr::proxy
