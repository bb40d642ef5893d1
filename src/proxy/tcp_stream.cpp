#include "proxy/tcp_stream.hpp"

#include <asio/ip/tcp.hpp>
#include <fmt/format.h>

#include "proxy/socket_stream.hpp"

namespace cr::proxy {

using asio::ip::tcp;
using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;

namespace {

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> resolve_and_connect(std::string host, std::uint16_t port,
                                                                                   runtime::Logger log) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(host, std::to_string(port), as_tuple);
  if (resolve_ec) {
    co_return runtime::fail(
        std::move(Error(resolve_ec == asio::error::operation_aborted ? Errc::cancelled : Errc::resolve_failed,
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
    co_return std::make_unique<SocketStream<tcp::socket>>(std::move(socket), fmt::format("tcp {} ({})", host, address));
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
