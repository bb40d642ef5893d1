// TCP specifics beyond the stream contract: a refused connection names every address it tried,
// an unresolvable name is a resolve error, and TCP_NODELAY is set.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <asio/ip/tcp.hpp>
#include <catch2/catch.hpp>

#include "proxy/tcp_stream.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;
using runtime::Errc;

TEST_CASE("a refused TCP connection says where it tried and why", "[tcp]") {
  asio::io_context io;
  std::uint16_t port = 0;
  {
    // A port that was free a moment ago and has no listener now.
    asio::ip::tcp::acceptor probe(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  auto connected = test::run(io, proxy::connect_tcp("127.0.0.1", port, runtime::Deadline::after(5s)));
  REQUIRE_FALSE(connected);
  CHECK(connected.error().code == Errc::connect_failed);
  CHECK(connected.error().layer == runtime::Layer::network);
  CHECK(connected.error().system.value() == ECONNREFUSED);
  const std::string address = fmt::format("127.0.0.1:{}", port);
  REQUIRE(connected.error().find_evidence(address));
}

TEST_CASE("a name that does not resolve is a resolve error", "[tcp]") {
  auto connected = test::run(proxy::connect_tcp("no-such-host.invalid", 22, runtime::Deadline::after(10s)));
  REQUIRE_FALSE(connected);
  CHECK(connected.error().code == Errc::resolve_failed);
  CHECK_THAT(connected.error().summary(), Catch::Contains("no-such-host.invalid"));
}

TEST_CASE("a TCP stream has Nagle off and describes itself", "[tcp]") {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  auto connected = test::run(io, proxy::connect_tcp("localhost", port, runtime::Deadline::after(5s)));
  REQUIRE(connected);
  CHECK_THAT((*connected)->describe(), Catch::Contains(fmt::format("127.0.0.1:{}", port)));
  // The socket is behind the interface: find it among our descriptors by the port it is connected to.
  int nodelay = -1;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0 || peer.sin_family != AF_INET) continue;
    if (ntohs(peer.sin_port) != port) continue;
    socklen_t size = sizeof nodelay;
    REQUIRE(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &size) == 0);
  }
  CHECK(nodelay == 1);
}
