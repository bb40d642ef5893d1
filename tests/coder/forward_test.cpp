// -L's, -R's, -D's and -W's specs as ssh reads them: an optional bind address, IPv6 addresses in
// brackets, and a clear error for what is not a forward; port-forward's --tcp lists as coder
// reads them; and the SOCKS5 opening -D reads.

#include <array>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "coder/forward.hpp"
#include "coder/socks5.hpp"
#include "runtime/memory_stream.hpp"
#include "support/run.hpp"

using namespace cr;

TEST_CASE("forward specs: ssh's forms are read, and what is not one is refused with why", "[forward]") {
  auto plain = coder::parse_forward_spec("8080:localhost:80");
  REQUIRE(plain);
  CHECK(plain->bind_address.empty());
  CHECK(plain->bind_port == 8080);
  CHECK(plain->host == "localhost");
  CHECK(plain->port == 80);

  auto bound = coder::parse_forward_spec("[::1]:0:[fe80::1]:22");
  REQUIRE(bound);
  CHECK(bound->bind_address == "::1");
  CHECK(bound->bind_port == 0);
  CHECK(bound->host == "fe80::1");
  CHECK(bound->port == 22);

  auto everywhere = coder::parse_forward_spec(":8080:h:80");
  REQUIRE(everywhere);
  CHECK(everywhere->bind_address == "*");

  // A field with a '/' is a Unix socket's path, on either side.
  auto from_socket = coder::parse_forward_spec("/tmp/app.sock:localhost:80");
  REQUIRE(from_socket);
  CHECK(from_socket->bind_socket == "/tmp/app.sock");
  CHECK(from_socket->host == "localhost");
  CHECK(from_socket->port == 80);
  auto to_socket = coder::parse_forward_spec("8080:/run/docker.sock");
  REQUIRE(to_socket);
  CHECK(to_socket->bind_port == 8080);
  CHECK(to_socket->socket == "/run/docker.sock");
  CHECK(to_socket->describe() == "socket /run/docker.sock");
  auto bound_to_socket = coder::parse_forward_spec(":8080:/run/docker.sock");
  REQUIRE(bound_to_socket);
  CHECK(bound_to_socket->bind_address == "*");
  CHECK(bound_to_socket->socket == "/run/docker.sock");
  auto socket_to_socket = coder::parse_forward_spec("./here.sock:/there.sock");
  REQUIRE(socket_to_socket);
  CHECK(socket_to_socket->bind_socket == "./here.sock");
  CHECK(socket_to_socket->socket == "/there.sock");
  CHECK(socket_to_socket->bind_port == 0);

  auto target = coder::parse_host_port("db.internal:5432");
  REQUIRE(target);
  CHECK(target->host == "db.internal");
  CHECK(target->port == 5432);

  for (const char* bad :
       {"8080:host", "8080:host:0", "x:host:80", "70000:host:80", "8080::80", "[::1:80:h:1", "a:b:c:d:e", "/a.sock",
        "/a.sock:h", "/a.sock:1:h:2", "/a.sock:/b.sock:/c.sock", "x:/b.sock"}) {
    INFO(bad);
    const auto refused = coder::parse_forward_spec(bad);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == runtime::Errc::invalid_argument);
    REQUIRE(refused.error().find_evidence("forward"));
    CHECK(refused.error().find_evidence("forward")->text == bad);
  }
  CHECK_FALSE(coder::parse_host_port("host"));
  CHECK_FALSE(coder::parse_host_port(":22"));
  CHECK_FALSE(coder::parse_host_port("host:"));
}

TEST_CASE("port-forward specs: coder's forms with lists and ranges are read and what is not one is refused with why",
          "[forward]") {
  const auto read = [](std::string_view list) {
    auto forwards = coder::parse_tcp_forwards(list);
    REQUIRE(forwards);
    std::vector<std::string> shown;
    for (const auto& f : *forwards)
      shown.push_back(fmt::format("{}|{}>{}:{}", f.bind_address, f.bind_port, f.host, f.port));
    return shown;
  };
  CHECK(read("8080:3000") == std::vector<std::string>{"|8080>127.0.0.1:3000"});
  CHECK(read("9000") == std::vector<std::string>{"|9000>127.0.0.1:9000"});
  CHECK(read("0:3000") == std::vector<std::string>{"|0>127.0.0.1:3000"});
  CHECK(read("1.2.3.4:8080:80,[::1]:22") ==
        std::vector<std::string>{"1.2.3.4|8080>127.0.0.1:80", "::1|22>127.0.0.1:22"});
  CHECK(read("127.0.0.1:0:5432") == std::vector<std::string>{"127.0.0.1|0>127.0.0.1:5432"});
  CHECK(read("9090-9092,10000-10001:10010-10011") ==
        std::vector<std::string>{"|9090>127.0.0.1:9090", "|9091>127.0.0.1:9091", "|9092>127.0.0.1:9092",
                                 "|10000>127.0.0.1:10010", "|10001>127.0.0.1:10011"});
  for (const char* bad : {"", "8080,", "0", "8080:0", "x:", "9000-8000", "0-2:3000-3002", "1-3:5-6", "a:b:c:d",
                          "8080:70000", ":8080:80"}) {
    INFO(bad);
    const auto refused = coder::parse_tcp_forwards(bad);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == runtime::Errc::invalid_argument);
    CHECK(refused.error().find_evidence("forward"));
  }
}

