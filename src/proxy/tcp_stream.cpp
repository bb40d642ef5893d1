#include "proxy/tcp_stream.hpp"

#include <optional>

#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "runtime/asio_error.hpp"

namespace cr::proxy {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;
using asio::ip::tcp;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

namespace {

class TcpStream final : public runtime::AsyncStream {
 public:
  TcpStream(tcp::socket socket, std::string name) : socket_(std::move(socket)), name_(std::move(name)) {}

  executor_type get_executor() override { return socket_.get_executor(); }

  asio::awaitable<Result<std::size_t>> read_some(runtime::Bytes buffer) override {
    if (closed_) co_return runtime::fail(closed_error());
    // The end of the stream is reported once by the socket (epoll gives no second edge for it).
    if (read_end_) co_return runtime::fail(*read_end_);
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buffer.data(), buffer.size()), as_tuple);
    if (!ec) co_return n;
    if (closed_) co_return runtime::fail(closed_error());
    Error error = runtime::stream_error(ec, Layer::network, name_, "read");
    if (error.code == Errc::end_of_stream) read_end_ = error;
    co_return runtime::fail(std::move(error));
  }

  asio::awaitable<Result<std::size_t>> write_some(runtime::ConstBytes buffer) override {
    if (closed_) co_return runtime::fail(closed_error());
    auto [ec, n] = co_await socket_.async_write_some(asio::buffer(buffer.data(), buffer.size()), as_tuple);
    if (!ec) co_return n;
    co_return runtime::fail(closed_ ? closed_error() : runtime::stream_error(ec, Layer::network, name_, "write"));
  }

  Result<void> shutdown_send() override {
    if (closed_) return runtime::fail(closed_error());
    std::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return runtime::fail(runtime::stream_error(ec, Layer::network, name_, "shutdown"));
    return {};
  }

  asio::awaitable<void> close() override {
    closed_ = true;
    std::error_code ignored;
    socket_.close(ignored);
    co_return;
  }

  std::string describe() const override { return name_; }

 private:
  Error closed_error() const { return Error(Errc::stream_closed, Layer::network, fmt::format("{}: closed", name_)); }

  tcp::socket socket_;
  std::string name_;
  std::optional<Error> read_end_;
  bool closed_ = false;
};

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> resolve_and_connect(std::string host,
                                                                                  std::uint16_t port,
                                                                                  runtime::Logger log) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(host, std::to_string(port), as_tuple);
  if (resolve_ec) {
    co_return runtime::fail(std::move(Error(resolve_ec == asio::error::operation_aborted ? Errc::cancelled
                                                                                          : Errc::resolve_failed,
                                            Layer::network, fmt::format("could not resolve {}", host))
                                          .with_system(resolve_ec)));
  }
  Error failure(Errc::connect_failed, Layer::network, fmt::format("could not connect to {} port {}", host, port));
  for (const auto& entry : endpoints) {
    tcp::socket socket(executor);
    auto [ec] = co_await socket.async_connect(entry.endpoint(), as_tuple);
    const std::string address = fmt::format("{}:{}", entry.endpoint().address().to_string(), port);
    if (ec == asio::error::operation_aborted) {
      co_return runtime::fail(Errc::cancelled, Layer::network, fmt::format("connect to {} cancelled", address));
    }
    if (ec) {
      log.debug("connect to {} failed: {}", address, ec.message());
      failure.with(address, ec.message());
      failure.system = ec;
      continue;
    }
    std::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    log.debug("connected to {} ({})", host, address);
    co_return std::make_unique<TcpStream>(std::move(socket), fmt::format("tcp {} ({})", host, address));
  }
  co_return runtime::fail(std::move(failure));
}

}  // namespace

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> connect_tcp(std::string host, std::uint16_t port,
                                                                          runtime::Deadline deadline,
                                                                          runtime::Logger log) {
  const std::string what = fmt::format("connecting to {} port {}", host, port);
  co_return co_await runtime::with_deadline(deadline, resolve_and_connect(std::move(host), port, std::move(log)),
                                            Layer::network, what);
}

}  // namespace cr::proxy
