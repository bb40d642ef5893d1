#include "proxy/tcp_listener.hpp"

#include <asio/ip/tcp.hpp>
#include <fmt/format.h>

#include "proxy/socket_stream.hpp"

namespace cr::proxy {
namespace {

using asio::ip::tcp;
using runtime::Errc;
using runtime::Error;
using runtime::Layer;

class AsioTcpListener final : public TcpListener {
 public:
  explicit AsioTcpListener(tcp::acceptor acceptor) : acceptor_(std::move(acceptor)) {
    const auto local = acceptor_.local_endpoint();
    port_ = local.port();
    name_ = local.address().is_v6() ? fmt::format("[{}]:{}", local.address().to_string(), local.port())
                                    : fmt::format("{}:{}", local.address().to_string(), local.port());
  }

  asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> accept() override {
    auto [ec, socket] = co_await acceptor_.async_accept(as_tuple);
    if (ec) {
      co_return runtime::fail(std::move(Error(ec == asio::error::operation_aborted ? Errc::cancelled : Errc::io_error,
                                              Layer::network, fmt::format("accepting a connection on {}", name_))
                                            .with_system(ec)));
    }
    std::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const auto peer = socket.remote_endpoint(ignored);
    auto name = fmt::format("tcp {} from {}:{}", name_, peer.address().to_string(), peer.port());
    co_return std::make_unique<SocketStream<tcp::socket>>(std::move(socket), std::move(name));
  }
  void close() override {
    std::error_code ignored;
    acceptor_.close(ignored);
  }
  std::uint16_t port() const override { return port_; }
  std::string describe() const override { return name_; }

 private:
  tcp::acceptor acceptor_;
  std::string name_;
  std::uint16_t port_ = 0;  // kept: a closed acceptor has no endpoint
};

runtime::Result<asio::ip::address> bind_address(const std::string& address) {
  if (address.empty() || address == "localhost") return asio::ip::address(asio::ip::address_v4::loopback());
  if (address == "*") return asio::ip::address(asio::ip::address_v4::any());
  std::error_code ec;
  auto parsed = asio::ip::make_address(address, ec);
  if (ec) {
    return runtime::fail(Errc::invalid_argument, Layer::network,
                         fmt::format("'{}' is not an address to listen on (an IP address, localhost or *)", address));
  }
  return parsed;
}

}  // namespace

runtime::Result<std::unique_ptr<TcpListener>> TcpListener::bind(asio::any_io_executor executor, std::string address,
                                                                std::uint16_t port) {
  auto ip = bind_address(address);
  if (!ip) return runtime::fail(std::move(ip.error()));
  const tcp::endpoint endpoint(*ip, port);
  tcp::acceptor acceptor(executor);
  std::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
#ifndef _WIN32
  // A port whose last connections are in TIME_WAIT can be listened on again at once. (Windows'
  // SO_REUSEADDR would let another process take a port in use: not there.)
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
#endif
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return runtime::fail(std::move(Error(Errc::io_error, Layer::network,
                                         fmt::format("cannot listen on {} port {}: {}",
                                                     address.empty() ? "localhost" : address, port, ec.message()))
                                       .with_system(ec)));
  }
  return std::unique_ptr<TcpListener>(std::make_unique<AsioTcpListener>(std::move(acceptor)));
}

}  // namespace cr::proxy
