#pragma once
// Clients of a forwarded port, for the forwarding tests: reproducible payloads, an exchange with
// an echo behind the port (byte for byte, to the end), many of them at once, and a wait for the
// port to listen.

#include <array>
#include <chrono>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>

#include "runtime/event.hpp"

namespace cr::test {

// A port nothing listens on now (a listener is opened on a free one and closed).
inline std::uint16_t free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
  return probe.local_endpoint().port();
}

inline std::string payload(std::size_t size, unsigned seed) {
  std::string text(size, '\0');
  for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>((i * 131 + seed * 7919 + i / 97) & 0xff);
  return text;
}

// Connects to the forwarded port (or Unix socket), sends `data`, half-closes, and reads the echo
// to its end.
template <class Endpoint>
asio::awaitable<std::string> echo_at(Endpoint endpoint, std::string data) {
  constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
  auto ex = co_await asio::this_coro::executor;
  typename Endpoint::protocol_type::socket socket(ex);
  auto [ec] = co_await socket.async_connect(endpoint, as_tuple);
  REQUIRE_FALSE(ec);
  co_await asio::async_write(socket, asio::buffer(data), as_tuple);
  // A peer that closed early (a SOCKS client sent garbage) reset the connection: what was read
  // says the rest.
  std::error_code ignored;
  socket.shutdown(asio::socket_base::shutdown_send, ignored);
  std::string echoed;
  std::array<char, 16384> buffer;
  for (;;) {
    auto [rec, n] = co_await socket.async_read_some(asio::buffer(buffer), as_tuple);
    echoed.append(buffer.data(), n);
    if (rec) break;
  }
  co_return echoed;
}

inline asio::awaitable<std::string> echo_through(std::uint16_t port, std::string data) {
  return echo_at(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), std::move(data));
}
inline asio::awaitable<std::string> echo_through(std::string socket, std::string data) {
  return echo_at(asio::local::stream_protocol::endpoint(socket), std::move(data));
}

// Runs the exchanges at once; their results, in order.
inline asio::awaitable<std::vector<std::string>> all_at_once(std::vector<asio::awaitable<std::string>> exchanges) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<std::string> results(exchanges.size());
  std::size_t done = 0;
  runtime::Event finished(ex);
  for (std::size_t i = 0; i < exchanges.size(); ++i) {
    asio::co_spawn(ex, std::move(exchanges[i]), [&results, &done, &finished, i](std::exception_ptr, std::string text) {
      results[i] = std::move(text);
      ++done;
      finished.notify();
    });
  }
  while (done < results.size()) co_await finished.wait();
  co_return results;
}

// Waits (polling, within a deadline) until something listens on the port (or Unix socket).
template <class Endpoint>
asio::awaitable<bool> listening_at(Endpoint endpoint) {
  constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
  auto ex = co_await asio::this_coro::executor;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    typename Endpoint::protocol_type::socket socket(ex);
    auto [ec] = co_await socket.async_connect(endpoint, as_tuple);
    if (!ec) co_return true;
    asio::steady_timer pause(ex, std::chrono::milliseconds(20));  // a poll: the child says nothing when it listens
    co_await pause.async_wait(as_tuple);
  }
  co_return false;
}

inline asio::awaitable<bool> listening(std::uint16_t port) {
  return listening_at(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
}
inline asio::awaitable<bool> listening(std::string socket) {
  return listening_at(asio::local::stream_protocol::endpoint(socket));
}

}  // namespace cr::test
