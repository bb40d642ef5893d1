// The AsyncStream contract, checked on every implementation against an echoing peer: an in-memory
// pair, a loopback TCP echo server, and `cat` as a child process.

#include <random>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <catch2/catch.hpp>

#include "proxy/process_stream.hpp"
#include "proxy/tcp_stream.hpp"
#include "runtime/memory_stream.hpp"
#include "support/run.hpp"

using namespace cr;
using runtime::Errc;
using Stream = std::unique_ptr<runtime::AsyncStream>;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

namespace {

// Echoes what it reads; half-closes when its reading side ends, as cat does. Owns its end.
asio::awaitable<void> echo(Stream owned) {
  auto& peer = *owned;
  std::array<std::uint8_t, 65536> buffer;
  for (;;) {
    auto n = co_await peer.read_some(buffer);
    if (!n) break;
    auto sent = co_await runtime::write_all(peer, runtime::ConstBytes(buffer.data(), *n));
    if (!sent) break;
  }
  (void)peer.shutdown_send();
}

// Keeps what a stream's far end needs alive for as long as the stream is used.
struct EchoStream {
  Stream stream;
  std::shared_ptr<asio::ip::tcp::acceptor> acceptor;
};

asio::awaitable<void> serve_tcp_echo(std::shared_ptr<asio::ip::tcp::acceptor> acceptor) {
  auto [ec, socket] = co_await acceptor->async_accept(as_tuple);
  if (ec) co_return;
  std::array<char, 65536> buffer;
  for (;;) {
    auto [rec, n] = co_await socket.async_read_some(asio::buffer(buffer), as_tuple);
    if (n > 0) {
      auto [wec, w] = co_await asio::async_write(socket, asio::buffer(buffer.data(), n), as_tuple);
      if (wec) break;
    }
    if (rec) break;
  }
  std::error_code ignored;
  socket.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

asio::awaitable<EchoStream> make_echo_stream(std::string kind) {
  auto ex = co_await asio::this_coro::executor;
  EchoStream out;
  if (kind == "memory") {
    auto [a, b] = runtime::make_memory_stream_pair(ex, {.capacity = 4096});
    out.stream = std::move(a);
    asio::co_spawn(ex, echo(std::move(b)), asio::detached);
  } else if (kind == "tcp") {
    out.acceptor = std::make_shared<asio::ip::tcp::acceptor>(
        ex, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = out.acceptor->local_endpoint().port();
    asio::co_spawn(ex, serve_tcp_echo(out.acceptor), asio::detached);
    auto connected = co_await proxy::connect_tcp("127.0.0.1", port, runtime::Deadline::after(std::chrono::seconds(5)));
    REQUIRE(connected);
    out.stream = std::move(*connected);
  } else {
    proxy::ProcessOptions options;
    options.argv = {"cat"};
    auto spawned = proxy::spawn_process(ex, std::move(options));
    REQUIRE(spawned);
    out.stream = std::move(*spawned);
  }
  co_return out;
}

std::string pattern(std::size_t size, std::uint32_t seed) {
  std::string bytes(size, '\0');
  std::mt19937 random(seed);
  for (auto& b : bytes) b = static_cast<char>(random());
  return bytes;
}

}  // namespace

TEST_CASE("every stream echoes, half-closes, moves large data and survives a cancelled read", "[stream]") {
  const std::string kind = GENERATE(as<std::string>{}, "memory", "tcp", "process");
  const auto descriptors_before = test::open_descriptor_count();
  SECTION(kind + ": round trip and half-close") {
    test::run([&]() -> asio::awaitable<int> {
      auto echo_stream = co_await make_echo_stream(kind);
      auto& s = *echo_stream.stream;
      auto sent = co_await runtime::write_all(s, runtime::as_bytes("hello\n"));
      REQUIRE(sent);
      REQUIRE(s.shutdown_send());
      auto got = co_await test::read_to_end(s);
      REQUIRE(got);
      CHECK(*got == "hello\n");
      // After the half-close the sending side is done, reading goes on returning end of stream.
      std::array<std::uint8_t, 16> buffer;
      auto again = co_await s.read_some(buffer);
      REQUIRE_FALSE(again);
      CHECK(again.error().code == Errc::end_of_stream);
      co_await s.close();
      co_return 0;
    }());
  }
  SECTION(kind + ": 8 MiB written and read concurrently arrive intact") {
    test::run([&]() -> asio::awaitable<int> {
      using namespace asio::experimental::awaitable_operators;
      auto echo_stream = co_await make_echo_stream(kind);
      auto& s = *echo_stream.stream;
      const auto data = pattern(8 << 20, 7);
      auto writer = [&]() -> asio::awaitable<runtime::Result<void>> {
        auto written = co_await runtime::write_all(s, runtime::as_bytes(data));
        if (written) (void)s.shutdown_send();
        co_return written;
      };
      auto [written, received] = co_await (writer() && test::read_to_end(s));
      REQUIRE(written);
      REQUIRE(received);
      CHECK(received->size() == data.size());
      CHECK((*received == data));
      co_await s.close();
      co_return 0;
    }());
  }
  SECTION(kind + ": a read cancelled by its deadline leaves the stream usable; close ends it") {
    test::run([&]() -> asio::awaitable<int> {
      auto echo_stream = co_await make_echo_stream(kind);
      auto& s = *echo_stream.stream;
      std::array<std::uint8_t, 64> buffer;
      auto timed_out = co_await runtime::with_deadline(runtime::Deadline::after(std::chrono::milliseconds(50)),
                                                       s.read_some(buffer), runtime::Layer::runtime, "read");
      REQUIRE_FALSE(timed_out);
      CHECK(timed_out.error().code == Errc::timed_out);
      auto sent = co_await runtime::write_all(s, runtime::as_bytes("still here"));
      REQUIRE(sent);
      std::string got;
      while (got.size() < 10) {
        auto n = co_await s.read_some(buffer);
        REQUIRE(n);
        got.append(runtime::as_text(runtime::ConstBytes(buffer.data(), *n)));
      }
      CHECK(got == "still here");
      co_await s.close();
      auto after_close = co_await s.read_some(buffer);
      REQUIRE_FALSE(after_close);
      CHECK(after_close.error().code == Errc::stream_closed);
      auto write_after_close = co_await s.write_some(runtime::as_bytes("x"));
      REQUIRE_FALSE(write_after_close);
      CHECK(write_after_close.error().code == Errc::stream_closed);
      co_return 0;
    }());
  }
  CHECK(test::open_descriptor_count() == descriptors_before);
}
