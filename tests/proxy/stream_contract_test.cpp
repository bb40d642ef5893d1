// The AsyncStream contract, checked on every implementation against an echoing peer: an in-memory
// pair, a loopback TCP echo server, `cat` as a child process, and an SSH direct-tcpip channel
// through sshd to the TCP echo server.

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
#include "ssh/crypto/random.hpp"
#include "support/logged_in_sshd.hpp"
#include "support/run.hpp"
#include "support/tcp_echo.hpp"

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
  std::shared_ptr<test::LoggedInSshd> sshd;  // before the stream: it outlives it
  Stream stream;
  std::shared_ptr<asio::ip::tcp::acceptor> acceptor;
};

// A direct-tcpip stream that also owns its SSH connection: closing the stream closes both, so
// the sshd process and its descriptors are gone when the test counts them.
class TunnelStream final : public runtime::AsyncStream {
 public:
  TunnelStream(std::shared_ptr<ssh::Connection> connection, Stream tunnel)
      : connection_(std::move(connection)), tunnel_(std::move(tunnel)) {}
  executor_type get_executor() override { return tunnel_->get_executor(); }
  asio::awaitable<runtime::Result<std::size_t>> read_some(runtime::Bytes b) override { return tunnel_->read_some(b); }
  asio::awaitable<runtime::Result<std::size_t>> write_some(runtime::ConstBytes b) override {
    return tunnel_->write_some(b);
  }
  runtime::Result<void> shutdown_send() override { return tunnel_->shutdown_send(); }
  asio::awaitable<void> close() override {
    co_await tunnel_->close();
    co_await connection_->close();
  }
  std::string describe() const override { return tunnel_->describe(); }

 private:
  std::shared_ptr<ssh::Connection> connection_;
  Stream tunnel_;
};

asio::awaitable<EchoStream> make_echo_stream(std::string kind) {
  auto ex = co_await asio::this_coro::executor;
  EchoStream out;
  if (kind == "memory") {
    auto [a, b] = runtime::make_memory_stream_pair(ex, {.capacity = 4096});
    out.stream = std::move(a);
    asio::co_spawn(ex, echo(std::move(b)), asio::detached);
  } else if (kind == "tcp") {
    out.acceptor =
        std::make_shared<asio::ip::tcp::acceptor>(ex, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = out.acceptor->local_endpoint().port();
    asio::co_spawn(ex, test::serve_tcp_echo(out.acceptor), asio::detached);
    auto connected = co_await proxy::connect_tcp("127.0.0.1", port, runtime::Deadline::after(std::chrono::seconds(5)));
    REQUIRE(connected);
    out.stream = std::move(*connected);
  } else if (kind == "direct-tcpip") {
    out.sshd = std::make_shared<test::LoggedInSshd>("AllowTcpForwarding yes");
    out.acceptor = test::loopback_acceptor(ex);
    asio::co_spawn(ex, test::serve_tcp_echo(out.acceptor), asio::detached);
    auto connection = co_await out.sshd->connect();
    REQUIRE(connection);
    ssh::DirectTcpip target{.host = "127.0.0.1", .port = out.acceptor->local_endpoint().port()};
    auto tunnel = co_await (*connection)->open_direct_tcpip(std::move(target));
    REQUIRE(tunnel);
    out.stream = std::make_unique<TunnelStream>(std::move(*connection), std::move(*tunnel));
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
  const std::string kind = GENERATE(as<std::string>{}, "memory", "tcp", "process", "direct-tcpip");
  // The crypto library keeps /dev/urandom open from its first use on: open it before counting.
  std::array<std::uint8_t, 1> warm_up;
  ssh::crypto::random_bytes(warm_up);
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
