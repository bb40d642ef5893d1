#pragma once
// Internal to src/proxy/: a connected Asio stream socket (TCP, a Unix domain socket) or a
// Windows named-pipe client (windows::stream_handle) as an AsyncStream. The end of the stream is reported once by the
// socket (epoll gives no second edge for it), so it is remembered and repeated.

#include <optional>
#include <string>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "runtime/asio_error.hpp"
#include "runtime/async_stream.hpp"

namespace cr::proxy {

inline constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

template <class Socket>
class SocketStream final : public runtime::AsyncStream {
 public:
  SocketStream(Socket socket, std::string name) : socket_(std::move(socket)), name_(std::move(name)) {}

  executor_type get_executor() override { return socket_.get_executor(); }

  asio::awaitable<runtime::Result<std::size_t>> read_some(runtime::Bytes buffer) override {
    if (closed_) co_return runtime::fail(closed_error());
    // The end of the stream is reported once by the socket (epoll gives no second edge for it).
    if (read_end_) co_return runtime::fail(*read_end_);
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buffer.data(), buffer.size()), as_tuple);
    if (!ec) co_return n;
    if (closed_) co_return runtime::fail(closed_error());
    // A named pipe whose server end has gone reads broken_pipe (sockets never do): the end too.
    if (ec == asio::error::broken_pipe) ec = asio::error::eof;
    runtime::Error error = runtime::stream_error(ec, runtime::Layer::network, name_, "read");
    if (error.code == runtime::Errc::end_of_stream) read_end_ = error;
    co_return runtime::fail(std::move(error));
  }

  asio::awaitable<runtime::Result<std::size_t>> write_some(runtime::ConstBytes buffer) override {
    if (closed_) co_return runtime::fail(closed_error());
    auto [ec, n] = co_await socket_.async_write_some(asio::buffer(buffer.data(), buffer.size()), as_tuple);
    if (!ec) co_return n;
    co_return runtime::fail(closed_ ? closed_error()
                                    : runtime::stream_error(ec, runtime::Layer::network, name_, "write"));
  }

  runtime::Result<void> shutdown_send() override {
    if (closed_) return runtime::fail(closed_error());
    if constexpr (requires { Socket::shutdown_send; }) {
      std::error_code ec;
      socket_.shutdown(Socket::shutdown_send, ec);
      if (ec) return runtime::fail(runtime::stream_error(ec, runtime::Layer::network, name_, "shutdown"));
      return {};
    } else {
      return runtime::fail(runtime::Errc::invalid_argument, runtime::Layer::network,
                           fmt::format("{}: a named pipe cannot be half-closed", name_));
    }
  }

  asio::awaitable<void> close() override {
    closed_ = true;
    std::error_code ignored;
    socket_.close(ignored);
    co_return;
  }

  std::string describe() const override { return name_; }

 private:
  runtime::Error closed_error() const {
    return runtime::Error(runtime::Errc::stream_closed, runtime::Layer::network, fmt::format("{}: closed", name_));
  }

  Socket socket_;
  std::string name_;
  std::optional<runtime::Error> read_end_;
  bool closed_ = false;
};

}  // namespace cr::proxy