namespace {

struct SocksExchange {
  runtime::Result<ssh::DirectTcpip> target = runtime::fail(runtime::Errc::internal_error, runtime::Layer::coder, "");
  std::string answered;  // what the client was sent back
};

// A SOCKS client that sends `opening` and then half-closes, against socks5_read_request.
SocksExchange socks_opening(std::string opening) {
  return test::run([&]() -> asio::awaitable<SocksExchange> {
    auto [client, server] = runtime::make_memory_stream_pair(co_await asio::this_coro::executor);
    auto sent = co_await runtime::write_all(*client, runtime::as_bytes(opening));
    REQUIRE(sent);
    REQUIRE(client->shutdown_send());
    SocksExchange exchange;
    exchange.target = co_await coder::socks5_read_request(*server, runtime::Deadline::after(std::chrono::seconds(5)));
    REQUIRE(server->shutdown_send());
    std::array<std::uint8_t, 64> buffer;
    for (;;) {
      auto n = co_await client->read_some(buffer);
      if (!n) break;
      exchange.answered.append(runtime::as_text(runtime::ConstBytes(buffer.data(), *n)));
    }
    co_return exchange;
  }());
}

std::string bytes(std::initializer_list<int> values) {
  std::string text;
  for (const int value : values) text += static_cast<char>(value);
  return text;
}

}  // namespace

TEST_CASE("SOCKS5: CONNECT by IPv4, IPv6 and domain name, with or without other methods offered", "[forward]") {
  // Greeting: version 5, two methods (GSSAPI, none); request: CONNECT to 10.1.2.3:8080.
  auto by_ipv4 = socks_opening(bytes({5, 2, 1, 0, 5, 1, 0, 1, 10, 1, 2, 3, 0x1f, 0x90}));
  REQUIRE(by_ipv4.target);
  CHECK(by_ipv4.target->host == "10.1.2.3");
  CHECK(by_ipv4.target->port == 8080);
  CHECK(by_ipv4.answered == bytes({5, 0}));

  auto by_name = socks_opening(bytes({5, 1, 0, 5, 1, 0, 3, 9}) + "localhost" + bytes({0, 22}));
  REQUIRE(by_name.target);
  CHECK(by_name.target->host == "localhost");  // unresolved: the server resolves it
  CHECK(by_name.target->port == 22);

  auto by_ipv6 = socks_opening(bytes({5, 1, 0, 5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0}));
  REQUIRE(by_ipv6.target);
  CHECK(by_ipv6.target->host == "::1");
  CHECK(by_ipv6.target->port == 256);
}

TEST_CASE("SOCKS5: what is not a request it serves is an error quoting what arrived, answered as the RFC asks",
          "[forward]") {
  struct Case {
    std::string opening;
    std::string why;
    std::string answered;
  };
  const std::vector<Case> cases{
      {"GET / HTTP/1.1\r\n\r\n", "version 71", ""},
      {bytes({4, 1, 0, 80, 127, 0, 0, 1, 0}), "version 4", ""},
      {bytes({5, 1, 2}), "no method without authentication", bytes({5, 0xff})},
      {bytes({5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80}), "only CONNECT", bytes({5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0})},
      {bytes({5, 1, 0, 5, 1, 0, 9}), "address type 9", bytes({5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0})},
      {bytes({5, 1, 0, 5, 1, 0, 3, 0, 0, 80}), "an empty domain name", bytes({5, 0})},
  };
  for (const auto& c : cases) {
    INFO(c.why);
    const auto exchange = socks_opening(c.opening);
    REQUIRE_FALSE(exchange.target);
    CHECK(exchange.target.error().code == runtime::Errc::protocol_error);
    CHECK_THAT(exchange.target.error().message, Catch::Contains(c.why));
    REQUIRE(exchange.target.error().find_evidence("arrived"));
    CHECK(exchange.answered == c.answered);
  }
  // Cut short: the stream's end, with what had arrived.
  const auto cut = socks_opening(bytes({5, 1, 0, 5, 1, 0, 1, 127, 0}));
  REQUIRE_FALSE(cut.target);
  CHECK(cut.target.error().code == runtime::Errc::end_of_stream);
  REQUIRE(cut.target.error().find_evidence("arrived"));
  CHECK(cut.target.error().find_evidence("arrived")->text == runtime::printable(bytes({5, 1, 0, 5, 1, 0, 1, 127, 0})));
}
