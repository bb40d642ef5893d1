// sntrup761x25519-sha512 against Debian's OpenSSH 9.2 sshd, logged in: key re-exchanges under it,
// both the server's and ours, with the data checked across them. (The handshake under each name
// alone, with strict kex, is in transport_test.cpp's "every key exchange" case; strict kex is a
// property of the first exchange, which a re-exchange's negotiation no longer reports.)

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "support/connect.hpp"
#include "support/logged_in_sshd.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;

TEST_CASE("sntrup761x25519-sha512 against sshd: re-exchanges both sides start, data intact",
          "[sntrup761][sshd][rekey]") {
  const std::string kex = GENERATE("sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com");
  INFO(kex);
  constexpr std::size_t kBytes = 512 * 1024;
  test::LoggedInSshd server(fmt::format("KexAlgorithms {}\nRekeyLimit 64K", kex), test::kUnprivilegedUser);
  std::size_t exchanges = 0;
  std::string agreed;
  auto result = test::run(
      [&]() -> asio::awaitable<runtime::Result<ssh::ExecResult>> {
        auto options = server.options();
        options.transport.algorithms.kex = {kex};
        options.transport.rekey_after_bytes = 48 * 1024;
        auto proxy_command = server.proxy_command();
        auto connection = co_await test::connect_through(std::move(proxy_command), std::move(options));
        REQUIRE(connection);
        std::string command = fmt::format("head -c {} /dev/zero", kBytes);
        auto done = co_await test::exec(**connection, std::move(command));
        exchanges = (*connection)->transport().completed_key_exchanges();
        agreed = (*connection)->transport().algorithms().kex;
        co_await (*connection)->close();
        co_return done;
      }(),
      60s);
  INFO((result ? "ok" : result.error().detailed()));
  REQUIRE(result);
  CHECK(result->exit_code == 0);
  CHECK(result->stdout_data == std::string(kBytes, '\0'));
  CHECK(agreed == kex);
  CHECK(exchanges >= 3);
}
