// The post-quantum hybrid key exchanges against real servers, logged in: Debian 12's sshd 9.2
// (sntrup761x25519 only) and OpenSSH 10.0 (mlkem768x25519 first). Each exchange forced, with key
// re-exchanges that both sides start and the data checked across them; and each server's
// defaults against ours, with strict kex (a property of the first exchange, which a re-exchange's
// negotiation no longer reports).

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "support/connect.hpp"
#include "support/logged_in_sshd.hpp"
#include "support/run.hpp"

using namespace cr;
using namespace std::chrono_literals;

namespace {

struct Case {
  const char* sshd;
  const char* kex;
};

}  // namespace

TEST_CASE("post-quantum key exchanges against sshd 9.2 and 10.0: re-exchanges both sides start, data intact",
          "[kex][sshd][rekey]") {
  const auto [sshd, kex] = GENERATE(
      Case{test::kDebianSshd, "sntrup761x25519-sha512"}, Case{test::kDebianSshd, "sntrup761x25519-sha512@openssh.com"},
      Case{test::kOpenssh10Sshd, "mlkem768x25519-sha256"}, Case{test::kOpenssh10Sshd, "sntrup761x25519-sha512"},
      Case{test::kOpenssh10Sshd, "sntrup761x25519-sha512@openssh.com"});
  INFO(sshd << " with " << kex);
  constexpr std::size_t kBytes = 512 * 1024;
  test::LoggedInSshd server(fmt::format("KexAlgorithms {}\nRekeyLimit 64K", kex), test::kUnprivilegedUser, sshd);
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

TEST_CASE("each server's defaults against ours: a post-quantum exchange under strict kex", "[kex][sshd]") {
  // OpenSSH 10 leads with mlkem768x25519-sha256 as we do; Debian's 9.2 with sntrup761x25519-sha512.
  const auto [sshd, kex] =
      GENERATE(Case{test::kOpenssh10Sshd, "mlkem768x25519-sha256"}, Case{test::kDebianSshd, "sntrup761x25519-sha512"});
  INFO(sshd);
  test::LoggedInSshd server("", "root", sshd);
  ssh::Negotiated agreed;
  auto result = test::run(
      [&]() -> asio::awaitable<runtime::Result<ssh::ExecResult>> {
        auto connection = co_await server.connect();
        REQUIRE(connection);
        agreed = (*connection)->transport().algorithms();
        auto done = co_await test::exec(**connection, "echo post-quantum");
        co_await (*connection)->close();
        co_return done;
      }(),
      30s);
  INFO((result ? "ok" : result.error().detailed()));
  REQUIRE(result);
  CHECK(result->stdout_data == "post-quantum\n");
  CHECK(agreed.kex == kex);
  CHECK(agreed.strict_kex);
}
