#include "proxy/unix_stream.hpp"

#include <asio/local/stream_protocol.hpp>

#include "proxy/socket_stream.hpp"

namespace cr::proxy {
namespace {

using runtime::Errc;
using runtime::Error;
using runtime::Layer;
using runtime::Result;
using asio::local::stream_protocol;

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> connect_path(std::string path) {
  auto executor = co_await asio::this_coro::executor;
  stream_protocol::socket socket(executor);
  auto [ec] = co_await socket.async_connect(stream_protocol::endpoint(path), as_tuple);
  if (ec == asio::error::operation_aborted) {
    co_return runtime::fail(Errc::cancelled, Layer::network, fmt::format("connect to unix socket {} cancelled", path));
  }
  if (ec) {
    co_return runtime::fail(std::move(Error(Errc::connect_failed, Layer::network,
                                            fmt::format("could not connect to unix socket {}: {}", path, ec.message()))
                                          .with_system(ec)));
  }
  co_return std::make_unique<SocketStream<stream_protocol::socket>>(std::move(socket), fmt::format("unix {}", path));
}

}  // namespace

asio::awaitable<Result<std::unique_ptr<runtime::AsyncStream>>> connect_unix(std::string path, runtime::Deadline deadline) {
  // A socket path is at most about 100 bytes (sun_path); Asio throws past that, so say it here.
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    co_return runtime::fail(Errc::connect_failed, Layer::network,
                            fmt::format("unix socket path {} is longer than {} bytes", path, sizeof(sockaddr_un::sun_path) - 1));
  }
  const std::string what = fmt::format("connecting to unix socket {}", path);
  co_return co_await runtime::with_deadline(deadline, connect_path(std::move(path)), Layer::network, what);
}

}  // namespace cr::proxy
