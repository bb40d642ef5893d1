// Version exchange: the parser on its own (every tolerance and limit), then over streams, then
// against a real sshd through a ProxyCommand.

#include <optional>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <catch2/catch.hpp>

#include "proxy/proxy_command.hpp"
#include "runtime/memory_stream.hpp"
#include "ssh/version_exchange.hpp"
#include "support/late_cancellation_stream.hpp"
#include "support/run.hpp"
#include "support/sshd.hpp"

using namespace cr;
using namespace std::chrono_literals;
using runtime::Errc;
using ssh::VersionParser;

namespace {
struct Fed {
  runtime::Result<VersionParser::Status> status;
  std::size_t consumed;
};
Fed feed(VersionParser& parser, std::string_view text) {
  std::size_t consumed = 0;
  auto status = parser.feed(runtime::as_bytes(text), consumed);
  return {std::move(status), consumed};
}
}  // namespace

TEST_CASE("a plain version line is parsed and the bytes after it are left for the transport", "[banner]") {
  VersionParser parser;
  const std::string input = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n\x00\x00\x01\x0c";
  auto fed = feed(parser, input);
  REQUIRE(fed.status);
  CHECK(*fed.status == VersionParser::Status::done);
  CHECK(fed.consumed == input.find('\n') + 1);
  CHECK(parser.version().line == "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
  CHECK(parser.version().software == "OpenSSH_9.2p1");
  CHECK(parser.version().comments == "Debian-2+deb12u3");
}

TEST_CASE("text lines before the version line, LF-only ends and byte-by-byte arrival are fine", "[banner]") {
  VersionParser parser;
  const std::string input = "Welcome to \xff\xfe host\n\r\n\nSSH-1.99-Go\n";
  for (std::size_t i = 0; i < input.size(); ++i) {
    auto fed = feed(parser, input.substr(i, 1));
    REQUIRE(fed.status);
    CHECK(*fed.status == (i + 1 == input.size() ? VersionParser::Status::done : VersionParser::Status::need_more));
  }
  CHECK(parser.version().line == "SSH-1.99-Go");
  CHECK(parser.version().software == "Go");
  CHECK(parser.version().pre_banner_lines == std::vector<std::string>{"Welcome to \xff\xfe host", "", ""});
}

TEST_CASE("old protocol versions, NUL bytes, endless lines and long lines are refused with what arrived", "[banner]") {
  SECTION("SSH-1.5") {
    VersionParser parser;
    auto fed = feed(parser, "SSH-1.5-ancient\r\n");
    REQUIRE_FALSE(fed.status);
    CHECK(fed.status.error().layer == runtime::Layer::banner);
    CHECK_THAT(fed.status.error().message, Catch::Contains("'1.5'"));
    CHECK(fed.status.error().find_evidence("received")->text == "SSH-1.5-ancient\r\n");
  }
  SECTION("NUL in the version line") {
    VersionParser parser;
    auto fed = feed(parser, std::string("SSH-2.0-a\0b\r\n", 13));
    REQUIRE_FALSE(fed.status);
    CHECK_THAT(fed.status.error().message, Catch::Contains("NUL"));
  }
  SECTION("a CR inside a line before the version line: binary data") {
    VersionParser parser;
    auto fed = feed(parser, "\x16\x03\x01\x02\r\x0e\n");
    REQUIRE_FALSE(fed.status);
    CHECK_THAT(fed.status.error().message, Catch::Contains("binary data"));
    CHECK(fed.status.error().find_evidence("received")->text == "\x16\x03\x01\x02\r\x0e");
  }
  SECTION("1025 lines before the version line") {
    VersionParser parser;
    std::string lines;
    for (int i = 0; i < 1025; ++i) lines += "motd\n";
    auto fed = feed(parser, lines);
    REQUIRE_FALSE(fed.status);
    CHECK_THAT(fed.status.error().message, Catch::Contains("more than 1024 lines"));
    CHECK(fed.status.error().find_evidence("received")->text.size() == 2048);
  }
  SECTION("a line without end") {
    VersionParser parser;
    auto fed = feed(parser, std::string(9000, 'G'));
    REQUIRE_FALSE(fed.status);
    CHECK_THAT(fed.status.error().message, Catch::Contains("more than 8192 bytes"));
  }
}

TEST_CASE("a stream that ends before the version line reports what did arrive", "[banner]") {
  asio::io_context io;
  auto [client, server] = runtime::make_memory_stream_pair(io.get_executor());
  auto r = test::run(io, [&]() -> asio::awaitable<runtime::Result<ssh::VersionExchange>> {
    auto sent = co_await runtime::write_all(*server, runtime::as_bytes("HTTP/1.1 400 Bad Request\r\n"));
    REQUIRE(sent);
    REQUIRE(server->shutdown_send());
    co_return co_await ssh::read_peer_version(*client);
  }());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::end_of_stream);
  CHECK(r.error().find_evidence("received before that")->text == "HTTP/1.1 400 Bad Request\r\n");
  CHECK(r.error().context == std::vector<std::string>{"waiting for the server's SSH version line"});
}

TEST_CASE("OpenSSH sshd in inetd mode, started as a ProxyCommand, sends its version line", "[banner][sshd]") {
  test::Sshd sshd;
  auto r = test::run([&]() -> asio::awaitable<runtime::Result<ssh::VersionExchange>> {
    auto ex = co_await asio::this_coro::executor;
    auto proxy = proxy::start_proxy_command(ex, sshd.proxy_command(), {});
    REQUIRE(proxy);
    const std::string hello = fmt::format("{}\r\n", ssh::kClientVersion);
    auto sent = co_await runtime::write_all(**proxy, runtime::as_bytes(hello));
    REQUIRE(sent);
    auto version = co_await runtime::with_deadline(runtime::Deadline::after(10s), ssh::read_peer_version(**proxy),
                                                   runtime::Layer::banner, "version exchange");
    co_await (*proxy)->close();
    co_return version;
  }());
  REQUIRE(r);
  CHECK_THAT(r->peer.software, Catch::StartsWith("OpenSSH_"));
  // sshd sends its KEXINIT right behind its version line; any of it that arrived is kept.
  if (!r->leftover.empty()) CHECK(r->leftover.size() >= 5);
}

namespace {

asio::awaitable<runtime::Result<ssh::VersionExchange>> read_version_cancellable(runtime::AsyncStream& stream) {
  co_await asio::this_coro::throw_if_cancelled(false);
  co_return co_await ssh::read_peer_version(stream);
}

}  // namespace

// As for packets: the cancellation reached no read, and the next one waited for the rest of a line
// that was not coming.
TEST_CASE("a cancellation that lands as a read of the version line completes stops the next read", "[banner]") {
  asio::io_context io;
  asio::cancellation_signal cancel;
  test::LateCancellationStream stream(io.get_executor(), "SSH-2.0-", cancel, 5s);
  std::optional<runtime::Result<ssh::VersionExchange>> read;
  asio::co_spawn(io, read_version_cancellable(stream),
                 asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr, auto r) { read = std::move(r); }));
  io.run_for(10s);
  REQUIRE(read);
  REQUIRE_FALSE(*read);
  CHECK(read->error().code == Errc::cancelled);
  CHECK(stream.bytes_read() == 1);
}
