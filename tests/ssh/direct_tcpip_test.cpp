// direct-tcpip channels (RFC 4254 section 7.2) as AsyncStreams, through OpenSSH's sshd: bytes both
// ways to a loopback echo server with a half-close at the end, a refused target, and a second
// SSH connection carried inside one (ProxyJump-style chaining).

#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>

#include "proxy/proxy_command.hpp"
#include "support/logged_in_sshd.hpp"
#include "support/connect.hpp"
#include "support/run.hpp"
#include "support/tcp_echo.hpp"

using namespace cr;
using namespace std::chrono_literals;
using asio::ip::tcp;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

namespace {

// Copies one connection's bytes to a stream and back: how a port on this machine reaches the Go
// server, which speaks SSH only on its stdin and stdout.
asio::awaitable<void> relay(std::shared_ptr<tcp::acceptor> acceptor, std::string proxy_command) {
  auto [ec, socket] = co_await acceptor->async_accept(as_tuple);
  if (ec) co_return;
  auto ex = co_await asio::this_coro::executor;
  const proxy::ProxyTokens tokens{"inner", "22", "coder", "inner"};
  auto started = proxy::start_proxy_command(ex, proxy_command, tokens);
  if (!started) co_return;
  auto& server = **started;
  auto upstream = [&]() -> asio::awaitable<void> {
    std::array<char, 65536> buffer;
    for (;;) {
      auto [rec, n] = co_await socket.async_read_some(asio::buffer(buffer), as_tuple);
      if (n > 0) {
        auto sent = co_await runtime::write_all(server, runtime::as_bytes(std::string_view(buffer.data(), n)));
        if (!sent) break;
      }
      if (rec) break;
    }
    (void)server.shutdown_send();
  };
  auto downstream = [&]() -> asio::awaitable<void> {
    std::array<std::uint8_t, 65536> buffer;
    for (;;) {
      auto n = co_await server.read_some(buffer);
      if (!n) break;
      auto [wec, written] = co_await asio::async_write(socket, asio::buffer(buffer.data(), *n), as_tuple);
      if (wec) break;
    }
    std::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
  };
  using namespace asio::experimental::awaitable_operators;
  co_await (upstream() && downstream());
  co_await server.close();
}

std::string pattern(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>('a' + (i * 13) % 26);
  return out;
}

}  // namespace

TEST_CASE("sshd: a direct-tcpip stream carries 2 MiB to an echo server and back, then half-closes",
          "[direct-tcpip][sshd]") {
  test::LoggedInSshd server("AllowTcpForwarding yes");
  const std::string sent = pattern(2 << 20);
  std::string description;
  auto echoed = test::run([&]() -> asio::awaitable<runtime::Result<std::string>> {
    auto ex = co_await asio::this_coro::executor;
    auto acceptor = test::loopback_acceptor(ex);
    asio::co_spawn(ex, test::serve_tcp_echo(acceptor), asio::detached);
    auto connection = co_await server.connect();
    REQUIRE(connection);
    ssh::DirectTcpip target{.host = "127.0.0.1", .port = acceptor->local_endpoint().port()};
    auto stream = co_await (*connection)->open_direct_tcpip(std::move(target));
    REQUIRE(stream);
    description = (*stream)->describe();
    // Both directions at once: the echo stalls once its socket buffers and our window are full.
    auto write_then_eof = [&]() -> asio::awaitable<runtime::Result<void>> {
      auto written = co_await runtime::write_all(**stream, runtime::as_bytes(sent));
      if (!written) co_return written;
      co_return (*stream)->shutdown_send();
    };
    using namespace asio::experimental::awaitable_operators;
    auto both = co_await (write_then_eof() && test::read_to_end(**stream));
    auto [wrote, read] = std::move(both);
    co_await (*stream)->close();
    // After close() every operation fails with stream_closed.
    std::array<std::uint8_t, 16> buffer;
    auto after_close = co_await (*stream)->read_some(buffer);
    REQUIRE_FALSE(after_close);
    CHECK(after_close.error().code == runtime::Errc::stream_closed);
    co_await (*connection)->close();
    if (!wrote) co_return runtime::fail(std::move(wrote.error()));
    co_return read;
  }());
  INFO((echoed ? "ok" : echoed.error().detailed()));
  REQUIRE(echoed);
  CHECK(echoed->size() == sent.size());
  CHECK((*echoed == sent));
  CHECK_THAT(description, Catch::Matchers::StartsWith("direct-tcpip 127.0.0.1:"));
  CHECK_THAT(description, Catch::Matchers::Contains("via ProxyCommand"));
}

