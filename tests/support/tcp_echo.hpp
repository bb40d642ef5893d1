#pragma once
// A loopback TCP (or Unix socket) echo server for tests: it listens before the test connects (no
// waiting for it), serves one connection, echoes until the peer half-closes, then half-closes too,
// as cat does.

#include <array>
#include <memory>

#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace cr::test {

inline std::shared_ptr<asio::ip::tcp::acceptor> loopback_acceptor(asio::any_io_executor ex) {
  return std::make_shared<asio::ip::tcp::acceptor>(ex, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
}

template <class Acceptor>
asio::awaitable<void> serve_echo(std::shared_ptr<Acceptor> acceptor) {
  constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
  auto [ec, socket] = co_await acceptor->async_accept(as_tuple);
  if (ec) co_return;
  std::array<char, 65536> buffer;
  for (;;) {
    auto [rec, n] = co_await socket.async_read_some(asio::buffer(buffer), as_tuple);
    if (n > 0) {
      auto [wec, written] = co_await asio::async_write(socket, asio::buffer(buffer.data(), n), as_tuple);
      if (wec) break;
    }
    if (rec) break;
  }
  std::error_code ignored;
  socket.shutdown(asio::socket_base::shutdown_send, ignored);
}

inline asio::awaitable<void> serve_tcp_echo(std::shared_ptr<asio::ip::tcp::acceptor> acceptor) {
  return serve_echo(std::move(acceptor));
}

}  // namespace cr::test
