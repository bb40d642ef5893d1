// A forward's TCP listener: loopback (and every address) on IPv4 and IPv6 alike, on one port, as
// ssh listens; an address given binds that address alone; connections to both at once are all
// accepted; close() frees the port and ends a waiting accept(); out of descriptors, a connection
// waits (not under the sanitizers, whose checks need descriptors of their own).

#include <sys/resource.h>
#include <fcntl.h>
#include <unistd.h>

#include <optional>

#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "proxy/tcp_listener.hpp"
#include "runtime/event.hpp"
#include "support/run.hpp"

using namespace cr;
using asio::ip::tcp;

namespace {

constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// Whether this machine has an IPv6 loopback to listen on (a container may not).
bool has_ipv6_loopback() {
  asio::io_context io;
  tcp::acceptor probe(io);
  std::error_code ec;
  probe.open(tcp::v6(), ec);
  if (!ec) probe.bind({asio::ip::address_v6::loopback(), 0}, ec);
  return !ec;
}

// Whether a connection to address:port is refused (nothing listens there).
bool refused(const std::string& address, std::uint16_t port) {
  asio::io_context io;
  tcp::socket client(io);
  std::error_code ec;
  client.connect({asio::ip::make_address(address), port}, ec);
  return static_cast<bool>(ec);
}

}  // namespace

TEST_CASE("TcpListener: loopback is 127.0.0.1 and ::1 on one port, every connection is accepted, close() frees both",
          "[tcp]") {
  const bool ipv6 = has_ipv6_loopback();
  std::uint16_t port = 0;
  std::vector<std::string> accepted;
  bool closed_accept_failed = false;
  test::run([&]() -> asio::awaitable<bool> {
    auto ex = co_await asio::this_coro::executor;
    auto listener = proxy::TcpListener::bind(ex, "", 0);
    REQUIRE(listener);
    port = (*listener)->port();
    CHECK((*listener)->describe() == fmt::format("127.0.0.1:{}", port));
    // Clients of both addresses at once, before any accept: none waits on the other's.
    std::vector<tcp::socket> clients;
    for (int i = 0; i < 6; ++i) {
      const auto address = ipv6 && i % 2 == 1 ? "::1" : "127.0.0.1";
      auto& client = clients.emplace_back(ex);
      auto [ec] = co_await client.async_connect({asio::ip::make_address(address), port}, as_tuple);
      REQUIRE_FALSE(ec);
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
      auto one = co_await (*listener)->accept();
      REQUIRE(one);
      accepted.push_back((*one)->describe());
    }
    (*listener)->close();
    auto after = co_await (*listener)->accept();
    closed_accept_failed = !after;
    co_return true;
  }());
  std::sort(accepted.begin(), accepted.end());
  REQUIRE(accepted.size() == 6);
  CHECK_THAT(accepted.front(), Catch::StartsWith(fmt::format("tcp 127.0.0.1:{} from 127.0.0.1:", port)));
  if (ipv6) CHECK_THAT(accepted.back(), Catch::StartsWith(fmt::format("tcp [::1]:{} from [::1]:", port)));
  CHECK(closed_accept_failed);
  CHECK(refused("127.0.0.1", port));
  if (ipv6) CHECK(refused("::1", port));
}

TEST_CASE("TcpListener: an address given is that address alone", "[tcp]") {
  const bool ipv6 = has_ipv6_loopback();
  std::string accepted;
  test::run([&]() -> asio::awaitable<bool> {
    auto ex = co_await asio::this_coro::executor;
    auto listener = proxy::TcpListener::bind(ex, "127.0.0.1", 0);
    REQUIRE(listener);
    if (ipv6) CHECK(refused("::1", (*listener)->port()));
    tcp::socket client(ex);
    auto [ec] = co_await client.async_connect({asio::ip::make_address("127.0.0.1"), (*listener)->port()}, as_tuple);
    REQUIRE_FALSE(ec);
    auto one = co_await (*listener)->accept();
    REQUIRE(one);
    accepted = (*one)->describe();
    co_return true;
  }());
  CHECK_THAT(accepted, Catch::StartsWith("tcp 127.0.0.1:"));
}

#ifndef CODER_RUNTIME_SANITIZED
// The descriptor limit lowered to the lowest one free, so that the next descriptor is refused
// (EMFILE), for as long as it lives.
class NoDescriptorsLeft {
 public:
  NoDescriptorsLeft() {
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &before_) == 0);
    const int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(lowest_free >= 0);
    ::close(lowest_free);
    rlimit tight = before_;
    tight.rlim_cur = static_cast<rlim_t>(lowest_free);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
  }
  ~NoDescriptorsLeft() { restore(); }
  NoDescriptorsLeft(const NoDescriptorsLeft&) = delete;
  NoDescriptorsLeft& operator=(const NoDescriptorsLeft&) = delete;
  void restore() { ::setrlimit(RLIMIT_NOFILE, &before_); }

 private:
  rlimit before_{};
};

TEST_CASE("TcpListener: out of descriptors, a connection waits and is accepted once some are free", "[tcp]") {
  bool returned_while_short = true;
  bool accepted = false;
  test::run([&]() -> asio::awaitable<bool> {
    auto ex = co_await asio::this_coro::executor;
    auto listener = proxy::TcpListener::bind(ex, "127.0.0.1", 0);
    REQUIRE(listener);
    tcp::socket client(ex);
    client.open(tcp::v4());
    std::optional<runtime::Result<std::unique_ptr<runtime::AsyncStream>>> result;
    runtime::Event done(ex);
    const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), (*listener)->port());
    asio::co_spawn(ex, (*listener)->accept(), [&](std::exception_ptr, auto one) {
      result = std::move(one);
      done.notify();
    });
    {
      NoDescriptorsLeft short_of_descriptors;
      auto [ec] = co_await client.async_connect(at, as_tuple);
      REQUIRE_FALSE(ec);
      // A connection waits, so an accept that could take it would be done at once: one still
      // waiting a while later is one that failed and waits to try again.
      asio::steady_timer a_while(ex, std::chrono::milliseconds(200));
      co_await a_while.async_wait(as_tuple);
      returned_while_short = result.has_value();
    }
    while (!result) co_await done.wait();
    accepted = static_cast<bool>(*result);
    co_return true;
  }());
  CHECK_FALSE(returned_while_short);
  CHECK(accepted);
}
#endif  // CODER_RUNTIME_SANITIZED