TEST_CASE("sshd: a direct-tcpip target that refuses the connection is a refused channel with the server's words",
          "[direct-tcpip][sshd]") {
  test::LoggedInSshd server("AllowTcpForwarding yes");
  auto opened = test::run([&]() -> asio::awaitable<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> {
    auto ex = co_await asio::this_coro::executor;
    // A port that was free a moment ago and has no listener now.
    std::uint16_t port = 0;
    {
      auto acceptor = test::loopback_acceptor(ex);
      port = acceptor->local_endpoint().port();
    }
    auto connection = co_await server.connect();
    REQUIRE(connection);
    ssh::DirectTcpip target{.host = "127.0.0.1", .port = port};
    auto stream = co_await (*connection)->open_direct_tcpip(std::move(target));
    // The connection survives the refusal.
    std::string command = "echo alive";
    auto ran = co_await test::exec(**connection, std::move(command));
    REQUIRE(ran);
    CHECK(ran->stdout_data == "alive\n");
    co_await (*connection)->close();
    co_return stream;
  }());
  REQUIRE_FALSE(opened);
  const auto& error = opened.error();
  INFO(error.detailed());
  CHECK(error.code == runtime::Errc::refused);
  CHECK(error.layer == runtime::Layer::channel);
  CHECK(error.message == "the server refused the channel: connect failed");
  REQUIRE(error.find_evidence("target"));
  CHECK_THAT(error.find_evidence("target")->text, Catch::Matchers::StartsWith("127.0.0.1:"));
  REQUIRE(error.find_evidence("server said"));
}

TEST_CASE("sshd: a second SSH connection runs through a direct-tcpip stream (chaining)", "[direct-tcpip][sshd][go]") {
  test::LoggedInSshd jump("AllowTcpForwarding yes");
  std::string inner_description;
  auto result = test::run([&]() -> asio::awaitable<runtime::Result<ssh::ExecResult>> {
    auto ex = co_await asio::this_coro::executor;
    auto acceptor = test::loopback_acceptor(ex);
    asio::co_spawn(ex, relay(acceptor, CODER_RUNTIME_GO_SSHD), asio::detached);
    auto outer = co_await jump.connect();
    REQUIRE(outer);
    ssh::DirectTcpip target{.host = "127.0.0.1", .port = acceptor->local_endpoint().port()};
    auto tunnel = co_await (*outer)->open_direct_tcpip(std::move(target));
    REQUIRE(tunnel);
    inner_description = (*tunnel)->describe();
    ssh::ClientOptions inner_options;
    inner_options.transport.verify_host_key = ssh::accept_any_host_key();  // the test's own server
    inner_options.auth.user = "coder";
    auto connecting = ssh::connect(std::move(*tunnel), std::move(inner_options));
    const auto deadline = runtime::Deadline::after(15s);
    std::string what = "connecting through the tunnel";
    auto inner = co_await runtime::with_deadline(deadline, std::move(connecting), runtime::Layer::kex, std::move(what));
    REQUIRE(inner);
    std::string command = "echo through two connections; exit 4";
    auto ran = co_await test::exec(**inner, std::move(command));
    co_await (*inner)->close();
    co_await (*outer)->close();
    co_return ran;
  }());
  INFO((result ? "ok" : result.error().detailed()));
  REQUIRE(result);
  CHECK(result->stdout_data == "through two connections\n");
  CHECK(result->exit_code == 4);
  CHECK_THAT(inner_description, Catch::Matchers::StartsWith("direct-tcpip 127.0.0.1:"));
}
